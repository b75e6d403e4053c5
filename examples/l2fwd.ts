/**
 * A port of DPDK's examples/l2fwd/main.c: forwards every packet received on
 * one port of a pair to the other (0 <-> 1, 2 <-> 3, ... among the ports of
 * the port mask), rewriting the destination MAC to 02:00:00:00:00:<tx port>
 * and the source MAC to the tx port's own MAC.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/l2fwd.ts [EAL args] -- \
 *     -p PORTMASK [-P] [-T PERIOD] [--no-mac-updating] [--duration S]
 *
 *   -p PORTMASK: hexadecimal bitmask of the ports to use (default: all)
 *   -P: promiscuous mode on every port (default off)
 *   -T PERIOD: print statistics every PERIOD seconds (an integer; default 10, 0 to disable)
 *   --[no-]mac-updating: rewrite the MAC addresses (default on)
 *   --duration S: stop after S seconds (default 0, until Ctrl-C; not in the C sample)
 *
 * With no EAL arguments it forwards between two `net_null` ports (no NIC, no
 * hugepages). On a real machine: `-l 0 --allow 0000:00:06.0 --allow 0000:00:07.0 -- -p 0x3`.
 * Ctrl-C or SIGTERM prints the statistics and exits 0; a mistake on the
 * command line (a malformed mask, a port that does not exist) exits 2 with one line.
 *
 * @module
 */
import { Eal, Lcore, Mempool, PacketBatch, Port, splitArgs, StopSignal } from "../mod.ts";
import { Cli, flag, integer, seconds, value, waitForLinks } from "./_cli.ts";

const MAX_PKT_BURST = 32;
const MEMPOOL_CACHE_SIZE = 256;
const RX_DESC_DEFAULT = 1024;
const TX_DESC_DEFAULT = 1024;
const MAX_TIMER_PERIOD = 86400; // 1 day max
const MAX_PORTS = 32; // ports a mask can name
const DEFAULT_EAL = [
  "-l",
  "0",
  "--no-huge",
  "-m",
  "512",
  "--no-pci",
  "--no-shconf",
  "--vdev=net_null0",
  "--vdev=net_null1",
];

// Parse the application's arguments, all of them before the EAL starts.
const cli = new Cli(
  "l2fwd",
  "usage: l2fwd.ts [EAL options] -- -p PORTMASK [-P] [-T PERIOD] [--[no-]mac-updating]\n" +
    "                [--duration S]\n" +
    "  -p PORTMASK: hexadecimal bitmask of the ports to configure, e.g. 0x3 (default: all)\n" +
    "  -P: enable promiscuous mode\n" +
    `  -T PERIOD: statistics will be refreshed each PERIOD seconds (0 to disable, 10 default, ` +
    `${MAX_TIMER_PERIOD} maximum)\n` +
    "  --[no-]mac-updating: enable or disable MAC addresses updating (enabled by default)\n" +
    "  --duration S: stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    `default EAL options: ${DEFAULT_EAL.join(" ")}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  portmask: value(
    `a hexadecimal port mask like 0x3, naming ports 0..${MAX_PORTS - 1}`,
    (text) => {
      if (!/^(0x)?[0-9a-f]{1,8}$/i.test(text)) return undefined;
      const mask = parseInt(text.replace(/^0x/i, ""), 16);
      return mask > 0 ? mask : undefined;
    },
    { short: "p" },
  ),
  promiscuous: flag({ short: "P" }),
  period: integer(0, MAX_TIMER_PERIOD, { short: "T", default: 10 }),
  "mac-updating": flag({ default: true }),
  "no-mac-updating": flag(),
  duration: seconds({ note: "0: until Ctrl-C" }),
});
const macUpdating = opts["mac-updating"] && !opts["no-mac-updating"];
const timerPeriod = opts.period * 1000;
const duration = opts.duration;
console.log(`MAC updating ${macUpdating ? "enabled" : "disabled"}`);

// Init EAL.
cli.initEal(eal.length > 0 ? eal : DEFAULT_EAL);

const ports = Port.list();
if (ports.length === 0) cli.fail("No Ethernet ports - bye (add --vdev=... or bind a NIC)");
const ids = ports.map((p) => p.id);
const portmask = opts.portmask ?? ids.reduce((mask, id) => mask + 2 ** id, 0);
// Every port of the mask must exist.
for (let id = 0; id < MAX_PORTS; id++) {
  if (Math.floor(portmask / 2 ** id) % 2 === 1 && !ids.includes(id)) {
    cli.fail(
      `-p 0x${portmask.toString(16)}: port ${id} does not exist (ports: ${ids.join(", ")})`,
    );
  }
}

// Each enabled port forwards to the next enabled one, and back.
const enabled = ports.filter((p) => Math.floor(portmask / 2 ** p.id) % 2 === 1).map((p) => p.id);
const dstPorts = new Map<number, number>();
for (let i = 0; i + 1 < enabled.length; i += 2) {
  dstPorts.set(enabled[i], enabled[i + 1]);
  dstPorts.set(enabled[i + 1], enabled[i]);
}
if (enabled.length % 2 === 1) {
  console.log("Notice: odd number of ports in portmask.");
  const last = enabled[enabled.length - 1];
  dstPorts.set(last, last);
}

