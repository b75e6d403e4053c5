/**
 * pingd: a ping responder. On every port it answers ARP requests and ICMP
 * echo requests for its IPv4 addresses, and neighbour solicitations and
 * ICMPv6 echo requests for its IPv6 addresses. Each request is turned into
 * its reply in place (MACs and addresses swapped, checksums patched) and sent
 * back on the port it came from; everything else is dropped.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/pingd.ts [EAL args] -- \
 *     --ip 10.99.2.2 --ip6 fd00:99::2 [--iface IFACE] [--duration S] [--stats-interval S]
 *
 * With no EAL arguments it creates a TAP interface, `dtap0` (net_tap: no NIC,
 * no hugepages), that the kernel can ping:
 *
 *   ip addr add 10.99.2.1/24 dev dtap0 && ip link set dtap0 up && ping 10.99.2.2
 *
 * `--iface veth0` attaches to an existing kernel interface through
 * net_af_packet instead (e.g. the host end of a veth whose peer sits in a
 * network namespace). On a real NIC, pass DPDK's arguments: `-l 0 --allow 0000:00:06.0`.
 * Counters every second; a summary at the end, or on Ctrl-C or SIGTERM (exit 0).
 * A mistake on the command line exits 2 with one line naming the option.
 *
 * @module
 */
import { Eal, Mempool, PacketBatch, Port, splitArgs, StopSignal } from "../mod.ts";
import {
  ArpOperation,
  ArpView,
  checksumUpdate16,
  EtherType,
  IcmpType,
  Icmpv6Type,
  Icmpv6View,
  IcmpView,
  IpProtocol,
  macToNumber,
  NdpOption,
  NeighborAdvertisementFlags,
  PacketParser,
  parseIpv4,
  parseIpv6,
  ParseStatus,
} from "../net/mod.ts";
import { Cli, ifaceName, interfaceProblem, ipv4, ipv6, repeated, seconds } from "./_cli.ts";

const NUM_MBUFS = 8191;
const MBUF_CACHE_SIZE = 250;
const RX_RING_SIZE = 1024;
const TX_RING_SIZE = 1024;
const BURST_SIZE = 32;
const REPLY_TTL = 64;
const NA_LENGTH = 32; // neighbour advertisement: 24 bytes + target link-layer address option
const DEFAULT_EAL = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf"];
const DEFAULT_TAP = "--vdev=net_tap0,iface=dtap0";

// The application's own options, all checked before the EAL starts.
const cli = new Cli(
  "pingd",
  "usage: pingd.ts [EAL args] -- --ip A.B.C.D [--ip ...] [--ip6 X:Y::Z ...] [--iface IFACE]\n" +
    "                [--duration S] [--stats-interval S]\n" +
    "  --ip, --ip6         addresses to answer for (at least one)\n" +
    "  --iface IFACE       answer on a kernel interface through net_af_packet\n" +
    "  --duration S        stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    "  --stats-interval S  seconds between live counters (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  ip: repeated(ipv4()), // IPv4 addresses to answer for
  ip6: repeated(ipv6()), // IPv6 addresses to answer for
  iface: ifaceName(), // kernel interface to attach with net_af_packet
  duration: seconds({ note: "0: until Ctrl-C" }),
  "stats-interval": seconds({ default: 1, note: "0: none" }),
});
if (opts.ip.length === 0 && opts.ip6.length === 0) {
  cli.usageError("give at least one address to answer for: --ip A.B.C.D or --ip6 X:Y::Z");
}
const ipv4s = opts.ip.map(parseIpv4);
const ipv6s = opts.ip6.map(parseIpv6);
const { duration, "stats-interval": interval } = opts;

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

const pool = Mempool.create({
  name: "MBUF_POOL",
  size: NUM_MBUFS,
  cacheSize: MBUF_CACHE_SIZE,
});

// Every port answers for every address; replies leave with the port's own MAC.
const opened = ports.map((info) => {
  const port = Port.open(info.id, {
    pool,
    rxDescriptors: RX_RING_SIZE,
    txDescriptors: TX_RING_SIZE,
  });
  console.log(`Port ${port.id} (${port.driver} ${port.name}) MAC: ${port.mac}`);
  return port;
});
const macs = opened.map((p) => macToNumber(p.mac));
const batches = opened.map(() => new PacketBatch(pool, BURST_SIZE));
const stop = StopSignal.trap();
const inUseAtStart = pool.inUse;

