/**
 * IPv4 fragmentation (RFC 791 §2.3, §3.2) and reassembly (RFC 791, RFC 815, RFC 1122 §3.3.2)
 * with bounded memory and bounded time.
 *
 * {@linkcode Reassembler} holds a fixed number of datagrams being reassembled, each in a
 * preallocated buffer with a bitmap of the 8-byte blocks received; it drops what it cannot or
 * must not reassemble (overlaps, oversized datagrams, conflicting lengths, timeouts, evictions)
 * and counts every drop. {@linkcode fragmentIpv4} cuts a datagram larger than the MTU into
 * fragments written in place through a sink shaped like a {@linkcode Device}.
 *
 * Like the rest of the stack it owns no clock (it reads the caller's `clock[0]`, in ns) and
 * allocates nothing per fragment.
 *
 * @module
 */
import { copyBytes } from "./bytes.ts";
import { foldSum, sum16 } from "../net/mod.ts";

/** Options of a {@linkcode Reassembler}. */
export interface ReassemblerOptions {
  /** Datagrams being reassembled at once; one more evicts the oldest. Default: 16. */
  slots?: number;
  /**
   * Largest reassembled datagram (IP header included), in bytes: each slot preallocates this
   * much. Default: 65535, the largest an IPv4 total length can say.
   */
  maxDatagram?: number;
  /**
   * Time from a datagram's first fragment after which it is dropped if incomplete, in ns.
   * Default: 30 s (Linux's ipfrag_time; RFC 1122 suggests 60 to 120 s, which only keeps
   * memory longer).
   */
  timeoutNs?: number;
}

/**
 * What the reassembler did with the fragments it was given, all plain numbers. Every fragment
 * given to {@linkcode Reassembler.add} ends up in exactly one of `fragmentsUsed`,
 * `fragmentsDropped` and {@linkcode Reassembler.held}; the other counters say why.
 */
export interface ReassemblyCounters {
  /** Fragments given to {@linkcode Reassembler.add}. */
  fragments: number;
  /** Datagrams reassembled. */
  reassembled: number;
  /** Fragments that went into reassembled datagrams. */
  fragmentsUsed: number;
  /** Fragments thrown away, for any of the reasons below (with the datagram they were in). */
  fragmentsDropped: number;
  /** Fragments ignored because they repeat, byte for byte, data already held. */
  duplicates: number;
  /**
   * Datagrams dropped because a fragment overlapped data already held, partly, or wholly with
   * different bytes (RFC 5722's rule, which Linux also applies to IPv4).
   */
  overlaps: number;
  /** Fragments (and the datagram they belong to) that would make it exceed `maxDatagram`. */
  tooBig: number;
  /**
   * Datagrams dropped because fragments disagree on its end: a second last fragment (MF=0)
   * ending elsewhere, or data beyond the end a last fragment set.
   */
  conflicts: number;
  /**
   * Fragments dropped alone (their datagram is kept): no payload, or a payload that is not a
   * multiple of 8 bytes in a fragment that is not the last (RFC 791).
   */
  malformed: number;
  /** Incomplete datagrams dropped to make room for a new one (the oldest goes). */
  evicted: number;
  /** Incomplete datagrams dropped when their time ran out. */
  timedOut: number;
}

/**
 * Told about each datagram {@linkcode Reassembler.expire} drops whose first fragment had arrived,
 * so the caller can send ICMP Time Exceeded, code 1 (RFC 1122 §3.3.2 says it SHOULD). An object
 * with a method: no closure per call.
 */
export interface ReassemblyTimeoutReceiver {
  /**
   * The dropped datagram's IP header (as the first fragment carried it) and the payload of its
   * first fragment: bytes `offset .. offset + length` of `data`/`view`. Valid during the call.
   */
  timedOut(data: Uint8Array, view: DataView, offset: number, length: number): void;
}

/** Slot states. */
const FREE = 0, ACTIVE = 1, DONE = 2;
/** Room kept in front of each slot's payload for the longest IPv4 header (IHL 15). */
const HEADER_ROOM = 60;
/** Coverage of a fragment's blocks by blocks already received. */
const NONE = 0, PARTIAL = 1, ALL = 2;

