// A conformance suite written from the case descriptions of the Autobahn testsuite (groups 1-7,
// 9, 12-13), played by a test server on the in-memory pair against our client, which echoes every
// message as Autobahn's client mode expects. Each case says what the server sends and what a
// strict client must do: echo these messages and pongs, or fail the connection with this code.
// A report lists every case and its verdict; all must pass.
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { Bench, MS } from "./_tcp_harness.ts";
import { serveWebSocket } from "./_ws_server.ts";
import { WebSocketClient } from "../../ws/client.ts";
import { Opcode, writeFrame } from "../../ws/frame.ts";

const enc = new TextEncoder();
const T = Opcode.TEXT, B = Opcode.BINARY, C = Opcode.CONTINUATION;
const PING = Opcode.PING, PONG = Opcode.PONG, CLOSE = Opcode.CLOSE;

interface Frame {
  op: number;
  data?: Uint8Array;
  fin?: boolean;
  rsv?: number; // 1..7 (bits RSV1..RSV3)
}

interface Case {
  id: string;
  what: string;
  frames: Frame[];
  /** Messages the client must echo: [opcode, payload]. */
  echo?: [number, Uint8Array][];
  /** Pong payloads the server must receive. */
  pongs?: Uint8Array[];
  /** The code the client must fail (or close) with; undefined: it stays open. */
  fail?: number;
  /** The server opens with permessage-deflate. */
  deflate?: boolean;
  /** The client's maxMessage. */
  maxMessage?: number;
}

const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * seed + 3) & 255);
const text = (s: string) => enc.encode(s);
const xs = (n: number) => enc.encode("*".repeat(n));
const closeBody = (code: number, reason = "") =>
  Uint8Array.of(code >> 8, code & 255, ...enc.encode(reason));

function wire(f: Frame): Uint8Array {
  const data = f.data ?? new Uint8Array(0);
  const out = new Uint8Array(data.length + 14);
  const n = writeFrame(out, 0, f.op, f.fin ?? true, false, data, 0, data.length, null);
  out[0] |= (f.rsv ?? 0) << 4;
  return out.subarray(0, n);
}

function deflated(data: Uint8Array): Uint8Array {
  const z = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(z.subarray(0, z.length - 4));
}

