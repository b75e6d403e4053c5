/**
 * Finds, builds if needed, opens and checks the C shim.
 *
 * Importing this module opens nothing; {@linkcode library} loads on first
 * use, trying in order:
 * 1. the path given to {@linkcode setLibraryPath},
 * 2. the `DENO_DPDK_LIB` environment variable,
 * 3. the local build `native/build/libdpdk_deno.so` beside this package,
 * 4. a per-user cache (`$DENO_DPDK_CACHE`, `$XDG_CACHE_HOME/deno-dpdk` or
 *    `~/.cache/deno-dpdk`), compiling the shipped C source there on first use.
 * When none works, one {@linkcode LibraryError} lists every path tried.
 *
 * @module
 */
import {
  ABI_VERSION,
  BatchWord,
  ConfField,
  type DpdkLibrary,
  InfoField,
  LinkField,
  MbufField,
  SizeKey,
  StatsField,
  symbols,
} from "./symbols.ts";
import { BuildError, buildShim, installedDpdkVersion, LIBRARY_FILE } from "./build.ts";
import { SHIM_SOURCES } from "./shim_source.ts";

/** DPDK releases the shim is built and tested against (major.minor). */
export const SUPPORTED_DPDK: readonly string[] = ["22.11"];

/** The shim could not be found, built, opened or verified. */
export class LibraryError extends Error {
  /** Always `"LibraryError"`. */
  override name = "LibraryError";
}

let explicitPath: string | undefined;
let opened: DpdkLibrary | undefined;
let openedPath: string | undefined;

/** Uses `path` for the shim instead of searching. Call before the first DPDK call. */
export function setLibraryPath(path: string): void {
  if (opened) throw new LibraryError("the DPDK shim is already loaded; set its path earlier");
  explicitPath = path;
}

function env(name: string, tried: string[]): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    tried.push(`$${name}: not readable (grant --allow-env=${name})`);
    return undefined;
  }
}

/** 32-bit FNV-1a, enough to key the build cache on source and DPDK version. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

function cacheRoot(tried: string[]): string | undefined {
  const own = env("DENO_DPDK_CACHE", tried);
  if (own) return own;
  const xdg = env("XDG_CACHE_HOME", tried);
  if (xdg) return `${xdg}/deno-dpdk`;
  const home = env("HOME", tried);
  return home ? `${home}/.cache/deno-dpdk` : undefined;
}

/** The newest cached build of this shim source for any DPDK version, if one exists. */
function existingBuild(root: string, sourceKey: string, tried: string[]): string | undefined {
  let best: string | undefined;
  let bestTime = -1;
  try {
    for (const entry of Deno.readDirSync(root)) {
      if (!entry.isDirectory || !entry.name.startsWith(`${sourceKey}-`)) continue;
      const file = `${root}/${entry.name}/${LIBRARY_FILE}`;
      try {
        const time = Deno.statSync(file).mtime?.getTime() ?? 0;
        if (time > bestTime) [best, bestTime] = [file, time];
      } catch { /* an unfinished build */ }
    }
  } catch (e) {
    if (denied(e)) tried.push(`${root}: not readable (grant --allow-read)`);
  }
  return best;
}

/**
 * Builds (once) and returns the cached shim for this source and DPDK version,
 * in `<root>/<source hash>-dpdk<version>/`. Without --allow-run the version
 * is unknown: an existing build of this source is reused (verify() still
 * checks the DPDK version it reports), so only the first run needs to compile.
 */
function cachedBuild(tried: string[]): string | undefined {
  const root = cacheRoot(tried);
  if (!root) {
    tried.push("cache: no HOME, XDG_CACHE_HOME or DENO_DPDK_CACHE");
    return undefined;
  }
  const sourceKey = fnv1a(`${SHIM_SOURCES["dpdk_deno.h"]}\n${SHIM_SOURCES["dpdk_deno.c"]}`);
  let version: string | null;
  try {
    version = installedDpdkVersion();
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    const found = existingBuild(root, sourceKey, tried);
    if (!found) tried.push(`${root}: no cached build yet; ${e.message}`);
    return found;
  }
  if (version === null) {
    // No pkg-config/libdpdk.pc now: a build made earlier still runs against the runtime.
    const found = existingBuild(root, sourceKey, tried);
    if (found) return found;
  }
  const dir = `${root}/${sourceKey}-dpdk${(version ?? "none").replace(/[^\w.-]/g, "_")}`;
  const file = `${dir}/${LIBRARY_FILE}`;
  try {
    Deno.statSync(file);
    return file;
  } catch (e) {
    if (denied(e)) {
      tried.push(`${file}: not readable (grant --allow-read)`);
      return undefined;
    }
  }
  try {
    Deno.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(SHIM_SOURCES)) {
      // Unique temporary names then rename: concurrent first runs do not clash.
      const tmp = `${dir}/${name}.${Deno.pid}.tmp`;
      Deno.writeTextFileSync(tmp, text);
      Deno.renameSync(tmp, `${dir}/${name}`);
    }
    buildShim(dir, file);
    return file;
  } catch (e) {
    const why = e instanceof BuildError ? e.message : String(e);
    tried.push(`${file}: could not build (${why})`);
    return undefined;
  }
}