// Create the mbuf pool.
const nbMbufs = Math.max(
  enabled.length * (RX_DESC_DEFAULT + TX_DESC_DEFAULT + MAX_PKT_BURST + MEMPOOL_CACHE_SIZE),
  8192,
);
const pool = Mempool.create({ name: "mbuf_pool", size: nbMbufs, cacheSize: MEMPOOL_CACHE_SIZE });

// Initialise each port.
const opened = new Map<number, Port>();
for (const id of enabled) {
  console.log(`Initializing port ${id}... done: `);
  const port = Port.open(id, {
    pool,
    rxDescriptors: RX_DESC_DEFAULT,
    txDescriptors: TX_DESC_DEFAULT,
    promiscuous: opts.promiscuous,
  });
  console.log(`Port ${id}, MAC address: ${port.mac.toUpperCase()}\n`);
  opened.set(id, port);
}
console.log("Checking link status...done");
const links = await waitForLinks("l2fwd", opened.values());
for (const [k, port] of [...opened.values()].entries()) {
  const link = links[k];
  console.log(
    link.up
      ? `Port ${port.id} Link up at ${link.speedMbps} Mbps ${link.fullDuplex ? "FDX" : "HDX"}`
      : `Port ${port.id} Link down`,
  );
}

// Per-port state for the loop, in plain arrays indexed by position.
const rxPorts = enabled.map((id) => opened.get(id)!);
const txPorts = enabled.map((id) => opened.get(dstPorts.get(id)!)!);
const txIds = txPorts.map((p) => p.id);
const txMacHi = txPorts.map((p) => parseInt(p.mac.replaceAll(":", "").slice(0, 4), 16));
const txMacLo = txPorts.map((p) => parseInt(p.mac.replaceAll(":", "").slice(4), 16));
const batches = enabled.map(() => new PacketBatch(pool, MAX_PKT_BURST));
const stats = new Map(enabled.map((id) => [id, { tx: 0, rx: 0, dropped: 0 }]));
const rxStats = enabled.map((id) => stats.get(id)!);
const txStats = txIds.map((id) => stats.get(id)!);
const stop = StopSignal.trap();
const inUseAtStart = pool.inUse;

function printStats(): void {
  let totalTx = 0, totalRx = 0, totalDropped = 0;
  // Clear the screen and move to the top left, as the C sample does, on a terminal only.
  if (Deno.stdout.isTerminal()) Deno.stdout.writeSync(new TextEncoder().encode("\x1b[2J\x1b[1;1H"));
  let out = "\nPort statistics ====================================";
  for (const [id, s] of stats) {
    out += `\nStatistics for port ${id} ------------------------------` +
      `\nPackets sent: ${String(s.tx).padStart(24)}` +
      `\nPackets received: ${String(s.rx).padStart(20)}` +
      `\nPackets dropped: ${String(s.dropped).padStart(21)}`;
    totalTx += s.tx;
    totalRx += s.rx;
    totalDropped += s.dropped;
  }
  out += "\nAggregate statistics ===============================" +
    `\nTotal packets sent: ${String(totalTx).padStart(18)}` +
    `\nTotal packets received: ${String(totalRx).padStart(14)}` +
    `\nTotal packets dropped: ${String(totalDropped).padStart(15)}` +
    "\n====================================================";
  console.log(out);
}

/** Destination MAC 02:00:00:00:00:<tx port>, source MAC the tx port's own. */
function macUpdate(view: DataView, at: number, k: number): void {
  view.setUint16(at, 0x0200);
  view.setUint32(at + 2, txIds[k]);
  view.setUint16(at + 6, txMacHi[k]);
  view.setUint32(at + 8, txMacLo[k]);
}

console.log(`entering main loop on lcore ${Lcore.current()}`);
for (let k = 0; k < enabled.length; k++) {
  console.log(` -- lcoreid=${Lcore.current()} portid=${enabled[k]}`);
}

// The main processing loop: read from each port, update MACs, send to its pair.
const start = performance.now();
let lastStats = start;
for (let iter = 0; !stop.requested; iter++) {
  for (let k = 0; k < rxPorts.length; k++) {
    const batch = batches[k];
    const n = rxPorts[k].receive(0, batch);
    if (n === 0) continue;
    rxStats[k].rx += n;
    if (macUpdating) {
      const view = batch.view;
      for (let i = 0; i < n; i++) macUpdate(view, batch.offset(i), k);
    }
    const sent = txPorts[k].send(0, batch); // what the port did not take is freed
    txStats[k].tx += sent;
    txStats[k].dropped += n - sent;
  }
  if ((iter & 1023) === 0) {
    const now = performance.now();
    if (timerPeriod > 0 && now - lastStats >= timerPeriod) {
      printStats();
      lastStats = now;
    }
    if (duration > 0 && now - start >= duration * 1000) break;
  }
}

if (stop.signal) console.log(`\n\nSignal ${stop.signal} received, preparing to exit...`);
printStats();
for (const b of batches) b.close();
console.log(`mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
for (const port of opened.values()) {
  port.close(); // rte_eth_dev_stop + rte_eth_dev_close
  console.log(`Closing port ${port.id}... Done`);
}
// Frees the pool, then rte_eal_cleanup.
Eal.cleanup();
console.log("Bye...");
