/**
 * TLS (`wss://`, `https://`) over the stack's TCP: Deno's `node:tls` (TLS 1.2/1.3 through
 * rustls) runs over the connection's `node:stream` Duplex, and {@linkcode TlsStream} gives the
 * decrypted bytes the same callback shape as a `TcpConnection` ({@linkcode Transport}). A
 * {@linkcode StackDriver} must be polling the stack: TLS runs on Deno's event loop, and each
 * record costs a turn of it (see the README for what that adds to latency).
 *
 * @example
 * ```ts ignore
 * const tls = new TlsStream(stack.connect("10.0.0.1", 443), { servername: "feed.example" });
 * const ws = new WebSocketClient(tls, "wss://feed.example/stream");
 * ```
 *
 * @module
 */
import * as tls from "node:tls";
import type { TcpCloseReason, TcpConnection } from "../stack/tcp.ts";
import { TcpConn, tcpDuplex } from "../stack/tcp_stream.ts";
import type { Transport } from "./transport.ts";

/** Options of a {@linkcode TlsStream}. */
export interface TlsStreamOptions {
  /** The server's name: sent as SNI and checked against its certificate. */
  servername: string;
  /** Trusted CA certificates (PEM). Default: the system's. */
  ca?: string | string[];
  /** Check the server's certificate. Default: true; false only for tests of broken servers. */
  rejectUnauthorized?: boolean;
  /** ALPN protocols to offer, e.g. `["http/1.1"]`. */
  alpn?: string[];
}

/** A TLS client stream over a stack connection; see the module doc. */
export class TlsStream implements Transport {
  readonly #socket: tls.TLSSocket;
  #open = false;
  #closed = false;
  #detail = "";
  /** Decrypted bytes, in a buffer of their own (TLS copies anyway). */
  onData: ((data: Uint8Array, offset: number, length: number) => void) | null = null;
  /** The TLS handshake is done. */
  onOpen: (() => void) | null = null;
  /** The server will send nothing more. */
  onEnd: (() => void) | null = null;
  /** Never called: `write` takes everything (node:stream buffers it). */
  onWritable: (() => void) | null = null;
  /** It is over: `"closed"`, or `"aborted"` on a TLS or TCP error (`closeDetail` says which). */
  onClose: ((reason: TcpCloseReason) => void) | null = null;

  /** Starts the TLS handshake on `connection` (open or opening). */
  constructor(connection: TcpConnection, options: TlsStreamOptions) {
    const socket = this.#socket = tls.connect({
      socket: tcpDuplex(new TcpConn(connection)),
      servername: options.servername,
      ca: options.ca,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      ALPNProtocols: options.alpn,
    });
    socket.on("secureConnect", () => {
      this.#open = true;
      this.onOpen?.();
    });
    socket.on("data", (chunk: Uint8Array) => this.onData?.(chunk, 0, chunk.length));
    socket.on("end", () => this.onEnd?.());
    socket.on("error", (e: Error) => this.#finish(e.message));
    socket.on("close", () => this.#finish("closed"));
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#open = false;
    this.#detail = reason === "closed" ? "" : `TLS: ${reason}`;
    this.onClose?.(reason === "closed" ? "closed" : "aborted");
  }

  /** The negotiated TLS version, e.g. `"TLSv1.3"` (null before the handshake). */
  get protocol(): string | null {
    return this.#socket.getProtocol() ?? null;
  }

  /** The ALPN protocol the server chose, or false. */
  get alpnProtocol(): string | false {
    return this.#socket.alpnProtocol ?? false;
  }

  /** `"ESTABLISHED"` once the handshake is done, `"CLOSED"` after the end. */
  get stateName(): string {
    return this.#open ? "ESTABLISHED" : this.#closed ? "CLOSED" : "HANDSHAKE";
  }

  /** Whether `write` may be called. */
  get writableState(): boolean {
    return this.#open && this.#socket.writable;
  }

  /** Why it ended (the TLS error), or "". */
  get closeDetail(): string {
    return this.#detail;
  }

  /** Encrypts and sends `data[offset, offset + length)` (copied); takes all of it. */
  write(data: Uint8Array, offset: number, length: number): number {
    this.#socket.write(data.slice(offset, offset + length));
    return length;
  }

  /** Sends close_notify and closes our side. */
  close(): void {
    this.#socket.end();
  }

  /** Drops the connection. */
  abort(): void {
    this.#socket.destroy();
  }
}
