/**
 * The stack's {@linkcode Device} over a DPDK port: frames are read and written in place in the
 * mbufs of a mempool. The one file of `stack/` that imports the DPDK layer.
 *
 * @module
 */
import { DpdkError, type Mempool, PacketBatch, Port } from "../mod.ts";
import type { Device, FrameReceiver } from "./device.ts";

/** Options of the {@linkcode PortDevice} constructor. */
export interface PortDeviceOptions {
  /** The receive queue and the transmit queue to poll (one of each). Default: 0. */
  queue?: number;
  /** Frames per receive burst, and frames reserved per flush, at most. Default: 32. */
  burst?: number;
  /**
   * The pool frames to send are allocated from. Default: the port's own pool (the one its
   * receive queues use), so received and sent frames share one memory region.
   */
  pool?: Mempool;
}

/** Counters of a {@linkcode PortDevice}, plain numbers updated in place. */
export interface PortDeviceStats {
  /** Frames handed to the receiver. */
  received: number;
  /** Frames the driver took at a flush. */
  sent: number;
  /** Frames reserved but not taken by the driver at a flush (freed: its queue was full). */
  unsent: number;
  /** Reservations refused because the pool had no free mbuf. */
  noBuffer: number;
  /**
   * Received frames spread over several mbufs (scattered receive), freed unread: the stack
   * reads a frame as one range. Carry such frames by giving the pool buffers of the whole MTU.
   */
  chained: number;
}

const ENOBUFS = 105;

/** Parses `aa:bb:cc:dd:ee:ff`. */
function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  const mac = new Uint8Array(6);
  if (parts.length !== 6) throw new RangeError(`PortDevice: MAC address "${text}" is not 6 bytes`);
  for (let i = 0; i < 6; i++) mac[i] = parseInt(parts[i], 16);
  return mac;
}

/**
 * A {@linkcode Device} over one receive queue and one transmit queue of a started DPDK
 * {@linkcode Port}. A receive is one burst call: each frame is handed over as a range of the
 * pool's memory, then the mbufs are freed. A reserved frame is an mbuf of the transmit pool,
 * written in place through {@linkcode PortDevice.txData}; a flush is one burst call. Nothing
 * is allocated per frame.
 *
 * The device does not own the port: close the port yourself, after
 * {@linkcode PortDevice.close} (which frees the frames it holds).
 *
 * @example
 * ```ts
 * import { Eal, Mempool, Port } from "@deno-dpdk/dpdk";
 * import { PortDevice } from "@deno-dpdk/dpdk/stack";
 *
 * Eal.init({ hugepages: false, pci: false, vdevs: ["net_ring0"] });
 * const pool = Mempool.create();
 * const port = Port.open(0, { pool });
 * using device = new PortDevice(port);
 * const at = device.reserve(60);
 * device.txData.fill(0xff, at, at + 6); // broadcast destination, written in place
 * device.flush(0);
 * device.receive({ frame: (_data, _view, _offset, length) => console.log(length) }, 0);
 * ```
 */
export class PortDevice implements Device {
  /** The port's MAC address, read once. */
  readonly mac: Uint8Array;
  /**
   * The port's MTU, or less when the transmit pool's buffers cannot hold a frame of it (the
   * stack then fragments to what fits).
   */
  readonly mtu: number;
  /** Frames per burst. */
  readonly burst: number;
  /** The transmit pool's memory region: reserved frames are written here. */
  readonly txData: Uint8Array;
  /** A DataView over {@linkcode PortDevice.txData}. */
  readonly txView: DataView;
  /** Counters, updated in place. */
  readonly stats: PortDeviceStats = { received: 0, sent: 0, unsent: 0, noBuffer: 0, chained: 0 };

  #port: Port;
  #queue: number;
  #rx: PacketBatch;
  #tx: PacketBatch;
  #frameMax: number;

