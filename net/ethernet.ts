/**
 * Ethernet II headers, 802.1Q/802.1ad VLAN tags and MAC address helpers.
 *
 * On the hot path a MAC address is a 48-bit number (exact in a double), so comparing or copying
 * one allocates nothing; strings and byte arrays are for configuration and printing.
 *
 * @module
 */

import type { ByteSource } from "./checksum.ts";
import { HeaderView } from "./view.ts";

/** EtherType values this package understands. */
export const EtherType = {
  /** Internet Protocol version 4. */
  IPV4: 0x0800,
  /** Address Resolution Protocol. */
  ARP: 0x0806,
  /** IEEE 802.1Q VLAN tag (customer tag). */
  VLAN: 0x8100,
  /** IEEE 802.1ad service tag (outer tag of QinQ). */
  QINQ: 0x88a8,
  /** Internet Protocol version 6. */
  IPV6: 0x86dd,
} as const;

/** One of the {@link EtherType} values. */
export type EtherType = typeof EtherType[keyof typeof EtherType];

/** Length of an untagged Ethernet II header: destination, source, EtherType. */
export const ETHERNET_HEADER_LENGTH = 14;
/** Length of one VLAN tag (TPID + TCI). */
export const VLAN_TAG_LENGTH = 4;
/** The broadcast MAC address ff:ff:ff:ff:ff:ff as a 48-bit number. */
export const BROADCAST_MAC = 0xffffffffffff;

const TWO_32 = 0x100000000;

/** True for the tag protocol identifiers the views and parser skip (0x8100, 0x88a8, legacy 0x9100). */
export function isVlanTpid(etherType: number): boolean {
  return etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100;
}

/**
 * Reads the MAC address at `offset` as a 48-bit number. No allocation.
 *
 * ```ts
 * import { readMac } from "@deno-dpdk/dpdk/net";
 * const v = new DataView(new Uint8Array([2, 0, 0, 0, 0, 1]).buffer);
 * readMac(v, 0).toString(16); // "20000000001"
 * ```
 */
export function readMac(view: DataView, offset: number): number {
  return view.getUint16(offset) * TWO_32 + view.getUint32(offset + 2);
}

/** Writes a 48-bit number MAC address at `offset`. No allocation. */
export function writeMac(view: DataView, offset: number, mac: number): void {
  view.setUint16(offset, Math.floor(mac / TWO_32));
  view.setUint32(offset + 2, mac >>> 0);
}

/**
 * Formats a MAC address as lowercase `aa:bb:cc:dd:ee:ff`, from a 48-bit number or from 6 bytes
 * at `offset` of a byte source.
 *
 * ```ts
 * import { macToString } from "@deno-dpdk/dpdk/net";
 * macToString(0x020000000001); // "02:00:00:00:00:01"
 * ```
 */
export function macToString(mac: number | ByteSource, offset = 0): string {
  let value: number;
  if (typeof mac === "number") value = mac;
  else if (mac instanceof DataView) value = readMac(mac, offset);
  else value = readMac(new DataView(mac.buffer, mac.byteOffset, mac.byteLength), offset);
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
    s += (byte < 16 ? "0" : "") + byte.toString(16) + (i > 0 ? ":" : "");
  }
  return s;
}

const MAC_PATTERN =
  /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i;

/**
 * Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators) into 6 bytes. Throws `TypeError` if malformed.
 *
 * ```ts
 * import { parseMac } from "@deno-dpdk/dpdk/net";
 * parseMac("02:00:00:00:00:01"); // Uint8Array [2, 0, 0, 0, 0, 1]
 * ```
 */
export function parseMac(text: string): Uint8Array {
  const m = MAC_PATTERN.exec(text.trim());
  if (m === null) throw new TypeError(`Invalid MAC address: "${text}"`);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(m[i + 1], 16);
  return out;
}

/** Converts a MAC given as a string, 6 bytes or a number into the 48-bit number form. */
export function macToNumber(mac: string | Uint8Array | number): number {
  if (typeof mac === "number") {
    if (!Number.isInteger(mac) || mac < 0 || mac > BROADCAST_MAC) {
      throw new TypeError(`Invalid MAC address number: ${mac}`);
    }
    return mac;
  }
  const bytes = typeof mac === "string" ? parseMac(mac) : mac;
  if (bytes.length !== 6) throw new TypeError(`A MAC address has 6 bytes, got ${bytes.length}`);
  return readMac(new DataView(bytes.buffer, bytes.byteOffset, 6), 0);
}

