// The WebSocket client on our TCP, against a test server on the other stack of an in-memory
// pair, on virtual time: the handshake and its refusals, echo of messages of every size (in
// place when whole in one segment), pings, the closing handshake both ways, and protocol errors
// closed with their codes (RFC 6455).
import assert from "node:assert/strict";
import { Bench, MS, pattern, S } from "./_tcp_harness.ts";
import { serveWebSocket } from "./_ws_server.ts";
import { WebSocketClient, WebSocketState } from "../../ws/client.ts";
import { Opcode, writeFrame } from "../../ws/frame.ts";
import { createHash } from "node:crypto";

const accept = (key: string) =>
  createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");

interface Received {
  text: boolean;
  bytes: Uint8Array;
  inPlace: boolean;
}

function client(bench: Bench, options = {}, path = "/echo") {
  const conn = bench.a.connect("10.0.0.2", 8080);
  const ws = new WebSocketClient(conn, `ws://10.0.0.2:8080${path}`, options);
  const got: Received[] = [];
  const closed: { code: number; reason: string; clean: boolean }[] = [];
  let opened = false;
  ws.onOpen = () => opened = true;
  // In place: the payload is a range of the received frame's memory (A receives in B's
  // region of the pair), not a buffer of the reader's.
  const wire = bench.pair.b.txData.buffer;
  ws.onMessage = (data, offset, length, text) =>
    got.push({ text, bytes: data.slice(offset, offset + length), inPlace: data.buffer === wire });
  ws.onClose = (code, reason, clean) => closed.push({ code, reason, clean });
  return { ws, conn, got, closed, opened: () => opened };
}

function run(bench: Bench, ns = 50 * MS) {
  bench.run(ns, MS);
}

Deno.test("RFC 6455 §4: the handshake (key, version, accept) and echoes of 0 B to 1 MiB, text and binary", () => {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080);
  const c = client(bench);
  run(bench);
  assert.ok(c.opened());
  assert.equal(c.ws.readyState, WebSocketState.OPEN);
  assert.match(sides[0].request, /^GET \/echo HTTP\/1\.1\r\n/);
  assert.match(sides[0].request, /\r\nSec-WebSocket-Version: 13/);
  assert.match(sides[0].request, /\r\nSec-WebSocket-Key: [A-Za-z0-9+/]{22}==/);
  const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 1 << 20];
  for (const n of sizes) {
    c.ws.send(pattern(n, n + 1));
    c.ws.send(new TextDecoder().decode(pattern(n, 3).map((b) => 0x20 + (b % 90))));
  }
  run(bench, 2 * S);
  assert.equal(c.got.length, 2 * sizes.length);
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i];
    assert.deepEqual(c.got[2 * i].bytes, pattern(n, n + 1), `${n} binary`);
    assert.equal(c.got[2 * i + 1].text, true);
    assert.equal(c.got[2 * i + 1].bytes.length, n);
  }
  // What the server read was masked on the wire and unmasked by it: byte-exact.
  assert.deepEqual(sides[0].messages[sizes.length * 2 - 2].bytes, pattern(1 << 20, (1 << 20) + 1));
  // Small messages came whole in one segment: delivered in place, no copy.
  assert.ok(c.got[2].inPlace && c.got[4].inPlace, "125 and 1000 bytes in place");
  assert.ok(!c.got[14].inPlace, "1 MiB spans segments: assembled");
});

Deno.test("RFC 6455 §5.5.2: a ping is answered with a pong carrying its payload", () => {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080);
  const c = client(bench);
  run(bench);
  const pings: string[] = [];
  c.ws.onPing = (d, o, n) => pings.push(new TextDecoder().decode(d.subarray(o, o + n)));
  sides[0].frame(Opcode.PING, new TextEncoder().encode("are you there"));
  run(bench);
  assert.deepEqual(pings, ["are you there"]);
  assert.equal(new TextDecoder().decode(sides[0].pongs[0]), "are you there");
});