/** Whether `n` bytes at `a[from]` and `b[to]` are equal (4 bytes at a time). */
function sameBytes(
  a: Uint8Array,
  aView: DataView,
  from: number,
  b: Uint8Array,
  bView: DataView,
  to: number,
  n: number,
): boolean {
  let i = 0;
  for (const words = n - 3; i < words; i += 4) {
    if (aView.getUint32(from + i) !== bView.getUint32(to + i)) return false;
  }
  for (; i < n; i++) if (a[from + i] !== b[to + i]) return false;
  return true;
}

/** Writes the header checksum of the IPv4 header of `ihl` bytes at `view[at]`. */
function setChecksum(view: DataView, at: number, ihl: number): void {
  view.setUint16(at + 10, 0);
  view.setUint16(at + 10, ~foldSum(sum16(view, at, ihl)) & 0xffff);
}

/**
 * Reassembles IPv4 fragments into datagrams, in bounded memory (`slots` buffers of
 * `maxDatagram` bytes, allocated once) and bounded time (`timeoutNs` from a datagram's first
 * fragment, as Linux counts it).
 *
 * Fragments belong together when they share source, destination, protocol and identification
 * (RFC 791). Each slot holds the payload at its offset behind room for the header, which the
 * fragment at offset 0 supplies; a bitmap of 8-byte blocks (the unit of fragment offsets)
 * records what arrived, which makes duplicates and overlaps exact to detect and completion a
 * byte count. Slots are found in O(1) through a small open-addressing table and kept in a list
 * in arrival order, which is also expiry order: the oldest is evicted, and timeouts are checked
 * at the head only.
 *
 * The rules, which follow Linux's IPv4 reassembly:
 * - A fragment whose bytes were all received before and are the same is a duplicate: ignored.
 * - Any other overlap drops the whole datagram (RFC 5722 for IPv6; Linux does the same for IPv4
 *   since 2018, which closes the overlapping-fragment attacks on IDS and firewalls).
 * - A datagram that would exceed `maxDatagram` (65535 by default: the "ping of death") is
 *   dropped as soon as a fragment says so.
 * - A last fragment (MF=0) that ends elsewhere than the end already known, or before data
 *   already held, or a fragment beyond the known end, drops the datagram.
 * - A fragment without payload, or one that is not the last and carries a payload that is not
 *   a multiple of 8 bytes, is dropped alone.
 *
 * The reassembled datagram's header is the first fragment's, with the total length set, the
 * flags and offset cleared, ECN set to CE if any fragment carried CE (RFC 3168 §5.3), and the
 * checksum recomputed.
 *
 * @example
 * ```ts
 * import { fragmentIpv4, Reassembler } from "@deno-dpdk/dpdk/stack";
 *
 * const clock = new Float64Array(1); // the caller's time, ns
 * const reassembler = new Reassembler(clock, { slots: 4 });
 * // A 3000-byte datagram cut for a 1500-byte MTU into a buffer, fragments one after the other.
 * const packet = new Uint8Array(3000);
 * const pv = new DataView(packet.buffer);
 * pv.setUint32(0, 0x45000000 | 3000);
 * pv.setUint32(8, 0x40110000); // TTL 64, UDP
 * const out = new Uint8Array(4096), ov = new DataView(out.buffer);
 * let used = 0;
 * const sink = { txData: out, txView: ov, reserve: (n: number) => (used += n) - n };
 * const count = fragmentIpv4(packet, pv, 0, 1500, sink);
 * let at = 0;
 * for (let i = 0; i < count; i++) {
 *   const slot = reassembler.add(out, ov, at);
 *   if (slot >= 0) {
 *     console.log(reassembler.length(slot)); // 3000, at reassembler.offset(slot)
 *     reassembler.release(slot);
 *   }
 *   at += ov.getUint16(at + 2);
 * }
 * ```
 */