  /**
   * Uses receive and transmit queue `options.queue` of `port`, which must be open. Throws a
   * RangeError when that queue is not configured.
   */
  constructor(port: Port, options: PortDeviceOptions = {}) {
    const queue = options.queue ?? 0;
    const burst = options.burst ?? 32;
    if (!Number.isInteger(queue) || queue < 0 || queue >= port.rxQueues || queue >= port.txQueues) {
      throw new RangeError(
        `PortDevice: queue ${queue} is not configured on port ${port.id} ` +
          `(${port.rxQueues} rx, ${port.txQueues} tx queues)`,
      );
    }
    if (!Number.isInteger(burst) || burst < 1 || burst > 65536) {
      throw new RangeError(`PortDevice: burst ${burst} must be an integer in 1..65536`);
    }
    const pool = options.pool ?? port.pool;
    this.#port = port;
    this.#queue = queue;
    this.burst = burst;
    // `port.mac` asks DPDK each time (and builds a string): read it once.
    this.mac = parseMac(port.mac);
    this.#rx = new PacketBatch(port.pool, burst);
    this.#tx = new PacketBatch(pool, burst);
    const portMtu = Port.capabilities(port.id).mtu || 1500;
    this.mtu = Math.min(portMtu, this.#tx.room - 14);
    this.#frameMax = this.mtu + 14;
    this.txData = pool.data;
    this.txView = pool.view;
  }

  /** The port. */
  get port(): Port {
    return this.#port;
  }

  /** The queue polled (receive and transmit). */
  get queue(): number {
    return this.#queue;
  }

  /**
   * Receives one burst and hands each frame to `receiver`, then frees the burst's mbufs. When
   * the receiver throws, the error goes on to the caller and the rest of the burst is freed
   * unread (a DPDK burst cannot be left half-consumed). Returns how many frames were handed over.
   */
  receive(receiver: FrameReceiver, _clock: Float64Array): number {
    const batch = this.#rx;
    const n = this.#port.receive(this.#queue, batch);
    if (n === 0) return 0;
    const data = batch.data, view = batch.view;
    let handed = 0;
    try {
      for (let i = 0; i < n; i++) {
        const length = batch.length(i);
        if (length !== batch.packetLength(i)) {
          this.stats.chained++;
          continue;
        }
        handed++;
        receiver.frame(data, view, batch.offset(i), length);
      }
    } finally {
      batch.clear();
      this.stats.received += handed;
    }
    return handed;
  }

  /**
   * Allocates an mbuf for a frame of `length` bytes (0..`mtu + 14`) and returns the offset of
   * its data in {@linkcode PortDevice.txData}; -1 when the pool is empty (counted in
   * `stats.noBuffer`) or a burst of frames is already reserved (flush first).
   */
  reserve(length: number): number {
    if (!(length >= 0 && length <= this.#frameMax && (length | 0) === length)) {
      throw new RangeError(
        `PortDevice.reserve: length ${length} is outside 0..${this.#frameMax} (mtu + 14)`,
      );
    }
    const batch = this.#tx;
    if (batch.free === 0) return -1;
    let i: number;
    try {
      i = batch.alloc(1, length);
    } catch (e) {
      // An empty pool is a normal condition under load: the caller retries after a flush.
      if (e instanceof DpdkError && e.errno === ENOBUFS) {
        this.stats.noBuffer++;
        return -1;
      }
      throw e;
    }
    return batch.offset(i);
  }

  /**
   * Sends the reserved frames in one burst; those the driver does not take are freed (counted
   * in `stats.unsent`). Returns how many were sent.
   */
  flush(_clock: Float64Array): number {
    const batch = this.#tx, count = batch.count;
    if (count === 0) return 0;
    const sent = this.#port.send(this.#queue, batch);
    this.stats.sent += sent;
    this.stats.unsent += count - sent;
    return sent;
  }

  /** Always Infinity: a port delivers when it delivers; the caller polls. */
  nextDeadline(): number {
    return Infinity;
  }

  /** Whether {@linkcode PortDevice.close} has run. */
  get closed(): boolean {
    return this.#tx.closed;
  }

  /** Frees the frames reserved and not sent, and the device's batches. Idempotent. */
  close(): void {
    this.#rx.close();
    this.#tx.close();
  }

  /** Same as {@linkcode PortDevice.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
