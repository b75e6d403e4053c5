// WebSocket framing on its own (RFC 6455 §5): frames written and read back in every length
// encoding and split at every byte, whole messages delivered in place, fragments with control
// frames between them, and each protocol error with its close code. UTF-8 validation included.
import assert from "node:assert/strict";
import {
  CloseCode,
  FrameReader,
  type FrameSink,
  Opcode,
  validCloseCode,
  writeFrame,
} from "../../ws/frame.ts";
import { isUtf8, Utf8Validator } from "../../ws/utf8.ts";

interface Got {
  kind: "message" | "control" | "error";
  opcode: number;
  bytes: Uint8Array;
  inPlace: boolean;
  compressed?: boolean;
}

/** A sink recording what it gets; `pushed` is the piece being pushed, to tell in-place. */
class Recorder implements FrameSink {
  got: Got[] = [];
  pushed: Uint8Array | null = null;
  message(opcode: number, data: Uint8Array, offset: number, length: number, compressed: boolean) {
    this.got.push({
      kind: "message",
      opcode,
      bytes: data.slice(offset, offset + length),
      inPlace: data === this.pushed,
      compressed,
    });
  }
  control(opcode: number, data: Uint8Array, offset: number, length: number) {
    this.got.push({
      kind: "control",
      opcode,
      bytes: data.slice(offset, offset + length),
      inPlace: data === this.pushed,
    });
  }
  error(code: number, reason: string) {
    this.got.push({
      kind: "error",
      opcode: code,
      bytes: new TextEncoder().encode(reason),
      inPlace: false,
    });
  }
}

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function frame(
  opcode: number,
  payload: Uint8Array,
  o: { fin?: boolean; mask?: Uint8Array | null; rsv1?: boolean } = {},
): Uint8Array {
  const out = new Uint8Array(payload.length + 14);
  const n = writeFrame(
    out,
    0,
    opcode,
    o.fin ?? true,
    o.rsv1 ?? false,
    payload,
    0,
    payload.length,
    o.mask ?? null,
  );
  return out.slice(0, n);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

function feed(reader: FrameReader, rec: Recorder, bytes: Uint8Array, pieces: number[] = []) {
  let at = 0;
  for (const n of [...pieces, bytes.length]) {
    const piece = bytes.slice(at, Math.min(bytes.length, at + n));
    rec.pushed = piece;
    reader.push(piece, 0, piece.length);
    at += piece.length;
    if (at >= bytes.length) break;
  }
}

const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * seed + 7) & 255);

Deno.test("UTF-8: valid text passes; overlongs, surrogates, beyond U+10FFFF and cut sequences fail", () => {
  const enc = new TextEncoder();
  for (const text of ["", "hello", "κόσμε", "€ 𝄞 中文", "\u{10FFFF}", "\u{FFFD}"]) {
    const b = enc.encode(text);
    assert.ok(isUtf8(b, 0, b.length), text);
  }
  for (
    const bad of [
      [0xc0, 0x80], // overlong NUL
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // a surrogate
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0xf8, 0x88, 0x80, 0x80, 0x80], // 5 bytes
      [0x80], // a lone continuation
      [0xce, 0xba, 0xe1], // cut
    ]
  ) assert.ok(!isUtf8(Uint8Array.from(bad), 0, bad.length), bad.join(","));
  // Across pieces: it fails at the first impossible byte, not at the end.
  const v = new Utf8Validator();
  assert.ok(v.push(enc.encode("κό"), 0, 4));
  assert.ok(v.push(Uint8Array.from([0xcf]), 0, 1)); // the start of a character
  assert.ok(!v.complete);
  assert.ok(!v.push(Uint8Array.from([0x41]), 0, 1), "an ASCII byte cannot continue it");
});

Deno.test("RFC 6455 §5.2: frames of 0, 125, 126, 65535 and 65536 bytes read back, whole and in place", () => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 200_000]) {
    const rec = new Recorder(), reader = new FrameReader(rec);
    const payload = bytes(n, 3);
    feed(reader, rec, frame(Opcode.BINARY, payload));
    assert.equal(rec.got.length, 1, `${n}`);
    assert.equal(rec.got[0].kind, "message");
    assert.deepEqual(rec.got[0].bytes, payload);
    assert.ok(rec.got[0].inPlace, `${n} bytes: delivered from the pushed piece itself`);
  }
});

Deno.test("a frame split at every byte reads back the same (assembled), masked or not", () => {
  const payload = new TextEncoder().encode("Hello, WebSocket — κόσμε ".repeat(12));
  for (const mask of [null, MASK]) {
    const wire = frame(Opcode.TEXT, payload, { mask });
    for (let cut = 1; cut < wire.length; cut++) {
      const rec = new Recorder(), reader = new FrameReader(rec, { masked: mask !== null });
      feed(reader, rec, wire, [cut]);
      assert.equal(rec.got.length, 1, `cut ${cut}`);
      assert.equal(rec.got[0].opcode, Opcode.TEXT);
      assert.deepEqual(rec.got[0].bytes, payload, `cut ${cut}`);
    }
    // One byte at a time.
    const rec = new Recorder(), reader = new FrameReader(rec, { masked: mask !== null });
    feed(reader, rec, wire, Array(wire.length).fill(1));
    assert.deepEqual(rec.got[0].bytes, payload);
  }
});

