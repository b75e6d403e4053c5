/**
 * The Environment Abstraction Layer: DPDK's process-wide start-up.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { cstring, fromCString } from "./cstring.ts";
import { DpdkError, strerror } from "./errors.ts";

/** Typed EAL settings; {@linkcode buildEalArgs} turns them into DPDK's arguments. */
export interface EalOptions {
  /** Lcores to use, as DPDK's `-l` list (`"0-3"`, `"0,2"`) or numbers. Default: all CPUs. */
  cores?: string | number[];
  /** Core mask (`-c`), e.g. `"0x3"`; an alternative to `cores`. */
  coreMask?: string;
  /** Lcore that runs the main thread (`--main-lcore`). Default: the first lcore. */
  mainLcore?: number;
  /** Memory to reserve in MB (`-m`). Default: DPDK's (all hugepages); 256 without hugepages. */
  memoryMb?: number;
  /** Memory per NUMA socket in MB (`--socket-mem`), e.g. `[1024, 1024]`. Default: unset. */
  socketMemMb?: number[];
  /** Use hugepages. `false` adds `--no-huge` (for machines without them). Default: `true`. */
  hugepages?: boolean;
  /** Hugepage mount point (`--huge-dir`). Default: DPDK finds the mounts. */
  hugeDir?: string;
  /** Scan the PCI bus. `false` adds `--no-pci`. Default: `true`. */
  pci?: boolean;
  /** PCI devices to use, and no others (`--allow`), e.g. `["0000:00:06.0"]`. Default: all. */
  allow?: string[];
  /** PCI devices to skip (`--block`). Default: none. */
  block?: string[];
  /** Virtual devices (`--vdev`), e.g. `["net_null0", "net_tap0,iface=dtap0"]`. Default: none. */
  vdevs?: string[];
  /** Runtime file prefix (`--file-prefix`), needed to run two DPDK processes. Default: `rte`. */
  filePrefix?: string;
  /** Do not create shared config files (`--no-shconf`). Default: `false`. */
  noSharedConfig?: boolean;
  /** Log level (`--log-level`): 1 (emergency) … 8 (debug), or a name like `"notice"`. */
  logLevel?: number | string;
  /** IOVA mode (`--iova-mode`). Default: DPDK decides. */
  iovaMode?: "pa" | "va";
  /** Further EAL arguments, passed last and unchanged. */
  extraArgs?: string[];
  /**
   * Let DPDK's capture tools (`dpdk-dumpcap`, `dpdk-pdump`) attach to this process's ports:
   * calls {@linkcode Eal.enablePdump} after init. They are secondary processes, so this
   * process needs hugepages and shared config (no `hugepages: false`, no `noSharedConfig`), and
   * lcore 0 left to them (see {@linkcode Eal.enablePdump}).
   * Default: `false`, or `true` when the environment has `DENO_DPDK_PDUMP=1`.
   */
  pdump?: boolean;
}

/** Every key of {@linkcode EalOptions}, in the order of its documentation. */
export const EAL_OPTION_KEYS: readonly (keyof EalOptions)[] = [
  "cores",
  "coreMask",
  "mainLcore",
  "memoryMb",
  "socketMemMb",
  "hugepages",
  "hugeDir",
  "pci",
  "allow",
  "block",
  "vdevs",
  "filePrefix",
  "noSharedConfig",
  "logLevel",
  "iovaMode",
  "extraArgs",
  "pdump",
];

/**
 * Turns {@linkcode EalOptions} into DPDK's EAL arguments (without argv[0]).
 * Unknown keys are refused (a typo would otherwise run with a default).
 *
 * @example
 * ```ts
 * import { buildEalArgs } from "@deno-dpdk/dpdk";
 * buildEalArgs({ cores: "0-1", hugepages: false, pci: false, vdevs: ["net_null0"] });
 * // ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--vdev=net_null0"]
 * ```
 */