Deno.test("RFC 6455 §7: the client closes: its code and reason echoed, the server closes TCP first", () => {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080);
  const c = client(bench);
  run(bench);
  c.ws.close(1000, "bye");
  run(bench, 200 * MS);
  assert.deepEqual(c.closed, [{ code: 1000, reason: "bye", clean: true }]);
  assert.equal(sides[0].closes.length, 1);
  assert.equal(c.ws.readyState, WebSocketState.CLOSED);
  assert.ok(["CLOSED", "TIME-WAIT", "FIN-WAIT-2"].includes(c.conn.stateName), c.conn.stateName);
});

Deno.test("RFC 6455 §7: the server closes with 4001: the client echoes the code and reports it", () => {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080);
  const c = client(bench);
  run(bench);
  sides[0].frame(
    Opcode.CLOSE,
    Uint8Array.from([4001 >> 8, 4001 & 255, ...new TextEncoder().encode("maintenance")]),
  );
  run(bench, 200 * MS);
  assert.deepEqual(c.closed, [{ code: 4001, reason: "maintenance", clean: true }]);
  assert.equal(sides[0].closes.length, 1, "the echo reached the server");
  assert.deepEqual([...sides[0].closes[0].subarray(0, 2)], [4001 >> 8, 4001 & 255]);
});

Deno.test("RFC 6455 §4.1: a wrong accept, a refusal and a redirect end the handshake with the reason", () => {
  for (
    const [answer, reason] of [
      [
        () =>
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA",
        /wrong Sec-WebSocket-Accept/,
      ],
      [() => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0", /answered "HTTP\/1\.1 403 Forbidden"/],
      [
        () => "HTTP/1.1 302 Found\r\nLocation: ws://10.0.0.2:8080/elsewhere\r\nContent-Length: 0",
        /redirects \(302 Found\) to ws:\/\/10\.0\.0\.2:8080\/elsewhere: redirects are refused/,
      ],
    ] as const
  ) {
    const bench = new Bench();
    serveWebSocket(bench.b, 8080, { answer });
    const c = client(bench);
    run(bench);
    assert.ok(!c.opened());
    assert.equal(c.closed.length, 1);
    assert.equal(c.closed[0].code, 1002);
    assert.match(c.closed[0].reason, reason);
  }
});

Deno.test("RFC 6455 §5.1, §8.1, §10.4: protocol errors close with 1002, 1007, 1009 and a close frame says so", () => {
  for (
    const [what, send, code, options] of [
      [
        "a masked frame from the server",
        (s: ReturnType<typeof serveWebSocket>[0]) =>
          s.frame(Opcode.TEXT, new TextEncoder().encode("x"), true, new Uint8Array([1, 2, 3, 4])),
        1002,
        {},
      ],
      [
        "invalid UTF-8 in text",
        (s: ReturnType<typeof serveWebSocket>[0]) => s.frame(Opcode.TEXT, Uint8Array.from([0xff])),
        1007,
        {},
      ],
      [
        "a message over maxMessage",
        (s: ReturnType<typeof serveWebSocket>[0]) => s.frame(Opcode.BINARY, pattern(5000)),
        1009,
        { maxMessage: 4096 },
      ],
      [
        "close code 1005 on the wire",
        (s: ReturnType<typeof serveWebSocket>[0]) =>
          s.frame(Opcode.CLOSE, Uint8Array.from([1005 >> 8, 1005 & 255])),
        1002,
        {},
      ],
    ] as const
  ) {
    const bench = new Bench();
    const sides = serveWebSocket(bench.b, 8080);
    const c = client(bench, options);
    run(bench);
    send(sides[0]);
    run(bench, 200 * MS);
    assert.equal(c.closed.length, 1, what);
    assert.equal(c.closed[0].code, code, what);
    assert.equal(c.closed[0].clean, false, what);
    const sent = sides[0].closes[0];
    assert.ok(sent, `${what}: a close frame reached the server`);
    assert.equal(sent[0] << 8 | sent[1], code, what);
  }
});

Deno.test("subprotocols: offered, chosen; a choice not offered is refused", () => {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080, { protocol: "chat.v2" });
  const c = client(bench, { protocols: ["chat.v1", "chat.v2"], headers: { "X-Token": "t" } });
  run(bench);
  assert.ok(c.opened());
  assert.equal(c.ws.protocol, "chat.v2");
  assert.match(sides[0].request, /\r\nSec-WebSocket-Protocol: chat\.v1, chat\.v2/);
  assert.match(sides[0].request, /\r\nX-Token: t/);
  const bench2 = new Bench();
  serveWebSocket(bench2.b, 8080, { protocol: "other" });
  const c2 = client(bench2, { protocols: ["chat.v1"] });
  run(bench2);
  assert.equal(c2.closed[0]?.code, 1002);
  assert.match(c2.closed[0].reason, /subprotocol other, which was not offered/);
});

