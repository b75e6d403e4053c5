/**
 * JavaScript on every lcore: Deno Workers that become DPDK worker lcores.
 *
 * DPDK scales with one polling loop per core. A JavaScript isolate has one
 * thread, so each worker lcore is a Deno Worker that pins itself to the
 * lcore's CPU and takes its lcore id (`rte_lcore_id()`), so per-lcore mempool
 * caches are its own. Ports and pools stay owned by the main thread; workers
 * attach to them. Stop flags and counters live in a `SharedArrayBuffer`, so
 * the main thread stops workers and reads live statistics without messages.
 *
 * @module
 */
import { library, libraryPath, setLibraryPath } from "../ffi/library.ts";
import { onCleanupGuard, requireEal } from "./eal.ts";
import { check, DpdkError } from "./errors.ts";
import { Lcore } from "./lcore.ts";
import { Mempool } from "./mempool.ts";
import { Port } from "./port.ts";

/** Options of {@linkcode LcoreWorker.launch}. */
export interface LaunchOptions {
  /** Worker lcore to run on (from the EAL core list, not the main lcore). Default: the next free one. */
  lcore?: number;
  /** Data for the worker (structured-cloneable: port ids, queue ids, settings). Default: `null`. */
  data?: unknown;
  /** Pools the worker may use, in this order as `ctx.pools`. Default: none. */
  pools?: Mempool[];
  /** Number of shared float64 counters (`ctx.counters` / `worker.counters`). Default: 8. */
  counters?: number;
  /** How long to wait for the worker to start and take its lcore, in ms. Default: 10000. */
  startTimeoutMs?: number;
}

interface StartMessage {
  kind: "start";
  lcore: number;
  data: unknown;
  pools: { handle: bigint; name: string }[];
  shared: SharedArrayBuffer;
  counters: number;
  library: string | undefined;
}

type WorkerMessage =
  | { kind: "ready"; cpu: number; affinity: number[]; tid: number }
  | { kind: "done"; result: unknown }
  | { kind: "error"; name: string; message: string; stack?: string };

/** The failure of code running on a worker lcore, surfaced on the main thread. */
export class LcoreError extends Error {
  /** Always `"LcoreError"`. */
  override name = "LcoreError";
  /** The lcore the error happened on. */
  readonly lcore: number;
  /** Creates the error; its message is `lcore <n>: <message>`. */
  constructor(lcore: number, message: string, stack?: string) {
    super(`lcore ${lcore}: ${message}`);
    this.lcore = lcore;
    if (stack) this.stack = `${this.name}: ${this.message}\n${stack}`;
  }
}

const launched = new Set<number>();

