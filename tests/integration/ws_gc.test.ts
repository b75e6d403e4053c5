// The WebSocket client's message path allocates nothing per message: 10^6 small messages over
// ws:// between two stacks with no garbage collection in the steady state.
import assert from "node:assert/strict";
import { gcsInLoop, runDeno } from "../helpers.ts";

Deno.test("10^6 WebSocket messages received over ws://: no garbage collection in the steady state", async () => {
  // V8 gets the same 64 MB young generation as the TCP test: TCP's ACK path still boxes a few
  // bytes per segment (see stack_tcp_kernel.test.ts); a message is ~1/22 of a segment here.
  const r = await runDeno("tests/integration/scenarios/ws_gc.ts", ["1000000"], {
    flags: ["--allow-all", "--v8-flags=--expose-gc,--trace-gc,--min-semi-space-size=64"],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(gcsInLoop(r.stdout), [], "the message path triggered garbage collection");
  assert.ok(r.result.messages >= 1e6);
  const grew = r.result.heapAfterNoGc - r.result.heapBefore;
  // One heap number per message would be 16 MB.
  assert.ok(grew < 8e6, `heap grew by ${grew} bytes over 10^6 messages`);
  console.log(
    `10^6 messages in ${r.result.seconds.toFixed(2)} s, heap +${(grew / 1e6).toFixed(1)} MB ` +
      `(${(grew / r.result.messages).toFixed(1)} bytes per message)`,
  );
});
