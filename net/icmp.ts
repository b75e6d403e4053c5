/**
 * ICMP for IPv4 (RFC 792), focused on echo request/reply.
 *
 * @module
 */

import { checksumUpdate16, foldSum, internetChecksum, sum16 } from "./checksum.ts";
import { HeaderView } from "./view.ts";

/** Common ICMPv4 message types. */
export const IcmpType = {
  /** Echo reply (ping answer). */
  ECHO_REPLY: 0,
  /** Destination unreachable. */
  DESTINATION_UNREACHABLE: 3,
  /** Echo request (ping). */
  ECHO_REQUEST: 8,
  /** Time exceeded (TTL reached 0). */
  TIME_EXCEEDED: 11,
} as const;

/** One of the {@link IcmpType} values. */
export type IcmpType = typeof IcmpType[keyof typeof IcmpType];

/** Length of the ICMP header (type, code, checksum, 4 bytes of rest-of-header). */
export const ICMP_HEADER_LENGTH = 8;

/**
 * A view over an ICMPv4 message. Attach it with the whole ICMP message length (the IPv4 payload
 * length): the checksum covers all of it.
 *
 * ```ts
 * import { IcmpType, IcmpView } from "@deno-dpdk/dpdk/net";
 * const icmp = new IcmpView();
 * const msg = new Uint8Array(16);
 * if (icmp.attach(new DataView(msg.buffer), 0, msg.length)) {
 *   icmp.type = IcmpType.ECHO_REQUEST;
 *   icmp.updateChecksum();
 * }
 * ```
 */
export class IcmpView extends HeaderView {
  /** Type, code, checksum and the 4-byte rest of header. */
  readonly minLength: number = ICMP_HEADER_LENGTH;

  /** Message type; see {@link IcmpType}. */
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

  /** Checksum as stored. */
  get checksum(): number {
    return this.valid ? this.view.getUint16(this.offset + 2) : 0;
  }
  set checksum(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 2, value);
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

  /** Absolute offset of the data after the 8-byte header. */
  get payloadOffset(): number {
    return this.offset + ICMP_HEADER_LENGTH;
  }

  /** Bytes of data after the header. */
  get payloadLength(): number {
    return this.valid ? this.byteLength - ICMP_HEADER_LENGTH : 0;
  }

  /** Computes the checksum over the attached message (field treated as zero). */
  computeChecksum(): number {
    if (!this.valid) return 0;
    // The sum is a plain integer, so the stored field is removed by exact subtraction.
    const sum = sum16(this.view, this.offset, this.byteLength) -
      this.view.getUint16(this.offset + 2);
    return ~foldSum(sum) & 0xffff;
  }

  /** Computes and stores the checksum; returns it. */
  updateChecksum(): number {
    const csum = this.computeChecksum();
    this.checksum = csum;
    return csum;
  }

  /** True if the stored checksum is correct over the attached message. */
  get checksumValid(): boolean {
    return this.valid && internetChecksum(this.view, this.offset, this.byteLength) === 0;
  }

  /**
   * Turns an echo request into an echo reply in place (type 8 → 0, checksum patched
   * incrementally). Returns false and changes nothing if this is not an echo request.
   */
  echoToReply(): boolean {
    if (!this.valid || this.type !== IcmpType.ECHO_REQUEST) return false;
    const v = this.view;
    const o = this.offset;
    const oldWord = v.getUint16(o);
    const newWord = oldWord & 0x00ff;
    v.setUint16(o, newWord);
    v.setUint16(o + 2, checksumUpdate16(v.getUint16(o + 2), oldWord, newWord));
    return true;
  }
}
