/**
 * TCP connections and listeners of a {@linkcode Stack} (RFC 9293): the state machine with active,
 * passive and simultaneous open and close, half-close, TIME-WAIT; RST, SYN and ACK checks of
 * RFC 5961 with rate-limited challenge ACKs; MSS, window scaling, timestamps with PAWS
 * (RFC 7323), SACK and D-SACK (RFC 2018, 2883) with SACK-based loss recovery (RFC 6675);
 * retransmission timeout (RFC 6298) on a microsecond clock, NewReno congestion control
 * (RFC 5681, 6582), zero-window probing, keep-alive and a user timeout.
 *
 * The hot path is callbacks: in-order data reaches {@linkcode TcpConnection.onData} as a range
 * of the received frame itself (no copy); out-of-order data is copied into a ring until the gap
 * fills. {@linkcode TcpConnection.write} copies into the send ring and returns how much it took.
 * Sequence numbers and times live in typed arrays: nothing is allocated per segment.
 *
 * @module
 */
import { TcpFlags } from "../net/tcp.ts";
import { CongestionAction, NewReno } from "./tcp_congestion.ts";
import {
  SACK_EDGES,
  TcpOptions,
  TS_VAL,
  writeSegmentOptions,
  writeSynOptions,
} from "./tcp_options.ts";
import { AddResult, TcpReassembly } from "./tcp_reassembly.ts";
import { RtoEstimator } from "./tcp_rto.ts";
import { copyBytes, copySum } from "./bytes.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./tcp_seq.ts";

const FIN = TcpFlags.FIN, SYN = TcpFlags.SYN, RST = TcpFlags.RST, PSH = TcpFlags.PSH;
const ACK = TcpFlags.ACK;

/** The states of RFC 9293 §3.3.2. */
export const TcpState = {
  /** No connection (before connect, or after the end). */
  CLOSED: 0,
  /** Our SYN sent, waiting for the peer's. */
  SYN_SENT: 2,
  /** The peer's SYN received and ours sent, waiting for its ACK. */
  SYN_RECEIVED: 3,
  /** Open both ways. */
  ESTABLISHED: 4,
  /** Our FIN sent, not yet acknowledged. */
  FIN_WAIT_1: 5,
  /** Our FIN acknowledged; the peer may still send. */
  FIN_WAIT_2: 6,
  /** The peer's FIN received; we may still send. */
  CLOSE_WAIT: 7,
  /** Both FINs sent, ours not yet acknowledged. */
  CLOSING: 8,
  /** The peer closed first; our FIN waits for its ACK. */
  LAST_ACK: 9,
  /** Both sides closed; old duplicates die out for 2 MSL. */
  TIME_WAIT: 10,
} as const;

const STATE_NAMES = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

/**
 * Why a connection ended, as {@linkcode TcpConnection.onClose} and the async face report it:
 * `"closed"` (both sides closed normally), `"reset"` (the peer sent RST), `"refused"` (RST in
 * answer to our SYN), `"timeout"` (no answer to our SYN, or data unacknowledged past the user
 * timeout or the retries, or keep-alive probes unanswered), `"unreachable"` (ICMP, or no ARP
 * answer from the next hop), `"aborted"` (we reset it: {@linkcode TcpConnection.abort}).
 */
export type TcpCloseReason = "closed" | "reset" | "refused" | "timeout" | "unreachable" | "aborted";

/** Options of a connection (and of a listener's connections). */
export interface TcpConnectionOptions {
  /** Receive buffer, bytes: the largest window we offer (≤ 16 MiB). Default: 1 MiB. */
  receiveBuffer?: number;
  /** Send buffer, bytes (a power of two is used). Default: 1 MiB. */
  sendBuffer?: number;
  /** Send small segments at once (Nagle's algorithm off, like TCP_NODELAY). Default: true. */
  noDelay?: boolean;
  /** Delay ACKs of in-order data by up to this many ms (RFC 1122 §4.2.3.2). Default: 0: quick ACK. */
  delayedAckMs?: number;
  /** Least RTO margin, ms. Default: 200 (Linux's TCP_RTO_MIN). */
  minRtoMs?: number;
  /** Largest RTO, ms. Default: 120000 (Linux's TCP_RTO_MAX). */
  maxRtoMs?: number;
  /** RTO before the first RTT sample, ms. Default: 1000 (RFC 6298). */
  initialRtoMs?: number;
  /**
   * Abort a connection whose data stays unacknowledged this long, ms (RFC 5482's user timeout;
   * Linux's TCP_USER_TIMEOUT). Default: 300000, within RFC 9293's R2 of at least 100 s.
   */
  userTimeoutMs?: number;
  /** Give up an active open after this many ms without an answer. Default: 127000 (Linux's 6 SYN retries). */
  connectTimeoutMs?: number;
  /** Keep-alive probes after this many idle ms; 0: none (RFC 1122 default: off). Default: 0. */
  keepAliveMs?: number;
  /** Between unanswered keep-alive probes, ms. Default: 75000. */
  keepAliveIntervalMs?: number;
  /** Unanswered keep-alive probes before the connection is dropped. Default: 9. */
  keepAliveProbes?: number;
  /** How long TIME-WAIT lasts (2 MSL), ms. Default: 60000 (Linux's TCP_TIMEWAIT_LEN). */
  timeWaitMs?: number;
  /** How long FIN-WAIT-2 waits for the peer's FIN after we closed, ms. Default: 60000 (Linux's tcp_fin_timeout). */
  finWait2Ms?: number;
  /** Offer SACK. Default: true. */
  sack?: boolean;
  /** Offer timestamps. Default: true. */
  timestamps?: boolean;
  /** Offer window scaling. Default: true. */
  windowScaling?: boolean;
  /** Our MSS. Default: the route's MTU less 40. */
  mss?: number;
}

/**
 * Counters of one connection, named after Linux's `struct tcp_info` (`ss -ti`). Times in µs.
 */
export interface TcpConnectionCounters {
  /** Payload bytes sent, first transmissions and retransmissions (`bytes_sent`). */
  bytesSent: number;
  /** Payload bytes retransmitted (`bytes_retrans`). */
  bytesRetrans: number;
  /** Payload bytes the peer acknowledged (`bytes_acked`). */
  bytesAcked: number;
  /** Payload bytes received in order, delivered (`bytes_received`). */
  bytesReceived: number;
  /** Segments sent (`segs_out`). */
  segsOut: number;
  /** Segments received (`segs_in`). */
  segsIn: number;
  /** Segments sent with payload (`data_segs_out`). */
  dataSegsOut: number;
  /** Segments received with payload (`data_segs_in`). */
  dataSegsIn: number;
  /** Segments retransmitted (`total_retrans`). */
  retransSegs: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Fast retransmits (three duplicate ACKs). */
  fastRetransmits: number;
  /** Holes retransmitted from the SACK scoreboard during recovery. */
  sackRetransmits: number;
  /** Segments received out of order (`rcv_ooopack`). */
  outOfOrderSegs: number;
  /** Out-of-order segments dropped: outside the window, or too many holes. */
  outOfOrderDropped: number;
  /** SACK blocks sent (D-SACK included). */
  sackBlocksSent: number;
  /** D-SACK blocks sent. */
  dsackSent: number;
  /** SACK blocks received. */
  sackBlocksReceived: number;
  /** D-SACK blocks received (the peer got something twice: a spurious retransmission). */
  dsackReceived: number;
  /** Duplicate ACKs received. */
  dupAcksIn: number;
  /** Zero-window probes sent. */
  zeroWindowProbes: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  lossProbes: number;
  /** Retransmissions found lost (SACKs for data sent after them): resent again. */
  lostRetransmits: number;
  /** Keep-alive probes sent. */
  keepAliveProbes: number;
  /** Challenge ACKs sent (RFC 5961). */
  challengeAcks: number;
  /** Segments dropped by PAWS (an old timestamp, RFC 7323 §5). */
  pawsDropped: number;
  /** Segments outside the receive window (answered with an ACK). */
  outOfWindow: number;
}

function zeroConnectionCounters(): TcpConnectionCounters {
  return {
    bytesSent: 0,
    bytesRetrans: 0,
    bytesAcked: 0,
    bytesReceived: 0,
    segsOut: 0,
    segsIn: 0,
    dataSegsOut: 0,
    dataSegsIn: 0,
    retransSegs: 0,
    timeouts: 0,
    fastRetransmits: 0,
    sackRetransmits: 0,
    outOfOrderSegs: 0,
    outOfOrderDropped: 0,
    sackBlocksSent: 0,
    dsackSent: 0,
    sackBlocksReceived: 0,
    dsackReceived: 0,
    dupAcksIn: 0,
    zeroWindowProbes: 0,
    lossProbes: 0,
    lostRetransmits: 0,
    keepAliveProbes: 0,
    challengeAcks: 0,
    pawsDropped: 0,
    outOfWindow: 0,
  };
}

/**
 * The stack's TCP counters, named after Linux's `nstat` (`Tcp*` and `TcpExt*`, without the
 * prefix, first letter lowered).
 */
export interface TcpCounters {
  /** Active opens: connect() calls (`TcpActiveOpens`). */
  activeOpens: number;
  /** Connections accepted from a listener's SYN (`TcpPassiveOpens`). */
  passiveOpens: number;
  /** Opens that failed: refused, timed out, unreachable, reset in SYN-RECEIVED (`TcpAttemptFails`). */
  attemptFails: number;
  /** Established connections reset (`TcpEstabResets`). */
  estabResets: number;
  /** Connections now ESTABLISHED or CLOSE-WAIT (`TcpCurrEstab`). */
  currEstab: number;
  /** Segments received, bad ones included (`TcpInSegs`). */
  inSegs: number;
  /** Segments sent, retransmissions excluded as Linux does (`TcpOutSegs`). */
  outSegs: number;
  /** Segments retransmitted (`TcpRetransSegs`). */
  retransSegs: number;
  /** Segments with a bad checksum or header (`TcpInErrs`, `TcpInCsumErrors`). */
  inErrs: number;
  /** RSTs sent (`TcpOutRsts`). */
  outRsts: number;
  /** Segments to a port with no listener and no connection (answered with RST). */
  noSocket: number;
  /** SYNs dropped because the listener's backlog was full (`TcpExtListenOverflows`). */
  listenOverflows: number;
  /** Challenge ACKs sent (`TcpExtTCPChallengeACK`). */
  challengeAcks: number;
  /** Challenge ACKs not sent: over the rate limit (`TcpExtTCPChallengeACK` limit hits). */
  challengeAcksLimited: number;
  /** Segments dropped by PAWS (`TcpExtPAWSEstab`). */
  pawsDropped: number;
  /** Retransmission timeouts (`TcpExtTCPTimeouts`). */
  timeouts: number;
  /** Fast retransmits (`TcpExtTCPFastRetrans`). */
  fastRetransmits: number;
  /** Out-of-order segments queued (`TcpExtTCPOFOQueue`). */
  ofoQueued: number;
  /** Connections aborted on a timeout (`TcpExtTCPAbortOnTimeout`). */
  abortOnTimeout: number;
  /** ICMP errors about our segments received. */
  icmpErrors: number;
}

/** Fresh zeroed stack counters. */
export function zeroTcpCounters(): TcpCounters {
  return {
    activeOpens: 0,
    passiveOpens: 0,
    attemptFails: 0,
    estabResets: 0,
    currEstab: 0,
    inSegs: 0,
    outSegs: 0,
    retransSegs: 0,
    inErrs: 0,
    outRsts: 0,
    noSocket: 0,
    listenOverflows: 0,
    challengeAcks: 0,
    challengeAcksLimited: 0,
    pawsDropped: 0,
    timeouts: 0,
    fastRetransmits: 0,
    ofoQueued: 0,
    abortOnTimeout: 0,
    icmpErrors: 0,
  };
}

