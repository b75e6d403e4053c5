/**
 * Byte copies for the stack's hot paths (internal).
 *
 * @module
 */

/**
 * Copies `n` bytes without allocating (`set(subarray(...))` would make a view object per
 * packet): within one buffer (a mempool region: received and sent frames share it) with
 * `copyWithin`, across buffers 4 bytes at a time through the DataViews. `data` and `view` of
 * each side must cover the same memory from the same start, as a Device's do.
 */
export function copyBytes(
  src: Uint8Array,
  srcView: DataView,
  from: number,
  dst: Uint8Array,
  dstView: DataView,
  to: number,
  n: number,
): void {
  if (src.buffer === dst.buffer) {
    const shift = src.byteOffset - dst.byteOffset;
    dst.copyWithin(to, from + shift, from + shift + n);
    return;
  }
  let i = 0;
  for (const words = n - 3; i < words; i += 4) {
    dstView.setUint32(to + i, srcView.getUint32(from + i));
  }
  for (; i < n; i++) dst[to + i] = src[from + i];
}

/** Copies `n` bytes between two DataViews, 4 at a time (for code that holds only views). */
export function copyViews(from: DataView, at: number, to: DataView, dest: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) to.setUint32(dest + i, from.getUint32(at + i, true), true);
  for (; i < n; i++) to.setUint8(dest + i, from.getUint8(at + i));
}

/**
 * Copies `n` bytes between two buffers (as {@linkcode copyBytes} across buffers) and returns
 * the unfolded Internet checksum sum of the bytes copied, as `sum16` would give it: the copy
 * and the checksum in one pass. `n` odd is padded as the last bytes of a checksummed range.
 */
export function copySum(
  src: Uint8Array,
  srcView: DataView,
  from: number,
  dst: Uint8Array,
  dstView: DataView,
  to: number,
  n: number,
): number {
  let sum = 0, i = 0;
  for (const words = n - 3; i < words; i += 4) {
    const w = srcView.getUint32(from + i);
    dstView.setUint32(to + i, w);
    sum += (w >>> 16) + (w & 0xffff);
  }
  for (; i + 1 < n; i += 2) {
    const w = srcView.getUint16(from + i);
    dstView.setUint16(to + i, w);
    sum += w;
  }
  if (i < n) {
    const b = src[from + i];
    dst[to + i] = b;
    sum += b << 8;
  }
  return sum;
}
