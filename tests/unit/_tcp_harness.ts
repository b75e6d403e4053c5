// A two-host TCP test bench on virtual time: stacks A (10.0.0.1) and B (10.0.0.2) on an
// in-memory pair, optionally through fault injectors or a tap that can see, drop and rewrite
// frames. Shared by the TCP test files.
import type { Device, FrameReceiver } from "../../stack/device.ts";
import { MemoryPair } from "../../stack/memory.ts";
import { Stack, type StackOptions } from "../../stack/interface.ts";
import type { TcpConnection } from "../../stack/tcp.ts";
import { buildTcpFrame } from "../../net/build.ts";

export const MS = 1e6, S = 1e9;
export const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 0xa]);
export const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 0xb]);

/** A parsed TCP segment seen on the wire. */
export interface Seen {
  from: "a" | "b";
  flags: number;
  seq: number;
  ack: number;
  window: number;
  payload: number;
  options: Uint8Array;
  srcPort: number;
  dstPort: number;
  /** Source and destination IPv4 addresses, as numbers. */
  srcIp: number;
  dstIp: number;
  /** The sender's clock (ns) when the segment was flushed. */
  time: number;
  frame: Uint8Array;
}

export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

/** Parses a frame's TCP header (IPv4, no VLAN), or null. */
export function parseSegment(frame: Uint8Array, from: "a" | "b", time = 0): Seen | null {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 54 || v.getUint16(12) !== 0x0800 || frame[23] !== 6) return null;
  const ihl = (frame[14] & 15) * 4, l4 = 14 + ihl, total = v.getUint16(16);
  const doff = (frame[l4 + 12] >> 4) * 4;
  return {
    from,
    flags: v.getUint16(l4 + 12) & 0x1ff,
    seq: v.getUint32(l4 + 4),
    ack: v.getUint32(l4 + 8),
    window: v.getUint16(l4 + 14),
    payload: total - ihl - doff,
    options: frame.slice(l4 + 20, l4 + doff),
    srcPort: v.getUint16(l4),
    dstPort: v.getUint16(l4 + 2),
    srcIp: v.getUint32(26),
    dstIp: v.getUint32(30),
    time,
    frame: frame.slice(),
  };
}

/**
 * A device wrapper that records every TCP segment sent through it and may drop or rewrite
 * frames by a rule (`filter` returns false to drop).
 */
