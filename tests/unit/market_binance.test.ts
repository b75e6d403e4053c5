// Binance's diff-depth procedure against message sequences written from its published format:
// in order, events already in the snapshot, a snapshot too old, duplicates, a gap mid-stream,
// a disconnect; spot (U/u) and USD-M futures (pu). The book must equal the levels applied.
import assert from "node:assert/strict";
import { OrderBook, Side } from "../../market/book.ts";
import { BinanceDepthSync, type DepthEvent, type DepthSnapshot } from "../../market/binance.ts";

const ev = (
  U: number,
  u: number,
  b: [string, string][] = [],
  a: [string, string][] = [],
  pu?: number,
): DepthEvent => ({ U, u, b, a, ...(pu === undefined ? {} : { pu }) });

const SNAP: DepthSnapshot = {
  lastUpdateId: 100,
  bids: [["27000.00", "1.000"], ["26999.50", "2.000"]],
  asks: [["27001.00", "0.500"], ["27002.00", "3.000"]],
};

function setup(futures = false) {
  const book = new OrderBook();
  const sync = new BinanceDepthSync(book, { priceScale: 2, quantityScale: 3, futures });
  let asked = 0;
  const states: string[] = [];
  sync.onSnapshotNeeded = () => asked++;
  sync.onState = (s) => states.push(s);
  sync.start();
  return { book, sync, asked: () => asked, states };
}

Deno.test("Binance spot: buffered events, the snapshot, drops up to lastUpdateId, then live in order", () => {
  const { book, sync, asked, states } = setup();
  assert.equal(asked(), 1);
  sync.event(ev(95, 99, [["27000.00", "9.000"]])); // in the snapshot already: dropped
  sync.event(ev(100, 103, [["27000.00", "1.500"]], [["27001.00", "0"]])); // straddles 101
  sync.event(ev(104, 104, [], [["27001.50", "0.250"]]));
  assert.equal(sync.state, "syncing");
  sync.snapshot(SNAP);
  assert.equal(sync.state, "live");
  assert.deepEqual(states, ["live"]); // it started syncing
  assert.equal(sync.counters.dropped, 1);
  assert.equal(sync.counters.applied, 2);
  assert.equal(book.bestBid, 2700000);
  assert.equal(book.bestBidQuantity, 1500);
  assert.equal(book.bestAsk, 2700150, "27001.00 deleted, 27001.50 added");
  sync.event(ev(105, 107, [["27000.50", "4.000"]]));
  assert.equal(book.bestBid, 2700050);
  sync.event(ev(105, 107, [["27000.50", "8.000"]])); // a duplicate: dropped
  assert.equal(book.bestBidQuantity, 4000);
  assert.equal(sync.lastUpdateId, 107);
});

Deno.test("Binance spot: a gap mid-stream marks the book syncing and asks for a snapshot; the resync repairs it", () => {
  const { book, sync, asked } = setup();
  sync.snapshot(SNAP);
  sync.event(ev(101, 101, [["27000.00", "5.000"]]));
  sync.event(ev(103, 104, [["26999.50", "0"]])); // 102 is missing
  assert.equal(sync.state, "syncing");
  assert.equal(sync.counters.gaps, 1);
  assert.equal(asked(), 2);
  sync.event(ev(105, 106, [["27000.00", "7.000"]])); // buffered
  sync.snapshot({ ...SNAP, lastUpdateId: 104, bids: [["27000.00", "5.000"]] });
  assert.equal(sync.state, "live");
  assert.equal(book.bestBidQuantity, 7000);
  assert.equal(book.levels(Side.BID), 1);
});

Deno.test("Binance spot: a snapshot older than the buffered events is refused and another asked for", () => {
  const { sync, asked } = setup();
  sync.event(ev(150, 152)); // the stream starts after 101: the snapshot at 100 cannot be joined
  sync.snapshot(SNAP);
  assert.equal(sync.state, "syncing");
  assert.equal(sync.counters.staleSnapshots, 1);
  assert.equal(asked(), 2);
  sync.snapshot({ ...SNAP, lastUpdateId: 151 });
  assert.equal(sync.state, "live");
  assert.equal(sync.lastUpdateId, 152);
});

Deno.test("Binance spot: a snapshot before any event; the first live event must straddle it", () => {
  const { sync } = setup();
  sync.snapshot(SNAP);
  sync.event(ev(90, 100)); // old: dropped
  sync.event(ev(99, 102, [["27000.00", "3.000"]])); // straddles 101: applied
  assert.equal(sync.counters.applied, 1);
  assert.equal(sync.state, "live");
  const { sync: s2, asked } = setup();
  s2.snapshot(SNAP);
  s2.event(ev(105, 106)); // starts after 101: a gap
  assert.equal(s2.state, "syncing");
  assert.equal(asked(), 2);
});

Deno.test("Binance spot: a disconnect makes the book stale until it is synced again", () => {
  const { sync, states } = setup();
  sync.snapshot(SNAP);
  sync.disconnected();
  assert.equal(sync.state, "stale");
  sync.event(ev(200, 201));
  assert.equal(sync.state, "syncing");
  sync.snapshot({ ...SNAP, lastUpdateId: 200 });
  assert.deepEqual(states, ["live", "stale", "syncing", "live"]);
});

Deno.test("Binance USD-M futures: pu continuity, first event with U ≤ lastUpdateId ≤ u", () => {
  const { book, sync } = setup(true);
  sync.event(ev(90, 99, [], [], 89)); // u < 100: dropped
  sync.event(ev(98, 102, [["27000.00", "2.000"]], [], 97)); // straddles 100
  sync.event(ev(103, 110, [["27000.00", "0"]], [], 102)); // pu = previous u
  sync.snapshot(SNAP);
  assert.equal(sync.state, "live");
  assert.equal(book.bestBid, 2699950);
  sync.event(ev(111, 115, [], [], 109)); // pu ≠ 110: a gap
  assert.equal(sync.state, "syncing");
  assert.equal(sync.counters.gaps, 1);
});
