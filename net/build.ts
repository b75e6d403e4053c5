/**
 * Builders for crafting frames in tests, tools and traffic generators. The `build*` functions
 * allocate a new frame with every checksum filled in; {@link writeUdpFrame} writes into existing
 * memory (e.g. an mbuf in a mempool region) without allocating.
 *
 * @module
 */

import {
  foldSum,
  internetChecksum,
  ipv4HeaderChecksum,
  transportChecksumIpv4,
  transportChecksumIpv6,
} from "./checksum.ts";
import { BROADCAST_MAC, EtherType, macToNumber, writeMac } from "./ethernet.ts";
import { ArpOperation } from "./arp.ts";
import { IcmpType } from "./icmp.ts";
import { Icmpv6Type, NdpOption, NeighborAdvertisementFlags } from "./icmpv6.ts";
import { IpProtocol } from "./ip_protocol.ts";
import { parseIpv4 } from "./ipv4.ts";
import { ipv6ToString, parseIpv6 } from "./ipv6.ts";

/** A MAC address as text (`"02:00:00:00:00:01"`), 6 bytes, or a 48-bit number. */
export type MacAddress = string | Uint8Array | number;

/** Ethernet-level options shared by all builders. */
export interface EthernetOptions {
  /** Source MAC address. */
  srcMac: MacAddress;
  /** Destination MAC address. */
  dstMac: MacAddress;
  /**
   * VLAN ids: one id for an 802.1Q tag, or `[outer, inner]` for QinQ (outer 802.1ad 0x88a8,
   * inner 802.1Q). Default: untagged.
   */
  vlan?: number | readonly number[];
  /** Pad the frame with zeros to at least this many bytes (60 is the Ethernet minimum without FCS). Default: 0, no padding. */
  minLength?: number;
}

/** IP-level options; the family follows the address text (IPv6 if it contains `:`). */
export interface IpOptions extends EthernetOptions {
  /** Source address, `"10.0.0.1"` or `"2001:db8::1"`. */
  srcIp: string;
  /** Destination address, same family as srcIp. */
  dstIp: string;
  /** IPv4 TTL or IPv6 hop limit. Default: 64. */
  ttl?: number;
  /** IPv4 type of service or IPv6 traffic class. Default: 0. */
  tos?: number;
  /** IPv4 identification. Default: 0. */
  identification?: number;
  /** IPv4 don't-fragment flag. Default: false. */
  dontFragment?: boolean;
  /** IPv6 flow label. Default: 0. */
  flowLabel?: number;
}

/** Options of {@link buildUdpFrame}. */
export interface UdpFrameOptions extends IpOptions {
  /** UDP source port. */
  srcPort: number;
  /** UDP destination port. */
  dstPort: number;
  /** Payload bytes, or text encoded as UTF-8. Default: empty. */
  payload?: Uint8Array | string;
}

/** Options of {@link buildTcpFrame}. */
export interface TcpFrameOptions extends IpOptions {
  /** TCP source port. */
  srcPort: number;
  /** TCP destination port. */
  dstPort: number;
  /** Sequence number. Default: 0. */
  seq?: number;
  /** Acknowledgment number. Default: 0. */
  ack?: number;
  /** Flag bits (see `TcpFlags`). Default: 0. */
  flags?: number;
  /** Receive window. Default: 65535. */
  window?: number;
  /** Raw option bytes, padded with zeros (end of list) to a multiple of 4. Default: none. */
  options?: Uint8Array;
  /** Payload bytes or UTF-8 text. Default: empty. */
  payload?: Uint8Array | string;
}

/** Options of {@link buildIcmpEcho}. */
export interface IcmpEchoOptions extends IpOptions {
  /** Build an echo reply instead of a request. Default: false. */
  reply?: boolean;
  /** Echo identifier. Default: 0. */
  identifier?: number;
  /** Echo sequence number. Default: 0. */
  sequence?: number;
  /** Payload bytes or UTF-8 text. Default: empty. */
  payload?: Uint8Array | string;
}