const CASES: Case[] = [
  // 1: framing — text and binary messages of many lengths, echoed.
  ...[0, 125, 126, 127, 128, 65535, 65536, 65537].map((n, i): Case => ({
    id: `1.1.${i + 1}`,
    what: `text message of ${n} bytes`,
    frames: [{ op: T, data: xs(n) }],
    echo: [[T, xs(n)]],
  })),
  ...[0, 125, 126, 127, 128, 65535, 65536, 65537].map((n, i): Case => ({
    id: `1.2.${i + 1}`,
    what: `binary message of ${n} bytes`,
    frames: [{ op: B, data: bytes(n, 7) }],
    echo: [[B, bytes(n, 7)]],
  })),
  // 2: pings and pongs.
  { id: "2.1", what: "ping without payload", frames: [{ op: PING }], pongs: [new Uint8Array(0)] },
  {
    id: "2.2",
    what: "ping with text",
    frames: [{ op: PING, data: text("Hello") }],
    pongs: [text("Hello")],
  },
  {
    id: "2.3",
    what: "ping with binary",
    frames: [{ op: PING, data: bytes(8) }],
    pongs: [bytes(8)],
  },
  {
    id: "2.4",
    what: "ping of 125 bytes",
    frames: [{ op: PING, data: bytes(125) }],
    pongs: [bytes(125)],
  },
  {
    id: "2.5",
    what: "ping of 126 bytes: fail",
    frames: [{ op: PING, data: bytes(126) }],
    fail: 1002,
  },
  {
    id: "2.7",
    what: "an unsolicited pong is ignored",
    frames: [{ op: PONG }, { op: T, data: text("x") }],
    echo: [[T, text("x")]],
  },
  {
    id: "2.8",
    what: "an unsolicited pong with payload",
    frames: [{ op: PONG, data: text("unsolicited") }],
    fail: undefined,
  },
  {
    id: "2.10",
    what: "10 pings: each answered",
    frames: Array.from({ length: 10 }, (_, i) => ({ op: PING, data: text(`payload-${i}`) })),
    pongs: Array.from({ length: 10 }, (_, i) => text(`payload-${i}`)),
  },
  // 3: reserved bits.
  ...[1, 2, 3, 4, 5, 6, 7].map((rsv, i): Case => ({
    id: `3.${i + 1}`,
    what: `RSV=${rsv} on a ${i % 2 ? "binary" : "text"} frame: fail`,
    frames: [{ op: i % 2 ? B : T, data: text("Hello"), rsv }],
    fail: 1002,
  })),
  {
    id: "3.x",
    what: "RSV on a ping: fail",
    frames: [{ op: PING, data: text("x"), rsv: 1 }],
    fail: 1002,
  },
  // 4: opcodes.
  ...[3, 4, 5, 6, 7].map((op, i): Case => ({
    id: `4.1.${i + 1}`,
    what: `reserved data opcode ${op}: fail`,
    frames: [{ op: T, data: text("x") }, { op }],
    echo: [[T, text("x")]],
    fail: 1002,
  })),
  ...[0xb, 0xc, 0xd, 0xe, 0xf].map((op, i): Case => ({
    id: `4.2.${i + 1}`,
    what: `reserved control opcode ${op}: fail`,
    frames: [{ op, data: text("x") }],
    fail: 1002,
  })),
  // 5: fragmentation.
  {
    id: "5.1",
    what: "a fragmented ping: fail",
    frames: [{ op: PING, data: text("frag"), fin: false }],
    fail: 1002,
  },
  {
    id: "5.2",
    what: "a fragmented pong: fail",
    frames: [{ op: PONG, data: text("frag"), fin: false }],
    fail: 1002,
  },
  {
    id: "5.3",
    what: "text in two fragments",
    frames: [{ op: T, data: text("frag"), fin: false }, { op: C, data: text("ment") }],
    echo: [[T, text("fragment")]],
  },
  {
    id: "5.6",
    what: "text in two fragments with a ping between",
    frames: [{ op: T, data: text("frag"), fin: false }, { op: PING, data: text("p") }, {
      op: C,
      data: text("ment"),
    }],
    echo: [[T, text("fragment")]],
    pongs: [text("p")],
  },
  {
    id: "5.9",
    what: "a continuation with no message, fin: fail",
    frames: [{ op: C, data: text("x") }],
    fail: 1002,
  },
  {
    id: "5.10",
    what: "a continuation with no message, not fin: fail",
    frames: [{ op: C, data: text("x"), fin: false }],
    fail: 1002,
  },
  {
    id: "5.18",
    what: "two first fragments (text, then text): fail",
    frames: [{ op: T, data: text("a"), fin: false }, { op: T, data: text("b") }],
    fail: 1002,
  },
  {
    id: "5.19",
    what: "text in 5 fragments with pings between",
    frames: [
      { op: T, data: text("f1"), fin: false },
      { op: C, data: text("f2"), fin: false },
      { op: PING, data: text("p1") },
      { op: C, data: text("f3"), fin: false },
      { op: C, data: text("f4"), fin: false },
      { op: PING, data: text("p2") },
      { op: C, data: text("f5") },
    ],
    echo: [[T, text("f1f2f3f4f5")]],
    pongs: [text("p1"), text("p2")],
  },
  {
    id: "5.x",
    what: "empty fragments",
    frames: [{ op: B, fin: false }, { op: C, fin: false }, { op: C, data: bytes(3) }],
    echo: [[B, bytes(3)]],
  },
  // 6: UTF-8.
  {
    id: "6.2.1",
    what: "valid UTF-8, one frame",
    frames: [{ op: T, data: text("Hello-µ@ßöäüàá-UTF-8!!") }],
    echo: [[T, text("Hello-µ@ßöäüàá-UTF-8!!")]],
  },
  {
    id: "6.2.3",
    what: "valid UTF-8 cut into one-byte fragments",
    frames: [...text("κόσμε")].map((b, i, all) => ({
      op: i === 0 ? T : C,
      data: Uint8Array.of(b),
      fin: i === all.length - 1,
    })),
    echo: [[T, text("κόσμε")]],
  },
  ...[
    ["6.3.1", [
      0xce,
      0xba,
      0xe1,
      0xbd,
      0xb9,
      0xcf,
      0x83,
      0xce,
      0xbc,
      0xce,
      0xb5,
      0xed,
      0xa0,
      0x80,
      0x65,
      0x64,
      0x69,
      0x74,
      0x65,
      0x64,
    ]],
    ["6.6.1", [0xce]],
    ["6.8.1", [0xf8, 0x88, 0x80, 0x80, 0x80]],
    ["6.9.1", [0xc0, 0xaf]],
    ["6.10.1", [0xf4, 0x90, 0x80, 0x80]],
    ["6.11.1", [0xed, 0xa0, 0x80]],
    ["6.18.1", [0xfe]],
    ["6.21.1", [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]],
  ].map(([id, b]): Case => ({
    id: id as string,
    what: `invalid UTF-8 ${(b as number[]).map((x) => x.toString(16)).join(" ")}: fail 1007`,
    frames: [{ op: T, data: Uint8Array.from(b as number[]) }],
    fail: 1007,
  })),
  {
    id: "6.4.1",
    what: "invalid UTF-8 in the first fragment: fail fast, before the last one",
    frames: [{ op: T, data: Uint8Array.of(0x41, 0xf4, 0x90), fin: false }],
    fail: 1007,
  },
  ...[
    ["6.5.1", "\u{10FFFF}"],
    ["6.7.1", "\u0000"],
    ["6.12.1", "\uFFFD"],
    ["6.23.1", "\uFEFF"],
  ].map(([id, s]): Case => ({
    id,
    what: `valid ${JSON.stringify(s)}`,
    frames: [{ op: T, data: text(s) }],
    echo: [[T, text(s)]],
  })),
  // 7: closing.
  {
    id: "7.1.1",
    what: "close after a message",
    frames: [{ op: T, data: text("Hello") }, { op: CLOSE, data: closeBody(1000) }],
    echo: [[T, text("Hello")]],
    fail: 1000,
  },
  {
    id: "7.1.2",
    what: "close twice",
    frames: [{ op: CLOSE, data: closeBody(1000) }, { op: CLOSE, data: closeBody(1000) }],
    fail: 1000,
  },
  {
    id: "7.1.3",
    what: "a ping after close is ignored",
    frames: [{ op: CLOSE, data: closeBody(1000) }, { op: PING, data: text("x") }],
    fail: 1000,
    pongs: [],
  },
  {
    id: "7.1.4",
    what: "a message after close is ignored",
    frames: [{ op: CLOSE, data: closeBody(1000) }, { op: T, data: text("x") }],
    fail: 1000,
    echo: [],
  },
  { id: "7.3.1", what: "close without payload", frames: [{ op: CLOSE }], fail: 1005 },
  {
    id: "7.3.2",
    what: "close with 1 byte: fail",
    frames: [{ op: CLOSE, data: Uint8Array.of(0x03) }],
    fail: 1002,
  },
  {
    id: "7.3.3",
    what: "close with code only",
    frames: [{ op: CLOSE, data: closeBody(1000) }],
    fail: 1000,
  },
  {
    id: "7.3.4",
    what: "close with a reason",
    frames: [{ op: CLOSE, data: closeBody(1000, "Hello World!") }],
    fail: 1000,
  },
  {
    id: "7.3.5",
    what: "close with a 123-byte reason",
    frames: [{ op: CLOSE, data: closeBody(1000, "*".repeat(123)) }],
    fail: 1000,
  },
  {
    id: "7.3.6",
    what: "close with a 124-byte reason: fail",
    frames: [{ op: CLOSE, data: closeBody(1000, "*".repeat(124)) }],
    fail: 1002,
  },
  {
    id: "7.5.1",
    what: "close reason not UTF-8: fail",
    frames: [{ op: CLOSE, data: Uint8Array.of(0x03, 0xe8, 0xce, 0xba, 0xff) }],
    fail: 1007,
  },
  ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].map((
    code,
    i,
  ): Case => ({
    id: `7.7.${i + 1}`,
    what: `valid close code ${code}`,
    frames: [{ op: CLOSE, data: closeBody(code) }],
    fail: code,
  })),
  ...[0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999].map((
    code,
    i,
  ): Case => ({
    id: `7.9.${i + 1}`,
    what: `invalid close code ${code}: fail`,
    frames: [{ op: CLOSE, data: closeBody(code) }],
    fail: 1002,
  })),
  // 9: limits (Autobahn's 9.x go to 16 MiB).
  ...[65536, 1 << 18, 1 << 20, 4 << 20, 16 << 20].map((n, i): Case => ({
    id: `9.1.${i + 1}`,
    what: `text message of ${n} bytes`,
    frames: [{ op: T, data: xs(n) }],
    echo: [[T, xs(n)]],
  })),
  ...[64, 256, 1024, 4096, 16384, 65536].map((size, i): Case => ({
    id: `9.3.${i + 1}`,
    what: `4 MiB text in fragments of ${size} bytes`,
    frames: Array.from({ length: (4 << 20) / size }, (_, k) => ({
      op: k === 0 ? T : C,
      data: xs(size),
      fin: k === (4 << 20) / size - 1,
    })),
    echo: [[T, xs(4 << 20)]],
  })),
  {
    id: "9.x",
    what: "over maxMessage: fail 1009",
    frames: [{ op: B, data: bytes(70000) }],
    fail: 1009,
    maxMessage: 65536,
  },
  // 12-13: permessage-deflate (we inflate; our echoes go uncompressed, which RFC 7692 allows).
  ...[16, 64, 256, 1024, 4096, 8192, 65536, 131072].map((n, i): Case => ({
    id: `12.1.${i + 1}`,
    what: `compressed text message of ${n} bytes`,
    deflate: true,
    frames: [{
      op: T,
      data: deflated(enc.encode("Hello ".repeat(n / 8) + "x".repeat(n - (n / 8) * 6))),
      rsv: 4,
    }],
    echo: [[T, enc.encode("Hello ".repeat(n / 8) + "x".repeat(n - (n / 8) * 6))]],
  })),
  {
    id: "13.x",
    what: "a compressed message fragmented: RSV1 on the first frame only",
    deflate: true,
    frames: (() => {
      const z = deflated(xs(5000));
      return [{ op: T, data: z.subarray(0, 10), fin: false, rsv: 4 }, {
        op: C,
        data: z.subarray(10),
      }];
    })(),
    echo: [[T, xs(5000)]],
  },
];

