// The host part of the stack on an in-memory device pair, on virtual time: ARP resolution,
// queueing, retries and give-up; ICMP echo; UDP delivery in place, checksums, port unreachable
// and its rate limit; what is dropped, and why, counted. No DPDK.
import assert from "node:assert/strict";
import { ArpState } from "../../stack/arp.ts";
import type { Device, FrameReceiver } from "../../stack/device.ts";
import { FaultInjector } from "../../stack/fault.ts";
import { Stack } from "../../stack/interface.ts";
import { MemoryPair } from "../../stack/memory.ts";
import { buildArp, buildIcmpEcho, buildUdpFrame, parseIpv4 } from "../../net/mod.ts";

/** The device clock at `ns` (devices take the time as an array: see Device.receive). */
const CLOCK = new Float64Array(1);
const clockAt = (ns: number): Float64Array => (CLOCK[0] = ns, CLOCK);

const MS = 1e6, S = 1e9;
const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 0xa]), MAC_B = new Uint8Array([2, 0, 0, 0, 0, 0xb]);

/** Copies every frame a device receives. */
class Capture implements FrameReceiver {
  frames: Uint8Array[] = [];
  frame(data: Uint8Array, _view: DataView, offset: number, length: number): void {
    this.frames.push(data.slice(offset, offset + length));
  }
}

/** Sends raw frames on a device. */
function inject(device: Device, ...frames: Uint8Array[]): void {
  for (const f of frames) {
    const at = device.reserve(f.length);
    assert.ok(at >= 0, "no room to inject");
    device.txData.set(f, at);
  }
  device.flush(clockAt(0));
}