/** Options of {@link buildArp}. */
export interface ArpOptions extends Omit<EthernetOptions, "dstMac"> {
  /** Operation (see `ArpOperation`). Default: request. */
  operation?: number;
  /** Sender protocol address. */
  senderIp: string;
  /** Target protocol address. */
  targetIp: string;
  /** Target hardware address. Default: 00:00:00:00:00:00. */
  targetMac?: MacAddress;
  /** Ethernet destination. Default: broadcast for requests, targetMac for replies. */
  dstMac?: MacAddress;
}

/** Options of {@link buildNeighborSolicitation}. */
export interface NeighborSolicitationOptions extends Omit<EthernetOptions, "dstMac"> {
  /** Our IPv6 address (source). */
  srcIp: string;
  /** The address being resolved. */
  targetIp: string;
  /** IPv6 destination. Default: the target's solicited-node multicast address. */
  dstIp?: string;
  /** Ethernet destination. Default: the multicast MAC of dstIp (33:33:xx:xx:xx:xx). */
  dstMac?: MacAddress;
}

/** Options of {@link buildNeighborAdvertisement}. */
export interface NeighborAdvertisementOptions extends EthernetOptions {
  /** Our IPv6 address (source). */
  srcIp: string;
  /** Destination (usually the soliciting node). */
  dstIp: string;
  /** The advertised address. Default: srcIp. */
  targetIp?: string;
  /** Flag bits (see `NeighborAdvertisementFlags`). Default: SOLICITED | OVERRIDE. */
  flags?: number;
}

const encoder = new TextEncoder();

function payloadBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === "string" ? encoder.encode(payload) : payload;
}

function vlanList(vlan: number | readonly number[] | undefined): readonly number[] {
  const list = vlan === undefined ? [] : typeof vlan === "number" ? [vlan] : vlan;
  for (const id of list) {
    if (!Number.isInteger(id) || id < 0 || id > 0xfff) {
      throw new RangeError(`VLAN id must be an integer in 0..4095, got ${id}`);
    }
  }
  return list;
}

function checkU16(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`${name} must be an integer in 0..65535, got ${value}`);
  }
  return value;
}

/** Writes the Ethernet header and tags at 0; returns the layer-3 offset. */
function writeEthernet(
  v: DataView,
  dst: number,
  src: number,
  vlans: readonly number[],
  etherType: number,
): number {
  writeMac(v, 0, dst);
  writeMac(v, 6, src);
  let p = 12;
  for (let i = 0; i < vlans.length; i++) {
    // QinQ: the outer tag is a service tag (802.1ad), inner tags are customer tags (802.1Q).
    v.setUint16(p, vlans.length > 1 && i === 0 ? EtherType.QINQ : EtherType.VLAN);
    v.setUint16(p + 2, vlans[i]);
    p += 4;
  }
  v.setUint16(p, etherType);
  return p + 2;
}

interface IpAddresses {
  v6: boolean;
  src4: number;
  dst4: number;
  src6: Uint8Array;
  dst6: Uint8Array;
}

function ipAddresses(srcIp: string, dstIp: string): IpAddresses {
  const v6 = srcIp.includes(":");
  if (v6 !== dstIp.includes(":")) {
    throw new TypeError(`srcIp "${srcIp}" and dstIp "${dstIp}" are of different IP families`);
  }
  return v6 ? { v6, src4: 0, dst4: 0, src6: parseIpv6(srcIp), dst6: parseIpv6(dstIp) } : {
    v6,
    src4: parseIpv4(srcIp),
    dst4: parseIpv4(dstIp),
    src6: new Uint8Array(16),
    dst6: new Uint8Array(16),
  };
}

/**
 * Builds Ethernet + IP around an upper-layer message produced by `writeL4`, then fills the IP and
 * upper-layer checksums. `checksumField` is where the upper-layer checksum goes (-1: none).
 */
