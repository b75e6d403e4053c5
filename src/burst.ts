/**
 * Packet batches: the unit of every receive, send and allocation.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { BatchWord, type DpdkLibrary } from "../ffi/symbols.ts";
import { check, DpdkError } from "./errors.ts";
import type { Mempool } from "./mempool.ts";

/**
 * A reusable batch of up to `capacity` packets of one {@linkcode Mempool}.
 *
 * Packet `i` is `length(i)` bytes at `offsets[i]` in {@linkcode PacketBatch.data}
 * (and {@linkcode PacketBatch.view}), which are the pool's memory mapped once:
 * reading and writing them touches the mbuf in place. The batch owns the
 * mbufs it holds until they are sent, dropped or freed; closing the batch
 * frees them.
 *
 * Receiving appends to the batch; sending empties it. Nothing here allocates
 * per packet, and each operation is one FFI call per burst.
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
 *   const at = batch.offsets[i];
 *   batch.view.setUint16(at + 12, 0x0800); // EtherType, in place
 * }
 * port.send(0, batch); // sends what it can, frees the rest
 * ```
 */
export class PacketBatch {
  #handle: Deno.PointerObject | null;
  #pool: Mempool;
  #header: Uint32Array;
  #drops: Uint8Array;
  #detach: () => void;
  // Taken from lib.symbols once: called through a property chain each time, V8 does not
  // keep them on the fast-call path and every call allocates.
  #allocBulk: DpdkLibrary["symbols"]["dd_batch_alloc"];
  #freeAll: DpdkLibrary["symbols"]["dd_batch_free_all"];
  #sweep: DpdkLibrary["symbols"]["dd_batch_sweep"];
  /** Data offset of each packet in {@linkcode PacketBatch.data}; valid for `i < length`. */
  readonly offsets: Uint32Array;
  /** Length of each packet; write it to resize a packet before sending. */
  readonly lengths: Uint32Array;
  /** The pool's memory region (same object as `pool.data`). */
  readonly data: Uint8Array;
  /** A DataView over the pool's memory region (same object as `pool.view`). */
  readonly view: DataView;
  /** Maximum number of packets. */
  readonly capacity: number;

  /** Creates an empty batch for packets of `pool`, holding at most `capacity` (1..65536). */
  constructor(pool: Mempool, capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) {
      throw new RangeError(`PacketBatch capacity ${capacity} must be an integer in 1..65536`);
    }
    const s = library().symbols;
    this.#allocBulk = s.dd_batch_alloc;
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
    this.offsets = new Uint32Array(buffer, header + capacity * 8, capacity);
    this.lengths = new Uint32Array(buffer, header + capacity * 12, capacity);
    this.#drops = new Uint8Array(buffer, header + capacity * 16, capacity);
    this.data = pool.data;
    this.view = pool.view;
    this.#detach = pool.adopt(() => this.close());
  }

  /** Number of packets held. */
  get length(): number {
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
   * UNSAFE: the raw `struct dd_batch *`, for the shim's burst functions.
   * Throws if the batch is closed.
   */
  get unsafeHandle(): Deno.PointerObject {
    const h = this.#handle;
    if (h === null) throw new DpdkError("PacketBatch", 0, "Cannot use a closed PacketBatch");
    return h;
  }

  /** Number of mbufs from another pool seen by the last receive (internal). */
  get foreignCount(): number {
    return this.#header[BatchWord.FOREIGN];
  }

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
      throw new RangeError(`PacketBatch.alloc: length ${length} is outside 0..${this.room}`);
    }
    const ret = this.#allocBulk(handle, count, length);
    if (ret < 0) {
      throw DpdkError.fromErrno(
        "rte_pktmbuf_alloc_bulk",
        ret,
        `${count} mbufs from pool "${this.#pool.name}" (${this.#pool.available} available)`,
      );
    }
    return first;
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
   * A copy-free view of packet `i` as its own Uint8Array. Allocates a view
   * object: convenient for inspection, not for the hot loop.
   */
  packet(i: number): Uint8Array {
    const count = this.#header[BatchWord.COUNT];
    if (!(i >= 0 && i < count && Number.isInteger(i))) {
      throw new RangeError(`PacketBatch.packet: index ${i} is outside 0..${count - 1}`);
    }
    return this.data.subarray(this.offsets[i], this.offsets[i] + this.lengths[i]);
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
