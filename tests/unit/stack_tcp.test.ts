// TCP of the stack against RFC 9293 (requirement ids of its Appendix B), RFC 5961, RFC 7323,
// RFC 2018/2883, RFC 6298, RFC 5681/6675 and RFC 1122, on the two-host bench in virtual time.
import assert from "node:assert/strict";
import { foldSum, ipv4PseudoHeaderSum, sum16 } from "../../net/checksum.ts";
import type { TcpConnection } from "../../stack/tcp.ts";
import { Stack, type TcpListenOptions } from "../../stack/interface.ts";
import { FaultInjector } from "../../stack/fault.ts";
import { MemoryPair } from "../../stack/memory.ts";
import {
  Bench,
  type Craft,
  F,
  inject,
  injectFrame,
  ip,
  MAC_A,
  MAC_B,
  MS,
  open,
  parseOptions,
  pattern,
  S,
  sackOption,
  type Seen,
  Sink,
  synOptions,
  tsOption,
} from "./_tcp_harness.ts";

const PEER = "10.0.0.3";
const U32 = 2 ** 32;
const u32 = (n: number) => n >>> 0;

/** Advances virtual time by `ns`, jumping from timer to timer. */
function advance(bench: Bench, ns: number): void {
  const end = bench.now + ns;
  for (let i = 0; bench.now < end && i < 1_000_000; i++) {
    const before = bench.now;
    bench.next(end - bench.now);
    if (bench.now === before) {
      bench.now = Math.min(end, bench.now + MS);
      bench.settle();
    }
  }
}

/** Segments with payload sent by `who` since log index `from`. */
function dataFrom(bench: Bench, who: "a" | "b", from = 0): Seen[] {
  return bench.since(from, who).filter((s) => s.payload > 0);
}

/** The last segment `who` sent. */
function last(bench: Bench, who: "a" | "b"): Seen {
  const l = bench.log.filter((s) => s.from === who);
  return l[l.length - 1];
}

/** RCV.NXT of `who` as its latest ACK says. */
function rcvNxt(bench: Bench, who: "a" | "b"): number {
  const l = bench.log.filter((s) => s.from === who && s.flags & F.ACK && !(s.flags & F.RST));
  return l[l.length - 1].ack;
}

/** SND.NXT of `who` from its latest segment (not a keep-alive probe). */
function sndNxt(bench: Bench, who: "a" | "b"): number {
  const s = last(bench, who);
  return u32(s.seq + s.payload + (s.flags & F.SYN ? 1 : 0) + (s.flags & F.FIN ? 1 : 0));
}

/** Crafted segment from A's side of an established A→B connection to B (ACK: B's SND.NXT). */
function fromA(
  bench: Bench,
  client: TcpConnection,
  c: Partial<Craft> & { seq: number },
): Craft {
  return {
    srcPort: client.localPort,
    dstPort: client.remotePort,
    flags: F.ACK,
    ack: sndNxt(bench, "b"),
    ...c,
  };
}

/** A fake peer at 10.0.0.3 opening a connection to B's listener by injected segments. */
function peerOpen(
  bench: Bench,
  o: {
    isn?: number;
    peerPort?: number;
    port?: number;
    syn?: Uint8Array;
    listen?: TcpListenOptions;
    window?: number;
    complete?: boolean;
  } = {},
) {
  bench.b.arp.setStatic(ip(PEER), 0x02000000000a);
  const port = o.port ?? 80, peerPort = o.peerPort ?? 40000, isn = u32(o.isn ?? 1000);
  const listener = bench.b.listen(port, o.listen ?? {});
  let server: TcpConnection | null = null;
  listener.onConnection = (c) => server = c;
  const from = bench.log.length;
  const base: Craft = {
    srcIp: PEER,
    srcPort: peerPort,
    dstPort: port,
    seq: isn,
    flags: F.SYN,
    window: o.window ?? 65535,
  };
  inject(bench, "b", { ...base, options: o.syn ?? synOptions({ mss: 1460 }) });
  const synAck = bench.since(from, "b").find((s) => s.flags === (F.SYN | F.ACK));
  if (synAck === undefined) throw new Error("no SYN-ACK from B");
  const iss = synAck.seq;
  /** Sends a segment from the peer: `rel` is the offset of its first data byte. */
  const send = (c: Partial<Craft> & { rel?: number } = {}, settle = true) => {
    const { rel, ...rest } = c;
    inject(bench, "b", {
      ...base,
      flags: F.ACK,
      seq: u32(isn + 1 + (rel ?? 0)),
      ack: u32(iss + 1),
      ...rest,
    }, settle);
  };
  if (o.complete !== false) send();
  return {
    listener,
    get server(): TcpConnection {
      if (server === null) throw new Error("not established");
      return server;
    },
    iss,
    isn,
    synAck,
    base,
    send,
  };
}

/** A connection from A to the fake peer 10.0.0.3:5000 (its SYN is logged, nothing answers). */
function activeToPeer(bench: Bench, options = {}) {
  bench.a.arp.setStatic(ip(PEER), 0x02000000000b);
  const from = bench.log.length;
  const conn = bench.a.connect(PEER, 5000, options);
  bench.settle();
  const syn = bench.since(from, "a").find((s) => s.flags === F.SYN);
  if (syn === undefined) throw new Error("no SYN");
  const send = (c: Partial<Craft> & { seq: number }) =>
    inject(bench, "a", {
      srcIp: PEER,
      srcPort: 5000,
      dstPort: conn.localPort,
      flags: F.ACK,
      ack: u32(syn.seq + 1),
      ...c,
    });
  return { conn, syn, send };
}

/** Drops the first `n` segments `pick` selects from side `who`. */
function dropFirst(bench: Bench, who: "a" | "b", pick: (s: Seen) => boolean, n = 1): Seen[] {
  const dropped: Seen[] = [];
  const tap = who === "a" ? bench.tapA : bench.tapB;
  tap.filter = (s) => {
    if (dropped.length < n && pick(s)) {
      dropped.push(s);
      return false;
    }
    return true;
  };
  return dropped;
}

function closedAt(bench: Bench, conn: TcpConnection): { reason: string | null; at: number } {
  const r = { reason: null as string | null, at: -1 };
  conn.onClose = (reason) => {
    r.reason = reason;
    r.at = bench.now;
  };
  return r;
}

// ------------------------------------------------------------------------------ opening

Deno.test("RFC 9293 §3.5 / MUST-14: active and passive open complete a three-way handshake", () => {
  const bench = new Bench();
  const { client, server, listener } = open(bench);
  assert.equal(bench.log.length, 3);
  const [syn, synAck, ack] = bench.log;
  assert.deepEqual([syn.from, syn.flags], ["a", F.SYN]);
  assert.deepEqual([synAck.from, synAck.flags], ["b", F.SYN | F.ACK]);
  assert.equal(synAck.ack, u32(syn.seq + 1));
  assert.deepEqual([ack.from, ack.flags], ["a", F.ACK]);
  assert.equal(ack.seq, u32(syn.seq + 1));
  assert.equal(ack.ack, u32(synAck.seq + 1));
  assert.equal(parseOptions(syn.options).mss, 1460);
  assert.equal(parseOptions(synAck.options).mss, 1460);
  assert.equal(client.stateName, "ESTABLISHED");
  assert.equal(server.stateName, "ESTABLISHED");
  assert.equal(bench.a.tcpCounters.activeOpens, 1);
  assert.equal(bench.b.tcpCounters.passiveOpens, 1);
  assert.equal(bench.a.tcpCounters.currEstab, 1);
  assert.equal(bench.b.tcpCounters.currEstab, 1);
  assert.equal(listener.accepted, 1);
});

Deno.test("MUST-10: simultaneous open: a SYN in SYN-SENT is answered with SYN-ACK and our SYN-ACK's ACK establishes", () => {
  const bench = new Bench();
  const { conn, syn, send } = activeToPeer(bench);
  const sink = new Sink(conn);
  const from = bench.log.length;
  send({ seq: 7000, flags: F.SYN, ack: 0, options: synOptions({ mss: 1460 }) });
  assert.equal(conn.stateName, "SYN-RECEIVED");
  const synAck = bench.since(from, "a").find((s) => s.flags === (F.SYN | F.ACK));
  assert.ok(synAck, "SYN-ACK sent");
  assert.equal(synAck.seq, syn.seq, "the SYN-ACK keeps our ISS");
  assert.equal(synAck.ack, 7001);
  send({ seq: 7001, ack: u32(syn.seq + 1) });
  assert.equal(conn.stateName, "ESTABLISHED");
  assert.ok(sink.opened);
});

Deno.test("MUST-10: simultaneous open: the peer's SYN-ACK (RFC 9293 figure 8) establishes and is ACKed", () => {
  const bench = new Bench();
  const { conn, syn, send } = activeToPeer(bench);
  send({ seq: 7000, flags: F.SYN, ack: 0, options: synOptions({ mss: 1460 }) });
  assert.equal(conn.stateName, "SYN-RECEIVED");
  const from = bench.log.length;
  send({
    seq: 7000,
    flags: F.SYN | F.ACK,
    ack: u32(syn.seq + 1),
    options: synOptions({ mss: 1460 }),
  });
  const acks = bench.since(from, "a").filter((s) => s.flags === F.ACK);
  assert.ok(acks.length >= 1, "the SYN-ACK is answered with an ACK");
  assert.equal(acks[0].seq, u32(syn.seq + 1));
  assert.equal(acks[0].ack, 7001);
  assert.equal(conn.stateName, "ESTABLISHED");
});

Deno.test("MUST-11: an active open's SYN-RECEIVED ends as refused on RST", () => {
  const bench = new Bench();
  const { conn, send } = activeToPeer(bench);
  const end = closedAt(bench, conn);
  send({ seq: 7000, flags: F.SYN, ack: 0 });
  assert.equal(conn.stateName, "SYN-RECEIVED");
  send({ seq: 7001, flags: F.RST, ack: 0 });
  assert.equal(end.reason, "refused");
  assert.equal(conn.stateName, "CLOSED");
});

Deno.test("MUST-11: a passive open's SYN-RECEIVED reset by RST goes back to LISTEN", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { complete: false });
  assert.equal(p.listener.pending, 1);
  p.send({ flags: F.RST, ack: 0 });
  assert.equal(p.listener.pending, 0);
  assert.equal(bench.b.tcpCounters.attemptFails, 1);
  assert.equal(bench.b.tcpConnections.length, 0);
  // The listener still takes new connections.
  const { server } = open(bench, 81);
  assert.equal(server.stateName, "ESTABLISHED");
  const from = bench.log.length;
  inject(bench, "b", { ...p.base, srcPort: 40001, seq: 5000, options: synOptions({ mss: 1400 }) });
  assert.ok(bench.since(from, "b").some((s) => s.flags === (F.SYN | F.ACK) && s.dstPort === 40001));
});

