/**
 * OKX's `books` and Bybit v5's `orderbook` procedures: a snapshot, then deltas chained by
 * sequence numbers (OKX: each `prevSeqId` is the previous `seqId`; Bybit: each delta's `u` is the
 * previous `u` + 1, and `u` = 1 is a snapshot after a restart). A break is a gap: the book is
 * marked syncing and a resubscription asked for. Levels set absolute quantities; 0 deletes.
 * Own no connection.
 *
 * @module
 */
import { type OrderBook, Side } from "./book.ts";
import { toUnits } from "./decimal.ts";
import type { FeedState } from "./binance.ts";

/** Options of the sequenced procedures. */
export interface SequencedOptions {
  /** Decimals of prices. */
  priceScale: number;
  /** Decimals of quantities. */
  quantityScale: number;
}

/** A level: [price, quantity, ...more fields the exchange adds] as decimal strings. */
export type Level = [string, string, ...string[]];

/** What both procedures share: the book, the state, applying levels. */
export abstract class SequencedBookSync {
  readonly #book: OrderBook;
  readonly #o: SequencedOptions;
  #state: FeedState = "syncing";
  /** Messages applied, dropped and gaps found. */
  readonly counters = { snapshots: 0, deltas: 0, dropped: 0, gaps: 0 };
  /** Called when the book must be rebuilt: resubscribe, a snapshot follows. */
  onResync: (() => void) | null = null;
  /** Called when the state changes. */
  onState: ((state: FeedState) => void) | null = null;

  /** A procedure keeping `book`. */
  constructor(book: OrderBook, options: SequencedOptions) {
    this.#book = book;
    this.#o = options;
  }

  /** Where the book stands. */
  get state(): FeedState {
    return this.#state;
  }

  /** The connection dropped: the book is stale until the next snapshot. */
  disconnected(): void {
    this.setState("stale");
  }

  /** Changes the state, telling `onState`. */
  protected setState(state: FeedState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.onState?.(state);
  }

  /** The chain broke: syncing, and a resync asked for. */
  protected gap(): void {
    this.counters.gaps++;
    this.setState("syncing");
    this.onResync?.();
  }

  /** Applies levels (a snapshot first empties the book). */
  protected apply(snapshot: boolean, bids: Level[], asks: Level[]): void {
    const book = this.#book, { priceScale: ps, quantityScale: qs } = this.#o;
    if (snapshot) book.clear();
    for (const l of bids) book.set(Side.BID, toUnits(l[0], ps), toUnits(l[1], qs));
    for (const l of asks) book.set(Side.ASK, toUnits(l[0], ps), toUnits(l[1], qs));
    if (snapshot) this.counters.snapshots++;
    else this.counters.deltas++;
  }
}

/** An OKX `books` message's `data[0]`, with the message's `action`. */
export interface OkxBookData {
  /** Bids: [price, size, "0", orders]. */
  bids: Level[];
  /** Asks. */
  asks: Level[];
  /** This message's sequence id. */
  seqId: number;
  /** The previous message's (-1 in a snapshot). */
  prevSeqId: number;
}

/** OKX's `books` procedure (v5); see the module doc. */
export class OkxBookSync extends SequencedBookSync {
  #last = -1;

  /** A message: `action` is "snapshot" or "update". */
  message(action: "snapshot" | "update", d: OkxBookData): void {
    if (action === "snapshot") {
      this.apply(true, d.bids, d.asks);
      this.#last = d.seqId;
      this.setState("live");
      return;
    }
    if (this.state !== "live") {
      this.counters.dropped++;
      return;
    }
    if (d.prevSeqId !== this.#last) return this.gap();
    this.#last = d.seqId; // (seqId = prevSeqId: nothing changed, a heartbeat)
    this.apply(false, d.bids, d.asks);
  }
}

/** A Bybit v5 `orderbook` message's `data`, with the message's `type`. */
export interface BybitBookData {
  /** Bids: [price, size]. */
  b: Level[];
  /** Asks. */
  a: Level[];
  /** The update id. */
  u: number;
}

/** Bybit v5's `orderbook` procedure; see the module doc. */
export class BybitBookSync extends SequencedBookSync {
  #last = -1;

  /** A message: `type` is "snapshot" or "delta". */
  message(type: "snapshot" | "delta", d: BybitBookData): void {
    if (type === "snapshot" || d.u === 1) { // u = 1: the service restarted, a snapshot
      this.apply(true, d.b, d.a);
      this.#last = d.u;
      this.setState("live");
      return;
    }
    if (this.state !== "live" || d.u <= this.#last) {
      this.counters.dropped++;
      return;
    }
    if (d.u !== this.#last + 1) return this.gap();
    this.#last = d.u;
    this.apply(false, d.b, d.a);
  }
}
