/**
 * What the stack's async face costs: UDP echo round trips between two stacks on an in-memory
 * pair, driven (a) by a plain poll loop, the hot-path way, and (b) by `StackDriver`s with
 * `await DatagramQueue.receive()`, which yields to Deno's event loop between rounds.
 *
 *   deno run -A bench/stack_async.ts [--rounds N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseIpv4 } from "../net/mod.ts";
import { DatagramQueue, MemoryPair, Stack, StackDriver } from "../stack/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "20000" } },
});
const ROUNDS = Number(values.rounds);
const payload = new Uint8Array(64);

function hosts() {
  const pair = new MemoryPair();
  const a = new Stack(pair.a, { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  const echo = b.udp(7);
  echo.receiver = {
    datagram(data, _view, offset, length, ip, port) {
      echo.sendTo(ip, port, data, offset, length);
    },
  };
  return { a, b, client: a.udp(4000), server: parseIpv4("10.0.0.2") };
}

// (a) A poll loop: send, poll both stacks until the echo is back.
function pollLoop(): number {
  const { a, b, client, server } = hosts();
  let answers = 0;
  client.receiver = { datagram: () => answers++ };
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS + 1000; i++) {
    if (i === 1000) answers = 0; // warm-up done (ARP resolved, JIT settled)
    const want = answers + 1;
    client.sendTo(server, 7, payload);
    while (answers < want) {
      a.clock[0] = b.clock[0] = performance.now() * 1e6;
      a.poll();
      b.poll();
    }
  }
  return (performance.now() - t0) * 1000 / (ROUNDS + 1000);
}

// (b) The async face: drivers poll in the background, the client awaits each echo.
async function asyncFace(): Promise<number> {
  const { a, b, client, server } = hosts();
  const queue = new DatagramQueue(client);
  const da = new StackDriver(a), db = new StackDriver(b);
  da.start();
  db.start();
  for (let i = 0; i < 1000; i++) { // warm-up
    client.sendTo(server, 7, payload);
    await queue.receive();
  }
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    client.sendTo(server, 7, payload);
    await queue.receive();
  }
  const us = (performance.now() - t0) * 1000 / ROUNDS;
  await da.stop();
  await db.stop();
  return us;
}

const sync = pollLoop();
const asynchronous = await asyncFace();
console.log(`UDP echo round trip between two stacks on a MemoryPair, ${ROUNDS} rounds:`);
console.log(`  poll loop:                        ${sync.toFixed(2)} µs`);
console.log(`  StackDriver + await receive():    ${asynchronous.toFixed(2)} µs`);
console.log(`  the async face adds ${(asynchronous - sync).toFixed(2)} µs per round trip`);
