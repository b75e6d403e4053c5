/**
 * A host on a {@linkcode Device}: Ethernet, ARP, IPv4 (with fragmentation and reassembly),
 * ICMP, IGMP, UDP and TCP, DHCP and DNS through their clients. Shaped like smoltcp's interface:
 * it owns no clock and no loop. {@linkcode Stack.poll} takes the time, handles one receive
 * burst, runs the timers that are due, sends what it has to and returns when it next needs to
 * be polled.
 *
 * @module
 */
import { foldSum, parseIpv4, sum16 } from "../net/mod.ts";
import { type ArpActions, ArpCache, type ArpOptions } from "./arp.ts";
import { copyBytes } from "./bytes.ts";
import { TokenBucket } from "./rate.ts";
import type { Device, FrameReceiver } from "./device.ts";
import { type UdpHost, UdpSocket } from "./udp.ts";
import {
  SEG_ACK,
  SEG_SEQ,
  TcpConnection,
  type TcpConnectionOptions,
  type TcpCounters,
  type TcpHost,
  TcpListener,
  TcpSegment,
  writeReset,
  zeroTcpCounters,
} from "./tcp.ts";
import { TS_ECR, TS_VAL } from "./tcp_options.ts";
import { IsnGenerator, seqAdd } from "./tcp_seq.ts";
import { TcpTable } from "./tcp_table.ts";
import { DhcpClient, type DhcpHost, type DhcpOptions, type DhcpStatus } from "./dhcp.ts";
import {
  fragmentIpv4,
  type FragmentSink,
  Reassembler,
  type ReassemblerOptions,
  type ReassemblyCounters,
} from "./fragment.ts";

/**
 * Something that runs on the stack's timers (a resolver, a protocol client): `poll` calls its
 * `timers()` and takes its `nextDeadline` (ns, the stack's clock; Infinity when idle) into
 * account. Read the time from `stack.clock[0]`.
 */
export interface StackService {
  /** Runs what is due. */
  timers(): void;
  /** When it next needs `timers()`, or Infinity. */
  readonly nextDeadline: number;
}

/** Options of a {@linkcode Stack}. */
export interface StackOptions {
  /** Our address and prefix, `"10.0.0.2/24"`. Required unless `dhcp` is given. */
  address?: string;
  /**
   * Get the address, prefix, router, DNS servers and MTU from a DHCP server instead (`true`, or
   * options). Until a lease arrives the stack has no address. Default: off.
   */
  dhcp?: boolean | DhcpOptions;
  /** Default gateway for addresses off the prefix. Default: none (off-link is unreachable). */
  gateway?: string;
  /** IP MTU. Default: the device's. */
  mtu?: number;
  /** ARP cache settings. */
  arp?: ArpOptions;
  /** Fragment reassembly: datagrams at once, largest datagram, timeout. */
  reassembly?: ReassemblerOptions;
  /** ICMP errors (port unreachable) sent per second at most. Default: 1000 (Linux's icmp_ratelimit is 1 per ms). */
  icmpErrorsPerSecond?: number;
  /** Defaults for every TCP connection (each `connect`/`listen` may override them). */
  tcp?: TcpConnectionOptions;
  /** TCP connections at once, TIME-WAIT included. Default: 65536. */
  tcpConnections?: number;
  /** Challenge ACKs sent per second at most (RFC 5961 §7). Default: 1000 (Linux's old default). */
  challengeAcksPerSecond?: number;
}

/** Options of {@linkcode Stack.listen}. */
export interface TcpListenOptions extends TcpConnectionOptions {
  /** Connections opening or established and not yet accepted, at most. Default: 128. */
  backlog?: number;
}

/**
 * Why frames were received, dropped or sent: one counter per reason, all plain numbers. Every
 * received frame ends in exactly one counter:
 * `rxFrames = rxOtherMac + rxTruncated + rxUnknownEtherType + arpIn + ipIn`,
 * `arpIn = arpMalformed + arpConflicts + arpRequestsAnswered + arpOther`,
 * `ipIn + ipReassembled = ipBadHeader + ipBadChecksum + ipBadSource + ipNotOurs + ipFragments +
 * ipUnknownProtocol + icmpIn + igmpIn + tcpIn + udpIn + udpBad + udpNoSocket + udpNoReceiver`,
 * `icmpIn = icmpBadChecksum + icmpEchoRequests + icmpErrors + icmpOther`.
 */
export interface StackCounters {
  /** Frames handed over by the device. */
  rxFrames: number;
  /** Frames for another MAC (promiscuous devices see them). */
  rxOtherMac: number;
  /** Frames shorter than their headers say. */
  rxTruncated: number;
  /** EtherTypes we do not handle (IPv6, LLDP, ...). */
  rxUnknownEtherType: number;
  /** ARP packets received. */
  arpIn: number;
  /** ARP packets that are not Ethernet/IPv4 ARP. */
  arpMalformed: number;
  /** ARP requests for our address, answered. */
  arpRequestsAnswered: number;
  /** ARP requests we sent. */
  arpRequestsSent: number;
  /** Addresses that never answered: their waiting packets were dropped. */
  arpFailed: number;
  /** Packets dropped because the ARP queue was full. */
  arpQueueFull: number;
  /** Packets dropped because their next hop never answered. */
  arpDropped: number;
  /** ARP packets claiming our own address from another MAC (a conflict or a spoof). */
  arpConflicts: number;
  /** Other ARP packets: replies, announcements, requests for other addresses. */
  arpOther: number;
  /** IPv4 packets received. */
  ipIn: number;
  /** Bad version, header length or total length. */
  ipBadHeader: number;
  /** Wrong header checksum. */
  ipBadChecksum: number;
  /**
   * From no single host: 0.0.0.0/8, 127.0.0.0/8, multicast, class E, a broadcast address, or our
   * own address. Dropped unanswered (RFC 1122 §3.2.1.3; Linux counts them as martians).
   */
  ipBadSource: number;
  /** For another address. */
  ipNotOurs: number;
  /** Fragments received (handed to the reassembler: `stack.reassembly` counts their fate). */
  ipFragments: number;
  /** Datagrams completed from fragments (each then counted once more, by its protocol). */
  ipReassembled: number;
  /** Protocols we do not handle. */
  ipUnknownProtocol: number;
  /** ICMP messages received. */
  icmpIn: number;
  /** Echo requests for our address (each answered unless the device has no buffer). */
  icmpEchoRequests: number;
  /** Echo replies sent. */
  icmpEchoReplies: number;
  /** ICMP errors received (destination unreachable, time exceeded). */
  icmpErrors: number;
  /** ICMP errors handed to the UDP socket whose datagram they concern. */
  icmpErrorsDelivered: number;
  /** Other ICMP messages (replies, broadcast echo requests, ...): not acted on. */
  icmpOther: number;
  /** ICMP messages with a wrong checksum. */
  icmpBadChecksum: number;
  /** Port unreachable messages sent. */
  icmpUnreachableSent: number;
  /** ICMP errors not sent because of the rate limit. */
  icmpRateLimited: number;
  /** IGMP messages received (queries are answered). */
  igmpIn: number;
  /** IGMP reports and leaves sent. */
  igmpOut: number;
  /** TCP segments handed to TCP (`Stack.tcpCounters` says what became of them). */
  tcpIn: number;
  /** UDP datagrams delivered to a socket. */
  udpIn: number;
  /** UDP datagrams with a wrong checksum or length. */
  udpBad: number;
  /** UDP datagrams for a port nobody listens on. */
  udpNoSocket: number;
  /** UDP datagrams for a socket without a receiver. */
  udpNoReceiver: number;
  /** UDP datagrams sent. */
  udpOut: number;
  /** Frames sent. */
  txFrames: number;
  /** Frames not sent: the device had no buffer. */
  txNoBuffer: number;
  /**
   * Packets not sent: no route (off-link without a gateway, no address yet, or to our own address:
   * the stack has no loopback).
   */
  txNoRoute: number;
  /** Packets over 65535 bytes, or over the MTU with their next hop unresolved: not sent. */
  txTooBig: number;
  /** Fragments sent (packets larger than the MTU go out in pieces, RFC 791). */
  txFragments: number;
}

