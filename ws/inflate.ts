/**
 * Raw DEFLATE decompression (RFC 1951) for permessage-deflate (RFC 7692): each message is
 * inflated whole and at once, and the 32 KiB window is kept from one message to the next
 * ("context takeover") unless the server said it does not keep its own. Synchronous and written
 * here, because `node:zlib` offers streaming with a kept context only asynchronously; buffers
 * are reused, so a steady stream allocates nothing but what a bigger message needs.
 *
 * @module
 */

const WINDOW = 32768;

// Lengths and distances (RFC 1951 §3.2.5).
// deno-fmt-ignore
const LENGTH_BASE = new Uint16Array([
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
]);
// deno-fmt-ignore
const LENGTH_EXTRA = new Uint8Array([
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
]);
// deno-fmt-ignore
const DIST_BASE = new Uint16Array([
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
  2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
]);
// deno-fmt-ignore
const DIST_EXTRA = new Uint8Array([
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
  13,
]);
// The order code length codes come in (RFC 1951 §3.2.7).
// deno-fmt-ignore
const CLEN_ORDER = new Uint8Array([
  16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
]);

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
class Huffman {
  readonly counts = new Uint16Array(16);
  readonly symbols: Uint16Array;
  constructor(size: number) {
    this.symbols = new Uint16Array(size);
  }
  /** Builds from `lengths[0, n)`; false when the lengths over-subscribe the code. */
  build(lengths: Uint8Array, n: number): boolean {
    const counts = this.counts;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[lengths[i]]++;
    counts[0] = 0;
    let left = 1;
    for (let len = 1; len < 16; len++) {
      left = (left << 1) - counts[len];
      if (left < 0) return false;
    }
    const offsets = OFFSETS;
    offsets[1] = 0;
    for (let len = 1; len < 15; len++) offsets[len + 1] = offsets[len] + counts[len];
    for (let i = 0; i < n; i++) if (lengths[i] !== 0) this.symbols[offsets[lengths[i]]++] = i;
    return true;
  }
}
const OFFSETS = new Uint16Array(16);

/** Why inflating failed. */
export class InflateError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(`permessage-deflate: ${message}`);
    this.name = "InflateError";
  }
}

/** Inflates messages one after the other; see the module doc. */
export class Inflater {
  readonly #window = new Uint8Array(WINDOW);
  #wpos = 0; // total bytes ever written into the window (its low 15 bits index it)
  #out: Uint8Array;
  #outLength = 0;
  #max: number;
  // The message being read, with its 00 00 ff ff tail.
  #in = new Uint8Array(4096);
  #inLength = 0;
  #pos = 0;
  #bits = 0;
  #bitCount = 0;
  readonly #lit = new Huffman(288);
  readonly #dist = new Huffman(30);
  readonly #fixedLit = new Huffman(288);
  readonly #fixedDist = new Huffman(30);
  readonly #lengths = new Uint8Array(320);
  readonly #clen = new Huffman(19);

  /** An inflater that refuses output beyond `maxOutput` bytes per message. */
  constructor(maxOutput = 64 << 20) {
    this.#max = maxOutput;
    this.#out = new Uint8Array(Math.min(65536, maxOutput));
    const l = this.#lengths;
    for (let i = 0; i < 144; i++) l[i] = 8;
    for (let i = 144; i < 256; i++) l[i] = 9;
    for (let i = 256; i < 280; i++) l[i] = 7;
    for (let i = 280; i < 288; i++) l[i] = 8;
    this.#fixedLit.build(l, 288);
    l.fill(5, 0, 30);
    this.#fixedDist.build(l, 30);
  }

  /** The inflated message: `output[0, length)`, valid until the next `inflate`. */
  get output(): Uint8Array {
    return this.#out;
  }

  /** Forgets the window: the next message starts afresh (no context takeover). */
  reset(): void {
    this.#wpos = 0;
  }

