// TCP options in place: Linux's SYN layout written and read back, segment options with SACK
// blocks, the parsing rules of Linux's tcp_parse_options for odd lists, a cross-check against
// net/'s TcpView, and 10^5 random option lists that never throw.
import assert from "node:assert/strict";
import { TcpView } from "../../net/mod.ts";
import {
  MAX_WINDOW_SCALE,
  SACK_EDGES,
  TcpOptions,
  TS_ECR,
  TS_VAL,
  writeSegmentOptions,
  writeSynOptions,
} from "../../stack/tcp_options.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));

Deno.test("a SYN's options are written in Linux's layout and read back (RFC 9293 §3.7.1, RFC 7323, RFC 2018)", () => {
  // As Linux sends them: MSS 1460, SACK-permitted + timestamps, NOP + window scale 7.
  const linux = hex("020405b40402080a8badf00d0000000001030307");
  const out = new Uint8Array(40);
  const n = writeSynOptions(new DataView(out.buffer), 0, 1460, 7, true, 0x8badf00d, 0);
  assert.equal(n, 20);
  assert.deepEqual(out.subarray(0, n), linux);
  const o = new TcpOptions();
  o.parse(linux, 0, linux.length);
  assert.equal(o.mss, 1460);
  assert.equal(o.windowScale, 7);
  assert.ok(o.sackPermitted && o.hasTimestamp && !o.truncated);
  assert.equal(o.values[TS_VAL], 0x8badf00d);
  assert.equal(o.values[TS_ECR], 0);
  // Without timestamps or window scale: MSS, NOP NOP SACK-permitted.
  const short = writeSynOptions(new DataView(out.buffer), 0, 536, -1, true, -1, 0);
  assert.deepEqual(out.subarray(0, short), hex("0204021801010402"));
});

Deno.test("segment options: timestamps and up to 3 SACK blocks, or 4 without timestamps", () => {
  const edges = new Uint32Array([10, 20, 0xfffffff0, 5, 100, 200, 300, 400]);
  const out = new Uint8Array(40), view = new DataView(out.buffer);
  const o = new TcpOptions();
  const n = writeSegmentOptions(view, 0, new Uint32Array([7, 9]), edges, 4);
  assert.equal(n, 12 + 4 + 24, "timestamps leave room for 3 blocks");
  o.parse(out, 0, n);
  assert.ok(o.hasTimestamp);
  assert.equal(o.values[TS_VAL], 7);
  assert.equal(o.values[TS_ECR], 9);
  assert.equal(o.sackBlocks, 3);
  assert.deepEqual([...o.values.subarray(SACK_EDGES, SACK_EDGES + 6)], [...edges.subarray(0, 6)]);
  const m = writeSegmentOptions(view, 0, null, edges, 4);
  assert.equal(m, 36);
  o.parse(out, 0, m);
  assert.ok(!o.hasTimestamp);
  assert.equal(o.sackBlocks, 4);
  assert.deepEqual([...o.values.subarray(SACK_EDGES)], [...edges]);
  assert.equal(writeSegmentOptions(view, 0, null, edges, 0), 0);
});

Deno.test("odd option lists are read as Linux reads them (RFC 9293 MUST-6, MUST-7)", () => {
  const o = new TcpOptions();
  const read = (s: string) => (o.parse(hex(s), 0, s.length / 2), o);
  // Unknown kinds (30: MPTCP, 34: TFO cookie) are skipped by their length.
  assert.equal(read("1e0400002204aabb020405dc").mss, 1500);
  // A known kind with the wrong length is ignored, and parsing goes on.
  assert.equal(read("0203aa020405dc").mss, 1500);
  assert.equal(read("0304010000").windowScale, -1);
  // Window scale above 14 is used as 14 (RFC 7323 §2.3).
  assert.equal(read("010303ff").windowScale, MAX_WINDOW_SCALE);
  // END stops the list; what follows is padding, not options.
  assert.equal(read("00020405dc").mss, -1);
  assert.equal(o.truncated, false);
  // A length below 2, or past the end, ends the list: later options are not trusted.
  read("0401020405dc");
  assert.ok(o.truncated && !o.sackPermitted && o.mss === -1);
  read("0402" + "080a00000001");
  assert.ok(o.sackPermitted && o.truncated && !o.hasTimestamp);
  read("01");
  assert.ok(!o.truncated, "a lone NOP is fine");
  read("02");
  assert.ok(o.truncated, "a kind without its length");
  // SACK with a length that is not 2 + 8n is ignored.
  assert.equal(read("050b" + "00".repeat(9)).sackBlocks, 0);
});

Deno.test("well-formed option lists read the same as net/'s TcpView", () => {
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const o = new TcpOptions(), view = new TcpView();
  for (let round = 0; round < 20_000; round++) {
    const opts: number[] = [];
    const add = (...b: number[]) => opts.push(...b);
    const kinds = [2, 3, 4, 8, 30].filter(() => rand(2) === 0);
    for (const k of kinds) {
      if (rand(3) === 0) add(1);
      if (k === 2) add(2, 4, rand(256), rand(256));
      else if (k === 3) add(3, 3, rand(20));
      else if (k === 4) add(4, 2);
      else if (k === 8) add(8, 10, ...Array.from({ length: 8 }, () => rand(256)));
      else add(30, 4, rand(256), rand(256));
    }
    if (opts.length > 40) continue;
    while (opts.length % 4 !== 0) opts.push(0);
    const seg = new Uint8Array(20 + opts.length);
    seg[12] = (5 + opts.length / 4) << 4;
    seg.set(opts, 20);
    assert.ok(view.attach(new DataView(seg.buffer), 0, seg.length));
    o.parse(seg, 20, opts.length);
    const ws = view.windowScale < 0 ? -1 : Math.min(view.windowScale, MAX_WINDOW_SCALE);
    assert.equal(o.mss, view.mss, `round ${round}`);
    assert.equal(o.windowScale, ws);
    assert.equal(o.sackPermitted, view.sackPermitted);
    assert.equal(o.hasTimestamp, view.timestampValue >= 0);
    if (o.hasTimestamp) {
      assert.equal(o.values[TS_VAL], view.timestampValue);
      assert.equal(o.values[TS_ECR], view.timestampEcho);
    }
  }
});

Deno.test("10^5 random option lists: no exception, at most 4 SACK blocks, nothing read past the end", () => {
  let seed = 99;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const o = new TcpOptions();
  const buf = new Uint8Array(64);
  for (let i = 0; i < 100_000; i++) {
    const length = rand(41);
    for (let j = 0; j < buf.length; j++) {
      buf[j] = rand(4) === 0 ? [0, 1, 2, 3, 4, 5, 8][rand(7)] : rand(256);
    }
    // Bytes past the options are a canary: a parse that reads them would see 0xee SACK edges.
    buf.fill(0xee, 4 + length);
    o.parse(buf, 4, length);
    assert.ok(o.sackBlocks >= 0 && o.sackBlocks <= 4);
    for (let b = 0; b < 2 * o.sackBlocks; b++) {
      assert.notEqual(o.values[SACK_EDGES + b], 0xeeeeeeee, "read past the options");
    }
    assert.ok(o.mss >= -1 && o.mss < 65536 && o.windowScale <= MAX_WINDOW_SCALE);
  }
});
