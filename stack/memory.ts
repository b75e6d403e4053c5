/**
 * Two in-memory {@linkcode Device}s wired to each other: two stacks talk in one process,
 * deterministically, without DPDK.
 *
 * @module
 */
import type { Device, FrameReceiver } from "./device.ts";

/** Options of the {@linkcode MemoryPair} constructor. */
export interface MemoryPairOptions {
  /** Largest IP packet each side carries (its frames hold `mtu + 14` bytes). Default: 1500. */
  mtu?: number;
  /** Frames moved per receive call, and frames reserved per flush, at most. Default: 32. */
  burst?: number;
  /**
   * Frame buffers of each side: frames reserved, in flight to the peer, or being received by
   * it. A side whose buffers are all in use cannot reserve (counted in
   * {@linkcode MemoryDeviceStats.noSlot}) until the peer receives. Default: 256.
   */
  slots?: number;
  /** MAC address of side `a`, 6 bytes. Default: `02:00:00:00:00:01` (locally administered). */
  macA?: Uint8Array;
  /** MAC address of side `b`, 6 bytes. Default: `02:00:00:00:00:02`. */
  macB?: Uint8Array;
}

/** Counters of one side of a {@linkcode MemoryPair}, plain numbers updated in place. */
export interface MemoryDeviceStats {
  /** Frames this side flushed to its peer. */
  sent: number;
  /** Frames this side handed to its receiver. */
  received: number;
  /** Reservations refused because every frame buffer of this side was in use. */
  noSlot: number;
}

/** Bytes beyond `mtu + 14` in each buffer: room for a VLAN tag and an FCS, should a test add them. */
const SLACK = 8;

// Indices into MemoryDevice's counter array.
const FREE = 0, RESERVED = 1, RING_HEAD = 2, RING_COUNT = 3;

/** Rounds up to a multiple of 64, so every frame starts on its own cache line. */
function slotBytes(mtu: number): number {
  return (mtu + 14 + SLACK + 63) & ~63;
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`MemoryPair: ${name} ${value} must be an integer in ${min}..${max}`);
  }
  return value;
}

function macOption(name: string, value: Uint8Array | undefined, last: number): Uint8Array {
  const mac = new Uint8Array([0x02, 0, 0, 0, 0, last]);
  if (value === undefined) return mac;
  if (!(value instanceof Uint8Array) || value.length !== 6) {
    throw new RangeError(`MemoryPair: ${name} must be a Uint8Array of 6 bytes`);
  }
  // A copy: the caller's array may change; the device's address must not.
  mac.set(value);
  return mac;
}

/**
 * One side of a {@linkcode MemoryPair}. Frames it sends are written in its own buffer region
 * and read in place by its peer: the pair copies nothing.
 */
export class MemoryDevice implements Device {
  /** This side's MAC address. */
  readonly mac: Uint8Array;
  /** Largest IP packet carried. */
  readonly mtu: number;
  /** Frames moved per receive call (and reserved per flush) at most. */
  readonly burst: number;
  /** This side's buffer region: frames it sends live here until the peer has received them. */
  readonly txData: Uint8Array;
  /** A DataView over {@linkcode MemoryDevice.txData}. */
  readonly txView: DataView;
  /** Counters, updated in place (read them at any time; reset them by assigning 0). */
  readonly stats: MemoryDeviceStats = { sent: 0, received: 0, noSlot: 0 };

  #peer!: MemoryDevice;
  #slotBytes: number;
  #frameMax: number;
  // Free buffers of this side's region, as a stack of slot numbers.
  #free: Int32Array;
  // Slots reserved since the last flush, in order, and their lengths.
  #reserved: Int32Array;
  #reservedLength: Int32Array;
  // Frames waiting for this side to receive them: slots of the PEER's region, a ring.
  #ringSlot: Int32Array;
  #ringLength: Int32Array;
  // Counts and ring positions in one typed array: plain integer loads and stores in the hot path.
  #n = new Int32Array(4);

