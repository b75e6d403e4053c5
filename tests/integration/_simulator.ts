// examples/exchange_sim.ts in a test's namespace, for the market tests.
import assert from "node:assert/strict";
import { startDeno, type VethNamespace } from "../helpers.ts";

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
  const sim = startDeno(
    "examples/exchange_sim.ts",
    ["--listen", `${v.peerIp}:${PORT}`, ...args],
    ["--allow-net", "--allow-ffi", "--allow-read"],
    v.ns,
  );
  try {
    await sim.waitFor(/listening/, 20_000);
  } catch (e) {
    await sim.stop("SIGKILL");
    throw e;
  }
  const scheme = args.includes("--cert") ? "https" : "http";
  return {
    async stop() {
      const r = await sim.stop("SIGTERM");
      return r.stdout + r.stderr;
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
