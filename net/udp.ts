/**
 * UDP headers (RFC 768) with checksums over IPv4 and IPv6 pseudo-headers.
 *
 * @module
 */

import {
  transportChecksumIpv4,
  transportChecksumIpv6,
  verifyTransportChecksumIpv4,
  verifyTransportChecksumIpv6,
} from "./checksum.ts";
import { HeaderView } from "./view.ts";

/** Length of the UDP header. */
export const UDP_HEADER_LENGTH = 8;

const PROTO_UDP = 17;

/**
 * A view over a UDP header. Attach it with the bytes from the UDP header to the end of the IP
 * payload; the datagram is the UDP length field clamped to that window.
 *
 * ```ts
 * import { UdpView } from "./udp.ts";
 * const udp = new UdpView();
 * const bytes = new Uint8Array(12);
 * if (udp.attach(new DataView(bytes.buffer), 0, bytes.length)) {
 *   udp.srcPort = 1234;
 *   udp.dstPort = 53;
 *   udp.length = 12;
 *   udp.updateChecksumIpv4(0x0a000001, 0x0a000002);
 * }
 * ```
 */
export class UdpView extends HeaderView {
  /** The UDP header is 8 bytes. */
  readonly minLength: number = UDP_HEADER_LENGTH;

  /** Source port. */
  get srcPort(): number {
    return this.valid ? this.view.getUint16(this.offset) : 0;
  }
  set srcPort(value: number) {
    if (this.valid) this.view.setUint16(this.offset, value);
  }

  /** Destination port. */
  get dstPort(): number {
    return this.valid ? this.view.getUint16(this.offset + 2) : 0;
  }
  set dstPort(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 2, value);
  }

  /** Length field: header plus payload bytes. */
  get length(): number {
    return this.valid ? this.view.getUint16(this.offset + 4) : 0;
  }
  set length(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 4, value);
  }

  /** Checksum as stored (0 = none, IPv4 only). */
  get checksum(): number {
    return this.valid ? this.view.getUint16(this.offset + 6) : 0;
  }
  set checksum(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 6, value);
  }

  /** True if 8 ≤ length field ≤ attached bytes. */
  get wellFormed(): boolean {
    const len = this.length;
    return this.valid && len >= UDP_HEADER_LENGTH && len <= this.byteLength;
  }

  /** Datagram length used for payload and checksum: the length field clamped to [8, attached]. */
  get datagramLength(): number {
    if (!this.valid) return 0;
    const len = this.length;
    return len < UDP_HEADER_LENGTH
      ? UDP_HEADER_LENGTH
      : len > this.byteLength
      ? this.byteLength
      : len;
  }

  /** Absolute offset of the payload. */
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LENGTH;
  }

  /** Payload bytes (datagram length minus 8). */
  get payloadLength(): number {
    return this.valid ? this.datagramLength - UDP_HEADER_LENGTH : 0;
  }

  /** Checksum of the datagram over an IPv4 pseudo-header (u32 addresses). */
  computeChecksumIpv4(srcIp: number, dstIp: number): number {
    if (!this.valid) return 0;
    return transportChecksumIpv4(
      this.view,
      this.offset,
      this.datagramLength,
      srcIp,
      dstIp,
      PROTO_UDP,
    );
  }

  /** Computes and stores the IPv4 checksum; returns it. */
  updateChecksumIpv4(srcIp: number, dstIp: number): number {
    const csum = this.computeChecksumIpv4(srcIp, dstIp);
    this.checksum = csum;
    return csum;
  }

  /** True if the stored checksum is correct (or 0, "none") over the IPv4 pseudo-header. */
  checksumValidIpv4(srcIp: number, dstIp: number): boolean {
    if (!this.valid) return false;
    return verifyTransportChecksumIpv4(
      this.view,
      this.offset,
      this.datagramLength,
      srcIp,
      dstIp,
      PROTO_UDP,
    );
  }

  /** Checksum over an IPv6 pseudo-header whose addresses are at the given offsets of the same view. */
  computeChecksumIpv6(srcOffset: number, dstOffset: number): number {
    if (!this.valid) return 0;
    return transportChecksumIpv6(
      this.view,
      this.offset,
      this.datagramLength,
      srcOffset,
      dstOffset,
      PROTO_UDP,
    );
  }

  /** Computes and stores the IPv6 checksum; returns it. */
  updateChecksumIpv6(srcOffset: number, dstOffset: number): number {
    const csum = this.computeChecksumIpv6(srcOffset, dstOffset);
    this.checksum = csum;
    return csum;
  }

  /** True if the stored checksum is correct over the IPv6 pseudo-header (0 is invalid for IPv6). */
  checksumValidIpv6(srcOffset: number, dstOffset: number): boolean {
    if (!this.valid) return false;
    return verifyTransportChecksumIpv6(
      this.view,
      this.offset,
      this.datagramLength,
      srcOffset,
      dstOffset,
      PROTO_UDP,
    );
  }
}
