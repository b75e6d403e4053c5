/**
 * Multi-queue forwarding with one JavaScript worker lcore per queue: worker i
 * forwards rx queue i of port 0 to tx queue i of port 1, and back. RSS (when
 * the device has it) spreads flows over the queues.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/mqfwd.ts [EAL args] -- --workers 2 [--duration S]
 *
 * With no EAL arguments: two `net_null` ports, and one lcore per worker
 * spread over the machine's CPUs (`--lcores=0@0,1@1,2@0` for two workers on two CPUs).
 * Live packets/s per worker every second; Ctrl-C, SIGTERM or --duration stops every
 * worker, then ports are stopped and closed and per-worker totals printed
 * (exit 0). Too few lcores for `--workers`, or a bad option, exits 2 with one line.
 *
 * @module
 */
import {
  Eal,
  inWorker,
  LcoreWorker,
  Mempool,
  PacketBatch,
  Port,
  Rss,
  runOnLcore,
  splitArgs,
  StopSignal,
} from "../mod.ts";
import { Cli, integer, seconds } from "./_cli.ts";

const RX_RING_SIZE = 1024;
const TX_RING_SIZE = 1024;
const NUM_MBUFS = 8191;
const MAX_WORKERS = 16;
const MAX_BURST = 1024; // the most packets one rx burst returns
const DEFAULT_EAL = [
  "--no-huge",
  "-m",
  "512",
  "--no-pci",
  "--no-shconf",
  "--log-level=notice",
  "--vdev=net_null0",
  "--vdev=net_null1",
];

/** What each worker is told: the queue it owns on each port. */
interface Job {
  queue: number;
  ports: [number, number];
  burst: number;
  /** Test hook: throw after this many bursts (0: never). */
  failAfter: number;
}

/** Counter slots each worker writes. */
const RX = 0, TX = 1;

