/**
 * The benchmark workloads, each twice: in TypeScript against the public API,
 * and the C reference loop of the shim, run on the same ports.
 * Each function runs `iterations` bursts and returns the packets processed.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import type { Mempool, PacketBatch, Port } from "../mod.ts";
import { type PacketParser, parseIpv4, ParseStatus, writeUdpFrame } from "../net/mod.ts";

/** Flow table size (a power of two) for the parse workload; one more slot counts non-UDP. */
export const FLOW_SLOTS = 4096;

/** io: receive a burst, send it. */
export function denoIo(rx: Port, tx: Port, batch: PacketBatch, iterations: number): number {
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    const n = rx.receive(0, batch);
    if (n === 0) continue;
    total += n;
    tx.send(0, batch);
  }
  return total;
}

/** Swaps destination and source MAC of the first `n` packets of `batch`, in place. */
export function swapMacs(batch: PacketBatch, n: number): void {
  const view = batch.view;
  for (let i = 0; i < n; i++) {
    const at = batch.offset(i);
    const d0 = view.getUint32(at), d1 = view.getUint16(at + 4);
    view.setUint32(at, view.getUint32(at + 6));
    view.setUint16(at + 4, view.getUint16(at + 10));
    view.setUint32(at + 6, d0);
    view.setUint16(at + 10, d1);
  }
}

/** macswap: swap destination and source MAC through the pool's DataView, then send. */
export function denoMacswap(rx: Port, tx: Port, batch: PacketBatch, iterations: number): number {
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    const n = rx.receive(0, batch);
    swapMacs(batch, n);
    if (n === 0) continue;
    total += n;
    tx.send(0, batch);
  }
  return total;
}

/** Adds one IPv4/UDP 5-tuple to the flow table, with the same hash as the C loop. */
function countFlow(table: Uint32Array, src: number, dst: number, ports: number): void {
  let h = Math.imul(src, 0x9e3779b1) ^ dst;
  h = Math.imul(h, 0x85ebca6b) ^ ports;
  h = Math.imul(h, 0xc2b2ae35) ^ 17;
  table[(h ^ (h >>> 16)) & (FLOW_SLOTS - 1)]++;
}

/**
 * parse: every packet through the public {@linkcode PacketParser} (what users run), its
 * IPv4/UDP 5-tuple hashed into `table` (same hash as the C loop, so both tables must match),
 * then sent back out of `port`.
 */
export function denoParse(
  port: Port,
  batch: PacketBatch,
  iterations: number,
  table: Uint32Array,
  parser: PacketParser,
): number {
  const view = batch.view;
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    const n = port.receive(0, batch);
    for (let i = 0; i < n; i++) {
      if (
        parser.parse(view, batch.offset(i), batch.length(i)) === ParseStatus.OK &&
        parser.ipVersion === 4 && parser.ipProtocol === 17
      ) {
        countFlow(table, parser.srcIpv4, parser.dstIpv4, parser.srcPort << 16 | parser.dstPort);
      } else {
        table[FLOW_SLOTS]++;
      }
    }
    if (n === 0) continue;
    total += n;
    port.send(0, batch);
  }
  return total;
}

/**
 * parse-raw: the same work with the Ethernet/IPv4/UDP reads written out by hand, as the C
 * loop does: the floor under {@linkcode denoParse}.
 */
export function denoParseRaw(
  port: Port,
  batch: PacketBatch,
  iterations: number,
  table: Uint32Array,
): number {
  const view = batch.view, data = batch.data;
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    const n = port.receive(0, batch);
    for (let i = 0; i < n; i++) {
      const at = batch.offset(i), len = batch.length(i);
      if (
        len < 42 || view.getUint16(at + 12) !== 0x0800 || data[at + 14] >> 4 !== 4 ||
        data[at + 23] !== 17
      ) {
        table[FLOW_SLOTS]++;
        continue;
      }
      const ihl = (data[at + 14] & 0x0f) * 4;
      if (ihl < 20 || 14 + ihl + 8 > len) {
        table[FLOW_SLOTS]++;
        continue;
      }
      countFlow(
        table,
        view.getUint32(at + 26),
        view.getUint32(at + 30),
        view.getUint32(at + 14 + ihl),
      );
    }
    if (n === 0) continue;
    total += n;
    port.send(0, batch);
  }
  return total;
}

/** State of the txgen workload: the sequence number and the reused frame fields. */
export interface TxgenState {
  seq: number;
  fields: {
    srcMac: number;
    dstMac: number;
    srcIp: number;
    dstIp: number;
    srcPort: number;
    dstPort: number;
    payloadLength: number;
  };
}

/** Fields shared by the TypeScript and C txgen: 10.0.0.1:1234 -> 10.0.0.2:5678, 60-byte frames. */
export function txgenState(): TxgenState {
  return {
    seq: 0,
    fields: {
      srcMac: 0x020000000001,
      dstMac: 0x020000000002,
      srcIp: parseIpv4("10.0.0.1"),
      dstIp: parseIpv4("10.0.0.2"),
      srcPort: 1234,
      dstPort: 5678,
      payloadLength: 18,
    },
  };
}