Deno.test("RFC 9293 §3.10.7.3: in SYN-SENT an ACK that does not cover our SYN gets <SEQ=SEG.ACK><CTL=RST>", () => {
  const bench = new Bench();
  const { conn, syn, send } = activeToPeer(bench);
  const from = bench.log.length;
  const bad = u32(syn.seq + 5000);
  send({ seq: 9000, flags: F.SYN | F.ACK, ack: bad });
  const rst = bench.since(from, "a");
  assert.equal(rst.length, 1);
  assert.equal(rst[0].flags, F.RST);
  assert.equal(rst[0].seq, bad);
  assert.equal(conn.stateName, "SYN-SENT");
});

Deno.test("RFC 5961 §3 / RFC 9293 §3.10.7.3: in SYN-SENT an RST without an acceptable ACK is ignored", () => {
  const bench = new Bench();
  const { conn, syn, send } = activeToPeer(bench);
  const from = bench.log.length;
  send({ seq: 9000, flags: F.RST, ack: 0 });
  send({ seq: 9000, flags: F.RST | F.ACK, ack: u32(syn.seq + 77) });
  assert.equal(conn.stateName, "SYN-SENT");
  assert.equal(bench.since(from, "a").length, 0, "no answer to an RST");
});

Deno.test("RFC 9293 §3.10.7.3: an RST answering our SYN ends the open as refused", () => {
  const bench = new Bench();
  const conn = bench.a.connect("10.0.0.2", 81);
  const end = closedAt(bench, conn);
  bench.settle();
  const rst = bench.log.find((s) => s.from === "b")!;
  assert.equal(rst.flags, F.RST | F.ACK);
  assert.equal(rst.seq, 0);
  assert.equal(rst.ack, u32(bench.log[0].seq + 1));
  assert.equal(end.reason, "refused");
  assert.equal(conn.closeReason, "refused");
});

Deno.test("MUST-19 / RFC 6298 §5.5: SYN retransmitted with exponential backoff, same ISN", () => {
  const bench = new Bench();
  const { syn } = activeToPeer(bench, { connectTimeoutMs: 60_000 });
  advance(bench, 40 * S);
  const syns = bench.log.filter((s) => s.from === "a" && s.flags === F.SYN);
  assert.ok(syns.length >= 5);
  for (const s of syns) assert.equal(s.seq, syn.seq);
  const gaps = syns.slice(1).map((s, i) => s.time - syns[i].time);
  assert.equal(gaps[0], 1 * S, "RFC 6298 §2.1: the first RTO is 1 s");
  for (let i = 1; i < gaps.length; i++) assert.equal(gaps[i], 2 * gaps[i - 1]);
});

Deno.test("MUST-20/MUST-22: connectTimeoutMs without an answer ends the open with 'timeout'", () => {
  const bench = new Bench();
  const { conn } = activeToPeer(bench, { connectTimeoutMs: 5000 });
  const end = closedAt(bench, conn);
  advance(bench, 4 * S);
  assert.equal(conn.stateName, "SYN-SENT");
  advance(bench, 60 * S);
  assert.equal(end.reason, "timeout");
  assert.ok(end.at >= 5 * S && end.at <= 7 * S, `closed at ${end.at / MS} ms`);
  assert.equal(bench.a.tcpCounters.attemptFails, 1);
  assert.equal(bench.a.tcpCounters.abortOnTimeout, 1);
  assert.equal(bench.a.tcpConnections.length, 0);
});

Deno.test("MUST-23: SYN retransmissions can go on for at least 3 minutes (connectTimeoutMs 180000)", () => {
  const bench = new Bench();
  const { conn } = activeToPeer(bench, { connectTimeoutMs: 180_000 });
  const end = closedAt(bench, conn);
  advance(bench, 179 * S);
  assert.equal(conn.stateName, "SYN-SENT");
  const syns = bench.log.filter((s) => s.from === "a" && s.flags === F.SYN);
  assert.ok(syns[syns.length - 1].time > 60 * S, "still retransmitting after a minute");
  advance(bench, 200 * S);
  assert.equal(end.reason, "timeout");
  assert.ok(end.at >= 180 * S);
});

Deno.test("RFC 9293 §3.5 (Linux tcp_check_req): a retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { complete: false });
  bench.now += 100 * MS;
  const from = bench.log.length;
  inject(bench, "b", { ...p.base, options: synOptions({ mss: 1460 }) });
  const again = bench.since(from, "b");
  assert.equal(again.length, 1, "one answer");
  assert.equal(again[0].flags, F.SYN | F.ACK);
  assert.equal(again[0].seq, p.iss);
  assert.equal(again[0].ack, u32(p.isn + 1));
});

Deno.test("RFC 9293 §3.10.7.4: in SYN-RECEIVED an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { complete: false });
  const from = bench.log.length;
  p.send({ ack: u32(p.iss + 5000) });
  const rst = bench.since(from, "b");
  assert.equal(rst.length, 1);
  assert.equal(rst[0].flags, F.RST);
  assert.equal(rst[0].seq, u32(p.iss + 5000));
  assert.equal(p.listener.pending, 1, "still SYN-RECEIVED");
  p.send();
  assert.equal(p.server.stateName, "ESTABLISHED");
});

Deno.test("RFC 9293 §3.10.7.2: a full backlog drops SYNs (listenOverflows) and the client's retry gets in", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80, { backlog: 1 });
  const c1 = bench.a.connect("10.0.0.2", 80);
  bench.settle();
  assert.equal(c1.stateName, "ESTABLISHED");
  assert.equal(listener.waiting, 1);
  const c2 = bench.a.connect("10.0.0.2", 80);
  bench.settle();
  assert.equal(c2.stateName, "SYN-SENT");
  assert.equal(bench.b.tcpCounters.listenOverflows, 1);
  assert.equal(listener.overflows, 1);
  assert.equal(bench.log.filter((s) => s.from === "b" && s.flags & F.RST).length, 0, "no RST");
  const first = listener.accept();
  assert.equal(first?.remotePort, c1.localPort);
  advance(bench, 1500 * MS);
  assert.equal(c2.stateName, "ESTABLISHED");
  assert.equal(listener.accept()?.remotePort, c2.localPort);
});

Deno.test("RFC 9293 §3.10.7.1: a closed listener's port answers SYN with RST: the open is refused", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80);
  listener.close();
  const conn = bench.a.connect("10.0.0.2", 80);
  bench.settle();
  assert.equal(conn.closeReason, "refused");
});

Deno.test("MUST-41: a second listen on a port fails and does not disturb the first", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80);
  assert.throws(() => bench.b.listen(80), RangeError);
  let got: TcpConnection | null = null;
  listener.onConnection = (c) => got = c;
  bench.a.connect("10.0.0.2", 80);
  bench.settle();
  assert.ok(got);
});

Deno.test("MUST-42: listening on a port while a connection from that local port is open", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const l = bench.a.listen(client.localPort);
  let got: TcpConnection | null = null;
  l.onConnection = (c) => got = c;
  const back = bench.b.connect("10.0.0.1", client.localPort);
  bench.settle();
  assert.equal(back.stateName, "ESTABLISHED");
  assert.ok(got);
  assert.equal(client.stateName, "ESTABLISHED");
});

Deno.test("MUST-8: the ISN is clock-driven: the same 4-tuple 4 ms later starts 1000 ticks (4 µs) higher", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { complete: false });
  p.send({ flags: F.RST, ack: 0 });
  assert.equal(p.listener.pending, 0);
  bench.now += 4 * MS;
  const from = bench.log.length;
  inject(bench, "b", { ...p.base, options: synOptions({ mss: 1460 }) });
  const synAck = bench.since(from, "b").find((s) => s.flags === (F.SYN | F.ACK))!;
  assert.equal(synAck.seq, u32(p.iss + 1000));
});

Deno.test("MUST-46: connect to a broadcast or multicast address is rejected", () => {
  const bench = new Bench();
  for (const to of ["10.0.0.255", "255.255.255.255", "224.0.0.1"]) {
    assert.throws(() => bench.a.connect(to, 80), `connect to ${to}`);
  }
});

Deno.test("MUST-57: a SYN to a broadcast address is silently discarded", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80);
  const from = bench.log.length;
  inject(bench, "b", {
    dstIp: "10.0.0.255",
    dstMac: 0xffffffffffff,
    srcPort: 4000,
    dstPort: 80,
    seq: 1,
    flags: F.SYN,
  });
  assert.equal(bench.since(from, "b").length, 0);
  assert.equal(listener.pending, 0);
});

Deno.test("MUST-63: a SYN from a broadcast or multicast source is ignored", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80);
  const from = bench.log.length;
  for (const src of ["224.0.0.5", "10.0.0.255", "255.255.255.255"]) {
    inject(bench, "b", { srcIp: src, srcPort: 4000, dstPort: 80, seq: 1, flags: F.SYN });
  }
  assert.equal(bench.since(from, "b").length, 0);
  assert.equal(listener.pending, 0);
});

// ------------------------------------------------------------------- closed ports

Deno.test("RFC 9293 §3.10.7.1: a SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", () => {
  const bench = new Bench();
  const from = bench.log.length;
  inject(bench, "b", {
    srcPort: 5555,
    dstPort: 9,
    seq: 1000,
    flags: F.SYN | F.FIN,
    payload: pattern(5),
  });
  const rst = bench.since(from, "b");
  assert.equal(rst.length, 1);
  assert.equal(rst[0].flags, F.RST | F.ACK);
  assert.equal(rst[0].seq, 0);
  assert.equal(rst[0].ack, 1000 + 1 + 5 + 1, "SYN, 5 bytes and FIN");
  assert.equal(rst[0].srcPort, 9);
  assert.equal(rst[0].dstPort, 5555);
  assert.equal(bench.b.tcpCounters.noSocket, 1);
  assert.equal(bench.b.tcpCounters.outRsts, 1);
});

Deno.test("RFC 9293 §3.10.7.1: a segment with ACK to a closed port gets <SEQ=SEG.ACK><CTL=RST>", () => {
  const bench = new Bench();
  const from = bench.log.length;
  inject(bench, "b", { srcPort: 5555, dstPort: 9, seq: 1000, ack: 0xfffffff0, flags: F.ACK });
  const rst = bench.since(from, "b");
  assert.equal(rst.length, 1);
  assert.equal(rst[0].flags, F.RST);
  assert.equal(rst[0].seq, 0xfffffff0);
});

Deno.test("RFC 9293 §3.10.7.1: an RST to a closed port is not answered", () => {
  const bench = new Bench();
  const from = bench.log.length;
  inject(bench, "b", { srcPort: 5555, dstPort: 9, seq: 1000, flags: F.RST });
  inject(bench, "b", { srcPort: 5555, dstPort: 9, seq: 1000, ack: 5, flags: F.RST | F.ACK });
  assert.equal(bench.since(from, "b").length, 0);
  assert.equal(bench.b.tcpCounters.noSocket, 2);
  assert.equal(bench.b.tcpCounters.outRsts, 0);
});

// ------------------------------------------------------------------- RFC 5961

