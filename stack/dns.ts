/**
 * A DNS stub resolver (RFC 1035) over a {@linkcode Stack}'s UDP: A queries with recursion
 * desired, sent to the configured servers or the ones DHCP gave, one attempt at a time, the next
 * server after a timeout, a server failure or an ICMP unreachable. Answers are parsed in place:
 * compression pointers are followed (with loop protection), CNAME chains are followed within
 * the answer section, and responses that do not match an attempt (server, port, id, question)
 * are ignored and counted. A small LRU cache honours TTLs. Owns no clock: it reads the stack's.
 *
 * Callbacks run from the stack's `poll` (never from inside `resolve`), so a callback may call
 * `resolve` again.
 *
 * @example
 * ```ts ignore
 * const dns = new DnsResolver(stack, { servers: [parseIpv4("10.99.0.1")] });
 * dns.resolve("feed.example.com", {
 *   resolved(name, addresses, ttl) {
 *     console.log(name, addresses.map(ipv4ToString), `for ${ttl} s`);
 *   },
 *   failed(name, reason) {
 *     console.log(name, reason); // "no such name", "timed out", ...
 *   },
 * });
 * for (;;) { // the poll loop owns the clock (see Stack)
 *   stack.clock[0] = performance.now() * 1e6;
 *   stack.poll();
 * }
 * ```
 *
 * @module
 */
import { parseIpv4 } from "../net/mod.ts";
import type { StackService } from "./interface.ts";
import type { DatagramReceiver, UdpErrorReceiver, UdpSocket } from "./udp.ts";

/** What the resolver needs of its stack (a {@linkcode Stack} has all of it). */
export interface DnsHost {
  /** The stack's clock: `clock[0]` is the time of the current poll, in ns. */
  readonly clock: Float64Array;
  /** The DHCP lease, whose `dns` servers are the default. */
  readonly dhcp?: { readonly dns: readonly number[] } | undefined;
  /** Binds a UDP socket (0: an ephemeral port). */
  udp(port?: number): UdpSocket;
  /** Runs a service on the stack's timers. */
  attach(service: StackService): void;
  /** Stops running it. */
  detach(service: StackService): void;
}

/** Options of a {@linkcode DnsResolver}. */
export interface DnsResolverOptions {
  /**
   * Servers to ask, IPv4 addresses as 32-bit numbers, in order. Default: the DNS servers of the
   * stack's DHCP lease, read when each query starts.
   */
  servers?: number[];
  /** How long to wait for each attempt's answer, ns. Default: 2 s. */
  timeoutNs?: number;
  /** Attempts per query, cycling through the servers. Default: 3. */
  attempts?: number;
  /** Names kept in the cache (0: no cache). Default: 64. */
  cacheEntries?: number;
  /** Queries on the wire at once; more fail with "too many queries in flight". Default: 32. */
  maxQueries?: number;
  /**
   * Seed of the query ids (reproducible tests). Default: from `crypto.getRandomValues`, so ids
   * are not guessable from one run to the next.
   */
  seed?: number;
}

/** Receives the outcome of one {@linkcode DnsResolver.resolve} call (an object: no closure per query). */
export interface DnsCallback {
  /**
   * `name` (as it was given) has these IPv4 `addresses` (32-bit numbers, in the server's order),
   * valid for `ttlSeconds` (the smallest TTL along the CNAME chain; Infinity for an IP literal).
   */
  resolved(name: string, addresses: number[], ttlSeconds: number): void;
  /** `name` could not be resolved; `reason` starts with one of the {@linkcode DnsFailure} texts. */
  failed(name: string, reason: string): void;
}

