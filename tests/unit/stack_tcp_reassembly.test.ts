// TCP out-of-order buffer: gaps filled in any order deliver the stream byte-exact (across the
// 2^32 sequence wrap and the ring's end), at least 32 holes, the window bound, duplicates for
// D-SACK (RFC 2883) and SACK blocks most recent first (RFC 2018 §4).
import assert from "node:assert/strict";
import { AddResult, TcpReassembly } from "../../stack/tcp_reassembly.ts";
import { seqAdd, seqDiff } from "../../stack/tcp_seq.ts";

const stream = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

/**
 * A receiver as the TCP layer will be: in-order bytes come straight from the segment, the rest
 * goes to the buffer, and whatever follows on is taken from the ring. Returns what it delivered.
 */
function receiver(ooo: TcpReassembly, isn: number, total: number) {
  const out = new Uint8Array(total);
  let rcvNxt = isn, got = 0;
  const deliver = (data: Uint8Array, at: number, n: number) => {
    out.set(data.subarray(at, at + n), got);
    got += n;
  };
  return {
    get rcvNxt() {
      return rcvNxt;
    },
    get got() {
      return got;
    },
    out,
    segment(seq: number, data: Uint8Array, offset: number, length: number): number {
      const from = seqDiff(rcvNxt, seq);
      if (from <= 0 && from + length > 0) { // in order (maybe partly old): the fast path
        deliver(data, offset - from, length + from);
        rcvNxt = seqAdd(rcvNxt, length + from);
        for (let n = ooo.take(rcvNxt); n > 0; n = ooo.take(rcvNxt)) {
          const first = ooo.contiguous(rcvNxt, n);
          deliver(ooo.data, ooo.ringOffset(rcvNxt), first);
          if (first < n) deliver(ooo.data, 0, n - first);
          rcvNxt = seqAdd(rcvNxt, n);
        }
        return AddResult.STORED;
      }
      return ooo.add(rcvNxt, ooo.capacity, seq, data, offset, length);
    },
  };
}

Deno.test("gaps filled in any order give the stream back byte-exact, across the 2^32 wrap", () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let run = 0; run < 300; run++) {
    const total = 1000 + rand(60_000);
    const bytes = stream(total, run);
    const isn = run % 3 === 0 ? 0xffffffff - rand(30_000) : rand(2 ** 31) * 2; // wraps often
    const ooo = new TcpReassembly(1 << 16);
    const rx = receiver(ooo, isn, total);
    // Segments of random sizes, sent shuffled, some twice, some overlapping their neighbours.
    const segs: [number, number][] = [];
    for (let at = 0; at < total;) {
      const n = Math.min(1 + rand(1460), total - at);
      segs.push([at, n]);
      if (rand(10) === 0) {
        segs.push([Math.max(0, at - rand(200)), Math.min(n + rand(400), total - at)]);
      }
      at += n;
    }
    for (let i = segs.length - 1; i > 0; i--) {
      const k = rand(i + 1);
      [segs[i], segs[k]] = [segs[k], segs[i]];
    }
    for (const [at, n] of segs) {
      const r = rx.segment(seqAdd(isn, at), bytes, at, n);
      assert.notEqual(r, AddResult.OUTSIDE, "within the window");
      assert.notEqual(r, AddResult.TOO_MANY_HOLES);
    }
    assert.equal(rx.got, total, `run ${run}: everything delivered`);
    assert.deepEqual(rx.out, bytes, `run ${run}: byte-exact`);
    assert.equal(ooo.ranges, 0);
  }
});

