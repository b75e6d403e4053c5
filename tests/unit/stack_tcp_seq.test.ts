// TCP groundwork: sequence-number comparisons across the 2^32 wrap (RFC 9293 §3.4), SipHash-2-4
// against the reference vectors of its paper, and RFC 6528 initial sequence numbers.
import assert from "node:assert/strict";
import {
  IsnGenerator,
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  siphash24,
} from "../../stack/tcp_seq.ts";

Deno.test("sequence numbers compare modulo 2^32 (RFC 9293 §3.4), across the wrap", () => {
  const top = 0xffffffff;
  assert.ok(seqLt(top, 0), "2^32-1 comes before 0");
  assert.ok(seqLt(top - 10, 5));
  assert.ok(seqGt(5, top - 10));
  assert.ok(seqLe(7, 7) && seqGe(7, 7) && !seqLt(7, 7) && !seqGt(7, 7));
  assert.ok(seqLt(0, 0x7fffffff), "just under half the space ahead");
  assert.ok(seqGt(0, 0x80000001), "just over half the space: behind");
  assert.equal(seqAdd(top, 1), 0);
  assert.equal(seqAdd(top - 1, 10), 8);
  assert.equal(seqDiff(top - 1, 8), 10);
  assert.equal(seqDiff(8, top - 1), -10);
  for (let i = 0; i < 1000; i++) {
    const a = Math.floor(Math.random() * 2 ** 32), d = 1 + Math.floor(Math.random() * 2 ** 30);
    const b = seqAdd(a, d);
    assert.ok(seqLt(a, b) && seqGt(b, a) && seqDiff(a, b) === d, `${a} + ${d}`);
  }
});

// Key 00..0f, message 00..n-1: the reference implementation's vectors_sip64, n = 0..16.
const VECTORS = [
  0x726fdb47dd0e0e31n,
  0x74f839c593dc67fdn,
  0x0d6c8009d9a94f5an,
  0x85676696d7fb7e2dn,
  0xcf2794e0277187b7n,
  0x18765564cd99a68dn,
  0xcbc9466e58fee3cen,
  0xab0200f58b01d137n,
  0x93f5f5799a932462n,
  0x9e0082df0ba9e4b0n,
  0x7a5dbbc594ddb9f3n,
  0xf4b32f46226bada7n,
  0x751e8fbc860ee5fbn,
  0x14ea5627c0843d90n,
  0xf723ca908e7af2een,
  0xa129ca6149be45e5n,
  0x3f2acc7f57c29bdbn,
];

Deno.test("SipHash-2-4 gives the reference vectors for messages of 0..16 bytes", () => {
  const key = new Uint32Array(new Uint8Array(16).map((_, i) => i).buffer);
  const data = new Uint8Array(20).map((_, i) => (i - 2) & 0xff); // the message starts at 2
  const out = new Uint32Array(2);
  VECTORS.forEach((want, n) => {
    siphash24(key, data, 2, n, out);
    assert.equal(BigInt(out[1]) << 32n | BigInt(out[0]), want, `${n} bytes`);
  });
});

Deno.test("ISNs (RFC 6528): one tick per 4 µs for a 4-tuple, unrelated across tuples and keys", () => {
  const secret = new Uint8Array(16).fill(7);
  const isn = new IsnGenerator(secret);
  const a = isn.next(0x0a000002, 40000, 0x0a000001, 80, 0);
  assert.equal(isn.next(0x0a000002, 40000, 0x0a000001, 80, 4000), seqAdd(a, 1), "M ticks");
  assert.equal(isn.next(0x0a000002, 40000, 0x0a000001, 80, 4e9), seqAdd(a, 1e6), "1 s later");
  assert.equal(isn.next(0x0a000002, 40000, 0x0a000001, 80, 3999), a, "within one tick");
  // Another port, address or key: F differs (equal by chance once in 2^32).
  const others = [
    isn.next(0x0a000002, 40001, 0x0a000001, 80, 0),
    isn.next(0x0a000003, 40000, 0x0a000001, 80, 0),
    isn.next(0x0a000002, 40000, 0x0a000001, 81, 0),
    new IsnGenerator(new Uint8Array(16).fill(8)).next(0x0a000002, 40000, 0x0a000001, 80, 0),
    new IsnGenerator().next(0x0a000002, 40000, 0x0a000001, 80, 0),
  ];
  assert.equal(new Set([a, ...others]).size, 6, "six different ISNs");
  assert.equal(new IsnGenerator(secret).next(0x0a000002, 40000, 0x0a000001, 80, 0), a, "same key");
  assert.throws(() => new IsnGenerator(new Uint8Array(8)), RangeError);
});
