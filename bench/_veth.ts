/**
 * What the veth benchmarks (`bench/tcp.ts`, `bench/ws.ts`) share: a network namespace joined to
 * the host by a veth, our stack's DPDK port on the host end (net_af_packet), child processes
 * read line by line, CPU accounting from /proc, percentiles and the report's common lines.
 *
 * Each benchmark names its own namespace, interfaces, addresses and EAL prefix (a
 * {@linkcode Testbed}), so that two of them never clash, and keeps what it alone measures.
 *
 * @module
 */
import { DEFAULT_DATA_ROOM, Eal, Mempool, Port, StopSignal } from "../mod.ts";
import { PortDevice } from "../stack/mod.ts";

/** net_af_packet's frame and block size: large enough for a whole segment of the veth. */
export const AF_PACKET_FRAME = 16384;

/** The names and addresses of one benchmark's namespace and veth. */
export interface Testbed {
  /** The network namespace the servers run in. */
  ns: string;
  /** The host end of the veth: our DPDK port (net_af_packet) and the kernel clients use it. */
  hostIf: string;
  /** The namespace's end of the veth. */
  nsIf: string;
  /** The namespace's address: the servers'. */
  serverIp: string;
  /** The host end's address: the kernel clients' source address. */
  kernelIp: string;
  /** Our stack's address (the kernel has no such address). */
  stackIp: string;
  /** The EAL's file prefix, also the mempool's name. */
  ealPrefix: string;
}

// ------------------------------------------------------------------ command line, child output

/** The arguments after `--` (`deno task` and the orchestrator pass them so), else all of them. */
export function scriptArgs(): string[] {
  return Deno.args.includes("--") ? Deno.args.slice(Deno.args.indexOf("--") + 1) : Deno.args;
}

/** `deno run` arguments that run the module at `moduleUrl` again, with `args` after `--`. */
export function denoRunSelf(moduleUrl: string, args: string[]): string[] {
  return ["run", "--allow-all", new URL(moduleUrl).pathname, "--", ...args];
}

/** Prints a child's result line, which the orchestrator picks out of the child's output. */
export function result(line: unknown): void {
  console.log(`RESULT ${JSON.stringify(line)}`);
}

