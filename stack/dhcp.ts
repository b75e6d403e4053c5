/**
 * A DHCPv4 client (RFC 2131, options RFC 2132) for a {@linkcode Stack}: discover, offer,
 * request, ack; renew at T1 (unicast to the server), rebind at T2 (broadcast), the address
 * dropped when the lease expires or a NAK arrives, then a new discovery. The router, DNS servers,
 * subnet mask and MTU the server gives are applied. Owns no clock: it reads the stack's.
 *
 * @module
 */
import type { DatagramReceiver, UdpSocket } from "./udp.ts";

/** States of the client (RFC 2131 §4.4, figure 5). */
export const DhcpState = {
  /** No address; a discovery is due. */
  INIT: 0,
  /** Discover sent; waiting for an offer. */
  SELECTING: 1,
  /** Request sent for an offer; waiting for the ack. */
  REQUESTING: 2,
  /** Leased: the address is in use. */
  BOUND: 3,
  /** Past T1: renewing with the server that leased it. */
  RENEWING: 4,
  /** Past T2: asking any server to extend the lease. */
  REBINDING: 5,
} as const;

/** Names of the {@linkcode DhcpState} values, for logs. */
export const DHCP_STATE_NAMES: readonly string[] = [
  "INIT",
  "SELECTING",
  "REQUESTING",
  "BOUND",
  "RENEWING",
  "REBINDING",
];

/** What the client does to its stack (internal). */
export interface DhcpHost {
  /** The stack's clock (ns). */
  readonly clock: Float64Array;
  /** The device's MAC, 6 bytes. */
  readonly mac: Uint8Array;
  /** Takes a leased address (and announces it with a gratuitous ARP). */
  configure(ip: number, prefix: number, gateway: number, mtu: number): void;
  /** Gives the address up. */
  unconfigure(): void;
}

/** Options of the DHCP client. */
export interface DhcpOptions {
  /** Host name sent to the server (option 12). Default: none. */
  hostname?: string;
  /** Seed of the retransmission jitter and transaction ids. Default: from the MAC. */
  seed?: number;
}

/** The lease and the client's counters, plain values updated in place. */
export interface DhcpStatus {
  /** Current {@linkcode DhcpState}. */
  state: number;
  /** Leased address (0 when none). */
  address: number;
  /** Prefix length from the subnet mask. */
  prefix: number;
  /** Router (0 when the server gave none). */
  router: number;
  /** DNS servers the server gave, in its order. */
  dns: number[];
  /** The server that leased the address. */
  server: number;
  /** Lease length in seconds. */
  leaseSeconds: number;
  /** Messages sent, by type. */
  discovers: number;
  /** Requests sent (selecting, renewing and rebinding). */
  requests: number;
  /** Offers received. */
  offers: number;
  /** Acks received. */
  acks: number;
  /** Naks received. */
  naks: number;
  /** Leases obtained (the first one and every renewal). */
  leases: number;
  /** Leases lost: expired without renewal. */
  expired: number;
  /** Replies ignored (another transaction or client, malformed). */
  ignored: number;
}

const BOOTREQUEST = 1, BOOTREPLY = 2;
const DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6;
const MAGIC = 0x63825363;
const SERVER_PORT = 67;
const BROADCAST_IP = 0xffffffff;
const S = 1e9;
// Due times in one Float64Array: a time in a number field would be re-allocated at each write.
const RETRY = 0, T1 = 1, T2 = 2, EXPIRY = 3;

/** The client; created by the stack when `dhcp` is asked for. */
export class DhcpClient implements DatagramReceiver {
  readonly #host: DhcpHost;
  readonly #socket: UdpSocket;
  readonly #out = new Uint8Array(548); // the largest message a client must be ready to send
  readonly #outView = new DataView(this.#out.buffer);
  readonly #due = new Float64Array(4).fill(Infinity);
  readonly #hostname: Uint8Array | undefined;
  #xid = 0;
  #attempt = 0;
  #rng: number;
  #offered = 0;
  #mtu = 0;
  /** The lease and counters. */
  readonly status: DhcpStatus = {
    state: DhcpState.INIT,
    address: 0,
    prefix: 0,
    router: 0,
    dns: [],
    server: 0,
    leaseSeconds: 0,
    discovers: 0,
    requests: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    leases: 0,
    expired: 0,
    ignored: 0,
  };

  /** A client sending on `socket` (bound to port 68) for `host`. */
  constructor(host: DhcpHost, socket: UdpSocket, options: DhcpOptions = {}) {
    this.#host = host;
    this.#socket = socket;
    socket.receiver = this;
    const m = host.mac;
    this.#rng = (options.seed ?? (m[2] << 24 | m[3] << 16 | m[4] << 8 | m[5])) | 1;
    this.#hostname = options.hostname !== undefined
      ? new TextEncoder().encode(options.hostname).subarray(0, 255)
      : undefined;
    this.#due[RETRY] = host.clock[0]; // discover at the first timer run
  }

