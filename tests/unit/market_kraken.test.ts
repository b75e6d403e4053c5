// Kraken's v2 book procedure: the CRC32 and the checksum's formatting (from Kraken's guide),
// a snapshot and updates with their checksums, truncation to the subscribed depth, and a
// mismatch asking for a resync.
import assert from "node:assert/strict";
import { OrderBook, Side } from "../../market/book.ts";
import { crc32, KrakenBookSync, krakenChecksum, type KrakenLevel } from "../../market/kraken.ts";
import { toUnits } from "../../market/decimal.ts";

Deno.test("CRC-32: the standard check value", () => {
  assert.equal(crc32("123456789"), 0xcbf43926);
  assert.equal(crc32(""), 0);
  assert.equal(crc32("a"), 0xe8b7be43);
});

Deno.test("the checksum's string: asks low to high, then bids high to low; no point, no leading zeros", () => {
  const book = new OrderBook();
  // Kraken's own example of one level: 45285.2 with 0.00100000 → "452852100000".
  book.set(Side.ASK, toUnits("45285.2", 1), toUnits("0.00100000", 8));
  assert.equal(krakenChecksum(book, 1, 8), crc32("452852100000"));
  book.set(Side.ASK, toUnits("45286.0", 1), toUnits("1.5", 8));
  book.set(Side.BID, toUnits("45283.5", 1), toUnits("0.01", 8));
  book.set(Side.BID, toUnits("45280.0", 1), toUnits("2", 8));
  assert.equal(
    krakenChecksum(book, 1, 8),
    crc32("452852100000" + "452860150000000" + "4528351000000" + "452800200000000"),
  );
});

/** A checksum as the exchange would compute it over `levels` (independently of the book). */
function expected(asks: [string, string][], bids: [string, string][]): number {
  const f = (s: string) => s.replace(".", "").replace(/^0+/, "");
  const top = (l: [string, string][], desc: boolean) =>
    [...l].sort((x, y) => desc ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0]))
      .slice(0, 10);
  return crc32(
    top(asks, false).map(([p, q]) => f(p) + f(q)).join("") +
      top(bids, true).map(([p, q]) => f(p) + f(q)).join(""),
  );
}

const lv = (l: [string, string][]): KrakenLevel[] => l.map(([price, qty]) => ({ price, qty }));

Deno.test("Kraken v2: snapshot, updates, truncation to depth 10, mismatch → resync", () => {
  const book = new OrderBook();
  const sync = new KrakenBookSync(book, { priceScale: 1, quantityScale: 8, depth: 10 });
  let resyncs = 0;
  sync.onResync = () => resyncs++;
  let asks: [string, string][] = Array.from({ length: 10 }, (_, i) => [
    (45285 + i).toFixed(1),
    (0.5 + i / 100).toFixed(8),
  ]);
  let bids: [string, string][] = Array.from({ length: 10 }, (_, i) => [
    (45284 - i).toFixed(1),
    (1 + i / 10).toFixed(8),
  ]);
  sync.message("snapshot", { asks: lv(asks), bids: lv(bids), checksum: expected(asks, bids) });
  assert.equal(sync.state, "live");
  // A better bid: the book holds 11 bids, the worst must go (no delete is sent for it).
  const better: [string, string] = ["45284.5", "0.30000000"];
  bids = [better, ...bids].slice(0, 10);
  sync.message("update", { asks: [], bids: lv([better]), checksum: expected(asks, bids) });
  assert.equal(sync.state, "live");
  assert.equal(book.levels(Side.BID), 10);
  assert.equal(sync.counters.truncated, 1);
  // A deletion and a change, with the price as a JSON number.
  asks = asks.filter(([p]) => p !== "45285.0");
  asks[0] = ["45286.0", "9.00000000"];
  sync.message("update", {
    asks: [{ price: 45285.0, qty: 0 }, { price: 45286.0, qty: 9 }],
    bids: [],
    checksum: expected(asks, bids),
  });
  assert.equal(sync.state, "live");
  assert.equal(book.bestAsk, toUnits("45286.0", 1));
  // A wrong checksum: syncing, a resync asked for, updates ignored until the next snapshot.
  sync.message("update", { asks: lv([["45290.0", "1"]]), bids: [], checksum: 12345 });
  assert.equal(sync.state, "syncing");
  assert.equal(resyncs, 1);
  sync.message("update", { asks: lv([["45291.0", "1"]]), bids: [], checksum: 0 });
  assert.equal(sync.counters.updates, 3);
  sync.message("snapshot", { asks: lv(asks), bids: lv(bids), checksum: expected(asks, bids) });
  assert.equal(sync.state, "live");
});
