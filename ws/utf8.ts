/**
 * An incremental UTF-8 validator (RFC 3629, as WebSocket text must be: RFC 6455 §8.1): it takes
 * a message in pieces, fails at the first byte that cannot be part of valid UTF-8 (so a
 * fragmented message fails fast), and allocates nothing.
 *
 * @module
 */

// The DFA of Björn Höhrmann's decoder: byte classes, then transitions (states are multiples of
// 12). State 0 accepts; 12 rejects.
const CLASSES = new Uint8Array(256);
(() => {
  const ranges: [number, number, number][] = [
    [0x80, 0x8f, 1],
    [0x90, 0x9f, 9],
    [0xa0, 0xbf, 7],
    [0xc0, 0xc1, 8],
    [0xc2, 0xdf, 2],
    [0xe0, 0xe0, 10],
    [0xe1, 0xec, 3],
    [0xed, 0xed, 4],
    [0xee, 0xef, 3],
    [0xf0, 0xf0, 11],
    [0xf1, 0xf3, 6],
    [0xf4, 0xf4, 5],
    [0xf5, 0xff, 8],
  ];
  for (const [from, to, c] of ranges) for (let b = from; b <= to; b++) CLASSES[b] = c;
})();
// deno-fmt-ignore
const TRANSITIONS = new Uint8Array([
  0, 12, 24, 36, 60, 96, 84, 12, 12, 12, 48, 72, //  0: accept
  12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, // 12: reject
  12, 0, 12, 12, 12, 12, 12, 0, 12, 0, 12, 12, //    24
  12, 24, 12, 12, 12, 12, 12, 24, 12, 24, 12, 12, // 36
  12, 12, 12, 12, 12, 12, 12, 24, 12, 12, 12, 12, // 48
  12, 24, 12, 12, 12, 12, 12, 12, 12, 24, 12, 12, // 60
  12, 12, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12, // 72
  12, 36, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12, // 84
  12, 36, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, // 96
]);

/** Validates UTF-8 across pieces; see the module doc. */
export class Utf8Validator {
  #state = 0;

  /** Starts a new message. */
  reset(): void {
    this.#state = 0;
  }

  /** Takes `data[offset, offset + length)`; false as soon as it cannot be valid UTF-8. */
  push(data: Uint8Array, offset: number, length: number): boolean {
    let state = this.#state;
    for (let i = offset, end = offset + length; i < end; i++) {
      state = TRANSITIONS[state + CLASSES[data[i]]];
      if (state === 12) break;
    }
    this.#state = state;
    return state !== 12;
  }

  /** Whether what was pushed ends on a whole character (the message may end here). */
  get complete(): boolean {
    return this.#state === 0;
  }
}

/** Whether `data[offset, offset + length)` is whole, valid UTF-8. */
export function isUtf8(data: Uint8Array, offset: number, length: number): boolean {
  const v = SHARED;
  v.reset();
  return v.push(data, offset, length) && v.complete;
}
const SHARED = new Utf8Validator();
