// IPv4 fragmentation and reassembly (stack/fragment.ts), without DPDK, on virtual time. Run as a
// program (`deno run ... stack_fragment.test.ts gc <datagrams>`), this file is also the child of
// the GC test.
import assert from "node:assert/strict";
import { foldSum, setIpv4HeaderChecksum, sum16, verifyIpv4HeaderChecksum } from "../../net/mod.ts";
import {
  FRAGMENT_DONT_FRAGMENT,
  FRAGMENT_NO_BUFFER,
  fragmentCount,
  fragmentIpv4,
  type FragmentSink,
  Reassembler,
  type ReassemblyCounters,
} from "../../stack/fragment.ts";
import { gcsInLoop, runDeno } from "../helpers.ts";

const TEST_OPTIONS = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };
const SRC = 0x0a000001, DST = 0x0a000002, UDP = 17, ICMP = 1;
const SECOND = 1e9;

interface PacketOptions {
  src?: number;
  dst?: number;
  id?: number;
  proto?: number;
  /** The flags + offset word. */
  word?: number;
  tos?: number;
  /** Option bytes (padded to 4 with EOL). */
  options?: number[];
  /** Seed of the payload pattern. */
  seed?: number;
}

/** An IPv4 packet with `payload` bytes of a pattern, its checksum set. */
function packet(payload: number, o: PacketOptions = {}): Uint8Array {
  const options = o.options ?? [];
  const ihl = 20 + ((options.length + 3) & ~3);
  const p = new Uint8Array(ihl + payload);
  const v = new DataView(p.buffer);
  v.setUint8(0, 0x40 | ihl / 4);
  v.setUint8(1, o.tos ?? 0);
  v.setUint16(2, ihl + payload);
  v.setUint16(4, o.id ?? 0x1234);
  v.setUint16(6, o.word ?? 0);
  v.setUint8(8, 64);
  v.setUint8(9, o.proto ?? UDP);
  v.setUint32(12, o.src ?? SRC);
  v.setUint32(16, o.dst ?? DST);
  p.set(options, 20);
  const seed = o.seed ?? 0;
  for (let i = 0; i < payload; i++) p[ihl + i] = (i * 7 + (i >> 8) * 13 + seed * 101) & 0xff;
  setIpv4HeaderChecksum(p, 0);
  return p;
}

/** One fragment made by hand, as a peer's kernel would: bytes `start .. start + length` of the payload. */
function handFragment(whole: Uint8Array, start: number, length: number, more: boolean): Uint8Array {
  const ihl = (whole[0] & 0x0f) * 4;
  const f = new Uint8Array(ihl + length);
  f.set(whole.subarray(0, ihl));
  f.set(whole.subarray(ihl + start, ihl + start + length), ihl);
  const v = new DataView(f.buffer);
  v.setUint16(2, ihl + length);
  v.setUint16(6, (more ? 0x2000 : 0) | start / 8);
  setIpv4HeaderChecksum(f, 0);
  return f;
}

/** A sink writing frames one after the other into its own buffer, as a device would. */
class BufferSink implements FragmentSink {
  readonly txData: Uint8Array;
  readonly txView: DataView;
  readonly offsets = new Int32Array(1024);
  readonly lengths = new Int32Array(1024);
  frames = 0;
  used = 0;
  /** Frames it takes at most (to test a device running out). */
  limit = Infinity;
  constructor(size = 1 << 20) {
    this.txData = new Uint8Array(size);
    this.txView = new DataView(this.txData.buffer);
  }
  reserve(length: number): number {
    if (this.frames >= this.limit || this.used + length > this.txData.length) return -1;
    const at = this.used;
    this.offsets[this.frames] = at;
    this.lengths[this.frames++] = length;
    this.used += length;
    return at;
  }
  reset(): void {
    this.frames = 0;
    this.used = 0;
  }
  /** Copies of the frames written. */
  copies(): Uint8Array[] {
    return Array.from(
      { length: this.frames },
      (_, i) => this.txData.slice(this.offsets[i], this.offsets[i] + this.lengths[i]),
    );
  }
}

/** The fragments `fragmentIpv4` makes of `p` for `mtu`, as copies. */
function fragmentsOf(p: Uint8Array, mtu: number): Uint8Array[] {
  const sink = new BufferSink();
  const n = fragmentIpv4(p, new DataView(p.buffer, p.byteOffset), 0, mtu, sink);
  assert.equal(n, sink.frames);
  return sink.copies();
}