/** Why a name could not be resolved: the start of every `reason` given to `failed`. */
export const DnsFailure = {
  /** NXDOMAIN: the name does not exist. */
  NO_SUCH_NAME: "no such name",
  /** The name exists but has no A record (NODATA, or a CNAME chain that ends without one). */
  NO_ADDRESS: "no A record",
  /** SERVFAIL from the last server asked. */
  SERVER_FAILURE: "server failure",
  /** REFUSED from the last server asked. */
  REFUSED: "refused",
  /** Another error code from the last server asked (FORMERR, NOTIMP, ...). */
  SERVER_ERROR: "server error",
  /** No answer to any attempt. */
  TIMED_OUT: "timed out",
  /** The last server asked is unreachable (an ICMP destination unreachable came back). */
  UNREACHABLE: "server unreachable",
  /** The answer was truncated (TC) without an A record in it: it needs TCP, not supported. */
  TRUNCATED: "truncated answer",
  /** The answer could not be parsed (the detail follows: a compression loop, ...). */
  MALFORMED: "malformed answer",
  /** The name is not a valid host name (the detail follows). */
  INVALID_NAME: "invalid name",
  /** No server is configured and DHCP gave none (yet). */
  NO_SERVER: "no DNS server",
  /** {@linkcode DnsResolverOptions.maxQueries} queries are already on the wire. */
  TOO_MANY: "too many queries in flight",
  /** The resolver was closed before the answer came. */
  CLOSED: "resolver closed",
} as const;

/** The rejection of {@linkcode DnsResolver.resolvePromise}. */
export class DnsError extends Error {
  /** The name that failed, as it was given. */
  readonly hostname: string;
  /** Why: starts with one of the {@linkcode DnsFailure} texts. */
  readonly reason: string;

  /** An error for `hostname`, failed because of `reason`. */
  constructor(hostname: string, reason: string) {
    super(`DNS: ${hostname}: ${reason}`);
    this.name = "DnsError";
    this.hostname = hostname;
    this.reason = reason;
  }
}

/** Counters of a {@linkcode DnsResolver}, plain numbers updated in place. */
export interface DnsStats {
  /** Query messages sent (first attempts and retries). */
  queries: number;
  /** Of those, retries: after a timeout, a server error or an unreachable server. */
  retries: number;
  /** Responses that matched an attempt (server, port, id and question), whatever they said. */
  answers: number;
  /** Attempts that got no answer in time. */
  timeouts: number;
  /** Attempts ended by an ICMP destination unreachable from the server's direction. */
  unreachable: number;
  /** `resolve` calls answered with addresses (from the wire, the cache or an IP literal). */
  resolved: number;
  /** `resolve` calls that ended in `failed`. */
  failures: number;
  /** Datagrams ignored: not from port 53, unknown id or server, not a response, another question. */
  ignored: number;
  /** `resolve` calls answered from the cache. */
  cacheHits: number;
}

const S = 1e9;
const DNS_PORT = 53;
const TYPE_A = 1, TYPE_CNAME = 5, CLASS_IN = 1;
const RCODE_NXDOMAIN = 3, RCODE_SERVFAIL = 2, RCODE_REFUSED = 5;
/** Answer records looked at per response: a 512-byte message holds fewer than 50. */
const MAX_RECORDS = 128;
/** CNAMEs followed per answer: a longer chain is a loop or an attack. */
const MAX_CNAME_HOPS = 16;
/** Pointers followed per name: more is a loop (a name has at most 127 labels anyway). */
const MAX_POINTERS = 64;
/** Longest name on the wire, root label included (RFC 1035 §2.3.4). */
const MAX_NAME = 255;
/** Longest time an answer stays cached, s: a server's week-long TTL should not pin an address. */
const MAX_CACHE_TTL = 86400;

// Negative results of walkName (non-negative results are offsets).
const NAME_TRUNCATED = -1, NAME_LOOP = -2, NAME_TOO_LONG = -3, NAME_BAD_LABEL = -4;
const CNAME_LOOP = -5, RECORD_TRUNCATED = -6;

