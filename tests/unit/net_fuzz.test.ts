/**
 * Fuzz tests: random and mutated frames through PacketParser and every header view, and
 * mutated capture files through the pcap reader. A seeded PRNG makes failures reproducible:
 * each failure message names the seed and iteration.
 *
 * "No read outside the packet" cannot be observed on a DataView directly, so each frame sits in
 * a larger region whose bytes outside the frame are changed between two runs: the results must
 * not change, and every offset reported must lie inside the frame.
 */
import assert from "node:assert/strict";
import { PARSER_RESULTS } from "./parser_results.ts";
import {
  ArpView,
  buildArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildUdpFrame,
  EthernetView,
  type HeaderView,
  Icmpv6View,
  IcmpView,
  Ipv4View,
  Ipv6View,
  iteratePcap,
  PacketParser,
  ParseStatus,
  PcapError,
  PcapWriter,
  readPcap,
  TcpView,
  UdpView,
} from "../../net/mod.ts";

const SEED = Number(Deno.env.get("NET_FUZZ_SEED") ?? 0x5eed);
const FRAMES = Number(Deno.env.get("NET_FUZZ_FRAMES") ?? 1_000_000);
/**
 * Every VIEW_EVERY-th frame also goes through every view's getters, methods and setters. The
 * default of 2 keeps the test near 10 s on a 2-core machine; NET_FUZZ_VIEW_EVERY=1 checks all.
 */
const VIEW_EVERY = Number(Deno.env.get("NET_FUZZ_VIEW_EVERY") ?? 2);
const PCAP_FILES = 20_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MACS = { srcMac: "02:00:00:00:00:0a", dstMac: "02:00:00:00:00:0b" };

