import assert from "node:assert/strict";
import { buildEalArgs, splitArgs } from "../../mod.ts";

Deno.test("buildEalArgs", async (t) => {
  await t.step("no hugepages defaults to 256 MB", () => {
    assert.deepEqual(
      buildEalArgs({ cores: "0-1", hugepages: false, pci: false, vdevs: ["net_null0"] }),
      ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--vdev=net_null0"],
    );
  });
  await t.step("a real-NIC command line", () => {
    assert.deepEqual(
      buildEalArgs({
        coreMask: "0x3",
        socketMemMb: [1024],
        hugeDir: "/dev/hugepages",
        allow: ["0000:00:06.0"],
        filePrefix: "app1",
        logLevel: 7,
        iovaMode: "va",
        extraArgs: ["--telemetry"],
      }),
      [
        "-c",
        "0x3",
        "--socket-mem",
        "1024",
        "--huge-dir=/dev/hugepages",
        "--allow",
        "0000:00:06.0",
        "--file-prefix=app1",
        "--log-level=7",
        "--iova-mode=va",
        "--telemetry",
      ],
    );
  });
  await t.step("cores as numbers, main lcore, block list", () => {
    assert.deepEqual(buildEalArgs({ cores: [0, 2], mainLcore: 2, block: ["0000:00:03.0"] }), [
      "-l",
      "0,2",
      "--main-lcore=2",
      "--block",
      "0000:00:03.0",
    ]);
  });
  await t.step("mistakes are TypeError/RangeError", () => {
    assert.throws(() => buildEalArgs({ cores: "0-1", coreMask: "0x3" }), TypeError);
    assert.throws(() => buildEalArgs({ cores: "zero" }), TypeError);
    assert.throws(() => buildEalArgs({ coreMask: "0xZZ" }), TypeError);
    assert.throws(() => buildEalArgs({ memoryMb: -1 }), RangeError);
    assert.throws(() => buildEalArgs({ hugepages: false, socketMemMb: [512] }), TypeError);
    // A typo must not silently run with the default (prefix "rte").
    assert.throws(
      () => buildEalArgs({ fileprefix: "x" } as never),
      /unknown key "fileprefix" \(did you mean "filePrefix"\?\); the keys are cores, coreMask/,
    );
    assert.throws(() => buildEalArgs(null as never), /must be an object with keys cores/);
    assert.throws(() => buildEalArgs("-l 0" as never), /got string/);
  });
});

Deno.test("splitArgs follows DPDK's '--' convention", () => {
  assert.deepEqual(splitArgs(["-l", "0", "--", "--duration", "2"]), {
    eal: ["-l", "0"],
    app: ["--duration", "2"],
  });
  assert.deepEqual(splitArgs(["-l", "0"]), { eal: ["-l", "0"], app: [] });
  assert.deepEqual(splitArgs(["--", "-x"]), { eal: [], app: ["-x"] });
});
