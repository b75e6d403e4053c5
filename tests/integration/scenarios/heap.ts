// Pushes packets through receive/send on two net_null ports and reports the
// JS heap and garbage collections over the run: the hot loop must allocate
// nothing. Run with --v8-flags=--expose-gc,--trace-gc; GC lines between the
// markers are counted by the parent test.
import { Eal, Mempool, PacketBatch, Port } from "../../../mod.ts";
import { swapMacs } from "../../../bench/loops.ts";
import { library } from "../../../ffi/library.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const PACKETS = Number(Deno.args[0] ?? 10_000_000);
// V8's GC trace goes through C stdio: unbuffered, it stays in order with our markers.
library().symbols.dd_stdout_unbuffered();
Eal.init([...TEST_EAL, "--vdev=net_null0", "--vdev=net_null1"]);
const pool = Mempool.create({ size: 4095, cacheSize: 256 });
const rx = Port.open(0, { pool });
const tx = Port.open(1, { pool });
const batch = new PacketBatch(pool, 32);
const inUseStart = pool.inUse;

function forward(packets: number): number {
  let moved = 0;
  while (moved < packets) {
    // Touch every packet in place: swap the MAC addresses.
    swapMacs(batch, rx.receive(0, batch));
    moved += tx.send(0, batch);
  }
  return moved;
}

// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;
forward(2_000_000); // warm up: let the JIT settle
gc();
const heapBefore = Deno.memoryUsage().heapUsed;
console.log("LOOP START");
const t0 = performance.now();
const moved = forward(PACKETS);
const seconds = (performance.now() - t0) / 1000;
console.log("LOOP END");
const heapAfterNoGc = Deno.memoryUsage().heapUsed;
gc();
const heapAfter = Deno.memoryUsage().heapUsed;
const stats = tx.stats();
batch.close();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({
  moved,
  seconds,
  mpps: moved / seconds / 1e6,
  heapBefore,
  heapAfterNoGc,
  heapAfter,
  opackets: stats.opackets,
  inUseStart,
  inUseEnd,
});
