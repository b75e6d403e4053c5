/**
 * Tick-to-book benchmark: `examples/orderbook.ts` keeping a Binance book from
 * `examples/exchange_sim.ts` (in a network namespace, Deno's kernel sockets), over deno-dpdk's
 * stack (net_af_packet on the veth, busy-polled) and with `--kernel` (Deno's own WebSocket and
 * fetch) on the same veth, side by side in one run, for `ws://` and `wss://` at 1,000 and
 * 10,000 updates/s. Tick to book is the simulator's send (a CLOCK_MONOTONIC stamp in each
 * message, taken right before `send`) → the book updated, so the simulator's own send path
 * (its event loop, the kernel's TCP, the veth) is in every figure.
 *
 *   deno run --allow-all bench/tick.ts [-- --seconds N --rates 1000,10000 --json]
 *
 * Needs root: it creates the namespace `ddtkb` with a veth (10.99.9.0/24) and removes them at
 * the end, also on error and Ctrl-C. Each path runs `--seconds` (default 10) after a 2 s warm-up
 * that is not counted; the paths alternate kernel, ours per scheme and rate.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCertificates } from "../scripts/test_ca.ts";
import {
  headline,
  isRoot,
  machineInfo,
  runOnTestbed,
  scriptArgs,
  tableRow,
  type Testbed,
  vethSummary,
} from "./_veth.ts";

const BED: Testbed = {
  ns: "ddtkb",
  hostIf: "ddt-h",
  nsIf: "ddt-n",
  serverIp: "10.99.9.1",
  kernelIp: "10.99.9.2",
  stackIp: "10.99.9.3",
  ealPrefix: "tickbench",
};
const PORT = 8765, TLS_PORT = 8766;
const SERVERNAME = "feed.test";
const WARMUP = 2;

const { values: opts } = parseArgs({
  args: scriptArgs(),
  options: {
    seconds: { type: "string", default: "10" },
    rates: { type: "string", default: "1000,10000" },
    json: { type: "boolean" },
  },
});
const seconds = Number(opts.seconds);
const rates = opts.rates.split(",").map(Number);
if (!(seconds >= 1) || rates.some((r) => !(r >= 1 && r <= 100_000))) {
  console.error("usage: tick.ts [-- --seconds N (≥ 1) --rates R1,R2 (1..100000) --json]");
  Deno.exit(2);
}

/** What orderbook.ts --json reports that we use. */
interface Run {
  path: string;
  scheme: string;
  rate: number;
  updates: number;
  resyncs: number;
  latencyUs: { count: number; p50: number; p99: number; p999: number; max: number };
}

const ROOT = new URL("..", import.meta.url).pathname;

if (!isRoot("tick-to-book")) Deno.exit(0);
const dir = Deno.makeTempDirSync();
const runs: Run[] = [];
const load = await runOnTestbed(
  BED,
  {
    tag: "tick",
    limitMs: 10 * 60_000,
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  },
  async (spawn) => {
    makeCertificates(dir, SERVERNAME, [BED.serverIp]);
    for (const rate of rates) {
      const sim = (port: number, tls: string[]) =>
        spawn("ip", [
          ...["netns", "exec", BED.ns, Deno.execPath(), "run", "--allow-net", "--allow-ffi"],
          ...["--allow-read", `${ROOT}examples/exchange_sim.ts`],
          ...["--listen", `${BED.serverIp}:${port}`, "--rate", String(rate), ...tls],
        ]);
      for (const secure of [false, true]) {
        const scheme = secure ? "wss" : "ws";
        const port = secure ? TLS_PORT : PORT;
        const server = sim(
          port,
          secure ? ["--cert", `${dir}/server.pem`, "--key", `${dir}/server.key`] : [],
        );
        await server.until("exchange_sim: listening");
        for (const kernel of [true, false]) {
          // Deno's fetch and WebSocket check the name in the URL: the address, which the
          // certificate names too; ours connects to --address and checks SERVERNAME.
          const host = kernel ? BED.serverIp : secure ? SERVERNAME : BED.serverIp;
          const http = secure ? "https" : "http";
          const args = [
            ...["run", "--allow-all", `${ROOT}examples/orderbook.ts`, "--"],
            ...(kernel ? ["--kernel"] : ["--iface", BED.hostIf, "--ip", `${BED.stackIp}/24`]),
            ...(secure && !kernel ? ["--address", BED.serverIp, "--ca", `${dir}/ca.pem`] : []),
            ...["--exchange", "binance", "--symbol", "BTCUSDT", "--json"],
            ...["--ws", `${scheme}://${host}:${port}/ws/btcusdt@depth`],
            ...["--rest", `${http}://${host}:${port}`],
            ...["--duration", String(seconds + WARMUP), "--warmup", String(WARMUP)],
          ];
          const out = await new Deno.Command(Deno.execPath(), {
            args,
            env: secure && kernel ? { DENO_CERT: `${dir}/ca.pem` } : {},
            stdout: "piped",
            stderr: "piped",
          }).output();
          const text = new TextDecoder().decode(out.stdout).trim();
          if (out.code !== 0) {
            throw new Error(
              `orderbook.ts exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
            );
          }
          const r = JSON.parse(text.split("\n").at(-1)!);
          runs.push({ ...r, path: kernel ? "kernel" : "ours", scheme, rate });
          console.error(
            `  ${kernel ? "kernel" : "ours  "} ${scheme}:// ${rate}/s: p50 ${r.latencyUs.p50} ` +
              `p99 ${r.latencyUs.p99} µs (${r.latencyUs.count} updates)`,
          );
        }
        server.kill();
        await server.process.status;
      }
    }
  },
);

const machine = machineInfo(load);
if (opts.json) {
  console.log(JSON.stringify({ machine, seconds, runs }));
  Deno.exit(0);
}
console.log(headline("tick-to-book", machine, load));
console.log(
  `${vethSummary(BED)} examples/exchange_sim.ts in the namespace → examples/orderbook.ts, ` +
    `Binance depth; ${seconds} s per row after a ${WARMUP} s warm-up\n`,
);
const w = 10;
console.log(tableRow("tick → book, µs", 24, ["p50", "p99", "p99.9", "max", "updates"], w));
const f = (x: number) => x.toFixed(1);
for (const rate of rates) {
  for (const scheme of ["ws", "wss"]) {
    const pair = ["kernel", "ours"].map((p) =>
      runs.find((r) => r.rate === rate && r.scheme === scheme && r.path === p)!
    );
    for (const r of pair) {
      const l = r.latencyUs;
      const label = `${r.path === "ours" ? "ours (DPDK)" : "kernel"} ${scheme}:// ${rate}/s`;
      console.log(
        tableRow(label, 24, [f(l.p50), f(l.p99), f(l.p999), f(l.max), String(l.count)], w),
      );
    }
    const [k, o] = pair.map((r) => r.latencyUs);
    console.log(
      tableRow(
        "  kernel / ours",
        24,
        [k.p50 / o.p50, k.p99 / o.p99, k.p999 / o.p999, k.max / o.max].map((x) =>
          `${x.toFixed(2)}×`
        ),
        w,
      ),
    );
  }
}
