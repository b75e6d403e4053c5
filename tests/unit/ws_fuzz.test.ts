// 10^6 frames from a "server", valid and mutated, cut into random pieces, into the client's
// frame reader: no exception escapes; every valid message before the first fault arrives
// byte-exact; a stream with a fault ends in exactly one error whose close code is the one RFC
// 6455 gives that fault (1002, 1007, 1009), or, for random bit flips, one of them. Seeded:
// WS_FUZZ_SEED reproduces a failure.
import assert from "node:assert/strict";
import { FrameReader, type FrameSink, Opcode, writeFrame } from "../../ws/frame.ts";

const SEED = Number(Deno.env.get("WS_FUZZ_SEED") ?? 0x3f1e7);
const FRAMES = Number(Deno.env.get("WS_FUZZ_FRAMES") ?? 1_000_000);
const MAX = 4096; // the reader's maxMessage: larger messages are 1009

let state = SEED >>> 0 || 1;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(rand() * n);

const TEXT = new TextEncoder().encode("κόσμε market data 0.001 BTC ");
const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]];

interface Expected {
  opcode: number;
  bytes: Uint8Array;
}

/** A valid message as frames (fragmented at times, pings between), and what it delivers. */
function validMessage(out: Uint8Array[], expected: Expected[]): void {
  const text = rand() < 0.5;
  let n = int(rand() < 0.9 ? 200 : MAX);
  if (text) n -= n % 24; // whole characters: the first 24 bytes of TEXT repeated
  const bytes = new Uint8Array(n);
  if (text) { for (let i = 0; i < n; i++) bytes[i] = TEXT[i % 24]; // 24: whole characters
   } else for (let i = 0; i < n; i++) bytes[i] = int(256);
  const pieces = rand() < 0.2 ? 1 + int(4) : 1;
  let at = 0;
  for (let p = 0; p < pieces; p++) {
    const end = p === pieces - 1 ? n : Math.min(n, at + int(n - at + 1));
    const opcode = p === 0 ? (text ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONTINUATION;
    out.push(frame(opcode, bytes.subarray(at, end), p === pieces - 1));
    if (rand() < 0.1) out.push(frame(Opcode.PING, bytes.subarray(0, Math.min(125, n))));
    at = end;
  }
  expected.push({ opcode: text ? Opcode.TEXT : Opcode.BINARY, bytes });
}

function frame(opcode: number, payload: Uint8Array, fin = true, rsv1 = false, mask?: Uint8Array) {
  const out = new Uint8Array(payload.length + 14);
  const n = writeFrame(out, 0, opcode, fin, rsv1, payload, 0, payload.length, mask ?? null);
  return out.subarray(0, n);
}

/** A faulty frame, and the code it must close with (0: any of 1002/1007/1009). */
function fault(): [Uint8Array, number] {
  switch (int(9)) {
    case 0:
      return [
        frame([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf][int(10)], new Uint8Array(int(20))),
        1002,
      ];
    case 1:
      return [frame(Opcode.BINARY, new Uint8Array(5), true, true), 1002]; // RSV1 not negotiated
    case 2: {
      const f = frame(Opcode.TEXT, TEXT.subarray(0, 10));
      f[0] |= 0x10 << int(2); // RSV2 or RSV3
      return [f, 1002];
    }
    case 3:
      return [
        frame(Opcode.TEXT, TEXT.subarray(0, 5), true, false, Uint8Array.of(1, 2, 3, 4)),
        1002,
      ];
    case 4:
      return [frame(Opcode.PING, new Uint8Array(126 + int(100))), 1002];
    case 5:
      return [frame(Opcode.PONG, new Uint8Array(3), false), 1002];
    case 6: {
      const bad = BAD_UTF8[int(BAD_UTF8.length)];
      return [frame(Opcode.TEXT, Uint8Array.of(0x41, ...bad, 0x42)), 1007];
    }
    case 7:
      return [frame(Opcode.BINARY, new Uint8Array(MAX + 1 + int(1000))), 1009];
    default: { // random bits flipped in a valid frame: valid, or one of the codes
      const f = frame(Opcode.TEXT, TEXT).slice();
      for (let k = 0; k < 1 + int(3); k++) f[int(f.length)] ^= 1 << int(8);
      return [f, 0];
    }
  }
}

class Check implements FrameSink {
  got: Expected[] = [];
  errors: number[] = [];
  message(opcode: number, data: Uint8Array, offset: number, length: number) {
    this.got.push({ opcode, bytes: data.slice(offset, offset + length) });
  }
  control() {}
  error(code: number) {
    this.errors.push(code);
  }
}

Deno.test(`ws fuzz: ${FRAMES} frames valid and mutated, cut anywhere: right messages, one error with its code`, () => {
  let frames = 0, streams = 0, faults = 0;
  const codes = new Map<number, number>();
  while (frames < FRAMES) {
    streams++;
    const wire: Uint8Array[] = [], expected: Expected[] = [];
    const messages = 1 + int(20);
    for (let i = 0; i < messages; i++) validMessage(wire, expected);
    let code = -1;
    if (rand() < 0.5) {
      const [f, c] = fault();
      wire.push(f);
      code = c;
      faults++;
    }
    frames += wire.length;
    // Cut the stream into random pieces, as TCP segments would.
    const total = wire.reduce((n, w) => n + w.length, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const w of wire) all.set(w, (o += w.length) - w.length);
    const check = new Check(), reader = new FrameReader(check, { maxMessage: MAX });
    const what = `seed ${SEED} (WS_FUZZ_SEED), stream ${streams}`;
    try {
      for (let at = 0; at < total;) {
        const n = 1 + int(rand() < 0.3 ? 8 : 3000);
        const piece = all.slice(at, Math.min(total, at + n));
        reader.push(piece, 0, piece.length);
        at += piece.length;
      }
    } catch (e) {
      throw new Error(`${what}: an exception escaped: ${e}`);
    }
    assert.ok(check.errors.length <= 1, `${what}: ${check.errors.length} errors`);
    if (code === -1) {
      assert.equal(check.errors.length, 0, `${what}: an error on a valid stream`);
      assert.equal(check.got.length, expected.length, what);
    }
    // Every message before the fault is the one sent.
    for (let i = 0; i < Math.min(check.got.length, expected.length); i++) {
      assert.equal(check.got[i].opcode, expected[i].opcode, `${what}, message ${i}`);
      assert.deepEqual(check.got[i].bytes, expected[i].bytes, `${what}, message ${i}`);
    }
    if (code > 0) {
      assert.deepEqual(check.errors, [code], `${what}: the fault's code`);
      assert.equal(check.got.length, expected.length, what);
    } else if (code === 0 && check.errors.length === 1) {
      assert.ok([1002, 1007, 1009].includes(check.errors[0]), `${what}: code ${check.errors[0]}`);
    }
    for (const c of check.errors) codes.set(c, (codes.get(c) ?? 0) + 1);
  }
  console.log(
    `${frames} frames in ${streams} streams, ${faults} with a fault; closes: ${
      JSON.stringify(Object.fromEntries(codes))
    }`,
  );
  for (const c of [1002, 1007, 1009]) assert.ok((codes.get(c) ?? 0) > 100, `code ${c} seen`);
});
