/**
 * pktgen: a UDP/IPv4 traffic generator. Frames are written straight into the
 * mbufs with `writeUdpFrame` (every checksum filled in), cycling through
 * ranges of addresses, ports and frame sizes, paced to a rate or as fast as
 * the port takes them.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/pktgen.ts [EAL args] -- \
 *     [--rate PPS] [--src 10.0.0.1-10.0.0.20] [--dst 10.0.0.100] [--src-port 1234]
 *     [--dst-port 5000-5009] [--size 64,512,1518] [--count N] [--duration S]
 *     [--dst-mac MAC] [--src-mac MAC] [--tx-port N] [--burst N] [--iface IFACE]
 *
 * Each field cycles through its range on its own, one step per packet. Sizes
 * are Ethernet frame sizes including the 4-byte FCS, as DPDK's pktgen counts
 * them (64 to 1518). The UDP payload is the packet's sequence number as 8 hex
 * digits followed by " deno-dpdk pktgen" repeated.
 *
 * With no EAL arguments it sends to a `net_null` port (no NIC, no hugepages),
 * which swallows everything: a measure of the generator itself. `--iface veth0`
 * sends through net_af_packet on an existing kernel interface instead.
 * Rates every second; a summary at the end, or on Ctrl-C or SIGTERM (exit 0).
 * A mistake on the command line exits 2 with one line naming the option.
 *
 * @module
 */
import { Eal, Mempool, PacketBatch, Port, splitArgs, StopSignal } from "../mod.ts";
import { macToNumber, parseIpv4, type UdpFrameFields, writeUdpFrame } from "../net/mod.ts";
import {
  Cli,
  ifaceName,
  integer,
  interfaceProblem,
  mac,
  number,
  portId,
  seconds,
  value,
  waitForLinks,
} from "./_cli.ts";

const NUM_MBUFS = 8191;
const MBUF_CACHE_SIZE = 250;
const RX_RING_SIZE = 1024;
const TX_RING_SIZE = 1024;
const MAX_BURST = 1024; // the most packets one burst moves
const HEADERS = 14 + 20 + 8; // Ethernet, IPv4, UDP
const FCS = 4;
const MIN_SIZE = 64;
const MAX_SIZE = 1518;
const PAYLOAD_TEXT = " deno-dpdk pktgen";
const DEFAULT_EAL = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf"];
const DEFAULT_VDEV = "--vdev=net_null0";

/** "a-b" (or "a") → first value, number of values, the text; undefined if malformed. */
function range(text: string, parse: (s: string) => number | undefined) {
  const parts = text.split("-");
  if (parts.length > 2) return undefined;
  const first = parse(parts[0]), last = parse(parts[1] ?? parts[0]);
  if (first === undefined || last === undefined) return undefined;
  if (last < first) throw new Error("the range is empty");
  return { first, count: last - first + 1, text };
}
function ipv4OrUndefined(s: string): number | undefined {
  try {
    return parseIpv4(s);
  } catch {
    return undefined;
  }
}
function udpPort(s: string): number | undefined {
  const n = Number(s);
  return /^\d{1,5}$/.test(s) && n <= 65535 ? n : undefined;
}