/**
 * One received segment's header, parsed by the stack and handed to a connection. Sequence
 * numbers are 32-bit: they travel in a typed array, where V8 does not box them (internal).
 */
export class TcpSegment {
  /** [SEQ, ACK, TSVAL, TSECR, then SACK edges]. */
  readonly v: Uint32Array = new Uint32Array(4);
  /** Flags (FIN, SYN, RST, PSH, ACK, URG...). */
  flags = 0;
  /** The window field, unscaled. */
  window = 0;
  /** The parsed options. */
  readonly options: TcpOptions = new TcpOptions();
  /** Source (the peer's) port. */
  srcPort = 0;
  /** Destination (our) port. */
  dstPort = 0;
}
/** Index of the segment's sequence number in {@linkcode TcpSegment.v}. */
export const SEG_SEQ = 0;
/** Index of the segment's acknowledgment number in {@linkcode TcpSegment.v}. */
export const SEG_ACK = 1;

/** What a connection needs of its stack (internal: the stack implements it). */
export interface TcpHost {
  /** The stack's clock, ns. */
  readonly clock: Float64Array;
  /** The stack's TCP counters. */
  readonly tcpCounters: TcpCounters;
  /** The MSS for a peer: the route's MTU less 40. */
  routeMss(remoteIp: number): number;
  /**
   * Starts an IP packet carrying `length` bytes of TCP to `dst` from `src`; returns where the
   * TCP header goes in `segmentData`, or -1 (no route, no buffer: counted by the stack).
   */
  startSegment(src: number, dst: number, length: number): number;
  /** The memory the segment being built lives in. */
  readonly segmentData: Uint8Array;
  /** A DataView on `segmentData`. */
  readonly segmentView: DataView;
  /**
   * Computes the checksum of the `length`-byte segment at `at` and sends the packet. Only its
   * first `summed` bytes are read: `partial` is the sum of the rest (taken while copying it).
   */
  endSegment(
    at: number,
    length: number,
    src: number,
    dst: number,
    summed: number,
    partial: number,
  ): void;
  /** The connection ended: free its table entry. */
  tcpRelease(connection: TcpConnection): void;
  /** The connection has something to send or a new timer: run it at the end of this poll. */
  tcpSchedule(connection: TcpConnection): void;
  /** Whether more data may go out in this poll (a per-poll budget keeps a poll short). */
  tcpSendAllowed(): boolean;
  /** Whether a challenge ACK may be sent now (the stack-wide rate limit, RFC 5961 §7). */
  challengeAllowed(): boolean;
}

// Sequence-number state (a Uint32Array: values above 2^30 in fields would be boxed).
const ISS = 0, SND_UNA = 1, SND_NXT = 2, SND_MAX = 3, SND_END = 4, SND_WL1 = 5, SND_WL2 = 6;
const IRS = 7, RCV_NXT = 8, RCV_ADV = 9, TS_RECENT = 10, LAST_ACK_SENT = 11, HIGH_RXT = 12;
const RTT_SEQ = 13, FIN_IN = 14, TS_OFFSET = 15, RXT_MARK = 16;
// A computed sequence number about to be sent: #emit and #sendData take the index of the slot
// holding theirs, not the number (above 2^30, a number passed to a call is a heap object).
const OUT_SEQ = 17;
// Times, ns on the stack's clock (Float64Array).
const T_RTX = 0, T_DELACK = 1, T_KEEP = 2, T_WAIT = 3, T_RTT = 4, T_STALL = 5, T_NEXT = 6;
const T_OPENED = 7, T_OOW_ACK = 8;
/** Least time between ACKs answering out-of-window bare ACKs (Linux's tcp_invalid_ratelimit). */
const OOW_ACK_INTERVAL_NS = 500_000_000;

const MAX_SACK_RANGES = 32;
/** The send ring's first size; it grows to the send buffer as needed. */
const INITIAL_SEND_RING = 64 * 1024;
const MAX_RECEIVE_BUFFER = 16 << 20;

/** The timer the retransmission deadline serves. */
const RTX_NONE = 0, RTX_RETRANSMIT = 1, RTX_PERSIST = 2, RTX_PROBE = 3;
/** The least tail loss probe timeout (Linux's 10 ms in tcp_schedule_loss_probe). */
const MIN_PROBE_NS = 10_000_000;
/** The longest a peer may delay an ACK, for the probe timeout of a lone segment. */
const MAX_DELAYED_ACK_NS = 200_000_000;

/**
 * One TCP connection. Made by {@linkcode Stack.connect} (active open) or by a listener
 * (passive open); see the module doc.
 *
 * @example
 * ```ts ignore
 * const conn = stack.connect("10.0.0.1", 8000);
 * conn.onOpen = () => conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * conn.onData = (data, offset, length) => handle(data, offset, length); // in place, no copy
 * conn.onEnd = () => conn.close(); // the peer is done sending
 * conn.onClose = (reason) => console.log("closed:", reason);
 * ```
 */
export class TcpConnection {
  readonly #host: TcpHost;
  /** Our address. */
  readonly localIp: number;
  /** Our port. */
  readonly localPort: number;
  /** The peer's address. */
  readonly remoteIp: number;
  /** The peer's port. */
  readonly remotePort: number;
  #state: number = TcpState.CLOSED;
  readonly #s = new Uint32Array(18);
  readonly #t = new Float64Array(9);
  /** Counters of this connection. */
  readonly counters: TcpConnectionCounters = zeroConnectionCounters();
  /** In-order data, in place: `data[offset, offset + length)`, valid during the call only. */
  onData: ((data: Uint8Array, offset: number, length: number) => void) | null = null;
  /** The connection is established (for a listener's connection: before it is accepted). */
  onOpen: (() => void) | null = null;
  /** The peer closed its side (FIN): no more data will come. We may still write. */
  onEnd: (() => void) | null = null;
  /** The send buffer has room again after a `write` took less than asked. */
  onWritable: (() => void) | null = null;
  /** The connection is over; `reason` says why. Called once. */
  onClose: ((reason: TcpCloseReason) => void) | null = null;
  /** Why it ended (null while open). */
  closeReason: TcpCloseReason | null = null;
  /** A detail of the close reason, e.g. `"no ARP answer from 10.0.0.9"`. */
  closeDetail = "";
  /** The listener that accepted it (internal), or null. */
  listener: TcpListener | null = null;
  /**
   * Bytes the application received and still holds unread: the window offered shrinks by them
   * (the async face sets it; a callback that consumes at once leaves it 0). Call
   * {@linkcode TcpConnection.windowUpdate} after lowering it.
   */
  held = 0;

  // Options and what was negotiated.
  readonly #receiveBuffer: number;
  // The send ring starts small and doubles up to the send buffer as writes need it: a
  // connection that sends little (most of a server's) never holds a megabyte.
  #sendRing: Uint8Array;
  #sendView: DataView;
  #sendMask: number;
  readonly #sendLimit: number;
  #reassembly: TcpReassembly | null = null;
  readonly #rto: RtoEstimator;
  #cc: NewReno;
  #mss: number; // what we send per segment (the peer's MSS, clamped to the route)
  readonly #ourMss: number;
  #sndWnd = 0;
  #maxSndWnd = 0;
  #sndScale = 0;
  #rcvScale = 0;
  #scaleOk = false;
  #tsOk = false;
  #sackOk = false;
  readonly #offerTs: boolean;
  readonly #offerSack: boolean;
  readonly #offerScale: boolean;
  readonly #noDelay: boolean;
  readonly #delayedAckNs: number;
  readonly #userTimeoutNs: number;
  readonly #connectTimeoutNs: number;
  readonly #keepAliveNs: number;
  readonly #keepAliveIntervalNs: number;
  readonly #keepAliveMax: number;
  readonly #timeWaitNs: number;
  readonly #finWait2Ns: number;
  #keepAliveSent = 0;
  #rtxKind = RTX_NONE;
  #probeSent = false; // a tail loss probe went out since SND.UNA last moved
  #retransmitting = false; // the segment #emit builds is a retransmission
  #ackNow = false;
  #ackPending = 0; // in-order segments not yet acknowledged (delayed ACK)
  #finQueued = false; // close() asked for a FIN after the data
  #finReceivedOutOfOrder = false;
  #rttTiming = false;
  #wantWritable = false;
  #scheduled = false;
  #deferred = false; // output() met the poll's budget
  #openNotified = false;
  // SACK scoreboard: ranges above SND.UNA the peer holds, sorted.
  readonly #sackLeft = new Uint32Array(MAX_SACK_RANGES);
  readonly #sackRight = new Uint32Array(MAX_SACK_RANGES);
  #sackCount = 0;
  readonly #edges = new Uint32Array(8);
  readonly #tsOut = new Uint32Array(2);
  /** The index in the stack's connection list (internal). */
  slot: number = -1;

