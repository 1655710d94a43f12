// Prometheus metric families (counter, gauge, histogram) with label series
// created once and cached by the caller, so the hot path only adds numbers.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface StatSpec {
  type: MetricType;
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
}

export class Series {
  value = 0;
  // Histogram state: per-bucket counts (not cumulative), sum, count.
  readonly counts: Float64Array | undefined;
  sum = 0;
  count = 0;
  readonly labelValues: readonly string[];
  private readonly bounds: readonly number[] | undefined;
  constructor(labelValues: readonly string[], bounds?: readonly number[]) {
    this.labelValues = labelValues;
    this.bounds = bounds;
    this.counts = bounds ? new Float64Array(bounds.length) : undefined;
  }
  inc(n = 1): void {
    this.value += n;
  }
  set(n: number): void {
    this.value = n;
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds!;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts![i]!++;
        return;
      }
    }
  }
}

export class MetricFamily {
  readonly name: string;
  readonly spec: StatSpec;
  readonly series = new Map<string, Series>();
  constructor(name: string, spec: StatSpec) {
    this.name = name;
    this.spec = spec;
  }
  /** Get or create the series for these label values (in spec.labels order). */
  with(...values: string[]): Series {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = new Series(values, this.spec.buckets);
      this.series.set(key, s);
    }
    return s;
  }
  total(): number {
    let t = 0;
    for (const s of this.series.values()) t += this.spec.type === 'histogram' ? s.count : s.value;
    return t;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class MetricsRegistry {
  private readonly families = new Map<string, MetricFamily>();

  /** Register a component's stat table; returns its families by key. */
  register<T extends Record<string, StatSpec>>(prefix: string, table: T): { [K in keyof T]: MetricFamily } {
    const out = {} as { [K in keyof T]: MetricFamily };
    for (const key of Object.keys(table) as (keyof T & string)[]) {
      const name = `${prefix}_${key}`;
      let fam = this.families.get(name);
      if (!fam) {
        fam = new MetricFamily(name, table[key]!);
        this.families.set(name, fam);
      }
      out[key] = fam;
    }
    return out;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const fam of this.families.values()) {
      // HELP text escapes only backslash and newline (text format 0.0.4).
      out.push(`# HELP ${fam.name} ${fam.spec.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${fam.name} ${fam.spec.type}`);
      const names = fam.spec.labels;
      for (const s of fam.series.values()) {
        if (fam.spec.type !== 'histogram') {
          out.push(`${fam.name}${labelText(names, s.labelValues)} ${s.value}`);
          continue;
        }
        const bounds = fam.spec.buckets!;
        let cum = 0;
        for (let i = 0; i < bounds.length; i++) {
          cum += s.counts![i]!;
          out.push(`${fam.name}_bucket${labelText(names, s.labelValues, `le="${bounds[i]}"`)} ${cum}`);
        }
        out.push(`${fam.name}_bucket${labelText(names, s.labelValues, 'le="+Inf"')} ${s.count}`);
        out.push(`${fam.name}_sum${labelText(names, s.labelValues)} ${s.sum}`);
        out.push(`${fam.name}_count${labelText(names, s.labelValues)} ${s.count}`);
      }
    }
    return out.join('\n') + '\n';
  }
}
