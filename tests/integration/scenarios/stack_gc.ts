// UDP echoes between two stacks on an in-memory pair, and reports the JS heap and garbage
// collections over the run: the stack's steady state (ARP resolved, sockets bound) must
// allocate nothing per packet. Run with --v8-flags=--expose-gc,--trace-gc; GC lines between the
// markers are counted by the parent test. Arg: echoes.
import { library } from "../../../ffi/library.ts";
import { parseIpv4 } from "../../../net/mod.ts";
import { MemoryPair, Stack } from "../../../stack/mod.ts";
import { report } from "../../helpers.ts";

const ECHOES = Number(Deno.args[0] ?? 1_000_000);
// V8's GC trace goes through C stdio: unbuffered, it stays in order with our markers.
library().symbols.dd_stdout_unbuffered();
const pair = new MemoryPair();
const a = new Stack(pair.a, { address: "10.0.0.1/24" });
const b = new Stack(pair.b, { address: "10.0.0.2/24" });
const payload = new Uint8Array(64);
const bIp = parseIpv4("10.0.0.2");

const echo = b.udp(7);
echo.receiver = {
  datagram(data, _view, offset, length, srcIp, srcPort) {
    echo.sendTo(srcIp, srcPort, data, offset, length);
  },
};
const client = a.udp(4000);
const answers = { n: 0 };
client.receiver = {
  datagram() {
    answers.n++;
  },
};

/**
 * `count` request/answer rounds; virtual time advances 1 µs per round, far past 2^30 ns, where
 * a time passed as an argument would be a heap number at every call: the stacks read it from
 * their clocks.
 */
function run(count: number): void {
  for (let i = 0; i < count; i++) {
    client.sendTo(bIp, 7, payload, 0, payload.length);
    a.clock[0] += 1000;
    b.clock[0] = a.clock[0];
    a.poll();
    b.poll();
    a.poll();
  }
}

// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;
a.clock[0] = 1e12; // a clock far beyond small integers from the start
run(200_000); // warm up: ARP resolved, the JIT settled
gc();
const before = answers.n;
const heapBefore = Deno.memoryUsage().heapUsed;
console.log("LOOP START");
run(ECHOES);
console.log("LOOP END");
const heapAfterNoGc = Deno.memoryUsage().heapUsed;
report({
  echoes: answers.n - before,
  heapBefore,
  heapAfterNoGc,
  counters: { a: a.counters, b: b.counters },
});
