// LatencyHistogram against exact percentiles of the same values: within one bucket (1/64).
import assert from "node:assert/strict";
import { LatencyHistogram } from "../../market/latency.ts";
import { seededRandom } from "../helpers.ts";

const rand = seededRandom(99);

Deno.test("LatencyHistogram: percentiles within 1/64 of the exact ones, max and min exact", () => {
  const h = new LatencyHistogram(), values: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    const v = Math.round(Math.exp(rand() * Math.log(5e8))); // 1 ns .. 0.5 s, log-uniform
    h.record(v);
    values.push(v);
  }
  values.sort((x, y) => x - y);
  for (const p of [0, 1, 25, 50, 90, 99, 99.9, 99.99, 100]) {
    const exact = values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)];
    const got = h.percentile(p);
    assert.ok(Math.abs(got - exact) <= Math.max(1, exact / 64), `p${p}: ${got} vs ${exact}`);
  }
  assert.equal(h.count, values.length);
  assert.equal(h.max, values.at(-1));
  assert.equal(h.min, values[0]);
});

Deno.test("LatencyHistogram: negatives count as 0, huge values as 2^31 - 1, add and reset", () => {
  const a = new LatencyHistogram(), b = new LatencyHistogram();
  a.record(-5);
  a.record(100);
  b.record(1e12);
  assert.equal(a.percentile(50), 0);
  assert.equal(a.percentile(100), 100);
  assert.equal(b.max, 0x7fffffff);
  a.add(b);
  assert.deepEqual([a.count, a.min, a.max], [3, 0, 0x7fffffff]);
  assert.ok(a.percentile(100) > 2.1e9 * 0.98);
  a.reset();
  assert.deepEqual([a.count, a.percentile(50), a.max], [0, 0, 0]);
});
