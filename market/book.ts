/**
 * A local order book for one instrument. Prices are integer ticks and quantities integer lots
 * (see `decimal.ts`): no floating-point error. Each side keeps a ladder, an array indexed by
 * tick over a window around the touch, where a level update is O(1); the levels beyond the
 * window (worse than it) sit in a sorted array. The best price is tracked, so best bid/ask,
 * spread and mid are O(1). Updates set absolute quantities; 0 deletes the level.
 *
 * @example
 * ```ts
 * import { OrderBook, Side } from "@deno-dpdk/dpdk/market";
 * const book = new OrderBook();
 * book.set(Side.BID, 2701250, 3); // 27012.50 at scale 2, 3 lots
 * book.set(Side.ASK, 2701300, 5);
 * console.log(book.bestBid, book.bestAsk, book.spread); // 2701250 2701300 50
 * ```
 *
 * @module
 */

/** Which side of the book. */
export const Side = {
  /** Buyers: the best is the highest price. */
  BID: 0,
  /** Sellers: the best is the lowest price. */
  ASK: 1,
} as const;

/**
 * One side, with the bid's order (the best is the highest key). The ask side stores negated
 * prices, so one implementation serves both.
 */
class Ladder {
  readonly #size: number;
  readonly #margin: number; // room kept above the best for better prices
  #lo = 0; // the key of #qty[0]
  readonly #qty: Float64Array;
  #inWindow = 0; // levels in the window
  #best = -Infinity; // the best key, -Infinity when the side is empty
  // Levels worse than the window, keys ascending (so the best of them is last).
  #farKeys: number[] = [];
  #farQty: number[] = [];

  constructor(size: number) {
    this.#size = size;
    this.#margin = size >> 2;
    this.#qty = new Float64Array(size);
  }

  get best(): number {
    return this.#best;
  }

  get bestQty(): number {
    return this.#best === -Infinity ? 0 : this.#qty[this.#best - this.#lo];
  }

  get levels(): number {
    return this.#inWindow + this.#farKeys.length;
  }

