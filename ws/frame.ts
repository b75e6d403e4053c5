/**
 * WebSocket framing (RFC 6455 §5): a reader that takes the bytes of a TCP stream in pieces and
 * hands whole messages to a sink, and a writer of frames. The reader delivers a message that
 * lies whole in one piece (one TCP segment) in place, as (data, offset, length) of that piece:
 * no copy. Only messages split across pieces or fragmented are assembled, in a buffer that is
 * reused. Every protocol error is reported with the close code RFC 6455 §7.4.1 gives it.
 *
 * @module
 */
import { Utf8Validator } from "./utf8.ts";

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  /** A continuation of a fragmented message. */
  CONTINUATION: 0x0,
  /** A text message (UTF-8). */
  TEXT: 0x1,
  /** A binary message. */
  BINARY: 0x2,
  /** Close (a status code and a reason may follow). */
  CLOSE: 0x8,
  /** Ping. */
  PING: 0x9,
  /** Pong. */
  PONG: 0xa,
} as const;

/** Close status codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** A normal closure. */
  NORMAL: 1000,
  /** The endpoint is going away. */
  GOING_AWAY: 1001,
  /** A protocol error. */
  PROTOCOL_ERROR: 1002,
  /** A data type the endpoint cannot accept. */
  UNSUPPORTED_DATA: 1003,
  /** No status code was present (never sent). */
  NO_STATUS: 1005,
  /** The connection ended without a close frame (never sent). */
  ABNORMAL: 1006,
  /** Data inconsistent with the message type (e.g. invalid UTF-8 in text). */
  INVALID_PAYLOAD: 1007,
  /** A message violating the endpoint's policy. */
  POLICY_VIOLATION: 1008,
  /** A message too big to process. */
  MESSAGE_TOO_BIG: 1009,
  /** An extension the client needed was not negotiated. */
  MANDATORY_EXTENSION: 1010,
  /** The server met an unexpected condition. */
  INTERNAL_ERROR: 1011,
} as const;

/** Whether `code` may appear in a close frame (RFC 6455 §7.4, the IANA registry). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
    (code >= 3000 && code <= 4999);
}

/** Receives what a {@linkcode FrameReader} finds (an object: no closure per message). */
export interface FrameSink {
  /**
   * A whole data message (`TEXT` or `BINARY`), its payload `data[offset, offset + length)`,
   * valid only during the call. Text was checked to be UTF-8. `compressed`: RSV1 was set on its
   * first frame (permessage-deflate).
   */
  message(
    opcode: number,
    data: Uint8Array,
    offset: number,
    length: number,
    compressed: boolean,
  ): void;
  /** A control frame (`CLOSE`, `PING`, `PONG`) and its payload (at most 125 bytes). */
  control(opcode: number, data: Uint8Array, offset: number, length: number): void;
  /** A protocol error: the connection must close with `code` (1002, 1007, 1009). */
  error(code: number, reason: string): void;
}

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest message accepted, bytes (more is error 1009). Default: 64 MiB. */
  maxMessage?: number;
  /** Frames must be masked (a server reading a client) or must not be (a client). Default: false. */
  masked?: boolean;
  /** RSV1 may be set on a message's first frame (permessage-deflate). Default: false. */
  rsv1?: boolean;
  /** Check that text is UTF-8 (compressed text is checked after inflating, by the caller). */
  validateUtf8?: boolean;
}

// Reader states.
const HEADER = 0, PAYLOAD = 1, FAILED = 2;

/** Reads frames from stream pieces; see the module doc. */
export class FrameReader {
  readonly #sink: FrameSink;
  readonly #max: number;
  readonly #masked: boolean;
  /** RSV1 may mark a message compressed (set once permessage-deflate is negotiated). */
  rsv1: boolean;
  readonly #checkUtf8: boolean;
  #state = HEADER;
  // The header being read when it spans pieces (at most 14 bytes).
  readonly #head = new Uint8Array(14);
  #headHave = 0;
  // The current frame.
  #opcode = 0;
  #fin = false;
  #payloadLeft = 0;
  #payloadLength = 0;
  readonly #mask = new Uint8Array(4);
  #maskAt = 0; // payload bytes unmasked so far (the key's phase)
  // The data message being assembled (fragments, or a frame split across pieces).
  #message = new Uint8Array(4096);
  #messageLength = 0;
  #messageOpcode = 0; // 0: none under way
  #compressed = false;
  // A control frame split across pieces.
  readonly #control = new Uint8Array(125);
  #controlLength = 0;
  readonly #utf8 = new Utf8Validator();

  /** A reader handing what it reads to `sink`. */
  constructor(sink: FrameSink, options: FrameReaderOptions = {}) {
    this.#sink = sink;
    this.#max = options.maxMessage ?? 64 << 20;
    this.#masked = options.masked ?? false;
    this.rsv1 = options.rsv1 ?? false;
    this.#checkUtf8 = options.validateUtf8 ?? true;
  }

  /** Whether an error stopped the reader (it reads nothing more). */
  get failed(): boolean {
    return this.#state === FAILED;
  }

