/**
 * Bad input into the host stack (network stack issue, "Bad input"): 10^6 hostile frames into
 * {@linkcode Stack.poll} through an in-memory device pair, in bursts, on advancing virtual time.
 * Two runs share the frames: a stack with a static address (10.0.0.2/24, gateway 10.0.0.1;
 * UDP sockets with receivers on 7 (an echo), 5000 (which joined 239.1.2.3) and 5001, one without
 * a receiver on 6000), and a stack on DHCP that starts without an address, to which the fuzzer
 * also sends DHCP replies carrying the client's real transaction id, so that leases come, change,
 * expire and are refused under fire.
 *
 * Frames are valid ARP/ICMP/UDP/TCP/IGMP frames from the net/ builders, mutated from a seeded
 * PRNG: truncated (every length of every template, then at random), bytes and bits flipped,
 * random and boundary values in length, offset, IHL, checksum and address fields, wrong IP
 * versions, IP options, broadcast/multicast/other MACs, fragment floods (MF, offsets, overlaps,
 * many ids), whole fragmented datagrams up to 64 KiB (in order, shuffled, with a fragment
 * missing, repeated or overlapping), ARP spoofing of our own address, ARP from thousands of
 * addresses, ICMP errors quoting our sockets, IGMP queries, DHCP-looking UDP to port 68,
 * datagrams from odd sources and pure random bytes. Mutated frames get their checksums fixed
 * half of the time, so that they reach the layers above IP.
 *
 * After every burst: no exception escaped `poll` (the message names the seed, the burst and the
 * frame, in hex), the counter identities stated in the StackCounters JSDoc hold exactly, the
 * stack saw every frame injected, the reassembler's counters agree with the stack's, the ARP
 * cache and queue stay within their capacities, our own address is never learned, every frame
 * the stack sent is well formed (our MAC and address, lengths, header and transport checksums,
 * fragments that reassemble into datagrams with a right checksum), and a payload handed to a
 * receiver lies inside the frame it came in. The heap after a GC (made callable in-process
 * through node:v8) does not grow with the number of frames. At the end the stack still answers
 * a clean ping, delivers and echoes a clean datagram, and resolves and sends to a new host.
 *
 * Reproduce a failure with the seed it names, `STACK_FUZZ_SEED=<seed>`; `STACK_FUZZ_BURST=1`
 * makes every burst one frame, so a failure after a burst names the one frame that caused it.
 * `STACK_FUZZ_FRAMES` sets the total (default 10^6).
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import {
  buildArp,
  buildIcmpEcho,
  buildTcpFrame,
  buildUdpFrame,
  foldSum,
  ipv4ToString,
  parseIpv4,
  sum16,
} from "../../net/mod.ts";
import { ArpState } from "../../stack/arp.ts";
import type { FrameReceiver } from "../../stack/device.ts";
import { DhcpState } from "../../stack/dhcp.ts";
import { Reassembler } from "../../stack/fragment.ts";
import { Stack, type StackCounters } from "../../stack/interface.ts";
import { MemoryPair } from "../../stack/memory.ts";
import type { UdpSocket } from "../../stack/udp.ts";
import { brokenIdentity, IDENTITIES } from "./_counter_identities.ts";

const SEED = Number(Deno.env.get("STACK_FUZZ_SEED") ?? 0x57ac4);
const FRAMES = Number(Deno.env.get("STACK_FUZZ_FRAMES") ?? 1_000_000);
const MAX_BURST = Number(Deno.env.get("STACK_FUZZ_BURST") ?? 32);
/**
 * RFC 1122 §3.2.1.3 and §3.2.2: a host silently discards a datagram whose source is not a single
 * host (0.0.0.0/8, 127.0.0.0/8, multicast, class E, a broadcast address; and, as Linux does, one
 * of its own addresses), and sends no ICMP error about one, nor about a datagram that came as a
 * link-layer broadcast. `STACK_FUZZ_MARTIANS=0` leaves these checks out.
 */
const CHECK_MARTIANS = Deno.env.get("STACK_FUZZ_MARTIANS") !== "0";

const S = 1e9;
const OUR_MAC_TEXT = "02:00:00:00:00:0b", PEER_MAC_TEXT = "02:00:00:00:00:0a";
const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x0b]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x0a]);
const OUR_IP = parseIpv4("10.0.0.2"), PEER_IP = parseIpv4("10.0.0.1");
const GROUP = parseIpv4("239.1.2.3"), ALL_HOSTS = parseIpv4("224.0.0.1");
const FRAME_MAX = 1514; // MTU 1500 + the Ethernet header: the most the device takes
const ARP_QUEUE = 32;
const PORTS = [7, 5000, 5001, 6000, 68, 9, 53];

// ------------------------------------------------------------------------ counter identities

type Counter = keyof StackCounters;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// -------------------------------------------------------------------------------- frames

const KIND_NAMES = [
  "random bytes",
  "truncated",
  "bytes/bits flipped",
  "field values",
  "IP version",
  "IP options",
  "MAC addresses",
  "fragment",
  "fragmented datagram",
  "ARP spoof of our address",
  "ARP from many addresses",
  "DHCP-looking UDP to 68",
  "odd addresses",
  "ICMP error",
  "IGMP / multicast",
  "clean",
  "truncation sweep",
] as const;
const K = {
  RANDOM: 0,
  TRUNCATED: 1,
  FLIPPED: 2,
  FIELDS: 3,
  VERSION: 4,
  OPTIONS: 5,
  MACS: 6,
  FRAGMENT: 7,
  TRAIN: 8,
  ARP_SPOOF: 9,
  ARP_FLOOD: 10,
  DHCP: 11,
  ADDRESSES: 12,
  ICMP_ERROR: 13,
  MULTICAST: 14,
  CLEAN: 15,
  SWEEP: 16,
} as const;
/** How often each kind is drawn (the sweep runs first; a train's fragments follow it). */
const WEIGHTS = [6, 8, 12, 14, 3, 5, 5, 10, 0.5, 5, 8, 7, 6, 4, 4, 9];

/** Sources and destinations beyond the plain ones: broadcasts, multicast, martians. */
const ODD_SOURCES = [
  "10.0.0.1",
  "10.0.0.3",
  "10.0.0.200",
  "192.168.7.7",
  "0.0.0.0",
  "255.255.255.255",
  "10.0.0.255",
  "224.0.0.1",
  "239.1.2.3",
  "127.0.0.1",
  "240.0.0.1",
  "10.0.0.2",
].map(parseIpv4);
const ODD_DESTINATIONS = [
  "10.0.0.2",
  "10.0.0.255",
  "255.255.255.255",
  "10.0.0.9",
  "224.0.0.1",
  "239.1.2.3",
  "239.9.9.9",
  "0.0.0.0",
  "8.8.8.8",
].map(parseIpv4);
const MACS_TO = [
  [2, 0, 0, 0, 0, 0x0b], // ours
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03], // 239.1.2.3's
  [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], // all hosts'
  [0x33, 0x33, 0x00, 0x00, 0x00, 0x01], // IPv6 multicast
  [2, 0, 0, 0, 0, 0x99], // another host
  [0, 0, 0, 0, 0, 0],
  [2, 0, 0, 0, 0, 0x0a], // the peer's
];

/** Builds hostile frames into `buf` from a seeded PRNG. */
class FrameMaker {
  readonly buf = new Uint8Array(FRAME_MAX);
  readonly view = new DataView(this.buf.buffer);
  /** The kind of the last frame (an index into KIND_NAMES). */
  kind = 0;
  /** Our address as the stack has it now (it changes under DHCP; 0: none). */
  address = OUR_IP;
  /** The DHCP client's current transaction id, as seen in its messages. */
  xid = 0;
  readonly templates: Uint8Array[];
  readonly ipTemplates: Uint8Array[];
  readonly bigTemplates: Uint8Array[];
  #state: number;
  readonly #cumulative: number[] = [];
  #sweepTemplate = 0;
  #sweepLength = 0;
  readonly #fragIds = [0x1111, 0x2222, 0x3333, 0x4444];
  // The datagram being sent in fragments: Ethernet + IP header + payload, and its pieces.
  readonly #train = new Uint8Array(14 + 65535);
  readonly #trainView = new DataView(this.#train.buffer);
  readonly #pieceStart = new Int32Array(8192);
  readonly #pieceLength = new Int32Array(8192);
  readonly #pieceLast = new Uint8Array(8192);
  #pieces = 0;
  #piece = 0;
  /** The piece that overlaps others, or -1. */
  #overlap = -1;

