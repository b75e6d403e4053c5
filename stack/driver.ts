/**
 * The stack's async face, for code off the hot path: a driver that polls a {@linkcode Stack} in
 * a loop and yields to Deno's event loop between rounds, and promise-returning helpers
 * (`await driver.ready()`, `await datagrams.receive()`). This is the one place of the stack that
 * reads a clock and sets timers. What it costs against a plain poll loop is measured by
 * `bench/stack_async.ts` (see the README).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Stack } from "./interface.ts";
import type { DatagramReceiver, UdpSocket } from "./udp.ts";

/** Options of a {@linkcode StackDriver}. */
export interface StackDriverOptions {
  /** Polls per round (the clock is read once per round). Default: 64. */
  pollsPerRound?: number;
  /**
   * Yield to the event loop only when this long has passed since the last turn, µs; rounds run
   * back to back until then. 0 (the default): after every round. A program whose hot path is
   * in poll callbacks (a `ws://` feed) may use ~1000: a turn costs ~650 bytes of garbage, and
   * timers and promises still run within a millisecond.
   */
  turnEveryUs?: number;
}

/**
 * Runs a stack's poll loop in the background of an async program: `poll()` rounds between
 * turns of Deno's event loop, the clock taken from `performance.now()`.
 *
 * @example
 * ```ts ignore
 * const driver = new StackDriver(stack);
 * driver.start();
 * await driver.ready(); // e.g. DHCP leased an address
 * const datagrams = new DatagramQueue(stack.udp(5000));
 * const d = await datagrams.receive();
 * await driver.stop();
 * ```
 */
export class StackDriver {
  readonly #stack: Stack;
  readonly #polls: number;
  #running: Promise<void> | null = null;
  #stop = false;
  // A turn of the event loop is a setImmediate: ~1.4 µs and ~650 bytes, and the turn runs due
  // timers. (A message to ourselves through a MessageChannel took ~2.8 µs and ~1.8 KB, and
  // starved timers when turns were rare; setTimeout(0) is clamped to milliseconds once nested.)
  /** The option of that name; may be changed while the driver runs (read every round). */
  turnEveryUs: number;
  /** Rounds run so far (a round is `pollsPerRound` polls, then a turn of the event loop). */
  rounds = 0;

  /** A driver for `stack` (not started). */
  constructor(stack: Stack, options: StackDriverOptions = {}) {
    this.#stack = stack;
    this.#polls = options.pollsPerRound ?? 64;
    this.turnEveryUs = options.turnEveryUs ?? 0;
  }

  /** Whether the loop runs. */
  get running(): boolean {
    return this.#running !== null;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.#running !== null) return;
    this.#stop = false;
    this.#running = this.#loop();
  }

  /** Stops the loop; resolves when it has. */
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
    this.#running = null;
  }

  async #loop(): Promise<void> {
    const stack = this.#stack, clock = stack.clock, polls = this.#polls;
    const origin = performance.timeOrigin;
    let lastTurn = performance.now();
    while (!this.#stop) {
      const now = performance.now();
      clock[0] = (origin + now) * 1e6;
      for (let i = 0; i < polls; i++) {
        // A busy poll is long: the next one needs the time anew (see Stack.busy).
        if (i > 0 && stack.busy) clock[0] = (origin + performance.now()) * 1e6;
        stack.poll();
      }
      this.rounds++;
      if ((now - lastTurn) * 1000 >= this.turnEveryUs) {
        await new Promise((resolve) => setImmediate(resolve));
        lastTurn = performance.now();
      }
    }
  }

  /** Resolves once the stack has an address (at once with a static one; after DHCP's lease). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.#stack.address === 0) {
      if (performance.now() > end) {
        throw new Error(
          `the stack got no address within ${timeoutMs} ms (is a DHCP server there?)`,
        );
      }
      if (this.#running === null) throw new Error("the driver is not started: call start()");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/** A datagram copied out of the stack, for {@linkcode DatagramQueue.receive}. */
export interface Datagram {
  /** The payload (a copy: it outlives the receive burst). */
  data: Uint8Array;
  /** The sender's IPv4 address as a 32-bit number. */
  ip: number;
  /** The sender's port. */
  port: number;
}

/**
 * A copying convenience over a socket: datagrams are copied into a bounded queue as they
 * arrive, and `await receive()` takes them in order. Datagrams that find the queue full are
 * dropped and counted.
 */
export class DatagramQueue implements DatagramReceiver {
  readonly #queue: Datagram[] = [];
  readonly #readers: ((d: Datagram) => void)[] = [];
  readonly #capacity: number;
  /** Datagrams dropped because the queue was full. */
  dropped = 0;

  /** Takes over `socket`'s receiver; holds at most `capacity` datagrams. */
  constructor(socket: UdpSocket, capacity = 1024) {
    this.#capacity = capacity;
    socket.receiver = this;
  }

  /** Called by the stack for each datagram (copies it). */
  datagram(
    data: Uint8Array,
    _view: DataView,
    offset: number,
    length: number,
    ip: number,
    port: number,
  ): void {
    const d = { data: data.slice(offset, offset + length), ip, port };
    const reader = this.#readers.shift();
    if (reader !== undefined) reader(d);
    else if (this.#queue.length < this.#capacity) this.#queue.push(d);
    else this.dropped++;
  }

  /** The next datagram, waiting for one if none is queued. */
  receive(): Promise<Datagram> {
    const d = this.#queue.shift();
    if (d !== undefined) return Promise.resolve(d);
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  /** Datagrams waiting. */
  get length(): number {
    return this.#queue.length;
  }
}
