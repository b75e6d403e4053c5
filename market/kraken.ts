/**
 * Kraken's WebSocket v2 `book` channel: a snapshot, then updates that set absolute quantities
 * (0 deletes); after each message the book is cut to the subscribed depth, and a CRC32 of the
 * top 10 levels (Kraken's "book checksum v2" guide) is compared with the message's. A mismatch
 * marks the book syncing and asks for a resubscription. Owns no connection.
 *
 * @module
 */
import { type OrderBook, Side } from "./book.ts";
import { fromUnits, toUnits } from "./decimal.ts";
import type { FeedState } from "./binance.ts";

/** One level as Kraken sends it (numbers, or strings when parsed as decimals). */
export interface KrakenLevel {
  /** The price. */
  price: number | string;
  /** The quantity; 0 deletes the level. */
  qty: number | string;
}

/** The `data[0]` of a `book` message. */
export interface KrakenBookData {
  /** Bid levels. */
  bids: KrakenLevel[];
  /** Ask levels. */
  asks: KrakenLevel[];
  /** CRC32 of the top 10 levels after this message. */
  checksum: number;
}

/** Options of a {@linkcode KrakenBookSync}. */
export interface KrakenBookOptions {
  /** The pair's price precision (decimals). */
  priceScale: number;
  /** The pair's quantity precision (decimals). */
  quantityScale: number;
  /** The subscribed depth (10, 25, 100, 500, 1000). */
  depth: number;
}

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib) of an ASCII string. */
export function crc32(text: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < text.length; i++) c = TABLE[(c ^ text.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A price or quantity as the checksum writes it: its decimal digits, no point, no leading zeros. */
function digits(units: number, scale: number): string {
  return fromUnits(units, scale).replace(".", "").replace(/^0+/, "");
}

/** Kraken's v2 book checksum of `book`: the top 10 asks low to high, then the top 10 bids high to low. */
export function krakenChecksum(book: OrderBook, priceScale: number, quantityScale: number): number {
  let text = "";
  for (const side of [Side.ASK, Side.BID]) {
    book.forEachLevel(side, 10, (price, qty) => {
      text += digits(price, priceScale) + digits(qty, quantityScale);
    });
  }
  return crc32(text);
}

/** Kraken's book procedure; see the module doc. */
export class KrakenBookSync {
  readonly #book: OrderBook;
  readonly #o: KrakenBookOptions;
  #state: FeedState = "syncing";
  /** Messages applied, and checksum mismatches (each asks for a resync). */
  readonly counters = { snapshots: 0, updates: 0, mismatches: 0, truncated: 0 };
  /** Called when the book must be rebuilt: resubscribe, and a snapshot follows. */
  onResync: (() => void) | null = null;
  /** Called when the state changes. */
  onState: ((state: FeedState) => void) | null = null;

  /** A procedure keeping `book`. */
  constructor(book: OrderBook, options: KrakenBookOptions) {
    this.#book = book;
    this.#o = options;
  }

  /** Where the book stands. */
  get state(): FeedState {
    return this.#state;
  }

  #setState(state: FeedState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.onState?.(state);
  }

  /** The connection dropped: the book is stale until the next snapshot. */
  disconnected(): void {
    this.#setState("stale");
  }

  /** A `book` message: `type` is "snapshot" or "update". */
  message(type: "snapshot" | "update", data: KrakenBookData): void {
    const book = this.#book;
    if (type === "snapshot") {
      this.counters.snapshots++;
      book.clear();
    } else {
      if (this.#state !== "live") return; // waiting for the snapshot after a resync
      this.counters.updates++;
    }
    this.#apply(Side.BID, data.bids);
    this.#apply(Side.ASK, data.asks);
    this.#truncate(Side.BID);
    this.#truncate(Side.ASK);
    const sum = krakenChecksum(book, this.#o.priceScale, this.#o.quantityScale);
    if (sum !== data.checksum >>> 0) {
      this.counters.mismatches++;
      this.#setState("syncing");
      this.onResync?.();
      return;
    }
    this.#setState("live");
  }

  #apply(side: number, levels: KrakenLevel[]): void {
    const { priceScale, quantityScale } = this.#o;
    for (const l of levels) {
      this.#book.set(side, units(l.price, priceScale), units(l.qty, quantityScale));
    }
  }

  /** Levels beyond the subscribed depth go: Kraken sends no delete for them. */
  #truncate(side: number): void {
    const book = this.#book, depth = this.#o.depth;
    if (book.levels(side) <= depth) return;
    const beyond: number[] = [];
    let i = 0;
    book.forEachLevel(side, Infinity, (price) => {
      if (i++ >= depth) beyond.push(price);
    });
    for (const price of beyond) book.set(side, price, 0);
    this.counters.truncated += beyond.length;
  }
}

/** A JSON number or decimal string as integer units (numbers are written at the scale first). */
function units(value: number | string, scale: number): number {
  return toUnits(typeof value === "number" ? value.toFixed(scale) : value, scale);
}
