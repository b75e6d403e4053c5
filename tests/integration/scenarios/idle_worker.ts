// A worker lcore that only waits to be stopped (for misuse.ts).
import { runOnLcore } from "../../../mod.ts";

runOnLcore(async (ctx) => {
  while (!ctx.stopRequested) await new Promise((r) => setTimeout(r, 5));
});
