// RFC 6298's retransmission timer: the first sample, smoothing, the minimum and maximum, backoff
// and its reset at the next sample.
import assert from "node:assert/strict";
import { RtoEstimator } from "../../stack/tcp_rto.ts";

Deno.test("RTO before any sample is 1 s (RFC 6298 §2.1)", () => {
  assert.equal(new RtoEstimator().rtoUs, 1_000_000);
});

Deno.test("first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR (RFC 6298 §2.2)", () => {
  const rto = new RtoEstimator({ minUs: 1 });
  rto.sample(100_000);
  assert.equal(rto.srttUs, 100_000);
  assert.equal(rto.rttvarUs, 50_000);
  assert.equal(rto.rtoUs, 300_000);
});

Deno.test("later samples smooth with α = 1/8, β = 1/4, RTTVAR first (RFC 6298 §2.3)", () => {
  const rto = new RtoEstimator({ minUs: 1 });
  rto.sample(100_000);
  rto.sample(200_000);
  // RTTVAR = 3/4·50000 + 1/4·|100000 − 200000| = 62500; SRTT = 7/8·100000 + 1/8·200000 = 112500
  assert.equal(rto.rttvarUs, 62_500);
  assert.equal(rto.srttUs, 112_500);
  assert.equal(rto.rtoUs, 112_500 + 4 * 62_500);
  for (let i = 0; i < 200; i++) rto.sample(50_000);
  assert.ok(Math.abs(rto.srttUs - 50_000) < 1, "converges to a steady RTT");
  assert.ok(rto.rttvarUs < 1);
  assert.equal(rto.rtoUs, 50_000 + 1, "with RTTVAR ~0 the granularity G is added");
});

Deno.test("the RTO is at least SRTT + 200 ms and at most 120 s by default, like Linux", () => {
  const rto = new RtoEstimator();
  rto.sample(10); // 10 µs on a LAN
  assert.equal(rto.rtoUs, 200_010);
  for (let i = 0; i < 50; i++) rto.sample(150_000);
  assert.ok(Math.abs(rto.srttUs - 150_000) < 500);
  assert.equal(rto.rtoUs, Math.round(rto.srttUs + 200_000), "a 150 ms path keeps 200 ms of margin");
  for (let i = 0; i < 20; i++) rto.backoff();
  assert.equal(rto.rtoUs, 120_000_000);
  assert.throws(() => new RtoEstimator({ minUs: 10, maxUs: 5 }), RangeError);
});

Deno.test("each expiry doubles the RTO; the next sample recomputes it (RFC 6298 §5.5, §5.7)", () => {
  const rto = new RtoEstimator();
  rto.sample(100_000); // RTO 300 ms
  rto.backoff();
  rto.backoff();
  assert.equal(rto.rtoUs, 1_200_000);
  assert.equal(rto.backoffs, 2);
  rto.sample(100_000);
  assert.equal(rto.backoffs, 0);
  assert.equal(rto.rtoUs, 300_000, "SRTT + max(4·RTTVAR = 150 ms, 200 ms)");
});
