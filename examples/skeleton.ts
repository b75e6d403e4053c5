/**
 * A step-by-step port of DPDK's examples/skeleton/basicfwd.c: forwards every
 * packet received on port 0 to port 1 and back, 2 to 3 and back, and so on.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/skeleton.ts [EAL args] -- \
 *     [--duration S] [--burst N] [--stats-interval S]
 *
 * With no EAL arguments it runs on two `net_null` virtual ports (no NIC, no
 * hugepages), which produce and swallow packets endlessly. On a real machine,
 * pass DPDK's arguments unchanged, e.g. `-l 0-1 --allow 0000:00:06.0 --allow 0000:00:07.0`.
 * Live packets/s per port every second; a summary at the end, or on Ctrl-C
 * or SIGTERM (exit 0). A mistake on the command line exits 2 with one line.
 *
 * @module
 */
import { Eal, Lcore, Mempool, PacketBatch, Port, splitArgs, StopSignal } from "../mod.ts";
import { Cli, integer, seconds, waitForLinks } from "./_cli.ts";

const NUM_MBUFS = 8191;
const MBUF_CACHE_SIZE = 250;
const RX_RING_SIZE = 1024;
const TX_RING_SIZE = 1024;
const MAX_BURST = 1024; // the most packets one rx burst returns
const DEFAULT_EAL = [
  "-l",
  "0",
  "--no-huge",
  "-m",
  "512",
  "--no-pci",
  "--no-shconf", // leave no runtime files in /var/run/dpdk
  "--vdev=net_null0",
  "--vdev=net_null1",
  "--log-level=notice",
];

// The application's own options, all checked before the EAL starts.
const cli = new Cli(
  "skeleton",
  "usage: skeleton.ts [EAL args] -- [--duration S] [--burst N] [--stats-interval S]\n" +
    "  --duration S        stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    `  --burst N           packets per burst, 1..${MAX_BURST} (default 32)\n` +
    "  --stats-interval S  seconds between live rates (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  duration: seconds({ note: "0: until Ctrl-C" }),
  burst: integer(1, MAX_BURST, { default: 32 }),
  "stats-interval": seconds({ default: 1, note: "0: none" }),
});
const { duration, burst: burstSize, "stats-interval": interval } = opts;

// Initialise the Environment Abstraction Layer (EAL).
cli.initEal(eal.length > 0 ? eal : DEFAULT_EAL);

// Check that there is an even number of ports to send/receive on.
const ports = Port.list();
if (ports.length < 2 || ports.length % 2 !== 0) {
  cli.fail(
    `the number of ports must be even and at least 2, found ${ports.length}: ` +
      "give two --vdev (e.g. --vdev=net_null0 --vdev=net_null1) or --allow two NICs",
  );
}

// Create a new mempool in memory to hold the mbufs.
const pool = Mempool.create({
  name: "MBUF_POOL",
  size: NUM_MBUFS * ports.length,
  cacheSize: MBUF_CACHE_SIZE,
});

// Initialise all ports: configure, set up one rx and one tx queue, start,
// promiscuous mode. Port.open checks every setting against the device first.
const opened = ports.map((info) => {
  const port = Port.open(info.id, {
    pool,
    rxDescriptors: RX_RING_SIZE,
    txDescriptors: TX_RING_SIZE,
  });
  console.log(`Port ${port.id} (${port.driver} ${port.name}) MAC: ${port.mac}`);
  return port;
});

// Wait for the links: what is sent before a link is up is lost.
await waitForLinks("skeleton", opened);

// One batch per port, reused for every burst: nothing is allocated in the loop.
const batches = opened.map(() => new PacketBatch(pool, burstSize));
const stop = StopSignal.trap();
const inUseAtStart = pool.inUse;

console.log(
  `\nCore ${Lcore.current()} forwarding packets. [Ctrl+C to quit]` +
    (duration > 0 ? ` (for ${duration} s)` : ""),
);

const start = performance.now();
let lastPrint = start;
let last = opened.map((p) => p.stats());
const totals = opened.map(() => ({ rx: 0, tx: 0 }));

function printRates(now: number): void {
  const stats = opened.map((p) => p.stats());
  const seconds = (now - lastPrint) / 1000;
  const line = stats.map((s, i) => {
    const rx = (s.ipackets - last[i].ipackets) / seconds;
    const tx = (s.opackets - last[i].opackets) / seconds;
    return `port ${i}: rx ${(rx / 1e6).toFixed(2)} Mpps tx ${(tx / 1e6).toFixed(2)} Mpps`;
  });
  console.log(`[${((now - start) / 1000).toFixed(0).padStart(4)} s] ${line.join(" | ")}`);
  last = stats;
  lastPrint = now;
}

// The main work: read from an input port, write to the paired output port.
for (let iter = 0; !stop.requested; iter++) {
  for (let p = 0; p < opened.length; p++) {
    const batch = batches[p];
    const rx = opened[p].receive(0, batch);
    if (rx === 0) continue;
    totals[p].rx += rx;
    // Send to the paired port (0 <-> 1, 2 <-> 3); unsent packets are freed.
    totals[p ^ 1].tx += opened[p ^ 1].send(0, batch);
  }
  if ((iter & 1023) === 0) {
    const now = performance.now();
    if (interval > 0 && now - lastPrint >= interval * 1000) printRates(now);
    if (duration > 0 && now - start >= duration * 1000) break;
  }
}

const elapsed = (performance.now() - start) / 1000;
console.log(`\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`);
console.log("Summary:");
for (let i = 0; i < opened.length; i++) {
  const s = opened[i].stats();
  console.log(
    `  port ${i} (${opened[i].name}): received ${totals[i].rx} sent ${totals[i].tx} ` +
      `(port counters: rx ${s.ipackets} tx ${s.opackets} missed ${s.imissed})`,
  );
}
const rxTotal = totals.reduce((a, t) => a + t.rx, 0);
console.log(`  total: ${rxTotal} packets, ${(rxTotal / elapsed / 1e6).toFixed(2)} Mpps`);
for (const b of batches) b.close();
console.log(`  mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
// Stop and close the ports, free the pool, and release DPDK's resources.
Eal.cleanup();
