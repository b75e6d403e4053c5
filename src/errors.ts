/**
 * The one error class of the DPDK layer, carrying DPDK's own diagnosis.
 *
 * @module
 */
import { library } from "../ffi/library.ts";

/**
 * A DPDK call failed, or the API was used in a state where the call would be
 * unsafe (a stopped or closed port, a closed pool, the EAL not initialised).
 * Plain argument mistakes throw `TypeError` or `RangeError` instead.
 *
 * @example
 * ```ts
 * import { DpdkError, Eal } from "@deno-dpdk/dpdk";
 * try {
 *   Eal.init(["--bogus-flag"]);
 * } catch (e) {
 *   if (e instanceof DpdkError) console.log(e.function, e.errno, e.message);
 * }
 * ```
 */
export class DpdkError extends Error {
  /** Always `"DpdkError"`. */
  override name = "DpdkError";
  /** The DPDK (or deno-dpdk) function that failed, e.g. `rte_eth_dev_configure`. */
  readonly function: string;
  /** The positive errno value, or 0 for a misuse caught before calling DPDK. */
  readonly errno: number;

  /** Creates an error; `message` should already include DPDK's text where there is one. */
  constructor(fn: string, errno: number, message: string) {
    super(message);
    this.function = fn;
    this.errno = errno;
  }

  /** Builds the error for a failed DPDK call from its errno, with `rte_strerror`'s text. */
  static fromErrno(fn: string, errno: number, context?: string): DpdkError {
    const code = Math.abs(errno);
    const text = strerror(code);
    const where = context ? `: ${context}` : "";
    return new DpdkError(fn, code, `${fn} failed${where}: ${text} (errno ${code})`);
  }
}

/** `rte_strerror(errnum)`: DPDK's text for an errno, including DPDK's own codes. */
export function strerror(errnum: number): string {
  const p = library().symbols.dd_strerror(errnum);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${errnum}`;
}

/** Throws a {@linkcode DpdkError} when a shim call returned a negative errno. */
export function check(fn: string, ret: number, context?: string): number {
  if (ret < 0) throw DpdkError.fromErrno(fn, ret, context);
  return ret;
}

/** Reads `rte_errno` after a call that returned NULL and throws it. */
export function throwRteErrno(fn: string, context?: string): never {
  throw DpdkError.fromErrno(fn, library().symbols.dd_errno(), context);
}
