/**
 * Pure TypeScript packet protocols for deno-dpdk: header views that read and write in place
 * (Ethernet, VLAN, ARP, IPv4, IPv6, ICMP, ICMPv6/NDP, UDP, TCP), a zero-allocation
 * {@link PacketParser} for the hot path, Internet checksums, frame builders, and pcap/pcapng
 * files. Nothing here needs DPDK: everything works on any `DataView`/`Uint8Array` and offset,
 * for example one view over a whole mempool region and a packet's `(offset, length)`.
 *
 * ```ts
 * import { buildUdpFrame, ipv4ToString, PacketParser, ParseStatus } from "@deno-dpdk/dpdk/net";
 *
 * const frame = buildUdpFrame({
 *   srcMac: "02:00:00:00:00:01",
 *   dstMac: "02:00:00:00:00:02",
 *   srcIp: "10.0.0.1",
 *   dstIp: "10.0.0.2",
 *   srcPort: 1234,
 *   dstPort: 5678,
 *   payload: "hello",
 * });
 * const parser = new PacketParser(); // create once, reuse for every packet
 * if (parser.parse(new DataView(frame.buffer), 0, frame.length) === ParseStatus.OK) {
 *   console.log(ipv4ToString(parser.dstIpv4), parser.dstPort, parser.payloadLength);
 * }
 * ```
 *
 * @module
 */

export {
  type ByteSource,
  checksumUpdate16,
  checksumUpdate32,
  foldSum,
  internetChecksum,
  ipv4HeaderChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  setIpv4HeaderChecksum,
  sum16,
  tcpChecksumIpv4,
  tcpChecksumIpv6,
  transportChecksumIpv4,
  transportChecksumIpv6,
  udpChecksumIpv4,
  udpChecksumIpv6,
  verifyIpv4HeaderChecksum,
  verifyTransportChecksumIpv4,
  verifyTransportChecksumIpv6,
} from "./checksum.ts";
export { findTlvOption, HeaderView } from "./view.ts";
export {
  BROADCAST_MAC,
  ETHERNET_HEADER_LENGTH,
  EthernetView,
  EtherType,
  isVlanTpid,
  macToNumber,
  macToString,
  parseMac,
  readMac,
  VLAN_TAG_LENGTH,
  writeMac,
} from "./ethernet.ts";
export { ARP_LENGTH, ArpOperation, ArpView } from "./arp.ts";
export { IpProtocol } from "./ip_protocol.ts";
export { IPV4_HEADER_LENGTH, Ipv4Flags, ipv4ToString, Ipv4View, parseIpv4 } from "./ipv4.ts";
export {
  IPV6_HEADER_LENGTH,
  ipv6ToString,
  Ipv6View,
  isIpv6ExtensionHeader,
  parseIpv6,
} from "./ipv6.ts";
export { ICMP_HEADER_LENGTH, IcmpType, IcmpView } from "./icmp.ts";
export {
  ICMPV6_HEADER_LENGTH,
  Icmpv6Type,
  Icmpv6View,
  NDP_NEIGHBOR_LENGTH,
  NdpOption,
  NeighborAdvertisementFlags,
} from "./icmpv6.ts";
export { TransportView } from "./transport.ts";
export { UDP_HEADER_LENGTH, UdpView } from "./udp.ts";
export { TCP_HEADER_LENGTH, TcpFlags, TcpOption, TcpView } from "./tcp.ts";
export { PacketParser, ParseStatus, parseStatusName } from "./parser.ts";
export {
  type ArpOptions,
  buildArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildUdpFrame,
  type EthernetOptions,
  type IcmpEchoOptions,
  type IpOptions,
  ipv6MulticastMac,
  type MacAddress,
  type NeighborAdvertisementOptions,
  type NeighborSolicitationOptions,
  solicitedNodeAddress,
  type TcpFrameOptions,
  type UdpFrameFields,
  type UdpFrameOptions,
  writeUdpFrame,
} from "./build.ts";
export {
  iteratePcap,
  LinkType,
  PcapError,
  type PcapFile,
  type PcapFormat,
  type PcapInterface,
  PcapMagic,
  type PcapRecord,
  type PcapSink,
  type PcapStreamOptions,
  PcapStreamWriter,
  PcapWriter,
  type PcapWriterOptions,
  readPcap,
} from "./pcap.ts";
