/**
 * A WebSocket client (RFC 6455) on a TCP connection of the stack: the opening handshake (key,
 * accept check, subprotocols, extra headers; redirects refused), masked frames out, messages in
 * through a {@linkcode FrameReader} (in place when a message lies whole in one segment),
 * automatic pongs, the closing handshake with codes and reasons, and every protocol error closed
 * with its code.
 *
 * @example
 * ```ts ignore
 * const ws = new WebSocketClient(stack.connect("10.0.0.1", 8080), "ws://10.0.0.1:8080/feed");
 * ws.onOpen = () => ws.send("subscribe");
 * ws.onMessage = (data, offset, length, text) => handle(data, offset, length, text); // in place
 * ws.onClose = (code, reason) => console.log("closed", code, reason);
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Transport } from "./transport.ts";
import {
  CloseCode,
  FrameReader,
  type FrameSink,
  Opcode,
  validCloseCode,
  writeFrame,
} from "./frame.ts";
import { headEnd } from "./http.ts";
import { InflateError, Inflater } from "./inflate.ts";
import { isUtf8 } from "./utf8.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Options of a {@linkcode WebSocketClient}. */
export interface WebSocketClientOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  protocols?: string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Largest message accepted, bytes (more closes with 1009). Default: 64 MiB. */
  maxMessage?: number;
  /** Largest response head accepted, bytes. Default: 16 KiB. */
  maxHead?: number;
  /**
   * Offer permessage-deflate (RFC 7692) so the server may compress; compressed messages are
   * inflated (so not delivered in place). We send uncompressed. Default: true.
   */
  deflate?: boolean;
}

/** The states of a {@linkcode WebSocketClient}, as the WHATWG `WebSocket`'s `readyState`. */
export const WebSocketState = {
  /** The handshake is under way. */
  CONNECTING: 0,
  /** Messages flow. */
  OPEN: 1,
  /** A close frame was sent or received. */
  CLOSING: 2,
  /** Over. */
  CLOSED: 3,
} as const;

/** A WebSocket client on a TCP connection; see the module doc. */
export class WebSocketClient implements FrameSink {
  readonly #conn: Transport;
  readonly #url: URL;
  readonly #options: WebSocketClientOptions;
  readonly #key: string;
  readonly #reader: FrameReader;
  readonly #mask = new Uint8Array(4);
  #out = new Uint8Array(4096);
  #head: Uint8Array;
  #headLength = 0;
  #state: number = WebSocketState.CONNECTING;
  #closeSent = false;
  #inflater: Inflater | null = null;
  #resetWindow = false; // server_no_context_takeover
  /** The subprotocol the server chose ("" for none). */
  protocol = "";
  /** Whether permessage-deflate was negotiated (the server may compress what it sends). */
  deflate = false;
  /** Messages received. */
  messagesIn = 0;
  /** Messages sent. */
  messagesOut = 0;
  /**
   * A message, in place: `data[offset, offset + length)`, valid only during the call. Set it
   * before the handshake ends: messages that came with the server's answer are delivered right
   * after `onOpen`, in the same call.
   */
  onMessage:
    | ((data: Uint8Array, offset: number, length: number, text: boolean) => void)
    | null = null;
  /** The handshake succeeded. */
  onOpen: (() => void) | null = null;
  /** A ping arrived (a pong is sent by itself). */
  onPing: ((data: Uint8Array, offset: number, length: number) => void) | null = null;
  /** A pong arrived. */
  onPong: ((data: Uint8Array, offset: number, length: number) => void) | null = null;
  /**
   * It is over: the close code (1006 when the connection ended without a close frame, 1005
   * when the server's close frame carried none), its reason, and whether both sides closed
   * properly. Called once.
   */
  onClose: ((code: number, reason: string, clean: boolean) => void) | null = null;

