/**
 * A latency histogram for the hot path: `record(ns)` is a few integer operations into a fixed
 * `Int32Array` (no allocation), and percentiles come from the buckets within 1/64 (1.6%) of
 * the value. Values below 128 ns are exact; the largest is 2^31 − 1 ns (2.1 s), above which
 * values are counted as that.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "@deno-dpdk/dpdk/market";
 * const h = new LatencyHistogram();
 * for (const ns of [900, 1_000, 1_100, 25_000]) h.record(ns);
 * console.log(h.percentile(50), h.max); // ≈ 1000, 25000
 * ```
 *
 * @module
 */

const SUB = 64; // sub-buckets per power of two above 128 ns
const EXACT = 128;
const MAX_NS = 0x7fffffff;
const BUCKETS = EXACT + (30 - 7 + 1) * SUB;

/** Counts of latencies in ns, log-linear buckets; see the module doc. */
export class LatencyHistogram {
  readonly #counts = new Int32Array(BUCKETS);
  /** Values recorded. */
  count = 0;
  /** The largest value recorded, ns (exact). */
  max = 0;
  /** The smallest value recorded, ns (exact); 0 when none. */
  min = 0;

  /** Counts one latency of `ns` nanoseconds (negative counts as 0). */
  record(ns: number): void {
    const v = ns <= 0 ? 0 : ns >= MAX_NS ? MAX_NS : Math.round(ns);
    this.#counts[bucketOf(v)]++;
    if (this.count === 0 || v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.count++;
  }

  /** The value at percentile `p` (0..100), ns: its bucket's middle; 0 when empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, middleOf(i)));
    }
    return this.max;
  }

  /** Adds `other`'s counts to this one. */
  add(other: LatencyHistogram): void {
    if (other.count === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.#counts[i] += other.#counts[i];
    if (this.count === 0 || other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.count += other.count;
  }

  /** Forgets every value. */
  reset(): void {
    this.#counts.fill(0);
    this.count = this.max = this.min = 0;
  }
}

function bucketOf(v: number): number {
  if (v < EXACT) return v;
  const e = 31 - Math.clz32(v); // 7..30
  const shift = e - 6;
  return EXACT + (e - 7) * SUB + ((v >>> shift) - SUB);
}

function middleOf(i: number): number {
  if (i < EXACT) return i;
  const e = 7 + Math.floor((i - EXACT) / SUB), shift = e - 6;
  const low = (SUB + (i - EXACT) % SUB) * 2 ** shift;
  return low + 2 ** shift / 2;
}
