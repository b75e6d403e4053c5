/**
 * orderbook: a local order book kept from an exchange's depth feed over deno-dpdk's own TCP/IP
 * stack: WebSocket (`ws://`, or `wss://` with TLS over the stack), the REST snapshot over
 * HTTP/1.1, and the exchange's procedure (Binance's diff depth with snapshot and resync,
 * Kraken's v2 `book` with its CRC32 checksum). Every second it prints the best bid and ask,
 * updates/s, gaps, resyncs and the tick-to-book latency (the message's send time → the book
 * updated; only with the simulator's send stamp, on the same machine).
 *
 *   deno run -A examples/orderbook.ts [EAL args] -- \
 *     (--ip 10.99.3.2/24 [--gateway 10.99.3.1] | --dhcp) \
 *     --exchange binance|kraken --ws URL [--rest URL] --symbol S [--duration S] [--json]
 *
 * With no EAL arguments and no `--ws` it is a demo: it creates a TAP interface (`dtap0`),
 * gives the kernel's end 10.99.3.1/24, starts `examples/exchange_sim.ts` there and keeps the
 * simulator's book over the stack at 10.99.3.2 (needs root, as DPDK does). `--kernel` runs the
 * same feed code over Deno's own `WebSocket` and `fetch` (kernel sockets), for comparison.
 * `--json` prints, at the end, the top 20 levels per side and the counters as one JSON object
 * on stdout (the live lines go to stderr then).
 *
 * Real exchanges (untested here: this machine has no internet; there is no name lookup on the
 * stack, so give the address with `--address`):
 *
 *   --exchange binance --symbol BTCUSDT --ws wss://stream.binance.com:9443/ws/btcusdt@depth@100ms \
 *     --rest https://api.binance.com --address A.B.C.D
 *   --exchange kraken --symbol BTC/USD --ws wss://ws.kraken.com/v2 --address A.B.C.D
 *
 * @module
 */
import { Eal, splitArgs, StopSignal } from "../mod.ts";
import { ipv4ToString } from "../net/mod.ts";
import { StackDriver } from "../stack/mod.ts";
import { Backoff, HttpClient, Reconnector, WebSocketClient } from "../ws/mod.ts";
import {
  BinanceDepthSync,
  DepthDecoder,
  type DepthEvent,
  type DepthSnapshot,
  type FeedState,
  fromUnits,
  type KrakenBookData,
  KrakenBookSync,
  LatencyHistogram,
  OrderBook,
  Side,
} from "../market/mod.ts";
import { choice, Cli, flag, integer, number, seconds, text, value } from "./_cli.ts";
import { nsSince } from "./_clock.ts";
import {
  connectTarget,
  DEFAULT_EAL,
  DEFAULT_TAP,
  hostHeader,
  NET_OPTIONS,
  NET_USAGE,
  openHost,
  parseUrl,
  URL_OPTIONS,
  type UrlTarget,
  urlUsage,
} from "./_net.ts";

/** The demo's addresses: the kernel's end of the TAP (the simulator) and ours. */
const DEMO_SIM = "10.99.3.1", DEMO_IP = "10.99.3.2/24", DEMO_PORT = 8765;
const TOP = 20; // levels per side in --json