Deno.test("RFC 5961 §3.2: an RST with SEQ = RCV.NXT resets the connection", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const end = closedAt(bench, server);
  inject(bench, "b", fromA(bench, client, { seq: rcvNxt(bench, "b"), flags: F.RST }));
  assert.equal(end.reason, "reset");
  assert.equal(bench.b.tcpCounters.estabResets, 1);
  assert.equal(bench.b.tcpCounters.currEstab, 0);
});

Deno.test("RFC 5961 §3.2: an in-window RST that is not RCV.NXT gets a challenge ACK", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 1000), flags: F.RST }));
  assert.equal(server.stateName, "ESTABLISHED");
  const ch = bench.since(from, "b");
  assert.equal(ch.length, 1);
  assert.equal(ch[0].flags, F.ACK);
  assert.equal(ch[0].ack, nxt);
  assert.equal(ch[0].seq, sndNxt(bench, "b"));
  assert.equal(server.counters.challengeAcks, 1);
  assert.equal(bench.b.tcpCounters.challengeAcks, 1);
  // The peer, getting the challenge ACK, would answer with the right RST.
  inject(bench, "b", fromA(bench, client, { seq: ch[0].ack, flags: F.RST }));
  assert.equal(server.closeReason, "reset");
});

Deno.test("RFC 5961 §3.2: an RST outside the window is silently dropped", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 50_000_000), flags: F.RST }));
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt - 10), flags: F.RST }));
  assert.equal(server.stateName, "ESTABLISHED");
  assert.equal(bench.since(from, "b").length, 0);
});

Deno.test("RFC 5961 §4.2: a SYN in ESTABLISHED gets a challenge ACK, never a reset", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 5), flags: F.SYN, ack: 0 }));
  assert.equal(server.stateName, "ESTABLISHED");
  const ch = bench.since(from, "b");
  assert.equal(ch.length, 1);
  assert.equal(ch[0].flags, F.ACK);
  assert.equal(ch[0].ack, nxt);
  assert.equal(server.counters.challengeAcks, 1);
  // Outside the window too: an ACK, still no reset.
  const from2 = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 90_000_000), flags: F.SYN, ack: 0 }));
  assert.equal(bench.since(from2, "b").filter((s) => s.flags === F.ACK).length, 1);
  assert.equal(server.stateName, "ESTABLISHED");
});

Deno.test("RFC 5961 §7: challenge ACKs are rate-limited (challengeAcksPerSecond)", () => {
  const bench = new Bench({}, { challengeAcksPerSecond: 2 });
  const { client, server } = open(bench);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  for (let i = 1; i <= 4; i++) {
    inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 100 * i), flags: F.RST }));
  }
  assert.equal(bench.since(from, "b").length, 2);
  assert.equal(bench.b.tcpCounters.challengeAcks, 2);
  assert.equal(bench.b.tcpCounters.challengeAcksLimited, 2);
  bench.now += 1 * S;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 700), flags: F.RST }));
  assert.equal(bench.since(from, "b").length, 3, "a second later the bucket refilled");
  assert.equal(server.stateName, "ESTABLISHED");
});

Deno.test("RFC 5961 §5.2: an ACK beyond SND.NXT is answered with an ACK and the segment dropped", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(
    bench,
    "b",
    fromA(bench, client, {
      seq: nxt,
      ack: u32(sndNxt(bench, "b") + 100_000),
      payload: pattern(10),
    }),
  );
  assert.equal(sink.bytes, 0, "the data is dropped");
  const ack = bench.since(from, "b");
  assert.equal(ack.length, 1);
  assert.equal(ack[0].flags, F.ACK);
  assert.equal(ack[0].ack, nxt);
  assert.equal(server.stateName, "ESTABLISHED");
});

Deno.test("RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK and the data is dropped", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(
    bench,
    "b",
    fromA(bench, client, {
      seq: nxt,
      ack: u32(sndNxt(bench, "b") - 20_000_000),
      payload: pattern(10),
    }),
  );
  assert.equal(sink.bytes, 0);
  assert.equal(bench.since(from, "b").length, 1);
  assert.equal(server.counters.challengeAcks, 1);
});

Deno.test("RFC 9293 §3.10.7.4: a segment without ACK in a synchronized state is dropped", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  inject(
    bench,
    "b",
    fromA(bench, client, { seq: rcvNxt(bench, "b"), flags: F.PSH, payload: pattern(10) }),
  );
  assert.equal(sink.bytes, 0);
});

Deno.test("RFC 9293 §3.10.7.4: data outside the receive window is answered with an ACK and dropped", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: u32(nxt + 3_000_000), payload: pattern(10) }));
  assert.equal(sink.bytes, 0);
  const ack = bench.since(from, "b");
  assert.equal(ack.length, 1);
  assert.equal(ack[0].ack, nxt);
  assert.equal(server.counters.outOfWindow, 1);
  assert.equal(server.outOfOrderBytes, 0);
});

// --------------------------------------------------------------------- RFC 7323

Deno.test("RFC 7323 §5.3 (PAWS): a segment with an older TSval is dropped, ACKed and counted", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  bench.now += 50 * MS;
  client.write(pattern(10));
  bench.settle();
  assert.equal(sink.bytes, 10);
  const recent = parseOptions(last(bench, "a").options).ts![0];
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(
    bench,
    "b",
    fromA(bench, client, {
      seq: nxt,
      payload: pattern(20),
      options: tsOption(u32(recent - 1000), 0),
    }),
  );
  assert.equal(sink.bytes, 10, "dropped");
  assert.equal(server.counters.pawsDropped, 1);
  assert.equal(bench.b.tcpCounters.pawsDropped, 1);
  const ack = bench.since(from, "b");
  assert.equal(ack.length, 1, "RFC 7323 §5.3 R1: an ACK is sent");
  assert.equal(ack[0].ack, nxt);
  // The same bytes with a current TSval are taken.
  inject(
    bench,
    "b",
    fromA(bench, client, { seq: nxt, payload: pattern(20), options: tsOption(recent) }),
  );
  assert.equal(sink.bytes, 30);
});

Deno.test("RFC 7323 §5.3 R1: PAWS does not apply to RST: an exact RST with an old TSval resets", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  bench.now += 50 * MS;
  client.write(pattern(10));
  bench.settle();
  const recent = parseOptions(last(bench, "a").options).ts![0];
  inject(
    bench,
    "b",
    fromA(bench, client, {
      seq: rcvNxt(bench, "b"),
      flags: F.RST,
      options: tsOption(u32(recent - 5)),
    }),
  );
  assert.equal(server.closeReason, "reset");
});

Deno.test("RFC 7323 §4.3: TSecr echoes the peer's latest TSval", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  bench.now += 7 * MS;
  server.write(pattern(100));
  bench.settle();
  const data = dataFrom(bench, "b")[0], ack = last(bench, "a");
  assert.equal(parseOptions(ack.options).ts![1], parseOptions(data.options).ts![0]);
  assert.equal(client.timestamps, true);
});

Deno.test("RFC 7323 §2.2: window scaling is negotiated: shifts in the SYNs, SYN windows unscaled", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const [syn, synAck, ack] = bench.log;
  assert.equal(parseOptions(syn.options).ws, 5, "1 MiB needs a shift of 5");
  assert.equal(parseOptions(synAck.options).ws, 5);
  assert.equal(syn.window, 65535);
  assert.equal(synAck.window, 65535);
  assert.equal(ack.window, (1 << 20) >> 5, "scaled after the handshake");
  assert.equal(client.receiveWindowScale, 5);
  assert.equal(client.sendWindowScale, 5);
  assert.equal(server.sendWindowScale, 5);
  assert.equal(client.sendWindow, 65535, "the SYN-ACK's window, unscaled");
  client.write(pattern(100));
  bench.settle();
  assert.equal(client.sendWindow, 1 << 20, "then scaled");
});

Deno.test("RFC 7323 §1.3: no window scaling when the peer does not offer it (windowScaling: false)", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, {}, { windowScaling: false });
  const [syn, synAck, ack] = bench.log;
  assert.equal(parseOptions(syn.options).ws, 5);
  assert.equal(parseOptions(synAck.options).ws, -1, "the SYN-ACK does not offer it");
  assert.equal(client.receiveWindowScale, -1);
  assert.equal(client.sendWindowScale, -1);
  assert.equal(ack.window, 65535, "our window unscaled, at most 65535");
  assert.equal(client.sendWindow, 65535);
  const sink = new Sink(client);
  server.write(pattern(300_000));
  advance(bench, 2 * S);
  assert.deepEqual(sink.data, pattern(300_000));
  for (const s of bench.log.filter((s) => s.from === "b")) {
    assert.ok(parseOptions(s.options).ws === -1);
  }
  for (const s of bench.log.filter((s) => s.from === "a" && s.payload === 0).slice(2)) {
    assert.ok(s.window <= 65535);
  }
});

Deno.test("RFC 7323 §2.3: a window scale shift above 14 is taken as 14", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, ws: 15 }) });
  assert.equal(p.server.sendWindowScale, 14);
});

Deno.test("RFC 7323 §3.2: timestamps off (timestamps: false): no TSopt and a 1460-byte MSS", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { timestamps: false });
  const [syn, synAck] = bench.log;
  assert.equal(parseOptions(syn.options).ts, null);
  assert.equal(parseOptions(synAck.options).ts, null);
  assert.equal(client.timestamps, false);
  assert.equal(server.timestamps, false);
  assert.equal(client.mss, 1460);
  client.write(pattern(5000));
  bench.settle();
  for (const s of bench.log.slice(2)) assert.equal(parseOptions(s.options).ts, null);
  assert.equal(dataFrom(bench, "a")[0].payload, 1460);
});

Deno.test("RFC 7323 §3.2: a SYN-ACK never offers timestamps the SYN did not, and vice versa", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, {}, { timestamps: false });
  const [syn, synAck] = bench.log;
  assert.ok(parseOptions(syn.options).ts !== null);
  assert.equal(parseOptions(synAck.options).ts, null);
  assert.equal(client.timestamps, false);
  assert.equal(server.timestamps, false);
  client.write(pattern(100));
  bench.settle();
  assert.deepEqual(parseOptions(dataFrom(bench, "a")[0].options).kinds, []);
});

// ------------------------------------------------------------------ options, MSS

Deno.test("MUST-14/MUST-16: the effective send MSS is the smaller of the peer's MSS and ours", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { mss: 1000 });
  assert.equal(parseOptions(bench.log[0].options).mss, 1000);
  assert.equal(parseOptions(bench.log[1].options).mss, 1460);
  assert.equal(client.mss, 1000 - 12, "less the timestamps every segment carries");
  assert.equal(server.mss, 1000 - 12);
  client.write(pattern(5000));
  server.write(pattern(5000));
  bench.settle();
  const sizes = bench.log.filter((s) => s.payload > 0).map((s) => s.payload);
  assert.ok(sizes.every((n) => n <= 988));
  assert.ok(sizes.includes(988));
});

