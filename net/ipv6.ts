/**
 * IPv6 headers (RFC 8200), extension-header walking, and address text helpers (RFC 5952).
 * Addresses stay in the packet: views report their offsets, strings are for printing.
 *
 * @module
 */

import type { ByteSource } from "./checksum.ts";
import { HeaderView } from "./view.ts";

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;

function byteAt(bytes: ByteSource, index: number): number {
  return bytes instanceof DataView ? bytes.getUint8(index) : bytes[index];
}

/**
 * Formats the 16-byte address at `offset` in RFC 5952 form: lowercase, leading zeros dropped, the
 * longest run (≥ 2) of zero groups replaced by `::`.
 *
 * ```ts
 * import { ipv6ToString, parseIpv6 } from "@deno-dpdk/dpdk/net";
 * ipv6ToString(parseIpv6("2001:0db8:0000:0000:0000:0000:0000:0001")); // "2001:db8::1"
 * ```
 */
export function ipv6ToString(bytes: ByteSource, offset = 0): string {
  if (!(offset >= 0 && offset + 16 <= bytes.byteLength)) {
    throw new RangeError(`An IPv6 address at ${offset} does not fit in ${bytes.byteLength} bytes`);
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i++) {
    words.push((byteAt(bytes, offset + 2 * i) << 8) | byteAt(bytes, offset + 2 * i + 1));
  }
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not compressed.
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return words.map((w) => w.toString(16)).join(":");
  const head = words.slice(0, bestStart).map((w) => w.toString(16)).join(":");
  const tail = words.slice(bestStart + bestLength).map((w) => w.toString(16)).join(":");
  return `${head}::${tail}`;
}

function parseGroups(text: string, original: string, allowIpv4: boolean): number[] {
  if (text === "") return [];
  const parts = text.split(":");
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (allowIpv4 && i === parts.length - 1 && part.includes(".")) {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(part);
      if (m === null || m.slice(1).some((x) => Number(x) > 255)) {
        throw new TypeError(`Invalid IPv6 address: "${original}"`);
      }
      words.push(Number(m[1]) * 256 + Number(m[2]), Number(m[3]) * 256 + Number(m[4]));
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
      words.push(parseInt(part, 16));
    } else {
      throw new TypeError(`Invalid IPv6 address: "${original}"`);
    }
  }
  return words;
}

/**
 * Parses an IPv6 address (with optional `::` and a trailing dotted IPv4 part) into 16 bytes.
 * Throws `TypeError` if malformed. Zone ids (`%eth0`) are not accepted.
 *
 * ```ts
 * import { parseIpv6 } from "@deno-dpdk/dpdk/net";
 * parseIpv6("fe80::1")[15]; // 1
 * ```
 */
export function parseIpv6(text: string): Uint8Array {
  const s = text.trim();
  const halves = s.split("::");
  if (halves.length > 2) throw new TypeError(`Invalid IPv6 address: "${text}"`);
  let words: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0], text, false);
    const tail = parseGroups(halves[1], text, true);
    if (head.length + tail.length > 7) throw new TypeError(`Invalid IPv6 address: "${text}"`);
    words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    words = parseGroups(s, text, true);
    if (words.length !== 8) throw new TypeError(`Invalid IPv6 address: "${text}"`);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** True for next-header values that {@link Ipv6View.walkExtensionHeaders} skips (0, 43, 44, 51, 60). */
export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return nextHeader === 0 || nextHeader === 43 || nextHeader === 44 || nextHeader === 51 ||
    nextHeader === 60;
}

/**
 * A view over an IPv6 header. Addresses are reported as absolute offsets
 * ({@link Ipv6View.srcOffset}) so nothing is copied; {@link Ipv6View.walkExtensionHeaders}
 * finds the upper-layer protocol behind hop-by-hop, routing, fragment, AH and destination options.
 *
 * ```ts
 * import { Ipv6View } from "@deno-dpdk/dpdk/net";
 * const ip6 = new Ipv6View();
 * const bytes = new Uint8Array(48);
 * bytes[0] = 0x60;
 * bytes[6] = 59; // no next header
 * if (ip6.attach(new DataView(bytes.buffer), 0, bytes.length) && ip6.walkExtensionHeaders()) {
 *   ip6.upperLayerProtocol; // 59
 * }
 * ```
 */
export class Ipv6View extends HeaderView {
  /** The fixed IPv6 header is 40 bytes. */
  readonly minLength: number = IPV6_HEADER_LENGTH;
  /** Set by walkExtensionHeaders: the upper-layer protocol (e.g. 6, 17, 58), or -1. */
  upperLayerProtocol: number = -1;
  /** Set by walkExtensionHeaders: absolute offset of the upper-layer header, or -1. */
  upperLayerOffset: number = -1;
  /** Set by walkExtensionHeaders: absolute offset of the fragment header, or -1 if none. */
  fragmentHeaderOffset: number = -1;
  /** Set by walkExtensionHeaders: number of extension headers skipped. */
  extensionCount: number = 0;

  /** Attaches like {@link HeaderView.attach} and clears the extension-walk results. */
  override attach(view: DataView, offset: number, length: number): boolean {
    this.upperLayerProtocol = -1;
    this.upperLayerOffset = -1;
    this.fragmentHeaderOffset = -1;
    this.extensionCount = 0;
    return super.attach(view, offset, length);
  }

