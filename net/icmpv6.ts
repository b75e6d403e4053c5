/**
 * ICMPv6 (RFC 4443) echo and Neighbor Discovery (RFC 4861) solicitation/advertisement with
 * link-layer address options.
 *
 * @module
 */

import { checksumUpdate16 } from "./checksum.ts";
import { readMac } from "./ethernet.ts";
import { ipv6ToString } from "./ipv6.ts";
import { TransportView } from "./transport.ts";

const PROTO_ICMPV6 = 58;

/** Common ICMPv6 message types. */
export const Icmpv6Type = {
  /** Destination unreachable. */
  DESTINATION_UNREACHABLE: 1,
  /** Packet too big. */
  PACKET_TOO_BIG: 2,
  /** Time exceeded. */
  TIME_EXCEEDED: 3,
  /** Parameter problem. */
  PARAMETER_PROBLEM: 4,
  /** Echo request (ping6). */
  ECHO_REQUEST: 128,
  /** Echo reply. */
  ECHO_REPLY: 129,
  /** Router solicitation. */
  ROUTER_SOLICITATION: 133,
  /** Router advertisement. */
  ROUTER_ADVERTISEMENT: 134,
  /** Neighbor solicitation (IPv6's ARP request). */
  NEIGHBOR_SOLICITATION: 135,
  /** Neighbor advertisement (IPv6's ARP reply). */
  NEIGHBOR_ADVERTISEMENT: 136,
} as const;

/** One of the {@link Icmpv6Type} values. */
export type Icmpv6Type = typeof Icmpv6Type[keyof typeof Icmpv6Type];

/** Neighbor Discovery option types. */
export const NdpOption = {
  /** Source link-layer address. */
  SOURCE_LINK_LAYER_ADDRESS: 1,
  /** Target link-layer address. */
  TARGET_LINK_LAYER_ADDRESS: 2,
  /** Prefix information. */
  PREFIX_INFORMATION: 3,
  /** MTU. */
  MTU: 5,
} as const;

/** Flag bits of a neighbor advertisement, as in {@link Icmpv6View.advertisementFlags}. */
export const NeighborAdvertisementFlags = {
  /** Sender is a router. */
  ROUTER: 0x80,
  /** Sent in response to a solicitation. */
  SOLICITED: 0x40,
  /** Override an existing cache entry. */
  OVERRIDE: 0x20,
} as const;

/** Length of the ICMPv6 header (type, code, checksum, 4 bytes of message body). */
export const ICMPV6_HEADER_LENGTH = 8;
/** Length of a neighbor solicitation/advertisement before its options. */
export const NDP_NEIGHBOR_LENGTH = 24;

/**
 * A view over an ICMPv6 message. Attach it with the whole message length (IPv6 upper-layer
 * length). Checksums need the IPv6 addresses: pass their offsets in the same DataView (from
 * `Ipv6View.srcOffset` or `PacketParser.srcIpv6Offset`).
 *
 * ```ts
 * import { Icmpv6Type, Icmpv6View } from "@deno-dpdk/dpdk/net";
 * const icmp6 = new Icmpv6View();
 * const msg = new Uint8Array(32);
 * msg[0] = Icmpv6Type.NEIGHBOR_SOLICITATION;
 * if (icmp6.attach(new DataView(msg.buffer), 0, msg.length)) {
 *   icmp6.targetOffset; // 8
 *   icmp6.sourceLinkLayerAddress; // -1: no option
 * }
 * ```
 */
export class Icmpv6View extends TransportView {
  /** IP protocol number. */
  readonly protocol: number = PROTO_ICMPV6;
  /** The checksum field is at byte 2. */
  readonly checksumOffset: number = 2;
  /** Type, code, checksum and 4 bytes of body. */
  readonly minLength: number = ICMPV6_HEADER_LENGTH;

  /** Message type; see {@link Icmpv6Type}. */
  get type(): number {
    return this.valid ? this.view.getUint8(this.offset) : 0;
  }
  set type(value: number) {
    if (this.valid) this.view.setUint8(this.offset, value);
  }