Deno.test("MUST-16/MUST-67: the route MTU bounds the MSS we offer and send", () => {
  const bench = new Bench({ mtu: 1000 });
  const { client, server } = open(bench);
  assert.equal(parseOptions(bench.log[0].options).mss, 960);
  assert.equal(client.mss, 948);
  assert.equal(server.mss, 948);
  server.write(pattern(5000));
  bench.settle();
  assert.ok(dataFrom(bench, "b").every((s) => s.payload <= 948 && s.frame.length <= 1014));
});

Deno.test("MUST-15: without an MSS option the send MSS is 536", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: new Uint8Array(0) });
  assert.equal(p.server.mss, 536);
  const from = bench.log.length;
  p.server.write(pattern(2000));
  bench.settle();
  const sizes = dataFrom(bench, "b", from).map((s) => s.payload);
  assert.deepEqual(sizes, [536, 536, 536, 392]);
});

Deno.test("MUST-65: the MSS option is sent in SYN segments only", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  client.write(pattern(20_000));
  server.write(pattern(20_000));
  bench.settle();
  client.close();
  server.close();
  bench.settle();
  for (const s of bench.log) {
    assert.equal(parseOptions(s.options).mss >= 0, (s.flags & F.SYN) !== 0);
  }
});

Deno.test("MUST-6/MUST-64: unknown options are skipped and options need no word alignment", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: new Uint8Array([99, 3, 0, 2, 4, 0x02, 0x00, 1]) });
  assert.equal(p.server.mss, 512);
  assert.equal(p.server.stateName, "ESTABLISHED");
});

Deno.test("MUST-7: an illegal option length (0) does not break the open; the options are not trusted", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: new Uint8Array([2, 0, 5, 0xb4]) });
  assert.equal(p.server.stateName, "ESTABLISHED");
  assert.equal(p.server.mss, 536, "the MSS option was not believed");
});

Deno.test("MUST-2: every segment we send carries a correct checksum", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  client.write(pattern(10_000));
  server.write(pattern(3333));
  bench.settle();
  client.abort();
  bench.settle();
  assert.ok(bench.log.length > 8);
  for (const s of bench.log) {
    const len = s.frame.length - 34;
    const pseudo = ipv4PseudoHeaderSum(s.srcIp, s.dstIp, 6, len);
    assert.equal(foldSum(sum16(s.frame, 34, len, pseudo)), 0xffff);
  }
});

Deno.test("MUST-3: a segment with a bad checksum is dropped and counted", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const nxt = rcvNxt(bench, "b"), from = bench.log.length;
  inject(bench, "b", fromA(bench, client, { seq: nxt, payload: pattern(10), badChecksum: true }));
  assert.equal(sink.bytes, 0);
  assert.equal(bench.b.tcpCounters.inErrs, 1);
  assert.equal(bench.since(from, "b").length, 0);
  inject(bench, "b", fromA(bench, client, { seq: nxt, payload: pattern(10) }));
  assert.equal(sink.bytes, 10);
});

Deno.test("MUST-61: the last segment of a write carries PSH", () => {
  const bench = new Bench();
  const { client } = open(bench);
  client.write(pattern(5000));
  bench.settle();
  const d = dataFrom(bench, "a");
  assert.ok(d[d.length - 1].flags & F.PSH);
});

// ------------------------------------------------------------- sequence wrap-around

Deno.test("MUST-1 / RFC 9293 §3.4: received data crosses the 2^32 wrap, in and out of order", () => {
  const bench = new Bench();
  const isn = U32 - 2500;
  const p = peerOpen(bench, { isn });
  const sink = new Sink(p.server);
  const data = pattern(6000);
  for (const i of [0, 2, 3, 1, 5, 4]) {
    p.send({ rel: 1000 * i, payload: data.subarray(1000 * i, 1000 * i + 1000) });
  }
  assert.deepEqual(sink.data, data);
  assert.equal(rcvNxt(bench, "b"), u32(isn + 1 + 6000));
  assert.equal(p.server.outOfOrderBytes, 0);
});

Deno.test("RFC 9293 §3.4: our send sequence crosses the 2^32 wrap (ISS placed by the ISN clock), with a loss at the wrap", () => {
  const bench = new Bench();
  const listener = bench.b.listen(80);
  let server: TcpConnection | null = null;
  listener.onConnection = (c) => server = c;
  const client = bench.a.connect("10.0.0.2", 80, { connectTimeoutMs: 1e9 });
  const sink = new Sink(client);
  bench.tapB.filter = (s) => !(s.flags & F.SYN);
  bench.settle();
  const syn = bench.log[0], synAck0 = bench.log.find((s) => s.from === "b")!;
  const h = u32(synAck0.seq - Math.floor(synAck0.time / 4000));
  // Forget B's half-open connection, then let A's SYN retransmission arrive when B's ISN
  // clock gives ISS = 2^32 - 3000.
  inject(bench, "b", fromA(bench, client, { seq: u32(syn.seq + 1), flags: F.RST, ack: 0 }));
  assert.equal(bench.b.tcpConnections.length, 0);
  const target = U32 - 3000;
  let t1 = 4000 * u32(target - h);
  while (t1 < bench.now + 2 * S) t1 += 4000 * U32;
  bench.tapB.filter = null;
  bench.now = t1;
  bench.settle();
  assert.equal(client.stateName, "ESTABLISHED");
  const synAck = bench.log.filter((s) => s.from === "b" && s.flags & F.SYN).pop()!;
  assert.equal(synAck.seq, target);
  dropFirst(bench, "b", (s) => s.payload > 0 && s.seq > 0x80000000 && s.seq + s.payload > U32);
  const data = pattern(200_000, 7);
  server!.write(data);
  advance(bench, 3 * S);
  assert.deepEqual(sink.data, data);
  assert.equal(rcvNxt(bench, "a"), u32(target + 1 + 200_000));
  assert.ok(server!.counters.retransSegs >= 1);
});

// --------------------------------------------------------------------------- windows

/** A→B with B holding what it receives (the application does not read). */
function holding(bench: Bench, listen: TcpListenOptions = { receiveBuffer: 16384 }) {
  const o = open(bench, 80, {}, listen);
  const got: Uint8Array[] = [];
  o.server.onData = (d, off, len) => {
    got.push(d.slice(off, off + len));
    o.server.held += len;
  };
  const bytes = () => got.reduce((n, c) => n + c.length, 0);
  const all = () => {
    const out = new Uint8Array(bytes());
    let at = 0;
    for (const c of got) out.set(c, (at += c.length) - c.length);
    return out;
  };
  return { ...o, bytes, all };
}

Deno.test("MUST-36/SHLD-29/SHLD-30: a zero window is probed after an RTO, probes backed off; the data resumes", () => {
  const bench = new Bench();
  const h = holding(bench);
  const data = pattern(100_000, 3);
  h.client.write(data);
  bench.settle();
  assert.equal(last(bench, "b").window, 0, "the window closed");
  assert.equal(h.client.sendWindow, 0);
  const closedAtNs = bench.now, from = bench.log.length;
  advance(bench, 30 * S);
  const probes = dataFrom(bench, "a", from);
  assert.ok(probes.length >= 3, `${probes.length} probes`);
  assert.ok(probes.every((s) => s.payload === 1));
  assert.ok(probes[0].time - closedAtNs >= 200 * MS, "not before an RTO");
  const gaps = probes.slice(1).map((s, i) => s.time - probes[i].time);
  for (let i = 1; i < gaps.length; i++) assert.equal(gaps[i], 2 * gaps[i - 1]);
  assert.equal(h.client.counters.zeroWindowProbes, probes.length);
  h.server.held = 0;
  h.server.windowUpdate();
  for (let i = 0; i < 100 && h.bytes() < data.length; i++) {
    h.server.held = 0;
    h.server.windowUpdate();
    advance(bench, 100 * MS);
  }
  assert.deepEqual(h.all(), data);
});

Deno.test("RFC 9293 §3.8.6.1: a zero-window probe is answered with an ACK", () => {
  const bench = new Bench();
  const h = holding(bench);
  h.client.write(pattern(100_000));
  bench.settle();
  const from = bench.log.length;
  advance(bench, 5 * S);
  const probe = dataFrom(bench, "a", from)[0];
  assert.ok(probe, "a probe");
  const answer = bench.since(from, "b").find((s) => s.time === probe.time);
  assert.ok(answer, "the receiver answers the probe");
  assert.equal(answer.window, 0);
  assert.equal(answer.ack, probe.seq, "the probe byte is not taken into a zero window");
});

Deno.test("RFC 9293 §3.8.6.1: after a zero window, sending resumes at SND.UNA (no hole at the receiver)", () => {
  const bench = new Bench();
  const h = holding(bench);
  const data = pattern(60_000, 5);
  h.client.write(data);
  bench.settle();
  const expected = rcvNxt(bench, "b");
  advance(bench, 3 * S);
  assert.ok(h.client.counters.zeroWindowProbes >= 1);
  const from = bench.log.length;
  h.server.held = 0;
  h.server.windowUpdate();
  bench.settle();
  const first = dataFrom(bench, "a", from)[0];
  assert.equal(first.seq, expected, "the first byte the window refused comes first");
  assert.equal(h.server.counters.outOfOrderSegs, 0);
});

Deno.test("MUST-37: the window may stay zero for 10 minutes while probes go on; the connection stays", () => {
  const bench = new Bench();
  const h = holding(bench);
  const data = pattern(50_000, 9);
  h.client.write(data);
  bench.settle();
  advance(bench, 600 * S);
  assert.equal(h.client.stateName, "ESTABLISHED");
  const probes = dataFrom(bench, "a").filter((s) => s.time > 500 * S);
  assert.ok(probes.length >= 1, "still probing after 8 minutes");
  for (let i = 0; i < 200 && h.bytes() < data.length; i++) {
    h.server.held = 0;
    h.server.windowUpdate();
    advance(bench, 100 * MS);
  }
  assert.deepEqual(h.all(), data);
});

Deno.test("MUST-66: an RST at RCV.NXT is processed with a zero receive window", () => {
  const bench = new Bench();
  const h = holding(bench);
  h.client.write(pattern(100_000));
  bench.settle();
  assert.equal(last(bench, "b").window, 0);
  inject(bench, "b", fromA(bench, h.client, { seq: rcvNxt(bench, "b"), flags: F.RST }));
  assert.equal(h.server.closeReason, "reset");
});

Deno.test("SHLD-14: the receiver never moves the right window edge left", () => {
  const bench = new Bench();
  const h = holding(bench, { receiveBuffer: 20000 });
  h.client.write(pattern(200_000));
  for (let i = 0; i < 40; i++) {
    advance(bench, 300 * MS);
    // The application reads a little, sometimes.
    if (i % 3 === 0) {
      h.server.held = Math.max(0, h.server.held - 7000);
      h.server.windowUpdate();
    }
  }
  let edge = -1;
  for (const s of bench.log.filter((s) => s.from === "b" && s.flags & F.ACK).slice(1)) {
    const right = u32(s.ack + s.window);
    if (edge >= 0) assert.ok(u32(right - edge) < 0x80000000, "the edge moved left");
    edge = right;
  }
  assert.ok(h.bytes() > 100_000);
});