/** Feeds one fragment; returns a copy of the datagram it completed, or null. */
function feed(r: Reassembler, f: Uint8Array): Uint8Array | null {
  const slot = r.add(f, new DataView(f.buffer, f.byteOffset), 0);
  if (slot < 0) return null;
  const out = r.data.slice(r.offset(slot), r.offset(slot) + r.length(slot));
  r.release(slot);
  return out;
}

/** Feeds fragments in order; returns every datagram completed. */
function feedAll(r: Reassembler, fragments: Uint8Array[]): Uint8Array[] {
  const done: Uint8Array[] = [];
  for (const f of fragments) {
    const d = feed(r, f);
    if (d !== null) done.push(d);
  }
  return done;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

/** Every fragment given is accounted for: used, dropped, or held. */
function assertAccounted(r: Reassembler): void {
  const c = r.counters;
  assert.equal(c.fragments, c.fragmentsUsed + c.fragmentsDropped + r.held, JSON.stringify(c));
}

function zero(): ReassemblyCounters {
  return {
    fragments: 0,
    reassembled: 0,
    fragmentsUsed: 0,
    fragmentsDropped: 0,
    duplicates: 0,
    overlaps: 0,
    tooBig: 0,
    conflicts: 0,
    malformed: 0,
    evicted: 0,
    timedOut: 0,
  };
}

Deno.test("fragmentIpv4 then Reassembler: every payload of 1..8000 bytes", TEST_OPTIONS, () => {
  const clock = new Float64Array(1);
  const r = new Reassembler(clock);
  const sink = new BufferSink();
  const eth = new Uint8Array(14 + 20 + 8000);
  const ethView = new DataView(eth.buffer);
  let fragmented = 0;
  for (const mtu of [1500, 576]) {
    for (let size = 1; size <= 8000; size++) {
      const p = packet(size, { id: size, seed: mtu });
      // Behind a 14-byte link header that every frame must carry.
      eth.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]);
      eth.set(p, 14);
      sink.reset();
      const n = fragmentIpv4(eth, ethView, 14, mtu, sink, 14);
      assert.equal(n, fragmentCount(p.length, 20, mtu), `size ${size} mtu ${mtu}`);
      assert.equal(n, sink.frames);
      if (p.length <= mtu) {
        assert.equal(n, 1);
        assert.deepEqual(sink.txData.subarray(14, 14 + p.length), p);
        continue;
      }
      fragmented++;
      let expectedOffset = 0, done: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const at = sink.offsets[i], length = sink.lengths[i], ip = at + 14;
        const v = sink.txView;
        assert.deepEqual(sink.txData.subarray(at, at + 14), eth.subarray(0, 14));
        assert.ok(length - 14 <= mtu, `fragment ${i} is ${length - 14} bytes`);
        assert.ok(verifyIpv4HeaderChecksum(v, ip), `checksum of fragment ${i}`);
        const word = v.getUint16(ip + 6), payload = v.getUint16(ip + 2) - 20;
        assert.equal(v.getUint16(ip + 2), length - 14);
        assert.equal((word & 0x1fff) * 8, expectedOffset);
        assert.equal((word & 0x2000) !== 0, i < n - 1, "MF on all but the last");
        if (i < n - 1) {
          assert.equal(payload % 8, 0);
          assert.equal(payload, (mtu - 20) & ~7, "all but the last are as large as fits");
        }
        assert.deepEqual(
          sink.txData.subarray(ip + 20, ip + 20 + payload),
          p.subarray(20 + expectedOffset, 20 + expectedOffset + payload),
        );
        expectedOffset += payload;
        const slot = r.add(sink.txData, v, ip);
        if (i < n - 1) assert.equal(slot, -1);
        else {
          assert.ok(slot >= 0, `size ${size}: not reassembled`);
          done = r.data.slice(r.offset(slot), r.offset(slot) + r.length(slot));
          r.release(slot);
        }
      }
      assert.equal(expectedOffset, size);
      assert.ok(done !== null);
      assert.ok(verifyIpv4HeaderChecksum(done, 0));
      // The original had no flags: the reassembled header is the original's, byte for byte.
      assert.deepEqual(done, p, `size ${size} mtu ${mtu}`);
    }
  }
  assert.equal(r.counters.reassembled, fragmented);
  assert.equal(r.pending, 0);
  assert.equal(r.held, 0);
  assert.equal(r.counters.fragmentsDropped, 0);
  assertAccounted(r);
});

