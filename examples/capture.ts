/**
 * capture: writes the packets received on every port to a classic pcap file,
 * optionally keeping only those that match a simple filter, as tcpdump would.
 * The file is valid after `--count N` packets, `--duration S` seconds or Ctrl-C;
 * open it with Wireshark, tshark or tcpdump.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-write examples/capture.ts [EAL args] -- \
 *     --out capture.pcap [--proto udp|tcp|icmp|arp] [--host IP] [--port N] \
 *     [--count N] [--duration S] [--snaplen BYTES] [--iface IFACE] [--stats-interval S]
 *
 * With no EAL arguments it creates a TAP interface, `dtap0` (net_tap: no NIC,
 * no hugepages): `ip link set dtap0 up` and whatever the kernel sends there is
 * captured. `--iface veth0` attaches to an existing kernel interface through
 * net_af_packet instead. Counters every second; a summary at the end, or on
 * Ctrl-C or SIGTERM (exit 0). A mistake on the command line (a file that cannot
 * be created, a bad filter) exits 2 with one line, before anything starts.
 *
 * @module
 */
import { Eal, Mempool, PacketBatch, Port, splitArgs, StopSignal } from "../mod.ts";
import {
  EtherType,
  IpProtocol,
  PacketParser,
  parseIpv4,
  parseIpv6,
  PcapStreamWriter,
} from "../net/mod.ts";
import {
  choice,
  Cli,
  ifaceName,
  integer,
  interfaceProblem,
  ipAddress,
  outputFile,
  portNumber,
  seconds,
} from "./_cli.ts";

const NUM_MBUFS = 8191;
const MBUF_CACHE_SIZE = 250;
const RX_RING_SIZE = 1024;
const BURST_SIZE = 32;
const FILE_BUFFER_BYTES = 1 << 20; // packets are written to the file in 1 MB chunks
const DEFAULT_EAL = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf"];
const DEFAULT_TAP = "--vdev=net_tap0,iface=dtap0";
const PROTOCOLS = ["udp", "tcp", "icmp", "arp"] as const;
const MAX_SNAPLEN = 262144; // as tcpdump

// The application's own options, all checked before the EAL starts.
const cli = new Cli(
  "capture",
  "usage: capture.ts [EAL args] -- [--out FILE] [--proto udp|tcp|icmp|arp] [--host IP]\n" +
    "                  [--port N] [--count N] [--duration S] [--snaplen N] [--iface IFACE]\n" +
    "                  [--stats-interval S]\n" +
    "  --out FILE (-w)     the pcap file to write (default capture.pcap)\n" +
    "  --proto, --host, --port  keep only UDP/TCP/ICMP/ARP, an IPv4/IPv6 host, a UDP/TCP port\n" +
    "  --count N (-c)      stop after N packets, an integer ≥ 1 (default: no limit)\n" +
    "  --duration S        stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    `  --snaplen N         bytes kept per packet, 1..${MAX_SNAPLEN} (default 65535)\n` +
    "  --iface IFACE       capture on a kernel interface through net_af_packet\n" +
    "  --stats-interval S  seconds between live counters (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  out: outputFile({ short: "w", default: "capture.pcap" }),
  proto: choice(PROTOCOLS), // ICMP means ICMP and ICMPv6
  host: ipAddress(), // as source or destination
  port: portNumber(), // UDP/TCP port, as source or destination
  count: integer(1, Infinity, { short: "c" }), // default: no limit
  duration: seconds({ note: "0: until Ctrl-C" }),
  snaplen: integer(1, MAX_SNAPLEN, { default: 65535 }),
  iface: ifaceName(), // kernel interface to attach with net_af_packet
  "stats-interval": seconds({ default: 1, note: "0: none" }),
});
if (opts.port !== undefined && (opts.proto === "icmp" || opts.proto === "arp")) {
  cli.usageError(`--port needs --proto udp or tcp (or no --proto), got --proto ${opts.proto}`);
}
const maxCount = opts.count ?? 0; // 0: no limit
const { duration, "stats-interval": interval } = opts;

// The filter, as plain numbers: -1 (or null) means "any".
const wantEtherType = opts.proto === "arp" ? EtherType.ARP : -1;
const wantProtocol = opts.proto === "udp"
  ? IpProtocol.UDP
  : opts.proto === "tcp"
  ? IpProtocol.TCP
  : opts.proto === "icmp"
  ? IpProtocol.ICMP
  : -1;
const hostIs6 = opts.host?.includes(":") ?? false;
const host4 = opts.host !== undefined && !hostIs6 ? parseIpv4(opts.host) : -1;
const host6 = opts.host !== undefined && hostIs6 ? parseIpv6(opts.host) : null;
const wantPort = opts.port ?? -1;
const filtering = wantEtherType >= 0 || wantProtocol >= 0 || opts.host !== undefined ||
  wantPort >= 0;

// Initialise the EAL: the user's arguments, or a TAP device; --iface adds an af_packet port.
const ealArgs = eal.length > 0 ? eal : [...DEFAULT_EAL, ...(opts.iface ? [] : [DEFAULT_TAP])];
if (opts.iface) ealArgs.push(`--vdev=net_af_packet0,iface=${opts.iface}`);
cli.initEal(ealArgs);

