// Worker lcores: Deno Workers pinned to their lcore's CPU and running as that lcore.
import assert from "node:assert/strict";
import { NEEDS_ROOT, runDeno, scenario, sh, vethNamespace } from "../helpers.ts";

const FLAGS = ["--allow-ffi", "--allow-read", "--allow-env"];

Deno.test("helloworld says hello from both cores of the seed's core mask", async () => {
  const r = await runDeno(
    "examples/helloworld.ts",
    ["-c", "0x3", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"],
    { flags: FLAGS },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^hello from core 1 \(cpu 1, affinity 1\)$/m);
  assert.match(r.stdout, /^hello from core 0 \(cpu 0, affinity 0\)$/m);
});

Deno.test("each worker runs as its own lcore, on that lcore's CPU only", async () => {
  const r = await runDeno(
    "examples/helloworld.ts",
    ["--lcores=0@0,1@1,2@0,3@1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"],
    { flags: FLAGS },
  );
  assert.equal(r.code, 0, r.stderr);
  const seen = [...r.stdout.matchAll(/hello from core (\d) \(cpu (\d), affinity ([\d,]+)\)/g)]
    .map(([, lcore, cpu, affinity]) => ({ lcore: +lcore, cpu: +cpu, affinity }))
    .sort((a, b) => a.lcore - b.lcore);
  assert.deepEqual(seen, [
    { lcore: 0, cpu: 0, affinity: "0" },
    { lcore: 1, cpu: 1, affinity: "1" },
    { lcore: 2, cpu: 0, affinity: "0" },
    { lcore: 3, cpu: 1, affinity: "1" },
  ]);
});

Deno.test("mqfwd: one worker per queue forwards, and teardown leaks nothing", async () => {
  const r = await runDeno("examples/mqfwd.ts", ["--", "--workers", "2", "--duration", "2"], {
    flags: FLAGS,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /queue 0: [\d.]+ Mpps \| queue 1: [\d.]+ Mpps/); // live stats
  const queues = [...r.stdout.matchAll(/queue (\d) \(lcore (\d)\): received (\d+) sent (\d+)/g)];
  assert.equal(queues.length, 2, r.stdout);
  assert.notEqual(queues[0][2], queues[1][2], "two workers on one lcore");
  for (const q of queues) assert.ok(Number(q[3]) > 0 && Number(q[4]) > 0, r.stdout);
  assert.match(r.stdout, /mbufs in use: 0 \(at start 0\)/);
});

Deno.test("a worker that throws stops the run with its error, no hang, no leak", async () => {
  const t0 = performance.now();
  const r = await runDeno(
    "examples/mqfwd.ts",
    ["--", "--workers", "2", "--duration", "30", "--fail-after", "1000"],
    { flags: FLAGS, timeoutMs: 25_000 },
  );
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.ok(performance.now() - t0 < 20_000, "the failure did not stop the run promptly");
  assert.match(r.stdout, /Stopped by a worker's error/);
  assert.match(r.stderr, /LcoreError: lcore [12]: Error: worker on queue 0 failed on purpose/);
  assert.match(r.stdout, /mbufs in use: 0 \(at start 0\)/);
});

Deno.test({
  name: "flows from the kernel spread over every rx queue, each polled by a worker lcore",
  ignore: NEEDS_ROOT, // namespaces need root; CI runs as root
  async fn() {
    const v = vethNamespace(43);
    try {
      const hostMac = sh("ip", "-o", "link", "show", v.host).match(/link\/ether (\S+)/)![1];
      sh("ip", "-n", v.ns, "neigh", "replace", v.dpdkIp, "lladdr", hostMac, "dev", v.peer);
      const r = await scenario("rss_queues.ts", [v.host, v.ns, v.dpdkIp]);
      assert.equal(r.senderOk, true);
      assert.equal(r.counts.reduce((a: number, n: number) => a + n, 0), r.expected);
      r.counts.forEach((n: number, q: number) => assert.ok(n > 0, `queue ${q} received nothing`));
      assert.deepEqual(r.affinities, [
        { lcore: 1, cpu: 1, affinity: [1] },
        { lcore: 2, cpu: 0, affinity: [0] },
      ]);
      // Each worker's own thread existed while it ran and is gone after teardown.
      assert.deepEqual(r.aliveDuring, [true, true]);
      for (const t of r.workerThreads) assert.equal(t.aliveAfter, false, `thread ${t.tid} left`);
      // Fewer threads than while they ran (Deno's own helper threads come and go).
      assert.ok(r.threadsAfter < r.threadsDuring, JSON.stringify([r.namesBefore, r.namesAfter]));
      assert.equal(r.inUseEnd, r.inUseStart);
    } finally {
      v.remove();
    }
  },
});

Deno.test("a queue polled by the main thread is refused to a worker lcore; its own queue is not", async () => {
  const r = await scenario("queue_owner.ts");
  assert.match(
    r.shared,
    /^LcoreError: lcore 1: DpdkError: rx queue 0 of port 0 is already polled by another thread \(tid \d+\): a DPDK queue has one consumer/,
  );
  assert.equal(r.ownResult, "done");
});

Deno.test("worker lcores and pools: no close under a worker, caches flushed, terminate waits", async () => {
  const r = await scenario("worker_safety.ts");
  assert.match(r.closeRefused, /Cannot close pool "shared": 1 worker lcore\(s\) map its memory/);
  assert.ok(r.cachedWhileRunning > 0, "the worker allocated through its lcore cache");
  assert.ok(r.rounds >= 100);
  assert.equal(r.cachedAfter, 0, "the worker's lcore cache was flushed when it left");
  assert.equal(r.threadGoneAfterTerminate, true);
  assert.match(r.spinTerminate, /^LcoreError: lcore 1: its thread did not end within 500 ms/);
  assert.match(r.cleanupRefused, /worker lcores 1 still run/);
  assert.equal(r.spinStillRuns, true);
});
