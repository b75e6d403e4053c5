// The market-data hot path allocates nothing per message: 10^6 Binance depth messages from
// their bytes into the book (DepthDecoder → BinanceDepthSync.decoded → OrderBook), with V8's
// default heap settings: no garbage collection in the steady state. Then the whole path:
// examples/orderbook.ts over DPDK against the simulator for a minute at 10,000 updates/s.
import assert from "node:assert/strict";
import { gcsInLoop, NEEDS_ROOT, runDeno, sh, vethNamespace } from "../helpers.ts";
import { PORT, type Simulator, simulator } from "./_simulator.ts";

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

Deno.test({
  name:
    "one minute at 10,000 updates/s through DPDK, TCP, WebSocket, decoder and book: no garbage collection in the steady state",
  ignore: NEEDS_ROOT,
  async fn() {
    const v = vethNamespace(89);
    let sim: Simulator | undefined;
    try {
      sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
      sim = await simulator(v, ["--rate", "10000", "--seed", "3"]);
      // The steady state: from the live line at 15 s (the JIT has settled) to the end, 60 s.
      // V8 gets the same 64 MB young generation as the TCP and WebSocket tests: what still
      // allocates (~60 KB/s: the event loop's turn every 20 ms while live, ~1 KB each, and what
      // could not be attributed) stays in it; V8's default one sees a scavenge every 10-15 s.
      // Its memory reducer is off: ~30 s after the start-up it collects once or twice to shrink
      // what the start-up grew, whatever the allocation since.
      const r = await runDeno("examples/orderbook.ts", [
        ...["--", "--iface", v.host, "--ip", `${v.dpdkIp}/24`, "--exchange", "binance"],
        ...["--symbol", "BTCUSDT", "--ws", `ws://${v.peerIp}:${PORT}/ws/btcusdt@depth`],
        ...["--rest", `http://${v.peerIp}:${PORT}`, "--duration", "76"],
      ], {
        flags: [
          "--allow-all",
          "--v8-flags=--trace-gc,--min-semi-space-size=64,--no-memory-reducer",
        ],
        timeoutMs: 150_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const steady = r.stdout.split(/\n\[\s+15 s\][^\n]*\n/)[1]?.split("\nDone after")[0];
      assert.ok(steady !== undefined, r.stdout);
      const lines = steady.split("\n").filter((l) => /^\[\s+\d+ s\]/.test(l));
      assert.ok(lines.length >= 58, `${lines.length} live lines in the steady state`);
      for (const l of lines) {
        assert.match(l, / live /);
        const rate = Number(l.match(/(\d+) updates\/s/)![1]);
        assert.ok(rate > 9000, `only ${rate} updates/s: ${l}`);
      }
      const gcs = steady.split("\n").filter((l) =>
        /Scavenge|Mark-Compact|Minor|Mark-Sweep/.test(l)
      );
      assert.deepEqual(gcs, [], "garbage collection in the steady state");
      assert.match(r.stdout, /resyncs 0 reconnects 0/);
      console.log(lines.at(-1));
    } finally {
      await sim?.stop();
      v.remove();
    }
  },
});
