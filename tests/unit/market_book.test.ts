// The order book against a naive reference (a sorted array of levels per side) over 10^6
// random updates: prices random-walking around a moving mid, with jumps far away and back (so
// the ladder recenters and far levels come and go), deletions, snapshots. And exact decimals.
import assert from "node:assert/strict";
import { OrderBook, Side } from "../../market/book.ts";
import { decimalsOf, fromUnits, toUnits } from "../../market/decimal.ts";
import { seededRandom } from "../helpers.ts";

/** Levels kept sorted by price, best first. */
class NaiveSide {
  prices: number[] = [];
  qty = new Map<number, number>();
  constructor(readonly bid: boolean) {}
  set(price: number, q: number): void {
    const has = this.qty.has(price);
    if (q === 0) {
      if (!has) return;
      this.qty.delete(price);
      this.prices.splice(this.prices.indexOf(price), 1);
      return;
    }
    if (!has) {
      let i = 0;
      while (
        i < this.prices.length && (this.bid ? this.prices[i] > price : this.prices[i] < price)
      ) i++;
      this.prices.splice(i, 0, price);
    }
    this.qty.set(price, q);
  }
}

const rand = seededRandom(12345);

Deno.test("OrderBook equals a naive book over 10^6 random updates (best, depth, levels, quantityTo)", () => {
  const book = new OrderBook({ windowTicks: 256 }); // small: recentering and far levels happen often
  const naive = [new NaiveSide(true), new NaiveSide(false)];
  let mid = 1_000_000;
  const check = (full: boolean) => {
    for (const side of [Side.BID, Side.ASK]) {
      const n = naive[side];
      const best = n.prices.length ? n.prices[0] : NaN;
      const got = side === Side.BID ? book.bestBid : book.bestAsk;
      assert.ok(Object.is(got, best) || got === best, `best ${side}: ${got} vs ${best}`);
      if (!full) continue;
      assert.equal(book.levels(side), n.prices.length);
      const want = n.prices.slice(0, 25).map((p) => [p, n.qty.get(p)!]);
      assert.deepEqual(book.depth(side, 25), want);
      if (n.prices.length > 3) {
        const to = n.prices[Math.floor(rand() * n.prices.length)];
        let total = 0;
        for (const p of n.prices) {
          if (side === Side.BID ? p < to : p > to) break;
          total += n.qty.get(p)!;
        }
        assert.equal(book.quantityTo(side, to), total);
      }
    }
  };
  for (let op = 0; op < 1_000_000; op++) {
    const r = rand();
    if (r < 0.0005) { // a snapshot: the book starts over
      book.clear();
      naive[0] = new NaiveSide(true);
      naive[1] = new NaiveSide(false);
    }
    mid += Math.round((rand() - 0.5) * 4);
    const side = rand() < 0.5 ? Side.BID : Side.ASK;
    let offset = Math.floor(rand() ** 3 * 200); // mostly near the touch
    if (rand() < 0.01) offset += 300 + Math.floor(rand() * 5000); // far away
    const price = side === Side.BID ? mid - 1 - offset : mid + 1 + offset;
    const qty = rand() < 0.35 ? 0 : 1 + Math.floor(rand() * 1000);
    book.set(side, price, qty);
    naive[side].set(price, qty);
    check(op % 997 === 0);
  }
  check(true);
});

Deno.test("OrderBook: spread, mid, quantities, iteration that stops", () => {
  const book = new OrderBook();
  assert.ok(Number.isNaN(book.bestBid) && Number.isNaN(book.spread));
  book.set(Side.BID, 100, 5);
  book.set(Side.BID, 98, 7);
  book.set(Side.ASK, 103, 2);
  book.set(Side.ASK, 110, 9);
  assert.equal(book.spread, 3);
  assert.equal(book.mid, 101.5);
  assert.equal(book.bestBidQuantity, 5);
  assert.equal(book.bestAskQuantity, 2);
  assert.equal(book.quantityAt(Side.ASK, 110), 9);
  assert.equal(book.quantityTo(Side.ASK, 110), 11);
  const seen: number[] = [];
  book.forEachLevel(Side.BID, 10, (p) => {
    seen.push(p);
    return false;
  });
  assert.deepEqual(seen, [100]);
  assert.throws(() => book.set(Side.BID, 1, -1), RangeError);
});

Deno.test("decimals: exact to units and back, refusals", () => {
  assert.equal(toUnits("27012.50", 2), 2701250);
  assert.equal(toUnits("0.00100000", 8), 100000);
  assert.equal(toUnits("0.1", 1) + toUnits("0.2", 1), toUnits("0.3", 1));
  assert.equal(toUnits("5", 3), 5000);
  assert.equal(toUnits(".5", 1), 5);
  assert.equal(toUnits("-1.25", 2), -125);
  assert.equal(toUnits("1.2300", 2), 123, "trailing zeros beyond the scale are fine");
  assert.throws(() => toUnits("1.234", 2), /more than 2 decimals/);
  assert.throws(() => toUnits("1e5", 2), /not a decimal/);
  assert.throws(() => toUnits("", 2), /not a decimal/);
  assert.throws(() => toUnits("99999999999999999", 2), /too large/);
  assert.equal(fromUnits(2701250, 2), "27012.50");
  assert.equal(fromUnits(5, 3), "0.005");
  assert.equal(fromUnits(-125, 2), "-1.25");
  assert.equal(fromUnits(7, 0), "7");
  assert.equal(decimalsOf("0.00100"), 5);
  assert.equal(decimalsOf("10"), 0);
});