export class Reassembler {
  /** Datagrams held at most. */
  readonly slots: number;
  /** Largest datagram reassembled, in bytes. */
  readonly maxDatagram: number;
  /** The slots' memory: a reassembled datagram is read here. */
  readonly data: Uint8Array;
  /** A DataView over {@linkcode Reassembler.data}. */
  readonly view: DataView;
  /** Counters for every fragment and every drop. */
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    reassembled: 0,
    fragmentsUsed: 0,
    fragmentsDropped: 0,
    duplicates: 0,
    overlaps: 0,
    tooBig: 0,
    conflicts: 0,
    malformed: 0,
    evicted: 0,
    timedOut: 0,
  };

  /** The caller's clock (ns), read here instead of passed: a time argument would be boxed. */
  readonly #clock: Float64Array;
  readonly #timeoutNs: number;
  /** Bytes per slot: header room + the largest payload. */
  readonly #stride: number;
  /** 32-bit words of bitmap per slot. */
  readonly #words: number;
  readonly #bitmap: Uint32Array;
  // Per slot: state, key, what arrived.
  readonly #state: Uint8Array;
  readonly #src: Uint32Array;
  readonly #dst: Uint32Array;
  /** Protocol << 16 | identification. */
  readonly #key: Uint32Array;
  /** Header length of the first fragment; 0 until it arrives. */
  readonly #ihl: Uint8Array;
  /** Payload bytes of the first fragment (quoted when the datagram times out). */
  readonly #firstLength: Int32Array;
  /** Payload length, known once the last fragment arrived; -1 before. */
  readonly #total: Int32Array;
  /** Payload bytes received (never twice: overlaps are refused). */
  readonly #received: Int32Array;
  /** End of the highest payload byte received. */
  readonly #highest: Int32Array;
  /** Fragments held. */
  readonly #count: Int32Array;
  /** Whether a fragment carried ECN CE. */
  readonly #ce: Uint8Array;
  /** When the datagram times out (ns, the caller's clock). */
  readonly #deadline: Float64Array;
  // Arrival order (= expiry order, the timeout being the same for all): a doubly linked list.
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  #head = -1;
  #tail = -1;
  // Free slots, a stack.
  readonly #free: Int32Array;
  #freeCount: number;
  // Key → slot: open addressing, linear probing, deletion by backward shift (no tombstones).
  readonly #table: Int32Array;
  readonly #mask: number;
  /** Each slot's home position in `#table`. */
  readonly #home: Int32Array;
  /** Mixed into the hash so that a sender cannot aim fragments at one probe chain. */
  readonly #seed: number;
  /** The completed datagram not released yet, or -1: the next `add` releases it. */
  #done = -1;
  #active = 0;
  #held = 0;

  /** An empty reassembler that reads the time (ns) from `clock[0]`. */
  constructor(clock: Float64Array, options: ReassemblerOptions = {}) {
    const slots = options.slots ?? 16;
    const maxDatagram = options.maxDatagram ?? 65535;
    const timeoutNs = options.timeoutNs ?? 30e9;
    if (!Number.isInteger(slots) || slots < 1 || slots > 4096) {
      throw new RangeError(`ReassemblerOptions.slots ${slots} must be an integer in 1..4096`);
    }
    if (!Number.isInteger(maxDatagram) || maxDatagram < 68 || maxDatagram > 65535) {
      throw new RangeError(
        `ReassemblerOptions.maxDatagram ${maxDatagram} must be an integer in 68..65535`,
      );
    }
    if (!(timeoutNs > 0)) {
      throw new RangeError(`ReassemblerOptions.timeoutNs ${timeoutNs} must be positive`);
    }
    this.#clock = clock;
    this.slots = slots;
    this.maxDatagram = maxDatagram;
    this.#timeoutNs = timeoutNs;
    // Payload at most maxDatagram - 20 (the shortest header), behind room for the longest one.
    this.#stride = HEADER_ROOM + maxDatagram - 20;
    this.data = new Uint8Array(slots * this.#stride);
    this.view = new DataView(this.data.buffer);
    this.#words = Math.ceil(Math.ceil((maxDatagram - 20) / 8) / 32);
    this.#bitmap = new Uint32Array(slots * this.#words);
    this.#state = new Uint8Array(slots);
    this.#src = new Uint32Array(slots);
    this.#dst = new Uint32Array(slots);
    this.#key = new Uint32Array(slots);
    this.#ihl = new Uint8Array(slots);
    this.#firstLength = new Int32Array(slots);
    this.#total = new Int32Array(slots);
    this.#received = new Int32Array(slots);
    this.#highest = new Int32Array(slots);
    this.#count = new Int32Array(slots);
    this.#ce = new Uint8Array(slots);
    this.#deadline = new Float64Array(slots);
    this.#prev = new Int32Array(slots);
    this.#next = new Int32Array(slots);
    this.#free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i; // slot 0 is used first
    this.#freeCount = slots;
    let size = 1;
    while (size < slots * 2) size <<= 1; // at most half full: short probe chains
    this.#table = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    this.#home = new Int32Array(slots);
    this.#seed = (Math.random() * 0x100000000) | 0;
  }

  /** Datagrams being reassembled (incomplete). */
  get pending(): number {
    return this.#active;
  }

  /** Fragments held in incomplete datagrams. */
  get held(): number {
    return this.#held;
  }

  /**
   * Takes one fragment: the IPv4 packet whose header starts at `data[at]` (`view` covers the
   * same memory from the same start). The caller has checked version, IHL, header checksum and
   * that the total length fits in what it received; the fragment is copied, so its buffer can
   * be reused as soon as this returns.
   *
   * Returns -1 while its datagram is incomplete (or when the fragment was dropped: see
   * {@linkcode Reassembler.counters}), or the slot of the datagram it completed: the whole IPv4
   * packet is then `length(slot)` bytes at `offset(slot)` in {@linkcode Reassembler.data} /
   * {@linkcode Reassembler.view}, valid until {@linkcode Reassembler.release} or the next
   * `add`, whichever comes first.
   */
  add(data: Uint8Array, view: DataView, at: number): number {
    const c = this.counters;
    c.fragments++;
    if (this.#done >= 0) this.release(this.#done);
    const ihl = (data[at] & 0x0f) * 4;
    const word = view.getUint16(at + 6);
    const more = (word & 0x2000) !== 0;
    const start = (word & 0x1fff) * 8;
    const length = view.getUint16(at + 2) - ihl;
    const end = start + length;
    if (length <= 0 || (more && (length & 7) !== 0)) {
      c.malformed++;
      c.fragmentsDropped++;
      return -1;
    }
    const src = view.getUint32(at + 12), dst = view.getUint32(at + 16);
    const key = (data[at + 9] << 16 | view.getUint16(at + 4)) >>> 0;
    const hash = this.#hash(src, dst, key);
    let slot = this.#find(hash, src, dst, key);
    if (slot >= 0 && this.#deadline[slot] <= this.#clock[0]) {
      // Its time ran out before expire() was called: it is gone, this fragment starts anew.
      c.timedOut++;
      this.#drop(slot);
      slot = -1;
    }

    // The limit counts the header the datagram will have: the first fragment's once known.
    const header = slot >= 0 && this.#ihl[slot] !== 0 ? this.#ihl[slot] : start === 0 ? ihl : 20;
    const highest = slot >= 0 && this.#highest[slot] > end ? this.#highest[slot] : end;
    if (header + highest > this.maxDatagram) {
      c.tooBig++;
      c.fragmentsDropped++;
      if (slot >= 0) this.#drop(slot);
      return -1;
    }

    if (slot < 0) {
      slot = this.#create(hash, src, dst, key);
    } else {
      // Once a last fragment set the end, nothing may pass it and no other last fragment may
      // move it; before that, a last fragment may not end before data already held.
      const total = this.#total[slot];
      if (total >= 0 ? (more ? end > total : end !== total) : !more && this.#highest[slot] > end) {
        c.conflicts++;
        c.fragmentsDropped++;
        this.#drop(slot);
        return -1;
      }
      const coverage = this.#coverage(slot, start >>> 3, (end + 7) >>> 3);
      if (coverage !== NONE) {
        const base = slot * this.#stride + HEADER_ROOM;
        if (
          coverage === ALL &&
          sameBytes(data, view, at + ihl, this.data, this.view, base + start, length)
        ) {
          c.duplicates++;
          c.fragmentsDropped++;
          return -1;
        }
        c.overlaps++;
        c.fragmentsDropped++;
        this.#drop(slot);
        return -1;
      }
    }

    // Store it.
    const base = slot * this.#stride + HEADER_ROOM;
    copyBytes(data, view, at + ihl, this.data, this.view, base + start, length);
    this.#mark(slot, start >>> 3, (end + 7) >>> 3);
    if (start === 0) {
      copyBytes(data, view, at, this.data, this.view, base - ihl, ihl);
      this.#ihl[slot] = ihl;
      this.#firstLength[slot] = length;
    }
    if (!more) this.#total[slot] = end;
    if (end > this.#highest[slot]) this.#highest[slot] = end;
    if ((data[at + 1] & 3) === 3) this.#ce[slot] = 1;
    this.#received[slot] += length;
    this.#count[slot]++;
    this.#held++;
    if (this.#received[slot] !== this.#total[slot]) return -1;

    // Complete (every byte up to the end arrived once, so the first fragment did too).
    const hl = this.#ihl[slot], h = base - hl, v = this.view;
    v.setUint16(h + 2, hl + this.#total[slot]);
    v.setUint16(h + 6, 0); // no MF, offset 0; DF too, as Linux clears it
    if (this.#ce[slot] !== 0 && (this.data[h + 1] & 3) !== 0) this.data[h + 1] |= 3;
    setChecksum(v, h, hl);
    this.#unlink(slot);
    this.#state[slot] = DONE;
    this.#done = slot;
    c.reassembled++;
    c.fragmentsUsed += this.#count[slot];
    this.#held -= this.#count[slot];
    return slot;
  }

  /** Where the datagram completed in `slot` starts in {@linkcode Reassembler.data}. */
  offset(slot: number): number {
    return slot * this.#stride + HEADER_ROOM - this.#ihl[slot];
  }

  /** Length of the datagram completed in `slot` (header and payload). */
  length(slot: number): number {
    return this.#ihl[slot] + this.#total[slot];
  }

  /** Frees the slot of a completed datagram once the caller is done with it. Idempotent. */
  release(slot: number): void {
    if (this.#state[slot] !== DONE) return;
    if (this.#done === slot) this.#done = -1;
    this.#recycle(slot);
  }

  /**
   * Drops the datagrams whose time ran out by `clock[0]` (counted in `timedOut`) and tells
   * `receiver` about each whose first fragment had arrived. Returns how many were dropped.
   * Cheap when nothing is due: only the oldest datagram is looked at.
   */
  expire(receiver: ReassemblyTimeoutReceiver | null = null): number {
    const now = this.#clock[0];
    let n = 0;
    for (let slot = this.#head; slot >= 0 && this.#deadline[slot] <= now; slot = this.#head) {
      n++;
      this.counters.timedOut++;
      const ihl = this.#ihl[slot];
      if (receiver !== null && ihl !== 0) {
        receiver.timedOut(
          this.data,
          this.view,
          slot * this.#stride + HEADER_ROOM - ihl,
          ihl + this.#firstLength[slot],
        );
      }
      this.#drop(slot);
    }
    return n;
  }

  /**
   * Writes when {@linkcode Reassembler.expire} next has work (ns, the caller's clock; Infinity
   * when nothing is pending) into `out[index]`: returned, a time past 2^30 would be a new heap
   * number at every call.
   */
  writeDeadline(out: Float64Array, index: number): void {
    out[index] = this.#head >= 0 ? this.#deadline[this.#head] : Infinity;
  }

  /** Drops every datagram being reassembled (counted as evicted), e.g. when the address goes. */
  clear(): void {
    while (this.#head >= 0) {
      this.counters.evicted++;
      this.#drop(this.#head);
    }
    if (this.#done >= 0) this.release(this.#done);
  }

  // ------------------------------------------------------------------------- slots

  #hash(src: number, dst: number, key: number): number {
    let h = Math.imul(src ^ this.#seed, 0x9e3779b1) ^ Math.imul(dst, 0x85ebca6b) ^
      Math.imul(key, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 13)) & this.#mask;
  }

  #find(hash: number, src: number, dst: number, key: number): number {
    const table = this.#table, mask = this.#mask;
    for (let i = hash;; i = (i + 1) & mask) {
      const slot = table[i];
      if (slot < 0) return -1;
      if (this.#key[slot] === key && this.#src[slot] === src && this.#dst[slot] === dst) {
        return slot;
      }
    }
  }

  /** Takes a slot (evicting the oldest datagram when none is free) for a new datagram. */
  #create(hash: number, src: number, dst: number, key: number): number {
    if (this.#freeCount === 0) {
      // Only the one completed datagram can be outside the list, and add() released it.
      this.counters.evicted++;
      this.#drop(this.#head);
    }
    const slot = this.#free[--this.#freeCount];
    this.#state[slot] = ACTIVE;
    this.#src[slot] = src;
    this.#dst[slot] = dst;
    this.#key[slot] = key;
    this.#ihl[slot] = 0;
    this.#total[slot] = -1;
    this.#received[slot] = 0;
    this.#highest[slot] = 0;
    this.#count[slot] = 0;
    this.#ce[slot] = 0;
    this.#deadline[slot] = this.#clock[0] + this.#timeoutNs;
    // Into the table...
    const table = this.#table, mask = this.#mask;
    let i = hash;
    while (table[i] >= 0) i = (i + 1) & mask;
    table[i] = slot;
    this.#home[slot] = hash;
    // ...and at the tail of the arrival list.
    this.#prev[slot] = this.#tail;
    this.#next[slot] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = slot;
    else this.#head = slot;
    this.#tail = slot;
    this.#active++;
    return slot;
  }

  /** Takes an incomplete datagram out of the table and the list. */
  #unlink(slot: number): void {
    const table = this.#table, mask = this.#mask;
    let i = this.#home[slot];
    while (table[i] !== slot) i = (i + 1) & mask;
    // Backward shift: move later entries of the chain into the hole when their home allows.
    for (let j = (i + 1) & mask; table[j] >= 0; j = (j + 1) & mask) {
      const home = this.#home[table[j]];
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        table[i] = table[j];
        i = j;
      }
    }
    table[i] = -1;
    const prev = this.#prev[slot], next = this.#next[slot];
    if (prev >= 0) this.#next[prev] = next;
    else this.#head = next;
    if (next >= 0) this.#prev[next] = prev;
    else this.#tail = prev;
    this.#active--;
  }

  /** Drops an incomplete datagram and its fragments. */
  #drop(slot: number): void {
    this.counters.fragmentsDropped += this.#count[slot];
    this.#held -= this.#count[slot];
    this.#unlink(slot);
    this.#recycle(slot);
  }

  /** Clears the slot's bitmap (the words it used) and puts it back on the free stack. */
  #recycle(slot: number): void {
    const first = slot * this.#words;
    const last = first + ((((this.#highest[slot] + 7) >>> 3) + 31) >>> 5);
    this.#bitmap.fill(0, first, last);
    this.#state[slot] = FREE;
    this.#free[this.#freeCount++] = slot;
  }

  // ------------------------------------------------------------------------ bitmap

  /** Whether blocks `from .. to - 1` of `slot` were received: NONE, PARTIAL or ALL of them. */
  #coverage(slot: number, from: number, to: number): number {
    const bits = this.#bitmap, base = slot * this.#words;
    let any = false, all = true;
    for (let w = from >>> 5, last = (to - 1) >>> 5; w <= last; w++) {
      const lo = w === from >>> 5 ? from & 31 : 0;
      const hi = w === last ? ((to - 1) & 31) + 1 : 32;
      const mask = (0xffffffff >>> (32 - hi + lo)) << lo; // bits lo .. hi - 1, as an int32
      const got = bits[base + w] & mask;
      if (got !== 0) any = true;
      if (got !== mask) all = false;
    }
    return all ? ALL : any ? PARTIAL : NONE;
  }

  /** Marks blocks `from .. to - 1` of `slot` received. */
  #mark(slot: number, from: number, to: number): void {
    const bits = this.#bitmap, base = slot * this.#words;
    for (let w = from >>> 5, last = (to - 1) >>> 5; w <= last; w++) {
      const lo = w === from >>> 5 ? from & 31 : 0;
      const hi = w === last ? ((to - 1) & 31) + 1 : 32;
      bits[base + w] |= (0xffffffff >>> (32 - hi + lo)) << lo;
    }
  }
}

/**
 * Where {@linkcode fragmentIpv4} writes fragments: the shape of a {@linkcode Device}, which can be
 * passed as is, or a small object of the caller's that writes a link header or counts frames.
 */
export interface FragmentSink {
  /** The memory reserved fragments are written in (read again after each reserve). */
  readonly txData: Uint8Array;
  /** A DataView over {@linkcode FragmentSink.txData}. */
  readonly txView: DataView;
  /**
   * Room for one frame of `length` bytes; returns its offset in `txData`, or -1 when there is
   * none.
   */
  reserve(length: number): number;
}

/** {@linkcode fragmentIpv4}'s result when the packet exceeds the MTU and has DF set. */
export const FRAGMENT_DONT_FRAGMENT: -1 = -1;
/** {@linkcode fragmentIpv4}'s result when the sink had no room for a fragment. */
export const FRAGMENT_NO_BUFFER: -2 = -2;

/**
 * How many fragments {@linkcode fragmentIpv4} makes of an IPv4 packet of `totalLength` bytes with
 * a header of `headerLength` bytes for `mtu`: 1 when it fits.
 */
export function fragmentCount(totalLength: number, headerLength: number, mtu: number): number {
  if (totalLength <= mtu) return 1;
  const chunk = (mtu - headerLength) & ~7;
  return Math.ceil((totalLength - headerLength) / chunk);
}

/**
 * Sends the IPv4 packet whose header starts at `data[at]` (`view` covers the same memory from the
 * same start; header and total length already valid) through `sink`, cut into fragments that fit
 * `mtu` (RFC 791 §3.2): every fragment but the last carries the largest multiple of 8 bytes of
 * payload that fits, behind a copy of the header with its total length, MF flag, fragment offset
 * and checksum set. The first fragment keeps every option; the others have the options whose
 * "copied" bit is clear replaced by NOPs, as Linux does, so every header keeps the same length.
 * A packet that is itself a fragment is cut further (offsets add up, MF stays on the last).
 *
 * `headerRoom` bytes in front of the packet (e.g. a 14-byte Ethernet header the caller wrote
 * there) are copied in front of every fragment: each frame reserved is `headerRoom` + the
 * fragment's length, so a {@linkcode Device} can be the sink.
 *
 * Returns how many frames were reserved and written (1, the packet as is, when it fits), or
 * {@linkcode FRAGMENT_DONT_FRAGMENT} (nothing written: the caller answers or reports
 * "fragmentation needed"), or {@linkcode FRAGMENT_NO_BUFFER} (the fragments written before stay
 * reserved: the receiver will drop the incomplete datagram when its time runs out; a sink that
 * flushes and retries, as the stack's does, avoids it). Allocates nothing.
 */
export function fragmentIpv4(
  data: Uint8Array,
  view: DataView,
  at: number,
  mtu: number,
  sink: FragmentSink,
  headerRoom = 0,
): number {
  const ihl = (data[at] & 0x0f) * 4, total = view.getUint16(at + 2);
  if (ihl < 20 || total < ihl) {
    throw new RangeError(`fragmentIpv4: bad IPv4 header (IHL ${ihl / 4}, total length ${total})`);
  }
  if (total <= mtu) {
    const frame = sink.reserve(headerRoom + total);
    if (frame < 0) return FRAGMENT_NO_BUFFER;
    copyBytes(data, view, at - headerRoom, sink.txData, sink.txView, frame, headerRoom + total);
    return 1;
  }
  const word = view.getUint16(at + 6);
  if ((word & 0x4000) !== 0) return FRAGMENT_DONT_FRAGMENT;
  const chunk = (mtu - ihl) & ~7;
  if (chunk < 8) {
    throw new RangeError(`fragmentIpv4: MTU ${mtu} leaves no room for 8 bytes behind ${ihl}`);
  }
  const payload = total - ihl;
  const firstBlock = word & 0x1fff, lastMore = word & 0x2000, reserved = word & 0x8000;
  let n = 0;
  for (let off = 0; off < payload; off += chunk) {
    const length = payload - off < chunk ? payload - off : chunk;
    const last = off + length === payload;
    const frame = sink.reserve(headerRoom + ihl + length);
    if (frame < 0) return FRAGMENT_NO_BUFFER;
    const tx = sink.txData, tv = sink.txView, ip = frame + headerRoom;
    copyBytes(data, view, at - headerRoom, tx, tv, frame, headerRoom + ihl);
    if (off > 0 && ihl > 20) nopUncopiedOptions(tx, ip, ihl);
    tv.setUint16(ip + 2, ihl + length);
    tv.setUint16(ip + 6, reserved | (last ? lastMore : 0x2000) | (firstBlock + (off >>> 3)));
    setChecksum(tv, ip, ihl);
    copyBytes(data, view, at + ihl + off, tx, tv, ip + ihl, length);
    n++;
  }
  return n;
}

/**
 * Replaces the options of the header at `data[at]` whose "copied" bit (0x80) is clear by NOPs
 * (RFC 791: only copied options go into fragments after the first).
 */
function nopUncopiedOptions(data: Uint8Array, at: number, ihl: number): void {
  for (let i = at + 20, end = at + ihl; i < end;) {
    const type = data[i];
    if (type === 0) break; // end of options
    if (type === 1) { // NOP: one byte
      i++;
      continue;
    }
    const length = i + 1 < end ? data[i + 1] : 0;
    if (length < 2 || i + length > end) { // malformed: blank the rest
      data.fill(1, i, end);
      break;
    }
    if ((type & 0x80) === 0) data.fill(1, i, i + length);
    i += length;
  }
}
