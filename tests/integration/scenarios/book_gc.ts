// 10^6 Binance depth messages from their bytes into the book through the zero-allocation
// decoder and BinanceDepthSync.decoded(): reports the GCs and the heap over the measured part.
// A cycle of 20,000 pre-encoded messages is replayed, a snapshot restarting the id chain at
// each turn. Run with --v8-flags=--expose-gc,--trace-gc. Arg: messages.
import { library } from "../../../ffi/library.ts";
import { BinanceDepthSync, DepthDecoder, fromUnits, OrderBook } from "../../../market/mod.ts";
import { report, seededRandom } from "../../helpers.ts";

const MESSAGES = Number(Deno.args[0] ?? 1e6), CYCLE = 20_000, PS = 2, QS = 8;
library().symbols.dd_stdout_unbuffered();
const rand = seededRandom(99);
const FIRST = 5_000_000_000; // ids above 2^32, as Binance's are
const texts: Uint8Array[] = [];
let mid = 3_000_000;
for (let i = 0; i < CYCLE; i++) {
  mid += Math.round((rand() - 0.5) * 6);
  const level = (bid: boolean): [string, string] => [
    fromUnits(bid ? mid - 1 - Math.floor(rand() * 200) : mid + 1 + Math.floor(rand() * 200), PS),
    fromUnits(rand() < 0.3 ? 0 : Math.floor(rand() * 1e9), QS),
  ];
  const n = 1 + Math.floor(rand() * 5);
  texts.push(new TextEncoder().encode(JSON.stringify({
    stream: "btcusdt@depth@100ms",
    data: {
      e: "depthUpdate",
      E: 1700000000000 + i,
      s: "BTCUSDT",
      U: FIRST + i + 1,
      u: FIRST + i + 1,
      b: Array.from({ length: n }, () => level(true)),
      a: Array.from({ length: n }, () => level(false)),
    },
  })));
}
const book = new OrderBook();
const sync = new BinanceDepthSync(book, { priceScale: PS, quantityScale: QS });
const decoder = new DepthDecoder({ priceScale: PS, quantityScale: QS });
const snapshot = { lastUpdateId: FIRST, bids: [], asks: [] };
let done = 0;
function run(count: number): void {
  for (let i = 0; i < count; i++) {
    const k = done++ % CYCLE;
    if (k === 0) sync.snapshot(snapshot); // the chain starts over: once per 20,000 messages
    const t = texts[k];
    if (!decoder.decode(t, 0, t.length)) throw new Error("not decoded");
    sync.decoded(decoder);
  }
}
// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;
run(200_000);
gc();
const heapBefore = Deno.memoryUsage().heapUsed;
const t0 = performance.now();
console.log("LOOP START");
run(MESSAGES);
console.log("LOOP END");
const seconds = (performance.now() - t0) / 1000;
report({
  messages: MESSAGES,
  seconds,
  heapBefore,
  heapAfterNoGc: Deno.memoryUsage().heapUsed,
  counters: sync.counters,
  state: sync.state,
});
