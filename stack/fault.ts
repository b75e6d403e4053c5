/**
 * A {@linkcode Device} that wraps another and, from a seed, drops, corrupts, duplicates, delays
 * and reorders frames in either direction: how the stack is tested under loss (this kernel has
 * no netem).
 *
 * @module
 */
import { copyViews } from "./bytes.ts";
import type { Device, FrameReceiver } from "./device.ts";

/**
 * Fault rates of one direction. Each rate is a probability 0..1, drawn per frame in this
 * order: `loss`; for the frames not lost, `corrupt`, `duplicate`, then `delay`, and for the
 * frames not delayed, `reorder`. So `duplicate`, `corrupt` and `delay` are fractions of the
 * frames not lost, and `reorder` a fraction of the frames neither lost nor delayed.
 */
export interface FaultRates {
  /** Probability that a frame is dropped. Default: 0. */
  loss?: number;
  /** Probability that one random bit of a frame is flipped (anywhere in it). Default: 0. */
  corrupt?: number;
  /**
   * Probability that a frame is handed on twice. Received: the copy comes at the next receive
   * call (one call never hands over more than `burst` frames). Sent: right after the original.
   * Default: 0.
   */
  duplicate?: number;
  /**
   * Probability that a frame is held back for {@linkcode FaultRates.delayNs}. Default: 1 when
   * `delayNs` is above 0 (every frame, like netem's `delay`), else 0.
   */
  delay?: number;
  /** The fixed extra delay of delayed frames, in the caller's nanoseconds. Default: 0. */
  delayNs?: number;
  /**
   * Probability that a frame is held back until the next frame of the same direction has
   * passed it (received: it comes at the next receive call; sent: right after that frame).
   * Default: 0.
   */
  reorder?: number;
  /**
   * Longest a reordered frame waits for a frame to overtake it; then it goes on alone, so the
   * last frame of an exchange is late, never lost. Default: 1_000_000 (1 ms).
   */
  reorderNs?: number;
}

/**
 * Options of the {@linkcode FaultInjector} constructor. The rates at the top level apply to
 * both directions; `rx` and `tx` override them field by field for one direction.
 */
export interface FaultInjectorOptions extends FaultRates {
  /**
   * Seed of the pseudo-random generator (any number; used as a 32-bit integer). The same seed
   * and the same calls give the same faults. Each direction draws from its own sequence, so
   * the faults of one do not depend on the traffic of the other.
   */
  seed: number;
  /** Rates for received frames, overriding the top-level ones. Default: the top-level ones. */
  rx?: FaultRates;
  /** Rates for sent frames, overriding the top-level ones. Default: the top-level ones. */
  tx?: FaultRates;
  /**
   * Frames each direction can hold back at once (delayed, reordered, duplicate copies), in
   * preallocated buffers. When they are all in use a frame passes at once instead (counted in
   * {@linkcode FaultCounters.overflow}). Default: 256.
   */
  holding?: number;
}

/**
 * Counters of one direction, plain numbers updated in place. Every frame in is exactly one of
 * `passed`, `dropped`, `delayed` or `reordered`:
 * `frames === passed + dropped + delayed + reordered`. Once nothing is held any more,
 * `out === passed + delayed + reordered + duplicated - refused`.
 */
export interface FaultCounters {
  /** Frames that entered this direction. */
  frames: number;
  /** Frames handed on at once (including the `overflow` ones). */
  passed: number;
  /** Frames dropped (`loss`). */
  dropped: number;
  /** Frames held back for `delayNs`. */
  delayed: number;
  /** Frames held back to be overtaken. */
  reordered: number;
  /** Extra copies made (`duplicate`). */
  duplicated: number;
  /** Frames with a bit flipped. */
  corrupted: number;
  /** Frames (and duplicate copies) handed on from the holding buffers. */
  released: number;
  /** Frames handed on in total, copies included. */
  out: number;
  /**
   * Frames that should have been held but found every holding buffer in use (they passed at
   * once), and duplicate copies not made for the same reason.
   */
  overflow: number;
  /** Sent frames the wrapped device had no buffer for, or did not take at its flush. */
  refused: number;
}

