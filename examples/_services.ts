/**
 * The TCP services of `examples/host.ts`, kept apart so tests can use the same pattern: an
 * echo service and a small HTTP/1.1 server over the stack's callback API.
 *
 * `GET /bytes/N` answers N bytes of a fixed pattern (byte i is `PATTERN[i & 0xffff]`, the same
 * on every request and every run), `GET /` a short page of counters, `POST /upload` (with a
 * Content-Length) the length and SHA-256 of the body it received: `"<bytes> <hex>\n"`. Connections are kept alive
 * as HTTP/1.1 says unless the client asks `Connection: close`.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import type { TcpConnection, TcpListener } from "../stack/mod.ts";

/** The pattern repeats every 64 KiB: `PATTERN[i & 0xffff]` is byte i of every body. */
export const PATTERN: Uint8Array = (() => {
  const block = new Uint8Array(65536);
  let x = 0x2545f491;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  return block;
})();

/** Bytes `[offset, offset + length)` of the pattern (a copy; for tests and clients). */
export function patternSlice(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length;) {
    const at = (offset + i) & 0xffff, n = Math.min(length - i, 65536 - at);
    out.set(PATTERN.subarray(at, at + n), i);
    i += n;
  }
  return out;
}

/**
 * Writes what it is given to a connection, keeping what the send buffer did not take and
 * closing the receive window by as much (`held`), so a fast sender is slowed, not lost.
 */
class Writer {
  readonly #conn: TcpConnection;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Called when everything queued has gone into the send buffer. */
  drained: (() => void) | null = null;

  constructor(conn: TcpConnection) {
    this.#conn = conn;
    conn.onWritable = () => this.#drain();
  }

  get pending(): number {
    return this.#pendingBytes;
  }

  write(data: Uint8Array, offset: number, length: number): void {
    if (this.#pendingBytes === 0 && this.#conn.writableState) {
      const n = this.#conn.write(data, offset, length);
      offset += n;
      length -= n;
    }
    if (length > 0) {
      this.#pending.push(data.slice(offset, offset + length));
      this.#pendingBytes += length;
      this.#conn.held = this.#pendingBytes;
    }
  }

  #drain(): void {
    const conn = this.#conn;
    while (this.#pending.length > 0 && conn.writableState) {
      const head = this.#pending[0];
      const n = conn.write(head, 0, head.length);
      this.#pendingBytes -= n;
      if (n < head.length) {
        this.#pending[0] = head.subarray(n);
        break;
      }
      this.#pending.shift();
    }
    conn.held = this.#pendingBytes;
    conn.windowUpdate();
    if (this.#pendingBytes === 0) this.drained?.();
  }
}

/** Echoes every byte back on each connection of `listener` (RFC 862); closes when the client does. */
export function serveEcho(listener: TcpListener): void {
  listener.onConnection = (conn) => {
    const out = new Writer(conn);
    conn.onData = (data, offset, length) => out.write(data, offset, length);
    conn.onEnd = () => {
      if (out.pending === 0) conn.close();
      else out.drained = () => conn.close();
    };
  };
}

const enc = new TextEncoder();
const MAX_REQUEST = 8192;

/** Counts of the HTTP server. */
export interface HttpStats {
  /** Requests answered. */
  requests: number;
  /** Body bytes handed to TCP. */
  bodyBytes: number;
  /** Requests refused (400, 404, 405, 431). */
  errors: number;
}

/**
 * A small HTTP/1.1 server on `listener`: `GET /bytes/N` and `GET /` (the page `status()`
 * returns). Bodies are written as the send buffer takes them (`onWritable` refills).
 */
