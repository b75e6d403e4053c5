/**
 * A zero-allocation decoder of Binance depth updates for the hot path: it reads the JSON bytes
 * of a `depthUpdate` in place (the WebSocket callback's `data, offset, length`), with or without
 * the combined-stream wrapper (`{"stream":…,"data":{…}}`), and writes the update ids and the
 * levels, already as integer units, into typed arrays it reuses. No `JSON.parse`, no strings.
 * Anything it does not recognise makes `decode` return false: the caller falls back to
 * `JSON.parse` and `BinanceDepthSync.event`.
 *
 * @example
 * ```ts ignore
 * const decoder = new DepthDecoder({ priceScale: 2, quantityScale: 8 });
 * ws.onMessage = (data, offset, length) => {
 *   if (decoder.decode(data, offset, length)) sync.decoded(decoder);
 *   else sync.event(JSON.parse(new TextDecoder().decode(data.subarray(offset, offset + length))).data);
 * };
 * ```
 *
 * @module
 */

const QUOTE = 0x22, COLON = 0x3a, COMMA = 0x2c, LBRACKET = 0x5b, RBRACKET = 0x5d;
const LBRACE = 0x7b, RBRACE = 0x7d, DOT = 0x2e, MINUS = 0x2d;

/** Options of a {@linkcode DepthDecoder}. */
export interface DepthDecoderOptions {
  /** Decimals of prices (ticks). */
  priceScale: number;
  /** Decimals of quantities (lots). */
  quantityScale: number;
  /** Levels per side per message, at most. Default: 5000. */
  maxLevels?: number;
}

/** The decoded update: ids and levels in typed arrays, valid until the next `decode`. */
export class DepthDecoder {
  /**
   * [U, u, pu, ts] (-1 when absent): ids above 2^30 stay unboxed here. `ts` is not Binance's:
   * `examples/exchange_sim.ts` adds it, the send time in ns on CLOCK_MONOTONIC, so a receiver
   * on the same machine can time tick to book.
   */
  readonly ids: Float64Array = new Float64Array(4);
  /** Bid levels: price units at 2i, quantity units at 2i + 1. */
  readonly bids: Float64Array;
  /** Ask levels, likewise. */
  readonly asks: Float64Array;
  /** Bid levels decoded. */
  bidCount = 0;
  /** Ask levels decoded. */
  askCount = 0;
  readonly #ps: number;
  readonly #qs: number;
  readonly #max: number;
  #d: Uint8Array = new Uint8Array(0);
  #p = 0;
  #end = 0;
  #ok = true;