if (inWorker()) {
  runOnLcore<Job, { lcore: number; cpu: number; rx: number; tx: number }>((ctx) => {
    const { queue, ports, burst, failAfter } = ctx.data;
    const [a, b] = ports.map((id) => ctx.port(id));
    const batch = new PacketBatch(ctx.pools[0], burst);
    const counters = ctx.counters;
    for (let it = 1; !ctx.stopRequested; it++) {
      let n = a.receive(queue, batch);
      if (n > 0) {
        counters[RX] += n;
        counters[TX] += b.send(queue, batch);
      }
      n = b.receive(queue, batch);
      if (n > 0) {
        counters[RX] += n;
        counters[TX] += a.send(queue, batch);
      }
      if (it === failAfter) throw new Error(`worker on queue ${queue} failed on purpose`);
    }
    batch.close();
    return { lcore: ctx.lcore, cpu: ctx.cpu, rx: counters[RX], tx: counters[TX] };
  });
} else {
  // The application's own options, all checked before the EAL starts.
  const cli = new Cli(
    "mqfwd",
    "usage: mqfwd.ts [EAL args] -- [--workers N] [--duration S] [--burst N]\n" +
      `  --workers N   worker lcores, one rx/tx queue pair each, 1..${MAX_WORKERS} (default 2)\n` +
      "  --duration S  stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
      `  --burst N     packets per burst, 1..${MAX_BURST} (default 32)\n` +
      "default EAL args: --lcores=0@0,1@1,... (one lcore per worker, and the main one) " +
      `${DEFAULT_EAL.join(" ")}`,
  );
  const { eal, app } = splitArgs(Deno.args);
  const opts = cli.parse(app, {
    workers: integer(1, MAX_WORKERS, { default: 2 }),
    duration: seconds({ note: "0: until Ctrl-C" }),
    burst: integer(1, MAX_BURST, { default: 32 }),
    "fail-after": integer(0, Infinity, { default: 0 }), // test hook
  });
  const workers = opts.workers;
  const cpus = navigator.hardwareConcurrency;
  const lcores = [
    "0@0",
    ...Array.from({ length: workers }, (_, i) => `${i + 1}@${(i + 1) % cpus}`),
  ];
  cli.initEal(eal.length > 0 ? eal : [`--lcores=${lcores.join(",")}`, ...DEFAULT_EAL]);
  // One worker lcore per queue, two ports with that many queues.
  const have = LcoreWorker.workerLcores().length + 1;
  if (have < workers + 1) {
    cli.fail(
      `needs ${workers + 1} lcores for --workers ${workers} (have ${have}): ` +
        `pass -l 0-${workers} (or --lcores=${lcores.join(",")} to share CPUs) or --workers ${
          have - 1 || 1
        }`,
    );
  }
  const found = Port.list();
  if (found.length < 2) {
    cli.fail(
      `needs two ports (found ${found.length}): ` +
        "add --vdev=net_null0 --vdev=net_null1, or --allow two NICs",
    );
  }
  for (const id of [0, 1]) {
    const caps = Port.capabilities(id);
    const most = Math.min(caps.maxRxQueues, caps.maxTxQueues);
    if (most < workers) {
      cli.fail(`--workers ${workers}: port ${id} has at most ${most} rx/tx queues`);
    }
  }

  const pool = Mempool.create({ name: "mqfwd", size: NUM_MBUFS * 2 * workers });
  const ports = [0, 1].map((id) => {
    const rss = Port.capabilities(id).rssOffloads & Rss.IP_TCP_UDP;
    return Port.open(id, {
      pool,
      rxQueues: workers,
      txQueues: workers,
      rxDescriptors: RX_RING_SIZE,
      txDescriptors: TX_RING_SIZE,
      rss: workers > 1 ? rss : undefined,
    });
  });
  const inUseAtStart = pool.inUse;
  const stop = StopSignal.trap();

  const running = await Promise.all(
    Array.from(
      { length: workers },
      (_, queue) =>
        LcoreWorker.launch<{ lcore: number; cpu: number; rx: number; tx: number }>(
          import.meta.url,
          {
            data: {
              queue,
              ports: [0, 1],
              burst: opts.burst,
              failAfter: queue === 0 ? opts["fail-after"] : 0,
            } satisfies Job,
            pools: [pool],
          },
        ),
    ),
  );
  for (const w of running) {
    console.log(`worker on lcore ${w.lcore} (cpu ${w.cpu}) forwards queue ${running.indexOf(w)}`);
  }

  // Live stats from the shared counters; stop on Ctrl-C, --duration, or a worker's failure.
  let failure: unknown;
  for (const w of running) w.done.catch((e) => failure ??= e);
  const finished = Promise.allSettled(running.map((w) => w.done));
  const start = performance.now();
  const duration = opts.duration * 1000;
  let last = running.map((w) => w.counters[RX]);
  let lastTime = start;
  while (
    !stop.requested && failure === undefined &&
    (duration === 0 || performance.now() - start < duration)
  ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = performance.now();
    if (now - lastTime >= 1000) {
      const rates = running.map((w, i) => (w.counters[RX] - last[i]) / (now - lastTime) / 1000);
      console.log(
        `[${((now - start) / 1000).toFixed(0).padStart(4)} s] ` +
          rates.map((r, i) => `queue ${i}: ${r.toFixed(2)} Mpps`).join(" | ") +
          ` | total ${rates.reduce((a, r) => a + r, 0).toFixed(2)} Mpps`,
      );
      last = running.map((w) => w.counters[RX]);
      lastTime = now;
    }
  }
  // Stop every worker and wait for all of them, failed or not, before closing ports.
  for (const w of running) w.stop();
  await finished;
  const elapsed = (performance.now() - start) / 1000;
  console.log(
    `\n${
      failure ? "Stopped by a worker's error" : stop.signal ? `${stop.signal} received` : "Done"
    } after ${elapsed.toFixed(1)} s.`,
  );
  let total = 0;
  running.forEach((w, i) => {
    total += w.counters[RX];
    console.log(
      `  queue ${i} (lcore ${w.lcore}): received ${w.counters[RX]} sent ${w.counters[TX]}`,
    );
  });
  console.log(`  total: ${total} packets, ${(total / elapsed / 1e6).toFixed(2)} Mpps`);
  for (const p of ports) p.close();
  console.log(`  mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
  Eal.cleanup();
  if (failure) {
    console.error(failure instanceof Error ? failure.stack ?? failure.message : failure);
    Deno.exit(1);
  }
}