  /** IP version (6 for a well-formed header). */
  get version(): number {
    return this.valid ? this.view.getUint8(this.offset) >> 4 : 0;
  }

  /** The first 32-bit word: version, traffic class, flow label. */
  get versionClassFlow(): number {
    return this.valid ? this.view.getUint32(this.offset) : 0;
  }
  set versionClassFlow(value: number) {
    if (this.valid) this.view.setUint32(this.offset, value);
  }

  /** Traffic class (8 bits). */
  get trafficClass(): number {
    return (this.versionClassFlow >>> 20) & 0xff;
  }

  /** Flow label (20 bits). */
  get flowLabel(): number {
    return this.versionClassFlow & 0xfffff;
  }

  /** Payload length field (bytes after the fixed header, extension headers included). */
  get payloadLength(): number {
    return this.valid ? this.view.getUint16(this.offset + 4) : 0;
  }
  set payloadLength(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 4, value);
  }

  /** Next header of the fixed header (may be an extension header). */
  get nextHeader(): number {
    return this.valid ? this.view.getUint8(this.offset + 6) : 0;
  }
  set nextHeader(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 6, value);
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.valid ? this.view.getUint8(this.offset + 7) : 0;
  }
  set hopLimit(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 7, value);
  }

  /** Absolute offset of the 16-byte source address. */
  get srcOffset(): number {
    return this.offset + 8;
  }

  /** Absolute offset of the 16-byte destination address. */
  get dstOffset(): number {
    return this.offset + 24;
  }

  /** Source address as text (allocates; for logging). Empty string if not attached. */
  get srcString(): string {
    return this.valid ? ipv6ToString(this.view, this.offset + 8) : "";
  }

  /** Destination address as text (allocates; for logging). Empty string if not attached. */
  get dstString(): string {
    return this.valid ? ipv6ToString(this.view, this.offset + 24) : "";
  }

  /** Copies a 16-byte address into the source field. */
  setSrc(address: Uint8Array): void {
    if (!this.valid) return;
    for (let i = 0; i < 16; i++) this.view.setUint8(this.offset + 8 + i, address[i]);
  }

  /** Copies a 16-byte address into the destination field. */
  setDst(address: Uint8Array): void {
    if (!this.valid) return;
    for (let i = 0; i < 16; i++) this.view.setUint8(this.offset + 24 + i, address[i]);
  }

  /** Absolute offset right after the fixed header. */
  get payloadOffset(): number {
    return this.offset + IPV6_HEADER_LENGTH;
  }

  /** Absolute end of the IPv6 packet: fixed header + payload length, clamped to the attached bytes. */
  get packetEnd(): number {
    const end = this.payloadOffset + this.payloadLength;
    return end < this.end ? end : this.end;
  }

  /** True if version is 6 and the payload length fits in the attached bytes. */
  get wellFormed(): boolean {
    return this.valid && this.version === 6 &&
      IPV6_HEADER_LENGTH + this.payloadLength <= this.byteLength;
  }

  /**
   * Walks the extension headers and stores the result in {@link Ipv6View.upperLayerProtocol},
   * {@link Ipv6View.upperLayerOffset} and {@link Ipv6View.fragmentHeaderOffset}. Stops at the
   * first non-extension protocol (ESP and "no next header" included) or, for a non-first
   * fragment, right after the fragment header. Returns false if a header runs past
   * {@link Ipv6View.packetEnd}. Each step advances at least 8 bytes, so loops cannot hang.
   */
  walkExtensionHeaders(): boolean {
    this.upperLayerProtocol = -1;
    this.upperLayerOffset = -1;
    this.fragmentHeaderOffset = -1;
    this.extensionCount = 0;
    if (!this.valid) return false;
    const v = this.view;
    const end = this.packetEnd;
    let next = this.nextHeader;
    let p = this.payloadOffset;
    while (isIpv6ExtensionHeader(next)) {
      if (p + 8 > end) return false;
      let len: number;
      if (next === 44) {
        len = 8;
        this.fragmentHeaderOffset = p;
      } else if (next === 51) len = (v.getUint8(p + 1) + 2) * 4;
      else len = (v.getUint8(p + 1) + 1) * 8;
      if (p + len > end) return false;
      const fragmentOffset = next === 44 ? v.getUint16(p + 2) >> 3 : 0;
      next = v.getUint8(p);
      p += len;
      this.extensionCount++;
      // Headers after the fragment header of a non-first fragment are not in this packet.
      if (fragmentOffset !== 0) break;
    }
    this.upperLayerProtocol = next;
    this.upperLayerOffset = p;
    return true;
  }

  /** Fragment offset in 8-byte units from the fragment header (0 if none; walk first). */
  get fragmentOffset(): number {
    const f = this.fragmentHeaderOffset;
    return f < 0 ? 0 : this.view.getUint16(f + 2) >> 3;
  }

  /** More-fragments flag from the fragment header (false if none; walk first). */
  get moreFragments(): boolean {
    const f = this.fragmentHeaderOffset;
    return f < 0 ? false : (this.view.getUint16(f + 2) & 1) === 1;
  }

  /** Decrements the hop limit (no checksum in IPv6); returns the new value, 0 stays 0. */
  decrementHopLimit(): number {
    const h = this.hopLimit;
    if (h === 0) return 0;
    this.hopLimit = h - 1;
    return h - 1;
  }
}
