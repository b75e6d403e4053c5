/**
 * Test helpers: run a DPDK scenario in its own process (the EAL initialises
 * once per process, and a crash must fail the test rather than the runner),
 * and build throwaway network namespaces for real kernel peers.
 *
 * @module
 */

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** EAL arguments for tests: no hugepages, no PCI, no files left in /var/run/dpdk. */
export const TEST_EAL = [
  "-l",
  "0-1",
  "--no-huge",
  "-m",
  "256",
  "--no-pci",
  "--no-shconf",
  "--log-level=warning",
];

export interface ChildResult {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The object the child printed as `RESULT <json>`, if any. */
  // deno-lint-ignore no-explicit-any
  result: any;
}

const decoder = new TextDecoder();

/** Runs a Deno program (a file under tests/ or examples/) with args; never throws on failure. */
export async function runDeno(
  file: string,
  args: string[] = [],
  options: { env?: Record<string, string>; cwd?: string; flags?: string[]; timeoutMs?: number } =
    {},
): Promise<ChildResult> {
  const path = file.startsWith("/") || file.includes("://") ? file : `${ROOT}/${file}`;
  const flags = options.flags ?? ["--allow-all"];
  const deno = [Deno.execPath(), "run", ...flags, path, ...args];
  // V8 writes --trace-gc lines through C's stdout, fully buffered into a pipe: they would come
  // out at exit, after what console.log wrote meanwhile. The scenarios unbuffer it themselves
  // (dd_stdout_unbuffered); examples do not, so line-buffer it for them.
  const traced = flags.some((f) => f.includes("--trace-gc"));
  const [cmd, ...cmdArgs] = traced ? ["stdbuf", "-oL", ...deno] : deno;
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: options.env,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 120_000);
  const out = await child.output();
  clearTimeout(timer);
  const stdout = decoder.decode(out.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  return {
    code: out.code,
    signal: out.signal,
    stdout,
    stderr: decoder.decode(out.stderr),
    result: line ? JSON.parse(line.slice(7)) : undefined,
  };
}

/**
 * The garbage collections a child traced (`--trace-gc`) between the lines it printed as
 * `LOOP START` and `LOOP END`: empty when its measured loop allocated nothing the GC had to
 * collect.
 */
export function gcsInLoop(stdout: string): string[] {
  const loop = stdout.split("LOOP START")[1]?.split("LOOP END")[0];
  if (loop === undefined) throw new Error(`no LOOP START in the output:\n${stdout}`);
  return loop.split("\n").filter((l) => /Scavenge|Mark-Compact|Minor|Mark-Sweep/.test(l));
}

