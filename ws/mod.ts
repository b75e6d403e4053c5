/**
 * WebSocket (RFC 6455) over deno-dpdk's own TCP: a client whose received messages reach the
 * application in place when they lie whole in one TCP segment, framing that reports every
 * protocol error with its close code, an allocation-free UTF-8 validator, permessage-deflate
 * (inflating with {@linkcode Inflater}), and `wss://` through {@linkcode TlsStream} (`node:tls`
 * over the connection), {@linkcode StackWebSocket} (a copying object shaped like the WHATWG
 * `WebSocket`), and an HTTP/1.1 client ({@linkcode HttpClient}: keep-alive,
 * Content-Length and chunked bodies) for REST snapshots, and {@linkcode Reconnector} (backoff
 * with jitter, a heartbeat) to stay connected.
 *
 * ```ts
 * import { MemoryPair, Stack } from "@deno-dpdk/dpdk/stack";
 * import { WebSocketClient } from "@deno-dpdk/dpdk/ws";
 *
 * const pair = new MemoryPair();
 * const stack = new Stack(pair.a, { address: "10.0.0.2/24" });
 * const ws = new WebSocketClient(stack.connect("10.0.0.1", 8080), "ws://10.0.0.1:8080/feed");
 * ws.onOpen = () => ws.send("subscribe");
 * ws.onMessage = (data, offset, length, text) => {
 *   // data[offset, offset + length) is the message, valid during the call
 * };
 * ```
 *
 * @module
 */
export { WebSocketClient, type WebSocketClientOptions, WebSocketState } from "./client.ts";
export {
  CloseCode,
  FrameReader,
  type FrameReaderOptions,
  type FrameSink,
  Opcode,
  validCloseCode,
  writeFrame,
} from "./frame.ts";
export { isUtf8, Utf8Validator } from "./utf8.ts";
export { InflateError, Inflater } from "./inflate.ts";
export type { TcpCloseReason } from "../stack/tcp.ts";
export { TlsStream, type TlsStreamOptions } from "./tls.ts";
export type { Transport } from "./transport.ts";
export { headEnd, HttpClient, HttpError, type HttpResponse } from "./http.ts";
export {
  Backoff,
  type BackoffOptions,
  type ReconnectEvent,
  Reconnector,
  type ReconnectorOptions,
} from "./reconnect.ts";
export { StackCloseEvent, StackWebSocket } from "./websocket.ts";