  /** Made by the stack (internal). */
  constructor(
    host: TcpHost,
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    iss: number,
    options: TcpConnectionOptions,
  ) {
    this.#host = host;
    this.localIp = localIp;
    this.localPort = localPort;
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    const rb = options.receiveBuffer ?? 1 << 20;
    if (!(Number.isInteger(rb) && rb >= 1024 && rb <= MAX_RECEIVE_BUFFER)) {
      throw new RangeError(`TCP receiveBuffer ${rb} must be in 1024..${MAX_RECEIVE_BUFFER}`);
    }
    this.#receiveBuffer = rb;
    const sb = options.sendBuffer ?? 1 << 20;
    if (!(Number.isInteger(sb) && sb >= 1024 && sb <= 1 << 30)) {
      throw new RangeError(`TCP sendBuffer ${sb} must be in 1024..2^30`);
    }
    let limit = 1024;
    while (limit < sb) limit *= 2;
    this.#sendLimit = limit;
    const ring = Math.min(limit, INITIAL_SEND_RING);
    this.#sendRing = new Uint8Array(ring);
    this.#sendView = new DataView(this.#sendRing.buffer);
    this.#sendMask = ring - 1;
    const ms = 1e6;
    this.#rto = new RtoEstimator({
      minUs: (options.minRtoMs ?? 200) * 1000,
      maxUs: (options.maxRtoMs ?? 120_000) * 1000,
      initialUs: (options.initialRtoMs ?? 1000) * 1000,
    });
    const routeMss = host.routeMss(remoteIp);
    this.#ourMss = Math.min(options.mss ?? routeMss, routeMss);
    if (!(this.#ourMss >= 88)) throw new RangeError(`TCP mss ${options.mss} must be ≥ 88`);
    this.#mss = Math.min(536, this.#ourMss); // RFC 9293 §3.7.1: 536 until the peer says
    this.#cc = new NewReno(this.#mss, iss);
    this.#offerTs = options.timestamps ?? true;
    this.#offerSack = options.sack ?? true;
    this.#offerScale = options.windowScaling ?? true;
    this.#noDelay = options.noDelay ?? true;
    const delayedAck = options.delayedAckMs ?? 0;
    if (!(delayedAck >= 0 && delayedAck < 500)) { // RFC 9293 MUST-40: less than 0.5 s
      throw new RangeError(`TCP delayedAckMs ${delayedAck} must be in 0..499`);
    }
    this.#delayedAckNs = delayedAck * ms;
    this.#userTimeoutNs = (options.userTimeoutMs ?? 300_000) * ms;
    this.#connectTimeoutNs = (options.connectTimeoutMs ?? 127_000) * ms;
    this.#keepAliveNs = (options.keepAliveMs ?? 0) * ms;
    this.#keepAliveIntervalNs = (options.keepAliveIntervalMs ?? 75_000) * ms;
    this.#keepAliveMax = options.keepAliveProbes ?? 9;
    this.#timeWaitNs = (options.timeWaitMs ?? 60_000) * ms;
    this.#finWait2Ns = (options.finWait2Ms ?? 60_000) * ms;
    const s = this.#s;
    s[ISS] = iss;
    s[SND_UNA] = iss;
    s[SND_NXT] = iss;
    s[SND_MAX] = iss;
    s[SND_END] = seqAdd(iss, 1); // data starts after the SYN
    // Timestamps start from a per-connection random offset (RFC 7323 §5.4).
    s[TS_OFFSET] = (Math.random() * 4294967296) >>> 0;
    this.#t.fill(Infinity);
    this.#t[T_OPENED] = host.clock[0];
    this.#t[T_OOW_ACK] = -Infinity;
    let scale = 0;
    while (scale < 14 && (65535 << scale) < rb) scale++;
    this.#rcvScale = this.#offerScale ? scale : 0;
  }

  // ------------------------------------------------------------------- state

  /** The state, a {@linkcode TcpState} value. */
  get state(): number {
    return this.#state;
  }

  /** The state's name as RFC 9293 writes it, e.g. `"ESTABLISHED"`. */
  get stateName(): string {
    return STATE_NAMES[this.#state];
  }

  /** Whether `write` may be called: open, and we have not closed our side. */
  get writableState(): boolean {
    const st = this.#state;
    return !this.#finQueued && (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT ||
      st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED);
  }

  /** When the connection next needs `timers()` (ns, the stack's clock), or Infinity. */
  get nextDeadline(): number {
    return this.#t[T_NEXT];
  }

  /** Writes {@linkcode TcpConnection.nextDeadline} into `out[i]` (no heap number). */
  writeDeadline(out: Float64Array, i: number): void {
    out[i] = this.#t[T_NEXT];
  }

  /** Smoothed RTT, µs (0 before the first sample). */
  get srttUs(): number {
    return this.#rto.srttUs;
  }
  /** RTT variation, µs. */
  get rttvarUs(): number {
    return this.#rto.rttvarUs;
  }
  /** The retransmission timeout, µs. */
  get rtoUs(): number {
    return this.#rto.rtoUs;
  }
  /** Congestion window, bytes. */
  get cwnd(): number {
    return this.#cc.cwnd;
  }
  /** Slow-start threshold, bytes. */
  get ssthresh(): number {
    return this.#cc.ssthresh;
  }
  /** The segment size we send (the peer's MSS, clamped to our route). */
  get mss(): number {
    return this.#mss;
  }
  /** The window the peer offers, bytes. */
  get sendWindow(): number {
    return this.#sndWnd;
  }
  /** The window we offer now, bytes. */
  get receiveWindow(): number {
    return seqDiff(this.#s[RCV_NXT], this.#s[RCV_ADV]);
  }
  /** Whether SACK was negotiated. */
  get sack(): boolean {
    return this.#sackOk;
  }
  /** Whether timestamps were negotiated. */
  get timestamps(): boolean {
    return this.#tsOk;
  }
  /** Our window scale shift (what the peer multiplies our window by); -1: not negotiated. */
  get receiveWindowScale(): number {
    return this.#scaleOk ? this.#rcvScale : -1;
  }
  /** The peer's window scale shift; -1: not negotiated. */
  get sendWindowScale(): number {
    return this.#scaleOk ? this.#sndScale : -1;
  }
  /** Bytes written and not yet acknowledged. */
  get unacknowledged(): number {
    return this.#buffered();
  }
  /** Room in the send buffer, bytes. */
  get writable(): number {
    return this.#sendLimit - this.unacknowledged;
  }
  /** Bytes held out of order. */
  get outOfOrderBytes(): number {
    return this.#reassembly?.bytes ?? 0;
  }

  /** Like `ss -ti`'s line for the connection. */
  toString(): string {
    const ip = (n: number) => `${n >>> 24}.${n >>> 16 & 255}.${n >>> 8 & 255}.${n & 255}`;
    const c = this.counters;
    const opts = [
      this.#tsOk ? "ts" : "",
      this.#sackOk ? "sack" : "",
      this.#scaleOk ? `wscale:${this.#sndScale},${this.#rcvScale}` : "",
    ].filter((x) => x).join(" ");
    return `${this.stateName} ${ip(this.localIp)}:${this.localPort} ${
      ip(this.remoteIp)
    }:${this.remotePort} ${opts} rto:${(this.rtoUs / 1000).toFixed(0)} rtt:${
      (this.srttUs / 1000).toFixed(3)
    }/${(this.rttvarUs / 1000).toFixed(3)} mss:${this.#mss} cwnd:${
      Math.round(this.#cc.cwnd / this.#mss)
    } bytes_sent:${c.bytesSent} bytes_retrans:${c.bytesRetrans} bytes_acked:${c.bytesAcked} bytes_received:${c.bytesReceived} segs_out:${c.segsOut} segs_in:${c.segsIn} retrans:${c.retransSegs} rcv_ooopack:${c.outOfOrderSegs}`;
  }

  // ----------------------------------------------------------------- opening

  /**
   * A SYN for this connection's 4-tuple while it is in TIME-WAIT (internal, from the stack):
   * when its timestamp, or without timestamps its sequence number, is beyond the old
   * connection's, the old one ends so a new one can open (RFC 6191, RFC 9293 §3.6.1; Linux
   * does the same). Returns whether it ended.
   */
  yieldsToSyn(seg: TcpSegment): boolean {
    if (this.#state !== TcpState.TIME_WAIT || (seg.flags & (SYN | ACK | RST | FIN)) !== SYN) {
      return false;
    }
    const s = this.#s, o = seg.options;
    const newer = this.#tsOk && o.hasTimestamp
      ? seqGt(o.values[TS_VAL], s[TS_RECENT])
      : seqGt(seg.v[SEG_SEQ], s[RCV_NXT]);
    if (newer) this.#terminate("closed", "");
    return newer;
  }

  /** Sends the SYN of an active open (internal, from the stack). */
  open(): void {
    this.#state = TcpState.SYN_SENT;
    this.#host.tcpCounters.activeOpens++;
  }

  /**
   * Sends the SYN (internal, from the stack's next poll after `open`): the poll has set the
   * clock, so the connect timeout counts from a real time even when `connect` came first.
   */
  sendFirstSyn(): void {
    if (this.#state !== TcpState.SYN_SENT) return; // closed meanwhile
    this.#t[T_OPENED] = this.#host.clock[0];
    this.#timeSyn();
    this.#sendSyn(false);
    this.#armRetransmit();
  }

  /**
   * Takes a listener's SYN (internal): records the peer's sequence and options and answers
   * with SYN-ACK.
   */
  acceptSyn(seg: TcpSegment): void {
    const s = this.#s;
    this.#state = TcpState.SYN_RECEIVED;
    s[IRS] = seg.v[SEG_SEQ];
    s[RCV_NXT] = seqAdd(seg.v[SEG_SEQ], 1);
    this.#takeSynOptions(seg);
    this.#sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.#maxSndWnd = this.#sndWnd;
    s[SND_WL1] = seg.v[SEG_SEQ];
    s[SND_WL2] = s[ISS];
    this.#timeSyn();
    this.#sendSyn(true);
    this.#armRetransmit();
  }

  /** The handshake gives the first RTT sample (as Linux), unless the SYN is retransmitted. */
  #timeSyn(): void {
    this.#rttTiming = true;
    this.#s[RTT_SEQ] = this.#s[ISS];
    this.#t[T_RTT] = this.#host.clock[0];
  }

  #takeSynOptions(seg: TcpSegment): void {
    const o = seg.options;
    this.#scaleOk = this.#offerScale && o.windowScale >= 0;
    this.#sndScale = this.#scaleOk ? o.windowScale : 0;
    if (!this.#scaleOk) this.#rcvScale = 0;
    this.#tsOk = this.#offerTs && o.hasTimestamp;
    if (this.#tsOk) this.#s[TS_RECENT] = o.values[TS_VAL];
    this.#sackOk = this.#offerSack && o.sackPermitted;
    // Payload per segment: the smaller MSS, less the timestamps every segment carries (as
    // Linux's mss_cache: 1448 on a 1500-byte MTU).
    const mss = o.mss > 0
      ? Math.max(88, Math.min(o.mss, this.#ourMss))
      : Math.min(536, this.#ourMss);
    this.#mss = mss - (this.#tsOk ? 12 : 0);
    this.#cc = new NewReno(this.#mss, this.#s[ISS]);
  }

  #sendSyn(withAck: boolean): void {
    const s = this.#s;
    // The window in a SYN is never scaled: at most 65535.
    const win = Math.min(this.#receiveBuffer, 65535);
    s[RCV_ADV] = seqAdd(s[RCV_NXT], win);
    // A SYN-ACK offers an option only when the SYN did (RFC 7323 §1.3, RFC 2018 §2).
    const ws = withAck
      ? (this.#scaleOk ? this.#rcvScale : -1)
      : this.#offerScale
      ? this.#rcvScale
      : -1;
    const ts = withAck ? this.#tsOk : this.#offerTs;
    const sack = withAck ? this.#sackOk : this.#offerSack;
    this.#emit(
      SYN | (withAck ? ACK : 0),
      ISS,
      0,
      win,
      ws,
      sack,
      ts,
    );
    if (seqGt(seqAdd(s[ISS], 1), s[SND_MAX])) s[SND_MAX] = seqAdd(s[ISS], 1);
    s[SND_NXT] = seqAdd(s[ISS], 1);
  }

  // ------------------------------------------------------------------- input

  /**
   * A segment for this connection (internal, from the stack): header in `seg`, payload
   * `data[offset, offset + length)` in the received frame.
   */
  input(seg: TcpSegment, data: Uint8Array, offset: number, length: number): void {
    const c = this.counters;
    c.segsIn++;
    if (length > 0) c.dataSegsIn++;
    if (this.#state === TcpState.SYN_SENT) {
      this.#synSentInput(seg);
    } else if (this.#state !== TcpState.CLOSED) {
      this.#synchronizedInput(seg, data, offset, length);
    }
    this.#schedule();
  }

  /** RFC 9293 §3.10.7.3. */
  #synSentInput(seg: TcpSegment): void {
    const s = this.#s, flags = seg.flags, ack = seg.v[SEG_ACK], seq = seg.v[SEG_SEQ];
    let ackOk = false;
    if (flags & ACK) {
      if (seqLe(ack, s[ISS]) || seqGt(ack, s[SND_MAX])) {
        if (!(flags & RST)) this.#sendReset(ack, 0, false); // an old connection's segment
        return;
      }
      ackOk = true;
    }
    if (flags & RST) {
      // Only an RST that acknowledges our SYN is believed (RFC 5961 §3: no blind reset).
      if (ackOk) {
        this.#host.tcpCounters.attemptFails++;
        this.#terminate("refused", "the peer answered the SYN with RST");
      }
      return;
    }
    if (!(flags & SYN)) return;
    s[IRS] = seq;
    s[RCV_NXT] = seqAdd(seq, 1);
    s[RCV_ADV] = seqAdd(s[RCV_NXT], Math.min(this.#receiveBuffer, 65535));
    this.#takeSynOptions(seg);
    if (ackOk) {
      this.#ackAdvance(seg);
      this.#sndWnd = seg.window << 0; // not scaled in a SYN
      this.#maxSndWnd = this.#sndWnd;
      s[SND_WL1] = seq;
      s[SND_WL2] = ack;
      this.#established();
      this.#ackNow = true;
    } else {
      // Simultaneous open (RFC 9293 §3.5, figure 8): SYN-ACK with our ISS.
      this.#state = TcpState.SYN_RECEIVED;
      this.#sndWnd = seg.window;
      this.#maxSndWnd = this.#sndWnd;
      s[SND_WL1] = seq;
      s[SND_WL2] = s[ISS];
      this.#sendSyn(true);
      this.#armRetransmit();
    }
  }

  #established(): void {
    this.#state = TcpState.ESTABLISHED;
    this.#host.tcpCounters.currEstab++;
    this.#t[T_RTX] = Infinity;
    this.#rtxKind = RTX_NONE;
    this.#rto.backoffs = 0;
    this.#armKeepAlive();
    if (this.listener !== null) {
      this.#host.tcpCounters.passiveOpens++;
      this.listener.established(this);
    } else this.#notifyOpen();
    if (this.unacknowledged > 0 || this.#finQueued) this.#schedule();
  }

  /** Calls onOpen once (internal, also from the listener's accept). */
  notifyOpen(): void {
    this.#notifyOpen();
  }

  #notifyOpen(): void {
    if (this.#openNotified) return;
    this.#openNotified = true;
    this.onOpen?.();
  }

  /** RFC 9293 §3.10.7.4, with RFC 5961 and RFC 7323's checks. */
  #synchronizedInput(seg: TcpSegment, data: Uint8Array, offset: number, length: number): void {
    const s = this.#s, c = this.counters, flags = seg.flags;
    let seq = seg.v[SEG_SEQ];
    const o = seg.options;
    // PAWS (RFC 7323 §5.3): an older timestamp than the last one is an old duplicate.
    if (
      this.#tsOk && o.hasTimestamp && !(flags & RST) &&
      seqLt(o.values[TS_VAL], s[TS_RECENT])
    ) {
      c.pawsDropped++;
      this.#host.tcpCounters.pawsDropped++;
      this.#ackNow = true;
      return;
    }
    // The peer's SYN again in SYN-RECEIVED (its seq is IRS, left of the window): our SYN-ACK
    // was lost, so send it again; or, in a simultaneous open, the peer's SYN-ACK, which
    // acknowledges our SYN and completes the opening (RFC 9293 figure 8; Linux does the same).
    if (this.#state === TcpState.SYN_RECEIVED && flags & SYN && seq === s[IRS]) {
      if (flags & ACK && seg.v[SEG_ACK] === seqAdd(s[ISS], 1)) {
        this.#ackAdvance(seg);
        this.#sndWnd = seg.window; // a SYN's window is never scaled
        this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
        s[SND_WL1] = seq;
        s[SND_WL2] = seg.v[SEG_ACK];
        this.#established();
        this.#ackNow = true;
      } else this.#sendSyn(true);
      return;
    }
    // Acceptability (RFC 9293 §3.10.7.4, the four cases).
    const rcvWnd = seqDiff(s[RCV_NXT], s[RCV_ADV]);
    const segLen = length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    let ok: boolean;
    if (segLen === 0) {
      const d = seqDiff(s[RCV_NXT], seq);
      ok = rcvWnd <= 0 ? d === 0 : d >= 0 && d < rcvWnd;
    } else {
      const d0 = seqDiff(s[RCV_NXT], seq); // the first byte's place in the window, then the last's
      ok = rcvWnd > 0 &&
        ((d0 >= 0 && d0 < rcvWnd) || (d0 + segLen - 1 >= 0 && d0 + segLen - 1 < rcvWnd));
    }
    // A zero window still takes ACKs and RSTs at RCV.NXT: only the data is dropped (RFC 9293).
    if (!ok && rcvWnd <= 0 && seq === s[RCV_NXT]) {
      ok = true;
      if (length > 0 || flags & FIN) this.#ackNow = true; // a zero-window probe: answer it
      length = 0;
    }
    if (!ok) {
      if (flags & RST) return;
      c.outOfWindow++;
      // A retransmitted FIN in TIME-WAIT is acknowledged and restarts the 2 MSL (§3.10.7.4).
      if (this.#state === TcpState.TIME_WAIT && flags & FIN) this.#enterTimeWait();
      // The answer is an ACK; to a bare ACK, at most one per 500 ms, so two ends that each
      // find the other out of window cannot ping-pong ACKs for ever (Linux's
      // tcp_invalid_ratelimit). Data is always answered: its sender needs the ACK.
      const now = this.#host.clock[0];
      if (segLen > 0 || now - this.#t[T_OOW_ACK] >= OOW_ACK_INTERVAL_NS) {
        this.#t[T_OOW_ACK] = now;
        this.#ackNow = true;
      }
      // Data we already have: a D-SACK tells the sender its retransmission was spurious.
      if (length > 0 && this.#sackOk && seqLt(seq, s[RCV_NXT])) {
        this.#markDsack(seq, Math.min(length, seqDiff(seq, s[RCV_NXT])));
      }
      return;
    }
    // RST (RFC 5961 §3.2): exactly RCV.NXT resets; elsewhere in the window, a challenge ACK.
    if (flags & RST) {
      if (seq === s[RCV_NXT]) this.#resetReceived();
      else this.#challengeAck();
      return;
    }
    // SYN in a synchronized state (RFC 5961 §4): a challenge ACK, never a reset.
    if (flags & SYN) {
      if (this.#state === TcpState.SYN_RECEIVED && seq === s[IRS]) {
        this.#sendSyn(true); // the peer's SYN again: our SYN-ACK was lost
        return;
      }
      this.#challengeAck();
      return;
    }
    if (!(flags & ACK)) return; // RFC 9293: drop segments without ACK
    const ack = seg.v[SEG_ACK];
    // The peer is alive: keep-alive starts over (RFC 1122 §4.2.3.6 counts idle time).
    if (this.#keepAliveNs > 0) {
      this.#keepAliveSent = 0;
      this.#armKeepAlive();
    }
    if (this.#state === TcpState.SYN_RECEIVED) {
      if (seqLe(ack, s[SND_UNA]) || seqGt(ack, s[SND_MAX])) {
        this.#sendReset(ack, 0, false);
        return;
      }
      this.#sndWnd = seg.window << this.#sndScale;
      this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
      s[SND_WL1] = seq;
      s[SND_WL2] = ack;
      this.#established();
    }
    // Timestamps: remember the peer's latest (RFC 7323 §4.3).
    if (this.#tsOk && o.hasTimestamp && seqLe(seq, s[LAST_ACK_SENT])) {
      s[TS_RECENT] = o.values[TS_VAL];
    }
    // ACK acceptability (RFC 5961 §5): not beyond what we sent, not older than the max window.
    if (seqGt(ack, s[SND_MAX])) { // acknowledges what we never sent: a (limited) challenge ACK
      this.#challengeAck();
      return;
    }
    if (seqLt(ack, seqAdd(s[SND_UNA], -Math.max(this.#maxSndWnd, 1)))) {
      this.#challengeAck();
      return;
    }
    this.#processAck(seg, length);
    if (this.#state === TcpState.CLOSED) return; // LAST-ACK ended
    // Payload (only while the peer may send).
    const st = this.#state;
    if (
      length > 0 &&
      (st === TcpState.ESTABLISHED || st === TcpState.FIN_WAIT_1 || st === TcpState.FIN_WAIT_2)
    ) {
      // Trim what we already have (a retransmission overlapping RCV.NXT).
      const before = seqDiff(seq, s[RCV_NXT]);
      if (before > 0) {
        if (this.#sackOk) this.#markDsack(seq, before);
        offset += before;
        length -= before;
        seq = s[RCV_NXT];
      }
      // And what lies beyond the window.
      const room = seqDiff(seq, s[RCV_ADV]);
      let fin = (flags & FIN) !== 0;
      if (length > room) {
        length = room > 0 ? room : 0;
        fin = false;
      }
      if (seq === s[RCV_NXT]) this.#inOrder(data, offset, length);
      else if (length > 0) this.#outOfOrder(seq, data, offset, length, fin);
      if (fin && seqAdd(seq, length) === s[RCV_NXT]) this.#finReceived();
      return;
    }
    if (flags & FIN && seq === s[RCV_NXT] && length === 0) this.#finReceived();
    else if (flags & FIN && seqGt(seq, s[RCV_NXT]) && this.#isReceiving()) {
      this.#finReceivedOutOfOrder = true; // a FIN beyond a hole: taken when the hole fills
      s[FIN_IN] = seq;
      this.#ackNow = true;
    }
  }

  #isReceiving(): boolean {
    const st = this.#state;
    return st === TcpState.ESTABLISHED || st === TcpState.FIN_WAIT_1 ||
      st === TcpState.FIN_WAIT_2;
  }

  #markDsack(seq: number, length: number): void {
    const r = this.#ensureReassembly();
    r.duplicate[0] = seq;
    r.duplicate[1] = seqAdd(seq, length);
    r.hasDuplicate = true;
    this.#ackNow = true;
  }

  #ensureReassembly(): TcpReassembly {
    if (this.#reassembly === null) {
      let cap = 1024;
      while (cap < this.#receiveBuffer * 2) cap *= 2; // the window may exceed the buffer a little
      this.#reassembly = new TcpReassembly(cap);
    }
    return this.#reassembly;
  }

  /** Delivers in place, then whatever the reassembly ring holds that now follows on. */
  #inOrder(data: Uint8Array, offset: number, length: number): void {
    const s = this.#s;
    if (length > 0) {
      s[RCV_NXT] = seqAdd(s[RCV_NXT], length);
      this.counters.bytesReceived += length;
      this.#deliver(data, offset, length);
    }
    const r = this.#reassembly;
    if (r !== null && r.ranges > 0) {
      this.#ackNow = true; // a gap filled (or shrank): ACK at once (RFC 5681 §4.2)
      for (let n = r.take(s[RCV_NXT]); n > 0; n = r.take(s[RCV_NXT])) {
        const at = r.ringOffset(s[RCV_NXT]), first = r.contiguous(s[RCV_NXT], n);
        s[RCV_NXT] = seqAdd(s[RCV_NXT], n);
        this.counters.bytesReceived += n;
        this.#deliver(r.data, at, first);
        if (first < n) this.#deliver(r.data, 0, n - first);
      }
    }
    if (this.#finReceivedOutOfOrder && s[FIN_IN] === s[RCV_NXT]) {
      this.#finReceivedOutOfOrder = false;
      this.#finReceived();
      return;
    }
    if (length > 0) {
      if (this.#delayedAckNs === 0 || ++this.#ackPending >= 2) this.#ackNow = true;
      else if (this.#t[T_DELACK] === Infinity) {
        this.#t[T_DELACK] = this.#host.clock[0] + this.#delayedAckNs;
        this.#updateNext();
      }
    }
  }

  #deliver(data: Uint8Array, offset: number, length: number): void {
    if (this.#state === TcpState.CLOSED) return;
    this.onData?.(data, offset, length);
  }

  #outOfOrder(seq: number, data: Uint8Array, offset: number, length: number, fin: boolean): void {
    const s = this.#s, c = this.counters;
    const r = this.#ensureReassembly();
    const result = r.add(s[RCV_NXT], seqDiff(s[RCV_NXT], s[RCV_ADV]), seq, data, offset, length);
    this.#ackNow = true; // immediately, with SACK blocks (RFC 5681 §4.2, RFC 2018 §4)
    if (result === AddResult.STORED || result === AddResult.DUPLICATE) {
      c.outOfOrderSegs++;
      this.#host.tcpCounters.ofoQueued++;
      if (fin) {
        this.#finReceivedOutOfOrder = true;
        s[FIN_IN] = seqAdd(seq, length);
      }
    } else {
      c.outOfOrderDropped++;
    }
  }

  #finReceived(): void {
    const s = this.#s;
    s[RCV_NXT] = seqAdd(s[RCV_NXT], 1);
    this.#ackNow = true;
    switch (this.#state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.#state = TcpState.CLOSE_WAIT;
        break;
      case TcpState.FIN_WAIT_1:
        // Our FIN not yet acknowledged: both closed at once (RFC 9293 figure 13).
        this.#state = TcpState.CLOSING;
        break;
      case TcpState.FIN_WAIT_2:
        this.#enterTimeWait();
        break;
    }
    this.onEnd?.();
  }

  #resetReceived(): void {
    const st = this.#state;
    if (st === TcpState.SYN_RECEIVED) {
      this.#host.tcpCounters.attemptFails++;
      this.#terminate(this.listener !== null ? "reset" : "refused", "the peer reset the opening");
      return;
    }
    if (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT) {
      this.#host.tcpCounters.estabResets++;
    }
    // In CLOSING, LAST-ACK and TIME-WAIT a reset just ends the connection (RFC 9293).
    this.#terminate(
      st === TcpState.TIME_WAIT || st === TcpState.CLOSING || st === TcpState.LAST_ACK
        ? "closed"
        : "reset",
      "the peer sent RST",
    );
  }

  #challengeAck(): void {
    if (!this.#host.challengeAllowed()) {
      this.#host.tcpCounters.challengeAcksLimited++;
      return;
    }
    this.counters.challengeAcks++;
    this.#host.tcpCounters.challengeAcks++;
    this.#sendAck();
  }

  /** ACK processing (RFC 9293 §3.10.7.4 "fifth, check the ACK field"). */
  #processAck(seg: TcpSegment, length: number): void {
    const s = this.#s, c = this.counters, o = seg.options;
    const ack = seg.v[SEG_ACK], seq = seg.v[SEG_SEQ];
    if (this.#sackOk && o.sackBlocks > 0) this.#takeSackBlocks(o, ack);
    const window = seg.window << this.#sndScale;
    const advanced = seqGt(ack, s[SND_UNA]);
    if (advanced) this.#ackAdvance(seg);
    // A duplicate ACK (RFC 5681 §2): nothing new acknowledged, no data, same window, data out.
    // Not the answers to zero-window probes: those say the window is still shut.
    const duplicate = !advanced && ack === s[SND_UNA] && length === 0 &&
      !(seg.flags & (SYN | FIN)) && window === this.#sndWnd && window > 0 &&
      seqGt(s[SND_MAX], s[SND_UNA]);
    if (duplicate) c.dupAcksIn++;
    // A retransmission is lost when data sent after it was SACKed and its hole is still open
    // (RACK's idea, RFC 8985, by sequence instead of time): the holes are resent once more.
    if (
      this.#cc.inRecovery && this.#sackCount > 0 && seqLt(s[SND_UNA], s[HIGH_RXT]) &&
      seqGt(this.#sackRight[this.#sackCount - 1], seqAdd(s[RXT_MARK], 2 * this.#mss))
    ) {
      s[HIGH_RXT] = s[SND_UNA];
      s[RXT_MARK] = s[SND_MAX];
      this.counters.lostRetransmits++;
    }
    // SACKed bytes above SND.UNA beyond (DupThresh - 1) · SMSS: the first hole is lost
    // (RFC 6675 §5); with less in flight, all but one segment SACKed is enough (early
    // retransmit, RFC 5827). A receiver that ACKs once per burst sends too few duplicates.
    if (
      this.#sackCount > 0 && !this.#cc.inRecovery &&
      this.#sackedBytes() > Math.min(2 * this.#mss, this.#flight() - this.#mss - 1) &&
      this.#cc.lossDetected(this.#ccSeq(), this.#flight()) === CongestionAction.RETRANSMIT
    ) {
      this.#enterRecovery();
    } else if (duplicate) {
      const action = this.#cc.duplicateAck(this.#ccSeq(), this.#flight());
      if (action === CongestionAction.RETRANSMIT) this.#enterRecovery();
    }
    // The send window (RFC 9293 §3.10.7.4, SND.WL1/WL2 guard against old segments).
    if (seqLt(s[SND_WL1], seq) || (s[SND_WL1] === seq && seqLe(s[SND_WL2], ack))) {
      const opened = window > this.#sndWnd;
      this.#sndWnd = window;
      if (window > this.#maxSndWnd) this.#maxSndWnd = window;
      s[SND_WL1] = seq;
      s[SND_WL2] = ack;
      if (opened && this.#rtxKind === RTX_PERSIST) {
        this.#rtxKind = RTX_NONE;
        this.#t[T_RTX] = Infinity;
        this.#rto.backoffs = 0;
        // A probe byte not taken is sent again as ordinary data, from SND.UNA.
        if (seqGt(s[SND_NXT], s[SND_UNA])) s[SND_NXT] = s[SND_UNA];
      }
    }
    if (window === 0) this.#armPersistIfNeeded();
  }

  /** Fast retransmit: the first unacknowledged segment now, the other holes as `output` may. */
  #enterRecovery(): void {
    const s = this.#s;
    this.counters.fastRetransmits++;
    this.#host.tcpCounters.fastRetransmits++;
    s[HIGH_RXT] = s[SND_UNA];
    s[RXT_MARK] = s[SND_MAX];
    this.#retransmitHead();
  }

  /** SND.UNA moves to `ack`: free the acknowledged bytes, take an RTT sample, grow cwnd. */
  #ackAdvance(seg: TcpSegment): void {
    const s = this.#s, c = this.counters, now = this.#host.clock[0], ack = seg.v[SEG_ACK];
    const flight = this.#flight();
    let acked = seqDiff(s[SND_UNA], ack);
    const buffered = this.#buffered();
    const wasSynAcked = seqGt(ack, s[ISS]) && s[SND_UNA] === s[ISS];
    if (wasSynAcked) acked--;
    s[SND_UNA] = ack;
    if (seqLt(s[SND_NXT], ack)) s[SND_NXT] = ack;
    c.bytesAcked += buffered - this.#buffered();
    // RTT (Karn: only a segment sent once): timed by the µs clock, not the ms timestamps.
    if (this.#rttTiming && seqGt(ack, s[RTT_SEQ])) {
      this.#rttTiming = false;
      this.#rto.sample(Math.round((now - this.#t[T_RTT]) / 1000)); // whole µs: a small integer
    }
    this.#rto.backoffs = 0;
    this.#keepAliveSent = 0;
    this.#t[T_STALL] = now;
    // The scoreboard keeps only what lies above SND.UNA.
    if (this.#sackCount > 0) this.#trimScoreboard();
    if (seqLt(s[HIGH_RXT], ack)) s[HIGH_RXT] = ack;
    if (this.#state !== TcpState.SYN_SENT && this.#state !== TcpState.SYN_RECEIVED) {
      const action = this.#cc.ack(this.#ccSeq(), acked > 0 ? acked : 0, flight);
      // A partial ACK: the next hole is lost too. With SACK, output() resends the holes.
      if (action === CongestionAction.RETRANSMIT && !this.#sackOk) this.#retransmitHead();
    }
    // The retransmission timer restarts while data is outstanding (RFC 6298 §5.3).
    this.#probeSent = false;
    if (seqGt(s[SND_MAX], s[SND_UNA])) this.#armRetransmit();
    else if (this.#rtxKind === RTX_RETRANSMIT || this.#rtxKind === RTX_PROBE) {
      this.#rtxKind = RTX_NONE;
      this.#t[T_RTX] = Infinity;
    }
    // Our FIN acknowledged?
    if (this.#finSent() && ack === seqAdd(s[SND_END], 1)) this.#ourFinAcked();
    if (this.#wantWritable && this.writable > 0) {
      this.#wantWritable = false;
      if (this.writableState) this.onWritable?.();
    }
    this.#armKeepAlive();
  }

  #ourFinAcked(): void {
    switch (this.#state) {
      case TcpState.FIN_WAIT_1:
        this.#state = TcpState.FIN_WAIT_2;
        this.#t[T_WAIT] = this.#host.clock[0] + this.#finWait2Ns;
        this.#updateNext();
        break;
      case TcpState.CLOSING:
        this.#enterTimeWait();
        break;
      case TcpState.LAST_ACK:
        this.#terminate("closed", "");
        break;
    }
  }

  #enterTimeWait(): void {
    if (this.#state !== TcpState.TIME_WAIT) {
      this.#state = TcpState.TIME_WAIT;
      this.#reassembly = null;
    }
    const t = this.#t;
    t[T_RTX] = Infinity;
    t[T_KEEP] = Infinity;
    t[T_DELACK] = Infinity;
    this.#rtxKind = RTX_NONE;
    t[T_WAIT] = this.#host.clock[0] + this.#timeWaitNs;
    this.#updateNext();
  }

  #finSent(): boolean {
    const s = this.#s;
    return this.#finQueued && seqGt(s[SND_MAX], s[SND_END]);
  }

  /** SND.UNA (the ACK just taken) and SND.MAX, where NewReno reads them. */
  #ccSeq(): Uint32Array {
    const q = this.#ccSeqs, s = this.#s;
    q[0] = s[SND_UNA];
    q[1] = s[SND_MAX];
    return q;
  }
  readonly #ccSeqs = new Uint32Array(2);

  /**
   * Bytes in the send buffer: written and not yet acknowledged. The SYN and the FIN take a
   * sequence number each, but no byte.
   */
  #buffered(): number {
    const s = this.#s;
    const n = seqDiff(s[SND_UNA], s[SND_END]) - (s[SND_UNA] === s[ISS] ? 1 : 0);
    return n > 0 ? n : 0;
  }

  /** Bytes outstanding (sent and unacknowledged). */
  #flight(): number {
    return seqDiff(this.#s[SND_UNA], this.#s[SND_MAX]);
  }

  // ------------------------------------------------------------ the scoreboard

  #takeSackBlocks(o: TcpOptions, ack: number): void {
    const s = this.#s, c = this.counters, v = o.values;
    for (let b = 0; b < o.sackBlocks; b++) {
      const left = v[SACK_EDGES + 2 * b], right = v[SACK_EDGES + 2 * b + 1];
      c.sackBlocksReceived++;
      // D-SACK (RFC 2883 §4): the first block below the ACK, or inside the second block.
      if (
        b === 0 && (seqLe(right, ack) ||
          (o.sackBlocks > 1 && seqGe(left, v[SACK_EDGES + 2]) && seqLe(right, v[SACK_EDGES + 3])))
      ) {
        c.dsackReceived++;
        continue;
      }
      // Only blocks within what we sent and above the ACK (RFC 6675 §4 ignores the rest).
      if (!seqLt(left, right) || seqLe(right, ack) || seqGt(right, s[SND_MAX])) continue;
      this.#scoreboardAdd(seqGt(left, ack) ? left : ack, right);
    }
  }

  #scoreboardAdd(left: number, right: number): void {
    const L = this.#sackLeft, R = this.#sackRight, n = this.#sackCount;
    let i = 0;
    while (i < n && seqLt(R[i], left)) i++;
    let j = i;
    while (j < n && seqLe(L[j], right)) j++;
    if (i < j) { // merges with ranges i..j-1
      if (seqLt(L[i], left)) left = L[i];
      if (seqGt(R[j - 1], right)) right = R[j - 1];
    } else if (n === MAX_SACK_RANGES) return; // full: forget it (SACK is advisory)
    const shift = 1 - (j - i);
    if (shift !== 0) {
      L.copyWithin(j + shift, j, n);
      R.copyWithin(j + shift, j, n);
    }
    this.#sackCount = n + shift;
    L[i] = left;
    R[i] = right;
  }

  #trimScoreboard(): void {
    const una = this.#s[SND_UNA], L = this.#sackLeft, R = this.#sackRight;
    let drop = 0;
    while (drop < this.#sackCount && seqLe(R[drop], una)) drop++;
    if (drop > 0) {
      L.copyWithin(0, drop, this.#sackCount);
      R.copyWithin(0, drop, this.#sackCount);
      this.#sackCount -= drop;
    }
    if (this.#sackCount > 0 && seqLt(L[0], una)) L[0] = una;
  }

  /** Moves SND.NXT past a SACKed range it lies in; true when it moved. */
  #skipSacked(): boolean {
    const s = this.#s;
    for (let i = 0; i < this.#sackCount; i++) {
      if (seqLe(this.#sackLeft[i], s[SND_NXT]) && seqLt(s[SND_NXT], this.#sackRight[i])) {
        s[SND_NXT] = this.#sackRight[i];
        return true;
      }
    }
    return false;
  }

  /** Bytes from `seq` to the next SACKed range (a large number when none follows). */
  #untilSacked(seq: number): number {
    for (let i = 0; i < this.#sackCount; i++) {
      if (seqGt(this.#sackLeft[i], seq)) return seqDiff(seq, this.#sackLeft[i]);
    }
    return 0x7fffffff;
  }

  #sackedBytes(): number {
    let n = 0;
    for (let i = 0; i < this.#sackCount; i++) n += seqDiff(this.#sackLeft[i], this.#sackRight[i]);
    return n;
  }

  /**
   * RFC 6675's pipe, simplified: bytes outstanding, less those SACKed, less the holes below the
   * highest SACKed byte that were not yet retransmitted (taken as lost).
   */
  #pipe(): number {
    const s = this.#s;
    let pipe = this.#flight();
    if (this.#sackCount === 0) return pipe;
    const high = this.#sackRight[this.#sackCount - 1];
    const sacked = this.#sackedBytes();
    const holes = seqDiff(s[SND_UNA], high) - sacked;
    // Holes below HighRxt were retransmitted: they count again.
    let retransmitted = 0;
    let cur = s[SND_UNA];
    for (let i = 0; i < this.#sackCount && seqLt(cur, s[HIGH_RXT]); i++) {
      const end = seqLt(this.#sackLeft[i], s[HIGH_RXT]) ? this.#sackLeft[i] : s[HIGH_RXT];
      if (seqLt(cur, end)) retransmitted += seqDiff(cur, end);
      cur = this.#sackRight[i];
    }
    pipe -= sacked + holes - retransmitted;
    return pipe > 0 ? pipe : 0;
  }

  /** The next hole at or after HighRxt below the highest SACKed byte: its length; its start in `#s[OUT_SEQ]`. */
  #nextHole(): number {
    const s = this.#s, L = this.#sackLeft, R = this.#sackRight;
    let cur = seqGt(s[HIGH_RXT], s[SND_UNA]) ? s[HIGH_RXT] : s[SND_UNA];
    for (let i = 0; i < this.#sackCount; i++) {
      if (seqLt(cur, L[i])) {
        s[OUT_SEQ] = cur;
        return seqDiff(cur, L[i]);
      }
      if (seqLt(cur, R[i])) cur = R[i];
    }
    return 0;
  }

  // ------------------------------------------------------------------ output

  /**
   * Copies up to `length` bytes of `data` from `offset` into the send buffer; returns how many
   * it took (less when the buffer is full: `onWritable` is called when it has room again).
   * Throws when the connection cannot send (closed, or our side shut).
   */
  write(data: Uint8Array, offset = 0, length: number = data.length - offset): number {
    if (!this.writableState) {
      throw new Error(
        `TCP write: the connection is ${this.stateName}${
          this.closeReason
            ? ` (${this.closeReason})`
            : this.#finQueued
            ? " and our side is closed"
            : ""
        }`,
      );
    }
    const buffered = this.unacknowledged;
    if (buffered + length > this.#sendRing.length) this.#growSendRing(buffered + length);
    const s = this.#s, ring = this.#sendRing, mask = this.#sendMask;
    const n = Math.min(length, ring.length - buffered);
    if (n < length) this.#wantWritable = true;
    if (n <= 0) return 0;
    const at = s[SND_END] & mask, first = Math.min(n, ring.length - at);
    copyIn(ring, at, data, offset, first);
    if (first < n) copyIn(ring, 0, data, offset + first, n - first);
    s[SND_END] = seqAdd(s[SND_END], n);
    this.#schedule();
    return n;
  }

  /** Doubles the send ring (up to the send buffer) until it holds `want` bytes. */
  #growSendRing(want: number): void {
    const old = this.#sendRing;
    let size = old.length;
    while (size < want && size < this.#sendLimit) size *= 2;
    if (size === old.length) return;
    const ring = new Uint8Array(size), mask = size - 1;
    // Bytes live at (sequence number & mask): move the unacknowledged ones to their new places.
    const s = this.#s, n = this.#buffered();
    const from = seqAdd(s[SND_END], -n);
    for (let i = 0; i < n; i++) ring[(from + i) & mask] = old[(from + i) & this.#sendMask];
    this.#sendRing = ring;
    this.#sendView = new DataView(ring.buffer);
    this.#sendMask = mask;
  }

  /**
   * Closes our side after the data written so far (FIN). The peer may go on sending: its data
   * still reaches `onData` until its own FIN (`onEnd`). Idempotent.
   */
  closeWrite(): void {
    const st = this.#state;
    if (this.#finQueued || st === TcpState.CLOSED || st === TcpState.TIME_WAIT) return;
    if (st === TcpState.SYN_SENT) { // nothing sent yet: just forget it (RFC 9293 §3.10.4)
      this.#terminate("closed", "closed before it opened");
      return;
    }
    this.#finQueued = true;
    this.#schedule();
  }

  /** Closes the connection: our FIN after the pending data; the peer's data is still delivered. */
  close(): void {
    this.closeWrite();
  }

  /** Resets the connection at once (RST), dropping what is unsent. */
  abort(): void {
    const st = this.#state;
    if (st === TcpState.CLOSED) return;
    if (st !== TcpState.SYN_SENT && st !== TcpState.TIME_WAIT) {
      this.#sendReset(this.#s[SND_NXT], 0, false);
    }
    this.#terminate("aborted", "aborted by the application");
  }

  /** Sends a window update when the window opened (after `held` went down). */
  windowUpdate(): void {
    const s = this.#s, right = seqAdd(s[RCV_NXT], this.#availableWindow());
    if (seqDiff(s[RCV_ADV], right) >= this.#swsThreshold()) {
      this.#ackNow = true;
      this.#schedule();
    }
  }

  /**
   * How far a right edge must move past the advertised one to be worth announcing:
   * min(buffer/2, MSS) (receiver SWS avoidance, RFC 9293 §3.8.6.2.2). The edges are compared
   * where they are computed: a sequence number above 2^30 passed to a call is allocated.
   */
  #swsThreshold(): number {
    return Math.min(this.#receiveBuffer >> 1, this.#ourMss);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#host.tcpSchedule(this);
  }

  /**
   * Sends what is due: data the windows allow, a FIN, an ACK (internal, from the stack). True
   * when the poll's budget stopped it with more to send: the stack runs it again next poll.
   */
  output(): boolean {
    this.#scheduled = false;
    this.#deferred = false;
    const st = this.#state;
    if (st === TcpState.CLOSED || st === TcpState.SYN_SENT) return false;
    if (st === TcpState.SYN_RECEIVED) { // no data before the handshake ends; ACKs may go
      if (this.#ackNow) this.#sendAck();
      return false;
    }
    const s = this.#s;
    let sent = false;
    if (st !== TcpState.TIME_WAIT) {
      // SACK recovery: retransmit the holes first (RFC 6675 §5, NextSeg rule 1).
      if (this.#sackOk && this.#cc.inRecovery && this.#sackCount > 0) {
        while (this.#pipe() + this.#mss <= this.#cc.ssthresh) { // cwnd - pipe ≥ 1 SMSS
          const hole = this.#nextHole();
          if (hole <= 0 || !this.#budgetLeft()) break;
          const n = Math.min(hole, this.#mss);
          if (!this.#sendData(OUT_SEQ, n, true)) break;
          s[HIGH_RXT] = seqAdd(s[OUT_SEQ], n);
          this.counters.sackRetransmits++;
          sent = true;
        }
      }
      if (!this.#deferred) sent = this.#sendNew() || sent;
    }
    if (this.#ackNow && !sent) this.#sendAck();
    // Kept scheduled: a write or an ACK meanwhile needs no second place in the stack's list.
    if (this.#deferred) this.#scheduled = true;
    return this.#deferred;
  }

  /** Whether the poll's budget allows one more data segment; if not, output goes on later. */
  #budgetLeft(): boolean {
    if (this.#host.tcpSendAllowed()) return true;
    this.#deferred = true;
    return false;
  }

  /** New data (and the FIN) as the windows allow; true when something went out. */
  #sendNew(): boolean {
    const s = this.#s;
    let sent = false;
    for (;;) {
      const pending = seqDiff(s[SND_NXT], s[SND_END]);
      const finDue = this.#finQueued && pending <= 0 && !seqGt(s[SND_NXT], s[SND_END]) &&
        this.#state !== TcpState.FIN_WAIT_2 && this.#state !== TcpState.CLOSING &&
        this.#state !== TcpState.LAST_ACK && this.#state !== TcpState.TIME_WAIT;
      if (pending <= 0 && !finDue) break;
      // What the windows allow beyond SND.NXT.
      const inFlight = seqDiff(s[SND_UNA], s[SND_NXT]);
      const limitCc = this.#cc.inRecovery && this.#sackOk
        ? this.#cc.ssthresh - this.#pipe()
        : this.#cc.cwnd - this.#flight();
      const limitWnd = this.#sndWnd - inFlight;
      const room = Math.min(limitCc, limitWnd);
      if (pending <= 0) { // only the FIN: it needs no window room
        this.#sendFin();
        return true;
      }
      if (room <= 0) {
        if (limitWnd <= 0 && inFlight === 0) this.#armPersistIfNeeded();
        break;
      }
      // Resending after a timeout: what the peer SACKed is skipped.
      if (this.#sackCount > 0 && seqLt(s[SND_NXT], s[SND_MAX]) && this.#skipSacked()) continue;
      const n = Math.min(pending, this.#mss, room, this.#untilSacked(s[SND_NXT]));
      // Sender SWS (RFC 9293 §3.8.6.2.1): a small segment only when it is all there is (with
      // Nagle off) or when nothing is in flight (Nagle on), or half the max window.
      if (n < this.#mss && n < pending) {
        if (n < (this.#maxSndWnd >> 1) && inFlight > 0) break;
      }
      if (n < this.#mss && !this.#noDelay && inFlight > 0) break; // Nagle
      if (!this.#budgetLeft()) break;
      const isLast = n === pending;
      const fin = isLast && this.#finQueued && this.#finAllowedState();
      if (!this.#sendData(SND_NXT, n, false, fin)) break;
      sent = true;
      if (fin) break;
    }
    return sent;
  }

  #finAllowedState(): boolean {
    const st = this.#state;
    return st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT ||
      st === TcpState.FIN_WAIT_1 || st === TcpState.CLOSING || st === TcpState.LAST_ACK;
  }

  #sendFin(): void {
    const s = this.#s;
    if (s[SND_MAX] === s[SND_UNA]) this.#t[T_STALL] = this.#host.clock[0];
    this.#emit(FIN | ACK, SND_END, 0, -1, -1, false, false);
    const finEnd = seqAdd(s[SND_END], 1);
    s[SND_NXT] = finEnd;
    if (seqLt(s[SND_MAX], finEnd)) s[SND_MAX] = finEnd;
    this.#afterFinSent();
    this.#armRetransmit();
  }

  #afterFinSent(): void {
    if (this.#state === TcpState.ESTABLISHED) {
      this.#state = TcpState.FIN_WAIT_1;
      this.#host.tcpCounters.currEstab--;
    } else if (this.#state === TcpState.CLOSE_WAIT) {
      this.#state = TcpState.LAST_ACK;
      this.#host.tcpCounters.currEstab--;
    }
  }

  /**
   * Sends `length` bytes from sequence `seq` out of the send ring (a retransmission when
   * `retransmit`, or when it lies below SND.MAX). False when the device took nothing.
   */
  #sendData(from: number, length: number, retransmit: boolean, fin = false): boolean {
    const s = this.#s, c = this.counters, seq = s[from];
    const again = retransmit || seqLt(seq, s[SND_MAX]);
    const flags = ACK | PSH | (fin ? FIN : 0);
    this.#retransmitting = again;
    const ok = this.#emit(flags, from, length, -1, -1, false, false);
    this.#retransmitting = false;
    if (!ok) return false;
    c.bytesSent += length;
    c.dataSegsOut++;
    if (again) {
      c.bytesRetrans += length;
      c.retransSegs++;
      this.#host.tcpCounters.retransSegs++;
      if (this.#rttTiming && seqLe(seq, s[RTT_SEQ])) this.#rttTiming = false; // Karn
    } else if (!this.#rttTiming) {
      this.#rttTiming = true;
      s[RTT_SEQ] = seq;
      this.#t[T_RTT] = this.#host.clock[0];
    }
    const end = seqAdd(seq, length + (fin ? 1 : 0));
    if (!retransmit || seqGe(seq, s[SND_NXT])) {
      if (seqGt(end, s[SND_NXT])) s[SND_NXT] = end;
    }
    if (seqGt(end, s[SND_MAX])) {
      if (s[SND_MAX] === s[SND_UNA]) this.#t[T_STALL] = this.#host.clock[0];
      s[SND_MAX] = end;
    }
    if (fin) this.#afterFinSent();
    // The RTO starts when it is not running (RFC 6298 §5.1); the loss probe restarts with each
    // new segment (RFC 8985 §7.2), so it fires a PTO after the last one: at a lost tail.
    if (!again && this.#probeAllowed()) this.#armRetransmit();
    else if (this.#rtxKind !== RTX_RETRANSMIT && this.#rtxKind !== RTX_PROBE) this.#armRetransmit();
    return true;
  }

  /** Retransmits the first unacknowledged segment (fast retransmit, partial ACK, timeout). */
  #retransmitHead(): void {
    const s = this.#s;
    const buffered = seqDiff(s[SND_UNA], s[SND_END]);
    if (buffered > 0) {
      const n = Math.min(buffered, this.#mss);
      const fin = n === buffered && this.#finSent();
      this.#sendData(SND_UNA, n, true, fin);
      if (seqLt(s[HIGH_RXT], seqAdd(s[SND_UNA], n))) s[HIGH_RXT] = seqAdd(s[SND_UNA], n);
    } else if (this.#finSent()) {
      this.#retransmitting = true;
      this.#emit(FIN | ACK, SND_END, 0, -1, -1, false, false);
      this.#retransmitting = false;
      this.counters.retransSegs++;
      this.#host.tcpCounters.retransSegs++;
    }
  }

  #sendAck(): void {
    this.#emit(ACK, SND_NXT, 0, -1, -1, false, false);
  }

  /** The window we can offer: the buffer less what the application holds. */
  #availableWindow(): number {
    const w = this.#receiveBuffer - this.held;
    return w > 0 ? w : 0;
  }

  /**
   * Builds and sends one segment. `dataLength` bytes come from the send ring at `seq`;
   * `synWindow` ≥ 0 is a SYN's unscaled window. Returns false when nothing went out.
   */
  #emit(
    flags: number,
    from: number,
    dataLength: number,
    synWindow: number,
    windowScale: number,
    sackPermitted: boolean,
    timestamps: boolean,
  ): boolean {
    const host = this.#host, s = this.#s, syn = synWindow >= 0, seq = s[from];
    let optLength: number;
    let blocks = 0;
    if (syn) {
      optLength = 4 + (timestamps ? 12 : sackPermitted ? 4 : 0) + (windowScale >= 0 ? 4 : 0);
    } else {
      const r = this.#reassembly;
      if (this.#sackOk && r !== null && (r.ranges > 0 || r.hasDuplicate)) {
        // Blocks only as many as fit beside the payload in one MSS (RFC 2018 §3).
        const room = dataLength > 0 ? (this.#mss - dataLength - 4) >> 3 : 4;
        const max = Math.min(this.#tsOk ? 3 : 4, room);
        if (max > 0) {
          if (r.hasDuplicate) this.counters.dsackSent++;
          blocks = r.writeSackBlocks(this.#edges, max);
        }
      }
      optLength = (this.#tsOk ? 12 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0);
    }
    const length = 20 + optLength + dataLength;
    const at = host.startSegment(this.localIp, this.remoteIp, length);
    if (at < 0) return false;
    const tv = host.segmentView, td = host.segmentData;
    // The window: a SYN's as given; otherwise the right edge never moves left (RFC 9293
    // §3.8.6.2.2), and grows only by at least min(buffer/2, MSS) (receiver SWS avoidance).
    let window: number;
    if (synWindow >= 0) window = synWindow;
    else {
      const right = seqAdd(s[RCV_NXT], this.#availableWindow());
      if (seqDiff(s[RCV_ADV], right) >= this.#swsThreshold() || seqLt(s[RCV_ADV], s[RCV_NXT])) {
        s[RCV_ADV] = right;
      }
      let w = seqDiff(s[RCV_NXT], s[RCV_ADV]);
      if (w < 0) w = 0;
      // Rounded up, so the edge the peer computes is never left of the one we promised.
      const scale = this.#rcvScale;
      window = Math.min((w + (1 << scale) - 1) >> scale, 65535);
      s[RCV_ADV] = seqAdd(s[RCV_NXT], window << scale);
    }
    tv.setUint16(at, this.localPort);
    tv.setUint16(at + 2, this.remotePort);
    // 32-bit fields as two 16-bit halves: a number above 2^30 given to setUint32 outside
    // optimized code is allocated, and these are per segment.
    const ackNo = flags & ACK ? s[RCV_NXT] : 0;
    tv.setUint16(at + 4, seq >>> 16);
    tv.setUint16(at + 6, seq & 0xffff);
    tv.setUint16(at + 8, ackNo >>> 16);
    tv.setUint16(at + 10, ackNo & 0xffff);
    tv.setUint16(at + 12, ((20 + optLength) << 10) | flags);
    tv.setUint16(at + 14, window);
    tv.setUint32(at + 16, 0); // checksum and urgent pointer
    const tsVal = (this.#host.clock[0] / 1e6 + s[TS_OFFSET]) >>> 0;
    if (syn) {
      writeSynOptions(
        tv,
        at + 20,
        this.#ourMss,
        windowScale,
        sackPermitted,
        timestamps ? tsVal : -1,
        timestamps && flags & ACK ? s[TS_RECENT] : 0,
      );
    } else if (optLength > 0) {
      const ts = this.#tsOut;
      ts[0] = tsVal;
      ts[1] = s[TS_RECENT];
      writeSegmentOptions(tv, at + 20, this.#tsOk ? ts : null, this.#edges, blocks);
      if (blocks > 0) this.counters.sackBlocksSent += blocks;
    }
    // The payload from the send ring (in two pieces when it wraps), checksummed as it is copied;
    // the header is summed by endSegment. A wrap at an odd byte sums the whole segment there.
    const header = 20 + optLength;
    let summed = length, payloadSum = 0;
    if (dataLength > 0) {
      const ring = this.#sendRing, rv = this.#sendView, from = seq & this.#sendMask;
      const first = Math.min(dataLength, ring.length - from);
      const to = at + header;
      if (first === dataLength) {
        payloadSum = copySum(ring, rv, from, td, tv, to, first);
        summed = header;
      } else if ((first & 1) === 0) {
        payloadSum = copySum(ring, rv, from, td, tv, to, first) +
          copySum(ring, rv, 0, td, tv, to + first, dataLength - first);
        summed = header;
      } else {
        copyBytes(ring, rv, from, td, tv, to, first);
        copyBytes(ring, rv, 0, td, tv, to + first, dataLength - first);
      }
    }
    host.endSegment(at, length, this.localIp, this.remoteIp, summed, payloadSum);
    if (flags & ACK) {
      s[LAST_ACK_SENT] = s[RCV_NXT];
      this.#ackNow = false;
      this.#ackPending = 0;
      if (this.#t[T_DELACK] !== Infinity) this.#t[T_DELACK] = Infinity;
    }
    this.counters.segsOut++;
    if (!this.#retransmitting) host.tcpCounters.outSegs++; // Linux counts those apart
    return true;
  }

  /** An RST with `seq` (and `ack` when `withAck`), e.g. answering an unacceptable ACK. */
  #sendReset(seq: number, ack: number, withAck: boolean): void {
    writeReset(
      this.#host,
      this.localIp,
      this.localPort,
      this.remoteIp,
      this.remotePort,
      seq,
      ack,
      withAck,
    );
  }

  // ------------------------------------------------------------------ timers

  /**
   * The retransmission timer, or first a tail loss probe (RFC 8985 §7): after 2·SRTT (at least
   * 10 ms) without an ACK, one segment goes out to draw SACKs that reveal a lost tail, which
   * recovery then repairs without waiting for the RTO (200 ms at least).
   */
  #armRetransmit(): void {
    const now = this.#host.clock[0], rto = this.#rto.rtoUs * 1000;
    const st = this.#state;
    if (this.#probeAllowed()) {
      // One segment out: its ACK may be delayed (up to 200 ms, Linux's TCP_DELACK_MAX), so
      // the probe waits for that too (RFC 8985 §7.2), and usually the RTO comes first.
      let pto = Math.max(2000 * this.#rto.srttUs, MIN_PROBE_NS);
      if (this.#flight() <= this.#mss) pto += MAX_DELAYED_ACK_NS;
      if (pto < rto) {
        this.#rtxKind = RTX_PROBE;
        this.#t[T_RTX] = now + pto;
        this.#updateNext();
        return;
      }
    }
    this.#rtxKind = RTX_RETRANSMIT;
    // Never past the connect or user timeout: it is checked when the timer fires.
    const limit = st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED
      ? this.#t[T_OPENED] + this.#connectTimeoutNs
      : this.#t[T_STALL] + this.#userTimeoutNs;
    this.#t[T_RTX] = limit > now && limit < now + rto ? limit : now + rto;
    this.#updateNext();
  }

  /** Whether a tail loss probe may be armed: RTT known, no backoff, no recovery, open. */
  #probeAllowed(): boolean {
    const st = this.#state;
    return !this.#probeSent && this.#rto.srttUs > 0 && this.#rto.backoffs === 0 &&
      !this.#cc.inRecovery && (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT);
  }

  /** The probe: new data if the windows allow, else the last segment sent again. */
  #probeExpired(): void {
    const s = this.#s;
    this.#probeSent = true;
    this.#rtxKind = RTX_NONE;
    if (!seqGt(s[SND_MAX], s[SND_UNA])) return;
    this.counters.lossProbes++;
    const pending = seqDiff(s[SND_NXT], s[SND_END]);
    const room = this.#sndWnd - seqDiff(s[SND_UNA], s[SND_NXT]);
    if (pending > 0 && room > 0) {
      this.#sendData(SND_NXT, Math.min(pending, room, this.#mss), false);
    } else if (this.#sackCount > 0) {
      this.#retransmitHead(); // the tail was SACKed: the hole before it is what is missing
    } else {
      // The last segment sent, again (RFC 8985 §7.3): never bytes not yet sent.
      const finSent = this.#finSent();
      const dataEnd = finSent ? s[SND_END] : s[SND_MAX];
      const sent = seqDiff(s[SND_UNA], dataEnd) - (s[SND_UNA] === s[ISS] ? 1 : 0);
      if (sent > 0) {
        const n = Math.min(sent, this.#mss);
        s[OUT_SEQ] = seqAdd(dataEnd, -n);
        this.#sendData(OUT_SEQ, n, true, finSent);
      } else this.#retransmitHead(); // only the FIN is outstanding
    }
    this.#rtxKind = RTX_RETRANSMIT;
    this.#t[T_RTX] = this.#host.clock[0] + this.#rto.rtoUs * 1000;
  }

  #armPersistIfNeeded(): void {
    const s = this.#s;
    if (this.#rtxKind === RTX_PERSIST) return;
    if (this.#sndWnd > 0 || seqDiff(s[SND_NXT], s[SND_END]) <= 0) return;
    if (seqGt(s[SND_MAX], s[SND_UNA])) return; // the retransmission timer runs
    this.#rtxKind = RTX_PERSIST;
    this.#t[T_RTX] = this.#host.clock[0] + this.#rto.rtoUs * 1000;
    if (this.#t[T_STALL] === Infinity) this.#t[T_STALL] = this.#host.clock[0];
    this.#updateNext();
  }

  #armKeepAlive(): void {
    if (this.#keepAliveNs <= 0) return;
    this.#t[T_KEEP] = this.#host.clock[0] + this.#keepAliveNs;
    this.#updateNext();
  }

  #updateNext(): void {
    const t = this.#t;
    let next = t[T_RTX];
    if (t[T_DELACK] < next) next = t[T_DELACK];
    if (t[T_KEEP] < next) next = t[T_KEEP];
    if (t[T_WAIT] < next) next = t[T_WAIT];
    t[T_NEXT] = next;
  }

  /** Runs the timers that are due (internal, from the stack). */
  timers(): void {
    const t = this.#t, now = this.#host.clock[0];
    if (t[T_NEXT] > now) return;
    if (t[T_WAIT] <= now) {
      t[T_WAIT] = Infinity;
      if (this.#state === TcpState.TIME_WAIT || this.#state === TcpState.FIN_WAIT_2) {
        this.#terminate("closed", "");
        return;
      }
    }
    if (t[T_DELACK] <= now) {
      t[T_DELACK] = Infinity;
      this.#ackNow = true;
      this.#schedule();
    }
    if (t[T_RTX] <= now) {
      t[T_RTX] = Infinity;
      if (this.#rtxKind === RTX_PERSIST) this.#persistExpired();
      else if (this.#rtxKind === RTX_PROBE) this.#probeExpired();
      else if (this.#rtxKind === RTX_RETRANSMIT) this.#retransmitExpired();
      if (this.#state === TcpState.CLOSED) return;
    }
    if (t[T_KEEP] <= now) {
      t[T_KEEP] = Infinity;
      this.#keepAliveExpired();
      if (this.#state === TcpState.CLOSED) return;
    }
    this.#updateNext();
  }

  #retransmitExpired(): void {
    const s = this.#s, c = this.counters, host = this.#host, now = host.clock[0];
    const st = this.#state;
    this.#rtxKind = RTX_NONE;
    if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
      if (now - this.#t[T_OPENED] >= this.#connectTimeoutNs) {
        host.tcpCounters.attemptFails++;
        host.tcpCounters.abortOnTimeout++;
        this.#terminate(
          "timeout",
          `no answer to the SYN within ${this.#connectTimeoutNs / 1e6} ms`,
        );
        return;
      }
      c.timeouts++;
      host.tcpCounters.timeouts++;
      c.retransSegs++;
      host.tcpCounters.retransSegs++;
      this.#rto.backoff();
      this.#rttTiming = false; // Karn: no sample from a retransmitted SYN
      this.#retransmitting = true;
      this.#sendSyn(st === TcpState.SYN_RECEIVED);
      this.#retransmitting = false;
      this.#armRetransmit();
      return;
    }
    if (!seqGt(s[SND_MAX], s[SND_UNA])) return; // nothing outstanding any more
    if (now - this.#t[T_STALL] >= this.#userTimeoutNs) {
      host.tcpCounters.abortOnTimeout++;
      this.#sendReset(s[SND_NXT], 0, false);
      this.#terminate("timeout", `data unacknowledged for ${this.#userTimeoutNs / 1e6} ms`);
      return;
    }
    c.timeouts++;
    host.tcpCounters.timeouts++;
    this.#cc.timeout(this.#ccSeq(), this.#flight());
    this.#rto.backoff();
    this.#rttTiming = false;
    // Go back to SND.UNA, skipping what the peer SACKed (as Linux). A SACK block at SND.UNA
    // itself means the peer dropped what it had SACKed (reneging, RFC 2018 §8): forget them all.
    if (this.#sackCount > 0 && this.#sackLeft[0] === s[SND_UNA]) this.#sackCount = 0;
    s[SND_NXT] = s[SND_UNA];
    s[HIGH_RXT] = s[SND_UNA];
    this.#retransmitHead();
    this.#armRetransmit();
  }

  /** The persist timer: a 1-byte probe beyond the zero window (RFC 9293 §3.8.6.1). */
  #persistExpired(): void {
    const s = this.#s, host = this.#host;
    this.#rtxKind = RTX_NONE;
    if (this.#sndWnd > 0 || seqDiff(s[SND_NXT], s[SND_END]) <= 0) return;
    // The window may stay closed for ever while the peer answers (RFC 9293 MUST-?): probes go
    // on, backed off. The probe is the first byte the window refused.
    this.counters.zeroWindowProbes++;
    this.#sendData(SND_UNA, 1, seqLt(s[SND_UNA], s[SND_MAX]));
    this.#rto.backoff();
    this.#rtxKind = RTX_PERSIST;
    this.#t[T_RTX] = host.clock[0] + this.#rto.rtoUs * 1000;
  }

  #keepAliveExpired(): void {
    const st = this.#state;
    if (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT) return;
    if (this.#keepAliveSent >= this.#keepAliveMax) {
      this.#host.tcpCounters.abortOnTimeout++;
      this.#sendReset(this.#s[SND_NXT], 0, false);
      this.#terminate("timeout", `${this.#keepAliveMax} keep-alive probes unanswered`);
      return;
    }
    this.#keepAliveSent++;
    this.counters.keepAliveProbes++;
    // SEG.SEQ = SND.NXT - 1, no data: the peer answers with an ACK (RFC 1122 §4.2.3.6).
    this.#s[OUT_SEQ] = seqAdd(this.#s[SND_NXT], -1);
    this.#emit(ACK, OUT_SEQ, 0, -1, -1, false, false);
    this.#t[T_KEEP] = this.#host.clock[0] + this.#keepAliveIntervalNs;
  }

  /**
   * An ICMP error about a segment we sent (internal, from the stack): "fragmentation needed"
   * lowers the MSS; unreachable in SYN-SENT ends the open (hard error, as Linux).
   */
  icmpError(type: number, code: number, mtu: number): void {
    this.#host.tcpCounters.icmpErrors++;
    if (type === 3 && code === 4) {
      if (mtu >= 68 + 20) {
        const mss = Math.max(mtu - 40 - (this.#tsOk ? 12 : 0), 48);
        if (mss < this.#mss) {
          this.#mss = mss;
          // Resend what was lost to the big packets at once (RFC 1191 §6.5).
          this.#s[SND_NXT] = this.#s[SND_UNA];
          this.#schedule();
        }
      }
      return;
    }
    if (type === 3 && this.#state === TcpState.SYN_SENT) {
      this.#host.tcpCounters.attemptFails++;
      this.#terminate("unreachable", `ICMP destination unreachable (code ${code})`);
    }
  }

  /** The next hop never answered ARP (internal, from the stack). */
  unreachable(detail: string): void {
    if (this.#state === TcpState.SYN_SENT || this.#state === TcpState.SYN_RECEIVED) {
      this.#host.tcpCounters.attemptFails++;
      this.#terminate("unreachable", detail);
    }
  }

  /** Ends the connection: frees its table entry and tells the application once. */
  #terminate(reason: TcpCloseReason, detail: string): void {
    const st = this.#state;
    if (st === TcpState.CLOSED) return;
    if (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT) {
      this.#host.tcpCounters.currEstab--;
    }
    if (st === TcpState.SYN_RECEIVED && this.listener !== null) this.listener.failed();
    this.#state = TcpState.CLOSED;
    this.closeReason = reason;
    this.closeDetail = detail;
    this.#t.fill(Infinity);
    this.#t[T_NEXT] = Infinity;
    this.#reassembly = null;
    this.#host.tcpRelease(this);
    this.onClose?.(reason);
  }
}

/** Copies `n` bytes of `src` into `ring`: small writes byte by byte, no view object made. */
function copyIn(ring: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  if (n <= 256) { for (let i = 0; i < n; i++) ring[at + i] = src[from + i]; }
  else if (from === 0 && n === src.length) ring.set(src, at);
  else ring.set(src.subarray(from, from + n), at);
}

/** Sends an RST that belongs to no connection (internal). */
export function writeReset(
  host: TcpHost,
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
  seq: number,
  ack: number,
  withAck: boolean,
): void {
  const at = host.startSegment(localIp, remoteIp, 20);
  if (at < 0) return;
  const tv = host.segmentView;
  tv.setUint16(at, localPort);
  tv.setUint16(at + 2, remotePort);
  tv.setUint32(at + 4, seq);
  tv.setUint32(at + 8, withAck ? ack : 0);
  tv.setUint16(at + 12, 5 << 12 | RST | (withAck ? ACK : 0));
  tv.setUint32(at + 14, 0);
  tv.setUint16(at + 18, 0);
  host.endSegment(at, 20, localIp, remoteIp, 20, 0);
  host.tcpCounters.outRsts++;
  host.tcpCounters.outSegs++;
}

/**
 * A listening port: SYNs to it open connections (up to `backlog` not yet accepted), which
 * reach {@linkcode TcpListener.onConnection} when established, or wait for
 * {@linkcode TcpListener.accept}.
 *
 * @example
 * ```ts ignore
 * const listener = stack.listen(7);
 * listener.onConnection = (conn) => {
 *   conn.onData = (data, offset, length) => conn.write(data, offset, length); // echo
 *   conn.onEnd = () => conn.close();
 * };
 * ```
 */
export class TcpListener {
  /** The port. */
  readonly port: number;
  /** Connections established or opening and not yet accepted, at most. */
  readonly backlog: number;
  /** Options of the connections it makes. */
  readonly options: TcpConnectionOptions;
  /** Called with each new established connection; when null they queue for `accept()`. */
  onConnection: ((connection: TcpConnection) => void) | null = null;
  readonly #queue: TcpConnection[] = [];
  /** Connections opening (SYN-RECEIVED) now. */
  pending = 0;
  /** SYNs dropped because the backlog was full. */
  overflows = 0;
  /** Connections accepted so far. */
  accepted = 0;
  #closed = false;
  readonly #unbind: (port: number) => void;

  /** Made by `Stack.listen` (internal). */
  constructor(
    port: number,
    backlog: number,
    options: TcpConnectionOptions,
    unbind: (port: number) => void,
  ) {
    this.port = port;
    this.backlog = backlog;
    this.options = options;
    this.#unbind = unbind;
  }

  /** Whether another SYN may open a connection (internal). */
  get hasRoom(): boolean {
    return !this.#closed && this.pending + this.#queue.length < this.backlog;
  }

  /** Connections established and waiting for `accept()`. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** A connection became established (internal). */
  established(connection: TcpConnection): void {
    this.pending--;
    this.accepted++;
    if (this.onConnection !== null) {
      this.onConnection(connection);
      connection.notifyOpen();
    } else {
      this.#queue.push(connection);
    }
  }

  /** A connection that was opening ended before it was established (internal). */
  failed(): void {
    this.pending--;
  }

  /** The oldest established connection not yet taken, or null. */
  accept(): TcpConnection | null {
    const c = this.#queue.shift() ?? null;
    c?.notifyOpen();
    return c;
  }

  /** Stops listening: new SYNs are refused (RST); connections already made go on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#queue.splice(0)) c.abort();
    this.#unbind(this.port);
  }

  /** Whether {@linkcode TcpListener.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }
}