function twoHosts() {
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B });
  const a = new Stack(pair.a, { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  return { pair, a, b };
}

/** Polls both stacks at `now` until nothing moves (a few rounds). */
function settle(now: number, ...stacks: Stack[]): void {
  for (let round = 0; round < 6; round++) for (const s of stacks) s.poll(now);
}

Deno.test("ARP: a datagram waits for its next hop, which is resolved, then delivered in place", () => {
  const { a, b } = twoHosts();
  const got: { text: string; ip: number; port: number }[] = [];
  const sb = b.udp(5000);
  sb.receiver = {
    datagram(data, _view, offset, length, ip, port) {
      got.push({
        text: new TextDecoder().decode(data.subarray(offset, offset + length)),
        ip,
        port,
      });
    },
  };
  const sa = a.udp(4000);
  assert.equal(sa.sendTo(parseIpv4("10.0.0.2"), 5000, new TextEncoder().encode("hello")), true);
  assert.equal(a.arp.state(parseIpv4("10.0.0.2")), ArpState.INCOMPLETE);
  assert.equal(a.arp.queued, 1);
  settle(1 * MS, a, b);
  assert.deepEqual(got, [{ text: "hello", ip: parseIpv4("10.0.0.1"), port: 4000 }]);
  assert.equal(a.arp.state(parseIpv4("10.0.0.2")), ArpState.REACHABLE);
  assert.equal(a.arp.queued, 0);
  assert.equal(a.counters.arpRequestsSent, 1);
  assert.equal(b.counters.arpRequestsAnswered, 1);
  // B learned A from the request (RFC 826): its answer needs no request of its own.
  assert.equal(b.arp.state(parseIpv4("10.0.0.1")), ArpState.REACHABLE);
  sb.sendTo(parseIpv4("10.0.0.1"), 4000, new Uint8Array(3));
  assert.equal(b.counters.arpRequestsSent, 0);
});

Deno.test("ARP: an address that never answers is retried, then given up with its packets", () => {
  const { a } = twoHosts();
  const s = a.udp();
  const errors: number[][] = [];
  s.errorReceiver = { icmpError: (type, code, ip, port) => errors.push([type, code, ip, port]) };
  const nobody = parseIpv4("10.0.0.9");
  s.sendTo(nobody, 9, new Uint8Array(10));
  s.sendTo(nobody, 9, new Uint8Array(10));
  assert.equal(a.counters.arpRequestsSent, 1);
  assert.equal(a.poll(0), 1 * S, "it may wait until the next retry, 1 s away");
  assert.equal(a.nextDeadline, 1 * S);
  a.poll(1 * S);
  a.poll(2 * S);
  assert.equal(a.counters.arpRequestsSent, 3);
  assert.equal(a.arp.state(nobody), ArpState.INCOMPLETE);
  a.poll(3 * S);
  assert.equal(a.nextDeadline, Infinity, "nothing left to wait for");
  assert.equal(a.counters.arpFailed, 1);
  assert.equal(a.counters.arpDropped, 2);
  assert.equal(a.arp.state(nobody), ArpState.FREE);
  assert.equal(a.arp.queued, 0);
  // The socket that sent them hears "host unreachable", once per datagram.
  assert.deepEqual(errors, [[3, 1, nobody, 9], [3, 1, nobody, 9]]);
});

Deno.test("ARP: a confirmed entry goes stale and is refreshed while still in use", () => {
  const { a, b } = twoHosts();
  const s = a.udp();
  const bIp = parseIpv4("10.0.0.2");
  s.sendTo(bIp, 7, new Uint8Array(1));
  settle(0, a, b);
  assert.equal(a.counters.arpRequestsSent, 1);
  s.sendTo(bIp, 7, new Uint8Array(1)); // fresh: no request
  assert.equal(a.counters.arpRequestsSent, 1);
  a.poll(31 * S); // past the reachable time
  s.sendTo(bIp, 7, new Uint8Array(1)); // sent at once, and a refresh goes out
  assert.equal(a.counters.arpRequestsSent, 2);
  assert.equal(a.arp.state(bIp), ArpState.STALE);
  settle(31 * S, a, b);
  assert.equal(a.arp.state(bIp), ArpState.REACHABLE);
  assert.equal(b.counters.udpNoSocket, 3, "every datagram went out");
});

Deno.test("ARP: a claim on our own address is counted, never learned", () => {
  const { pair, b } = twoHosts();
  inject(
    pair.a,
    buildArp({
      operation: 2,
      srcMac: "02:00:00:00:00:66",
      senderIp: "10.0.0.2", // B's own address from another MAC
      targetMac: "02:00:00:00:00:0b",
      targetIp: "10.0.0.2",
    }),
  );
  b.poll(0);
  assert.equal(b.counters.arpConflicts, 1);
  assert.equal(b.arp.size, 0);
});

Deno.test("ICMP: echo requests are answered with the same data; bad ones are counted", () => {
  const { pair, b } = twoHosts();
  b.arp.setStatic(parseIpv4("10.0.0.1"), 0x02000000000a);
  const request = buildIcmpEcho({
    srcMac: "02:00:00:00:00:0a",
    dstMac: "02:00:00:00:00:0b",
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    identifier: 0x1234,
    sequence: 7,
    payload: new Uint8Array(1000).map((_, i) => i),
  });
  const bad = request.slice();
  bad[request.length - 1] ^= 0xff; // ICMP checksum no longer matches
  inject(pair.a, request, bad);
  b.poll(0);
  const cap = new Capture();
  pair.a.receive(cap, clockAt(0));
  assert.equal(cap.frames.length, 1);
  const reply = cap.frames[0];
  assert.equal(reply[34], 0, "echo reply");
  assert.deepEqual(reply.subarray(38), request.subarray(38), "same identifier, sequence, data");
  assert.equal(b.counters.icmpEchoReplies, 1);
  assert.equal(b.counters.icmpBadChecksum, 1);
});

Deno.test("UDP: port unreachable for closed ports, rate-limited; bad packets counted", () => {
  const { pair, b } = twoHosts();
  b.arp.setStatic(parseIpv4("10.0.0.1"), 0x02000000000a);
  const udp = (dstPort: number, dstIp = "10.0.0.2") =>
    buildUdpFrame({
      srcMac: "02:00:00:00:00:0a",
      dstMac: "02:00:00:00:00:0b",
      srcIp: "10.0.0.1",
      dstIp,
      srcPort: 1000,
      dstPort,
      payload: "x",
    });
  // 5 to a closed port at one instant with a limit of 1000/s: all answered.
  for (let i = 0; i < 5; i++) inject(pair.a, udp(9));
  for (let i = 0; i < 5; i++) b.poll(0);
  const cap = new Capture();
  pair.a.receive(cap, clockAt(0));
  assert.equal(cap.frames.length, 5);
  assert.deepEqual([cap.frames[0][34], cap.frames[0][35]], [3, 3], "ICMP port unreachable");
  assert.equal(b.counters.icmpUnreachableSent, 5);
  // Bad UDP checksum, bad IP checksum, another address, a fragment.
  const badUdp = udp(9);
  badUdp[40] ^= 1;
  const badIp = udp(9);
  badIp[24] ^= 1;
  const frag = udp(9);
  frag[20] = 0x20; // MF
  frag[24] ^= 0x20; // keep the header checksum right
  inject(pair.a, badUdp, badIp, udp(9, "10.0.0.77"), frag);
  b.poll(0);
  assert.equal(b.counters.udpBad, 1);
  assert.equal(b.counters.ipBadChecksum, 1);
  assert.equal(b.counters.ipNotOurs, 1);
  assert.equal(b.counters.ipFragments, 1);
});

Deno.test("ICMP errors respect the rate limit", () => {
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B });
  const b = new Stack(pair.b, { address: "10.0.0.2/24", icmpErrorsPerSecond: 3 });
  b.arp.setStatic(parseIpv4("10.0.0.1"), 0x02000000000a);
  const frame = buildUdpFrame({
    srcMac: "02:00:00:00:00:0a",
    dstMac: "02:00:00:00:00:0b",
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    srcPort: 1000,
    dstPort: 9,
  });
  for (let i = 0; i < 10; i++) inject(pair.a, frame);
  b.poll(1 * S);
  assert.equal(b.counters.icmpUnreachableSent, 3);
  assert.equal(b.counters.icmpRateLimited, 7);
  inject(pair.a, frame);
  b.poll(2 * S); // a second later the bucket is full again
  assert.equal(b.counters.icmpUnreachableSent, 4);
});