/** Runs a scenario and returns its RESULT, failing with its output if it crashed. */
// deno-lint-ignore no-explicit-any
export async function scenario(name: string, args: string[] = []): Promise<any> {
  const r = await runDeno(`tests/integration/scenarios/${name}`, args);
  if (r.code !== 0 || r.result === undefined) {
    throw new Error(
      `scenario ${name} failed (exit ${r.code}, signal ${r.signal}):\n` +
        `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r.result;
}

/** Prints the scenario's result for the parent test. */
export function report(result: unknown): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Runs a command, throwing with its stderr if it fails. */
export function sh(cmd: string, ...args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

/** Whether this process may create network namespaces (root). */
export const IS_ROOT: boolean = Deno.uid() === 0;

/** Why kernel-peer tests are skipped when they are (CI runs as root, so never there). */
export const NEEDS_ROOT = !IS_ROOT;

/** A veth pair whose peer end sits in a fresh namespace with an address. */
export interface VethNamespace {
  ns: string;
  /** Host-side interface, given to DPDK. */
  host: string;
  /** Namespace-side interface. */
  peer: string;
  /** Address of the namespace side. */
  peerIp: string;
  /** Address the DPDK side plays. */
  dpdkIp: string;
  /** MAC of the namespace-side interface. */
  peerMac: string;
  remove(): void;
}

/** Creates `ns` with a veth pair, 10.99.<subnet>.1 inside, host side up without an address. */
export function vethNamespace(subnet: number): VethNamespace {
  const tag = `${Deno.pid % 10000}${subnet}`;
  const ns = `ddtest${tag}`;
  const host = `ddh${tag}`;
  const peer = `ddn${tag}`;
  const peerIp = `10.99.${subnet}.1`;
  const dpdkIp = `10.99.${subnet}.2`;
  sh("ip", "netns", "add", ns);
  const remove = () => {
    try {
      sh("ip", "link", "del", host);
    } catch { /* gone with the namespace */ }
    try {
      sh("ip", "netns", "del", ns);
    } catch { /* already removed */ }
  };
  try {
    sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer);
    sh("ip", "link", "set", peer, "netns", ns);
    sh("ip", "link", "set", host, "up");
    // No IPv6 on the host end: keeps router solicitations off the DPDK port.
    Deno.writeTextFileSync(`/proc/sys/net/ipv6/conf/${host}/disable_ipv6`, "1");
    sh("ip", "-n", ns, "addr", "add", `${peerIp}/24`, "dev", peer);
    sh("ip", "-n", ns, "link", "set", peer, "up");
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    const link = sh("ip", "-n", ns, "-o", "link", "show", peer);
    const peerMac = link.match(/link\/ether ([0-9a-f:]{17})/)?.[1];
    if (!peerMac) throw new Error(`no MAC for ${peer}: ${link}`);
    return { ns, host, peer, peerIp, dpdkIp, peerMac, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** A Deno program running in the background (see {@link startDeno}). */
export interface Background {
  /** Everything the program printed on stdout so far. */
  stdout(): string;
  /** Waits until stdout matches `pattern`; throws with the output so far after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (unless the program already ended) and waits for it to exit. */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<ChildResult>;
  /** Waits for a program that stops by itself to exit (killed after `timeoutMs`). */
  exit(timeoutMs?: number): Promise<ChildResult>;
}

/**
 * Starts a Deno program (a file under tests/ or examples/) and collects its output as it runs;
 * in network namespace `namespace` when one is given.
 */
export function startDeno(
  file: string,
  args: string[] = [],
  flags = ["--allow-all"],
  namespace?: string,
): Background {
  const path = file.startsWith("/") ? file : `${ROOT}/${file}`;
  const deno = [Deno.execPath(), "run", ...flags, path, ...args];
  const [cmd, ...cmdArgs] = namespace === undefined
    ? deno
    : ["ip", "netns", "exec", namespace, ...deno];
  const child = new Deno.Command(cmd, { args: cmdArgs, stdout: "piped", stderr: "piped" }).spawn();
  let out = "", err = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const done = Promise.all([
    collect(child.stdout, (s) => out += s),
    collect(child.stderr, (s) => err += s),
    child.status,
  ]);
  let exited = false;
  child.status.then(() => exited = true);
  return {
    stdout: () => out,
    async waitFor(pattern, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const m = out.match(pattern);
        if (m) return m;
        if (exited) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `${file}: no ${pattern} in its output${exited ? " (it exited)" : ""}\n` +
          `--- stdout\n${out}\n--- stderr\n${err}`,
      );
    },
    stop(signal = "SIGINT", timeoutMs = 20_000) {
      kill(signal);
      return finish(timeoutMs);
    },
    exit(timeoutMs = 20_000) {
      return finish(timeoutMs);
    },
  };
  function kill(sig: Deno.Signal): void {
    try {
      if (!exited) child.kill(sig);
    } catch { /* already gone */ }
  }
  async function finish(timeoutMs: number): Promise<ChildResult> {
    const timer = setTimeout(() => kill("SIGKILL"), timeoutMs);
    const [, , status] = await done;
    clearTimeout(timer);
    return {
      code: status.code,
      signal: status.signal,
      stdout: out,
      stderr: err,
      result: undefined,
    };
  }
}

/** A seeded xorshift32 generator of numbers in [0, 1): the same seed, the same test data. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
}