Deno.test("64 ranges are held (more than 32 holes); one more disjoint range is refused", () => {
  const ooo = new TcpReassembly(1 << 16);
  const bytes = stream(64 * 200, 1);
  for (let i = 0; i < 64; i++) {
    assert.equal(ooo.add(0, 1 << 16, i * 200 + 100, bytes, i * 200 + 100, 50), AddResult.STORED);
  }
  assert.equal(ooo.ranges, 64);
  assert.equal(ooo.bytes, 64 * 50);
  assert.equal(ooo.add(0, 1 << 16, 64 * 200 + 100, bytes, 0, 10), AddResult.TOO_MANY_HOLES);
  // Bridging two ranges still works when full: it merges them.
  assert.equal(ooo.add(0, 1 << 16, 150, bytes, 150, 150), AddResult.STORED);
  assert.equal(ooo.ranges, 63);
  assert.equal(ooo.take(0), 0, "the first 100 bytes are still missing");
  assert.equal(ooo.take(100), 250, "100..350 follow on");
});

Deno.test("the window bounds what is held; data already delivered is a duplicate", () => {
  const ooo = new TcpReassembly(1 << 12);
  const bytes = stream(10_000, 2);
  assert.equal(ooo.add(1000, 2000, 3500, bytes, 0, 100), AddResult.OUTSIDE, "past the window");
  assert.equal(ooo.add(1000, 2000, 2900, bytes, 0, 500), AddResult.STORED);
  assert.equal(ooo.bytes, 100, "trimmed to the window's end (3000)");
  assert.equal(ooo.add(1000, 2000, 500, bytes, 0, 400), AddResult.DUPLICATE, "all before rcvNxt");
  assert.ok(ooo.hasDuplicate);
  assert.deepEqual([...ooo.duplicate], [500, 900]);
  assert.equal(ooo.add(1000, 2000, 2950, bytes, 0, 20), AddResult.DUPLICATE, "inside a held range");
  // A segment that starts before rcvNxt keeps only its new bytes, from the right offset.
  const fresh = new TcpReassembly(1 << 12);
  assert.equal(fresh.add(1000, 2000, 900, bytes, 5000, 300), AddResult.STORED);
  assert.equal(fresh.take(1000), 200);
  const at = fresh.ringOffset(1000);
  assert.deepEqual(fresh.data.subarray(at, at + 200), bytes.subarray(5100, 5300));
  assert.throws(() => new TcpReassembly(1000), RangeError);
});

Deno.test("SACK blocks: a pending D-SACK first (RFC 2883), then the most recent ranges (RFC 2018 §4)", () => {
  const ooo = new TcpReassembly(1 << 16);
  const bytes = stream(20_000, 3);
  const edges = new Uint32Array(8);
  for (const at of [1000, 3000, 5000, 7000]) ooo.add(0, 1 << 16, at, bytes, 0, 100);
  assert.equal(ooo.writeSackBlocks(edges, 3), 3);
  assert.deepEqual([...edges.subarray(0, 6)], [7000, 7100, 5000, 5100, 3000, 3100]);
  ooo.add(0, 1 << 16, 3100, bytes, 0, 50); // grows the range at 3000: now the most recent
  ooo.add(0, 1 << 16, 5000, bytes, 0, 10); // a duplicate
  assert.equal(ooo.writeSackBlocks(edges, 4), 4);
  assert.deepEqual(
    [...edges],
    [5000, 5010, 5000, 5100, 3000, 3150, 7000, 7100],
    "D-SACK, then its block",
  );
  assert.ok(!ooo.hasDuplicate, "a D-SACK is reported once");
  assert.equal(ooo.writeSackBlocks(edges, 4), 4);
  assert.deepEqual([...edges], [5000, 5100, 3000, 3150, 7000, 7100, 1000, 1100]);
  // Partial duplicates are D-SACKed too: the overlap with a held range, the part below rcvNxt.
  assert.equal(ooo.add(0, 1 << 16, 7050, bytes, 0, 100), 0);
  assert.ok(ooo.hasDuplicate);
  assert.deepEqual([...ooo.duplicate], [7050, 7100]);
  ooo.writeSackBlocks(edges, 1);
  assert.equal(ooo.add(500, 1 << 16, 400, bytes, 0, 200), 0);
  assert.deepEqual([...ooo.duplicate], [400, 500]);
});
