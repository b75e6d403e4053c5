/**
 * The TCP connection table: (local address, local port, remote address, remote port) → a
 * connection's index, found in O(1) by open addressing in typed arrays, and ephemeral ports
 * chosen per RFC 6056 Algorithm 3 (a keyed hash of the destination picks where the search
 * starts, so ports are hard to guess and successive connections to one peer do not collide).
 * A random secret keys both hashes. Linux's ephemeral range by default, 32768-60999.
 * Groundwork of the TCP issue.
 *
 * @module
 */
import { siphash24 } from "./tcp_seq.ts";

const FREE = 0, USED = 1, DELETED = 2;

/** Options of a {@linkcode TcpTable}. */
export interface TcpTableOptions {
  /** Connections held at most. Default: 65536. */
  connections?: number;
  /** First ephemeral port. Default: 32768 (Linux's ip_local_port_range). */
  firstPort?: number;
  /** Last ephemeral port. Default: 60999. */
  lastPort?: number;
  /** Secret of the port hash (16 bytes). Default: random. */
  secret?: Uint8Array;
}

/**
 * The table; see the module doc.
 *
 * @example
 * ```ts ignore
 * const table = new TcpTable();
 * const port = table.ephemeralPort(localIp, remoteIp, 443);
 * table.insert(localIp, port, remoteIp, 443, connectionIndex);
 * table.find(localIp, port, remoteIp, 443); // connectionIndex
 * ```
 */
export class TcpTable {
  /** Connections held at most. */
  readonly capacity: number;
  readonly #mask: number;
  readonly #localIp: Uint32Array;
  readonly #remoteIp: Uint32Array;
  readonly #ports: Uint32Array; // local port << 16 | remote port
  readonly #value: Int32Array;
  readonly #state: Uint8Array;
  #used = 0;
  #deleted = 0;
  readonly #first: number;
  readonly #count: number;
  readonly #key = new Uint32Array(4);
  readonly #tuple = new Uint8Array(12);
  readonly #tupleView = new DataView(this.#tuple.buffer);
  readonly #hash = new Uint32Array(2);
  /** RFC 6056's next_ephemeral: moves on at every port handed out. */
  #next = 0;

  /** An empty table. */
  constructor(options: TcpTableOptions = {}) {
    const connections = options.connections ?? 65536;
    if (!Number.isInteger(connections) || connections < 1 || connections > 1 << 24) {
      throw new RangeError(`TcpTableOptions.connections ${connections} must be in 1..2^24`);
    }
    this.#first = options.firstPort ?? 32768;
    const last = options.lastPort ?? 60999;
    if (!(this.#first >= 1 && this.#first <= last && last <= 65535)) {
      throw new RangeError(`TcpTableOptions: ephemeral ports ${this.#first}..${last} out of order`);
    }
    this.#count = last - this.#first + 1;
    let size = 1;
    while (size < connections * 2) size <<= 1; // at most half full: short probe chains
    this.capacity = connections;
    this.#mask = size - 1;
    this.#localIp = new Uint32Array(size);
    this.#remoteIp = new Uint32Array(size);
    this.#ports = new Uint32Array(size);
    this.#value = new Int32Array(size);
    this.#state = new Uint8Array(size);
    const key = new Uint8Array(this.#key.buffer);
    if (options.secret === undefined) crypto.getRandomValues(key);
    else if (options.secret.length === 16) key.set(options.secret);
    else throw new RangeError("TcpTableOptions.secret is 16 bytes");
  }

  /** Connections in the table. */
  get size(): number {
    return this.#used;
  }

  /**
   * Where a tuple's probe starts: a multiply-xor mix seeded with the table's secret, so a remote
   * host cannot pick ports that pile up in one cluster (Linux keys inet_ehashfn the same way).
   */
  #start(): number {
    const k = this.#key, q = this.#q, localIp = q[0], ports = q[1], remoteIp = q[2];
    let h = Math.imul(localIp ^ k[0], 0x85ebca6b) ^ k[1];
    h = Math.imul(h ^ remoteIp ^ (h >>> 13), 0xc2b2ae35) ^ k[2];
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f) ^ k[3];
    return (h ^ (h >>> 15)) & this.#mask;
  }

