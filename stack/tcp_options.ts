/**
 * TCP options read and written in place: MSS (RFC 9293 §3.7.1), window scale and timestamps
 * (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). Parsing follows Linux's
 * `tcp_parse_options`: unknown kinds are skipped by their length (RFC 9293 MUST-6/7), an option
 * of a known kind with the wrong length is ignored, and a length below 2 or past the header ends
 * the list (the rest is not trusted). Nothing is allocated per segment. Groundwork of the TCP
 * issue.
 *
 * @module
 */
import { TcpOption } from "../net/tcp.ts";

/** Largest window scale shift (RFC 7323 §2.3): larger ones are used as 14. */
export const MAX_WINDOW_SCALE = 14;

/**
 * The options of one segment, refilled by {@linkcode TcpOptions.parse}. Timestamps and SACK
 * edges are 32-bit values: they live in typed arrays, where V8 does not box them.
 *
 * @example
 * ```ts ignore
 * const options = new TcpOptions();
 * options.parse(data, at + 20, headerLength - 20);
 * if (options.mss > 0) peerMss = options.mss;
 * if (options.hasTimestamp) tsRecent = options.values[TS_VAL];
 * ```
 */
export class TcpOptions {
  /** MSS, or -1 when absent. */
  mss: number = -1;
  /** Window scale shift (capped at 14), or -1 when absent. */
  windowScale: number = -1;
  /** Whether SACK-permitted was present. */
  sackPermitted: boolean = false;
  /** Whether a timestamp option was present (`values[TS_VAL]`, `values[TS_ECR]`). */
  hasTimestamp: boolean = false;
  /** SACK blocks present (0..4): edges in `values[SACK_EDGES + 2i]` (left), `+ 2i + 1` (right). */
  sackBlocks: number = 0;
  /** Whether the list ended early: a length below 2 or past the end. */
  truncated: boolean = false;
  /** TSval, TSecr, then up to four SACK blocks' left and right edges. */
  readonly values: Uint32Array = new Uint32Array(10);

  /** Reads the options in `data[at, at + length)` (the header past its first 20 bytes). */
  parse(data: Uint8Array, at: number, length: number): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamp = false;
    this.sackBlocks = 0;
    this.truncated = false;
    const end = at + length, v = this.values;
    let p = at;
    while (p < end) {
      const kind = data[p];
      if (kind === TcpOption.END) return;
      if (kind === TcpOption.NOP) {
        p++;
        continue;
      }
      if (p + 2 > end) break;
      const size = data[p + 1];
      if (size < 2 || p + size > end) break;
      if (kind === TcpOption.MSS && size === 4) {
        this.mss = data[p + 2] << 8 | data[p + 3];
      } else if (kind === TcpOption.WINDOW_SCALE && size === 3) {
        this.windowScale = Math.min(data[p + 2], MAX_WINDOW_SCALE);
      } else if (kind === TcpOption.SACK_PERMITTED && size === 2) {
        this.sackPermitted = true;
      } else if (kind === TcpOption.TIMESTAMP && size === 10) {
        this.hasTimestamp = true;
        v[TS_VAL] = read32(data, p + 2);
        v[TS_ECR] = read32(data, p + 6);
      } else if (kind === TcpOption.SACK && size >= 10 && (size - 2) % 8 === 0) {
        const blocks = Math.min((size - 2) / 8, 4);
        for (let i = 0; i < blocks; i++) {
          v[SACK_EDGES + 2 * i] = read32(data, p + 2 + 8 * i);
          v[SACK_EDGES + 2 * i + 1] = read32(data, p + 6 + 8 * i);
        }
        this.sackBlocks = blocks;
      }
      p += size;
    }
    this.truncated = p < end;
  }
}

/** Index of TSval in {@linkcode TcpOptions.values}. */
export const TS_VAL = 0;
/** Index of TSecr in {@linkcode TcpOptions.values}. */
export const TS_ECR = 1;
/** Index of the first SACK block's left edge in {@linkcode TcpOptions.values}. */
export const SACK_EDGES = 2;

function read32(data: Uint8Array, at: number): number {
  return (data[at] << 24 | data[at + 1] << 16 | data[at + 2] << 8 | data[at + 3]) >>> 0;
}

/**
 * Writes a SYN's options in Linux's order and layout: MSS, SACK-permitted + timestamps (or two
 * NOPs before the timestamps), NOP + window scale. Pass -1 for `windowScale` or `tsVal` to leave
 * one out. Returns the bytes written, a multiple of 4 (at most 20).
 */
export function writeSynOptions(
  view: DataView,
  at: number,
  mss: number,
  windowScale: number,
  sackPermitted: boolean,
  tsVal: number,
  tsEcr: number,
): number {
  let p = at;
  view.setUint32(p, (TcpOption.MSS << 24 | 4 << 16 | mss) >>> 0);
  p += 4;
  if (tsVal >= 0) {
    view.setUint16(p, sackPermitted ? (TcpOption.SACK_PERMITTED << 8 | 2) : 0x0101);
    view.setUint16(p + 2, TcpOption.TIMESTAMP << 8 | 10);
    view.setUint32(p + 4, tsVal);
    view.setUint32(p + 8, tsEcr);
    p += 12;
  } else if (sackPermitted) {
    view.setUint32(p, 0x01010402); // NOP, NOP, SACK-permitted
    p += 4;
  }
  if (windowScale >= 0) {
    view.setUint32(p, (0x01 << 24 | TcpOption.WINDOW_SCALE << 16 | 3 << 8 | windowScale) >>> 0);
    p += 4;
  }
  return p - at;
}

/**
 * Writes the options of a segment after the handshake: NOP, NOP, timestamps (when
 * `timestamps` is given: [TSval, TSecr], 32-bit values kept in a typed array so no heap
 * number is made per segment), then NOP, NOP and up to `blocks` SACK blocks from `edges`
 * (left, right, ...; at most 3 with timestamps, 4 without, to fit in 40 bytes). Returns the
 * bytes written, a multiple of 4.
 */
export function writeSegmentOptions(
  view: DataView,
  at: number,
  timestamps: Uint32Array | null,
  edges: Uint32Array,
  blocks: number,
): number {
  let p = at;
  if (timestamps !== null) {
    view.setUint32(p, 0x0101080a); // NOP, NOP, timestamps (kind 8, length 10)
    view.setUint32(p + 4, timestamps[0]);
    view.setUint32(p + 8, timestamps[1]);
    p += 12;
  }
  const n = Math.min(blocks, timestamps !== null ? 3 : 4);
  if (n > 0) {
    view.setUint32(p, (0x0101 << 16 | TcpOption.SACK << 8 | (2 + 8 * n)) >>> 0);
    p += 4;
    for (let i = 0; i < n; i++, p += 8) {
      view.setUint32(p, edges[2 * i]);
      view.setUint32(p + 4, edges[2 * i + 1]);
    }
  }
  return p - at;
}
