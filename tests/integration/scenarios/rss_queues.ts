// A multi-queue net_af_packet port (kernel fanout hashing flows over queues)
// polled by two worker lcores; the kernel in the test's namespace sends 64
// UDP flows. Reports packets per queue, where each worker ran, the threads
// before and after, and mbufs in use.
// Args: <host iface> <namespace> <dpdk ip>
import { Eal, LcoreWorker, Mempool, Port, VirtualDevice } from "../../../mod.ts";
import { report } from "../../helpers.ts";

const [iface, ns, dpdkIp] = Deno.args;
const QUEUES = 4;
const threadNames = () =>
  [...Deno.readDirSync("/proc/self/task")].map((t) =>
    Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).trim()
  ).sort();
const threads = () => threadNames().length;

Eal.init([
  "--lcores=0@0,1@1,2@0",
  "--no-huge",
  "-m",
  "256",
  "--no-pci",
  "--no-shconf",
  "--log-level=warning",
]);
const pool = Mempool.create({ size: 8191, cacheSize: 64 });
const dev = VirtualDevice.create("net_af_packet0", { iface, qpairs: QUEUES });
const port = Port.open(dev.portId, { pool, rxQueues: QUEUES, txQueues: QUEUES });
const inUseStart = pool.inUse;
const threadsBefore = threads();
const namesBefore = threadNames();

const worker = new URL("./rss_worker.ts", import.meta.url);
const workers = await Promise.all([
  LcoreWorker.launch(worker, {
    data: { port: port.id, queues: [0, 1] },
    pools: [pool],
    counters: QUEUES,
  }),
  LcoreWorker.launch(worker, {
    data: { port: port.id, queues: [2, 3] },
    pools: [pool],
    counters: QUEUES,
  }),
]);
const threadsDuring = threads();
const aliveDuring = workers.map((w) => {
  try {
    return Deno.statSync(`/proc/self/task/${w.threadId}`).isDirectory;
  } catch {
    return false;
  }
});
const perQueue = () =>
  Array.from({ length: QUEUES }, (_, q) => workers.reduce((a, w) => a + w.counters[q], 0));

const flows = 64, perFlow = 3;
const sender = new Deno.Command("ip", {
  args: [
    "netns",
    "exec",
    ns,
    "bash",
    "-c",
    `for p in $(seq 6000 ${6000 + flows - 1}); do for i in $(seq ${perFlow}); do ` +
    `echo -n x > /dev/udp/${dpdkIp}/$p; done; done`,
  ],
}).outputSync();
const deadline = Date.now() + 5000;
while (perQueue().reduce((a, n) => a + n, 0) < flows * perFlow && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 50));
}
for (const w of workers) w.stop();
const results = await Promise.all(workers.map((w) => w.done));
const counts = perQueue();
port.close();
dev.remove();
await new Promise((r) => setTimeout(r, 200)); // let the worker threads exit
const threadsAfter = threads();
const alive = (tid: number) => {
  try {
    Deno.statSync(`/proc/self/task/${tid}`);
    return true;
  } catch {
    return false;
  }
};
const workerThreads = workers.map((w) => ({ tid: w.threadId, aliveAfter: alive(w.threadId) }));
const namesAfter = threadNames();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({
  senderOk: sender.success,
  counts,
  expected: flows * perFlow,
  workers: results,
  affinities: workers.map((w) => ({ lcore: w.lcore, cpu: w.cpu, affinity: w.affinity })),
  threadsBefore,
  threadsAfter,
  threadsDuring,
  aliveDuring,
  workerThreads,
  namesBefore,
  namesAfter,
  inUseStart,
  inUseEnd,
});
