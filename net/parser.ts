/**
 * The hot-path packet parser: one pass over Ethernet → VLANs → IPv4/IPv6 (+ extension headers)
 * → UDP/TCP/ICMP, filling plain numeric fields on a reusable object. No allocation, no exceptions,
 * and every read stays inside `[offset, offset + length)` whatever the length fields claim.
 *
 * @module
 */

/**
 * Result codes of {@link PacketParser.parse}. `OK` means every layer the parser knows was
 * parsed and is consistent; any other code says where parsing stopped. Fields of the layers
 * before that point are filled in, the rest keep their defaults.
 */
export const ParseStatus = {
  /** Parsed as far as the parser understands the packet. */
  OK: 0,
  /** offset/length are negative, fractional or outside the DataView. */
  BAD_BOUNDS: 1,
  /** Shorter than an Ethernet header, or a VLAN tag is cut off. */
  TRUNCATED_L2: 2,
  /** The IPv4/IPv6 header, or the length it announces, runs past the packet. */
  TRUNCATED_L3: 3,
  /** Wrong IP version for the EtherType, IHL < 5, or total length < header length. */
  BAD_L3: 4,
  /** An IPv6 extension header runs past the IPv6 payload. */
  TRUNCATED_EXTENSION: 5,
  /** The UDP/TCP/ICMP header runs past the IP payload. */
  TRUNCATED_L4: 6,
  /** UDP length < 8 or beyond the IP payload, or TCP data offset < 5. */
  BAD_L4: 7,
} as const;

/** One of the {@link ParseStatus} values. */
export type ParseStatus = typeof ParseStatus[keyof typeof ParseStatus];

const STATUS_NAMES: readonly string[] = [
  "OK",
  "BAD_BOUNDS",
  "TRUNCATED_L2",
  "TRUNCATED_L3",
  "BAD_L3",
  "TRUNCATED_EXTENSION",
  "TRUNCATED_L4",
  "BAD_L4",
];

/**
 * The name of a {@link ParseStatus} code, for logs.
 *
 * ```ts
 * import { parseStatusName } from "./parser.ts";
 * parseStatusName(3); // "TRUNCATED_L3"
 * ```
 */
export function parseStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `UNKNOWN(${status})`;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

/**
 * A reusable parser. Create one per worker, call {@link PacketParser.parse} per packet, read the
 * fields. Offsets are absolute offsets in the DataView; -1 means "not present".
 *
 * ```ts
 * import { PacketParser, ParseStatus } from "./parser.ts";
 * const region = new Uint8Array(2048);
 * const view = new DataView(region.buffer);
 * const parser = new PacketParser();
 * if (parser.parse(view, 128, 60) === ParseStatus.OK && parser.dstPort === 53) {
 *   // a DNS query at region[parser.payloadOffset, parser.payloadOffset + parser.payloadLength)
 * }
 * ```
 */
