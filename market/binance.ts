/**
 * Binance's procedure for a local order book from its diff-depth stream (spot: "How to manage a
 * local order book correctly"; USD-M futures: the same with `pu`), as a small state machine that
 * owns no connection: the driver feeds it stream events and REST snapshots, and it says when it
 * needs a new snapshot.
 *
 * Spot: buffer events; take a snapshot (`lastUpdateId`); drop events with `u` ≤ lastUpdateId;
 * the first one applied must have `U` ≤ lastUpdateId + 1 ≤ `u`; each next one must have
 * `U` = previous `u` + 1. Futures: drop `u` < lastUpdateId; the first must have
 * `U` ≤ lastUpdateId ≤ `u`; each next one must have `pu` = previous `u`. Anything else is a gap:
 * the book is marked syncing and a new snapshot is asked for. Levels set absolute quantities;
 * 0 deletes.
 *
 * @module
 */
import { type OrderBook, Side } from "./book.ts";
import { fromUnits, toUnits } from "./decimal.ts";
import type { DepthDecoder } from "./decoder.ts";

/** A depth update as Binance sends it (`depthUpdate`), parsed. */
export interface DepthEvent {
  /** First update id in the event. */
  U: number;
  /** Final update id in the event. */
  u: number;
  /** Futures: the previous event's final update id. */
  pu?: number;
  /** Bids: [price, quantity] decimal strings. */
  b: [string, string][];
  /** Asks. */
  a: [string, string][];
}

/** A REST depth snapshot (`GET /api/v3/depth`), parsed. */
export interface DepthSnapshot {
  /** The last update id the snapshot includes. */
  lastUpdateId: number;
  /** Bids: [price, quantity] decimal strings, best first. */
  bids: [string, string][];
  /** Asks. */
  asks: [string, string][];
}

/** Where a feed's book stands. */
export type FeedState = "syncing" | "live" | "stale";

/** Options of a {@linkcode BinanceDepthSync}. */
export interface BinanceDepthOptions {
  /** Decimals of prices (the tick size's): prices become integer ticks. */
  priceScale: number;
  /** Decimals of quantities (the lot size's). */
  quantityScale: number;
  /** USD-M futures rules (`pu` continuity). Default: false (spot). */
  futures?: boolean;
  /** Events kept while waiting for a snapshot, at most. Default: 10000. */
  maxBuffered?: number;
}

/** Counters of a {@linkcode BinanceDepthSync}. */
export interface DepthSyncCounters {
  /** Events applied to the book. */
  applied: number;
  /** Events dropped as already in the snapshot or duplicated. */
  dropped: number;
  /** Gaps found (each starts a resync). */
  gaps: number;
  /** Snapshots taken. */
  snapshots: number;
  /** Snapshots too old for the events (a resync follows). */
  staleSnapshots: number;
}

/** Binance's diff-depth procedure; see the module doc. */
export class BinanceDepthSync {
  readonly #book: OrderBook;
  readonly #o: Required<BinanceDepthOptions>;
  #state: FeedState = "syncing";
  #buffer: DepthEvent[] = [];
  #lastU = -1; // the last applied event's u
  #snapshotId = -1;
  #awaitingFirst = false; // live, but no event applied since the snapshot
  /** Counters. */
  readonly counters: DepthSyncCounters = {
    applied: 0,
    dropped: 0,
    gaps: 0,
    snapshots: 0,
    staleSnapshots: 0,
  };
  /** Called when a (new) snapshot is needed: fetch it and pass it to `snapshot()`. */
  onSnapshotNeeded: (() => void) | null = null;
  /** Called when the state changes. */
  onState: ((state: FeedState) => void) | null = null;

  /** A procedure keeping `book`. Call `start()`, then feed events and snapshots. */
  constructor(book: OrderBook, options: BinanceDepthOptions) {
    this.#book = book;
    this.#o = { futures: false, maxBuffered: 10_000, ...options };
  }

  /** Where the book stands. */
  get state(): FeedState {
    return this.#state;
  }

  /** Asks for the first snapshot (events are buffered until it comes). */
  start(): void {
    this.#setState("syncing");
    this.onSnapshotNeeded?.();
  }

  /** The connection dropped: the book is stale until the feed is synced again. */
  disconnected(): void {
    this.#buffer = [];
    this.#setState("stale");
  }

