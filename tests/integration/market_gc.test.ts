// The market-data hot path allocates nothing per message: 10^6 Binance depth messages from
// their bytes into the book (DepthDecoder → BinanceDepthSync.decoded → OrderBook), with V8's
// default heap settings: no garbage collection in the steady state.
import assert from "node:assert/strict";
import { gcsInLoop, runDeno } from "../helpers.ts";

Deno.test("10^6 depth messages decoded into the book: no garbage collection, default heap", async () => {
  const r = await runDeno("tests/integration/scenarios/book_gc.ts", ["1000000"], {
    flags: ["--allow-all", "--v8-flags=--expose-gc,--trace-gc"],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    gcsInLoop(r.stdout),
    [],
    "the decode-and-apply path triggered garbage collection",
  );
  assert.equal(r.result.state, "live");
  assert.equal(r.result.counters.gaps, 0);
  const grew = r.result.heapAfterNoGc - r.result.heapBefore;
  // One heap number per message would be 16 MB; a snapshot every 20,000 messages makes a little.
  assert.ok(grew < 2e6, `heap grew by ${grew} bytes over 10^6 messages`);
  console.log(
    `10^6 messages in ${r.result.seconds.toFixed(2)} s (${
      (r.result.seconds * 1000).toFixed(0)
    } ns each), heap +${(grew / 1e6).toFixed(2)} MB`,
  );
});
