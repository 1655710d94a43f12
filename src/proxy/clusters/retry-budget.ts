// Retry budget (Linkerd's model): over a sliding window, retries may not
// exceed `ratio` × requests plus `minPerSecond` × window seconds, so an outage
// costs at most a fixed fraction of extra load instead of a retry storm.

const BUCKETS = 10; // one per second

export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private second = 0;
  private readonly now: () => number;

  constructor(ratio: number, minPerSecond: number, now: () => number = Date.now) {
    this.ratio = ratio;
    this.floor = minPerSecond * BUCKETS;
    this.now = now;
  }

  private advance(): number {
    const sec = Math.floor(this.now() / 1000);
    if (sec !== this.second) {
      // Clear the buckets of the seconds that passed (all of them after a long pause).
      const gap = Math.min(BUCKETS, sec - this.second);
      for (let i = 1; i <= gap; i++) {
        const b = (this.second + i) % BUCKETS;
        this.requests[b] = 0;
        this.retries[b] = 0;
      }
      this.second = sec;
    }
    return sec % BUCKETS;
  }

  recordRequest(): void {
    this.requests[this.advance()]!++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    const b = this.advance();
    let req = 0;
    let ret = 0;
    for (let i = 0; i < BUCKETS; i++) {
      req += this.requests[i]!;
      ret += this.retries[i]!;
    }
    if (ret + 1 > this.floor + this.ratio * req) return false;
    this.retries[b]!++;
    return true;
  }
}