// Parser and header views are created once and re-attached to each packet.
const parser = new PacketParser();
const arp = new ArpView();
const icmp = new IcmpView();
const icmp6 = new Icmpv6View();
const ALL_NODES = parseIpv6("ff02::1");
const counts = { rx: 0, tx: 0, arp: 0, echo: 0, ndp: 0, echo6: 0, ignored: 0 };

/** Sends the frame back where it came from: destination = old source, source = our MAC. */
function replyEthernet(v: DataView, at: number, mac: number): void {
  v.setUint16(at, v.getUint16(at + 6));
  v.setUint32(at + 2, v.getUint32(at + 8));
  v.setUint16(at + 6, Math.floor(mac / 0x100000000));
  v.setUint32(at + 8, mac % 0x100000000);
}

function swap32(v: DataView, a: number, b: number): void {
  const t = v.getUint32(a);
  v.setUint32(a, v.getUint32(b));
  v.setUint32(b, t);
}

function isOurIpv6(data: Uint8Array, at: number): boolean {
  for (let k = 0; k < ipv6s.length; k++) {
    const ip = ipv6s[k];
    let j = 0;
    while (j < 16 && data[at + j] === ip[j]) j++;
    if (j === 16) return true;
  }
  return false;
}

function isZero16(data: Uint8Array, at: number): boolean {
  for (let j = 0; j < 16; j++) if (data[at + j] !== 0) return false;
  return true;
}

/**
 * Turns packet `i` into its reply in place; returns false if it is not a
 * request for us (the caller drops it).
 */
function answer(batch: PacketBatch, i: number, mac: number): boolean {
  const v = batch.view, data = batch.data;
  const at = batch.offset(i), length = batch.length(i);
  if (parser.parse(v, at, length) !== ParseStatus.OK) return false;
  const l3 = parser.l3Offset, l4 = parser.l4Offset;

  // ARP: "who has <our IP>?" becomes "<our IP> is at <our MAC>".
  if (parser.etherType === EtherType.ARP) {
    if (!arp.attach(v, l3, at + length - l3) || !arp.isEthernetIpv4) return false;
    if (arp.operation !== ArpOperation.REQUEST || !ipv4s.includes(arp.targetIp)) return false;
    arp.makeReply(mac);
    replyEthernet(v, at, mac);
    counts.arp++;
    return true;
  }

  // ICMP echo request to one of our IPv4 addresses becomes an echo reply.
  if (parser.ipVersion === 4) {
    if (parser.ipProtocol !== IpProtocol.ICMP || parser.isFragment) return false;
    if (parser.icmpType !== IcmpType.ECHO_REQUEST || !ipv4s.includes(parser.dstIpv4)) return false;
    icmp.attach(v, l4, l3 + parser.l3Length - l4);
    icmp.echoToReply(); // type 8 -> 0, checksum patched
    swap32(v, l3 + 12, l3 + 16); // addresses swapped: the header checksum does not change
    const oldWord = v.getUint16(l3 + 8); // TTL | protocol
    const newWord = (REPLY_TTL << 8) | (oldWord & 0xff);
    v.setUint16(l3 + 8, newWord);
    v.setUint16(l3 + 10, checksumUpdate16(v.getUint16(l3 + 10), oldWord, newWord));
    replyEthernet(v, at, mac);
    counts.echo++;
    return true;
  }

  if (parser.ipVersion !== 6 || parser.ipProtocol !== IpProtocol.ICMPV6) return false;
  if (l4 !== l3 + 40) return false; // extension headers: not for a ping responder
  const src = parser.srcIpv6Offset, dst = parser.dstIpv6Offset;

  // ICMPv6 echo request to one of our IPv6 addresses becomes an echo reply.
  if (parser.icmpType === Icmpv6Type.ECHO_REQUEST) {
    if (!isOurIpv6(data, dst)) return false;
    icmp6.attach(v, l4, l3 + parser.l3Length - l4);
    icmp6.echoToReply(); // the pseudo-header sum does not depend on the address order
    for (let k = 0; k < 16; k += 4) swap32(v, src + k, dst + k);
    v.setUint8(l3 + 7, REPLY_TTL); // hop limit (no header checksum in IPv6)
    replyEthernet(v, at, mac);
    counts.echo6++;
    return true;
  }

  // Neighbour solicitation for one of our addresses becomes a neighbour advertisement.
  if (parser.icmpType === Icmpv6Type.NEIGHBOR_SOLICITATION) {
    if (parser.icmpCode !== 0 || parser.ttl !== 255) return false; // RFC 4861 §7.1.1
    if (parser.l3Length - 40 < 24 || !isOurIpv6(data, l4 + 8)) return false;
    let flags = NeighborAdvertisementFlags.SOLICITED | NeighborAdvertisementFlags.OVERRIDE;
    if (isZero16(data, src)) {
      // From the unspecified address (duplicate address detection): answer all nodes.
      data.set(ALL_NODES, dst);
      flags = NeighborAdvertisementFlags.OVERRIDE;
      replyEthernet(v, at, mac);
      v.setUint16(at, 0x3333);
      v.setUint32(at + 2, 1); // 33:33:00:00:00:01
    } else {
      data.copyWithin(dst, src, src + 16); // to the soliciting node
      replyEthernet(v, at, mac);
    }
    data.copyWithin(src, l4 + 8, l4 + 24); // from the target address (ours)
    v.setUint16(l3 + 4, NA_LENGTH); // payload length; hop limit stays 255
    v.setUint32(l4, Icmpv6Type.NEIGHBOR_ADVERTISEMENT << 24); // type, code 0, checksum 0
    v.setUint32(l4 + 4, flags << 24);
    v.setUint8(l4 + 24, NdpOption.TARGET_LINK_LAYER_ADDRESS);
    v.setUint8(l4 + 25, 1); // option length in units of 8 bytes
    v.setUint16(l4 + 26, Math.floor(mac / 0x100000000));
    v.setUint32(l4 + 28, mac % 0x100000000);
    icmp6.attach(v, l4, NA_LENGTH);
    icmp6.updateChecksum(src, dst);
    batch.setLength(i, l4 + NA_LENGTH - at); // other options and padding are cut off
    counts.ndp++;
    return true;
  }
  return false;
}

