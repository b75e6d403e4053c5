/**
 * The mbuf as the running DPDK lays it out: field offsets, `tx_offload`
 * bitfields and flag bits, read from the shim (offsetof, DPDK's own packer)
 * when first needed, checked, never hand-copied. {@linkcode PacketBatch}
 * reads and writes packet fields in place through it.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { MbufField } from "../ffi/symbols.ts";
import { cstring } from "./cstring.ts";
import { DpdkError } from "./errors.ts";

/**
 * Receive flags (`RTE_MBUF_F_RX_*`, the low 32 bits of `ol_flags`) as
 * {@linkcode PacketBatch.rxFlags} returns them. The values are DPDK 22.11's
 * and are checked against the shim when the library loads.
 */
export const RxFlag = {
  /** A VLAN tag was seen; {@linkcode PacketBatch.vlanTci} holds its TCI. */
  VLAN: 1 << 0,
  /** {@linkcode PacketBatch.rssHash} is valid. */
  RSS_HASH: 1 << 1,
  /** The L4 checksum is wrong. */
  L4_CKSUM_BAD: 1 << 3,
  /** The IPv4 header checksum is wrong. */
  IP_CKSUM_BAD: 1 << 4,
  /** The VLAN tag was removed from the data; its TCI is in {@linkcode PacketBatch.vlanTci}. */
  VLAN_STRIPPED: 1 << 6,
  /** The IPv4 header checksum is right. */
  IP_CKSUM_GOOD: 1 << 7,
  /** The L4 checksum is right. */
  L4_CKSUM_GOOD: 1 << 8,
  /** The packet was coalesced by LRO. */
  LRO: 1 << 16,
} as const;

/** What the device found of a checksum on receive ({@linkcode PacketBatch.ipChecksum}). */
export const ChecksumStatus = {
  /** Not checked (no offload, or not a checksummed protocol). */
  UNKNOWN: 0,
  /** Checked and wrong. */
  BAD: 1,
  /** Checked and right. */
  GOOD: 2,
  /** The data is intact but the checksum field is not (e.g. a UDP checksum of 0). */
  NONE: 3,
} as const;

/** One of the {@linkcode ChecksumStatus} values. */
export type ChecksumStatus = typeof ChecksumStatus[keyof typeof ChecksumStatus];

/**
 * Checksums a packet asks to have filled in on send
 * ({@linkcode PacketBatch.requestChecksums}): by the port where it has the
 * offload enabled, else by the shim in software.
 */
export const TxChecksum = {
  /** The IPv4 header checksum. */
  IPV4: 1,
  /** The UDP checksum (over IPv4 or IPv6). */
  UDP: 2,
  /** The TCP checksum (over IPv4 or IPv6). */
  TCP: 4,
} as const;

/** Field offsets, bitfields and flag bits of `struct rte_mbuf` (internal). */
export interface MbufLayout {
  size: number;
  bufAddr: number;
  dataOff: number;
  refcnt: number;
  nbSegs: number;
  port: number;
  olFlags: number;
  packetType: number;
  pktLen: number;
  dataLen: number;
  vlanTci: number;
  rss: number;
  bufLen: number;
  next: number;
  txOffload: number;
  l2Shift: number;
  l2Bits: number;
  l3Shift: number;
  l3Bits: number;
  l4Shift: number;
  l4Bits: number;
  rx: {
    vlan: number;
    vlanStripped: number;
    rssHash: number;
    ipGood: number;
    ipBad: number;
    l4Good: number;
    l4Bad: number;
    lro: number;
  };
  /** Transmit and buffer flags, as bits of the high 32-bit word of `ol_flags`. */
  tx: {
    ipCksum: number;
    ipv4: number;
    ipv6: number;
    tcpCksum: number;
    udpCksum: number;
    l4Mask: number;
    vlan: number;
    external: number;
    indirect: number;
  };
  headroom: number;
}

let layout: MbufLayout | undefined;

function fail(what: string): never {
  throw new DpdkError("dd_mbuf_layout", 0, `unexpected struct rte_mbuf layout: ${what}`);
}