function tryOpen(path: string, tried: string[]): DpdkLibrary | undefined {
  try {
    return Deno.dlopen(path, symbols);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new LibraryError(`loading the DPDK shim needs --allow-ffi (${path})`);
    }
    tried.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
    return undefined;
  }
}

function localBuild(): string | undefined {
  const url = new URL(`../native/build/${LIBRARY_FILE}`, import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : undefined;
}

function denied(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

function verify(lib: DpdkLibrary, path: string): void {
  const s = lib.symbols;
  const abi = s.dd_abi_version();
  if (abi !== ABI_VERSION) {
    throw new LibraryError(
      `${path} has shim ABI ${abi}, this package needs ${ABI_VERSION}: rebuild it (deno task build)`,
    );
  }
  const expect: [number, number, string][] = [
    [SizeKey.BATCH_HEADER, BatchWord.HEADER_BYTES, "batch header bytes"],
    [SizeKey.INFO_FIELDS, InfoField.FIELDS, "port info fields"],
    [SizeKey.STATS_FIELDS, StatsField.FIELDS, "port stats fields"],
    [SizeKey.LINK_FIELDS, LinkField.FIELDS, "link fields"],
    [SizeKey.CONF_FIELDS, ConfField.FIELDS, "port configuration fields"],
    [SizeKey.POINTER, 8, "pointer size"],
    [SizeKey.MBUF_FIELDS, MbufField.FIELDS, "mbuf layout fields"],
  ];
  for (const [key, want, what] of expect) {
    const got = s.dd_size_of(key);
    if (got !== want) throw new LibraryError(`${path}: ${what} is ${got}, expected ${want}`);
  }
  const version = dpdkVersionOf(lib);
  const majorMinor = version.match(/(\d+\.\d+)/)?.[1] ?? version;
  if (!SUPPORTED_DPDK.includes(majorMinor) && env("DENO_DPDK_ALLOW_UNSUPPORTED", []) !== "1") {
    throw new LibraryError(
      `found ${version}; deno-dpdk supports DPDK ${SUPPORTED_DPDK.join(", ")}. ` +
        `Install a supported release, or set DENO_DPDK_ALLOW_UNSUPPORTED=1 to try anyway.`,
    );
  }
}

/** "DPDK 22.11.x" as the loaded DPDK reports it. */
function dpdkVersionOf(lib: DpdkLibrary): string {
  const p = lib.symbols.dd_dpdk_version();
  return p ? Deno.UnsafePointerView.getCString(p) : "unknown DPDK";
}

/**
 * Returns the opened, verified shim, loading it on the first call.
 * Throws {@linkcode LibraryError} listing every candidate tried.
 */
export function library(): DpdkLibrary {
  if (opened) return opened;
  const tried: string[] = [];
  const candidates: (() => string | undefined)[] = [
    () => explicitPath,
    () => env("DENO_DPDK_LIB", tried),
    () => {
      const p = localBuild();
      if (!p) return undefined;
      try {
        Deno.statSync(p);
        return p;
      } catch (e) {
        tried.push(`${p}: ${denied(e) ? "not readable (grant --allow-read)" : "not built"}`);
        return undefined;
      }
    },
    () => cachedBuild(tried),
  ];
  for (const next of candidates) {
    const path = next();
    if (!path) continue;
    const lib = tryOpen(path, tried);
    if (!lib) continue;
    try {
      verify(lib, path);
    } catch (e) {
      lib.close();
      throw e;
    }
    opened = lib;
    openedPath = path;
    return lib;
  }
  throw new LibraryError(
    `cannot load the DPDK shim (${LIBRARY_FILE}). Tried:\n  - ${tried.join("\n  - ")}\n` +
      `Run \`deno task setup\` in a checkout, or install DPDK (apt-get install -y libdpdk-dev dpdk ` +
      `pkg-config gcc) so it can be compiled on first use.`,
  );
}

/** Path of the loaded shim, once loaded (workers open the same file). */
export function libraryPath(): string | undefined {
  return openedPath;
}

/** The running DPDK's version string, e.g. "DPDK 22.11.11". Loads the shim. */
export function dpdkVersion(): string {
  return dpdkVersionOf(library());
}
