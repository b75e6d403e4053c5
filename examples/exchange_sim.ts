/**
 * exchange_sim: a market-data exchange simulator on Deno's own HTTP server and WebSockets (the
 * kernel's TCP), to test and time order-book clients without an exchange. One port serves a
 * Binance-like spot instrument and a Kraken-like v2 pair, each a seeded random-walk book
 * (`_sim_book.ts`) that changes `--rate` times a second:
 *
 *   deno run --allow-net --allow-ffi --allow-read examples/exchange_sim.ts --listen HOST:PORT \
 *     [--symbol BTCUSDT] [--kraken-symbol BTC/USD] [--rate N] [--seed N] [--levels N] [--run S] \
 *     [--drop-every N] [--disconnect-every S] [--max-buffered BYTES] [--ping-every S] \
 *     [--cert FILE --key FILE]
 *
 * Endpoints:
 * - `GET /api/v3/depth?symbol=BTCUSDT&limit=N`: Binance's REST snapshot (`limit` default 100,
 *   at most 5000), `{"lastUpdateId":..,"bids":[["27000.50","1.50000000"],...],"asks":[...]}`;
 *   an unknown symbol is a 400 `{"code":-1121,"msg":"Invalid symbol."}`.
 * - WebSocket `/ws/btcusdt@depth` (or `@depth@100ms`): every update as its own `depthUpdate`
 *   text message, `{"e":"depthUpdate","E":<ms>,"s":"BTCUSDT","U":..,"u":..,"b":[..],"a":[..],
 *   "ts":<ns>}`.
 * - WebSocket `/v2`: Kraken v2's `book` channel. The client sends
 *   `{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10}}`; the
 *   server acknowledges, sends a snapshot of the top `depth` levels, then updates with their
 *   CRC32 checksums, and `{"channel":"heartbeat"}` once a second when nothing else was sent.
 *   `unsubscribe` and `ping` are answered too; subscribing twice is refused ("Already
 *   subscribed"), as Kraken does: a client resyncing after a checksum mismatch unsubscribes first.
 * - `GET /truth?symbol=S`: the whole true book, in the REST snapshot's format (S is the Binance
 *   symbol or the Kraken pair, `BTC%2FUSD`).
 * - `GET /stats`: counters as JSON (connections, messages sent, updates dropped, disconnects,
 *   slow-consumer closes, and each book's update id).
 *
 * Every book message ends with a non-standard field `"ts"`: the send time in integer nanoseconds
 * of CLOCK_MONOTONIC (`monotonicNs` in `_clock.ts`), read right before `send`. Every process on the
 * machine shares that clock, so a client on the same host subtracts it from its own reading to
 * get the latency from `send` to its parse.
 *
 * Faults, as exchanges produce them: `--drop-every N` does not send every Nth update to each
 * connection (a Binance client sees a gap in `U`/`u`; a Kraken client's next checksum does not
 * match); `--disconnect-every S` closes each WebSocket S seconds after it opened (1001 "going
 * away", as Binance does after 24 h); a connection whose unsent backlog (`bufferedAmount`)
 * exceeds `--max-buffered` is closed with 1008 "slow consumer"; `--ping-every S` pings a client
 * that sent nothing for S seconds and closes it (1001) when no pong comes within S more (Deno's
 * `idleTimeout`, set to 2 S). `--run S` stops the books after S seconds (connections stay open),
 * so a client can be compared with `/truth`.
 *
 * It prints `exchange_sim: listening on http://HOST:PORT (binance BTCUSDT, kraken BTC/USD, N
 * updates/s, seed S)` once listening, its counters on stderr every 5 s, and a summary when
 * SIGINT or SIGTERM stops it (exit 0).
 *
 * ```sh
 * deno run --allow-net --allow-ffi --allow-read examples/exchange_sim.ts \
 *   --listen 127.0.0.1:9443 --rate 10000 --seed 7 &
 * curl 'http://127.0.0.1:9443/api/v3/depth?symbol=BTCUSDT&limit=5'
 * deno run --allow-net --allow-ffi --allow-read --allow-env examples/wscat.ts -- --kernel \
 *   ws://127.0.0.1:9443/ws/btcusdt@depth
 * ```
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { Cli, integer, seconds, value } from "./_cli.ts";
import { monotonicNs } from "./_clock.ts";
import {
  KRAKEN_DEPTHS,
  KRAKEN_HEARTBEAT,
  krakenError,
  krakenStatus,
  krakenSubscribed,
  krakenTime,
  krakenUnsubscribed,
  KrakenView,
  SimBook,
  stamp,
} from "./_sim_book.ts";

/** How often the books are stepped (as many steps as the time since the last tick calls for). */
const TICK_MS = 1;
/** Steps per tick at most: behind by more (a stalled loop), the rest are skipped. */
const MAX_STEPS_PER_TICK = 2000;
/** How often the counters go to stderr. */
const STATS_INTERVAL_MS = 5000;
/** Kraken's heartbeat: sent when nothing else was sent for this long. */
const HEARTBEAT_MS = 1000;
/** Binance's REST depth: the default and largest `limit`. */
const DEFAULT_LIMIT = 100, MAX_LIMIT = 5000;
/** Seeds the Kraken book apart from the Binance one. */
const KRAKEN_SEED_SALT = 0x9e3779b9;
/** WebSocket close codes (RFC 6455 §7.4.1): going away, policy violation. */
const GOING_AWAY = 1001, POLICY_VIOLATION = 1008;

