/**
 * TCP benchmark: this package's own TCP/IP stack (`stack/`) on net_af_packet against Deno's
 * kernel TCP (`Deno.connect`), side by side in one run, over the same veth to the same kernel
 * server in a network namespace:
 *
 * 1. request/response latency: 64-byte ping-pong over one connection (p50, p99, p99.9, max);
 * 2. bulk throughput of one connection, receiving and sending; and what the same DPDK port
 *    reaches without the stack: receiving the same TCP stream with a minimal hand-written ACK
 *    responder, sending 1514-byte UDP frames; so the stack's own cost shows;
 * 3. CPU time per MB moved: of the measuring process, and of the whole machine.
 *
 *   deno run --allow-all bench/tcp.ts [-- --seconds N --mb N --rounds N --passes 1|2 --json]
 *
 * Needs root: it creates the namespace `ddtcpb` with a veth (10.99.6.0/24) and removes them
 * at the end, also on error and Ctrl-C. The server in the namespace is a small Python program
 * on kernel sockets (TCP_NODELAY): echo on port 7, a sink on 9, a source on 19. With two
 * passes (the default) the paths run in the order kernel, ours, ours, kernel, so that a
 * machine whose load drifts favours neither.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Mempool, PacketBatch, type Port, type StopSignal } from "../mod.ts";
import { macToNumber, parseIpv4, writeUdpFrame } from "../net/mod.ts";
import {
  type Device,
  type FrameReceiver,
  type PortDevice,
  Stack,
  type TcpConnection,
  TcpState,
} from "../stack/mod.ts";
import {
  AF_PACKET_FRAME,
  denoRunSelf,
  headline,
  isRoot,
  type Latency,
  type Load,
  machineCpuMs,
  machineInfo,
  openAfPacketPort,
  percentiles,
  pollUntil,
  result,
  round2,
  round3,
  roundLatency,
  runOnTestbed,
  scriptArgs,
  settle,
  tableRow,
  type Testbed,
  vethSummary,
} from "./_veth.ts";

const BED: Testbed = {
  ns: "ddtcpb",
  hostIf: "ddt-h",
  nsIf: "ddt-n",
  serverIp: "10.99.6.1", // the namespace's end: the kernel server
  kernelIp: "10.99.6.2", // the host end of the veth: Deno.connect's source address
  stackIp: "10.99.6.3", // our stack
  ealPrefix: "tcpbench",
};
const { serverIp: SERVER_IP, stackIp: STACK_IP } = BED;
const ECHO_PORT = 7, SINK_PORT = 9, SOURCE_PORT = 19, BLAST_PORT = 9999;
/** Bulk data: byte i of a stream is i % 251, so a misplaced byte shows. */
const PATTERN = 251;
const CHUNK = PATTERN * 4096; // ~1 MB, a whole number of periods

const { values: opts } = parseArgs({
  args: scriptArgs(),
  options: {
    role: { type: "string", default: "run" },
    seconds: { type: "string", default: "3" },
    mb: { type: "string", default: "500" },
    rounds: { type: "string", default: "20000" },
    warmup: { type: "string", default: "1000" },
    passes: { type: "string", default: "2" },
    "dst-mac": { type: "string" },
    json: { type: "boolean" },
  },
});
const seconds = Number(opts.seconds);
const bulkBytes = Math.round(Number(opts.mb) * 1e6);
const rounds = Number(opts.rounds);
const warmup = Number(opts.warmup);
const passes = Number(opts.passes);
if (
  !(seconds > 0 && bulkBytes > 0 && rounds >= passes && warmup >= 0 &&
    (passes === 1 || passes === 2))
) {
  console.error(
    "usage: tcp.ts [-- --seconds N (> 0) --mb N (> 0) --rounds N --warmup N --passes 1|2 --json]",
  );
  Deno.exit(2);
}
/** Round trips per pass. */
const passRounds = Math.ceil(rounds / passes);

// ------------------------------------------------------------------ shared helpers

const patternChunk = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i++) patternChunk[i] = i % PATTERN;

/** One bulk transfer: its rate and its CPU cost. */
interface Transfer {
  MBps: number;
  cpuMsPerMB: number;
  machineCpuMsPerMB: number;
  info: string;
}

/** What one path measured in one pass. */
interface Pass {
  /** Round-trip times, µs. */
  samples: number[];
  rx: Transfer;
  tx: Transfer;
  notes: string[];
}

interface RawResult {
  rx: Transfer;
  txMBps: number;
  notes: string[];
}