function malformed(code: number): string {
  const detail = code === NAME_LOOP
    ? "compression loop"
    : code === NAME_TOO_LONG
    ? "name longer than 255 bytes"
    : code === NAME_BAD_LABEL
    ? "unknown label type"
    : code === CNAME_LOOP
    ? `CNAME chain longer than ${MAX_CNAME_HOPS}`
    : "truncated";
  return `${DnsFailure.MALFORMED}: ${detail}`;
}

/**
 * Checks the name at `data[at]` (pointers are relative to `base`, the message's start, and must
 * stay before `end`): returns the offset just after it in the record it sits in, or a negative
 * NAME_* code. Bounded: at most MAX_POINTERS jumps (a pointer loop) and MAX_NAME bytes of labels
 * (a loop through labels), so a malicious message cannot hang the parser.
 */
function walkName(data: Uint8Array, base: number, end: number, at: number): number {
  let next = -1, jumps = 0, total = 0;
  for (;;) {
    if (at >= end) return NAME_TRUNCATED;
    const len = data[at];
    if (len >= 0xc0) {
      if (at + 1 >= end) return NAME_TRUNCATED;
      if (next < 0) next = at + 2;
      if (++jumps > MAX_POINTERS) return NAME_LOOP;
      at = base + ((len & 0x3f) << 8 | data[at + 1]);
      continue;
    }
    if (len >= 0x40) return NAME_BAD_LABEL; // 01 and 10 prefixes: extended labels, never used
    total += len + 1;
    if (total > MAX_NAME) return NAME_TOO_LONG;
    if (len === 0) return next < 0 ? at + 1 : next;
    at += len + 1;
  }
}

/** ASCII lower case: DNS names compare case-insensitively (RFC 4343). */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

/**
 * Whether two names are the same, each in its own buffer with its own pointer base. Both must
 * have passed {@linkcode walkName}; the guard only keeps a mistake from looping.
 */
function sameName(
  a: Uint8Array,
  aBase: number,
  aAt: number,
  b: Uint8Array,
  bBase: number,
  bAt: number,
): boolean {
  for (let guard = 0; guard < 2 * (MAX_POINTERS + MAX_NAME); guard++) {
    const la = a[aAt], lb = b[bAt];
    if (la >= 0xc0) {
      aAt = aBase + ((la & 0x3f) << 8 | a[aAt + 1]);
      continue;
    }
    if (lb >= 0xc0) {
      bAt = bBase + ((lb & 0x3f) << 8 | b[bAt + 1]);
      continue;
    }
    if (la !== lb) return false;
    if (la === 0) return true;
    for (let i = 1; i <= la; i++) {
      if (lower(a[aAt + i]) !== lower(b[bAt + i])) return false;
    }
    aAt += la + 1;
    bAt += lb + 1;
  }
  return false;
}

/** Letters, digits, "-" and "_" (service labels): what a host name may hold. */
function hostChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 ||
    c === 95;
}

/** `name` in wire form (lower case), or why it is not a valid name. */
function encodeName(text: string): Uint8Array | string {
  if (text.length === 0) return "empty";
  if (text.length > 253) return `${text.length} characters (at most 253)`;
  const out = new Uint8Array(text.length + 2); // a length byte per label, the root label
  let at = 0, start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) !== 46) continue;
    const n = i - start;
    if (n === 0) return "empty label";
    if (n > 63) return `label of ${n} characters (at most 63)`;
    out[at++] = n;
    for (let j = start; j < i; j++) {
      const c = text.charCodeAt(j);
      if (!hostChar(c)) {
        return `character ${JSON.stringify(text[j])} (letters, digits, "-" and "_"; ` +
          "non-ASCII names need punycode)";
      }
      out[at++] = lower(c);
    }
    start = i + 1;
  }
  out[at] = 0;
  return out;
}