/** The running DPDK's mbuf layout, read from the shim once and checked (internal). */
export function mbufLayout(): MbufLayout {
  if (layout !== undefined) return layout;
  const w = new Uint32Array(MbufField.FIELDS);
  library().symbols.dd_mbuf_layout(new Uint8Array(w.buffer));
  const f = MbufField;
  const l: MbufLayout = {
    size: w[f.SIZE],
    bufAddr: w[f.BUF_ADDR],
    dataOff: w[f.DATA_OFF],
    refcnt: w[f.REFCNT],
    nbSegs: w[f.NB_SEGS],
    port: w[f.PORT],
    olFlags: w[f.OL_FLAGS],
    packetType: w[f.PACKET_TYPE],
    pktLen: w[f.PKT_LEN],
    dataLen: w[f.DATA_LEN],
    vlanTci: w[f.VLAN_TCI],
    rss: w[f.RSS],
    bufLen: w[f.BUF_LEN],
    next: w[f.NEXT],
    txOffload: w[f.TX_OFFLOAD],
    l2Shift: w[f.L2_SHIFT],
    l2Bits: w[f.L2_BITS],
    l3Shift: w[f.L3_SHIFT],
    l3Bits: w[f.L3_BITS],
    l4Shift: w[f.L4_SHIFT],
    l4Bits: w[f.L4_BITS],
    rx: {
      vlan: w[f.RX_VLAN],
      vlanStripped: w[f.RX_VLAN_STRIPPED],
      rssHash: w[f.RX_RSS_HASH],
      ipGood: w[f.RX_IP_CKSUM_GOOD],
      ipBad: w[f.RX_IP_CKSUM_BAD],
      l4Good: w[f.RX_L4_CKSUM_GOOD],
      l4Bad: w[f.RX_L4_CKSUM_BAD],
      lro: w[f.RX_LRO],
    },
    tx: {
      ipCksum: w[f.TX_IP_CKSUM],
      ipv4: w[f.TX_IPV4],
      ipv6: w[f.TX_IPV6],
      tcpCksum: w[f.TX_TCP_CKSUM],
      udpCksum: w[f.TX_UDP_CKSUM],
      l4Mask: w[f.TX_L4_MASK],
      vlan: w[f.TX_VLAN],
      external: w[f.EXTERNAL],
      indirect: w[f.INDIRECT],
    },
    headroom: w[f.HEADROOM],
  };
  // What the accessors rely on: naturally aligned fields inside the header (they are read
  // through Uint16Array/Uint32Array views), and l2/l3/l4 lengths in tx_offload's low word.
  const sizes: [keyof MbufLayout, number][] = [
    ["bufAddr", 8],
    ["dataOff", 2],
    ["refcnt", 2],
    ["nbSegs", 2],
    ["port", 2],
    ["olFlags", 8],
    ["packetType", 4],
    ["pktLen", 4],
    ["dataLen", 2],
    ["vlanTci", 2],
    ["rss", 4],
    ["bufLen", 2],
    ["next", 8],
    ["txOffload", 8],
  ];
  if (l.size === 0 || l.size % 64 !== 0) fail(`size ${l.size}`);
  for (const [name, bytes] of sizes) {
    const at = l[name] as number;
    if (at % bytes !== 0 || at + bytes > l.size) fail(`${name} at ${at}`);
  }
  if (l.l4Shift + l.l4Bits > 32 || l.l2Shift + l.l2Bits > l.l3Shift) fail("tx_offload bits");
  const rxWanted: [number, number, string][] = [
    [l.rx.vlan, RxFlag.VLAN, "VLAN"],
    [l.rx.rssHash, RxFlag.RSS_HASH, "RSS_HASH"],
    [l.rx.l4Bad, RxFlag.L4_CKSUM_BAD, "L4_CKSUM_BAD"],
    [l.rx.ipBad, RxFlag.IP_CKSUM_BAD, "IP_CKSUM_BAD"],
    [l.rx.vlanStripped, RxFlag.VLAN_STRIPPED, "VLAN_STRIPPED"],
    [l.rx.ipGood, RxFlag.IP_CKSUM_GOOD, "IP_CKSUM_GOOD"],
    [l.rx.l4Good, RxFlag.L4_CKSUM_GOOD, "L4_CKSUM_GOOD"],
    [l.rx.lro, RxFlag.LRO, "LRO"],
  ];
  for (const [got, want, name] of rxWanted) {
    if (got !== want) fail(`RTE_MBUF_F_RX_${name} is 0x${got.toString(16)}`);
  }
  layout = l;
  return l;
}

/** Name of the rx timestamp dynamic field (`RTE_MBUF_DYNFIELD_TIMESTAMP_NAME`). */
const TIMESTAMP_FIELD = "rte_dynfield_timestamp";
/** Name of the rx timestamp dynamic flag (`RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME`). */
const TIMESTAMP_FLAG = "rte_dynflag_rx_timestamp";

let timestamp: { offset: number; bit: number } | null | undefined;

/**
 * Where rx timestamps live (`rte_mbuf_dynfield_lookup`), or null while no
 * driver has registered them (internal). A registered field never moves; a
 * miss is looked up again after {@linkcode forgetRxTimestampField}.
 */
export function rxTimestampField(): { offset: number; bit: number } | null {
  if (timestamp !== undefined) return timestamp;
  const s = library().symbols;
  const offset = s.dd_mbuf_dynfield(cstring(TIMESTAMP_FIELD));
  const bit = s.dd_mbuf_dynflag(cstring(TIMESTAMP_FLAG));
  if (offset < 0 || bit < 0) return timestamp = null;
  if (offset % 8 !== 0) fail(`timestamp field at ${offset}`);
  return timestamp = { offset, bit };
}

/** Drivers register the timestamp field when a port or device is set up: look again then (internal). */
export function forgetRxTimestampField(): void {
  if (timestamp === null) timestamp = undefined;
}

let tscHzValue = 0;

/** TSC ticks per second (`rte_get_tsc_hz`). Needs the EAL. */
export function tscHz(): number {
  if (tscHzValue === 0) tscHzValue = Number(library().symbols.dd_tsc_hz());
  return tscHzValue;
}

/**
 * Converts TSC ticks (e.g. a difference of {@linkcode PacketBatch.arrivalTsc}
 * values) to nanoseconds.
 *
 * @example
 * ```ts
 * import { tscToNs } from "@deno-dpdk/dpdk";
 * const t0 = 1_000_000, t1 = 3_400_000; // two batch.arrivalTsc readings
 * console.log(`${tscToNs(t1 - t0)} ns apart`);
 * ```
 */
export function tscToNs(ticks: number): number {
  return ticks * 1e9 / tscHz();
}
