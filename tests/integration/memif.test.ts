// A memif peer that comes and goes: dpdk-testpmd connects to our memif server, sends, and quits
// gracefully mid-traffic, 20 times over. Our side must survive every disconnect (no SIGSEGV),
// see the link go down and up each time, and keep no mbuf.
import assert from "node:assert/strict";
import { runDeno, startDeno } from "../helpers.ts";

const CYCLES = 20;

function testpmd(socket: string, prefix: string): Deno.ChildProcess {
  return new Deno.Command("dpdk-testpmd", {
    args: [
      ...["-l", "0-1", "--main-lcore=1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"],
      `--file-prefix=${prefix}`,
      `--vdev=net_memif0,role=client,id=0,socket=${socket},socket-abstract=no`,
      ...["--", "--forward-mode=txonly", "--auto-start", "--stats-period=1", "--txpkts=64"],
      "--total-num-mbufs=8191",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("a memif peer quitting mid-traffic 20 times: no crash, link down/up seen, no leak", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "dd-memif-" });
  const socket = `${dir}/memif.sock`;
  const server = startDeno("tests/integration/scenarios/memif_peer.ts", [socket]);
  try {
    await server.waitFor(/LISTENING/, 20_000);
    for (let k = 1; k <= CYCLES; k++) {
      const peer = testpmd(socket, `ddtp${Deno.pid}`);
      await server.waitFor(new RegExp(`^UP ${k}$`, "m"), 20_000);
      await new Promise((r) => setTimeout(r, 200)); // traffic flows both ways
      peer.kill("SIGINT"); // testpmd stops its ports and quits: the disconnect we survive
      const status = await peer.status;
      assert.equal(status.signal, null, `testpmd ${k} died by a signal`);
      await server.waitFor(new RegExp(`^DOWN ${k}$`, "m"), 20_000);
    }
    const r = await server.stop("SIGINT");
    assert.equal(r.signal, null, `our side died by ${r.signal}:\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout.match(/^RESULT (.*)$/m)?.[1] ?? "null");
    assert.equal(result.ups, CYCLES);
    assert.equal(result.downs, CYCLES);
    assert.ok(result.received > 0 && result.sent > 0, JSON.stringify(result));
    assert.equal(result.inUse, 0);
  } finally {
    await server.stop("SIGKILL").catch(() => {});
    Deno.removeSync(dir, { recursive: true });
    try {
      Deno.removeSync(`/var/run/dpdk/ddtp${Deno.pid}`, { recursive: true }); // testpmd's
    } catch { /* not created */ }
  }
});

Deno.test("pktgen waits for its memif peer's link, and says so when none comes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "dd-memif-" });
  try {
    const t0 = performance.now();
    const r = await runDeno("examples/pktgen.ts", [
      ...["-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"],
      `--vdev=net_memif0,role=server,socket=${dir}/m.sock,socket-abstract=no`,
      ...["--", "--duration", "1"],
    ], { flags: ["--allow-ffi", "--allow-read", "--allow-env"] });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(performance.now() - t0 >= 3000, "it waited for the link");
    assert.match(r.stderr, /pktgen: port 0 \(net_memif0\) link is still down after 3000 ms/);
    assert.match(r.stdout, /sent 0 packets/); // nothing goes out while the link is down
    assert.doesNotMatch(r.stderr, /every CPU is an lcore's/, "a CPU is left for DPDK's thread");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a memif port on every CPU warns that DPDK's control thread shares the poller's", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "dd-memif-" });
  try {
    const r = await runDeno("examples/pktgen.ts", [
      ...["-l", `0-${navigator.hardwareConcurrency - 1}`, "--no-huge", "-m", "256", "--no-pci"],
      "--no-shconf",
      `--vdev=net_memif0,role=server,socket=${dir}/m.sock,socket-abstract=no`,
      ...["--", "--duration", "0.1"],
    ], { flags: ["--allow-ffi", "--allow-read", "--allow-env"] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /net_memif0: every CPU is an lcore's, .* leave a CPU out of -l/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
