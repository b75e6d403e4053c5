/**
 * TCP sequence-number arithmetic (RFC 9293 §3.4: comparisons modulo 2^32) and initial sequence
 * numbers per RFC 6528: `ISN = M + F(local address, local port, remote address, remote port,
 * secret)`, with M a timer ticking every 4 µs and F the low 32 bits of SipHash-2-4 keyed with a
 * random secret (the PRF Linux uses for the same purpose). Groundwork of the TCP issue.
 *
 * @module
 */

/** Whether sequence number `a` comes before `b` (modulo 2^32, RFC 9293 §3.4). */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Whether `a` comes before or is `b`. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Whether `a` comes after `b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** Whether `a` comes after or is `b`. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** `a + n` modulo 2^32, as an unsigned 32-bit number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** How far `b` is ahead of `a` (negative when behind), for distances under 2^31. */
export function seqDiff(a: number, b: number): number {
  return (b - a) | 0;
}

// SipHash state: v0..v3 as (lo, hi) pairs of 32-bit words.
const V = new Uint32Array(8);

function add(a: number, b: number): void {
  const lo = (V[a] + V[b]) >>> 0;
  V[a + 1] = (V[a + 1] + V[b + 1] + (lo < V[a] ? 1 : 0)) >>> 0;
  V[a] = lo;
}

function rotl(a: number, n: number): void {
  const swap = n >= 32; // a rotation by 32 swaps the halves
  const lo = swap ? V[a + 1] : V[a], hi = swap ? V[a] : V[a + 1];
  if (swap) n -= 32;
  if (n === 0) {
    V[a] = lo, V[a + 1] = hi;
    return;
  }
  V[a + 1] = (hi << n | lo >>> (32 - n)) >>> 0;
  V[a] = (lo << n | hi >>> (32 - n)) >>> 0;
}

function xor(a: number, b: number): void {
  V[a] ^= V[b];
  V[a + 1] ^= V[b + 1];
}

function sipRound(): void {
  add(0, 2), rotl(2, 13), xor(2, 0), rotl(0, 32);
  add(4, 6), rotl(6, 16), xor(6, 4);
  add(0, 6), rotl(6, 21), xor(6, 0);
  add(4, 2), rotl(2, 17), xor(2, 4), rotl(4, 32);
}

function absorb(lo: number, hi: number): void {
  V[6] ^= lo, V[7] ^= hi;
  sipRound();
  sipRound();
  V[0] ^= lo, V[1] ^= hi;
}

/**
 * SipHash-2-4 of `data[offset, offset + length)` under a 128-bit key given as four 32-bit words
 * (little-endian: `key[0]` is bytes 0-3). Writes the 64-bit result into `out` as `[lo, hi]`.
 *
 * @example
 * ```ts ignore
 * const out = new Uint32Array(2);
 * siphash24(new Uint32Array([0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c]), new Uint8Array(0), 0, 0, out);
 * // out: [0xdd0e0e31, 0x726fdb47], the reference vector for the empty message
 * ```
 */
export function siphash24(
  key: Uint32Array,
  data: Uint8Array,
  offset: number,
  length: number,
  out: Uint32Array,
): void {
  V[0] = key[0] ^ 0x70736575, V[1] = key[1] ^ 0x736f6d65;
  V[2] = key[2] ^ 0x6e646f6d, V[3] = key[3] ^ 0x646f7261;
  V[4] = key[0] ^ 0x6e657261, V[5] = key[1] ^ 0x6c796765;
  V[6] = key[2] ^ 0x79746573, V[7] = key[3] ^ 0x74656462;
  const word = (at: number) =>
    (data[at] | data[at + 1] << 8 | data[at + 2] << 16 | data[at + 3] << 24) >>> 0;
  const whole = length & ~7;
  for (let i = 0; i < whole; i += 8) absorb(word(offset + i), word(offset + i + 4));
  // The last block: the remaining bytes, little-endian, with the length in the top byte.
  let lo = 0, hi = (length & 0xff) << 24;
  for (let i = whole; i < length; i++) {
    const b = data[offset + i], shift = (i - whole) * 8;
    if (shift < 32) lo |= b << shift;
    else hi |= b << (shift - 32);
  }
  absorb(lo >>> 0, hi >>> 0);
  V[4] ^= 0xff;
  for (let i = 0; i < 4; i++) sipRound();
  out[0] = (V[0] ^ V[2] ^ V[4] ^ V[6]) >>> 0;
  out[1] = (V[1] ^ V[3] ^ V[5] ^ V[7]) >>> 0;
}

/**
 * Initial sequence numbers per RFC 6528: unpredictable to an off-path attacker, and increasing
 * with time for one connection's 4-tuple, so a new incarnation starts past the old one's numbers.
 *
 * @example
 * ```ts ignore
 * const isn = new IsnGenerator();
 * const iss = isn.next(localIp, localPort, remoteIp, remotePort, nowNs);
 * ```
 */
export class IsnGenerator {
  readonly #key = new Uint32Array(4);
  readonly #tuple = new Uint8Array(12);
  readonly #tupleView = new DataView(this.#tuple.buffer);
  readonly #out = new Uint32Array(2);

  /** A generator with a random secret, or with `secret` (16 bytes; for reproducible tests). */
  constructor(secret?: Uint8Array) {
    const bytes = new Uint8Array(this.#key.buffer);
    if (secret === undefined) crypto.getRandomValues(bytes);
    else if (secret.length !== 16) throw new RangeError("IsnGenerator: the secret is 16 bytes");
    else bytes.set(secret);
  }

  /** The ISN for a connection from `localIp:localPort` to `remoteIp:remotePort` at `nowNs`. */
  next(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    nowNs: number,
  ): number {
    const t = this.#tupleView;
    t.setUint32(0, localIp);
    t.setUint32(4, remoteIp);
    t.setUint16(8, localPort);
    t.setUint16(10, remotePort);
    siphash24(this.#key, this.#tuple, 0, 12, this.#out);
    const ticks = Math.floor(nowNs / 4000) % 4294967296; // M: one tick per 4 µs
    return (ticks + this.#out[0]) >>> 0;
  }
}
