// examples/orderbook.ts over DPDK (net_af_packet on a veth) against examples/exchange_sim.ts in
// a namespace (Deno's kernel sockets): the book it keeps equals the simulator's truth at the
// end, through dropped updates (gaps, checksum mismatches) and server disconnects, with every
// gap repaired by a resync and no mbuf leaked; over ws:// and wss://, Binance and Kraken, and
// the same program with --kernel agrees.
import assert from "node:assert/strict";
import { NEEDS_ROOT, ROOT, sh, type VethNamespace, vethNamespace } from "../helpers.ts";
import { makeCertificates } from "../../scripts/test_ca.ts";
import { PORT, simulator } from "./_simulator.ts";

interface Book {
  state: string;
  bids: [string, string][];
  asks: [string, string][];
  lastUpdateId?: number;
  updates: number;
  resyncs: number;
  reconnects: number;
  counters: Record<string, number>;
  latencyUs: Record<string, number>;
  mbufsLeaked: number;
}

/** Runs orderbook.ts with `--json` (over DPDK on the veth unless --kernel), for its result. */
async function orderbook(v: VethNamespace, args: string[]): Promise<Book> {
  const kernel = args.includes("--kernel");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", `${ROOT}/examples/orderbook.ts`, "--"],
      ...(kernel ? [] : ["--iface", v.host, "--ip", `${v.dpdkIp}/24`]),
      ...["--json", ...args],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `orderbook.ts exited ${out.code}:\n${stderr}`);
  console.log(
    stderr.split("\n").filter((l) => /\[\s+\d+ s\]|closed|resync|Done/.test(l)).slice(-4).join(
      "\n",
    ),
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** The truth's top `n` levels per side, as orderbook.ts prints them. */
function top(truth: Record<string, unknown>, n: number) {
  const side = (s: unknown) => (s as [string, string][]).slice(0, n);
  return { bids: side(truth.bids), asks: side(truth.asks) };
}

function withVeth(subnet: number, body: (v: VethNamespace, dir: string) => Promise<void>) {
  return async () => {
    const v = vethNamespace(subnet);
    const dir = Deno.makeTempDirSync();
    try {
      // The veth's checksum offload leaves partial checksums that af_packet hands us as is.
      sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
      await body(v, dir);
    } finally {
      v.remove();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test({
  name:
    "orderbook.ts over DPDK, Binance ws://, 30 s through dropped updates and disconnects: the book equals the simulator's truth",
  ignore: NEEDS_ROOT,
  fn: withVeth(86, async (v) => {
    const sim = await simulator(v, [
      ...["--rate", "1000", "--run", "24", "--seed", "7"],
      ...["--drop-every", "1500", "--disconnect-every", "10"],
    ]);
    try {
      const book = await orderbook(v, [
        ...["--exchange", "binance", "--symbol", "BTCUSDT", "--duration", "30"],
        ...["--ws", `ws://${v.peerIp}:${PORT}/ws/btcusdt@depth`],
        ...["--rest", `http://${v.peerIp}:${PORT}`],
      ]);
      const truth = await sim.get("/truth?symbol=BTCUSDT");
      const stats = await sim.get("/stats");
      assert.equal(book.state, "live");
      assert.deepEqual({ bids: book.bids, asks: book.asks }, top(truth, 20));
      assert.equal(book.lastUpdateId, truth.lastUpdateId);
      // Every update the simulator dropped was a gap we found (none found that was not; a drop
      // while resyncing may fall inside the next snapshot) and repaired; the disconnects (at 10
      // and 20 s) were reconnected, each with a new snapshot.
      const drops = stats.updatesDropped as number, gaps = book.counters.gaps;
      const what = JSON.stringify({ book: book.counters, stats });
      assert.ok(drops >= 10 && gaps <= drops && gaps >= drops - 1 - book.reconnects, what);
      assert.ok(book.reconnects >= 2, JSON.stringify(book));
      assert.ok(
        book.counters.snapshots >= 1 + book.reconnects + book.counters.gaps,
        JSON.stringify(book.counters),
      );
      assert.ok(book.updates > 15_000, `${book.updates} updates applied`);
      assert.ok(book.latencyUs.count > 15_000);
      assert.equal(book.mbufsLeaked, 0);
      console.log(
        `gaps ${book.counters.gaps}, reconnects ${book.reconnects}, snapshots ` +
          `${book.counters.snapshots}, tick→book p50 ${book.latencyUs.p50} p99 ` +
          `${book.latencyUs.p99} µs; simulator ${JSON.stringify(stats)}`,
      );
    } finally {
      await sim.stop();
    }
  }),
});

Deno.test({
  name:
    "orderbook.ts over DPDK, Kraken v2: dropped updates are checksum mismatches, resubscribed; the top 10 equals the truth",
  ignore: NEEDS_ROOT,
  fn: withVeth(87, async (v) => {
    const sim = await simulator(v, ["--rate", "1000", "--run", "8", "--drop-every", "700"]);
    try {
      const book = await orderbook(v, [
        ...["--exchange", "kraken", "--symbol", "BTC/USD", "--depth", "10", "--duration", "11"],
        ...["--ws", `ws://${v.peerIp}:${PORT}/v2`],
      ]);
      const truth = await sim.get(`/truth?symbol=${encodeURIComponent("BTC/USD")}`);
      assert.equal(book.state, "live");
      assert.deepEqual({ bids: book.bids, asks: book.asks }, top(truth, 10));
      assert.ok(book.counters.mismatches >= 3, JSON.stringify(book.counters));
      assert.equal(book.counters.snapshots, 1 + book.counters.mismatches);
      assert.equal(book.mbufsLeaked, 0);
    } finally {
      await sim.stop();
    }
  }),
});

Deno.test({
  name:
    "orderbook.ts over DPDK with wss:// and https:// (TLS 1.3 over the stack), and --kernel: both equal the truth",
  ignore: NEEDS_ROOT,
  fn: withVeth(88, async (v, dir) => {
    makeCertificates(dir, "feed.test", [v.peerIp]);
    // --kernel leaves from the host's end of the veth: give it an address.
    sh("ip", "addr", "add", `10.99.88.3/24`, "dev", v.host);
    const sim = await simulator(v, [
      ...["--rate", "1000", "--run", "5", "--drop-every", "1000"],
      ...["--cert", `${dir}/server.pem`, "--key", `${dir}/server.key`],
    ]);
    try {
      const common = [
        ...["--exchange", "binance", "--symbol", "BTCUSDT", "--duration", "8"],
        ...[
          "--ws",
          `wss://feed.test:${PORT}/ws/btcusdt@depth`,
          "--rest",
          `https://feed.test:${PORT}`,
        ],
      ];
      const ours = await orderbook(v, [...common, "--address", v.peerIp, "--ca", `${dir}/ca.pem`]);
      const truth = top(await sim.get("/truth?symbol=BTCUSDT"), 20);
      assert.deepEqual({ bids: ours.bids, asks: ours.asks }, truth);
      assert.ok(ours.counters.gaps >= 2);
      // Deno's fetch and WebSocket take the CA from DENO_CERT, and the name from /etc/hosts:
      // name the namespace's address in the URL instead, with a certificate for it.
      const kernel = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "--allow-all", `${ROOT}/examples/orderbook.ts`, "--", "--kernel", "--json"],
          ...common.map((a) => a.replace("feed.test", v.peerIp)),
        ],
        env: { DENO_CERT: `${dir}/ca.pem` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(kernel.stderr);
      assert.equal(kernel.code, 0, err);
      const k = JSON.parse(new TextDecoder().decode(kernel.stdout).trim().split("\n").at(-1)!);
      assert.deepEqual({ bids: k.bids, asks: k.asks }, truth);
    } finally {
      await sim.stop();
    }
  }),
});