/** Runs a command to its end; its stdout, or an error with its stderr. */
export function sh(...args: string[]): string {
  const out = new Deno.Command(args[0], { args: args.slice(1), stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A child process with its stdout read line by line (its stderr goes to ours). */
export class Child {
  readonly process: Deno.ChildProcess;
  #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";
  /** Starts `cmd`; `env` is added to ours. */
  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.process = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "inherit" })
      .spawn();
    this.#reader = this.process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, or null at the end of the output. */
  async line(): Promise<string | null> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) {
        const rest = this.#buffered;
        this.#buffered = "";
        return rest === "" ? null : rest;
      }
      this.#buffered += value;
    }
    const i = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, i);
    this.#buffered = this.#buffered.slice(i + 1);
    return line;
  }
  /** Lines until one starts with `prefix`, returned without it (others go on to stderr). */
  async until(prefix: string): Promise<string> {
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error(`a child process ended before printing ${prefix}`);
      if (line.startsWith(prefix)) return line.slice(prefix.length);
      if (line.trim() !== "") console.error(line);
    }
  }
  /** Kills it at once (a hung child must not outlive the run). */
  kill(): void {
    try {
      this.process.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

// ------------------------------------------------------------------ namespace and veth

/** Removes the veth, the namespace and the EAL's runtime directory, whichever are there. */
export function teardownVeth(bed: Testbed): void {
  for (const args of [["ip", "link", "del", bed.hostIf], ["ip", "netns", "del", bed.ns]]) {
    try {
      sh(...args);
    } catch { /* not there */ }
  }
  // The EAL creates its runtime directory even with --no-shconf.
  try {
    Deno.removeSync(`/var/run/dpdk/${bed.ealPrefix}`, { recursive: true });
  } catch { /* not there */ }
}

/**
 * Creates the namespace and its veth (after removing what an earlier run may have left), with
 * the addresses of `bed`, and returns the MAC address of the namespace's end.
 */
export function setupVeth(bed: Testbed): string {
  const { ns, hostIf, nsIf } = bed;
  teardownVeth(bed);
  sh("ip", "netns", "add", ns);
  sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
  sh("ip", "link", "set", nsIf, "netns", ns);
  // No IPv6 chatter, and the kernel never forwards what arrives for our stack's address.
  sh("sysctl", "-q", "-w", `net.ipv6.conf.${hostIf}.disable_ipv6=1`);
  sh("sysctl", "-q", "-w", `net.ipv4.conf.${hostIf}.forwarding=0`);
  sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", `net.ipv6.conf.${nsIf}.disable_ipv6=1`);
  sh("ip", "addr", "add", `${bed.kernelIp}/24`, "dev", hostIf);
  sh("ip", "link", "set", hostIf, "up");
  sh("ip", "-n", ns, "addr", "add", `${bed.serverIp}/24`, "dev", nsIf);
  sh("ip", "-n", ns, "link", "set", "lo", "up");
  sh("ip", "-n", ns, "link", "set", nsIf, "up");
  // Whole checksums and MTU-sized segments from the namespace: what net_af_packet needs.
  sh("ip", "netns", "exec", ns, "ethtool", "-K", nsIf, "tx", "off", "tso", "off", "gso", "off");
  return sh("ip", "-n", ns, "-o", "link", "show", nsIf).match(/link\/ether (\S+)/)![1];
}

// ------------------------------------------------------------------ CPU accounting

/** The first line of /proc/stat as numbers: user nice system idle iowait irq softirq steal… */
function procStatCpu(): number[] {
  return Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
}

/** Busy (not idle, not iowait) CPU time of the whole machine, ms, from /proc/stat. */
export function machineCpuMs(): number {
  const f = procStatCpu();
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10; // user nice system irq softirq steal
}

/** Time the machine's CPUs spent on processes (user, nice, system) or lost to steal, ms. */
export function machineTaskMs(): number {
  const f = procStatCpu();
  return (f[0] + f[1] + f[2] + f[7]) * 10;
}

/** CPU time, ms, of this process and of its children that ended (utime, stime, cutime, cstime). */
export function ownAndChildrenCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return (f[11] + f[12] + f[13] + f[14]) * 10;
}

/** The machine's busy share over `ms` before the run: other work that would skew it. */
export async function backgroundLoad(ms: number): Promise<number> {
  const m0 = machineCpuMs(), t = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (machineCpuMs() - m0) / ((performance.now() - t) * navigator.hardwareConcurrency);
}

/** The CPU's model name, for the report. */
export function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ??
      "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

// ------------------------------------------------------------------ the orchestrator's run

/** Starts a child that the run kills when it ends, fails or is interrupted. */
export type Spawn = (cmd: string, args: string[], env?: Record<string, string>) => Child;

/** The machine's other load around a run (shares of all its CPUs). */
export interface Load {
  /** Busy before the run. */
  background: number;
  /** Taken by processes other than the run's during it. */
  others: number;
}

/** False, with a note, unless we are root (creating a namespace needs it). */
export function isRoot(benchmark: string): boolean {
  if (Deno.uid() === 0) return true;
  console.error(`${benchmark} benchmark skipped: it needs root to create a network namespace`);
  return false;
}

/**
 * Sets up the namespace and veth of `bed`, runs `body` (which spawns the servers and the
 * clients), and removes them all again, also on error, on SIGINT/SIGTERM (then the process
 * exits with 130) and when the run takes over `limitMs` (a hung child is killed: the run stays
 * bounded). `cleanup` removes what the caller made besides. Returns the machine's other load,
 * measured for a second before the set-up and over the whole run.
 */
export async function runOnTestbed(
  bed: Testbed,
  options: { tag: string; limitMs: number; cleanup?: () => void },
  body: (spawn: Spawn, nsMac: string) => Promise<void>,
): Promise<Load> {
  const { tag, limitMs, cleanup = () => {} } = options;
  const children: Child[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    for (const c of children) c.kill();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const spawn: Spawn = (cmd, args, env = {}) => {
    const c = new Child(cmd, args, env);
    children.push(c);
    return c;
  };
  const watchdog = setTimeout(() => {
    console.error(`${tag}: the run took over ${limitMs / 60000} minutes: stopping it`);
    onSignal();
  }, limitMs);
  const background = await backgroundLoad(1000);
  const runStart = performance.now(), machine0 = machineTaskMs(), own0 = ownAndChildrenCpuMs();
  let others = 0;
  try {
    await body(spawn, setupVeth(bed));
    // What ran besides this benchmark (its children's time counts once they have ended, which
    // `body` waited for).
    others = ((machineTaskMs() - machine0) - (ownAndChildrenCpuMs() - own0)) /
      ((performance.now() - runStart) * navigator.hardwareConcurrency);
  } catch (e) {
    for (const c of children) c.kill();
    if (interrupted) {
      console.error(`${tag}: interrupted`);
      teardownVeth(bed);
      cleanup();
      Deno.exit(130);
    }
    throw e;
  } finally {
    clearTimeout(watchdog);
    for (const c of children) c.kill();
    teardownVeth(bed);
    try {
      cleanup();
    } catch { /* gone */ }
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return { background, others };
}

// ------------------------------------------------------------------ our port (DPDK child)

/** Our DPDK port on the host end of the veth, with what the stack needs around it. */
export interface AfPacketPort {
  /** Set on SIGTERM or SIGINT: the busy loops check it. */
  stop: StopSignal;
  pool: Mempool;
  port: Port;
  device: PortDevice;
  /** Closes the device and the port and cleans up the EAL. */
  close(): void;
}

/**
 * Starts the EAL without hugepages or PCI, on lcore 0 (so the process is pinned to CPU 0), and
 * opens net_af_packet on the host end of the veth of `bed`.
 */
export function openAfPacketPort(bed: Testbed): AfPacketPort {
  Eal.init([
    "-l",
    "0",
    "--no-huge",
    "-m",
    "512",
    "--no-pci",
    "--no-shconf",
    `--file-prefix=${bed.ealPrefix}`,
    "--log-level=error",
    `--vdev=net_af_packet0,iface=${bed.hostIf},framesz=${AF_PACKET_FRAME},` +
    `blocksz=${AF_PACKET_FRAME}`,
  ]);
  const stop = StopSignal.trap(["SIGTERM", "SIGINT"]);
  // net_af_packet reports no minimum buffer size but refuses buffers smaller than its frames.
  const caps = Port.capabilities(0);
  const dataRoom = Math.max(DEFAULT_DATA_ROOM, caps.minRxBufferSize + 128, AF_PACKET_FRAME + 128);
  const pool = Mempool.create({
    name: bed.ealPrefix,
    size: 2047,
    cacheSize: 250,
    dataRoomSize: dataRoom,
    port: 0,
  });
  const port = Port.open(0, { pool });
  const device = new PortDevice(port);
  return {
    stop,
    pool,
    port,
    device,
    close() {
      device.close();
      port.close();
      Eal.cleanup();
    },
  };
}

/**
 * Busy-polls (`poll`) until `done()`; throws `"interrupted"` once `stop` is set and `stuck()`'s
 * message after `limitMs`. The clock and the signal are read every 1024 polls only: they cost
 * more than a poll that finds nothing.
 */
export function pollUntil(
  poll: () => void,
  stop: StopSignal,
  done: () => boolean,
  limitMs: number,
  stuck: () => string,
): void {
  const end = performance.now() + limitMs;
  let spins = 0;
  while (!done()) {
    poll();
    if ((++spins & 1023) === 0) {
      if (stop.requested) throw new Error("interrupted");
      if (performance.now() > end) throw new Error(stuck());
    }
  }
}

/** Polls a little longer, so that the last segments of a closed connection go out. */
export function settle(poll: () => void): void {
  for (let i = 0; i < 200; i++) poll();
}

// ------------------------------------------------------------------ figures and report

/** Latency percentiles, µs. */
export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** The percentiles of `samples` (nearest rank, no interpolation). */
export function percentiles(samples: number[]): Latency {
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  return {
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: s[s.length - 1],
    mean: sum / s.length,
  };
}

/** Rounded to 2 decimals: samples passed between processes stay short. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;
/** Rounded to 3 decimals, for the JSON report. */
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Each figure of `l` rounded to 3 decimals, for the JSON report. */
export function roundLatency(l: Latency): Record<string, number> {
  return Object.fromEntries(Object.entries(l).map(([k, v]) => [k, round3(v)]));
}

/** The machine and its load, as the JSON report gives them. */
export interface Machine {
  cpu: string;
  cpus: number;
  deno: string;
  v8: string;
  busy_before_run: number;
  other_load_during_run: number;
}

/** The machine a run ran on and its load. */
export function machineInfo(load: Load): Machine {
  return {
    cpu: cpuModel(),
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    busy_before_run: round2(load.background),
    other_load_during_run: round2(load.others),
  };
}

/** The report's first line: what ran, on what, and how busy the machine was otherwise. */
export function headline(benchmark: string, machine: Machine, load: Load): string {
  const pct = (x: number) => (x * 100).toFixed(0);
  return `\ndeno-dpdk ${benchmark} benchmark — ${machine.cpu}, ${machine.cpus} CPUs; Deno ` +
    `${machine.deno}, V8 ${machine.v8}; other load: ${pct(load.background)}% of the CPUs ` +
    `busy before the run, ${pct(Math.max(0, load.others))}% taken by other processes during it`;
}

/** How the veth is set up, for the report's second line. */
export function vethSummary(bed: Testbed): string {
  return `veth ${bed.hostIf} <-> namespace ${bed.ns} (${bed.nsIf}: tx/tso/gso off);`;
}

/** A table row: `label` padded to `labelWidth`, then each cell after `gap`, right-aligned. */
export function tableRow(
  label: string,
  labelWidth: number,
  cells: string[],
  cellWidth: number,
  gap = "",
): string {
  return label.padEnd(labelWidth) + cells.map((c) => gap + c.padStart(cellWidth)).join("");
}
