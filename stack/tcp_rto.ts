/**
 * The retransmission timer's value, RFC 6298, on a microsecond clock: SRTT and RTTVAR from RTT
 * samples (α = 1/8, β = 1/4), RTO = SRTT + max(G, 4·RTTVAR, min) as Linux computes it (its
 * floor applies to the variation term, so the RTO stays at least one minimum above the RTT;
 * RFC 6298's 1 s floor on the whole RTO is too slow for a LAN), at most the maximum, 1 s before
 * the first sample, doubled on each expiry (§5.5) and recomputed at the next sample. The caller
 * takes samples only from segments never retransmitted (Karn's algorithm, §3) or from
 * timestamps (RFC 7323 §4). Linux's defaults: a 200 ms minimum, a 120 s maximum. Groundwork of
 * the TCP issue.
 *
 * @module
 */

/** Options of an {@linkcode RtoEstimator}, in microseconds. */
export interface RtoOptions {
  /** Least margin of the RTO over SRTT. Default: 200 ms (Linux's TCP_RTO_MIN). */
  minUs?: number;
  /** Highest RTO. Default: 120 s (Linux's TCP_RTO_MAX; RFC 6298 allows ≥ 60 s). */
  maxUs?: number;
  /** RTO before the first sample. Default: 1 s (RFC 6298 §2.1). */
  initialUs?: number;
  /** Clock granularity G. Default: 1 µs. */
  granularityUs?: number;
}

/**
 * One connection's RTO; see the module doc. All values are microseconds, kept well under 2^30
 * so they stay small integers in V8.
 *
 * @example
 * ```ts ignore
 * const rto = new RtoEstimator();
 * rto.sample(nowUs - sentUs); // an ACK for a segment sent once
 * timer.set(nowUs + rto.rtoUs);
 * rto.backoff(); // the timer expired: retransmit and double
 * ```
 */
export class RtoEstimator {
  /** Expiries since the last sample (the backoff's exponent). */
  backoffs: number = 0;
  // SRTT, RTTVAR and RTO: fractions in object fields would be a new heap number at every sample.
  readonly #v = new Float64Array(3);
  readonly #min: number;
  readonly #max: number;
  readonly #granularity: number;

  /** An estimator with no sample yet. */
  constructor(options: RtoOptions = {}) {
    this.#min = options.minUs ?? 200_000;
    this.#max = options.maxUs ?? 120_000_000;
    this.#granularity = options.granularityUs ?? 1;
    if (!(this.#min > 0 && this.#min <= this.#max && this.#max <= 2 ** 30)) {
      throw new RangeError(`RtoOptions: need 0 < minUs ≤ maxUs ≤ 2^30 µs`);
    }
    this.#v[RTO] = this.#clamp(options.initialUs ?? 1_000_000);
  }

  /** Smoothed RTT (0 before the first sample). */
  get srttUs(): number {
    return this.#v[SRTT];
  }

  /** RTT variation. */
  get rttvarUs(): number {
    return this.#v[RTTVAR];
  }

  /** The current RTO, backoff included: a whole number of µs. */
  get rtoUs(): number {
    return this.#v[RTO];
  }

  #clamp(us: number): number {
    return Math.min(this.#max, Math.max(this.#min, Math.round(us)));
  }

  /** Takes an RTT measurement (µs) and recomputes the RTO (RFC 6298 §2.2, §2.3). */
  sample(rttUs: number): void {
    const v = this.#v, r = Math.max(rttUs, this.#granularity);
    if (v[SRTT] === 0) {
      v[SRTT] = r;
      v[RTTVAR] = r / 2;
    } else {
      v[RTTVAR] = 0.75 * v[RTTVAR] + 0.25 * Math.abs(v[SRTT] - r);
      v[SRTT] = 0.875 * v[SRTT] + 0.125 * r;
    }
    this.backoffs = 0;
    const variation = Math.max(this.#granularity, 4 * v[RTTVAR], this.#min);
    v[RTO] = Math.min(this.#max, Math.round(v[SRTT] + variation));
  }

  /** The timer expired: doubles the RTO, up to the maximum (RFC 6298 §5.5). */
  backoff(): void {
    this.backoffs++;
    this.#v[RTO] = Math.min(this.#max, this.#v[RTO] * 2);
  }
}

const SRTT = 0, RTTVAR = 1, RTO = 2;