/** One instrument: its book and how many steps it has made. */
interface Market {
  readonly symbol: string;
  readonly book: SimBook;
  steps: number;
}

/** One WebSocket and what the server keeps about it. */
interface Connection {
  readonly socket: WebSocket;
  readonly id: number;
  /** Updates meant for this connection so far (for `--drop-every`). */
  updates: number;
  /** When something was last sent (performance.now()), for Kraken's heartbeat. */
  lastSent: number;
  /** Kraken: the subscription, if any. */
  view?: KrakenView;
  /** Between its open and its (first) close event. */
  open: boolean;
  disconnectTimer?: ReturnType<typeof setTimeout>;
}

/** The server's counters (`GET /stats`). */
interface Counters {
  connectionsOpened: number;
  connectionsOpen: number;
  messagesSent: number;
  updatesDropped: number;
  disconnects: number;
  slowConsumerCloses: number;
  pingTimeouts: number;
  restRequests: number;
  stepsSkipped: number;
}

/** Parses `HOST:PORT` (`[::1]:PORT` for IPv6). */
function parseListen(text: string): { hostname: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  return port <= 65535 ? { hostname: m[1] ?? m[2], port } : undefined;
}

/** A file's text, read now so a wrong path is a usage error. */
function readable(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(e instanceof Error ? e.message.replace(/ \(os error \d+\).*$/, "") : String(e));
  }
}

function json(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json;charset=UTF-8" },
  });
}

