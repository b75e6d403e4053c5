/**
 * The ARP cache (RFC 826, RFC 1122 §2.3.2): IPv4 address → MAC, with states, in preallocated
 * typed arrays looked up in O(1) (open addressing), and a bounded queue of packets that wait
 * for a resolution. Owns no clock: times are given by the caller.
 *
 * @module
 */

/** States of a cache entry. */
export const ArpState = {
  /** Slot never used. */
  FREE: 0,
  /** A request was sent; packets wait in the queue. */
  INCOMPLETE: 1,
  /** Confirmed recently: used as is. */
  REACHABLE: 2,
  /** Older than the reachable time: still used, re-resolved on use. */
  STALE: 3,
  /** Configured by hand: never expires, never replaced by what the network says. */
  STATIC: 4,
  /** Removed; keeps probe chains of the open addressing intact. */
  DELETED: 5,
} as const;

/** Options of the {@linkcode ArpCache}. */
export interface ArpOptions {
  /** Entries the cache holds at most. Default: 256. */
  entries?: number;
  /** How long a confirmed entry stays REACHABLE, in ns. Default: 30 s (Linux's base_reachable_time). */
  reachableNs?: number;
  /** Time between requests for an unresolved address, in ns. Default: 1 s. */
  retryNs?: number;
  /** Requests sent before giving up on an address. Default: 3. */
  retries?: number;
  /** Packets held, in all, while their next hop resolves; more are dropped. Default: 64. */
  queue?: number;
  /** Largest packet held, in bytes (the MTU). Default: 1500. */
  packetSize?: number;
}

/** What the cache wants the interface to do after {@linkcode ArpCache.timers}. */
export interface ArpActions {
  /** Sends a request for `ip` (who-has). */
  request(ip: number): void;
  /** Gives up on `ip`: its waiting packets were dropped (`count` of them). */
  failed(ip: number, count: number): void;
  /** One packet given up with its address, `data[offset, offset + length)`, before it goes. */
  dropped(data: Uint8Array, offset: number, length: number): void;
}

const EMPTY = -1;

/** The cache; see the module doc. */
export class ArpCache {
  /** Entries the cache holds at most. */
  readonly capacity: number;
  readonly #mask: number;
  readonly #ip: Uint32Array;
  // MACs as two integer words: a 48-bit number would be a heap-allocated double wherever it
  // crosses a call.
  readonly #macHi: Uint16Array;
  readonly #macLo: Uint32Array;
  /** The caller's clock (ns), read here instead of passed: a time argument would be boxed. */
  readonly #clock: Float64Array;
  readonly #state: Uint8Array;
  /** Time the entry turns STALE (REACHABLE) or its next request is due (INCOMPLETE). */
  readonly #due: Float64Array;
  readonly #tries: Uint8Array;
  #used = 0;
  readonly #reachableNs: number;
  readonly #retryNs: number;
  readonly #retries: number;
  /** Earliest `#due` of an INCOMPLETE entry (Infinity when none): timers run only then. */
  #nextDue = Infinity;
  // The queue: packets copied into fixed slots, with their next hop and length.
  readonly #queueData: Uint8Array;
  readonly #queueIp: Uint32Array;
  readonly #queueLength: Int32Array;
  readonly #packetSize: number;
  #queued = 0;

  /** Creates an empty cache that reads the time (ns) from `clock[0]`. */
  constructor(clock: Float64Array, options: ArpOptions = {}) {
    this.#clock = clock;
    const entries = options.entries ?? 256;
    if (!Number.isInteger(entries) || entries < 1 || entries > 65536) {
      throw new RangeError(`ArpOptions.entries ${entries} must be an integer in 1..65536`);
    }
    let size = 1;
    while (size < entries * 2) size <<= 1; // at most half full: short probe chains
    this.capacity = entries;
    this.#mask = size - 1;
    this.#ip = new Uint32Array(size);
    this.#macHi = new Uint16Array(size);
    this.#macLo = new Uint32Array(size);
    this.#state = new Uint8Array(size);
    this.#due = new Float64Array(size);
    this.#tries = new Uint8Array(size);
    this.#reachableNs = options.reachableNs ?? 30e9;
    this.#retryNs = options.retryNs ?? 1e9;
    this.#retries = options.retries ?? 3;
    const queue = options.queue ?? 64;
    this.#packetSize = options.packetSize ?? 1500;
    this.#queueData = new Uint8Array(queue * this.#packetSize);
    this.#queueIp = new Uint32Array(queue);
    this.#queueLength = new Int32Array(queue).fill(EMPTY);
  }