Deno.test("RFC 6455 §5.4: a fragmented message with a ping between its fragments; several messages in one piece", () => {
  const rec = new Recorder(), reader = new FrameReader(rec);
  const wire = concat(
    frame(Opcode.TEXT, new TextEncoder().encode("frag"), { fin: false }),
    frame(Opcode.PING, new TextEncoder().encode("p")),
    frame(Opcode.CONTINUATION, new TextEncoder().encode("men"), { fin: false }),
    frame(Opcode.CONTINUATION, new TextEncoder().encode("ted"), { fin: true }),
    frame(Opcode.BINARY, bytes(10)),
    frame(Opcode.PONG, new Uint8Array(0)),
  );
  feed(reader, rec, wire);
  assert.deepEqual(rec.got.map((g) => [g.kind, g.opcode]), [
    ["control", Opcode.PING],
    ["message", Opcode.TEXT],
    ["message", Opcode.BINARY],
    ["control", Opcode.PONG],
  ]);
  assert.equal(new TextDecoder().decode(rec.got[1].bytes), "fragmented");
  assert.ok(!rec.got[1].inPlace, "a fragmented message is assembled");
  assert.ok(rec.got[2].inPlace);
});

Deno.test("RFC 6455 §7.4.1: each protocol error closes with its code", () => {
  const cases: [string, Uint8Array, number, object?][] = [
    ["a masked frame from the server", frame(Opcode.TEXT, bytes(3), { mask: MASK }), 1002],
    ["reserved opcode", frame(3, bytes(3)), 1002],
    ["reserved control opcode", frame(0xb, bytes(3)), 1002],
    ["a control frame over 125 bytes", frame(Opcode.PING, bytes(126)), 1002],
    ["a fragmented control frame", frame(Opcode.PING, bytes(3), { fin: false }), 1002],
    ["RSV1 without an extension", frame(Opcode.TEXT, bytes(3), { rsv1: true }), 1002],
    ["a continuation with no message", frame(Opcode.CONTINUATION, bytes(3)), 1002],
    [
      "a new message inside a fragmented one",
      concat(
        frame(Opcode.TEXT, bytes(3), { fin: false }),
        frame(Opcode.TEXT, bytes(3)),
      ),
      1002,
    ],
    ["invalid UTF-8", frame(Opcode.TEXT, Uint8Array.from([0xce, 0xba, 0xff])), 1007],
    ["a message over the limit", frame(Opcode.BINARY, bytes(2000)), 1009, { maxMessage: 1000 }],
    ["a 16-bit length below 126", Uint8Array.from([0x82, 126, 0, 5, 1, 2, 3, 4, 5]), 1002],
    [
      "a 64-bit length with its top bit set",
      Uint8Array.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]),
      1002,
    ],
  ];
  for (const [what, wire, code, options] of cases) {
    const rec = new Recorder(), reader = new FrameReader(rec, options);
    feed(reader, rec, wire);
    const errors = rec.got.filter((g) => g.kind === "error");
    assert.equal(errors.length, 1, what);
    assert.equal(errors[0].opcode, code, what);
    assert.ok(reader.failed);
    // Nothing more is read once failed.
    feed(reader, rec, frame(Opcode.BINARY, bytes(3)));
    assert.equal(rec.got.filter((g) => g.kind === "message").length, 0, what);
  }
  // A server reading a client: unmasked frames are the error.
  const rec = new Recorder(), server = new FrameReader(rec, { masked: true });
  feed(server, rec, frame(Opcode.TEXT, bytes(3)));
  assert.equal(rec.got[0].opcode, 1002);
});

Deno.test("Autobahn 6.x: invalid UTF-8 in a first fragment fails there, before the message ends", () => {
  const rec = new Recorder(), reader = new FrameReader(rec);
  feed(reader, rec, frame(Opcode.TEXT, Uint8Array.from([0x41, 0xff]), { fin: false }));
  assert.equal(rec.got.length, 1);
  assert.equal(rec.got[0].kind, "error");
  assert.equal(rec.got[0].opcode, CloseCode.INVALID_PAYLOAD);
});

Deno.test("RFC 7692: RSV1 marks a compressed message when negotiated, on its first frame only", () => {
  const rec = new Recorder(), reader = new FrameReader(rec, { rsv1: true });
  feed(
    reader,
    rec,
    concat(
      frame(Opcode.TEXT, bytes(5), { rsv1: true, fin: false }),
      frame(Opcode.CONTINUATION, bytes(5)),
    ),
  );
  assert.equal(rec.got[0].kind, "message");
  assert.equal(rec.got[0].compressed, true);
  const bad = new Recorder(), r2 = new FrameReader(bad, { rsv1: true });
  feed(
    r2,
    bad,
    concat(
      frame(Opcode.TEXT, bytes(5), { rsv1: true, fin: false }),
      frame(Opcode.CONTINUATION, bytes(5), { rsv1: true }),
    ),
  );
  assert.equal(bad.got[0].opcode, 1002);
});

Deno.test("close codes: which may be sent (RFC 6455 §7.4)", () => {
  for (const ok of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999]) {
    assert.ok(validCloseCode(ok), `${ok}`);
  }
  for (const bad of [0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000]) {
    assert.ok(!validCloseCode(bad), `${bad}`);
  }
});