export class Tap implements Device {
  readonly inner: Device;
  readonly name: "a" | "b";
  readonly log: Seen[];
  filter: ((s: Seen) => boolean) | null = null;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly burst: number;
  readonly txData: Uint8Array;
  readonly txView: DataView;
  #reserved: [number, number][] = [];
  constructor(inner: Device, name: "a" | "b", log: Seen[]) {
    this.inner = inner;
    this.name = name;
    this.log = log;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.burst = inner.burst;
    // Frames are built in our own buffer and copied to the inner device when kept.
    this.txData = new Uint8Array(64 * (inner.mtu + 14));
    this.txView = new DataView(this.txData.buffer);
  }
  receive(receiver: FrameReceiver, clock: Float64Array): number {
    return this.inner.receive(receiver, clock);
  }
  reserve(length: number): number {
    if (this.#reserved.length === 64) return -1;
    const at = this.#reserved.length * (this.mtu + 14);
    this.#reserved.push([at, length]);
    return at;
  }
  flush(clock: Float64Array): number {
    let n = 0;
    for (const [at, length] of this.#reserved) {
      const frame = this.txData.slice(at, at + length);
      const seg = parseSegment(frame, this.name, clock[0]);
      if (seg !== null) {
        this.log.push(seg);
        if (this.filter !== null && !this.filter(seg)) continue;
      }
      let to = this.inner.reserve(length);
      if (to < 0) {
        this.inner.flush(clock);
        to = this.inner.reserve(length);
      }
      if (to < 0) continue;
      this.inner.txData.set(frame, to);
      n++;
    }
    this.#reserved = [];
    this.inner.flush(clock);
    return n;
  }
  nextDeadline(): number {
    return this.inner.nextDeadline();
  }
}

/** Two stacks wired together, their clock and a log of segments. */
export class Bench {
  readonly pair: MemoryPair;
  readonly a: Stack;
  readonly b: Stack;
  readonly tapA: Tap;
  readonly tapB: Tap;
  readonly log: Seen[] = [];
  now = 0;
  constructor(optionsA: Partial<StackOptions> = {}, optionsB: Partial<StackOptions> = {}) {
    this.pair = new MemoryPair({ macA: MAC_A, macB: MAC_B, slots: 4096 });
    this.tapA = new Tap(this.pair.a, "a", this.log);
    this.tapB = new Tap(this.pair.b, "b", this.log);
    this.a = new Stack(this.tapA, { address: "10.0.0.1/24", ...optionsA });
    this.b = new Stack(this.tapB, { address: "10.0.0.2/24", ...optionsB });
    // Static neighbours: the tests are about TCP, not ARP.
    this.a.arp.setStatic(0x0a000002, 0x02000000000b);
    this.b.arp.setStatic(0x0a000001, 0x02000000000a);
  }
  /** Polls both stacks at the current time until nothing moves. */
  settle(): void {
    for (let i = 0; i < 50; i++) {
      const before = this.log.length + this.pair.a.stats.received + this.pair.b.stats.received;
      this.a.poll(this.now);
      this.b.poll(this.now);
      const after = this.log.length + this.pair.a.stats.received + this.pair.b.stats.received;
      if (after === before) return;
    }
  }
  /** Advances virtual time by `ns` in steps of `step`, settling at each. */
  run(ns: number, step = 1 * MS): void {
    const end = this.now + ns;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      this.settle();
    }
  }
  /** Advances to the next timer of either stack (or by `max`), settling. */
  next(max = 200 * S): void {
    const t = Math.min(this.a.nextDeadline, this.b.nextDeadline, this.now + max);
    this.now = Math.max(this.now, t);
    this.settle();
  }
  /** Segments logged since `from`, by sender. */
  since(from: number, who?: "a" | "b"): Seen[] {
    return this.log.slice(from).filter((s) => who === undefined || s.from === who);
  }
}

/** Collects what a connection receives and how it ends. */
export class Sink {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  closed: string | null = null;
  opened = false;
  constructor(conn: TcpConnection, keep = true) {
    conn.onData = (data, offset, length) => {
      this.bytes += length;
      if (keep) this.chunks.push(data.slice(offset, offset + length));
    };
    conn.onEnd = () => this.ended = true;
    conn.onClose = (reason) => this.closed = reason;
    conn.onOpen = () => this.opened = true;
  }
  get data(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const c of this.chunks) out.set(c, (at += c.length) - c.length);
    return out;
  }
  text(): string {
    return new TextDecoder().decode(this.data);
  }
}

/** A deterministic pattern of `n` bytes from `seed`. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Opens a connection A → B:port (listener on B) and returns both ends, established. */
export function open(bench: Bench, port = 80, options = {}, listenOptions = {}) {
  const listener = bench.b.listen(port, listenOptions);
  let server: TcpConnection | null = null;
  listener.onConnection = (c) => server = c;
  const client = bench.a.connect("10.0.0.2", port, options);
  bench.settle();
  if (server === null) throw new Error(`no connection: client is ${client.stateName}`);
  return { listener, client, server: server as TcpConnection };
}

// ------------------------------------------------------------------ crafted segments

/** A hand-made TCP segment for {@linkcode inject}. */
export interface Craft {
  /** Source address. Default: the other stack's (10.0.0.1 towards B, 10.0.0.2 towards A). */
  srcIp?: string;
  /** Destination address. Default: the receiving stack's. */
  dstIp?: string;
  /** Destination MAC. Default: the receiving stack's. */
  dstMac?: Uint8Array | number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  /** Raw option bytes (padded with EOL to a multiple of 4). */
  options?: Uint8Array;
  payload?: Uint8Array;
  /** Spoil the TCP checksum. */
  badChecksum?: boolean;
}