  /** Message code. */
  get code(): number {
    return this.valid ? this.view.getUint8(this.offset + 1) : 0;
  }
  set code(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 1, value);
  }

  /** Echo identifier. */
  get identifier(): number {
    return this.valid ? this.view.getUint16(this.offset + 4) : 0;
  }
  set identifier(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 4, value);
  }

  /** Echo sequence number. */
  get sequence(): number {
    return this.valid ? this.view.getUint16(this.offset + 6) : 0;
  }
  set sequence(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 6, value);
  }

  /** Neighbor advertisement flag byte; see {@link NeighborAdvertisementFlags}. */
  get advertisementFlags(): number {
    return this.valid ? this.view.getUint8(this.offset + 4) & 0xe0 : 0;
  }
  set advertisementFlags(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 4, value & 0xe0);
  }

  /** Neighbor advertisement: router flag. */
  get router(): boolean {
    return (this.advertisementFlags & NeighborAdvertisementFlags.ROUTER) !== 0;
  }

  /** Neighbor advertisement: solicited flag. */
  get solicited(): boolean {
    return (this.advertisementFlags & NeighborAdvertisementFlags.SOLICITED) !== 0;
  }

  /** Neighbor advertisement: override flag. */
  get override(): boolean {
    return (this.advertisementFlags & NeighborAdvertisementFlags.OVERRIDE) !== 0;
  }

  /** True for a neighbor solicitation or advertisement with room for its target address. */
  get isNeighborMessage(): boolean {
    const t = this.type;
    return this.valid && this.byteLength >= NDP_NEIGHBOR_LENGTH &&
      (t === Icmpv6Type.NEIGHBOR_SOLICITATION || t === Icmpv6Type.NEIGHBOR_ADVERTISEMENT);
  }

  /** Absolute offset of the NDP target address, or -1 if the message is too short for one. */
  get targetOffset(): number {
    return this.valid && this.byteLength >= NDP_NEIGHBOR_LENGTH ? this.offset + 8 : -1;
  }

  /** NDP target address as text (allocates), or "" if absent. */
  get targetString(): string {
    const p = this.targetOffset;
    return p < 0 ? "" : ipv6ToString(this.view, p);
  }

  /** Absolute offset of the data after the 8-byte header (echo payload). */
  get payloadOffset(): number {
    return this.offset + ICMPV6_HEADER_LENGTH;
  }

  /** Bytes after the 8-byte header. */
  get payloadLength(): number {
    return this.valid ? this.byteLength - ICMPV6_HEADER_LENGTH : 0;
  }

  /**
   * Absolute offset of the first NDP option of `type` in a neighbor message, or -1. Options
   * have a length in 8-byte units; a zero length ends the walk (RFC 4861 says drop the packet).
   */
  findNdpOption(type: number): number {
    if (!this.valid || this.byteLength < NDP_NEIGHBOR_LENGTH) return -1;
    const v = this.view;
    const end = this.end;
    let p = this.offset + NDP_NEIGHBOR_LENGTH;
    while (p + 2 <= end) {
      const len = v.getUint8(p + 1) * 8;
      if (len === 0 || p + len > end) return -1;
      if (v.getUint8(p) === type) return p;
      p += len;
    }
    return -1;
  }

  #linkLayerAddress(type: number): number {
    const p = this.findNdpOption(type);
    // Ethernet link-layer options are exactly 8 bytes: type, length 1, 6-byte MAC.
    return p >= 0 && this.view.getUint8(p + 1) === 1 ? readMac(this.view, p + 2) : -1;
  }

  /** Source link-layer address option as a 48-bit MAC number, or -1. */
  get sourceLinkLayerAddress(): number {
    return this.#linkLayerAddress(NdpOption.SOURCE_LINK_LAYER_ADDRESS);
  }

  /** Target link-layer address option as a 48-bit MAC number, or -1. */
  get targetLinkLayerAddress(): number {
    return this.#linkLayerAddress(NdpOption.TARGET_LINK_LAYER_ADDRESS);
  }

  /** Checksum over the IPv6 pseudo-header (addresses at the given offsets of the same view). */
  computeChecksum(srcOffset: number, dstOffset: number): number {
    return this.computeChecksumIpv6(srcOffset, dstOffset);
  }

  /** Computes and stores the checksum; returns it. */
  updateChecksum(srcOffset: number, dstOffset: number): number {
    return this.updateChecksumIpv6(srcOffset, dstOffset);
  }

  /** True if the stored checksum is correct. */
  checksumValid(srcOffset: number, dstOffset: number): boolean {
    return this.checksumValidIpv6(srcOffset, dstOffset);
  }

  /**
   * Turns an echo request into an echo reply in place (type 128 → 129, checksum patched
   * incrementally). Swapping the IPv6 addresses afterwards keeps the checksum valid, since the
   * pseudo-header sum does not depend on their order. Returns false if not an echo request.
   */
  echoToReply(): boolean {
    if (!this.valid || this.type !== Icmpv6Type.ECHO_REQUEST) return false;
    const v = this.view;
    const o = this.offset;
    const oldWord = v.getUint16(o);
    const newWord = (Icmpv6Type.ECHO_REPLY << 8) | (oldWord & 0xff);
    v.setUint16(o, newWord);
    v.setUint16(o + 2, checksumUpdate16(v.getUint16(o + 2), oldWord, newWord));
    return true;
  }
}
