/**
 * Out-of-order data of one TCP connection's receive side: bytes that arrived beyond RCV.NXT are
 * copied into a ring indexed by sequence number and tracked as ranges (up to 64, so at least 32
 * holes), bounded by the receive window. When the gap before them fills, the caller takes the
 * contiguous bytes from the ring. The ranges also give the SACK blocks to send (RFC 2018 §4: the
 * block holding the latest segment first, then the most recently changed ones) and D-SACK for
 * duplicates (RFC 2883). In-order data never comes here: it is delivered from the mbuf itself.
 * Nothing is allocated per segment. Groundwork of the TCP issue.
 *
 * @module
 */
import { seqAdd, seqDiff } from "./tcp_seq.ts";

/** What {@linkcode TcpReassembly.add} did with a segment. */
export const AddResult = {
  /** Stored (some bytes new; a D-SACK block is pending for any part already held). */
  STORED: 0,
  /** Every byte was already held or already delivered (a D-SACK block is pending). */
  DUPLICATE: 1,
  /** Entirely outside the window: dropped. */
  OUTSIDE: 2,
  /** It would have made more ranges than the buffer tracks: dropped. */
  TOO_MANY_HOLES: 3,
} as const;

/**
 * The out-of-order buffer; see the module doc.
 *
 * @example
 * ```ts ignore
 * const ooo = new TcpReassembly(1 << 20);
 * ooo.add(rcvNxt, seq, data, offset, length); // a segment beyond rcvNxt
 * // ... later, after in-order data advanced rcvNxt:
 * for (let n = ooo.take(rcvNxt); n > 0; n = ooo.take(rcvNxt)) {
 *   const first = ooo.contiguous(rcvNxt, n);
 *   deliver(ooo.data, ooo.ringOffset(rcvNxt), first);
 *   if (first < n) deliver(ooo.data, 0, n - first);
 *   rcvNxt = (rcvNxt + n) >>> 0;
 * }
 * ```
 */
export class TcpReassembly {
  /** The ring: byte `seq` lives at `ringOffset(seq)`. */
  readonly data: Uint8Array;
  /** Bytes the ring holds: the largest receive window this buffer serves. */
  readonly capacity: number;
  readonly #mask: number;
  // Ranges [left, right) in sequence order, and when each last grew (for SACK's order).
  readonly #left: Uint32Array;
  readonly #right: Uint32Array;
  readonly #stamp: Uint32Array;
  #count = 0;
  #clock = 0;
  /** The last duplicate's [left, right), for a D-SACK block; `hasDuplicate` says if pending. */
  readonly duplicate: Uint32Array = new Uint32Array(2);
  /** Whether a D-SACK block is pending (cleared by {@linkcode TcpReassembly.writeSackBlocks}). */
  hasDuplicate: boolean = false;

  /** A buffer of `capacity` bytes (a power of two) tracking up to `maxRanges` ranges. */
  constructor(capacity: number, maxRanges = 64) {
    if (!Number.isInteger(Math.log2(capacity)) || capacity < 1024 || capacity > 1 << 30) {
      throw new RangeError(
        `TcpReassembly: capacity ${capacity} must be a power of two, 1 KiB..1 GiB`,
      );
    }
    if (!Number.isInteger(maxRanges) || maxRanges < 1) {
      throw new RangeError(`TcpReassembly: maxRanges ${maxRanges} must be a positive integer`);
    }
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.data = new Uint8Array(capacity);
    this.#left = new Uint32Array(maxRanges);
    this.#right = new Uint32Array(maxRanges);
    this.#stamp = new Uint32Array(maxRanges);
  }

  /** Ranges held now. */
  get ranges(): number {
    return this.#count;
  }

