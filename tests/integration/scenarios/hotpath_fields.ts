// The lazy packet accessors on real EAL packets (no kernel peer needed):
//  - offsets and lengths equal what C reads from the same mbufs (net_null, net_ring);
//  - batches of capacity 1, 3 and 65536 receive on net_null, net_ring and net_pcap, in order;
//  - jumbo frames from a pcap file arrive as chains, are read whole and byte-exact, and are
//    written back byte-exact as chains (received ones and ones built with allocPacket);
//  - pcap rx timestamps and per-burst arrival TSC;
//  - fields of a crafted mbuf (VLAN TCI, RSS hash, checksum flags) through the accessors;
//  - checksum and VLAN requests done in software on a port without those offloads.
// Arg: a scratch directory.
import { library } from "../../../ffi/library.ts";
import {
  ChecksumStatus,
  Eal,
  Mempool,
  PacketBatch,
  Port,
  RxFlag,
  tscToNs,
  TxChecksum,
  VirtualDevice,
} from "../../../mod.ts";
import { mbufLayout } from "../../../src/mbuf.ts";
import {
  buildTcpFrame,
  buildUdpFrame,
  PcapWriter,
  readPcap,
  verifyIpv4HeaderChecksum,
  verifyTransportChecksumIpv4,
  verifyTransportChecksumIpv6,
} from "../../../net/mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const [dir] = Deno.args;
Eal.init([...TEST_EAL, "-m", "512", "--vdev=net_null0"]);
const s = library().symbols;
const pool = Mempool.create({ name: "fields", size: 8191, cacheSize: 0 });
const inUseStart = pool.inUse;

/** What C sees of each packet: data offset, data_len, pkt_len, nb_segs. */
function cView(batch: PacketBatch): number[][] {
  const out = new Uint32Array(batch.count * 4 + 4);
  const n = s.dd_batch_describe(batch.unsafeHandle, new Uint8Array(out.buffer));
  return Array.from({ length: n }, (_, i) => Array.from(out.subarray(4 * i, 4 * i + 4)));
}
function tsView(batch: PacketBatch): number[][] {
  return Array.from(
    { length: batch.count },
    (_, i) => [batch.offset(i), batch.length(i), batch.packetLength(i), batch.segmentCount(i)],
  );
}
const same = (a: number[][], b: number[][]) => JSON.stringify(a) === JSON.stringify(b);

// --- accessors agree with C
const nul = Port.open("net_null0", { pool });
const ring = Port.open(VirtualDevice.create("net_ring0").portId, { pool });
const batch = new PacketBatch(pool, 64);
nul.receive(0, batch);
const nullAgrees = batch.count === 64 && same(tsView(batch), cView(batch));
batch.clear();
batch.alloc(40, 60);
for (let i = 0; i < 40; i++) batch.setLength(i, 60 + 37 * i);
ring.send(0, batch);
ring.receive(0, batch);
const ringAgrees = batch.count === 40 && same(tsView(batch), cView(batch)) &&
  batch.length(39) === 60 + 37 * 39;
batch.clear();

// --- capacities 1, 3, 65536: every packet, in order
function numbered(port: Port, count: number): void {
  const b = new PacketBatch(pool, count);
  b.alloc(count, 64);
  for (let i = 0; i < count; i++) b.view.setUint32(b.offset(i), i);
  port.send(0, b);
  b.close();
}
function drain(port: Port, capacity: number, want: number): number[] {
  const b = new PacketBatch(pool, capacity);
  const seen: number[] = [];
  const deadline = Date.now() + 5000;
  while (seen.length < want && Date.now() < deadline) {
    const n = port.receive(0, b);
    for (let i = 0; i < n; i++) seen.push(b.view.getUint32(b.offset(i)));
    b.clear();
  }
  b.close();
  return seen;
}
const inOrder = (xs: number[], n: number) => xs.length === n && xs.every((x, i) => x === i);
const capacities: Record<string, boolean> = {};
for (const cap of [1, 3, 65536]) {
  numbered(ring, 100);
  capacities[`net_ring ${cap}`] = inOrder(drain(ring, cap, 100), 100);
  const b = new PacketBatch(pool, cap);
  let got = 0;
  for (let k = 0; k < 5; k++) got += nul.receive(0, b), b.clear();
  capacities[`net_null ${cap}`] = got >= 5 * Math.min(cap, 32);
  b.close();
}

