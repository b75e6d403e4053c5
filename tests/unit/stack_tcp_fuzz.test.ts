/**
 * Bad input into TCP (network stack issue, "TCP fuzzing"): 10^6 fuzzed TCP segments, injected in
 * bursts through the in-memory device pair into two stacks, A (10.0.0.1) and B (10.0.0.2), that
 * carry real traffic at the same time on virtual time:
 *
 * - (a) a checked transfer A → B on port 80 (B sends data back to A all along): generation after
 *   generation, each connection must deliver its bytes in order and byte-exact, unless a fuzzed
 *   segment legitimately ended it (an RST the stack had to believe, or a FIN it had to believe:
 *   counted, and a new connection opens);
 * - (b) a listener (B:81, backlog 16) under a SYN flood from 16 fake hosts with odd options,
 *   handshakes completed by fuzzed ACKs now and then, an application accepting slowly;
 * - (c) connections in the other states: A ↔ B side connections on port 82 walked through
 *   every close (FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT), active opens to fake
 *   hosts that never answer (SYN-SENT), the flood's SYN-RECEIVED, plus segments to closed ports.
 *
 * Segments: all flag combinations (and the reserved bits), an option soup (random kinds and
 * lengths, truncated lists, MSS/WS/SACK-permitted/timestamps with odd values, SACK blocks
 * pointing anywhere), bad data offsets, bad checksums, payloads of odd sizes, and sequence and
 * acknowledgment numbers biased to the edges of the target's state as seen on the wire (RCV.NXT
 * ± 1, the window's edges, SND.UNA - 1, SND.NXT + 1, 2^31 away, wrap-around, 0, 2^32 - 1).
 *
 * What a blind attacker could legitimately do to the checked transfer and that no TCP can defend
 * against is kept out of the segments aimed at its two ends, so that its completion means
 * something: payload bytes agree with the stream at their sequence number and stop at what the
 * real sender has sent (forged data that differs would be delivered by any TCP; data ahead of
 * the sender makes the receiver ACK what the sender never sent, which RFC 9293 answers with an
 * ACK on both sides: an ACK war), neither end sees an ACK above what the other end has
 * ACKed (RFC 5961 §5 accepts one; the data it "acknowledges" is then never sent again) and the
 * data sender no window below the receiver's, timestamps
 * are never newer than the real peer's (a newer TSval would PAWS-drop the real peer, RFC 7323
 * §5.8), an exact-RCV.NXT RST or an acceptable FIN gets through only now and then (each ends the
 * connection, as it must), and the opening client gets no forged SYN.
 *
 * After every burst: no exception escaped `poll`; every live connection is in a valid state,
 * its `unacknowledged` and `writable` are within the send buffer, its `receiveWindow` within
 * 0 .. receive buffer + scale rounding, `closeReason` is null while it lives and set once it is
 * CLOSED; every counter is a non-negative integer; the StackCounters JSDoc identities hold;
 * `tcpCounters.currEstab` is the number of ESTABLISHED + CLOSE-WAIT connections and `inSegs` is
 * `counters.tcpIn`; a listener's `pending` is its SYN-RECEIVED connections and with `waiting`
 * stays within the backlog. Every frame a stack sends is checked as it leaves: IPv4 header and
 * TCP checksum, data offset, flags (no SYN+FIN, SYN+RST, RST+FIN; ACK on every other segment),
 * options (MSS, WS, SACK-permitted only in SYNs), sequence numbers plausible (SYN at the ISS,
 * nothing beyond the highest sent or past what the application wrote, a FIN right after the
 * last byte written, RCV.NXT as ACKed never going back), and never an RST in answer to an RST.
 * At the end (no more fuzzing) the transfer under way completes and a fresh connection opens,
 * transfers and closes cleanly.
 *
 * Reproduce a failure with `TCP_FUZZ_SEED=<seed>` (everything random in the stacks is seeded
 * too: ISNs, timestamp offsets, table secrets); `TCP_FUZZ_BURST=1` makes each burst one segment,
 * so that the burst a failure names is the segment that caused it; `TCP_FUZZ_SEGMENTS` sets the
 * total (default 10^6).
 */
import assert from "node:assert/strict";
import { foldSum, sum16 } from "../../net/checksum.ts";
import type { Device, FrameReceiver } from "../../stack/device.ts";
import { Stack } from "../../stack/interface.ts";
import { type MemoryDevice, MemoryPair } from "../../stack/memory.ts";
import type { TcpConnection, TcpListener } from "../../stack/tcp.ts";
import { MAC_A, MAC_B } from "./_tcp_harness.ts";
import { brokenIdentity } from "./_counter_identities.ts";

const SEED = Number(Deno.env.get("TCP_FUZZ_SEED") ?? 0x7c9f5);
const SEGMENTS = Number(Deno.env.get("TCP_FUZZ_SEGMENTS") ?? 1_000_000);
const MAX_BURST = Number(Deno.env.get("TCP_FUZZ_BURST") ?? 32);
/** `TCP_FUZZ_TRACE=<port>`: print every segment to or from that port (sent or injected). */
const TRACE = Number(Deno.env.get("TCP_FUZZ_TRACE") ?? -1);

/** One line about the TCP segment in `frame` (Ethernet + IPv4), for traces. */
function describe(frame: Uint8Array): string {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 54 || v.getUint16(12) !== 0x0800 || frame[23] !== 6) return "not TCP";
  const l4 = 14 + (frame[14] & 15) * 4, doff = (frame[l4 + 12] >> 4) * 4;
  const flags = v.getUint16(l4 + 12) & 0x1ff;
  const names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"]
    .filter((_, i) => flags & (1 << i)).join("|");
  return `.${frame[29]}:${v.getUint16(l4)} > .${frame[33]}:${v.getUint16(l4 + 2)} ${names} ` +
    `seq ${v.getUint32(l4 + 4)} ack ${v.getUint32(l4 + 8)} win ${v.getUint16(l4 + 14)} ` +
    `doff ${doff} len ${v.getUint16(16) - (frame[14] & 15) * 4 - doff}`;
}

const MS = 1e6, S = 1e9;
const IP_A = 0x0a000001, IP_B = 0x0a000002;
const IPS = [IP_A, IP_B];
const MACS = [MAC_A, MAC_B];
/** Fake hosts: SYN floods come from .3-.18; A's and B's never-answered opens go to .20/.21. */
const FAKE_FIRST = 3, FAKE_LAST = 18, FAKE_A = 20, FAKE_B = 21;
/** A host nobody answers ARP for: its segments make the stack resolve and give up. */
const UNRESOLVED = 77;
const PORT_GEN = 80, PORT_FLOOD = 81, PORT_SIDE = 82;
const FLOOD_BACKLOG = 16, GEN_BACKLOG = 8;
const RB_A = 1 << 20, RB_GEN = 200_000, RB_FLOOD = 4096, RB_SIDE = 30_000;
const FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16, URG = 32;
const TWO31 = 2 ** 31;
/** How an injected RST may end a connection: reset, refused, or closed (in TIME-WAIT, CLOSING, LAST-ACK). */
const LEGIT = new Set(["reset", "refused", "closed"]);
const STATE_NAMES = new Set([
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
]);

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const ipText = (n: number) => `${n >>> 24}.${n >>> 16 & 255}.${n >>> 8 & 255}.${n & 255}`;
const u32 = (n: number) => n >>> 0;
/** b - a in sequence space, in -2^31 .. 2^31 - 1. */
const sdiff = (a: number, b: number) => ((b - a) | 0);
const seqLt = (a: number, b: number) => sdiff(a, b) > 0;
const seqLe = (a: number, b: number) => sdiff(a, b) >= 0;
const seqGt = (a: number, b: number) => sdiff(a, b) < 0;

