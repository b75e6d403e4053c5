/**
 * Packet batches: the unit of every receive, send and allocation.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { BatchFlag, BatchWord, type DpdkLibrary } from "../ffi/symbols.ts";
import { check, DpdkError } from "./errors.ts";
import type { Mempool } from "./mempool.ts";
import {
  ChecksumStatus,
  type MbufLayout,
  mbufLayout,
  rxTimestampField,
  TxChecksum,
} from "./mbuf.ts";

/** Options of the {@linkcode PacketBatch} constructor. */
export interface PacketBatchOptions {
  /**
   * Read the TSC once per receive that returns packets, for
   * {@linkcode PacketBatch.arrivalTsc} (one read per burst, none per packet).
   * Default: `false`.
   */
  arrivalTime?: boolean;
}

const TWO_32 = 4294967296;
const K_BASE_LO = 0, K_SIZE = 1, K_LAST_MBUF = 2, K_BUF_AT = 3;
/** What {@linkcode PacketBatch.offset} returns for an index that holds no packet. */
const POISON_OFFSET = TWO_32;

/**
 * A reusable batch of up to `capacity` packets of one {@linkcode Mempool}.
 *
 * Receiving and sending move mbuf pointers only, as DPDK's C loops do. Each
 * packet's fields are read and written in place, lazily, from its mbuf header
 * inside the pool's memory: `offset(i)` and `length(i)` locate packet `i`'s
 * bytes in {@linkcode PacketBatch.data} and {@linkcode PacketBatch.view}, the
 * pool's memory mapped once. Nothing here allocates per packet, and each
 * operation is one FFI call per burst.
 *
 * The batch owns the mbufs it holds until they are sent, dropped or freed;
 * closing the batch frees them. Receiving appends to the batch; sending
 * empties it. Accessors take an index below {@linkcode PacketBatch.count}:
 * a packet that was sent or freed can no longer be reached through the batch.
 *
 * Chained (multi-segment) packets, from scattered receive or jumbo frames, are
 * read segment by segment ({@linkcode PacketBatch.segment}) or copied out
 * whole ({@linkcode PacketBatch.copyOut}).
 *
 * @example
 * ```ts
 * import { Eal, Mempool, PacketBatch, Port } from "@deno-dpdk/dpdk";
 * Eal.init({ hugepages: false, pci: false, vdevs: ["net_null0"] });
 * const pool = Mempool.create();
 * const port = Port.open(0, { pool });
 * using batch = new PacketBatch(pool, 32);
 * const n = port.receive(0, batch);
 * for (let i = 0; i < n; i++) {
 *   batch.view.setUint16(batch.offset(i) + 12, 0x0800); // EtherType, in place
 * }
 * port.send(0, batch); // sends what it can, frees the rest
 * ```
 */
export class PacketBatch {
  #handle: Deno.PointerObject | null;
  #pool: Mempool;
  #header: Uint32Array;
  #ptrs: Uint32Array;
  #drops: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  // Region base (its low word), size and last mbuf header offset as 32-bit integers: kept in a
  // typed array, optimised code loads them as machine words (object fields holding numbers
  // beyond V8's small-integer range would be boxed doubles).
  #k = new Int32Array(4);
  #layout: MbufLayout;
  // Field offsets, copied from the layout so the accessors read plain instance slots.
  #oBufAddr: number;
  #oDataOff: number;
  #oNbSegs: number;
  #oFlags: number;
  #oPktLen: number;
  #oDataLen: number;
  #oBufLen: number;
  #oNext: number;
  #attachedFlags: number;
  #detach: () => void;
  // Taken from lib.symbols once: called through a property chain each time, V8 does not
  // keep them on the fast-call path and every call allocates.
  #allocBulk: DpdkLibrary["symbols"]["dd_batch_alloc"];
  #allocChain: DpdkLibrary["symbols"]["dd_batch_alloc_chain"];
  #freeAll: DpdkLibrary["symbols"]["dd_batch_free_all"];
  #sweep: DpdkLibrary["symbols"]["dd_batch_sweep"];
  /** The pool's memory region (same object as `pool.data`). */
  readonly data: Uint8Array;
  /** A DataView over the pool's memory region (same object as `pool.view`). */
  readonly view: DataView;
  /** Maximum number of packets. */
  readonly capacity: number;

