// Runs every misuse we promise to catch and reports what each one threw.
// Runs in its own process: a segfault here fails the parent test.
import {
  DpdkError,
  Eal,
  Lcore,
  LcoreWorker,
  Mempool,
  PacketBatch,
  Port,
  runOnLcore,
  RxOffload,
  VirtualDevice,
} from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

interface Outcome {
  name: string;
  error: string | null;
  fn?: string;
  errno?: number;
  message?: string;
}
const outcomes: Outcome[] = [];

async function attempt(name: string, f: () => unknown): Promise<void> {
  try {
    await f();
    outcomes.push({ name, error: null });
  } catch (e) {
    const err = e as Error;
    outcomes.push({
      name,
      error: err.name,
      fn: e instanceof DpdkError ? e.function : undefined,
      errno: e instanceof DpdkError ? e.errno : undefined,
      message: err.message,
    });
  }
}

// Before the EAL exists.
await attempt("pool before init", () => Mempool.create());
await attempt("port list before init", () => Port.list());
await attempt("vdev before init", () => VirtualDevice.create("net_null9"));
await attempt("eal options conflict", () => Eal.init({ cores: "0", coreMask: "0x1" }));

Eal.init([...TEST_EAL, "--vdev=net_null0", "--vdev=net_ring0", "--vdev=net_ring1"]);
await attempt("eal init twice", () => Eal.init(TEST_EAL));
await attempt("pdump without hugepages", () => Eal.enablePdump());

const pool = Mempool.create({ name: "misuse", size: 2047, cacheSize: 0 });
const otherPool = Mempool.create({ name: "other", size: 1535, cacheSize: 0 });
const inUseStart = pool.inUse + otherPool.inUse;

await attempt("pool bad cache size", () => Mempool.create({ size: 100, cacheSize: 100 }));
await attempt("pool bad size", () => Mempool.create({ size: 0 }));
await attempt(
  "pool duplicate name",
  () => Mempool.create({ name: "misuse", size: 63, cacheSize: 0 }),
);
await attempt("port id out of range", () => Port.open(99, { pool }));
await attempt("port id not integer", () => Port.open(1.5, { pool }));
await attempt("port negative id", () => Port.open(-1, { pool }));
await attempt("port unknown name", () => Port.open("net_nope0", { pool }));
// deno-lint-ignore no-explicit-any
await attempt("port without pool", () => Port.open(0, {} as any));
await attempt("too many rx queues", () => Port.open(0, { pool, rxQueues: 5000 }));
await attempt("too many descriptors", () => Port.open(0, { pool, rxDescriptors: 70000 }));
await attempt("mtu below minimum", () => Port.open(0, { pool, mtu: 10 }));
await attempt("pool for a missing port", () => Mempool.create({ port: 77 }));
const portPool = Mempool.create({ name: "forport", size: 127, cacheSize: 0, port: 0 });
const poolSocketIsPorts = portPool.socket === Port.list()[0].socket ||
  (Port.list()[0].socket === -1 && portPool.socket === Lcore.list()[0].socket);
portPool.close();
await attempt("pool smaller than its rings", () => Port.open(0, { pool, rxDescriptors: 2048 }));
await attempt("mtu beyond the buffers", () => Port.open(0, { pool, mtu: 9000 }));
await attempt(
  "unsupported rx offload",
  () => Port.open(0, { pool, rxOffloads: RxOffload.IPV4_CKSUM }),
);
await attempt("bad vdev driver", () => VirtualDevice.create("net_doesnotexist0"));
await attempt(
  "vdev on a missing interface",
  () => VirtualDevice.create("net_af_packet9", { iface: "nosuch0" }),
);
const memif = VirtualDevice.create("net_memif5", {
  role: "client",
  socket: "/tmp/dd-no-such-memif.sock",
  "socket-abstract": "no",
});
await attempt("memif client without a server", () => Port.open(memif.portId, { pool }));
memif.remove();
await attempt("vdev with bad arguments", () => VirtualDevice.create("net_ring9", "nodeaction=x"));
await attempt("bad vdev name", () => VirtualDevice.create("bad name!"));

const port = Port.open(0, { pool, start: false });
await attempt("open port twice", () => Port.open(0, { pool }));
const batch = new PacketBatch(pool, 32);
await attempt("receive on stopped port", () => port.receive(0, batch));
await attempt("send on stopped port", () => port.send(0, batch));
port.start();
await attempt("receive bad queue", () => port.receive(1, batch));
await attempt("send negative queue", () => port.send(-1, batch));
await attempt("receive fractional queue", () => port.receive(0.5, batch));
await attempt("batch capacity zero", () => new PacketBatch(pool, 0));
await attempt("batch alloc overflow", () => batch.alloc(33, 64));
await attempt("batch alloc too long", () => batch.alloc(1, 5000));
await attempt("batch drop bad index", () => batch.drop(0));
await attempt("batch packet bad index", () => batch.packet(3));