console.log(
  `\npingd answering ${[...opts.ip, ...opts.ip6].join(" ")} on ${opened.length} port(s). ` +
    "[Ctrl+C to quit]" + (duration > 0 ? ` (for ${duration} s)` : ""),
);

const start = performance.now();
let lastPrint = start;

function printCounters(now: number): void {
  const c = counts;
  console.log(
    `[${((now - start) / 1000).toFixed(0).padStart(4)} s] rx ${c.rx} tx ${c.tx} | ` +
      `arp ${c.arp} echo ${c.echo} ndp ${c.ndp} echo6 ${c.echo6} | ignored ${c.ignored}`,
  );
  lastPrint = now;
}

// The main loop: receive, turn requests into replies in place, send them back.
for (let iter = 0; !stop.requested; iter++) {
  for (let p = 0; p < opened.length; p++) {
    const batch = batches[p];
    const n = opened[p].receive(0, batch);
    if (n === 0) continue;
    counts.rx += n;
    for (let i = 0; i < n; i++) {
      if (!answer(batch, i, macs[p])) {
        batch.drop(i);
        counts.ignored++;
      }
    }
    counts.tx += opened[p].send(0, batch); // sends the replies, frees the dropped
  }
  if ((iter & 1023) === 0) {
    const now = performance.now();
    if (interval > 0 && now - lastPrint >= interval * 1000) printCounters(now);
    if (duration > 0 && now - start >= duration * 1000) break;
  }
}

const elapsed = (performance.now() - start) / 1000;
console.log(`\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`);
console.log("Summary:");
for (const port of opened) {
  const s = port.stats();
  console.log(`  port ${port.id} (${port.name}): rx ${s.ipackets} tx ${s.opackets}`);
}
const c = counts;
console.log(`  received ${c.rx}, replies sent ${c.tx}, ignored ${c.ignored}`);
console.log(`  answered: arp ${c.arp} echo ${c.echo} ndp ${c.ndp} echo6 ${c.echo6}`);
for (const b of batches) b.close();
console.log(`  mbufs in use: ${pool.inUse} (at start ${inUseAtStart})`);
Eal.cleanup();
