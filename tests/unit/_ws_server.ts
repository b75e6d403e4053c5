// A small WebSocket server on a stack's TCP listener, for the client's tests on the in-memory
// pair: it answers the handshake (or a scripted wrong answer), echoes messages, answers pings,
// echoes close frames, and can send raw frames a test makes up. It reads clients with our own
// FrameReader in server mode (masked frames required).
import { createHash } from "node:crypto";
import type { Stack } from "../../stack/interface.ts";
import type { TcpConnection } from "../../stack/tcp.ts";
import { FrameReader, type FrameSink, Opcode, writeFrame } from "../../ws/frame.ts";

const enc = new TextEncoder();

/** What the server saw on one connection. */
export interface ServerSide {
  conn: TcpConnection;
  request: string;
  messages: { opcode: number; bytes: Uint8Array }[];
  pongs: Uint8Array[];
  closes: Uint8Array[];
  errors: number[];
  /** Sends a frame as a server does (unmasked unless `mask` is given). */
  frame(opcode: number, payload: Uint8Array, fin?: boolean, mask?: Uint8Array): void;
  /** Sends raw bytes. */
  raw(bytes: Uint8Array): void;
}

/** Options of {@linkcode serveWebSocket}. */
export interface ServerOptions {
  /** Echo data messages back. Default: true. */
  echo?: boolean;
  /** Replace the handshake answer (status line and headers, without the blank line). */
  answer?: (key: string, request: string) => string;
  /** The subprotocol to choose. */
  protocol?: string;
  /** Answer pings. Default: true. */
  pong?: boolean;
}

/** Serves WebSocket on `port` of `stack`; returns the connections as they come. */
export function serveWebSocket(stack: Stack, port: number, options: ServerOptions = {}) {
  const sides: ServerSide[] = [];
  stack.listen(port).onConnection = (conn) => {
    let head = "";
    let open = false;
    const side: ServerSide = {
      conn,
      request: "",
      messages: [],
      pongs: [],
      closes: [],
      errors: [],
      frame(opcode, payload, fin = true, mask) {
        const out = new Uint8Array(payload.length + 14);
        const n = writeFrame(out, 0, opcode, fin, false, payload, 0, payload.length, mask ?? null);
        side.raw(out.subarray(0, n));
      },
      raw(bytes) { // what the send buffer does not take waits for room
        const n = pending.length === 0 && conn.writableState
          ? conn.write(bytes, 0, bytes.length)
          : 0;
        if (n < bytes.length) pending.push(bytes.slice(n));
      },
    };
    const pending: Uint8Array[] = [];
    conn.onWritable = () => {
      while (pending.length > 0 && conn.writableState) {
        const n = conn.write(pending[0], 0, pending[0].length);
        if (n < pending[0].length) {
          pending[0] = pending[0].subarray(n);
          return;
        }
        pending.shift();
      }
    };
    sides.push(side);
    const sink: FrameSink = {
      message(opcode, data, offset, length) {
        const bytes = data.slice(offset, offset + length);
        side.messages.push({ opcode, bytes });
        if (options.echo ?? true) side.frame(opcode, bytes);
      },
      control(opcode, data, offset, length) {
        const bytes = data.slice(offset, offset + length);
        if (opcode === Opcode.PING) {
          if (options.pong ?? true) side.frame(Opcode.PONG, bytes);
        } else if (opcode === Opcode.PONG) side.pongs.push(bytes);
        else {
          side.closes.push(bytes);
          side.frame(Opcode.CLOSE, bytes); // echo, then close TCP first (RFC 6455 §7.1.1)
          conn.close();
        }
      },
      error(code) {
        side.errors.push(code);
      },
    };
    const reader = new FrameReader(sink, { masked: true });
    conn.onData = (data, offset, length) => {
      if (open) return reader.push(data, offset, length);
      head += new TextDecoder().decode(data.subarray(offset, offset + length));
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      side.request = head.slice(0, end);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(side.request)?.[1] ?? "";
      const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
        .digest("base64");
      const answer = options.answer?.(key, side.request) ??
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}` +
          (options.protocol ? `\r\nSec-WebSocket-Protocol: ${options.protocol}` : "");
      side.raw(enc.encode(answer + "\r\n\r\n"));
      open = true;
      const rest = enc.encode(head.slice(end + 4));
      if (rest.length > 0) reader.push(rest, 0, rest.length);
    };
    conn.onEnd = () => conn.close();
  };
  return sides;
}
