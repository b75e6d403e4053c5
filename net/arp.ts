/**
 * ARP for Ethernet and IPv4 (RFC 826).
 *
 * @module
 */

import { readMac, writeMac } from "./ethernet.ts";
import { HeaderView } from "./view.ts";

/** ARP operation codes. */
export const ArpOperation = {
  /** Who has this IPv4 address? */
  REQUEST: 1,
  /** I have it, here is my MAC. */
  REPLY: 2,
} as const;

/** One of the {@link ArpOperation} values. */
export type ArpOperation = typeof ArpOperation[keyof typeof ArpOperation];

/** Length of an Ethernet/IPv4 ARP packet (without Ethernet header or padding). */
export const ARP_LENGTH = 28;

/**
 * A view over an Ethernet/IPv4 ARP packet. Addresses are numbers: MACs 48-bit, IPv4 u32.
 * The address getters assume the Ethernet/IPv4 layout; check {@link ArpView.isEthernetIpv4}.
 *
 * ```ts
 * import { ArpView, ArpOperation } from "@deno-dpdk/dpdk/net";
 * const bytes = new Uint8Array(28);
 * const arp = new ArpView();
 * arp.attach(new DataView(bytes.buffer), 0, bytes.length);
 * if (arp.operation === ArpOperation.REQUEST) arp.makeReply(0x020000000001);
 * ```
 */
export class ArpView extends HeaderView {
  /** An Ethernet/IPv4 ARP packet is 28 bytes. */
  readonly minLength: number = ARP_LENGTH;

  /** Hardware type (1 = Ethernet). */
  get hardwareType(): number {
    return this.valid ? this.view.getUint16(this.offset) : 0;
  }
  set hardwareType(value: number) {
    if (this.valid) this.view.setUint16(this.offset, value);
  }

  /** Protocol type (0x0800 = IPv4). */
  get protocolType(): number {
    return this.valid ? this.view.getUint16(this.offset + 2) : 0;
  }
  set protocolType(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 2, value);
  }

  /** Hardware address length (6 for Ethernet). */
  get hardwareLength(): number {
    return this.valid ? this.view.getUint8(this.offset + 4) : 0;
  }
  set hardwareLength(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 4, value);
  }

  /** Protocol address length (4 for IPv4). */
  get protocolLength(): number {
    return this.valid ? this.view.getUint8(this.offset + 5) : 0;
  }
  set protocolLength(value: number) {
    if (this.valid) this.view.setUint8(this.offset + 5, value);
  }

  /** True if this is Ethernet (1) / IPv4 (0x0800) with lengths 6 and 4. */
  get isEthernetIpv4(): boolean {
    return this.valid && this.hardwareType === 1 && this.protocolType === 0x0800 &&
      this.hardwareLength === 6 && this.protocolLength === 4;
  }

  /** Operation: see {@link ArpOperation}. */
  get operation(): number {
    return this.valid ? this.view.getUint16(this.offset + 6) : 0;
  }
  set operation(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 6, value);
  }

  /** Sender hardware address (48-bit number). */
  get senderMac(): number {
    return this.valid ? readMac(this.view, this.offset + 8) : 0;
  }
  set senderMac(mac: number) {
    if (this.valid) writeMac(this.view, this.offset + 8, mac);
  }

  /** Sender IPv4 address (u32). */
  get senderIp(): number {
    return this.valid ? this.view.getUint32(this.offset + 14) : 0;
  }
  set senderIp(ip: number) {
    if (this.valid) this.view.setUint32(this.offset + 14, ip);
  }

  /** Target hardware address (48-bit number; zero in requests). */
  get targetMac(): number {
    return this.valid ? readMac(this.view, this.offset + 18) : 0;
  }
  set targetMac(mac: number) {
    if (this.valid) writeMac(this.view, this.offset + 18, mac);
  }

  /** Target IPv4 address (u32). */
  get targetIp(): number {
    return this.valid ? this.view.getUint32(this.offset + 24) : 0;
  }
  set targetIp(ip: number) {
    if (this.valid) this.view.setUint32(this.offset + 24, ip);
  }

  /**
   * Turns a request into the reply in place: operation 2, the old sender becomes the target, and
   * `mac` (ours) with the old target IP becomes the sender. The Ethernet header is not touched.
   */
  makeReply(mac: number): void {
    if (!this.valid) return;
    const senderMac = this.senderMac;
    const senderIp = this.senderIp;
    const targetIp = this.targetIp;
    this.operation = ArpOperation.REPLY;
    this.targetMac = senderMac;
    this.targetIp = senderIp;
    this.senderMac = mac;
    this.senderIp = targetIp;
  }
}