function buildIpFrame(
  opts: IpOptions,
  protocol: number,
  l4Length: number,
  writeL4: (v: DataView, bytes: Uint8Array, l4: number) => void,
  checksumField: number,
): Uint8Array {
  const addr = ipAddresses(opts.srcIp, opts.dstIp);
  const vlans = vlanList(opts.vlan);
  const ipHeader = addr.v6 ? 40 : 20;
  const length = 14 + 4 * vlans.length + ipHeader + l4Length;
  if ((addr.v6 ? l4Length : ipHeader + l4Length) > 0xffff) {
    throw new RangeError(`The IP packet is too long (${ipHeader + l4Length} bytes)`);
  }
  const bytes = new Uint8Array(Math.max(length, opts.minLength ?? 0));
  const v = new DataView(bytes.buffer);
  const l3 = writeEthernet(
    v,
    macToNumber(opts.dstMac),
    macToNumber(opts.srcMac),
    vlans,
    addr.v6 ? EtherType.IPV6 : EtherType.IPV4,
  );
  const ttl = opts.ttl ?? 64;
  const l4 = l3 + ipHeader;
  if (addr.v6) {
    v.setUint32(
      l3,
      (6 << 28 | ((opts.tos ?? 0) & 0xff) << 20 | ((opts.flowLabel ?? 0) & 0xfffff)) >>> 0,
    );
    v.setUint16(l3 + 4, l4Length);
    v.setUint8(l3 + 6, protocol);
    v.setUint8(l3 + 7, ttl);
    bytes.set(addr.src6, l3 + 8);
    bytes.set(addr.dst6, l3 + 24);
  } else {
    v.setUint8(l3, 0x45);
    v.setUint8(l3 + 1, opts.tos ?? 0);
    v.setUint16(l3 + 2, 20 + l4Length);
    v.setUint16(l3 + 4, opts.identification ?? 0);
    v.setUint16(l3 + 6, opts.dontFragment ? 0x4000 : 0);
    v.setUint8(l3 + 8, ttl);
    v.setUint8(l3 + 9, protocol);
    v.setUint32(l3 + 12, addr.src4);
    v.setUint32(l3 + 16, addr.dst4);
    v.setUint16(l3 + 10, ipv4HeaderChecksum(v, l3));
  }
  writeL4(v, bytes, l4);
  if (checksumField >= 0) {
    let csum: number;
    if (protocol === IpProtocol.ICMP) csum = internetChecksum(v, l4, l4Length);
    else if (addr.v6) csum = transportChecksumIpv6(v, l4, l4Length, l3 + 8, l3 + 24, protocol);
    else csum = transportChecksumIpv4(v, l4, l4Length, addr.src4, addr.dst4, protocol);
    v.setUint16(l4 + checksumField, csum);
  }
  return bytes;
}

/**
 * Builds an Ethernet/IPv4 or Ethernet/IPv6 UDP frame with correct checksums.
 *
 * ```ts
 * import { buildUdpFrame } from "@deno-dpdk/dpdk/net";
 * const frame = buildUdpFrame({
 *   srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02",
 *   srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 1234, dstPort: 5678,
 *   payload: "hello",
 * });
 * frame.length; // 14 + 20 + 8 + 5 = 47
 * ```
 */
export function buildUdpFrame(options: UdpFrameOptions): Uint8Array {
  const payload = payloadBytes(options.payload);
  const srcPort = checkU16("srcPort", options.srcPort);
  const dstPort = checkU16("dstPort", options.dstPort);
  const l4Length = 8 + payload.length;
  return buildIpFrame(options, IpProtocol.UDP, l4Length, (v, bytes, l4) => {
    v.setUint16(l4, srcPort);
    v.setUint16(l4 + 2, dstPort);
    v.setUint16(l4 + 4, l4Length > 0xffff ? 0 : l4Length);
    bytes.set(payload, l4 + 8);
  }, 6);
}

/**
 * Builds an Ethernet/IPv4 or IPv6 TCP segment with correct checksums.
 *
 * ```ts
 * import { buildTcpFrame } from "@deno-dpdk/dpdk/net";
 * import { TcpFlags } from "@deno-dpdk/dpdk/net";
 * const syn = buildTcpFrame({
 *   srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02",
 *   srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 80,
 *   flags: TcpFlags.SYN, seq: 1, options: new Uint8Array([2, 4, 0x05, 0xb4]),
 * });
 * ```
 */