/**
 * CPU time of this process, ms (user + system, every thread): `Deno.cpuUsage()` where this Deno
 * has it (2.x has it at run time, without a type), else utime + stime of /proc/self/stat.
 */
const cpuUsage = (Deno as unknown as { cpuUsage?: () => { user: number; system: number } })
  .cpuUsage;
function processCpuMs(): number {
  if (cpuUsage !== undefined) {
    const u = cpuUsage();
    return (u.user + u.system) / 1000;
  }
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime, stime in USER_HZ (100) ticks
}

/** Wall time and CPU time (this process's and the machine's) of one transfer. */
class Meter {
  #t = 0;
  #cpu = 0;
  #machine = 0;
  start(): void {
    this.#cpu = processCpuMs();
    this.#machine = machineCpuMs();
    this.#t = performance.now();
  }
  stop(bytes: number, info: string): Transfer {
    const wallMs = performance.now() - this.#t;
    const mb = bytes / 1e6;
    return {
      MBps: mb * 1000 / wallMs,
      cpuMsPerMB: (processCpuMs() - this.#cpu) / mb,
      machineCpuMsPerMB: (machineCpuMs() - this.#machine) / mb,
      info,
    };
  }
}

// ------------------------------------------------------------------ our stack (DPDK child)

/**
 * A PortDevice that can show the stack's received frames to a hook first (used once, to learn
 * the initial sequence number of the connection the raw responder takes over).
 */
class SniffingDevice implements Device, FrameReceiver {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly burst: number;
  readonly txData: Uint8Array;
  readonly txView: DataView;
  hook: ((data: Uint8Array, offset: number, length: number) => void) | null = null;
  #inner: PortDevice;
  #receiver: FrameReceiver | null = null;
  constructor(inner: PortDevice) {
    this.#inner = inner;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.burst = inner.burst;
    this.txData = inner.txData;
    this.txView = inner.txView;
  }
  receive(receiver: FrameReceiver, clock: Float64Array): number {
    if (this.hook === null) return this.#inner.receive(receiver, clock);
    this.#receiver = receiver;
    return this.#inner.receive(this, clock);
  }
  frame(data: Uint8Array, view: DataView, offset: number, length: number): void {
    this.hook!(data, offset, length);
    this.#receiver!.frame(data, view, offset, length);
  }
  reserve(length: number): number {
    return this.#inner.reserve(length);
  }
  flush(clock: Float64Array): number {
    return this.#inner.flush(clock);
  }
  nextDeadline(): number {
    return this.#inner.nextDeadline();
  }
}

function dpdkRole(): void {
  const dpdk = openAfPacketPort(BED);
  const { stop, pool, port, device: portDevice } = dpdk;
  const device = new SniffingDevice(portDevice);
  const stack = new Stack(device, { address: `${STACK_IP}/24` });
  const t0 = performance.now();
  const poll = () => {
    stack.clock[0] = (performance.now() - t0) * 1e6;
    stack.poll();
  };

  /** Polls until `done()` or the time limit; throws with the connection's state on a hang. */
  const pollConn = (what: string, conn: TcpConnection, done: () => boolean, limitMs: number) =>
    pollUntil(
      poll,
      stop,
      done,
      limitMs,
      () =>
        `our stack: ${what}: no progress after ${limitMs} ms: ${conn.toString()}; ` +
        `device ${JSON.stringify(portDevice.stats)}`,
    );
  const open = (tcpPort: number) => {
    const conn = stack.connect(SERVER_IP, tcpPort);
    let failed = "";
    conn.onClose = (reason) => {
      if (reason !== "closed") failed = `${reason} ${conn.closeDetail}`;
    };
    pollConn(
      `connect to ${tcpPort}`,
      conn,
      () => conn.state === TcpState.ESTABLISHED || failed !== "",
      10000,
    );
    if (failed) throw new Error(`our stack: connect to ${SERVER_IP}:${tcpPort}: ${failed}`);
    return conn;
  };
  const header = new Uint8Array(8);
  new DataView(header.buffer).setBigUint64(0, BigInt(bulkBytes));

  const runPass = (pass: number): Pass => {
    const notes: string[] = [];
    // 1. Ping-pong latency.
    const echo = open(ECHO_PORT);
    const out = new Uint8Array(64);
    const back = new Uint8Array(64);
    let got = 0, badEcho = 0;
    echo.onData = (data, offset, length) => {
      back.set(data.subarray(offset, offset + Math.min(length, 64 - got)), got);
      got += length;
    };
    const samples: number[] = [];
    for (let i = 0; i < warmup + passRounds; i++) {
      out[0] = i & 255;
      out[63] = (i >> 8) & 255;
      got = 0;
      const start = performance.now();
      if (echo.write(out, 0, 64) !== 64) throw new Error("our stack: echo write not taken whole");
      // The poll loop inlined: nothing allocated per round trip.
      let spins = 0;
      while (got < 64) {
        stack.clock[0] = (performance.now() - t0) * 1e6;
        stack.poll();
        if ((++spins & 0xfffff) === 0 && (stop.requested || performance.now() - start > 5000)) {
          throw new Error(`our stack: echo round ${i}: no answer in 5 s: ${echo.toString()}`);
        }
      }
      const us = (performance.now() - start) * 1000;
      if (i >= warmup) samples.push(round2(us));
      if (got !== 64 || back[0] !== out[0] || back[63] !== out[63]) badEcho++;
    }
    if (badEcho) notes.push(`our stack: ${badEcho} echoes came back different`);
    echo.close();
    settle(poll);
    console.error(
      `tcp: ours, pass ${pass}: ping-pong p50 ${percentiles(samples).p50.toFixed(1)} µs ` +
        `(${echo.counters.retransSegs} retransmissions)`,
    );

    // 2a. Bulk receive: the source sends bulkBytes.
    const meter = new Meter();
    let rxBad = 0;
    const src = open(SOURCE_PORT);
    let received = 0, ended = false;
    src.onData = (data, offset, length) => {
      // Spot checks (first and last byte of each delivery): a full check would cost as much as
      // the stack.
      if (
        data[offset] !== received % PATTERN ||
        data[offset + length - 1] !== (received + length - 1) % PATTERN
      ) rxBad++;
      received += length;
    };
    src.onEnd = () => {
      ended = true;
      src.close();
    };
    meter.start();
    src.write(header);
    pollConn("bulk receive", src, () => ended, 120000);
    const c = src.counters;
    const rx = meter.stop(
      received,
      `segs in ${c.segsIn} out ${c.segsOut}, out of order ${c.outOfOrderSegs}, ` +
        `SACK blocks sent ${c.sackBlocksSent}`,
    );
    if (received !== bulkBytes) notes.push(`our stack: received ${received} of ${bulkBytes} bytes`);
    if (rxBad) notes.push(`our stack: ${rxBad} deliveries with wrong bytes`);
    settle(poll);
    console.error(`tcp: ours, pass ${pass}: receive ${rx.MBps.toFixed(0)} MB/s (${rx.info})`);

    // 2b. Bulk send: to the sink, which answers with the count and the bad-read count.
    const sink = open(SINK_PORT);
    let sent = 0, reply = 0, closedWrite = false;
    const answer = new Uint8Array(16);
    sink.onData = (data, offset, length) => {
      answer.set(data.subarray(offset, offset + Math.min(length, 16 - reply)), reply);
      reply += length;
    };
    const pump = () => {
      while (sent < bulkBytes) {
        const at = sent % CHUNK;
        const n = sink.write(patternChunk, at, Math.min(CHUNK - at, bulkBytes - sent));
        if (n === 0) return;
        sent += n;
      }
      if (!closedWrite) {
        closedWrite = true;
        sink.closeWrite();
      }
    };
    sink.onWritable = pump;
    meter.start();
    pump();
    pollConn("bulk send", sink, () => reply >= 16, 120000);
    const av = new DataView(answer.buffer);
    const sinkCount = Number(av.getBigUint64(0)), sinkBad = Number(av.getBigUint64(8));
    const k = sink.counters;
    const tx = meter.stop(
      sinkCount,
      `segs out ${k.segsOut} in ${k.segsIn}, retransmitted ${k.retransSegs}, RTOs ${k.timeouts}`,
    );
    if (sinkCount !== bulkBytes) notes.push(`our stack: the sink got ${sinkCount} of ${bulkBytes}`);
    if (sinkBad) notes.push(`our stack: the sink saw ${sinkBad} reads with wrong bytes`);
    sink.close();
    settle(poll);
    console.error(`tcp: ours, pass ${pass}: send ${tx.MBps.toFixed(0)} MB/s (${tx.info})`);
    return { samples, rx, tx, notes };
  };

  const results: Pass[] = [];
  for (let pass = 1; pass <= passes; pass++) results.push(runPass(pass));
  result({ kind: "ours", passes: results });

  // 3a. Raw receive: the same source stream, its frames ACKed by a minimal responder on the
  // same port instead of the stack (no checksum check, no reassembly, one ACK per burst).
  const raw = rawReceive(stack, device, port, pool, poll, stop);
  console.error(`tcp: raw: receive ${raw.rx.MBps.toFixed(0)} MB/s (${raw.rx.info})`);
  // 3b. Raw send: 1514-byte UDP frames to a closed port of the namespace, for `seconds`.
  const batch = new PacketBatch(pool, 32);
  const drain = new PacketBatch(pool, 64);
  const fields = {
    srcMac: macToNumber(port.mac),
    dstMac: macToNumber(opts["dst-mac"]!),
    srcIp: parseIpv4(STACK_IP),
    dstIp: parseIpv4(SERVER_IP),
    srcPort: 40000,
    dstPort: BLAST_PORT,
    payloadLength: 1472,
    udpChecksum: false,
  };
  let txFrames = 0;
  const txStart = performance.now(), txEnd = txStart + seconds * 1000;
  for (let it = 0;; it++) {
    const firstFree = batch.alloc(batch.free, 1514);
    for (let i = firstFree; i < batch.count; i++) {
      writeUdpFrame(batch.view, batch.data, batch.offset(i), fields);
    }
    txFrames += port.send(0, batch); // what the driver does not take is freed
    if ((it & 63) === 0 && (performance.now() > txEnd || stop.requested)) break;
    // Drain what comes back (ICMP errors) so the receive ring does not fill.
    if ((it & 7) === 0 && port.receive(0, drain) > 0) drain.clear();
  }
  const txSeconds = (performance.now() - txStart) / 1000;
  raw.txMBps = txFrames * 1514 / 1e6 / txSeconds;
  console.error(`tcp: raw: send ${raw.txMBps.toFixed(0)} MB/s (${txFrames} frames)`);
  result({ kind: "raw", ...raw });
  batch.close();
  drain.close();
  dpdk.close();
}

/**
 * Receives `bulkBytes` from the source without the stack: the stack opens the connection and
 * sends the request; from the first data on, a loop of a few lines reads the port and answers
 * each burst with one ACK of the highest byte seen (timestamps echoed, the stack's window),
 * whatever was lost. What it reaches is what the port and the kernel sender give a receiver
 * that costs next to nothing.
 */
function rawReceive(
  stack: Stack,
  device: SniffingDevice,
  port: Port,
  pool: Mempool,
  poll: () => void,
  stop: StopSignal,
): RawResult {
  const notes: string[] = [];
  const server = parseIpv4(SERVER_IP), us = parseIpv4(STACK_IP);
  let irs = -1;
  device.hook = (data, offset) => {
    const l4 = offset + 14 + (data[offset + 14] & 15) * 4;
    if (
      data[offset + 23] === 6 && (data[l4] << 8 | data[l4 + 1]) === SOURCE_PORT &&
      (data[l4 + 13] & 0x12) === 0x12 // SYN+ACK
    ) {
      irs = (data[l4 + 4] << 24 | data[l4 + 5] << 16 | data[l4 + 6] << 8 | data[l4 + 7]) >>> 0;
    }
  };
  const conn = stack.connect(SERVER_IP, SOURCE_PORT);
  let delivered = 0;
  conn.onData = (_d, _o, length) => delivered += length;
  const header = new Uint8Array(8);
  new DataView(header.buffer).setBigUint64(0, BigInt(bulkBytes));
  conn.onOpen = () => conn.write(header);
  const limit = performance.now() + 10000;
  while (delivered === 0) {
    poll();
    if (performance.now() > limit || stop.requested) {
      throw new Error(`raw receive: no data from the source: ${conn.toString()}`);
    }
  }
  device.hook = null;
  if (irs < 0) throw new Error("raw receive: the SYN-ACK was not seen");
  const scale = Math.max(0, conn.receiveWindowScale);
  const window = Math.min(0xffff, (1 << 20) >>> scale); // the stack's 1 MiB receive buffer
  const localPort = conn.localPort;
  // From here on the stack is not polled again: the loop below owns the connection.
  let rcvNxt = (irs + 1 + delivered) >>> 0;
  let sndNxt = 0, tsRecent = 0, tsEcho = 0, fin = false;
  let bytes = delivered, outOfOrder = 0, acks = 0;
  const rx = new PacketBatch(pool, 64), tx = new PacketBatch(pool, 4);
  const srcMac = macToNumber(port.mac), dstMac = macToNumber(opts["dst-mac"]!);
  const sendAck = (flags: number) => {
    const i = tx.alloc(1, 66);
    const at = tx.offset(i), v = tx.view;
    v.setUint32(at, Math.floor(dstMac / 0x10000));
    v.setUint16(at + 4, dstMac & 0xffff);
    v.setUint32(at + 6, Math.floor(srcMac / 0x10000));
    v.setUint16(at + 10, srcMac & 0xffff);
    v.setUint16(at + 12, 0x0800);
    const ip = at + 14, l4 = ip + 20;
    v.setUint32(ip, 0x45000034); // IPv4, 20-byte header, total 52
    v.setUint32(ip + 4, 0x00004000); // DF
    v.setUint32(ip + 8, 0x40060000); // TTL 64, TCP, checksum below
    v.setUint32(ip + 12, us);
    v.setUint32(ip + 16, server);
    let sum = 0;
    for (let o = 0; o < 20; o += 2) sum += v.getUint16(ip + o);
    v.setUint16(ip + 10, ~fold(sum) & 0xffff);
    v.setUint16(l4, localPort);
    v.setUint16(l4 + 2, SOURCE_PORT);
    v.setUint32(l4 + 4, sndNxt);
    v.setUint32(l4 + 8, rcvNxt);
    v.setUint16(l4 + 12, 0x8000 | flags); // 32-byte header
    v.setUint16(l4 + 14, window);
    v.setUint32(l4 + 16, 0); // checksum, urgent
    v.setUint32(l4 + 20, 0x0101080a); // NOP NOP timestamps
    v.setUint32(l4 + 24, tsEcho); // the peer's echo of our last value: never goes back
    v.setUint32(l4 + 28, tsRecent);
    sum = (us >>> 16) + (us & 0xffff) + (server >>> 16) + (server & 0xffff) + 6 + 32;
    for (let o = 0; o < 32; o += 2) sum += v.getUint16(l4 + o);
    v.setUint16(l4 + 16, ~fold(sum) & 0xffff);
    port.send(0, tx);
    acks++;
  };
  const meter = new Meter();
  meter.start();
  const end = performance.now() + 60000;
  let spins = 0;
  while (!fin) {
    const n = port.receive(0, rx);
    if (n > 0) {
      const d = rx.data, v = rx.view;
      let ack = false;
      for (let i = 0; i < n; i++) {
        const at = rx.offset(i);
        const ihl = (d[at + 14] & 15) * 4, l4 = at + 14 + ihl;
        if (
          d[at + 12] !== 8 || d[at + 13] !== 0 || d[at + 23] !== 6 ||
          v.getUint16(l4) !== SOURCE_PORT || v.getUint16(l4 + 2) !== localPort
        ) continue;
        const doff = (d[l4 + 12] >> 4) * 4, flags = d[l4 + 13];
        const payload = v.getUint16(at + 16) - ihl - doff;
        const seq = v.getUint32(l4 + 4);
        sndNxt = v.getUint32(l4 + 8);
        if (doff === 32 && v.getUint32(l4 + 20) === 0x0101080a) {
          tsRecent = v.getUint32(l4 + 24);
          tsEcho = v.getUint32(l4 + 28);
        }
        ack = true;
        // Everything up to the highest byte seen is acknowledged: a lost frame is counted
        // (not recovered), so the sender runs as if nothing were lost.
        const endSeq = (seq + payload) >>> 0;
        if (((endSeq - rcvNxt) | 0) > 0) { // new bytes (a retransmission may overlap old ones)
          const hole = (seq - rcvNxt) | 0;
          if (hole > 0) outOfOrder++; // frames were lost before this one
          bytes += hole > 0 ? payload : (endSeq - rcvNxt) | 0;
          rcvNxt = endSeq;
        }
        if (flags & 1) {
          rcvNxt = (seq + payload + 1) >>> 0;
          fin = true;
        }
      }
      rx.clear();
      if (ack) sendAck(fin ? 0x11 : 0x10); // our FIN with the last ACK: the server may close
    }
    if ((++spins & 1023) === 0 && (performance.now() > end || stop.requested)) {
      notes.push(`raw receive: stopped at ${bytes} of ${bulkBytes} bytes`);
      break;
    }
  }
  const r = meter.stop(
    bytes - delivered,
    `${acks} ACKs, ${outOfOrder} holes, ${bulkBytes - bytes} bytes lost and not recovered`,
  );
  rx.close();
  tx.close();
  return { rx: r, txMBps: 0, notes };
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

// ------------------------------------------------------------------ Deno's kernel TCP (child)

async function kernelRole(): Promise<void> {
  const notes: string[] = [];
  const connect = async (port: number) => {
    const conn = await Deno.connect({ hostname: SERVER_IP, port });
    conn.setNoDelay(true);
    return conn;
  };
  const readFull = async (conn: Deno.Conn, buf: Uint8Array) => {
    for (let at = 0; at < buf.length;) {
      const n = await conn.read(buf.subarray(at));
      if (n === null) throw new Error("kernel: the server closed early");
      at += n;
    }
  };

  // 1. Ping-pong latency.
  const echo = await connect(ECHO_PORT);
  const out = new Uint8Array(64), back = new Uint8Array(64);
  const samples: number[] = [];
  let badEcho = 0;
  for (let i = 0; i < warmup + passRounds; i++) {
    out[0] = i & 255;
    out[63] = (i >> 8) & 255;
    const start = performance.now();
    for (let at = 0; at < 64;) at += await echo.write(out.subarray(at));
    await readFull(echo, back);
    const us = (performance.now() - start) * 1000;
    if (i >= warmup) samples.push(round2(us));
    if (back[0] !== out[0] || back[63] !== out[63]) badEcho++;
  }
  echo.close();
  if (badEcho) notes.push(`kernel: ${badEcho} echoes came back different`);
  console.error(`tcp: kernel: ping-pong p50 ${percentiles(samples).p50.toFixed(1)} µs`);

  // 2a. Bulk receive.
  const meter = new Meter();
  const buf = new Uint8Array(1 << 20);
  const src = await connect(SOURCE_PORT);
  const header = new Uint8Array(8);
  new DataView(header.buffer).setBigUint64(0, BigInt(bulkBytes));
  let received = 0, rxBad = 0, reads = 0;
  meter.start();
  await src.write(header);
  for (;;) {
    const n = await src.read(buf);
    if (n === null) break;
    if (buf[0] !== received % PATTERN || buf[n - 1] !== (received + n - 1) % PATTERN) rxBad++;
    received += n;
    reads++;
  }
  const rx = meter.stop(received, `${reads} reads`);
  src.close();
  if (received !== bulkBytes) notes.push(`kernel: received ${received} of ${bulkBytes} bytes`);
  if (rxBad) notes.push(`kernel: ${rxBad} reads with wrong bytes`);
  console.error(`tcp: kernel: receive ${rx.MBps.toFixed(0)} MB/s (${rx.info})`);

  // 2b. Bulk send.
  const sink = await connect(SINK_PORT);
  let sent = 0, writes = 0;
  meter.start();
  while (sent < bulkBytes) {
    const at = sent % CHUNK;
    sent += await sink.write(
      patternChunk.subarray(at, at + Math.min(CHUNK - at, bulkBytes - sent)),
    );
    writes++;
  }
  await sink.closeWrite();
  const answer = new Uint8Array(16);
  await readFull(sink, answer);
  sink.close();
  const av = new DataView(answer.buffer);
  const sinkCount = Number(av.getBigUint64(0)), sinkBad = Number(av.getBigUint64(8));
  const tx = meter.stop(sinkCount, `${writes} writes`);
  if (sinkCount !== bulkBytes) notes.push(`kernel: the sink got ${sinkCount} of ${bulkBytes}`);
  if (sinkBad) notes.push(`kernel: the sink saw ${sinkBad} reads with wrong bytes`);
  console.error(`tcp: kernel: send ${tx.MBps.toFixed(0)} MB/s (${tx.info})`);
  const pass: Pass = { samples, rx, tx, notes };
  result({ kind: "kernel", passes: [pass] });
}

// ------------------------------------------------------------------ the kernel server (Python)

const SERVER_PY = `
import socket, struct, sys, threading
P = ${PATTERN}
CHUNK = memoryview(bytes(i % P for i in range(${CHUNK})))

def serve(port, handler):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("${SERVER_IP}", port))
    s.listen(16)
    def loop():
        while True:
            c, _ = s.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=guarded, args=(handler, c), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

def guarded(handler, c):
    try:
        handler(c)
    except OSError as e:
        print("server:", handler.__name__, e, file=sys.stderr, flush=True)
    finally:
        c.close()

def echo(c):
    buf = bytearray(65536)
    mv = memoryview(buf)
    while True:
        n = c.recv_into(buf)
        if n == 0:
            return
        c.sendall(mv[:n])

def sink(c):
    buf = bytearray(1 << 20)
    total = bad = 0
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        if buf[0] != total % P or buf[n - 1] != (total + n - 1) % P:
            bad += 1
        total += n
    c.sendall(struct.pack("!QQ", total, bad))

def source(c):
    head = b""
    while len(head) < 8:
        more = c.recv(8 - len(head))
        if not more:
            return
        head += more
    (left,) = struct.unpack("!Q", head)
    while left > 0:
        k = min(left, len(CHUNK))
        c.sendall(CHUNK[:k])
        left -= k
    c.shutdown(socket.SHUT_WR)
    c.settimeout(10)
    while c.recv(65536):
        pass

serve(${ECHO_PORT}, echo)
serve(${SINK_PORT}, sink)
serve(${SOURCE_PORT}, source)
print("READY", flush=True)
threading.Event().wait()
`;

// ------------------------------------------------------------------ orchestration

function selfArgs(role: string, extra: string[] = []): string[] {
  return denoRunSelf(import.meta.url, [
    "--role",
    role,
    "--seconds",
    String(seconds),
    "--mb",
    String(opts.mb),
    "--rounds",
    String(rounds),
    "--warmup",
    String(warmup),
    "--passes",
    String(passes),
    ...extra,
  ]);
}

async function run(): Promise<void> {
  if (!isRoot("TCP")) return;
  const ours: Pass[] = [], kernel: Pass[] = [];
  let raw: RawResult | undefined;
  const load = await runOnTestbed(BED, { tag: "tcp", limitMs: 300000 }, async (spawn, nsMac) => {
    const server = spawn("ip", [
      "netns",
      "exec",
      BED.ns,
      "taskset",
      "-c",
      "1",
      "/usr/bin/python3",
      "-u",
      "-c",
      SERVER_PY,
    ]);
    await server.until("READY");
    // Deno's kernel path on CPU 0, like the DPDK process (its EAL pins it to lcore 0). It runs
    // while no af_packet socket is open on the veth (which would be handed a copy of each frame).
    const kernelPass = async () => {
      const k = spawn("taskset", ["-c", "0", Deno.execPath(), ...selfArgs("kernel")]);
      kernel.push(...JSON.parse(await k.until("RESULT ")).passes);
      await k.process.status;
    };
    await kernelPass();
    const d = spawn(Deno.execPath(), selfArgs("dpdk", ["--dst-mac", nsMac]));
    ours.push(...JSON.parse(await d.until("RESULT ")).passes);
    const rawLine = JSON.parse(await d.until("RESULT "));
    const status = await d.process.status;
    if (!status.success) throw new Error(`the DPDK process failed (exit ${status.code})`);
    raw = { rx: rawLine.rx, txMBps: rawLine.txMBps, notes: rawLine.notes };
    if (passes === 2) await kernelPass();
    server.kill();
    await server.process.status;
  });
  report(ours, kernel, raw!, load);
}

/** The pass with the best rate of a direction (the machine's noise only ever slows a run). */
function best(list: Pass[], dir: "rx" | "tx"): Transfer {
  return list.map((p) => p[dir]).reduce((a, b) => (b.MBps > a.MBps ? b : a));
}

function report(
  ours: Pass[],
  kernel: Pass[],
  raw: RawResult,
  load: Load,
): void {
  const latOurs = percentiles(ours.flatMap((p) => p.samples));
  const latKernel = percentiles(kernel.flatMap((p) => p.samples));
  const rxOurs = best(ours, "rx"), txOurs = best(ours, "tx");
  const rxKernel = best(kernel, "rx"), txKernel = best(kernel, "tx");
  const rxShare = rxOurs.MBps / raw.rx.MBps, txShare = txOurs.MBps / raw.txMBps;
  const notes = [...ours, ...kernel].flatMap((p) => p.notes).concat(raw.notes);
  const machine = machineInfo(load);
  if (opts.json) {
    const r3 = round3, lat = roundLatency;
    const transfer = (t: Transfer) => ({
      MBps: r3(t.MBps),
      cpu_ms_per_MB: r3(t.cpuMsPerMB),
      machine_cpu_ms_per_MB: r3(t.machineCpuMsPerMB),
      info: t.info,
    });
    const path = (list: Pass[], l: Latency) => ({
      latency_us: lat(l),
      rx: transfer(best(list, "rx")),
      tx: transfer(best(list, "tx")),
      passes: list.map((p) => ({ rx: transfer(p.rx), tx: transfer(p.tx) })),
    });
    console.log(JSON.stringify({
      machine,
      rounds,
      passes,
      bulk_bytes: bulkBytes,
      ours: path(ours, latOurs),
      kernel: path(kernel, latKernel),
      raw: { rx: transfer(raw.rx), tx_MBps: r3(raw.txMBps) },
      ours_rx_share_of_raw: r3(rxShare),
      ours_tx_share_of_raw: r3(txShare),
      latency_ratio_kernel_over_ours: {
        p50: r3(latKernel.p50 / latOurs.p50),
        p99: r3(latKernel.p99 / latOurs.p99),
      },
      problems: notes,
    }));
    return;
  }
  const f = (x: number, d = 1) => x.toFixed(d);
  const mb = f(bulkBytes / 1e6, 0);
  console.log(headline("TCP", machine, load));
  console.log(
    `${
      vethSummary(BED)
    } server: Python on kernel sockets, TCP_NODELAY. ours: stack/ on net_af_packet (framesz ${AF_PACKET_FRAME}), ` +
      `busy-polled on CPU 0. kernel: Deno.connect + setNoDelay, on CPU 0 (taskset). ` +
      (passes === 2 ? "Order: kernel, ours, ours, kernel." : "Order: kernel, ours."),
  );
  const rows: [string, string, string, string][] = [
    [`ping-pong 64 B p50 µs (${rounds} rounds)`, f(latOurs.p50), f(latKernel.p50), ""],
    ["ping-pong 64 B p99 µs", f(latOurs.p99), f(latKernel.p99), ""],
    ["ping-pong 64 B p99.9 µs", f(latOurs.p999), f(latKernel.p999), ""],
    ["ping-pong 64 B max µs", f(latOurs.max), f(latKernel.max), ""],
    [
      `receive MB/s (${mb} MB, best of ${passes})`,
      f(rxOurs.MBps, 0),
      f(rxKernel.MBps, 0),
      `${f(raw.rx.MBps, 0)} (same TCP stream, minimal ACKer)`,
    ],
    [
      `send MB/s (${mb} MB, best of ${passes})`,
      f(txOurs.MBps, 0),
      f(txKernel.MBps, 0),
      `${f(raw.txMBps, 0)} (1514-B UDP frames)`,
    ],
    [
      "ours as % of raw: receive / send",
      `${f(rxShare * 100, 0)}% / ${f(txShare * 100, 0)}%`,
      "",
      "",
    ],
    [
      "CPU ms per MB received: process",
      f(rxOurs.cpuMsPerMB, 2),
      f(rxKernel.cpuMsPerMB, 2),
      f(raw.rx.cpuMsPerMB, 2),
    ],
    [
      "CPU ms per MB received: machine",
      f(rxOurs.machineCpuMsPerMB, 2),
      f(rxKernel.machineCpuMsPerMB, 2),
      f(raw.rx.machineCpuMsPerMB, 2),
    ],
    ["CPU ms per MB sent: process", f(txOurs.cpuMsPerMB, 2), f(txKernel.cpuMsPerMB, 2), ""],
    [
      "CPU ms per MB sent: machine",
      f(txOurs.machineCpuMsPerMB, 2),
      f(txKernel.machineCpuMsPerMB, 2),
      "",
    ],
  ];
  console.log(
    `${tableRow("", 42, ["ours (stack/)", "kernel (Deno)"], 14, " ")}  raw port, no stack`,
  );
  for (const [name, a, b, c] of rows) console.log(`${tableRow(name, 42, [a, b], 14, " ")}  ${c}`);
  console.log(
    `kernel/ours latency: p50 ${f(latKernel.p50 / latOurs.p50, 2)}x, p99 ` +
      `${f(latKernel.p99 / latOurs.p99, 2)}x (target ≥ 2x); ours receives at ` +
      `${f(rxShare * 100, 0)}% of raw (target ≥ 80%)`,
  );
  console.log(
    "notes: ours busy-polls: its process CPU is its wall time. Machine CPU: all CPUs' busy time " +
      "(/proc/stat, 10 ms ticks), the server's and the softirqs' included, and any other load. " +
      "The kernel path's process CPU leaves out softirq work done for it in other contexts (the " +
      "sender's, ksoftirqd). Over a veth the receiver's kernel work runs in the sender's system " +
      "calls: our af_packet transmit runs the namespace's TCP receive (and its replies).",
  );
  for (const n of notes) console.log(`PROBLEM: ${n}`);
}

switch (opts.role) {
  case "dpdk":
    dpdkRole();
    break;
  case "kernel":
    await kernelRole();
    break;
  default:
    await run();
}