function zeroCounters(): StackCounters {
  return {
    rxFrames: 0,
    rxOtherMac: 0,
    rxTruncated: 0,
    rxUnknownEtherType: 0,
    arpIn: 0,
    arpMalformed: 0,
    arpRequestsAnswered: 0,
    arpRequestsSent: 0,
    arpFailed: 0,
    arpQueueFull: 0,
    arpDropped: 0,
    arpConflicts: 0,
    arpOther: 0,
    ipIn: 0,
    ipBadHeader: 0,
    ipBadChecksum: 0,
    ipBadSource: 0,
    ipNotOurs: 0,
    ipFragments: 0,
    ipReassembled: 0,
    ipUnknownProtocol: 0,
    icmpIn: 0,
    icmpEchoRequests: 0,
    icmpEchoReplies: 0,
    icmpErrors: 0,
    icmpErrorsDelivered: 0,
    icmpOther: 0,
    icmpBadChecksum: 0,
    icmpUnreachableSent: 0,
    icmpRateLimited: 0,
    igmpIn: 0,
    igmpOut: 0,
    tcpIn: 0,
    udpIn: 0,
    udpBad: 0,
    udpNoSocket: 0,
    udpNoReceiver: 0,
    udpOut: 0,
    txFrames: 0,
    txNoBuffer: 0,
    txNoRoute: 0,
    txTooBig: 0,
    txFragments: 0,
  };
}

const ETH_ARP = 0x0806, ETH_IPV4 = 0x0800;
const PROTO_ICMP = 1, PROTO_IGMP = 2, PROTO_TCP = 6, PROTO_UDP = 17;
const IGMP_QUERY = 0x11, IGMP_REPORT = 0x16, IGMP_LEAVE = 0x17;
const ALL_HOSTS = 0xe0000001, ALL_ROUTERS = 0xe0000002;
const BROADCAST = 0xffffffffffff;
const TWO_32 = 4294967296;
/** The longest {@linkcode Stack.poll} asks to wait: 1 s, a small integer of ns. */
const MAX_WAIT_NS = 1_000_000_000;
/**
 * TCP segments one poll sends at most (~185 KB): a connection with a wide window goes on in the
 * next poll. A poll that sent a 16 MB window at once took ~45 ms, with no ACK read meanwhile and
 * every segment stamped with the clock the poll began with.
 */
const TCP_SEGMENTS_PER_POLL = 128;
/** Ephemeral ports, as Linux's default ip_local_port_range. */
const EPHEMERAL_FIRST = 32768, EPHEMERAL_LAST = 60999;

/** Parses `"a.b.c.d/n"` into address and prefix length. */
function parseCidr(text: string): { ip: number; prefix: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !(prefix >= 0 && prefix <= 32)) {
    throw new TypeError(
      `StackOptions.address: "${text}" is not an address/prefix like 10.0.0.2/24`,
    );
  }
  return { ip: parseIpv4(m[1]), prefix };
}

function macNumber(mac: Uint8Array): number {
  return ((mac[0] << 8 | mac[1]) * TWO_32) +
    ((mac[2] << 24 | mac[3] << 16 | mac[4] << 8 | mac[5]) >>> 0);
}

/**
 * A host on a device: answers ARP and ping, carries UDP. See the module doc.
 *
 * @example
 * ```ts ignore
 * const stack = new Stack(device, { address: "10.99.0.2/24", gateway: "10.99.0.1" });
 * const echo = stack.udp(7);
 * echo.receiver = { datagram: (d, _v, o, n, ip, port) => echo.sendTo(ip, port, d, o, n) };
 * // The poll loop owns the clock: it writes the time (ns) into stack.clock, not a poll()
 * // argument, which would be a new heap number at every call.
 * for (;;) {
 *   stack.clock[0] = performance.now() * 1e6;
 *   stack.poll();
 * }
 * ```
 */
export class Stack implements FrameReceiver, UdpHost, DhcpHost, TcpHost {
  readonly #device: Device;
  readonly #mac: number;
  readonly #macHi: number;
  readonly #macLo: number;
  // The address, as configured or leased (0: none yet, with DHCP).
  #ip = 0;
  #mask = 0;
  #broadcast = 0xffffffff;
  #gateway = 0;
  #mtu: number;
  readonly #dhcp: DhcpClient | null = null;
  readonly #services: StackService[] = [];
  readonly #reassembler: Reassembler;
  /** [0]: a part's next deadline, [1]: the stack's (written, never returned: a heap number). */
  readonly #deadlines = new Float64Array(2);
  /** The device, flushed and retried when a burst fills up while fragments go out. */
  readonly #fragmentSink: FragmentSink;
  #fragmenting = false;
  /** Multicast groups joined (a short list: looked at only for multicast packets). */
  readonly #groups = new Uint32Array(32);
  readonly #groupUsers = new Uint16Array(32);
  /** Whether the frame being handled came to a broadcast or multicast MAC. */
  #linkCast = false;
  #groupCount = 0;
  readonly #arp: ArpCache;
  readonly #arpActions: ArpActions;
  readonly #resend: (data: Uint8Array, offset: number, length: number) => void;
  /** Socket of each UDP port (O(1) demultiplexing). */
  readonly #udpPorts: (UdpSocket | null)[] = new Array(65536).fill(null);
  #nextEphemeral = EPHEMERAL_FIRST;
  /**
   * The time (ns, the caller's clock) of the current poll. Written by `poll(nowNs)`, or by the
   * caller before `poll()`: a number argument that is not a small integer is heap-allocated
   * by V8 at every call, this array is not.
   */
  readonly clock: Float64Array = new Float64Array(1);
  readonly #icmpErrors: TokenBucket;
  #ipId = 0;
  /** Counters for every reason a frame was received, dropped or sent. */
  readonly counters: StackCounters = zeroCounters();
  /** TCP's counters, named like Linux's `nstat`. */
  readonly tcpCounters: TcpCounters = zeroTcpCounters();
  // TCP: connections by 4-tuple (the table's value is the index in #tcpConns), listeners by
  // port, connections with output pending this poll.
  readonly #tcpTable: TcpTable;
  readonly #tcpConns: (TcpConnection | null)[] = [];
  readonly #tcpFree: number[] = [];
  readonly #tcpListeners: (TcpListener | null)[] = new Array(65536).fill(null);
  // Filled by count, never emptied by `length = 0`: V8 would free and regrow its store.
  readonly #tcpRun: (TcpConnection | null)[] = [];
  readonly #tcpOpening: TcpConnection[] = [];
  #tcpRunCount = 0;
  #tcpBudget = TCP_SEGMENTS_PER_POLL;
  #busy = false;
  readonly #tcpDefaults: TcpConnectionOptions;
  readonly #isn = new IsnGenerator();
  readonly #segment = new TcpSegment();
  readonly #challenges: TokenBucket;

