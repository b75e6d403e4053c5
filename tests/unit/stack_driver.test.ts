// The async face: a StackDriver polls two stacks in the background while the program awaits
// datagrams; ready() waits for an address; stop() ends the loop and lets the process exit.
import assert from "node:assert/strict";
import { parseIpv4 } from "../../net/mod.ts";
import { DatagramQueue, MemoryPair, Stack, StackDriver } from "../../stack/mod.ts";

Deno.test("StackDriver: datagrams awaited in order, ready() with an address, clean stop", async () => {
  const pair = new MemoryPair();
  const a = new Stack(pair.a, { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  const inbox = new DatagramQueue(b.udp(5000), 4);
  const da = new StackDriver(a), db = new StackDriver(b);
  da.start();
  db.start();
  await da.ready(1000);
  const client = a.udp(4000);
  for (let i = 0; i < 3; i++) client.sendTo(parseIpv4("10.0.0.2"), 5000, new Uint8Array([i, 7]));
  const got = [await inbox.receive(), await inbox.receive(), await inbox.receive()];
  assert.deepEqual(got.map((d) => [...d.data]), [[0, 7], [1, 7], [2, 7]]);
  assert.deepEqual([got[0].ip, got[0].port], [parseIpv4("10.0.0.1"), 4000]);
  // A full queue drops and counts.
  for (let i = 0; i < 10; i++) client.sendTo(parseIpv4("10.0.0.2"), 5000, new Uint8Array(1));
  while (b.counters.udpIn < 13) await new Promise((r) => setTimeout(r, 1));
  assert.equal(inbox.length, 4);
  assert.equal(inbox.dropped, 6);
  await da.stop();
  await db.stop();
  assert.equal(da.running, false);
  assert.ok(da.rounds > 0);
});

Deno.test("StackDriver.ready() fails clearly when no address comes", async () => {
  const pair = new MemoryPair();
  const s = new Stack(pair.a, { dhcp: true }); // nobody answers
  const d = new StackDriver(s);
  d.start();
  await assert.rejects(() => d.ready(50), /no address within 50 ms \(is a DHCP server there\?\)/);
  await d.stop();
});

Deno.test("StackDriver turnEveryUs: rounds back to back between turns, timers still run", async () => {
  const pair = new MemoryPair();
  // A 10 ms interval's ticks and the rounds, over 200 ms with each driver running alone.
  const run = async (turnEveryUs: number) => {
    const d = new StackDriver(new Stack(pair.a, { address: "10.0.0.1/24" }), {
      pollsPerRound: 1,
      turnEveryUs,
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    d.start();
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(timer);
    await d.stop();
    return { ticks, rounds: d.rounds };
  };
  const every = await run(0), rare = await run(2000);
  // Without a turn per round, rounds come faster; timers run either way.
  assert.ok(rare.rounds > 2 * every.rounds, JSON.stringify({ every, rare }));
  assert.ok(every.ticks >= 14 && rare.ticks >= 14, JSON.stringify({ every, rare }));
});
