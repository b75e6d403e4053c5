/**
 * Compiles the C shim against the installed DPDK. Used by the loader (to
 * build into a cache directory on first use) and by `scripts/setup.ts`.
 *
 * @module
 */

/** File name of the compiled shim. */
export const LIBRARY_FILE = "libdpdk_deno.so";

/** What is missing when the shim cannot be built, with the command that fixes it. */
export class BuildError extends Error {
  /** Always `"BuildError"`. */
  override name = "BuildError";
}

function run(cmd: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, stdout: "", stderr: "not found" };
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new BuildError(
        `compiling the DPDK shim needs to run ${cmd}: grant --allow-run=pkg-config,cc and ` +
          `--allow-write for the first run (in a checkout: \`deno task build\`)`,
      );
    }
    throw e;
  }
}

/** The installed DPDK's version (`pkg-config --modversion libdpdk`), or null. */
export function installedDpdkVersion(): string | null {
  const r = run("pkg-config", ["--modversion", "libdpdk"]);
  return r.ok ? r.stdout.trim() : null;
}

/** 32-bit FNV-1a of a text: cache keys. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * A hash of the installed DPDK's `rte_build_config.h` (how it was configured: max lcores,
 * ports, mbuf layout options), or null when it cannot be read. Two builds of one version
 * with different configurations must not share a cached shim.
 */
export function buildConfigHash(): string | null {
  const r = run("pkg-config", ["--cflags-only-I", "libdpdk"]);
  if (!r.ok) return null;
  for (const flag of r.stdout.trim().split(/\s+/)) {
    try {
      return fnv1a(Deno.readTextFileSync(`${flag.replace(/^-I/, "")}/rte_build_config.h`));
    } catch { /* not in this include folder */ }
  }
  return null;
}

/**
 * Compiles `sourceDir/dpdk_deno.c` into `outFile`. The output is written to
 * a temporary name and renamed, so concurrent builds never expose a partial
 * library. Throws {@linkcode BuildError} naming what to install.
 */
export function buildShim(sourceDir: string, outFile: string): void {
  if (installedDpdkVersion() === null) {
    const hasPkgConfig = run("pkg-config", ["--version"]).ok;
    throw new BuildError(
      hasPkgConfig
        ? "libdpdk-dev is not installed: apt-get install -y libdpdk-dev dpdk"
        : "pkg-config and libdpdk-dev are not installed: " +
          "apt-get install -y pkg-config libdpdk-dev dpdk",
    );
  }
  const flags = run("pkg-config", ["--cflags", "--libs", "libdpdk"]);
  if (!flags.ok) throw new BuildError(`pkg-config --cflags --libs libdpdk failed: ${flags.stderr}`);
  const tmp = `${outFile}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const args = [
    "-O3",
    "-g",
    "-Wall",
    "-shared",
    "-fPIC",
    "-D_GNU_SOURCE",
    `${sourceDir}/dpdk_deno.c`,
    ...flags.stdout.trim().split(/\s+/),
    "-lrte_bus_vdev",
    "-o",
    tmp,
  ];
  const cc = run("cc", args);
  if (!cc.ok) {
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing was written */ }
    throw new BuildError(
      cc.stderr === "not found"
        ? "no C compiler: apt-get install -y gcc"
        : `cc failed building the DPDK shim:\n${cc.stderr}`,
    );
  }
  Deno.renameSync(tmp, outFile);
}
