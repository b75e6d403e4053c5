/**
 * An HTTP/1.1 client over a {@linkcode Transport} (the stack's TCP, or {@linkcode TlsStream} for
 * `https://`): requests one after the other on one connection kept alive, bodies by
 * Content-Length, chunked, or to the end of the connection (RFC 9112). Enough for the REST
 * snapshots a market-data feed needs beside its WebSocket. Promise-returning: a
 * {@linkcode StackDriver} must be polling the stack.
 *
 * @example
 * ```ts ignore
 * const http = new HttpClient(stack.connect("10.0.0.1", 80), "10.0.0.1");
 * const r = await http.request("GET", "/api/v3/depth?symbol=BTCUSDT&limit=100");
 * console.log(r.status, new TextDecoder().decode(r.body));
 * http.close();
 * ```
 *
 * @module
 */
import type { Transport } from "./transport.ts";

/**
 * Where an HTTP head ends: the offset of its blank line's CRLF CRLF in `bytes[from, to)`, or
 * -1 if it is not there yet. A caller gathering a head segment by segment passes `from` as
 * three before the bytes it just added, so a CRLF CRLF split across segments is found.
 *
 * @example
 * ```ts
 * import { headEnd } from "./http.ts";
 * const head = new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\nbody");
 * console.log(headEnd(head, 0, head.length)); // 15
 * ```
 */
export function headEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(0, from); i + 3 < to; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** A response, its body whole. */
export interface HttpResponse {
  /** The status code, e.g. 200. */
  status: number;
  /** The reason phrase, e.g. "OK". */
  statusText: string;
  /** Headers, names lower-cased (repeated ones joined with ", "). */
  headers: Map<string, string>;
  /** The body (chunked bodies put together). */
  body: Uint8Array;
}

/** Why a request failed. */
export class HttpError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "HttpError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Pending {
  resolve: (r: HttpResponse) => void;
  reject: (e: Error) => void;
  head: boolean; // a HEAD request: no body follows
}

/** An HTTP/1.1 client on one connection; see the module doc. */
export class HttpClient {
  readonly #t: Transport;
  readonly #host: string;
  readonly #maxBody: number;
  #open = false;
  #ended = false;
  #error: Error | null = null;
  readonly #queue: Pending[] = [];
  readonly #waiting: (() => void)[] = [];
  // What has arrived and is not parsed yet.
  #buf = new Uint8Array(16384);
  #len = 0;