/** The bytes of every stream: byte k of a connection's data is TABLE[k & 0xffff]. */
const TABLE = new Uint8Array(2 * 65536);
{
  let x = 0x2545f491;
  for (let i = 0; i < 65536; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    TABLE[i] = TABLE[i + 65536] = x & 0xff;
  }
}

/** A seeded PRNG (mulberry32), as stack_fuzz.test.ts uses. */
class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
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
  chance(p: number): boolean {
    return this.rand() < p;
  }
}

// ---------------------------------------------------------------------- what the wire shows

/** A connection as its own segments show it (one per stack and 4-tuple), plus what the test wrote. */
class Track {
  iss = 0;
  hasIss = false;
  /** Highest sequence number sent + 1 (SND.MAX). */
  sndMax = 0;
  /** The latest ACK sent (RCV.NXT). */
  rcvNxt = 0;
  hasAck = false;
  /** The latest window field sent (unscaled). */
  win = 0;
  tsVal = 0;
  hasTs = false;
  /** Bytes the test wrote into the connection. */
  written = 0;
  /** When the test first saw it (cycle). */
  born = 0;
}

/** Key of a connection of stack `idx` with a peer on 10.0.0.`remote`. */
function tupleKey(idx: number, remote: number, localPort: number, remotePort: number): number {
  return ((idx * 256 + (remote & 255)) * 65536 + localPort) * 65536 + remotePort;
}
function connKey(idx: number, c: TcpConnection): number {
  return tupleKey(idx, c.remoteIp, c.localPort, c.remotePort);
}

/** A device between a stack and its side of the pair: every frame it sends is handed to `check`. */
class Wire implements Device {
  readonly inner: MemoryDevice;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly burst: number;
  readonly txData: Uint8Array;
  readonly txView: DataView;
  readonly #at = new Int32Array(1024);
  readonly #len = new Int32Array(1024);
  #n = 0;
  readonly #check: (at: number, len: number) => void;
  constructor(inner: MemoryDevice, check: (at: number, len: number) => void) {
    this.inner = inner;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.burst = inner.burst;
    this.txData = inner.txData;
    this.txView = inner.txView;
    this.#check = check;
  }
  /** The frame being received (for failure reports): its memory, offset and length. */
  rxData: Uint8Array | null = null;
  rxAt = 0;
  rxLen = 0;
  #receiver: FrameReceiver | null = null;
  readonly #spy: FrameReceiver = {
    frame: (data, view, offset, length) => {
      this.rxData = data;
      this.rxAt = offset;
      this.rxLen = length;
      this.#receiver!.frame(data, view, offset, length);
      this.rxData = null;
    },
  };
  receive(receiver: FrameReceiver, clock: Float64Array): number {
    this.#receiver = receiver;
    return this.inner.receive(this.#spy, clock);
  }
  reserve(length: number): number {
    const at = this.inner.reserve(length);
    if (at >= 0) {
      this.#at[this.#n] = at;
      this.#len[this.#n++] = length;
    }
    return at;
  }
  flush(clock: Float64Array): number {
    for (let i = 0; i < this.#n; i++) this.#check(this.#at[i], this.#len[i]);
    this.#n = 0;
    return this.inner.flush(clock);
  }
  nextDeadline(): number {
    return Infinity;
  }
}

class FuzzFailure extends Error {}

/** Runs `fn` with Math.random and crypto.getRandomValues drawn from `seed` (ISNs, TS offsets, ...). */
function seeded<T>(seed: number, fn: () => T): T {
  const rng = new Rng(seed ^ 0x5eed);
  const random = Math.random, getRandomValues = crypto.getRandomValues;
  Math.random = () => rng.rand();
  // deno-lint-ignore no-explicit-any
  (crypto as any).getRandomValues = <A extends ArrayBufferView | null>(array: A): A => {
    if (array !== null) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
    }
    return array;
  };
  try {
    return fn();
  } finally {
    Math.random = random;
    // deno-lint-ignore no-explicit-any
    (crypto as any).getRandomValues = getRandomValues;
  }
}

// ------------------------------------------------------------------------------ the run

interface Gen {
  id: number;
  client: TcpConnection;
  server: TcpConnection | null;
  total: number;
  /** Bytes A wrote, B received, B wrote, A received. */
  aSent: number;
  bGot: number;
  bSent: number;
  aGot: number;
  /** A segment with RST / with FIN was injected into an end (into B for the FIN). */
  rst: boolean;
  fin: boolean;
  closing: boolean;
  done: boolean;
}

interface Side {
  a: TcpConnection;
  b: TcpConnection | null;
  scenario: number;
  t1: number;
  t2: number;
  born: number;
}

interface Stats {
  segments: number;
  cycles: number;
  genCompleted: number;
  genReset: number;
  genFin: number;
  bytesAB: number;
  bytesBA: number;
  badChecksum: number;
  badOffset: number;
  kinds: Record<string, number>;
  statesHit: Record<string, number>;
  sent: number;
  rstSent: number;
  virtualS: number;
}

const KINDS = ["gen", "conn", "flood", "listener", "closed port", "near miss"] as const;
const KIND_WEIGHTS = [34, 26, 16, 6, 10, 8];