export function buildEalArgs(options: EalOptions): string[] {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `EalOptions must be an object with keys ${EAL_OPTION_KEYS.join(", ")}; got ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const unknown = Object.keys(options).filter((k) => !(EAL_OPTION_KEYS as string[]).includes(k));
  if (unknown.length > 0) {
    const near = (k: string) =>
      EAL_OPTION_KEYS.find((v) => v.toLowerCase() === k.toLowerCase().replace(/[-_]/g, ""));
    throw new TypeError(
      `EalOptions: unknown ${unknown.length === 1 ? "key" : "keys"} ${
        unknown.map((k) => `"${k}"${near(k) ? ` (did you mean "${near(k)}"?)` : ""}`).join(", ")
      }; the keys are ${EAL_OPTION_KEYS.join(", ")}`,
    );
  }
  const args: string[] = [];
  if (options.cores !== undefined && options.coreMask !== undefined) {
    throw new TypeError("EalOptions: give either cores or coreMask, not both");
  }
  if (options.cores !== undefined) {
    const list = typeof options.cores === "string" ? options.cores : options.cores.join(",");
    if (!/^\d+([-,]\d+)*$/.test(list)) {
      throw new TypeError(`EalOptions.cores: "${list}" is not an lcore list like "0-3" or "0,2"`);
    }
    args.push("-l", list);
  }
  if (options.coreMask !== undefined) {
    if (!/^(0x)?[0-9a-fA-F]+$/.test(options.coreMask)) {
      throw new TypeError(`EalOptions.coreMask: "${options.coreMask}" is not a hex mask`);
    }
    args.push("-c", options.coreMask);
  }
  if (options.mainLcore !== undefined) args.push(`--main-lcore=${positive(options.mainLcore)}`);
  if (options.hugepages === false) {
    args.push("--no-huge", "-m", String(positive(options.memoryMb ?? 256, "memoryMb")));
  } else if (options.memoryMb !== undefined) {
    args.push("-m", String(positive(options.memoryMb, "memoryMb")));
  }
  if (options.socketMemMb) {
    if (options.hugepages === false) {
      throw new TypeError("EalOptions: socketMemMb needs hugepages; use memoryMb with --no-huge");
    }
    args.push("--socket-mem", options.socketMemMb.map((m) => positive(m, "socketMemMb")).join(","));
  }
  if (options.hugeDir !== undefined) args.push(`--huge-dir=${options.hugeDir}`);
  if (options.pci === false) args.push("--no-pci");
  for (const a of options.allow ?? []) args.push("--allow", a);
  for (const b of options.block ?? []) args.push("--block", b);
  for (const v of options.vdevs ?? []) args.push(`--vdev=${v}`);
  if (options.filePrefix !== undefined) args.push(`--file-prefix=${options.filePrefix}`);
  if (options.noSharedConfig) args.push("--no-shconf");
  if (options.logLevel !== undefined) args.push(`--log-level=${options.logLevel}`);
  if (options.iovaMode !== undefined) args.push(`--iova-mode=${options.iovaMode}`);
  args.push(...(options.extraArgs ?? []));
  return args;
}

function positive(n: number, what = "mainLcore"): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`EalOptions.${what}: ${n} is not a non-negative integer`);
  }
  return n;
}

/**
 * Splits a command line at the first `--`, DPDK's convention: EAL arguments
 * before it, the application's own after it.
 *
 * @example
 * ```ts
 * import { splitArgs } from "@deno-dpdk/dpdk";
 * const { eal, app } = splitArgs(["-l", "0-1", "--", "--duration", "5"]);
 * // eal: ["-l", "0-1"], app: ["--duration", "5"]
 * ```
 */
export function splitArgs(argv: readonly string[]): { eal: string[]; app: string[] } {
  const i = argv.indexOf("--");
  return i < 0 ? { eal: [...argv], app: [] } : {
    eal: argv.slice(0, i),
    app: argv.slice(i + 1),
  };
}

type State = "new" | "running" | "cleaned";
let state: State = "new";
let ealArgs: string[] = [];
// EAL may keep pointers into argv: the buffers live as long as the process.
const keepAlive: unknown[] = [];

/** Things to close before `rte_eal_cleanup`, in this order. */
const closers = { port: new Set<() => void>(), pool: new Set<() => void>() };
/** Checks that veto a cleanup, returning why (e.g. worker lcores still running). */
const guards = new Set<() => string | undefined>();

/** Registers a check that {@linkcode Eal.cleanup} runs first and that may refuse it (internal). */
export function onCleanupGuard(check: () => string | undefined): void {
  guards.add(check);
}

/**
 * Registers a close function that {@linkcode Eal.cleanup} runs; returns the
 * function that unregisters it (internal).
 */
export function onCleanup(kind: keyof typeof closers, close: () => void): () => void {
  closers[kind].add(close);
  return () => closers[kind].delete(close);
}

/**
 * This isolate's view of the EAL. A Deno Worker shares the process, and so
 * the EAL, that the main thread initialised: it sees "running" without init.
 */
function currentState(): State {
  if (state !== "new") return state;
  const shared = library().symbols.dd_eal_state();
  return shared === 1 ? "running" : shared === 2 ? "cleaned" : "new";
}

/** Throws unless the EAL is initialised and not cleaned up (internal). */
export function requireEal(what: string): void {
  const state = currentState();
  if (state === "running") return;
  throw new DpdkError(
    what,
    0,
    state === "new"
      ? `${what}: the EAL is not initialised; call Eal.init() first`
      : `${what}: the EAL has been cleaned up; no DPDK call is possible any more`,
  );
}

function pdumpFromEnvironment(): boolean {
  try {
    return Deno.env.get("DENO_DPDK_PDUMP") === "1";
  } catch {
    return false; // no --allow-env for it: off
  }
}

/** DPDK's own words on a failed start: its last lines, less the routine ones. */
function ealReason(text: string): string {
  const lines = text.split("\n").map((l) => l.trim().replace(/^EAL: FATAL: /, "EAL: ")).filter(
    (l, i, all) =>
      l !== "" && all.indexOf(l) === i &&
      !/^EAL: (Detected|Selected IOVA|VFIO support|Probe PCI)/.test(l) &&
      !/^TELEMETRY: No legacy callbacks/.test(l),
  );
  return lines.slice(-3).join("; ") || "DPDK gave no reason";
}

function hugepageHint(args: readonly string[]): string {
  if (args.includes("--no-huge")) return "";
  let reserved = -1; // unknown: Deno lets a program read /sys only with --allow-all
  try {
    reserved = 0;
    for (const e of Deno.readDirSync("/sys/kernel/mm/hugepages")) {
      reserved += Number(
        Deno.readTextFileSync(`/sys/kernel/mm/hugepages/${e.name}/nr_hugepages`).trim(),
      );
    }
  } catch {
    reserved = -1;
  }
  if (reserved > 0) return "";
  return (reserved === 0 ? " No hugepages are reserved on this machine:" : " Without hugepages,") +
    ' run without them (Eal.init({ hugepages: false }) or "--no-huge -m 512"), or reserve some: ' +
    "echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages " +
    "(`deno task doctor` shows what the machine has).";
}

/** The EAL: initialised once per process, before any port or pool. */
export class Eal {
  private constructor() {}

  /**
   * Initialises DPDK. Takes either DPDK's own EAL arguments, unchanged
   * (without the program name), or typed {@linkcode EalOptions}.
   * Returns the EAL arguments used.
   *
   * @example
   * ```ts
   * import { Eal } from "@deno-dpdk/dpdk";
   * // as on a real machine: Eal.init(["-c", "0x3", "--socket-mem", "1024", "--allow", "0000:00:06.0"]);
   * Eal.init(["-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--vdev=net_null0"]);
   * // or: Eal.init({ cores: "0-1", hugepages: false, pci: false, vdevs: ["net_null0"] });
   * ```
   */
  static init(args: readonly string[] | EalOptions = []): string[] {
    const now = currentState();
    if (now !== "new") {
      throw new DpdkError(
        "rte_eal_init",
        114, // EALREADY
        now === "running"
          ? "rte_eal_init: the EAL is already initialised; it initialises once per process"
          : "rte_eal_init: the EAL was cleaned up and cannot be initialised again in this process",
      );
    }
    if (typeof args === "string") {
      throw new TypeError(
        `Eal.init takes an array of EAL arguments (e.g. ["-l", "0-1", "--no-huge"]; ` +
          `splitArgs() splits a command line) or an EalOptions object, not a string`,
      );
    }
    const list = Array.isArray(args) ? [...args] : buildEalArgs(args as EalOptions);
    for (const a of list) {
      if (typeof a !== "string") throw new TypeError(`Eal.init: argument ${a} is not a string`);
    }
    const argv = ["deno-dpdk", ...list];
    const strings = argv.map(cstring);
    const pointers = new BigUint64Array(argv.length + 1);
    strings.forEach((s, i) =>
      pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)))
    );
    keepAlive.push(strings, pointers);
    // What DPDK says while it starts is kept aside (its usage text buries the reason): on
    // failure its last lines make the message, on success it is printed as usual.
    const diag = new Uint8Array(2048);
    const ret = library().symbols.dd_eal_init(
      argv.length,
      new Uint8Array(pointers.buffer),
      diag,
      diag.length,
    );
    if (ret < 0) {
      const errno = -ret;
      throw new DpdkError(
        "rte_eal_init",
        errno,
        `rte_eal_init failed: ${ealReason(fromCString(diag))} (${
          strerror(errno)
        }, errno ${errno}); ` +
          `arguments: ${list.join(" ")}.` +
          (errno === 114 ? " The EAL is already initialised in this process." : "") +
          // ENOMEM / EACCES: DPDK could not get (hugepage) memory.
          (errno === 12 || errno === 13 ? hugepageHint(list) : ""),
      );
    }
    state = "running";
    ealArgs = list;
    const pdump = Array.isArray(args) ? undefined : (args as EalOptions).pdump;
    if (pdump ?? pdumpFromEnvironment()) Eal.enablePdump();
    return list;
  }

  /**
   * Lets `dpdk-dumpcap` and `dpdk-pdump` capture this process's ports
   * (`rte_pdump_init`), and `dpdk-proc-info` read them. They run as DPDK
   * secondary processes: this process must use hugepages and a shared config
   * (its `--file-prefix` is what they attach to), and leave lcore 0 to them
   * (`dpdk-dumpcap` runs as lcore 0; the lcores' mempool caches are shared by
   * id, so a capture can crash a process on lcore 0: it warns). Any program
   * gets it with `DENO_DPDK_PDUMP=1` in its environment.
   *
   * @example
   * ```ts
   * import { Eal } from "@deno-dpdk/dpdk";
   * Eal.init(["-l", "1", "--file-prefix=app", "--vdev=net_null0"]);
   * Eal.enablePdump();
   * // elsewhere: dpdk-dumpcap --file-prefix=app -i net_null0 -c 100 -w /tmp/app.pcapng
   * ```
   */
  static enablePdump(): void {
    requireEal("Eal.enablePdump");
    if (ealArgs.includes("--no-shconf") || ealArgs.includes("--no-huge")) {
      throw new DpdkError(
        "rte_pdump_init",
        22,
        "Eal.enablePdump: capture tools attach as DPDK secondary processes, which need this " +
          "process on hugepages with a shared config: drop --no-huge and --no-shconf",
      );
    }
    const symbols = library().symbols;
    const ret = symbols.dd_pdump_init();
    if (ret < 0) throw DpdkError.fromErrno("rte_pdump_init", ret);
    // Our lcore 0 takes the copies it captures from the capture pool's lcore-0 cache while
    // dpdk-dumpcap, whose main thread is lcore 0 too, frees them into it: unlocked, both at
    // once. With `-l 0` a capture crashed skeleton.ts within 1 to 10 dumpcap runs; `-l 1`: none
    // in 120.
    if (symbols.dd_lcore_next(0xffffffff) === 0) {
      console.warn(
        "deno-dpdk: Eal.enablePdump: this process uses lcore 0, as dpdk-dumpcap's main thread " +
          "does: they share per-lcore mempool caches and a capture can crash this process. " +
          "Leave lcore 0 out (e.g. -l 1).",
      );
    }
  }

  /** Whether the EAL is initialised and not cleaned up. */
  static get initialized(): boolean {
    return currentState() === "running";
  }

  /** The EAL arguments {@linkcode Eal.init} was given. */
  static get args(): readonly string[] {
    return ealArgs;
  }

  /** Sets DPDK's global log level (1 emergency … 8 debug). */
  static setLogLevel(level: number): void {
    if (!Number.isInteger(level) || level < 1 || level > 8) {
      throw new RangeError(`log level ${level} is not between 1 and 8`);
    }
    library().symbols.dd_log_set_level(level);
  }

  /**
   * Closes every open port, then every pool (and its batches), then releases
   * DPDK's resources (`rte_eal_cleanup`). Idempotent; afterwards no DPDK call
   * is possible in this process. Refused while worker lcores still run: stop
   * them and await their `done` first.
   */
  static cleanup(): void {
    if (state !== "running") {
      if (currentState() === "running") {
        throw new DpdkError(
          "rte_eal_cleanup",
          1,
          "rte_eal_cleanup: only the thread that initialised the EAL may clean it up",
        );
      }
      return;
    }
    for (const guard of guards) {
      const why = guard();
      if (why) throw new DpdkError("rte_eal_cleanup", 16, `rte_eal_cleanup: ${why}`);
    }
    for (const kind of ["port", "pool"] as const) {
      for (const close of [...closers[kind]]) close();
    }
    state = "cleaned";
    const ret = library().symbols.dd_eal_cleanup();
    if (ret < 0) throw DpdkError.fromErrno("rte_eal_cleanup", ret);
  }
}
