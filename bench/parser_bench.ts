/**
 * Microbenchmark of {@link PacketParser.parse} against a hand-written Ethernet/IPv4/UDP loop, on
 * cached 60-byte frames sitting in one region as in a mempool (no DPDK needed).
 *
 *   deno bench --allow-all bench/parser_bench.ts
 *
 * Every timed iteration handles {@link PACKETS} = 1000 packets, so the `time/iter` column in µs
 * reads directly as ns per packet. Both UDP loops hash the same 5-tuple into the same flow table
 * (the hash of `denoParse` in `bench/loops.ts`), and the tables are checked equal before timing.
 *
 * @module
 */
import { buildArp, buildTcpFrame, buildUdpFrame, PacketParser, ParseStatus } from "../net/mod.ts";

/** Packets per timed iteration: µs/iter = ns/packet. */
const PACKETS = 1000;
/** Frames in the region, visited round-robin like the packets of a burst. */
const BURST = 32;
/** Distance between two frames, like the data room of an mbuf. */
const STRIDE = 2048;
/** Headroom before each frame. */
const HEADROOM = 128;
/** Flow table slots (a power of two); one more slot counts packets that are not IPv4/UDP. */
const FLOW_SLOTS = 4096;

const MACS = { srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02" };

/** A 60-byte UDP/IPv4 frame: 14 + 20 + 8 + 18 bytes of payload. */
function udpFrame(i: number): Uint8Array {
  return buildUdpFrame({
    ...MACS,
    srcIp: `10.0.0.${1 + i}`,
    dstIp: "10.0.1.1",
    srcPort: 1234 + i,
    dstPort: 5678,
    payload: new Uint8Array(18),
  });
}

/** A region holding BURST frames, and each frame's offset and length. */
function region(frame: (i: number) => Uint8Array) {
  const data = new Uint8Array(BURST * STRIDE);
  const view = new DataView(data.buffer);
  const offsets = new Uint32Array(BURST);
  const lengths = new Uint16Array(BURST);
  for (let i = 0; i < BURST; i++) {
    const f = frame(i);
    offsets[i] = i * STRIDE + HEADROOM;
    lengths[i] = f.length;
    data.set(f, offsets[i]);
  }
  return { data, view, offsets, lengths };
}

const udp = region(udpFrame);
if (udp.lengths[0] !== 60) throw new Error(`expected 60-byte frames, got ${udp.lengths[0]}`);

const mixed = region((i) => {
  switch (i % 4) {
    case 0:
      return udpFrame(i);
    case 1:
      return buildTcpFrame({
        ...MACS,
        srcIp: "10.0.0.1",
        dstIp: "10.0.0.2",
        srcPort: 40000 + i,
        dstPort: 80,
        payload: "GET / HTTP/1.1\r\n",
        vlan: 7,
      });
    case 2:
      return buildArp({ srcMac: MACS.srcMac, senderIp: "10.0.0.1", targetIp: "10.0.0.2" });
    default:
      return buildUdpFrame({
        ...MACS,
        srcIp: "2001:db8::1",
        dstIp: "2001:db8::2",
        srcPort: 53,
        dstPort: 5353,
        payload: "abcd",
      });
  }
});

function hash(src: number, dst: number, ports: number): number {
  let h = Math.imul(src, 0x9e3779b1) ^ dst;
  h = Math.imul(h, 0x85ebca6b) ^ ports;
  h = Math.imul(h, 0xc2b2ae35) ^ 17;
  return (h ^ (h >>> 16)) & (FLOW_SLOTS - 1);
}

const parser = new PacketParser();

/** The parser, reading the 5-tuple of IPv4/UDP packets from its fields. */
function parserLoop(r: typeof udp, table: Uint32Array): void {
  const view = r.view, offsets = r.offsets, lengths = r.lengths, p = parser;
  for (let i = 0; i < PACKETS; i++) {
    const k = i & (BURST - 1);
    if (
      p.parse(view, offsets[k], lengths[k]) !== ParseStatus.OK || p.ipVersion !== 4 ||
      p.ipProtocol !== 17
    ) {
      table[FLOW_SLOTS]++;
      continue;
    }
    table[hash(p.srcIpv4, p.dstIpv4, (p.srcPort << 16) | p.dstPort)]++;
  }
}

/** The minimal hand-written check and 5-tuple read (as `denoParse` in bench/loops.ts). */
function handLoop(r: typeof udp, table: Uint32Array): void {
  const view = r.view, data = r.data, offsets = r.offsets, lengths = r.lengths;
  for (let i = 0; i < PACKETS; i++) {
    const k = i & (BURST - 1);
    const at = offsets[k], len = lengths[k];
    if (
      len < 42 || view.getUint16(at + 12) !== 0x0800 || data[at + 14] >> 4 !== 4 ||
      data[at + 23] !== 17
    ) {
      table[FLOW_SLOTS]++;
      continue;
    }
    const ihl = (data[at + 14] & 0x0f) * 4;
    if (ihl < 20 || 14 + ihl + 8 > len) {
      table[FLOW_SLOTS]++;
      continue;
    }
    table[hash(view.getUint32(at + 26), view.getUint32(at + 30), view.getUint32(at + 14 + ihl))]++;
  }
}

/** The parser alone: status only, no field read. */
function parseOnlyLoop(r: typeof udp): number {
  const view = r.view, offsets = r.offsets, lengths = r.lengths, p = parser;
  let ok = 0;
  for (let i = 0; i < PACKETS; i++) {
    const k = i & (BURST - 1);
    if (p.parse(view, offsets[k], lengths[k]) === ParseStatus.OK) ok++;
  }
  return ok;
}

// Both UDP loops must agree before anything is timed.
{
  const a = new Uint32Array(FLOW_SLOTS + 1), b = new Uint32Array(FLOW_SLOTS + 1);
  for (let i = 0; i < 100; i++) {
    parserLoop(udp, a);
    handLoop(udp, b);
  }
  if (a[FLOW_SLOTS] !== 0 || a.some((x, i) => x !== b[i])) {
    throw new Error("the parser and the hand-written loop disagree on the flow table");
  }
  // Mixed traffic through another parser, so the timed loops see only their own traffic first.
  const q = new PacketParser();
  let udp4 = 0;
  for (let k = 0; k < BURST; k++) {
    const status = q.parse(mixed.view, mixed.offsets[k], mixed.lengths[k]);
    if (status !== ParseStatus.OK) throw new Error(`mixed frame ${k}: status ${status}`);
    if (q.ipVersion === 4 && q.ipProtocol === 17) udp4++;
  }
  if (udp4 !== BURST / 4) throw new Error(`mixed traffic: ${udp4} UDP/IPv4 frames`);
}

const table = new Uint32Array(FLOW_SLOTS + 1);
let sink = 0;

Deno.bench({
  name: "PacketParser.parse + 5-tuple, UDP/IPv4 60 B (µs/iter = ns/packet)",
  group: "udp",
  baseline: true,
  fn() {
    parserLoop(udp, table);
  },
});

Deno.bench({
  name: "hand-written Ethernet/IPv4/UDP 5-tuple (µs/iter = ns/packet)",
  group: "udp",
  fn() {
    handLoop(udp, table);
  },
});

Deno.bench({
  name: "PacketParser.parse only, UDP/IPv4 60 B (µs/iter = ns/packet)",
  group: "udp",
  fn() {
    sink += parseOnlyLoop(udp);
  },
});

Deno.bench({
  name: "PacketParser.parse + 5-tuple, mixed UDP/TCP+VLAN/ARP/UDPv6 (µs/iter = ns/packet)",
  group: "mixed",
  fn() {
    parserLoop(mixed, table);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
