// Weighted choice among a route's destinations, with cumulative weights
// computed once per snapshot.

export class WeightedPicker<T> {
  private readonly items: readonly T[];
  private readonly cumulative: Float64Array;
  private readonly total: number;
  constructor(items: readonly T[], weights: readonly number[]) {
    // Zero-weight entries never win; keep them out of the scan.
    const kept: T[] = [];
    const cum: number[] = [];
    let total = 0;
    items.forEach((it, i) => {
      const w = weights[i]!;
      if (w <= 0) return;
      total += w;
      kept.push(it);
      cum.push(total);
    });
    this.items = kept;
    this.cumulative = Float64Array.from(cum);
    this.total = total;
  }
  pick(): T | undefined {
    const n = this.items.length;
    if (n <= 1) return this.items[0];
    const r = Math.random() * this.total;
    const cum = this.cumulative;
    for (let i = 0; i < n; i++) if (r < cum[i]!) return this.items[i];
    return this.items[n - 1];
  }
}
