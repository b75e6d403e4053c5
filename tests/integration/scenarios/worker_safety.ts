// Worker lcores and the memory they map: a pool cannot be closed under a worker, a worker's
// lcore cache is flushed when it leaves, and terminate() resolves only once the thread is gone.
import { Eal, LcoreWorker, Mempool } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

Eal.init(TEST_EAL);
const pool = Mempool.create({ name: "shared", size: 4095, cacheSize: 128 });
const module = new URL("./cache_worker.ts", import.meta.url);
const tids = () => [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name));

const w = await LcoreWorker.launch(module, {
  data: { ignoreStop: false, yields: false },
  pools: [pool],
});
while (w.counters[0] < 100) await new Promise((r) => setTimeout(r, 5));
let closeRefused = "";
try {
  pool.close();
} catch (e) {
  closeRefused = (e as Error).message;
}
const cachedWhileRunning = pool.cached(w.lcore);
w.stop();
const rounds = await w.done;
const cachedAfter = pool.cached(w.lcore);

// A worker that ignores stop but yields: terminate() ends it and resolves when its thread is gone.
const t = await LcoreWorker.launch(module, {
  data: { ignoreStop: true, yields: true },
  pools: [pool],
});
while (t.counters[0] < 10) await new Promise((r) => setTimeout(r, 5));
await t.terminate();
const threadGoneAfterTerminate = !tids().includes(t.threadId);

// A worker spinning on FFI calls: V8 cannot interrupt it. terminate() says so, and the EAL
// refuses to clean up under it (the process exit ends it).
const spin = await LcoreWorker.launch(module, {
  data: { ignoreStop: true, yields: false },
  pools: [pool],
});
let spinTerminate = "resolved";
await spin.terminate(500).catch((e) => spinTerminate = `${e.name}: ${e.message}`);
let cleanupRefused = "";
try {
  Eal.cleanup();
} catch (e) {
  cleanupRefused = (e as Error).message;
}
const spinStillRuns = tids().includes(spin.threadId);
report({
  closeRefused,
  cachedWhileRunning,
  rounds,
  cachedAfter,
  threadGoneAfterTerminate,
  spinTerminate,
  cleanupRefused,
  spinStillRuns,
});
Deno.exit(0); // the spinning worker ends with the process