/** The counters of both directions. */
export interface FaultStats {
  /** Frames from the wrapped device to the receiver. */
  rx: FaultCounters;
  /** Frames from the caller to the wrapped device. */
  tx: FaultCounters;
}

function counters(): FaultCounters {
  return {
    frames: 0,
    passed: 0,
    dropped: 0,
    delayed: 0,
    reordered: 0,
    duplicated: 0,
    corrupted: 0,
    released: 0,
    out: 0,
    overflow: 0,
    refused: 0,
  };
}

/** One direction's rates, resolved and checked. */
class Rates {
  readonly loss: number;
  readonly corrupt: number;
  readonly duplicate: number;
  readonly delay: number;
  readonly delayNs: number;
  readonly reorder: number;
  readonly reorderNs: number;

  constructor(top: FaultRates, own: FaultRates | undefined, what: string) {
    const pick = (field: keyof FaultRates): number | undefined => own?.[field] ?? top[field];
    const rate = (field: keyof FaultRates, fallback: number): number => {
      const v = pick(field) ?? fallback;
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        throw new RangeError(`FaultInjector: ${what} ${field} ${v} must be a probability 0..1`);
      }
      return v;
    };
    const duration = (field: keyof FaultRates, fallback: number): number => {
      const v = pick(field) ?? fallback;
      if (typeof v !== "number" || !(v >= 0 && Number.isFinite(v))) {
        throw new RangeError(`FaultInjector: ${what} ${field} ${v} must be a duration >= 0 (ns)`);
      }
      return v;
    };
    this.loss = rate("loss", 0);
    this.corrupt = rate("corrupt", 0);
    this.duplicate = rate("duplicate", 0);
    this.delayNs = duration("delayNs", 0);
    this.delay = rate("delay", this.delayNs > 0 ? 1 : 0);
    if (this.delay > 0 && this.delayNs === 0) {
      throw new RangeError(`FaultInjector: ${what} delay ${this.delay} needs a delayNs above 0`);
    }
    this.reorder = rate("reorder", 0);
    this.reorderNs = duration("reorderNs", 1_000_000);
  }
}