  /** A host on `device` with the given address (or one from DHCP). */
  constructor(device: Device, options: StackOptions) {
    this.#device = device;
    this.#mac = macNumber(device.mac);
    this.#macHi = device.mac[0] << 8 | device.mac[1];
    this.#macLo = (device.mac[2] << 24 | device.mac[3] << 16 | device.mac[4] << 8 |
      device.mac[5]) >>> 0;
    if ((options.address === undefined) === !options.dhcp) {
      throw new TypeError("StackOptions: give either address (e.g. 10.0.0.2/24) or dhcp");
    }
    if (options.address !== undefined) {
      const { ip, prefix } = parseCidr(options.address);
      this.#setAddress(ip, prefix);
    }
    if (options.gateway !== undefined) {
      if (this.#ip === 0) throw new TypeError("StackOptions.gateway: DHCP gives the gateway");
      this.#gateway = parseIpv4(options.gateway);
      if (((this.#gateway & this.#mask) >>> 0) !== ((this.#ip & this.#mask) >>> 0)) {
        throw new RangeError(
          `StackOptions.gateway ${options.gateway} is not on ${options.address}`,
        );
      }
    }
    this.#mtu = options.mtu ?? device.mtu;
    if (!(this.#mtu >= 68 && this.#mtu <= device.mtu)) {
      throw new RangeError(`StackOptions.mtu ${options.mtu} must be in 68..${device.mtu}`);
    }
    this.#arp = new ArpCache(this.clock, { packetSize: this.#mtu, ...options.arp });
    this.#arpActions = {
      request: (target) => this.#sendArpRequest(target),
      failed: (_ip, count) => {
        this.counters.arpFailed++;
        this.counters.arpDropped += count;
      },
      dropped: (data, offset, length) => this.#unreachable(data, offset, length),
    };
    this.#resend = (data, offset, length) => this.#sendIpPacket(data, offset, length);
    this.#outData = device.txData;
    this.#outView = device.txView;
    this.#reassembler = new Reassembler(this.clock, options.reassembly);
    this.#fragmentSink = {
      txData: device.txData,
      txView: device.txView,
      reserve: (length) => this.#reserve(length),
    };
    if (options.dhcp) {
      const dhcpOptions = options.dhcp === true ? {} : options.dhcp;
      this.#dhcp = new DhcpClient(this, this.udp(68), dhcpOptions);
    }
    this.#icmpErrors = new TokenBucket(options.icmpErrorsPerSecond ?? 1000, this.clock);
    this.#tcpTable = new TcpTable({ connections: options.tcpConnections ?? 65536 });
    this.#tcpDefaults = options.tcp ?? {};
    this.#challenges = new TokenBucket(options.challengeAcksPerSecond ?? 1000, this.clock);
  }

  /**
   * Whether the last {@linkcode Stack.poll} received or sent a frame, or left TCP output for the
   * next one. A loop that reads the clock only every so many polls (it costs ~100 ns) reads it
   * before each poll that follows a busy one: a busy poll takes long enough for a stale clock to
   * time segments wrong, and a retransmission timer armed from the stale time fires early.
   *
   * @example
   * ```ts ignore
   * for (let i = 0; !stop.requested; i++) {
   *   if (stack.busy || (i & 63) === 0) stack.clock[0] = performance.now() * 1e6;
   *   stack.poll();
   * }
   * ```
   */
  get busy(): boolean {
    return this.#busy;
  }

  /** The time (ns, the caller's clock) of the stack's next timer, Infinity when none. */
  get nextDeadline(): number {
    this.#writeNextDeadline();
    return this.#deadlines[1];
  }

  /**
   * Writes the earliest timer into `#deadlines[1]`. Times stay in arrays and locals: a time
   * returned from a call that is not inlined is a new heap number, every poll.
   */
  #writeNextDeadline(): void {
    const d = this.#deadlines;
    this.#reassembler.writeDeadline(d, 0);
    let next = d[0];
    this.#arp.writeDeadline(d, 0);
    if (d[0] < next) next = d[0];
    const device = this.#device.nextDeadline();
    if (device < next) next = device;
    if (this.#dhcp !== null) {
      this.#dhcp.writeDeadline(d, 0);
      if (d[0] < next) next = d[0];
    }
    for (let i = 0; i < this.#services.length; i++) {
      const t = this.#services[i].nextDeadline;
      if (t < next) next = t;
    }
    const conns = this.#tcpConns;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i];
      if (c === null) continue;
      c.writeDeadline(d, 0);
      if (d[0] < next) next = d[0];
    }
    if (this.#tcpRunCount > 0) next = this.clock[0]; // output left for the next poll: now
    d[1] = next;
  }

  /** Runs `service` on the stack's timers until {@linkcode Stack.detach}. */
  attach(service: StackService): void {
    if (!this.#services.includes(service)) this.#services.push(service);
  }

  /** Stops running `service` on the stack's timers. */
  detach(service: StackService): void {
    const i = this.#services.indexOf(service);
    if (i >= 0) this.#services.splice(i, 1);
  }

  /** Our IPv4 address as a 32-bit number (0 while DHCP has not leased one). */
  get address(): number {
    return this.#ip;
  }

  /** The device's MAC, 6 bytes. */
  get mac(): Uint8Array {
    return this.#device.mac;
  }

  /** What became of received fragments (reassembled, duplicates, overlaps, timed out, ...). */
  get reassembly(): ReassemblyCounters {
    return this.#reassembler.counters;
  }

  /** The DHCP lease and counters, when the stack uses DHCP. */
  get dhcp(): DhcpStatus | undefined {
    return this.#dhcp?.status;
  }

  #setAddress(ip: number, prefix: number): void {
    this.#ip = ip;
    this.#mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    // A /31 or /32 has no broadcast address: both addresses of a /31 are hosts (RFC 3021).
    this.#broadcast = prefix >= 31 ? 0xffffffff : (ip | ~this.#mask) >>> 0;
  }

