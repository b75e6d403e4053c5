// A TCP transfer between two stacks on an in-memory pair: A writes, B's onData receives in
// place. Reports the JS heap and garbage collections over the measured part: the steady state
// (connection established, windows open) must allocate nothing per segment, on either side.
// Run with --v8-flags=--expose-gc,--trace-gc; GC lines between the markers are counted by the
// parent test. Arg: bytes to receive in the measured part.
import { library } from "../../../ffi/library.ts";
import { MemoryPair, Stack } from "../../../stack/mod.ts";
import { report } from "../../helpers.ts";

const BYTES = Number(Deno.args[0] ?? 1e9);
library().symbols.dd_stdout_unbuffered(); // the GC trace stays in order with our markers
const pair = new MemoryPair({ slots: 1024 });
const a = new Stack(pair.a, { address: "10.0.0.1/24" });
const b = new Stack(pair.b, { address: "10.0.0.2/24" });
a.arp.setStatic(0x0a000002, 0x020000000002);
b.arp.setStatic(0x0a000001, 0x020000000001);
const received = { bytes: 0, sum: 0 };
const listener = b.listen(80);
listener.onConnection = (conn) => {
  conn.onData = (data, offset, length) => {
    received.bytes += length;
    received.sum = (received.sum + data[offset]) & 0xffff; // touch the bytes
  };
};
a.clock[0] = 1e12; // clocks far beyond small integers from the start
b.clock[0] = 1e12;
const client = a.connect("10.0.0.2", 80);
const chunk = new Uint8Array(256 * 1024).map((_, i) => i * 7);

/** Writes as the send buffer allows and polls both stacks until `target` bytes arrived. */
function run(target: number): void {
  while (received.bytes < target) {
    if (client.writable >= chunk.length) client.write(chunk, 0, chunk.length);
    a.clock[0] += 2000; // 2 µs per round, on clocks far beyond small integers
    b.clock[0] = a.clock[0];
    a.poll();
    b.poll();
  }
}

// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;
run(200e6); // warm up: handshake, slow start over, the JIT settled
gc();
const start = received.bytes;
const heapBefore = Deno.memoryUsage().heapUsed;
const t0 = performance.now();
console.log("LOOP START");
run(start + BYTES);
console.log("LOOP END");
const seconds = (performance.now() - t0) / 1000;
const heapAfterNoGc = Deno.memoryUsage().heapUsed;
report({
  bytes: received.bytes - start,
  seconds,
  heapBefore,
  heapAfterNoGc,
  client: client.counters,
  tcp: b.tcpCounters,
});