function main(): void {
  const cli = new Cli(
    "exchange_sim",
    "usage: exchange_sim.ts --listen HOST:PORT [--symbol BTCUSDT] [--kraken-symbol BTC/USD]\n" +
      "                       [--rate N] [--seed N] [--levels N] [--run S] [--drop-every N]\n" +
      "                       [--disconnect-every S] [--max-buffered BYTES] [--ping-every S]\n" +
      "                       [--cert FILE --key FILE]\n" +
      "  --listen HOST:PORT      where to serve (port 0: any free port, printed)\n" +
      "  --symbol S              the Binance symbol (default BTCUSDT; prices 0.01, sizes 1e-8)\n" +
      "  --kraken-symbol P       the Kraken v2 pair (default BTC/USD; prices 0.1, sizes 1e-8)\n" +
      "  --rate N                updates per second of each book (default 1000; 0: none)\n" +
      "  --seed N                the books' seed (default 1): the same seed, the same updates\n" +
      "  --levels N              levels per side of each book (default 100)\n" +
      "  --run S                 stop the books after S seconds (default 0: never)\n" +
      "  --drop-every N          do not send every Nth update to each connection (default 0)\n" +
      "  --disconnect-every S    close each WebSocket S s after it opened, 1001 (default 0: never)\n" +
      "  --max-buffered BYTES    close a connection with more unsent, 1008 (default 4194304)\n" +
      "  --ping-every S          ping a client silent for S s; close if no pong in S s more\n" +
      "                          (default 20, as Binance; 0: never)\n" +
      "  --cert FILE --key FILE  serve https and wss with this certificate and key (PEM)",
  );
  const opts = cli.parse(Deno.args, {
    listen: value("HOST:PORT like 127.0.0.1:9443", parseListen),
    symbol: value(
      "a symbol like BTCUSDT (letters and digits)",
      (t) => /^[A-Za-z0-9]{2,20}$/.test(t) ? t.toUpperCase() : undefined,
      { default: "BTCUSDT" },
    ),
    "kraken-symbol": value(
      "a pair like BTC/USD",
      (t) => /^[A-Z0-9]{1,10}\/[A-Z0-9]{1,10}$/.test(t) ? t : undefined,
      { default: "BTC/USD" },
    ),
    rate: integer(0, 1_000_000, { default: 1000 }),
    seed: integer(0, 0xffffffff, { default: 1 }),
    levels: integer(2, 5000, { default: 100 }),
    run: seconds({ note: "0: never" }),
    "drop-every": integer(0, Infinity, { default: 0 }),
    "disconnect-every": seconds({ note: "0: never" }),
    "max-buffered": integer(0, Infinity, { default: 4 * 1024 * 1024 }),
    "ping-every": seconds({ default: 20, note: "0: never" }),
    cert: value("a readable PEM file", readable),
    key: value("a readable PEM file", readable),
  });
  const listen = opts.listen ?? cli.usageError("--listen HOST:PORT is needed");
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    cli.usageError("--cert and --key go together");
  }
  if (opts.symbol.toLowerCase() === opts["kraken-symbol"].toLowerCase()) {
    cli.usageError("--symbol and --kraken-symbol must differ");
  }

  const binance: Market = {
    symbol: opts.symbol,
    book: new SimBook({ seed: opts.seed, levelsPerSide: opts.levels }),
    steps: 0,
  };
  const kraken: Market = {
    symbol: opts["kraken-symbol"],
    book: new SimBook({
      seed: (opts.seed ^ KRAKEN_SEED_SALT) >>> 0,
      priceScale: 1,
      levelsPerSide: opts.levels,
    }),
    steps: 0,
  };
  const rate = opts.rate, runMs = opts.run * 1000, dropEvery = opts["drop-every"];
  const maxBuffered = opts["max-buffered"];
  const streams = new Set<Connection>(); // Binance depth streams
  const subscribers = new Set<Connection>(); // Kraken connections with a subscription
  const krakenConnections = new Set<Connection>();
  const c: Counters = {
    connectionsOpened: 0,
    connectionsOpen: 0,
    messagesSent: 0,
    updatesDropped: 0,
    disconnects: 0,
    slowConsumerCloses: 0,
    pingTimeouts: 0,
    restRequests: 0,
    stepsSkipped: 0,
  };
  const start = performance.now();
  let frozen = rate === 0;
  let nextConnectionId = 1;

  /** Sends `text` unless the connection is closing; one with too much unsent is closed. */
  const send = (conn: Connection, text: string): boolean => {
    const socket = conn.socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > maxBuffered) {
      c.slowConsumerCloses++;
      socket.close(POLICY_VIOLATION, "slow consumer");
      return false;
    }
    socket.send(text);
    c.messagesSent++;
    conn.lastSent = performance.now();
    return true;
  };

  /** Whether this update is one `--drop-every` drops for `conn` (it counts the update). */
  const drops = (conn: Connection): boolean => {
    conn.updates++;
    if (dropEvery === 0 || conn.updates % dropEvery !== 0) return false;
    c.updatesDropped++;
    return true;
  };

  const stepBinance = (eventMs: number): void => {
    const book = binance.book, changes = book.step();
    binance.steps++;
    if (streams.size === 0) return;
    const prefix = book.binanceDepthUpdatePrefix(
      binance.symbol,
      book.firstUpdateId,
      book.lastUpdateId,
      changes,
      eventMs,
    );
    for (const conn of streams) {
      if (!drops(conn)) send(conn, stamp(prefix, monotonicNs()));
    }
  };

  const stepKraken = (eventMs: number): void => {
    kraken.book.step();
    kraken.steps++;
    for (const conn of subscribers) {
      const prefix = conn.view!.update(eventMs);
      if (prefix !== undefined && !drops(conn)) send(conn, stamp(prefix, monotonicNs()));
    }
  };

  let lastHeartbeatCheck = start;
  let ticking = false; // a tick still sending (ticks are async: they yield between steps)
  const tick = async (): Promise<void> => {
    if (ticking) return;
    ticking = true;
    const now = performance.now();
    if (!frozen) {
      const elapsed = runMs > 0 ? Math.min(now - start, runMs) : now - start;
      const target = Math.floor(elapsed * rate / 1000);
      let due = target - binance.steps;
      if (due > MAX_STEPS_PER_TICK) { // the loop stalled: skip rather than burst
        c.stepsSkipped += due - MAX_STEPS_PER_TICK;
        binance.steps += due - MAX_STEPS_PER_TICK;
        kraken.steps += due - MAX_STEPS_PER_TICK;
        due = MAX_STEPS_PER_TICK;
      }
      const eventMs = Date.now();
      for (let i = 0; i < due; i++) {
        stepBinance(eventMs);
        stepKraken(eventMs);
        // Deno writes what a WebSocket sends once the callback has returned: a turn of the
        // event loop after each step sends it now, not after the tick's last step (at 10,000/s
        // the first of ten messages would wait ~200 µs for the other nine).
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (runMs > 0 && now - start >= runMs) {
        frozen = true;
        console.error(
          `exchange_sim: --run ${opts.run} s over: books frozen at ${binance.symbol} ` +
            `${binance.book.lastUpdateId}, ${kraken.symbol} ${kraken.book.lastUpdateId}`,
        );
      }
    }
    if (now - lastHeartbeatCheck >= 100) {
      lastHeartbeatCheck = now;
      for (const conn of subscribers) {
        if (now - conn.lastSent >= HEARTBEAT_MS) send(conn, KRAKEN_HEARTBEAT);
      }
    }
    ticking = false;
  };

  const opened = (conn: Connection): void => {
    conn.open = true;
    c.connectionsOpened++;
    c.connectionsOpen++;
    if (opts["disconnect-every"] > 0) {
      conn.disconnectTimer = setTimeout(() => {
        if (conn.socket.readyState !== WebSocket.OPEN) return;
        c.disconnects++;
        conn.socket.close(GOING_AWAY, "going away");
      }, opts["disconnect-every"] * 1000);
    }
  };

  const closed = (conn: Connection, event: CloseEvent): void => {
    if (!conn.open) return; // a socket that failed before opening, or a second close event
    conn.open = false;
    if (conn.disconnectTimer !== undefined) clearTimeout(conn.disconnectTimer);
    if (event.code === GOING_AWAY && event.reason === "No response from ping frame.") {
      c.pingTimeouts++;
    }
    streams.delete(conn);
    subscribers.delete(conn);
    krakenConnections.delete(conn);
    c.connectionsOpen--;
  };

  const upgrade = (req: Request): { conn: Connection; response: Response } => {
    const { socket, response } = Deno.upgradeWebSocket(req, {
      idleTimeout: opts["ping-every"] * 2,
    });
    const conn: Connection = {
      socket,
      id: nextConnectionId++,
      updates: 0,
      lastSent: 0,
      open: false,
    };
    socket.addEventListener("close", (e) => closed(conn, e));
    socket.addEventListener("error", () => {}); // the close event follows
    return { conn, response };
  };

  const krakenRequest = (conn: Connection, data: unknown): void => {
    const timeIn = Date.now();
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(String(data));
      if (typeof msg !== "object" || msg === null) throw new Error();
    } catch {
      send(conn, krakenError("unknown", "Malformed request", timeIn, Date.now()));
      return;
    }
    const method = typeof msg.method === "string" ? msg.method : "unknown";
    const reqId = typeof msg.req_id === "number" ? msg.req_id : undefined;
    const fail = (error: string, symbol?: string) =>
      send(conn, krakenError(method, error, timeIn, Date.now(), reqId, symbol));
    if (method === "ping") {
      const id = reqId === undefined ? "" : `,"req_id":${reqId}`;
      send(
        conn,
        `{"method":"pong"${id},"time_in":"${krakenTime(timeIn)}",` +
          `"time_out":"${krakenTime(Date.now())}"}`,
      );
      return;
    }
    if (method !== "subscribe" && method !== "unsubscribe") return void fail("Method not found");
    const params = msg.params as Record<string, unknown> | undefined;
    if (typeof params !== "object" || params === null) return void fail("Missing params");
    if (params.channel !== "book") {
      return void fail(`Channel not supported: the simulator has only book`);
    }
    const symbols = params.symbol;
    if (!Array.isArray(symbols) || symbols.length === 0) return void fail("Missing symbol");
    const depth = params.depth ?? 10;
    if (typeof depth !== "number" || !KRAKEN_DEPTHS.includes(depth)) {
      return void fail(`Invalid depth: ${JSON.stringify(depth)} (${KRAKEN_DEPTHS.join(", ")})`);
    }
    const snapshot = params.snapshot !== false;
    for (const symbol of symbols) {
      if (symbol !== kraken.symbol) {
        fail(`Currency pair not supported ${symbol}`, String(symbol));
        continue;
      }
      if (method === "unsubscribe") {
        if (conn.view === undefined) {
          fail("Subscription Not Found", symbol);
          continue;
        }
        const had = conn.view.depth;
        conn.view = undefined;
        subscribers.delete(conn);
        send(conn, krakenUnsubscribed(symbol, had, timeIn, Date.now(), reqId));
        continue;
      }
      if (conn.view !== undefined) {
        fail("Already subscribed", symbol);
        continue;
      }
      const view = new KrakenView(kraken.book, depth, symbol);
      conn.view = view;
      subscribers.add(conn);
      send(conn, krakenSubscribed(symbol, depth, snapshot, timeIn, Date.now(), reqId));
      const text = view.snapshot(); // the view starts here even when no snapshot is sent
      if (snapshot) send(conn, stamp(text, monotonicNs()));
    }
  };

  const marketOf = (symbol: string | null): Market | undefined =>
    symbol === binance.symbol ? binance : symbol === kraken.symbol ? kraken : undefined;

  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    const path = url.pathname;
    const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    const stream = /^\/ws\/([a-z0-9]+)@depth(?:@100ms)?$/.exec(path);
    if (stream !== null || path === "/v2") {
      if (!isUpgrade) return new Response("expected a WebSocket upgrade\n", { status: 400 });
      if (stream !== null && stream[1] !== binance.symbol.toLowerCase()) {
        return new Response(
          `no stream ${stream[1]}@depth (try ${binance.symbol.toLowerCase()})\n`,
          {
            status: 404,
          },
        );
      }
      const { conn, response } = upgrade(req);
      if (stream !== null) {
        conn.socket.addEventListener("open", () => {
          opened(conn);
          streams.add(conn);
        });
      } else {
        conn.socket.addEventListener("open", () => {
          opened(conn);
          krakenConnections.add(conn);
          send(conn, krakenStatus(conn.id));
        });
        conn.socket.addEventListener("message", (e) => krakenRequest(conn, e.data));
      }
      return response;
    }
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    if (path === "/api/v3/depth" || path === "/truth") {
      c.restRequests++;
      const symbol = url.searchParams.get("symbol");
      if (symbol === null || symbol === "") {
        return json(
          `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, ` +
            `or malformed."}`,
          400,
        );
      }
      const market = path === "/truth"
        ? marketOf(symbol)
        : symbol === binance.symbol
        ? binance
        : undefined;
      if (market === undefined) return json(`{"code":-1121,"msg":"Invalid symbol."}`, 400);
      if (path === "/truth") return json(market.book.binanceSnapshot(Infinity));
      const limitText = url.searchParams.get("limit");
      let limit = DEFAULT_LIMIT;
      if (limitText !== null) {
        if (!/^[0-9]{1,20}$/.test(limitText) || Number(limitText) < 1) {
          return json(
            `{"code":-1100,"msg":"Illegal characters found in parameter 'limit'; ` +
              `legal range is '^[0-9]{1,20}$'."}`,
            400,
          );
        }
        limit = Math.min(Number(limitText), MAX_LIMIT);
      }
      return json(market.book.binanceSnapshot(limit));
    }
    if (path === "/stats") return json(JSON.stringify(stats()));
    return new Response("not found\n", { status: 404 });
  };

  const stats = () => ({
    uptimeSeconds: Math.round(performance.now() - start) / 1000,
    frozen,
    ...c,
    binance: {
      symbol: binance.symbol,
      updates: binance.steps,
      lastUpdateId: binance.book.lastUpdateId,
      streams: streams.size,
    },
    kraken: {
      symbol: kraken.symbol,
      updates: kraken.steps,
      lastUpdateId: kraken.book.lastUpdateId,
      connections: krakenConnections.size,
      subscribers: subscribers.size,
    },
  });

  const line = () =>
    `${((performance.now() - start) / 1000).toFixed(0)} s: ${binance.symbol} ` +
    `${binance.steps} updates (id ${binance.book.lastUpdateId}), ${kraken.symbol} ` +
    `${kraken.steps}${frozen ? " (frozen)" : ""} | open ${c.connectionsOpen} ` +
    `(opened ${c.connectionsOpened}) | sent ${c.messagesSent} | dropped ${c.updatesDropped} | ` +
    `disconnects ${c.disconnects} | slow ${c.slowConsumerCloses} | ping timeouts ` +
    `${c.pingTimeouts} | rest ${c.restRequests}`;

  const secure = opts.cert !== undefined;
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    ...(secure ? { cert: opts.cert!, key: opts.key! } : {}),
    onListen: (addr) => {
      const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
      console.log(
        `exchange_sim: listening on ${secure ? "https" : "http"}://${host}:${addr.port} ` +
          `(binance ${binance.symbol}, kraken ${kraken.symbol}, ${rate} updates/s, ` +
          `seed ${opts.seed})`,
      );
    },
    onError: (e) => {
      console.error(`exchange_sim: ${e instanceof Error ? e.message : e}`);
      return new Response("internal error\n", { status: 500 });
    },
  }, handler);

  const ticker = setInterval(tick, TICK_MS);
  const reporter = setInterval(() => console.error(`exchange_sim: ${line()}`), STATS_INTERVAL_MS);

  let stopping = false;
  const stop = async (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    clearInterval(reporter);
    for (const conn of [...streams, ...krakenConnections]) {
      if (conn.socket.readyState === WebSocket.OPEN) conn.socket.close(GOING_AWAY, "going away");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown(),
      new Promise((resolve) => timer = setTimeout(resolve, 500)),
    ]);
    clearTimeout(timer);
    console.error(`exchange_sim: ${signal} received; summary: ${line()}`);
    console.error(`exchange_sim: ${JSON.stringify(stats())}`);
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => void stop(signal));
  }
}

if (import.meta.main) main();