  /** A decoder for a symbol's scales. */
  constructor(options: DepthDecoderOptions) {
    this.#ps = options.priceScale;
    this.#qs = options.quantityScale;
    this.#max = options.maxLevels ?? 5000;
    this.bids = new Float64Array(2 * this.#max);
    this.asks = new Float64Array(2 * this.#max);
  }

  /** Decodes `data[offset, offset + length)`; false when it is not a depth update it can read. */
  decode(data: Uint8Array, offset: number, length: number): boolean {
    this.#d = data;
    this.#p = offset;
    this.#end = offset + length;
    this.#ok = true;
    this.bidCount = this.askCount = 0;
    this.ids[0] = this.ids[1] = -1;
    this.ids[2] = this.ids[3] = -1;
    let sawEvent = false, sawB = false, sawA = false;
    this.#ws();
    if (!this.#eat(LBRACE)) return false;
    for (let first = true; this.#ok; first = false) {
      this.#ws();
      if (this.#peek() === RBRACE) break;
      if (!first && !this.#eat(COMMA)) return false;
      this.#ws();
      const key = this.#key();
      if (key < 0 || !this.#eatColonWs()) return false;
      switch (key) {
        case KEY_DATA: // the combined stream's wrapper: the event is inside
          if (this.#peek() !== LBRACE) return false;
          return this.decode(data, this.#p, this.#end - this.#p) && this.#ok;
        case KEY_E_LOWER:
          if (!this.#expectString(DEPTH_UPDATE)) return false;
          sawEvent = true;
          break;
        case KEY_U_UPPER:
          this.#integer(0);
          break;
        case KEY_U_LOWER:
          this.#integer(1);
          break;
        case KEY_PU:
          this.#integer(2);
          break;
        case KEY_TS:
          this.#integer(3, 16);
          break;
        case KEY_B:
          this.bidCount = this.#levels(this.bids);
          sawB = true;
          break;
        case KEY_A:
          this.askCount = this.#levels(this.asks);
          sawA = true;
          break;
        default:
          this.#skip();
      }
    }
    return this.#ok && sawEvent && sawB && sawA && this.ids[0] >= 0 && this.ids[1] >= 0;
  }

  #peek(): number {
    return this.#p < this.#end ? this.#d[this.#p] : -1;
  }

  #ws(): void {
    const d = this.#d;
    while (
      this.#p < this.#end && (d[this.#p] === 0x20 || d[this.#p] === 0x0a ||
        d[this.#p] === 0x0d || d[this.#p] === 0x09)
    ) this.#p++;
  }

  #eat(byte: number): boolean {
    if (this.#peek() !== byte) return this.#ok = false;
    this.#p++;
    return true;
  }

  #eatColonWs(): boolean {
    this.#ws();
    if (!this.#eat(COLON)) return false;
    this.#ws();
    return true;
  }

  /** A key we know (KEY_*), or KEY_OTHER; -1 on a syntax error. */
  #key(): number {
    if (!this.#eat(QUOTE)) return -1;
    const d = this.#d, start = this.#p;
    while (this.#p < this.#end && d[this.#p] !== QUOTE) {
      if (d[this.#p] === 0x5c) return this.#ok = false, -1; // escapes: not ours
      this.#p++;
    }
    const n = this.#p - start;
    if (!this.#eat(QUOTE)) return -1;
    const c0 = d[start];
    if (n === 1) {
      return c0 === 0x55
        ? KEY_U_UPPER
        : c0 === 0x75
        ? KEY_U_LOWER
        : c0 === 0x62
        ? KEY_B
        : c0 === 0x61
        ? KEY_A
        : c0 === 0x65
        ? KEY_E_LOWER
        : KEY_OTHER;
    }
    if (n === 2 && c0 === 0x70 && d[start + 1] === 0x75) return KEY_PU;
    if (n === 2 && c0 === 0x74 && d[start + 1] === 0x73) return KEY_TS;
    if (
      n === 4 && c0 === 0x64 && d[start + 1] === 0x61 && d[start + 2] === 0x74 &&
      d[start + 3] === 0x61
    ) {
      return KEY_DATA;
    }
    return KEY_OTHER;
  }

  #expectString(expected: Uint8Array): boolean {
    if (!this.#eat(QUOTE)) return false;
    const d = this.#d;
    for (let i = 0; i < expected.length; i++, this.#p++) {
      if (this.#p >= this.#end || d[this.#p] !== expected[i]) return this.#ok = false;
    }
    return this.#eat(QUOTE);
  }

  /**
   * An unsigned integer into `ids[slot]`. Written there, not returned: an id above 2^30
   * returned from a call that is not inlined would be a new heap number per message.
   */
  #integer(slot: number, maxDigits = 15): void {
    const d = this.#d;
    let v = 0, digits = 0;
    while (this.#p < this.#end && d[this.#p] >= 0x30 && d[this.#p] <= 0x39) {
      v = v * 10 + (d[this.#p++] - 0x30); // the digit first: exact up to 2^53
      digits++;
    }
    if (digits === 0 || digits > maxDigits || v > Number.MAX_SAFE_INTEGER) this.#ok = false;
    this.ids[slot] = v;
  }

  /** A quoted decimal as integer units at `scale` into `out[at]`; not ok when it cannot be. */
  #decimal(scale: number, out: Float64Array, at: number): void {
    out[at] = this.#units(scale);
  }

  #units(scale: number): number {
    if (!this.#eat(QUOTE)) return NaN;
    const d = this.#d;
    let v = 0, frac = -1, digits = 0;
    if (this.#peek() === MINUS) return this.#ok = false, NaN;
    for (; this.#p < this.#end && d[this.#p] !== QUOTE; this.#p++) {
      const c = d[this.#p];
      if (c === DOT && frac < 0) {
        frac = 0;
        continue;
      }
      if (c < 0x30 || c > 0x39) return this.#ok = false, NaN;
      if (frac >= 0 && frac >= scale) { // digits beyond the scale must be zeros
        if (c !== 0x30) return this.#ok = false, NaN;
        continue;
      }
      v = v * 10 + (c - 0x30);
      if (frac >= 0) frac++;
      if (++digits > 15) return this.#ok = false, NaN;
    }
    if (!this.#eat(QUOTE) || digits === 0) return this.#ok = false, NaN;
    for (let k = frac < 0 ? 0 : frac; k < scale; k++) v *= 10;
    return v;
  }

  /** `[["p","q"],…]` into `out`; returns the count. */
  #levels(out: Float64Array): number {
    if (!this.#eat(LBRACKET)) return 0;
    let n = 0;
    this.#ws();
    if (this.#peek() === RBRACKET) {
      this.#p++;
      return 0;
    }
    for (;;) {
      this.#ws();
      if (!this.#eat(LBRACKET)) return 0;
      this.#ws();
      if (n === this.#max) return this.#ok = false, 0;
      this.#decimal(this.#ps, out, 2 * n);
      this.#ws();
      if (!this.#eat(COMMA)) return 0;
      this.#ws();
      this.#decimal(this.#qs, out, 2 * n + 1);
      this.#ws();
      if (!this.#ok || !this.#eat(RBRACKET)) return 0;
      n++;
      this.#ws();
      if (this.#peek() === COMMA) {
        this.#p++;
        continue;
      }
      if (!this.#eat(RBRACKET)) return 0;
      return n;
    }
  }

  /** Skips a JSON value we do not need (strings, numbers, literals, arrays, objects). */
  #skip(): void {
    const d = this.#d;
    let depth = 0;
    for (; this.#p < this.#end; this.#p++) {
      const c = d[this.#p];
      if (c === QUOTE) {
        for (this.#p++; this.#p < this.#end && d[this.#p] !== QUOTE; this.#p++) {
          if (d[this.#p] === 0x5c) this.#p++;
        }
        if (depth === 0) {
          this.#p++;
          return;
        }
      } else if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        if (depth === 0) return; // the end of the enclosing object
        if (--depth === 0) {
          this.#p++;
          return;
        }
      } else if (c === COMMA && depth === 0) return;
    }
    this.#ok = false;
  }
}

const KEY_OTHER = 0, KEY_U_UPPER = 1, KEY_U_LOWER = 2, KEY_PU = 3, KEY_B = 4, KEY_A = 5;
const KEY_E_LOWER = 6, KEY_DATA = 7, KEY_TS = 8;
const DEPTH_UPDATE = new TextEncoder().encode("depthUpdate");