// The application's own options, all checked before the EAL starts.
const cli = new Cli(
  "pktgen",
  "usage: pktgen.ts [EAL args] -- [--rate PPS] [--src A[-B]] [--dst A[-B]] [--src-port P[-Q]]\n" +
    "                 [--dst-port P[-Q]] [--size 64[,N...]] [--count N] [--duration S]\n" +
    "                 [--dst-mac MAC] [--src-mac MAC] [--tx-port N] [--burst N] [--iface IFACE]\n" +
    "                 [--stats-interval S]\n" +
    "  --rate PPS          packets per second, a number ≥ 0 (default 0: as fast as possible)\n" +
    "  --src, --dst        IPv4 address or range A-B (default 10.0.0.1, 10.0.0.2)\n" +
    "  --src-port, --dst-port  UDP port or range P-Q in 0..65535 (default 1234, 5000)\n" +
    `  --size N[,N...]     frame sizes with FCS, ${MIN_SIZE}..${MAX_SIZE} (default 64)\n` +
    "  --count N           stop after N packets, an integer ≥ 1 (default: no limit)\n" +
    "  --duration S        stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    "  --dst-mac, --src-mac  MAC addresses (default ff:ff:ff:ff:ff:ff, the port's MAC)\n" +
    "  --tx-port N         port id (default 0, or the --iface port)\n" +
    `  --burst N           packets per burst, 1..${MAX_BURST} (default 32)\n` +
    "  --iface IFACE       send on a kernel interface through net_af_packet\n" +
    "  --stats-interval S  seconds between live rates (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_VDEV}`,
);
const { eal, app } = splitArgs(Deno.args);
const ipRange = (fallback: string) =>
  value("an IPv4 address or range A-B like 10.0.0.1-10.0.0.20", (t) => range(t, ipv4OrUndefined), {
    default: range(fallback, ipv4OrUndefined)!,
  });
const portRange = (fallback: number) =>
  value("a UDP port or range P-Q in 0..65535 like 5000-5009", (t) => range(t, udpPort), {
    default: range(String(fallback), udpPort)!,
  });
const opts = cli.parse(app, {
  rate: number(0, Infinity, { unit: "packets per second", default: 0 }), // 0: as fast as possible
  src: ipRange("10.0.0.1"),
  dst: ipRange("10.0.0.2"),
  "src-port": portRange(1234),
  "dst-port": portRange(5000),
  size: value(`frame sizes with FCS in ${MIN_SIZE}..${MAX_SIZE}, comma-separated`, (t) => {
    const sizes = t.split(",").map((n) => /^\d{2,4}$/.test(n) ? Number(n) : NaN);
    return sizes.every((n) => n >= MIN_SIZE && n <= MAX_SIZE) ? sizes : undefined;
  }, { default: [MIN_SIZE] }),
  count: integer(1, Infinity), // default: no limit
  duration: seconds({ note: "0: until Ctrl-C" }),
  "dst-mac": mac({ default: "ff:ff:ff:ff:ff:ff" }),
  "src-mac": mac(), // default: the port's MAC
  "tx-port": portId(), // default: 0, or the --iface port
  burst: integer(1, MAX_BURST, { default: 32 }),
  iface: ifaceName(), // kernel interface to send on with net_af_packet
  "stats-interval": seconds({ default: 1, note: "0: none" }),
});
const { rate, size: sizes, duration, burst: burstSize, "stats-interval": interval } = opts;
const srcIps = opts.src, dstIps = opts.dst;
const srcPorts = opts["src-port"], dstPorts = opts["dst-port"];
const maxCount = opts.count ?? 0; // 0: no limit

// Initialise the EAL: the user's arguments, or a net_null port; --iface adds an af_packet port.
const ealArgs = eal.length > 0 ? eal : [...DEFAULT_EAL, ...(opts.iface ? [] : [DEFAULT_VDEV])];
if (opts.iface) ealArgs.push(`--vdev=net_af_packet0,iface=${opts.iface}`);
cli.initEal(ealArgs);
// The port to send on must exist: the --iface port, or --tx-port.
const ports = Port.list();
const ifacePort = ports.find((p) => p.name === "net_af_packet0");
if (opts.iface !== undefined && ifacePort === undefined) {
  cli.fail(`--iface ${opts.iface}: ${interfaceProblem(opts.iface, "net_af_packet")}`);
}
const txPort = opts["tx-port"] ?? ifacePort?.id ?? 0;
if (!ports.some((p) => p.id === txPort)) {
  cli.fail(
    `--tx-port ${txPort}: port ${txPort} does not exist (ports: ${
      ports.map((p) => p.id).join(", ") || "none"
    })`,
  );
}

const pool = Mempool.create({ name: "MBUF_POOL", size: NUM_MBUFS, cacheSize: MBUF_CACHE_SIZE });
const port = Port.open(txPort, {
  pool,
  rxDescriptors: RX_RING_SIZE,
  txDescriptors: TX_RING_SIZE,
});
console.log(`Port ${port.id} (${port.driver} ${port.name}) MAC: ${port.mac}`);
await waitForLinks("pktgen", [port]); // what is sent before the link is up is lost
const txBatch = new PacketBatch(pool, burstSize);
const rxBatch = new PacketBatch(pool, burstSize);
const stop = StopSignal.trap();
const inUseAtStart = pool.inUse;

// The payload of each size, built once: 8 bytes for the sequence number, then the text.
const template = new Uint8Array(MAX_SIZE - FCS - HEADERS);
for (let j = 8; j < template.length; j++) {
  template[j] = PAYLOAD_TEXT.charCodeAt((j - 8) % PAYLOAD_TEXT.length);
}
const payloads = sizes.map((size) => template.subarray(0, size - FCS - HEADERS));
const HEX = new TextEncoder().encode("0123456789abcdef");

// One fields object for every packet: only numbers change.
const fields: UdpFrameFields = {
  srcMac: macToNumber(opts["src-mac"] ?? port.mac),
  dstMac: macToNumber(opts["dst-mac"]),
  srcIp: 0,
  dstIp: 0,
  srcPort: 0,
  dstPort: 0,
  payloadLength: 0,
  identification: 0,
};

/** Writes packet number `k` into slot `i` of the batch, in place. */
function writePacket(batch: PacketBatch, i: number, k: number): void {
  const data = batch.data, at = batch.offset(i);
  const payload = payloads[k % payloads.length];
  const p = at + HEADERS;
  data.set(payload, p);
  for (let d = 0, seq = k >>> 0; d < 8; d++, seq >>>= 4) data[p + 7 - d] = HEX[seq & 15];
  fields.srcIp = (srcIps.first + k % srcIps.count) >>> 0;
  fields.dstIp = (dstIps.first + k % dstIps.count) >>> 0;
  fields.srcPort = srcPorts.first + k % srcPorts.count;
  fields.dstPort = dstPorts.first + k % dstPorts.count;
  fields.payloadLength = payload.length;
  fields.identification = k & 0xffff;
  // No `payload` field: the bytes written above are kept and checksummed.
  batch.setLength(i, writeUdpFrame(batch.view, data, at, fields));
}

console.log(
  `\nSending UDP ${srcIps.text}:${srcPorts.text} -> ${dstIps.text}:${dstPorts.text}, ` +
    `sizes ${sizes.join(",")}, ` + (rate > 0 ? `${rate} pps` : "as fast as possible") +
    (maxCount > 0 ? `, ${maxCount} packets` : "") + (duration > 0 ? `, for ${duration} s` : "") +
    ". [Ctrl+C to quit]",
);

const start = performance.now();
let lastPrint = start;
let lastStats = port.stats();
let generated = 0; // packets written (sent, or waiting in txBatch for a retry)
let sent = 0;
let sentBytes = 0; // frame bytes with FCS, as on the wire
let received = 0;
let lastBytes = 0;

function printRates(now: number): void {
  const s = port.stats();
  const seconds = (now - lastPrint) / 1000;
  const pps = (s.opackets - lastStats.opackets) / seconds;
  const bits = (sentBytes - lastBytes) * 8;
  console.log(
    `[${((now - start) / 1000).toFixed(0).padStart(4)} s] tx ${(pps / 1e6).toFixed(3)} Mpps ` +
      `${(bits / seconds / 1e6).toFixed(1)} Mbit/s | sent ${sent} received ${received}`,
  );
  lastStats = s;
  lastBytes = sentBytes;
  lastPrint = now;
}

// The main loop: top the batch up with fresh frames, send what the port takes,
// keep the rest for the next round, and drain (and count) what arrives.
for (let iter = 0; !stop.requested; iter++) {
  const got = port.receive(0, rxBatch);
  if (got > 0) {
    received += got;
    rxBatch.clear();
  }
  const now = performance.now();
  let want = txBatch.free;
  if (rate > 0) want = Math.min(want, Math.floor((now - start) / 1000 * rate) - generated);
  if (maxCount > 0) want = Math.min(want, maxCount - generated);
  if (want > 0) {
    const first = txBatch.alloc(want, 0);
    for (let i = 0; i < want; i++) writePacket(txBatch, first + i, generated + i);
    generated += want;
  }
  if (txBatch.count > 0) {
    const n = port.trySend(0, txBatch);
    for (let j = 0; j < n; j++) sentBytes += sizes[(sent + j) % sizes.length];
    sent += n;
  }
  if (maxCount > 0 && sent === maxCount) break;
  if ((iter & 255) === 0) {
    if (interval > 0 && now - lastPrint >= interval * 1000) printRates(now);
    if (duration > 0 && now - start >= duration * 1000) break;
  }
}

const elapsed = (performance.now() - start) / 1000;
const unsent = txBatch.count;
txBatch.clear();
console.log(`\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`);
const s = port.stats();
console.log("Summary:");
console.log(
  `  port ${port.id} (${port.name}): tx ${s.opackets} packets ${s.obytes} bytes, ` +
    `errors ${s.oerrors}, rx ${s.ipackets}`,
);
console.log(
  `  sent ${sent} packets, ${sentBytes} bytes with FCS ` +
    `(${(sent / elapsed / 1e6).toFixed(3)} Mpps, ${(sentBytes * 8 / elapsed / 1e6).toFixed(1)} ` +
    `Mbit/s average), ` +
    `${unsent} written but not sent, received ${received}`,
);
txBatch.close();
rxBatch.close();
console.log(`  mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
Eal.cleanup();