  /** When the client next needs {@linkcode DhcpClient.timers} (ns, the stack's clock). */
  get nextDeadline(): number {
    return Math.min(this.#due[RETRY], this.#due[T1], this.#due[T2], this.#due[EXPIRY]);
  }

  /** Writes {@linkcode DhcpClient.nextDeadline} into `out[index]` (no number is returned). */
  writeDeadline(out: Float64Array, index: number): void {
    const d = this.#due;
    out[index] = Math.min(d[RETRY], d[T1], d[T2], d[EXPIRY]);
  }

  /** Runs what is due: retransmissions, renewal at T1, rebinding at T2, expiry. */
  timers(): void {
    const now = this.#host.clock[0], st = this.status;
    if (now >= this.#due[EXPIRY]) { // lease lost: start over
      st.expired++;
      this.#drop();
    }
    if (st.state === DhcpState.BOUND && now >= this.#due[T1]) {
      st.state = DhcpState.RENEWING;
      this.#due[T1] = Infinity;
      this.#attempt = 0;
      this.#due[RETRY] = now;
    }
    if (st.state === DhcpState.RENEWING && now >= this.#due[T2]) {
      st.state = DhcpState.REBINDING;
      this.#due[T2] = Infinity;
      this.#attempt = 0;
      this.#due[RETRY] = now;
    }
    if (now < this.#due[RETRY]) return;
    switch (st.state) {
      case DhcpState.INIT:
      case DhcpState.SELECTING:
        this.#newTransaction(st.state === DhcpState.INIT);
        this.#send(DISCOVER);
        st.state = DhcpState.SELECTING;
        this.#backoff(now);
        break;
      case DhcpState.REQUESTING:
        if (this.#attempt >= 4) { // no ack: back to discovery (RFC 2131 §4.4.1)
          st.state = DhcpState.INIT;
          this.#due[RETRY] = now;
          return;
        }
        this.#send(REQUEST);
        this.#backoff(now);
        break;
      case DhcpState.RENEWING:
      case DhcpState.REBINDING: {
        this.#send(REQUEST);
        // Half the time left until the next step, at least 60 s (RFC 2131 §4.4.5).
        const until = st.state === DhcpState.RENEWING ? this.#due[T2] : this.#due[EXPIRY];
        this.#due[RETRY] = now + Math.max(Math.min(60 * S, until - now), (until - now) / 2);
        if (this.#due[RETRY] >= until) this.#due[RETRY] = until;
        break;
      }
    }
  }

  #newTransaction(fresh: boolean): void {
    if (fresh || this.#xid === 0) {
      this.#xid = this.#random() >>> 0;
      this.#attempt = 0;
    }
  }

  /** Retransmission after 4, 8, 16, 32, 64 s, each ±1 s (RFC 2131 §4.1). */
  #backoff(now: number): void {
    const base = Math.min(4 << this.#attempt, 64);
    this.#attempt++;
    const jitter = ((this.#random() >>> 0) / 4294967296) * 2 - 1;
    this.#due[RETRY] = now + (base + jitter) * S;
  }

  #random(): number {
    // xorshift32: reproducible from the seed.
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#rng = x;
  }

  #drop(): void {
    const st = this.status;
    if (st.address !== 0) this.#host.unconfigure();
    st.state = DhcpState.INIT;
    st.address = 0;
    this.#due[T1] = this.#due[T2] = this.#due[EXPIRY] = Infinity;
    this.#due[RETRY] = this.#host.clock[0];
    this.#xid = 0;
  }

  // ---------------------------------------------------------------- messages

  #send(type: number): void {
    const st = this.status, o = this.#out, v = this.#outView, mac = this.#host.mac;
    o.fill(0);
    v.setUint32(0, (BOOTREQUEST << 24 | 1 << 16 | 6 << 8) >>> 0); // Ethernet, hlen 6, hops 0
    v.setUint32(4, this.#xid);
    const renewing = st.state === DhcpState.RENEWING || st.state === DhcpState.REBINDING;
    // Broadcast flag off: Linux and dnsmasq unicast to an unconfigured client's MAC fine.
    if (renewing) v.setUint32(12, st.address); // ciaddr
    o.set(mac, 28); // chaddr
    v.setUint32(236, MAGIC);
    let at = 240;
    o[at++] = 53, o[at++] = 1, o[at++] = type;
    o[at++] = 61, o[at++] = 7, o[at++] = 1; // client id: hardware type 1 + MAC
    o.set(mac, at);
    at += 6;
    if (type === REQUEST && !renewing) {
      o[at++] = 50, o[at++] = 4; // requested address
      v.setUint32(at, this.#offered);
      at += 4;
      o[at++] = 54, o[at++] = 4; // the server whose offer we take
      v.setUint32(at, st.server);
      at += 4;
    }
    if (this.#hostname !== undefined && this.#hostname.length > 0) {
      o[at++] = 12, o[at++] = this.#hostname.length;
      o.set(this.#hostname, at);
      at += this.#hostname.length;
    }
    o[at++] = 55, o[at++] = 6; // ask for: mask, router, DNS, MTU, T1, T2
    o[at++] = 1, o[at++] = 3, o[at++] = 6, o[at++] = 26, o[at++] = 58, o[at++] = 59;
    o[at++] = 255;
    const length = Math.max(at, 300); // BOOTP's minimum message size
    if (type === DISCOVER) st.discovers++;
    else st.requests++;
    const to = st.state === DhcpState.RENEWING ? st.server : BROADCAST_IP;
    this.#socket.sendTo(to, SERVER_PORT, o, 0, length);
  }

  /** A reply from a server (the stack delivers UDP to port 68 here). */
  datagram(
    data: Uint8Array,
    view: DataView,
    offset: number,
    length: number,
    _srcIp: number,
    _srcPort: number,
  ): void {
    const st = this.status, mac = this.#host.mac;
    if (
      length < 240 || data[offset] !== BOOTREPLY || view.getUint32(offset + 4) !== this.#xid ||
      this.#xid === 0 || view.getUint32(offset + 236) !== MAGIC
    ) {
      st.ignored++;
      return;
    }
    for (let i = 0; i < 6; i++) {
      if (data[offset + 28 + i] !== mac[i]) {
        st.ignored++;
        return;
      }
    }
    // Options: type, server id, mask, router, DNS, MTU, lease, T1, T2.
    let type = 0, server = 0, mask = 0, router = 0, mtu = 0, lease = 0, t1 = 0, t2 = 0;
    let dnsAt = -1, dnsLength = 0;
    const end = offset + length;
    for (let at = offset + 240; at < end;) {
      const code = data[at];
      if (code === 255) break;
      if (code === 0) {
        at++;
        continue;
      }
      if (at + 2 > end) break;
      const len = data[at + 1], v = at + 2;
      if (v + len > end) break;
      if (code === 53 && len >= 1) type = data[v];
      else if (code === 54 && len >= 4) server = view.getUint32(v);
      else if (code === 1 && len >= 4) mask = view.getUint32(v);
      else if (code === 3 && len >= 4) router = view.getUint32(v);
      else if (code === 6 && len >= 4) dnsAt = v, dnsLength = len - (len % 4);
      else if (code === 26 && len >= 2) mtu = view.getUint16(v);
      else if (code === 51 && len >= 4) lease = view.getUint32(v);
      else if (code === 58 && len >= 4) t1 = view.getUint32(v);
      else if (code === 59 && len >= 4) t2 = view.getUint32(v);
      at = v + len;
    }
    const yiaddr = view.getUint32(offset + 16), net = yiaddr >>> 24;
    // An offer or ack of no host's address (0/8, loopback, multicast): ignored. NAKs carry 0.
    if (type !== NAK && (net === 0 || net === 127 || net >= 224)) {
      st.ignored++;
      return;
    }
    if (type === OFFER && st.state === DhcpState.SELECTING) {
      st.offers++;
      this.#offered = yiaddr;
      st.server = server;
      st.state = DhcpState.REQUESTING;
      this.#attempt = 0;
      this.#send(REQUEST);
      this.#backoff(this.#host.clock[0]);
    } else if (
      type === ACK && (st.state === DhcpState.REQUESTING || st.state === DhcpState.RENEWING ||
        st.state === DhcpState.REBINDING)
    ) {
      st.acks++;
      this.#bind(yiaddr, server, mask, router, mtu, lease, t1, t2, view, dnsAt, dnsLength);
    } else if (type === NAK && st.state !== DhcpState.SELECTING && st.state !== DhcpState.INIT) {
      st.naks++;
      this.#drop();
    } else {
      st.ignored++;
    }
  }

  #bind(
    ip: number,
    server: number,
    mask: number,
    router: number,
    mtu: number,
    lease: number,
    t1: number,
    t2: number,
    view: DataView,
    dnsAt: number,
    dnsLength: number,
  ): void {
    const st = this.status, now = this.#host.clock[0];
    const prefix = mask === 0 ? 24 : Math.clz32(~mask);
    const changed = ip !== st.address || prefix !== st.prefix || router !== st.router ||
      mtu !== this.#mtu;
    if (changed && st.address !== 0) this.#host.unconfigure();
    st.address = ip;
    st.prefix = prefix;
    st.router = router;
    if (server !== 0) st.server = server;
    st.dns.length = 0;
    for (let i = 0; i < dnsLength; i += 4) st.dns.push(view.getUint32(dnsAt + i));
    this.#mtu = mtu;
    const leaseS = lease === 0 ? 3600 : lease;
    st.leaseSeconds = leaseS;
    st.state = DhcpState.BOUND;
    st.leases++;
    this.#due[RETRY] = Infinity;
    // A lease of 0xffffffff is infinite; T1 and T2 default to 1/2 and 7/8 of it (RFC 2131 §4.4.5).
    const infinite = lease === 0xffffffff;
    this.#due[EXPIRY] = infinite ? Infinity : now + leaseS * S;
    this.#due[T1] = infinite ? Infinity : now + (t1 || leaseS * 0.5) * S;
    this.#due[T2] = infinite ? Infinity : now + (t2 || leaseS * 0.875) * S;
    if (changed) this.#host.configure(ip, prefix, router, mtu);
  }
}