Deno.test("under 5% loss and reordering, ARP converges and the counters show the faults", () => {
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B });
  const faulty = new FaultInjector(pair.a, {
    seed: 42,
    rx: { loss: 0.05, reorder: 0.05 },
    tx: { loss: 0.05 },
  });
  const a = new Stack(faulty, { address: "10.0.0.1/24", arp: { retries: 10 } });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  let received = 0;
  const sb = b.udp(5000);
  sb.receiver = { datagram: () => received++ };
  const sa = a.udp();
  let now = 0;
  for (let i = 0; i < 2000; i++) {
    sa.sendTo(parseIpv4("10.0.0.2"), 5000, new Uint8Array(64));
    now += 1 * MS;
    a.poll(now);
    b.poll(now);
  }
  settle(now + 10 * S, a, b);
  assert.equal(a.arp.state(parseIpv4("10.0.0.2")), ArpState.REACHABLE);
  assert.ok(received > 2000 * 0.9 && received < 2000, `${received} of 2000 arrived`);
  assert.ok(faulty.stats.tx.dropped > 0, "the injector dropped frames");
});

Deno.test("ICMP errors reach the socket whose datagram they concern", () => {
  const { a, b } = twoHosts();
  const s = a.udp(4444);
  const errors: number[][] = [];
  s.errorReceiver = {
    icmpError(type, code, dstIp, dstPort, mtu) {
      errors.push([type, code, dstIp, dstPort, mtu]);
    },
  };
  s.sendTo(parseIpv4("10.0.0.2"), 9999, new Uint8Array(20)); // nobody listens on B:9999
  settle(1 * MS, a, b);
  assert.deepEqual(errors, [[3, 3, parseIpv4("10.0.0.2"), 9999, 0]]);
  assert.equal(s.errors, 1);
  assert.equal(a.counters.icmpErrorsDelivered, 1);
  assert.equal(b.counters.icmpUnreachableSent, 1);
});

Deno.test("multicast: a joined group is received and announced; leaving stops it", () => {
  const { pair, a, b } = twoHosts();
  const group = parseIpv4("239.1.2.3");
  const got: number[] = [];
  const listener = b.udp(5000);
  listener.receiver = { datagram: (data, _v, offset) => got.push(data[offset]) };
  listener.join(group);
  b.poll(0); // sends what is reserved
  // The join went out as an IGMPv2 report to the group, TTL 1, with Router Alert.
  const cap = new Capture();
  pair.a.receive(cap, clockAt(0));
  const report = cap.frames.find((f) => f[23] === 2)!;
  assert.ok(report, "an IGMP message was sent");
  assert.deepEqual([...report.subarray(0, 6)], [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]);
  assert.equal(report[22], 1, "TTL 1");
  assert.equal(report[14], 0x46, "IHL 6: Router Alert");
  assert.equal(report[38], 0x16, "v2 membership report");
  const sender = a.udp();
  sender.sendTo(group, 5000, new Uint8Array([42]));
  settle(0, a, b);
  assert.deepEqual(got, [42]);
  listener.leave(group);
  sender.sendTo(group, 5000, new Uint8Array([43]));
  settle(0, a, b);
  assert.deepEqual(got, [42], "not received after leaving");
  assert.equal(b.counters.igmpOut, 2, "a report and a leave");
});