Deno.test("MUST-39: receiver SWS avoidance: a window reopening by less than an MSS is not advertised", () => {
  const bench = new Bench();
  const h = holding(bench);
  h.client.write(pattern(100_000));
  bench.settle();
  assert.equal(last(bench, "b").window, 0);
  const from = bench.log.length;
  h.server.held -= 100;
  h.server.windowUpdate();
  bench.settle();
  assert.ok(
    bench.since(from, "b").every((s) => s.window === 0),
    "no window advertised for 100 bytes",
  );
  h.server.held -= 2000;
  h.server.windowUpdate();
  bench.settle();
  const upd = bench.since(from, "b").filter((s) => s.window > 0);
  assert.ok(upd.length >= 1, "an update once an MSS is free");
  assert.ok(upd[0].window >= 1460);
});

Deno.test("MUST-38: sender SWS avoidance: only full-sized segments while data is in flight", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, {}, { receiveBuffer: 4096 });
  const sink = new Sink(server);
  client.write(pattern(30_000));
  advance(bench, 2 * S);
  assert.equal(sink.bytes, 30_000);
  const d = dataFrom(bench, "a");
  for (const s of d.slice(0, -1)) assert.equal(s.payload, client.mss);
});

Deno.test("RFC 9293 §3.8.6.2.1: the sender never sends beyond SND.UNA + SND.WND", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, {}, { receiveBuffer: 6000 });
  const sink = new Sink(server);
  client.write(pattern(50_000));
  advance(bench, 2 * S);
  assert.equal(sink.bytes, 50_000);
  let right = -1;
  for (const s of bench.log.slice(3)) {
    if (s.from === "b") right = u32(s.ack + s.window);
    else if (s.payload > 0 && right >= 0) {
      assert.ok(u32(right - (s.seq + s.payload)) < 0x80000000, "beyond the window");
    }
  }
});

// -------------------------------------------------------------- Nagle, delayed ACK

Deno.test("MUST-17: Nagle is off by default (noDelay): a second small write goes out at once", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const from = bench.log.length;
  client.write(pattern(10));
  bench.a.poll(bench.now);
  client.write(pattern(10, 2));
  bench.a.poll(bench.now);
  assert.equal(dataFrom(bench, "a", from).length, 2);
});

Deno.test("SHLD-7: Nagle (noDelay: false) holds a small segment while data is unacknowledged", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { noDelay: false });
  const sink = new Sink(server);
  const from = bench.log.length;
  client.write(pattern(10));
  bench.a.poll(bench.now);
  client.write(pattern(10, 2));
  client.write(pattern(10, 3));
  bench.a.poll(bench.now);
  assert.equal(dataFrom(bench, "a", from).length, 1, "held");
  bench.b.poll(bench.now); // the ACK
  bench.a.poll(bench.now);
  const d = dataFrom(bench, "a", from);
  assert.equal(d.length, 2);
  assert.equal(d[1].payload, 20, "the small writes coalesced");
  bench.settle();
  assert.equal(sink.bytes, 30);
});

Deno.test("RFC 1122 §4.2.3.2: ACKs are immediate by default (delayed ACK off)", () => {
  const bench = new Bench();
  const { client } = open(bench);
  bench.now += 5 * MS;
  const from = bench.log.length;
  client.write(pattern(100));
  bench.settle();
  const acks = bench.since(from, "b");
  assert.equal(acks.length, 1);
  assert.equal(acks[0].time, bench.now);
});

Deno.test("MUST-40/SHLD-19: delayedAckMs delays a lone segment's ACK and ACKs every second segment at once", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, {}, { delayedAckMs: 40 });
  const t0 = bench.now, from = bench.log.length;
  client.write(pattern(100));
  bench.settle();
  assert.equal(bench.since(from, "b").length, 0);
  advance(bench, 100 * MS);
  const acks = bench.since(from, "b");
  assert.equal(acks.length, 1);
  assert.equal(acks[0].time, t0 + 40 * MS);
  const from2 = bench.log.length, t1 = bench.now;
  client.write(pattern(2 * client.mss));
  bench.a.poll(bench.now);
  bench.b.poll(bench.now);
  const a2 = bench.since(from2, "b");
  assert.equal(a2.length, 1);
  assert.equal(a2[0].time, t1, "two full segments: at once");
});

Deno.test("MUST-40: an ACK is never delayed 0.5 s or more, whatever delayedAckMs asks", () => {
  const bench = new Bench();
  let o;
  try {
    o = open(bench, 80, {}, { delayedAckMs: 1000 });
  } catch (e) {
    assert.ok(e instanceof RangeError);
    return;
  }
  const t0 = bench.now, from = bench.log.length;
  o.client.write(pattern(100));
  bench.settle();
  advance(bench, 2 * S);
  const ack = bench.since(from, "b")[0];
  assert.ok(ack.time - t0 < 500 * MS, `ACK after ${(ack.time - t0) / MS} ms`);
});

Deno.test("RFC 5681 §4.2: out-of-order data is ACKed at once even with delayed ACKs", () => {
  const bench = new Bench();
  const p = peerOpen(bench, {
    listen: { delayedAckMs: 200 },
    syn: synOptions({ mss: 1460, sack: true }),
  });
  const t0 = bench.now, from = bench.log.length;
  p.send({ rel: 1000, payload: pattern(500) });
  const ack = bench.since(from, "b");
  assert.equal(ack.length, 1);
  assert.equal(ack[0].time, t0);
  assert.equal(ack[0].ack, u32(p.isn + 1));
});

Deno.test("MUST-58/MUST-59: segments arriving together are answered with one ACK", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const from = bench.log.length;
  client.write(pattern(8 * client.mss));
  bench.a.poll(bench.now);
  assert.equal(dataFrom(bench, "a", from).length, 8);
  bench.b.poll(bench.now);
  const acks = bench.since(from, "b");
  assert.equal(acks.length, 1);
  assert.equal(acks[0].ack, sndNxt(bench, "a"));
});

// ------------------------------------------------------------------ retransmission

Deno.test("MUST-19 / RFC 6298 §5.5: data is retransmitted on the RTO with exponential backoff", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  bench.tapA.filter = (s) => s.payload === 0;
  const from = bench.log.length;
  client.write(pattern(100));
  advance(bench, 20 * S);
  const tx = dataFrom(bench, "a", from);
  assert.ok(tx.length >= 4);
  assert.ok(tx.every((s) => s.seq === tx[0].seq && s.payload === 100));
  const gaps = tx.slice(1).map((s, i) => s.time - tx[i].time);
  assert.ok(gaps[0] >= 200 * MS);
  for (let i = 1; i < gaps.length; i++) assert.equal(gaps[i], 2 * gaps[i - 1]);
  assert.equal(client.counters.timeouts, tx.length - 1);
  assert.equal(client.counters.retransSegs, tx.length - 1);
  assert.equal(client.counters.bytesRetrans, 100 * (tx.length - 1));
  bench.tapA.filter = null;
  advance(bench, 40 * S);
  assert.equal(sink.bytes, 100);
});

Deno.test("MUST-18 (Karn): no RTT sample from a retransmitted segment", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const handshake = client.srttUs; // the handshake's sample (as Linux takes one)
  dropFirst(bench, "a", (s) => s.payload > 0);
  client.write(pattern(100));
  advance(bench, 5 * S);
  assert.equal(client.unacknowledged, 0);
  assert.equal(client.srttUs, handshake, "the retransmission's ACK gave no sample");
  client.write(pattern(100));
  bench.now += 3 * MS;
  bench.a.poll(bench.now);
  bench.now += 3 * MS;
  bench.settle();
  assert.notEqual(client.srttUs, handshake, "a clean segment gives one");
});

Deno.test("RFC 5681 §3.1: after a timeout cwnd is one segment and ssthresh half the flight", () => {
  const bench = new Bench();
  const { client } = open(bench);
  bench.tapA.filter = (s) => s.payload === 0;
  client.write(pattern(5 * client.mss));
  bench.settle();
  for (let i = 0; i < 2000 && client.counters.timeouts === 0; i++) advance(bench, MS);
  assert.equal(client.counters.timeouts, 1);
  assert.equal(client.cwnd, client.mss);
  assert.equal(client.ssthresh, Math.max((5 * client.mss) >> 1, 2 * client.mss));
});

Deno.test("MUST-19 / RFC 6928: slow start from an initial window of 10 segments", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const from = bench.log.length;
  client.write(pattern(100 * client.mss));
  bench.a.poll(bench.now);
  assert.equal(dataFrom(bench, "a", from).length, 10);
  const f2 = bench.log.length;
  bench.b.poll(bench.now);
  bench.a.poll(bench.now);
  assert.equal(client.cwnd, 20 * client.mss);
  assert.equal(dataFrom(bench, "a", f2).length, 20);
});

Deno.test("a poll sends at most 128 segments: a wide window goes on in the next polls, ACKs read between", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { sendBuffer: 8 << 20 }, { receiveBuffer: 8 << 20 });
  const sink = new Sink(server);
  const data = pattern(6 << 20);
  let written = client.write(data);
  let most = 0, deferred = 0, continued = 0;
  for (let i = 0; sink.bytes < data.length && i < 100_000; i++) {
    bench.now += 20_000; // 20 µs a round
    for (let k = 0; k < 16; k++) bench.b.poll(bench.now); // B reads a burst a poll: all of it
    const from = bench.log.length;
    bench.a.poll(bench.now);
    const sent = dataFrom(bench, "a", from).length;
    most = Math.max(most, sent);
    if (sent === 128) {
      // More is due: the stack asks to be polled again at once, and is.
      assert.ok(bench.a.busy);
      assert.ok(bench.a.nextDeadline <= bench.now);
      deferred++;
      const again = bench.log.length;
      bench.a.poll(bench.now); // no ACK in between: only the budget held it back
      if (dataFrom(bench, "a", again).length > 0) continued++;
    }
    if (written < data.length) written += client.write(data, written);
  }
  assert.equal(sink.bytes, data.length);
  assert.deepEqual(sink.data, data);
  assert.equal(most, 128); // the budget was met, never passed
  assert.ok(deferred > 0 && continued === deferred, `${deferred} deferred, ${continued} continued`);
  bench.run(10 * MS);
  assert.equal(bench.a.busy, false); // nothing left to send or receive
});

Deno.test("MUST-20/MUST-21: unacknowledged data past userTimeoutMs ends the connection with 'timeout' and RST", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, { userTimeoutMs: 10_000 });
  const end = closedAt(bench, client);
  bench.tapA.filter = (s) => s.payload === 0;
  const t0 = bench.now;
  client.write(pattern(100));
  advance(bench, 60 * S);
  assert.equal(end.reason, "timeout");
  assert.ok(end.at - t0 >= 10 * S && end.at - t0 <= 16 * S, `after ${(end.at - t0) / MS} ms`);
  assert.ok(last(bench, "a").flags & F.RST);
  assert.equal(bench.a.tcpCounters.abortOnTimeout, 1);
});

