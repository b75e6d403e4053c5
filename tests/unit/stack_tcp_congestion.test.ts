// NewReno on its own, in bytes: slow start, congestion avoidance, fast retransmit and recovery
// with partial ACKs, a timeout's loss window, and no second fast retransmit for one loss event.
import assert from "node:assert/strict";
import { CongestionAction, NewReno } from "../../stack/tcp_congestion.ts";

/** The sequence numbers NewReno reads: [the ACK (SND.UNA), SND.MAX]. */
const at = (ack: number, sndMax = ack) => new Uint32Array([ack, sndMax]);

const MSS = 1000, ISS = 0xfffff000; // near the wrap: comparisons must be modulo 2^32
const seq = (n: number) => (ISS + n) >>> 0;

Deno.test("slow start: the initial window is 10 segments and grows by the bytes acknowledged (RFC 5681 §3.1, RFC 6928)", () => {
  const cc = new NewReno(MSS, ISS);
  assert.equal(cc.cwnd, 10 * MSS);
  for (let i = 1; i <= 10; i++) cc.ack(at(seq(i * MSS)), MSS, 10 * MSS);
  assert.equal(cc.cwnd, 20 * MSS, "doubles in a round trip");
  cc.ack(at(seq(15 * MSS)), 5 * MSS, 10 * MSS); // a stretch ACK counts all it covers (as Linux)
  assert.equal(cc.cwnd, 25 * MSS);
  cc.timeout(at(seq(40 * MSS), seq(40 * MSS)), 40 * MSS); // ssthresh 20 segments
  for (let i = 0; i < 19; i++) cc.ack(at(seq(0)), MSS, cc.cwnd);
  cc.ack(at(seq(0)), 8 * MSS, cc.cwnd); // slow start stops at ssthresh
  assert.equal(cc.cwnd, 20 * MSS);
});

Deno.test("congestion avoidance: one SMSS per window of acknowledged bytes", () => {
  const cc = new NewReno(MSS, ISS);
  cc.timeout(at(seq(20 * MSS), seq(20 * MSS)), 20 * MSS); // ssthresh 10 segments, cwnd 1
  for (let n = 1; cc.cwnd < cc.ssthresh; n++) cc.ack(at(seq(n * MSS)), MSS, cc.cwnd);
  assert.equal(cc.cwnd, 10 * MSS);
  for (let i = 0; i < 9; i++) cc.ack(at(seq(0)), MSS, cc.cwnd);
  assert.equal(cc.cwnd, 10 * MSS, "not yet a whole window");
  cc.ack(at(seq(0)), MSS, cc.cwnd);
  assert.equal(cc.cwnd, 11 * MSS);
});

Deno.test("3 duplicate ACKs: fast retransmit, ssthresh = flight/2, cwnd = ssthresh + 3·SMSS, inflation (RFC 5681 §3.2)", () => {
  const cc = new NewReno(MSS, ISS);
  const flight = 20 * MSS, sndMax = seq(20 * MSS), una = seq(MSS);
  cc.ack(at(una), MSS, 21 * MSS);
  assert.equal(cc.duplicateAck(at(una, sndMax), flight), CongestionAction.NONE);
  assert.equal(cc.duplicateAck(at(una, sndMax), flight), CongestionAction.NONE);
  assert.equal(cc.duplicateAck(at(una, sndMax), flight), CongestionAction.RETRANSMIT);
  assert.ok(cc.inRecovery);
  assert.equal(cc.ssthresh, 10 * MSS);
  assert.equal(cc.cwnd, 13 * MSS);
  assert.equal(cc.recover, sndMax);
  cc.duplicateAck(at(una, sndMax), flight);
  assert.equal(cc.cwnd, 14 * MSS, "each further duplicate inflates by one SMSS");
  assert.equal(cc.fastRetransmits, 1);
});

Deno.test("partial ACKs retransmit the next hole and deflate; the full ACK ends recovery (RFC 6582 §3.2)", () => {
  const cc = new NewReno(MSS, ISS);
  const sndMax = seq(20 * MSS);
  for (let i = 0; i < 3; i++) cc.duplicateAck(at(seq(MSS), sndMax), 19 * MSS);
  assert.ok(cc.inRecovery);
  const before = cc.cwnd;
  // Acks 3 segments but not up to recover: another loss in the same window.
  assert.equal(cc.ack(at(seq(4 * MSS)), 3 * MSS, 19 * MSS), CongestionAction.RETRANSMIT);
  assert.equal(cc.cwnd, before - 3 * MSS + MSS);
  assert.ok(cc.inRecovery);
  assert.equal(cc.ack(at(sndMax), 16 * MSS, 16 * MSS), CongestionAction.NONE, "the full ACK");
  assert.ok(!cc.inRecovery);
  assert.equal(
    cc.cwnd,
    Math.min(cc.ssthresh, MSS + MSS),
    "min(ssthresh, max(flight, SMSS) + SMSS)",
  );
});

Deno.test("a timeout sets the loss window; its duplicates below recover start no fast retransmit (RFC 6582 §4.1)", () => {
  const cc = new NewReno(MSS, ISS);
  const sndMax = seq(30 * MSS);
  cc.timeout(at(sndMax, sndMax), 30 * MSS);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 15 * MSS);
  // Go-back-N after the timeout makes the receiver send duplicates of an ACK below recover.
  for (let i = 0; i < 5; i++) {
    assert.equal(cc.duplicateAck(at(seq(2 * MSS), sndMax), 2 * MSS), CongestionAction.NONE);
  }
  assert.ok(!cc.inRecovery);
  // Past recover, three duplicates are a new loss: fast retransmit again.
  cc.ack(at(seq(31 * MSS)), MSS, 2 * MSS);
  for (let i = 0; i < 2; i++) cc.duplicateAck(at(seq(31 * MSS), seq(35 * MSS)), 4 * MSS);
  assert.equal(
    cc.duplicateAck(at(seq(31 * MSS), seq(35 * MSS)), 4 * MSS),
    CongestionAction.RETRANSMIT,
  );
  assert.equal(cc.ssthresh, 2 * MSS, "at least 2·SMSS");
  assert.throws(() => new NewReno(10, 0), RangeError);
});