function play(c: Case): string {
  const bench = new Bench();
  const sides = serveWebSocket(bench.b, 8080, {
    echo: false,
    answer: c.deflate
      ? (key) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${
          createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")
        }\r\nSec-WebSocket-Extensions: permessage-deflate`
      : undefined,
  });
  const ws = new WebSocketClient(bench.a.connect("10.0.0.2", 8080), "ws://10.0.0.2:8080/", {
    maxMessage: c.maxMessage ?? 64 << 20,
  });
  // Autobahn's client mode: echo every message.
  ws.onMessage = (data, offset, length, isText) => {
    if (ws.readyState === 1) ws.sendFrame(isText ? T : B, data, offset, length);
  };
  let closed: number | null = null;
  ws.onClose = (code) => closed = code;
  bench.run(20 * MS, MS);
  if (ws.readyState !== 1) return "did not open";
  const side = sides[0];
  for (const f of c.frames) side.raw(wire(f));
  bench.run(300 * MS, MS);
  const problems: string[] = [];
  if (c.echo !== undefined) {
    const got = side.messages;
    if (got.length !== c.echo.length) problems.push(`${got.length} echoes, not ${c.echo.length}`);
    for (let i = 0; i < Math.min(got.length, c.echo.length); i++) {
      const [op, data] = c.echo[i];
      if (
        got[i].opcode !== op || got[i].bytes.length !== data.length ||
        !got[i].bytes.every((b, k) => b === data[k])
      ) problems.push(`echo ${i} differs`);
    }
  }
  if (c.pongs !== undefined) {
    if (side.pongs.length !== c.pongs.length) {
      problems.push(`${side.pongs.length} pongs, not ${c.pongs.length}`);
    } else {
      for (let i = 0; i < c.pongs.length; i++) {
        if (side.pongs[i].join() !== c.pongs[i].join()) problems.push(`pong ${i} differs`);
      }
    }
  }
  if (c.fail === undefined) {
    if (closed !== null) problems.push(`closed ${closed}, should stay open`);
  } else {
    if (closed !== c.fail) problems.push(`closed with ${closed}, not ${c.fail}`);
    // The client's close frame: the same code for protocol errors and for a valid close
    // (echoed; 1000 for a close without a code).
    const sent = side.closes[0];
    const want = c.fail === 1005 ? 1000 : c.fail;
    if (sent === undefined) problems.push("no close frame from the client");
    else if ((sent[0] << 8 | sent[1]) !== want) {
      problems.push(`the client's close frame says ${sent[0] << 8 | sent[1]}, not ${want}`);
    }
  }
  return problems.join("; ");
}

Deno.test(`WebSocket conformance: ${CASES.length} cases from Autobahn's groups 1-7, 9, 12-13`, () => {
  const report: string[] = [];
  let failed = 0;
  for (const c of CASES) {
    const problem = play(c);
    if (problem !== "") failed++;
    report.push(
      `${c.id.padEnd(8)} ${problem === "" ? "PASS" : "FAIL"}  ${c.what}${
        problem ? ` — ${problem}` : ""
      }`,
    );
  }
  console.log(report.join("\n"));
  console.log(`${CASES.length - failed} of ${CASES.length} cases pass`);
  assert.equal(failed, 0, report.filter((l) => l.includes("FAIL")).join("\n"));
});
