// The TCP connection table against a Map model under random inserts and removals (tombstones,
// rehashing), its capacity, and RFC 6056 ephemeral ports: in range, never a tuple in use, hard
// to guess across destinations, -1 once a destination's range is used up.
import assert from "node:assert/strict";
import { TcpTable } from "../../stack/tcp_table.ts";

const key = (a: number, b: number, c: number, d: number) => `${a}:${b}:${c}:${d}`;

Deno.test("10^5 random inserts, finds and removals agree with a Map", () => {
  let seed = 3;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const table = new TcpTable({ connections: 4096 });
  const model = new Map<string, number>();
  const tuples: [number, number, number, number][] = [];
  for (let op = 0; op < 100_000; op++) {
    const r = rand(10);
    if (r < 5 || tuples.length === 0) {
      // Few distinct values, so tuples share fields and collide in the hash.
      const t: [number, number, number, number] = [
        0x0a000000 + rand(3),
        rand(2) ? 80 : 40000 + rand(50),
        (0xc0a80000 + rand(40)) >>> 0,
        rand(2) ? 443 : 50000 + rand(50),
      ];
      const k = key(...t);
      const ok = table.insert(...t, op);
      assert.equal(ok, !model.has(k) && model.size < 4096, `insert ${k}`);
      if (ok) {
        model.set(k, op);
        tuples.push(t);
      }
    } else if (r < 8) {
      const t = tuples[rand(tuples.length)];
      assert.equal(table.find(...t), model.get(key(...t)) ?? -1);
    } else {
      const i = rand(tuples.length), t = tuples[i];
      assert.equal(table.remove(...t), model.get(key(...t)) ?? -1);
      model.delete(key(...t));
      tuples.splice(i, 1);
    }
    assert.equal(table.size, model.size);
  }
  for (const t of tuples) assert.equal(table.find(...t), model.get(key(...t)));
  assert.equal(table.find(1, 2, 3, 4), -1);
});

Deno.test("connections that come and go (tombstones, then a rehash) stay findable", () => {
  const table = new TcpTable({ connections: 16 });
  const live = new Map<number, number>();
  for (let round = 0; round < 500; round++) {
    const port = 1000 + (round * 7) % 40;
    if (live.has(port)) {
      assert.equal(table.remove(1, port, 2, 80), live.get(port));
      live.delete(port);
    } else if (live.size < 16) {
      assert.ok(table.insert(1, port, 2, 80, round));
      live.set(port, round);
    }
    for (const [p, v] of live) assert.equal(table.find(1, p, 2, 80), v, `round ${round}`);
  }
});

Deno.test("the table holds its capacity and no more", () => {
  const table = new TcpTable({ connections: 100 });
  for (let i = 0; i < 100; i++) assert.ok(table.insert(1, 1000 + i, 2, 80, i));
  assert.ok(!table.insert(1, 2000, 2, 80, 100), "full");
  assert.ok(!table.insert(1, 1000, 2, 80, 7), "taken");
  assert.equal(table.remove(1, 1000, 2, 80), 0);
  assert.ok(table.insert(1, 2000, 2, 80, 100));
});

Deno.test("ephemeral ports (RFC 6056 Algorithm 3): in range, never in use, a different start per destination", () => {
  const table = new TcpTable({ firstPort: 40000, lastPort: 40999, secret: new Uint8Array(16) });
  const local = 0x0a000002, server = 0x0a000001;
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const port = table.ephemeralPort(local, server, 80);
    assert.ok(port >= 40000 && port <= 40999);
    assert.ok(!seen.has(port), "never a tuple in use");
    seen.add(port);
    assert.ok(table.insert(local, port, server, 80, i));
  }
  assert.equal(table.ephemeralPort(local, server, 80), -1, "the range is used up for :80");
  const other = table.ephemeralPort(local, server, 81);
  assert.ok(other >= 40000, "another destination still has every port");
  // Where the search starts depends on the destination through a keyed hash.
  const starts = new Set<number>();
  for (let d = 0; d < 50; d++) {
    starts.add(
      new TcpTable({ secret: new Uint8Array(16).fill(1) }).ephemeralPort(local, server + d, 80),
    );
  }
  assert.ok(starts.size >= 45, `${starts.size} distinct first ports for 50 destinations`);
  const a = new TcpTable({ secret: new Uint8Array(16).fill(1) }).ephemeralPort(local, server, 80);
  const b = new TcpTable({ secret: new Uint8Array(16).fill(2) }).ephemeralPort(local, server, 80);
  assert.notEqual(a, b, "another secret, another port");
  assert.throws(() => new TcpTable({ firstPort: 5000, lastPort: 4000 }), RangeError);
});
