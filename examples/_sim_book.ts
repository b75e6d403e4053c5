/**
 * The exchange simulator's order books and message texts, pure and deterministic: no clock, no
 * I/O, no `Math.random`. {@linkcode SimBook} is a seeded random walk of one instrument's book
 * (integer ticks and lots); its events are written as Binance's diff-depth messages and REST
 * snapshots, and {@linkcode KrakenView} turns them into Kraken v2 `book` messages for one
 * subscriber's depth, with the CRC32 checksum computed here from Kraken's guide (on purpose not
 * with `market/kraken.ts`: the simulator is an independent check of the client's code).
 *
 * Messages that carry the send time end in `"ts":` (a non-standard last field): the server
 * appends the CLOCK_MONOTONIC nanoseconds and `}` right before sending, with {@linkcode stamp}.
 *
 * ```ts
 * import { KrakenView, SimBook, stamp } from "./_sim_book.ts";
 * const book = new SimBook({ seed: 7 });
 * const snapshot = book.binanceSnapshot(100); // {"lastUpdateId":...,"bids":[...],"asks":[...]}
 * const changes = book.step(); // [[side, priceTicks, qtyLots], ...]; qty 0 deletes
 * const text = book.binanceDepthUpdate("BTCUSDT", book.firstUpdateId, book.lastUpdateId,
 *   changes, Date.now(), 0);
 * const kraken = new SimBook({ seed: 8, priceScale: 1 });
 * const view = new KrakenView(kraken, 10);
 * const first = stamp(view.snapshot(), 0);
 * kraken.step();
 * const update = view.update(Date.now()); // undefined when the top 10 did not change
 * ```
 *
 * @module
 */
import { Side } from "../market/book.ts";

/** One level change of an event: `[side, price in ticks, quantity in lots]`; quantity 0 deletes. */
export type SimChange = [side: number, price: number, qty: number];

/** mulberry32: a small seeded PRNG (32-bit state, period 2^32), enough for a simulation. */
export class Prng {
  #s: number;

  /** A generator whose sequence is fixed by `seed` (any number; its low 32 bits are used). */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in 0..n−1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** Options of a {@linkcode SimBook}. */
export interface SimBookOptions {
  /** The PRNG's seed: the same seed gives the same events. Default: 1. */
  seed?: number;
  /** Decimals of prices (ticks of 10^-priceScale). Default: 2 (BTCUSDT). */
  priceScale?: number;
  /** Decimals of quantities (lots of 10^-quantityScale). Default: 8. */
  quantityScale?: number;
  /** Levels kept on each side, at most. Default: 100. */
  levelsPerSide?: number;
  /** The starting mid price. Default: 27000. */
  mid?: number;
  /** The update id of the starting book (the first event is this + 1). Default: 1000000. */
  startId?: number;
}

/** The spread, in ticks, above which a touch move always narrows it. */
const MAX_SPREAD = 8;

/** One side: prices best first, quantities by price. */
class SimSide {
  /** +1 for bids (the best is the highest), −1 for asks. */
  readonly sign: number;
  readonly prices: number[] = [];
  readonly qty = new Map<number, number>();

  constructor(sign: number) {
    this.sign = sign;
  }

  get count(): number {
    return this.prices.length;
  }

  get best(): number {
    return this.prices[0];
  }