  qtyAt(key: number): number {
    const i = key - this.#lo;
    if (i >= 0 && i < this.#size) return this.#qty[i];
    const j = this.#find(key);
    return j >= 0 ? this.#farQty[j] : 0;
  }

  clear(): void {
    this.#qty.fill(0);
    this.#inWindow = 0;
    this.#best = -Infinity;
    this.#farKeys = [];
    this.#farQty = [];
  }

  set(key: number, qty: number): void {
    if (this.#best === -Infinity && this.#farKeys.length === 0) {
      if (qty > 0) {
        this.#recenter(key);
        this.#setInWindow(key, qty);
      }
      return;
    }
    const i = key - this.#lo;
    if (i >= 0 && i < this.#size) this.#setInWindow(key, qty);
    else if (i >= this.#size) { // better than the whole window: it becomes the best
      if (qty > 0) {
        this.#recenter(key);
        this.#setInWindow(key, qty);
      }
    } else this.#setFar(key, qty);
  }

  #setInWindow(key: number, qty: number): void {
    const q = this.#qty, i = key - this.#lo, old = q[i];
    q[i] = qty;
    if (old === 0 && qty > 0) this.#inWindow++;
    else if (old > 0 && qty === 0) this.#inWindow--;
    if (qty > 0) {
      if (key > this.#best) this.#best = key;
      return;
    }
    if (key !== this.#best) return;
    // The best went: the next one down the window, else the best of the far levels.
    for (let k = i - 1; k >= 0; k--) {
      if (q[k] > 0) {
        this.#best = this.#lo + k;
        return;
      }
    }
    this.#best = -Infinity;
    if (this.#farKeys.length > 0) this.#recenter(this.#farKeys[this.#farKeys.length - 1]);
  }

  /** Moves the window so `top` lies a margin below its upper end; levels follow. */
  #recenter(top: number): void {
    const lo = top - (this.#size - this.#margin), q = this.#qty;
    // Window levels that fall below the new window go to the far levels (they are all worse).
    for (let i = 0; i < this.#size; i++) {
      if (q[i] === 0) continue;
      const key = this.#lo + i;
      if (key < lo || key >= lo + this.#size) this.#setFar(key, q[i]);
    }
    const kept = new Float64Array(this.#size);
    for (let i = 0; i < this.#size; i++) {
      const key = this.#lo + i;
      if (q[i] > 0 && key >= lo && key < lo + this.#size) kept[key - lo] = q[i];
    }
    q.set(kept);
    this.#lo = lo;
    // Far levels inside the new window come in (they are the top of the far array).
    while (this.#farKeys.length > 0 && this.#farKeys[this.#farKeys.length - 1] >= lo) {
      const key = this.#farKeys.pop()!, qty = this.#farQty.pop()!;
      q[key - lo] = qty;
    }
    let n = 0, best = -Infinity;
    for (let i = 0; i < this.#size; i++) {
      if (q[i] > 0) {
        n++;
        best = lo + i;
      }
    }
    this.#inWindow = n;
    this.#best = best;
  }

  /** Index of `key` in the far levels, or -1. */
  #find(key: number): number {
    const keys = this.#farKeys;
    let lo = 0, hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid] === key) return mid;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #setFar(key: number, qty: number): void {
    const keys = this.#farKeys;
    let lo = 0, hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < keys.length && keys[lo] === key) {
      if (qty > 0) this.#farQty[lo] = qty;
      else {
        keys.splice(lo, 1);
        this.#farQty.splice(lo, 1);
      }
    } else if (qty > 0) {
      keys.splice(lo, 0, key);
      this.#farQty.splice(lo, 0, qty);
    }
  }

  /** Calls `visit(key, qty)` for up to `n` levels from the best; stops early when it returns false. */
  forEach(n: number, visit: (key: number, qty: number) => boolean | void): void {
    if (this.#best === -Infinity) return;
    const q = this.#qty;
    let seen = 0;
    for (let i = this.#best - this.#lo; i >= 0 && seen < n; i--) {
      if (q[i] > 0) {
        seen++;
        if (visit(this.#lo + i, q[i]) === false) return;
      }
    }
    for (let j = this.#farKeys.length - 1; j >= 0 && seen < n; j--) {
      seen++;
      if (visit(this.#farKeys[j], this.#farQty[j]) === false) return;
    }
  }
}

/** Options of an {@linkcode OrderBook}. */
export interface OrderBookOptions {
  /** Ticks each side's ladder spans (a power of two). Default: 4096. */
  windowTicks?: number;
}

/** A local order book; see the module doc. */
export class OrderBook {
  readonly #bids: Ladder;
  readonly #asks: Ladder; // negated prices

  /** An empty book. */
  constructor(options: OrderBookOptions = {}) {
    const w = options.windowTicks ?? 4096;
    if (!Number.isInteger(Math.log2(w)) || w < 16) {
      throw new RangeError(`OrderBook: windowTicks ${w} must be a power of two ≥ 16`);
    }
    this.#bids = new Ladder(w);
    this.#asks = new Ladder(w);
  }

  /** Sets the quantity at `price` (ticks) on `side`; 0 deletes the level. */
  set(side: number, price: number, qty: number): void {
    if (!(qty >= 0)) throw new RangeError(`OrderBook: quantity ${qty} is negative`);
    if (side === Side.BID) this.#bids.set(price, qty);
    else this.#asks.set(-price, qty);
  }

  /** Empties the book (a snapshot replaces it: clear, then set its levels). */
  clear(): void {
    this.#bids.clear();
    this.#asks.clear();
  }

  /** The quantity at `price` on `side` (0: no level). */
  quantityAt(side: number, price: number): number {
    return side === Side.BID ? this.#bids.qtyAt(price) : this.#asks.qtyAt(-price);
  }

  /** The best bid (ticks), NaN when there is none. */
  get bestBid(): number {
    const b = this.#bids.best;
    return b === -Infinity ? NaN : b;
  }

  /** The best ask (ticks), NaN when there is none. */
  get bestAsk(): number {
    const a = this.#asks.best;
    return a === -Infinity ? NaN : -a;
  }

  /** The quantity at the best bid (0 when none). */
  get bestBidQuantity(): number {
    return this.#bids.bestQty;
  }

  /** The quantity at the best ask (0 when none). */
  get bestAskQuantity(): number {
    return this.#asks.bestQty;
  }

  /** Best ask − best bid, in ticks (NaN when a side is empty). */
  get spread(): number {
    return this.bestAsk - this.bestBid;
  }

  /** (best bid + best ask) / 2, in ticks (NaN when a side is empty). */
  get mid(): number {
    return (this.bestAsk + this.bestBid) / 2;
  }

  /** Levels on `side`. */
  levels(side: number): number {
    return side === Side.BID ? this.#bids.levels : this.#asks.levels;
  }

  /**
   * Calls `visit(price, qty)` for up to `n` levels of `side` from the best, without copying;
   * `visit` returning false stops it.
   */
  forEachLevel(
    side: number,
    n: number,
    visit: (price: number, qty: number) => boolean | void,
  ): void {
    if (side === Side.BID) this.#bids.forEach(n, visit);
    else this.#asks.forEach(n, (key, qty) => visit(-key, qty));
  }

  /** The top `n` levels of `side` as `[price, qty]` pairs (a copy). */
  depth(side: number, n: number): [number, number][] {
    const out: [number, number][] = [];
    this.forEachLevel(side, n, (price, qty) => {
      out.push([price, qty]);
    });
    return out;
  }

  /**
   * The quantity on `side` at prices as good as `price` or better: what a market order could
   * take before the price moves past `price`.
   */
  quantityTo(side: number, price: number): number {
    let total = 0;
    this.forEachLevel(side, Infinity, (p, qty) => {
      if (side === Side.BID ? p < price : p > price) return false;
      total += qty;
    });
    return total;
  }
}
