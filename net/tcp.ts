/**
 * TCP headers (RFC 9293): flags, data offset, bounded option lookup, checksums.
 *
 * @module
 */

import { TransportView } from "./transport.ts";
import { findTlvOption } from "./view.ts";

/** Length of a TCP header without options (data offset 5). */
export const TCP_HEADER_LENGTH = 20;

const PROTO_TCP = 6;

/** TCP flag bits as returned by {@link TcpView.flags} (9 bits, NS highest). */
export const TcpFlags = {
  /** No more data from sender. */
  FIN: 0x001,
  /** Synchronize sequence numbers. */
  SYN: 0x002,
  /** Reset the connection. */
  RST: 0x004,
  /** Push function. */
  PSH: 0x008,
  /** Acknowledgment field is significant. */
  ACK: 0x010,
  /** Urgent pointer field is significant. */
  URG: 0x020,
  /** ECN echo. */
  ECE: 0x040,
  /** Congestion window reduced. */
  CWR: 0x080,
  /** ECN nonce (historic, RFC 3540). */
  NS: 0x100,
} as const;

/** TCP option kinds. */
export const TcpOption = {
  /** End of option list. */
  END: 0,
  /** No-operation (padding). */
  NOP: 1,
  /** Maximum segment size (length 4). */
  MSS: 2,
  /** Window scale (length 3). */
  WINDOW_SCALE: 3,
  /** SACK permitted (length 2). */
  SACK_PERMITTED: 4,
  /** Selective acknowledgment blocks. */
  SACK: 5,
  /** Timestamps (length 10). */
  TIMESTAMP: 8,
} as const;

/**
 * A view over a TCP header. Attach it with the bytes from the TCP header to the end of the IP
 * payload: TCP has no length field, so that window is the segment the checksum covers. Options
 * are looked up inside the data offset clamped to the window, never beyond.
 *
 * ```ts
 * import { TcpFlags, TcpView } from "@deno-dpdk/dpdk/net";
 * const tcp = new TcpView();
 * const bytes = new Uint8Array(20);
 * bytes[12] = 0x50;
 * if (tcp.attach(new DataView(bytes.buffer), 0, bytes.length)) {
 *   tcp.flags = TcpFlags.SYN;
 *   tcp.mss; // -1: no MSS option
 * }
 * ```
 */
export class TcpView extends TransportView {
  /** IP protocol number. */
  readonly protocol: number = PROTO_TCP;
  /** The checksum field is at byte 16. */
  readonly checksumOffset: number = 16;
  /** The fixed TCP header is 20 bytes. */
  readonly minLength: number = TCP_HEADER_LENGTH;

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

  /** Sequence number (u32). */
  get seq(): number {
    return this.valid ? this.view.getUint32(this.offset + 4) : 0;
  }
  set seq(value: number) {
    if (this.valid) this.view.setUint32(this.offset + 4, value);
  }

  /** Acknowledgment number (u32). */
  get ack(): number {
    return this.valid ? this.view.getUint32(this.offset + 8) : 0;
  }
  set ack(value: number) {
    if (this.valid) this.view.setUint32(this.offset + 8, value);
  }

  /** Data offset in 32-bit words (5..15). */
  get dataOffset(): number {
    return this.valid ? this.view.getUint8(this.offset + 12) >> 4 : 0;
  }
  set dataOffset(words: number) {
    if (!this.valid) return;
    const b = this.view.getUint8(this.offset + 12);
    this.view.setUint8(this.offset + 12, ((words & 0x0f) << 4) | (b & 0x0f));
  }

  /** Header length in bytes as the data offset claims. */
  get headerLength(): number {
    return this.dataOffset * 4;
  }

  /** The 9 flag bits; see {@link TcpFlags}. The data offset is preserved when set. */
  get flags(): number {
    return this.valid ? this.view.getUint16(this.offset + 12) & 0x01ff : 0;
  }
  set flags(value: number) {
    if (!this.valid) return;
    const w = this.view.getUint16(this.offset + 12);
    this.view.setUint16(this.offset + 12, (w & 0xfe00) | (value & 0x01ff));
  }

  /** True if every bit of `mask` is set in the flags. */
  hasFlags(mask: number): boolean {
    return (this.flags & mask) === mask;
  }

  /** Receive window. */
  get window(): number {
    return this.valid ? this.view.getUint16(this.offset + 14) : 0;
  }
  set window(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 14, value);
  }

  /** Urgent pointer. */
  get urgentPointer(): number {
    return this.valid ? this.view.getUint16(this.offset + 18) : 0;
  }
  set urgentPointer(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 18, value);
  }

  /** True if 5 ≤ data offset and the header fits in the attached bytes. */
  get wellFormed(): boolean {
    const hlen = this.headerLength;
    return this.valid && hlen >= TCP_HEADER_LENGTH && hlen <= this.byteLength;
  }

  /** Header length clamped to [20, attached bytes]. */
  get #boundedHeaderLength(): number {
    const hlen = this.headerLength;
    return hlen < TCP_HEADER_LENGTH
      ? TCP_HEADER_LENGTH
      : hlen > this.byteLength
      ? this.byteLength
      : hlen;
  }

  /** Absolute offset of the options. */
  get optionsOffset(): number {
    return this.offset + TCP_HEADER_LENGTH;
  }

  /** Bytes of options (clamped to the attached window). */
  get optionsLength(): number {
    return this.valid ? this.#boundedHeaderLength - TCP_HEADER_LENGTH : 0;
  }

  /** Absolute offset of the payload. */
  get payloadOffset(): number {
    return this.valid ? this.offset + this.#boundedHeaderLength : this.offset;
  }

  /** Payload bytes: attached bytes minus the (clamped) header length. */
  get payloadLength(): number {
    return this.valid ? this.byteLength - this.#boundedHeaderLength : 0;
  }

  /**
   * Absolute offset of the first option of `kind` (see {@link TcpOption}), or -1 if absent or
   * the option list is malformed before it. Bounded by the header; no allocation.
   */
  findOption(kind: number): number {
    if (!this.valid) return -1;
    const start = this.optionsOffset;
    return findTlvOption(this.view, start, start + this.optionsLength, kind);
  }

  #optionWithLength(kind: number, length: number): number {
    const p = this.findOption(kind);
    return p >= 0 && this.view.getUint8(p + 1) === length ? p : -1;
  }

  /** Maximum segment size option, or -1. */
  get mss(): number {
    const p = this.#optionWithLength(TcpOption.MSS, 4);
    return p < 0 ? -1 : this.view.getUint16(p + 2);
  }

  /** Window scale shift option, or -1. */
  get windowScale(): number {
    const p = this.#optionWithLength(TcpOption.WINDOW_SCALE, 3);
    return p < 0 ? -1 : this.view.getUint8(p + 2);
  }

  /** True if the SACK-permitted option is present. */
  get sackPermitted(): boolean {
    return this.#optionWithLength(TcpOption.SACK_PERMITTED, 2) >= 0;
  }

  /** Timestamp value (TSval) option, or -1. */
  get timestampValue(): number {
    const p = this.#optionWithLength(TcpOption.TIMESTAMP, 10);
    return p < 0 ? -1 : this.view.getUint32(p + 2);
  }

  /** Timestamp echo reply (TSecr) option, or -1. */
  get timestampEcho(): number {
    const p = this.#optionWithLength(TcpOption.TIMESTAMP, 10);
    return p < 0 ? -1 : this.view.getUint32(p + 6);
  }
}