  /** Slot of `ip`, or -1. */
  #find(ip: number): number {
    let i = Math.imul(ip, 0x9e3779b1) >>> 0 & this.#mask;
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      const s = this.#state[i];
      if (s === ArpState.FREE) return -1;
      if (s !== ArpState.DELETED && this.#ip[i] === ip) return i;
    }
    return -1;
  }

  /** A slot for a new entry of `ip` (evicting a stale one when full), or -1. */
  #insert(ip: number): number {
    if (this.#used >= this.capacity && !this.#evict()) return -1;
    let i = Math.imul(ip, 0x9e3779b1) >>> 0 & this.#mask;
    while (this.#state[i] !== ArpState.FREE && this.#state[i] !== ArpState.DELETED) {
      i = (i + 1) & this.#mask;
    }
    this.#ip[i] = ip;
    this.#used++;
    return i;
  }

  /** Frees the entry that was confirmed longest ago (STALE first); false when none can go. */
  #evict(): boolean {
    let victim = -1;
    for (let i = 0; i <= this.#mask; i++) {
      const s = this.#state[i];
      if (s !== ArpState.STALE && s !== ArpState.REACHABLE) continue;
      if (victim < 0 || this.#due[i] < this.#due[victim]) victim = i;
    }
    if (victim < 0) return false;
    this.#remove(victim);
    return true;
  }

  #remove(i: number): void {
    this.#state[i] = ArpState.DELETED;
    this.#used--;
  }

  /** Number of entries in use. */
  get size(): number {
    return this.#used;
  }

  /** Packets waiting for a resolution. */
  get queued(): number {
    return this.#queued;
  }

  /** The state of `ip`'s entry ({@linkcode ArpState}), FREE when there is none. */
  state(ip: number): number {
    const i = this.#find(ip);
    return i < 0 ? ArpState.FREE : this.#state[i];
  }

  /**
   * The entry to send to `ip` by (for {@linkcode ArpCache.writeMac}), or -1 when it is not
   * resolved yet. A STALE entry is used and re-resolved: `request` is told to ask again
   * (RFC 1122's "refresh before expiry").
   */
  lookup(ip: number, actions: ArpActions): number {
    const i = this.#find(ip);
    if (i < 0) return -1;
    const s = this.#state[i], now = this.#clock[0];
    if ((s === ArpState.REACHABLE || s === ArpState.STALE) && now >= this.#due[i]) {
      this.#state[i] = ArpState.STALE;
      this.#due[i] = now + this.#retryNs; // at most one refresh per retry time
      actions.request(ip); // still usable meanwhile
    }
    return s === ArpState.INCOMPLETE ? -1 : i;
  }

  /** Writes the MAC of entry `entry` (from {@linkcode ArpCache.lookup}) at `view[at]`. */
  writeMac(entry: number, view: DataView, at: number): void {
    view.setUint16(at, this.#macHi[entry]);
    view.setUint32(at + 2, this.#macLo[entry]);
  }

  /** Adds a static entry (never expires, never overwritten by the network). */
  setStatic(ip: number, mac: number): void {
    let i = this.#find(ip);
    if (i < 0) i = this.#insert(ip);
    if (i < 0) throw new RangeError(`ARP cache full (${this.capacity} entries)`);
    this.#state[i] = ArpState.STATIC;
    this.#setMac(i, mac);
  }

  #setMac(i: number, mac: number): void {
    this.#macHi[i] = Math.floor(mac / 4294967296);
    this.#macLo[i] = mac >>> 0;
  }

  /**
   * What the network says: `ip` is at `mac` (a reply, or the sender of a request). Updates an
   * existing entry; creates one when `create` (the request was for us, RFC 826's merge rule).
   * Returns true when packets were waiting: call {@linkcode ArpCache.drain}.
   */
  learn(ip: number, mac: number, create: boolean): boolean {
    let i = this.#find(ip);
    if (i >= 0 && this.#state[i] === ArpState.STATIC) return false;
    if (i < 0) {
      if (!create) return false;
      i = this.#insert(ip);
      if (i < 0) return false;
    }
    const waiting = this.#state[i] === ArpState.INCOMPLETE;
    this.#state[i] = ArpState.REACHABLE;
    this.#setMac(i, mac);
    this.#due[i] = this.#clock[0] + this.#reachableNs;
    this.#tries[i] = 0;
    return waiting && this.#queued > 0;
  }

  /**
   * Holds a packet for `ip` (copied from `data[offset, offset + length)`) and makes sure a
   * request is on its way. Returns false when it could not be held (queue full, too long, cache
   * full): the caller counts the drop.
   */
  hold(
    ip: number,
    data: Uint8Array,
    offset: number,
    length: number,
    actions: ArpActions,
  ): boolean {
    let i = this.#find(ip);
    if (i < 0) {
      i = this.#insert(ip);
      if (i < 0) return false;
      this.#state[i] = ArpState.INCOMPLETE;
      this.#tries[i] = 1;
      this.#due[i] = this.#clock[0] + this.#retryNs;
      if (this.#due[i] < this.#nextDue) this.#nextDue = this.#due[i];
      actions.request(ip);
    }
    if (length > this.#packetSize) return false;
    const slot = this.#queueLength.indexOf(EMPTY);
    if (slot < 0) return false;
    this.#queueData.set(data.subarray(offset, offset + length), slot * this.#packetSize);
    this.#queueIp[slot] = ip;
    this.#queueLength[slot] = length;
    this.#queued++;
    return true;
  }

  /**
   * Hands every packet waiting for `ip` to `send(data, offset, length)`, oldest first, and
   * frees their slots.
   */
  drain(ip: number, send: (data: Uint8Array, offset: number, length: number) => void): number {
    let n = 0;
    for (let slot = 0; slot < this.#queueLength.length && this.#queued > 0; slot++) {
      if (this.#queueLength[slot] === EMPTY || this.#queueIp[slot] !== ip) continue;
      send(this.#queueData, slot * this.#packetSize, this.#queueLength[slot]);
      this.#queueLength[slot] = EMPTY;
      this.#queued--;
      n++;
    }
    return n;
  }

  /** When {@linkcode ArpCache.timers} next has work (a retry or a give-up), or Infinity. */
  get nextDeadline(): number {
    return this.#nextDue;
  }

  /** Writes {@linkcode ArpCache.nextDeadline} into `out[i]` (no heap number per poll). */
  writeDeadline(out: Float64Array, i: number): void {
    out[i] = this.#nextDue;
  }

  /** Retries unresolved addresses that are due and gives up after the last try. */
  timers(actions: ArpActions): void {
    const nowNs = this.#clock[0];
    if (nowNs < this.#nextDue) return;
    let next = Infinity;
    for (let i = 0; i <= this.#mask; i++) {
      if (this.#state[i] !== ArpState.INCOMPLETE) continue;
      if (nowNs >= this.#due[i]) {
        if (this.#tries[i] >= this.#retries) {
          const ip = this.#ip[i];
          this.#remove(i);
          actions.failed(ip, this.#dropQueued(ip, actions));
          continue;
        }
        this.#tries[i]++;
        this.#due[i] = nowNs + this.#retryNs;
        actions.request(this.#ip[i]);
      }
      if (this.#due[i] < next) next = this.#due[i];
    }
    this.#nextDue = next;
  }

  /**
   * Forgets what the network said: every entry but the static ones goes, and the packets held for
   * unresolved addresses are given up as after the last try. For an address change: entries
   * and routes learned under the old address no longer hold.
   */
  flush(actions: ArpActions): void {
    for (let i = 0; i <= this.#mask; i++) {
      const s = this.#state[i];
      if (s === ArpState.FREE || s === ArpState.DELETED || s === ArpState.STATIC) continue;
      this.#remove(i);
      if (s === ArpState.INCOMPLETE) {
        actions.failed(this.#ip[i], this.#dropQueued(this.#ip[i], actions));
      }
    }
    this.#nextDue = Infinity;
  }

  #dropQueued(ip: number, actions: ArpActions): number {
    let n = 0;
    for (let slot = 0; slot < this.#queueLength.length; slot++) {
      if (this.#queueLength[slot] !== EMPTY && this.#queueIp[slot] === ip) {
        actions.dropped(this.#queueData, slot * this.#packetSize, this.#queueLength[slot]);
        this.#queueLength[slot] = EMPTY;
        this.#queued--;
        n++;
      }
    }
    return n;
  }
}