Deno.test("RFC 7692: permessage-deflate offered, accepted with server_no_context_takeover, compressed messages inflated", async () => {
  const zlib = (await import("node:zlib")).default;
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080, {
    answer: (key) =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept(key)}\r\n` +
      "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
  });
  const c = client(bench);
  run(bench);
  assert.ok(c.opened());
  assert.ok(c.ws.deflate);
  assert.match(
    sides[0].request,
    /\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits/,
  );
  const texts = ["hello hello hello", "κόσμε ".repeat(1000), ""];
  for (const t of texts) {
    const z = zlib.deflateRawSync(new TextEncoder().encode(t), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const out = new Uint8Array(z.length + 14);
    const n = writeFrame(out, 0, Opcode.TEXT, true, true, z, 0, z.length - 4, null);
    sides[0].raw(out.subarray(0, n));
  }
  run(bench);
  assert.deepEqual(c.got.map((g) => new TextDecoder().decode(g.bytes)), texts);
  // Garbage marked compressed: 1007.
  sides[0].raw(Uint8Array.of(0xc1, 3, 0xff, 0xff, 0xff));
  run(bench);
  assert.equal(c.closed[0]?.code, 1007);
});

Deno.test("RFC 7692: an extension the client did not offer is refused", () => {
  const bench = new Bench();
  serveWebSocket(bench.b, 8080, {
    answer: (key) =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept(key)}\r\nSec-WebSocket-Extensions: permessage-deflate`,
  });
  const c = client(bench, { deflate: false });
  run(bench);
  assert.equal(c.closed[0]?.code, 1002);
  assert.match(c.closed[0].reason, /extensions that were not offered/);
});

Deno.test("StackWebSocket: the WHATWG shape — onopen, onmessage with strings and ArrayBuffers, onclose", async () => {
  const { StackWebSocket } = await import("../../ws/websocket.ts");
  const bench = new Bench();
  serveWebSocket(bench.b, 8080);
  const ws = new StackWebSocket(bench.a.connect("10.0.0.2", 8080), "ws://10.0.0.2:8080/");
  const seen: unknown[] = [];
  let opened = 0;
  ws.onopen = () => {
    opened++;
    ws.send("text");
    ws.send(new Uint8Array([1, 2, 3]));
  };
  ws.addEventListener("message", (e) => seen.push((e as MessageEvent).data));
  const closes: [number, string, boolean][] = [];
  ws.onclose = (e) => closes.push([e.code, e.reason, e.wasClean]);
  run(bench);
  assert.equal(opened, 1);
  assert.equal(seen[0], "text");
  assert.ok(seen[1] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(seen[1] as ArrayBuffer)], [1, 2, 3]);
  ws.close(1000, "done");
  run(bench, 200 * MS);
  assert.deepEqual(closes, [[1000, "done", true]]);
  assert.equal(ws.readyState, 3);
});
