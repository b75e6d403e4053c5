/**
 * Order book costs on one recorded stream of Binance depth updates (generated from a seed: a
 * random walk around the touch, 1-10 levels per message, a third of them deletions):
 *
 * - the book alone: ns per level update and per message for `market/`'s `OrderBook`, a naive
 *   book of sorted arrays, and `ccxt`'s `OrderBook` (its Pro `orderBook()`, from npm), each fed
 *   the same levels in the form it takes (our integers; ccxt's floats);
 * - the decoding: ns per message from the JSON bytes to an updated book, through our
 *   zero-allocation `DepthDecoder` vs `JSON.parse` and the `DepthEvent` path.
 *
 *   deno run --allow-all bench/book.ts [-- --messages N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as ccxt from "npm:ccxt@4.5.84";
import { BinanceDepthSync, DepthDecoder, fromUnits, OrderBook, Side } from "../market/mod.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: { messages: { type: "string", default: "200000" } },
});
const MESSAGES = Number(values.messages);
const PS = 2, QS = 8;

// The recorded stream: per message, levels as [side, price units, qty units].
let seed = 4242;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
const stream: number[][] = [];
const texts: Uint8Array[] = [];
let mid = 3_000_000, levelCount = 0;
for (let m = 0, id = 1; m < MESSAGES; m++) {
  mid += Math.round((rand() - 0.5) * 6);
  const levels: number[] = [];
  const b: [string, string][] = [], a: [string, string][] = [];
  for (let n = 1 + Math.floor(rand() * 10); n > 0; n--) {
    const side = rand() < 0.5 ? Side.BID : Side.ASK;
    const off = Math.floor(rand() ** 2 * 300);
    const price = side === Side.BID ? mid - 1 - off : mid + 1 + off;
    const qty = rand() < 0.33 ? 0 : 1 + Math.floor(rand() * 1e9);
    levels.push(side, price, qty);
    (side === Side.BID ? b : a).push([fromUnits(price, PS), fromUnits(qty, QS)]);
  }
  levelCount += levels.length / 3;
  stream.push(levels);
  const u = id + 1;
  texts.push(new TextEncoder().encode(JSON.stringify({
    e: "depthUpdate",
    E: 1700000000000 + m,
    s: "BTCUSDT",
    U: id + 1,
    u,
    b,
    a,
  })));
  id = u;
}

/** Best of 5 timed passes of `run`, in ns per message. */
function time(run: () => void): number {
  run(); // warm up
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, (performance.now() - t0) * 1e6 / MESSAGES);
  }
  return best;
}

// The book alone.
const ours = () => {
  const book = new OrderBook();
  for (const l of stream) for (let i = 0; i < l.length; i += 3) book.set(l[i], l[i + 1], l[i + 2]);
};

class SortedSide { // a naive book: prices kept sorted, binary search, splice
  prices: number[] = [];
  qty: number[] = [];
  constructor(readonly desc: boolean) {}
  set(price: number, q: number): void {
    const p = this.prices;
    let lo = 0, hi = p.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.desc ? p[m] > price : p[m] < price) lo = m + 1;
      else hi = m;
    }
    if (lo < p.length && p[lo] === price) {
      if (q === 0) {
        p.splice(lo, 1);
        this.qty.splice(lo, 1);
      } else this.qty[lo] = q;
    } else if (q !== 0) {
      p.splice(lo, 0, price);
      this.qty.splice(lo, 0, q);
    }
  }
}
const naive = () => {
  const sides = [new SortedSide(true), new SortedSide(false)];
  for (const l of stream) for (let i = 0; i < l.length; i += 3) sides[l[i]].set(l[i + 1], l[i + 2]);
};

const floats = stream.map((l) =>
  l.map((v, i) => i % 3 === 1 ? v / 10 ** PS : i % 3 === 2 ? v / 10 ** QS : v)
);
// deno-lint-ignore no-explicit-any
const exchange = new (ccxt as any).pro.binance();
const ccxtBook = () => {
  const book = exchange.orderBook({ bids: [], asks: [] });
  for (const l of floats) {
    for (let i = 0; i < l.length; i += 3) {
      (l[i] === Side.BID ? book.bids : book.asks).store(l[i + 1], l[i + 2]);
    }
  }
};

// Decoding: bytes to book.
const decoding = (fast: boolean) => () => {
  const book = new OrderBook();
  const sync = new BinanceDepthSync(book, { priceScale: PS, quantityScale: QS });
  sync.snapshot({ lastUpdateId: 1, bids: [], asks: [] });
  const decoder = new DepthDecoder({ priceScale: PS, quantityScale: QS });
  const dec = new TextDecoder();
  for (const t of texts) {
    if (fast && decoder.decode(t, 0, t.length)) sync.decoded(decoder);
    else sync.event(JSON.parse(dec.decode(t)));
  }
  if (sync.counters.applied !== MESSAGES) throw new Error(`applied ${sync.counters.applied}`);
};

const perLevel = MESSAGES / levelCount;
const rows: [string, number][] = [
  ["market/ OrderBook", time(ours)],
  ["sorted arrays (naive)", time(naive)],
  ["ccxt OrderBook (npm ccxt 4.5.84)", time(ccxtBook)],
];
const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
console.log(
  `order book benchmark — ${cpu}, ${navigator.hardwareConcurrency} CPUs; Deno ${Deno.version.deno}`,
);
console.log(
  `${MESSAGES} depth messages, ${levelCount} level updates (${
    (levelCount / MESSAGES).toFixed(1)
  } per message), ` +
    "best of 5 passes",
);
console.log("book".padEnd(36) + "ns/message".padStart(12) + "ns/level".padStart(10));
for (const [name, ns] of rows) {
  console.log(
    name.padEnd(36) + ns.toFixed(0).padStart(12) + (ns * perLevel).toFixed(1).padStart(10),
  );
}
const fast = time(decoding(true)), slow = time(decoding(false));
console.log("bytes → book".padEnd(36) + "ns/message".padStart(12));
console.log("DepthDecoder + decoded()".padEnd(36) + fast.toFixed(0).padStart(12));
console.log("JSON.parse + event()".padEnd(36) + slow.toFixed(0).padStart(12));
console.log(
  `ccxt/ours: ${(rows[2][1] / rows[0][1]).toFixed(1)}x (target ≥ 5x); naive/ours: ${
    (rows[1][1] / rows[0][1]).toFixed(1)
  }x; JSON.parse path / decoder: ${(slow / fast).toFixed(1)}x`,
);
