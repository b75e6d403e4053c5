/**
 * The checksum methods UDP, TCP and ICMPv6 headers share: the same pseudo-header
 * arithmetic, differing only in the protocol number, where the checksum field
 * sits and how many bytes it covers.
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

/** A header view whose checksum covers a pseudo-header (UDP, TCP, ICMPv6). */
export abstract class TransportView extends HeaderView {
  /** IP protocol number of the header (17 UDP, 6 TCP, 58 ICMPv6). */
  abstract readonly protocol: number;
  /** Offset of the 16-bit checksum field inside the header. */
  abstract readonly checksumOffset: number;

  /** Bytes the checksum covers: the attached segment (UDP narrows it to its length field). */
  get checksumLength(): number {
    return this.byteLength;
  }

  /** Checksum as stored. */
  get checksum(): number {
    return this.valid ? this.view.getUint16(this.offset + this.checksumOffset) : 0;
  }
  set checksum(value: number) {
    if (this.valid) this.view.setUint16(this.offset + this.checksumOffset, value);
  }

  /** Checksum of the segment over an IPv4 pseudo-header (u32 addresses). */
  computeChecksumIpv4(srcIp: number, dstIp: number): number {
    if (!this.valid) return 0;
    return transportChecksumIpv4(
      this.view,
      this.offset,
      this.checksumLength,
      srcIp,
      dstIp,
      this.protocol,
    );
  }

  /** Computes and stores the IPv4 checksum; returns it. */
  updateChecksumIpv4(srcIp: number, dstIp: number): number {
    const csum = this.computeChecksumIpv4(srcIp, dstIp);
    this.checksum = csum;
    return csum;
  }

  /** True if the stored checksum is correct over the IPv4 pseudo-header (UDP: or 0, "none"). */
  checksumValidIpv4(srcIp: number, dstIp: number): boolean {
    if (!this.valid) return false;
    return verifyTransportChecksumIpv4(
      this.view,
      this.offset,
      this.checksumLength,
      srcIp,
      dstIp,
      this.protocol,
    );
  }

  /** Checksum over an IPv6 pseudo-header whose addresses are at the given offsets of the same view. */
  computeChecksumIpv6(srcOffset: number, dstOffset: number): number {
    if (!this.valid) return 0;
    return transportChecksumIpv6(
      this.view,
      this.offset,
      this.checksumLength,
      srcOffset,
      dstOffset,
      this.protocol,
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
      this.checksumLength,
      srcOffset,
      dstOffset,
      this.protocol,
    );
  }
}
