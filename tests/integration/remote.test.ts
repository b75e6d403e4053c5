// Remote import: the package served over HTTP (the files `deno publish` ships, plus examples/,
// no native/build) and examples/hello.ts run BY URL from an empty directory, with a fresh Deno
// module cache and a fresh shim cache. The first run compiles the shim into the cache; later runs
// reuse it without --allow-run or --allow-write; concurrent first runs do not corrupt the cache;
// each missing permission is named in the error.
//
// Deno 2 trusts a main module named on the command line: running hello.ts by URL needs no
// --allow-import (proved below). A local program importing the package by URL does need
// --allow-import=<host> (also proved below).
import assert from "node:assert/strict";
import { ROOT } from "../helpers.ts";
import { serveDirectory } from "../../scripts/serve.ts";

/** What a remote importer gets: the published files and the examples, never a local build. */
const SHIPPED = ["mod.ts", "ffi", "src", "net", "examples"];

function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const entry of Deno.readDirSync(from)) {
    if (entry.isDirectory) copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) Deno.copyFileSync(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

function packageCopy(dir: string): void {
  for (const name of SHIPPED) {
    if (name.endsWith(".ts")) Deno.copyFileSync(`${ROOT}/${name}`, `${dir}/${name}`);
    else copyTree(`${ROOT}/${name}`, `${dir}/${name}`);
  }
  Deno.mkdirSync(`${dir}/native`);
  for (const entry of Deno.readDirSync(`${ROOT}/native`)) {
    if (entry.isFile && /\.[ch]$/.test(entry.name)) {
      Deno.copyFileSync(`${ROOT}/native/${entry.name}`, `${dir}/native/${entry.name}`);
    }
  }
}

/** Serves `dir` read-only on 127.0.0.1 at a random port (the README's own server). */
const serve = (dir: string) => serveDirectory(dir);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** Runs `url` with exactly `flags`, in `cwd`, with only PATH, HOME and `env` in its environment. */
async function runUrl(
  url: string,
  flags: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, url],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: cwd, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function show(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** hello.ts printed its version, lcores and the net_null port, and nothing else. */
function assertHello(r: Run): void {
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^DPDK 22\.11\.\d+, EAL arguments: -c 0x3 --no-huge -m 256 --no-pci/);
  assert.match(r.stdout, /^lcore 0: cpu \d+, socket \d+ \(main\)$/m);
  assert.match(r.stdout, /^port 0: net_null0 driver net_null mac /m);
  for (const line of r.stdout.trimEnd().split("\n")) {
    assert.match(line, /^(DPDK |lcore |port )/, `unexpected output line: ${line}`);
  }
  // stderr: Deno's download notes and DPDK's own EAL log, nothing from the loader.
  for (const line of r.stderr.trimEnd().split("\n").filter((l) => l !== "")) {
    assert.match(line, /^(Download |EAL: |TELEMETRY: )/, `unexpected stderr line: ${line}`);
  }
}

function cacheEntries(cache: string): string[] {
  return [...Deno.readDirSync(cache)].map((e) => e.name).sort();
}

function filesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("examples/hello.ts runs by URL with a cache-built shim", async (t) => {
  const tmp = Deno.makeTempDirSync({ prefix: "dd-remote-" });
  const site = `${tmp}/site`;
  const work = `${tmp}/work`; // the importer's directory: no checkout, no build
  Deno.mkdirSync(site);
  Deno.mkdirSync(work);
  packageCopy(site);
  const server = serve(site);
  const host = `127.0.0.1:${server.addr.port}`;
  const url = `http://${host}/examples/hello.ts`;

  let fresh = 0;
  /** A new, empty shim cache and Deno module cache. */
  const freshCaches = () => {
    fresh++;
    const caches = { DENO_DPDK_CACHE: `${tmp}/shim${fresh}`, DENO_DIR: `${tmp}/deno${fresh}` };
    Deno.mkdirSync(caches.DENO_DPDK_CACHE);
    Deno.mkdirSync(caches.DENO_DIR);
    return caches;
  };
  /** The narrowest flags that work: the FFI, the shim cache, the loader's variables. */
  const flags = (cache: string, { run = true, write = true, ffi = true, read = true } = {}) =>
    [
      ffi ? "--allow-ffi" : "",
      read ? `--allow-read=${cache}` : "",
      write ? `--allow-write=${cache}` : "",
      "--allow-env=DENO_DPDK_LIB,DENO_DPDK_CACHE,XDG_CACHE_HOME,HOME",
      run ? "--allow-run=pkg-config,cc" : "",
    ].filter((f) => f !== "");

  try {
    const main = freshCaches();
    const cache = main.DENO_DPDK_CACHE;
    let library = "";
    let mtime = 0;

    await t.step("the first run compiles the shim into the empty cache", async () => {
      const r = await runUrl(url, flags(cache), work, main);
      assertHello(r);
      assert.match(r.stderr, /^Download http:\/\/127\.0\.0\.1:\d+\/ffi\/shim_source\.ts$/m);
      const dirs = cacheEntries(cache);
      assert.equal(dirs.length, 1, `cache holds ${dirs.join(", ")}`);
      assert.deepEqual(filesIn(`${cache}/${dirs[0]}`), [
        "dpdk_deno.c",
        "dpdk_deno.h",
        "libdpdk_deno.so",
      ]);
      library = `${cache}/${dirs[0]}/libdpdk_deno.so`;
      mtime = Deno.statSync(library).mtime!.getTime();
      assert.deepEqual(filesIn(work), [], "the run wrote into its working directory");
    });

    await t.step("the second run reuses it without --allow-run or --allow-write", async () => {
      const r = await runUrl(url, flags(cache, { run: false, write: false }), work, main);
      assertHello(r);
      assert.doesNotMatch(r.stderr, /^Download /m, "Deno's module cache was not reused");
      assert.equal(Deno.statSync(library).mtime!.getTime(), mtime, "rebuilt instead of reused");
      assert.equal(cacheEntries(cache).length, 1);
    });

    await t.step("three first runs at once on a fresh cache all succeed", async () => {
      const shared = freshCaches();
      const runs = await Promise.all(
        [0, 1, 2].map(() => runUrl(url, flags(shared.DENO_DPDK_CACHE), work, shared)),
      );
      for (const r of runs) assertHello(r);
      const dirs = cacheEntries(shared.DENO_DPDK_CACHE);
      assert.equal(dirs.length, 1, `cache holds ${dirs.join(", ")}`);
      // No temporary file left behind, and the library is whole: a run without
      // --allow-run loads it.
      assert.deepEqual(filesIn(`${shared.DENO_DPDK_CACHE}/${dirs[0]}`), [
        "dpdk_deno.c",
        "dpdk_deno.h",
        "libdpdk_deno.so",
      ]);
      const again = await runUrl(url, flags(shared.DENO_DPDK_CACHE, { run: false }), work, shared);
      assertHello(again);
    });

    await t.step("without --allow-run on an empty cache the error names the flag", async () => {
      const c = freshCaches();
      const r = await runUrl(url, flags(c.DENO_DPDK_CACHE, { run: false }), work, c);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /LibraryError: cannot load the DPDK shim/);
      assert.match(r.stderr, /grant --allow-run=pkg-config,cc and --allow-write for the first run/);
      assert.deepEqual(cacheEntries(c.DENO_DPDK_CACHE), []);
    });

    await t.step("without --allow-write on an empty cache the error names the flag", async () => {
      const c = freshCaches();
      const r = await runUrl(url, flags(c.DENO_DPDK_CACHE, { write: false }), work, c);
      assert.notEqual(r.code, 0, show(r));
      assert.match(
        r.stderr,
        /could not build \(NotCapable: Requires write access to .*--allow-write/,
      );
    });

    await t.step("without --allow-read the error names the flag", async () => {
      const r = await runUrl(url, flags(cache, { read: false }), work, main);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /libdpdk_deno\.so: not readable \(grant --allow-read\)/);
    });

    await t.step("without --allow-ffi the error names the flag", async () => {
      const r = await runUrl(url, flags(cache, { ffi: false }), work, main);
      assert.notEqual(r.code, 0, show(r));
      // The loader's message, or Deno's when the program touches a pointer before loading.
      assert.match(
        r.stderr,
        /loading the DPDK shim needs --allow-ffi|run again with the --allow-ffi flag/,
      );
    });

    await t.step("a local program importing by URL needs --allow-import=<host>", async () => {
      const app = `${tmp}/app`;
      Deno.mkdirSync(app);
      Deno.writeTextFileSync(
        `${app}/main.ts`,
        `import { dpdkVersion } from "http://${host}/mod.ts";\nconsole.log(dpdkVersion());\n`,
      );
      const c = freshCaches();
      const denied = await runUrl(`${app}/main.ts`, flags(c.DENO_DPDK_CACHE), app, c);
      assert.notEqual(denied.code, 0, show(denied));
      assert.match(
        denied.stderr,
        /Requires import access to "127\.0\.0\.1:\d+", run again with the --allow-import flag/,
      );
      const allowed = await runUrl(
        `${app}/main.ts`,
        [`--allow-import=${host}`, ...flags(c.DENO_DPDK_CACHE)],
        app,
        c,
      );
      assert.equal(allowed.code, 0, show(allowed));
      assert.match(allowed.stdout, /^DPDK 22\.11\.\d+$/m);
    });
  } finally {
    await server.shutdown();
    Deno.removeSync(tmp, { recursive: true });
  }
});
