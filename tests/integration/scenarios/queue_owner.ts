// A DPDK queue has one consumer: a worker lcore that polls a queue the main thread polls is
// refused with an error naming the queue, while a worker on its own queue runs.
import { Eal, LcoreWorker, Mempool, PacketBatch, Port, VirtualDevice } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 4095, cacheSize: 0 });
const port = Port.open(VirtualDevice.create("net_null0").portId, { pool, rxQueues: 2 });
const batch = new PacketBatch(pool, 32);
port.receive(0, batch); // the main thread polls rx queue 0 from now on
batch.clear();
const worker = new URL("./rss_worker.ts", import.meta.url);

let shared = "ran";
try {
  const w = await LcoreWorker.launch(worker, {
    data: { port: port.id, queues: [0] },
    pools: [pool],
    counters: 2,
  });
  await w.done;
} catch (e) {
  shared = `${(e as Error).name}: ${(e as Error).message}`;
}

const own = await LcoreWorker.launch(worker, {
  data: { port: port.id, queues: [1] },
  pools: [pool],
  counters: 2,
});
await new Promise((r) => setTimeout(r, 200));
port.receive(0, batch); // both poll at once, each its own queue
batch.clear();
own.stop();
const ownResult = await own.done.then(() => "done", (e) => String(e));

batch.close();
port.close();
Eal.cleanup();
report({ shared, ownResult });
