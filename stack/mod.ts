/**
 * A user-space TCP/IP stack for deno-dpdk, shaped like smoltcp: the stack is a value you
 * `poll(nowNs)`, time is passed in and never read inside, and frames are read and written in
 * place in the device's buffers. {@linkcode Stack} is a host (ARP, IPv4, ICMP echo, UDP
 * sockets with in-place delivery, TCP connections whose in-order data is delivered in place,
 * DHCP, DNS, fragmentation). The
 * devices: {@linkcode PortDevice} (a DPDK port),
 * {@linkcode MemoryPair} (two devices wired to each other, for deterministic tests without
 * DPDK) and {@linkcode FaultInjector} (wraps any device and, from a seed, drops, corrupts,
 * duplicates, delays and reorders frames).
 *
 * ```ts
 * import { FaultInjector, type FrameReceiver, MemoryPair } from "@deno-dpdk/dpdk/stack";
 *
 * const pair = new MemoryPair();
 * const lossy = new FaultInjector(pair.a, { seed: 1, loss: 0.5 });
 * for (let i = 0; i < 10; i++) {
 *   const at = lossy.reserve(64);
 *   lossy.txData[at] = i; // the frame is written in place
 * }
 * lossy.flush(0);
 * const printer: FrameReceiver = { // one object for every frame: no closure per frame
 *   frame(data, _view, offset, _length) {
 *     console.log("frame", data[offset]);
 *   },
 * };
 * pair.b.receive(printer, 0); // about half of the ten frames
 * console.log(lossy.stats.tx); // { frames: 10, dropped: ..., passed: ..., ... }
 * ```
 *
 * @module
 */

export type { Device, FrameReceiver } from "./device.ts";
export {
  MemoryDevice,
  type MemoryDeviceStats,
  MemoryPair,
  type MemoryPairOptions,
} from "./memory.ts";
export {
  type FaultCounters,
  FaultInjector,
  type FaultInjectorOptions,
  type FaultRates,
  type FaultStats,
} from "./fault.ts";
export { PortDevice, type PortDeviceOptions, type PortDeviceStats } from "./port_device.ts";
export { type ArpActions, ArpCache, type ArpOptions, ArpState } from "./arp.ts";
export {
  Stack,
  type StackCounters,
  type StackOptions,
  type StackService,
  type TcpListenOptions,
} from "./interface.ts";
export {
  type TcpCloseReason,
  TcpConnection,
  type TcpConnectionCounters,
  type TcpConnectionOptions,
  type TcpCounters,
  type TcpHost,
  TcpListener,
  TcpSegment,
  TcpState,
} from "./tcp.ts";
export { TcpConn, TcpConnListener, tcpDuplex, TcpError } from "./tcp_stream.ts";
export { TcpOptions } from "./tcp_options.ts";
export { type DatagramReceiver, type UdpErrorReceiver, type UdpHost, UdpSocket } from "./udp.ts";
export {
  DHCP_STATE_NAMES,
  DhcpClient,
  type DhcpHost,
  type DhcpOptions,
  DhcpState,
  type DhcpStatus,
} from "./dhcp.ts";
export {
  FRAGMENT_DONT_FRAGMENT,
  FRAGMENT_NO_BUFFER,
  fragmentCount,
  fragmentIpv4,
  type FragmentSink,
  Reassembler,
  type ReassemblerOptions,
  type ReassemblyCounters,
  type ReassemblyTimeoutReceiver,
} from "./fragment.ts";
export { type Datagram, DatagramQueue, StackDriver, type StackDriverOptions } from "./driver.ts";
export {
  type DnsCallback,
  DnsError,
  DnsFailure,
  type DnsHost,
  DnsResolver,
  type DnsResolverOptions,
  type DnsStats,
} from "./dns.ts";