// --- a pcap file: small and jumbo frames, timestamps 1 ms apart
const sizes = [60, 3000, 9000, 1514, 64];
const frames = sizes.map((size, k) => {
  const f = new Uint8Array(size);
  for (let j = 0; j < size; j++) f[j] = (j * 31 + k * 7) & 0xff;
  return f;
});
const t0Us = 1_700_000_000_000_000;
const capacityFrames: Uint8Array[] = [];
for (let k = 0; k < 10; k++) {
  const f = new Uint8Array(64);
  new DataView(f.buffer).setUint32(0, k);
  capacityFrames.push(f);
}
const writer = new PcapWriter();
frames.forEach((f, k) => writer.add(f, BigInt(t0Us + k * 1000) * 1000n));
Deno.writeFileSync(`${dir}/jumbo.pcap`, writer.bytes());
const w2 = new PcapWriter();
capacityFrames.forEach((f, k) => w2.add(f, BigInt(t0Us + k) * 1000n));
Deno.writeFileSync(`${dir}/ten.pcap`, w2.bytes());

for (const cap of [1, 3, 65536]) {
  const dev = VirtualDevice.create(`net_pcap${cap}`, { rx_pcap: `${dir}/ten.pcap` });
  const port = Port.open(dev.portId, { pool });
  capacities[`net_pcap ${cap}`] = inOrder(drain(port, cap, 10), 10);
  dev.remove();
}

const jumboIn = VirtualDevice.create("net_pcap_in", { rx_pcap: `${dir}/jumbo.pcap` });
const jumboOut = VirtualDevice.create("net_pcap_out", {
  rx_pcap: `${dir}/ten.pcap`,
  tx_pcap: `${dir}/out.pcap`,
});
const pin = Port.open(jumboIn.portId, { pool });
const pout = Port.open(jumboOut.portId, { pool });
const jb = new PacketBatch(pool, 16);
const deadline = Date.now() + 5000;
while (jb.count < frames.length && Date.now() < deadline) pin.receive(0, jb);
const segments = Array.from({ length: jb.count }, (_, i) => jb.segmentCount(i));
const packetLengths = Array.from({ length: jb.count }, (_, i) => jb.packetLength(i));
let chainsExact = jb.count === frames.length;
let walkedExact = true;
for (let i = 0; i < jb.count; i++) {
  const copy = new Uint8Array(jb.packetLength(i));
  jb.copyOut(i, copy);
  if (!copy.every((b, j) => b === frames[i][j]) || copy.length !== frames[i].length) {
    chainsExact = false;
  }
  // Segment by segment, in place.
  let at = 0;
  for (let seg = jb.segment(i); seg >= 0; seg = jb.nextSegment(seg)) {
    const off = jb.segmentOffset(seg), len = jb.segmentLength(seg);
    for (let j = 0; j < len; j++) if (jb.data[off + j] !== frames[i][at + j]) walkedExact = false;
    at += len;
  }
  if (at !== frames[i].length) walkedExact = false;
}
const timestamps = Array.from({ length: jb.count }, (_, i) => jb.rxTimestamp(i) - t0Us);
// Built here: a 9000-byte chain filled with copyIn.
const built = new Uint8Array(9000).map((_, j) => (j * 13) & 0xff);
const bi = jb.allocPacket(built.length);
jb.copyIn(bi, built);
const builtSegments = jb.segmentCount(bi);
const chainSetLength = (() => {
  try {
    jb.setLength(bi, 100);
    return "accepted";
  } catch (e) {
    return (e as Error).message;
  }
})();
const resent = pout.send(0, jb);
jumboOut.remove(); // flushes out.pcap
jumboIn.remove();
const written = [...readPcap(Deno.readFileSync(`${dir}/out.pcap`))].map((r) => r.data);
const expected = [...frames, built];
const writtenExact = written.length === expected.length &&
  written.every((w, k) =>
    w.length === expected[k].length && w.every((b, j) => b === expected[k][j])
  );

// --- arrival TSC: one read per burst that returned packets
const stamped = new PacketBatch(pool, 32, { arrivalTime: true });
nul.receive(0, stamped);
const tsc1 = stamped.arrivalTsc;
stamped.clear();
const empty = ring.receive(0, stamped); // nothing there: the stamp stays
const tscAfterEmpty = stamped.arrivalTsc;
await new Promise((r) => setTimeout(r, 20));
nul.receive(0, stamped);
const tsc2 = stamped.arrivalTsc;
stamped.close();
const arrivalGapMs = tscToNs(tsc2 - tsc1) / 1e6;