const cli: Cli = new Cli(
  "orderbook",
  "usage: orderbook.ts [EAL args] -- (--ip A.B.C.D/N [--gateway A.B.C.D] | --dhcp)\n" +
    "                    --exchange binance|kraken --ws URL [--rest URL] --symbol S\n" +
    "                    [--duration S] [--json] [--kernel]\n" +
    "  --exchange E        binance (diff depth + REST snapshot) or kraken (v2 book)\n" +
    "  --ws URL            the depth stream: ws://HOST[:PORT]/path or wss://...\n" +
    "  --rest URL          binance: the REST base, http(s)://HOST[:PORT] (snapshots)\n" +
    "  --symbol S          BTCUSDT (binance), BTC/USD (kraken)\n" +
    "  --futures           binance USD-M futures rules (pu) and /fapi/v1/depth\n" +
    "  --limit N           binance: levels per side of a snapshot (default 1000)\n" +
    "  --depth N           kraken: the subscribed depth, 10|25|100|500|1000 (default 10)\n" +
    "  --price-decimals N  the tick size's decimals (default 2 binance, 1 kraken)\n" +
    "  --qty-decimals N    the lot size's decimals (default 8)\n" +
    "  --duration S        exit 0 after S seconds (default 0: at Ctrl-C)\n" +
    "  --json              at the end, the top 20 levels per side and the counters as JSON\n" +
    "  --kernel            Deno's WebSocket and fetch (kernel sockets) instead of the stack\n" +
    "  --rate N            demo: the simulator's updates/s (default 1000)\n" +
    "  --warmup S          count tick-to-book latencies only after S seconds (default 0)\n" +
    "  --turn-ms MS        ws://, while live: a turn of the event loop (timers, promises)\n" +
    "                      every MS ms between poll rounds (default 20; 0: every round)\n" +
    urlUsage("wss:// and https://") +
    "  --rest-address A.B.C.D  where the REST host is (default: --address)\n" +
    NET_USAGE +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}; with neither EAL args nor ` +
    `--ws, a demo against examples/exchange_sim.ts on ${DEMO_SIM}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  ...NET_OPTIONS,
  ...URL_OPTIONS,
  "rest-address": URL_OPTIONS.address,
  exchange: choice(["binance", "kraken"] as const),
  ws: text(),
  rest: text(),
  symbol: value("a symbol like BTCUSDT", (t) => /^[A-Za-z0-9/_.-]+$/.test(t) ? t : undefined),
  futures: flag(),
  limit: integer(1, 5000, { default: 1000 }),
  depth: integer(10, 1000, { default: 10 }),
  "price-decimals": integer(0, 12),
  "qty-decimals": integer(0, 12, { default: 8 }),
  duration: seconds({ note: "0: until Ctrl-C" }),
  json: flag(),
  kernel: flag(),
  rate: integer(1, 1_000_000, { default: 1000 }),
  warmup: seconds({ note: "latencies before it are not counted" }),
  "turn-ms": number(0, 1000, { default: 20 }),
});
if (opts.ca !== undefined && opts.kernel) {
  cli.usageError(
    "--ca with --kernel: Deno's WebSocket and fetch take CAs from DENO_CERT=FILE instead",
  );
}
const demo = eal.length === 0 && opts.ws === undefined && !opts.kernel && opts.iface === undefined;
const exchange = opts.exchange ?? (demo ? "binance" : undefined);
if (exchange === undefined) cli.usageError("give --exchange binance or --exchange kraken");
if (![10, 25, 100, 500, 1000].includes(opts.depth)) {
  cli.usageError(`--depth ${opts.depth}: Kraken offers 10, 25, 100, 500 or 1000`);
}
const symbol = opts.symbol ?? (demo ? "BTCUSDT" : cli.usageError("give --symbol, like BTCUSDT"));
const priceScale = opts["price-decimals"] ?? (exchange === "kraken" ? 1 : 2);
const qtyScale = opts["qty-decimals"];
const log = opts.json ? console.error : console.log; // stdout is the JSON's then
if (demo) opts.ip ??= DEMO_IP;

// ------------------------------------------------------------------ the feeds (shared by both paths)

/** A connection as a feed sees it: where to send text (a subscription). */
interface Link {
  send(text: string): void;
}

/** What both exchanges' feeds offer the connection code. */
interface Feed {
  readonly book: OrderBook;
  readonly state: FeedState;
  /** Called when the state changes. */
  onState: ((state: FeedState) => void) | null;
  /** The connection is open: subscribe, or start syncing. */
  opened(link: Link): void;
  /** One message, in place (the hot path). */
  message(data: Uint8Array, offset: number, length: number): void;
  /** The connection ended. */
  closed(): void;
  /** Gaps, checksum mismatches and stale snapshots: each meant a resync. */
  readonly resyncs: number;
  /** Messages that updated the live book. */
  readonly updates: number;
  /** The feed's own counters, for the summary. */
  counters(): Record<string, number>;
}

const textOf = new TextDecoder();
const latency = new LatencyHistogram(), lastSecond = new LatencyHistogram();
/**
 * The time from a message's send stamp (`stamps[index]`, ns on CLOCK_MONOTONIC) to now,
 * counted. The stamp stays in its typed array: passed as a number it would be allocated.
 */