Deno.test("Reassembler", TEST_OPTIONS, async (t) => {
  await t.step("every order of 3 and of 4 fragments", () => {
    for (const [size, mtu] of [[3000, 1500], [2000, 576]]) {
      const p = packet(size, { id: size });
      const fragments = fragmentsOf(p, mtu);
      assert.equal(fragments.length, mtu === 1500 ? 3 : 4);
      const orders = permutations(fragments.map((_, i) => i));
      assert.equal(orders.length, mtu === 1500 ? 6 : 24);
      const r = new Reassembler(new Float64Array(1), { slots: 2 });
      for (const order of orders) {
        for (let k = 0; k < order.length; k++) {
          const d = feed(r, fragments[order[k]]);
          if (k < order.length - 1) assert.equal(d, null, `order ${order}`);
          else assert.deepEqual(d, p, `order ${order}`);
        }
      }
      assert.equal(r.counters.reassembled, orders.length);
      assert.equal(r.pending, 0);
      assertAccounted(r);
    }
  });

  await t.step("duplicates are ignored, in any place", () => {
    const p = packet(2000, { id: 9 });
    const f = fragmentsOf(p, 576); // 4 fragments
    const r = new Reassembler(new Float64Array(1));
    for (const order of [[0, 0, 1, 2, 3], [3, 1, 3, 1, 0, 2], [2, 2, 2, 0, 1, 0, 3]]) {
      const before = r.counters.duplicates;
      const done = feedAll(r, order.map((i) => f[i]));
      assert.deepEqual(done, [p], `order ${order}`);
      assert.equal(r.counters.duplicates - before, order.length - 4);
    }
    assert.equal(r.counters.overlaps, 0);
    // A copy arriving after the datagram completed starts a new one, which times out alone.
    assert.equal(feed(r, f[1]), null);
    assert.equal(r.pending, 1);
    assertAccounted(r);
  });

  await t.step("a missing fragment: expire drops the datagram at its deadline", () => {
    const clock = new Float64Array([5e12]); // nanoseconds, far beyond 2^30
    const r = new Reassembler(clock, { slots: 2 });
    const p = packet(3000, { id: 77 });
    const f = fragmentsOf(p, 1500);
    feed(r, f[0]);
    clock[0] += 2 * SECOND;
    feed(r, f[2]);
    const deadline = new Float64Array(1);
    r.writeDeadline(deadline, 0);
    assert.equal(deadline[0], 5e12 + 30 * SECOND, "30 s after the first fragment");
    clock[0] = 5e12 + 30 * SECOND - 1;
    assert.equal(r.expire(), 0);
    assert.equal(r.pending, 1);
    clock[0] = 5e12 + 30 * SECOND;
    const quoted: number[][] = [];
    const receiver = {
      timedOut(data: Uint8Array, _view: DataView, offset: number, length: number) {
        quoted.push(Array.from(data.subarray(offset, offset + length)));
      },
    };
    assert.equal(r.expire(receiver), 1);
    assert.equal(r.counters.timedOut, 1);
    assert.equal(r.counters.fragmentsDropped, 2);
    assert.equal(r.pending, 0);
    assert.equal(r.held, 0);
    // What ICMP time exceeded quotes: the first fragment's header and payload.
    assert.deepEqual(quoted, [Array.from(f[0])]);
    r.writeDeadline(deadline, 0);
    assert.equal(deadline[0], Infinity);
    // Without the first fragment, nothing is quoted.
    feed(r, f[1]);
    clock[0] += 30 * SECOND;
    assert.equal(r.expire(receiver), 1);
    assert.equal(quoted.length, 1);
    // Both slots are free again: two datagrams at once, no eviction.
    const q = packet(3000, { id: 78 });
    const g = fragmentsOf(q, 1500);
    feed(r, f[0]);
    feed(r, g[0]);
    assert.equal(r.pending, 2);
    assert.deepEqual(feedAll(r, [f[1], g[1], g[2], f[2]]), [q, p]);
    assert.equal(r.counters.evicted, 0);
    assertAccounted(r);
  });

  await t.step(
    "timeouts are expiry order; a late fragment of an expired datagram starts anew",
    () => {
      const clock = new Float64Array([1e12]);
      const r = new Reassembler(clock, { timeoutNs: 10 * SECOND });
      const out = new Float64Array(2);
      const ps = [1, 2, 3].map((id) => fragmentsOf(packet(3000, { id }), 1500));
      for (const f of ps) {
        feed(r, f[0]);
        clock[0] += SECOND;
      }
      r.writeDeadline(out, 1);
      assert.equal(out[1], 1e12 + 10 * SECOND);
      clock[0] = 1e12 + 11 * SECOND;
      assert.equal(r.expire(), 2);
      r.writeDeadline(out, 1);
      assert.equal(out[1], 1e12 + 12 * SECOND);
      // Datagram 3's deadline passed, expire() not called yet: its next fragment finds it gone.
      clock[0] = 1e12 + 13 * SECOND;
      assert.equal(feed(r, ps[2][1]), null);
      assert.equal(r.counters.timedOut, 3);
      assert.equal(r.pending, 1);
      assert.equal(r.held, 1);
      assertAccounted(r);
    },
  );

  await t.step("overlapping fragments drop the datagram; identical repeats do not", () => {
    const p = packet(64, { id: 5 });
    const r = new Reassembler(new Float64Array(1));
    // A partial overlap (bytes 16..47 then 8..23), even with the same bytes: dropped.
    feed(r, handFragment(p, 16, 32, true));
    assert.equal(feed(r, handFragment(p, 8, 16, true)), null);
    assert.equal(r.counters.overlaps, 1);
    assert.equal(r.pending, 0);
    // The same range with other bytes (a rewrite of data already checked): dropped.
    feed(r, handFragment(p, 0, 32, true));
    const evil = handFragment(p, 0, 32, true);
    evil[20 + 5] ^= 0xff;
    setIpv4HeaderChecksum(evil, 0);
    assert.equal(feed(r, evil), null);
    assert.equal(r.counters.overlaps, 2);
    assert.equal(r.pending, 0);
    // A fragment inside one held, or spanning two held, with the same bytes: a duplicate.
    feed(r, handFragment(p, 0, 32, true));
    feed(r, handFragment(p, 32, 16, true));
    assert.equal(feed(r, handFragment(p, 8, 8, true)), null);
    assert.equal(feed(r, handFragment(p, 16, 32, true)), null);
    assert.equal(r.counters.duplicates, 2);
    assert.deepEqual(feed(r, handFragment(p, 48, 16, false)), p);
    // Around a last fragment that ends inside a block.
    const q = packet(43, { id: 6 });
    feed(r, handFragment(q, 0, 40, true));
    feed(r, handFragment(q, 40, 3, false));
    assert.equal(r.counters.reassembled, 2);
    feed(r, handFragment(q, 0, 32, true));
    feed(r, handFragment(q, 40, 3, false));
    assert.equal(feed(r, handFragment(q, 32, 16, true)), null, "MF beyond the end");
    assert.equal(r.counters.conflicts, 1);
    assert.equal(r.pending, 0);
    assertAccounted(r);
  });

  await t.step("ends that disagree drop the datagram", () => {
    const p = packet(64, { id: 8 });
    const r = new Reassembler(new Float64Array(1));
    // Two last fragments ending in different places.
    feed(r, handFragment(p, 48, 16, false));
    assert.equal(feed(r, handFragment(p, 40, 8, false)), null);
    assert.equal(r.counters.conflicts, 1);
    assert.equal(r.pending, 0);
    // A last fragment ending before data already held.
    feed(r, handFragment(p, 48, 16, true));
    assert.equal(feed(r, handFragment(p, 0, 8, false)), null);
    assert.equal(r.counters.conflicts, 2);
    // A fragment beyond the known end.
    feed(r, handFragment(p, 8, 8, false));
    assert.equal(feed(r, handFragment(p, 16, 8, true)), null);
    assert.equal(r.counters.conflicts, 3);
    assert.equal(r.pending, 0);
    assert.equal(r.counters.fragmentsDropped, 6);
    assertAccounted(r);
  });

  await t.step("malformed fragments are dropped alone", () => {
    const p = packet(64, { id: 4 });
    const r = new Reassembler(new Float64Array(1));
    feed(r, handFragment(p, 0, 16, true));
    const odd = handFragment(p, 16, 13, true); // not the last, not a multiple of 8
    assert.equal(feed(r, odd), null);
    const empty = handFragment(p, 16, 0, true);
    assert.equal(feed(r, empty), null);
    assert.equal(r.counters.malformed, 2);
    assert.equal(r.pending, 1, "the datagram is kept");
    assert.deepEqual(feed(r, handFragment(p, 16, 48, false)), p);
    assertAccounted(r);
  });

  await t.step("too big: beyond maxDatagram, and the ping of death", () => {
    const r = new Reassembler(new Float64Array(1));
    // 65528 + 16 + 20 > 65535.
    const big = packet(65515);
    const pieces = [];
    for (let off = 0; off < 65515; off += 1480) {
      pieces.push(handFragment(big, off, Math.min(1480, 65515 - off), off + 1480 < 65515));
    }
    assert.deepEqual(feedAll(r, pieces), [big], "65535 bytes exactly: fine");
    const death = new Uint8Array(20 + 16);
    death.set(pieces[0].subarray(0, 20));
    const dv = new DataView(death.buffer);
    dv.setUint16(2, 36);
    dv.setUint16(6, 65528 / 8);
    setIpv4HeaderChecksum(death, 0);
    feed(r, pieces[0]);
    feed(r, pieces[1]);
    assert.equal(feed(r, death), null);
    assert.equal(r.counters.tooBig, 1);
    assert.equal(r.pending, 0, "the datagram it claimed to belong to is gone");
    assert.equal(feed(r, death), null, "alone: no slot taken");
    assert.equal(r.counters.tooBig, 2);
    assert.equal(r.pending, 0);
    // A smaller limit, and a first fragment whose options push it over.
    const small = new Reassembler(new Float64Array(1), { maxDatagram: 1000 });
    // Its second fragment goes beyond 1000 bytes (the datagram goes), then its third (alone).
    assert.equal(feedAll(small, fragmentsOf(packet(1200), 576)).length, 0);
    assert.equal(small.counters.tooBig, 2);
    const fits = packet(976, { options: [0x94, 0x04, 0, 0] }); // router alert: IHL 6, 1000 bytes
    assert.deepEqual(feedAll(small, fragmentsOf(fits, 576)), [fits]);
    const over = packet(980, { options: [0x94, 0x04, 0, 0] });
    const f = fragmentsOf(over, 576);
    assert.deepEqual(feedAll(small, [f[1], f[0]]), []);
    assert.equal(small.counters.tooBig, 3, "the first fragment's 24-byte header makes 1004");
    assertAccounted(r);
    assertAccounted(small);
  });

  await t.step("all slots busy: the oldest incomplete datagram is evicted", () => {
    const clock = new Float64Array([1e12]);
    const r = new Reassembler(clock, { slots: 4 });
    const ps = [0, 1, 2, 3, 4].map((id) => packet(3000, { id }));
    const fs = ps.map((p) => fragmentsOf(p, 1500));
    for (const f of fs) {
      feed(r, f[0]);
      clock[0] += 1000;
    }
    assert.equal(r.counters.evicted, 1);
    assert.equal(r.pending, 4);
    // Datagram 0 was the oldest: its later fragments start a new datagram, which evicts 1.
    assert.equal(feed(r, fs[0][1]), null);
    assert.equal(r.counters.evicted, 2);
    for (const id of [2, 3, 4]) assert.deepEqual(feedAll(r, fs[id].slice(1)), [ps[id]]);
    assert.equal(r.pending, 1);
    assertAccounted(r);
    r.clear();
    assert.equal(r.pending, 0);
    assert.equal(r.counters.evicted, 3);
    assertAccounted(r);
  });

  await t.step("interleaved datagrams with the same id from other sources or protocols", () => {
    const r = new Reassembler(new Float64Array(1));
    const ps = [
      packet(4000, { id: 7, src: 0x0a000001, seed: 1 }),
      packet(4000, { id: 7, src: 0x0a000003, seed: 2 }),
      packet(4000, { id: 7, src: 0x0a000001, proto: ICMP, seed: 3 }),
      packet(4000, { id: 7, src: 0x0a000001, dst: 0x0a0000ff, seed: 4 }),
      packet(4000, { id: 8, src: 0x0a000001, seed: 5 }),
    ];
    const fs = ps.map((p) => fragmentsOf(p, 1500).reverse());
    const done: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      for (const f of fs) {
        const d = feed(r, f[i]);
        if (d) done.push(d);
      }
    }
    assert.deepEqual(done, ps);
    assert.equal(r.counters.fragmentsDropped, 0);
    assertAccounted(r);
  });

  await t.step("Linux's fragments of ping -s 3000 (ICMP, 1480 + 1480 + 48 bytes)", () => {
    // An echo request of 3000 data bytes: 3008 bytes of ICMP, as the kernel cuts it for 1500.
    const icmp = new Uint8Array(3008);
    const iv = new DataView(icmp.buffer);
    iv.setUint32(0, 0x08000000); // echo request, code 0, checksum 0
    iv.setUint32(4, 0x04d20001); // id 1234, sequence 1
    for (let i = 8; i < 3008; i++) icmp[i] = i & 0xff;
    iv.setUint16(2, ~foldSum(sum16(iv, 0, 3008)) & 0xffff);
    const whole = new Uint8Array(20 + 3008);
    whole.set(icmp, 20);
    const wv = new DataView(whole.buffer);
    wv.setUint32(0, 0x45000000 | whole.length);
    wv.setUint32(4, 0xbeef0000); // id, no flags: the kernel clears DF on what it fragments
    wv.setUint32(8, 0x40010000);
    wv.setUint32(12, 0xc0a80001);
    wv.setUint32(16, 0xc0a80002);
    setIpv4HeaderChecksum(whole, 0);
    const kernel = [
      handFragment(whole, 0, 1480, true),
      handFragment(whole, 1480, 1480, true),
      handFragment(whole, 2960, 48, false),
    ];
    assert.deepEqual(
      kernel.map((f) => [f.length, new DataView(f.buffer).getUint16(6)]),
      [[1500, 0x2000], [1500, 0x2000 | 185], [68, 370]],
    );
    // Ours are the kernel's, byte for byte.
    assert.deepEqual(fragmentsOf(whole, 1500), kernel);
    for (const order of permutations([0, 1, 2])) {
      const r = new Reassembler(new Float64Array(1));
      const [d] = feedAll(r, order.map((i) => kernel[i]));
      assert.deepEqual(d, whole);
      assert.equal(foldSum(sum16(d, 20, 3008)), 0xffff, "the ICMP checksum verifies");
    }
  });

  await t.step("ECN: CE on any fragment marks the datagram", () => {
    const p = packet(3000, { tos: 0x02 }); // ECT(0)
    const f = fragmentsOf(p, 1500);
    f[1][1] |= 3; // CE on the way
    setIpv4HeaderChecksum(f[1], 0);
    const [d] = feedAll(new Reassembler(new Float64Array(1)), f);
    assert.equal(d[1], 0x03);
    assert.ok(verifyIpv4HeaderChecksum(d, 0));
    assert.deepEqual(d.subarray(20), p.subarray(20));
  });

  await t.step("a random mix of datagrams, fragments lost, repeated and reordered", () => {
    // Many datagrams at once through few slots: probe chains shift, slots are evicted and
    // reused; whatever completes is byte-exact and every fragment is accounted for.
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const clock = new Float64Array([1e12]);
    const r = new Reassembler(clock, { slots: 8, timeoutNs: 5000 });
    const expected = new Map<string, Uint8Array>();
    let pool: Uint8Array[] = [];
    let completed = 0;
    for (let round = 0; round < 3000; round++) {
      if (pool.length < 40) {
        const id = round & 0xffff, src = 0x0a000000 + (round % 5);
        const p = packet(100 + Math.floor(random() * 4000), { id, src, seed: round });
        expected.set(`${src}/${id}`, p);
        for (const f of fragmentsOf(p, 576)) {
          if (random() < 0.03) continue; // lost
          pool.push(f);
          if (random() < 0.05) pool.push(f); // duplicated
        }
      }
      const i = Math.floor(random() * Math.min(pool.length, 12)); // reordered, a little
      const f = pool[i];
      pool = [...pool.slice(0, i), ...pool.slice(i + 1)];
      const d = feed(r, f);
      if (d) {
        const v = new DataView(d.buffer);
        assert.deepEqual(d, expected.get(`${v.getUint32(12)}/${v.getUint16(4)}`));
        completed++;
      }
      clock[0] += 10;
      r.expire();
      assertAccounted(r);
    }
    const c = r.counters;
    assert.equal(c.reassembled, completed);
    assert.ok(completed > 100, `${completed} completed`);
    assert.ok(c.duplicates > 0 && c.evicted + c.timedOut > 0, JSON.stringify(c));
    assert.equal(c.overlaps + c.conflicts + c.malformed + c.tooBig, 0);
  });

  await t.step("options are checked", () => {
    const clock = new Float64Array(1);
    assert.throws(() => new Reassembler(clock, { slots: 0 }), RangeError);
    assert.throws(() => new Reassembler(clock, { maxDatagram: 65536 }), RangeError);
    assert.throws(() => new Reassembler(clock, { timeoutNs: 0 }), RangeError);
    const r = new Reassembler(clock, { slots: 1, maxDatagram: 68 });
    assert.equal(r.data.length, 60 + 48);
    assert.deepEqual(r.counters, zero());
  });
});