  /**
   * Creates an empty batch for packets of `pool`, holding at most `capacity`
   * (1..65536). Any capacity receives on any driver, vector ones included: a
   * batch with fewer than 32 free slots receives through a per-queue stash.
   */
  constructor(pool: Mempool, capacity = 32, options: PacketBatchOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) {
      throw new RangeError(`PacketBatch capacity ${capacity} must be an integer in 1..65536`);
    }
    const s = library().symbols;
    this.#allocBulk = s.dd_batch_alloc;
    this.#allocChain = s.dd_batch_alloc_chain;
    this.#freeAll = s.dd_batch_free_all;
    this.#sweep = s.dd_batch_sweep;
    // The batch lives in a JS-owned buffer (off-heap, never moved by the GC):
    // no C allocation to free, and no dangling pointer after close. The typed
    // views below keep it alive as long as the batch object.
    const buffer = new ArrayBuffer(Number(s.dd_batch_bytes(capacity)));
    const handle = Deno.UnsafePointer.of(buffer);
    if (handle === null) throw new DpdkError("PacketBatch", 0, "no pointer for the batch buffer");
    check("PacketBatch", s.dd_batch_init(handle, pool.unsafeHandle, capacity));
    this.#handle = handle;
    this.#pool = pool;
    this.capacity = capacity;
    const header = BatchWord.HEADER_BYTES;
    this.#header = new Uint32Array(buffer, 0, header / 4);
    this.#ptrs = new Uint32Array(buffer, header, capacity * 2);
    this.#drops = new Uint8Array(buffer, header + capacity * 8, capacity);
    if (options.arrivalTime) this.#header[BatchWord.FLAGS] |= BatchFlag.TSC;
    this.data = pool.data;
    this.view = pool.view;
    // Host-order views of the region for mbuf header fields (mbufs are cache-line aligned).
    const region = this.data.buffer;
    this.#u16 = new Uint16Array(region, 0, region.byteLength >>> 1);
    this.#u32 = new Uint32Array(region, 0, region.byteLength >>> 2);
    this.#k[K_BASE_LO] = this.#header[0];
    if (this.#header[3] !== 0 || this.#header[2] > 0x7fffffff) {
      throw new DpdkError("PacketBatch", 0, `pool "${pool.name}" spans 2 GB or more`);
    }
    this.#k[K_SIZE] = this.#header[2];
    const l = this.#layout = mbufLayout();
    this.#k[K_LAST_MBUF] = this.#header[2] - l.size;
    this.#oBufAddr = l.bufAddr;
    this.#oDataOff = l.dataOff;
    this.#oNbSegs = l.nbSegs;
    this.#oFlags = l.olFlags;
    this.#oPktLen = l.pktLen;
    this.#oDataLen = l.dataLen;
    this.#oBufLen = l.bufLen;
    this.#oNext = l.next;
    this.#attachedFlags = l.tx.external | l.tx.indirect;
    this.#k[K_BUF_AT] = this.#header[BatchWord.BUF_AT];
    this.#detach = pool.adopt(() => this.close());
  }

  /** Number of packets held. */
  get count(): number {
    return this.#header[BatchWord.COUNT];
  }

  /** Packets that still fit. */
  get free(): number {
    return this.capacity - this.#header[BatchWord.COUNT];
  }

  /** Largest packet length a fresh buffer of the pool can hold (data room less headroom). */
  get room(): number {
    return this.#header[BatchWord.ROOM];
  }

  /** The pool the batch's packets belong to. */
  get pool(): Mempool {
    return this.#pool;
  }

  /** Whether {@linkcode PacketBatch.close} has run. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * TSC at the last receive that returned packets, when the batch was created
   * with `arrivalTime: true` (else 0). Convert differences with `tscToNs`.
   */
  get arrivalTsc(): number {
    return this.#header[BatchWord.TSC + 1] * TWO_32 + this.#header[BatchWord.TSC];
  }

  /** Mbufs outside the pool's memory seen by the last receive (internal, for Port). */
  get foreignCount(): number {
    return this.#header[BatchWord.FOREIGN];
  }

  /**
   * UNSAFE: the raw `struct dd_batch *`, for the shim's burst functions.
   * Throws if the batch is closed.
   */
  get unsafeHandle(): Deno.PointerObject {
    const h = this.#handle;
    if (h === null) throw new DpdkError("PacketBatch", 0, "Cannot use a closed PacketBatch");
    return h;
  }

  // ------------------------------------------------------------ mbuf access

  // The accessors are written for V8: no call and no throw on the way (either would cost
  // ~2 ns per packet), every check a select. A slot that holds no packet (sent, freed, never
  // filled, or an index outside the batch) yields mbuf offset 0, where no mbuf can start (a
  // mempool object header lies there); reading it gives a poisoned value, never another
  // packet's bytes: offset() returns POISON_OFFSET (DataView access throws a RangeError,
  // Uint8Array access reads undefined and writes nothing), lengths and fields read 0.
  // Receive guarantees every pointer it appends lies in the region (foreign mbufs throw).

  /** Offset of packet `i`'s mbuf header in the region, or 0 when `i` holds no packet. */
  #mbuf(i: number): number {
    const k = this.#k;
    const m = (this.#ptrs[2 * i] - k[K_BASE_LO]) >>> 0; // an index out of range reads 0
    return ((m - 1) >>> 0) < k[K_LAST_MBUF] ? m : 0;
  }

  /**
   * Offset in the region of a direct mbuf's data: its buffer follows its header, so the data is
   * at `m + sizeof(rte_mbuf) + priv + data_off`. An indirect (cloned) or external buffer lies
   * elsewhere: it gets POISON_OFFSET here, the copying methods reach it through `buf_addr`.
   */
  #data(m: number): number {
    const d = m + this.#k[K_BUF_AT] + this.#u16[(m + this.#oDataOff) >>> 1];
    const attached = this.#u32[(m + this.#oFlags + 4) >>> 2] & this.#attachedFlags;
    return m !== 0 && attached === 0 ? d : POISON_OFFSET;
  }

  /** Offset of a segment's data through its `buf_addr` (any buffer inside the pool's memory). */
  #bufferData(m: number): number {
    const w = (m + this.#oBufAddr) >>> 2;
    const at = (this.#u32[w + 1] - this.#header[1]) * TWO_32 + (this.#u32[w] - this.#header[0]);
    const d = at + this.#u16[(m + this.#oDataOff) >>> 1];
    return m !== 0 && d >= 0 && d < this.#k[K_SIZE] ? d : POISON_OFFSET;
  }

  #badIndex(i: number, what: string): never {
    const count = this.#header[BatchWord.COUNT];
    if (this.#handle === null) {
      throw new DpdkError("PacketBatch", 0, `Cannot ${what} packets of a closed PacketBatch`);
    }
    throw new RangeError(
      `PacketBatch.${what}: packet index ${i} is outside 0..${count - 1} (${count} held; ` +
        `packets that were sent, dropped or freed cannot be reached)`,
    );
  }

  /** Packet `i`'s mbuf header offset, or a RangeError: for the methods that write or copy. */
  #held(i: number, what: string): number {
    const m = this.#mbuf(i);
    if (m === 0 || !((i >>> 0) === i && i < this.#header[BatchWord.COUNT])) {
      this.#badIndex(i, what);
    }
    return m;
  }

  /** Offset of packet `i`'s data, or an error: for the methods that write or copy. */
  #heldData(i: number, what: string): number {
    return this.#segmentData(this.#held(i, what), what);
  }

  /** Offset of a segment's data, or an error when it lies outside the pool. */
  #segmentData(m: number, what: string): number {
    const d = this.#bufferData(m);
    if (d === POISON_OFFSET) {
      throw new DpdkError(
        "PacketBatch",
        0,
        `PacketBatch.${what}: a packet points at data outside pool "${this.#pool.name}" ` +
          `(an external buffer): it cannot be reached in place`,
      );
    }
    return d;
  }

  /**
   * Offset of packet `i`'s first byte in {@linkcode PacketBatch.data} and
   * {@linkcode PacketBatch.view}. For a chain, of its first segment. A packet
   * whose mbuf is attached to another's buffer (a clone) or to an external
   * buffer reads as poison here, like an index that holds no packet:
   * {@linkcode PacketBatch.copyOut} and {@linkcode PacketBatch.segmentOffset}
   * reach a clone's bytes.
   */
  offset(i: number): number {
    return this.#data(this.#mbuf(i));
  }

  /** A 16-bit mbuf field of packet `i`, 0 when `i` holds no packet. */
  #u16Field(i: number, field: number): number {
    const m = this.#mbuf(i);
    return m !== 0 ? this.#u16[(m + field) >>> 1] : 0;
  }

  /** A 32-bit mbuf field of packet `i`, 0 when `i` holds no packet. */
  #u32Field(i: number, field: number): number {
    const m = this.#mbuf(i);
    return m !== 0 ? this.#u32[(m + field) >>> 2] : 0;
  }

  /** Bytes of packet `i` at {@linkcode PacketBatch.offset} (`data_len`: its first segment). */
  length(i: number): number {
    return this.#u16Field(i, this.#oDataLen);
  }

  /** Bytes of packet `i` over all its segments (`pkt_len`). */
  packetLength(i: number): number {
    return this.#u32Field(i, this.#oPktLen);
  }

  /** Number of segments of packet `i` (`nb_segs`; 1 unless it is a chain). */
  segmentCount(i: number): number {
    return this.#u16Field(i, this.#oNbSegs);
  }

  /**
   * Sets the length of single-segment packet `i` (before sending it). Refused
   * with a RangeError, at once, when `length` exceeds the packet's buffer; and
   * for a chain, whose segments keep their own lengths.
   */
  setLength(i: number, length: number): void {
    const m = this.#held(i, "setLength"), u16 = this.#u16;
    const max = u16[(m + this.#oBufLen) >>> 1] - u16[(m + this.#oDataOff) >>> 1];
    if (!((length >>> 0) === length && length <= max)) {
      throw new RangeError(
        `PacketBatch.setLength: length ${length} of packet ${i} is outside 0..${max} ` +
          `(what its buffer holds after the headroom)`,
      );
    }
    if (u16[(m + this.#oNbSegs) >>> 1] !== 1) {
      throw new RangeError(`PacketBatch.setLength: packet ${i} is a chain; its length is fixed`);
    }
    u16[(m + this.#oDataLen) >>> 1] = length;
    this.#u32[(m + this.#oPktLen) >>> 2] = length;
  }

  // ---------------------------------------------------------------- segments

  /**
   * The first segment of packet `i`, as a segment handle (a number) for
   * {@linkcode PacketBatch.segmentOffset}, {@linkcode PacketBatch.segmentLength}
   * and {@linkcode PacketBatch.nextSegment}. Handles stay valid while the
   * packet is held.
   *
   * @example
   * ```ts ignore
   * let bytes = 0;
   * for (let s = batch.segment(i); s >= 0; s = batch.nextSegment(s)) {
   *   bytes += batch.segmentLength(s); // data at batch.segmentOffset(s)
   * }
   * ```
   */
  segment(i: number): number {
    return this.#held(i, "segment");
  }

  /** The segment after `segment` in its chain, or -1 at the end. */
  nextSegment(segment: number): number {
    const w = (segment + this.#oNext) >>> 2, u32 = this.#u32;
    const lo = u32[w], hi = u32[w + 1];
    if (lo === 0 && hi === 0) return -1;
    // Segments after the first were never range-checked by a receive: check exactly.
    const off = (hi - this.#header[1]) * TWO_32 + (lo - this.#header[0]);
    if (!(off > 0 && off <= this.#k[K_LAST_MBUF])) {
      throw new DpdkError(
        "PacketBatch.nextSegment",
        0,
        `a chained segment lies outside pool "${this.#pool.name}": it cannot be read in place`,
      );
    }
    return off;
  }

  /** Offset of a segment's bytes in {@linkcode PacketBatch.data}. */
  segmentOffset(segment: number): number {
    return this.#bufferData(segment > 0 && segment <= this.#k[K_LAST_MBUF] ? segment : 0);
  }

  /** Bytes in a segment. */
  segmentLength(segment: number): number {
    return segment > 0 && segment <= this.#k[K_LAST_MBUF]
      ? this.#u16[(segment + this.#oDataLen) >>> 1]
      : 0;
  }

  /**
   * Copies packet `i`, every segment of it, into `dest` at `at`. Returns the
   * bytes copied (its {@linkcode PacketBatch.packetLength}).
   */
  copyOut(i: number, dest: Uint8Array, at = 0): number {
    const total = this.packetLength(i);
    if (!(Number.isInteger(at) && at >= 0 && at + total <= dest.length)) {
      throw new RangeError(
        `PacketBatch.copyOut: packet ${i} has ${total} bytes; they do not fit at ${at} ` +
          `in ${dest.length} bytes`,
      );
    }
    let done = 0;
    for (let s = this.segment(i); s >= 0 && done < total; s = this.nextSegment(s)) {
      const off = this.#segmentData(s, "copyOut");
      const len = Math.min(this.segmentLength(s), total - done);
      dest.set(this.data.subarray(off, off + len), at + done);
      done += len;
    }
    return done;
  }

  /**
   * Writes `src` into packet `i` from byte `at` of the packet on, across its
   * segments. The packet keeps its length; `src` must fit in it.
   */
  copyIn(i: number, src: Uint8Array, at = 0): void {
    const total = this.packetLength(i);
    if (!(Number.isInteger(at) && at >= 0 && at + src.length <= total)) {
      throw new RangeError(
        `PacketBatch.copyIn: ${src.length} bytes at ${at} do not fit in packet ${i} ` +
          `of ${total} bytes`,
      );
    }
    let skip = at, done = 0;
    for (let s = this.segment(i); s >= 0 && done < src.length; s = this.nextSegment(s)) {
      const len = this.segmentLength(s);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const n = Math.min(len - skip, src.length - done);
      this.data.set(src.subarray(done, done + n), this.#segmentData(s, "copyIn") + skip);
      done += n;
      skip = 0;
    }
  }

  // -------------------------------------------------------- receive metadata

  /** Receive flags of packet `i` (the low 32 bits of `ol_flags`; see `RxFlag`). */
  rxFlags(i: number): number {
    return this.#u32Field(i, this.#oFlags);
  }

  /** What the device found of packet `i`'s IPv4 header checksum. */
  ipChecksum(i: number): ChecksumStatus {
    const rx = this.#layout.rx;
    return checksumStatus(this.rxFlags(i), rx.ipGood, rx.ipBad);
  }

  /** What the device found of packet `i`'s TCP/UDP checksum. */
  l4Checksum(i: number): ChecksumStatus {
    const rx = this.#layout.rx;
    return checksumStatus(this.rxFlags(i), rx.l4Good, rx.l4Bad);
  }

  /**
   * VLAN TCI of packet `i` when the device saw a tag (`RxFlag.VLAN`), else -1.
   * With `RxFlag.VLAN_STRIPPED` the tag is no longer in the data.
   */
  vlanTci(i: number): number {
    if ((this.rxFlags(i) & this.#layout.rx.vlan) === 0) return -1;
    return this.#u16Field(i, this.#layout.vlanTci);
  }

  /** RSS hash of packet `i` when the device computed one (`RxFlag.RSS_HASH`), else -1. */
  rssHash(i: number): number {
    if ((this.rxFlags(i) & this.#layout.rx.rssHash) === 0) return -1;
    return this.#u32Field(i, this.#layout.rss);
  }

  /** Packet type of packet `i` as the driver classified it (`RTE_PTYPE_*` bits; 0 if unknown). */
  packetType(i: number): number {
    return this.#u32Field(i, this.#layout.packetType);
  }

  /** Port id that received packet `i` (`mbuf.port`, as the driver set it). */
  inputPort(i: number): number {
    return this.#u16Field(i, this.#layout.port);
  }

  /**
   * The driver's receive timestamp of packet `i`, or -1 when it carries none.
   * Its unit is the driver's: hardware clock ticks on NICs with the
   * `RxOffload.TIMESTAMP` offload; microseconds since the epoch for
   * `net_pcap` (from the file). For a timestamp on every driver, create the
   * batch with `arrivalTime: true` and read {@linkcode PacketBatch.arrivalTsc}.
   */
  rxTimestamp(i: number): number {
    const m = this.#held(i, "rxTimestamp");
    const ts = rxTimestampField();
    if (ts === null) return -1;
    const flags = this.#u32[((m + this.#oFlags) >>> 2) + (ts.bit >>> 5)];
    if ((flags & (1 << (ts.bit & 31))) === 0) return -1;
    const w = (m + ts.offset) >>> 2;
    return this.#u32[w + 1] * TWO_32 + this.#u32[w];
  }

  // ------------------------------------------------------------- tx offloads

  /**
   * Asks for checksums of packet `i` to be filled in when it is sent
   * (`TxChecksum` bits): by the port where its offload is enabled
   * (`TxOffload.IPV4_CKSUM`, `UDP_CKSUM`, `TCP_CKSUM`), else in software by
   * the send call, so the code is the same on every port. `l2Length` and
   * `l3Length` are the Ethernet (with VLAN tags) and IP header lengths; the
   * IP version is read from the packet. Headers must lie in the first segment.
   *
   * @example
   * ```ts ignore
   * const at = batch.offset(i);
   * const length = writeUdpFrame(batch.view, batch.data, at, fields);
   * batch.setLength(i, length);
   * batch.requestChecksums(i, TxChecksum.IPV4 | TxChecksum.UDP, 14, 20);
   * port.send(0, batch);
   * ```
   */
  requestChecksums(i: number, what: number, l2Length: number, l3Length: number): void {
    const l = this.#layout;
    const m = this.#held(i, "requestChecksums");
    if (!(l2Length >>> 0 === l2Length && l2Length < 1 << l.l2Bits)) {
      throw new RangeError(
        `requestChecksums: l2Length ${l2Length} is outside 0..${(1 << l.l2Bits) - 1}`,
      );
    }
    if (!(l3Length >>> 0 === l3Length && l3Length < 1 << l.l3Bits)) {
      throw new RangeError(
        `requestChecksums: l3Length ${l3Length} is outside 0..${(1 << l.l3Bits) - 1}`,
      );
    }
    const version = this.data[this.#segmentData(m, "requestChecksums") + l2Length] >> 4;
    if (version !== 4 && version !== 6) {
      throw new RangeError(
        `requestChecksums: packet ${i} has no IPv4/IPv6 header at ${l2Length} (version ${version})`,
      );
    }
    if (version === 6 && (what & TxChecksum.IPV4) !== 0) {
      throw new RangeError(`requestChecksums: packet ${i} is IPv6; it has no header checksum`);
    }
    if ((what & TxChecksum.UDP) !== 0 && (what & TxChecksum.TCP) !== 0) {
      throw new RangeError("requestChecksums: a packet is UDP or TCP, not both");
    }
    const tx = l.tx;
    let hi = version === 4 ? tx.ipv4 : tx.ipv6;
    if (what & TxChecksum.IPV4) hi |= tx.ipCksum;
    if (what & TxChecksum.UDP) hi |= tx.udpCksum;
    if (what & TxChecksum.TCP) hi |= tx.tcpCksum;
    const wf = ((m + this.#oFlags) >>> 2) + 1;
    const keep = this.#u32[wf] & ~(tx.ipCksum | tx.ipv4 | tx.ipv6 | tx.l4Mask);
    this.#u32[wf] = keep | hi;
    const wo = (m + l.txOffload) >>> 2;
    const lenMask = ((1 << l.l2Bits) - 1) << l.l2Shift | ((1 << l.l3Bits) - 1) << l.l3Shift;
    this.#u32[wo] = (this.#u32[wo] & ~lenMask) | l2Length << l.l2Shift | l3Length << l.l3Shift;
    this.#header[BatchWord.OFFLOAD] = 1;
  }

  /**
   * Asks for a VLAN tag with `tci` to be inserted into packet `i` when it is
   * sent: by the port with `TxOffload.VLAN_INSERT`, else in software.
   */
  requestVlan(i: number, tci: number): void {
    const l = this.#layout;
    const m = this.#held(i, "requestVlan");
    if (!(tci >>> 0 === tci && tci <= 0xffff)) {
      throw new RangeError(`requestVlan: TCI ${tci} is outside 0..65535`);
    }
    this.#u16[(m + l.vlanTci) >>> 1] = tci;
    this.#u32[((m + this.#oFlags) >>> 2) + 1] |= l.tx.vlan;
    this.#header[BatchWord.OFFLOAD] = 1;
  }

  // -------------------------------------------------------------- allocation

  /**
   * Appends `count` fresh packets of `length` bytes from the pool (contents
   * are whatever the buffer held). Returns the index of the first new packet.
   * Throws a {@linkcode DpdkError} (ENOBUFS) if the pool cannot supply them
   * all, in which case none is added.
   */
  alloc(count: number, length: number): number {
    const handle = this.unsafeHandle;
    const first = this.#header[BatchWord.COUNT];
    if (!Number.isInteger(count) || count < 0 || count > this.capacity - first) {
      throw new RangeError(
        `PacketBatch.alloc: ${count} packets do not fit (${first}/${this.capacity} held)`,
      );
    }
    if (!Number.isInteger(length) || length < 0 || length > this.room) {
      throw new RangeError(
        `PacketBatch.alloc: length ${length} is outside 0..${this.room}; ` +
          `allocPacket() builds longer packets as chains`,
      );
    }
    const ret = this.#allocBulk(handle, count, length);
    if (ret < 0) this.#noBuffers(ret, count);
    return first;
  }

  /**
   * Appends one fresh packet of `length` bytes, as a chain of buffers when it
   * exceeds {@linkcode PacketBatch.room} (e.g. a 9000-byte jumbo frame from a
   * pool of 2048-byte buffers). Returns its index; fill it with
   * {@linkcode PacketBatch.copyIn} or segment by segment. Sending a chain
   * needs a port with `TxOffload.MULTI_SEGS` (or a driver that takes chains).
   */
  allocPacket(length: number): number {
    const handle = this.unsafeHandle;
    if (!Number.isInteger(length) || length < 0 || length > 0xffff * this.room) {
      throw new RangeError(`PacketBatch.allocPacket: length ${length} is not a packet length`);
    }
    const ret = this.#allocChain(handle, length);
    if (ret === -28) {
      throw new RangeError(`PacketBatch.allocPacket: the batch is full (${this.capacity} held)`);
    }
    if (ret === -90) {
      throw new RangeError(
        `PacketBatch.allocPacket: ${length} bytes need more than 256 buffers of ${this.room}`,
      );
    }
    if (ret < 0) this.#noBuffers(ret, Math.ceil(length / this.room));
    return ret;
  }

  #noBuffers(ret: number, count: number): never {
    throw DpdkError.fromErrno(
      "rte_pktmbuf_alloc_bulk",
      ret,
      `${count} mbufs from pool "${this.#pool.name}" (${this.#pool.available} available)`,
    );
  }

  /**
   * Marks packet `i` to be freed instead of sent. The next send (or
   * {@linkcode PacketBatch.sweep}) frees it and closes the gap.
   */
  drop(i: number): void {
    const count = this.#header[BatchWord.COUNT];
    if (!(i >= 0 && i < count && Number.isInteger(i))) {
      throw new RangeError(`PacketBatch.drop: index ${i} is outside 0..${count - 1}`);
    }
    if (this.#drops[i] === 0) {
      this.#drops[i] = 1;
      this.#header[BatchWord.DROPPED]++;
    }
  }

  /** Frees the packets marked by {@linkcode PacketBatch.drop}, keeping order. Returns the count left. */
  sweep(): number {
    return this.#sweep(this.unsafeHandle);
  }

  /** Frees every packet held (returns them to the pool). The batch stays usable. */
  clear(): void {
    this.#freeAll(this.unsafeHandle);
  }

  /**
   * A copy-free view of packet `i` (its first segment) as its own Uint8Array.
   * Allocates a view object: convenient for inspection, not for the hot loop.
   */
  packet(i: number): Uint8Array {
    const at = this.#heldData(i, "packet");
    return this.data.subarray(at, at + this.length(i));
  }

  /** Frees the packets held and the batch itself. Idempotent. */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#freeAll(handle);
    this.#handle = null;
    this.#detach();
  }

  /** Same as {@linkcode PacketBatch.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function checksumStatus(flags: number, good: number, bad: number): ChecksumStatus {
  const g = (flags & good) !== 0, b = (flags & bad) !== 0;
  return g
    ? (b ? ChecksumStatus.NONE : ChecksumStatus.GOOD)
    : (b ? ChecksumStatus.BAD : ChecksumStatus.UNKNOWN);
}
