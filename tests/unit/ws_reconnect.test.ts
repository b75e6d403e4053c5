// Staying connected: the backoff's delays, and the Reconnector over two stacks on an in-memory
// pair (each polled by a StackDriver, real timers): a server closing the connection, and a
// server gone silent (heartbeat), both followed by a new connection.
import assert from "node:assert/strict";
import { MemoryPair } from "../../stack/memory.ts";
import { Stack } from "../../stack/interface.ts";
import { StackDriver } from "../../stack/driver.ts";
import { WebSocketClient } from "../../ws/client.ts";
import { Opcode } from "../../ws/frame.ts";
import { Backoff, type ReconnectEvent, Reconnector } from "../../ws/reconnect.ts";
import { type ServerOptions, serveWebSocket } from "./_ws_server.ts";

Deno.test("Backoff: exponential, capped, half jittered by default, reset by a success", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [75, 150, 300, 600, 750]);
  b.reset();
  assert.equal(b.next(), 75);
  const full = new Backoff({ initialMs: 100, jitter: 1, random: () => 0 });
  assert.equal(full.next(), 0);
  assert.throws(() => new Backoff({ jitter: 2 }), RangeError);
});

function setup(serverOptions: ServerOptions = {}) {
  const pair = new MemoryPair({ slots: 1024 });
  const a = new Stack(pair.a, { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  const drivers = [new StackDriver(a), new StackDriver(b)];
  for (const d of drivers) d.start();
  const sides = serveWebSocket(b, 8080, serverOptions);
  const events: ReconnectEvent[] = [];
  return { a, b, sides, events, stop: () => Promise.all(drivers.map((d) => d.stop())) };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("Reconnector: the server closes; after a backoff a new connection opens and subscribes again", async () => {
  const h = setup();
  const feed = new Reconnector(
    () => new WebSocketClient(h.a.connect("10.0.0.2", 8080), "ws://10.0.0.2:8080/feed"),
    { initialMs: 20, random: () => 0.5 },
  );
  let opens = 0;
  feed.onEvent = (e) => h.events.push(e);
  feed.onOpen = (ws) => {
    opens++;
    ws.send("subscribe");
  };
  try {
    feed.start();
    await until("the first subscription", () => h.sides[0]?.messages.length === 1);
    h.sides[0].frame(Opcode.CLOSE, Uint8Array.of(1001 >> 8, 1001 & 255));
    await until("the second subscription", () => h.sides[1]?.messages.length === 1);
    assert.equal(opens, 2);
    assert.deepEqual(h.events.map((e) => e.type), ["open", "close", "retry", "open"]);
    assert.equal(h.events[1].code, 1001);
    assert.equal(h.events[2].delayMs, 15); // 20 ms, half jittered at 0.5
  } finally {
    feed.stop();
    await h.stop();
  }
});

Deno.test("Reconnector: a silent server (no message, no pong) is dropped after heartbeatMs and replaced", async () => {
  const h = setup({ pong: false });
  const feed = new Reconnector(
    () => new WebSocketClient(h.a.connect("10.0.0.2", 8080), "ws://10.0.0.2:8080/feed"),
    { initialMs: 20, heartbeatMs: 200 },
  );
  feed.onEvent = (e) => h.events.push(e);
  try {
    feed.start();
    await until("a heartbeat timeout and a new connection", () => h.sides.length >= 2, 3000);
    const types = h.events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 3), ["open", "heartbeat", "retry"]);
    const pingsSeen = h.sides[0].messages.length; // pings are control frames: not messages
    assert.equal(pingsSeen, 0);
  } finally {
    feed.stop();
    await h.stop();
  }
});
