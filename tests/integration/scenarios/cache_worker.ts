// Worker lcore for worker_safety.ts: allocates and frees through its lcore's mempool cache
// until stopped. With data.ignoreStop it never stops by itself: with data.yields it awaits a
// timer every round (terminate() can end it), without it spins on FFI calls (it cannot).
import { PacketBatch, runOnLcore } from "../../../mod.ts";

runOnLcore<{ ignoreStop: boolean; yields: boolean }, number>(async (ctx) => {
  const batch = new PacketBatch(ctx.pools[0], 32);
  let rounds = 0;
  while (ctx.data.ignoreStop || !ctx.stopRequested) {
    batch.alloc(32, 60);
    batch.clear(); // back into this lcore's cache
    ctx.counters[0] = ++rounds;
    if (ctx.data.yields) await new Promise((r) => setTimeout(r, 1));
  }
  return rounds;
});