  /**
   * The tuple being looked up: local address, ports (local << 16 | remote), remote address.
   * Passed in a typed array, not as arguments: above 2^30 a number argument is a heap object.
   */
  readonly #q = new Uint32Array(3);

  #setQuery(localIp: number, localPort: number, remoteIp: number, remotePort: number): void {
    const q = this.#q;
    q[0] = localIp;
    q[1] = localPort << 16 | remotePort;
    q[2] = remoteIp;
  }

  /** Slot of the tuple in `#q`, or -1. */
  #slot(): number {
    const q = this.#q, localIp = q[0], ports = q[1], remoteIp = q[2];
    let i = this.#start();
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      const s = this.#state[i];
      if (s === FREE) return -1;
      if (
        s === USED && this.#ports[i] === ports && this.#remoteIp[i] === remoteIp &&
        this.#localIp[i] === localIp
      ) return i;
    }
    return -1;
  }

  /** The value stored for the connection, or -1. */
  find(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    this.#setQuery(localIp, localPort, remoteIp, remotePort);
    const i = this.#slot();
    return i < 0 ? -1 : this.#value[i];
  }

  /** Adds a connection with `value` (≥ 0). False when the tuple is taken or the table full. */
  insert(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    value: number,
  ): boolean {
    this.#setQuery(localIp, localPort, remoteIp, remotePort);
    if (this.#used >= this.capacity || this.#slot() >= 0) return false;
    if (this.#used + this.#deleted >= (this.#mask + 1) * 3 / 4) {
      this.#rehash();
      this.#setQuery(localIp, localPort, remoteIp, remotePort);
    }
    let i = this.#start();
    while (this.#state[i] === USED) i = (i + 1) & this.#mask;
    if (this.#state[i] === DELETED) this.#deleted--;
    const q = this.#q;
    this.#state[i] = USED;
    this.#localIp[i] = q[0];
    this.#remoteIp[i] = q[2];
    this.#ports[i] = q[1];
    this.#value[i] = value;
    this.#used++;
    return true;
  }

  /** Removes a connection; returns its value, or -1 when absent. */
  remove(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    this.#setQuery(localIp, localPort, remoteIp, remotePort);
    const i = this.#slot();
    if (i < 0) return -1;
    this.#state[i] = DELETED;
    this.#used--;
    this.#deleted++;
    return this.#value[i];
  }

  /** Tombstones lengthen probe chains: when they pile up, the live entries are placed anew. */
  #rehash(): void {
    const n = this.#mask + 1;
    const live: number[] = [];
    for (let i = 0; i < n; i++) if (this.#state[i] === USED) live.push(i);
    const saved = live.map((i) => [
      this.#localIp[i],
      this.#remoteIp[i],
      this.#ports[i],
      this.#value[i],
    ]);
    this.#state.fill(FREE);
    this.#deleted = 0;
    const q = this.#q;
    for (const [localIp, remoteIp, ports, value] of saved) {
      q[0] = localIp;
      q[1] = ports;
      q[2] = remoteIp;
      let i = this.#start();
      while (this.#state[i] === USED) i = (i + 1) & this.#mask;
      this.#state[i] = USED;
      this.#localIp[i] = localIp;
      this.#remoteIp[i] = remoteIp;
      this.#ports[i] = ports;
      this.#value[i] = value;
    }
  }

  /**
   * An ephemeral local port for a connection to `remoteIp:remotePort` that no connection in the
   * table uses (RFC 6056 §3.3.3), or -1 when the range is exhausted for that destination.
   */
  ephemeralPort(localIp: number, remoteIp: number, remotePort: number): number {
    const t = this.#tupleView;
    t.setUint32(0, localIp);
    t.setUint32(4, remoteIp);
    t.setUint16(8, remotePort);
    t.setUint16(10, 0);
    siphash24(this.#key, this.#tuple, 0, 12, this.#hash);
    const offset = this.#hash[0] % this.#count;
    for (let tries = 0; tries < this.#count; tries++) {
      const port = this.#first + (offset + this.#next++) % this.#count;
      if (this.#next >= this.#count) this.#next = 0;
      if (this.find(localIp, port, remoteIp, remotePort) < 0) return port;
    }
    return -1;
  }
}