function run(seed: number, segments: number, maxBurst: number): Stats {
  const rng = new Rng(seed);
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B, burst: 64, slots: 4096 });
  const sides = [pair.a, pair.b];
  const tracks = new Map<number, Track>();
  // Inputs of each stack since its receive ring was last empty: keys that got a segment with
  // RST and keys that got one without. A stack's RST on a key that got only RSTs is an answer
  // to an RST (unless a timer or the application aborted that connection).
  const rstIn = [new Set<number>(), new Set<number>()];
  const otherIn = [new Set<number>(), new Set<number>()];
  const exempt = [new Set<number>(), new Set<number>()];
  const rstCandidates: number[][] = [[], []];
  let cycle = 0, now = 0, injected = 0, failing = false;
  const stats: Stats = {
    segments: 0,
    cycles: 0,
    genCompleted: 0,
    genReset: 0,
    genFin: 0,
    bytesAB: 0,
    bytesBA: 0,
    badChecksum: 0,
    badOffset: 0,
    kinds: {},
    statesHit: {},
    sent: 0,
    rstSent: 0,
    virtualS: 0,
  };
  for (const k of KINDS) stats.kinds[k] = 0;
  // The burst being injected, kept for the failure report.
  const burstBuf: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) burstBuf.push(new Uint8Array(1514));
  const burstLen = new Int32Array(64), burstTo = new Int32Array(64);
  const burstKind: string[] = new Array(64).fill("");
  let burstCount = 0;
  let stacks: Stack[] = [];
  let wires: Wire[] = [];

  const fail = (what: string): never => {
    if (failing) throw new FuzzFailure(what);
    failing = true;
    const lines = [
      what,
      `seed ${seed} (TCP_FUZZ_SEED=${seed} TCP_FUZZ_BURST=${maxBurst}), cycle ${cycle}, ` +
      `segments injected ${injected}, virtual time ${(now / S).toFixed(6)} s`,
    ];
    for (let i = 0; i < burstCount; i++) {
      lines.push(
        `segment ${injected - burstCount + i} to ${burstTo[i] ? "B" : "A"} (${burstKind[i]}): ` +
          hex(burstBuf[i].subarray(0, burstLen[i])),
      );
    }
    for (const [i, w] of wires.entries()) {
      if (w.rxData !== null) {
        lines.push(`${"AB"[i]} was handling: ${hex(w.rxData.subarray(w.rxAt, w.rxAt + w.rxLen))}`);
      }
    }
    for (const [i, s] of stacks.entries()) {
      lines.push(`${"AB"[i]} tcpCounters: ${JSON.stringify(s.tcpCounters)}`);
      for (const c of s.tcpConnections) lines.push(`  ${"AB"[i]} ${c}`);
    }
    throw new FuzzFailure(lines.join("\n"));
  };

  const track = (key: number): Track => {
    let t = tracks.get(key);
    if (t === undefined) {
      t = new Track();
      t.born = cycle;
      tracks.set(key, t);
    }
    return t;
  };

  // ------------------------------------------------------- checking what the stacks send
  const check = (idx: number, at: number, len: number) => {
    stats.sent++;
    const d = sides[idx].txData, v = sides[idx].txView;
    const bad = (why: string) =>
      fail(`${"AB"[idx]} sent a bad frame: ${why}: ${hex(d.subarray(at, at + len))}`);
    if (len < 14) bad("shorter than Ethernet");
    for (let i = 0; i < 6; i++) if (d[at + 6 + i] !== MACS[idx][i]) bad("not our source MAC");
    const type = v.getUint16(at + 12);
    if (type === 0x0806) return;
    if (type !== 0x0800) bad(`EtherType ${type.toString(16)}`);
    const ip = at + 14;
    if (d[ip] !== 0x45) bad("IP version/IHL");
    const total = v.getUint16(ip + 2);
    if (total < 40 || total + 14 > len || (len > 60 && total + 14 !== len)) {
      bad(`IP total length ${total} in a ${len}-byte frame`);
    }
    if (foldSum(sum16(v, ip, 20)) !== 0xffff) bad("IP header checksum");
    if ((v.getUint16(ip + 6) & 0x3fff) !== 0) bad("a fragment");
    const src = v.getUint32(ip + 12), dst = v.getUint32(ip + 16);
    if (src !== IPS[idx]) bad("not our source address");
    if (d[ip + 9] !== 6) return; // ICMP (none expected, but not TCP's business)
    if ((dst & 0xffffff00) !== 0x0a000000 || (dst & 255) === 0 || (dst & 255) === 255) {
      bad(`TCP to ${ipText(dst)}`);
    }
    const l4 = ip + 20, tl = total - 20;
    const doff = (d[l4 + 12] >> 4) * 4;
    if (doff < 20 || doff > tl) bad(`data offset ${doff} of ${tl}`);
    if ((d[l4 + 12] & 0x0f) !== 0) bad("reserved bits set");
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tl;
    if (foldSum(sum16(v, l4, tl, pseudo)) !== 0xffff) bad("TCP checksum");
    const flags = d[l4 + 13];
    if (flags & 0xe0) bad("URG/ECE/CWR set");
    if ((flags & (SYN | FIN)) === (SYN | FIN)) bad("SYN+FIN");
    if ((flags & (SYN | RST)) === (SYN | RST)) bad("SYN+RST");
    if ((flags & (RST | FIN)) === (RST | FIN)) bad("RST+FIN");
    if (!(flags & (ACK | SYN | RST))) bad("no ACK on a segment that is not SYN or RST");
    const payload = tl - doff;
    if (payload > 0 && flags & (SYN | RST)) bad("payload on SYN or RST");
    // Options: well formed; MSS, WS, SACK-permitted in SYNs only.
    let ts = -1;
    for (let p = l4 + 20; p < l4 + doff;) {
      const kind = d[p];
      if (kind === 0) break;
      if (kind === 1) {
        p++;
        continue;
      }
      const size = d[p + 1];
      if (p + 2 > l4 + doff || size < 2 || p + size > l4 + doff) bad("option list malformed");
      const want = kind === 2 ? 4 : kind === 3 ? 3 : kind === 4 ? 2 : kind === 8 ? 10 : -1;
      if (kind === 5) {
        if ((size - 2) % 8 !== 0 || size < 10 || flags & SYN) bad("SACK option");
      } else if (want < 0 || size !== want) bad(`option kind ${kind} length ${size}`);
      if ((kind === 2 || kind === 3 || kind === 4) && !(flags & SYN)) bad("SYN option in non-SYN");
      if (kind === 8) ts = v.getUint32(p + 2);
      p += size;
    }
    const sport = v.getUint16(l4), dport = v.getUint16(l4 + 2);
    const seq = v.getUint32(l4 + 4), ack = v.getUint32(l4 + 8);
    if (sport === TRACE || dport === TRACE) {
      console.log(`${cycle} ${"AB"[idx]} sent  ${describe(d.subarray(at, at + len))}`);
    }
    const key = tupleKey(idx, dst, sport, dport);
    const other = 1 - idx;
    if (dst === IPS[other]) {
      const theirs = tupleKey(other, src, dport, sport);
      (flags & RST ? rstIn : otherIn)[other].add(theirs);
    }
    if (flags & RST) {
      stats.rstSent++;
      if (rstIn[idx].has(key) && !otherIn[idx].has(key) && !exempt[idx].has(key)) {
        rstCandidates[idx].push(key);
      }
      return;
    }
    const t = track(key);
    const end = u32(seq + payload + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0));
    if (flags & SYN) {
      if (!t.hasIss || t.iss !== seq) { // a new connection on this 4-tuple
        t.iss = seq;
        t.hasIss = true;
        t.sndMax = end;
        t.hasAck = false;
        t.hasTs = false;
        t.written = 0;
        t.born = cycle;
      }
      // A SYN-ACK acknowledges the peer's SYN: a new connection on the tuple within the same
      // ISN tick has the same ISS but another IRS, so RCV.NXT is checked from here on.
      t.hasAck = false;
    } else {
      if (!t.hasIss) bad("a segment of a connection whose SYN was never sent");
      if (!seqLe(t.iss, seq)) bad(`SEQ ${seq} below the ISS ${t.iss}`);
      if (!seqLe(seq, t.sndMax)) bad(`SEQ ${seq} beyond SND.MAX ${t.sndMax}`);
      const limit = u32(t.iss + 2 + t.written);
      if (!seqLe(end, limit)) {
        bad(`data up to ${end} beyond what was written (ISS ${t.iss} + 1 + ${t.written} + FIN)`);
      }
      if (flags & FIN && u32(seq + payload + 1) !== limit) {
        bad(`FIN at ${u32(seq + payload)}, not after the ${t.written} bytes written`);
      }
    }
    if (flags & ACK) {
      if (t.hasAck && seqLt(ack, t.rcvNxt)) bad(`ACK ${ack} went back from ${t.rcvNxt}`);
      t.rcvNxt = ack;
      t.hasAck = true;
    }
    t.win = v.getUint16(l4 + 14);
    if (seqGt(end, t.sndMax)) t.sndMax = end;
    if (ts >= 0) {
      t.tsVal = ts;
      t.hasTs = true;
    }
  };

  wires = [
    new Wire(pair.a, (at, len) => check(0, at, len)),
    new Wire(pair.b, (at, len) => check(1, at, len)),
  ];
  const tcp = {
    timeWaitMs: 4000,
    finWait2Ms: 8000,
    connectTimeoutMs: 15_000,
    userTimeoutMs: 60_000,
    keepAliveMs: 3000,
    keepAliveIntervalMs: 1000,
    keepAliveProbes: 3,
  };
  const A = new Stack(wires[0], { address: "10.0.0.1/24", tcp: { ...tcp, receiveBuffer: RB_A } });
  const B = new Stack(wires[1], { address: "10.0.0.2/24", tcp: { ...tcp, receiveBuffer: RB_A } });
  stacks = [A, B];
  A.arp.setStatic(IP_B, 0x02000000000b);
  B.arp.setStatic(IP_A, 0x02000000000a);
  for (let h = FAKE_FIRST; h <= FAKE_B; h++) { // frames to fakes land on the other stack: ignored
    A.arp.setStatic(0x0a000000 + h, 0x02000000000b);
    B.arp.setStatic(0x0a000000 + h, 0x02000000000a);
  }
  const rbOf = (idx: number, c: TcpConnection) =>
    idx === 1 && c.localPort === PORT_GEN
      ? RB_GEN
      : idx === 1 && c.localPort === PORT_FLOOD
      ? RB_FLOOD
      : idx === 1 && c.localPort === PORT_SIDE
      ? RB_SIDE
      : RB_A;

  // ---------------------------------------------------------------- the applications
  const genListener = B.listen(PORT_GEN, { backlog: GEN_BACKLOG, receiveBuffer: RB_GEN });
  const flood = B.listen(PORT_FLOOD, { backlog: FLOOD_BACKLOG, receiveBuffer: RB_FLOOD });
  const sideListener = B.listen(PORT_SIDE, { receiveBuffer: RB_SIDE });
  const listeners: TcpListener[] = [genListener, flood, sideListener];
  let gen: Gen | null = null, genId = 0, fuzzing = true, completedAfter = 0;
  /** The generation under way (a call: TypeScript narrows `gen` as if callbacks never set it). */
  const current = (): Gen | null => gen;
  const sideList: Side[] = [];
  const accepted: TcpConnection[] = [];

  const write = (idx: number, c: TcpConnection, from: number, n: number): number => {
    const took = c.write(TABLE, from & 0xffff, n);
    track(connKey(idx, c)).written += took;
    return took;
  };
  const abort = (idx: number, c: TcpConnection) => {
    if (c.stateName === "CLOSED") return;
    exempt[idx].add(connKey(idx, c));
    c.abort();
  };
  const open = (idx: number) => idx === 0 ? A : B;
  const established = (c: TcpConnection) =>
    c.stateName === "ESTABLISHED" || c.stateName === "CLOSE-WAIT";

  const newGen = () => {
    const client = A.connect("10.0.0.2", PORT_GEN);
    const g: Gen = {
      id: ++genId,
      client,
      server: null,
      total: fuzzing ? 64 * 1024 + rng.int(448 * 1024) : 64 * 1024,
      aSent: 0,
      bGot: 0,
      bSent: 0,
      aGot: 0,
      rst: false,
      fin: false,
      closing: false,
      done: false,
    };
    gen = g;
    client.onData = (data, offset, length) => {
      // Once done the connection is fuzzed like any other: forged data may then be delivered.
      if (g.done) return;
      for (let i = 0; i < length; i++) {
        if (data[offset + i] !== TABLE[(g.aGot + i) & 0xffff]) {
          fail(`generation ${g.id}: B → A byte ${g.aGot + i} is wrong`);
        }
      }
      g.aGot += length;
      stats.bytesBA += length;
    };
    client.onClose = (reason) => {
      if (g.done || gen !== g) return;
      if (g.rst && LEGIT.has(reason)) return endGen(g, "reset");
      fail(
        `generation ${g.id}: A's end closed (${reason}: ${client.closeDetail}) with no RST injected`,
      );
    };
  };
  const endGen = (g: Gen, why: "reset" | "fin") => {
    g.done = true;
    if (why === "reset") stats.genReset++;
    else stats.genFin++;
    abort(0, g.client);
    if (g.server !== null) abort(1, g.server);
    gen = null;
  };
  genListener.onConnection = (c) => {
    const g = gen;
    if (
      g === null || g.server !== null || c.remoteIp !== IP_A || c.remotePort !== g.client.localPort
    ) {
      accepted.push(c); // a fuzzed handshake from elsewhere: reaped later
      return;
    }
    g.server = c;
    c.onData = (data, offset, length) => {
      if (g.done) return;
      for (let i = 0; i < length; i++) {
        if (data[offset + i] !== TABLE[(g.bGot + i) & 0xffff]) {
          fail(`generation ${g.id}: A → B byte ${g.bGot + i} of ${g.total} is wrong`);
        }
      }
      g.bGot += length;
      stats.bytesAB += length;
      if (g.bGot > g.aSent) fail(`generation ${g.id}: B got ${g.bGot} bytes, A wrote ${g.aSent}`);
    };
    c.onEnd = () => {
      if (g.done || gen !== g) return;
      if (g.bGot === g.total && g.closing) {
        g.done = true;
        stats.genCompleted++;
        if (!fuzzing) completedAfter++;
        c.close();
        gen = null;
        return;
      }
      if (g.fin) return endGen(g, "fin");
      fail(
        `generation ${g.id}: B's stream ended after ${g.bGot} of ${g.total} bytes, no FIN injected`,
      );
    };
    c.onClose = (reason) => {
      if (g.done || gen !== g) return;
      if (g.rst && LEGIT.has(reason)) return endGen(g, "reset");
      fail(`generation ${g.id}: B's end closed (${reason}: ${c.closeDetail}) with no RST injected`);
    };
  };
  sideListener.onConnection = (c) => {
    const s = sideList.find((x) => x.b === null && x.a.localPort === c.remotePort);
    if (s === undefined || c.remoteIp !== IP_A) accepted.push(c);
    else s.b = c;
  };

  const appStep = () => {
    // The checked transfer.
    if (gen === null) newGen();
    const g = gen!;
    if (established(g.client) && g.aSent < g.total && !g.closing) {
      g.aSent += write(0, g.client, g.aSent, Math.min(g.total - g.aSent, rng.int(3000)));
    }
    if (g.aSent === g.total && !g.closing && established(g.client)) {
      g.closing = true;
      g.client.close();
    }
    if (g.server !== null && g.server.writableState && established(g.server) && rng.chance(0.5)) {
      g.bSent += write(1, g.server, g.bSent, rng.int(1500));
    }
    // Side connections for the other states.
    if (cycle % 97 === 0 && sideList.length < 6) {
      sideList.push({
        a: A.connect("10.0.0.2", PORT_SIDE),
        b: null,
        scenario: rng.int(4),
        t1: cycle + 20 + rng.int(400),
        t2: 0,
        born: cycle,
      });
      const s = sideList[sideList.length - 1];
      s.t2 = s.scenario === 2 ? s.t1 : s.t1 + rng.int(800);
    }
    for (let i = sideList.length - 1; i >= 0; i--) {
      const s = sideList[i];
      const first = s.scenario === 1 ? s.a : s.b, second = s.scenario === 1 ? s.b : s.a;
      if (s.b !== null && rng.chance(0.05)) {
        for (const [idx, c] of [[0, s.a], [1, s.b]] as const) {
          if (c.writableState && established(c)) {
            write(idx, c, track(connKey(idx, c)).written, 1 + rng.int(700));
          }
        }
      }
      if (cycle === s.t1) {
        if (s.scenario === 3) {
          if (s.b !== null) abort(1, s.b);
          else abort(0, s.a);
        } else first?.close();
      }
      if (cycle === s.t2 && s.scenario !== 3) second?.close();
      const gone = s.a.stateName === "CLOSED" && (s.b === null || s.b.stateName === "CLOSED");
      if (gone || cycle - s.born > 20_000) {
        abort(0, s.a);
        if (s.b !== null) abort(1, s.b);
        sideList.splice(i, 1);
      }
    }
    // Never-answered opens (SYN-SENT), one from each stack.
    if (cycle % 50 === 0) {
      for (const [idx, fake] of [[0, FAKE_A], [1, FAKE_B]] as const) {
        const mine = open(idx).tcpConnections.filter((c) => (c.remoteIp & 255) === fake);
        if (mine.length < 2) open(idx).connect(`10.0.0.${fake}`, 1000 + rng.int(60000));
      }
    }
    // The flood's application accepts slowly.
    if (cycle % 40 === 0) {
      const c = flood.accept();
      if (c !== null) {
        const r = rng.int(3);
        if (r === 0) c.close();
        else if (r === 1) abort(1, c);
        else accepted.push(c);
      }
    }
    // The reaper: connections of fake peers and strays do not live for ever.
    if (cycle % 500 === 0) {
      for (const idx of [0, 1]) {
        for (const c of open(idx).tcpConnections) {
          if (gen !== null && (c === gen.client || c === gen.server)) continue;
          if (sideList.some((s) => s.a === c || s.b === c)) continue;
          const t = track(connKey(idx, c));
          if (cycle - t.born > 6000 && c.stateName !== "TIME-WAIT") abort(idx, c);
        }
      }
      for (let i = accepted.length - 1; i >= 0; i--) {
        if (accepted[i].stateName === "CLOSED") accepted.splice(i, 1);
      }
    }
  };

  // ---------------------------------------------------------------- segment making
  const buf = new Uint8Array(1514), view = new DataView(buf.buffer);

  const pickFlags = (): number => {
    const r = rng.rand();
    if (r < 0.3) return ACK | PSH;
    if (r < 0.45) return ACK;
    if (r < 0.7) return rng.int(512); // every combination, NS/CWR/ECE/URG included
    const common = [
      ACK | FIN,
      ACK | PSH | FIN,
      RST,
      RST | ACK,
      SYN,
      SYN | ACK,
      FIN,
      0,
      ACK | URG,
      SYN | FIN,
      SYN | RST,
    ];
    return common[rng.int(common.length)];
  };

  /** A sequence number near the receiver's state (its track) or anywhere. */
  const pickSeq = (t: Track | null, scale: number): number => {
    const rn = t !== null && t.hasAck ? t.rcvNxt : rng.u32();
    const w = t !== null ? t.win * 2 ** Math.max(scale, 0) : 65535;
    switch (rng.int(18)) {
      case 0:
      case 1:
      case 2:
        return rn;
      case 3:
        return u32(rn - 1);
      case 4:
        return u32(rn + 1);
      case 5:
        return u32(rn + w);
      case 6:
        return u32(rn + w - 1);
      case 7:
        return u32(rn + w + 1);
      case 8:
      case 9:
        return u32(rn + rng.int(w + 1));
      case 10:
        return u32(rn - 1 - rng.int(65536));
      case 11:
        return u32(rn + TWO31);
      case 12:
        return u32(rn + TWO31 + (rng.chance(0.5) ? 1 : -1));
      case 13:
        return rng.u32();
      case 14:
        return rng.chance(0.5) ? 0 : 0xffffffff;
      case 15:
        return u32(rn + rng.int(3000));
      case 16:
        return t !== null && t.hasIss ? u32(t.iss + rng.int(3)) : rng.u32(); // old duplicates
      default:
        return u32(rn - rng.int(3000));
    }
  };

  /** An acknowledgment number near the sender-side state of the target (`t`), `peer` acked. */
  const pickAck = (t: Track | null, una: number): number => {
    if (t === null) return rng.u32();
    const max = t.sndMax;
    switch (rng.int(16)) {
      case 0:
      case 1:
      case 2:
        return una;
      case 3:
        return u32(una - 1);
      case 4:
        return u32(una + 1);
      case 5:
      case 6:
        return max;
      case 7:
        return u32(max + 1);
      case 8:
        return u32(max - 1);
      case 9:
        return u32(una + rng.int(sdiff(una, max) + 1));
      case 10:
        return u32(una - rng.int(65536 * 64));
      case 11:
        return u32(una + TWO31);
      case 12:
        return rng.u32();
      case 13:
        return u32(t.iss + rng.int(2));
      case 14:
        return rng.chance(0.5) ? 0 : 0xffffffff;
      default:
        return u32(una - 65536 * (16 + rng.int(256)));
    }
  };

  /** Writes an option soup at `at` (at most 40 bytes); returns its length, a multiple of 4. */
  const options = (at: number, flags: number, ts: () => number, edge: () => number): number => {
    const r = rng.rand();
    let p = at;
    const end = at + 40;
    const put32 = (x: number) => {
      view.setUint32(p, x >>> 0);
      p += 4;
    };
    const tsOpt = () => {
      put32(0x0101080a);
      put32(ts());
      put32(rng.chance(0.5) ? rng.u32() : 0);
    };
    const sack = (blocks: number) => {
      put32(0x01010500 | (2 + 8 * blocks));
      for (let i = 0; i < blocks; i++) {
        put32(edge());
        put32(edge());
      }
    };
    if (r < 0.3) return 0;
    if (r < 0.55) { // the usual: timestamps, perhaps SACK blocks
      tsOpt();
      if (rng.chance(0.3)) sack(1 + rng.int(3));
      return p - at;
    }
    if (r < 0.7 || flags & SYN && r < 0.8) { // a SYN's options with odd values
      const mss = [0, 1, 48, 88, 535, 536, 1460, 1461, 9000, 65535, rng.int(65536)][rng.int(11)];
      put32(0x02040000 | mss);
      if (rng.chance(0.7)) put32(0x01010402); // SACK-permitted
      if (rng.chance(0.7)) tsOpt();
      if (rng.chance(0.7)) put32(0x01030300 | [0, 1, 7, 14, 15, 255, rng.int(256)][rng.int(7)]);
      return p - at;
    }
    // The soup: random kinds and lengths, wrong lengths for known kinds, truncated lists.
    while (p < end - 1 && rng.chance(0.85)) {
      const room = end - p;
      switch (rng.int(10)) {
        case 0:
          buf[p++] = 1;
          break;
        case 1: // EOL, then garbage
          buf[p++] = 0;
          if (rng.chance(0.5)) { while (p < end && rng.chance(0.7)) buf[p++] = rng.int(256); }
          break;
        case 2: { // MSS, right or wrong length
          const len = rng.chance(0.7) ? 4 : rng.int(7);
          if (room < Math.max(len, 2)) break;
          buf[p] = 2, buf[p + 1] = len;
          for (let i = 2; i < len; i++) buf[p + i] = rng.int(256);
          p += Math.max(len, 2);
          break;
        }
        case 3: { // window scale, right or wrong length
          const len = rng.chance(0.7) ? 3 : rng.int(6);
          if (room < Math.max(len, 2)) break;
          buf[p] = 3, buf[p + 1] = len;
          for (let i = 2; i < len; i++) buf[p + i] = rng.chance(0.5) ? rng.int(16) : rng.int(256);
          p += Math.max(len, 2);
          break;
        }
        case 4:
          if (room < 2) break;
          buf[p] = 4, buf[p + 1] = rng.chance(0.8) ? 2 : rng.int(5);
          p += 2;
          break;
        case 5: { // timestamps, right or wrong length
          const len = rng.chance(0.8) ? 10 : rng.int(13);
          if (room < Math.max(len, 2)) break;
          buf[p] = 8, buf[p + 1] = len;
          if (len === 10) {
            view.setUint32(p + 2, ts());
            view.setUint32(p + 6, rng.u32());
          } else for (let i = 2; i < len; i++) buf[p + i] = rng.int(256);
          p += Math.max(len, 2);
          break;
        }
        case 6: { // SACK: 0..4 blocks, or a length that is no multiple of 8
          const blocks = rng.int(5);
          const len = rng.chance(0.8) ? 2 + 8 * blocks : rng.int(40);
          if (room < Math.max(len, 2)) break;
          buf[p] = 5, buf[p + 1] = len;
          for (let i = 2; i + 4 <= len; i += 4) view.setUint32(p + i, edge());
          for (let i = len - ((len - 2) % 4); i < len; i++) buf[p + i] = rng.int(256);
          p += Math.max(len, 2);
          break;
        }
        case 7: { // an unknown kind, any length (0 and 1 included)
          buf[p] = [6, 7, 9, 19, 28, 29, 30, 34, 253, 254, rng.int(256)][rng.int(11)];
          if (room < 2) {
            p++;
            break;
          }
          const len = rng.chance(0.7) ? 2 + rng.int(Math.min(room - 1, 12)) : rng.int(256);
          buf[p + 1] = len;
          const fill = Math.min(Math.max(len, 2), room);
          for (let i = 2; i < fill; i++) buf[p + i] = rng.int(256);
          p += fill;
          break;
        }
        case 8: { // a length running past the header: a truncated list
          buf[p] = [2, 3, 5, 8, rng.int(256)][rng.int(5)];
          if (room < 2) {
            p++;
            break;
          }
          buf[p + 1] = room + 1 + rng.int(20);
          const fill = Math.min(room, 2 + rng.int(8));
          for (let i = 2; i < fill; i++) buf[p + i] = rng.int(256);
          p += fill;
          break;
        }
        default:
          buf[p++] = rng.int(256);
      }
    }
    while ((p - at) % 4 !== 0) buf[p++] = rng.chance(0.7) ? 0 : 1;
    return p - at;
  };

  /**
   * Writes one frame into `buf`, to stack `to`, and returns its length. `target`: the connection
   * of `to` it aims at (its 4-tuple and tracks), or null for a given tuple.
   */
  const makeSegment = (
    to: number,
    srcIp: number,
    srcPort: number,
    dstPort: number,
    target: TcpConnection | null,
    flagsIn: number,
  ): number => {
    const dstIp = IPS[to];
    const key = tupleKey(to, srcIp, dstPort, srcPort);
    const tx = target !== null ? tracks.get(key) ?? null : null; // the target's own segments
    const peerIdx = (srcIp === IPS[1 - to]) ? 1 - to : -1;
    const tr = peerIdx >= 0 ? tracks.get(tupleKey(peerIdx, dstIp, srcPort, dstPort)) ?? null : null;
    const g = gen;
    const isGen = g !== null && !g.done && target !== null &&
      (target === g.client || target === g.server);
    const toServer = isGen && target === g!.server;
    const toClient = isGen && target === g!.client;
    let flags = flagsIn;
    const scale = target?.receiveWindowScale ?? 0;
    let seq = pickSeq(tx, scale);
    const una = tr !== null && tr.hasAck ? tr.rcvNxt : tx?.sndMax ?? rng.u32();
    let ack = pickAck(tx, una);
    let window = [0, 1, 2, 255, 65535, 65534, 1024, rng.int(65536)][rng.int(8)];
    if (tx !== null && rng.chance(0.3) && tr !== null) window = tr.win;
    // Keep the checked transfer meaningful (see the module doc).
    if (isGen) {
      if (toClient && target!.stateName === "SYN-SENT") flags &= ~SYN;
      if (flags & RST && tx !== null && tx.hasAck && seq === tx.rcvNxt && rng.chance(0.985)) {
        seq = u32(seq + 1 + rng.int(1000));
      }
      if (toServer && flags & FIN && rng.chance(0.97)) flags &= ~FIN;
      if (
        tr !== null && tr.hasAck && seqGt(ack, tr.rcvNxt) && tx !== null && seqLe(ack, tx.sndMax)
      ) {
        ack = tr.rcvNxt;
      }
      if (toClient && tr !== null && window < tr.win) window = tr.win + rng.int(65536 - tr.win);
    }
    const protectTs = isGen && tr !== null && tr.hasTs;
    const ts = (): number => {
      if (protectTs) {
        const back = [0, 0, 1, rng.int(1000), rng.int(TWO31)][rng.int(5)];
        return u32(tr!.tsVal - back);
      }
      const base = tr?.hasTs ? tr.tsVal : tx?.hasTs ? tx.tsVal : rng.u32();
      switch (rng.int(8)) {
        case 0:
          return u32(base + 1);
        case 1:
          return u32(base - 1);
        case 2:
          return u32(base + TWO31);
        case 3:
          return rng.u32();
        case 4:
          return rng.chance(0.5) ? 0 : 0xffffffff;
        case 5:
          return u32(base + rng.int(1e6));
        default:
          return base;
      }
    };
    // SACK edges point at the target's sent data, or anywhere.
    const edge = (): number => {
      if (tx === null || rng.chance(0.15)) return rng.u32();
      switch (rng.int(8)) {
        case 0:
          return una;
        case 1:
          return tx.sndMax;
        case 2:
          return u32(una + rng.int(sdiff(una, tx.sndMax) + 1));
        case 3:
          return u32(una - 1 - rng.int(3000));
        case 4:
          return u32(tx.sndMax + 1 + rng.int(3000));
        case 5:
          return u32(una + TWO31);
        case 6:
          return u32(tx.iss + rng.int(2));
        default:
          return u32(una + 1448 * rng.int(64));
      }
    };
    // Headers.
    const b = buf, v = view;
    b.set(MACS[to], 0);
    b.set(MACS[1 - to], 6);
    v.setUint16(12, 0x0800);
    const l4 = 34;
    const optLen = options(l4 + 20, flags, ts, edge);
    const maxPayload = 1500 - 40 - optLen;
    let payload = 0;
    const pr = rng.rand();
    if (pr < 0.45) payload = 0;
    else if (pr < 0.65) payload = 1 + rng.int(8);
    else if (pr < 0.8) payload = rng.int(200);
    else if (pr < 0.9) payload = rng.int(maxPayload + 1);
    else payload = [536, 1000, 1447, 1448, 1449, maxPayload][rng.int(6)];
    if (payload > maxPayload) payload = maxPayload;
    // Payload: the stream's bytes at their sequence number when the sender is real.
    if (tr !== null && tr.hasIss && !(flags & SYN)) {
      if (isGen) { // never past what the real sender has sent (see the module doc)
        const limit = seqLt(tr.sndMax, u32(tr.iss + 1 + tr.written))
          ? tr.sndMax
          : u32(tr.iss + 1 + tr.written);
        const room = sdiff(seq, limit);
        if (room <= 0) payload = 0;
        else if (room < payload) payload = room;
      }
      const base = u32(seq - tr.iss - 1);
      for (let i = 0; i < payload; i++) b[l4 + 20 + optLen + i] = TABLE[(base + i) & 0xffff];
    } else {
      const fill = rng.int(3);
      for (let i = 0; i < payload; i++) {
        b[l4 + 20 + optLen + i] = fill === 0 ? 0 : fill === 1 ? rng.int(256) : TABLE[i];
      }
    }
    const tl = 20 + optLen + payload;
    // IPv4.
    b[14] = 0x45;
    b[15] = 0;
    v.setUint16(16, 20 + tl);
    v.setUint16(18, rng.int(65536));
    v.setUint16(20, 0x4000);
    b[22] = 64;
    b[23] = 6;
    v.setUint16(24, 0);
    v.setUint32(26, srcIp);
    v.setUint32(30, dstIp);
    v.setUint16(24, ~foldSum(sum16(v, 14, 20)) & 0xffff);
    // TCP.
    v.setUint16(l4, srcPort);
    v.setUint16(l4 + 2, dstPort);
    v.setUint32(l4 + 4, seq);
    v.setUint32(l4 + 8, ack);
    let doff = (20 + optLen) / 4;
    let badOffset = false;
    if (rng.chance(0.04)) {
      doff = rng.int(16);
      badOffset = doff * 4 < 20 || doff * 4 > tl;
      // Into the checked transfer only offsets that are refused: another valid one would make
      // options payload (or payload options), forged data that any TCP would deliver.
      if (isGen && !badOffset && doff !== (20 + optLen) / 4) {
        doff = tl < 60 && rng.chance(0.5) ? 15 : rng.int(5);
        badOffset = true;
      }
      if (badOffset) stats.badOffset++;
    }
    // Reserved bits now and then (the flags field takes 9 bits, NS among them).
    const reserved = rng.chance(0.03) ? rng.int(8) << 9 : 0;
    v.setUint16(l4 + 12, doff << 12 | reserved | (flags & 0x1ff));
    v.setUint16(l4 + 14, window);
    v.setUint16(l4 + 16, 0);
    v.setUint16(l4 + 18, flags & URG || rng.chance(0.02) ? rng.int(65536) : 0);
    const pseudo = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + 6 + tl;
    v.setUint16(l4 + 16, ~foldSum(sum16(v, l4, tl, pseudo)) & 0xffff);
    const badChecksum = rng.chance(0.04);
    if (badChecksum) {
      v.setUint16(l4 + 16, v.getUint16(l4 + 16) ^ (1 + rng.int(0xffff)));
      stats.badChecksum++;
    }
    let len = 14 + 20 + tl;
    if (len < 60 && rng.chance(0.5)) { // Ethernet padding
      b.fill(0, len, 60);
      len = 60;
    }
    // What the receiver's RST check and the generation's bookkeeping need to know.
    if (!badChecksum && !badOffset) {
      (flags & RST ? rstIn : otherIn)[to].add(key);
      if (isGen && flags & RST) g!.rst = true;
      if (toServer && flags & FIN) g!.fin = true;
    }
    if (target !== null) {
      stats.statesHit[target.stateName] = (stats.statesHit[target.stateName] ?? 0) + 1;
    }
    return len;
  };

  /** One fuzzed segment: picks a kind and a target, builds it into `buf`; returns [to, length]. */
  let live: TcpConnection[][] = [[], []];
  const cumulative: number[] = [];
  {
    let sum = 0;
    for (const w of KIND_WEIGHTS) cumulative.push(sum += w);
  }
  const fakeIp = () => 0x0a000000 + FAKE_FIRST + rng.int(FAKE_LAST - FAKE_FIRST + 1);
  const nextSegment = (): [number, number, string] => {
    let r = rng.rand() * cumulative[cumulative.length - 1], k = 0;
    while (r >= cumulative[k]) k++;
    let kind: string = KINDS[k];
    if (kind === "gen" && (gen === null || gen.done)) kind = "conn";
    if (kind === "conn" && live[0].length + live[1].length === 0) kind = "closed port";
    switch (kind) {
      case "gen": {
        const g = gen!;
        const to = g.server === null || rng.chance(0.5) ? 0 : 1;
        const c = to === 0 ? g.client : g.server!;
        return [to, makeSegment(to, c.remoteIp, c.remotePort, c.localPort, c, pickFlags()), kind];
      }
      case "conn": {
        r = rng.int(live[0].length + live[1].length);
        const to = r < live[0].length ? 0 : 1;
        const c = live[to][to === 0 ? r : r - live[0].length];
        return [to, makeSegment(to, c.remoteIp, c.remotePort, c.localPort, c, pickFlags()), kind];
      }
      case "flood": {
        const flags = rng.chance(0.85) ? SYN : pickFlags() | (rng.chance(0.5) ? SYN : 0);
        const src = rng.chance(0.02) ? 0x0a000000 + UNRESOLVED : fakeIp();
        return [1, makeSegment(1, src, 1024 + rng.int(64), PORT_FLOOD, null, flags), kind];
      }
      case "listener": {
        // From A's address (A has no such connection: it answers RST) to any listener; fake
        // hosts (which never answer) only to the flood's, so the others' backlogs stay free.
        const src = rng.chance(0.7) ? IP_A : fakeIp();
        const port = src === IP_A ? [PORT_GEN, PORT_SIDE, PORT_FLOOD][rng.int(3)] : PORT_FLOOD;
        const flags = rng.chance(0.6) ? SYN : pickFlags();
        return [1, makeSegment(1, src, 20000 + rng.int(30000), port, null, flags), kind];
      }
      case "closed port": {
        const to = rng.int(2);
        const src = rng.chance(0.5) ? IPS[1 - to] : fakeIp();
        const port = [1, 7, 79, 83, 443, 65535, rng.int(65536)][rng.int(7)];
        return [to, makeSegment(to, src, 1 + rng.int(65535), port, null, pickFlags()), kind];
      }
      default: { // near miss: a live connection's tuple with one field off
        const all = live[0].length + live[1].length;
        if (all === 0) return nextSegment();
        r = rng.int(all);
        const to = r < live[0].length ? 0 : 1;
        const c = live[to][to === 0 ? r : r - live[0].length];
        const which = rng.int(3);
        const src = which === 0
          ? (c.remoteIp === IP_A || c.remoteIp === IP_B ? fakeIp() : IPS[1 - to])
          : c.remoteIp;
        const sp = which === 1 ? (c.remotePort + 1) & 0xffff : c.remotePort;
        const dp = which === 2 ? (c.localPort + 1) & 0xffff : c.localPort;
        return [to, makeSegment(to, src, sp, dp, null, pickFlags()), kind];
      }
    }
  };

  // ---------------------------------------------------------------- invariants
  let prevLive: TcpConnection[][] = [[], []];
  const invariants = () => {
    for (const idx of [0, 1]) {
      const stack = stacks[idx], name = "AB"[idx];
      const conns = live[idx];
      let estab = 0;
      const nowSet = new Set(conns);
      for (const c of conns) {
        const st = c.stateName;
        if (!STATE_NAMES.has(st)) fail(`${name}: a connection in the table is ${st}: ${c}`);
        if (c.closeReason !== null) {
          fail(`${name}: a live ${st} connection has closeReason ${c.closeReason}`);
        }
        if (st === "ESTABLISHED" || st === "CLOSE-WAIT") estab++;
        const un = c.unacknowledged, wr = c.writable;
        if (!(Number.isInteger(un) && un >= 0 && Number.isInteger(wr) && wr >= 0)) {
          fail(
            `${name}: ${st} unacknowledged ${un}, writable ${wr} (send buffer ${un + wr}): ${c}`,
          );
        }
        const rw = c.receiveWindow, rb = rbOf(idx, c), scale = Math.max(c.receiveWindowScale, 0);
        if (!(Number.isInteger(rw) && rw >= 0 && rw <= rb + (1 << scale) - 1)) {
          fail(`${name}: ${st} receiveWindow ${rw} outside 0..${rb} + scale ${scale}: ${c}`);
        }
        if (cycle % 8 === 0) {
          for (const [k, x] of Object.entries(c.counters)) {
            if (!(Number.isInteger(x) && x >= 0)) fail(`${name}: connection counter ${k} is ${x}`);
          }
        }
      }
      for (const c of prevLive[idx]) {
        if (nowSet.has(c)) continue;
        if (c.stateName !== "CLOSED" || c.closeReason === null) {
          fail(
            `${name}: a connection left the table as ${c.stateName}, closeReason ${c.closeReason}`,
          );
        }
      }
      for (const [k, x] of Object.entries(stack.counters)) {
        if (!(Number.isInteger(x) && x >= 0)) fail(`${name}: counter ${k} is ${x}`);
      }
      for (const [k, x] of Object.entries(stack.tcpCounters)) {
        if (!(Number.isInteger(x) && x >= 0)) fail(`${name}: tcpCounter ${k} is ${x}`);
      }
      const broken = brokenIdentity(stack.counters);
      if (broken !== "") fail(`${name}: counter identity broken: ${broken}`);
      if (stack.tcpCounters.currEstab !== estab) {
        fail(
          `${name}: currEstab ${stack.tcpCounters.currEstab}, but ${estab} connections are ESTABLISHED or CLOSE-WAIT`,
        );
      }
      if (stack.tcpCounters.inSegs !== stack.counters.tcpIn) {
        fail(
          `${name}: tcpCounters.inSegs ${stack.tcpCounters.inSegs} != counters.tcpIn ${stack.counters.tcpIn}`,
        );
      }
    }
    for (const l of listeners) {
      let opening = 0;
      for (const c of live[1]) if (c.listener === l && c.stateName === "SYN-RECEIVED") opening++;
      if (l.pending !== opening) {
        fail(
          `listener ${l.port}: pending ${l.pending}, but ${opening} of its connections are SYN-RECEIVED`,
        );
      }
      if (l.pending + l.waiting > l.backlog) {
        fail(
          `listener ${l.port}: ${l.pending} opening + ${l.waiting} waiting > backlog ${l.backlog}`,
        );
      }
    }
  };

  // ---------------------------------------------------------------- polling
  const clock = new Float64Array(1);
  const pollOne = (idx: number) => {
    const stack = stacks[idx];
    try {
      stack.poll(now);
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      fail(`${"AB"[idx]}.poll threw ${e instanceof Error ? e.stack : e}`);
    }
    // RSTs answering RSTs, unless a timer or the application aborted that connection.
    for (const key of rstCandidates[idx]) {
      const c = prevLive[idx].find((x) => connKey(idx, x) === key);
      if (c !== undefined && (c.closeReason === "timeout" || c.closeReason === "aborted")) continue;
      fail(`${"AB"[idx]} sent an RST on ${key} in answer to an RST (it received only RSTs there)`);
    }
    rstCandidates[idx].length = 0;
    exempt[idx].clear();
    if (sides[idx].pending === 0) {
      rstIn[idx].clear();
      otherIn[idx].clear();
    }
  };
  const settle = () => {
    for (let i = 0; i < 16; i++) {
      pollOne(0);
      pollOne(1);
      if (pair.a.pending === 0 && pair.b.pending === 0) return;
    }
  };
  const snapshot = () => {
    live = [A.tcpConnections, B.tcpConnections];
  };

  // ---------------------------------------------------------------- the loop
  snapshot();
  while (injected < segments) {
    cycle++;
    appStep();
    snapshot();
    prevLive = live;
    const n = Math.min(segments - injected, 1 + rng.int(maxBurst));
    burstCount = 0;
    // Frames a callback reserved outside a poll (an abort) go out first, through the checks.
    clock[0] = now;
    wires[0].flush(clock);
    wires[1].flush(clock);
    for (let i = 0; i < n; i++) {
      const [to, len, kind] = nextSegment();
      stats.kinds[kind]++;
      burstBuf[i].set(buf.subarray(0, len));
      burstLen[i] = len;
      burstTo[i] = to;
      burstKind[i] = kind;
      if (TRACE >= 0) {
        const p = view.getUint16(34), q = view.getUint16(36);
        if (p === TRACE || q === TRACE) {
          console.log(`${cycle} inject to ${"AB"[to]} ${describe(buf.subarray(0, len))} (${kind})`);
        }
      }
      burstCount++;
      const dev = to === 1 ? pair.a : pair.b;
      const at = dev.reserve(len);
      if (at < 0) fail("the injector could not reserve a buffer");
      dev.txData.set(buf.subarray(0, len), at);
      if (i % 32 === 31) {
        clock[0] = now;
        dev.flush(clock);
      }
    }
    clock[0] = now;
    pair.a.flush(clock);
    pair.b.flush(clock);
    injected += n;
    // Virtual time: ~0.3 ms a burst, now and then a jump of seconds (RTOs, keep-alive, ends).
    const r = rng.rand();
    now += r < 0.0004 ? (1 + rng.int(6)) * S : rng.int(600) * 1000;
    settle();
    snapshot();
    invariants();
    prevLive = live;
  }
  stats.cycles = cycle;
  stats.segments = injected;

  // ---------------------------------------------------------------- after the fuzzing
  fuzzing = false;
  burstCount = 0;
  const stop = cycle;
  while (completedAfter < 2) {
    cycle++;
    if (cycle - stop > 200_000) {
      fail(
        `after the fuzzing the transfer did not complete: ${
          current() ? `${current()!.client} / ${current()!.server}` : "none"
        }`,
      );
    }
    appStep();
    snapshot();
    prevLive = live;
    const wait = Math.min(A.nextDeadline, B.nextDeadline) - now;
    now += wait > 1 * MS && pair.a.pending + pair.b.pending === 0 && cycle % 4 === 0
      ? Math.min(wait, 1 * S)
      : 1 * MS;
    settle();
    snapshot();
    invariants();
    prevLive = live;
  }
  // The last (clean) generation: opened, transferred and closed with nothing injected.
  if (stats.genCompleted < 2) fail("no transfer completed");
  stats.virtualS = now / S;
  return stats;
}

