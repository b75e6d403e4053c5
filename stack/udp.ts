/**
 * UDP sockets of a {@linkcode Stack}: datagrams delivered in place to a receiver object (no copy,
 * no allocation per datagram), sent with one copy into the device's frame.
 *
 * @module
 */

/** Receives datagrams in place (an object with a method: no closure per datagram). */
export interface DatagramReceiver {
  /**
   * One datagram: its payload is `data[offset, offset + length)` (and `view`, the same memory),
   * valid only during the call. `srcIp` is the sender's IPv4 address as a 32-bit number.
   */
  datagram(
    data: Uint8Array,
    view: DataView,
    offset: number,
    length: number,
    srcIp: number,
    srcPort: number,
  ): void;
}

/** Receives the ICMP errors about datagrams a socket sent (an object: no closure per error). */
export interface UdpErrorReceiver {
  /**
   * ICMP `type`/`code` (3: destination unreachable, e.g. code 3 port unreachable, code 4
   * fragmentation needed with the next hop's `mtu`; 11: time exceeded) about a datagram sent to
   * `dstIp:dstPort`.
   */
  icmpError(type: number, code: number, dstIp: number, dstPort: number, mtu: number): void;
}

/** What a socket needs of its stack (internal). */
export interface UdpHost {
  /** Sends a datagram; returns false when it was dropped (counted by the stack). */
  sendUdp(
    srcPort: number,
    dstIp: number,
    dstPort: number,
    data: Uint8Array,
    offset: number,
    length: number,
  ): boolean;
  /** Frees the port. */
  unbind(port: number): void;
  /** Joins a multicast group (IGMP report). */
  joinGroup(group: number): void;
  /** Leaves a multicast group. */
  leaveGroup(group: number): void;
}

/**
 * A bound UDP socket. Set {@linkcode UdpSocket.receiver} to get datagrams in place; datagrams
 * arriving while there is none are counted and dropped.
 *
 * @example
 * ```ts ignore
 * const echo = stack.udp(7);
 * echo.receiver = {
 *   datagram(data, _view, offset, length, srcIp, srcPort) {
 *     echo.sendTo(srcIp, srcPort, data, offset, length);
 *   },
 * };
 * ```
 */
export class UdpSocket {
  readonly #host: UdpHost;
  readonly #port: number;
  #closed = false;
  /** Where datagrams go. Default: none (they are dropped and counted). */
  receiver: DatagramReceiver | null = null;
  /** Where ICMP errors about our datagrams go. Default: none (counted in `errors`). */
  errorReceiver: UdpErrorReceiver | null = null;
  /** ICMP errors about datagrams this socket sent. */
  errors = 0;
  readonly #groups: number[] = [];
  /** Datagrams delivered to the receiver. */
  received = 0;
  /** Datagrams sent (handed to the device or held for ARP). */
  sent = 0;

  /** Created by `Stack.udp` (internal). */
  constructor(host: UdpHost, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** The local port. */
  get port(): number {
    return this.#port;
  }

  /**
   * Sends `data[offset, offset + length)` to `ip:port` (ip as a 32-bit number). Returns false
   * when the datagram was dropped (no route, no buffer, ARP queue full: the stack's counters
   * say which).
   */
  sendTo(
    ip: number,
    port: number,
    data: Uint8Array,
    offset = 0,
    length = data.length - offset,
  ): boolean {
    if (this.#closed) throw new Error(`UDP socket ${this.#port} is closed`);
    const ok = this.#host.sendUdp(this.#port, ip, port, data, offset, length);
    if (ok) this.sent++;
    return ok;
  }

  /**
   * Receives datagrams sent to multicast `group` (e.g. `parseIpv4("239.1.2.3")`) on this
   * socket's port: the stack joins the group and announces it (IGMPv2).
   */
  join(group: number): void {
    if (this.#groups.includes(group)) return;
    this.#host.joinGroup(group); // the stack counts the sockets in each group
    this.#groups.push(group);
  }

  /** Leaves a group joined with {@linkcode UdpSocket.join}. */
  leave(group: number): void {
    const i = this.#groups.indexOf(group);
    if (i < 0) return;
    this.#groups.splice(i, 1);
    this.#host.leaveGroup(group);
  }

  /** Leaves its groups and unbinds the port. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of this.#groups.splice(0)) this.#host.leaveGroup(g);
    this.#host.unbind(this.#port);
  }

  /** Same as {@linkcode UdpSocket.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