export function buildTcpFrame(options: TcpFrameOptions): Uint8Array {
  const payload = payloadBytes(options.payload);
  const opts = options.options ?? new Uint8Array(0);
  const optLength = Math.ceil(opts.length / 4) * 4;
  if (optLength > 40) {
    throw new RangeError(`TCP options are limited to 40 bytes, got ${opts.length}`);
  }
  const hlen = 20 + optLength;
  const srcPort = checkU16("srcPort", options.srcPort);
  const dstPort = checkU16("dstPort", options.dstPort);
  return buildIpFrame(options, IpProtocol.TCP, hlen + payload.length, (v, bytes, l4) => {
    v.setUint16(l4, srcPort);
    v.setUint16(l4 + 2, dstPort);
    v.setUint32(l4 + 4, (options.seq ?? 0) >>> 0);
    v.setUint32(l4 + 8, (options.ack ?? 0) >>> 0);
    v.setUint16(l4 + 12, ((hlen / 4) << 12) | ((options.flags ?? 0) & 0x1ff));
    v.setUint16(l4 + 14, options.window ?? 65535);
    bytes.set(opts, l4 + 20);
    bytes.set(payload, l4 + hlen);
  }, 16);
}

/**
 * Builds an ICMP (IPv4) or ICMPv6 (IPv6) echo request or reply.
 *
 * ```ts
 * import { buildIcmpEcho } from "@deno-dpdk/dpdk/net";
 * const ping = buildIcmpEcho({
 *   srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02",
 *   srcIp: "fe80::1", dstIp: "fe80::2", identifier: 7, sequence: 1, payload: "ping",
 * });
 * ```
 */
export function buildIcmpEcho(options: IcmpEchoOptions): Uint8Array {
  const payload = payloadBytes(options.payload);
  const v6 = options.srcIp.includes(":");
  const type = v6
    ? (options.reply ? Icmpv6Type.ECHO_REPLY : Icmpv6Type.ECHO_REQUEST)
    : (options.reply ? IcmpType.ECHO_REPLY : IcmpType.ECHO_REQUEST);
  const identifier = checkU16("identifier", options.identifier ?? 0);
  const sequence = checkU16("sequence", options.sequence ?? 0);
  return buildIpFrame(
    options,
    v6 ? IpProtocol.ICMPV6 : IpProtocol.ICMP,
    8 + payload.length,
    (v, bytes, l4) => {
      v.setUint8(l4, type);
      v.setUint16(l4 + 4, identifier);
      v.setUint16(l4 + 6, sequence);
      bytes.set(payload, l4 + 8);
    },
    2,
  );
}

/**
 * Builds an Ethernet ARP request or reply for IPv4.
 *
 * ```ts
 * import { buildArp } from "@deno-dpdk/dpdk/net";
 * const whoHas = buildArp({ srcMac: "02:00:00:00:00:01", senderIp: "10.0.0.1", targetIp: "10.0.0.2" });
 * whoHas.length; // 42
 * ```
 */
export function buildArp(options: ArpOptions): Uint8Array {
  const vlans = vlanList(options.vlan);
  const operation = options.operation ?? ArpOperation.REQUEST;
  const targetMac = macToNumber(options.targetMac ?? 0);
  const dstMac = options.dstMac !== undefined
    ? macToNumber(options.dstMac)
    : operation === ArpOperation.REQUEST
    ? BROADCAST_MAC
    : targetMac;
  const srcMac = macToNumber(options.srcMac);
  const length = 14 + 4 * vlans.length + 28;
  const bytes = new Uint8Array(Math.max(length, options.minLength ?? 0));
  const v = new DataView(bytes.buffer);
  const p = writeEthernet(v, dstMac, srcMac, vlans, EtherType.ARP);
  v.setUint16(p, 1);
  v.setUint16(p + 2, EtherType.IPV4);
  v.setUint8(p + 4, 6);
  v.setUint8(p + 5, 4);
  v.setUint16(p + 6, operation);
  writeMac(v, p + 8, srcMac);
  v.setUint32(p + 14, parseIpv4(options.senderIp));
  writeMac(v, p + 18, targetMac);
  v.setUint32(p + 24, parseIpv4(options.targetIp));
  return bytes;
}

/** The solicited-node multicast address ff02::1:ffXX:XXXX of an IPv6 address (16 bytes). */
export function solicitedNodeAddress(address: Uint8Array): Uint8Array {
  const out = parseIpv6("ff02::1:ff00:0");
  out.set(address.subarray(13, 16), 13);
  return out;
}