/**
 * txgen: allocate a burst, write each Ethernet/IPv4/UDP frame in place with
 * correct checksums and a sequence number in the payload, send.
 */
export function denoTxgen(
  tx: Port,
  batch: PacketBatch,
  iterations: number,
  state: TxgenState,
): number {
  const view = batch.view, data = batch.data;
  const burst = batch.capacity;
  const fields = state.fields;
  let seq = state.seq;
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    batch.alloc(burst, 60); // each packet 60 bytes long, as writeUdpFrame makes it
    for (let i = 0; i < burst; i++) {
      const at = batch.offset(i);
      // Payload first (sequence number, zero padding): the UDP checksum covers it.
      view.setUint32(at + 42, Math.floor(seq / 0x100000000));
      view.setUint32(at + 46, seq >>> 0);
      view.setUint32(at + 50, 0);
      view.setUint32(at + 54, 0);
      view.setUint16(at + 58, 0);
      seq++;
      writeUdpFrame(view, data, at, fields);
    }
    total += burst;
    tx.send(0, batch);
  }
  state.seq = seq;
  return total;
}

/** What {@linkcode latencyLoop} measured: a histogram of per-burst times. */
export interface LatencyProfile {
  /** Counts per bucket of `bucketNs` nanoseconds, up to 1 ms. */
  buckets: Float64Array;
  /** Width of a bucket in ns. */
  bucketNs: number;
  /** Bursts timed. */
  bursts: number;
  /** Packets forwarded. */
  packets: number;
  /** Longest burst in ns. */
  max: number;
  /** Bursts longer than the histogram (1 ms). */
  over: number;
}

/**
 * The macswap loop for `seconds`, timing every burst (receive, swap, send) with the TSC.
 * Its own function with plain locals: variables a closure captured, or doubles carried
 * across the loop's calls, would be boxed on every iteration.
 */
export function latencyLoop(
  rx: Port,
  tx: Port,
  batch: PacketBatch,
  seconds: number,
): LatencyProfile {
  const s = library().symbols;
  const lap = s.dd_tsc_lap;
  const cycles = new Uint32Array(new ArrayBuffer(4)); // off-heap: the pointer stays valid
  const cyclesPtr = Deno.UnsafePointer.of(cycles);
  const nsPerCycle = 1e9 / Number(s.dd_tsc_hz());
  const bucketNs = 10, buckets = new Float64Array(100_000);
  // Everything the loop carries is a small integer (cycles, counts): no double lives across
  // the FFI calls, so nothing is boxed.
  const cyclesPerBucket = bucketNs / nsPerCycle;
  let maxCycles = 0, bursts = 0, packets = 0, over = 0;
  const end = performance.now() + seconds * 1000;
  lap(cyclesPtr);
  for (let it = 0;; it++) {
    swapMacs(batch, rx.receive(0, batch));
    packets += tx.send(0, batch);
    lap(cyclesPtr);
    const c = cycles[0];
    const b = (c / cyclesPerBucket) | 0;
    if (b < buckets.length) buckets[b]++;
    else over++;
    if (c > maxCycles) maxCycles = c;
    bursts++;
    if ((it & 4095) === 0 && performance.now() > end) break;
  }
  return { buckets, bucketNs, bursts, packets, max: maxCycles * nsPerCycle, over };
}

/** rxdrop: receive a burst and free it. */
export function denoRxdrop(rx: Port, batch: PacketBatch, iterations: number): number {
  let total = 0;
  for (let it = 0; it < iterations; it++) {
    const n = rx.receive(0, batch);
    if (n === 0) continue;
    total += n;
    batch.clear();
  }
  return total;
}

/** The C reference loops, as plain functions over port ids. */
export function cLoops(): {
  io(rx: number, tx: number, burst: number, iterations: number): number;
  macswap(rx: number, tx: number, burst: number, iterations: number): number;
  parse(port: number, burst: number, iterations: number, table: Uint32Array): number;
  txgen(tx: number, pool: Mempool, burst: number, iterations: number, seq: BigUint64Array): number;
  rxdrop(rx: number, burst: number, iterations: number): number;
} {
  const s = library().symbols;
  return {
    io: (rx, tx, burst, iterations) => Number(s.dd_ref_io(rx, tx, burst, iterations)),
    macswap: (rx, tx, burst, iterations) => Number(s.dd_ref_macswap(rx, tx, burst, iterations)),
    parse: (port, burst, iterations, table) =>
      Number(s.dd_ref_parse(port, burst, iterations, table, FLOW_SLOTS - 1)),
    txgen: (tx, pool, burst, iterations, seq) =>
      Number(
        s.dd_ref_txgen(tx, pool.unsafeHandle, burst, iterations, new Uint8Array(seq.buffer)),
      ),
    rxdrop: (rx, burst, iterations) => Number(s.dd_ref_rxdrop(rx, burst, iterations)),
  };
}