  /** Created by {@linkcode MemoryPair}. */
  constructor(mtu: number, burst: number, slots: number, mac: Uint8Array) {
    this.mac = mac;
    this.mtu = mtu;
    this.burst = burst;
    this.#slotBytes = slotBytes(mtu);
    this.#frameMax = mtu + 14;
    const region = new ArrayBuffer(this.#slotBytes * slots);
    this.txData = new Uint8Array(region);
    this.txView = new DataView(region);
    this.#free = new Int32Array(slots);
    // Lowest slot on top: the first frames land at the start of the region (easier to debug).
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i;
    this.#n[FREE] = slots;
    this.#reserved = new Int32Array(burst);
    this.#reservedLength = new Int32Array(burst);
    // The peer has as many buffers as we do: the ring can never hold more than that.
    this.#ringSlot = new Int32Array(slots);
    this.#ringLength = new Int32Array(slots);
  }

  /** Wires this side to `peer` (once, by {@linkcode MemoryPair}). */
  connect(peer: MemoryDevice): void {
    if (this.#peer !== undefined) throw new Error("MemoryDevice: already connected");
    this.#peer = peer;
  }

  /** Frames flushed by the peer that this side has not received yet. */
  get pending(): number {
    return this.#n[RING_COUNT];
  }

  /** This side's frame buffers not in use (neither reserved, nor in flight, nor being received). */
  get freeSlots(): number {
    return this.#n[FREE];
  }

  /**
   * Hands up to {@linkcode MemoryDevice.burst} frames flushed by the peer to `receiver`, in the
   * order they were sent, then gives their buffers back to the peer. Returns how many.
   */
  receive(receiver: FrameReceiver, _clock: Float64Array): number {
    const n = this.#n, peer = this.#peer;
    const data = peer.txData, view = peer.txView, size = peer.#slotBytes;
    const ringSlot = this.#ringSlot, ringLength = this.#ringLength, capacity = ringSlot.length;
    let handed = 0;
    while (handed < this.burst && n[RING_COUNT] > 0) {
      const head = n[RING_HEAD];
      const slot = ringSlot[head];
      n[RING_HEAD] = head + 1 === capacity ? 0 : head + 1;
      n[RING_COUNT]--;
      handed++;
      this.stats.received++;
      // The buffer goes back to the sender even if the receiver throws: no slot may leak.
      try {
        receiver.frame(data, view, slot * size, ringLength[head]);
      } finally {
        peer.#release(slot);
      }
    }
    return handed;
  }

  #release(slot: number): void {
    this.#free[this.#n[FREE]++] = slot;
  }

  /**
   * Reserves a buffer of this side for a frame of `length` bytes (0..`mtu + 14`). Returns its
   * offset in {@linkcode MemoryDevice.txData}, or -1 when every buffer is in use (counted in
   * `stats.noSlot`) or {@linkcode MemoryDevice.burst} frames are already reserved (flush first).
   */
  reserve(length: number): number {
    if (!(length >= 0 && length <= this.#frameMax && (length | 0) === length)) {
      throw new RangeError(
        `MemoryDevice.reserve: length ${length} is outside 0..${this.#frameMax} (mtu + 14)`,
      );
    }
    const n = this.#n;
    const count = n[RESERVED];
    if (count === this.burst) return -1;
    if (n[FREE] === 0) {
      this.stats.noSlot++;
      return -1;
    }
    const slot = this.#free[--n[FREE]];
    this.#reserved[count] = slot;
    this.#reservedLength[count] = length;
    n[RESERVED] = count + 1;
    return slot * this.#slotBytes;
  }

  /** Moves every reserved frame, in order, to the peer's receive ring. Returns how many. */
  flush(_clock: Float64Array): number {
    const n = this.#n, count = n[RESERVED];
    const peer = this.#peer, pn = peer.#n;
    const ringSlot = peer.#ringSlot, ringLength = peer.#ringLength, capacity = ringSlot.length;
    // Room is certain: the ring has as many entries as this side has buffers.
    let tail = pn[RING_HEAD] + pn[RING_COUNT];
    if (tail >= capacity) tail -= capacity;
    for (let i = 0; i < count; i++) {
      ringSlot[tail] = this.#reserved[i];
      ringLength[tail] = this.#reservedLength[i];
      if (++tail === capacity) tail = 0;
    }
    pn[RING_COUNT] += count;
    n[RESERVED] = 0;
    this.stats.sent += count;
    return count;
  }

  /** Always Infinity: frames in memory are never delayed. */
  nextDeadline(): number {
    return Infinity;
  }
}

/**
 * Two {@linkcode Device}s wired to each other: what `a` flushes, `b` receives, and back. For
 * deterministic tests of the stack: no DPDK, no clock, no threads; frames move only when the
 * test calls `flush` and `receive`. Each side owns one preallocated buffer region; nothing is
 * allocated per frame.
 *
 * @example
 * ```ts
 * import { MemoryPair } from "@deno-dpdk/dpdk/stack";
 *
 * const pair = new MemoryPair({ mtu: 1500 });
 * const at = pair.a.reserve(60);
 * pair.a.txData.fill(0xab, at, at + 60);
 * pair.a.flush(0);
 * pair.b.receive({
 *   frame(data, _view, offset, length) {
 *     console.log(length, data[offset]); // 60 171
 *   },
 * }, 0);
 * ```
 */
export class MemoryPair {
  /** One side. */
  readonly a: MemoryDevice;
  /** The other side. */
  readonly b: MemoryDevice;

  /** Creates both sides and wires them together. */
  constructor(options: MemoryPairOptions = {}) {
    const mtu = integerOption("mtu", options.mtu ?? 1500, 68, 65535);
    const burst = integerOption("burst", options.burst ?? 32, 1, 65536);
    const slots = integerOption("slots", options.slots ?? 256, 1, 1 << 20);
    this.a = new MemoryDevice(mtu, burst, slots, macOption("macA", options.macA, 1));
    this.b = new MemoryDevice(mtu, burst, slots, macOption("macB", options.macB, 2));
    this.a.connect(this.b);
    this.b.connect(this.a);
  }
}
