// The examples, run as a user would run them.
import assert from "node:assert/strict";
import { runDeno } from "../helpers.ts";

const FLAGS = ["--allow-ffi", "--allow-read", "--allow-env"];

Deno.test("skeleton forwards real packets both ways with no hardware", async () => {
  const r = await runDeno("examples/skeleton.ts", ["--", "--duration", "2"], { flags: FLAGS });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[\s+1 s\] port 0: rx [\d.]+ Mpps/); // live stats while running
  const counts = [...r.stdout.matchAll(/port (\d) \(net_null\d\): received (\d+) sent (\d+)/g)];
  assert.equal(counts.length, 2, r.stdout);
  for (const [, , received, sent] of counts) {
    assert.ok(Number(received) > 0 && Number(sent) > 0, r.stdout);
  }
  assert.match(r.stdout, /mbufs in use: 0 \(at start 0\)/);
});

Deno.test("skeleton stops cleanly on SIGINT and prints its summary", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, new URL("../../examples/skeleton.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await new Promise((r) => setTimeout(r, 2500));
  child.kill("SIGINT");
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /SIGINT received after/);
  assert.match(stdout, /total: \d+ packets/);
  assert.match(stdout, /mbufs in use: 0/);
});

Deno.test("hello takes the seed's core mask and prints both lcores", async () => {
  const r = await runDeno(
    "examples/hello.ts",
    ["-c", "0x3", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--vdev=net_null0"],
    { flags: FLAGS },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lcore 0: cpu 0, socket 0 \(main\)/);
  assert.match(r.stdout, /lcore 1: cpu 1/);
  assert.match(r.stdout, /port 0: net_null0 driver net_null/);
});
