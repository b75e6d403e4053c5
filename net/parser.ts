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
 * import { parseStatusName } from "@deno-dpdk/dpdk/net";
 * parseStatusName(3); // "TRUNCATED_L3"
 * ```
 */
export function parseStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `UNKNOWN(${status})`;
}

// ParseStatus codes as literals (typed against ParseStatus) so the compiled parser compares and
// returns immediates instead of loading them from the object.
const OK: typeof ParseStatus.OK = 0;
const BAD_BOUNDS: typeof ParseStatus.BAD_BOUNDS = 1;
const TRUNCATED_L2: typeof ParseStatus.TRUNCATED_L2 = 2;
const TRUNCATED_L3: typeof ParseStatus.TRUNCATED_L3 = 3;
const BAD_L3: typeof ParseStatus.BAD_L3 = 4;
const TRUNCATED_EXTENSION: typeof ParseStatus.TRUNCATED_EXTENSION = 5;
const TRUNCATED_L4: typeof ParseStatus.TRUNCATED_L4 = 6;
const BAD_L4: typeof ParseStatus.BAD_L4 = 7;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

// The stored fields in groups, one bit each. A parse sets a group's bit exactly when it writes
// every field of the group; when it ends, the groups that the previous parse wrote and this one
// did not are put back to their defaults. So a parse writes only what it finds, and a stream of
// same-shaped packets resets nothing (resetting all 25 fields at every parse used to cost about a
// quarter of the parse). srcMacOffset, l3Offset, srcPort and dstPort are getters over stored
// fields.
/** dstMacOffset. */
const L2 = 1 << 0;
/** vlanCount, vlanId0. */
const VLAN = 1 << 1;
/** vlanId1. */
const VLAN2 = 1 << 2;
/** etherType, payloadOffset, payloadLength. */
const ETH = 1 << 3;
/** ipVersion, ttl. */
const IP = 1 << 4;
/** srcIpv4, dstIpv4. */
const IPV4 = 1 << 5;
/** srcIpv6Offset, dstIpv6Offset. */
const IPV6 = 1 << 6;
/** isFragment, fragmentOffset. */
const FRAG = 1 << 7;
/** ipProtocol. */
const PROTO = 1 << 8;
/** l3Length. */
const L3LEN = 1 << 9;
/** l4Offset. */
const L4 = 1 << 10;
/** The packed ports (srcPort, dstPort). */
const PORTS = 1 << 11;
/** tcpFlags. */
const TCP = 1 << 12;
/** icmpType, icmpCode. */
const ICMP = 1 << 13;
/**
 * Not a group: the last parse took the UDP/IPv4 fast path, so the fields that are the same for
 * every packet of that path (status, etherType, ipVersion, ipProtocol, isFragment,
 * fragmentOffset) already hold their values.
 */
const FAST_UDP4 = 1 << 14;
/** What #written holds after a fast-path parse: the groups of a UDP/IPv4 packet, and the mark. */
const UDP4 = L2 | ETH | IP | IPV4 | FRAG | PROTO | L3LEN | L4 | PORTS | FAST_UDP4;

/**
 * A reusable parser. Create one per worker, call {@link PacketParser.parse} per packet, read the
 * fields. Offsets are absolute offsets in the DataView; -1 means "not present".
 *
 * The fields describe the last parse only: a field of a layer that it did not reach reads as its
 * default, whatever an earlier packet held. They are results: treat them as read-only.
 *
 * ```ts
 * import { PacketParser, ParseStatus } from "@deno-dpdk/dpdk/net";
 * const region = new Uint8Array(2048);
 * const view = new DataView(region.buffer);
 * const parser = new PacketParser();
 * if (parser.parse(view, 128, 60) === ParseStatus.OK && parser.dstPort === 53) {
 *   // a DNS query at region[parser.payloadOffset, parser.payloadOffset + parser.payloadLength)
 * }
 * ```
 */
export class PacketParser {
  // Every slot is initialised here, in a fixed order, so all parsers share one hidden class.
  /** Status of the last parse; see {@link ParseStatus}. */
  status: number = BAD_BOUNDS;
  /** Offset of the destination MAC (the frame start), or -1. */
  dstMacOffset: number = -1;
  /** Number of VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, legacy 0x9100). */
  vlanCount: number = 0;
  /** VLAN id of the outer tag, or -1. */
  vlanId0: number = -1;
  /** VLAN id of the second tag (QinQ inner), or -1. */
  vlanId1: number = -1;
  /** EtherType after the VLAN tags, or -1. */
  etherType: number = -1;
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
  /** UDP/TCP source and destination ports as the 32-bit word on the wire, or 0. */
  #ports = 0;
  /** The groups (bits above) the last parse wrote; the other groups hold their defaults. */
  #written = 0;

  /** Offset of the source MAC, or -1. */
  get srcMacOffset(): number {
    return this.dstMacOffset < 0 ? -1 : this.dstMacOffset + 6;
  }

  /** Offset of the layer-3 header, or -1. */
  get l3Offset(): number {
    return this.etherType < 0 ? -1 : this.dstMacOffset + 14 + 4 * this.vlanCount;
  }

  /** UDP/TCP source port, or 0. */
  get srcPort(): number {
    return this.#ports >>> 16;
  }

  /** UDP/TCP destination port, or 0. */
  get dstPort(): number {
    return this.#ports & 0xffff;
  }

  /**
   * Parses the frame at `view[offset, offset + length)` and returns a {@link ParseStatus} code
   * (also stored in {@link PacketParser.status}). Never throws, never allocates, never reads
   * outside the frame.
   */
  parse(view: DataView, offset: number, length: number): number {
    // Fast path, small enough for V8 to inline into the caller's loop: an untagged, unfragmented,
    // well-formed UDP/IPv4 frame. Anything else, or anything doubtful, takes the full parser,
    // which gives the same result for these frames.
    if (
      (offset >>> 0) === offset && (length >>> 0) === length && length >= 42 &&
      offset + length <= view.byteLength
    ) {
      const l3 = offset + 14;
      const a = view.getUint32(offset + 12); // EtherType, version and IHL, TOS
      const b = view.getUint32(l3 + 2); // total length, identification
      const c = view.getUint32(l3 + 6); // flags and fragment offset, TTL, protocol
      const hlen = (a >>> 6) & 0x3c, total = b >>> 16, l4 = l3 + hlen;
      if (
        (a & 0xfffff000) === 0x08004000 && hlen >= 20 && hlen + 8 <= total &&
        l3 + total <= offset + length && (c & 0x3fff00ff) === PROTO_UDP
      ) {
        const udpLength = view.getUint16(l4 + 4);
        if (udpLength >= 8 && udpLength <= total - hlen) {
          if (this.#written !== UDP4) this.#enterFastUdp4();
          this.dstMacOffset = offset;
          this.ttl = (c >>> 8) & 0xff;
          this.srcIpv4 = view.getUint32(l3 + 12);
          this.dstIpv4 = view.getUint32(l3 + 16);
          this.l3Length = total;
          this.l4Offset = l4;
          this.#ports = view.getUint32(l4);
          this.payloadOffset = l4 + 8;
          this.payloadLength = udpLength - 8;
          return OK;
        }
      }
    }
    return this.#parse(view, offset, length);
  }

  /** Before a fast-path parse that follows a different parse: the fields it does not write. */
  #enterFastUdp4(): void {
    const stale = this.#written & ~UDP4;
    this.#written = UDP4;
    if (stale !== 0) this.#reset(stale);
    this.status = OK;
    this.etherType = ETH_IPV4;
    this.ipVersion = 4;
    this.ipProtocol = PROTO_UDP;
    this.isFragment = false;
    this.fragmentOffset = 0;
  }

  /** The full parser: every frame shape, every error. */
  #parse(view: DataView, offset: number, length: number): number {
    let status: number = OK;
    let written = 0;
    let payloadOffset = -1, payloadLength = 0;
    // One block, left with `break parse` where parsing stops: the groups written so far are in
    // `written`, and the code after the block puts every other group back to its defaults.
    parse: {
      if (
        !(offset >= 0 && length >= 0 && offset + length <= view.byteLength) ||
        !Number.isInteger(offset) || !Number.isInteger(length)
      ) {
        status = BAD_BOUNDS;
        break parse;
      }
      if (length < 14) {
        status = TRUNCATED_L2;
        break parse;
      }
      const end = offset + length;
      this.dstMacOffset = offset;
      written = L2;

      let pos = offset + 14;
      let type = view.getUint16(offset + 12);
      if (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
        let count = 0;
        do {
          // TCI and the next type must fit; each tag advances 4 bytes, so the loop is bounded.
          if (pos + 4 > end) {
            status = TRUNCATED_L2;
            break;
          }
          const vid = view.getUint16(pos) & 0x0fff;
          if (count === 0) this.vlanId0 = vid;
          else if (count === 1) {
            this.vlanId1 = vid;
            written |= VLAN2;
          }
          count++;
          type = view.getUint16(pos + 2);
          pos += 4;
        } while (type === 0x8100 || type === 0x88a8 || type === 0x9100);
        if (count !== 0) {
          this.vlanCount = count;
          written |= VLAN;
        }
        if (status !== OK) break parse;
      }
      this.etherType = type;
      written |= ETH;
      payloadOffset = pos;
      payloadLength = end - pos;

      // Layer 3 leaves the upper-layer protocol, the offset of its header, the end of the IP
      // packet, and whether the packet is a fragment.
      let proto: number, l4: number, ipEnd: number, fragment: boolean;
      if (type === ETH_IPV4) {
        if (pos + 20 > end) {
          status = TRUNCATED_L3;
          break parse;
        }
        const vihl = view.getUint8(pos);
        const hlen = (vihl & 0x0f) * 4;
        if (vihl >> 4 !== 4 || hlen < 20) {
          status = BAD_L3;
          break parse;
        }
        const frag = view.getUint16(pos + 6);
        const fragmentOffset = frag & 0x1fff;
        fragment = (frag & 0x3fff) !== 0;
        proto = view.getUint8(pos + 9);
        this.ipVersion = 4;
        this.ttl = view.getUint8(pos + 8);
        this.ipProtocol = proto;
        this.srcIpv4 = view.getUint32(pos + 12);
        this.dstIpv4 = view.getUint32(pos + 16);
        this.fragmentOffset = fragmentOffset;
        this.isFragment = fragment;
        written |= IP | IPV4 | FRAG | PROTO;
        const total = view.getUint16(pos + 2);
        if (pos + hlen > end) {
          status = TRUNCATED_L3;
          break parse;
        }
        if (total < hlen) {
          status = BAD_L3;
          break parse;
        }
        ipEnd = pos + total;
        if (ipEnd > end) {
          status = TRUNCATED_L3;
          break parse;
        }
        this.l3Length = total;
        written |= L3LEN;
        l4 = pos + hlen;
        payloadOffset = l4;
        payloadLength = ipEnd - l4;
        // Later fragments carry no transport header: stop at the fragment data.
        if (fragmentOffset !== 0) break parse;
      } else if (type === ETH_IPV6) {
        if (pos + 40 > end) {
          status = TRUNCATED_L3;
          break parse;
        }
        if (view.getUint8(pos) >> 4 !== 6) {
          status = BAD_L3;
          break parse;
        }
        this.ipVersion = 6;
        this.ttl = view.getUint8(pos + 7);
        this.srcIpv6Offset = pos + 8;
        this.dstIpv6Offset = pos + 24;
        written |= IP | IPV6;
        const ipPayload = view.getUint16(pos + 4);
        let next = view.getUint8(pos + 6);
        ipEnd = pos + 40 + ipPayload;
        if (ipEnd > end) {
          status = TRUNCATED_L3;
          break parse;
        }
        this.l3Length = 40 + ipPayload;
        written |= L3LEN;
        let p = pos + 40;
        payloadOffset = p;
        payloadLength = ipEnd - p;
        fragment = false;
        // Hop-by-hop 0, routing 43, fragment 44, AH 51, destination options 60. Each header is at
        // least 8 bytes, so a chain of any shape ends within payloadLength / 8 steps.
        while (next === 0 || next === 43 || next === 44 || next === 51 || next === 60) {
          if (p + 8 > ipEnd) {
            status = TRUNCATED_EXTENSION;
            break parse;
          }
          let len: number, fragmentOffset = 0;
          if (next === 44) {
            len = 8;
            fragmentOffset = view.getUint16(p + 2) >> 3;
            fragment = true;
            this.isFragment = true;
            this.fragmentOffset = fragmentOffset;
            written |= FRAG;
          } else if (next === 51) len = (view.getUint8(p + 1) + 2) * 4;
          else len = (view.getUint8(p + 1) + 1) * 8;
          if (p + len > ipEnd) {
            status = TRUNCATED_EXTENSION;
            break parse;
          }
          next = view.getUint8(p);
          p += len;
          payloadOffset = p;
          payloadLength = ipEnd - p;
          if (fragmentOffset !== 0) {
            this.ipProtocol = next;
            written |= PROTO;
            break parse;
          }
        }
        proto = next;
        this.ipProtocol = next;
        written |= PROTO;
        l4 = p;
      } else {
        break parse;
      }

      const avail = ipEnd - l4;
      if (proto === PROTO_UDP) {
        if (avail < 8) {
          status = TRUNCATED_L4;
          break parse;
        }
        this.l4Offset = l4;
        this.#ports = view.getUint32(l4);
        written |= L4 | PORTS;
        const udpLength = view.getUint16(l4 + 4);
        payloadOffset = l4 + 8;
        if (udpLength >= 8 && udpLength <= avail) {
          payloadLength = udpLength - 8;
        } else {
          payloadLength = avail - 8;
          // A first fragment holds only the start of the datagram: that is not an error.
          if (udpLength < 8 || !fragment) status = BAD_L4;
        }
      } else if (proto === PROTO_TCP) {
        if (avail < 20) {
          status = TRUNCATED_L4;
          break parse;
        }
        this.l4Offset = l4;
        this.#ports = view.getUint32(l4);
        const w = view.getUint16(l4 + 12);
        this.tcpFlags = w & 0x01ff;
        written |= L4 | PORTS | TCP;
        const hlen = (w >> 12) * 4;
        if (hlen < 20) status = BAD_L4;
        else if (hlen > avail) status = TRUNCATED_L4;
        else {
          payloadOffset = l4 + hlen;
          payloadLength = avail - hlen;
        }
      } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
        if (avail < 4) {
          status = TRUNCATED_L4;
          break parse;
        }
        this.l4Offset = l4;
        this.icmpType = view.getUint8(l4);
        this.icmpCode = view.getUint8(l4 + 1);
        written |= L4 | ICMP;
        if (avail < 8) status = TRUNCATED_L4;
        else {
          payloadOffset = l4 + 8;
          payloadLength = avail - 8;
        }
      } else {
        this.l4Offset = l4;
        written |= L4;
      }
    }
    if (written & ETH) {
      this.payloadOffset = payloadOffset;
      this.payloadLength = payloadLength;
    }
    const stale = this.#written & ~written;
    this.#written = written;
    if (stale !== 0) this.#reset(stale);
    return this.status = status;
  }

  /** Puts the fields of `groups` back to their defaults. */
  #reset(groups: number): void {
    if (groups & L2) this.dstMacOffset = -1;
    if (groups & VLAN) {
      this.vlanCount = 0;
      this.vlanId0 = -1;
    }
    if (groups & VLAN2) this.vlanId1 = -1;
    if (groups & ETH) {
      this.etherType = -1;
      this.payloadOffset = -1;
      this.payloadLength = 0;
    }
    if (groups & IP) {
      this.ipVersion = 0;
      this.ttl = 0;
    }
    if (groups & IPV4) {
      this.srcIpv4 = 0;
      this.dstIpv4 = 0;
    }
    if (groups & IPV6) {
      this.srcIpv6Offset = -1;
      this.dstIpv6Offset = -1;
    }
    if (groups & FRAG) {
      this.isFragment = false;
      this.fragmentOffset = 0;
    }
    if (groups & PROTO) this.ipProtocol = -1;
    if (groups & L3LEN) this.l3Length = 0;
    if (groups & L4) this.l4Offset = -1;
    if (groups & PORTS) this.#ports = 0;
    if (groups & TCP) this.tcpFlags = 0;
    if (groups & ICMP) {
      this.icmpType = -1;
      this.icmpCode = -1;
    }
  }
}
