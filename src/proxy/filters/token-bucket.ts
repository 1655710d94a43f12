// Token buckets for local rate limiting: `rate` tokens per second up to
// `burst`, one per request; keyed buckets are bounded so a flood of distinct
// keys cannot grow memory without limit.

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;

  constructor(rate: number, burst: number, nowMs: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Takes one token: 0 when granted, else the seconds until one is available. */
  take(nowMs: number): number {
    const t = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.rate);
    this.last = nowMs;
    if (t >= 1) {
      this.tokens = t - 1;
      return 0;
    }
    this.tokens = t;
    return (1 - t) / this.rate;
  }
}

const MAX_KEYS = 10_000;

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  readonly rate: number;
  private readonly burst: number;

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
  }

  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (b === undefined) {
      // Oldest key out first (Map keeps insertion order); a forgotten key starts full again.
      if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
      b = new TokenBucket(this.rate, this.burst, nowMs);
      this.buckets.set(key, b);
    }
    return b.take(nowMs);
  }
}