  /**
   * Starts the opening handshake on `conn` (open, or opening: a stack `TcpConnection`, or a
   * `TlsStream` for `wss://`) for `url` (`ws://host[:port]/path`).
   */
  constructor(conn: Transport, url: string | URL, options: WebSocketClientOptions = {}) {
    this.#conn = conn;
    this.#url = new URL(url);
    if (this.#url.protocol !== "ws:" && this.#url.protocol !== "wss:") {
      throw new TypeError(`WebSocket: ${url} is not a ws:// or wss:// URL`);
    }
    this.#options = options;
    this.#head = new Uint8Array(options.maxHead ?? 16384);
    const keyBytes = new Uint8Array(16);
    crypto.getRandomValues(keyBytes);
    this.#key = btoa(String.fromCharCode(...keyBytes));
    this.#reader = new FrameReader(this, { maxMessage: options.maxMessage });
    conn.onData = (data, offset, length) => this.#data(data, offset, length);
    conn.onOpen = () => this.#sendRequest();
    conn.onEnd = () => this.#ended();
    conn.onWritable = () => this.#drain();
    conn.onClose = (reason) => {
      if (this.#state !== WebSocketState.CLOSED) {
        const detail = conn.closeDetail ? ` (${conn.closeDetail})` : "";
        this.#finish(CloseCode.ABNORMAL, `the connection ended: ${reason}${detail}`, false);
      }
    };
    if (conn.stateName === "ESTABLISHED") this.#sendRequest();
  }

  /** The state, a {@linkcode WebSocketState} value. */
  get readyState(): number {
    return this.#state;
  }

  // ------------------------------------------------------------- handshake