/** The Ethernet multicast MAC 33:33:XX:XX:XX:XX of an IPv6 multicast address, as a number. */
export function ipv6MulticastMac(address: Uint8Array): number {
  return 0x3333 * 0x100000000 +
    ((address[12] << 24 | address[13] << 16 | address[14] << 8 | address[15]) >>> 0);
}

function buildNeighborMessage(
  ipOptions: IpOptions,
  type: number,
  flags: number,
  target: Uint8Array,
  optionType: number,
  optionMac: number,
): Uint8Array {
  // NDP messages must arrive with hop limit 255 (RFC 4861 §7.1.1).
  return buildIpFrame({ ...ipOptions, ttl: 255 }, IpProtocol.ICMPV6, 32, (v, bytes, l4) => {
    v.setUint8(l4, type);
    v.setUint8(l4 + 4, flags);
    bytes.set(target, l4 + 8);
    v.setUint8(l4 + 24, optionType);
    v.setUint8(l4 + 25, 1);
    writeMac(v, l4 + 26, optionMac);
  }, 2);
}

/**
 * Builds an IPv6 neighbor solicitation with a source link-layer address option, sent by default
 * to the target's solicited-node multicast group.
 *
 * ```ts
 * import { buildNeighborSolicitation } from "@deno-dpdk/dpdk/net";
 * const ns = buildNeighborSolicitation({
 *   srcMac: "02:00:00:00:00:01", srcIp: "fe80::1", targetIp: "fe80::2",
 * });
 * ```
 */
export function buildNeighborSolicitation(options: NeighborSolicitationOptions): Uint8Array {
  const target = parseIpv6(options.targetIp);
  const dst = options.dstIp !== undefined ? parseIpv6(options.dstIp) : solicitedNodeAddress(target);
  const dstIp = options.dstIp ?? ipv6ToString(dst);
  const srcMac = macToNumber(options.srcMac);
  return buildNeighborMessage(
    { ...options, dstIp, dstMac: options.dstMac ?? ipv6MulticastMac(dst) },
    Icmpv6Type.NEIGHBOR_SOLICITATION,
    0,
    target,
    NdpOption.SOURCE_LINK_LAYER_ADDRESS,
    srcMac,
  );
}

/**
 * Builds an IPv6 neighbor advertisement with a target link-layer address option (our MAC).
 *
 * ```ts
 * import { buildNeighborAdvertisement } from "@deno-dpdk/dpdk/net";
 * const na = buildNeighborAdvertisement({
 *   srcMac: "02:00:00:00:00:02", dstMac: "02:00:00:00:00:01",
 *   srcIp: "fe80::2", dstIp: "fe80::1",
 * });
 * ```
 */
export function buildNeighborAdvertisement(options: NeighborAdvertisementOptions): Uint8Array {
  const target = parseIpv6(options.targetIp ?? options.srcIp);
  return buildNeighborMessage(
    options,
    Icmpv6Type.NEIGHBOR_ADVERTISEMENT,
    options.flags ??
      (NeighborAdvertisementFlags.SOLICITED | NeighborAdvertisementFlags.OVERRIDE),
    target,
    NdpOption.TARGET_LINK_LAYER_ADDRESS,
    macToNumber(options.srcMac),
  );
}

/**
 * Numeric fields of {@link writeUdpFrame}: everything a traffic generator changes per packet,
 * without strings, so one object can be reused for every packet.
 */
export interface UdpFrameFields {
  /** Source MAC as a 48-bit number. */
  srcMac: number;
  /** Destination MAC as a 48-bit number. */
  dstMac: number;
  /** IPv4 source address (u32). */
  srcIp: number;
  /** IPv4 destination address (u32). */
  dstIp: number;
  /** UDP source port. */
  srcPort: number;
  /** UDP destination port. */
  dstPort: number;
  /** UDP payload length in bytes. */
  payloadLength: number;
  /**
   * Payload to copy in (at most payloadLength bytes); if absent or shorter, the bytes already in
   * place are kept (and checksummed).
   */
  payload?: Uint8Array;
  /** One 802.1Q VLAN id; absent or negative for untagged. */
  vlan?: number;
  /** TTL. Default: 64. */
  ttl?: number;
  /** IPv4 identification. Default: 0. */
  identification?: number;
  /** Compute the UDP checksum (else store 0, "none", which IPv4 allows). Default: true. */
  udpChecksum?: boolean;
}

