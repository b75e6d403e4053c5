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
import {
  buildConfigHash,
  BuildError,
  buildShim,
  fnv1a,
  installedDpdkVersion,
  LIBRARY_FILE,
} from "./build.ts";
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

function cacheRoot(tried: string[]): string | undefined {
  const own = env("DENO_DPDK_CACHE", tried);
  if (own) return own;
  const xdg = env("XDG_CACHE_HOME", tried);
  if (xdg) return `${xdg}/deno-dpdk`;
  const home = env("HOME", tried);
  return home ? `${home}/.cache/deno-dpdk` : undefined;
}

/**
 * Whether a cached build may be loaded: `dlopen` runs its code, so the folder and the file
 * must belong to this user (the effective uid when Deno may read it, else the folder's owner)
 * and be writable by nobody else. A root process with another user's HOME refuses that
 * user's cache. Says why in `tried` when not.
 */
function trusted(dir: string, file: string, tried: string[]): boolean {
  let euid: number | null = null;
  try {
    euid = Deno.uid();
  } catch { /* no --allow-sys=uid: compare with the folder's owner */ }
  try {
    const folder = Deno.statSync(dir), lib = Deno.statSync(file);
    const owner = euid ?? folder.uid;
    for (const [path, st] of [[dir, folder], [file, lib]] as const) {
      if (st.uid !== owner) {
        tried.push(`${path}: owned by uid ${st.uid}, not ${owner}: not loading it`);
        return false;
      }
      if (((st.mode ?? 0) & 0o022) !== 0) {
        tried.push(
          `${path}: group or others may write it (mode ${
            ((st.mode ?? 0) & 0o777).toString(8)
          }): not loading it`,
        );
        return false;
      }
    }
    return true;
  } catch (e) {
    if (denied(e)) tried.push(`${file}: not readable (grant --allow-read)`);
    return false;
  }
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
        if (time > bestTime && trusted(`${root}/${entry.name}`, file, tried)) {
          [best, bestTime] = [file, time];
        }
      } catch { /* an unfinished build */ }
    }
  } catch (e) {
    if (denied(e)) tried.push(`${root}: not readable (grant --allow-read)`);
  }
  return best;
}

/**
 * Builds (once) and returns the cached shim for this source and DPDK version,
 * in `<root>/<source hash>-dpdk<version>-<build config hash>/`. Without --allow-run the version
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
  // The key: the shim's source, the DPDK version and how that DPDK was configured.
  const config = version === null ? "none" : buildConfigHash() ?? "none";
  const dir = `${root}/${sourceKey}-dpdk${(version ?? "none").replace(/[^\w.-]/g, "_")}-${config}`;
  const file = `${dir}/${LIBRARY_FILE}`;
  try {
    Deno.statSync(file);
    return trusted(dir, file, tried) ? file : undefined;
  } catch (e) {
    if (denied(e)) {
      tried.push(`${file}: not readable (grant --allow-read)`);
      return undefined;
    }
  }
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
    for (const [name, text] of Object.entries(SHIM_SOURCES)) {
      // Unique temporary names then rename: concurrent first runs do not clash.
      const tmp = `${dir}/${name}.${Deno.pid}.tmp`;
      Deno.writeTextFileSync(tmp, text);
      Deno.renameSync(tmp, `${dir}/${name}`);
    }
    buildShim(dir, file);
    Deno.chmodSync(file, 0o755); // whatever the umask: trusted() refuses group-writable files
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