Deno.test("MUST-21: with a longer userTimeoutMs the same outage is survived", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { userTimeoutMs: 60_000 });
  const sink = new Sink(server);
  bench.tapA.filter = (s) => s.payload === 0;
  client.write(pattern(100));
  advance(bench, 20 * S);
  bench.tapA.filter = null;
  advance(bench, 40 * S);
  assert.equal(client.stateName, "ESTABLISHED");
  assert.equal(sink.bytes, 100);
});

Deno.test("RFC 5681 §3.2: fast retransmit on the third duplicate ACK, before any RTO (SACK off)", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460 }) });
  const server = p.server, mss = server.mss;
  assert.equal(server.sack, false);
  const from = bench.log.length;
  server.write(pattern(10 * mss));
  bench.settle();
  const d = dataFrom(bench, "b", from);
  assert.equal(d.length, 10);
  const at = (i: number) => u32(d[0].seq + i * mss);
  p.send({ ack: at(1) });
  p.send({ ack: at(1) });
  p.send({ ack: at(1) });
  assert.equal(dataFrom(bench, "b", from).length, 10, "not after two duplicates");
  bench.now += 10 * MS;
  p.send({ ack: at(1) });
  const rtx = dataFrom(bench, "b", from).slice(10);
  assert.ok(rtx.length >= 1);
  assert.equal(rtx[0].seq, at(1));
  assert.equal(rtx[0].time, bench.now, "at the third duplicate, no timer");
  assert.equal(server.counters.fastRetransmits, 1);
  assert.equal(server.counters.timeouts, 0);
  assert.equal(server.counters.dupAcksIn, 3);
});

Deno.test("RFC 2018 §4: out-of-order data gets SACK blocks, the most recent first, at most 4 without timestamps", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, sack: true }) });
  const b = u32(p.isn + 1);
  const blocksAfter = (rel: number) => {
    const from = bench.log.length;
    p.send({ rel, payload: pattern(1000, rel + 1) });
    const ack = bench.since(from, "b");
    assert.equal(ack.length, 1);
    return [ack[0].ack, parseOptions(ack[0].options).sack] as const;
  };
  assert.deepEqual(blocksAfter(1000), [b, [[u32(b + 1000), u32(b + 2000)]]]);
  assert.deepEqual(blocksAfter(3000), [b, [[u32(b + 3000), u32(b + 4000)], [
    u32(b + 1000),
    u32(b + 2000),
  ]]]);
  blocksAfter(5000);
  blocksAfter(7000);
  const [ack, sack] = blocksAfter(9000);
  assert.equal(ack, b);
  assert.equal(sack.length, 4);
  assert.deepEqual(sack[0], [u32(b + 9000), u32(b + 10000)]);
  assert.deepEqual(sack[3], [u32(b + 3000), u32(b + 4000)]);
  // The gap at 0 fills: the delivered range leaves the blocks.
  const [ack2, sack2] = blocksAfter(0);
  assert.equal(ack2, u32(b + 2000));
  assert.ok(sack2.every(([l]) => u32(l - ack2) < 0x80000000 && l !== ack2));
});

Deno.test("RFC 2018 §3: with timestamps at most 3 SACK blocks fit", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const data = pattern(10 * client.mss);
  const picks = new Set([1, 3, 5, 7]);
  let n = 0;
  bench.tapA.filter = (s) => !(s.payload > 0 && picks.has(n++));
  const from = bench.log.length;
  client.write(data);
  bench.a.poll(bench.now);
  bench.tapA.filter = null;
  bench.b.poll(bench.now);
  const ack = bench.since(from, "b")[0];
  const sack = parseOptions(ack.options).sack;
  assert.equal(sack.length, 3);
  const d = dataFrom(bench, "a", from);
  assert.deepEqual(sack[0], [d[8].seq, u32(d[9].seq + d[9].payload)], "the latest first");
  advance(bench, 3 * S);
  assert.deepEqual(sink.data, data);
});

Deno.test("RFC 2883 §4.1.1: a duplicate segment is reported by a D-SACK block below the ACK", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, sack: true }) });
  const b = u32(p.isn + 1);
  p.send({ rel: 0, payload: pattern(1000) });
  const from = bench.log.length;
  p.send({ rel: 0, payload: pattern(1000) });
  const ack = bench.since(from, "b");
  assert.equal(ack.length, 1);
  assert.equal(ack[0].ack, u32(b + 1000));
  assert.deepEqual(parseOptions(ack[0].options).sack, [[b, u32(b + 1000)]]);
  assert.equal(p.server.counters.sackBlocksSent, 1);
});

Deno.test("RFC 2883 §4.1.2: a duplicate of out-of-order data: D-SACK first, its containing block second", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, sack: true }) });
  const b = u32(p.isn + 1);
  p.send({ rel: 2000, payload: pattern(1000) });
  p.send({ rel: 3000, payload: pattern(1000) });
  const from = bench.log.length;
  p.send({ rel: 2000, payload: pattern(1000) });
  const sack = parseOptions(bench.since(from, "b")[0].options).sack;
  assert.deepEqual(sack, [[u32(b + 2000), u32(b + 3000)], [u32(b + 2000), u32(b + 4000)]]);
});

Deno.test("RFC 6675 §5: SACK recovery retransmits only the holes", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, sack: true }) });
  const server = p.server, mss = server.mss;
  assert.equal(mss, 1460);
  const from = bench.log.length;
  server.write(pattern(10 * mss));
  bench.settle();
  const d = dataFrom(bench, "b", from);
  assert.equal(d.length, 10);
  const base = d[0].seq, at = (i: number) => u32(base + i * mss);
  // Segments 2 and 5 lost: cumulative ACK of 0-1, then duplicate ACKs with SACK.
  const ack = (a: number, blocks: [number, number][]) =>
    p.send({ rel: 0, ack: a, options: blocks.length ? sackOption(blocks) : undefined });
  ack(at(2), []);
  ack(at(2), [[at(3), at(4)]]);
  ack(at(2), [[at(3), at(5)]]);
  ack(at(2), [[at(6), at(7)], [at(3), at(5)]]);
  ack(at(2), [[at(6), at(8)], [at(3), at(5)]]);
  ack(at(2), [[at(6), at(9)], [at(3), at(5)]]);
  ack(at(2), [[at(6), at(10)], [at(3), at(5)]]);
  const rtx = dataFrom(bench, "b", from).slice(10);
  assert.deepEqual(rtx.map((s) => s.seq).sort(), [at(2), at(5)].sort());
  assert.equal(server.counters.fastRetransmits, 1);
  assert.equal(server.counters.timeouts, 0);
});

Deno.test("RFC 6675 §5 (IsLost): losses reported by SACK in one ACK are recovered without a timeout", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const data = pattern(20 * client.mss);
  const picks = new Set([2, 5, 8]);
  let n = 0;
  bench.tapA.filter = (s) => !(s.payload > 0 && picks.has(n++));
  const from = bench.log.length;
  client.write(data);
  advance(bench, 5 * S);
  assert.deepEqual(sink.data, data);
  const d = dataFrom(bench, "a", from);
  const seen = new Set<number>(), again: number[] = [];
  for (const s of d) seen.has(s.seq) ? again.push(s.seq) : seen.add(s.seq);
  assert.equal(again.length, 3, "only the three holes were sent twice");
  assert.equal(client.counters.timeouts, 0);
});

// ---------------------------------------------------------------- out-of-order data

Deno.test("SHLD-31: out-of-order segments are held and delivered byte-exact, in order, when the gaps fill", () => {
  const bench = new Bench();
  const p = peerOpen(bench);
  const chunks: [number, number][] = [];
  let at = 0;
  p.server.onData = (_d, _o, len) => {
    chunks.push([at, len]);
    at += len;
  };
  const sink = new Sink(p.server);
  const order = Array.from({ length: 30 }, (_, i) => i);
  let x = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const data = pattern(30 * 700, 11);
  for (const i of order) p.send({ rel: 700 * i, payload: data.subarray(700 * i, 700 * i + 700) });
  assert.deepEqual(sink.data, data);
  assert.equal(p.server.outOfOrderBytes, 0);
});

Deno.test("SHLD-31: 40 holes at once are held (32+ ranges), nothing dropped", () => {
  const bench = new Bench();
  const p = peerOpen(bench);
  const sink = new Sink(p.server);
  const data = pattern(80 * 500, 13);
  const seg = (i: number) =>
    p.send({ rel: 500 * i, payload: data.subarray(500 * i, 500 * i + 500) });
  for (let i = 1; i < 80; i += 2) seg(i);
  assert.equal(p.server.outOfOrderBytes, 40 * 500);
  assert.equal(p.server.counters.outOfOrderDropped, 0);
  assert.equal(sink.bytes, 0);
  for (let i = 0; i < 80; i += 2) seg(i);
  assert.deepEqual(sink.data, data);
  assert.equal(bench.b.tcpCounters.ofoQueued, 40);
});

Deno.test("RFC 9293 §3.10.7.4: a FIN beyond a hole is taken when the hole fills", () => {
  const bench = new Bench();
  const p = peerOpen(bench);
  const sink = new Sink(p.server);
  p.send({ rel: 1000, payload: pattern(1000).subarray(0, 500), flags: F.ACK | F.FIN });
  assert.equal(sink.ended, false);
  p.send({ rel: 0, payload: pattern(1000, 2) });
  assert.equal(sink.bytes, 1500);
  assert.equal(sink.ended, true);
  assert.equal(p.server.stateName, "CLOSE-WAIT");
  assert.equal(rcvNxt(bench, "b"), u32(p.isn + 1 + 1500 + 1));
});

// -------------------------------------------------------------------------- closing

Deno.test("RFC 9293 §3.6: active close FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT; passive CLOSE-WAIT → LAST-ACK → CLOSED", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const cs = new Sink(client), ss = new Sink(server);
  client.close();
  bench.a.poll(bench.now);
  assert.equal(client.stateName, "FIN-WAIT-1");
  assert.equal(last(bench, "a").flags, F.FIN | F.ACK);
  bench.b.poll(bench.now);
  assert.equal(server.stateName, "CLOSE-WAIT");
  assert.ok(ss.ended);
  bench.a.poll(bench.now);
  assert.equal(client.stateName, "FIN-WAIT-2");
  server.close();
  bench.b.poll(bench.now);
  assert.equal(server.stateName, "LAST-ACK");
  bench.a.poll(bench.now);
  assert.equal(client.stateName, "TIME-WAIT");
  assert.ok(cs.ended);
  bench.b.poll(bench.now);
  assert.equal(server.stateName, "CLOSED");
  assert.equal(ss.closed, "closed");
  assert.equal(cs.closed, null, "still in TIME-WAIT");
});

Deno.test("MUST-13: TIME-WAIT lasts timeWaitMs (2 MSL), then the connection is gone", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { timeWaitMs: 2000 });
  const end = closedAt(bench, client);
  client.close();
  server.close();
  bench.settle();
  assert.equal(client.stateName, "TIME-WAIT");
  const t0 = bench.now;
  advance(bench, 1999 * MS);
  assert.equal(client.stateName, "TIME-WAIT");
  advance(bench, 10 * MS);
  assert.equal(end.reason, "closed");
  assert.equal(end.at, t0 + 2000 * MS);
  assert.equal(bench.a.tcpConnections.length, 0);
});

