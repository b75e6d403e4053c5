// The exchange simulator: its random-walk book (bounded, never crossed, ids contiguous, its
// events rebuild it exactly), its Binance messages through BinanceDepthSync, its Kraken v2
// messages through KrakenBookSync (checksums computed independently on both sides must agree;
// a dropped update must show as a mismatch), and the server end to end over loopback.
import assert from "node:assert/strict";
import {
  BinanceDepthSync,
  type DepthEvent,
  type DepthSnapshot,
  type KrakenBookData,
  KrakenBookSync,
  OrderBook,
  Side,
  toUnits,
} from "../../market/mod.ts";
import {
  crc32Ieee,
  fixed,
  jsonNumber,
  krakenBookChecksum,
  krakenTime,
  KrakenView,
  Prng,
  SimBook,
  type SimChange,
  stamp,
} from "../../examples/_sim_book.ts";
import { monotonicNs } from "../../examples/_clock.ts";

const TEST_OPTIONS = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };

// libc stays open for the process once read: open it here, not inside a test (the sanitizer
// would count it as a leak).
monotonicNs();

/** Both sides of `book`, best first. */
function sides(book: OrderBook, n = Infinity): [[number, number][], [number, number][]] {
  return [book.depth(Side.BID, n), book.depth(Side.ASK, n)];
}

function simSides(book: SimBook, n = Infinity): [[number, number][], [number, number][]] {
  return [book.levels(Side.BID, n), book.levels(Side.ASK, n)];
}