  #fail(code: number, reason: string): void {
    this.#state = FAILED;
    this.#sink.error(code, reason);
  }

  /** Takes the next bytes of the stream: `data[offset, offset + length)`. */
  push(data: Uint8Array, offset: number, length: number): void {
    const end = offset + length;
    let at = offset;
    while (at < end && this.#state !== FAILED) {
      if (this.#state === HEADER) {
        if (this.#headHave === 0) { // the usual case: the whole header is in this piece
          const used = this.#parseHeader(data, at, end - at);
          if (used < 0) return;
          if (used > 0) {
            at += used;
            if (this.#payloadLeft === 0) this.#frameDone(data, at, 0, true);
            continue;
          }
        }
        // A header split across pieces: gathered byte by byte (at most 14).
        const head = this.#head;
        while (at < end && (this.#headHave < 2 || this.#headHave < this.#neededFor(head, 0))) {
          head[this.#headHave++] = data[at++];
        }
        if (this.#headHave >= 2 && this.#headHave === this.#neededFor(head, 0)) {
          const full = this.#headHave;
          this.#headHave = 0;
          if (this.#parseHeader(head, 0, full) < 0) return;
          if (this.#payloadLeft === 0) this.#frameDone(data, at, 0, true);
        }
        continue;
      }
      // PAYLOAD
      const n = Math.min(this.#payloadLeft, end - at);
      const whole = n === this.#payloadLength && this.#payloadLeft === this.#payloadLength;
      if (this.#masked) this.#unmask(data, at, n);
      this.#payloadLeft -= n;
      if (this.#payloadLeft === 0 && whole) {
        this.#frameDone(data, at, n, true); // the frame lies whole in this piece
      } else {
        this.#append(data, at, n);
        if (this.#state !== FAILED && this.#payloadLeft === 0) this.#frameDone(data, at, 0, false);
      }
      at += n;
    }
  }

  #neededFor(b: Uint8Array, at: number): number {
    return this.#neededFor2(b[at], b[at + 1]);
  }

  #neededFor2(_b0: number, b1: number): number {
    const len = b1 & 0x7f;
    return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  /**
   * Reads a header at `data[at]` if all of it is within `avail` bytes: returns the bytes it
   * took, 0 when it is not all there, -1 after reporting an error.
   */
  #parseHeader(data: Uint8Array, at: number, avail: number): number {
    if (avail < 2) return 0;
    const b0 = data[at], b1 = data[at + 1];
    const need = this.#neededFor2(b0, b1);
    if (avail < need) return 0;
    const fin = (b0 & 0x80) !== 0, rsv = b0 & 0x70, opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f, p = at + 2;
    if (len === 126) {
      len = data[p] << 8 | data[p + 1];
      p += 2;
      if (len < 126) return this.#error(1002, "a 16-bit length below 126"), -1;
    } else if (len === 127) {
      if (data[p] & 0x80) return this.#error(1002, "a 64-bit length with its top bit set"), -1;
      const hi = (data[p] << 24 | data[p + 1] << 16 | data[p + 2] << 8 | data[p + 3]) >>> 0;
      const lo = (data[p + 4] << 24 | data[p + 5] << 16 | data[p + 6] << 8 | data[p + 7]) >>> 0;
      len = hi * 4294967296 + lo;
      p += 8;
      if (len < 65536) return this.#error(1002, "a 64-bit length below 65536"), -1;
    }
    if (masked !== this.#masked) {
      return this.#error(1002, masked ? "a masked frame from the server" : "an unmasked frame"), -1;
    }
    if (masked) {
      this.#mask[0] = data[p];
      this.#mask[1] = data[p + 1];
      this.#mask[2] = data[p + 2];
      this.#mask[3] = data[p + 3];
      p += 4;
    }
    const control = opcode >= 8;
    if (control) {
      if (opcode > Opcode.PONG) return this.#error(1002, `reserved opcode ${opcode}`), -1;
      if (!fin) return this.#error(1002, "a fragmented control frame"), -1;
      if (len > 125) return this.#error(1002, "a control frame over 125 bytes"), -1;
      if (rsv !== 0) return this.#error(1002, "RSV bits on a control frame"), -1;
    } else {
      if (opcode > Opcode.BINARY) return this.#error(1002, `reserved opcode ${opcode}`), -1;
      const first = opcode !== Opcode.CONTINUATION;
      if (first && this.#messageOpcode !== 0) {
        return this.#error(1002, "a new message inside a fragmented one"), -1;
      }
      if (!first && this.#messageOpcode === 0) {
        return this.#error(1002, "a continuation with no message"), -1;
      }
      if ((rsv & 0x30) !== 0 || (rsv & 0x40 && (!this.rsv1 || !first))) {
        return this.#error(1002, "RSV bits not negotiated"), -1;
      }
      if (first) {
        this.#messageOpcode = opcode;
        this.#messageLength = 0;
        this.#compressed = (rsv & 0x40) !== 0;
        this.#utf8.reset();
      }
      if (this.#messageLength + len > this.#max) {
        return this.#error(1009, `a message over ${this.#max} bytes`), -1;
      }
    }
    this.#opcode = opcode;
    this.#fin = fin;
    this.#payloadLength = len;
    this.#payloadLeft = len;
    this.#maskAt = 0;
    this.#controlLength = 0;
    this.#state = PAYLOAD;
    return p - at;
  }

  #error(code: number, reason: string): void {
    this.#fail(code, reason);
  }

  #unmask(data: Uint8Array, at: number, n: number): void {
    const m = this.#mask;
    let k = this.#maskAt;
    for (let i = 0; i < n; i++, k++) data[at + i] ^= m[k & 3];
    this.#maskAt = k;
  }

  /** Part of a frame's payload that cannot be delivered in place: into the right buffer. */
  #append(data: Uint8Array, at: number, n: number): void {
    if (this.#opcode >= 8) {
      copy(data, at, this.#control, this.#controlLength, n);
      this.#controlLength += n;
      return;
    }
    if (this.#opcode === Opcode.TEXT || this.#messageOpcode === Opcode.TEXT) {
      if (this.#checkUtf8 && !this.#compressed && !this.#utf8.push(data, at, n)) {
        this.#fail(1007, "text that is not UTF-8");
        return;
      }
    }
    const need = this.#messageLength + n;
    if (need > this.#message.length) {
      let size = this.#message.length;
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, Math.max(this.#max, need)));
      grown.set(this.#message.subarray(0, this.#messageLength));
      this.#message = grown;
    }
    copy(data, at, this.#message, this.#messageLength, n);
    this.#messageLength = need;
  }

  /**
   * The frame's payload is all read. `inPlace`: it is `data[at, at + n)` (the whole frame in
   * one piece), otherwise it was appended to a buffer.
   */
  #frameDone(data: Uint8Array, at: number, n: number, inPlace: boolean): void {
    this.#state = HEADER;
    const opcode = this.#opcode, sink = this.#sink;
    if (opcode >= 8) {
      if (inPlace && n === this.#payloadLength) sink.control(opcode, data, at, n);
      else sink.control(opcode, this.#control, 0, this.#controlLength);
      return;
    }
    // A data frame: a whole unfragmented message in place, or a piece of one.
    if (inPlace && this.#fin && this.#messageLength === 0 && opcode !== Opcode.CONTINUATION) {
      const text = opcode === Opcode.TEXT;
      if (
        text && this.#checkUtf8 && !this.#compressed &&
        !(this.#utf8.push(data, at, n) && this.#utf8.complete)
      ) {
        this.#fail(1007, "text that is not UTF-8");
        return;
      }
      this.#messageOpcode = 0;
      sink.message(opcode, data, at, n, this.#compressed);
      return;
    }
    if (inPlace) this.#append(data, at, n);
    if (this.#state === FAILED || !this.#fin) return;
    const mo = this.#messageOpcode;
    if (mo === Opcode.TEXT && this.#checkUtf8 && !this.#compressed && !this.#utf8.complete) {
      this.#fail(1007, "text that ends inside a character");
      return;
    }
    this.#messageOpcode = 0;
    sink.message(mo, this.#message, 0, this.#messageLength, this.#compressed);
    this.#messageLength = 0;
  }
}

/** Copies `n` bytes; small pieces byte by byte, so no view object is made for them. */
function copy(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  if (n <= 512) { for (let i = 0; i < n; i++) dst[to + i] = src[from + i]; }
  else dst.set(src.subarray(from, from + n), to);
}

/**
 * Writes one frame into `out` at `at`: header, then the payload `data[offset, offset + length)`
 * masked with `mask` (4 bytes; null: unmasked, as a server sends). `rsv1` marks a compressed
 * message's first frame. Returns the bytes written; `out` must hold `length + 14`.
 */
export function writeFrame(
  out: Uint8Array,
  at: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  data: Uint8Array,
  offset: number,
  length: number,
  mask: Uint8Array | null,
): number {
  let p = at;
  out[p++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const m = mask !== null ? 0x80 : 0;
  if (length < 126) out[p++] = m | length;
  else if (length < 65536) {
    out[p++] = m | 126;
    out[p++] = length >> 8;
    out[p++] = length & 0xff;
  } else {
    out[p++] = m | 127;
    const hi = Math.floor(length / 4294967296), lo = length >>> 0;
    out[p++] = hi >>> 24;
    out[p++] = hi >>> 16 & 0xff;
    out[p++] = hi >>> 8 & 0xff;
    out[p++] = hi & 0xff;
    out[p++] = lo >>> 24;
    out[p++] = lo >>> 16 & 0xff;
    out[p++] = lo >>> 8 & 0xff;
    out[p++] = lo & 0xff;
  }
  if (mask !== null) {
    out[p] = mask[0];
    out[p + 1] = mask[1];
    out[p + 2] = mask[2];
    out[p + 3] = mask[3];
    p += 4;
    for (let i = 0; i < length; i++) out[p + i] = data[offset + i] ^ mask[i & 3];
  } else {
    copy(data, offset, out, p, length);
  }
  return p + length - at;
}
