// Core bindings on a real EAL with virtual devices. Each scenario runs in its
// own process (the EAL initialises once per process; a crash fails the test).
import assert from "node:assert/strict";
import { gcsInLoop, IS_ROOT, ROOT, runDeno, scenario } from "../helpers.ts";

Deno.test("Eal.init takes DPDK's own arguments unchanged", async () => {
  const r = await scenario("eal_forms.ts", ["argv"]);
  assert.equal(r.initialized, true);
  assert.deepEqual(r.lcores.map((l: { id: number }) => l.id), [0, 1]);
  assert.equal(r.lcores[0].main, true);
  assert.deepEqual(r.ports.map((p: { name: string }) => p.name), ["net_null0", "net_ring0"]);
  assert.equal(r.ports[0].driver, "net_null");
  assert.match(r.ports[0].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
});

Deno.test("Eal.init builds arguments from typed options", async () => {
  const r = await scenario("eal_forms.ts", ["options"]);
  assert.deepEqual(r.used.slice(0, 3), ["-l", "0,1", "--main-lcore=1"]);
  assert.ok(r.used.includes("--no-huge") && r.used.includes("--no-pci"));
  // The main thread really moved to lcore 1.
  assert.equal(r.current, 1);
  assert.equal(r.lcores.find((l: { main: boolean }) => l.main).id, 1);
  assert.deepEqual(r.ports.map((p: { driver: string }) => p.driver), ["net_null", "net_ring"]);
});

Deno.test("misuse raises typed errors, never a crash", async (t) => {
  const r = await scenario("misuse.ts");
  const byName = new Map<string, { error: string; fn?: string; errno?: number; message: string }>(
    r.outcomes.map((o: { name: string }) => [o.name, o]),
  );
  const expect: [string, string, RegExp][] = [
    ["pool before init", "DpdkError", /EAL is not initialised/],
    ["port list before init", "DpdkError", /EAL is not initialised/],
    ["vdev before init", "DpdkError", /EAL is not initialised/],
    ["eal options conflict", "TypeError", /either cores or coreMask/],
    ["eal init twice", "DpdkError", /already initialised/],
    ["pool bad cache size", "RangeError", /cacheSize 100/],
    ["pool bad size", "RangeError", /size 0/],
    ["pool duplicate name", "DpdkError", /rte_pktmbuf_pool_create failed.*File exists/],
    [
      "pdump without hugepages",
      "DpdkError",
      /secondary processes, which need this process on hugepages/,
    ],
    ["port id out of range", "DpdkError", /no port 99 \(ports: 0:net_null0/],
    ["port id not integer", "RangeError", /port id 1\.5/],
    ["port negative id", "RangeError", /port id -1/],
    ["port unknown name", "DpdkError", /no port named "net_nope0"/],
    ["port without pool", "TypeError", /config\.pool/],
    [
      "too many rx queues",
      "RangeError",
      /rxQueues: 5000 queues is outside the device's limits 1\.\.1024/,
    ],
    ["too many descriptors", "RangeError", /rxDescriptors: 70000 .* limits 1\.\.65535/],
    ["mtu below minimum", "RangeError", /mtu: 10 bytes .* limits 46\.\./],
    ["pool for a missing port", "RangeError", /Mempool\.create: no port 77/],
    [
      "pool smaller than its rings",
      "RangeError",
      /pool "misuse" has 2047 mbufs; its 1 rx queue\(s\) of 2048 descriptors hold 2048.*size >= 2112/,
    ],
    [
      "mtu beyond the buffers",
      "RangeError",
      /frames of MTU 9000 \(9026 bytes\) do not fit the 2048-byte buffers.*dataRoomSize >= 9154/,
    ],
    ["unsupported rx offload", "RangeError", /does not support rx offloads IPV4_CKSUM/],
    [
      "bad vdev driver",
      "DpdkError",
      /no virtual device driver for "net_doesnotexist0".*drivers here: .*net_null, net_pcap, net_ring, net_tap/,
    ],
    [
      "memif client without a server",
      "DpdkError",
      /memif peer could not be reached on socket \/tmp\/dd-no-such-memif\.sock; start the memif server/,
    ],
    ["vdev on a missing interface", "DpdkError", /net_af_packet9: no network interface "nosuch0"/],
    [
      "vdev with bad arguments",
      "DpdkError",
      /rte_vdev_init failed: "net_ring9" with arguments "nodeaction=x"/,
    ],
    ["bad vdev name", "TypeError", /not a device name/],
    ["open port twice", "DpdkError", /already open/],
    ["receive on stopped port", "DpdkError", /stopped; call start\(\)/],
    ["send on stopped port", "DpdkError", /stopped; call start\(\)/],
    ["receive bad queue", "RangeError", /queue 1 is outside 0\.\.0/],
    ["send negative queue", "RangeError", /queue -1 is outside/],
    ["receive fractional queue", "RangeError", /queue 0\.5 is outside/],
    ["batch capacity zero", "RangeError", /capacity 0/],
    ["batch alloc overflow", "RangeError", /33 packets do not fit/],
    ["batch alloc too long", "RangeError", /length 5000 is outside 0\.\.2048/],
    ["batch drop bad index", "RangeError", /index 0 is outside/],
    ["batch packet bad index", "RangeError", /index 3 is outside/],
    ["set oversize length", "RangeError", /length 4000 of packet 1 is outside 0\.\.2048/],
    ["read a sent packet in place", "RangeError", /outside the bounds/],
    [
      "set the length of a sent packet",
      "RangeError",
      /index 0 is outside 0\.\.-1 \(0 held; packets that were sent/,
    ],
    ["copy out a sent packet", "RangeError", /index 0 is outside/],
    ["index beyond the capacity", "RangeError", /index 40 is outside/],
    ["pool exhausted", "DpdkError", /rte_pktmbuf_alloc_bulk failed.*No buffer space/],
    ["receive foreign mbufs", "DpdkError", /do not belong to pool "misuse"/],
    ["receive into closed batch", "DpdkError", /closed PacketBatch/],
    ["alloc on closed batch", "DpdkError", /closed PacketBatch/],
    ["closed pool count", "DpdkError", /closed Mempool/],
    ["batch on closed pool", "DpdkError", /closed Mempool/],
    ["read detached pool view", "TypeError", /detached/],
    ["send on closed port", "DpdkError", /Cannot send on a closed Port/],
    ["stats of closed port", "DpdkError", /closed Port/],
    ["port list after cleanup", "DpdkError", /cleaned up/],
    ["pool after cleanup", "DpdkError", /cleaned up/],
    ["eal init after cleanup", "DpdkError", /cannot be initialised again/],
    ["pool closed by cleanup", "DpdkError", /closed Mempool/],
    ["cleanup with a worker running", "DpdkError", /worker lcores 1 still run; stop them/],
    ["launch on the main lcore", "RangeError", /lcore 0 is not a worker lcore of the EAL/],
    ["launch on a missing lcore", "RangeError", /lcore 7 is not a worker lcore/],
    ["runOnLcore outside a worker", "DpdkError", /must run in a module started by LcoreWorker/],
    ["launch a module without runOnLcore", "LcoreError", /did not start within 300 ms/],
    ["stop an attached port", "DpdkError", /it is attached; its owner controls it/],
  ];
  for (const [name, error, message] of expect) {
    await t.step(name, () => {
      const o = byName.get(name);
      assert.ok(o, `case ${name} did not run`);
      assert.equal(o.error, error, `${name}: ${o.message}`);
      assert.match(o.message, message);
    });
  }
  await t.step("every case was checked", () => assert.equal(byName.size, expect.length));
  await t.step("DPDK failures carry function, errno and rte_strerror text", () => {
    const dup = byName.get("pool duplicate name")!;
    assert.equal(dup.fn, "rte_pktmbuf_pool_create");
    assert.equal(dup.errno, 17);
    const hog = byName.get("pool exhausted")!;
    assert.equal(hog.errno, 105);
  });
  await t.step("a finished worker's lcore can be launched on again", () => {
    assert.deepEqual(r.relaunched, [1, 1, 1]);
  });
  await t.step("no mbuf leaked, rejected batches kept their packets", () => {
    assert.equal(r.inUseEnd, r.inUseStart);
    assert.equal(r.heldAfterOversize, 2);
    assert.equal(r.lengthAfterOversize, 60);
    assert.equal(r.foreignHeld, 4);
  });
  await t.step("a pool created for a port lives on the port's NUMA socket", () => {
    assert.equal(r.poolSocketIsPorts, true);
  });
  await t.step("a sent packet reads as poison: no offset inside the pool, length 0", () => {
    assert.equal(r.sentLength, 0);
    assert.equal(r.sentOffsetIsPoison, true);
    assert.equal(r.farOffsetIsPoison, true);
  });
});

Deno.test("packets are written, sent, received and read in place (net_ring)", async () => {
  const r = await scenario("ring_io.ts");
  assert.equal(r.sent, 16);
  assert.equal(r.received, 16);
  assert.equal(r.contentOk, true);
  assert.deepEqual(r.lengths, Array.from({ length: 16 }, (_, i) => 60 + i * 10));
  // drop() freed the odd packets; the in-place write survived the trip.
  assert.equal(r.resent, 8);
  assert.equal(r.again, 8);
  assert.equal(r.firstWord, 0xdeadbeef);
  assert.deepEqual(r.evenLengths, [60, 80, 100, 120, 140, 160, 180, 200]);
  // trySend keeps what a full ring refused.
  assert.equal(r.queued, r.drained);
  assert.equal(r.accepted + r.kept, r.beforeTry);
  assert.ok(r.kept > 0, "the full ring refused nothing");
  assert.equal(r.inUseBeforeClose, r.inUseStart);
  assert.equal(r.inUseEnd, r.inUseStart);
  assert.equal(r.portClosed, true);
  assert.equal(r.listedAfterRemove, false);
});

Deno.test("a pool in several memory chunks is mapped whole: every mbuf read back in place", async () => {
  const r = await scenario("chunked_pool.ts");
  assert.ok(r.chunks > 1, `the pool has ${r.chunks} chunk(s); the test needs several`);
  assert.equal(r.distinctOffsets, 60000);
  assert.equal(r.inRegion, true);
  assert.equal(r.received, 60000);
  assert.equal(r.mismatches, 0);
  assert.equal(r.inUseEnd, r.inUseStart);
});

Deno.test({
  name: "virtual devices are created and removed at run time; net_pcap reads and writes files",
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "dd-vdev-" });
    try {
      const r = await scenario("vdevs.ts", IS_ROOT ? [dir, "root"] : [dir]);
      const expected = ["net_null7", "net_ring7", "net_memif7"];
      if (IS_ROOT) expected.push("net_tap7", "net_af_packet7");
      for (const name of expected) {
        const d = r.devices[name];
        assert.ok(d, `${name} missing`);
        assert.equal(d.driver, name.replace(/7$/, ""));
        assert.equal(d.listed, true);
        assert.equal(d.started, true);
        assert.equal(d.goneAfterRemove, true);
      }
      assert.equal(r.pcapReceived, 3);
      assert.equal(r.pcapMatches, true);
      assert.equal(r.pcapSent, 3);
      assert.deepEqual(r.outLengths, [60, 100, 1514]);
      assert.equal(r.inUseEnd, r.inUseStart);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("10 million packets through receive/send: no heap growth, no GC", async () => {
  const r = await runDeno("tests/integration/scenarios/heap.ts", ["10000000"], {
    // A young generation larger than any allocation the loop could make: heap growth without
    // a GC then measures allocation directly, and the GC trace counts collections.
    flags: ["--allow-all", "--v8-flags=--expose-gc,--trace-gc,--max-semi-space-size=256"],
  });
  assert.equal(r.code, 0, r.stderr);
  const gcs = gcsInLoop(r.stdout);
  assert.deepEqual(gcs, [], "the hot loop triggered garbage collection");
  const { result } = r;
  assert.ok(result.moved >= 10_000_000);
  assert.ok(result.opackets >= result.moved);
  // Retained heap after a full GC: unchanged within 64 KB (JIT metadata, not packets).
  assert.ok(
    Math.abs(result.heapAfter - result.heapBefore) < 64 * 1024,
    `heap grew from ${result.heapBefore} to ${result.heapAfter}`,
  );
  // Without a GC in between, the heap grew less than 100 KB over 10M packets (JIT metadata):
  // one allocation per burst would already be megabytes.
  assert.ok(
    result.heapAfterNoGc - result.heapBefore < 100 * 1024,
    `heap grew by ${result.heapAfterNoGc - result.heapBefore} bytes during the loop`,
  );
  assert.equal(result.inUseEnd, result.inUseStart);
  console.log(
    `  ${
      result.mpps.toFixed(1)
    } Mpps macswap on net_null, heap ${result.heapBefore} -> ${result.heapAfter}`,
  );
});

Deno.test("a second primary process on the same file prefix gets a DpdkError, not a half start", async () => {
  const prefix = `ddlock${Deno.pid}`;
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/examples/skeleton.ts`,
      ...["-l", "0", "--no-huge", "-m", "256", "--no-pci", `--file-prefix=${prefix}`],
      ...["--vdev=net_null0", "--vdev=net_null1", "--", "--duration", "6"],
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      try {
        Deno.statSync(`/var/run/dpdk/${prefix}/config`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const r = await runDeno("examples/hello.ts", [
      ...["-l", "0", "--no-huge", "-m", "128", "--no-pci", `--file-prefix=${prefix}`],
    ]);
    // The example reports the DpdkError in one line and exits 2 (a refused EAL argument).
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /Cannot create lock on/);
    assert.match(r.stderr, /^hello: EAL: rte_eal_init failed/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.doesNotMatch(r.stdout, /lcore 0/);
  } finally {
    holder.kill("SIGINT");
    await holder.status;
    Deno.removeSync(`/var/run/dpdk/${prefix}`, { recursive: true });
  }
});

Deno.test("EAL argument errors carry DPDK's one-line reason, without DPDK's usage text", async (t) => {
  for (
    const [which, reason] of [
      ["bogus", /unrecognized option '--bogus'/],
      ["mask", /invalid coremask, please check specified cores are part of 0-1/],
    ] as const
  ) {
    await t.step(which, async () => {
      const r = await runDeno("tests/integration/scenarios/eal_bad_args.ts", [which]);
      assert.equal(r.result.name, "DpdkError");
      assert.match(r.result.message, /^rte_eal_init failed: /);
      assert.match(r.result.message, reason);
      assert.match(r.result.message, /\(Invalid argument, errno 22\)/);
      assert.doesNotMatch(r.stdout + r.stderr, /EAL common options|Usage:/);
      assert.ok(
        r.stdout.split("\n").length + r.stderr.split("\n").length < 12,
        r.stdout + r.stderr,
      );
    });
  }
});

Deno.test("ports left started are stopped when the process exits (uncaught error, Deno.exit)", async (t) => {
  for (const [how, code] of [["throw", 1], ["exit", 3]] as const) {
    await t.step(how, async () => {
      const r = await runDeno("tests/integration/scenarios/exit_started.ts", [how]);
      assert.equal(r.code, code, r.stderr);
      const id = r.stdout.match(/started port (\d+)/)?.[1];
      assert.ok(id !== undefined, r.stdout);
      assert.match(
        r.stderr,
        new RegExp(`deno-dpdk: port ${id} was still started at exit: stopped it`),
      );
    });
  }
});
