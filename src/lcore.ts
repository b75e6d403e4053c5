/**
 * Logical cores (lcores) the EAL runs on.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { requireEal } from "./eal.ts";
import { check } from "./errors.ts";

/** One enabled lcore. */
export interface LcoreInfo {
  /** Lcore id. */
  id: number;
  /** CPU the lcore is pinned to. */
  cpu: number;
  /** NUMA socket. */
  socket: number;
  /** Whether it is the main lcore (the thread that called `Eal.init`). */
  main: boolean;
}

/** Lcore queries. */
export class Lcore {
  private constructor() {}

  /** Every enabled lcore, main first by id order. */
  static list(): LcoreInfo[] {
    requireEal("Lcore.list");
    const s = library().symbols;
    const main = s.dd_main_lcore();
    const max = s.dd_max_lcore();
    const out: LcoreInfo[] = [];
    for (let id = s.dd_lcore_next(0xffffffff); id < max; id = s.dd_lcore_next(id)) {
      out.push({ id, cpu: s.dd_lcore_cpu(id), socket: s.dd_lcore_socket(id), main: id === main });
    }
    return out;
  }

  /** Lcore id of the calling thread (`rte_lcore_id()`); 0xffffffff if not an lcore. */
  static current(): number {
    return library().symbols.dd_lcore_id();
  }

  /** CPUs the calling thread may run on (its affinity mask). */
  static affinity(): number[] {
    const mask = new BigUint64Array(16);
    check(
      "pthread_getaffinity_np",
      library().symbols.dd_thread_affinity(new Uint8Array(mask.buffer), mask.length),
    );
    const cpus: number[] = [];
    mask.forEach((word, i) => {
      for (let b = 0n; b < 64n; b++) if ((word >> b) & 1n) cpus.push(i * 64 + Number(b));
    });
    return cpus;
  }

  /** Kernel thread id of the calling thread (`gettid()`), e.g. to find it in `/proc/self/task`. */
  static threadId(): number {
    return library().symbols.dd_thread_tid();
  }

  /** CPU the calling thread is running on now (`sched_getcpu()`). */
  static currentCpu(): number {
    return library().symbols.dd_current_cpu();
  }
}