// A length beyond the buffer is refused when it is written, before anything is sent.
batch.alloc(2, 60);
await attempt("set oversize length", () => batch.setLength(1, 4000));
const heldAfterOversize = batch.count;
const lengthAfterOversize = batch.length(1);
// Packets already sent cannot be reached: poisoned offset, zero length, errors where it writes.
port.send(0, batch);
const sentLength = batch.length(0);
const sentOffsetIsPoison = batch.offset(0) >= batch.data.length;
await attempt("read a sent packet in place", () => batch.view.getUint16(batch.offset(0)));
await attempt("set the length of a sent packet", () => batch.setLength(0, 60));
await attempt("copy out a sent packet", () => batch.copyOut(0, new Uint8Array(2048)));
await attempt("index beyond the capacity", () => batch.setLength(40, 60));
const farOffsetIsPoison = batch.offset(1e9) >= batch.data.length &&
  batch.offset(-1) >= batch.data.length &&
  batch.length(0.5) === 0;
batch.clear();

// Pool exhaustion: more than the pool holds, in batches of 32.
const hog: PacketBatch[] = [];
await attempt("pool exhausted", () => {
  for (let i = 0; i < 64; i++) {
    const b = new PacketBatch(pool, 32);
    hog.push(b);
    b.alloc(32, 64);
  }
});
for (const b of hog) b.close();

// Mbufs from another pool arriving through a ring.
const ringTx = Port.open("net_ring0", { pool: otherPool });
const ring1 = Port.open("net_ring1", { pool });
const foreignBatch = new PacketBatch(otherPool, 8);
foreignBatch.alloc(4, 64);
ringTx.send(0, foreignBatch); // net_ring0's tx ring is its own rx ring
const ringRx = new PacketBatch(pool, 8);
await attempt("receive foreign mbufs", () => ringTx.receive(0, ringRx));
const foreignHeld = ringRx.count;
ringRx.clear();
ring1.close();

// Closed objects.
const closedBatch = new PacketBatch(pool, 4);
closedBatch.close();
closedBatch.close(); // idempotent
await attempt("receive into closed batch", () => port.receive(0, closedBatch));
await attempt("alloc on closed batch", () => closedBatch.alloc(1, 64));
const tmpPool = Mempool.create({ name: "tmp", size: 63, cacheSize: 0 });
const tmpView = tmpPool.view;
tmpPool.close();
tmpPool.close(); // idempotent
await attempt("closed pool count", () => tmpPool.available);
await attempt("batch on closed pool", () => new PacketBatch(tmpPool, 4));
await attempt("read detached pool view", () => tmpView.getUint8(0));
port.stop();
port.close();
port.close(); // idempotent
await attempt("send on closed port", () => port.send(0, batch));
await attempt("stats of closed port", () => port.stats());

// Worker lcores.
const idle = await LcoreWorker.launch(new URL("./idle_worker.ts", import.meta.url));
await attempt("cleanup with a worker running", () => Eal.cleanup());
idle.stop();
await idle.done;
// A finished worker gives its lcore back: the same lcore can be launched on again at once.
const relaunched: number[] = [];
for (let i = 0; i < 3; i++) {
  const w = await LcoreWorker.launch(new URL("./idle_worker.ts", import.meta.url), {
    lcore: idle.lcore,
  });
  w.stop();
  await w.done;
  relaunched.push(w.lcore);
}
await attempt("launch on the main lcore", () => LcoreWorker.launch(import.meta.url, { lcore: 0 }));
await attempt("launch on a missing lcore", () => LcoreWorker.launch(import.meta.url, { lcore: 7 }));
await attempt("runOnLcore outside a worker", () => runOnLcore(() => 0));
await attempt(
  "launch a module without runOnLcore",
  () => LcoreWorker.launch(new URL("./not_a_worker.ts", import.meta.url), { startTimeoutMs: 300 }),
);
const attached = Port.attach("net_ring0", otherPool);
await attempt("stop an attached port", () => attached.stop());
attached.close();

const inUseEnd = pool.inUse + otherPool.inUse;
batch.close();
Eal.cleanup();
Eal.cleanup(); // idempotent
await attempt("port list after cleanup", () => Port.list());
await attempt("pool after cleanup", () => Mempool.create());
await attempt("eal init after cleanup", () => Eal.init(TEST_EAL));
await attempt("pool closed by cleanup", () => pool.inUse);

report({
  outcomes,
  inUseStart,
  inUseEnd,
  heldAfterOversize,
  lengthAfterOversize,
  sentLength,
  sentOffsetIsPoison,
  farOffsetIsPoison,
  foreignHeld,
  relaunched,
  poolSocketIsPorts,
});