Deno.test("RFC 9293 §3.10.7.4: a FIN retransmitted in TIME-WAIT is ACKed again and restarts the 2 MSL", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { timeWaitMs: 5000 });
  const end = closedAt(bench, client), send = closedAt(bench, server);
  client.close();
  bench.settle();
  assert.equal(client.stateName, "FIN-WAIT-2");
  dropFirst(bench, "a", (s) => s.flags === F.ACK);
  server.close();
  bench.settle();
  assert.equal(client.stateName, "TIME-WAIT");
  assert.equal(server.stateName, "LAST-ACK");
  const from = bench.log.length;
  advance(bench, 3 * S);
  const fin = bench.since(from, "b").find((s) => s.flags & F.FIN)!;
  assert.ok(fin, "the FIN was retransmitted");
  const reack = bench.since(from, "a").find((s) => s.time === fin.time && s.flags === F.ACK);
  assert.ok(reack);
  assert.equal(reack.ack, u32(fin.seq + 1));
  assert.equal(send.reason, "closed");
  advance(bench, 10 * S);
  assert.equal(end.at, fin.time + 5000 * MS, "the 2 MSL restarted at the retransmitted FIN");
});

Deno.test("RFC 9293 §3.6 figure 13: a simultaneous close goes through CLOSING on both sides", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { timeWaitMs: 1000 }, { timeWaitMs: 1000 });
  const seenA: string[] = [], seenB: string[] = [];
  client.onEnd = () => seenA.push(client.stateName);
  server.onEnd = () => seenB.push(server.stateName);
  const finA = dropFirst(bench, "a", (s) => (s.flags & F.FIN) !== 0);
  client.close();
  bench.settle();
  const finB = dropFirst(bench, "b", (s) => (s.flags & F.FIN) !== 0);
  server.close();
  bench.settle();
  bench.tapA.filter = null;
  bench.tapB.filter = null;
  assert.equal(client.stateName, "FIN-WAIT-1");
  assert.equal(server.stateName, "FIN-WAIT-1");
  injectFrame(bench, "b", finA[0].frame);
  injectFrame(bench, "a", finB[0].frame);
  bench.settle();
  assert.deepEqual(seenA, ["CLOSING"]);
  assert.deepEqual(seenB, ["CLOSING"]);
  assert.equal(client.stateName, "TIME-WAIT");
  assert.equal(server.stateName, "TIME-WAIT");
  advance(bench, 2 * S);
  assert.equal(client.closeReason, "closed");
  assert.equal(server.closeReason, "closed");
});

Deno.test("MAY-1 / RFC 9293 §3.6.1: after closeWrite the peer's data still flows to us", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const cs = new Sink(client), ss = new Sink(server);
  client.closeWrite();
  bench.settle();
  assert.ok(ss.ended);
  assert.equal(server.stateName, "CLOSE-WAIT");
  assert.equal(client.stateName, "FIN-WAIT-2");
  assert.throws(() => client.write(pattern(1)));
  const data = pattern(50_000, 4);
  server.write(data);
  bench.settle();
  assert.deepEqual(cs.data, data);
  server.close();
  bench.settle();
  assert.equal(ss.closed, "closed");
  assert.equal(client.stateName, "TIME-WAIT");
});

Deno.test("RFC 9293 §3.10.7.4: FIN-WAIT-2 gives up after finWait2Ms", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, { finWait2Ms: 3000 });
  const end = closedAt(bench, client);
  client.close();
  bench.settle();
  assert.equal(client.stateName, "FIN-WAIT-2");
  const t0 = bench.now;
  advance(bench, 10 * S);
  assert.equal(end.reason, "closed");
  assert.equal(end.at, t0 + 3000 * MS);
});

Deno.test("RFC 9293 §3.10.5 / MUST-12: abort() sends RST at SND.NXT; the peer learns it was reset", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  client.write(pattern(100));
  bench.settle();
  const nxt = sndNxt(bench, "a");
  const ca = closedAt(bench, client), sa = closedAt(bench, server);
  client.abort();
  bench.settle();
  const rst = last(bench, "a");
  assert.equal(rst.flags & F.RST, F.RST);
  assert.equal(rst.seq, nxt);
  assert.equal(ca.reason, "aborted");
  assert.equal(sa.reason, "reset");
  assert.equal(bench.a.tcpCounters.outRsts, 1);
  assert.equal(bench.b.tcpCounters.estabResets, 1);
  assert.equal(bench.b.tcpCounters.currEstab, 0);
});

Deno.test("RFC 9293 §3.10.4: close in SYN-SENT forgets the connection without a segment", () => {
  const bench = new Bench();
  const { conn } = activeToPeer(bench);
  const from = bench.log.length;
  const end = closedAt(bench, conn);
  conn.close();
  advance(bench, 5 * S);
  assert.equal(end.reason, "closed");
  assert.equal(bench.since(from, "a").length, 0);
});

// ------------------------------------------------------------------------ keep-alive

Deno.test("MUST-25: keep-alive is off by default: an idle connection sends nothing for 3 hours", () => {
  const bench = new Bench();
  const { client } = open(bench);
  const from = bench.log.length;
  advance(bench, 3 * 3600 * S);
  assert.equal(bench.since(from).length, 0);
  assert.equal(client.stateName, "ESTABLISHED");
});

Deno.test("MUST-24/MUST-27 / RFC 1122 §4.2.3.6: keep-alive probes after keepAliveMs idle: SEQ = SND.NXT - 1, no data, ACKed", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, { keepAliveMs: 10_000 });
  const t0 = bench.now, nxt = sndNxt(bench, "a"), from = bench.log.length;
  advance(bench, 10_500 * MS);
  const probe = bench.since(from, "a")[0];
  assert.ok(probe);
  assert.equal(probe.time, t0 + 10 * S);
  assert.equal(probe.seq, u32(nxt - 1));
  assert.equal(probe.payload, 0);
  const answer = bench.since(from, "b")[0];
  assert.equal(answer.ack, nxt);
  assert.equal(client.counters.keepAliveProbes, 1);
});

Deno.test("MUST-29 / RFC 1122 §4.2.3.6: answered keep-alive probes keep the connection open", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, {
    keepAliveMs: 10_000,
    keepAliveIntervalMs: 1000,
    keepAliveProbes: 3,
  });
  advance(bench, 120 * S);
  assert.equal(client.stateName, "ESTABLISHED");
  const probes = bench.log.filter((s) => s.from === "a").slice(2);
  assert.ok(probes.length >= 5);
  // Every probe was answered: the next comes a whole idle period later.
  const gaps = probes.slice(1).map((s, i) => s.time - probes[i].time);
  assert.ok(gaps.every((g) => g === 10 * S), `gaps ${gaps.map((g) => g / MS)}`);
});

Deno.test("RFC 1122 §4.2.3.6: unanswered keep-alive probes drop the connection ('timeout')", () => {
  const bench = new Bench();
  const { client } = open(bench, 80, {
    keepAliveMs: 10_000,
    keepAliveIntervalMs: 1000,
    keepAliveProbes: 3,
  });
  const end = closedAt(bench, client);
  bench.tapB.filter = () => false;
  const t0 = bench.now;
  advance(bench, 30 * S);
  assert.equal(end.reason, "timeout");
  assert.equal(end.at, t0 + 13 * S);
  assert.equal(client.counters.keepAliveProbes, 3);
  assert.ok(last(bench, "a").flags & F.RST);
});

Deno.test("MUST-26: no keep-alive probe while data keeps arriving", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { keepAliveMs: 5000 });
  for (let i = 0; i < 15; i++) {
    server.write(pattern(10, i + 1));
    advance(bench, 2 * S);
  }
  assert.equal(client.counters.keepAliveProbes, 0);
});

// -------------------------------------------------------------------------- counters

Deno.test("Counters: a clean transfer's segment and byte counters agree on both sides", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  new Sink(server);
  new Sink(client);
  client.write(pattern(200_000));
  server.write(pattern(50_000));
  advance(bench, 1 * S);
  const fromA = bench.log.filter((s) => s.from === "a");
  const fromB = bench.log.filter((s) => s.from === "b");
  assert.equal(client.counters.bytesSent, 200_000);
  assert.equal(client.counters.bytesAcked, 200_000);
  assert.equal(server.counters.bytesReceived, 200_000);
  assert.equal(client.counters.bytesReceived, 50_000);
  assert.equal(client.counters.segsOut, fromA.length);
  assert.equal(server.counters.segsIn, fromA.length - 1, "all but the SYN");
  assert.equal(server.counters.segsOut, fromB.length);
  assert.equal(client.counters.dataSegsOut, fromA.filter((s) => s.payload > 0).length);
  assert.equal(bench.a.tcpCounters.outSegs, fromA.length);
  assert.equal(bench.b.tcpCounters.inSegs, fromA.length);
  assert.equal(client.counters.retransSegs, 0);
});

Deno.test("Counters: TcpOutSegs excludes retransmissions (as Linux, and as documented)", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  new Sink(server);
  bench.tapA.filter = (s) => s.payload === 0;
  client.write(pattern(100));
  advance(bench, 4 * S);
  bench.tapA.filter = null;
  advance(bench, 10 * S);
  const sent = bench.log.filter((s) => s.from === "a").length;
  assert.ok(client.counters.retransSegs >= 2);
  assert.equal(bench.a.tcpCounters.retransSegs, client.counters.retransSegs);
  assert.equal(bench.a.tcpCounters.outSegs, sent - client.counters.retransSegs);
});

Deno.test("Counters: currEstab counts ESTABLISHED and CLOSE-WAIT only, and is 0 after a close", () => {
  const bench = new Bench();
  const { client, server } = open(bench, 80, { timeWaitMs: 1000 });
  client.close();
  bench.settle();
  assert.equal(server.stateName, "CLOSE-WAIT");
  assert.equal(bench.b.tcpCounters.currEstab, 1);
  assert.equal(client.stateName, "FIN-WAIT-2");
  assert.equal(bench.a.tcpCounters.currEstab, 0, "FIN-WAIT-2 is not established");
  server.close();
  advance(bench, 2 * S);
  assert.equal(bench.a.tcpCounters.currEstab, 0);
  assert.equal(bench.b.tcpCounters.currEstab, 0);
});

Deno.test("Counters: a refused open counts in attemptFails (TcpAttemptFails)", () => {
  const bench = new Bench();
  const conn = bench.a.connect("10.0.0.2", 81);
  bench.settle();
  assert.equal(conn.closeReason, "refused");
  assert.equal(bench.a.tcpCounters.attemptFails, 1);
});

