// Worker lcore for rss_queues.ts: polls its rx queues, counts UDP packets to
// ports 6000-6063 per queue in the shared counters, frees everything.
import { PacketBatch, runOnLcore } from "../../../mod.ts";
import { PacketParser } from "../../../net/mod.ts";

runOnLcore<{ port: number; queues: number[] }, { lcore: number; cpu: number }>((ctx) => {
  const port = ctx.port(ctx.data.port);
  const batch = new PacketBatch(ctx.pools[0], 32);
  const parser = new PacketParser();
  while (!ctx.stopRequested) {
    for (const q of ctx.data.queues) {
      const n = port.receive(q, batch);
      for (let i = 0; i < n; i++) {
        parser.parse(batch.view, batch.offset(i), batch.length(i));
        if (parser.ipProtocol === 17 && parser.dstPort >= 6000 && parser.dstPort < 6064) {
          ctx.counters[q]++;
        }
      }
      batch.clear();
    }
  }
  batch.close();
  return { lcore: ctx.lcore, cpu: ctx.cpu };
});