Deno.test("fragmentIpv4", TEST_OPTIONS, async (t) => {
  await t.step("DF set: not fragmented (it goes whole when it fits)", () => {
    const sink = new BufferSink();
    const p = packet(3000, { word: 0x4000 });
    assert.equal(fragmentIpv4(p, new DataView(p.buffer), 0, 1500, sink), FRAGMENT_DONT_FRAGMENT);
    assert.equal(sink.frames, 0);
    const q = packet(1480, { word: 0x4000 });
    assert.equal(fragmentIpv4(q, new DataView(q.buffer), 0, 1500, sink), 1);
    assert.deepEqual(sink.copies(), [q]);
  });

  await t.step("the sink runs out", () => {
    const sink = new BufferSink();
    sink.limit = 2;
    const p = packet(4000);
    assert.equal(fragmentIpv4(p, new DataView(p.buffer), 0, 1500, sink), FRAGMENT_NO_BUFFER);
    assert.equal(sink.frames, 2);
    sink.reset();
    sink.limit = 0;
    assert.equal(fragmentIpv4(p, new DataView(p.buffer), 0, 5000, sink), FRAGMENT_NO_BUFFER);
  });

  await t.step("options: all in the first fragment, only the copied ones after", () => {
    // Security (0x82, copied, 11 bytes), record route (0x07, not copied, 7 bytes), NOP, EOL.
    const options = [0x82, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x07, 7, 4, 0, 0, 0, 0, 1, 0];
    const p = packet(1000, { options, id: 3 });
    assert.equal(p[0], 0x45 + 5);
    const f = fragmentsOf(p, 576);
    assert.equal(f.length, 2);
    assert.deepEqual(Array.from(f[0].subarray(20, 40)), options);
    assert.deepEqual(
      Array.from(f[1].subarray(20, 40)),
      [0x82, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    );
    for (const x of f) assert.ok(verifyIpv4HeaderChecksum(x, 0));
    assert.equal(new DataView(f[0].buffer).getUint16(2), 40 + 536);
    const [d] = feedAll(new Reassembler(new Float64Array(1)), [f[1], f[0]]);
    assert.deepEqual(d, p);
  });

  await t.step("a fragment cut further keeps its offset, and MF on its last piece", () => {
    const p = packet(4000, { id: 2 });
    const big = fragmentsOf(p, 3020); // 3000 + 1000 bytes
    assert.equal(big.length, 2);
    const small = big.flatMap((f) => fragmentsOf(f, 576));
    assert.deepEqual(
      small.map((f) => new DataView(f.buffer).getUint16(6)),
      // Pieces of 552 bytes (69 blocks): 6 of the first fragment, 2 of the last (375 on).
      [0x2000, 0x2045, 0x208a, 0x20cf, 0x2114, 0x2159, 0x2177, 0x01bc],
    );
    const [d] = feedAll(new Reassembler(new Float64Array(1)), small.reverse());
    assert.deepEqual(d, p);
  });

  await t.step("in place: a packet fragmented within the sink's own buffer", () => {
    const sink = new BufferSink(16384);
    const p = packet(3000);
    sink.txData.set(p, 8192);
    sink.used = 0;
    const n = fragmentIpv4(sink.txData, sink.txView, 8192, 1500, sink);
    assert.equal(n, 3);
    const [d] = feedAll(new Reassembler(new Float64Array(1)), sink.copies());
    assert.deepEqual(d, p);
  });

  await t.step("bad input is a RangeError", () => {
    const sink = new BufferSink();
    const p = packet(3000);
    assert.throws(() => fragmentIpv4(p, new DataView(p.buffer), 0, 27, sink), RangeError);
    p[0] = 0x44;
    assert.throws(() => fragmentIpv4(p, new DataView(p.buffer), 0, 1500, sink), RangeError);
  });
});

Deno.test(
  "10^5 datagrams of 3 fragments, fragmented and reassembled: no GC",
  TEST_OPTIONS,
  async () => {
    const r = await runDeno("tests/unit/stack_fragment.test.ts", ["gc", "100000"], {
      // A young generation of 1 MB: a loop allocating a byte per fragment on average would
      // collect at least once; the trace shows every collection.
      flags: [
        "--allow-ffi",
        "--allow-sys=uid",
        "--v8-flags=--expose-gc,--trace-gc,--max-semi-space-size=1",
      ],
    });
    assert.equal(r.code, 0, r.stderr);
    const gcs = gcsInLoop(r.stdout);
    assert.deepEqual(gcs, [], "the fragment loop triggered garbage collection");
    const { result } = r;
    assert.equal(result.reassembled, 100_000);
    assert.equal(result.fragments, 300_000);
    assert.ok(
      result.heapAfterNoGc - result.heapBefore < 100 * 1024,
      `heap grew by ${result.heapAfterNoGc - result.heapBefore} bytes during the loop`,
    );
  },
);

/** The GC test's child: fragments and reassembles datagrams, prints the heap around the loop. */
function gcChild(datagrams: number): void {
  // V8's GC trace goes through C stdio, buffered on a pipe: flushed before each marker, the
  // trace lines stay on the right side of it.
  const libc = Deno.dlopen("libc.so.6", { fflush: { parameters: ["pointer"], result: "i32" } });
  const marker = (text: string) => {
    libc.symbols.fflush(null);
    console.log(text);
  };
  const clock = new Float64Array(1);
  const deadline = new Float64Array(1);
  const r = new Reassembler(clock);
  const sink = new BufferSink(16384);
  // One 3000-byte payload behind an Ethernet header: 1480 + 1480 + 40 bytes at MTU 1500.
  const frame = new Uint8Array(14 + 3020);
  const fv = new DataView(frame.buffer);
  frame.set(packet(3000), 14);
  const sent = { fragments: 0, reassembled: 0, bytes: 0 };
  const run = (count: number, first: number): void => {
    for (let i = 0; i < count; i++) {
      // Nanoseconds as a clock gives them, written into the clock array, never passed.
      clock[0] = 5e12 + (first + i) * 1000;
      fv.setUint16(14 + 4, (first + i) & 0xffff); // a new identification...
      fv.setUint16(14 + 10, 0);
      fv.setUint16(14 + 10, ~foldSum(sum16(fv, 14, 20)) & 0xffff); // ...and checksum
      sink.reset();
      const n = fragmentIpv4(frame, fv, 14, 1500, sink, 14);
      // Fed in the order 2, 0, 1: out of order, as they often arrive.
      for (let k = 0; k < n; k++) {
        const j = k === 0 ? n - 1 : k - 1;
        const slot = r.add(sink.txData, sink.txView, sink.offsets[j] + 14);
        sent.fragments++;
        if (slot >= 0) {
          sent.reassembled++;
          sent.bytes = (sent.bytes + r.length(slot) + r.data[r.offset(slot) + 100]) & 0xffffff;
          r.release(slot);
        }
      }
      r.expire(null);
      r.writeDeadline(deadline, 0);
    }
  };
  // deno-lint-ignore no-explicit-any
  const gc = (globalThis as any).gc as () => void;
  run(datagrams, 0); // let the JIT settle
  gc();
  sent.fragments = sent.reassembled = 0;
  const heapBefore = Deno.memoryUsage().heapUsed;
  marker("LOOP START");
  run(datagrams, datagrams);
  marker("LOOP END");
  const heapAfterNoGc = Deno.memoryUsage().heapUsed;
  console.log(`RESULT ${JSON.stringify({ ...sent, heapBefore, heapAfterNoGc, r: r.counters })}`);
  libc.close();
}

if (import.meta.main && Deno.args[0] === "gc") gcChild(Number(Deno.args[1]));