/**
 * A view over an Ethernet II header, including any stacked VLAN tags.
 *
 * ```ts
 * import { EthernetView } from "@deno-dpdk/dpdk/net";
 * const frame = new Uint8Array(60);
 * const eth = new EthernetView();
 * if (eth.attach(new DataView(frame.buffer), 0, frame.length)) {
 *   eth.swapMacs();
 * }
 * ```
 */
export class EthernetView extends HeaderView {
  /** The untagged header is 14 bytes. */
  readonly minLength: number = ETHERNET_HEADER_LENGTH;

  /** Destination MAC as a 48-bit number (0 if not attached). */
  get dst(): number {
    return this.valid ? readMac(this.view, this.offset) : 0;
  }
  set dst(mac: number) {
    if (this.valid) writeMac(this.view, this.offset, mac);
  }

  /** Source MAC as a 48-bit number (0 if not attached). */
  get src(): number {
    return this.valid ? readMac(this.view, this.offset + 6) : 0;
  }
  set src(mac: number) {
    if (this.valid) writeMac(this.view, this.offset + 6, mac);
  }

  /** Destination MAC formatted as a string (allocates; for logging). */
  get dstString(): string {
    return macToString(this.dst);
  }

  /** Source MAC formatted as a string (allocates; for logging). */
  get srcString(): string {
    return macToString(this.src);
  }

  /** The EtherType/TPID field right after the source MAC (a VLAN TPID if the frame is tagged). */
  get etherType(): number {
    return this.valid ? this.view.getUint16(this.offset + 12) : 0;
  }
  set etherType(value: number) {
    if (this.valid) this.view.setUint16(this.offset + 12, value);
  }

  /** Number of VLAN tags that fit in the packet (QinQ gives 2). */
  get vlanCount(): number {
    if (!this.valid) return 0;
    const end = this.end;
    let pos = this.offset + 12;
    let n = 0;
    // A tag counts only if its TPID, TCI and the following type field all fit.
    while (pos + 6 <= end && isVlanTpid(this.view.getUint16(pos))) {
      pos += 4;
      n++;
    }
    return n;
  }

  /** Tag control information of VLAN tag `index` (0 = outermost), or -1 if there is no such tag. */
  vlanTci(index: number): number {
    if (index < 0 || index >= this.vlanCount) return -1;
    return this.view.getUint16(this.offset + 14 + 4 * index);
  }

  /** VLAN id (12 bits) of the outermost tag, or -1 if untagged. */
  get vlanId(): number {
    const tci = this.vlanTci(0);
    return tci < 0 ? -1 : tci & 0x0fff;
  }

  /** Header length including VLAN tags. */
  get headerLength(): number {
    return this.valid ? ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH * this.vlanCount : 0;
  }

  /** The EtherType after all VLAN tags (e.g. IPv4), or -1 if it lies past the packet. */
  get innerEtherType(): number {
    if (!this.valid) return -1;
    const pos = this.offset + 12 + VLAN_TAG_LENGTH * this.vlanCount;
    return pos + 2 <= this.end ? this.view.getUint16(pos) : -1;
  }

  /** Absolute offset of the layer-3 header (after the VLAN tags). */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** True if the destination is the broadcast address. */
  get isBroadcast(): boolean {
    return this.valid && this.dst === BROADCAST_MAC;
  }

  /** True if the destination is a group (multicast or broadcast) address. */
  get isMulticast(): boolean {
    return this.valid && (this.view.getUint8(this.offset) & 1) === 1;
  }

  /** Swaps destination and source MAC in place (what l2fwd-style forwarders do). No allocation. */
  swapMacs(): void {
    if (!this.valid) return;
    const v = this.view;
    const o = this.offset;
    const d16 = v.getUint16(o);
    const d32 = v.getUint32(o + 2);
    v.setUint16(o, v.getUint16(o + 6));
    v.setUint32(o + 2, v.getUint32(o + 8));
    v.setUint16(o + 6, d16);
    v.setUint32(o + 8, d32);
  }
}