function seedFrames(): Uint8Array[] {
  const v4 = { ...MACS, srcIp: "10.0.0.1", dstIp: "10.0.0.2" };
  const v6 = { ...MACS, srcIp: "2001:db8::1", dstIp: "2001:db8::2" };
  const tcpOptions = new Uint8Array([
    2,
    4,
    5,
    0xb4,
    4,
    2,
    8,
    10,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    1,
    3,
    3,
    7,
  ]);
  const frames = [
    buildUdpFrame({ ...v4, srcPort: 1, dstPort: 2, payload: "hello" }),
    buildUdpFrame({ ...v6, srcPort: 1, dstPort: 2, payload: "hello", vlan: 9 }),
    buildUdpFrame({ ...v4, srcPort: 1, dstPort: 2, vlan: [1, 2], minLength: 60 }),
    buildTcpFrame({
      ...v4,
      srcPort: 3,
      dstPort: 4,
      flags: 0x12,
      options: tcpOptions,
      payload: "x",
    }),
    buildTcpFrame({ ...v6, srcPort: 3, dstPort: 4, options: tcpOptions }),
    buildIcmpEcho({ ...v4, identifier: 1, sequence: 2, payload: "ping" }),
    buildIcmpEcho({ ...v6, identifier: 1, sequence: 2, payload: "ping" }),
    buildNeighborSolicitation({ srcMac: MACS.srcMac, srcIp: "fe80::1", targetIp: "fe80::2" }),
    buildNeighborAdvertisement({ ...MACS, srcIp: "fe80::2", dstIp: "fe80::1" }),
    buildArp({ srcMac: MACS.srcMac, senderIp: "10.0.0.1", targetIp: "10.0.0.2" }),
  ];
  // IPv4 with options (IHL 8) carrying UDP.
  const opt = new Uint8Array(14 + 32 + 8 + 4);
  opt.set(frames[0].subarray(0, 14));
  opt.set([0x48, 0, 0, 44, 0, 0, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  opt.set([1, 7, 7, 4, 1, 2, 3, 4, 5, 6, 7, 0], 34);
  opt.set([0, 1, 0, 2, 0, 12, 0, 0, 1, 2, 3, 4], 46);
  frames.push(opt);
  // IPv6 with a chain of extension headers before UDP.
  const ext = new Uint8Array(14 + 40 + 8 + 8 + 16 + 8 + 12);
  ext.set(frames[1].subarray(0, 12));
  ext.set([0x86, 0xdd, 0x60, 0, 0, 0, 0, ext.length - 54, 0, 64], 12);
  ext.set([44, 0], 54);
  ext.set([51, 0, 0, 1], 62);
  ext.set([60, 2], 70);
  ext.set([17, 0], 86);
  ext.set([0, 7, 0, 9, 0, 12], 94);
  frames.push(ext);
  return frames;
}

const EXT_HEADERS = [0, 43, 44, 51, 60];

/** Produces one fuzz frame into `out` and returns its length. */
function makeFrame(rand: () => number, seeds: Uint8Array[], out: Uint8Array): number {
  const int = (n: number) => Math.floor(rand() * n);
  const kind = int(10);
  if (kind === 0) {
    // Pure noise, sometimes behind a plausible EtherType.
    const len = int(160);
    for (let i = 0; i < len; i++) out[i] = int(256);
    if (len >= 14 && rand() < 0.7) {
      const t = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806][int(5)];
      out[12] = t >> 8;
      out[13] = t & 0xff;
    }
    return len;
  }
  const seed = seeds[int(seeds.length)];
  out.set(seed);
  let len = seed.length;
  const l3 = out[12] === 0x81 || out[12] === 0x88 ? (out[16] === 0x81 ? 22 : 18) : 14;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const setU16 = (at: number, value: number) => {
    if (at + 2 <= len) v.setUint16(at, value);
  };
  switch (kind) {
    case 1: // byte flips
      for (let n = 1 + int(8); n > 0; n--) out[int(len)] = int(256);
      break;
    case 2: // truncation
      len = int(len + 1);
      break;
    case 3: // lying length fields
      setU16(l3 + 2, rand() < 0.5 ? int(0x10000) : len - l3 + int(9) - 4); // IPv4 total
      setU16(l3 + 4, rand() < 0.5 ? 0xffff : int(0x10000)); // IPv6 payload length / v4 id
      setU16(l3 + 24, int(0x10000)); // UDP length (IPv4, IHL 5)
      setU16(l3 + 44, int(0x10000)); // UDP length (IPv6)
      break;
    case 4: // versions and IHL / data offset
      if (l3 < len) out[l3] = int(256);
      if (l3 + 32 < len) out[l3 + 32] = int(256); // TCP data offset over IPv4
      if (l3 + 52 < len) out[l3 + 52] = int(256); // TCP data offset over IPv6
      break;
    case 5: { // option soup: random bytes after the fixed IPv4/TCP header
      const start = l3 + 20 + int(40);
      const end = Math.min(len, start + int(40));
      for (let i = start; i < end; i++) out[i] = rand() < 0.3 ? int(5) : int(256);
      break;
    }
    case 6: { // IPv6 extension-header chains, including self-loops
      if (l3 + 48 > out.length) break;
      out[12] = 0x86;
      out[13] = 0xdd;
      out[l3] = 0x60;
      len = Math.min(out.length, l3 + 40 + 8 * (1 + int(12)));
      v.setUint16(l3 + 4, rand() < 0.8 ? len - l3 - 40 : int(0x10000));
      out[l3 + 6] = EXT_HEADERS[int(5)];
      for (let p = l3 + 40; p + 8 <= len; p += 8) {
        out[p] = rand() < 0.8 ? EXT_HEADERS[int(5)] : int(256);
        out[p + 1] = rand() < 0.7 ? 0 : int(256);
        out[p + 2] = int(256);
        out[p + 3] = int(256);
      }
      break;
    }
    case 7: // VLAN stacks
      for (let p = 12; p + 4 <= len && rand() < 0.8; p += 4) {
        v.setUint16(p, [0x8100, 0x88a8, 0x9100][int(3)]);
      }
      break;
    default: // a few random 16-bit words anywhere, then maybe a truncation
      for (let n = 1 + int(4); n > 0; n--) setU16(int(len), int(0x10000));
      if (rand() < 0.3) len = int(len + 1);
  }
  return len;
}

const PARSER_FIELDS = PARSER_RESULTS;

type ParserResults = { readonly [K in (typeof PARSER_FIELDS)[number]]: number | boolean };

function snapshot(p: ParserResults, out: Float64Array): void {
  for (let i = 0; i < PARSER_FIELDS.length; i++) out[i] = Number(p[PARSER_FIELDS[i]]);
}

/**
 * The oracle: the first, straightforward PacketParser, which resets every field before each
 * parse and has no fast path. The optimised parser must give the same results on every frame,
 * whatever it parsed before.
 */
class ReferenceParser {
  status = 1;
  dstMacOffset = -1;
  srcMacOffset = -1;
  vlanCount = 0;
  vlanId0 = -1;
  vlanId1 = -1;
  etherType = -1;
  l3Offset = -1;
  ipVersion = 0;
  l3Length = 0;
  srcIpv4 = 0;
  dstIpv4 = 0;
  srcIpv6Offset = -1;
  dstIpv6Offset = -1;
  ttl = 0;
  ipProtocol = -1;
  isFragment = false;
  fragmentOffset = 0;
  l4Offset = -1;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  icmpType = -1;
  icmpCode = -1;
  payloadOffset = -1;
  payloadLength = 0;

  parse(view: DataView, offset: number, length: number): number {
    Object.assign(this, new ReferenceParser());
    if (
      !(offset >= 0 && length >= 0 && offset + length <= view.byteLength) ||
      Math.floor(offset) !== offset || Math.floor(length) !== length
    ) {
      return this.status = ParseStatus.BAD_BOUNDS;
    }
    const end = offset + length;
    if (length < 14) return this.status = ParseStatus.TRUNCATED_L2;
    this.dstMacOffset = offset;
    this.srcMacOffset = offset + 6;
    let pos = offset + 12;
    let type = view.getUint16(pos);
    pos += 2;
    while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
      if (pos + 4 > end) return this.status = ParseStatus.TRUNCATED_L2;
      const vid = view.getUint16(pos) & 0x0fff;
      if (this.vlanCount === 0) this.vlanId0 = vid;
      else if (this.vlanCount === 1) this.vlanId1 = vid;
      this.vlanCount++;
      type = view.getUint16(pos + 2);
      pos += 4;
    }
    this.etherType = type;
    this.l3Offset = pos;
    this.payloadOffset = pos;
    this.payloadLength = end - pos;
    if (type === 0x0800) return this.status = this.#ipv4(view, pos, end);
    if (type === 0x86dd) return this.status = this.#ipv6(view, pos, end);
    return this.status = ParseStatus.OK;
  }

  #ipv4(view: DataView, pos: number, end: number): number {
    if (pos + 20 > end) return ParseStatus.TRUNCATED_L3;
    const vihl = view.getUint8(pos);
    if (vihl >> 4 !== 4) return ParseStatus.BAD_L3;
    const hlen = (vihl & 0x0f) * 4;
    if (hlen < 20) return ParseStatus.BAD_L3;
    this.ipVersion = 4;
    const total = view.getUint16(pos + 2);
    const frag = view.getUint16(pos + 6);
    this.ttl = view.getUint8(pos + 8);
    this.ipProtocol = view.getUint8(pos + 9);
    this.srcIpv4 = view.getUint32(pos + 12);
    this.dstIpv4 = view.getUint32(pos + 16);
    this.fragmentOffset = frag & 0x1fff;
    this.isFragment = (frag & 0x3fff) !== 0;
    if (pos + hlen > end) return ParseStatus.TRUNCATED_L3;
    if (total < hlen) return ParseStatus.BAD_L3;
    if (pos + total > end) return ParseStatus.TRUNCATED_L3;
    this.l3Length = total;
    const ipEnd = pos + total;
    const l4 = pos + hlen;
    this.payloadOffset = l4;
    this.payloadLength = ipEnd - l4;
    if (this.fragmentOffset !== 0) return ParseStatus.OK;
    return this.#l4(view, l4, ipEnd);
  }

  #ipv6(view: DataView, pos: number, end: number): number {
    if (pos + 40 > end) return ParseStatus.TRUNCATED_L3;
    if (view.getUint8(pos) >> 4 !== 6) return ParseStatus.BAD_L3;
    this.ipVersion = 6;
    const payloadLength = view.getUint16(pos + 4);
    let next = view.getUint8(pos + 6);
    this.ttl = view.getUint8(pos + 7);
    this.srcIpv6Offset = pos + 8;
    this.dstIpv6Offset = pos + 24;
    const ipEnd = pos + 40 + payloadLength;
    if (ipEnd > end) return ParseStatus.TRUNCATED_L3;
    this.l3Length = 40 + payloadLength;
    let p = pos + 40;
    this.payloadOffset = p;
    this.payloadLength = ipEnd - p;
    while (next === 0 || next === 43 || next === 44 || next === 51 || next === 60) {
      if (p + 8 > ipEnd) return ParseStatus.TRUNCATED_EXTENSION;
      let len: number;
      if (next === 44) {
        len = 8;
        this.isFragment = true;
        this.fragmentOffset = view.getUint16(p + 2) >> 3;
      } else if (next === 51) len = (view.getUint8(p + 1) + 2) * 4;
      else len = (view.getUint8(p + 1) + 1) * 8;
      if (p + len > ipEnd) return ParseStatus.TRUNCATED_EXTENSION;
      next = view.getUint8(p);
      p += len;
      this.payloadOffset = p;
      this.payloadLength = ipEnd - p;
      if (this.fragmentOffset !== 0) {
        this.ipProtocol = next;
        return ParseStatus.OK;
      }
    }
    this.ipProtocol = next;
    return this.#l4(view, p, ipEnd);
  }

  #l4(view: DataView, p: number, ipEnd: number): number {
    const proto = this.ipProtocol;
    const avail = ipEnd - p;
    if (proto === 17) {
      if (avail < 8) return ParseStatus.TRUNCATED_L4;
      this.l4Offset = p;
      this.srcPort = view.getUint16(p);
      this.dstPort = view.getUint16(p + 2);
      const udpLength = view.getUint16(p + 4);
      this.payloadOffset = p + 8;
      if (udpLength < 8) {
        this.payloadLength = avail - 8;
        return ParseStatus.BAD_L4;
      }
      if (udpLength > avail) {
        this.payloadLength = avail - 8;
        return this.isFragment ? ParseStatus.OK : ParseStatus.BAD_L4;
      }
      this.payloadLength = udpLength - 8;
      return ParseStatus.OK;
    }
    if (proto === 6) {
      if (avail < 20) return ParseStatus.TRUNCATED_L4;
      this.l4Offset = p;
      this.srcPort = view.getUint16(p);
      this.dstPort = view.getUint16(p + 2);
      const w = view.getUint16(p + 12);
      this.tcpFlags = w & 0x01ff;
      const hlen = (w >> 12) * 4;
      if (hlen < 20) return ParseStatus.BAD_L4;
      if (hlen > avail) return ParseStatus.TRUNCATED_L4;
      this.payloadOffset = p + hlen;
      this.payloadLength = avail - hlen;
      return ParseStatus.OK;
    }
    if (proto === 1 || proto === 58) {
      if (avail < 4) return ParseStatus.TRUNCATED_L4;
      this.l4Offset = p;
      this.icmpType = view.getUint8(p);
      this.icmpCode = view.getUint8(p + 1);
      if (avail < 8) return ParseStatus.TRUNCATED_L4;
      this.payloadOffset = p + 8;
      this.payloadLength = avail - 8;
      return ParseStatus.OK;
    }
    this.l4Offset = p;
    return ParseStatus.OK;
  }
}

