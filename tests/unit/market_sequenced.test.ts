// OKX's and Bybit's order-book procedures on written message sequences: snapshots, deltas in
// order, a broken chain asking for a resync, duplicates, Bybit's u = 1 restart.
import assert from "node:assert/strict";
import { OrderBook, Side } from "../../market/book.ts";
import { BybitBookSync, type Level, OkxBookSync } from "../../market/sequenced.ts";

const L = (p: string, q: string): Level => [p, q];

Deno.test("OKX books: snapshot, prevSeqId chain, heartbeat, a gap asks for a resync", () => {
  const book = new OrderBook();
  const sync = new OkxBookSync(book, { priceScale: 1, quantityScale: 3 });
  let resyncs = 0;
  sync.onResync = () => resyncs++;
  sync.message("update", { bids: [], asks: [], seqId: 5, prevSeqId: 4 }); // before a snapshot
  assert.equal(sync.counters.dropped, 1);
  sync.message("snapshot", {
    bids: [L("8476.9", "256"), L("8476.5", "1.5")],
    asks: [L("8477.0", "0.001")],
    seqId: 123,
    prevSeqId: -1,
  });
  assert.equal(sync.state, "live");
  assert.equal(book.bestBid, 84769);
  sync.message("update", { bids: [L("8476.9", "0")], asks: [], seqId: 130, prevSeqId: 123 });
  assert.equal(book.bestBid, 84765);
  sync.message("update", { bids: [], asks: [], seqId: 130, prevSeqId: 130 }); // heartbeat
  sync.message("update", { bids: [], asks: [L("8478.0", "2")], seqId: 140, prevSeqId: 131 });
  assert.equal(sync.state, "syncing");
  assert.equal(resyncs, 1);
  assert.equal(sync.counters.gaps, 1);
});

Deno.test("Bybit v5 orderbook: snapshot, u + 1 deltas, duplicates dropped, a gap, u = 1 restart", () => {
  const book = new OrderBook();
  const sync = new BybitBookSync(book, { priceScale: 2, quantityScale: 3 });
  let resyncs = 0;
  sync.onResync = () => resyncs++;
  sync.message("snapshot", {
    b: [L("16493.50", "0.006")],
    a: [L("16611.00", "0.029")],
    u: 18521288,
  });
  sync.message("delta", { b: [L("16493.50", "0.010")], a: [], u: 18521289 });
  assert.equal(book.bestBidQuantity, 10);
  sync.message("delta", { b: [L("16493.50", "9.999")], a: [], u: 18521289 }); // a duplicate
  assert.equal(book.bestBidQuantity, 10);
  assert.equal(sync.counters.dropped, 1);
  sync.message("delta", { b: [], a: [L("16611.00", "0")], u: 18521291 }); // 18521290 missing
  assert.equal(sync.state, "syncing");
  assert.equal(resyncs, 1);
  sync.message("delta", { b: [L("16000.00", "1.000")], a: [L("16700.00", "1.000")], u: 1 }); // restart
  assert.equal(sync.state, "live");
  assert.equal(book.levels(Side.BID), 1);
  assert.equal(book.bestAsk, 1670000);
});