/** One query on the wire, and everyone waiting for it. */
class Query {
  /** The lower-case name without a trailing dot: the cache and coalescing key. */
  readonly key: string;
  /** The question name in wire form. */
  readonly qname: Uint8Array;
  /** The servers, as they were when the query started. */
  readonly servers: number[];
  /** Names as each caller spelled them, and their callbacks. */
  readonly names: string[] = [];
  readonly callbacks: DnsCallback[] = [];
  /** Attempts made; the id and server of each (a late answer to an earlier one is taken). */
  attempt = 0;
  readonly ids: number[] = [];
  readonly sentTo: number[] = [];
  /** What the last attempt ended with, reported if it was the last one. */
  lastError: string = DnsFailure.TIMED_OUT;

  constructor(key: string, qname: Uint8Array, servers: number[]) {
    this.key = key;
    this.qname = qname;
    this.servers = servers;
  }
}

/** A result ready before any query (an IP literal, a cache hit, an invalid name). */
interface Ready {
  callback: DnsCallback;
  name: string;
  addresses: number[] | null;
  ttl: number;
  reason: string;
}

interface CacheEntry {
  addresses: number[];
  expires: number;
}

/**
 * A stub resolver on a stack: see the module doc. It binds one UDP socket on an ephemeral port
 * and runs on the stack's timers until {@linkcode DnsResolver.close}.
 */
export class DnsResolver implements StackService, DatagramReceiver, UdpErrorReceiver {
  readonly #host: DnsHost;
  readonly #socket: UdpSocket;
  readonly #servers: number[] | undefined;
  readonly #timeout: number;
  readonly #attempts: number;
  readonly #cacheEntries: number;
  readonly #slots: (Query | null)[];
  /** Each slot's deadline (ns): a time in a number field would be re-allocated at each write. */
  readonly #due: Float64Array;
  readonly #byName = new Map<string, number>();
  readonly #cache = new Map<string, CacheEntry>();
  #active = 0;
  readonly #ready: Ready[] = [];
  #readyHead = 0;
  readonly #out = new Uint8Array(512);
  readonly #outView = new DataView(this.#out.buffer);
  // The parsed answer section: a table filled per response, never reallocated.
  readonly #rOwner = new Int32Array(MAX_RECORDS);
  readonly #rType = new Int32Array(MAX_RECORDS);
  readonly #rData = new Int32Array(MAX_RECORDS);
  readonly #rLength = new Int32Array(MAX_RECORDS);
  readonly #rTtl = new Float64Array(MAX_RECORDS);
  readonly #found = new Uint32Array(MAX_RECORDS);
  #foundTtl = 0;
  #matched = 0;
  #rng: number;
  #closed = false;
  /** Counters. */
  readonly stats: DnsStats = {
    queries: 0,
    retries: 0,
    answers: 0,
    timeouts: 0,
    unreachable: 0,
    resolved: 0,
    failures: 0,
    ignored: 0,
    cacheHits: 0,
  };

  /** A resolver on `stack`: binds its socket and attaches to the stack's timers. */
  constructor(stack: DnsHost, options: DnsResolverOptions = {}) {
    const integer = (name: string, value: number, min: number, max: number) => {
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(`DnsResolver: ${name} ${value} must be an integer in ${min}..${max}`);
      }
      return value;
    };
    this.#timeout = options.timeoutNs ?? 2 * S;
    if (!(this.#timeout > 0 && this.#timeout <= 3600 * S)) {
      throw new RangeError(`DnsResolver: timeoutNs ${options.timeoutNs} must be in (0, 1 h]`);
    }
    this.#attempts = integer("attempts", options.attempts ?? 3, 1, 100);
    this.#cacheEntries = integer("cacheEntries", options.cacheEntries ?? 64, 0, 1 << 20);
    const maxQueries = integer("maxQueries", options.maxQueries ?? 32, 1, 65536);
    if (options.servers !== undefined) {
      for (const ip of options.servers) integer("server", ip, 1, 0xffffffff);
      this.#servers = options.servers.slice();
    }
    this.#slots = new Array<Query | null>(maxQueries).fill(null);
    this.#due = new Float64Array(maxQueries).fill(Infinity);
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    this.#rng = (seed | 0) || 0x2545f491; // xorshift needs a state other than 0
    this.#host = stack;
    this.#socket = stack.udp(0);
    this.#socket.receiver = this;
    this.#socket.errorReceiver = this;
    stack.attach(this);
  }

