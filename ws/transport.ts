/**
 * What a WebSocket (or HTTP) client needs of the byte stream under it: a
 * {@linkcode TcpConnection} of the stack has this shape, and so has a {@linkcode TlsStream}
 * over one.
 *
 * @module
 */
import type { TcpCloseReason } from "../stack/tcp.ts";

/** A byte stream with callbacks, shaped like the stack's `TcpConnection`. */
export interface Transport {
  /** Received bytes: `data[offset, offset + length)`, valid only during the call. */
  onData: ((data: Uint8Array, offset: number, length: number) => void) | null;
  /** The stream is open (for TLS: the handshake is done). */
  onOpen: (() => void) | null;
  /** The peer will send nothing more. */
  onEnd: (() => void) | null;
  /** There is room to write again after a `write` took less than asked. */
  onWritable: (() => void) | null;
  /** The stream is over; `reason` says why (`"closed"` when it ended normally), `closeDetail` more. */
  onClose: ((reason: TcpCloseReason) => void) | null;
  /** Whether the stream is open now (`"ESTABLISHED"`), as `TcpConnection.stateName`. */
  readonly stateName: string;
  /** Whether `write` may be called. */
  readonly writableState: boolean;
  /** Why it ended, in detail (empty while open). */
  readonly closeDetail: string;
  /** Writes; returns how much was taken. */
  write(data: Uint8Array, offset: number, length: number): number;
  /** Closes our side after what was written. */
  close(): void;
  /** Drops the stream at once. */
  abort(): void;
}
