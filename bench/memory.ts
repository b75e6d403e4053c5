/**
 * EAL memory arguments for the benchmarks: 2 MB hugepages when the machine has
 * enough free and mounted, 4 KB pages otherwise. The difference is large: with
 * 4 KB pages every mbuf touched can cost a TLB miss.
 *
 * @module
 */

/** The hugetlbfs mount of 2 MB pages when at least 128 of them are free, else undefined. */
export function hugepageMount(): string | undefined {
  try {
    const free = Number(
      Deno.readTextFileSync("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"),
    );
    if (free < 128) return undefined;
    return Deno.readTextFileSync("/proc/mounts").split("\n")
      .map((l) => l.split(" "))
      .find((f) => f[2] === "hugetlbfs" && !/pagesize=1G/.test(f[3] ?? ""))?.[1];
  } catch {
    return undefined;
  }
}

/** `--socket-mem 256` on hugepages (files unlinked), or `--no-huge -m <noHugeMb>`. */
export function memoryArgs(noHugeMb: number): string[] {
  const mount = hugepageMount();
  return mount
    ? ["--socket-mem", "256", `--huge-dir=${mount}`, "--huge-unlink"]
    : ["--no-huge", "-m", String(noHugeMb)];
}