  /** Bytes held now. */
  get bytes(): number {
    let n = 0;
    for (let i = 0; i < this.#count; i++) n += seqDiff(this.#left[i], this.#right[i]);
    return n;
  }

  /** Where byte `seq` lives in {@linkcode TcpReassembly.data}. */
  ringOffset(seq: number): number {
    return seq & this.#mask;
  }

  /** Of `n` bytes from `seq`, how many lie before the ring's end (the rest start at 0). */
  contiguous(seq: number, n: number): number {
    return Math.min(n, this.capacity - (seq & this.#mask));
  }

  /**
   * Holds a segment's bytes `data[offset, offset + length)` starting at sequence `seq`, keeping
   * only what lies in `[rcvNxt, rcvNxt + window)` (window ≤ capacity). Returns an
   * {@linkcode AddResult}.
   */
  add(
    rcvNxt: number,
    window: number,
    seq: number,
    data: Uint8Array,
    offset: number,
    length: number,
  ): number {
    let from = seqDiff(rcvNxt, seq), to = from + length; // relative to rcvNxt
    if (to <= 0) {
      this.#markDuplicate(seq, length);
      return AddResult.DUPLICATE;
    }
    const limit = Math.min(window, this.capacity);
    if (from < 0) { // partly delivered already: D-SACK that part (RFC 2883 §4)
      this.#markDuplicate(seq, -from);
      offset -= from;
      from = 0;
    }
    if (to > limit) to = limit;
    if (from >= to) return AddResult.OUTSIDE;
    // Ranges touching [from, to] (adjacent ones merge too): i is the first, j one past the last.
    const n = this.#count;
    let i = 0;
    while (i < n && seqDiff(rcvNxt, this.#right[i]) < from) i++;
    let j = i;
    while (j < n && seqDiff(rcvNxt, this.#left[j]) <= to) j++;
    if (i < j) {
      const l = seqDiff(rcvNxt, this.#left[i]), r = seqDiff(rcvNxt, this.#right[i]);
      const dupFrom = Math.max(from, l), dupTo = Math.min(to, r);
      if (dupFrom < dupTo) this.#markDuplicate(seqAdd(rcvNxt, dupFrom), dupTo - dupFrom);
      if (j === i + 1 && l <= from && r >= to) {
        this.#stamp[i] = ++this.#clock; // the block holding a D-SACK goes second (RFC 2883 §4)
        return AddResult.DUPLICATE;
      }
    }
    if (j === i && n === this.#left.length) return AddResult.TOO_MANY_HOLES;
    this.#copy(seqAdd(rcvNxt, from), data, offset, to - from);
    const left = i < j ? Math.min(from, seqDiff(rcvNxt, this.#left[i])) : from;
    const right = i < j ? Math.max(to, seqDiff(rcvNxt, this.#right[j - 1])) : to;
    // Ranges i..j-1 become one at i (or a new one is inserted at i).
    const shift = 1 - (j - i); // how far the ranges from j move
    if (shift !== 0) {
      this.#left.copyWithin(j + shift, j, n);
      this.#right.copyWithin(j + shift, j, n);
      this.#stamp.copyWithin(j + shift, j, n);
    }
    this.#count = n + shift;
    this.#left[i] = seqAdd(rcvNxt, left);
    this.#right[i] = seqAdd(rcvNxt, right);
    this.#stamp[i] = ++this.#clock;
    return AddResult.STORED;
  }

  #markDuplicate(seq: number, length: number): void {
    this.duplicate[0] = seq;
    this.duplicate[1] = seqAdd(seq, length);
    this.hasDuplicate = true;
  }

  #copy(seq: number, data: Uint8Array, offset: number, length: number): void {
    const at = seq & this.#mask, first = Math.min(length, this.capacity - at);
    this.data.set(data.subarray(offset, offset + first), at);
    if (first < length) this.data.set(data.subarray(offset + first, offset + length), 0);
  }

  /**
   * Once data up to `rcvNxt` was delivered: how many held bytes now follow on from `rcvNxt`
   * (0 when a gap remains). Those bytes leave the buffer; read them from the ring at
   * `ringOffset(rcvNxt)` (in two pieces when they wrap: see `contiguous`) before adding more.
   */
  take(rcvNxt: number): number {
    while (this.#count > 0 && seqDiff(rcvNxt, this.#left[0]) <= 0) {
      const n = seqDiff(rcvNxt, this.#right[0]);
      this.#remove(0);
      if (n > 0) return n;
    }
    return 0;
  }

  #remove(i: number): void {
    const n = this.#count;
    this.#left.copyWithin(i, i + 1, n);
    this.#right.copyWithin(i, i + 1, n);
    this.#stamp.copyWithin(i, i + 1, n);
    this.#count = n - 1;
  }

  /**
   * Writes up to `max` SACK blocks into `edges` (left, right, ...): a pending D-SACK block first
   * (RFC 2883), then the ranges, most recently grown first (RFC 2018 §4). Returns how many.
   */
  writeSackBlocks(edges: Uint32Array, max: number): number {
    let n = 0;
    if (this.hasDuplicate && max > 0) {
      edges[0] = this.duplicate[0];
      edges[1] = this.duplicate[1];
      this.hasDuplicate = false;
      n = 1;
    }
    // Selection by recency: ranges are few (≤ 64) and blocks at most 4.
    let below = 0xffffffff + 1;
    while (n < max) {
      let best = -1;
      for (let i = 0; i < this.#count; i++) {
        const s = this.#stamp[i];
        if (s < below && (best < 0 || s > this.#stamp[best])) best = i;
      }
      if (best < 0) break;
      below = this.#stamp[best];
      edges[2 * n] = this.#left[best];
      edges[2 * n + 1] = this.#right[best];
      n++;
    }
    return n;
  }

  /** Forgets everything held (a reset or close). */
  clear(): void {
    this.#count = 0;
    this.hasDuplicate = false;
  }
}
