/**
 * NUL-terminated strings for the C side (internal).
 *
 * @module
 */
const encoder = new TextEncoder();

/** Encodes `text` as a NUL-terminated UTF-8 buffer for a `const char *` parameter. */
export function cstring(text: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Decodes a NUL-terminated string from a fixed-size buffer. */
export function fromCString(buf: Uint8Array, offset = 0, size = buf.length - offset): string {
  let end = offset;
  while (end < offset + size && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(offset, end));
}
