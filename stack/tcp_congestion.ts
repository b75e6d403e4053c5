/**
 * Congestion control for one TCP connection: slow start and congestion avoidance with byte
 * counting (RFC 5681 §3.1, RFC 3465; slow start counts every byte a stretch ACK covers, as Linux), fast retransmit and NewReno fast recovery with partial
 * acknowledgments (RFC 5681 §3.2, RFC 6582), and the loss window after a timeout. Windows are
 * bytes; sequence numbers live in a typed array (above 2^30 a number in a field is boxed).
 * Groundwork of the TCP issue.
 *
 * @module
 */
import { seqGe, seqGt } from "./tcp_seq.ts";

// Where the methods read their sequence numbers: `seq[ACK]` is the ACK being processed (SND.UNA
// after it), `seq[SND_MAX]` the highest sequence sent. A typed array, not arguments: V8 boxes a
// number above 2^30 passed to a call that is not inlined, at every ACK.
const ACK = 0, SND_MAX = 1;

/** What the sender should do after an ACK. */
export const CongestionAction = {
  /** Nothing beyond sending what the window now allows. */
  NONE: 0,
  /** Retransmit the first unacknowledged segment now (fast retransmit, or a partial ACK). */
  RETRANSMIT: 1,
} as const;

/** Options of a {@linkcode NewReno}. */
export interface CongestionOptions {
  /** Initial window in segments. Default: 10 (RFC 6928, Linux). */
  initialSegments?: number;
  /** Duplicate ACKs that trigger fast retransmit. Default: 3 (RFC 5681). */
  dupAckThreshold?: number;
}

/**
 * NewReno state; see the module doc.
 *
 * @example
 * ```ts ignore
 * const cc = new NewReno(1460, iss);
 * const seq = new Uint32Array(2); // [the ACK, SND.MAX]: no heap number per call
 * seq[0] = ack;
 * seq[1] = sndMax;
 * if (ack === sndUna) action = cc.duplicateAck(seq, flight);
 * else action = cc.ack(seq, seqDiff(sndUna, ack), flight); // modulo 2^32
 * if (action === CongestionAction.RETRANSMIT) retransmitFirstUnacked();
 * ```
 */
export class NewReno {
  /** Sender maximum segment size. */
  readonly smss: number;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number = 1 << 30;
  /** Whether fast recovery is under way. */
  inRecovery: boolean = false;
  /** Duplicate ACKs in a row. */
  dupAcks: number = 0;
  /** Fast retransmits done (counter). */
  fastRetransmits: number = 0;
  readonly #threshold: number;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew. */
  #acked = 0;
  /** `recover` (RFC 6582): the highest sequence sent when recovery or a timeout began. */
  readonly #recover = new Uint32Array(1);

  /** Starts with the initial window; `iss` is the initial send sequence number. */
  constructor(smss: number, iss: number, options: CongestionOptions = {}) {
    if (!(Number.isInteger(smss) && smss >= 64 && smss <= 65535)) {
      throw new RangeError(`NewReno: SMSS ${smss} must be an integer in 64..65535`);
    }
    this.smss = smss;
    this.cwnd = (options.initialSegments ?? 10) * smss;
    this.#threshold = options.dupAckThreshold ?? 3;
    this.#recover[0] = iss;
  }

  /** The highest sequence sent when the last recovery or timeout began. */
  get recover(): number {
    return this.#recover[0];
  }

  /**
   * An ACK that advanced SND.UNA by `acked` bytes to `seq[0]` (`seq[1]`: SND.MAX); `flight`
   * is what was outstanding before it. Returns a {@linkcode CongestionAction}.
   */
  ack(seq: Uint32Array, acked: number, flight: number): number {
    const ack = seq[ACK];
    this.dupAcks = 0;
    if (this.inRecovery) {
      if (seqGe(ack, this.#recover[0])) { // a full ACK: recovery is over (RFC 6582 §3.2 step 3)
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(flight - acked, this.smss) + this.smss);
        return CongestionAction.NONE;
      }
      // A partial ACK: the next hole is lost too. Deflate by what was acked, add back one SMSS
      // when it acked at least that much.
      this.cwnd = Math.max(this.cwnd - acked + (acked >= this.smss ? this.smss : 0), this.smss);
      return CongestionAction.RETRANSMIT;
    }
    if (this.cwnd < this.ssthresh) {
      // Slow start by the bytes acknowledged, up to ssthresh, as Linux does: a receiver that
      // ACKs once per burst of many segments would hold growth back with RFC 3465's L = 1 SMSS.
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd + this.smss));
    } else {
      this.#acked += acked; // congestion avoidance: one SMSS per window acknowledged
      if (this.#acked >= this.cwnd) {
        this.#acked -= this.cwnd;
        this.cwnd += this.smss;
      }
    }
    return CongestionAction.NONE;
  }

  /**
   * A duplicate ACK (RFC 5681 §2's definition) for `seq[0]` (`seq[1]`: SND.MAX). Returns a
   * {@linkcode CongestionAction}.
   */
  duplicateAck(seq: Uint32Array, flight: number): number {
    const ack = seq[ACK];
    if (this.inRecovery) {
      this.cwnd += this.smss; // each further duplicate: a segment has left the network
      return CongestionAction.NONE;
    }
    if (++this.dupAcks !== this.#threshold) return CongestionAction.NONE;
    // Only when the ACK covers more than `recover`: otherwise these duplicates answer
    // retransmissions of an earlier loss (RFC 6582 §3.2 step 1, §4.1).
    if (!seqGt(ack, this.#recover[0])) return CongestionAction.NONE;
    return this.#enter(flight, seq[SND_MAX]);
  }

  /**
   * Loss detected from SACK blocks (RFC 6675 §5's IsLost) rather than by counting duplicate
   * ACKs; `seq` as for `ack`. Enters recovery as the third duplicate ACK would, once the ACK
   * reached `recover`: the
   * scoreboard shows the loss is of new data, so the ambiguity RFC 6582 guards against is gone.
   * Returns a {@linkcode CongestionAction}.
   */
  lossDetected(seq: Uint32Array, flight: number): number {
    if (this.inRecovery || !seqGe(seq[ACK], this.#recover[0])) return CongestionAction.NONE;
    return this.#enter(flight, seq[SND_MAX]);
  }

  #enter(flight: number, sndMax: number): number { // private: inlined, no boxing
    this.dupAcks = this.#threshold;
    this.#recover[0] = sndMax;
    this.ssthresh = Math.max(flight >> 1, 2 * this.smss);
    this.cwnd = this.ssthresh + this.#threshold * this.smss;
    this.inRecovery = true;
    this.fastRetransmits++;
    return CongestionAction.RETRANSMIT;
  }

  /**
   * The retransmission timer expired with `flight` bytes outstanding (RFC 5681 §3.1);
   * `seq[1]` is SND.MAX.
   */
  timeout(seq: Uint32Array, flight: number): void {
    const sndMax = seq[SND_MAX];
    this.ssthresh = Math.max(flight >> 1, 2 * this.smss);
    this.cwnd = this.smss; // the loss window
    this.inRecovery = false;
    this.dupAcks = 0;
    this.#acked = 0;
    this.#recover[0] = sndMax; // RFC 6582 §3.2 step 4
  }
}