  /** A client on `transport` (open or opening) for `host` (the Host header). */
  constructor(transport: Transport, host: string, options: { maxBody?: number } = {}) {
    this.#t = transport;
    this.#host = host;
    this.#maxBody = options.maxBody ?? 256 << 20;
    transport.onOpen = () => {
      this.#open = true;
      for (const w of this.#waiting.splice(0)) w();
    };
    transport.onData = (data, offset, length) => this.#data(data, offset, length);
    transport.onEnd = () => {
      this.#ended = true;
      this.#parse();
      this.#t.close();
    };
    transport.onClose = (reason) => {
      this.#ended = true;
      const detail = transport.closeDetail ? `: ${transport.closeDetail}` : "";
      this.#error ??= new HttpError(`the connection ended (${reason}${detail})`);
      this.#parse();
      for (const p of this.#queue.splice(0)) p.reject(this.#error);
      for (const w of this.#waiting.splice(0)) w();
    };
    this.#open = transport.stateName === "ESTABLISHED";
  }

  /**
   * Sends a request and resolves with its response. `path` includes the query; `headers` are
   * added to Host (and Content-Length when there is a body). Requests queue in order.
   */
  async request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Uint8Array,
  ): Promise<HttpResponse> {
    if (!this.#open) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (!this.#open) throw this.#error ?? new HttpError("the connection did not open");
    }
    if (this.#ended) throw this.#error ?? new HttpError("the connection is closed");
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${this.#host}`];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
    const head = enc.encode(lines.join("\r\n") + "\r\n\r\n");
    const done = new Promise<HttpResponse>((resolve, reject) =>
      this.#queue.push({ resolve, reject, head: method === "HEAD" })
    );
    this.#write(head);
    if (body !== undefined) this.#write(body);
    return await done;
  }

  #write(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      const n = this.#t.write(bytes, at, bytes.length - at);
      if (n === 0) throw new HttpError("the send buffer is full");
      at += n;
    }
  }

  /** Closes the connection. */
  close(): void {
    this.#t.close();
  }

  #data(data: Uint8Array, offset: number, length: number): void {
    if (this.#len + length > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < this.#len + length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(data.subarray(offset, offset + length), this.#len);
    this.#len += length;
    this.#parse();
  }

  /** Takes every whole response at the start of the buffer. */
  #parse(): void {
    while (this.#queue.length > 0) {
      let used: number;
      try {
        used = this.#response(this.#queue[0]);
      } catch (e) { // a malformed answer: this request fails, the connection goes
        this.#queue.shift()!.reject(e as Error);
        this.#t.abort();
        return;
      }
      if (used === 0) return;
      this.#queue.shift();
      this.#buf.copyWithin(0, used, this.#len);
      this.#len -= used;
    }
  }

  /** Resolves `p` if its whole response is buffered; returns the bytes it took (0: not yet). */
  #response(p: Pending): number {
    const b = this.#buf, n = this.#len;
    const end = headEnd(b, 0, n);
    if (end < 0) return 0;
    const [statusLine, ...lines] = dec.decode(b.subarray(0, end)).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
    if (m === null) {
      p.reject(new HttpError(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 80))}`));
      this.#t.abort();
      return n;
    }
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const k = line.slice(0, colon).trim().toLowerCase(), v = line.slice(colon + 1).trim();
      headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
    }
    const status = Number(m[1]);
    const start = end + 4;
    if (status >= 100 && status < 200) return start; // an interim answer: the real one follows
    const done = (body: Uint8Array, used: number) => {
      p.resolve({ status, statusText: m[2], headers, body });
      if (/\bclose\b/i.test(headers.get("connection") ?? "")) this.#t.close();
      return used;
    };
    if (p.head || status === 204 || status === 304) return done(new Uint8Array(0), start);
    const te = headers.get("transfer-encoding");
    if (te !== undefined && /chunked\s*$/i.test(te)) return this.#chunked(start, done);
    const cl = headers.get("content-length");
    if (cl !== undefined) {
      const len = Number(cl);
      if (!Number.isSafeInteger(len) || len < 0 || len > this.#maxBody) {
        p.reject(new HttpError(`a Content-Length we do not take: ${cl}`));
        this.#t.abort();
        return n;
      }
      if (n - start < len) return 0;
      return done(b.slice(start, start + len), start + len);
    }
    // No length: the body ends with the connection.
    if (!this.#ended) return 0;
    return done(b.slice(start, n), n);
  }

  /** A chunked body from `start`: resolves when its last chunk is in; 0 while not. */
  #chunked(start: number, done: (body: Uint8Array, used: number) => number): number {
    const b = this.#buf, n = this.#len;
    const parts: Uint8Array[] = [];
    let at = start, total = 0;
    for (;;) {
      let eol = -1;
      for (let i = at; i + 1 < n; i++) {
        if (b[i] === 13 && b[i + 1] === 10) {
          eol = i;
          break;
        }
      }
      if (eol < 0) return 0;
      const size = parseInt(dec.decode(b.subarray(at, eol)).split(";")[0], 16);
      if (!(size >= 0)) throw new HttpError("a chunk size that is not hexadecimal");
      at = eol + 2;
      if (size === 0) {
        // Trailers end with an empty line.
        for (let i = at; i + 1 < n; i++) {
          if (b[i] === 13 && b[i + 1] === 10) {
            if (i === at) {
              const body = new Uint8Array(total);
              let o = 0;
              for (const part of parts) body.set(part, (o += part.length) - part.length);
              return done(body, i + 2);
            }
            at = i + 2;
            i = at - 1;
          }
        }
        return 0;
      }
      if (n < at + size + 2) return 0;
      total += size;
      if (total > this.#maxBody) throw new HttpError(`a body over ${this.#maxBody} bytes`);
      parts.push(b.subarray(at, at + size));
      at += size + 2;
    }
  }
}