  /** The local UDP port queries are sent from. */
  get port(): number {
    return this.#socket.port;
  }

  /** Queries on the wire. */
  get pending(): number {
    return this.#active;
  }

  /**
   * Resolves `name` to its IPv4 addresses; the outcome goes to `callback` from a later
   * `stack.poll`. An IPv4 literal resolves to itself and a cached name from the cache, without
   * a query; a name already being resolved shares that query.
   */
  resolve(name: string, callback: DnsCallback): void {
    if (this.#closed) throw new Error("DnsResolver is closed");
    const text = name.endsWith(".") ? name.slice(0, -1) : name;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
      let ip = -1;
      try {
        ip = parseIpv4(text);
      } catch { /* an octet beyond 255: not an address, and not a host name either */ }
      if (ip >= 0) this.#later(callback, name, [ip], Infinity, "");
      else this.#later(callback, name, null, 0, `${DnsFailure.INVALID_NAME}: not an IPv4 address`);
      return;
    }
    const qname = encodeName(text);
    if (typeof qname === "string") {
      this.#later(callback, name, null, 0, `${DnsFailure.INVALID_NAME}: ${qname}`);
      return;
    }
    const key = text.toLowerCase();
    const cached = this.#cacheGet(key);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      const left = Math.max(0, Math.ceil((cached.expires - this.#host.clock[0]) / S));
      this.#later(callback, name, cached.addresses.slice(), left, "");
      return;
    }
    const inFlight = this.#byName.get(key);
    if (inFlight !== undefined) { // the same name twice: one query answers both
      const q = this.#slots[inFlight]!;
      q.names.push(name);
      q.callbacks.push(callback);
      return;
    }
    const servers = this.#servers ?? this.#host.dhcp?.dns.slice() ?? [];
    if (servers.length === 0) {
      this.#later(callback, name, null, 0, DnsFailure.NO_SERVER);
      return;
    }
    const slot = this.#slots.indexOf(null);
    if (slot < 0) {
      this.#later(callback, name, null, 0, DnsFailure.TOO_MANY);
      return;
    }
    const q = new Query(key, qname, servers);
    q.names.push(name);
    q.callbacks.push(callback);
    this.#slots[slot] = q;
    this.#byName.set(key, slot);
    this.#active++;
    this.#due[slot] = this.#host.clock[0]; // sent by the next timers() run, inside poll
  }

  /** {@linkcode DnsResolver.resolve} as a promise; rejects with a {@linkcode DnsError}. */
  resolvePromise(name: string): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.resolve(name, {
        resolved: (_name, addresses) => resolve(addresses),
        failed: (hostname, reason) => reject(new DnsError(hostname, reason)),
      });
    });
  }

  /** When {@linkcode DnsResolver.timers} is next needed (ns, the stack's clock), or Infinity. */
  get nextDeadline(): number {
    if (this.#readyHead < this.#ready.length) return this.#host.clock[0];
    if (this.#active === 0) return Infinity;
    let next = Infinity;
    const due = this.#due;
    for (let i = 0; i < due.length; i++) if (due[i] < next) next = due[i];
    return next;
  }

  /** Delivers results that were ready without a query, sends due queries, handles timeouts. */
  timers(): void {
    if (this.#readyHead < this.#ready.length) this.#deliverReady();
    if (this.#active === 0) return;
    const now = this.#host.clock[0], due = this.#due;
    for (let i = 0; i < due.length && !this.#closed; i++) {
      if (!(due[i] <= now)) continue;
      const q = this.#slots[i]!;
      if (q.attempt > 0) {
        this.stats.timeouts++;
        q.lastError = DnsFailure.TIMED_OUT;
      }
      this.#next(i, q);
    }
  }

  /** Fails what is pending with "resolver closed", detaches from the stack, closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.detach(this);
    this.#socket.close();
    this.#deliverReady();
    for (let i = 0; i < this.#slots.length; i++) {
      if (this.#slots[i] !== null) this.#fail(i, DnsFailure.CLOSED);
    }
  }

  /** Same as {@linkcode DnsResolver.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ------------------------------------------------------------------ queries

  #later(
    callback: DnsCallback,
    name: string,
    addresses: number[] | null,
    ttl: number,
    reason: string,
  ) {
    this.#ready.push({ callback, name, addresses, ttl, reason });
  }

  /**
   * Delivers the results queued before this call (those queued by the callbacks wait for the
   * next poll, so a callback that resolves again cannot keep one poll busy forever).
   */
  #deliverReady(): void {
    const ready = this.#ready, stop = ready.length;
    while (this.#readyHead < stop) {
      const r = ready[this.#readyHead++]; // moved on first: a callback that throws is not repeated
      if (r.addresses !== null) {
        this.stats.resolved++;
        r.callback.resolved(r.name, r.addresses, r.ttl);
      } else {
        this.stats.failures++;
        r.callback.failed(r.name, r.reason);
      }
    }
    if (this.#readyHead === ready.length) ready.length = 0;
    else ready.splice(0, this.#readyHead);
    this.#readyHead = 0;
  }

  /** The next attempt of the query in `slot`, or its failure when none is left. */
  #next(slot: number, q: Query): void {
    if (q.attempt >= this.#attempts) {
      this.#fail(slot, q.lastError);
      return;
    }
    const server = q.servers[q.attempt % q.servers.length];
    const id = this.#newId();
    q.ids.push(id);
    q.sentTo.push(server);
    q.attempt++;
    const st = this.stats;
    st.queries++;
    if (q.attempt > 1) st.retries++;
    this.#due[slot] = this.#host.clock[0] + this.#timeout;
    // Header: id, RD (recursion desired), one question; then QNAME, QTYPE A, QCLASS IN.
    const o = this.#out, v = this.#outView;
    v.setUint32(0, (id << 16 | 0x0100) >>> 0);
    v.setUint32(4, 0x00010000);
    v.setUint32(8, 0);
    o.set(q.qname, 12);
    const at = 12 + q.qname.length;
    v.setUint32(at, (TYPE_A << 16 | CLASS_IN) >>> 0);
    // A datagram the stack could not send (no route, ARP queue full) times out like a lost one.
    this.#socket.sendTo(server, DNS_PORT, o, 0, at + 4);
  }

  /** A 16-bit id no attempt in flight uses (xorshift32, the high half). */
  #newId(): number {
    for (;;) {
      let x = this.#rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#rng = x;
      const id = x >>> 16;
      if (this.#find(id, -1) < 0) return id;
    }
  }

  /**
   * The slot of the query with an attempt of this `id` sent to `server` (any server when -1),
   * or -1. Sets `#matched` to the attempt's index.
   */
  #find(id: number, server: number): number {
    for (let i = 0; i < this.#slots.length; i++) {
      const q = this.#slots[i];
      if (q === null) continue;
      for (let k = 0; k < q.attempt; k++) {
        if (q.ids[k] === id && (server === -1 || q.sentTo[k] === server)) {
          this.#matched = k;
          return i;
        }
      }
    }
    return -1;
  }

  /** Frees a slot and returns its query. */
  #take(slot: number): Query {
    const q = this.#slots[slot]!;
    this.#slots[slot] = null;
    this.#due[slot] = Infinity;
    this.#byName.delete(q.key);
    this.#active--;
    return q;
  }

  #fail(slot: number, reason: string): void {
    const q = this.#take(slot);
    for (let i = 0; i < q.callbacks.length; i++) {
      this.stats.failures++;
      q.callbacks[i].failed(q.names[i], reason);
    }
  }

  #succeed(slot: number, addresses: number[], ttl: number): void {
    const q = this.#take(slot);
    this.#cachePut(q.key, addresses, ttl);
    for (let i = 0; i < q.callbacks.length; i++) {
      this.stats.resolved++;
      // Each caller gets its own array: one that changes it must not change another's.
      q.callbacks[i].resolved(q.names[i], i === 0 ? addresses : addresses.slice(), ttl);
    }
  }

  /**
   * An attempt ended with an error worth another server (SERVFAIL, REFUSED, malformed,
   * unreachable). An error from an earlier attempt is only noted: the current one is still on
   * its way.
   */
  #serverError(slot: number, q: Query, attempt: number, reason: string): void {
    q.lastError = reason;
    if (attempt === q.attempt - 1) this.#next(slot, q);
  }

  // ---------------------------------------------------------------- responses

  /** A datagram on our port (the stack delivers it here; parsed in place). */
  datagram(
    data: Uint8Array,
    view: DataView,
    offset: number,
    length: number,
    srcIp: number,
    srcPort: number,
  ): void {
    const st = this.stats;
    if (srcPort !== DNS_PORT || length < 12) {
      st.ignored++;
      return;
    }
    const slot = this.#find(view.getUint16(offset), srcIp);
    const flags = view.getUint16(offset + 2);
    // A response (QR) to a standard query (opcode 0), or not ours.
    if (slot < 0 || (flags & 0xf800) !== 0x8000) {
      st.ignored++;
      return;
    }
    const q = this.#slots[slot]!, attempt = this.#matched;
    const rcode = flags & 0x000f, qd = view.getUint16(offset + 4), end = offset + length;
    let at = offset + 12;
    if (qd === 1) { // the question must be ours: a forged or stray answer to another is ignored
      const after = walkName(data, offset, end, at);
      if (
        after < 0 || after + 4 > end || !sameName(data, offset, at, q.qname, 0, 0) ||
        view.getUint32(after) !== ((TYPE_A << 16 | CLASS_IN) >>> 0)
      ) {
        st.ignored++;
        return;
      }
      at = after + 4;
    } else if (qd !== 0 || rcode === 0) { // some servers drop the question from errors only
      st.ignored++;
      return;
    }
    st.answers++;
    if (rcode === RCODE_NXDOMAIN) { // authoritative: no other server will say otherwise
      this.#fail(slot, DnsFailure.NO_SUCH_NAME);
      return;
    }
    if (rcode !== 0) {
      const reason = rcode === RCODE_SERVFAIL
        ? DnsFailure.SERVER_FAILURE
        : rcode === RCODE_REFUSED
        ? DnsFailure.REFUSED
        : `${DnsFailure.SERVER_ERROR}: code ${rcode}`;
      this.#serverError(slot, q, attempt, reason);
      return;
    }
    const truncated = (flags & 0x0200) !== 0;
    const found = this.#parseAnswers(data, view, offset, at, end, view.getUint16(offset + 6));
    if (found <= 0 && truncated) {
      this.#fail(slot, `${DnsFailure.TRUNCATED} (needs TCP, not supported)`);
    } else if (found < 0) {
      this.#serverError(slot, q, attempt, malformed(found));
    } else if (found === 0) {
      this.#fail(slot, DnsFailure.NO_ADDRESS);
    } else {
      const addresses = new Array<number>(found);
      for (let i = 0; i < found; i++) addresses[i] = this.#found[i];
      this.#succeed(slot, addresses, this.#foundTtl);
    }
  }

  /**
   * Reads the answer section (`count` records from `at`): follows the CNAME chain from the
   * question name, then collects the A records of its end into `#found` (their smallest TTL,
   * with the chain's, in `#foundTtl`). Returns how many, or a negative code when malformed.
   */
  #parseAnswers(
    data: Uint8Array,
    view: DataView,
    base: number,
    at: number,
    end: number,
    count: number,
  ): number {
    const owner = this.#rOwner, type = this.#rType, rdata = this.#rData, rlength = this.#rLength;
    const ttls = this.#rTtl;
    let n = 0;
    for (let i = 0; i < count && n < MAX_RECORDS; i++) {
      const after = walkName(data, base, end, at);
      if (after < 0) return after;
      if (after + 10 > end) return RECORD_TRUNCATED;
      const rtype = view.getUint16(after), rclass = view.getUint16(after + 2);
      const ttl = view.getUint32(after + 4), len = view.getUint16(after + 8);
      const rd = after + 10;
      if (rd + len > end) return RECORD_TRUNCATED;
      if (rclass === CLASS_IN && (rtype === TYPE_A || rtype === TYPE_CNAME)) {
        if (rtype === TYPE_CNAME) {
          const targetEnd = walkName(data, base, end, rd);
          if (targetEnd < 0) return targetEnd;
          if (targetEnd > rd + len) return RECORD_TRUNCATED;
        }
        owner[n] = at;
        type[n] = rtype;
        rdata[n] = rd;
        rlength[n] = len;
        ttls[n] = ttl >= 0x80000000 ? 0 : ttl; // RFC 2181 §8: a TTL with the top bit set is 0
        n++;
      }
      at = rd + len;
    }
    // The chain: the record whose owner is the current name moves it to its target.
    let target = base + 12, minTtl = 0x7fffffff;
    for (let hops = 0;; hops++) {
      let r = 0;
      while (
        r < n && !(type[r] === TYPE_CNAME && sameName(data, base, owner[r], data, base, target))
      ) r++;
      if (r === n) break;
      if (hops === MAX_CNAME_HOPS) return CNAME_LOOP;
      target = rdata[r];
      if (ttls[r] < minTtl) minTtl = ttls[r];
    }
    let found = 0, aTtl = 0x7fffffff;
    for (let r = 0; r < n; r++) {
      if (
        type[r] === TYPE_A && rlength[r] === 4 &&
        sameName(data, base, owner[r], data, base, target)
      ) {
        this.#found[found++] = view.getUint32(rdata[r]);
        if (ttls[r] < aTtl) aTtl = ttls[r];
      }
    }
    this.#foundTtl = Math.min(minTtl, aTtl);
    return found;
  }

  /**
   * An ICMP error about a datagram we sent (the stack delivers it here): a destination
   * unreachable from a server we are waiting for ends that attempt now rather than at its
   * timeout, as glibc does with ECONNREFUSED.
   */
  icmpError(type: number, code: number, dstIp: number, dstPort: number, _mtu: number): void {
    if (type !== 3 || code === 4 || dstPort !== DNS_PORT) return; // 4: fragmentation needed
    for (let i = 0; i < this.#slots.length && !this.#closed; i++) {
      const q = this.#slots[i];
      if (q === null || q.attempt === 0 || q.sentTo[q.attempt - 1] !== dstIp) continue;
      this.stats.unreachable++;
      q.lastError = DnsFailure.UNREACHABLE;
      this.#next(i, q);
    }
  }

  // -------------------------------------------------------------------- cache

  /** The live entry for `key` (now the most recently used), or undefined. */
  #cacheGet(key: string): CacheEntry | undefined {
    const e = this.#cache.get(key);
    if (e === undefined) return undefined;
    this.#cache.delete(key);
    if (this.#host.clock[0] >= e.expires) return undefined;
    this.#cache.set(key, e); // re-inserted: a Map iterates in insertion order, oldest first
    return e;
  }

  #cachePut(key: string, addresses: number[], ttl: number): void {
    if (this.#cacheEntries === 0 || ttl <= 0) return;
    this.#cache.delete(key);
    if (this.#cache.size >= this.#cacheEntries) {
      this.#cache.delete(this.#cache.keys().next().value!); // the least recently used
    }
    this.#cache.set(key, {
      addresses: addresses.slice(),
      expires: this.#host.clock[0] + Math.min(ttl, MAX_CACHE_TTL) * S,
    });
  }
}