const STATUSES = new Set<number>(Object.values(ParseStatus));

function checkParser(p: PacketParser, off: number, len: number, where: string): void {
  const end = off + len;
  if (!STATUSES.has(p.status)) assert.fail(`${where}: unknown status ${p.status}`);
  const inside = (name: string, at: number, size: number) => {
    if (at !== -1 && !(at >= off && at + size <= end)) {
      assert.fail(`${where}: ${name}=${at} (+${size}) outside [${off}, ${end})`);
    }
  };
  inside("dstMacOffset", p.dstMacOffset, 6);
  inside("srcMacOffset", p.srcMacOffset, 6);
  inside("l3Offset", p.l3Offset, 0);
  inside("srcIpv6Offset", p.srcIpv6Offset, 16);
  inside("dstIpv6Offset", p.dstIpv6Offset, 16);
  inside("l4Offset", p.l4Offset, 0);
  inside("payloadOffset", p.payloadOffset, 0);
  if (p.payloadOffset !== -1) {
    if (!(p.payloadLength >= 0 && p.payloadOffset + p.payloadLength <= end)) {
      assert.fail(`${where}: payload [${p.payloadOffset}, +${p.payloadLength}) outside the frame`);
    }
  }
  if (p.l3Offset !== -1 && p.l3Length > 0 && p.l3Offset + p.l3Length > end) {
    assert.fail(`${where}: l3Length ${p.l3Length} runs past the frame`);
  }
}