export function serveHttp(listener: TcpListener, status: () => string): HttpStats {
  const stats: HttpStats = { requests: 0, bodyBytes: 0, errors: 0 };
  listener.onConnection = (conn) => {
    const request = new Uint8Array(MAX_REQUEST);
    let have = 0;
    let remaining = 0; // body bytes of /bytes/N still to write
    let position = 0;
    let closeAfter = false;
    let peerDone = false;
    let uploadLeft = 0; // body bytes of a POST /upload still to come
    let upload: Hash | null = null;
    let uploadLength = 0;
    const out = new Writer(conn);

    const finish = () => {
      if (closeAfter || peerDone) conn.close();
      else if (have > 0) handle(); // a pipelined request waits behind this response
    };
    const pump = () => {
      while (remaining > 0 && out.pending === 0 && conn.writableState) {
        const at = position & 0xffff, n = Math.min(remaining, 65536 - at);
        const taken = conn.write(PATTERN, at, n);
        position += taken;
        remaining -= taken;
        stats.bodyBytes += taken;
        if (taken < n) return; // the writer's drained() calls again
      }
      if (remaining === 0 && out.pending === 0) finish();
    };
    out.drained = () => {
      if (remaining > 0) pump(); // the send buffer has room again
    };

    const respond = (code: string, type: string, body: string | number, close: boolean) => {
      const length = typeof body === "number" ? body : enc.encode(body).length;
      const head = enc.encode(
        `HTTP/1.1 ${code}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n` +
          `Server: deno-dpdk\r\n${close ? "Connection: close\r\n" : ""}\r\n`,
      );
      closeAfter = close;
      out.write(head, 0, head.length);
      if (typeof body === "number") {
        remaining = body;
        position = 0;
        pump();
      } else {
        const bytes = enc.encode(body);
        out.write(bytes, 0, bytes.length);
        finish();
      }
    };

    // Upload bytes are hashed where they lie: in the received frame, or in the request buffer.
    const takeUpload = (data: Uint8Array, offset: number, length: number): number => {
      const n = Math.min(length, uploadLeft);
      upload!.update(data.subarray(offset, offset + n));
      uploadLeft -= n;
      if (uploadLeft === 0) {
        const digest = upload!.digest("hex");
        upload = null;
        respond("200 OK", "text/plain", `${uploadLength} ${digest}\n`, closeAfter);
      }
      return n;
    };

    const handle = () => {
      if (remaining > 0 || uploadLeft > 0) return;
      const text = new TextDecoder().decode(request.subarray(0, have));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        if (have === MAX_REQUEST) {
          stats.errors++;
          respond("431 Request Header Fields Too Large", "text/plain", "too large\n", true);
        }
        return;
      }
      const headLength = enc.encode(text.slice(0, end + 4)).length;
      request.copyWithin(0, headLength, have);
      have -= headLength;
      const [line, ...headers] = text.slice(0, end).split("\r\n");
      const [method, target, version] = line.split(" ");
      const wantsClose = headers.some((h) => /^connection:\s*close/i.test(h)) ||
        version === "HTTP/1.0";
      stats.requests++;
      const lengthHeader = headers.find((h) => /^content-length:/i.test(h));
      if (method === "POST" && target === "/upload" && lengthHeader !== undefined) {
        uploadLength = uploadLeft = Number(lengthHeader.slice(15).trim());
        closeAfter = wantsClose;
        upload = createHash("sha256");
        if (headers.some((h) => /^expect:\s*100-continue/i.test(h))) { // curl asks, for big bodies
          const go = enc.encode("HTTP/1.1 100 Continue\r\n\r\n");
          out.write(go, 0, go.length);
        }
        const n = takeUpload(request, 0, have);
        request.copyWithin(0, n, have);
        have -= n;
        return;
      }
      if (method !== "GET") {
        stats.errors++;
        respond("405 Method Not Allowed", "text/plain", "GET, or POST /upload\n", true);
        return;
      }
      const m = /^\/bytes\/(\d{1,12})$/.exec(target ?? "");
      if (m) respond("200 OK", "application/octet-stream", Number(m[1]), wantsClose);
      else if (target === "/") respond("200 OK", "text/plain", status(), wantsClose);
      else {
        stats.errors++;
        respond("404 Not Found", "text/plain", "not found\n", wantsClose);
      }
    };

    conn.onData = (data, offset, length) => {
      if (uploadLeft > 0) {
        const used = takeUpload(data, offset, length);
        offset += used;
        length -= used;
        if (length === 0) return;
      }
      const n = Math.min(length, MAX_REQUEST - have);
      request.set(data.subarray(offset, offset + n), have);
      have += n;
      handle();
    };
    conn.onEnd = () => {
      peerDone = true;
      if (remaining === 0 && out.pending === 0) conn.close();
    };
  };
  return stats;
}