/** Resolves when the thread that adopted `lcore` has ended (polled: there is no join). */
async function threadGone(lcore: number, timeoutMs = 10_000): Promise<void> {
  const live = library().symbols.dd_lcore_thread_live_get;
  const end = performance.now() + timeoutMs;
  while (live(lcore) !== 0) {
    if (performance.now() > end) {
      throw new LcoreError(lcore, `its thread did not end within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}
// Cleaning up the EAL under a running worker would free the pools it polls.
onCleanupGuard(() =>
  launched.size > 0
    ? `worker lcores ${[...launched].join(", ")} still run; stop them and await done first`
    : undefined
);

/**
 * A worker lcore running a module, seen from the main thread.
 *
 * @example
 * ```ts
 * import { Eal, LcoreWorker } from "@deno-dpdk/dpdk";
 * Eal.init(["-l", "0-1", "--no-huge", "-m", "256", "--no-pci"]);
 * const worker = await LcoreWorker.launch(new URL("./poll.ts", import.meta.url), { data: { port: 0 } });
 * setTimeout(() => worker.stop(), 1000);
 * console.log(await worker.done, worker.counters[0]);
 * ```
 */
export class LcoreWorker<R = unknown> {
  readonly #end: (timeoutMs?: number) => Promise<void>;
  readonly #flags: Int32Array;
  /** The lcore id the worker runs as. */
  readonly lcore: number;
  /** The CPU it was running on when it started. */
  readonly cpu: number;
  /** CPUs its thread may run on (its affinity). */
  readonly affinity: readonly number[];
  /** Kernel thread id of the worker's thread (its entry in `/proc/self/task`). */
  readonly threadId: number;
  /** Counters the worker writes (`ctx.counters`), readable at any time. */
  readonly counters: Float64Array;
  /** Resolves with what the worker's function returned; rejects with an {@linkcode LcoreError}. */
  readonly done: Promise<R>;

  private constructor(
    end: (timeoutMs?: number) => Promise<void>,
    flags: Int32Array,
    counters: Float64Array,
    lcore: number,
    ready: { cpu: number; affinity: number[]; tid: number },
    done: Promise<R>,
  ) {
    this.#end = end;
    this.#flags = flags;
    this.counters = counters;
    this.lcore = lcore;
    this.cpu = ready.cpu;
    this.affinity = ready.affinity;
    this.threadId = ready.tid;
    this.done = done;
  }

  /** The EAL's worker lcores (every enabled lcore except the main one). */
  static workerLcores(): number[] {
    return Lcore.list().filter((l) => !l.main).map((l) => l.id);
  }

  /**
   * Starts `module` (which calls {@linkcode runOnLcore} at its top level) in
   * a Deno Worker running as a worker lcore; resolves once it is pinned and
   * registered, rejects if it could not start.
   */
  static async launch<R = unknown>(
    module: string | URL,
    options: LaunchOptions = {},
  ): Promise<LcoreWorker<R>> {
    requireEal("LcoreWorker.launch");
    const free = LcoreWorker.workerLcores().filter((l) => !launched.has(l));
    const lcore = options.lcore ?? free[0];
    if (lcore === undefined) {
      throw new DpdkError(
        "LcoreWorker.launch",
        16,
        "no free worker lcore: give the EAL more lcores (-l 0-3, or --lcores=0@0,1@1,2@0 to map " +
          "more lcores than CPUs) or stop a worker first",
      );
    }
    if (!LcoreWorker.workerLcores().includes(lcore)) {
      throw new RangeError(
        `LcoreWorker.launch: lcore ${lcore} is not a worker lcore of the EAL ` +
          `(worker lcores: ${LcoreWorker.workerLcores().join(", ") || "none"})`,
      );
    }
    if (launched.has(lcore)) {
      throw new DpdkError("LcoreWorker.launch", 16, `lcore ${lcore} already runs a worker`);
    }
    const counters = options.counters ?? 8;
    const shared = new SharedArrayBuffer(8 + counters * 8);
    const worker = new Worker(module, { type: "module" });
    launched.add(lcore);
    let settleReady!: {
      resolve: (r: { cpu: number; affinity: number[]; tid: number }) => void;
      reject: (e: Error) => void;
    };
    const ready = new Promise<{ cpu: number; affinity: number[]; tid: number }>((resolve, reject) =>
      settleReady = { resolve, reject }
    );
    let settleDone!: { resolve: (r: R) => void; reject: (e: Error) => void };
    const done = new Promise<R>((resolve, reject) => settleDone = { resolve, reject });
    const pools = options.pools ?? [];
    const detach = pools.map((p) => p.attachWorker());
    let ended: Promise<void> | undefined;
    // The lcore, its queues and pools are free again only once the thread is gone: a
    // terminated worker may still be inside an rx/tx call for a moment, and V8 does not
    // interrupt a loop that only makes FFI calls: such a worker keeps running.
    const finish = (timeoutMs = 10_000): Promise<void> =>
      ended ??= (worker.terminate(), threadGone(lcore, timeoutMs)).then(() => {
        launched.delete(lcore);
        for (const d of detach) d();
      }, (e) => {
        ended = undefined; // may be awaited again
        throw e;
      });
    const fail = (e: LcoreError) => {
      finish().finally(() => {
        settleReady.reject(e);
        settleDone.reject(e);
      });
    };
    worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
      const m = e.data;
      if (m.kind === "ready") settleReady.resolve(m);
      else if (m.kind === "done") {
        finish().then(() => settleDone.resolve(m.result as R), settleDone.reject);
      } else if (m.kind === "error") {
        fail(new LcoreError(lcore, `${m.name}: ${m.message}`, m.stack));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      fail(new LcoreError(lcore, e.message ?? String(e.error)));
    };
    const start: StartMessage = {
      kind: "start",
      lcore,
      data: options.data ?? null,
      pools: pools.map((p) => ({
        handle: BigInt(Deno.UnsafePointer.value(p.unsafeHandle)),
        name: p.name,
      })),
      shared,
      counters,
      library: libraryPath(),
    };
    worker.postMessage(start);
    done.catch(() => {}); // observed through .done; avoid an unhandled rejection here
    const timeout = options.startTimeoutMs ?? 10_000;
    const timer = setTimeout(() =>
      fail(
        new LcoreError(
          lcore,
          `the worker did not start within ${timeout} ms: does ${module} call runOnLcore() ` +
            `at its top level?`,
        ),
      ), timeout);
    const info = await ready.finally(() => clearTimeout(timer));
    return new LcoreWorker<R>(
      finish,
      new Int32Array(shared, 0, 2),
      new Float64Array(shared, 8, counters),
      lcore,
      info,
      done,
    );
  }

  /** Asks the worker to stop: sets the flag its loop polls (`ctx.stopRequested`). */
  stop(): void {
    Atomics.store(this.#flags, 0, 1);
  }

  /**
   * Ends the worker thread: a last resort for a worker that ignores
   * {@linkcode LcoreWorker.stop}. Mbufs its batches held are not returned.
   * Resolves once the thread is gone; until then its lcore counts as running
   * (`Eal.cleanup` refuses) and its pools cannot be closed. Rejects with an
   * {@linkcode LcoreError} after `timeoutMs`: V8 cannot interrupt a loop that
   * only makes FFI calls, so a worker that never yields and never checks
   * `stopRequested` cannot be ended; the process must exit.
   */
  terminate(timeoutMs = 10_000): Promise<void> {
    return this.#end(timeoutMs);
  }
}

/** What code running on a worker lcore gets. */
export interface LcoreContext<T = unknown> {
  /** This thread's lcore id (`rte_lcore_id()`). */
  readonly lcore: number;
  /** The CPU it runs on (`sched_getcpu()`). */
  readonly cpu: number;
  /** CPUs its thread may run on. */
  readonly affinity: readonly number[];
  /** The `data` given to {@linkcode LcoreWorker.launch}. */
  readonly data: T;
  /** The pools given to {@linkcode LcoreWorker.launch}, attached (closing them does not free them). */
  readonly pools: Mempool[];
  /** Shared counters, read live by the main thread. */
  readonly counters: Float64Array;
  /** Whether the main thread asked this worker to stop. Cheap: poll it every burst. */
  readonly stopRequested: boolean;
  /** Attaches a port the main thread opened, receiving into `pool` (default: the first pool). */
  port(idOrName: number | string, pool?: Mempool): Port;
}

/** Whether this code runs inside a Deno Worker (and so can be a worker lcore). */
export function inWorker(): boolean {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  return typeof g.WorkerGlobalScope !== "undefined" && g instanceof g.WorkerGlobalScope;
}

/**
 * Runs `body` as a worker lcore, in a module started by
 * {@linkcode LcoreWorker.launch}. Call it at the module's top level. The
 * thread is pinned to the lcore's CPU and takes its lcore id before `body`
 * runs; what `body` returns reaches the main thread as `worker.done`, and
 * what it throws rejects `done`.
 *
 * @example
 * ```ts
 * import { runOnLcore } from "@deno-dpdk/dpdk";
 * runOnLcore<{ port: number }, number>((ctx) => {
 *   const port = ctx.port(ctx.data.port);
 *   let polls = 0;
 *   while (!ctx.stopRequested) polls++;
 *   return polls;
 * });
 * ```
 */
export function runOnLcore<T = unknown, R = unknown>(
  body: (ctx: LcoreContext<T>) => R | Promise<R>,
): void {
  if (!inWorker()) {
    throw new DpdkError(
      "runOnLcore",
      0,
      "runOnLcore must run in a module started by LcoreWorker.launch",
    );
  }
  // deno-lint-ignore no-explicit-any
  const scope = globalThis as any;
  scope.onmessage = async (e: MessageEvent<StartMessage>) => {
    const m = e.data;
    scope.onmessage = null;
    let adopted = false;
    let pools: Mempool[] = [];
    // Give everything back before telling the main thread: it ends this thread on that message.
    // Closing the attached pools closes this worker's batches, so their mbufs return.
    const release = () => {
      // Mbufs in this lcore's caches would be stranded (only this lcore takes from them).
      for (const p of pools) {
        if (adopted && !p.closed) library().symbols.dd_pool_cache_flush(p.unsafeHandle);
        p.close();
      }
      if (adopted) library().symbols.dd_lcore_release();
      adopted = false;
    };
    let outcome: WorkerMessage;
    try {
      if (m.library) setLibraryPath(m.library);
      requireEal("runOnLcore");
      check(
        "rte_thread_set_affinity",
        library().symbols.dd_lcore_adopt(m.lcore),
        `lcore ${m.lcore}`,
      );
      adopted = true;
      const flags = new Int32Array(m.shared, 0, 2);
      pools = m.pools.map((p) => Mempool.fromHandle(p.handle, p.name));
      const cpu = Lcore.currentCpu();
      const affinity = Lcore.affinity();
      const ctx: LcoreContext<T> = {
        lcore: Lcore.current(),
        cpu,
        affinity,
        data: m.data as T,
        pools,
        counters: new Float64Array(m.shared, 8, m.counters),
        get stopRequested() {
          return Atomics.load(flags, 0) !== 0;
        },
        port: (idOrName, pool) => {
          const p = pool ?? pools[0];
          if (!p) throw new TypeError("ctx.port: no pool given and none passed to launch()");
          return Port.attach(idOrName, p);
        },
      };
      scope.postMessage({ kind: "ready", cpu, affinity, tid: Lcore.threadId() });
      outcome = { kind: "done", result: await body(ctx) };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      outcome = { kind: "error", name: e.name, message: e.message, stack: e.stack };
    }
    try {
      release();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      outcome = { kind: "error", name: e.name, message: e.message, stack: e.stack };
    }
    scope.postMessage(outcome);
  };
}
