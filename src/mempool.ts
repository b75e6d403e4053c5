/**
 * Packet buffer pools, mapped once into JavaScript for zero-copy access.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { cstring } from "./cstring.ts";
import { onCleanup, requireEal } from "./eal.ts";
import { DpdkError, throwRteErrno } from "./errors.ts";

/** Options of {@linkcode Mempool.create}. */
export interface MempoolOptions {
  /** Pool name, unique in the process. Default: `"pool<N>"`. */
  name?: string;
  /** Number of mbufs. Default: 8191 (DPDK's samples use 2^n - 1). */
  size?: number;
  /** Per-lcore cache size (0 … 512, at most size / 1.5). Default: 250. */
  cacheSize?: number;
  /** Bytes of each buffer, headroom included. Default: 2176 (RTE_MBUF_DEFAULT_BUF_SIZE). */
  dataRoomSize?: number;
  /**
   * NUMA socket for the memory; -1 for any. Default: the socket of `port` when given (where
   * its queues are set up), else the caller's socket.
   */
  socket?: number;
  /** The port (id) whose packets the pool holds: its NUMA socket becomes the default. */
  port?: number;
}

/** DPDK's `RTE_MBUF_DEFAULT_BUF_SIZE`: 2048 bytes of data plus 128 of headroom. */
export const DEFAULT_DATA_ROOM = 2176;

let poolCounter = 0;

/** The NUMA socket of port `id` (undefined for none, or when the port does not know it). */
function portSocket(id: number | undefined): number | undefined {
  if (id === undefined) return undefined;
  const socket = Number.isInteger(id) && id >= 0 && id <= 0xffff
    ? library().symbols.dd_port_socket(id)
    : -22;
  if (socket === -22) throw new RangeError(`Mempool.create: no port ${id}`);
  return socket >= 0 ? socket : undefined;
}

/**
 * A pool of packet buffers (`rte_pktmbuf_pool_create`). Its memory is mapped
 * once as {@linkcode Mempool.data} and {@linkcode Mempool.view}; every packet
 * of the pool is a range of these, so reading and writing packets copies
 * nothing and allocates nothing.
 *
 * @example
 * ```ts
 * import { Eal, Mempool } from "@deno-dpdk/dpdk";
 * Eal.init({ hugepages: false, pci: false });
 * using pool = Mempool.create({ size: 4095 });
 * console.log(pool.available, pool.inUse); // 4095 0
 * ```
 */
export class Mempool {
  #handle: Deno.PointerObject | null;
  #name: string;
  #region: ArrayBuffer;
  #data: Uint8Array;
  #view: DataView;
  #chunks: number;
  #children = new Set<() => void>();
  #unregister: () => void;
  #owned: boolean;
  #workers = 0;

  private constructor(handle: Deno.PointerObject, name: string, owned = true) {
    this.#owned = owned;
    this.#handle = handle;
    this.#name = name;
    const region = new BigUint64Array(3);
    const ret = library().symbols.dd_pool_region(handle, new Uint8Array(region.buffer));
    if (ret < 0) {
      library().symbols.dd_pool_free(handle);
      throw DpdkError.fromErrno("rte_mempool_mem_iter", ret, `pool ${name} has no memory`);
    }
    const base = Deno.UnsafePointer.create(region[0]);
    if (base === null) throw new DpdkError("Mempool.create", 0, `pool ${name}: null memory`);
    const length = Number(region[1]);
    const buffer = Deno.UnsafePointerView.getArrayBuffer(base, length);
    this.#region = buffer;
    this.#data = new Uint8Array(buffer);
    this.#view = new DataView(buffer);
    this.#chunks = Number(region[2]);
    this.#unregister = owned ? onCleanup("pool", () => this.close()) : () => {};
  }

  /**
   * UNSAFE: a view of a pool created elsewhere in this process (by another
   * isolate, e.g. the main thread for a worker lcore), from its
   * {@linkcode Mempool.unsafeHandle} value. The view maps the same memory;
   * closing it does not free the pool.
   */
  static fromHandle(handle: bigint, name = "borrowed"): Mempool {
    requireEal("Mempool.fromHandle");
    const ptr = Deno.UnsafePointer.create(handle);
    if (ptr === null) throw new TypeError("Mempool.fromHandle: null handle");
    return new Mempool(ptr, name, false);
  }