  constructor(seed: number) {
    this.#state = seed >>> 0;
    let sum = 0;
    for (const w of WEIGHTS) this.#cumulative.push(sum += w);
    const eth = { srcMac: PEER_MAC_TEXT, dstMac: OUR_MAC_TEXT };
    const ip = { ...eth, srcIp: "10.0.0.1", dstIp: "10.0.0.2" };
    const bcast = { dstMac: "ff:ff:ff:ff:ff:ff" };
    const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
    const udp = (dstPort: number, n: number, more: Record<string, unknown> = {}) =>
      buildUdpFrame({ ...ip, srcPort: 40000, dstPort, payload: bytes(n), ...more });
    const echo = (n: number, more: Record<string, unknown> = {}) =>
      buildIcmpEcho({ ...ip, identifier: 7, sequence: 9, payload: bytes(n), ...more });
    const unreachable = echo(28);
    unreachable[34] = 3, unreachable[35] = 3; // ICMP type 3 code 3 (checksum fixed below)
    const igmpQuery = udp(0, 0, { dstMac: "01:00:5e:00:00:01", dstIp: "224.0.0.1", ttl: 1 });
    igmpQuery[23] = 2;
    igmpQuery.set([0x11, 100, 0, 0, 0, 0, 0, 0], 34); // a general query (checksum fixed below)
    this.ipTemplates = [
      udp(7, 5),
      udp(7, 0),
      udp(5000, 64),
      udp(5001, 1),
      udp(5000, 3, { minLength: 60 }), // Ethernet padding after the datagram
      udp(6000, 10),
      udp(9, 20),
      udp(68, 300, { srcPort: 67 }),
      udp(5000, 20, { ...bcast, dstIp: "10.0.0.255" }),
      udp(9, 20, { ...bcast, dstIp: "255.255.255.255" }),
      udp(5000, 12, { dstMac: "01:00:5e:01:02:03", dstIp: "239.1.2.3" }),
      udp(7, 8, { dstIp: "10.0.0.99" }),
      udp(5000, 1472),
      echo(0),
      echo(56),
      echo(1472),
      echo(56, { reply: true }),
      echo(8, { ...bcast, dstIp: "10.0.0.255" }),
      unreachable,
      igmpQuery,
      buildTcpFrame({ ...ip, srcPort: 40000, dstPort: 80, flags: 0x02, seq: 1 }),
      buildTcpFrame({ ...ip, srcPort: 40000, dstPort: 80, flags: 0x18, payload: bytes(100) }),
    ];
    this.bigTemplates = this.ipTemplates.filter((t) => t.length > 1000);
    const arp = { srcMac: PEER_MAC_TEXT };
    this.templates = [
      ...this.ipTemplates,
      buildArp({ ...arp, senderIp: "10.0.0.1", targetIp: "10.0.0.2" }),
      buildArp({ ...arp, senderIp: "10.0.0.1", targetIp: "10.0.0.2", minLength: 60 }),
      buildArp({
        ...arp,
        operation: 2,
        senderIp: "10.0.0.1",
        targetIp: "10.0.0.2",
        targetMac: OUR_MAC_TEXT,
      }),
      buildArp({ ...arp, senderIp: "10.0.0.1", targetIp: "10.0.0.7" }),
      buildArp({ ...arp, senderIp: "10.0.0.1", targetIp: "10.0.0.1" }), // gratuitous
    ];
    for (const t of this.templates) fixChecksums(t, new DataView(t.buffer), t.length);
  }

