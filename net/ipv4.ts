/**
 * IPv4 headers (RFC 791) and dotted-quad address helpers. Addresses are u32 numbers.
 *
 * @module
 */

import { checksumUpdate16, ipv4HeaderChecksum, verifyIpv4HeaderChecksum } from "./checksum.ts";
import { findTlvOption, HeaderView } from "./view.ts";

/** Length of an IPv4 header without options (IHL 5). */
export const IPV4_HEADER_LENGTH = 20;

/** Bits of the 3-bit flags field as returned by {@link Ipv4View.flags}. */
export const Ipv4Flags = {
  /** Don't fragment. */
  DF: 0x2,
  /** More fragments follow. */
  MF: 0x1,
} as const;

/**
 * Formats a u32 IPv4 address as a dotted quad.
 *
 * ```ts
 * import { ipv4ToString } from "@deno-dpdk/dpdk/net";
 * ipv4ToString(0xc0a80001); // "192.168.0.1"
 * ```
 */
export function ipv4ToString(ip: number): string {
  return `${(ip >>> 24) & 0xff}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/**
 * Parses a dotted-quad IPv4 address into a u32. Throws `TypeError` if malformed.
 *
 * ```ts
 * import { parseIpv4 } from "@deno-dpdk/dpdk/net";
 * parseIpv4("10.0.0.1"); // 0x0a000001
 * ```
 */
export function parseIpv4(text: string): number {
  const parts = text.trim().split(".");
  if (parts.length !== 4) throw new TypeError(`Invalid IPv4 address: "${text}"`);
  let ip = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) {
      throw new TypeError(`Invalid IPv4 address: "${text}"`);
    }
    ip = ip * 256 + Number(part);
  }
  return ip >>> 0;
}

/**
 * A view over an IPv4 header. Fixed fields work once 20 bytes are attached; variable parts
 * (options, payload) are clamped to the attached window, so a lying IHL or total length never
 * makes the view read past the packet. Check {@link Ipv4View.wellFormed} before trusting them.
 *
 * ```ts
 * import { Ipv4View } from "@deno-dpdk/dpdk/net";
 * const ip = new Ipv4View();
 * const bytes = new Uint8Array(20);
 * if (ip.attach(new DataView(bytes.buffer), 0, bytes.length)) {
 *   ip.versionIhl = 0x45;
 *   ip.ttl = 64;
 *   ip.updateChecksum();
 * }
 * ```
 */
export class Ipv4View extends HeaderView {
  /** The fixed IPv4 header is 20 bytes. */
  readonly minLength: number = IPV4_HEADER_LENGTH;

  /** The first byte: version (high nibble) and IHL (low nibble). */
  get versionIhl(): number {
    return this.valid ? this.view.getUint8(this.offset) : 0;
  }
  set versionIhl(value: number) {
    if (this.valid) this.view.setUint8(this.offset, value);
  }

  /** IP version (4 for a well-formed header). */
  get version(): number {
    return this.versionIhl >> 4;
  }

  /** Internet header length in 32-bit words (5..15). */
  get ihl(): number {
    return this.versionIhl & 0x0f;
  }

  /** Header length in bytes as the IHL claims (may exceed the packet; see wellFormed). */
  get headerLength(): number {
    return this.ihl * 4;
  }

  /** Type-of-service byte (DSCP << 2 | ECN). */
  get tos(): number {
    return this.valid ? this.view.getUint8(this.offset + 1) : 0;
  }
  set tos(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 1, value);
  }

  /** Differentiated services code point (6 bits). */
  get dscp(): number {
    return this.tos >> 2;
  }

  /** Explicit congestion notification (2 bits). */
  get ecn(): number {
    return this.tos & 3;
  }

  /** Total length field: header plus payload in bytes. */
  get totalLength(): number {
    return this.valid ? this.view.getUint16(this.offset + 2) : 0;
  }
  set totalLength(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 2, value);
  }

  /** Identification field (for fragment reassembly). */
  get identification(): number {
    return this.valid ? this.view.getUint16(this.offset + 4) : 0;
  }
  set identification(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 4, value);
  }

  /** The raw 16-bit flags + fragment offset word. */
  get flagsFragment(): number {
    return this.valid ? this.view.getUint16(this.offset + 6) : 0;
  }
  set flagsFragment(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 6, value);
  }

  /** The 3 flag bits; see {@link Ipv4Flags}. */
  get flags(): number {
    return this.flagsFragment >> 13;
  }

  /** Don't-fragment flag. */
  get dontFragment(): boolean {
    return (this.flagsFragment & 0x4000) !== 0;
  }

  /** More-fragments flag. */
  get moreFragments(): boolean {
    return (this.flagsFragment & 0x2000) !== 0;
  }

  /** Fragment offset in 8-byte units (multiply by 8 for bytes). */
  get fragmentOffset(): number {
    return this.flagsFragment & 0x1fff;
  }

  /** True if this packet is a fragment (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (this.flagsFragment & 0x3fff) !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.valid ? this.view.getUint8(this.offset + 8) : 0;
  }
  set ttl(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 8, value);
  }

  /** Protocol of the payload; see `IpProtocol`. */
  get protocol(): number {
    return this.valid ? this.view.getUint8(this.offset + 9) : 0;
  }
  set protocol(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 9, value);
  }

  /** Header checksum as stored. */
  get checksum(): number {
    return this.valid ? this.view.getUint16(this.offset + 10) : 0;
  }
  set checksum(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 10, value);
  }

  /** Source address (u32). */
  get src(): number {
    return this.valid ? this.view.getUint32(this.offset + 12) : 0;
  }
  set src(ip: number) {
    if (this.valid) this.view.setUint32(this.offset + 12, ip);
  }

  /** Destination address (u32). */
  get dst(): number {
    return this.valid ? this.view.getUint32(this.offset + 16) : 0;
  }
  set dst(ip: number) {
    if (this.valid) this.view.setUint32(this.offset + 16, ip);
  }

  /**
   * True if version is 4, IHL ≥ 5, and header ≤ total length ≤ attached bytes. Only then are
   * the options and payload exactly what the header says.
   */
  get wellFormed(): boolean {
    if (!this.valid || this.version !== 4 || this.ihl < 5) return false;
    const total = this.totalLength;
    return this.headerLength <= total && total <= this.byteLength;
  }

  /** Header length clamped to [20, attached bytes]. */
  get #boundedHeaderLength(): number {
    const hlen = this.headerLength;
    return hlen < IPV4_HEADER_LENGTH
      ? IPV4_HEADER_LENGTH
      : hlen > this.byteLength
      ? this.byteLength
      : hlen;
  }

  /** Absolute offset of the options (right after the 20 fixed bytes). */
  get optionsOffset(): number {
    return this.offset + IPV4_HEADER_LENGTH;
  }

  /** Bytes of options, clamped to the attached window (0 if not attached). */
  get optionsLength(): number {
    return this.valid ? this.#boundedHeaderLength - IPV4_HEADER_LENGTH : 0;
  }

  /** Absolute offset of the first option of `type` (e.g. 7 = record route), or -1. */
  findOption(type: number): number {
    if (!this.valid) return -1;
    const start = this.optionsOffset;
    return findTlvOption(this.view, start, start + this.optionsLength, type);
  }

  /** Absolute offset of the payload (after IHL*4 bytes, clamped to the packet). */
  get payloadOffset(): number {
    return this.valid ? this.offset + this.#boundedHeaderLength : this.offset;
  }

  /** Payload bytes: total length minus header, clamped to what is attached (never negative). */
  get payloadLength(): number {
    if (!this.valid) return 0;
    const total = this.totalLength;
    const end = total < this.byteLength ? total : this.byteLength;
    const n = end - this.#boundedHeaderLength;
    return n > 0 ? n : 0;
  }

  /** Computes the header checksum (field treated as zero); 0 if the header does not fit. */
  computeChecksum(): number {
    if (!this.valid || this.ihl < 5 || this.headerLength > this.byteLength) return 0;
    return ipv4HeaderChecksum(this.view, this.offset);
  }

  /** Computes and stores the header checksum; returns it. */
  updateChecksum(): number {
    const csum = this.computeChecksum();
    this.checksum = csum;
    return csum;
  }

  /** True if the stored checksum is correct (false if the header does not fit). */
  get checksumValid(): boolean {
    if (!this.valid || this.ihl < 5 || this.headerLength > this.byteLength) return false;
    return verifyIpv4HeaderChecksum(this.view, this.offset);
  }

  /**
   * Decrements the TTL and patches the checksum incrementally (RFC 1624), as a router does.
   * Returns the new TTL; a TTL already 0 is left alone and 0 is returned.
   */
  decrementTtl(): number {
    if (!this.valid) return 0;
    const v = this.view;
    const o = this.offset;
    const oldWord = v.getUint16(o + 8);
    if (oldWord < 0x100) return 0;
    const newWord = oldWord - 0x100;
    v.setUint16(o + 8, newWord);
    v.setUint16(o + 10, checksumUpdate16(v.getUint16(o + 10), oldWord, newWord));
    return newWord >> 8;
  }
}