  /** Creates a packet buffer pool. Needs the EAL. */
  static create(options: MempoolOptions = {}): Mempool {
    requireEal("Mempool.create");
    const name = options.name ?? `pool${poolCounter++}`;
    const size = options.size ?? 8191;
    const cache = options.cacheSize ?? 250;
    const room = options.dataRoomSize ?? DEFAULT_DATA_ROOM;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Mempool size ${size} must be a positive integer`);
    }
    if (!Number.isInteger(cache) || cache < 0 || cache > 512 || cache * 1.5 > size) {
      throw new RangeError(
        `Mempool cacheSize ${cache} must be an integer in 0..512 and at most size / 1.5 ` +
          `(${Math.floor(size / 1.5)} for size ${size})`,
      );
    }
    if (!Number.isInteger(room) || room < 128 || room > 65535) {
      throw new RangeError(`Mempool dataRoomSize ${room} must be in 128..65535 (headroom is 128)`);
    }
    if (name.length === 0 || name.length > 25) {
      throw new RangeError(`Mempool name "${name}" must be 1..25 characters`);
    }
    const socket = options.socket ?? portSocket(options.port) ?? library().symbols.dd_socket_id();
    const handle = library().symbols.dd_pool_create(cstring(name), size, cache, room, socket);
    if (handle === null) {
      throwRteErrno("rte_pktmbuf_pool_create", `pool "${name}" of ${size} mbufs`);
    }
    return new Mempool(handle, name);
  }

  #live(what: string): Deno.PointerObject {
    if (this.#handle === null) {
      throw new DpdkError("Mempool", 0, `Cannot ${what} a closed Mempool ("${this.#name}")`);
    }
    return this.#handle;
  }

  /** The pool's name. */
  get name(): string {
    return this.#name;
  }

  /** Mbufs ready to be allocated (pool plus per-lcore caches). */
  get available(): number {
    return library().symbols.dd_pool_available(this.#live("read"));
  }

  /** Mbufs currently allocated: held by batches, ports' rings, or in flight. */
  get inUse(): number {
    return library().symbols.dd_pool_in_use(this.#live("read"));
  }

  /** Total number of mbufs in the pool. */
  get size(): number {
    return library().symbols.dd_pool_size(this.#live("read"));
  }

  /** Mbufs each lcore may keep in its own cache (away from the other lcores). */
  get cacheSize(): number {
    return library().symbols.dd_pool_cache_size(this.#live("read"));
  }

  /** NUMA socket of the pool's memory (-1: any). */
  get socket(): number {
    return library().symbols.dd_pool_socket(this.#live("read"));
  }

  /** Bytes per buffer, headroom included. */
  get dataRoomSize(): number {
    return library().symbols.dd_pool_data_room(this.#live("read"));
  }

  /** Memory chunks behind the pool (one span is mapped over all of them). */
  get chunks(): number {
    return this.#chunks;
  }

  /** The pool's whole memory region as bytes: packets are `(offset, length)` ranges of it. */
  get data(): Uint8Array {
    this.#live("read");
    return this.#data;
  }

  /** A DataView over the same region, for big-endian multi-byte header fields. */
  get view(): DataView {
    this.#live("read");
    return this.#view;
  }

  /** Whether {@linkcode Mempool.close} has run. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * UNSAFE: the raw `struct rte_mempool *`. Valid until the pool is closed;
   * using it afterwards is undefined behaviour.
   */
  get unsafeHandle(): Deno.PointerObject {
    return this.#live("use");
  }

  /** Counts a worker lcore that maps this pool; returns the call that uncounts it (internal). */
  attachWorker(): () => void {
    this.#live("use");
    this.#workers++;
    let done = false;
    return () => {
      if (!done) this.#workers--;
      done = true;
    };
  }

  /** Mbufs kept in `lcore`'s cache of this pool, out of reach of the other lcores. */
  cached(lcore: number): number {
    return library().symbols.dd_pool_cached(this.#live("read"), lcore);
  }

  /** Registers a child (batch or port) to close before the pool (internal). */
  adopt(close: () => void): () => void {
    this.#live("use");
    this.#children.add(close);
    return () => this.#children.delete(close);
  }

  /**
   * Closes the ports and batches using this pool, then frees it (a pool from
   * {@linkcode Mempool.fromHandle} is only unmapped). Idempotent.
   */
  close(): void {
    if (this.#handle === null) return;
    if (this.#workers > 0) {
      throw new DpdkError(
        "Mempool.close",
        16, // EBUSY
        `Cannot close pool "${this.#name}": ${this.#workers} worker lcore(s) map its memory; ` +
          `stop them and await their done first`,
      );
    }
    for (const close of [...this.#children]) close();
    const handle = this.#handle;
    this.#handle = null;
    this.#unregister();
    // Detach the mapped region: stale views then read as empty instead of
    // touching freed (and after EAL cleanup, unmapped) memory.
    this.#region.transfer(0);
    if (this.#owned) library().symbols.dd_pool_free(handle);
  }

  /** Same as {@linkcode Mempool.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