  #setState(state: FeedState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.onState?.(state);
  }

  /** A stream event. */
  event(e: DepthEvent): void {
    if (this.#state !== "live") {
      if (this.#state === "stale") this.#setState("syncing");
      if (this.#buffer.length === this.#o.maxBuffered) this.#buffer.shift();
      this.#buffer.push(e);
      return;
    }
    if (this.#awaitingFirst) return this.#first(e);
    if (e.u <= this.#lastU) { // a duplicate or an old event
      this.counters.dropped++;
      return;
    }
    const continues = this.#o.futures ? e.pu === this.#lastU : e.U === this.#lastU + 1;
    if (!continues) return this.#gap(e);
    this.#apply(e);
  }

  /**
   * An event read by a {@linkcode DepthDecoder} (the hot path: typed arrays, no strings). The
   * same rules as `event`; while syncing it is turned into a `DepthEvent` to be buffered.
   */
  decoded(dec: DepthDecoder): void {
    if (this.#state !== "live" || this.#awaitingFirst) return this.event(this.#toEvent(dec));
    const ids = dec.ids;
    if (ids[1] <= this.#lastU) {
      this.counters.dropped++;
      return;
    }
    const continues = this.#o.futures ? ids[2] === this.#lastU : ids[0] === this.#lastU + 1;
    if (!continues) return this.#gap(this.#toEvent(dec));
    this.#lastU = ids[1];
    const book = this.#book;
    for (let i = 0, b = dec.bids; i < dec.bidCount; i++) book.set(Side.BID, b[2 * i], b[2 * i + 1]);
    for (let i = 0, a = dec.asks; i < dec.askCount; i++) book.set(Side.ASK, a[2 * i], a[2 * i + 1]);
    this.counters.applied++;
  }

  /** A decoded event as the object `event` takes (off the hot path: buffering, gaps). */
  #toEvent(dec: DepthDecoder): DepthEvent {
    const { priceScale: ps, quantityScale: qs } = this.#o;
    const side = (levels: Float64Array, n: number) =>
      Array.from({ length: n }, (_, i): [string, string] => [
        fromUnits(levels[2 * i], ps),
        fromUnits(levels[2 * i + 1], qs),
      ]);
    const e: DepthEvent = {
      U: dec.ids[0],
      u: dec.ids[1],
      b: side(dec.bids, dec.bidCount),
      a: side(dec.asks, dec.askCount),
    };
    if (dec.ids[2] >= 0) e.pu = dec.ids[2];
    return e;
  }

  /** The first event after a snapshot, live: it must straddle the snapshot's id. */
  #first(e: DepthEvent): void {
    const id = this.#snapshotId, futures = this.#o.futures;
    if (futures ? e.u < id : e.u <= id) {
      this.counters.dropped++;
      return;
    }
    const fits = futures ? e.U <= id && e.u >= id : e.U <= id + 1 && e.u >= id + 1;
    if (!fits) return this.#gap(e);
    this.#awaitingFirst = false;
    this.#apply(e);
  }

  /** A REST snapshot, asked for by `onSnapshotNeeded`. */
  snapshot(s: DepthSnapshot): void {
    this.counters.snapshots++;
    const book = this.#book, o = this.#o;
    book.clear();
    for (const [p, q] of s.bids) {
      book.set(Side.BID, toUnits(p, o.priceScale), toUnits(q, o.quantityScale));
    }
    for (const [p, q] of s.asks) {
      book.set(Side.ASK, toUnits(p, o.priceScale), toUnits(q, o.quantityScale));
    }
    this.#snapshotId = s.lastUpdateId;
    this.#lastU = -1;
    const id = s.lastUpdateId;
    const buffered = this.#buffer;
    this.#buffer = [];
    let first = true;
    for (const e of buffered) {
      if (o.futures ? e.u < id : e.u <= id) {
        this.counters.dropped++;
        continue;
      }
      if (first) {
        const fits = o.futures ? e.U <= id && e.u >= id : e.U <= id + 1 && e.u >= id + 1;
        if (!fits) { // the snapshot is older than the stream can reach back: another one
          this.counters.staleSnapshots++;
          this.#buffer = buffered.slice(buffered.indexOf(e));
          this.onSnapshotNeeded?.();
          return;
        }
        first = false;
        this.#lastU = e.u;
        this.#applyLevels(e);
        continue;
      }
      const continues = o.futures ? e.pu === this.#lastU : e.U === this.#lastU + 1;
      if (!continues) {
        this.#buffer = buffered.slice(buffered.indexOf(e));
        return this.#gap(e, false);
      }
      this.#lastU = e.u;
      this.#applyLevels(e);
    }
    this.#awaitingFirst = first; // no event yet: the next one must straddle the snapshot
    this.#setState("live");
  }

  #gap(e: DepthEvent, buffer = true): void {
    this.counters.gaps++;
    this.#setState("syncing");
    if (buffer) this.#buffer = [e];
    this.onSnapshotNeeded?.();
  }

  #apply(e: DepthEvent): void {
    this.#lastU = e.u;
    this.#applyLevels(e);
  }

  #applyLevels(e: DepthEvent): void {
    const book = this.#book, o = this.#o;
    for (const [p, q] of e.b) {
      book.set(Side.BID, toUnits(p, o.priceScale), toUnits(q, o.quantityScale));
    }
    for (const [p, q] of e.a) {
      book.set(Side.ASK, toUnits(p, o.priceScale), toUnits(q, o.quantityScale));
    }
    this.counters.applied++;
  }

  /** The snapshot's lastUpdateId in use (-1 before the first). */
  get snapshotId(): number {
    return this.#snapshotId;
  }

  /** The last applied event's final update id. */
  get lastUpdateId(): number {
    return this.#lastU;
  }
}