/** Builds the Ethernet + IPv4 + TCP frame of `c` sent to stack `to` (checksums right). */
export function craftFrame(to: "a" | "b", c: Craft): Uint8Array {
  const frame = buildTcpFrame({
    srcMac: to === "b" ? MAC_A : MAC_B,
    dstMac: c.dstMac ?? (to === "b" ? MAC_B : MAC_A),
    srcIp: c.srcIp ?? (to === "b" ? "10.0.0.1" : "10.0.0.2"),
    dstIp: c.dstIp ?? (to === "b" ? "10.0.0.2" : "10.0.0.1"),
    srcPort: c.srcPort,
    dstPort: c.dstPort,
    seq: c.seq >>> 0,
    ack: (c.ack ?? 0) >>> 0,
    flags: c.flags,
    window: c.window ?? 65535,
    options: c.options,
    payload: c.payload,
  });
  if (c.badChecksum) frame[14 + 20 + 16] ^= 0x55;
  return frame;
}

/** Puts a raw frame on the wire towards stack `to` (it arrives at that stack's next poll). */
export function injectFrame(bench: Bench, to: "a" | "b", frame: Uint8Array): void {
  const dev = to === "b" ? bench.pair.a : bench.pair.b;
  const at = dev.reserve(frame.length);
  if (at < 0) throw new Error("injectFrame: no buffer");
  dev.txData.set(frame, at);
  dev.flush(new Float64Array([bench.now]));
}

/** Sends a crafted segment to stack `to` and settles (unless `settle` is false). */
export function inject(bench: Bench, to: "a" | "b", c: Craft, settle = true): void {
  injectFrame(bench, to, craftFrame(to, c));
  if (settle) bench.settle();
}

/** A timestamps option: NOP, NOP, kind 8. */
export function tsOption(val: number, ecr = 0): Uint8Array {
  const o = new Uint8Array(12);
  const v = new DataView(o.buffer);
  v.setUint32(0, 0x0101080a);
  v.setUint32(4, val >>> 0);
  v.setUint32(8, ecr >>> 0);
  return o;
}

/** A SYN's options: MSS, SACK-permitted, timestamps, window scale, each when given. */
export function synOptions(
  o: { mss?: number; sack?: boolean; ts?: [number, number]; ws?: number } = {},
): Uint8Array {
  const out: number[] = [];
  if (o.mss !== undefined) out.push(2, 4, o.mss >> 8, o.mss & 255);
  if (o.sack) out.push(1, 1, 4, 2);
  if (o.ts) out.push(...tsOption(o.ts[0], o.ts[1]));
  if (o.ws !== undefined) out.push(1, 3, 3, o.ws);
  return new Uint8Array(out);
}

/** A SACK option (NOP, NOP, kind 5) with `blocks`, after timestamps when `ts` is given. */
export function sackOption(blocks: [number, number][], ts?: [number, number]): Uint8Array {
  const out: number[] = ts ? [...tsOption(ts[0], ts[1])] : [];
  out.push(1, 1, 5, 2 + 8 * blocks.length);
  const b = new Uint8Array(8 * blocks.length), v = new DataView(b.buffer);
  blocks.forEach(([l, r], i) => {
    v.setUint32(8 * i, l >>> 0);
    v.setUint32(8 * i + 4, r >>> 0);
  });
  out.push(...b);
  return new Uint8Array(out);
}

/** The options of a logged segment, parsed. */
export interface ParsedOptions {
  mss: number;
  ws: number;
  sackPermitted: boolean;
  ts: [number, number] | null;
  sack: [number, number][];
  kinds: number[];
}

/** Parses option bytes (as in {@linkcode Seen.options}). */
export function parseOptions(bytes: Uint8Array): ParsedOptions {
  const r: ParsedOptions = { mss: -1, ws: -1, sackPermitted: false, ts: null, sack: [], kinds: [] };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 0; p < bytes.length;) {
    const kind = bytes[p];
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    const len = bytes[p + 1];
    r.kinds.push(kind);
    if (kind === 2) r.mss = v.getUint16(p + 2);
    if (kind === 3) r.ws = bytes[p + 2];
    if (kind === 4) r.sackPermitted = true;
    if (kind === 8) r.ts = [v.getUint32(p + 2), v.getUint32(p + 6)];
    if (kind === 5) {
      for (let q = p + 2; q < p + len; q += 8) r.sack.push([v.getUint32(q), v.getUint32(q + 4)]);
    }
    if (len < 2) break;
    p += len;
  }
  return r;
}

/** Converts a dotted IPv4 address to a number. */
export function ip(text: string): number {
  return text.split(".").reduce((n, x) => n * 256 + Number(x), 0);
}