Deno.test("Prng: deterministic per seed, in [0, 1)", TEST_OPTIONS, () => {
  const a = new Prng(42), b = new Prng(42), c = new Prng(43);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 1000 }, () => c.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

Deno.test("formatting: fixed decimals, JSON numbers, Kraken times, CRC-32", TEST_OPTIONS, () => {
  assert.equal(fixed(2700050, 2), "27000.50");
  assert.equal(fixed(150000000, 8), "1.50000000");
  assert.equal(fixed(1, 8), "0.00000001");
  assert.equal(fixed(7, 0), "7");
  assert.equal(jsonNumber(270001, 1), "27000.1");
  assert.equal(jsonNumber(270000, 1), "27000");
  assert.equal(jsonNumber(150000000, 8), "1.5");
  assert.equal(jsonNumber(1, 8), "0.00000001");
  assert.equal(krakenTime(Date.UTC(2026, 10, 26, 4)), "2026-11-26T04:00:00.000000Z");
  assert.equal(crc32Ieee("123456789"), 0xcbf43926);
  assert.equal(crc32Ieee(""), 0);
  // Kraken's guide: 45285.2 with 0.00100000 is written "452852100000".
  assert.equal(krakenBookChecksum([[452852, 100000]], [], 1, 8), crc32Ieee("452852100000"));
  // Asks first (lowest first), then bids (highest first), 10 of each at most.
  const asks: [number, number][] = Array.from({ length: 12 }, (_, i) => [452860 + i, 5 + i]);
  const bids: [number, number][] = [[452850, 200000000]];
  const text = asks.slice(0, 10).map(([p, q]) => `${p}${q}`).join("") + "452850200000000";
  assert.equal(krakenBookChecksum(asks, bids, 1, 8), crc32Ieee(text));
});

Deno.test(
  "SimBook: 100,000 steps, bounded, never crossed, ids contiguous, events rebuild it",
  TEST_OPTIONS,
  () => {
    const book = new SimBook({ seed: 11 });
    const twin = new SimBook({ seed: 11 });
    assert.equal(book.count(Side.BID), 100);
    assert.equal(book.count(Side.ASK), 100);
    assert.equal(book.bestBid, 2699999);
    assert.equal(book.bestAsk, 2700001);
    // The naive book: a Map per side, sorted when compared.
    const naive = [new Map<number, number>(), new Map<number, number>()];
    for (const side of [Side.BID, Side.ASK]) {
      for (const [p, q] of book.levels(side)) naive[side].set(p, q);
    }
    const naiveLevels = (side: number) =>
      [...naive[side]].sort((x, y) => side === Side.BID ? y[0] - x[0] : x[0] - y[0]);
    let id = book.lastUpdateId, touchMoves = 0, deletes = 0, maxChanges = 0;
    let lastBid = book.bestBid;
    for (let i = 0; i < 100_000; i++) {
      const changes = book.step();
      assert.deepEqual(changes, twin.step(), "the same seed gives the same events");
      assert.ok(changes.length >= 1, "every event changes something");
      maxChanges = Math.max(maxChanges, changes.length);
      assert.equal(book.firstUpdateId, id + 1);
      assert.equal(book.lastUpdateId, id + changes.length);
      id = book.lastUpdateId;
      const seen = new Set<string>();
      for (const [side, price, qty] of changes) {
        const key = `${side}:${price}`;
        assert.ok(!seen.has(key), `level ${key} changed twice in one event`);
        seen.add(key);
        assert.ok(Number.isSafeInteger(qty) && qty >= 0);
        if (qty === 0) {
          naive[side].delete(price);
          deletes++;
        } else naive[side].set(price, qty);
      }
      assert.ok(book.bestBid < book.bestAsk, `crossed or locked at step ${i}`);
      assert.ok(book.count(Side.BID) <= 100 && book.count(Side.ASK) <= 100);
      assert.ok(book.count(Side.BID) >= 2 && book.count(Side.ASK) >= 2);
      if (book.bestBid !== lastBid) touchMoves++;
      lastBid = book.bestBid;
      if (i % 997 === 0) {
        assert.deepEqual(book.levels(Side.BID), naiveLevels(Side.BID));
        assert.deepEqual(book.levels(Side.ASK), naiveLevels(Side.ASK));
      }
    }
    assert.deepEqual(book.levels(Side.BID), naiveLevels(Side.BID));
    assert.deepEqual(book.levels(Side.ASK), naiveLevels(Side.ASK));
    assert.deepEqual(book.levels(Side.BID, 3), naiveLevels(Side.BID).slice(0, 3));
    assert.ok(touchMoves > 1000, `the touch moves (${touchMoves})`);
    assert.ok(deletes > 10_000, `levels are deleted (${deletes})`);
    assert.ok(maxChanges >= 4);
    // It stays near full and around its price.
    assert.ok(book.count(Side.BID) > 80 && book.count(Side.ASK) > 80);
    assert.ok(book.bestAsk - book.bestBid <= 20, `spread ${book.bestAsk - book.bestBid}`);
  },
);

Deno.test("Binance: the messages' text in the documented format", TEST_OPTIONS, () => {
  const book = new SimBook({ seed: 3, levelsPerSide: 2 });
  assert.equal(
    book.binanceSnapshot(1),
    `{"lastUpdateId":1000000,"bids":[["26999.99","${fixed(book.levels(Side.BID)[0][1], 8)}"]],` +
      `"asks":[["27000.01","${fixed(book.levels(Side.ASK)[0][1], 8)}"]]}`,
  );
  const changes: SimChange[] = [[Side.BID, 2700050, 150000000], [Side.ASK, 2700100, 0]];
  assert.equal(
    book.binanceDepthUpdate("BTCUSDT", 7, 8, changes, 1700000000123, 987654321),
    '{"e":"depthUpdate","E":1700000000123,"s":"BTCUSDT","U":7,"u":8,' +
      '"b":[["27000.50","1.50000000"]],"a":[["27001.00","0.00000000"]],"ts":987654321}',
  );
  assert.equal(
    stamp(book.binanceDepthUpdatePrefix("BTCUSDT", 7, 8, [], 1), 5),
    '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":7,"u":8,"b":[],"a":[],"ts":5}',
  );
});

Deno.test(
  "Binance: snapshot and 20,000 events through BinanceDepthSync rebuild the book; a skipped event is a gap",
  TEST_OPTIONS,
  () => {
    const sim = new SimBook({ seed: 5 });
    const book = new OrderBook();
    const sync = new BinanceDepthSync(book, { priceScale: 2, quantityScale: 8 });
    let asked = 0;
    sync.onSnapshotNeeded = () => asked++;
    sync.start();
    const event = (ms: number) => {
      const changes = sim.step();
      return sim.binanceDepthUpdate("BTCUSDT", sim.firstUpdateId, sim.lastUpdateId, changes, ms, 1);
    };
    // As a client does it: the stream buffers while the snapshot (taken meanwhile) is on its way.
    let snapshot = "";
    for (let i = 0; i < 100; i++) {
      if (i === 40) snapshot = sim.binanceSnapshot(5000);
      sync.event(JSON.parse(event(i)) as DepthEvent);
    }
    sync.snapshot(JSON.parse(snapshot) as DepthSnapshot);
    assert.equal(sync.state, "live");
    assert.ok(sync.counters.dropped > 0, "events already in the snapshot are dropped");
    for (let i = 0; i < 20_000; i++) {
      const e = JSON.parse(event(i)) as DepthEvent & { e: string; ts: number };
      assert.equal(e.e, "depthUpdate");
      assert.equal(e.ts, 1);
      sync.event(e);
    }
    assert.equal(sync.counters.gaps, 0);
    assert.equal(sync.lastUpdateId, sim.lastUpdateId);
    assert.deepEqual(sides(book), simSides(sim));
    // One event lost: the next one is a gap, and a new snapshot repairs the book.
    event(0);
    sync.event(JSON.parse(event(1)) as DepthEvent);
    assert.equal(sync.counters.gaps, 1);
    assert.equal(sync.state, "syncing");
    assert.equal(asked, 2);
    sync.event(JSON.parse(event(2)) as DepthEvent);
    sync.snapshot(JSON.parse(sim.binanceSnapshot(5000)) as DepthSnapshot);
    sync.event(JSON.parse(event(3)) as DepthEvent);
    assert.equal(sync.state, "live");
    assert.deepEqual(sides(book), simSides(sim));
  },
);

interface KrakenMessage {
  channel: string;
  type: "snapshot" | "update";
  data: (KrakenBookData & { symbol: string; timestamp?: string })[];
  ts: number;
}

/** A Kraken client: a KrakenBookSync fed the view's messages through JSON.parse. */
function krakenClient(depth: number) {
  const book = new OrderBook();
  const sync = new KrakenBookSync(book, { priceScale: 1, quantityScale: 8, depth });
  let resyncs = 0;
  sync.onResync = () => resyncs++;
  const feed = (text: string) => {
    const m = JSON.parse(stamp(text, 1)) as KrakenMessage;
    assert.equal(m.channel, "book");
    assert.equal(m.data[0].symbol, "BTC/USD");
    sync.message(m.type, m.data[0]);
  };
  return { book, sync, feed, resyncs: () => resyncs };
}

Deno.test(
  "Kraken: a snapshot and 100,000 steps' updates at depth 10 and 25, no checksum mismatch",
  TEST_OPTIONS,
  () => {
    const sim = new SimBook({ seed: 9, priceScale: 1 });
    const views = [new KrakenView(sim, 10), new KrakenView(sim, 25)];
    const clients = views.map((v) => krakenClient(v.depth));
    views.forEach((v, i) => clients[i].feed(v.snapshot()));
    const snap = JSON.parse(stamp(views[0].snapshot(), 0)) as KrakenMessage;
    assert.equal(snap.type, "snapshot");
    assert.equal(snap.data[0].bids.length, 10);
    assert.equal(snap.data[0].bids[0].price, Number(fixed(sim.bestBid, 1)));
    const sent = [0, 0];
    let timestamps = 0;
    for (let i = 0; i < 100_000; i++) {
      sim.step();
      views.forEach((v, k) => {
        const text = v.update(1_700_000_000_000 + i);
        if (text === undefined) return;
        sent[k]++;
        if (k === 0 && i % 1000 === 0) {
          const m = JSON.parse(stamp(text, 0)) as KrakenMessage;
          assert.equal(m.data[0].timestamp, krakenTime(1_700_000_000_000 + i));
          timestamps++;
        }
        clients[k].feed(text);
      });
      if (i % 1009 === 0) {
        views.forEach((v, k) => {
          assert.deepEqual(sides(clients[k].book), [v.levels(Side.BID), v.levels(Side.ASK)]);
          assert.deepEqual(sides(clients[k].book), simSides(sim, v.depth));
        });
      }
    }
    views.forEach((v, k) => {
      const c = clients[k];
      assert.equal(c.sync.counters.mismatches, 0, `depth ${v.depth}`);
      assert.equal(c.sync.state, "live");
      assert.equal(c.sync.counters.updates, sent[k]);
      assert.deepEqual(sides(c.book), simSides(sim, v.depth));
    });
    assert.ok(sent[0] < sent[1], "depth 10 sees fewer updates than depth 25");
    assert.ok(sent[0] > 50_000, `most steps touch the top 10 (${sent[0]})`);
    assert.ok(clients[0].sync.counters.truncated > 0, "insertions push levels out, unsent");
    assert.ok(timestamps > 0);
  },
);

Deno.test(
  "Kraken: a dropped update shows as a checksum mismatch within a few updates",
  TEST_OPTIONS,
  () => {
    const sim = new SimBook({ seed: 21, priceScale: 1 });
    const view = new KrakenView(sim, 10);
    const client = krakenClient(10);
    client.feed(view.snapshot());
    const ROUNDS = 200;
    const detectedAfter: number[] = [];
    let healed = 0; // a later update set the lost levels again: nothing to detect
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < 50; i++) {
        sim.step();
        const text = view.update(0);
        if (text !== undefined) client.feed(text);
      }
      assert.equal(client.sync.state, "live");
      view.corruptNext();
      let updates = 0;
      while (client.sync.state === "live" && updates < 20) {
        sim.step();
        const text = view.update(0);
        if (text === undefined) continue;
        updates++;
        client.feed(text);
      }
      if (client.sync.state === "live") {
        healed++;
        assert.deepEqual(sides(client.book), [view.levels(Side.BID), view.levels(Side.ASK)]);
        continue;
      }
      detectedAfter.push(updates);
      client.feed(view.snapshot()); // the resubscription's snapshot
      assert.equal(client.sync.state, "live");
    }
    assert.equal(view.dropped, ROUNDS);
    assert.equal(client.sync.counters.mismatches, ROUNDS - healed);
    assert.equal(client.resyncs(), ROUNDS - healed);
    assert.ok(healed < ROUNDS / 10, `healed ${healed} of ${ROUNDS}`);
    const within = (n: number) => detectedAfter.filter((u) => u <= n).length;
    assert.ok(within(1) > detectedAfter.length * 0.8, `detected after ${detectedAfter}`);
    assert.ok(within(5) > detectedAfter.length * 0.95, `detected after ${detectedAfter}`);
  },
);

