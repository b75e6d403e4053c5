/**
 * The async face of TCP, for code off the hot path: {@linkcode TcpConn}, shaped like
 * `Deno.Conn` (`read`, `write`, `close`, `closeWrite`, `readable`, `writable`), a
 * {@linkcode TcpConnListener} to `accept()` them, and {@linkcode tcpDuplex}, a `node:stream`
 * Duplex over a connection (so `node:tls` can run over it). A {@linkcode StackDriver} must be
 * polling the stack. Received bytes are copied into the object's buffer, which closes the
 * receive window as it fills: a slow reader slows the sender, nothing is lost.
 *
 * @example
 * ```ts ignore
 * const driver = new StackDriver(stack);
 * driver.start();
 * const conn = await TcpConn.connect(stack, "10.0.0.1", 80);
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * const buf = new Uint8Array(4096);
 * for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
 *   console.log(new TextDecoder().decode(buf.subarray(0, n)));
 * }
 * conn.close();
 * ```
 *
 * @module
 */
import { Duplex } from "node:stream";
import type { Stack } from "./interface.ts";
import type { TcpCloseReason, TcpConnection, TcpConnectionOptions, TcpListener } from "./tcp.ts";

const ipString = (n: number) => `${n >>> 24}.${n >>> 16 & 255}.${n >>> 8 & 255}.${n & 255}`;

/** Why a connection failed, with the cause in `reason` (see {@linkcode TcpCloseReason}). */
export class TcpError extends Error {
  /** The cause: `"refused"`, `"reset"`, `"timeout"`, `"unreachable"`, `"aborted"`, `"closed"`. */
  readonly reason: TcpCloseReason;

  /** An error about `conn`, which ended for `reason`. */
  constructor(conn: TcpConnection, reason: TcpCloseReason, what = "connection") {
    const peer = `${ipString(conn.remoteIp)}:${conn.remotePort}`;
    const text: Record<TcpCloseReason, string> = {
      refused: `${what} to ${peer} refused`,
      reset: `${what} to ${peer} reset by the peer`,
      timeout: `${what} to ${peer} timed out`,
      unreachable: `${peer} is unreachable`,
      aborted: `${what} to ${peer} aborted`,
      closed: `${what} to ${peer} is closed`,
    };
    super(conn.closeDetail ? `${text[reason]}: ${conn.closeDetail}` : text[reason]);
    this.name = "TcpError";
    this.reason = reason;
  }
}

/**
 * A TCP connection with promise-returning reads and writes, like `Deno.Conn`.
 */
export class TcpConn {
  /** The callback-level connection underneath. */
  readonly connection: TcpConnection;
  readonly #chunks: Uint8Array[] = [];
  #head = 0; // bytes of #chunks[0] already read
  #buffered = 0;
  #ended = false;
  #error: TcpError | null = null;
  #readWaiter: (() => void) | null = null;
  #writeWaiter: (() => void) | null = null;
  #openWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  /** Wraps `connection`, taking over its callbacks. */
  constructor(connection: TcpConnection) {
    this.connection = connection;
    connection.onData = (data, offset, length) => {
      this.#chunks.push(data.slice(offset, offset + length));
      this.#buffered += length;
      connection.held = this.#buffered;
      this.#wakeReader();
    };
    connection.onEnd = () => {
      this.#ended = true;
      this.#wakeReader();
    };
    connection.onWritable = () => this.#wakeWriter();
    connection.onOpen = () => {
      this.#openWaiter?.resolve();
      this.#openWaiter = null;
    };
    connection.onClose = (reason) => {
      this.#ended = true;
      if (reason !== "closed") this.#error = new TcpError(connection, reason);
      this.#openWaiter?.reject(this.#error ?? new TcpError(connection, reason));
      this.#openWaiter = null;
      this.#wakeReader();
      this.#wakeWriter();
    };
  }

  /**
   * Connects to `ip:port` and resolves once established; rejects with a {@linkcode TcpError}
   * naming the cause (refused, timed out, unreachable). A driver must be polling `stack`.
   */
  static connect(
    stack: Stack,
    ip: string | number,
    port: number,
    options?: TcpConnectionOptions,
  ): Promise<TcpConn> {
    const conn = new TcpConn(stack.connect(ip, port, options));
    return conn.#opened().then(() => conn);
  }

  #opened(): Promise<void> {
    const c = this.connection;
    if (c.closeReason !== null) return Promise.reject(new TcpError(c, c.closeReason));
    if (c.stateName === "ESTABLISHED" || c.stateName === "CLOSE-WAIT") return Promise.resolve();
    return new Promise((resolve, reject) => this.#openWaiter = { resolve, reject });
  }