  /** Takes a leased address and announces it with a gratuitous ARP (internal, from DHCP). */
  configure(ip: number, prefix: number, gateway: number, mtu: number): void {
    // Neighbours and held packets belong to the old address (and perhaps another subnet).
    if (ip !== this.#ip) this.#arp.flush(this.#arpActions);
    this.#setAddress(ip, prefix);
    this.#gateway = gateway;
    if (mtu >= 68 && mtu <= this.#device.mtu) this.#mtu = mtu;
    this.#sendArpRequest(ip); // sender = target = our new address: neighbours update their caches
  }

  /** Gives the address up (internal, from DHCP). */
  unconfigure(): void {
    this.#arp.flush(this.#arpActions);
    this.#setAddress(0, 0);
    this.#broadcast = 0xffffffff;
    this.#gateway = 0;
    this.#mtu = this.#device.mtu;
  }

  /** The ARP cache (to add static entries, or look at it). */
  get arp(): ArpCache {
    return this.#arp;
  }

  /**
   * Receives one burst, runs the timers that are due, sends what is pending. `nowNs` is the
   * caller's clock; without it the stack reads `clock[0]`, which the caller sets (a poll loop
   * that allocates nothing: see {@linkcode Stack.clock}). Returns how long (ns) it can wait
   * for its next timer when nothing arrives: 0 when one is due, at most 1 s.
   */
  poll(nowNs?: number): number {
    if (nowNs !== undefined) this.clock[0] = nowNs;
    this.#tcpBudget = TCP_SEGMENTS_PER_POLL;
    const sentBefore = this.counters.txFrames;
    if (this.#tcpOpening.length > 0) {
      for (const conn of this.#tcpOpening) conn.sendFirstSyn();
      this.#tcpOpening.length = 0;
    }
    const received = this.#device.receive(this, this.clock);
    this.#arp.timers(this.#arpActions);
    this.#dhcp?.timers();
    this.#reassembler.expire();
    for (let i = 0; i < this.#services.length; i++) this.#services[i].timers();
    this.#tcpTimers();
    this.#tcpOutput();
    this.#device.flush(this.clock);
    this.#busy = received > 0 || this.counters.txFrames !== sentBefore || this.#tcpRunCount > 0;
    // A delay, not a time: an integer of at most 1 s is a small integer, never allocated.
    this.#writeNextDeadline();
    const wait = this.#deadlines[1] - this.clock[0];
    return wait <= 0 ? 0 : wait >= MAX_WAIT_NS ? MAX_WAIT_NS : Math.ceil(wait);
  }

  /** Binds a UDP socket to `port` (0: an ephemeral port). */
  udp(port = 0): UdpSocket {
    if (port === 0) {
      for (let n = EPHEMERAL_FIRST; n <= EPHEMERAL_LAST; n++) {
        const p = this.#nextEphemeral;
        this.#nextEphemeral = p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
        if (this.#udpPorts[p] === null) {
          port = p;
          break;
        }
      }
      if (port === 0) throw new RangeError("no free ephemeral UDP port");
    }
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new RangeError(`UDP port ${port} is not in 1..65535`);
    }
    if (this.#udpPorts[port] !== null) throw new RangeError(`UDP port ${port} is in use`);
    const socket = new UdpSocket(this, port);
    this.#udpPorts[port] = socket;
    return socket;
  }

  /** Frees a UDP port (internal, from UdpSocket.close). */
  unbind(port: number): void {
    this.#udpPorts[port] = null;
  }

  // --------------------------------------------------------------------- TCP

  /**
   * Listens on TCP `port`: SYNs open connections (see {@linkcode TcpListener}). `options` set
   * the backlog and the options of the connections (over the stack's `tcp` defaults).
   */
  listen(port: number, options: TcpListenOptions = {}): TcpListener {
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new RangeError(`TCP port ${port} is not in 1..65535`);
    }
    if (this.#tcpListeners[port] !== null) throw new RangeError(`TCP port ${port} is in use`);
    const backlog = options.backlog ?? 128;
    if (!(Number.isInteger(backlog) && backlog >= 1)) {
      throw new RangeError(`TCP backlog ${backlog} must be a positive integer`);
    }
    const listener = new TcpListener(
      port,
      backlog,
      { ...this.#tcpDefaults, ...options },
      (p) => this.#tcpListeners[p] = null,
    );
    this.#tcpListeners[port] = listener;
    return listener;
  }

  /**
   * Opens a TCP connection to `ip:port` (active open): the SYN goes out at the next poll, from
   * a random ephemeral port (RFC 6056). Its `onOpen` or `onClose` says how it went.
   *
   * @example
   * ```ts ignore
   * const conn = stack.connect("10.0.0.1", 80);
   * conn.onOpen = () => conn.write(request);
   * conn.onClose = (reason) => reason === "closed" || console.error(reason, conn.closeDetail);
   * ```
   */
  connect(ip: number | string, port: number, options: TcpConnectionOptions = {}): TcpConnection {
    const remote = typeof ip === "string" ? parseIpv4(ip) : ip >>> 0;
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new RangeError(`TCP port ${port} is not in 1..65535`);
    }
    if (this.#ip === 0) throw new Error("TCP connect: the stack has no address yet");
    // TCP is unicast only (RFC 9293 MUST-46); and there is no loopback.
    if (this.#martian(remote)) {
      throw new RangeError(
        `TCP connect: ${remote >>> 24}.${remote >>> 16 & 255}.${remote >>> 8 & 255}.${
          remote & 255
        } is not another host's unicast address`,
      );
    }
    const local = this.#tcpTable.ephemeralPort(this.#ip, remote, port);
    if (local < 0) throw new RangeError("TCP connect: no free ephemeral port to that peer");
    const conn = this.#tcpAdd(local, remote, port, { ...this.#tcpDefaults, ...options });
    if (conn === null) throw new RangeError("TCP connect: the connection table is full");
    conn.open();
    this.#tcpOpening.push(conn); // its SYN goes at the next poll, once the clock is set
    return conn;
  }

  /** Every TCP connection now, TIME-WAIT included (for tools like `ss`). */
  get tcpConnections(): TcpConnection[] {
    return this.#tcpConns.filter((c): c is TcpConnection => c !== null);
  }

  #tcpAdd(
    localPort: number,
    remoteIp: number,
    remotePort: number,
    options: TcpConnectionOptions,
  ): TcpConnection | null {
    const slot = this.#tcpFree.length > 0 ? this.#tcpFree.pop()! : this.#tcpConns.length;
    if (!this.#tcpTable.insert(this.#ip, localPort, remoteIp, remotePort, slot)) {
      if (slot !== this.#tcpConns.length) this.#tcpFree.push(slot);
      return null;
    }
    const iss = this.#isn.next(this.#ip, localPort, remoteIp, remotePort, this.clock[0]);
    const conn = new TcpConnection(this, this.#ip, localPort, remoteIp, remotePort, iss, options);
    conn.slot = slot;
    if (slot === this.#tcpConns.length) this.#tcpConns.push(conn);
    else this.#tcpConns[slot] = conn;
    return conn;
  }

  #tcpIn(
    data: Uint8Array,
    view: DataView,
    l4: number,
    len: number,
    src: number,
    dst: number,
  ): void {
    const tc = this.tcpCounters;
    tc.inSegs++;
    const doff = len >= 20 ? (data[l4 + 12] >> 4) * 4 : 0;
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + PROTO_TCP +
      len;
    if (doff < 20 || doff > len || foldSum(sum16(view, l4, len, pseudo)) !== 0xffff) {
      tc.inErrs++;
      return;
    }
    // TCP is unicast only (RFC 9293 §3.9.1: no segments to broadcast or multicast).
    if (dst !== this.#ip || this.#linkCast) {
      tc.inErrs++;
      return;
    }
    const seg = this.#segment, v = seg.v;
    // 32-bit fields read as 16-bit halves: getUint32 outside optimized code returns a heap
    // number for a value above 2^30, and sequence numbers and timestamps are, per segment.
    v[SEG_SEQ] = view.getUint16(l4 + 4) * 65536 + view.getUint16(l4 + 6);
    v[SEG_ACK] = view.getUint16(l4 + 8) * 65536 + view.getUint16(l4 + 10);
    seg.flags = view.getUint16(l4 + 12) & 0x1ff;
    seg.window = view.getUint16(l4 + 14);
    seg.srcPort = view.getUint16(l4);
    seg.dstPort = view.getUint16(l4 + 2);
    const o = seg.options;
    // The common case without a parse loop: NOP, NOP, timestamps.
    if (doff === 32 && view.getUint32(l4 + 20) === 0x0101080a) {
      o.mss = -1;
      o.windowScale = -1;
      o.sackPermitted = false;
      o.sackBlocks = 0;
      o.truncated = false;
      o.hasTimestamp = true;
      o.values[TS_VAL] = view.getUint16(l4 + 24) * 65536 + view.getUint16(l4 + 26);
      o.values[TS_ECR] = view.getUint16(l4 + 28) * 65536 + view.getUint16(l4 + 30);
    } else {
      o.parse(data, l4 + 20, doff - 20);
      if (!(seg.flags & 0x02)) { // MSS, window scale, SACK-permitted mean something in SYNs only
        o.mss = -1;
        o.windowScale = -1;
        o.sackPermitted = false;
      }
    }
    const payload = len - doff;
    const slot = this.#tcpTable.find(dst, seg.dstPort, src, seg.srcPort);
    if (slot >= 0) {
      const conn = this.#tcpConns[slot]!;
      // A new SYN may take over a 4-tuple in TIME-WAIT; then the listener sees it below.
      if (!conn.yieldsToSyn(seg)) {
        conn.input(seg, data, l4 + doff, payload);
        return;
      }
    }
    const listener = this.#tcpListeners[seg.dstPort];
    const flags = seg.flags;
    if (listener !== null && (flags & 0x17) === 0x02) { // SYN without ACK, RST, FIN
      if (!listener.hasRoom) {
        tc.listenOverflows++;
        listener.overflows++;
        return; // dropped: the peer retries (Linux's default without syncookies)
      }
      const conn = this.#tcpAdd(seg.dstPort, src, seg.srcPort, listener.options);
      if (conn === null) {
        tc.listenOverflows++;
        return;
      }
      conn.listener = listener;
      listener.pending++;
      conn.acceptSyn(seg);
      return;
    }
    // Nobody: RST (RFC 9293 §3.10.7.1), never in answer to an RST.
    tc.noSocket++;
    if (flags & 0x04) return;
    if (flags & 0x10) {
      writeReset(this, dst, seg.dstPort, src, seg.srcPort, v[SEG_ACK], 0, false);
    } else {
      const segLen = payload + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0);
      writeReset(this, dst, seg.dstPort, src, seg.srcPort, 0, seqAdd(v[SEG_SEQ], segLen), true);
    }
  }

  #tcpTimers(): void {
    const conns = this.#tcpConns;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i];
      if (c !== null) c.timers(); // returns at once when nothing is due
    }
  }

  #tcpOutput(): void {
    const run = this.#tcpRun;
    // Output may schedule more (a write from onWritable): the list grows while it is walked.
    // A connection that met the poll's budget goes on in the next poll, first.
    let kept = 0;
    for (let i = 0; i < this.#tcpRunCount; i++) {
      const conn = run[i]!;
      run[i] = null;
      if (conn.output()) run[kept++] = conn;
    }
    this.#tcpRunCount = kept;
  }

  /** The MSS for a peer (internal, TcpHost): our MTU less the IP and TCP headers. */
  routeMss(_remoteIp: number): number {
    return this.#mtu - 40;
  }

  /** Starts a TCP segment's packet (internal, TcpHost). */
  startSegment(_src: number, dst: number, length: number): number {
    return this.#startIp(dst, PROTO_TCP, length);
  }

  /** Where the segment being built lives (internal, TcpHost). */
  get segmentData(): Uint8Array {
    return this.#outData;
  }

  /** A DataView on {@linkcode Stack.segmentData} (internal, TcpHost). */
  get segmentView(): DataView {
    return this.#outView;
  }

  /** Checksums and sends the segment (internal, TcpHost). */
  endSegment(
    at: number,
    length: number,
    src: number,
    dst: number,
    summed: number,
    partial: number,
  ): void {
    const tv = this.#outView;
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + PROTO_TCP +
      length + partial;
    tv.setUint16(at + 16, ~foldSum(sum16(tv, at, summed, pseudo)) & 0xffff);
    this.#endIp();
    this.#tcpBudget--;
  }

  /** Whether TCP may send more data in this poll (internal, TcpHost): the poll's budget. */
  tcpSendAllowed(): boolean {
    return this.#tcpBudget > 0;
  }

  /** A connection ended (internal, TcpHost): its table entry and slot are freed. */
  tcpRelease(conn: TcpConnection): void {
    this.#tcpTable.remove(conn.localIp, conn.localPort, conn.remoteIp, conn.remotePort);
    if (conn.slot >= 0 && this.#tcpConns[conn.slot] === conn) {
      this.#tcpConns[conn.slot] = null;
      this.#tcpFree.push(conn.slot);
    }
  }

  /** Runs the connection's output at the end of this poll (internal, TcpHost). */
  tcpSchedule(conn: TcpConnection): void {
    if (this.#tcpRunCount === this.#tcpRun.length) this.#tcpRun.push(conn);
    else this.#tcpRun[this.#tcpRunCount] = conn;
    this.#tcpRunCount++;
  }

  /** The challenge ACK rate limit (internal, TcpHost): a token bucket on the stack's clock. */
  challengeAllowed(): boolean {
    return this.#challenges.take();
  }

  /** The TCP connection a quoted segment belongs to (ICMP errors, ARP failures), or null. */
  #tcpOf(view: DataView, ipAt: number, l4: number): TcpConnection | null {
    const slot = this.#tcpTable.find(
      view.getUint32(ipAt + 12),
      view.getUint16(l4),
      view.getUint32(ipAt + 16),
      view.getUint16(l4 + 2),
    );
    return slot >= 0 ? this.#tcpConns[slot] : null;
  }

  // ----------------------------------------------------------------- receive

  /** One received frame (the device calls this for each frame of a burst). */
  frame(data: Uint8Array, view: DataView, offset: number, length: number): void {
    const c = this.counters;
    c.rxFrames++;
    if (length < 14) {
      c.rxTruncated++;
      return;
    }
    const dst = view.getUint16(offset) * TWO_32 + view.getUint16(offset + 2) * 65536 +
      view.getUint16(offset + 4); // 16-bit reads: see #tcpIn
    // IPv4 multicast MACs (01:00:5e + the group's low 23 bits) pass; the IP check picks groups.
    const multicast = view.getUint16(offset) === 0x0100 && data[offset + 2] === 0x5e;
    if (dst !== this.#mac && dst !== BROADCAST && !multicast) {
      c.rxOtherMac++;
      return;
    }
    this.#linkCast = dst !== this.#mac;
    const type = view.getUint16(offset + 12);
    if (type === ETH_IPV4) this.#ipv4(data, view, offset + 14, length - 14);
    else if (type === ETH_ARP) this.#arpIn(view, offset + 14, length - 14);
    else c.rxUnknownEtherType++;
  }

  #arpIn(view: DataView, at: number, length: number): void {
    const c = this.counters;
    c.arpIn++;
    if (
      length < 28 || view.getUint16(at) !== 1 || view.getUint16(at + 2) !== ETH_IPV4 ||
      view.getUint8(at + 4) !== 6 || view.getUint8(at + 5) !== 4
    ) {
      c.arpMalformed++;
      return;
    }
    const op = view.getUint16(at + 6);
    const senderMac = view.getUint16(at + 8) * TWO_32 + view.getUint32(at + 10);
    const senderIp = view.getUint32(at + 14);
    const targetIp = view.getUint32(at + 24);
    if (senderIp === this.#ip && this.#ip !== 0) {
      // Never learn a claim on our own address; our own gratuitous ARP echoed back is not one.
      if (senderMac !== this.#mac) c.arpConflicts++;
      else c.arpOther++;
      return;
    }
    const forUs = targetIp === this.#ip && this.#ip !== 0;
    // RFC 826: update an entry we have; create one when the packet is for us. Never one for an
    // address that is no single host's (a broadcast, multicast, ...): IP would then send there.
    if (!this.#martian(senderIp) && this.#arp.learn(senderIp, senderMac, forUs)) {
      this.#arp.drain(senderIp, this.#resend);
    }
    if (op === 1 && forUs) {
      this.#sendArpReply(view, at);
      c.arpRequestsAnswered++;
    } else {
      c.arpOther++; // replies, gratuitous announcements, requests for other addresses
    }
  }

  #ipv4(data: Uint8Array, view: DataView, at: number, length: number): void {
    const c = this.counters;
    c.ipIn++;
    if (length < 20) {
      c.ipBadHeader++;
      return;
    }
    const vihl = data[at], ihl = (vihl & 0x0f) * 4, total = view.getUint16(at + 2);
    if (vihl >> 4 !== 4 || ihl < 20 || total < ihl || total > length) {
      c.ipBadHeader++;
      return;
    }
    if (foldSum(sum16(view, at, ihl)) !== 0xffff) {
      c.ipBadChecksum++;
      return;
    }
    const src = view.getUint32(at + 12), dst = view.getUint32(at + 16);
    // 0.0.0.0 to the limited broadcast is a host still without an address (a DHCP client):
    // accepted, as Linux does, so a DHCP server can sit on this stack.
    if (this.#martian(src) && (src !== 0 || dst !== 0xffffffff)) {
      c.ipBadSource++;
      return;
    }
    // Without an address (DHCP under way) unicast to our MAC is for us: offers come that way.
    if (
      dst !== this.#ip && dst !== this.#broadcast && dst !== 0xffffffff && this.#ip !== 0 &&
      !this.#member(dst)
    ) {
      c.ipNotOurs++;
      return;
    }
    if ((view.getUint16(at + 6) & 0x3fff) !== 0) { // MF set or an offset: a fragment
      c.ipFragments++;
      const slot = this.#reassembler.add(data, view, at);
      if (slot < 0) return; // more to come (or dropped: the reassembler's counters say why)
      const r = this.#reassembler;
      c.ipReassembled++;
      const whole = r.offset(slot);
      this.#ipDeliver(r.data, r.view, whole, (r.data[whole] & 0x0f) * 4, r.length(slot), dst);
      r.release(slot);
      return;
    }
    this.#ipDeliver(data, view, at, ihl, total, dst);
  }

