/**
 * UDP headers (RFC 768) with checksums over IPv4 and IPv6 pseudo-headers.
 *
 * @module
 */

import { TransportView } from "./transport.ts";

/** Length of the UDP header. */
export const UDP_HEADER_LENGTH = 8;

const PROTO_UDP = 17;

/**
 * A view over a UDP header. Attach it with the bytes from the UDP header to the end of the IP
 * payload; the datagram is the UDP length field clamped to that window.
 *
 * ```ts
 * import { UdpView } from "@deno-dpdk/dpdk/net";
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
export class UdpView extends TransportView {
  /** IP protocol number. */
  readonly protocol: number = PROTO_UDP;
  /** The checksum field is at byte 6. */
  readonly checksumOffset: number = 6;
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

  /** The checksum covers the datagram as its length field gives it. */
  override get checksumLength(): number {
    return this.datagramLength;
  }

  /** Absolute offset of the payload. */
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LENGTH;
  }

  /** Payload bytes (datagram length minus 8). */
  get payloadLength(): number {
    return this.valid ? this.datagramLength - UDP_HEADER_LENGTH : 0;
  }
}
