// The DHCP client on virtual time, against a scripted server (a second stack with a socket on
// port 67): discover/offer/request/ack, the lease applied, renew at T1 (unicast), rebind at T2
// (broadcast), expiry back to discovery, NAK, retransmission with backoff.
import assert from "node:assert/strict";
import { parseIpv4 } from "../../net/mod.ts";
import { DhcpState } from "../../stack/dhcp.ts";
import { Stack } from "../../stack/interface.ts";
import { MemoryPair } from "../../stack/memory.ts";
import { FaultInjector } from "../../stack/fault.ts";

const S = 1e9;
const SERVER = parseIpv4("10.5.0.1"), LEASED = parseIpv4("10.5.0.77");

/** A DHCP server that answers as told, and records what it saw. */
function scriptedServer(
  answer: { offer: boolean; ack: boolean; nak?: boolean; lease: number; yiaddr?: number },
  faults?: { loss: number; reorder: number; seed: number },
) {
  const pair = new MemoryPair();
  const server = new Stack(pair.a, { address: "10.5.0.1/24" });
  const seen: { type: number; to: "broadcast" | "unicast"; ciaddr: number; requested: number }[] =
    [];
  const socket = server.udp(67);
  const reply = new Uint8Array(300);
  const rv = new DataView(reply.buffer);
  socket.receiver = {
    datagram(data, view, offset, length) {
      let type = 0, requested = 0;
      for (let at = offset + 240; at < offset + length && data[at] !== 255;) {
        if (data[at] === 0) {
          at++;
          continue;
        }
        if (data[at] === 53) type = data[at + 2];
        if (data[at] === 50) requested = view.getUint32(at + 2);
        at += 2 + data[at + 1];
      }
      // The stack delivers broadcast and unicast alike: tell them apart by ciaddr renewals.
      const ciaddr = view.getUint32(offset + 12);
      seen.push({
        type,
        to: ciaddr !== 0 && type === 3 ? "unicast" : "broadcast",
        ciaddr,
        requested,
      });
      const out = type === 1
        ? (answer.offer ? 2 : 0)
        : type === 3
        ? (answer.nak ? 6 : answer.ack ? 5 : 0)
        : 0;
      if (out === 0) return;
      reply.fill(0);
      reply[0] = 2, reply[1] = 1, reply[2] = 6;
      reply.set(data.subarray(offset + 4, offset + 8), 4); // xid
      rv.setUint32(16, out === 6 ? 0 : answer.yiaddr ?? LEASED); // yiaddr
      reply.set(data.subarray(offset + 28, offset + 34), 28); // chaddr
      rv.setUint32(236, 0x63825363);
      let at = 240;
      const opt = (code: number, value: number, bytes = 4) => {
        reply[at] = code, reply[at + 1] = bytes;
        if (bytes === 1) reply[at + 2] = value;
        else if (bytes === 2) rv.setUint16(at + 2, value);
        else rv.setUint32(at + 2, value);
        at += 2 + bytes;
      };
      opt(53, out, 1);
      opt(54, SERVER);
      if (out !== 6) {
        opt(1, 0xffffff00);
        opt(3, SERVER);
        opt(6, parseIpv4("10.5.0.53"));
        opt(26, 1400, 2);
        opt(51, answer.lease);
      }
      reply[at++] = 255;
      socket.sendTo(0xffffffff, 68, reply, 0, at);
    },
  };
  const clientDevice = faults ? new FaultInjector(pair.b, faults) : pair.b;
  const client = new Stack(clientDevice, { dhcp: { seed: 7 } });
  const run = (from: number, to: number, step = 0.1 * S) => {
    for (let t = from; t <= to; t += step) {
      server.poll(t);
      client.poll(t);
      server.poll(t);
      client.poll(t);
    }
  };
  return { server, client, seen, run };
}