function tickToBook(stamps: Float64Array, index: number): void {
  if (stamps[index] < 0) return; // no stamp: a real exchange's clock is not ours
  const ns = nsSince(stamps, index);
  latency.record(ns);
  lastSecond.record(ns);
}
const parsedStamp = new Float64Array(1); // the stamp of a message read by JSON.parse
/** tickToBook for a parsed message's `ts`. */
function tickToBookParsed(ts: number | undefined): void {
  parsedStamp[0] = ts ?? -1;
  tickToBook(parsedStamp, 0);
}

/** Binance diff depth: the zero-allocation decoder on the hot path, JSON.parse otherwise. */
class BinanceFeed implements Feed {
  readonly book = new OrderBook();
  readonly #sync: BinanceDepthSync;
  readonly #decoder = new DepthDecoder({ priceScale, quantityScale: qtyScale });
  readonly #getSnapshot: () => Promise<DepthSnapshot>;
  #fetching = false;
  #connected = false;
  onState: ((state: FeedState) => void) | null = null;
  other = 0; // messages that are no depth update (e.g. a subscription's answer)
  fallbacks = 0; // depth updates the decoder left to JSON.parse

  constructor(getSnapshot: () => Promise<DepthSnapshot>) {
    this.#getSnapshot = getSnapshot;
    this.#sync = new BinanceDepthSync(this.book, {
      priceScale,
      quantityScale: qtyScale,
      futures: opts.futures,
    });
    this.#sync.onSnapshotNeeded = () => this.#snapshot();
    this.#sync.onState = (state) => this.onState?.(state);
  }
  get state(): FeedState {
    return this.#sync.state;
  }
  get resyncs(): number {
    const c = this.#sync.counters;
    return c.gaps + c.staleSnapshots;
  }
  get updates(): number {
    return this.#sync.counters.applied;
  }
  opened(): void {
    this.#connected = true;
    this.#sync.start();
  }
  closed(): void {
    this.#connected = false;
    this.#sync.disconnected();
  }
  message(data: Uint8Array, offset: number, length: number): void {
    const dec = this.#decoder, sync = this.#sync;
    if (dec.decode(data, offset, length)) {
      sync.decoded(dec);
      if (sync.state === "live") tickToBook(dec.ids, 3);
      return;
    }
    const m = JSON.parse(textOf.decode(data.subarray(offset, offset + length)));
    const e = (m.data ?? m) as DepthEvent & { e?: string; ts?: number };
    if (e.e !== "depthUpdate") return void this.other++;
    this.fallbacks++;
    sync.event(e);
    if (sync.state === "live") tickToBookParsed(e.ts);
  }
  /** Fetches a snapshot (one at a time; again after a failure while connected). */
  async #snapshot(): Promise<void> {
    if (this.#fetching) return;
    this.#fetching = true;
    try {
      const s = await this.#getSnapshot();
      if (this.#connected) this.#sync.snapshot(s);
    } catch (e) {
      log(`orderbook: snapshot failed: ${(e as Error).message}; again in 1 s`);
      setTimeout(() => this.#connected && this.#snapshot(), 1000);
    } finally {
      this.#fetching = false;
    }
  }
  counters(): Record<string, number> {
    return { ...this.#sync.counters, fallbacks: this.fallbacks, other: this.other };
  }
  get lastUpdateId(): number {
    return this.#sync.lastUpdateId;
  }
}

/** Kraken v2 `book`: JSON.parse per message; a checksum mismatch resubscribes. */
class KrakenFeed implements Feed {
  readonly book = new OrderBook();
  readonly #sync = new KrakenBookSync(this.book, {
    priceScale,
    quantityScale: qtyScale,
    depth: opts.depth,
  });
  #link: Link | null = null;
  onState: ((state: FeedState) => void) | null = null;
  other = 0;

  constructor() {
    this.#sync.onState = (state) => this.onState?.(state);
    this.#sync.onResync = () => {
      this.#request("unsubscribe");
      this.#request("subscribe");
    };
  }
  get state(): FeedState {
    return this.#sync.state;
  }
  get resyncs(): number {
    return this.#sync.counters.mismatches;
  }
  get updates(): number {
    return this.#sync.counters.updates;
  }
  opened(link: Link): void {
    this.#link = link;
    this.#request("subscribe");
  }
  /** Sends a (un)subscription to the book channel of our symbol and depth. */
  #request(method: "subscribe" | "unsubscribe"): void {
    const params = { channel: "book", symbol: [symbol], depth: opts.depth };
    this.#link?.send(JSON.stringify({ method, params }));
  }
  closed(): void {
    this.#link = null;
    this.#sync.disconnected();
  }
  message(data: Uint8Array, offset: number, length: number): void {
    const m = JSON.parse(textOf.decode(data.subarray(offset, offset + length)));
    if (m.channel === "book" && (m.type === "snapshot" || m.type === "update")) {
      this.#sync.message(m.type, m.data[0] as KrakenBookData);
      if (this.#sync.state === "live") tickToBookParsed(m.ts);
      return;
    }
    if (m.method === "subscribe" && m.success === false) {
      log(`orderbook: kraken refused the subscription: ${m.error}`);
    }
    this.other++;
  }
  counters(): Record<string, number> {
    return { ...this.#sync.counters, other: this.other };
  }
}

// ------------------------------------------------------------------ connecting

const wsUrl = opts.ws ??
  (demo
    ? `ws://${DEMO_SIM}:${DEMO_PORT}` +
      (exchange === "kraken" ? "/v2" : `/ws/${symbol.toLowerCase()}@depth`)
    : undefined);
const restUrl = opts.rest ?? (demo ? `http://${DEMO_SIM}:${DEMO_PORT}` : undefined);
const wsTarget = parseUrl(cli, wsUrl, "ws", "give --ws URL, the depth stream", opts, opts.kernel);
const restTarget = exchange === "binance"
  ? parseUrl(
    cli,
    restUrl,
    "http",
    "binance needs --rest URL, where the snapshots come from",
    { address: opts["rest-address"] ?? opts.address, ca: opts.ca },
    opts.kernel,
  )
  : undefined;
/** The snapshot's path after the REST URL's (`/api/v3/depth?symbol=S&limit=N`). */
const snapshotQuery = `${opts.futures ? "/fapi/v1/depth" : "/api/v3/depth"}?symbol=${symbol}` +
  `&limit=${opts.limit}`;

/** How the program reaches the exchange: the stack, or Deno's kernel sockets. */
interface Path {
  /** Connects and keeps reconnecting, feeding `feed`. */
  connect(feed: Feed): void;
  /** A REST snapshot. */
  snapshot(): Promise<DepthSnapshot>;
  /** Stops connecting and closes; resolves with a note for the summary and the mbufs leaked. */
  stop(): Promise<{ note: string; mbufsLeaked: number }>;
  /** Connections opened after the first. */
  reconnects: number;
  /** The book went live, or stopped being live. */
  live(yes: boolean): void;
}

/** A REST response as a snapshot, or the error naming its status. */
function snapshotFrom(status: number, body: string): DepthSnapshot {
  if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 200)}`);
  return JSON.parse(body) as DepthSnapshot;
}

/** Over deno-dpdk's stack: the port, the stack, a `StackDriver`, a `Reconnector`. */
async function stackPath(): Promise<Path> {
  const { stack, port } = openHost(cli, eal, opts, {}, log);
  if (demo) await startDemo();
  // ws:// runs in poll callbacks: while the book is live, the event loop gets a turn every
  // --turn-ms (each turn leaves ~1 KB of garbage); while it syncs, every millisecond (the REST
  // snapshot's promises resolve in turns). TLS runs on the event loop: a turn every round.
  const liveTurnUs = wsTarget.secure ? 0 : opts["turn-ms"] * 1000;
  const syncTurnUs = wsTarget.secure ? 0 : Math.min(1000, liveTurnUs);
  const driver = new StackDriver(stack, { turnEveryUs: syncTurnUs });
  driver.start();
  await driver.ready();
  const inUseAtStart = port.pool.inUse;
  log(`orderbook: ${ipv4ToString(stack.address)} → ${wsUrl}`);
  const open = (t: UrlTarget) => connectTarget(stack, t);
  let opens = 0;
  const reconnector = new Reconnector(() => new WebSocketClient(open(wsTarget), wsUrl!), {
    heartbeatMs: 10_000,
    initialMs: 100,
    maxMs: 5_000,
  });
  const path: Path = {
    reconnects: 0,
    live: (yes) => driver.turnEveryUs = yes ? liveTurnUs : syncTurnUs,
    connect(feed) {
      reconnector.onOpen = (ws) => feed.opened({ send: (t) => ws.send(t) });
      reconnector.onMessage = (data, offset, length) => feed.message(data, offset, length);
      reconnector.onEvent = (e) => {
        if (e.type === "open") {
          if (opens++ > 0) path.reconnects++;
          return;
        }
        if (e.type === "retry") return;
        feed.closed();
        log(
          `orderbook: ${e.type === "heartbeat" ? "no heartbeat" : `closed ${e.code}`}` +
            `${e.reason ? ` (${e.reason})` : ""}; reconnecting`,
        );
      };
      reconnector.start();
    },
    async snapshot() {
      const http = new HttpClient(open(restTarget!), hostHeader(restTarget!));
      try {
        const r = await http.request("GET", restTarget!.path.replace(/\/$/, "") + snapshotQuery);
        return snapshotFrom(r.status, textOf.decode(r.body));
      } finally {
        http.close();
      }
    },
    async stop() {
      reconnector.onEvent = null;
      reconnector.stop();
      await new Promise((r) => setTimeout(r, 200)); // the closing handshake, then FINs
      await driver.stop();
      const inUse = port.pool.inUse;
      Eal.cleanup();
      return {
        note: `; mbufs in use ${inUse} (at start ${inUseAtStart})`,
        mbufsLeaked: inUse - inUseAtStart,
      };
    },
  };
  return path;
}

/** Over Deno's own WebSocket and fetch (kernel sockets); reconnects with the same backoff. */
function kernelPath(): Path {
  const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
  let ws: WebSocket | null = null, stopped = false, opens = 0;
  let buf = new Uint8Array(65536);
  const enc = new TextEncoder();
  log(`orderbook: kernel sockets → ${wsUrl}`);
  const path: Path = {
    reconnects: 0,
    live: () => {},
    connect(feed) {
      const w = ws = new WebSocket(wsUrl!);
      w.binaryType = "arraybuffer";
      w.onopen = () => {
        if (opens++ > 0) path.reconnects++;
        backoff.reset();
        feed.opened({ send: (t) => w.send(t) });
      };
      w.onmessage = (e) => {
        if (typeof e.data !== "string") {
          const bytes = new Uint8Array(e.data);
          return feed.message(bytes, 0, bytes.length);
        }
        // The decoder reads bytes: the text into one reused buffer (3 bytes per UTF-16 unit).
        if (e.data.length * 3 > buf.length) buf = new Uint8Array(e.data.length * 3);
        feed.message(buf, 0, enc.encodeInto(e.data, buf).written);
      };
      w.onclose = (e) => {
        if (ws !== w) return;
        ws = null;
        feed.closed();
        if (stopped) return;
        log(`orderbook: closed ${e.code}${e.reason ? ` (${e.reason})` : ""}; reconnecting`);
        setTimeout(() => !stopped && path.connect(feed), backoff.next());
      };
    },
    async snapshot() {
      const r = await fetch(restUrl!.replace(/\/$/, "") + snapshotQuery);
      return snapshotFrom(r.status, await r.text());
    },
    stop() {
      stopped = true;
      ws?.close(1000);
      return new Promise((r) => setTimeout(() => r({ note: "", mbufsLeaked: 0 }), 100));
    },
  };
  return path;
}

// ------------------------------------------------------------------ the demo's simulator

let simulator: Deno.ChildProcess | undefined;

/** The demo: the TAP's kernel end gets DEMO_SIM, and the simulator listens there. */
async function startDemo(): Promise<void> {
  const tap = DEFAULT_TAP.replace(/.*iface=/, "");
  for (
    const args of [["addr", "replace", `${DEMO_SIM}/24`, "dev", tap], ["link", "set", tap, "up"]]
  ) {
    const r = await new Deno.Command("ip", { args, stderr: "piped" }).output();
    if (!r.success) cli.fail(`ip ${args.join(" ")}: ${textOf.decode(r.stderr).trim()}`);
  }
  const sim = new URL("./exchange_sim.ts", import.meta.url).href; // a file, or a URL
  simulator = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-ffi",
      "--allow-read",
      sim,
      "--listen",
      `${DEMO_SIM}:${DEMO_PORT}`,
      "--rate",
      String(opts.rate),
    ],
    stdout: "piped",
    stderr: "null", // its counters every 5 s would interleave with ours
  }).spawn();
  const lines = simulator.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await lines.read();
    if (done) cli.fail("the simulator exited before it listened");
    seen += value;
  }
  log(seen.trim());
  lines.cancel(); // the rest of its output is not ours to read
}

// ------------------------------------------------------------------ run

const path = opts.kernel ? kernelPath() : await stackPath();
const feed: Feed = exchange === "binance"
  ? new BinanceFeed(() => path.snapshot())
  : new KrakenFeed();
const stop = StopSignal.trap();
const started = performance.now();
feed.onState = (state) => path.live(state === "live");
path.connect(feed);

const price = (ticks: number) => Number.isNaN(ticks) ? "-" : fromUnits(ticks, priceScale);
const qty = (lots: number) => fromUnits(lots, qtyScale);
const us = (ns: number) => (ns / 1000).toFixed(1);
const percentiles = (h: LatencyHistogram) =>
  h.count === 0
    ? "no send stamps"
    : `p50 ${us(h.percentile(50))} p99 ${us(h.percentile(99))} p99.9 ${us(h.percentile(99.9))} ` +
      `max ${us(h.max)} µs`;
let lastUpdates = 0, lastLine = 0, nextLine = 1, everLive = false, warm = opts.warmup === 0;
await new Promise<void>((done) => {
  const timer = setInterval(() => {
    if (feed.state === "live") everLive = true;
    const elapsed = (performance.now() - started) / 1000;
    if (!warm && elapsed >= opts.warmup) {
      warm = true;
      latency.reset(); // the JIT's first compilations and the first snapshot are behind us
    }
    if (stop.requested || (opts.duration > 0 && elapsed >= opts.duration)) {
      clearInterval(timer);
      return done();
    }
    // A line each whole second; the timer may fire late (a turn of the event loop every
    // --turn-ms), so the rate is over the time since the last line.
    if (elapsed < nextLine) return;
    nextLine = Math.floor(elapsed) + 1;
    const b = feed.book, updates = feed.updates;
    const rate = Math.round((updates - lastUpdates) / (elapsed - lastLine));
    log(
      `[${elapsed.toFixed(0).padStart(4)} s] ${feed.state.padEnd(7)} ` +
        `bid ${price(b.bestBid)} × ${qty(b.bestBidQuantity)}  ask ${price(b.bestAsk)} × ` +
        `${qty(b.bestAskQuantity)} | ${rate} updates/s | resyncs ${feed.resyncs} ` +
        `reconnects ${path.reconnects} | tick→book ${percentiles(lastSecond)}`,
    );
    lastUpdates = updates;
    lastLine = elapsed;
    lastSecond.reset();
  }, 100);
});

const elapsed = (performance.now() - started) / 1000;
const finalState = feed.state; // before the close makes it stale
const { note, mbufsLeaked } = await path.stop();
if (simulator !== undefined) {
  simulator.kill("SIGTERM");
  await simulator.status;
}
const book = feed.book;
log(`\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`);
log(
  `  ${feed.updates} updates, ${feed.resyncs} resyncs, ${path.reconnects} reconnects, ` +
    `state ${finalState}${note}`,
);
log(`  counters: ${JSON.stringify(feed.counters())}`);
log(`  tick→book over the run: ${percentiles(latency)}`);
if (opts.json) {
  const side = (s: number) => book.depth(s, TOP).map(([p, q]) => [price(p), qty(q)]);
  console.log(JSON.stringify({
    exchange,
    symbol,
    path: opts.kernel ? "kernel" : "dpdk",
    url: wsUrl,
    state: finalState,
    bids: side(Side.BID),
    asks: side(Side.ASK),
    ...(feed instanceof BinanceFeed ? { lastUpdateId: feed.lastUpdateId } : {}),
    updates: feed.updates,
    resyncs: feed.resyncs,
    reconnects: path.reconnects,
    counters: feed.counters(),
    latencyUs: {
      count: latency.count,
      p50: latency.percentile(50) / 1000,
      p99: latency.percentile(99) / 1000,
      p999: latency.percentile(99.9) / 1000,
      max: latency.max / 1000,
    },
    mbufsLeaked,
    seconds: elapsed,
  }));
}
Deno.exit(everLive ? 0 : 1);