/**
 * Writes an Ethernet/IPv4/UDP frame in place at `offset` and returns its length. `view` and
 * `bytes` must cover the same memory (one DataView and one Uint8Array over a region). Allocates
 * nothing; throws `RangeError` if the frame would not fit in the view.
 *
 * ```ts
 * import { writeUdpFrame } from "@deno-dpdk/dpdk/net";
 * const region = new Uint8Array(2048);
 * const view = new DataView(region.buffer);
 * const fields = {
 *   srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002,
 *   srcPort: 1, dstPort: 9, payloadLength: 18,
 * };
 * const length = writeUdpFrame(view, region, 128, fields); // 60
 * ```
 */
export function writeUdpFrame(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  fields: UdpFrameFields,
): number {
  const tagged = fields.vlan !== undefined && fields.vlan >= 0;
  const l3 = offset + (tagged ? 18 : 14);
  const l4 = l3 + 20;
  const udpLength = 8 + fields.payloadLength;
  const length = l4 - offset + udpLength;
  if (!(offset >= 0 && offset + length <= view.byteLength) || udpLength + 20 > 0xffff) {
    throw new RangeError(
      `A ${length}-byte frame at ${offset} does not fit in ${view.byteLength} bytes`,
    );
  }
  writeMac(view, offset, fields.dstMac);
  writeMac(view, offset + 6, fields.srcMac);
  if (tagged) {
    view.setUint16(offset + 12, EtherType.VLAN);
    view.setUint16(offset + 14, (fields.vlan as number) & 0x0fff);
  }
  const ipLength = 20 + udpLength;
  const id = fields.identification ?? 0;
  const ttlProto = ((fields.ttl ?? 64) << 8) | IpProtocol.UDP;
  const src = fields.srcIp, dst = fields.dstIp;
  const srcPort = fields.srcPort, dstPort = fields.dstPort;
  // Checksums come from the values being written, and headers go out as 32-bit words:
  // fewer DataView accesses, which is what a frame costs in JavaScript.
  const addrSum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  const ipCsum = ~foldSum(0x4500 + ipLength + id + ttlProto + addrSum) & 0xffff;
  view.setUint16(l3 - 2, EtherType.IPV4);
  view.setUint32(l3, (0x4500 << 16 | ipLength) >>> 0);
  view.setUint32(l3 + 4, id << 16 >>> 0); // flags and fragment offset 0
  view.setUint32(l3 + 8, (ttlProto << 16 | ipCsum) >>> 0);
  view.setUint32(l3 + 12, src);
  view.setUint32(l3 + 16, dst);
  view.setUint32(l4, (srcPort << 16 | dstPort) >>> 0);
  const payload = fields.payload;
  if (payload !== undefined) {
    if (payload.length > fields.payloadLength) {
      throw new RangeError(
        `payload has ${payload.length} bytes but payloadLength is ${fields.payloadLength}`,
      );
    }
    bytes.set(payload, l4 + 8);
  }
  let udpCsum = 0;
  if (fields.udpChecksum ?? true) {
    // Pseudo-header and UDP header from known values; only the payload is read.
    let sum = addrSum + IpProtocol.UDP + udpLength + srcPort + dstPort + udpLength;
    const data = l4 + 8, n = fields.payloadLength;
    const words = data + (n & ~3);
    let i = data;
    for (; i < words; i += 4) {
      const w = view.getUint32(i);
      sum += (w >>> 16) + (w & 0xffff);
    }
    if (n & 2) {
      sum += view.getUint16(i);
      i += 2;
    }
    if (n & 1) sum += view.getUint8(i) << 8;
    const csum = ~foldSum(sum) & 0xffff;
    udpCsum = csum === 0 ? 0xffff : csum; // 0 means "no checksum" (RFC 768)
  }
  view.setUint32(l4 + 4, (udpLength << 16 | udpCsum) >>> 0);
  return length;
}