  #wakeReader(): void {
    const w = this.#readWaiter;
    this.#readWaiter = null;
    w?.();
  }

  #wakeWriter(): void {
    const w = this.#writeWaiter;
    this.#writeWaiter = null;
    w?.();
  }

  /** The local address, like `Deno.Conn.localAddr`. */
  get localAddr(): Deno.NetAddr {
    const c = this.connection;
    return { transport: "tcp", hostname: ipString(c.localIp), port: c.localPort };
  }

  /** The peer's address, like `Deno.Conn.remoteAddr`. */
  get remoteAddr(): Deno.NetAddr {
    const c = this.connection;
    return { transport: "tcp", hostname: ipString(c.remoteIp), port: c.remotePort };
  }

  /**
   * Reads into `p`: resolves with the bytes read, or null at the end of the stream (the peer
   * closed its side). Rejects with a {@linkcode TcpError} when the connection failed.
   */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#buffered === 0) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#readWaiter = resolve);
    }
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const head = this.#chunks[0];
      const take = Math.min(p.length - n, head.length - this.#head);
      p.set(head.subarray(this.#head, this.#head + take), n);
      n += take;
      this.#head += take;
      if (this.#head === head.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#buffered -= n;
    this.connection.held = this.#buffered;
    if (this.connection.closeReason === null) this.connection.windowUpdate();
    return n;
  }

  /**
   * Writes all of `p` (waiting while the send buffer is full); resolves with `p.length`.
   * Rejects with a {@linkcode TcpError} when the connection failed.
   */
  async write(p: Uint8Array): Promise<number> {
    let at = 0;
    while (at < p.length) {
      if (this.#error !== null) throw this.#error;
      const c = this.connection;
      if (!c.writableState) {
        if (c.stateName === "SYN-SENT" || c.stateName === "SYN-RECEIVED") await this.#opened();
        else throw new TcpError(c, c.closeReason ?? "closed", "connection");
      }
      const n = c.write(p, at, p.length - at);
      at += n;
      if (at < p.length) await new Promise<void>((resolve) => this.#writeWaiter = resolve);
    }
    return p.length;
  }

  /** Closes our side once the data written has gone (FIN); reading goes on until the peer's FIN. */
  closeWrite(): Promise<void> {
    this.connection.closeWrite();
    return Promise.resolve();
  }

  /** Closes the connection (FIN after the pending data). Reads return null afterwards. */
  close(): void {
    this.connection.close();
    this.#ended = true;
    this.#wakeReader();
  }

  /** The received bytes as a stream. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const buf = new Uint8Array(Math.max(this.#buffered, 16384));
        const n = await this.read(buf);
        if (n === null) controller.close();
        else controller.enqueue(buf.subarray(0, n));
      },
    });
    return this.#readable;
  }

  /** A stream writing to the connection; closing it closes our side. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
    });
    return this.#writable;
  }

  /** Same as {@linkcode TcpConn.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Accepts a listener's connections as {@linkcode TcpConn}s.
 *
 * @example
 * ```ts ignore
 * const server = new TcpConnListener(stack.listen(8080));
 * for (;;) {
 *   const conn = await server.accept();
 *   await conn.write(new TextEncoder().encode("hello\n"));
 *   conn.close();
 * }
 * ```
 */
export class TcpConnListener {
  /** The listener underneath. */
  readonly listener: TcpListener;
  readonly #ready: TcpConn[] = [];
  #waiter: ((conn: TcpConn) => void) | null = null;

  /** Takes over `listener`'s `onConnection`. */
  constructor(listener: TcpListener) {
    this.listener = listener;
    listener.onConnection = (c) => {
      const conn = new TcpConn(c);
      const w = this.#waiter;
      this.#waiter = null;
      if (w !== null) w(conn);
      else this.#ready.push(conn);
    };
  }

  /** The next established connection. */
  accept(): Promise<TcpConn> {
    const ready = this.#ready.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.listener.closed) return Promise.reject(new Error("the listener is closed"));
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** Stops listening. */
  close(): void {
    this.listener.close();
  }
}

/**
 * A `node:stream` Duplex over a connection: what `node:tls.connect({ socket })` and other
 * Node-style code take. Data events carry copies; backpressure closes the receive window.
 *
 * @example
 * ```ts ignore
 * import * as tls from "node:tls";
 * const conn = await TcpConn.connect(stack, "10.0.0.1", 443);
 * const secure = tls.connect({ socket: tcpDuplex(conn), servername: "example.com" });
 * ```
 */
export function tcpDuplex(conn: TcpConn): Duplex {
  let reading = false;
  const duplex: Duplex = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      (async () => {
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) {
              duplex.push(null);
              return;
            }
            if (!duplex.push(buf.slice(0, n))) return; // resumes at the next read()
          }
        } catch (e) {
          duplex.destroy(e as Error);
        } finally {
          reading = false;
        }
      })();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      conn.write(chunk).then(() => callback(), (e) => callback(e));
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), (e) => callback(e));
    },
    destroy(error, callback) {
      if (error) conn.connection.abort();
      else conn.close();
      callback(error);
    },
  });
  return duplex;
}