  /**
   * Inflates one message, `data[offset, offset + length)` as it came (without the 00 00 ff ff
   * tail RFC 7692 removes). Returns the inflated length; throws an {@linkcode InflateError}.
   */
  inflate(data: Uint8Array, offset: number, length: number): number {
    const need = length + 4;
    if (this.#in.length < need) this.#in = new Uint8Array(Math.max(need, this.#in.length * 2));
    this.#in.set(data.subarray(offset, offset + length));
    this.#in.set(TAIL, length);
    this.#inLength = need;
    this.#pos = 0;
    this.#bits = 0;
    this.#bitCount = 0;
    this.#outLength = 0;
    let last = false;
    while (!last && this.#pos < this.#inLength) {
      last = this.#bit() === 1;
      const type = this.#take(2);
      if (type === 0) this.#stored();
      else if (type === 1) this.#codes(this.#fixedLit, this.#fixedDist);
      else if (type === 2) {
        this.#dynamic();
        this.#codes(this.#lit, this.#dist);
      } else throw new InflateError("a block of the reserved type 3");
      // After the tail's empty stored block the input is used up: the message is whole.
      if (this.#pos >= this.#inLength && this.#bitCount < 8) break;
    }
    return this.#outLength;
  }

  #bit(): number {
    if (this.#bitCount === 0) {
      if (this.#pos >= this.#inLength) throw new InflateError("the data ends inside a block");
      this.#bits = this.#in[this.#pos++];
      this.#bitCount = 8;
    }
    const b = this.#bits & 1;
    this.#bits >>= 1;
    this.#bitCount--;
    return b;
  }

  #take(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v |= this.#bit() << i;
    return v;
  }

  #emit(byte: number): void {
    if (this.#outLength === this.#out.length) this.#grow();
    this.#out[this.#outLength++] = byte;
    this.#window[this.#wpos++ & (WINDOW - 1)] = byte;
  }

  #grow(): void {
    if (this.#out.length >= this.#max) {
      throw new InflateError(`a message inflating past ${this.#max} bytes`);
    }
    const grown = new Uint8Array(Math.min(this.#out.length * 2, this.#max));
    grown.set(this.#out);
    this.#out = grown;
  }

  #stored(): void {
    this.#bits = 0;
    this.#bitCount = 0; // to the byte boundary
    const p = this.#pos;
    if (p + 4 > this.#inLength) throw new InflateError("a stored block cut short");
    const len = this.#in[p] | this.#in[p + 1] << 8, nlen = this.#in[p + 2] | this.#in[p + 3] << 8;
    if ((len ^ 0xffff) !== nlen) throw new InflateError("a stored block's length is corrupt");
    if (p + 4 + len > this.#inLength) throw new InflateError("a stored block cut short");
    for (let i = 0; i < len; i++) this.#emit(this.#in[p + 4 + i]);
    this.#pos = p + 4 + len;
  }

  #decode(h: Huffman): number {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.#bit();
      const count = h.counts[len];
      if (code - first < count) return h.symbols[index + code - first];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new InflateError("an invalid Huffman code");
  }

  #dynamic(): void {
    const hlit = this.#take(5) + 257, hdist = this.#take(5) + 1, hclen = this.#take(4) + 4;
    if (hlit > 286 || hdist > 30) throw new InflateError("too many length or distance codes");
    const l = this.#lengths;
    l.fill(0, 0, 19);
    for (let i = 0; i < hclen; i++) l[CLEN_ORDER[i]] = this.#take(3);
    if (!this.#clen.build(l, 19)) throw new InflateError("an invalid code length code");
    const n = hlit + hdist;
    for (let i = 0; i < n;) {
      const sym = this.#decode(this.#clen);
      if (sym < 16) {
        l[i++] = sym;
        continue;
      }
      let repeat: number, value = 0;
      if (sym === 16) {
        if (i === 0) throw new InflateError("a repeat with nothing before it");
        value = l[i - 1];
        repeat = 3 + this.#take(2);
      } else if (sym === 17) repeat = 3 + this.#take(3);
      else repeat = 11 + this.#take(7);
      if (i + repeat > n) throw new InflateError("code lengths past their count");
      l.fill(value, i, i + repeat);
      i += repeat;
    }
    if (l[256] === 0) throw new InflateError("no end-of-block code");
    if (!this.#lit.build(l, hlit)) throw new InflateError("an invalid literal/length code");
    if (!this.#dist.build(l.subarray(hlit, n), hdist)) {
      throw new InflateError("an invalid distance code");
    }
  }

  #codes(lit: Huffman, dist: Huffman): void {
    const w = this.#window;
    for (;;) {
      const sym = this.#decode(lit);
      if (sym < 256) {
        this.#emit(sym);
        continue;
      }
      if (sym === 256) return;
      const li = sym - 257;
      if (li >= 29) throw new InflateError("an invalid length symbol");
      const length = LENGTH_BASE[li] + this.#take(LENGTH_EXTRA[li]);
      const di = this.#decode(dist);
      if (di >= 30) throw new InflateError("an invalid distance symbol");
      const distance = DIST_BASE[di] + this.#take(DIST_EXTRA[di]);
      if (distance > this.#wpos || distance > WINDOW) {
        throw new InflateError("a distance before the start of the data");
      }
      for (let i = 0; i < length; i++) this.#emit(w[(this.#wpos - distance) & (WINDOW - 1)]);
    }
  }
}

const TAIL = new Uint8Array([0, 0, 0xff, 0xff]);
