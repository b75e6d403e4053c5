/**
 * A token bucket on the caller's clock, for the stack's rate limits (ICMP errors, challenge
 * ACKs). Internal.
 *
 * @module
 */

/** Up to `rate` events per second, in bursts of at most `rate`. */
export class TokenBucket {
  readonly #rate: number;
  readonly #clock: Float64Array;
  // Tokens and the last refill in a typed array: fractions in fields are heap numbers.
  readonly #v = new Float64Array(2);

  /** A full bucket of `rate` tokens, refilled `rate` per second of `clock[0]` (ns). */
  constructor(rate: number, clock: Float64Array) {
    this.#rate = rate;
    this.#clock = clock;
    this.#v[0] = rate;
  }

  /** Takes a token if there is one: whether the event may happen now. */
  take(): boolean {
    const v = this.#v, now = this.#clock[0], elapsed = now - v[1];
    if (elapsed > 0) {
      v[0] = Math.min(this.#rate, v[0] + elapsed * this.#rate / 1e9);
      v[1] = now;
    }
    if (v[0] < 1) return false;
    v[0]--;
    return true;
  }
}
