// examples/exchange_sim.ts in a test's namespace, for the market tests.
import assert from "node:assert/strict";
import { ROOT, type VethNamespace } from "../helpers.ts";

/** Where the simulator listens, on the namespace's address. */
export const PORT = 8765;

/** The simulator in the namespace, until `stop()`. */
export interface Simulator {
  stop(): Promise<string>;
  /** GET `path` from it, inside the namespace, as JSON. */
  get(path: string): Promise<Record<string, unknown>>;
}

/** Starts examples/exchange_sim.ts in `v`'s namespace with `args`; resolves once it listens. */
export async function simulator(v: VethNamespace, args: string[]): Promise<Simulator> {
  const child = new Deno.Command("ip", {
    args: [
      ...["netns", "exec", v.ns, Deno.execPath(), "run", "--allow-net", "--allow-ffi"],
      ...["--allow-read", `${ROOT}/examples/exchange_sim.ts`, "--listen", `${v.peerIp}:${PORT}`],
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "", err = "";
  const collect = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) add(c);
  };
  const done = Promise.all([
    collect(child.stdout, (t) => out += t),
    collect(child.stderr, (t) => err += t),
    child.status,
  ]);
  const until = Date.now() + 20_000;
  while (!out.includes("listening") && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!out.includes("listening")) {
    child.kill("SIGKILL");
    await done;
    throw new Error(`the simulator did not start:\n${out}\n${err}`);
  }
  const scheme = args.includes("--cert") ? "https" : "http";
  return {
    async stop() {
      child.kill("SIGTERM");
      await done;
      return out + err;
    },
    async get(path) {
      // From inside the namespace: the host's end of the veth has no address.
      const r = await new Deno.Command("ip", {
        args: [
          ...["netns", "exec", v.ns, "/usr/bin/python3", "-c"],
          "import ssl,sys,urllib.request as u;" +
          "print(u.urlopen(sys.argv[1],context=ssl._create_unverified_context()).read().decode())",
          `${scheme}://${v.peerIp}:${PORT}${path}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(r.stdout);
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      return JSON.parse(text);
    },
  };
}
