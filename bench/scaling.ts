/**
 * Scaling over worker lcores: one JavaScript worker forwarding between two
 * net_null ports, then two workers each on their own pair of ports, at the
 * same time. Prints the aggregate rates and the ratio (2 workers / 1 worker),
 * median of alternating rounds.
 *
 *   deno run -A bench/scaling.ts [EAL args] -- [--seconds 2] [--rounds 3] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  Eal,
  inWorker,
  LcoreWorker,
  Mempool,
  PacketBatch,
  Port,
  runOnLcore,
  splitArgs,
} from "../mod.ts";
import { memoryArgs } from "./memory.ts";

interface Job {
  rx: number;
  tx: number;
}

if (inWorker()) {
  runOnLcore<Job, number>((ctx) => {
    const rx = ctx.port(ctx.data.rx), tx = ctx.port(ctx.data.tx);
    const batch = new PacketBatch(ctx.pools[0], 32);
    const counters = ctx.counters;
    let total = 0;
    while (!ctx.stopRequested) {
      // Poll the stop flag once per 64 bursts: it is a shared-memory read.
      for (let i = 0; i < 64; i++) {
        const n = rx.receive(0, batch);
        if (n > 0) total += tx.send(0, batch);
      }
      counters[0] = total;
    }
    batch.close();
    return total;
  });
} else {
  const { eal, app } = splitArgs(Deno.args);
  const { values: opts } = parseArgs({
    args: app,
    options: {
      seconds: { type: "string", default: "2" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean" },
    },
  });
  const cpus = navigator.hardwareConcurrency;
  const defaults = [
    // Main lcore and the two workers: the main thread only sleeps while they run.
    `--lcores=0@0,1@${1 % cpus},2@0`,
    ...memoryArgs(512),
    "--no-pci",
    "--no-shconf",
    "--log-level=warning",
    ...[0, 1, 2, 3].map((i) => `--vdev=net_null${i}`),
  ];
  Eal.init(eal.length > 0 ? eal : defaults);
  const pool = Mempool.create({ name: "scaling", size: 16383, cacheSize: 256 });
  const ports = [0, 1, 2, 3].map((id) => Port.open(id, { pool }));
  const inUseAtStart = pool.inUse;
  const seconds = Number(opts.seconds);
  const jobs: Job[] = [{ rx: 0, tx: 1 }, { rx: 2, tx: 3 }];

  const round = async (workers: number): Promise<number> => {
    const running = await Promise.all(
      jobs.slice(0, workers).map((data) =>
        LcoreWorker.launch<number>(import.meta.url, { data, pools: [pool] })
      ),
    );
    await new Promise((r) => setTimeout(r, 300)); // warm-up
    const before = running.map((w) => w.counters[0]);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const packets = running.reduce((a, w, i) => a + w.counters[0] - before[i], 0);
    const elapsed = (performance.now() - t0) / 1000;
    for (const w of running) w.stop();
    await Promise.all(running.map((w) => w.done));
    return packets / elapsed / 1e6;
  };

  const one: number[] = [], two: number[] = [];
  for (let r = 0; r < Number(opts.rounds); r++) {
    if (r % 2 === 0) {
      one.push(await round(1));
      two.push(await round(2));
    } else {
      two.push(await round(2));
      one.push(await round(1));
    }
    console.error(
      `scaling: round ${r + 1}: 1 worker ${one[r].toFixed(2)} Mpps, 2 workers ${
        two[r].toFixed(2)
      } Mpps`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratios = one.map((o, i) => two[i] / o);
  for (const p of ports) p.close();
  const leaked = pool.inUse - inUseAtStart;
  Eal.cleanup();
  const result = {
    one_worker_mpps: median(one),
    two_workers_mpps: median(two),
    ratio: median(ratios),
    ratio_min: Math.min(...ratios),
    ratio_max: Math.max(...ratios),
    leaked_mbufs: leaked,
  };
  if (opts.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `\nscaling (io, burst 32, net_null, ${seconds} s x ${opts.rounds} rounds, ` +
        `${(eal.length > 0 ? eal : defaults).includes("--no-huge") ? "no " : ""}hugepages): ` +
        `1 worker ${result.one_worker_mpps.toFixed(2)} Mpps, 2 workers ${
          result.two_workers_mpps.toFixed(2)
        } Mpps, ` +
        `ratio ${result.ratio.toFixed(2)} (${result.ratio_min.toFixed(2)}–${
          result.ratio_max.toFixed(2)
        }); ` +
        `mbufs leaked: ${leaked}`,
    );
  }
}
