// DPDK's own tools on our processes: dpdk-dumpcap captures a running example's packets into a
// pcapng that tshark reads, and dpdk-proc-info shows its port counters. Both are secondary
// processes: the example runs on hugepages (reserved and mounted here when missing, released
// after) with a shared config and DENO_DPDK_PDUMP=1.
import assert from "node:assert/strict";
import { NEEDS_ROOT, sh, startDeno } from "../helpers.ts";

const PAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/** 2 MB hugepages for the test: a mount and at least `pages` free; undo() restores the machine. */
function reserveHugepages(pages: number): { mount: string; undo(): void } {
  const before = Number(Deno.readTextFileSync(`${PAGES}/nr_hugepages`));
  const free = Number(Deno.readTextFileSync(`${PAGES}/free_hugepages`));
  if (free < pages) Deno.writeTextFileSync(`${PAGES}/nr_hugepages`, String(before + pages - free));
  const mounted = Deno.readTextFileSync("/proc/mounts").split("\n").map((l) => l.split(" "))
    .find((f) => f[2] === "hugetlbfs" && !/pagesize=1G/.test(f[3] ?? ""))?.[1];
  const mount = mounted ?? Deno.makeTempDirSync({ prefix: "dd-huge-" });
  if (!mounted) sh("mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", mount);
  return {
    mount,
    undo() {
      if (!mounted) {
        sh("umount", mount);
        Deno.removeSync(mount);
      }
      Deno.writeTextFileSync(`${PAGES}/nr_hugepages`, String(before));
    },
  };
}

function run(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "dpdk-dumpcap and dpdk-proc-info attach to a running example (DENO_DPDK_PDUMP=1)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const huge = reserveHugepages(128);
    const prefix = `ddtools${Deno.pid}`;
    const dir = Deno.makeTempDirSync({ prefix: "dd-tools-" });
    Deno.env.set("DENO_DPDK_PDUMP", "1"); // inherited by the example only
    const example = startDeno("examples/skeleton.ts", [
      // No --huge-unlink: the secondary processes map the same hugepage files.
      // Not lcore 0: dpdk-dumpcap's main thread is lcore 0 (see Eal.enablePdump).
      ...["-l", "1", "--socket-mem", "128", `--huge-dir=${huge.mount}`],
      ...[`--file-prefix=${prefix}`, "--no-pci", "--vdev=net_null0", "--vdev=net_null1"],
      ...["--", "--duration", "60"],
    ]);
    Deno.env.delete("DENO_DPDK_PDUMP");
    try {
      await example.waitFor(/\[Ctrl\+C to quit\]/, 20_000);
      await t.step("dpdk-dumpcap writes the example's packets to a pcapng tshark reads", () => {
        const file = `${dir}/capture.pcapng`;
        const r = run("dpdk-dumpcap", [
          `--file-prefix=${prefix}`,
          "-i",
          "net_null0",
          "-c",
          "50",
          "-w",
          file,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const lines = run("tshark", ["-r", file, "-T", "fields", "-e", "frame.len"]);
        assert.equal(lines.code, 0, lines.stderr);
        const lengths = lines.stdout.trim().split("\n");
        assert.ok(lengths.length >= 50, `${lengths.length} packets`);
        assert.ok(lengths.every((l) => l === "64"), "net_null's 64-byte frames");
      });
      await t.step("dpdk-proc-info --stats shows its port counters", () => {
        const r = run("dpdk-proc-info", [`--file-prefix=${prefix}`, "--", "--stats"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /NIC statistics for port 0/);
        assert.match(r.stdout, /NIC statistics for port 1/);
        const rx = [...r.stdout.matchAll(/^\s*RX-packets:\s+(\d+)/gm)].map((m) => Number(m[1]));
        assert.equal(rx.length, 2, r.stdout);
        assert.ok(rx.every((n) => n > 1000), r.stdout);
      });
      const done = await example.stop("SIGINT");
      assert.equal(done.code, 0, done.stderr);
      assert.doesNotMatch(done.stderr, /uses lcore 0/);
    } finally {
      await example.stop("SIGKILL").catch(() => {});
      try {
        Deno.removeSync(`/var/run/dpdk/${prefix}`, { recursive: true });
      } catch { /* not created */ }
      for (const e of Deno.readDirSync(huge.mount)) {
        if (e.name.startsWith(`${prefix}map_`)) Deno.removeSync(`${huge.mount}/${e.name}`);
      }
      Deno.removeSync(dir, { recursive: true });
      huge.undo();
    }
  },
});
