/**
 * Ctrl-C for polling loops that never yield to the event loop.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { check } from "./errors.ts";

/** A signal {@linkcode StopSignal} can trap. */
export type StopSignalName = "SIGHUP" | "SIGINT" | "SIGTERM";

const SIGNALS: Record<StopSignalName, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

const ignore = () => {};

/**
 * A stop flag set by SIGINT/SIGTERM. A C handler counts the signals in memory
 * that this object reads through a typed array, so a tight synchronous loop
 * can check `requested` every burst at the cost of a memory read. A second
 * signal of the same kind kills the process the default way.
 *
 * @example
 * ```ts
 * import { StopSignal } from "@deno-dpdk/dpdk";
 * const stop = StopSignal.trap();
 * while (!stop.requested) {
 *   // receive, process, send
 *   break;
 * }
 * ```
 */
export class StopSignal {
  #counts: Uint32Array;
  #numbers: number[];

  private constructor(counts: Uint32Array, numbers: number[]) {
    this.#counts = counts;
    this.#numbers = numbers;
  }

  /** Installs the handler for `signals` (default SIGINT and SIGTERM). */
  static trap(signals: StopSignalName[] = ["SIGINT", "SIGTERM"]): StopSignal {
    const s = library().symbols;
    const numbers = signals.map((name) => {
      const n = SIGNALS[name];
      if (n === undefined) throw new TypeError(`StopSignal.trap: cannot trap ${name}`);
      check("sigaction", s.dd_signal_trap(n), name);
      // A program that awaits (yields to the event loop) would otherwise be ended by Deno's
      // own handling of the signal (exit 130) once the event loop sees it. A listener makes
      // Deno's handler take it; that handler still calls ours, which counts it.
      try {
        Deno.addSignalListener(name, ignore);
      } catch { /* not supported here: the C handler alone */ }
      return n;
    });
    const ptr = s.dd_signal_counters();
    if (ptr === null) throw new Error("dd_signal_counters returned NULL");
    const counts = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 65 * 4));
    return new StopSignal(counts, numbers);
  }

  /** Whether one of the trapped signals has arrived. */
  get requested(): boolean {
    const c = this.#counts, nums = this.#numbers;
    for (let i = 0; i < nums.length; i++) if (c[nums[i]] !== 0) return true;
    return false;
  }

  /** Name of the first trapped signal that arrived, if any. */
  get signal(): StopSignalName | undefined {
    for (const [name, n] of Object.entries(SIGNALS)) {
      if (this.#numbers.includes(n) && this.#counts[n] !== 0) return name as StopSignalName;
    }
    return undefined;
  }
}