// ------------------------------------------------------------------------------------ tests

Deno.test("stack TCP fuzz: 10^6 fuzzed segments; no exception, sane states and output, transfers complete", () => {
  const t0 = performance.now();
  console.log(`TCP fuzz seed ${SEED} (TCP_FUZZ_SEED), ${SEGMENTS} segments, bursts ≤ ${MAX_BURST}`);
  const stats = seeded(SEED, () => run(SEED, SEGMENTS, MAX_BURST));
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${stats.segments} segments in ${stats.cycles} bursts, ${seconds.toFixed(1)} s ` +
      `(${(seconds * 1e6 / stats.segments).toFixed(1)} µs a segment), ${
        stats.virtualS.toFixed(0)
      } s virtual`,
  );
  console.log(
    `kinds: ${
      JSON.stringify(stats.kinds)
    }; bad checksums ${stats.badChecksum}, bad offsets ${stats.badOffset}`,
  );
  console.log(`target states: ${JSON.stringify(stats.statesHit)}`);
  console.log(
    `transfers: ${stats.genCompleted} completed, ${stats.genReset} ended by an injected RST, ` +
      `${stats.genFin} by an injected FIN; ${stats.bytesAB} bytes A → B, ${stats.bytesBA} B → A; ` +
      `the stacks sent ${stats.sent} frames (${stats.rstSent} RSTs)`,
  );
  assert.ok(stats.genCompleted >= 3, "transfers completed under fire");
  for (
    const st of [
      "SYN-SENT",
      "SYN-RECEIVED",
      "ESTABLISHED",
      "FIN-WAIT-1",
      "FIN-WAIT-2",
      "CLOSE-WAIT",
      "LAST-ACK",
      "TIME-WAIT",
    ]
  ) {
    assert.ok((stats.statesHit[st] ?? 0) > 0, `segments reached connections in ${st}`);
  }
});