const ports = Port.list();
if (opts.iface !== undefined && !ports.some((p) => p.name === "net_af_packet0")) {
  cli.fail(`--iface ${opts.iface}: ${interfaceProblem(opts.iface, "net_af_packet")}`);
}
if (ports.length === 0) {
  cli.fail(
    eal.length > 0
      ? "no ports: add --vdev=... or --allow a NIC to the EAL arguments, or use --iface IFACE"
      : `no ports: net_tap could not create dtap0; DPDK's log above says why (it needs root)`,
  );
}
const pool = Mempool.create({ name: "MBUF_POOL", size: NUM_MBUFS, cacheSize: MBUF_CACHE_SIZE });
const opened = ports.map((info) => {
  const port = Port.open(info.id, { pool, rxDescriptors: RX_RING_SIZE, promiscuous: true });
  console.log(`Port ${port.id} (${port.driver} ${port.name}) MAC: ${port.mac}`);
  return port;
});
const batches = opened.map(() => new PacketBatch(pool, BURST_SIZE));
const stop = StopSignal.trap();
const inUseAtStart = pool.inUse;

const file = Deno.openSync(opts.out, { write: true, create: true, truncate: true });
// Buffered: records reach the file in large writes; the header is written at once, so even an
// empty capture is a valid file.
const writer = new PcapStreamWriter(file, {
  snapLength: opts.snaplen,
  bufferSize: FILE_BUFFER_BYTES,
});

const parser = new PacketParser();
const counts = { rx: 0, captured: 0, filtered: 0, frameBytes: 0 };

function sameIpv6(data: Uint8Array, at: number, ip: Uint8Array): boolean {
  for (let j = 0; j < 16; j++) if (data[at + j] !== ip[j]) return false;
  return true;
}

/** Whether the packet just parsed passes the filter. */
function matches(view: DataView, data: Uint8Array, end: number): boolean {
  const type = parser.etherType;
  if (wantEtherType >= 0 && type !== wantEtherType) return false;
  if (wantProtocol >= 0) {
    const proto = parser.ipProtocol;
    if (
      proto !== wantProtocol && !(wantProtocol === IpProtocol.ICMP && proto === IpProtocol.ICMPV6)
    ) {
      return false;
    }
  }
  if (host4 >= 0) {
    if (type === EtherType.ARP && parser.l3Offset + 28 <= end) {
      const l3 = parser.l3Offset; // sender and target protocol addresses
      if (view.getUint32(l3 + 14) !== host4 && view.getUint32(l3 + 24) !== host4) return false;
    } else if (parser.ipVersion !== 4 || (parser.srcIpv4 !== host4 && parser.dstIpv4 !== host4)) {
      return false;
    }
  }
  if (host6 !== null) {
    if (parser.ipVersion !== 6) return false;
    if (
      !sameIpv6(data, parser.srcIpv6Offset, host6) && !sameIpv6(data, parser.dstIpv6Offset, host6)
    ) {
      return false;
    }
  }
  if (wantPort >= 0) {
    const proto = parser.ipProtocol;
    if (proto !== IpProtocol.UDP && proto !== IpProtocol.TCP) return false;
    if (parser.l4Offset < 0 || (parser.srcPort !== wantPort && parser.dstPort !== wantPort)) {
      return false;
    }
  }
  return true;
}

console.log(
  `\nCapturing on ${opened.length} port(s) to ${opts.out}` +
    (filtering ? ` (filter: ${opts.proto ?? ""} ${opts.host ?? ""} ${opts.port ?? ""})` : "") +
    (maxCount > 0 ? `, ${maxCount} packets` : "") +
    (duration > 0 ? `, for ${duration} s` : "") + ". [Ctrl+C to quit]",
);

const start = performance.now();
let lastPrint = start;

function printCounters(now: number): void {
  console.log(
    `[${((now - start) / 1000).toFixed(0).padStart(4)} s] rx ${counts.rx} ` +
      `captured ${counts.captured} filtered out ${counts.filtered} ` +
      `(${(writer.bytes / 1e6).toFixed(2)} MB written)`,
  );
  lastPrint = now;
}

// The main loop: receive, filter, append to the file, free the mbufs.
let done = false;
for (let iter = 0; !stop.requested && !done; iter++) {
  for (let p = 0; p < opened.length && !done; p++) {
    const batch = batches[p];
    const n = opened[p].receive(0, batch);
    if (n === 0) continue;
    counts.rx += n;
    const now = (performance.timeOrigin + performance.now()) * 1e6; // ns since the epoch
    const view = batch.view, data = batch.data;
    for (let i = 0; i < n; i++) {
      const at = batch.offset(i), length = batch.length(i);
      if (filtering) {
        parser.parse(view, at, length);
        if (!matches(view, data, at + length)) {
          counts.filtered++;
          continue;
        }
      }
      writer.addRange(data, at, length, now); // copied from the pool's memory, no allocation
      counts.frameBytes += length;
      if (++counts.captured === maxCount) {
        done = true;
        break;
      }
    }
    batch.clear(); // every mbuf goes back to the pool
  }
  if ((iter & 1023) === 0) {
    const now = performance.now();
    if (interval > 0 && now - lastPrint >= interval * 1000) {
      printCounters(now);
      writer.flush();
    }
    if (duration > 0 && now - start >= duration * 1000) break;
  }
}

writer.flush();
file.close();
const elapsed = (performance.now() - start) / 1000;
console.log(
  `\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`,
);
console.log("Summary:");
for (const port of opened) {
  const s = port.stats();
  console.log(`  port ${port.id} (${port.name}): rx ${s.ipackets} missed ${s.imissed}`);
}
console.log(
  `  received ${counts.rx}, captured ${counts.captured}, filtered out ${counts.filtered}`,
);
console.log(
  `  wrote ${writer.count} packets (${counts.frameBytes} bytes of frames; ` +
    `a ${writer.bytes}-byte file) to ${opts.out}`,
);
for (const b of batches) b.close();
console.log(`  mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
Eal.cleanup();