Deno.test("Kraken: the view's checksum is the guide's, written out literally", TEST_OPTIONS, () => {
  const sim = new SimBook({ seed: 4, priceScale: 1 });
  const view = new KrakenView(sim, 25);
  view.snapshot();
  for (let i = 0; i < 2000; i++) {
    sim.step();
    const text = view.update(0);
    if (text === undefined) continue;
    const sum = (JSON.parse(stamp(text, 0)) as KrakenMessage).data[0].checksum;
    assert.equal(sum, view.checksum);
    assert.equal(
      sum,
      krakenBookChecksum(view.levels(Side.ASK), view.levels(Side.BID), 1, 8),
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The server, end to end over loopback.

const SERVER = new URL("../../examples/exchange_sim.ts", import.meta.url).pathname;

interface Server {
  base: string;
  ws: string;
  /** SIGTERM, then the exit code, stdout and stderr. */
  stop(): Promise<{ code: number; stdout: string; stderr: string }>;
}

async function startServer(args: string[]): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-net=127.0.0.1", "--allow-ffi", "--allow-read", SERVER],
      ...["--listen", "127.0.0.1:0", ...args],
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`exchange_sim did not start: ${stdout}${await stderr}`);
    }
    stdout += value;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(stdout);
    if (m !== null) port = Number(m[1]);
  }
  const rest = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += r.value;
    return stdout;
  })();
  return {
    base: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      const { code } = await child.status;
      return { code, stdout: await rest, stderr: await stderr };
    },
  };
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  return await r.json() as T;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Stats {
  frozen: boolean;
  updatesDropped: number;
  messagesSent: number;
  connectionsOpened: number;
  binance: { lastUpdateId: number };
  kraken: { lastUpdateId: number };
}