  rand(): number {
    let t = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  u32(): number {
    return (this.rand() * 4294967296) >>> 0;
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  /** Frames of the truncation sweep: every length of every template. */
  get sweepFrames(): number {
    let n = 0;
    for (const t of this.templates) n += t.length + 1;
    return n;
  }

  /** The next frame of the truncation sweep, or -1 once it is over. */
  nextSweep(): number {
    if (this.#sweepTemplate >= this.templates.length) return -1;
    const t = this.templates[this.#sweepTemplate];
    this.buf.set(t);
    const len = this.#sweepLength;
    if (++this.#sweepLength > t.length) this.#sweepTemplate++, this.#sweepLength = 0;
    this.kind = K.SWEEP;
    return len;
  }

  /** Writes the next hostile frame into `buf` and returns its length. */
  next(): number {
    if (this.#piece < this.#pieces && this.rand() < 0.8) { // a train's fragments, interleaved
      this.kind = K.TRAIN;
      return this.#nextPiece();
    }
    const r = this.rand() * this.#cumulative[this.#cumulative.length - 1];
    let kind = 0;
    while (r >= this.#cumulative[kind]) kind++;
    this.kind = kind;
    const b = this.buf, v = this.view;
    switch (kind) {
      case K.RANDOM:
        return this.#random();
      case K.TRUNCATED:
        return this.int(this.#template(this.templates) + 1);
      case K.FLIPPED:
        return this.#flipped();
      case K.FIELDS:
        return this.#fields();
      case K.VERSION: {
        const len = this.#template(this.ipTemplates);
        b[14] = this.rand() < 0.5 ? (this.int(16) << 4) | 5 : this.int(256);
        if (this.rand() < 0.8) this.fix(len);
        return len;
      }
      case K.OPTIONS:
        return this.#options();
      case K.MACS: {
        const len = this.#template(this.templates);
        b.set(this.#pick(MACS_TO));
        if (this.rand() < 0.3) v.setUint32(8, this.u32()); // a random source MAC
        return len;
      }
      case K.FRAGMENT:
        return this.#fragment();
      case K.TRAIN:
        this.#newTrain();
        return this.#nextPiece();
      case K.ARP_SPOOF:
        return this.#arp(this.address || OUR_IP, this.rand() < 0.5, true);
      case K.ARP_FLOOD: {
        // Thousands of senders: on our subnet, a /16 around it, or anywhere.
        const r2 = this.rand();
        const sender = r2 < 0.3
          ? (OUR_IP & 0xffffff00 | this.int(256)) >>> 0
          : r2 < 0.7
          ? (OUR_IP & 0xffff0000 | this.int(65536)) >>> 0
          : this.u32();
        return this.#arp(sender, this.rand() < 0.8, false);
      }
      case K.DHCP:
        return this.#dhcp();
      case K.ADDRESSES: {
        const len = this.#template(this.ipTemplates);
        v.setUint32(26, this.#pick(ODD_SOURCES));
        if (this.rand() < 0.5) v.setUint32(30, this.#pick(ODD_DESTINATIONS));
        if (this.rand() < 0.5) b.set(MACS_TO[this.int(3)]);
        this.fix(len);
        return len;
      }
      case K.ICMP_ERROR:
        return this.#icmpError();
      case K.MULTICAST:
        return this.#multicast();
      default: { // clean, from a random on-link source half of the time (replies need ARP)
        const len = this.#template(this.templates);
        if (this.rand() < 0.5 && b[12] === 8 && b[13] === 0) {
          v.setUint32(26, (OUR_IP & 0xffffff00 | (3 + this.int(250))) >>> 0);
          this.fix(len);
        }
        return len;
      }
    }
  }

  /** Recomputes the checksums of the frame in `buf` (see {@linkcode fixChecksums}). */
  fix(len: number): void {
    fixChecksums(this.buf, this.view, len);
  }

  #template(list: Uint8Array[]): number {
    const t = this.#pick(list);
    this.buf.set(t);
    // Aimed at the current address (DHCP changes it), as the templates aim at 10.0.0.2.
    if (this.address !== OUR_IP && this.address !== 0 && this.buf[12] === 8) {
      const at = this.buf[13] === 0 ? 30 : 38; // IPv4 destination, ARP target
      if (this.view.getUint32(at) === OUR_IP) {
        this.view.setUint32(at, this.address);
        this.fix(t.length);
      }
    }
    return t.length;
  }

  #random(): number {
    const len = this.rand() < 0.5 ? this.int(100) : this.int(FRAME_MAX + 1);
    const b = this.buf, v = this.view;
    let i = 0;
    for (; i + 4 <= len; i += 4) v.setUint32(i, this.u32());
    for (; i < len; i++) b[i] = this.int(256);
    if (len >= 14) {
      if (this.rand() < 0.6) b.set(MACS_TO[this.int(2)]);
      if (this.rand() < 0.6) v.setUint16(12, this.rand() < 0.6 ? 0x0800 : 0x0806);
      if (len >= 34 && b[12] === 8 && b[13] === 0 && this.rand() < 0.4) {
        // A plausible IPv4 header over random content, so that the noise reaches ICMP/UDP.
        b[14] = 0x45;
        v.setUint16(16, len - 14);
        v.setUint16(20, 0);
        b[23] = this.#pick([1, 17, 17, 2]);
        v.setUint32(30, this.rand() < 0.8 ? this.address : this.u32());
        this.fix(len);
      }
    }
    return len;
  }

  #flipped(): number {
    const len = this.#template(this.templates);
    for (let n = 1 + this.int(8); n > 0; n--) {
      const at = this.rand() < 0.7 ? this.int(Math.min(len, 64)) : this.int(len);
      if (this.rand() < 0.5) this.buf[at] = this.int(256);
      else this.buf[at] ^= 1 << this.int(8);
    }
    if (this.rand() < 0.5) this.fix(len);
    return len;
  }

  /** A 16-bit value: random, or one near a boundary of this frame. */
  #value16(len: number): number {
    const r = this.int(16);
    const near = [0, 1, 7, 8, 9, 19, 20, 21, 0x7fff, 0x8000, 0xffff, len - 14, len - 13, len - 15];
    return r < near.length ? near[r] & 0xffff : this.int(0x10000);
  }

  #fields(): number {
    const len = this.#template(this.templates);
    const v = this.view, b = this.buf;
    let checksum = false;
    const set16 = (at: number, value: number) => {
      if (at + 2 <= len) v.setUint16(at, value);
    };
    const set32 = (at: number, value: number) => {
      if (at + 4 <= len) v.setUint32(at, value);
    };
    if (b[12] === 8 && b[13] === 6) { // ARP: hardware/protocol types and sizes, operation
      const at = this.#pick([14, 16, 18, 19, 20, 28, 38]);
      if (at === 18 || at === 19) b[at] = this.int(256);
      else if (at >= 28) set32(at, this.rand() < 0.5 ? 0 : this.u32());
      else set16(at, this.#value16(len));
    } else {
      // IPv4 and UDP/ICMP/TCP header fields; sometimes the EtherType itself.
      const l4 = 14 + ((b[14] & 15) * 4 || 20);
      switch (this.int(14)) {
        case 0:
          set16(12, this.rand() < 0.5 ? 0x86dd : this.#value16(len));
          break;
        case 1:
          b[14] = 0x40 | this.int(16); // IHL
          break;
        case 2:
          set16(16, this.#value16(len)); // total length
          break;
        case 3:
          set16(18, this.int(0x10000)); // identification
          break;
        case 4: // flags and fragment offset
          set16(
            20,
            this.rand() < 0.5 ? this.int(0x10000) : this.#pick([0x4000, 0x2000, 0x8000, 1]),
          );
          break;
        case 5:
          b[22] = this.int(256); // TTL
          break;
        case 6:
          b[23] = this.#pick([0, 1, 2, 6, 17, 41, 58, 255]); // protocol
          break;
        case 7:
          set16(24, this.#value16(len)); // header checksum
          checksum = true;
          break;
        case 8:
          set32(this.rand() < 0.5 ? 26 : 30, this.u32()); // addresses
          break;
        case 9:
          set16(l4 + (this.rand() < 0.5 ? 0 : 2), this.#value16(len)); // ports, ICMP type+code
          break;
        case 10:
          set16(l4 + 4, this.#value16(len)); // UDP length, ICMP identifier
          break;
        case 11:
          set16(l4 + (b[23] === 17 ? 6 : 2), this.#value16(len)); // UDP/ICMP/IGMP checksum
          checksum = true;
          break;
        case 12:
          set32(l4 + 4 * this.int(4), this.u32());
          break;
        default:
          set32(14 + 4 * this.int(5), this.u32());
      }
    }
    if (!checksum && this.rand() < 0.6) this.fix(len);
    return len;
  }

  #options(): number {
    const t = this.#pick(this.ipTemplates);
    const extra = 4 * (1 + this.int(10)); // IHL 6..15
    if (t.length + extra > FRAME_MAX) return this.#flipped();
    const b = this.buf, v = this.view;
    b.set(t);
    b.copyWithin(34 + extra, 34, t.length);
    const r = this.rand();
    for (let i = 34; i < 34 + extra; i++) {
      // NOP/EOL lists, record-route-like options, or noise.
      b[i] = r < 0.3
        ? 1
        : r < 0.4
        ? 0
        : r < 0.6
        ? [7, extra - 1, 4][Math.min(i - 34, 2)]
        : this.int(256);
    }
    b[14] = 0x40 | (5 + extra / 4);
    v.setUint16(16, v.getUint16(16) + extra);
    const len = t.length + extra;
    this.fix(len);
    return len;
  }

  /** A lone fragment: first ones, overlapping ones, far ones, with few or many ids. */
  #fragment(): number {
    const b = this.buf, v = this.view;
    const t = this.rand() < 0.6 ? this.#pick(this.bigTemplates) : this.#pick(this.ipTemplates);
    b.set(t);
    let payload = this.int(t.length - 34 + 1);
    if (this.rand() < 0.8) payload &= ~7; // as a sender cuts them, mostly
    const id = this.rand() < 0.5 ? this.#pick(this.#fragIds) : this.int(0x10000);
    const r = this.rand();
    const offset = r < 0.3 ? 0 : r < 0.7 ? this.int(200) : this.int(0x2000); // in 8-byte blocks
    const mf = this.rand() < 0.7 ? 0x2000 : 0;
    const df = this.rand() < 0.05 ? 0x4000 : 0;
    v.setUint16(16, 20 + payload);
    v.setUint16(18, id);
    v.setUint16(20, df | mf | offset);
    if (this.rand() < 0.3) v.setUint32(26, ODD_SOURCES[this.int(4)]);
    const len = 34 + payload;
    this.fix(len);
    return len;
  }

  /**
   * A whole datagram (UDP to one of our ports, or a ping) of up to 64 KiB, cut into fragments
   * sent in order, in reverse or shuffled; sometimes one is missing (the datagram times out),
   * repeated, or overlapping with other bytes.
   */
  #newTrain(): void {
    const t = this.#train, v = this.#trainView;
    const r = this.rand();
    const payload = r < 0.6
      ? 1473 + this.int(3000)
      : r < 0.9
      ? 4000 + this.int(16000)
      : 20000 + this.int(65507 - 20000 + 1);
    const udp = this.rand() < 0.7;
    const total = 20 + 8 + payload; // IP, UDP or ICMP echo header, payload
    t.set(MACS_TO[0]);
    t.set(PEER_MAC, 6);
    v.setUint16(12, 0x0800);
    v.setUint32(14, (0x4500 << 16 | total) >>> 0);
    v.setUint32(18, this.int(0x10000) << 16);
    v.setUint32(22, (64 << 24 | (udp ? 17 : 1) << 16) >>> 0);
    const src = this.rand() < 0.7 ? PEER_IP : (OUR_IP & 0xffffff00 | (3 + this.int(250))) >>> 0;
    v.setUint32(26, src);
    v.setUint32(30, this.address || OUR_IP);
    fixChecksums(t, v, 34); // the header
    for (let i = 42; i < 14 + total; i++) t[i] = i & 0xff;
    if (udp) {
      v.setUint32(34, (40000 << 16 | this.#pick([7, 7, 5000, 9, 6000])) >>> 0);
      v.setUint32(38, (8 + payload) << 16);
    } else {
      v.setUint32(34, 0x08000000);
      v.setUint32(38, 0x00420001);
    }
    fixChecksums(t, v, 14 + total);
    // Pieces of one size (a multiple of 8), at most a few hundred of them.
    const body = total - 20;
    const min = Math.max(8, Math.ceil(body / 300 / 8) * 8);
    const size = this.rand() < 0.6 ? 1480 : min + 8 * this.int((1480 - min) / 8 + 1);
    let n = 0;
    for (let at = 0; at < body; at += size, n++) {
      this.#pieceStart[n] = at;
      this.#pieceLength[n] = Math.min(size, body - at);
      this.#pieceLast[n] = at + size >= body ? 1 : 0;
    }
    const order = this.rand();
    if (order < 0.2) { // reversed
      this.#pieceStart.subarray(0, n).reverse();
      this.#pieceLength.subarray(0, n).reverse();
      this.#pieceLast.subarray(0, n).reverse();
    } else if (order < 0.5) { // shuffled
      for (let i = n - 1; i > 0; i--) this.#swap(i, this.int(i + 1));
    }
    const fault = this.rand();
    this.#overlap = -1;
    if (fault < 0.1 && n > 1) n--; // one missing: the datagram times out
    else if (fault < 0.2 && n < 8192) this.#copyPiece(this.int(n), n++); // one repeated
    else if (fault < 0.25 && n < 8192) { // one overlapping the others, 8 bytes further on
      const i = this.int(n);
      this.#copyPiece(i, n);
      this.#pieceStart[n] += 8;
      this.#pieceLast[n] = 0;
      this.#pieceLength[n] = Math.min(this.#pieceLength[n], body - this.#pieceStart[n]) & ~7;
      if (this.#pieceLength[n] > 0) this.#overlap = n++;
    }
    this.#pieces = n;
    this.#piece = 0;
  }

  #swap(i: number, j: number): void {
    const s = this.#pieceStart, l = this.#pieceLength, m = this.#pieceLast;
    [s[i], s[j]] = [s[j], s[i]];
    [l[i], l[j]] = [l[j], l[i]];
    [m[i], m[j]] = [m[j], m[i]];
  }

  #copyPiece(from: number, to: number): void {
    this.#pieceStart[to] = this.#pieceStart[from];
    this.#pieceLength[to] = this.#pieceLength[from];
    this.#pieceLast[to] = this.#pieceLast[from];
  }

  #nextPiece(): number {
    const i = this.#piece++;
    const start = this.#pieceStart[i], length = this.#pieceLength[i];
    const b = this.buf, v = this.view;
    b.set(this.#train.subarray(0, 34));
    b.set(this.#train.subarray(34 + start, 34 + start + length), 34);
    v.setUint16(16, 20 + length);
    v.setUint16(20, (this.#pieceLast[i] ? 0 : 0x2000) | (start >>> 3));
    if (i === this.#overlap && this.rand() < 0.5) b[34] ^= 0xff; // and with other bytes
    this.fix(34 + length);
    return 34 + length;
  }

  #arp(sender: number, reply: boolean, spoof: boolean): number {
    const b = this.buf, v = this.view;
    b.set(spoof && this.rand() < 0.5 ? MACS_TO[0] : MACS_TO[1]);
    v.setUint16(6, 0x0200), v.setUint32(8, this.u32()); // a random, locally administered MAC
    if (spoof && this.rand() < 0.05) b.set(OUR_MAC, 6); // our own announcement, echoed
    v.setUint16(12, 0x0806);
    v.setUint32(14, 0x00010800), v.setUint32(18, 0x06040000 | (reply ? 2 : 1));
    if (spoof && this.rand() < 0.2) v.setUint16(20, this.int(0x10000)); // any operation
    b.copyWithin(22, 6, 12); // sender MAC = Ethernet source
    v.setUint32(28, sender);
    v.setUint32(32, reply ? 0x0200 : 0), v.setUint16(36, reply ? 0x0b : 0); // target MAC
    v.setUint32(38, spoof && this.rand() < 0.5 ? this.u32() : this.address || OUR_IP);
    b.fill(0, 42, 60);
    return this.rand() < 0.5 ? 42 : 60;
  }

  /** An ICMP unreachable or time exceeded quoting a datagram from one of our ports. */
  #icmpError(): number {
    const b = this.buf, v = this.view;
    b.set(this.templates[0].subarray(0, 34));
    b[23] = 1;
    const type = this.rand() < 0.7 ? 3 : 11;
    v.setUint32(34, (type << 24 | this.int(16) << 16) >>> 0);
    v.setUint32(38, this.rand() < 0.3 ? this.#pick([68, 576, 1280, 1400, 0, 65535]) : 0);
    const q = 42, qihl = this.rand() < 0.9 ? 20 : 4 * this.int(16);
    v.setUint32(q, (0x40 << 24 | qihl / 4 << 24 | 100) >>> 0);
    v.setUint32(q + 4, 0);
    v.setUint32(q + 8, (64 << 24 | (this.rand() < 0.9 ? 17 : 6) << 16) >>> 0);
    v.setUint32(q + 12, this.rand() < 0.9 ? this.address || OUR_IP : this.u32());
    v.setUint32(q + 16, this.u32());
    for (let i = q + 20; i < q + qihl; i++) b[i] = 1;
    const ports = q + Math.max(qihl, 20);
    v.setUint32(ports, (this.#pick(PORTS) << 16 | this.int(0x10000)) >>> 0);
    v.setUint32(ports + 4, 0x00640000);
    let len = ports + 8 + (this.rand() < 0.2 ? this.int(100) : 0);
    if (this.rand() < 0.2) len = 34 + this.int(len - 34 + 1); // quoting too little
    v.setUint16(16, len - 14);
    v.setUint16(20, 0);
    this.fix(len);
    return len;
  }

  /** IGMP queries, reports and noise; UDP to joined and other groups. */
  #multicast(): number {
    const b = this.buf, v = this.view;
    if (this.rand() < 0.4) { // UDP to a group
      const len = this.#template(this.ipTemplates.slice(0, 7));
      const group = this.#pick([GROUP, GROUP, ALL_HOSTS, parseIpv4("239.9.9.9")]);
      b.set([1, 0, 0x5e, group >>> 16 & 0x7f, group >>> 8 & 255, group & 255]);
      v.setUint32(30, group);
      this.fix(len);
      return len;
    }
    b.set(this.templates[0].subarray(0, 34));
    b.set(MACS_TO[3]);
    const options = this.rand() < 0.5 ? 4 : 0; // Router Alert, as routers send them
    b[14] = 0x45 + options / 4;
    v.setUint32(30, this.rand() < 0.7 ? ALL_HOSTS : GROUP);
    b[22] = 1, b[23] = 2;
    if (options) v.setUint32(34, 0x94040000);
    const at = 34 + options;
    const type = this.rand() < 0.7 ? 0x11 : this.#pick([0x16, 0x17, 0x12, 0x22, this.int(256)]);
    v.setUint32(at, (type << 24 | this.int(256) << 16) >>> 0);
    v.setUint32(at + 4, this.rand() < 0.6 ? 0 : this.rand() < 0.5 ? GROUP : this.u32());
    let len = at + (this.rand() < 0.8 ? 8 : 12 + this.int(20)); // v2, or v3-sized
    for (let i = at + 8; i < len; i++) b[i] = this.int(256);
    if (this.rand() < 0.1) len = at + this.int(8);
    v.setUint16(16, len - 14);
    v.setUint16(20, 0);
    this.fix(len);
    return len;
  }

  /** A BOOTREPLY from 10.0.0.1:67 to port 68, mostly with the client's real xid. */
  #dhcp(): number {
    const type = this.rand() < 0.9 ? this.#pick([2, 5, 6, 2, 5]) : this.int(256);
    const yiaddr = this.rand() < 0.85
      ? OUR_IP
      : this.#pick([parseIpv4("10.0.0.3"), 0, 0xffffffff, this.u32()]);
    const lease = this.#pick([1, 2, 10, 60, 3600, 0, 0xffffffff, this.u32()]);
    const len = this.writeDhcp(type, this.rand() < 0.8 ? this.xid : this.u32(), yiaddr, lease, {
      mask: this.#pick([0xffffff00, 0, 0xffffffff, 0xffff0000, this.u32()]),
      router: this.#pick([PEER_IP, 0, this.u32()]),
      mtu: this.#pick([0, 1, 67, 68, 576, 1400, 1500, 1501, 9000, this.int(0x10000)]),
      t1: this.#pick([0, 1, 5, this.u32()]),
      t2: this.#pick([0, 2, 7, this.u32()]),
      dns: this.int(70),
      junk: this.rand() < 0.2,
      end: this.rand() < 0.8,
    });
    if (this.rand() < 0.3) {
      // Damaged: option bytes, BOOTP fields, lengths; checksums fixed most of the time.
      for (let n = 1 + this.int(4); n > 0; n--) this.buf[42 + this.int(len - 42)] = this.int(256);
      if (this.rand() < 0.8) this.fix(len);
    }
    return this.rand() < 0.1 ? this.int(len + 1) : len;
  }

  /** Writes a DHCP reply frame from the server 10.0.0.1; returns its length. */
  writeDhcp(
    type: number,
    xid: number,
    yiaddr: number,
    lease: number,
    o: {
      mask: number;
      router: number;
      mtu: number;
      t1: number;
      t2: number;
      dns: number;
      junk: boolean;
      end: boolean;
      /** Broadcast (MAC and IP), as a server answers a client it cannot reach otherwise. */
      broadcast?: boolean;
    },
  ): number {
    const b = this.buf, v = this.view;
    const broadcast = o.broadcast || this.rand() < 0.5;
    b.fill(0, 0, 342);
    b.set(broadcast || this.rand() < 0.5 ? MACS_TO[1] : OUR_MAC);
    b.set(PEER_MAC, 6);
    v.setUint16(12, 0x0800);
    v.setUint32(14, 0x45000000), v.setUint32(22, 0x40110000);
    v.setUint32(26, PEER_IP), v.setUint32(30, broadcast ? 0xffffffff : yiaddr);
    v.setUint32(34, 67 << 16 | 68);
    const m = 42; // the BOOTP message
    v.setUint32(m, 0x02010600), v.setUint32(m + 4, xid);
    v.setUint32(m + 16, yiaddr), v.setUint32(m + 20, PEER_IP);
    b.set(OUR_MAC, m + 28);
    v.setUint32(m + 236, 0x63825363);
    let at = m + 240;
    const opt32 = (code: number, value: number) => {
      b[at] = code, b[at + 1] = 4, v.setUint32(at + 2, value);
      at += 6;
    };
    b[at] = 53, b[at + 1] = 1, b[at + 2] = type;
    at += 3;
    opt32(54, PEER_IP);
    if (o.mask !== 0) opt32(1, o.mask);
    if (o.router !== 0) opt32(3, o.router);
    if (o.mtu !== 0) b[at] = 26, b[at + 1] = 2, v.setUint16(at + 2, o.mtu), at += 4;
    if (lease !== 0) opt32(51, lease);
    if (o.t1 !== 0) opt32(58, o.t1);
    if (o.t2 !== 0) opt32(59, o.t2);
    if (o.dns > 0) {
      const n = Math.min(o.dns * 4 - this.int(4), 255); // not always a multiple of 4
      b[at] = 6, b[at + 1] = n;
      for (let i = 0; i < n; i++) b[at + 2 + i] = this.int(256);
      at += 2 + n;
    }
    if (o.junk) { // pads, an unknown option, and one that claims to run past the end
      b[at++] = 0, b[at++] = 0, b[at++] = 200, b[at++] = 3, at += 3;
      b[at] = this.int(254) + 1, b[at + 1] = 255, at += 2;
    }
    if (o.end) b[at++] = 255;
    const udpLength = Math.max(at, m + 300) - 34;
    v.setUint16(38, udpLength);
    v.setUint16(16, 20 + udpLength);
    const len = 34 + udpLength;
    this.fix(len);
    return len;
  }
}

/**
 * Recomputes the IPv4 header checksum of the Ethernet frame in `b`, and the UDP/ICMP/IGMP
 * checksum of a datagram that is not a fragment, wherever the (possibly lying) lengths let them
 * be computed inside the frame's `len` bytes.
 */
function fixChecksums(b: Uint8Array, v: DataView, len: number): void {
  if (len < 34 || v.getUint16(12) !== 0x0800) return;
  const ihl = (b[14] & 15) * 4;
  if (ihl < 20 || 14 + ihl > len) return;
  v.setUint16(24, 0);
  v.setUint16(24, ~foldSum(sum16(v, 14, ihl)) & 0xffff);
  const total = v.getUint16(16);
  if (total < ihl || 14 + total > len || (v.getUint16(20) & 0x3fff) !== 0) return;
  const l4 = 14 + ihl, l4Length = total - ihl, proto = b[23];
  if (proto === 17 && l4Length >= 8) {
    const udpLength = v.getUint16(l4 + 4);
    if (udpLength < 8 || udpLength > l4Length) return;
    const src = v.getUint32(26), dst = v.getUint32(30);
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + udpLength;
    v.setUint16(l4 + 6, 0);
    const sum = ~foldSum(sum16(v, l4, udpLength, pseudo)) & 0xffff;
    v.setUint16(l4 + 6, sum === 0 ? 0xffff : sum);
  } else if ((proto === 1 || proto === 2) && l4Length >= 4) {
    v.setUint16(l4 + 2, 0);
    v.setUint16(
      l4 + 2,
      ~foldSum(sum16(v, l4, proto === 2 ? Math.min(8, l4Length) : l4Length)) & 0xffff,
    );
  }
}

// ---------------------------------------------------------------------------- the harness

/**
 * The other end of the wire: receives what the stack sends and checks every frame (our MAC as
 * source, our address, lengths, header and transport checksums; fragments are reassembled and
 * the datagram's checksum checked). Remembers the DHCP client's transaction id; keeps copies
 * of the frames while `keep` is set.
 */
class Peer implements FrameReceiver {
  frames = 0;
  fragments = 0;
  datagramsReassembled = 0;
  kept: Uint8Array[] = [];
  keep = false;
  /** The first problem seen, or "". */
  problem = "";
  /** Sources the stack may send from; null: any (under DHCP). */
  readonly sources: Set<number> | null;
  readonly maker: FrameMaker;
  readonly clock = new Float64Array(1);
  readonly reassembler = new Reassembler(this.clock, { slots: 64 });
  /** Whether an address is no single host's (see CHECK_MARTIANS). */
  readonly martian: (ip: number) => boolean;

  constructor(maker: FrameMaker, sources: Set<number> | null, martian: (ip: number) => boolean) {
    this.maker = maker;
    this.sources = sources;
    this.martian = martian;
  }

  frame(data: Uint8Array, view: DataView, offset: number, length: number): void {
    this.frames++;
    if (this.keep) this.kept.push(data.slice(offset, offset + length));
    if (this.problem !== "") return;
    const why = this.#check(data, view, offset, length);
    if (why !== "") {
      this.problem = `the stack sent a bad frame (${why}): ${
        hex(data.subarray(offset, offset + length))
      }`;
    }
  }

  #check(data: Uint8Array, view: DataView, at: number, length: number): string {
    if (length < 14 || length > FRAME_MAX) return `length ${length}`;
    for (let i = 0; i < 6; i++) if (data[at + 6 + i] !== OUR_MAC[i]) return "source MAC";
    const type = view.getUint16(at + 12);
    if (type === 0x0806) {
      if (length !== 42) return `ARP length ${length}`;
      if (view.getUint32(at + 14) !== 0x00010800 || view.getUint16(at + 18) !== 0x0604) {
        return "ARP header";
      }
      const op = view.getUint16(at + 20);
      if (op !== 1 && op !== 2) return `ARP operation ${op}`;
      for (let i = 0; i < 6; i++) if (data[at + 22 + i] !== OUR_MAC[i]) return "ARP sender MAC";
      const sender = view.getUint32(at + 28);
      if (this.sources !== null && !this.sources.has(sender)) {
        return `ARP sender ${ipv4ToString(sender)}`;
      }
      return "";
    }
    if (type !== 0x0800) return `EtherType ${type.toString(16)}`;
    if (length < 34 || data[at + 14] >> 4 !== 4) return "IPv4 version";
    const ip = at + 14, ihl = (data[ip] & 15) * 4, total = view.getUint16(ip + 2);
    if (total !== length - 14) return `IP total length ${total} in a ${length}-byte frame`;
    if (ihl < 20 || ihl > total) return `IHL ${ihl}`;
    if (foldSum(sum16(view, ip, ihl)) !== 0xffff) return "IP header checksum";
    const src = view.getUint32(ip + 12), dst = view.getUint32(ip + 16), proto = data[ip + 9];
    if (this.sources !== null && !this.sources.has(src)) return `source ${ipv4ToString(src)}`;
    const multicast = dst >>> 28 === 0xe;
    if (data[ip + 8] !== (multicast ? 1 : 64)) return `TTL ${data[ip + 8]}`;
    if (multicast && (data[at] !== 1 || data[at + 1] !== 0 || data[at + 2] !== 0x5e)) {
      return "multicast to a MAC that is not 01:00:5e:...";
    }
    const word = view.getUint16(ip + 6);
    if ((word & 0x3fff) !== 0) { // a fragment: no DF, 8-byte pieces, reassembled below
      if ((word & 0xc000) !== 0) return "DF or the reserved bit on a fragment";
      if ((word & 0x2000) !== 0 && ((total - ihl) & 7) !== 0) return "a piece not a multiple of 8";
      if ((word & 0x1fff) * 8 + total > 65535) return "a fragment past 64 KiB";
      this.fragments++;
      const slot = this.reassembler.add(data, view, ip);
      if (slot < 0) return "";
      this.datagramsReassembled++;
      const r = this.reassembler;
      const why = this.#transport(r.data, r.view, r.offset(slot), r.length(slot));
      r.release(slot);
      return why;
    }
    if (proto === 2) {
      if (ihl !== 24 || view.getUint32(ip + 20) !== 0x94040000) return "IGMP without Router Alert";
      if (!multicast || total !== 32) return "IGMP message";
      if (foldSum(sum16(view, ip + 24, 8)) !== 0xffff) return "IGMP checksum";
      return "";
    }
    if (ihl !== 20) return "options in what we send";
    if (word !== 0x4000) return `flags/offset ${word.toString(16)} on a whole packet (DF expected)`;
    return this.#transport(data, view, ip, total);
  }

  /** Checks the UDP, ICMP or TCP message of the whole IPv4 packet at `view[ip]`. */
  #transport(data: Uint8Array, view: DataView, ip: number, total: number): string {
    const ihl = (data[ip] & 15) * 4, l4 = ip + ihl, l4Length = total - ihl, proto = data[ip + 9];
    const src = view.getUint32(ip + 12), dst = view.getUint32(ip + 16);
    if (proto === 17) {
      if (l4Length < 8 || view.getUint16(l4 + 4) !== l4Length) return "UDP length";
      const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 +
        l4Length;
      if (foldSum(sum16(view, l4, l4Length, pseudo)) !== 0xffff) return "UDP checksum";
      if (view.getUint16(l4) === 68 && view.getUint16(l4 + 2) === 67 && l4Length >= 16) {
        this.maker.xid = view.getUint32(l4 + 12);
      }
      return "";
    }
    if (proto === 1) {
      if (l4Length < 8) return "ICMP length";
      if (foldSum(sum16(view, l4, l4Length)) !== 0xffff) return "ICMP checksum";
      if (data[l4] !== 0 && data[l4] !== 3) return `ICMP type ${data[l4]}`;
      if (CHECK_MARTIANS && this.martian(dst)) return `ICMP to ${ipv4ToString(dst)}`;
      return "";
    }
    if (proto === 6) { // no listener here: only RSTs answering stray segments (RFC 9293 §3.10.7.1)
      if (l4Length !== 20 || (data[l4 + 12] >> 4) !== 5) return "TCP header";
      const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + 20;
      if (foldSum(sum16(view, l4, 20, pseudo)) !== 0xffff) return "TCP checksum";
      if (!(data[l4 + 13] & 0x04)) return "a TCP segment that is not an RST";
      if (CHECK_MARTIANS && this.martian(dst)) return `TCP RST to ${ipv4ToString(dst)}`;
      return "";
    }
    return `IP protocol ${proto}`;
  }

  /** Takes what the stack sent, until nothing is left. */
  drain(pair: MemoryPair, clock: Float64Array): void {
    this.clock[0] = clock[0];
    while (pair.a.receive(this, clock) > 0) { /* all of it */ }
  }
}

/** Checks that a payload handed to a receiver lies inside one of the burst's frames. */
class PayloadCheck {
  /** Offsets and lengths of the frames of the current burst in the peer's region. */
  readonly at = new Int32Array(64);
  readonly length = new Int32Array(64);
  count = 0;
  readonly region: Uint8Array;
  delivered = 0;
  reassembled = 0;

  constructor(region: Uint8Array) {
    this.region = region;
  }

  check(data: Uint8Array, offset: number, length: number): void {
    this.delivered++;
    if (!(offset >= 0 && length >= 0 && offset + length <= data.length)) {
      throw new Error(`a payload [${offset}, ${offset + length}) outside its buffer`);
    }
    if (data !== this.region) { // a reassembled datagram, in the stack's reassembly memory
      this.reassembled++;
      return;
    }
    for (let i = 0; i < this.count; i++) {
      if (offset >= this.at[i] + 42 && offset + length <= this.at[i] + this.length[i]) return;
    }
    throw new Error(`a payload [${offset}, ${offset + length}) is in no frame of the burst`);
  }
}

interface Run {
  name: string;
  stack: Stack;
  pair: MemoryPair;
  maker: FrameMaker;
  peer: Peer;
  payloads: PayloadCheck;
  echo: UdpSocket;
  lastDatagram: { bytes: Uint8Array; ip: number; port: number };
  icmpErrors: number;
}

function setUp(name: string, dhcp: boolean, seed: number): Run {
  const pair = new MemoryPair({ macA: PEER_MAC, macB: OUR_MAC, burst: 32, slots: 256 });
  const stack = dhcp
    ? new Stack(pair.b, { dhcp: { seed }, arp: { queue: ARP_QUEUE, entries: 64 } })
    : new Stack(pair.b, {
      address: "10.0.0.2/24",
      gateway: "10.0.0.1",
      arp: { queue: ARP_QUEUE },
      icmpErrorsPerSecond: 200, // below what the fuzzer provokes: the limit is reached
    });
  const maker = new FrameMaker(seed);
  maker.address = stack.address;
  const martian = (ip: number) => {
    const first = ip >>> 24, address = stack.address;
    const prefix = stack.dhcp?.prefix ?? 24;
    const broadcast = (address | (prefix === 0 ? 0xffffffff : ~(0xffffffff << (32 - prefix)))) >>>
      0;
    return first === 0 || first === 127 || first >= 224 || ip === address ||
      (address !== 0 && ip === broadcast);
  };
  const peer = new Peer(maker, dhcp ? null : new Set([OUR_IP]), martian);
  const payloads = new PayloadCheck(pair.a.txData);
  const echo = stack.udp(7);
  const run: Run = {
    name,
    stack,
    pair,
    maker,
    peer,
    payloads,
    echo,
    lastDatagram: { bytes: new Uint8Array(0), ip: 0, port: 0 },
    icmpErrors: 0,
  };
  echo.receiver = {
    datagram(data, _view, offset, length, ip, port) {
      payloads.check(data, offset, length);
      if (CHECK_MARTIANS && martian(ip) && ip !== 0) { // 0.0.0.0: to 255.255.255.255 only
        throw new Error(`delivered from ${ipv4ToString(ip)}`);
      }
      echo.sendTo(ip, port, data, offset, length);
    },
  };
  echo.errorReceiver = {
    icmpError(type, code, dstIp, dstPort, mtu) {
      if (!((type === 3 || type === 11) && code >= 0 && code < 256)) {
        throw new Error(`ICMP error type ${type} code ${code}`);
      }
      if (!(dstIp >= 0 && dstIp <= 0xffffffff && dstPort >= 0 && dstPort < 65536)) {
        throw new Error(`ICMP error about ${dstIp}:${dstPort}`);
      }
      if (!(mtu >= 0 && mtu < 65536)) throw new Error(`ICMP error with MTU ${mtu}`);
      run.icmpErrors++;
    },
  };
  const sink = {
    datagram(
      data: Uint8Array,
      _v: DataView,
      offset: number,
      length: number,
      ip: number,
      port: number,
    ) {
      payloads.check(data, offset, length);
      if (CHECK_MARTIANS && martian(ip) && ip !== 0) { // 0.0.0.0: to 255.255.255.255 only
        throw new Error(`delivered from ${ipv4ToString(ip)}`);
      }
      if (length < 64) { // small ones are kept for the final check
        run.lastDatagram.bytes = data.slice(offset, offset + length);
        run.lastDatagram.ip = ip;
        run.lastDatagram.port = port;
      }
    },
  };
  const s5000 = stack.udp(5000);
  s5000.receiver = sink;
  s5000.join(GROUP);
  stack.udp(5001).receiver = sink;
  stack.udp(6000); // bound, no receiver
  return run;
}

/** Fuzzes `frames` frames into the run's stack; returns the virtual time reached. */
function fuzz(run: Run, frames: number, heap: { before: number; after: number }): number {
  const { stack, pair, maker, peer, payloads } = run;
  const dhcp = stack.dhcp !== undefined;
  const c = stack.counters, re = stack.reassembly;
  const clock = new Float64Array(1);
  const capacity = stack.arp.capacity;
  const tx = pair.a.txData;
  const kinds = new Int32Array(KIND_NAMES.length);
  const burstKinds = new Int32Array(64);
  const views: Uint8Array[] = []; // buf.subarray(0, n) for every n: no view per frame
  for (let n = 0; n <= FRAME_MAX; n++) views.push(maker.buf.subarray(0, n));
  let now = 0, injected = 0, burst = 0, lastAddress = stack.address, ownFree = true, maxArp = 0;
  const warmup = Math.min(frames, Math.max(maker.sweepFrames + 20_000, frames >> 3));

  const fail = (what: string, frameInBurst = -1): never => {
    const lines = [
      `${run.name}: ${what}`,
      `seed ${SEED} (STACK_FUZZ_SEED=${SEED} STACK_FUZZ_BURST=${MAX_BURST}), burst ${burst}, ` +
      `frames ${injected - payloads.count}..${injected - 1}, time ${now / S} s, ` +
      `address ${ipv4ToString(stack.address)}`,
    ];
    for (let i = 0; i < payloads.count; i++) {
      if (frameInBurst >= 0 && i !== frameInBurst) continue;
      const bytes = tx.subarray(payloads.at[i], payloads.at[i] + payloads.length[i]);
      lines.push(
        `frame ${injected - payloads.count + i} (${KIND_NAMES[burstKinds[i]]}): ${hex(bytes)}`,
      );
    }
    lines.push(`counters: ${JSON.stringify(c)}`, `reassembly: ${JSON.stringify(re)}`);
    throw new assert.AssertionError({ message: lines.join("\n") });
  };

  while (injected < frames) {
    // A burst of 1..MAX_BURST frames (the truncation sweep first), written into the peer's
    // buffers and flushed to the stack's side.
    const n = Math.min(frames - injected, 1 + maker.int(MAX_BURST));
    payloads.count = 0;
    for (let i = 0; i < n; i++) {
      let len = maker.nextSweep();
      if (len < 0) len = maker.next();
      const at = pair.a.reserve(len);
      if (at < 0) fail("the peer could not reserve a buffer");
      tx.set(views[len], at);
      payloads.at[i] = at;
      payloads.length[i] = len;
      payloads.count++;
      burstKinds[i] = maker.kind;
      kinds[maker.kind]++;
    }
    clock[0] = now;
    pair.a.flush(clock);
    const rxBefore = c.rxFrames;
    injected += n;
    burst++;
    let wait = 0;
    try {
      wait = stack.poll(now);
    } catch (e) {
      const inBurst = c.rxFrames - rxBefore - 1; // the frame being handled; past n: the timers
      fail(`poll threw ${e instanceof Error ? e.stack : e}`, inBurst < n - 1 ? inBurst : -1);
    }
    peer.drain(pair, clock);
    if (peer.problem !== "") fail(peer.problem);

    // What the stack saw and how it counted it.
    const broken = brokenIdentity(c);
    if (broken !== "") fail(`counter identity broken: ${broken}`);
    if (c.rxFrames !== injected || pair.b.stats.received !== injected || pair.b.pending !== 0) {
      fail(`saw ${c.rxFrames} frames (the device handed ${pair.b.stats.received}) of ${injected}`);
    }
    if (c.txFrames !== pair.b.stats.sent) {
      fail(`txFrames ${c.txFrames}, but the device sent ${pair.b.stats.sent}`);
    }
    if (
      re.fragments !== c.ipFragments || re.reassembled !== c.ipReassembled ||
      re.fragmentsUsed + re.fragmentsDropped > re.fragments
    ) {
      fail("the reassembler's counters disagree with the stack's");
    }
    if (!(Number.isInteger(wait) && wait >= 0 && wait <= 1 * S)) fail(`poll returned ${wait}`);
    // Bounded memory: the ARP cache and its queue (the reassembler's slots are preallocated).
    if (stack.arp.size > capacity) fail(`ARP cache holds ${stack.arp.size} > ${capacity}`);
    if (stack.arp.size > maxArp) maxArp = stack.arp.size;
    if (stack.arp.queued > ARP_QUEUE) fail(`ARP queue holds ${stack.arp.queued} > ${ARP_QUEUE}`);
    // Our own address is never learned from the network (a claim on it counts as a conflict).
    // An INCOMPLETE entry, with no MAC, is left alone here: the stack resolves its own address
    // when it answers a packet that claims to come from it, which is a separate matter.
    const address = stack.address;
    if (address !== 0) {
      const state = stack.arp.state(address);
      const free = state === ArpState.FREE || (state === ArpState.INCOMPLETE && !CHECK_MARTIANS);
      // Under DHCP a new address may have been another host's a moment ago: it is checked
      // from the second burst on which it is held.
      if (!free && (!dhcp || (address === lastAddress && ownFree))) {
        fail(`our address ${ipv4ToString(address)} is in the ARP cache`);
      }
      ownFree = free;
    }
    lastAddress = maker.address = address;

    if (injected >= warmup && heap.before === 0) heap.before = heapAfterGc();
    // Virtual time: about 60 µs a frame (whatever the burst size), none at all a third of the
    // time (the ICMP rate limit), now and then a jump of seconds (ARP retries and give-ups,
    // reassembly timeouts, DHCP retransmissions, leases expiring).
    const r = maker.rand();
    now += r < 0.002 / 16 * n
      ? (1 + maker.int(40)) * S
      : r < 0.3
      ? 0
      : n * (1 + maker.int(170)) * 1000;
  }
  heap.after = heapAfterGc();

  const mix = KIND_NAMES.map((k, i) => `${k} ${kinds[i]}`).join(", ");
  console.log(
    `${run.name}: ${injected} frames in ${burst} bursts, ${(now / S).toFixed(0)} s of virtual ` +
      `time (${mix})`,
  );
  const reached: Counter[] = [
    "rxOtherMac",
    "rxTruncated",
    "rxUnknownEtherType",
    "arpMalformed",
    "arpConflicts",
    "arpOther",
    "ipBadHeader",
    "ipBadChecksum",
    "ipFragments",
    "ipReassembled",
    "ipUnknownProtocol",
    "icmpBadChecksum",
    "icmpEchoRequests",
    "icmpErrors",
    "icmpOther",
    "igmpIn",
    "udpIn",
    "udpBad",
    "udpNoSocket",
    "udpNoReceiver",
  ];
  const more: Counter[] = dhcp ? [] : ["ipNotOurs", "arpRequestsAnswered", "icmpErrorsDelivered"];
  const shown: Counter[] = [
    ...reached,
    ...more,
    "arpQueueFull",
    "arpFailed",
    "icmpUnreachableSent",
    "icmpRateLimited",
    "igmpOut",
    "txFrames",
    "txFragments",
    "txNoBuffer",
    "txNoRoute",
    "txTooBig",
  ];
  console.log(`${run.name}: ${shown.map((k) => `${k} ${c[k]}`).join(", ")}`);
  console.log(`${run.name}: reassembly ${JSON.stringify(re)}`);
  // Every branch was reached, or the mutations are not doing their job.
  for (const k of [...reached, ...more]) assert.ok(c[k] > 0, `${run.name}: ${k} never counted`);
  assert.ok(re.overlaps > 0 && re.duplicates > 0 && re.timedOut > 0 && re.tooBig > 0);
  // The bounds were reached, so they were tested: the cache full, the queue full.
  assert.equal(maxArp, capacity, `${run.name}: the ARP cache never filled up`);
  // Under DHCP each new address flushes the queue (held packets had the old source): it seldom
  // fills, and the static run is the one that proves the bound.
  if (!dhcp) assert.ok(c.arpQueueFull > 0, `${run.name}: the ARP queue never filled up`);
  if (!dhcp) assert.ok(c.icmpRateLimited > 0, `${run.name}: the ICMP rate limit never bit`);
  return now;
}

let gcFunction: (() => void) | null | undefined;
/** heapUsed after a full GC (gc() made callable in-process through node:v8), or -1. */
function heapAfterGc(): number {
  if (gcFunction === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      gcFunction = vm.runInNewContext("gc") as () => void;
    } catch {
      gcFunction = null;
    }
  }
  if (gcFunction === null) return -1;
  gcFunction();
  gcFunction();
  return Deno.memoryUsage().heapUsed;
}

// -------------------------------------------------------------------------- after the storm

/** Injects frames from the peer and polls the stack at `now`; returns what it sent. */
function exchange(run: Run, now: number, ...frames: Uint8Array[]): Uint8Array[] {
  const { pair, stack, peer, payloads } = run;
  const clock = new Float64Array([now]);
  payloads.count = 0;
  for (const f of frames) {
    const at = pair.a.reserve(f.length);
    assert.ok(at >= 0);
    pair.a.txData.set(f, at);
    payloads.at[payloads.count] = at;
    payloads.length[payloads.count++] = f.length;
  }
  pair.a.flush(clock);
  peer.keep = true;
  peer.kept = [];
  stack.poll(now);
  peer.drain(pair, clock);
  peer.keep = false;
  assert.equal(peer.problem, "", peer.problem);
  return peer.kept;
}

/** Lets every timer run out: unresolved addresses are given up, the ICMP bucket refills. */
function quiet(run: Run, from: number, seconds: number): number {
  let now = from;
  for (let i = 0; i < seconds; i++) exchange(run, now += S);
  return now;
}

const isIpv4 = (f: Uint8Array) => f.length >= 34 && f[12] === 8 && f[13] === 0;
const u16 = (f: Uint8Array, at: number) => f[at] << 8 | f[at + 1];
const u32 = (f: Uint8Array, at: number) =>
  (f[at] << 24 | f[at + 1] << 16 | f[at + 2] << 8 | f[at + 3]) >>> 0;

/** Takes a clean lease of 10.0.0.2/24 from a scripted server, whatever state DHCP is in. */
function cleanLease(run: Run, from: number): number {
  const { stack, maker } = run;
  let now = from;
  const reply = (type: number) => {
    const len = maker.writeDhcp(type, maker.xid, OUR_IP, 3600, {
      mask: 0xffffff00,
      router: PEER_IP,
      mtu: 1500,
      t1: 0,
      t2: 0,
      dns: 1,
      junk: false,
      end: true,
      broadcast: true,
    });
    return maker.buf.slice(0, len);
  };
  // A NAK ends whatever lease or request is under way; then discover, offer, request, ack.
  let offered = false, acked = false;
  const sent: Uint8Array[] = [];
  for (let round = 0; round < 100 && !(acked && stack.dhcp!.state === DhcpState.BOUND); round++) {
    const state = stack.dhcp!.state;
    if (!offered && state !== DhcpState.INIT && state !== DhcpState.SELECTING) {
      sent.push(...exchange(run, now, reply(6)));
    }
    now += 2 * S;
    sent.push(...exchange(run, now));
    for (let f = sent.shift(); f !== undefined; f = sent.shift()) {
      if (!isIpv4(f) || f[23] !== 17 || u16(f, 34) !== 68) continue;
      const type = f[42 + 242]; // option 53, the client's first
      if (type === 1) {
        offered = true;
        sent.push(...exchange(run, now, reply(2)));
      } else if (type === 3 && stack.dhcp!.state === DhcpState.REQUESTING) {
        acked = true;
        sent.push(...exchange(run, now, reply(5)));
      }
    }
  }
  assert.equal(
    stack.dhcp!.state,
    DhcpState.BOUND,
    `DHCP binds again after the storm: ${
      JSON.stringify(stack.dhcp)
    }, offered ${offered}, acked ${acked}`,
  );
  assert.equal(stack.address, OUR_IP);
  return now;
}

function stillAnswers(run: Run, from: number): void {
  const { stack, echo, lastDatagram } = run;
  let now = quiet(run, from, 120);
  if (stack.dhcp !== undefined) now = cleanLease(run, now);
  now = quiet(run, now, 5);
  const eth = { srcMac: PEER_MAC_TEXT, dstMac: OUR_MAC_TEXT };
  const ip = { ...eth, srcIp: "10.0.0.1", dstIp: "10.0.0.2" };
  // Under DHCP the address may have been learned while it was another host's: the fuzz loop
  // checks that it is not learned while it is ours.
  if (stack.dhcp === undefined) {
    assert.equal(stack.arp.state(OUR_IP), ArpState.FREE, "our address never learned");
  }

  // The peer asks for us (as a host does before it pings): answered.
  const who = exchange(
    run,
    now,
    buildArp({ srcMac: PEER_MAC_TEXT, senderIp: "10.0.0.1", targetIp: "10.0.0.2" }),
  );
  const arpReply = who.find((f) => f[12] === 8 && f[13] === 6 && u16(f, 20) === 2);
  assert.ok(arpReply, `${run.name}: no ARP reply after the storm`);
  assert.deepEqual(arpReply.subarray(0, 6), PEER_MAC);
  assert.equal(u32(arpReply, 28), OUR_IP);

  // A clean ping: one echo reply, to the peer, with the same identifier, sequence and data.
  const payload = new Uint8Array(100).map((_, i) => i * 3);
  const replies = exchange(
    run,
    now,
    buildIcmpEcho({ ...ip, identifier: 0x4242, sequence: 1, payload }),
  ).filter((f) => isIpv4(f) && f[23] === 1);
  assert.equal(replies.length, 1, `${run.name}: one echo reply`);
  const r = replies[0];
  assert.deepEqual(r.subarray(0, 6), PEER_MAC);
  assert.deepEqual(
    [u32(r, 26), u32(r, 30), r[34], u16(r, 38), u16(r, 40)],
    [OUR_IP, PEER_IP, 0, 0x4242, 1],
  );
  assert.deepEqual(r.subarray(42), payload);

  // A clean datagram to a socket, delivered byte for byte; one to the echo, echoed.
  const text = new TextEncoder().encode("after the storm");
  exchange(run, now, buildUdpFrame({ ...ip, srcPort: 1234, dstPort: 5000, payload: text }));
  assert.deepEqual(lastDatagram, { bytes: text, ip: PEER_IP, port: 1234 });
  const echoed = exchange(
    run,
    now,
    buildUdpFrame({ ...ip, srcPort: 1235, dstPort: 7, payload: text }),
  ).filter((f) => isIpv4(f) && f[23] === 17);
  assert.equal(echoed.length, 1, `${run.name}: the echo answers`);
  assert.deepEqual(
    [u32(echoed[0], 30), u16(echoed[0], 34), u16(echoed[0], 36)],
    [PEER_IP, 7, 1235],
  );
  assert.deepEqual(echoed[0].subarray(42), text);

  // Sending to a host it never heard of (the ARP flood taught it many of the subnet's):
  // resolved by ARP, then sent to the MAC it gave.
  let other = parseIpv4("10.0.0.60");
  while (stack.arp.state(other) !== ArpState.FREE) other++;
  assert.ok(echo.sendTo(other, 9999, text), "sendTo takes the datagram");
  const asked = exchange(run, now).filter((f) => f[12] === 8 && f[13] === 6);
  assert.ok(
    asked.some((f) => u16(f, 20) === 1 && u32(f, 38) === other),
    `${run.name}: an ARP request for ${ipv4ToString(other)}`,
  );
  const sent = exchange(
    run,
    now,
    buildArp({
      operation: 2,
      srcMac: "02:00:00:00:00:77",
      senderIp: ipv4ToString(other),
      targetMac: OUR_MAC_TEXT,
      targetIp: "10.0.0.2",
    }),
  ).filter((f) => isIpv4(f) && f[23] === 17);
  assert.equal(sent.length, 1, `${run.name}: the held datagram goes out once resolved`);
  assert.deepEqual(sent[0].subarray(0, 6), new Uint8Array([2, 0, 0, 0, 0, 0x77]));
  assert.deepEqual([u32(sent[0], 26), u32(sent[0], 30)], [OUR_IP, other]);
  assert.deepEqual(sent[0].subarray(42), text);
  assert.equal(brokenIdentity(stack.counters), "");
}

// ------------------------------------------------------------------------------------ tests

Deno.test("stack fuzz: the StackCounters JSDoc states identities over real counters", () => {
  const pair = new MemoryPair();
  const names = new Set(Object.keys(new Stack(pair.b, { address: "10.0.0.2/24" }).counters));
  assert.ok(IDENTITIES.length >= 3, `identities found in the JSDoc: ${JSON.stringify(IDENTITIES)}`);
  assert.ok(IDENTITIES.some((i) => i.left.length === 1 && i.left[0] === "rxFrames"));
  for (const { left, right } of IDENTITIES) {
    for (const k of [...left, ...right]) assert.ok(names.has(k), `${k} is not a counter`);
  }
});

Deno.test("stack fuzz: 10^6 hostile frames; no exception, counters add up, bounded, answers after", () => {
  const started = performance.now();
  const runs: [string, boolean, number][] = [
    ["static 10.0.0.2/24", false, Math.ceil(FRAMES / 2)],
    ["DHCP", true, Math.floor(FRAMES / 2)],
  ];
  for (const [name, dhcp, frames] of runs) {
    if (frames === 0) continue;
    const t0 = performance.now();
    const run = setUp(name, dhcp, SEED + (dhcp ? 1 : 0));
    const heap = { before: 0, after: 0 };
    const now = fuzz(run, frames, heap);
    const { peer } = run;
    console.log(
      `${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s; the stack sent ` +
        `${peer.frames} frames (${peer.fragments} fragments, ${peer.datagramsReassembled} ` +
        `datagrams reassembled by the peer); ${run.payloads.delivered} payloads delivered ` +
        `(${run.payloads.reassembled} reassembled); ${run.icmpErrors} ICMP errors to the echo`,
    );
    if (dhcp) {
      const d = run.stack.dhcp!;
      console.log(
        `${name}: DHCP offers ${d.offers}, acks ${d.acks}, naks ${d.naks}, leases ` +
          `${d.leases}, expired ${d.expired}, ignored ${d.ignored}`,
      );
      assert.ok(d.leases > 0 && d.naks > 0 && d.expired > 0, "leases came, were refused, ran out");
    } else {
      assert.ok(peer.datagramsReassembled > 0, "the stack sent fragmented datagrams");
      assert.ok(run.icmpErrors > 0, "ICMP errors reached the socket's error receiver");
    }
    stillAnswers(run, now);
    if (heap.before > 0) {
      const grew = heap.after - heap.before;
      console.log(
        `${name}: heap ${(heap.before / 1e6).toFixed(1)} MB after the warm-up, ` +
          `${(heap.after / 1e6).toFixed(1)} MB at the end`,
      );
      // Nothing is kept per frame: 1 MiB over hundreds of thousands of frames is < 3 B each.
      assert.ok(grew < 1 << 20, `${name}: the heap grew by ${grew} bytes`);
    }
  }
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

Deno.test({
  name:
    "stack fuzz: odd sources and link-layer broadcasts get no answer (RFC 1122 §3.2.1.3, §3.2.2)",
  ignore: !CHECK_MARTIANS,
  fn() {
    const problems: string[] = [];
    const clock = new Float64Array(1);
    const base = {
      srcMac: PEER_MAC_TEXT,
      dstMac: OUR_MAC_TEXT,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
    };
    const one = (what: string, frame: Uint8Array) => {
      const pair = new MemoryPair({ macA: PEER_MAC, macB: OUR_MAC });
      const stack = new Stack(pair.b, { address: "10.0.0.2/24", gateway: "10.0.0.1" });
      stack.arp.setStatic(PEER_IP, 0x02000000000a);
      let delivered = 0;
      stack.udp(5000).receiver = { datagram: () => delivered++ };
      const at = pair.a.reserve(frame.length);
      pair.a.txData.set(frame, at);
      pair.a.flush(clock);
      stack.poll(0);
      const sent = pair.a.receive({ frame() {} }, clock);
      if (delivered > 0 || sent > 0) {
        problems.push(`${what}: ${delivered} delivered, ${sent} frames sent`);
      }
    };
    for (
      const src of [
        "0.0.0.0",
        "255.255.255.255",
        "10.0.0.255",
        "224.0.0.1",
        "127.0.0.1",
        "240.0.0.1",
        "10.0.0.2",
      ]
    ) {
      one(`ping from ${src}`, buildIcmpEcho({ ...base, srcIp: src }));
      one(
        `UDP to a closed port from ${src}`,
        buildUdpFrame({ ...base, srcIp: src, srcPort: 1, dstPort: 9 }),
      );
      one(
        `UDP to a socket from ${src}`,
        buildUdpFrame({ ...base, srcIp: src, srcPort: 1, dstPort: 5000 }),
      );
    }
    for (const dstMac of ["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"]) {
      one(
        `UDP to a closed port of ours in a frame to ${dstMac}`,
        buildUdpFrame({ ...base, dstMac, srcPort: 1, dstPort: 9 }),
      );
    }
    assert.deepEqual(problems, []);
  },
});
