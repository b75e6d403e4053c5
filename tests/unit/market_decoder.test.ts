// The zero-allocation depth decoder against JSON.parse: a stream of 10^6 Binance depth updates
// (spot and combined-stream forms, with gaps, duplicates and snapshots) applied both ways must
// give identical books; messages it cannot read are refused, never misread.
import assert from "node:assert/strict";
import { OrderBook, Side } from "../../market/book.ts";
import { BinanceDepthSync, type DepthSnapshot } from "../../market/binance.ts";
import { DepthDecoder } from "../../market/decoder.ts";
import { fromUnits } from "../../market/decimal.ts";
import { seededRandom } from "../helpers.ts";

const rand = seededRandom(777);

const PS = 2, QS = 8;
const enc = new TextEncoder();

function book(): [OrderBook, BinanceDepthSync] {
  const b = new OrderBook();
  const s = new BinanceDepthSync(b, { priceScale: PS, quantityScale: QS });
  return [b, s];
}

function same(a: OrderBook, b: OrderBook, what: string): void {
  for (const side of [Side.BID, Side.ASK]) {
    assert.equal(a.levels(side), b.levels(side), what);
    assert.deepEqual(a.depth(side, 50), b.depth(side, 50), what);
  }
}

Deno.test("the depth decoder and JSON.parse build identical books over 10^6 updates", () => {
  const [refBook, ref] = book();
  const [fastBook, fast] = book();
  const decoder = new DepthDecoder({ priceScale: PS, quantityScale: QS });
  const snapshot: DepthSnapshot = { lastUpdateId: 1_000_000_000, bids: [], asks: [] };
  ref.snapshot(snapshot);
  fast.snapshot(snapshot);
  let id = 1_000_000_000, mid = 3_000_000, decoded = 0;
  const levels = (side: number) =>
    Array.from({ length: Math.floor(rand() * 6) }, () => {
      const price = side === 0
        ? mid - 1 - Math.floor(rand() * 400)
        : mid + 1 + Math.floor(rand() * 400);
      const qty = rand() < 0.3 ? 0 : Math.floor(rand() * 1e9);
      let p = fromUnits(price, PS), q = fromUnits(qty, QS);
      if (rand() < 0.2) p += "000"; // trailing zeros beyond the scale, as Binance sends
      if (rand() < 0.2) p = p.replace(/\.0+$/, ""); // whole numbers written without a point
      if (rand() < 0.2) q = q.replace(/\.0+$/, "");
      return [p, q];
    });
  for (let i = 0; i < 1_000_000; i++) {
    mid += Math.round((rand() - 0.5) * 6);
    const U = rand() < 0.0005 ? id + 5 : id + 1; // now and then a gap
    const u = U + Math.floor(rand() * 3);
    const dup = rand() < 0.001; // now and then an old event again
    const event = {
      e: "depthUpdate",
      E: 1672515782136 + i,
      s: "BTCUSDT",
      U: dup ? id - 3 : U,
      u: dup ? id - 1 : u,
      b: levels(0),
      a: levels(1),
    };
    if (!dup) id = u;
    const json = JSON.stringify(rand() < 0.5 ? event : { stream: "btcusdt@depth", data: event });
    const bytes = enc.encode(rand() < 0.05 ? json.replace(/,/g, ", ") : json);
    const parsed = JSON.parse(json);
    ref.event(parsed.data ?? parsed);
    if (decoder.decode(bytes, 0, bytes.length)) {
      decoded++;
      fast.decoded(decoder);
    } else fast.event(parsed.data ?? parsed);
    if (ref.state === "syncing") { // a gap: both get the same fresh snapshot
      const snap: DepthSnapshot = {
        lastUpdateId: id,
        bids: refBook.depth(Side.BID, 20).map(([p, q]) => [fromUnits(p, PS), fromUnits(q, QS)]),
        asks: refBook.depth(Side.ASK, 20).map(([p, q]) => [fromUnits(p, PS), fromUnits(q, QS)]),
      };
      ref.snapshot(snap);
      fast.snapshot(snap);
    }
    if (i % 10007 === 0) same(refBook, fastBook, `after update ${i}`);
  }
  same(refBook, fastBook, "at the end");
  assert.deepEqual(fast.counters, ref.counters);
  assert.ok(decoded > 999_000, `${decoded} decoded without JSON.parse`);
  assert.ok(ref.counters.gaps > 100 && ref.counters.dropped > 100, JSON.stringify(ref.counters));
});

Deno.test("the depth decoder refuses what it cannot read, rather than misreading it", () => {
  const decoder = new DepthDecoder({ priceScale: 2, quantityScale: 3 });
  const refuse = (text: string) => {
    const b = enc.encode(text);
    assert.equal(decoder.decode(b, 0, b.length), false, text);
  };
  refuse(`{"e":"trade","U":1,"u":2,"b":[],"a":[]}`); // not a depth update
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[["1.234","1"]],"a":[]}`); // more decimals than the scale
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[["1.2","-1"]],"a":[]}`);
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[["1.2","1e3"]],"a":[]}`);
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[["1.2","1"]]}`); // no asks
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[["1.2","1"],"a":[]}`); // broken
  refuse(`{"e":"depth\\u0055pdate","U":1,"u":2,"b":[],"a":[]}`); // an escape
  const ok = enc.encode(
    ` { "e" : "depthUpdate", "E":1, "x":{"y":[1,{"z":"]"}]}, "U":10 ,"u":12,"pu":9,` +
      `"b":[ ["27012.50","0.500"], ["27013","2"] ],"a":[]} `,
  );
  assert.ok(decoder.decode(ok, 0, ok.length));
  assert.deepEqual([...decoder.ids], [10, 12, 9, -1]);
  assert.equal(decoder.bidCount, 2);
  assert.deepEqual([...decoder.bids.subarray(0, 4)], [2701250, 500, 2701300, 2000]);
  // The simulator's send stamp (ns, up to 16 digits) lands in ids[3], exactly.
  const stamped = enc.encode(`{"e":"depthUpdate","U":1,"u":2,"b":[],"a":[],"ts":9007199254740991}`);
  assert.ok(decoder.decode(stamped, 0, stamped.length));
  assert.deepEqual([...decoder.ids], [1, 2, -1, 9007199254740991]);
  refuse(`{"e":"depthUpdate","U":1,"u":2,"b":[],"a":[],"ts":9007199254740993}`); // not exact
});
