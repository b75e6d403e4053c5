/**
 * A copying convenience over {@linkcode WebSocketClient}, shaped like the WHATWG `WebSocket`:
 * `onopen`, `onmessage` (strings for text; `ArrayBuffer`s or `Blob`s for binary, by
 * `binaryType`), `onclose` with `code`/`reason`/`wasClean`, `onerror`, `send`, `close`,
 * `readyState`, `protocol`, `bufferedAmount`, and `addEventListener`. Each message is copied
 * out of the frame; the hot path is the client's own `onMessage`.
 *
 * @example
 * ```ts ignore
 * const ws = new StackWebSocket(stack.connect("10.0.0.1", 8080), "ws://10.0.0.1:8080/feed");
 * ws.onmessage = (e) => console.log(e.data);
 * ws.onopen = () => ws.send("subscribe");
 * ```
 *
 * @module
 */
import { WebSocketClient, type WebSocketClientOptions } from "./client.ts";
import type { Transport } from "./transport.ts";

const dec = new TextDecoder();

/** A close, as the WHATWG `CloseEvent` has it. */
export class StackCloseEvent extends Event {
  /** The close code. */
  readonly code: number;
  /** The reason. */
  readonly reason: string;
  /** Whether both sides closed properly. */
  readonly wasClean: boolean;
  /** A `close` event. */
  constructor(code: number, reason: string, wasClean: boolean) {
    super("close");
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
  }
}

/** A WebSocket shaped like the WHATWG one, over the stack; see the module doc. */
export class StackWebSocket extends EventTarget {
  /** The client underneath (for its in-place `onMessage`, counters, ping). */
  readonly client: WebSocketClient;
  /** The URL. */
  readonly url: string;
  /** How binary messages come: `"arraybuffer"` (default) or `"blob"`. */
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  /** The handshake succeeded. */
  onopen: ((event: Event) => void) | null = null;
  /** A message: `event.data` is a string, an ArrayBuffer or a Blob. */
  onmessage: ((event: MessageEvent) => void) | null = null;
  /** The connection failed (a close follows). */
  onerror: ((event: Event) => void) | null = null;
  /** It is over. */
  onclose: ((event: StackCloseEvent) => void) | null = null;

  /** Opens a WebSocket on `transport` for `url`. */
  constructor(transport: Transport, url: string, options: WebSocketClientOptions = {}) {
    super();
    this.url = url;
    const c = this.client = new WebSocketClient(transport, url, options);
    c.onOpen = () => this.#fire(new Event("open"), this.onopen);
    c.onMessage = (data, offset, length, text) => {
      const bytes = data.slice(offset, offset + length);
      const payload = text
        ? dec.decode(bytes)
        : this.binaryType === "blob"
        ? new Blob([bytes])
        : bytes.buffer;
      this.#fire(new MessageEvent("message", { data: payload }), this.onmessage);
    };
    c.onClose = (code, reason, clean) => {
      if (!clean && code !== 1000) this.#fire(new Event("error"), this.onerror);
      this.#fire(new StackCloseEvent(code, reason, clean), this.onclose);
    };
  }

  // deno-lint-ignore no-explicit-any
  #fire(event: Event, handler: ((e: any) => void) | null): void {
    handler?.(event);
    this.dispatchEvent(event);
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.client.readyState;
  }

  /** The subprotocol the server chose. */
  get protocol(): string {
    return this.client.protocol;
  }

  /** `"permessage-deflate"` when negotiated, else "". */
  get extensions(): string {
    return this.client.deflate ? "permessage-deflate" : "";
  }

  /** Bytes queued and not yet taken by TCP. */
  get bufferedAmount(): number {
    return this.client.bufferedAmount;
  }

  /** Sends a string (text) or bytes (binary). */
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (typeof data === "string") this.client.send(data);
    else if (ArrayBuffer.isView(data)) {
      this.client.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else this.client.send(new Uint8Array(data));
  }

  /** Starts the closing handshake. */
  close(code = 1000, reason = ""): void {
    this.client.close(code, reason);
  }
}