/** Waits until `done()`, checking every 20 ms, for `ms` at most. */
async function until(done: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A WebSocket whose messages are queued; `next()` waits for the next one. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  socket.onmessage = (e) => {
    queue.push(e.data);
    wake?.();
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return {
    socket,
    queue,
    set onMessage(f: (text: string) => void) {
      wake = null;
      for (const text of queue.splice(0)) f(text);
      socket.onmessage = (e) => f(e.data);
    },
    async next(): Promise<string> {
      while (queue.length === 0) await new Promise<void>((resolve) => wake = resolve);
      return queue.shift()!;
    },
    async close() {
      socket.close();
      await closed;
    },
  };
}

/** A Binance client over the server: the stream into a BinanceDepthSync, snapshots by REST. */
async function binanceClient(server: Server) {
  const book = new OrderBook();
  const sync = new BinanceDepthSync(book, { priceScale: 2, quantityScale: 8 });
  const pending: Promise<void>[] = [];
  sync.onSnapshotNeeded = () => {
    pending.push(
      getJson<DepthSnapshot>(`${server.base}/api/v3/depth?symbol=BTCUSDT&limit=5000`)
        .then((s) => sync.snapshot(s)),
    );
  };
  const latencies: number[] = [];
  const ws = await connect(`${server.ws}/ws/btcusdt@depth`);
  ws.onMessage = (text) => {
    const e = JSON.parse(text) as DepthEvent & { ts: number };
    latencies.push(monotonicNs() - e.ts);
    sync.event(e);
  };
  sync.start();
  return { book, sync, ws, pending, latencies };
}

/** The /truth book as integer levels, best first. */
async function truth(server: Server, symbol: string, priceScale: number) {
  const t = await getJson<DepthSnapshot>(
    `${server.base}/truth?symbol=${encodeURIComponent(symbol)}`,
  );
  const levels = (l: [string, string][]) =>
    l.map(([p, q]): [number, number] => [toUnits(p, priceScale), toUnits(q, 8)]);
  return { lastUpdateId: t.lastUpdateId, bids: levels(t.bids), asks: levels(t.asks) };
}

/** The plain run: Binance's book equals /truth after the freeze; Kraken's top 10 too. */
async function plainRun(server: Server): Promise<void> {
  const kraken = await connect(`${server.ws}/v2`);
  const status = JSON.parse(await kraken.next());
  assert.equal(status.channel, "status");
  kraken.socket.send(JSON.stringify({
    method: "subscribe",
    params: { channel: "book", symbol: ["BTC/XXX"], depth: 10 },
  }));
  const refused = JSON.parse(await kraken.next());
  assert.equal(refused.success, false);
  assert.equal(refused.error, "Currency pair not supported BTC/XXX");
  kraken.socket.send(JSON.stringify({
    method: "subscribe",
    params: { channel: "book", symbol: ["BTC/USD"], depth: 10 },
    req_id: 7,
  }));
  const ack = JSON.parse(await kraken.next());
  assert.deepEqual(ack.result, { channel: "book", depth: 10, snapshot: true, symbol: "BTC/USD" });
  assert.equal(ack.success, true);
  assert.equal(ack.req_id, 7);
  assert.match(ack.time_in, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const kBook = new OrderBook();
  const kSync = new KrakenBookSync(kBook, { priceScale: 1, quantityScale: 8, depth: 10 });
  let heartbeats = 0, others = 0;
  kraken.onMessage = (text) => {
    const m = JSON.parse(text);
    if (m.channel === "heartbeat") heartbeats++;
    else if (m.channel === "book") kSync.message(m.type, m.data[0]);
    else others++;
  };
  kraken.socket.send(JSON.stringify({
    method: "subscribe",
    params: { channel: "book", symbol: ["BTC/USD"], depth: 10 },
  }));

  const binance = await binanceClient(server);
  await until(async () => (await getJson<Stats>(`${server.base}/stats`)).frozen, 4000, "frozen");
  const stats = await getJson<Stats>(`${server.base}/stats`);
  const last = stats.binance.lastUpdateId;
  await until(
    () =>
      binance.sync.state === "live" &&
      (binance.sync.lastUpdateId === last || binance.sync.snapshotId === last),
    2000,
    "the last update",
  );
  await Promise.all(binance.pending);
  const b = await truth(server, "BTCUSDT", 2);
  assert.equal(b.lastUpdateId, stats.binance.lastUpdateId);
  assert.equal(binance.sync.counters.gaps, 0);
  assert.equal(binance.sync.state, "live");
  assert.deepEqual(sides(binance.book), [b.bids, b.asks]);
  assert.ok(binance.latencies.length > 100);
  assert.ok(binance.latencies.every((ns) => ns > 0 && ns < 2e9), "ts is this machine's clock");

  await until(() => heartbeats > 0, 2500, "a heartbeat once the book is frozen");
  const k = await truth(server, "BTC/USD", 1);
  assert.equal(k.lastUpdateId, stats.kraken.lastUpdateId);
  assert.equal(kSync.counters.mismatches, 0);
  assert.ok(kSync.counters.updates > 100);
  assert.equal(others, 1, "the second subscribe is refused (already subscribed)");
  assert.deepEqual(sides(kBook), [k.bids.slice(0, 10), k.asks.slice(0, 10)]);
  await kraken.close();
  await binance.ws.close();
}

/** --drop-every 50: Binance gaps and Kraken checksum mismatches, each repaired. */
async function dropRun(server: Server): Promise<void> {
  const kraken = await connect(`${server.ws}/v2`);
  const kBook = new OrderBook();
  const kSync = new KrakenBookSync(kBook, { priceScale: 1, quantityScale: 8, depth: 10 });
  const subscribe = (method: string) =>
    kraken.socket.send(JSON.stringify({
      method,
      params: { channel: "book", symbol: ["BTC/USD"], depth: 10 },
    }));
  kSync.onResync = () => {
    subscribe("unsubscribe");
    subscribe("subscribe");
  };
  const refusals: string[] = [];
  kraken.onMessage = (text) => {
    const m = JSON.parse(text);
    if (m.channel === "book") kSync.message(m.type, m.data[0]);
    if (m.success === false) refusals.push(m.error);
  };
  subscribe("subscribe");
  const binance = await binanceClient(server);
  await until(async () => (await getJson<Stats>(`${server.base}/stats`)).frozen, 4000, "frozen");
  await sleep(100);
  await Promise.all(binance.pending);
  const stats = await getJson<Stats>(`${server.base}/stats`);
  assert.ok(stats.updatesDropped > 20, `dropped ${stats.updatesDropped}`);
  assert.ok(binance.sync.counters.gaps > 5, `gaps ${binance.sync.counters.gaps}`);
  assert.ok(binance.sync.counters.gaps <= stats.updatesDropped);
  assert.ok(binance.sync.counters.snapshots > 5);
  assert.ok(kSync.counters.mismatches > 5, `mismatches ${kSync.counters.mismatches}`);
  assert.ok(kSync.counters.snapshots > 5, "each mismatch is repaired by a new snapshot");
  assert.deepEqual(refusals, []);
  await kraken.close();
  await binance.ws.close();
}

Deno.test(
  "exchange_sim over loopback: REST, the Binance stream, Kraken v2, --drop-every",
  TEST_OPTIONS,
  async () => {
    const plain = await startServer(["--run", "0.6", "--rate", "3000", "--seed", "5"]);
    const drop = await startServer(["--run", "0.6", "--rate", "3000", "--drop-every", "50"]);
    try {
      const bad = await fetch(`${plain.base}/api/v3/depth?symbol=ETHBTC`);
      assert.equal(bad.status, 400);
      assert.deepEqual(await bad.json(), { code: -1121, msg: "Invalid symbol." });
      const missing = await fetch(`${plain.base}/nothing`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const five = await getJson<DepthSnapshot>(
        `${plain.base}/api/v3/depth?symbol=BTCUSDT&limit=5`,
      );
      assert.equal(five.bids.length, 5);
      assert.match(five.bids[0][0], /^\d+\.\d{2}$/);
      assert.match(five.bids[0][1], /^\d+\.\d{8}$/);
      await Promise.all([plainRun(plain), dropRun(drop)]);
    } finally {
      const [a, b] = await Promise.all([plain.stop(), drop.stop()]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.match(a.stderr, /SIGTERM received; summary/);
    }
  },
);