Deno.test("multicast: a group two sockets joined stays joined until the last one leaves", () => {
  const { a, b } = twoHosts();
  const group = parseIpv4("239.1.2.3");
  const first = b.udp(5000), second = b.udp(5001);
  let got = 0;
  second.receiver = { datagram: () => got++ };
  first.join(group);
  second.join(group);
  second.join(group); // twice on one socket: still one membership
  first.close();
  const sender = a.udp();
  sender.sendTo(group, 5001, new Uint8Array([1]));
  settle(0, a, b);
  assert.equal(got, 1, "the other socket still receives the group");
  assert.equal(b.counters.igmpOut, 1, "one report, no leave yet");
  second.leave(group);
  assert.equal(b.counters.igmpOut, 2, "the leave goes with the last socket");
  sender.sendTo(group, 5001, new Uint8Array([2]));
  settle(0, a, b);
  assert.equal(got, 1);
  assert.equal(b.counters.ipNotOurs, 1);
});

Deno.test("a /31 link: both addresses are hosts, neither is a broadcast (RFC 3021)", () => {
  const pair = new MemoryPair({ macA: MAC_A, macB: MAC_B });
  const a = new Stack(pair.a, { address: "10.0.0.0/31" });
  const b = new Stack(pair.b, { address: "10.0.0.1/31" });
  let got = 0;
  a.udp(7).receiver = { datagram: () => got++ };
  b.udp().sendTo(parseIpv4("10.0.0.0"), 7, new Uint8Array(8));
  settle(0, a, b);
  assert.equal(got, 1);
  assert.equal(a.counters.ipBadSource, 0);
  assert.equal(a.arp.state(parseIpv4("10.0.0.1")), ArpState.REACHABLE, "the peer was learned");
});

Deno.test("no ARP for our own address: datagrams to it are not routed (no loopback)", () => {
  const { pair, b } = twoHosts();
  const own = parseIpv4("10.0.0.2");
  b.udp().sendTo(own, 9, new Uint8Array(4));
  b.poll(0);
  const cap = new Capture();
  pair.a.receive(cap, clockAt(0));
  assert.equal(cap.frames.length, 0, "nothing sent: no who-has for ourselves");
  assert.equal(b.counters.txNoRoute, 1);
  assert.equal(b.arp.state(own), ArpState.FREE);
  // Nor from a frame that claims to come from our address (a martian source).
  inject(
    pair.a,
    buildIcmpEcho({
      srcMac: "02:00:00:00:00:0a",
      dstMac: "02:00:00:00:00:0b",
      srcIp: "10.0.0.2",
      dstIp: "10.0.0.2",
    }),
  );
  b.poll(0);
  assert.equal(b.counters.ipBadSource, 1);
  assert.equal(b.counters.icmpEchoReplies, 0);
  assert.equal(b.arp.state(own), ArpState.FREE);
});

Deno.test("IPv4 fragments: datagrams beyond the MTU go out in pieces and are reassembled", () => {
  const { a, b } = twoHosts();
  const sizes = [1473, 3000, 8000, 65507];
  const got: number[][] = [];
  const sb = b.udp(5000);
  sb.receiver = {
    datagram(data, _view, offset, length) {
      let ok = true;
      for (let i = 0; i < length; i++) {
        if (data[offset + i] !== ((i * 13 + length) & 0xff)) ok = false;
      }
      got.push([length, ok ? 1 : 0]);
    },
  };
  const sa = a.udp();
  // A datagram over the MTU cannot wait in the ARP queue (it holds one MTU): resolve first.
  assert.equal(sa.sendTo(parseIpv4("10.0.0.9"), 5000, new Uint8Array(2000)), false);
  assert.equal(a.counters.txTooBig, 1);
  sa.sendTo(parseIpv4("10.0.0.2"), 5001, new Uint8Array(1));
  settle(0, a, b);
  let now = 0;
  for (const n of sizes) {
    const payload = new Uint8Array(n).map((_, i) => (i * 13 + n) & 0xff);
    assert.equal(sa.sendTo(parseIpv4("10.0.0.2"), 5000, payload), true);
    for (let k = 0; k < 60; k++) { // 45 fragments of the largest, a burst of 32 at a time
      now += 1 * MS;
      a.poll(now);
      b.poll(now);
    }
  }
  assert.deepEqual(got, sizes.map((n) => [n, 1]));
  assert.equal(a.counters.txFragments, 2 + 3 + 6 + 45);
  assert.equal(b.counters.ipReassembled, 4);
  assert.equal(b.reassembly.reassembled, 4);
});