Deno.test("Counters: D-SACK blocks sent are counted in dsackSent", () => {
  const bench = new Bench();
  const p = peerOpen(bench, { syn: synOptions({ mss: 1460, sack: true }) });
  p.send({ rel: 0, payload: pattern(1000) });
  p.send({ rel: 0, payload: pattern(1000) });
  assert.equal(p.server.counters.sackBlocksSent, 1);
  assert.equal(p.server.counters.dsackSent, 1);
});

Deno.test("Counters: out-of-order, SACK and retransmission counters after a loss", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  const data = pattern(20 * client.mss);
  const lost = dropFirst(
    bench,
    "a",
    (s) => s.payload > 0 && s.seq !== dataFrom(bench, "a")[0]?.seq,
  );
  client.write(data);
  advance(bench, 5 * S);
  assert.deepEqual(sink.data, data);
  assert.equal(lost.length, 1);
  assert.ok(server.counters.outOfOrderSegs >= 1);
  assert.equal(server.counters.outOfOrderSegs, bench.b.tcpCounters.ofoQueued);
  assert.ok(server.counters.sackBlocksSent >= 1);
  assert.ok(client.counters.sackBlocksReceived >= 1);
  assert.equal(client.counters.bytesRetrans, lost[0].payload * client.counters.retransSegs);
  assert.equal(client.counters.bytesSent, data.length + client.counters.bytesRetrans);
  assert.equal(client.counters.bytesAcked, data.length);
});

// ------------------------------------------------------------------ loss recovery

/** 20 MB A → B through a fault injector on A's device (both directions), on virtual time. */
function lossyTransfer(loss: number) {
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B, slots: 4096 });
  const a = new Stack(new FaultInjector(pair.a, { seed: 1, loss }), { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  a.arp.setStatic(0x0a000002, 0x02000000000b);
  b.arp.setStatic(0x0a000001, 0x02000000000a);
  const sum = { bytes: 0, hash: 0 };
  b.listen(80).onConnection = (c) => {
    c.onData = (d, o, n) => {
      for (let i = 0; i < n; i++) sum.hash = (Math.imul(sum.hash, 31) + d[o + i]) | 0;
      sum.bytes += n;
    };
  };
  const conn = a.connect("10.0.0.2", 80);
  const data = pattern(20_000_000, 11);
  let sent = 0, now = 0;
  while (sum.bytes < data.length && now < 300 * S) {
    if (sent < data.length && conn.writableState) sent += conn.write(data, sent);
    now += 20_000; // 20 µs per round: a 40 µs round trip, like a veth
    a.poll(now);
    b.poll(now);
  }
  let hash = 0;
  for (let i = 0; i < data.length; i++) hash = (Math.imul(hash, 31) + data[i]) | 0;
  return { sum, hash, seconds: now / S, conn };
}

Deno.test("RFC 6675/RFC 8985: 20 MB through 1% loss both ways, repaired from SACKs and loss probes, rarely by RTO", () => {
  const r = lossyTransfer(0.01);
  assert.equal(r.sum.bytes, 20_000_000);
  assert.equal(r.sum.hash, r.hash, "byte-exact");
  const c = r.conn.counters;
  assert.ok(c.fastRetransmits > 50, `fast retransmits ${c.fastRetransmits}`);
  assert.ok(c.timeouts <= 5, `${c.timeouts} RTOs: SACK recovery should repair nearly all losses`);
  assert.ok(r.seconds < 3, `${r.seconds} s of virtual time`);
});

Deno.test("RFC 6675/RFC 8985: 20 MB through 5% loss both ways completes byte-exact", () => {
  const r = lossyTransfer(0.05);
  assert.equal(r.sum.hash, r.hash);
  const c = r.conn.counters;
  assert.ok(c.lossProbes > 0 && c.lostRetransmits > 0, JSON.stringify(c));
  assert.ok(r.seconds < 30, `${r.seconds} s of virtual time`);
});

// ------------------------------------------------------------------ path MTU

/** ICMP "fragmentation needed" (type 3 code 4, next-hop `mtu`) about `frame`, sent to A. */
function fragmentationNeeded(frame: Uint8Array, mtu: number): Uint8Array {
  const quoted = frame.subarray(14, 14 + 20 + 8);
  const out = new Uint8Array(14 + 20 + 8 + quoted.length);
  const v = new DataView(out.buffer);
  out.set(MAC_A, 0);
  out.set(MAC_B, 6);
  v.setUint16(12, 0x0800);
  v.setUint32(14, 0x45000000 | (out.length - 14));
  v.setUint32(22, 0x40010000); // TTL 64, ICMP
  v.setUint32(26, ip("10.0.0.2")); // the "router"
  v.setUint32(30, ip("10.0.0.1"));
  v.setUint16(24, ~foldSum(sum16(v, 14, 20)) & 0xffff);
  v.setUint32(34, 0x03040000); // destination unreachable, fragmentation needed
  v.setUint32(38, mtu); // unused 16 bits, then the next hop's MTU
  out.set(quoted, 42);
  v.setUint16(36, ~foldSum(sum16(v, 34, 8 + quoted.length)) & 0xffff);
  return out;
}

Deno.test("RFC 1191 §6.5 / MUST-16: ICMP 'fragmentation needed' lowers the MSS; the data goes again in smaller segments", () => {
  const bench = new Bench();
  const { client, server } = open(bench);
  const sink = new Sink(server);
  // Beyond a "router" the path takes 576 bytes: bigger packets are dropped there.
  bench.tapA.filter = (s) => s.frame.length - 14 <= 576;
  const data = pattern(30_000, 4);
  const from = bench.log.length;
  client.write(data);
  bench.settle();
  const big = bench.since(from, "a").find((s) => s.payload > 0)!;
  assert.ok(big.frame.length - 14 > 576);
  injectFrame(bench, "a", fragmentationNeeded(big.frame, 576));
  const after = bench.log.length;
  bench.settle();
  assert.equal(client.mss, 576 - 40 - 12, "MSS: the MTU less IP, TCP and the timestamps");
  advance(bench, 2 * S);
  assert.deepEqual(sink.data, data);
  const sent = dataFrom(bench, "a", after);
  assert.ok(sent.length > 0 && sent.every((s) => s.frame.length - 14 <= 576));
  assert.equal(bench.a.counters.icmpErrorsDelivered, 1);
});

Deno.test("RFC 6191 / RFC 9293 §3.6.1: a SYN with a newer timestamp takes over a 4-tuple in TIME-WAIT", () => {
  const bench = new Bench();
  const { client, server, listener } = open(bench);
  server.close(); // the server closes first: its side ends in TIME-WAIT
  bench.settle();
  client.close();
  bench.settle();
  assert.equal(server.stateName, "TIME-WAIT");
  const last = bench.log.filter((s) => s.from === "a").pop()!;
  const lastTs = new DataView(last.options.buffer).getUint32(last.options.length - 8);
  const from = bench.log.length;
  bench.tapA.filter = () => false; // A has forgotten the connection: its RSTs would end TIME-WAIT
  // An old duplicate SYN (older timestamp) gets no new connection: a challenge ACK.
  const old = { srcPort: client.localPort, dstPort: 80, seq: last.seq + 1000, flags: F.SYN };
  inject(bench, "b", { ...old, options: synOptions({ mss: 1460, ts: [lastTs - 10, 0] }) });
  assert.equal(server.stateName, "TIME-WAIT");
  assert.ok(!bench.since(from, "b").some((s) => s.flags & F.SYN));
  // A newer one ends TIME-WAIT and opens a new connection (SYN-ACK, pending on the listener).
  inject(bench, "b", { ...old, options: synOptions({ mss: 1460, ts: [lastTs + 10, 0] }) });
  assert.equal(server.closeReason, "closed");
  const synAck = bench.since(from, "b").find((s) => s.flags === (F.SYN | F.ACK));
  assert.ok(synAck, "SYN-ACK for the new connection");
  assert.equal(synAck.ack, u32(last.seq + 1001));
  assert.equal(listener.pending, 1);
});

Deno.test("Linux tcp_invalid_ratelimit: out-of-window bare ACKs are answered at most once per 500 ms; data always", () => {
  const bench = new Bench();
  const { client } = open(bench);
  bench.tapA.filter = () => false; // only the injected segments reach B
  const old = rcvNxt(bench, "b") - 100_000; // far left of B's window
  const from = bench.log.length;
  for (let i = 0; i < 10; i++) inject(bench, "b", fromA(bench, client, { seq: old }));
  assert.equal(bench.since(from, "b").length, 1, "one answer to ten");
  bench.now += 501 * MS;
  inject(bench, "b", fromA(bench, client, { seq: old }));
  assert.equal(bench.since(from, "b").length, 2, "another after 500 ms");
  const f2 = bench.log.length;
  for (let i = 0; i < 3; i++) {
    inject(
      bench,
      "b",
      fromA(bench, client, { seq: old, payload: pattern(100), flags: F.ACK | F.PSH }),
    );
  }
  assert.equal(bench.since(f2, "b").length, 3, "old data is always ACKed");
});

Deno.test("RFC 5961 §5.2: an ACK of data never sent is dropped and answered by a rate-limited challenge ACK", () => {
  const bench = new Bench({}, { challengeAcksPerSecond: 2 });
  const { client, server } = open(bench);
  const sink = new Sink(server);
  bench.tapA.filter = () => false;
  const from = bench.log.length;
  for (let i = 0; i < 5; i++) {
    inject(bench, "b", {
      ...fromA(bench, client, { seq: rcvNxt(bench, "b"), payload: pattern(10) }),
      ack: sndNxt(bench, "b") + 5000,
    });
  }
  assert.equal(sink.bytes, 0, "the data of such segments is not taken");
  assert.equal(bench.since(from, "b").length, 2);
  assert.equal(bench.b.tcpCounters.challengeAcks, 2);
  assert.equal(bench.b.tcpCounters.challengeAcksLimited, 3);
});

Deno.test("checksums stay right when a segment's payload wraps the send ring, at an odd byte or not", () => {
  for (const first of [1001, 1000]) {
    const bench = new Bench();
    const { client, server } = open(bench);
    const sink = new Sink(server);
    const data = pattern(200_000, first);
    // The ring starts at 64 KiB: odd writes move where the data wraps.
    let at = 0;
    for (const n of [first, 65_536 - first - 7, 7, 3, data.length]) {
      at += client.write(data, at, Math.min(n, data.length - at));
      advance(bench, 5 * MS);
    }
    advance(bench, 1 * S);
    assert.deepEqual(sink.data, data);
    assert.equal(bench.b.tcpCounters.inErrs, 0, "no segment had a bad checksum");
    assert.equal(client.counters.retransSegs, 0);
  }
});

Deno.test("connect() before the first poll: the SYN waits for the poll's clock, so an epoch clock does not time it out", () => {
  const bench = new Bench();
  bench.b.listen(80);
  const client = bench.a.connect("10.0.0.2", 80); // the stacks' clocks still read 0
  assert.equal(client.stateName, "SYN-SENT");
  bench.now = 1.7e18; // a driver's first poll: nanoseconds since 1970
  bench.settle();
  assert.equal(client.stateName, "ESTABLISHED", client.closeDetail);
});
