// Token buckets per key in an LRU-bounded Map (Map iteration order is insertion order: a key seen
// again is re-inserted at the end, so the first key is always the least recently seen).

export interface Bucket {
  tokens: number;
  /** Time of the last refill, ms. */
  at: number;
  /** Records dropped (or over the limit, in block mode) since the last summary. */
  over: number;
}

export class Buckets {
  readonly map = new Map<string, Bucket>();
  /** Over-limit counts of keys forgotten (LRU) since the last summary. */
  evictedOver = 0;
  evictedKeys = 0;

  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    private readonly maxKeys: number,
  ) {}

  /** Take one token for `key` at time `now` (ms). Returns false when the key is over its limit. */
  take(key: string, now: number, allowDebt: boolean): Bucket | undefined {
    const map = this.map;
    let b = map.get(key);
    if (b === undefined) {
      if (map.size >= this.maxKeys) this.evictOldest();
      b = { tokens: this.capacity, at: now, over: 0 };
      map.set(key, b);
    } else {
      map.delete(key);
      map.set(key, b);
      if (now > b.at) {
        b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) * this.rate) / 1000);
        b.at = now;
      }
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    b.over++;
    if (allowDebt) b.tokens -= 1;
    return b;
  }

  private evictOldest(): void {
    for (const [k, b] of this.map) {
      this.map.delete(k);
      if (b.over > 0) {
        this.evictedOver += b.over;
        this.evictedKeys++;
      }
      return;
    }
  }

  /** Milliseconds until `b` has a whole token again. */
  waitFor(b: Bucket): number {
    return b.tokens >= 1 ? 0 : ((1 - b.tokens) * 1000) / this.rate;
  }
}
