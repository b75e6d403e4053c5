/**
 * The common shape of every header view: a window `[offset, offset + byteLength)` onto a
 * `DataView` that can be re-pointed at another packet without allocating.
 *
 * @module
 */

/** Shared zero-length view so unattached views hold a DataView without allocating one each. */
const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(0));

/**
 * Base class of the header views. Construct a view once, then {@link HeaderView.attach} it to
 * each packet: attach only stores four fields. Getters read big-endian fields in place and return
 * 0 (or -1 where documented) when the header does not fit, setters are then no-ops, so a view never
 * touches bytes outside the attached window.
 */
export abstract class HeaderView {
  /** The DataView the header lives in (for DPDK: one view over a whole memory region). */
  view: DataView = EMPTY_VIEW;
  /** Absolute offset of the header's first byte in {@link HeaderView.view}. */
  offset: number = 0;
  /** Bytes available from `offset` to the end of the packet; the view never reads past them. */
  byteLength: number = 0;
  /** True when the attached window holds at least this header's fixed part. */
  valid: boolean = false;

  /** Size of the fixed part of the header; attach reports false below it. */
  abstract readonly minLength: number;

  /**
   * Points the view at a header starting at `offset` with `length` bytes to the end of the packet.
   * Returns {@link HeaderView.valid}: false if the fixed header does not fit in `length` or the
   * window leaves the DataView. Never allocates, never throws.
   */
  attach(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.byteLength = length;
    this.valid = offset >= 0 && length >= this.minLength && offset + length <= view.byteLength &&
      Math.floor(offset) === offset;
    return this.valid;
  }

  /** Absolute offset one past the packet's last byte (`offset + byteLength`). */
  get end(): number {
    return this.offset + this.byteLength;
  }
}

/**
 * Finds the first option of `kind` in an IPv4/TCP-style option list in `[start, end)`: kinds 0
 * (end of list) and 1 (no-op) are single bytes, every other option is kind, length (≥ 2), data.
 * Returns the option's absolute offset, or -1 if absent or the list is malformed before it. The
 * walk only reads inside `[start, end)` and always advances, so it ends on any input.
 */
export function findTlvOption(view: DataView, start: number, end: number, kind: number): number {
  let p = start;
  while (p < end) {
    const k = view.getUint8(p);
    if (k === 0) return -1;
    if (k === 1) {
      if (kind === 1) return p;
      p++;
      continue;
    }
    if (p + 1 >= end) return -1;
    const len = view.getUint8(p + 1);
    if (len < 2 || p + len > end) return -1;
    if (k === kind) return p;
    p += len;
  }
  return -1;
}