interface ViewCase {
  view: HeaderView;
  /** Pushes every getter's value; generated per class so property loads stay monomorphic. */
  readAll: (view: HeaderView, out: unknown[]) => void;
  /** Assigns 0xffffffff through every setter. */
  writeAll: (view: HeaderView) => void;
}

/** Names of the accessors (`get` or `set`) along a view's prototype chain. */
function accessorsOf(view: HeaderView, kind: "get" | "set"): string[] {
  const names: string[] = [];
  for (
    let proto = Object.getPrototypeOf(view);
    proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (d[kind] !== undefined && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

const VIEWS: ViewCase[] = [
  new EthernetView(),
  new ArpView(),
  new Ipv4View(),
  new Ipv6View(),
  new UdpView(),
  new TcpView(),
  new IcmpView(),
  new Icmpv6View(),
].map((view) => ({
  view,
  readAll: new Function(
    "v",
    "out",
    accessorsOf(view, "get").map((g) => `out.push(v[${JSON.stringify(g)}]);`).join("\n"),
  ) as ViewCase["readAll"],
  writeAll: new Function(
    "v",
    accessorsOf(view, "set").map((g) => `v[${JSON.stringify(g)}] = 0xffffffff;`).join("\n"),
  ) as ViewCase["writeAll"],
}));

const ADDRESS = new Uint8Array(16).fill(7);

/** Reads everything a view offers (getters and query methods) into `out`. */
function readViews(
  dv: DataView,
  start: number,
  end: number,
  p: PacketParser,
  probe: number,
  out: unknown[],
): void {
  out.length = 0;
  const v6 = p.srcIpv6Offset >= 0;
  for (const { view, readAll } of VIEWS) {
    out.push(view.attach(dv, start, end - start));
    readAll(view, out);
    if (view instanceof EthernetView) out.push(view.vlanTci(probe & 3));
    if (view instanceof Ipv4View) {
      out.push(view.findOption(probe & 0xff), view.computeChecksum());
    }
    if (view instanceof Ipv6View) {
      out.push(
        view.walkExtensionHeaders(),
        view.upperLayerProtocol,
        view.upperLayerOffset,
        view.fragmentOffset,
        view.moreFragments,
      );
    }
    if (view instanceof TcpView) {
      out.push(view.findOption(probe & 0xff), view.computeChecksumIpv4(p.srcIpv4, p.dstIpv4));
      out.push(view.checksumValidIpv4(p.srcIpv4, p.dstIpv4));
      if (v6) out.push(view.computeChecksumIpv6(p.srcIpv6Offset, p.dstIpv6Offset));
    }
    if (view instanceof UdpView) {
      out.push(view.computeChecksumIpv4(p.srcIpv4, p.dstIpv4));
      out.push(view.checksumValidIpv4(p.srcIpv4, p.dstIpv4));
      if (v6) out.push(view.checksumValidIpv6(p.srcIpv6Offset, p.dstIpv6Offset));
    }
    if (view instanceof IcmpView) out.push(view.computeChecksum());
    if (view instanceof Icmpv6View) {
      out.push(view.findNdpOption(probe & 7));
      if (v6) out.push(view.computeChecksum(p.srcIpv6Offset, p.dstIpv6Offset));
    }
  }
}

/** Runs every mutating method and setter; the caller checks the bytes outside stayed intact. */
function writeViews(dv: DataView, start: number, end: number): void {
  for (const { view, writeAll } of VIEWS) {
    view.attach(dv, start, end - start);
    writeAll(view);
  }
  const [eth, arp, ip4, ip6, udp, tcp, icmp, icmp6] = VIEWS.map((c) => c.view) as [
    EthernetView,
    ArpView,
    Ipv4View,
    Ipv6View,
    UdpView,
    TcpView,
    IcmpView,
    Icmpv6View,
  ];
  eth.swapMacs();
  arp.makeReply(1);
  ip4.updateChecksum();
  ip4.decrementTtl();
  ip6.setSrc(ADDRESS);
  ip6.setDst(ADDRESS);
  ip6.decrementHopLimit();
  udp.updateChecksumIpv4(1, 2);
  tcp.updateChecksumIpv4(1, 2);
  icmp.echoToReply();
  icmp.updateChecksum();
  icmp6.echoToReply();
}

Deno.test({
  name: "fuzz: PacketParser and header views stay inside the frame",
  sanitizeOps: true,
  sanitizeResources: true,
  fn() {
    const rand = mulberry32(SEED);
    const seeds = seedFrames();
    const REGION = 1024;
    const region = new Uint8Array(REGION);
    const dv = new DataView(region.buffer);
    const scratch = new Uint8Array(400);
    const parser = new PacketParser();
    const reference = new ReferenceParser();
    const first = new Float64Array(PARSER_FIELDS.length);
    const second = new Float64Array(PARSER_FIELDS.length);
    const expected = new Float64Array(PARSER_FIELDS.length);
    const viewsA: unknown[] = [];
    const viewsB: unknown[] = [];
    const counts = new Map<number, number>();
    const started = performance.now();

    for (let i = 0; i < FRAMES; i++) {
      const len = makeFrame(rand, seeds, scratch);
      const off = Math.floor(rand() * (REGION - len));
      const where = `seed ${SEED} frame ${i} (len ${len} at ${off})`;
      region.fill(0x00, 0, off);
      region.fill(0x00, off + len);
      region.set(scratch.subarray(0, len), off);

      parser.parse(dv, off, len);
      snapshot(parser, first);
      checkParser(parser, off, len, where);
      // Same results as the reference, whatever the previous frames left in the parser.
      reference.parse(dv, off, len);
      snapshot(reference, expected);
      for (let k = 0; k < first.length; k++) {
        if (!Object.is(first[k], expected[k])) {
          assert.fail(
            `${where}: ${PARSER_FIELDS[k]} is ${first[k]}, the reference says ${expected[k]}`,
          );
        }
      }
      counts.set(parser.status, (counts.get(parser.status) ?? 0) + 1);

      // Same frame, different surroundings: any dependence on outside bytes shows up here.
      region.fill(0xff, 0, off);
      region.fill(0xff, off + len);
      parser.parse(dv, off, len);
      snapshot(parser, second);
      for (let k = 0; k < first.length; k++) {
        if (first[k] !== second[k] && !(Number.isNaN(first[k]) && Number.isNaN(second[k]))) {
          assert.fail(`${where}: ${PARSER_FIELDS[k]} depends on bytes outside the frame`);
        }
      }

      if (i % VIEW_EVERY === 0) {
        // Views at the parser's offsets, or at a random point inside the frame.
        const starts = [
          off,
          parser.l3Offset,
          parser.l4Offset,
          off + Math.floor(rand() * (len + 1)),
        ];
        const start = starts[Math.floor(rand() * 4)];
        if (start < 0) continue;
        const probe = Math.floor(rand() * 0x10000);
        readViews(dv, start, off + len, parser, probe, viewsA);
        region.fill(0x00, 0, off);
        region.fill(0x00, off + len);
        readViews(dv, start, off + len, parser, probe, viewsB);
        for (let k = 0; k < viewsA.length; k++) {
          if (!Object.is(viewsA[k], viewsB[k])) {
            assert.fail(`${where}: view value #${k} depends on bytes outside the frame`);
          }
        }
        writeViews(dv, start, off + len);
        for (let k = 0; k < REGION; k++) {
          if ((k < off || k >= off + len) && region[k] !== 0) {
            assert.fail(`${where}: a view wrote byte ${k} outside the frame`);
          }
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const summary = [...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(" ");
    console.log(`fuzzed ${FRAMES} frames in ${seconds.toFixed(1)} s (status:count ${summary})`);
    // Every status must be reachable, or the mutations are not reaching the code.
    for (const s of STATUSES) {
      if (s !== ParseStatus.BAD_BOUNDS) {
        assert.ok((counts.get(s) ?? 0) > 0, `status ${s} never seen`);
      }
    }
  },
});

Deno.test("fuzz: parser rejects bad bounds without throwing", () => {
  const rand = mulberry32(SEED + 1);
  const parser = new PacketParser();
  const dv = new DataView(new ArrayBuffer(64));
  const odd = [-1, -0.5, 0.5, 63, 64, 65, 1e9, NaN, Infinity, -Infinity, 2 ** 53];
  for (let i = 0; i < 10_000; i++) {
    const off = rand() < 0.5 ? odd[Math.floor(rand() * odd.length)] : Math.floor(rand() * 80);
    const len = rand() < 0.5 ? odd[Math.floor(rand() * odd.length)] : Math.floor(rand() * 80);
    const status = parser.parse(dv, off, len);
    if (
      !(off >= 0 && len >= 0 && off + len <= 64 && Number.isInteger(off) && Number.isInteger(len))
    ) {
      assert.equal(status, ParseStatus.BAD_BOUNDS, `off ${off} len ${len}`);
    }
  }
});

function pcapSeeds(): Uint8Array[] {
  const frames = seedFrames();
  const files: Uint8Array[] = [];
  for (const nanosecond of [false, true]) {
    for (const littleEndian of [true, false]) {
      const w = new PcapWriter({ nanosecond, littleEndian });
      frames.slice(0, 4).forEach((f, i) => w.add(f, BigInt(i) * 1_000_000_123n));
      files.push(w.bytes());
    }
  }
  // pcapng: SHB, IDB (tsresol 9), EPB, SPB, unknown block, in both byte orders.
  for (const le of [true, false]) {
    const parts: number[] = [];
    const block = (type: number, body: number[]) => {
      while (body.length % 4) body.push(0);
      const total = 12 + body.length;
      const b = new Uint8Array(total);
      const v = new DataView(b.buffer);
      v.setUint32(0, type, le);
      v.setUint32(4, total, le);
      b.set(body, 8);
      v.setUint32(total - 4, total, le);
      parts.push(...b);
    };
    const u32 = (x: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, x, le);
      return [...b];
    };
    const u16 = (x: number) => {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, x, le);
      return [...b];
    };
    block(0x0a0d0d0a, [
      ...u32(0x1a2b3c4d),
      ...u16(1),
      ...u16(0),
      ...u32(0xffffffff),
      ...u32(0xffffffff),
    ]);
    block(1, [
      ...u16(1),
      ...u16(0),
      ...u32(0),
      ...u16(9),
      ...u16(1),
      9,
      0,
      0,
      0,
      ...u16(0),
      ...u16(0),
    ]);
    block(6, [
      ...u32(0),
      ...u32(1),
      ...u32(2),
      ...u32(frames[0].length),
      ...u32(frames[0].length),
      ...frames[0],
    ]);
    block(3, [...u32(frames[1].length), ...frames[1]]);
    block(0x0bad, [1, 2, 3, 4]);
    block(6, [
      ...u32(0),
      ...u32(0),
      ...u32(5),
      ...u32(frames[2].length),
      ...u32(999),
      ...frames[2],
    ]);
    files.push(new Uint8Array(parts));
  }
  return files;
}

Deno.test("fuzz: pcap and pcapng reader throws only PcapError", () => {
  const rand = mulberry32(SEED + 2);
  const int = (n: number) => Math.floor(rand() * n);
  const seeds = pcapSeeds();
  for (const s of seeds) assert.ok(readPcap(s).records.length >= 3, "seed files are valid");
  const counts = { ok: 0, pcapError: 0 };
  for (let i = 0; i < PCAP_FILES; i++) {
    const seed = seeds[int(seeds.length)];
    let b = seed.slice();
    const v = new DataView(b.buffer);
    switch (int(6)) {
      case 0:
        for (let n = 1 + int(6); n > 0; n--) b[int(b.length)] = int(256);
        break;
      case 1:
        b = b.slice(0, int(b.length + 1));
        break;
      case 2: // random 32-bit values on aligned positions (lengths, ids, magic)
        for (let n = 1 + int(3); n > 0; n--) {
          const at = int(b.length >> 2) * 4;
          v.setUint32(at, rand() < 0.5 ? int(2 ** 32) : int(64), rand() < 0.5);
        }
        break;
      case 3: { // insert or delete bytes in the middle
        const at = int(b.length);
        const n = 1 + int(8);
        b = rand() < 0.5
          ? new Uint8Array([...b.subarray(0, at), ...new Uint8Array(n), ...b.subarray(at)])
          : new Uint8Array([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 4: // pure noise with a valid magic
        for (let k = 4; k < b.length; k++) b[k] = int(256);
        break;
      default: // duplicate the tail (a second section / more records)
        b = new Uint8Array([...b, ...b.subarray(int(b.length))]);
    }
    try {
      const file = readPcap(b);
      for (const r of file.records) {
        assert.equal(r.data.buffer, b.buffer);
        assert.ok(
          r.data.byteOffset + r.data.length <= b.length && r.captureLength === r.data.length,
        );
        assert.equal(typeof r.timestampNs, "bigint");
      }
      assert.equal([...iteratePcap(b)].length, file.records.length);
      counts.ok++;
    } catch (e) {
      if (!(e instanceof PcapError)) {
        throw new Error(`seed ${SEED + 2} file ${i}: ${String(e)} is not a PcapError`, {
          cause: e,
        });
      }
      counts.pcapError++;
    }
  }
  assert.ok(counts.ok > 100 && counts.pcapError > 100, JSON.stringify(counts));
});
