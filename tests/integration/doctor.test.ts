// scripts/doctor.ts on this machine: it reports what /sys, /proc and pkg-config say, changes
// nothing, and exits 0.
import assert from "node:assert/strict";
import { ROOT, runDeno } from "../helpers.ts";

const decoder = new TextDecoder();

function pkgConfigVersion(): string {
  const out = new Deno.Command("pkg-config", { args: ["--modversion", "libdpdk"], stdout: "piped" })
    .outputSync();
  return decoder.decode(out.stdout).trim();
}

/** The interface carrying the IPv4 default route, and its device's PCI driver. */
function defaultRouteDevice(): { iface: string; pci: string; driver: string } | null {
  for (const line of Deno.readTextFileSync("/proc/net/route").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== "00000000" || f[7] !== "00000000") continue;
    const link = Deno.readLinkSync(`/sys/class/net/${f[0]}`);
    const pci = link.match(/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/g)?.pop();
    if (!pci) continue;
    const driver = Deno.readLinkSync(`/sys/bus/pci/devices/${pci}/driver`).split("/").pop()!;
    return { iface: f[0], pci, driver };
  }
  return null;
}

Deno.test("deno task doctor describes this machine and exits 0", async (t) => {
  const text = await runDeno("scripts/doctor.ts", [], { flags: ["-A"] });
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stderr, "");
  const json = await runDeno("scripts/doctor.ts", ["--json"], { flags: ["-A"] });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);

  await t.step("the DPDK version pkg-config reports", () => {
    const version = pkgConfigVersion();
    assert.equal(report.dpdkVersion, version);
    assert.ok(text.stdout.includes(`DPDK ${version} (pkg-config libdpdk)`), text.stdout);
    assert.ok(report.pmds.includes("net_null"));
    assert.ok(report.pmds.includes("net_tap"));
  });

  await t.step("every hugepage size in /sys/kernel/mm/hugepages, with its counts", () => {
    const sizes = [...Deno.readDirSync("/sys/kernel/mm/hugepages")].map((e) => e.name);
    assert.ok(sizes.length > 0);
    for (const name of sizes) {
      const kb = Number(name.match(/(\d+)kB/)![1]);
      const total = Number(Deno.readTextFileSync(`/sys/kernel/mm/hugepages/${name}/nr_hugepages`));
      const pool = report.hugepages.find((p: { sizeKb: number }) => p.sizeKb === kb);
      assert.ok(pool, `${name} missing from ${JSON.stringify(report.hugepages)}`);
      assert.equal(pool.total, total);
      const label = kb >= 1048576 ? `${kb / 1048576} GB` : `${kb / 1024} MB`;
      assert.match(text.stdout, new RegExp(`${label} pages: ${total} reserved`));
    }
  });

  await t.step("the default-route interface with its kernel driver, marked not to bind", () => {
    const dev = defaultRouteDevice();
    assert.ok(dev, "this machine has no PCI interface with a default route");
    const found = report.devices.find((d: { pci: string }) => d.pci === dev.pci);
    assert.ok(found, JSON.stringify(report.devices));
    assert.deepEqual(found.interfaces, [dev.iface]);
    assert.equal(found.driver, dev.driver);
    assert.equal(found.defaultRoute, true);
    assert.match(
      text.stdout,
      new RegExp(
        `${dev.pci.replace(".", "\\.")} .* if=${dev.iface} drv=${dev.driver} \\(kernel\\)`,
      ),
    );
    assert.match(text.stdout, /carries the default route: do NOT bind it/);
    assert.ok(!report.next.some((n: { command: string }) => n.command.includes(dev.pci)));
  });

  await t.step("next steps end with a command that runs", async () => {
    assert.match(text.stdout, /Next steps\n {2}1\. /);
    const last = report.next[report.next.length - 1];
    assert.equal(last.why, "try it");
    const args = last.command.split(" ");
    assert.deepEqual(args.slice(0, 5), [
      "deno",
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
    ]);
    // Its own file prefix, no shared config, hugepage files unlinked: no trace, no collision.
    // (--huge-unlink only where the suggestion uses hugepages: DPDK refuses it with --no-huge.)
    const own = ["--file-prefix", `dddoctor${Deno.pid}`, "--no-shconf"];
    if (!args.includes("--no-huge")) own.push("--huge-unlink");
    const r = await runDeno(`${ROOT}/${args[5]}`, [...args.slice(6), ...own], {
      flags: args.slice(2, 5),
    });
    try {
      Deno.removeSync(`/var/run/dpdk/dddoctor${Deno.pid}`, { recursive: true });
    } catch { /* not created */ }
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^port 0: net_null0 driver net_null/m);
  });

  await t.step(
    "with only --allow-read it still reports DPDK and says what it could not see",
    async () => {
      const r = await runDeno("scripts/doctor.ts", [], {
        flags: ["--allow-read", "--allow-env", "--allow-run=pkg-config,dpkg-query"],
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`DPDK ${pkgConfigVersion()}`));
      assert.match(r.stdout, /Deno 2 allows that only with --allow-all/);
    },
  );
});