  /** Whether `src` is no single host's address (RFC 1122 §3.2.1.3), or ours (Linux drops those). */
  #martian(src: number): boolean {
    const net = src >>> 24;
    return net === 0 || net === 127 || net >= 224 || // this network, loopback, multicast, class E
      (src === this.#broadcast || src === this.#ip) && this.#ip !== 0;
  }

  /** An IPv4 packet for us, whole (received so, or reassembled), to its protocol. */
  #ipDeliver(
    data: Uint8Array,
    view: DataView,
    at: number,
    ihl: number,
    total: number,
    dst: number,
  ): void {
    const src = view.getUint32(at + 12), proto = data[at + 9];
    if (proto === PROTO_TCP) {
      this.counters.tcpIn++;
      this.#tcpIn(data, view, at + ihl, total - ihl, src, dst);
    } else if (proto === PROTO_UDP) this.#udpIn(data, view, at + ihl, total - ihl, src, dst, at);
    else if (proto === PROTO_ICMP) this.#icmpIn(data, view, at, ihl, total, src, dst);
    else if (proto === PROTO_IGMP) this.#igmpIn(data, view, at + ihl, total - ihl, dst);
    else this.counters.ipUnknownProtocol++;
  }

  // ---------------------------------------------------------------- multicast

  /** Whether we joined `group` (or it is all-hosts, 224.0.0.1, which every host is in). */
  #member(group: number): boolean {
    if (group === ALL_HOSTS) return true;
    for (let i = 0; i < this.#groupCount; i++) if (this.#groups[i] === group) return true;
    return false;
  }

  /**
   * Receives IPv4 multicast sent to `group` (224.0.0.0/4) and announces it to the routers with
   * an IGMPv2 membership report (RFC 2236). Sockets receive datagrams sent to the group on their
   * port (see {@linkcode UdpSocket.join}).
   */
  joinGroup(group: number): void {
    if ((group >>> 28) !== 0xe || group === ALL_HOSTS) {
      throw new RangeError(
        `joinGroup: ${group >>> 24}.${group >>> 16 & 255}.${group >>> 8 & 255}.${
          group & 255
        } is not a multicast group`,
      );
    }
    for (let i = 0; i < this.#groupCount; i++) {
      if (this.#groups[i] === group) { // joined already: one more user
        this.#groupUsers[i]++;
        return;
      }
    }
    if (this.#groupCount === this.#groups.length) {
      throw new RangeError("joinGroup: too many groups");
    }
    this.#groupUsers[this.#groupCount] = 1;
    this.#groups[this.#groupCount++] = group;
    this.#sendIgmp(IGMP_REPORT, group, group);
  }

  /** Leaves `group` (IGMPv2 leave to all-routers). */
  leaveGroup(group: number): void {
    for (let i = 0; i < this.#groupCount; i++) {
      if (this.#groups[i] !== group) continue;
      if (--this.#groupUsers[i] > 0) return; // still used by another socket
      const last = --this.#groupCount;
      this.#groups[i] = this.#groups[last];
      this.#groupUsers[i] = this.#groupUsers[last];
      this.#sendIgmp(IGMP_LEAVE, group, ALL_ROUTERS);
      return;
    }
  }

  /** Membership queries are answered with a report per group we are in (RFC 2236 §3). */
  #igmpIn(data: Uint8Array, view: DataView, at: number, length: number, _dst: number): void {
    const c = this.counters;
    c.igmpIn++;
    if (length < 8 || foldSum(sum16(view, at, 8)) !== 0xffff || data[at] !== IGMP_QUERY) return;
    const asked = view.getUint32(at + 4); // 0: a general query
    for (let i = 0; i < this.#groupCount; i++) {
      const g = this.#groups[i];
      if (asked === 0 || asked === g) this.#sendIgmp(IGMP_REPORT, g, g);
    }
  }

  #sendIgmp(type: number, group: number, to: number): void {
    if (this.#ip === 0) return; // no address to report from yet
    const at = this.#reserve(14 + 24 + 8);
    if (at < 0) return;
    const tv = this.#device.txView;
    tv.setUint16(at, 0x0100); // 01:00:5e + the low 23 bits of the destination group
    tv.setUint32(at + 2, (0x5e000000 | (to & 0x7fffff)) >>> 0);
    this.#writeSource(tv, at, ETH_IPV4);
    const ip = at + 14, id = this.#ipId = (this.#ipId + 1) & 0xffff;
    tv.setUint32(ip, (0x4600 << 16 | 32) >>> 0); // IHL 6: the Router Alert option follows
    tv.setUint32(ip + 4, id << 16 >>> 0);
    tv.setUint32(ip + 8, (1 << 24 | PROTO_IGMP << 16) >>> 0); // TTL 1
    tv.setUint32(ip + 12, this.#ip);
    tv.setUint32(ip + 16, to);
    tv.setUint32(ip + 20, 0x94040000); // Router Alert (RFC 2113)
    tv.setUint16(ip + 10, ~foldSum(sum16(tv, ip, 24)) & 0xffff);
    tv.setUint32(ip + 24, type << 24 >>> 0); // max response time 0, checksum 0
    tv.setUint32(ip + 28, group);
    tv.setUint16(ip + 26, ~foldSum(sum16(tv, ip + 24, 8)) & 0xffff);
    this.counters.igmpOut++;
  }

  #icmpIn(
    data: Uint8Array,
    view: DataView,
    at: number,
    ihl: number,
    total: number,
    src: number,
    dst: number,
  ): void {
    const c = this.counters;
    c.icmpIn++;
    const l4 = at + ihl, len = total - ihl;
    if (len < 8 || foldSum(sum16(view, l4, len)) !== 0xffff) {
      c.icmpBadChecksum++;
      return;
    }
    const type = data[l4];
    if ((type === 3 || type === 11) && len >= 8 + 20 + 8) { // unreachable, time exceeded
      c.icmpErrors++;
      this.#icmpError(data, view, l4, len);
      return;
    }
    if (type !== 8 || data[l4 + 1] !== 0) { // only echo requests need an answer
      c.icmpOther++;
      return;
    }
    if (dst !== this.#ip) { // no replies to broadcast pings (Linux's default)
      c.icmpOther++;
      return;
    }
    c.icmpEchoRequests++;
    // The reply: the request's ICMP message with type 0 and the checksum patched.
    const out = this.#startIp(src, PROTO_ICMP, len);
    if (out < 0) return;
    const tx = this.#outData, tv = this.#outView;
    copyBytes(data, view, l4, tx, this.#outView, out, len);
    tx[out] = 0;
    tv.setUint16(out + 2, 0);
    tv.setUint16(out + 2, ~foldSum(sum16(tv, out, len)) & 0xffff);
    this.#endIp();
    c.icmpEchoReplies++;
  }

  #udpIn(
    data: Uint8Array,
    view: DataView,
    l4: number,
    len: number,
    src: number,
    dst: number,
    ipAt: number,
  ): void {
    const c = this.counters;
    const udpLength = len >= 8 ? view.getUint16(l4 + 4) : 0;
    if (udpLength < 8 || udpLength > len) {
      c.udpBad++;
      return;
    }
    if (view.getUint16(l4 + 6) !== 0) { // 0: the sender computed none (allowed over IPv4)
      const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + PROTO_UDP +
        udpLength;
      if (foldSum(sum16(view, l4, udpLength, pseudo)) !== 0xffff) {
        c.udpBad++;
        return;
      }
    }
    const dstPort = view.getUint16(l4 + 2);
    const socket = this.#udpPorts[dstPort];
    if (socket === null) {
      c.udpNoSocket++;
      // No ICMP error about a broadcast or multicast, IP or link-layer (RFC 1122 §3.2.2).
      if (dst === this.#ip && !this.#linkCast) this.#portUnreachable(data, view, ipAt, src);
      return;
    }
    const receiver = socket.receiver;
    if (receiver === null) {
      c.udpNoReceiver++;
      return;
    }
    c.udpIn++;
    socket.received++;
    receiver.datagram(data, view, l4 + 8, udpLength - 8, src, view.getUint16(l4));
  }

  /**
   * An ICMP error about a datagram we sent goes to the socket that sent it (RFC 1122 §4.1.3.3):
   * the quoted IP header and first 8 bytes say which. "Fragmentation needed" carries the next
   * hop's MTU.
   */
  #icmpError(data: Uint8Array, view: DataView, l4: number, len: number): void {
    const q = l4 + 8, qihl = (data[q] & 0x0f) * 4;
    if (data[q] >> 4 !== 4 || qihl < 20 || 8 + qihl + 8 > len) return;
    if (data[q + 9] === PROTO_TCP) {
      const conn = this.#tcpOf(view, q, q + qihl);
      if (conn === null) return;
      this.counters.icmpErrorsDelivered++;
      const type = data[l4], code = data[l4 + 1];
      conn.icmpError(type, code, type === 3 && code === 4 ? view.getUint16(l4 + 6) : 0);
      return;
    }
    if (data[q + 9] !== PROTO_UDP) return;
    const socket = this.#udpPorts[view.getUint16(q + qihl)];
    if (socket === null || view.getUint32(q + 12) !== this.#ip) return;
    const receiver = socket.errorReceiver;
    socket.errors++;
    this.counters.icmpErrorsDelivered++;
    if (receiver !== null) {
      const type = data[l4], code = data[l4 + 1];
      const mtu = type === 3 && code === 4 ? view.getUint16(l4 + 6) : 0;
      receiver.icmpError(type, code, view.getUint32(q + 16), view.getUint16(q + qihl + 2), mtu);
    }
  }

  /**
   * A datagram given up because its next hop never answered ARP: the socket that sent it hears
   * "host unreachable" (ICMP type 3 code 1, as Linux reports EHOSTUNREACH for it).
   */
  #unreachable(data: Uint8Array, at: number, length: number): void {
    const ihl = (data[at] & 0x0f) * 4;
    if (length < ihl + 8) return;
    const view = new DataView(data.buffer, data.byteOffset); // rare: an ARP failure
    if (data[at + 9] === PROTO_TCP) {
      const dst = view.getUint32(at + 16);
      this.#tcpOf(view, at, at + ihl)?.unreachable(
        `no ARP answer from ${dst >>> 24}.${dst >>> 16 & 255}.${dst >>> 8 & 255}.${dst & 255}`,
      );
      return;
    }
    if (data[at + 9] !== PROTO_UDP) return;
    const socket = this.#udpPorts[view.getUint16(at + ihl)];
    if (socket === null) return;
    socket.errors++;
    this.counters.icmpErrorsDelivered++;
    socket.errorReceiver?.icmpError(3, 1, view.getUint32(at + 16), view.getUint16(at + ihl + 2), 0);
  }

  /** ICMP destination unreachable (port) with the offending header + 8 bytes, rate-limited. */
  #portUnreachable(data: Uint8Array, view: DataView, ipAt: number, src: number): void {
    const c = this.counters;
    if (!this.#icmpErrors.take()) {
      c.icmpRateLimited++;
      return;
    }
    const quoted = Math.min(((data[ipAt] & 0x0f) * 4) + 8, 576 - 28);
    const out = this.#startIp(src, PROTO_ICMP, 8 + quoted);
    if (out < 0) return;
    const tx = this.#outData, tv = this.#outView;
    tv.setUint32(out, 0x03030000); // type 3 (unreachable), code 3 (port), checksum 0
    tv.setUint32(out + 4, 0);
    copyBytes(data, view, ipAt, tx, tv, out + 8, quoted);
    tv.setUint16(out + 2, ~foldSum(sum16(tv, out, 8 + quoted)) & 0xffff);
    this.#endIp();
    c.icmpUnreachableSent++;
  }

  // -------------------------------------------------------------------- send

  /** Sends a UDP datagram (see UdpSocket.sendTo). */
  sendUdp(
    srcPort: number,
    dstIp: number,
    dstPort: number,
    data: Uint8Array,
    offset: number,
    length: number,
  ): boolean {
    const out = this.#startIp(dstIp, PROTO_UDP, 8 + length);
    if (out < 0) return false;
    const tx = this.#outData, tv = this.#outView;
    tv.setUint32(out, (srcPort << 16 | dstPort) >>> 0);
    tv.setUint32(out + 4, (8 + length) << 16 >>> 0); // length, checksum 0 for now
    copyBytes(data, this.#viewOf(data), offset, tx, tv, out + 8, length);
    const pseudo = (this.#ip >>> 16) + (this.#ip & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) +
      PROTO_UDP + 8 + length;
    const sum = ~foldSum(sum16(tv, out, 8 + length, pseudo)) & 0xffff;
    tv.setUint16(out + 6, sum === 0 ? 0xffff : sum);
    this.#endIp();
    this.counters.udpOut++;
    return true;
  }

  // Where the packet being built goes: a device frame, or (next hop unresolved) the scratch
  // buffer, from which the ARP cache copies it into its queue.
  #outData: Uint8Array;
  #outView: DataView;
  #heldHop = 0;
  readonly #scratch = new Uint8Array(14 + 65535); // an Ethernet header and the largest IP packet
  readonly #scratchView = new DataView(this.#scratch.buffer);

  /**
   * Starts an IPv4 packet to `dst` with `payloadLength` bytes of protocol `proto`: writes the
   * Ethernet and IP headers and returns where the payload goes in `#outData`, or -1 when it
   * cannot be sent (counted). `#endIp` finishes it.
   */
  #startIp(dst: number, proto: number, payloadLength: number): number {
    const c = this.counters;
    const total = 20 + payloadLength;
    if (total > 65535) {
      c.txTooBig++;
      return -1;
    }
    const onLink = ((dst & this.#mask) >>> 0) === ((this.#ip & this.#mask) >>> 0) ||
      dst === 0xffffffff || (dst >>> 28) === 0xe; // multicast goes out on the link
    const nextHop = onLink ? dst : this.#gateway;
    if (
      nextHop === 0 || dst === 0 || dst === this.#ip || // no loopback: never ARP for ourselves
      (this.#ip === 0 && dst !== 0xffffffff) // no address: broadcast only
    ) {
      c.txNoRoute++;
      return -1;
    }
    const broadcast = dst === 0xffffffff || dst === this.#broadcast;
    const multicast = (dst >>> 28) === 0xe;
    const entry = broadcast || multicast ? 0 : this.#arp.lookup(nextHop, this.#arpActions);
    if (entry < 0) {
      if (total > this.#mtu) { // the ARP queue holds packets of one MTU
        c.txTooBig++;
        return -1;
      }
      this.#outData = this.#scratch;
      this.#outView = this.#scratchView;
      this.#heldHop = nextHop;
      this.#writeIpHeader(this.#scratchView, 0, dst, proto, total);
      return 20;
    }
    if (total > this.#mtu) {
      // Built whole in the scratch buffer behind its Ethernet header, cut up by #endIp.
      const sv = this.#outView = this.#scratchView;
      this.#outData = this.#scratch;
      if (broadcast) this.#writeBroadcast(sv, 0);
      else if (multicast) {
        sv.setUint16(0, 0x0100);
        sv.setUint32(2, (0x5e000000 | (dst & 0x7fffff)) >>> 0);
      } else this.#arp.writeMac(entry, sv, 0);
      this.#writeSource(sv, 0, ETH_IPV4);
      this.#writeIpHeader(sv, 14, dst, proto, total);
      this.#fragmenting = true;
      return 34;
    }
    const at = this.#reserve(14 + total);
    if (at < 0) return -1;
    const tv = this.#outView = this.#device.txView;
    this.#outData = this.#device.txData;
    if (broadcast) this.#writeBroadcast(tv, at);
    else if (multicast) {
      tv.setUint16(at, 0x0100); // 01:00:5e + the group's low 23 bits (RFC 1112 §6.4)
      tv.setUint32(at + 2, (0x5e000000 | (dst & 0x7fffff)) >>> 0);
    } else this.#arp.writeMac(entry, tv, at);
    this.#writeSource(tv, at, ETH_IPV4);
    this.#writeIpHeader(tv, at + 14, dst, proto, total);
    return at + 34;
  }

  /**
   * Finishes the packet `#startIp` began: one larger than the MTU goes out in fragments, one
   * waiting for ARP goes to the ARP queue.
   */
  #endIp(): void {
    if (this.#fragmenting) {
      this.#fragmenting = false;
      const sv = this.#scratchView;
      // The whole packet's header checksum covers the payload-independent fields only: fine.
      const n = fragmentIpv4(this.#scratch, sv, 14, this.#mtu, this.#fragmentSink, 14);
      if (n > 0) this.counters.txFragments += n;
      return;
    }
    const hop = this.#heldHop;
    if (hop === 0) return;
    this.#heldHop = 0;
    const total = this.#scratchView.getUint16(2);
    if (!this.#arp.hold(hop, this.#scratch, 0, total, this.#arpActions)) {
      this.counters.arpQueueFull++;
    }
  }

  #writeBroadcast(view: DataView, at: number): void {
    view.setUint16(at, 0xffff);
    view.setUint32(at + 2, 0xffffffff);
  }

  /** Our MAC as source, and the EtherType. */
  #writeSource(view: DataView, at: number, type: number): void {
    view.setUint16(at + 6, this.#macHi);
    view.setUint32(at + 8, this.#macLo);
    view.setUint16(at + 12, type);
  }

  #writeIpHeader(view: DataView, at: number, dst: number, proto: number, total: number): void {
    const id = this.#ipId = (this.#ipId + 1) & 0xffff;
    view.setUint32(at, (0x4500 << 16 | total) >>> 0);
    // DF on what fits the MTU (as Linux does for path MTU discovery); off on what we fragment.
    view.setUint32(at + 4, (id << 16 | (total <= this.#mtu ? 0x4000 : 0)) >>> 0);
    // TTL 64; 1 for multicast, which stays on the link unless asked otherwise (RFC 1112).
    const ttl = (dst >>> 28) === 0xe ? 1 : 64;
    view.setUint32(at + 8, (ttl << 24 | proto << 16) >>> 0); // checksum 0 for now
    view.setUint32(at + 12, this.#ip);
    view.setUint32(at + 16, dst);
    view.setUint16(at + 10, ~foldSum(sum16(view, at, 20)) & 0xffff);
  }

  // DataViews for callers' buffers, the last four kept: sending from the same buffers (a
  // receive region, a reused send buffer) makes none after the first time.
  readonly #viewData: (Uint8Array | null)[] = [null, null, null, null];
  readonly #views: (DataView | null)[] = [null, null, null, null];
  #nextView = 0;
  #viewOf(data: Uint8Array): DataView {
    for (let i = 0; i < 4; i++) if (this.#viewData[i] === data) return this.#views[i]!;
    const i = this.#nextView;
    this.#nextView = (i + 1) & 3;
    this.#viewData[i] = data;
    return this.#views[i] = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Re-sends a held IP packet once its next hop resolved. */
  #sendIpPacket(data: Uint8Array, offset: number, length: number): void {
    const dst = (data[offset + 16] << 24 | data[offset + 17] << 16 | data[offset + 18] << 8 |
      data[offset + 19]) >>> 0;
    const onLink = ((dst & this.#mask) >>> 0) === ((this.#ip & this.#mask) >>> 0);
    const entry = this.#arp.lookup(onLink ? dst : this.#gateway, this.#arpActions);
    if (entry < 0) return;
    const at = this.#reserve(14 + length);
    if (at < 0) return;
    this.#arp.writeMac(entry, this.#device.txView, at);
    this.#writeSource(this.#device.txView, at, ETH_IPV4);
    copyBytes(
      data,
      this.#viewOf(data),
      offset,
      this.#device.txData,
      this.#device.txView,
      at + 14,
      length,
    );
  }

  /** A who-has request for `targetIp`, broadcast. */
  #sendArpRequest(targetIp: number): void {
    const at = this.#reserve(42);
    if (at < 0) return;
    const tv = this.#device.txView;
    this.#writeBroadcast(tv, at);
    this.#writeArp(tv, at, 1);
    tv.setUint16(at + 32, 0); // target MAC unknown
    tv.setUint32(at + 34, 0);
    tv.setUint32(at + 38, targetIp);
    this.counters.arpRequestsSent++;
  }

  /** The answer to the request at `view[req]` (its ARP header), sent to its sender. */
  #sendArpReply(view: DataView, req: number): void {
    const at = this.#reserve(42);
    if (at < 0) return;
    const tv = this.#device.txView;
    tv.setUint16(at, view.getUint16(req + 8)); // to the sender's MAC
    tv.setUint32(at + 2, view.getUint32(req + 10));
    this.#writeArp(tv, at, 2);
    tv.setUint16(at + 32, view.getUint16(req + 8));
    tv.setUint32(at + 34, view.getUint32(req + 10));
    tv.setUint32(at + 38, view.getUint32(req + 14));
  }

  /** Ethernet source and type, and the ARP header up to our own MAC and address. */
  #writeArp(tv: DataView, at: number, op: number): void {
    this.#writeSource(tv, at, ETH_ARP);
    tv.setUint32(at + 14, 0x00010800); // Ethernet, IPv4
    tv.setUint32(at + 18, 0x06040000 | op); // hlen 6, plen 4, op
    tv.setUint16(at + 22, this.#macHi);
    tv.setUint32(at + 24, this.#macLo);
    tv.setUint32(at + 28, this.#ip);
  }

  /** Reserves a device frame; when the burst is full, flushes and tries once more. */
  #reserve(length: number): number {
    let at = this.#device.reserve(length);
    if (at < 0) {
      this.#device.flush(this.clock);
      at = this.#device.reserve(length);
    }
    if (at < 0) this.counters.txNoBuffer++;
    else this.counters.txFrames++;
    return at;
  }
}