/** mulberry32: a 32-bit state, good enough statistics for fault rates, a few integer ops. */
function random(state: Int32Array): number {
  const a = state[0] = (state[0] + 0x6d2b79f5) | 0;
  let t = Math.imul(a ^ (a >>> 15), a | 1);
  t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Flips one random bit of `length` bytes at `offset`. */
function flipBit(data: Uint8Array, offset: number, length: number, rng: Int32Array): void {
  const bit = (random(rng) * length * 8) >>> 0;
  data[offset + (bit >>> 3)] ^= 1 << (bit & 7);
}

/** Bytes of a frame buffer: `mtu + 14` and room for VLAN tags, on a cache-line multiple. */
function slotBytes(mtu: number): number {
  return (mtu + 14 + 8 + 63) & ~63;
}

// Holding slot kinds.
const FREE = 0, DELAYED = 1, REORDERED = 2, DUE = 3;
// Holding's integer counters, and its two doubles.
const FREE_COUNT = 0, REORDER_COUNT = 1, TOP = 2;
const EARLIEST = 0, SEQUENCE = 1;

/**
 * Preallocated buffers for frames held back, with their release times. A few hundred slots
 * at most: a linear scan finds the next one due, and slots are reused lowest first (a stack),
 * so the scan stays short when few frames are held.
 *
 * Times are read from the injector's clock array, never passed as arguments: a time in
 * nanoseconds is beyond V8's small integers, and a double passed to a function that is not
 * inlined is boxed into a new heap number (an allocation per frame).
 */
class Holding {
  readonly data: Uint8Array;
  readonly view: DataView;
  readonly slotBytes: number;
  readonly releaseAt: Float64Array;
  readonly length: Int32Array;
  readonly copies: Int32Array;
  readonly kind: Uint8Array;
  #order: Float64Array;
  #free: Int32Array;
  #k = new Int32Array(3);
  #f = new Float64Array(2);
  #clock: Float64Array;
  // How long each kind of held frame waits, by kind.
  #wait = new Float64Array(4);

  constructor(capacity: number, slotBytes: number, clock: Float64Array, rates: Rates) {
    this.slotBytes = slotBytes;
    this.#clock = clock;
    this.#wait[DELAYED] = rates.delayNs;
    this.#wait[REORDERED] = rates.reorderNs;
    const region = new ArrayBuffer(capacity * slotBytes);
    this.data = new Uint8Array(region);
    this.view = new DataView(region);
    this.releaseAt = new Float64Array(capacity);
    this.#order = new Float64Array(capacity);
    this.length = new Int32Array(capacity);
    this.copies = new Int32Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.#free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.#free[i] = capacity - 1 - i;
    this.#k[FREE_COUNT] = capacity;
    this.#f[EARLIEST] = Infinity;
  }

  /** Frames held. */
  get count(): number {
    return this.#free.length - this.#k[FREE_COUNT];
  }

  /** Earliest release time of a held frame, or Infinity. */
  get earliest(): number {
    return this.#f[EARLIEST];
  }

  /**
   * Copies a frame in, to be released after the wait of its kind (DUE: at once); returns false
   * when no buffer is free or the frame does not fit.
   */
  put(view: DataView, offset: number, length: number, kind: number, copies: number): boolean {
    const k = this.#k;
    if (k[FREE_COUNT] === 0 || length > this.slotBytes) return false;
    const slot = this.#free[--k[FREE_COUNT]];
    if (slot >= k[TOP]) k[TOP] = slot + 1;
    copyViews(view, offset, this.view, slot * this.slotBytes, length);
    this.length[slot] = length;
    this.copies[slot] = copies;
    this.kind[slot] = kind;
    const releaseAt = this.releaseAt[slot] = this.#clock[0] + this.#wait[kind];
    this.#order[slot] = this.#f[SEQUENCE]++;
    if (kind === REORDERED) k[REORDER_COUNT]++;
    if (releaseAt < this.#f[EARLIEST]) this.#f[EARLIEST] = releaseAt;
    return true;
  }

  /** The held frame due first now (earliest release, then first held), or -1. */
  due(): number {
    const nowNs = this.#clock[0];
    if (!(this.#f[EARLIEST] <= nowNs)) return -1;
    const kind = this.kind, at = this.releaseAt, order = this.#order;
    let best = -1;
    for (let s = 0, top = this.#k[TOP]; s < top; s++) {
      if (kind[s] === FREE || at[s] > nowNs) continue;
      if (best < 0 || at[s] < at[best] || (at[s] === at[best] && order[s] < order[best])) {
        best = s;
      }
    }
    return best;
  }

  /** The reordered frame held first, or -1. */
  firstReordered(): number {
    if (this.#k[REORDER_COUNT] === 0) return -1;
    const kind = this.kind, order = this.#order;
    let best = -1;
    for (let s = 0, top = this.#k[TOP]; s < top; s++) {
      if (kind[s] === REORDERED && (best < 0 || order[s] < order[best])) best = s;
    }
    return best;
  }

  /** Makes every reordered frame due now: a frame has overtaken them. */
  overtaken(): void {
    const k = this.#k;
    if (k[REORDER_COUNT] === 0) return;
    const nowNs = this.#clock[0];
    const kind = this.kind, at = this.releaseAt;
    for (let s = 0, top = k[TOP]; s < top; s++) {
      if (kind[s] !== REORDERED) continue;
      kind[s] = DUE;
      if (nowNs < at[s]) at[s] = nowNs;
    }
    k[REORDER_COUNT] = 0;
    if (nowNs < this.#f[EARLIEST]) this.#f[EARLIEST] = nowNs;
  }

  /** One copy of `slot` was handed on: frees the slot after its last copy. */
  handed(slot: number): void {
    if (--this.copies[slot] > 0) return;
    const k = this.#k;
    if (this.kind[slot] === REORDERED) k[REORDER_COUNT]--;
    this.kind[slot] = FREE;
    this.#free[k[FREE_COUNT]++] = slot;
    // The earliest release time again, and the scan limit: slots above the last used one.
    let earliest = Infinity, top = 0;
    const kind = this.kind, at = this.releaseAt;
    for (let s = 0, end = k[TOP]; s < end; s++) {
      if (kind[s] === FREE) continue;
      top = s + 1;
      if (at[s] < earliest) earliest = at[s];
    }
    k[TOP] = top;
    this.#f[EARLIEST] = earliest;
  }
}

/** Receives nothing: the target outside a receive call. */
const NOBODY: FrameReceiver = { frame() {} };

// Integer state of the injector: reserved tx frames, frames handed over in this receive call,
// frames reserved in the inner device since its last flush.
const RESERVED = 0, HANDED = 1, INNER_RESERVED = 2;

/**
 * Wraps a {@linkcode Device} and injects faults from a seed: loss, bit corruption,
 * duplication, delay and reordering, at given rates, in each direction. Deterministic: the same
 * seed and the same sequence of calls give the same faults.
 *
 * Received frames are dropped, corrupted or handed over in place; only frames held back
 * (delayed, reordered, duplicate copies) are copied, into the injector's own preallocated
 * buffers, and handed over later: {@linkcode FaultInjector.nextDeadline} says when. Frames to
 * send are written into the injector's own buffers, and copied into the wrapped device's at
 * {@linkcode FaultInjector.flush}. Nothing is allocated per frame.
 *
 * A receive call hands over at most {@linkcode FaultInjector.burst} frames: when held frames
 * are due it hands over those, and reads the wrapped device at the next call.
 *
 * @example
 * ```ts
 * import { FaultInjector, MemoryPair } from "@deno-dpdk/dpdk/stack";
 *
 * const pair = new MemoryPair();
 * // 5% of frames lost and 1% reordered, both ways; received frames also delayed 2 ms.
 * const lossy = new FaultInjector(pair.a, {
 *   seed: 42,
 *   loss: 0.05,
 *   reorder: 0.01,
 *   rx: { delayNs: 2_000_000 },
 * });
 * // ... drive a stack over `lossy` and `pair.b`, then:
 * console.log(lossy.stats.rx.dropped, lossy.stats.tx.reordered);
 * ```
 */
export class FaultInjector implements Device {
  /** The wrapped device's MAC address. */
  readonly mac: Uint8Array;
  /** The wrapped device's MTU. */
  readonly mtu: number;
  /** The wrapped device's burst size. */
  readonly burst: number;
  /** The injector's own transmit buffers (`burst` frames): reserved frames are written here. */
  readonly txData: Uint8Array;
  /** A DataView over {@linkcode FaultInjector.txData}. */
  readonly txView: DataView;
  /** Counters per direction, updated in place. */
  readonly stats: FaultStats = { rx: counters(), tx: counters() };

  #inner: Device;
  #rxRates: Rates;
  #txRates: Rates;
  #rxRng = new Int32Array(1);
  #txRng = new Int32Array(1);
  #rxHold: Holding;
  #txHold: Holding;
  #slotBytes: number;
  #frameMax: number;
  #reservedLength: Int32Array;
  #n = new Int32Array(3);
  #clock = new Float64Array(1);
  #target: FrameReceiver = NOBODY;
  // The inner device hands received frames to this object (made once, not per call).
  #tap: FrameReceiver;

  /** Wraps `inner`. Throws a RangeError for a rate outside 0..1 or a negative duration. */
  constructor(inner: Device, options: FaultInjectorOptions) {
    if (!options || typeof options.seed !== "number" || !Number.isFinite(options.seed)) {
      throw new TypeError("FaultInjector: options.seed (a finite number) is required");
    }
    const holding = options.holding ?? 256;
    if (!Number.isInteger(holding) || holding < 0 || holding > 65536) {
      throw new RangeError(`FaultInjector: holding ${holding} must be an integer in 0..65536`);
    }
    this.#inner = inner;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.burst = inner.burst;
    this.#rxRates = new Rates(options, options.rx, "rx");
    this.#txRates = new Rates(options, options.tx, "tx");
    this.#rxRng[0] = options.seed | 0;
    // A different sequence for each direction, from the one seed.
    this.#txRng[0] = (options.seed ^ 0x9e3779b9) | 0;
    this.#slotBytes = slotBytes(inner.mtu);
    this.#frameMax = inner.mtu + 14;
    const region = new ArrayBuffer(this.#slotBytes * inner.burst);
    this.txData = new Uint8Array(region);
    this.txView = new DataView(region);
    this.#reservedLength = new Int32Array(inner.burst);
    this.#rxHold = new Holding(holding, this.#slotBytes, this.#clock, this.#rxRates);
    this.#txHold = new Holding(holding, this.#slotBytes, this.#clock, this.#txRates);
    this.#tap = {
      frame: (data, view, offset, length) => this.#received(data, view, offset, length),
    };
  }

  /** The wrapped device. */
  get inner(): Device {
    return this.#inner;
  }

  /** Received frames held back now (duplicate copies included). */
  get rxHeld(): number {
    return this.#rxHold.count;
  }

  /** Frames to send held back now. */
  get txHeld(): number {
    return this.#txHold.count;
  }

  // ------------------------------------------------------------------ receive

  /**
   * Hands received frames to `receiver`, at most {@linkcode FaultInjector.burst}: held frames
   * due at `nowNs` if there are any, else frames of the wrapped device, with faults applied.
   * Also sends held outgoing frames that are due. Returns how many frames were handed over.
   */
  receive(receiver: FrameReceiver, clock: Float64Array): number {
    this.#clock[0] = clock[0];
    if (this.#txHold.earliest <= this.#clock[0]) {
      this.#releaseTx();
      this.#flushInner();
    }
    const released = this.#releaseRx(receiver);
    if (released > 0) return released;
    const n = this.#n;
    n[HANDED] = 0;
    this.#target = receiver;
    try {
      this.#inner.receive(this.#tap, this.#clock);
    } finally {
      this.#target = NOBODY;
    }
    return n[HANDED];
  }

  /** Hands held received frames due now to `receiver`, up to a burst. */
  #releaseRx(receiver: FrameReceiver): number {
    const hold = this.#rxHold, c = this.stats.rx;
    let handed = 0;
    while (handed < this.burst) {
      const slot = hold.due();
      if (slot < 0) break;
      handed++;
      c.released++;
      c.out++;
      try {
        receiver.frame(hold.data, hold.view, slot * hold.slotBytes, hold.length[slot]);
      } finally {
        hold.handed(slot);
      }
    }
    return handed;
  }

  /** One frame from the wrapped device: its fate is drawn here. */
  #received(data: Uint8Array, view: DataView, offset: number, length: number): void {
    const r = this.#rxRates, rng = this.#rxRng, c = this.stats.rx, hold = this.#rxHold;
    c.frames++;
    if (r.loss > 0 && random(rng) < r.loss) {
      c.dropped++;
      return;
    }
    if (r.corrupt > 0 && random(rng) < r.corrupt && length > 0) {
      flipBit(data, offset, length, rng);
      c.corrupted++;
    }
    const twice = r.duplicate > 0 && random(rng) < r.duplicate;
    const copies = twice ? 2 : 1;
    if (r.delay > 0 && random(rng) < r.delay) {
      if (hold.put(view, offset, length, DELAYED, copies)) {
        c.delayed++;
        if (twice) c.duplicated++;
        return;
      }
      c.overflow++;
    } else if (r.reorder > 0 && random(rng) < r.reorder) {
      if (hold.put(view, offset, length, REORDERED, copies)) {
        c.reordered++;
        if (twice) c.duplicated++;
        return;
      }
      c.overflow++;
    }
    // The duplicate is copied before the receiver sees the frame: it may change it in place.
    if (twice) {
      if (hold.put(view, offset, length, DUE, 1)) c.duplicated++;
      else c.overflow++;
    }
    c.passed++;
    c.out++;
    this.#n[HANDED]++;
    this.#target.frame(data, view, offset, length);
    hold.overtaken();
  }

  // ----------------------------------------------------------------- transmit

  /**
   * Reserves a frame of `length` bytes (0..`mtu + 14`) in the injector's own buffers. Returns
   * its offset in {@linkcode FaultInjector.txData}, or -1 when a burst of frames is already
   * reserved (flush first).
   */
  reserve(length: number): number {
    if (!(length >= 0 && length <= this.#frameMax && (length | 0) === length)) {
      throw new RangeError(
        `FaultInjector.reserve: length ${length} is outside 0..${this.#frameMax} (mtu + 14)`,
      );
    }
    const n = this.#n, count = n[RESERVED];
    if (count === this.burst) return -1;
    this.#reservedLength[count] = length;
    n[RESERVED] = count + 1;
    return count * this.#slotBytes;
  }

  /**
   * Decides each reserved frame's fate and hands the survivors to the wrapped device (held
   * frames due by `nowNs` first), then flushes it. Returns how many reserved frames were taken:
   * all of them, less those the wrapped device had no buffer for (lost and held frames count
   * as taken, as a wire takes them).
   */
  flush(clock: Float64Array): number {
    this.#clock[0] = clock[0];
    this.#releaseTx();
    const n = this.#n, count = n[RESERVED];
    n[RESERVED] = 0;
    let taken = 0;
    for (let i = 0; i < count; i++) {
      if (this.#send(i * this.#slotBytes, this.#reservedLength[i])) taken++;
    }
    this.#flushInner();
    return taken;
  }

  /** One frame to send: its fate is drawn here. Returns false if the wrapped device refused it. */
  #send(offset: number, length: number): boolean {
    const r = this.#txRates, rng = this.#txRng, c = this.stats.tx, hold = this.#txHold;
    const view = this.txView;
    c.frames++;
    if (r.loss > 0 && random(rng) < r.loss) {
      c.dropped++;
      return true;
    }
    if (r.corrupt > 0 && random(rng) < r.corrupt && length > 0) {
      flipBit(this.txData, offset, length, rng);
      c.corrupted++;
    }
    const twice = r.duplicate > 0 && random(rng) < r.duplicate;
    const copies = twice ? 2 : 1;
    if (r.delay > 0 && random(rng) < r.delay) {
      if (hold.put(view, offset, length, DELAYED, copies)) {
        c.delayed++;
        if (twice) c.duplicated++;
        return true;
      }
      c.overflow++;
    } else if (r.reorder > 0 && random(rng) < r.reorder) {
      if (hold.put(view, offset, length, REORDERED, copies)) {
        c.reordered++;
        if (twice) c.duplicated++;
        return true;
      }
      c.overflow++;
    }
    c.passed++;
    const sent = this.#forward(view, offset, length);
    if (twice) {
      c.duplicated++;
      this.#forward(view, offset, length);
    }
    // This frame has overtaken the reordered ones: they follow it now.
    for (let s = hold.firstReordered(); s >= 0; s = hold.firstReordered()) {
      this.#forwardHeld(s);
    }
    return sent;
  }

  /** Sends held outgoing frames that are due. */
  #releaseTx(): void {
    const hold = this.#txHold;
    for (let s = hold.due(); s >= 0; s = hold.due()) this.#forwardHeld(s);
  }

  /** Sends every copy of held outgoing frame `slot` and frees it. */
  #forwardHeld(slot: number): void {
    const hold = this.#txHold, c = this.stats.tx;
    const at = slot * hold.slotBytes, length = hold.length[slot];
    while (hold.copies[slot] > 0) {
      c.released++;
      this.#forward(hold.view, at, length);
      hold.handed(slot);
    }
  }

  /** Copies a frame into a buffer of the wrapped device (flushing it when it has none free). */
  #forward(view: DataView, offset: number, length: number): boolean {
    const inner = this.#inner, c = this.stats.tx;
    let at = inner.reserve(length);
    if (at < 0) {
      this.#flushInner();
      at = inner.reserve(length);
      if (at < 0) {
        c.refused++;
        return false;
      }
    }
    copyViews(view, offset, inner.txView, at, length);
    this.#n[INNER_RESERVED]++;
    c.out++;
    return true;
  }

  #flushInner(): void {
    const n = this.#n, pending = n[INNER_RESERVED];
    if (pending === 0) return;
    n[INNER_RESERVED] = 0;
    const took = this.#inner.flush(this.#clock);
    if (took < pending) {
      this.stats.tx.refused += pending - took;
      this.stats.tx.out -= pending - took;
    }
  }

  /** The earliest time a held frame is due, or the wrapped device's deadline if sooner. */
  nextDeadline(): number {
    return Math.min(this.#rxHold.earliest, this.#txHold.earliest, this.#inner.nextDeadline());
  }
}