  #sendRequest(): void {
    const u = this.#url;
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${this.#key}`,
      "Sec-WebSocket-Version: 13",
    ];
    if (this.#options.deflate ?? true) {
      lines.push("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
    }
    if (this.#options.protocols?.length) {
      lines.push(`Sec-WebSocket-Protocol: ${this.#options.protocols.join(", ")}`);
    }
    for (const [k, v] of Object.entries(this.#options.headers ?? {})) lines.push(`${k}: ${v}`);
    const request = enc.encode(lines.join("\r\n") + "\r\n\r\n");
    this.#conn.write(request, 0, request.length);
  }

  #data(data: Uint8Array, offset: number, length: number): void {
    if (this.#state !== WebSocketState.CONNECTING) {
      if (this.#state !== WebSocketState.CLOSED) this.#reader.push(data, offset, length);
      return;
    }
    // The response head, gathered as bytes up to its blank line; what follows is frames.
    const before = this.#headLength;
    const n = Math.min(length, this.#head.length - before);
    this.#head.set(data.subarray(offset, offset + n), before);
    this.#headLength += n;
    const h = this.#head;
    const end = headEnd(h, before - 3, this.#headLength);
    if (end < 0) {
      if (this.#headLength === this.#head.length) {
        this.#fail(1002, "the handshake answer is too long");
      }
      return;
    }
    const problem = this.#checkResponse(dec.decode(h.subarray(0, end)));
    if (problem !== "") {
      this.#fail(CloseCode.PROTOCOL_ERROR, problem);
      return;
    }
    this.#state = WebSocketState.OPEN;
    this.onOpen?.();
    const used = end + 4 - before; // of this segment's bytes
    if (used < length && this.#state === WebSocketState.OPEN) {
      this.#reader.push(data, offset + used, length - used);
    }
  }

  /** What is wrong with the server's answer (RFC 6455 §4.1), or "". */
  #checkResponse(head: string): string {
    const [status, ...lines] = head.split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    const code = Number(/^HTTP\/1\.1 (\d{3})/.exec(status)?.[1] ?? 0);
    if (code >= 300 && code < 400) {
      return `the server redirects (${status.slice(9)}) to ${headers.get("location") ?? "?"}: ` +
        "redirects are refused";
    }
    if (code !== 101) return `the server answered "${status}", not 101 Switching Protocols`;
    if (headers.get("upgrade")?.toLowerCase() !== "websocket") return "no Upgrade: websocket";
    if (!/\bupgrade\b/i.test(headers.get("connection") ?? "")) return "no Connection: Upgrade";
    const accept = createHash("sha1").update(this.#key + GUID).digest("base64");
    if (headers.get("sec-websocket-accept") !== accept) return "a wrong Sec-WebSocket-Accept";
    const protocol = headers.get("sec-websocket-protocol") ?? "";
    if (protocol !== "" && !(this.#options.protocols ?? []).includes(protocol)) {
      return `the server chose subprotocol ${protocol}, which was not offered`;
    }
    this.protocol = protocol;
    const extensions = headers.get("sec-websocket-extensions");
    return extensions === undefined ? "" : this.#takeExtensions(extensions);
  }

  /** The extensions the server chose: permessage-deflate when offered, with its parameters. */
  #takeExtensions(text: string): string {
    const [name, ...params] = text.split(";").map((p) => p.trim());
    if (name !== "permessage-deflate" || !(this.#options.deflate ?? true) || text.includes(",")) {
      return `the server chose extensions that were not offered: ${text}`;
    }
    for (const param of params) {
      const [key, value] = param.split("=").map((p) => p.trim());
      if (key === "server_no_context_takeover" && value === undefined) this.#resetWindow = true;
      else if (key === "client_no_context_takeover" && value === undefined) continue;
      else if (
        (key === "server_max_window_bits" || key === "client_max_window_bits") &&
        /^(8|9|1[0-5])$/.test(value ?? "")
      ) continue; // we inflate with the largest window and never compress
      else return `permessage-deflate: a parameter we cannot take: ${param}`;
    }
    this.#inflater = new Inflater(this.#options.maxMessage ?? 64 << 20);
    this.#reader.rsv1 = true;
    this.deflate = true;
    return "";
  }

  // -------------------------------------------------------------- messages

  /** A whole message from the reader (FrameSink). */
  message(
    opcode: number,
    data: Uint8Array,
    offset: number,
    length: number,
    compressed: boolean,
  ): void {
    if (this.#state !== WebSocketState.OPEN && this.#state !== WebSocketState.CLOSING) return;
    const text = opcode === Opcode.TEXT;
    if (compressed) {
      const inflater = this.#inflater!;
      try {
        length = inflater.inflate(data, offset, length);
      } catch (e) {
        const tooBig = e instanceof InflateError && e.message.includes("past");
        return this.#fail(
          tooBig ? CloseCode.MESSAGE_TOO_BIG : CloseCode.INVALID_PAYLOAD,
          String(e),
        );
      } finally {
        if (this.#resetWindow) inflater.reset();
      }
      data = inflater.output;
      offset = 0;
      if (text && !isUtf8(data, 0, length)) {
        return this.#fail(CloseCode.INVALID_PAYLOAD, "text that is not UTF-8");
      }
    }
    this.messagesIn++;
    this.onMessage?.(data, offset, length, text);
  }

  /** A control frame from the reader (FrameSink). */
  control(opcode: number, data: Uint8Array, offset: number, length: number): void {
    if (opcode === Opcode.PING) {
      if (this.#state === WebSocketState.OPEN) this.#send(Opcode.PONG, data, offset, length);
      this.onPing?.(data, offset, length);
    } else if (opcode === Opcode.PONG) {
      this.onPong?.(data, offset, length);
    } else this.#closeReceived(data, offset, length);
  }

  /** A protocol error from the reader (FrameSink). */
  error(code: number, reason: string): void {
    this.#fail(code, reason);
  }

  /** Sends a text (string) or binary (bytes) message. */
  send(message: string | Uint8Array): void {
    if (typeof message === "string") {
      const bytes = enc.encode(message);
      this.sendFrame(Opcode.TEXT, bytes, 0, bytes.length);
    } else this.sendFrame(Opcode.BINARY, message, 0, message.length);
  }

  /** Sends `data[offset, offset + length)` as one message of `opcode` (TEXT or BINARY). */
  sendFrame(opcode: number, data: Uint8Array, offset: number, length: number): void {
    if (this.#state !== WebSocketState.OPEN) {
      throw new Error(`WebSocket send: the connection is not open (state ${this.#state})`);
    }
    this.#send(opcode, data, offset, length);
    this.messagesOut++;
  }

  /** Sends a ping (at most 125 bytes of payload). */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (payload.length > 125) throw new RangeError("WebSocket ping: at most 125 bytes");
    this.#send(Opcode.PING, payload, 0, payload.length);
  }

  #send(opcode: number, data: Uint8Array, offset: number, length: number): void {
    if (this.#out.length < length + 14) {
      this.#out = new Uint8Array(Math.max(length + 14, this.#out.length * 2));
    }
    crypto.getRandomValues(this.#mask); // a fresh key per frame (RFC 6455 §5.3)
    const n = writeFrame(this.#out, 0, opcode, true, false, data, offset, length, this.#mask);
    const taken = this.#pending.length === 0 ? this.#conn.write(this.#out, 0, n) : 0;
    // What the send buffer did not take waits for room (a copy: #out is reused).
    if (taken < n) this.#pending.push(this.#out.slice(taken, n));
  }

  /** Frames waiting for room in the TCP send buffer. */
  readonly #pending: Uint8Array[] = [];

  #drain(): void {
    while (this.#pending.length > 0 && this.#conn.writableState) {
      const head = this.#pending[0];
      const n = this.#conn.write(head, 0, head.length);
      if (n < head.length) {
        this.#pending[0] = head.subarray(n);
        return;
      }
      this.#pending.shift();
    }
  }

  /** Bytes of frames not yet taken by TCP (sent as its buffer frees). */
  get bufferedAmount(): number {
    return this.#pending.reduce((n, p) => n + p.length, 0);
  }

  // --------------------------------------------------------------- closing

  /** Starts the closing handshake with `code` (1000, or 3000..4999) and a reason (≤ 123 bytes). */
  close(code: number = CloseCode.NORMAL, reason = ""): void {
    if (code !== CloseCode.NORMAL && !(code >= 3000 && code <= 4999)) {
      throw new RangeError(`WebSocket close: code ${code} is not 1000 or in 3000..4999`);
    }
    const r = enc.encode(reason);
    if (r.length > 123) throw new RangeError("WebSocket close: the reason is over 123 bytes");
    if (this.#state === WebSocketState.CONNECTING) {
      this.#finish(CloseCode.ABNORMAL, "closed during the handshake", false);
      this.#conn.abort();
      return;
    }
    if (this.#state !== WebSocketState.OPEN) return;
    this.#sendClose(code, r);
    this.#state = WebSocketState.CLOSING;
  }

  /** Drops the connection at once, without the closing handshake (`onClose` gets 1006). */
  abort(reason = "aborted by the application"): void {
    this.#finish(CloseCode.ABNORMAL, reason, false);
    this.#conn.abort();
  }

  #sendClose(code: number, reason: Uint8Array): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const body = new Uint8Array(2 + reason.length);
    body[0] = code >> 8;
    body[1] = code & 0xff;
    body.set(reason, 2);
    this.#send(Opcode.CLOSE, body, 0, body.length);
  }

  #closeReceived(data: Uint8Array, offset: number, length: number): void {
    let code: number = CloseCode.NO_STATUS, reason = "";
    if (length === 1) return this.#fail(1002, "a close frame of 1 byte");
    if (length >= 2) {
      code = data[offset] << 8 | data[offset + 1];
      if (!validCloseCode(code)) return this.#fail(1002, `close code ${code} may not be sent`);
      if (!isUtf8(data, offset + 2, length - 2)) {
        return this.#fail(1007, "a close reason that is not UTF-8");
      }
      reason = dec.decode(data.subarray(offset + 2, offset + length));
    }
    // Echo the code (RFC 6455 §5.5.1), then the server closes TCP first (§7.1.1).
    if (!this.#closeSent) {
      this.#sendClose(code === CloseCode.NO_STATUS ? CloseCode.NORMAL : code, new Uint8Array(0));
    }
    this.#finish(code, reason, true);
    this.#conn.close();
  }

  /** A protocol error: close with `code` and drop the connection's rest. */
  #fail(code: number, reason: string): void {
    if (this.#state === WebSocketState.CLOSED) return;
    if (this.#state !== WebSocketState.CONNECTING && this.#conn.writableState) {
      this.#sendClose(code, enc.encode(reason.slice(0, 100)));
    }
    this.#finish(code, reason, false);
    this.#conn.close();
  }

  #ended(): void {
    if (this.#state !== WebSocketState.CLOSED) {
      this.#finish(CloseCode.ABNORMAL, "the server closed TCP without a close frame", false);
    }
    this.#conn.close();
  }

  #finish(code: number, reason: string, clean: boolean): void {
    if (this.#state === WebSocketState.CLOSED) return;
    this.#state = WebSocketState.CLOSED;
    this.onClose?.(code, reason, clean);
  }
}