// --- a crafted mbuf: fields a NIC would set, read back through the accessors
const l = mbufLayout();
batch.alloc(1, 60);
const m = batch.segment(0);
const u32 = new Uint32Array(pool.data.buffer, 0, pool.data.length >>> 2);
const u16 = new Uint16Array(pool.data.buffer, 0, pool.data.length >>> 1);
u32[(m + l.olFlags) >>> 2] = RxFlag.VLAN | RxFlag.VLAN_STRIPPED | RxFlag.RSS_HASH |
  RxFlag.IP_CKSUM_GOOD | RxFlag.L4_CKSUM_BAD;
u16[(m + l.vlanTci) >>> 1] = 0x2064;
u32[(m + l.rss) >>> 2] = 0xdeadbeef;
u32[(m + l.packetType) >>> 2] = 0x291;
const crafted = {
  vlanTci: batch.vlanTci(0),
  rssHash: batch.rssHash(0),
  ip: batch.ipChecksum(0),
  l4: batch.l4Checksum(0),
  packetType: batch.packetType(0),
};
u32[(m + l.olFlags) >>> 2] = 0;
const plain = { vlanTci: batch.vlanTci(0), rssHash: batch.rssHash(0), ip: batch.ipChecksum(0) };
batch.clear();

// --- checksums and VLAN in software (net_ring has no tx offloads)
const udp4 = buildUdpFrame({
  srcMac: "02:00:00:00:00:01",
  dstMac: "02:00:00:00:00:02",
  srcIp: "10.9.0.1",
  dstIp: "10.9.0.2",
  srcPort: 1111,
  dstPort: 2222,
  payload: "checksummed by the shim",
});
const tcp6 = buildTcpFrame({
  srcMac: "02:00:00:00:00:01",
  dstMac: "02:00:00:00:00:02",
  srcIp: "fd00::1",
  dstIp: "fd00::2",
  srcPort: 3333,
  dstPort: 4444,
  seq: 7,
  flags: 0x18,
  payload: "and this one too",
});
for (const f of [udp4, tcp6]) {
  const i = batch.alloc(1, f.length);
  batch.copyIn(i, f);
}
// Spoil every checksum first, so only the requested computation can make them right.
const at0 = batch.offset(0), at1 = batch.offset(1);
batch.view.setUint16(at0 + 24, 0x1234);
batch.view.setUint16(at0 + 40, 0x1234);
batch.view.setUint16(at1 + 54 + 16, 0x1234);
batch.requestChecksums(0, TxChecksum.IPV4 | TxChecksum.UDP, 14, 20);
batch.requestChecksums(1, TxChecksum.TCP, 14, 40);
batch.requestVlan(1, 42);
const ipv6HeaderRefused = (() => {
  try {
    batch.requestChecksums(1, TxChecksum.IPV4, 14, 40);
    return false;
  } catch (e) {
    return e instanceof RangeError;
  }
})();
ring.send(0, batch);
ring.receive(0, batch);
const v = batch.view, a = batch.offset(0), b = batch.offset(1);
const software = {
  ipv4Header: verifyIpv4HeaderChecksum(v, a + 14),
  udp: verifyTransportChecksumIpv4(
    v,
    a + 34,
    udp4.length - 34,
    v.getUint32(a + 26),
    v.getUint32(a + 30),
    17,
  ),
  vlanTag: v.getUint16(b + 12) === 0x8100 && v.getUint16(b + 14) === 42 &&
    v.getUint16(b + 16) === 0x86dd,
  tcp6: verifyTransportChecksumIpv6(v, b + 18 + 40, tcp6.length - 54, b + 18 + 8, b + 18 + 24, 6),
  udpWasSpoiled: v.getUint16(a + 40) !== 0x1234,
  lengthWithTag: batch.length(1) === tcp6.length + 4,
};
batch.clear();

for (const x of [batch, jb]) x.close();
nul.close();
ring.close();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({
  nullAgrees,
  ringAgrees,
  capacities,
  segments,
  packetLengths,
  chainsExact,
  walkedExact,
  timestamps,
  builtSegments,
  chainSetLength,
  resent,
  writtenCount: written.length,
  writtenExact,
  tscAfterEmptyKept: tscAfterEmpty === tsc1 && empty === 0,
  tscIncreased: tsc2 > tsc1 && tsc1 > 0,
  arrivalGapMs,
  crafted,
  plain,
  software,
  ipv6HeaderRefused,
  statusNames: { GOOD: ChecksumStatus.GOOD, BAD: ChecksumStatus.BAD },
  inUseStart,
  inUseEnd,
});