export class PacketParser {
  /** Status of the last parse; see {@link ParseStatus}. */
  status: number = ParseStatus.BAD_BOUNDS;
  /** Offset of the destination MAC (the frame start), or -1. */
  dstMacOffset: number = -1;
  /** Offset of the source MAC, or -1. */
  srcMacOffset: number = -1;
  /** Number of VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, legacy 0x9100). */
  vlanCount: number = 0;
  /** VLAN id of the outer tag, or -1. */
  vlanId0: number = -1;
  /** VLAN id of the second tag (QinQ inner), or -1. */
  vlanId1: number = -1;
  /** EtherType after the VLAN tags, or -1. */
  etherType: number = -1;
  /** Offset of the layer-3 header, or -1. */
  l3Offset: number = -1;
  /** 4 or 6 once the IP header was recognised, else 0. */
  ipVersion: number = 0;
  /** Length of the IP packet (IPv4 total length, IPv6 40 + payload length), or 0. */
  l3Length: number = 0;
  /** IPv4 source address (u32), or 0. */
  srcIpv4: number = 0;
  /** IPv4 destination address (u32), or 0. */
  dstIpv4: number = 0;
  /** Offset of the 16-byte IPv6 source address, or -1. */
  srcIpv6Offset: number = -1;
  /** Offset of the 16-byte IPv6 destination address, or -1. */
  dstIpv6Offset: number = -1;
  /** IPv4 TTL or IPv6 hop limit, or 0. */
  ttl: number = 0;
  /** Upper-layer protocol (after IPv6 extension headers), or -1. */
  ipProtocol: number = -1;
  /** True for an IPv4 or IPv6 fragment (first or later). */
  isFragment: boolean = false;
  /** Fragment offset in 8-byte units (0 for unfragmented and first fragments). */
  fragmentOffset: number = 0;
  /** Offset of the layer-4 header, or -1 (also -1 for non-first fragments). */
  l4Offset: number = -1;
  /** UDP/TCP source port, or 0. */
  srcPort: number = 0;
  /** UDP/TCP destination port, or 0. */
  dstPort: number = 0;
  /** TCP flags (9 bits, see `TcpFlags`), or 0. */
  tcpFlags: number = 0;
  /** ICMP/ICMPv6 type, or -1. */
  icmpType: number = -1;
  /** ICMP/ICMPv6 code, or -1. */
  icmpCode: number = -1;
  /** Offset of the innermost payload the parser reached (e.g. UDP data), or -1. */
  payloadOffset: number = -1;
  /** Bytes of that payload (never past the packet or the IP length). */
  payloadLength: number = 0;

  #reset(): void {
    this.dstMacOffset = -1;
    this.srcMacOffset = -1;
    this.vlanCount = 0;
    this.vlanId0 = -1;
    this.vlanId1 = -1;
    this.etherType = -1;
    this.l3Offset = -1;
    this.ipVersion = 0;
    this.l3Length = 0;
    this.srcIpv4 = 0;
    this.dstIpv4 = 0;
    this.srcIpv6Offset = -1;
    this.dstIpv6Offset = -1;
    this.ttl = 0;
    this.ipProtocol = -1;
    this.isFragment = false;
    this.fragmentOffset = 0;
    this.l4Offset = -1;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.payloadOffset = -1;
    this.payloadLength = 0;
  }

  /**
   * Parses the frame at `view[offset, offset + length)` and returns a {@link ParseStatus} code
   * (also stored in {@link PacketParser.status}). Never throws, never allocates, never reads
   * outside the frame.
   */
  parse(view: DataView, offset: number, length: number): number {
    this.#reset();
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
      // TCI and the next type must fit; each tag advances 4 bytes, so the loop is bounded.
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

    if (type === ETH_IPV4) return this.status = this.#parseIpv4(view, pos, end);
    if (type === ETH_IPV6) return this.status = this.#parseIpv6(view, pos, end);
    return this.status = ParseStatus.OK;
  }

  #parseIpv4(view: DataView, pos: number, end: number): number {
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
    // Later fragments carry no transport header: stop at the fragment data.
    if (this.fragmentOffset !== 0) return ParseStatus.OK;
    return this.#parseL4(view, l4, ipEnd);
  }

  #parseIpv6(view: DataView, pos: number, end: number): number {
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
    // Hop-by-hop 0, routing 43, fragment 44, AH 51, destination options 60. Each header is at
    // least 8 bytes, so a chain of any shape ends within payloadLength / 8 steps.
    while (next === 0 || next === 43 || next === 44 || next === 51 || next === 60) {
      if (p + 8 > ipEnd) return ParseStatus.TRUNCATED_EXTENSION;
      let len: number;
      if (next === 44) {
        len = 8;
        const frag = view.getUint16(p + 2);
        this.isFragment = true;
        this.fragmentOffset = frag >> 3;
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
    return this.#parseL4(view, p, ipEnd);
  }

  #parseL4(view: DataView, p: number, ipEnd: number): number {
    const proto = this.ipProtocol;
    const avail = ipEnd - p;
    if (proto === PROTO_UDP) {
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
        // A first fragment holds only the start of the datagram: that is not an error.
        return this.isFragment ? ParseStatus.OK : ParseStatus.BAD_L4;
      }
      this.payloadLength = udpLength - 8;
      return ParseStatus.OK;
    }
    if (proto === PROTO_TCP) {
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
    if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
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