  /** The index of the first price worse than or equal to `price`. */
  #position(price: number): number {
    const key = this.sign * price, p = this.prices;
    let lo = 0, hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sign * p[mid] > key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  set(price: number, qty: number): void {
    const had = this.qty.has(price);
    if (qty > 0) {
      if (!had) this.prices.splice(this.#position(price), 0, price);
      this.qty.set(price, qty);
    } else if (had) {
      this.prices.splice(this.#position(price), 1);
      this.qty.delete(price);
    }
  }
}

/**
 * A random-walk order book of one instrument, deterministic for a seed. It keeps up to
 * `levelsPerSide` levels on each side around the touch (gaps allowed), bids always strictly
 * below asks. Each {@linkcode SimBook.step} is one update event of 1 to 4 level changes (a new
 * quantity at an existing or new price near the touch, a deleted level, sometimes the touch
 * moving by deleting the best level or adding one inside the spread), plus the deletes of the
 * levels pushed beyond `levelsPerSide`. Each change takes one update id (Binance style: an event
 * covers `U..u` with `u = U + changes − 1`).
 */
export class SimBook {
  /** Decimals of prices. */
  readonly priceScale: number;
  /** Decimals of quantities. */
  readonly quantityScale: number;
  /** Levels kept on each side, at most. */
  readonly levelsPerSide: number;
  readonly #rng: Prng;
  readonly #sides: [SimSide, SimSide] = [new SimSide(1), new SimSide(-1)];
  readonly #lotStep: number;
  #lastId: number;
  #firstId: number;
  #lastChanges: SimChange[] = [];
  #touched = new Set<number>();

  /** A book around `mid` with `levelsPerSide` levels on each side, ids up to `startId`. */
  constructor(options: SimBookOptions = {}) {
    this.priceScale = options.priceScale ?? 2;
    this.quantityScale = options.quantityScale ?? 8;
    this.levelsPerSide = options.levelsPerSide ?? 100;
    if (!(Number.isInteger(this.levelsPerSide) && this.levelsPerSide >= 2)) {
      throw new RangeError(`SimBook: levelsPerSide ${this.levelsPerSide} must be an integer ≥ 2`);
    }
    this.#rng = new Prng(options.seed ?? 1);
    this.#lotStep = 10 ** Math.max(0, this.quantityScale - 5); // 0.00001 at scale 8
    this.#lastId = this.#firstId = options.startId ?? 1_000_000;
    const mid = Math.round((options.mid ?? 27000) * 10 ** this.priceScale);
    for (const side of [Side.BID, Side.ASK]) {
      const s = this.#sides[side];
      let price = mid - s.sign; // the spread starts at 2 ticks
      while (s.count < this.levelsPerSide) {
        s.set(price, this.#quantity());
        price -= s.sign * (this.#rng.next() < 0.1 ? 2 : 1); // a gap now and then
      }
    }
  }

  /** The last update id: the last event's `u` (the starting id before the first step). */
  get lastUpdateId(): number {
    return this.#lastId;
  }

  /** The last event's first update id `U` (the starting id before the first step). */
  get firstUpdateId(): number {
    return this.#firstId;
  }

  /** The last step's changes (empty before the first step). */
  get lastChanges(): readonly SimChange[] {
    return this.#lastChanges;
  }

  /** The best bid, ticks. */
  get bestBid(): number {
    return this.#sides[Side.BID].best;
  }

  /** The best ask, ticks. */
  get bestAsk(): number {
    return this.#sides[Side.ASK].best;
  }

  /** Levels on `side` (`Side.BID` 0, `Side.ASK` 1). */
  count(side: number): number {
    return this.#sides[side].count;
  }

  /** The quantity at `price` on `side`, lots (0: no level). */
  quantityAt(side: number, price: number): number {
    return this.#sides[side].qty.get(price) ?? 0;
  }

  /** Up to `n` levels of `side`, best first, as `[price, qty]` (a copy). Default: all. */
  levels(side: number, n = Infinity): [number, number][] {
    const s = this.#sides[side], out: [number, number][] = [];
    const end = Math.min(n, s.count);
    for (let i = 0; i < end; i++) out.push([s.prices[i], s.qty.get(s.prices[i])!]);
    return out;
  }

  /** Calls `visit(price, qty)` for up to `n` levels of `side`, best first, without copying. */
  forEachLevel(side: number, n: number, visit: (price: number, qty: number) => void): void {
    const s = this.#sides[side], end = Math.min(n, s.count);
    for (let i = 0; i < end; i++) visit(s.prices[i], s.qty.get(s.prices[i])!);
  }

  #quantity(): number {
    return (1 + this.#rng.int(500_000)) * this.#lotStep;
  }

  /**
   * One update event: changes the book and returns its changes (each (side, price) at most
   * once), which take the ids `firstUpdateId..lastUpdateId`.
   */
  step(): SimChange[] {
    const rng = this.#rng, changes: SimChange[] = [];
    this.#touched.clear();
    const wanted = 1 + rng.int(4);
    for (let tries = 0; changes.length < wanted && tries < 16; tries++) {
      const side = rng.int(2), s = this.#sides[side], r = rng.next();
      if (r < 0.55) { // a new quantity at an existing level, near the touch more often
        const u = rng.next();
        this.#change(changes, side, s.prices[Math.floor(s.count * u * u)], this.#quantity());
      } else if (r < 0.75) { // a level at a new price (or a new quantity if it is there)
        const worst = s.prices[s.count - 1];
        let price: number;
        if (s.count < this.levelsPerSide && rng.next() < 0.5) { // beyond the worst
          price = worst - s.sign * (1 + rng.int(3));
        } else {
          const u = rng.next(), span = Math.abs(worst - s.best) + 3;
          price = s.best - s.sign * (1 + Math.floor(u * u * span));
        }
        this.#change(changes, side, price, this.#quantity());
      } else if (r < 0.87) { // a level deleted, behind the touch
        if (s.count <= 2) continue;
        const u = rng.next();
        this.#change(changes, side, s.prices[1 + Math.floor((s.count - 1) * u * u)], 0);
      } else { // the touch moves: the best level goes, or one comes inside the spread
        const spread = this.bestAsk - this.bestBid;
        if ((spread > MAX_SPREAD || rng.next() < 0.5) && spread >= 2) {
          const k = 1 + rng.int(Math.min(2, spread - 1));
          this.#change(changes, side, s.best + s.sign * k, this.#quantity());
        } else if (s.count > 2 && spread <= MAX_SPREAD) {
          this.#change(changes, side, s.best, 0);
        }
      }
    }
    // The levels beyond levelsPerSide go; their deletes are part of the event.
    for (const side of [Side.BID, Side.ASK]) {
      const s = this.#sides[side];
      while (s.count > this.levelsPerSide) {
        const price = s.prices[s.count - 1], key = price * 2 + side;
        if (this.#touched.has(key)) { // changed earlier in this event: that change becomes a delete
          s.set(price, 0);
          changes.find((c) => c[0] === side && c[1] === price)![2] = 0;
        } else this.#change(changes, side, price, 0);
      }
    }
    this.#firstId = this.#lastId + 1;
    this.#lastId += changes.length;
    this.#lastChanges = changes;
    return changes;
  }

  /** Applies one change unless its level was changed already in this event. */
  #change(changes: SimChange[], side: number, price: number, qty: number): void {
    const key = price * 2 + side;
    if (this.#touched.has(key) || price <= 0) return;
    if (qty === 0 && !this.#sides[side].qty.has(price)) return;
    this.#touched.add(key);
    this.#sides[side].set(price, qty);
    changes.push([side, price, qty]);
  }

  /**
   * A Binance `depthUpdate` message up to and including `"ts":`: {@linkcode stamp} completes it
   * with the send time.
   */
  binanceDepthUpdatePrefix(
    symbol: string,
    U: number,
    u: number,
    changes: readonly SimChange[],
    eventTimeMs: number,
  ): string {
    const ps = this.priceScale, qs = this.quantityScale;
    let bids = "", asks = "";
    for (const [side, price, qty] of changes) {
      const level = `["${fixed(price, ps)}","${fixed(qty, qs)}"]`;
      if (side === Side.BID) bids += (bids === "" ? "" : ",") + level;
      else asks += (asks === "" ? "" : ",") + level;
    }
    return `{"e":"depthUpdate","E":${eventTimeMs},"s":"${symbol}","U":${U},"u":${u},` +
      `"b":[${bids}],"a":[${asks}],"ts":`;
  }

  /**
   * A Binance `depthUpdate` message: `{"e":"depthUpdate","E":<ms>,"s":"BTCUSDT","U":..,"u":..,
   * "b":[["27000.50","1.50000000"],...],"a":[...],"ts":<ns>}`; `ts` (the send time, CLOCK_MONOTONIC
   * ns) is not Binance's.
   */
  binanceDepthUpdate(
    symbol: string,
    U: number,
    u: number,
    changes: readonly SimChange[],
    eventTimeMs: number,
    sendStampNs: number,
  ): string {
    return stamp(this.binanceDepthUpdatePrefix(symbol, U, u, changes, eventTimeMs), sendStampNs);
  }

  /**
   * The REST snapshot (`GET /api/v3/depth`): `{"lastUpdateId":..,"bids":[["p","q"],...],
   * "asks":[...]}`, best first, at most `limit` levels per side (Infinity: the whole book).
   */
  binanceSnapshot(limit: number): string {
    const ps = this.priceScale, qs = this.quantityScale;
    const side = (s: number) =>
      this.levels(s, limit).map(([p, q]) => `["${fixed(p, ps)}","${fixed(q, qs)}"]`).join(",");
    return `{"lastUpdateId":${this.#lastId},"bids":[${side(Side.BID)}],"asks":[${side(Side.ASK)}]}`;
  }
}

/** Completes a message that ends in `"ts":` with the send time `ns` and the closing brace. */
export function stamp(prefix: string, ns: number): string {
  return prefix + ns + "}";
}

/** `units` of 10^-`scale` with exactly `scale` decimals: `fixed(2700050, 2)` is "27000.50". */
export function fixed(units: number, scale: number): string {
  const digits = String(units).padStart(scale + 1, "0");
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** `units` as the shortest JSON number text: `fixed` without trailing zeros ("27000.1", "1.5"). */
export function jsonNumber(units: number, scale: number): string {
  const text = fixed(units, scale);
  let end = text.length;
  if (scale > 0) {
    while (text.charCodeAt(end - 1) === 48) end--; // "0"
    if (text.charCodeAt(end - 1) === 46) end--; // "."
  }
  return end === text.length ? text : text.slice(0, end);
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (c & 1 ? 0xedb88320 : 0);
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (IEEE, reflected, as zlib's `crc32`) of an ASCII text, unsigned. */
export function crc32Ieee(text: string): number {
  let c = -1;
  for (let i = 0; i < text.length; i++) c = (c >>> 8) ^ CRC_TABLE[(c ^ text.charCodeAt(i)) & 255];
  return (c ^ -1) >>> 0;
}

/**
 * Kraken's "book checksum v2": CRC32 of the top 10 asks (lowest first) then the top 10 bids
 * (highest first), each price then quantity written with the pair's precision, the decimal
 * point removed and the leading zeros removed.
 */
export function krakenBookChecksum(
  asks: readonly [number, number][],
  bids: readonly [number, number][],
  priceScale: number,
  quantityScale: number,
): number {
  const digits = (units: number, scale: number) =>
    fixed(units, scale).replace(".", "").replace(/^0+/, "");
  let text = "";
  for (const levels of [asks, bids]) {
    for (let i = 0; i < 10 && i < levels.length; i++) {
      text += digits(levels[i][0], priceScale) + digits(levels[i][1], quantityScale);
    }
  }
  return crc32Ieee(text);
}

/** The depths Kraken's v2 `book` channel offers. */
export const KRAKEN_DEPTHS: readonly number[] = [10, 25, 100, 500, 1000];

/** A time as Kraken v2 writes it: RFC 3339 with microseconds, `"2026-11-26T04:00:00.000000Z"`. */
export function krakenTime(ms: number): string {
  const whole = Math.floor(ms), micros = Math.round((ms - whole) * 1000);
  return new Date(whole).toISOString().replace("Z", `${String(micros).padStart(3, "0")}Z`);
}

/** One side of a view: prices and quantities best first, in typed arrays. */
class ViewSide {
  price: Float64Array;
  qty: Float64Array;
  length = 0;

  constructor(depth: number) {
    this.price = new Float64Array(depth);
    this.qty = new Float64Array(depth);
  }

  pairs(): [number, number][] {
    return Array.from({ length: this.length }, (_, i): [number, number] => [
      this.price[i],
      this.qty[i],
    ]);
  }
}

/**
 * One Kraken v2 subscriber's view of a {@linkcode SimBook}: the top `depth` levels per side it
 * has been sent. After each step of the book, {@linkcode KrakenView.update} sends what changed in
 * the top `depth`: levels changed or newly in it with their quantity, levels deleted from the
 * book with quantity 0. A level pushed out of the top `depth` by a better one is not sent: the
 * client truncates its book to `depth`, as with Kraken.
 */
export class KrakenView {
  /** The subscribed depth (10, 25, 100, 500 or 1000). */
  readonly depth: number;
  /** The pair's name, `"BTC/USD"`. */
  readonly symbol: string;
  /** Updates not sent because of {@linkcode KrakenView.corruptNext}. */
  dropped = 0;
  readonly #book: SimBook;
  /** Per side: what the subscriber has, and a spare for the next top `depth`. */
  #view: [ViewSide, ViewSide];
  #next: [ViewSide, ViewSide];
  #syncedId = -1;
  #dropNext = false;
  #timeMs = NaN;
  #timeText = "";

  /** A view of `book`'s top `depth` levels for a subscriber to `symbol`. */
  constructor(book: SimBook, depth: number, symbol = "BTC/USD") {
    if (!KRAKEN_DEPTHS.includes(depth)) {
      throw new RangeError(`KrakenView: depth ${depth} is not one of ${KRAKEN_DEPTHS.join(", ")}`);
    }
    this.#book = book;
    this.depth = depth;
    this.symbol = symbol;
    this.#view = [new ViewSide(depth), new ViewSide(depth)];
    this.#next = [new ViewSide(depth), new ViewSide(depth)];
  }

  /** The subscriber's levels on `side`, best first, as `[price, qty]` (a copy). */
  levels(side: number): [number, number][] {
    return this.#view[side].pairs();
  }

  /** The checksum of the subscriber's book, as the last message carried. */
  get checksum(): number {
    const [bids, asks] = this.#view;
    let text = "";
    // Kraken's guide writes each value with the pair's precision, removes the point, then the
    // leading zeros: for a positive integer count of units that is the count's own digits.
    for (const s of [asks, bids]) {
      for (let i = 0; i < 10 && i < s.length; i++) text += `${s.price[i]}${s.qty[i]}`;
    }
    return crc32Ieee(text);
  }

  /**
   * The next update that has something to send is not sent, but the view advances past it: to
   * the subscriber it is a lost message, and its next checksum will not match.
   */
  corruptNext(): void {
    this.#dropNext = true;
  }

  /** Copies the book's top `depth` of `side` into `into`. */
  #fill(side: number, into: ViewSide): void {
    let n = 0;
    this.#book.forEachLevel(side, this.depth, (price, qty) => {
      into.price[n] = price;
      into.qty[n++] = qty;
    });
    into.length = n;
  }

  /**
   * Takes the book's top `depth` as the view and returns the `snapshot` message up to `"ts":`
   * (complete it with {@linkcode stamp}): `{"channel":"book","type":"snapshot","data":[{"symbol":
   * "BTC/USD","bids":[{"price":27000.1,"qty":1.5},...],"asks":[...],"checksum":N}],"ts":`.
   */
  snapshot(): string {
    for (const side of [Side.BID, Side.ASK]) this.#fill(side, this.#view[side]);
    this.#syncedId = this.#book.lastUpdateId;
    const [bids, asks] = this.#view;
    return this.#message("snapshot", this.#levels(bids.pairs()), this.#levels(asks.pairs()), "");
  }

  /**
   * What changed in the top `depth` since the last call (or the snapshot), as the `update`
   * message up to `"ts":` (complete it with {@linkcode stamp}): `{"channel":"book","type":
   * "update","data":[{"symbol":..,"bids":[..],"asks":[..],"checksum":N,"timestamp":"..."}],"ts":`.
   * Undefined when nothing changed there, or when the update is dropped (`corruptNext`).
   */
  update(eventTimeMs: number): string | undefined {
    const b = this.#book;
    if (b.lastUpdateId === this.#syncedId) return undefined;
    // One step since the last call: a side whose changes all lie beyond a full view is as it was.
    const oneStep = this.#syncedId === b.firstUpdateId - 1;
    this.#syncedId = b.lastUpdateId;
    const sent = ["", ""];
    for (const side of [Side.BID, Side.ASK]) {
      const old = this.#view[side], sign = side === Side.BID ? 1 : -1;
      if (oneStep && old.length === this.depth) {
        const worst = sign * old.price[old.length - 1];
        let inside = false;
        for (const c of b.lastChanges) if (c[0] === side && sign * c[1] >= worst) inside = true;
        if (!inside) continue;
      }
      const now = this.#next[side];
      this.#fill(side, now);
      // Both lists are best first: walk them together.
      let out = "", i = 0, j = 0;
      while (i < old.length || j < now.length) {
        const op = sign * old.price[i], np = sign * now.price[j];
        if (i >= old.length || (j < now.length && np > op)) { // new in the top
          out += this.#level(now.price[j], now.qty[j++], out);
        } else if (j >= now.length || op > np) { // gone from the top: deleted or pushed out
          if (b.quantityAt(side, old.price[i]) === 0) out += this.#level(old.price[i], 0, out);
          i++;
        } else { // in both
          if (old.qty[i] !== now.qty[j]) out += this.#level(now.price[j], now.qty[j], out);
          i++, j++;
        }
      }
      if (out === "") continue;
      sent[side] = out;
      this.#view[side] = now;
      this.#next[side] = old;
    }
    if (sent[Side.BID] === "" && sent[Side.ASK] === "") return undefined;
    if (this.#dropNext) {
      this.#dropNext = false;
      this.dropped++;
      return undefined;
    }
    if (eventTimeMs !== this.#timeMs) {
      this.#timeMs = eventTimeMs;
      this.#timeText = krakenTime(eventTimeMs);
    }
    return this.#message("update", sent[Side.BID], sent[Side.ASK], this.#timeText);
  }

  /** One level's JSON text, after a comma unless it is the first. */
  #level(price: number, qty: number, sofar: string): string {
    const { priceScale: ps, quantityScale: qs } = this.#book;
    return `${sofar === "" ? "" : ","}{"price":${jsonNumber(price, ps)},"qty":${
      jsonNumber(qty, qs)
    }}`;
  }

  #levels(levels: [number, number][]): string {
    let out = "";
    for (const [p, q] of levels) out += this.#level(p, q, out);
    return out;
  }

  #message(type: string, bids: string, asks: string, timestamp: string): string {
    const time = timestamp === "" ? "" : `,"timestamp":"${timestamp}"`;
    return `{"channel":"book","type":"${type}","data":[{"symbol":"${this.symbol}",` +
      `"bids":[${bids}],"asks":[${asks}],"checksum":${this.checksum}${time}}],"ts":`;
  }
}

/** Optional `req_id` field text, with its leading comma. */
function reqIdField(reqId: number | undefined): string {
  return reqId === undefined ? "" : `,"req_id":${reqId}`;
}

/**
 * Kraken's answer to a `book` subscription: `{"method":"subscribe","result":{"channel":"book",
 * "depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":..,"time_out":..}`
 * (`req_id` echoed when the request had one).
 */
export function krakenSubscribed(
  symbol: string,
  depth: number,
  snapshot: boolean,
  timeInMs: number,
  timeOutMs: number,
  reqId?: number,
): string {
  return `{"method":"subscribe"${reqIdField(reqId)},"result":{"channel":"book","depth":${depth},` +
    `"snapshot":${snapshot},"symbol":${JSON.stringify(symbol)}},"success":true,` +
    `"time_in":"${krakenTime(timeInMs)}","time_out":"${krakenTime(timeOutMs)}"}`;
}

/** Kraken's answer to an unsubscription: `{"method":"unsubscribe","result":{...},"success":true,...}`. */
export function krakenUnsubscribed(
  symbol: string,
  depth: number,
  timeInMs: number,
  timeOutMs: number,
  reqId?: number,
): string {
  return `{"method":"unsubscribe"${reqIdField(reqId)},"result":{"channel":"book",` +
    `"depth":${depth},"symbol":${JSON.stringify(symbol)}},"success":true,` +
    `"time_in":"${krakenTime(timeInMs)}","time_out":"${krakenTime(timeOutMs)}"}`;
}

/**
 * A refused request: `{"method":"subscribe","error":"Currency pair not supported BTC/XXX",
 * "success":false,"symbol":"BTC/XXX","time_in":..,"time_out":..}` (`symbol` when one is named).
 */
export function krakenError(
  method: string,
  error: string,
  timeInMs: number,
  timeOutMs: number,
  reqId?: number,
  symbol?: string,
): string {
  const sym = symbol === undefined ? "" : `,"symbol":${JSON.stringify(symbol)}`;
  return `{"method":${JSON.stringify(method)}${reqIdField(reqId)},` +
    `"error":${JSON.stringify(error)},"success":false${sym},` +
    `"time_in":"${krakenTime(timeInMs)}","time_out":"${krakenTime(timeOutMs)}"}`;
}

/** Kraken's heartbeat, sent once a second on a subscribed connection when nothing else was. */
export const KRAKEN_HEARTBEAT = '{"channel":"heartbeat"}';

/** The `status` message Kraken v2 sends when a connection opens. */
export function krakenStatus(connectionId: number): string {
  return `{"channel":"status","data":[{"api_version":"v2","connection_id":${connectionId},` +
    `"system":"online","version":"2.0.10"}],"type":"update"}`;
}