Deno.test("DHCP: discover, offer, request, ack: the lease is applied", () => {
  const { client, seen, run } = scriptedServer({ offer: true, ack: true, lease: 60 });
  assert.equal(client.address, 0);
  run(0, 1 * S);
  const d = client.dhcp!;
  assert.equal(d.state, DhcpState.BOUND);
  assert.equal(client.address, LEASED);
  assert.deepEqual(
    [d.prefix, d.router, d.dns, d.server, d.leaseSeconds],
    [24, SERVER, [parseIpv4("10.5.0.53")], SERVER, 60],
  );
  assert.deepEqual(seen.map((m) => m.type), [1, 3]); // discover, request
  assert.equal(seen[1].requested, LEASED);
  assert.equal(d.leases, 1);
});

Deno.test("DHCP: renew at T1 to the server, rebind at T2 to all, lease lost at expiry", () => {
  const answer = { offer: true, ack: true, lease: 60 };
  const { client, seen, run } = scriptedServer(answer);
  run(0, 1 * S);
  run(1.1 * S, 31 * S); // T1 = 30 s: a renewal, answered
  assert.equal(client.dhcp!.leases, 2);
  assert.equal(seen.at(-1)!.to, "unicast");
  assert.equal(seen.at(-1)!.ciaddr, LEASED);
  answer.ack = false; // the server goes quiet
  answer.offer = false;
  run(31.1 * S, 95 * S, 0.5 * S); // renewed at ~30: T1 ~60, T2 ~82.5, expiry ~90
  const d = client.dhcp!;
  assert.ok(d.requests >= 4, `${d.requests} requests`);
  assert.equal(d.expired, 1);
  assert.equal(client.address, 0, "the address is given up");
  assert.ok(d.state === DhcpState.SELECTING || d.state === DhcpState.INIT);
  assert.ok(d.discovers >= 2, "a new discovery after the loss");
});

Deno.test("DHCP: a NAK drops the request and discovery starts over", () => {
  const { client, run } = scriptedServer({ offer: true, ack: false, nak: true, lease: 60 });
  run(0, 1 * S);
  const d = client.dhcp!;
  assert.ok(d.naks >= 1);
  assert.equal(client.address, 0);
  assert.ok(d.discovers >= 2);
});

Deno.test("DHCP: an offer of no host's address (0.0.0.0, loopback, multicast) is ignored", () => {
  for (const bad of ["0.0.0.0", "127.0.0.1", "224.0.0.1"]) {
    const { client, seen, run } = scriptedServer({
      offer: true,
      ack: true,
      lease: 60,
      yiaddr: parseIpv4(bad),
    });
    run(0, 10 * S);
    const d = client.dhcp!;
    assert.equal(d.offers, 0, bad);
    assert.ok(d.ignored >= 2, `${bad}: the offers were counted as ignored`);
    assert.equal(d.state, DhcpState.SELECTING, bad);
    assert.equal(client.address, 0, bad);
    assert.ok(seen.filter((m) => m.type === 1).length >= 2, `${bad}: discovery goes on`);
  }
});

Deno.test("DHCP: without a server, discovers are retransmitted with backoff (4, 8, 16 s ±1)", () => {
  const { client, seen, run } = scriptedServer({ offer: false, ack: false, lease: 60 });
  run(0, 40 * S, 0.25 * S);
  // At 0, ~4, ~12, ~28 s: four discovers in 40 s, no more.
  assert.equal(seen.filter((m) => m.type === 1).length, 4);
  assert.equal(client.dhcp!.state, DhcpState.SELECTING);
});

Deno.test("DHCP and ARP converge under 5% loss and reordering both ways", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const { client, server, run } = scriptedServer(
      { offer: true, ack: true, lease: 600 },
      { loss: 0.05, reorder: 0.05, seed },
    );
    run(0, 120 * S, 0.05 * S);
    assert.equal(client.dhcp!.state, DhcpState.BOUND, `seed ${seed}`);
    // Then the client can reach the server: ARP resolves through the faults too.
    let answered = 0;
    const s = server.udp(9000);
    s.receiver = { datagram: () => answered++ };
    const c = client.udp();
    for (let i = 0; i < 20; i++) c.sendTo(SERVER, 9000, new Uint8Array(8));
    run(120 * S, 130 * S, 0.05 * S);
    assert.ok(answered >= 15, `seed ${seed}: ${answered} of 20 arrived`);
  }
});
