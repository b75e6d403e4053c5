// The shim loader: one error listing every path tried; building into the
// per-user cache from the embedded source when there is no local build.
import assert from "node:assert/strict";
import { ROOT, runDeno } from "../helpers.ts";

/** A copy of ffi/ without native/build beside it, as a remote importer sees it. */
function isolatedCopy(): string {
  const dir = Deno.makeTempDirSync({ prefix: "dd-loader-" });
  Deno.mkdirSync(`${dir}/ffi`);
  for (const f of Deno.readDirSync(`${ROOT}/ffi`)) {
    Deno.copyFileSync(`${ROOT}/ffi/${f.name}`, `${dir}/ffi/${f.name}`);
  }
  Deno.writeTextFileSync(
    `${dir}/probe.ts`,
    `import { dpdkVersion } from "./ffi/library.ts";\nconsole.log("VERSION", dpdkVersion());\n`,
  );
  return dir;
}

Deno.test("without a shim or a compiler, one error lists every path tried", async () => {
  const dir = isolatedCopy();
  try {
    const r = await runDeno(`${dir}/probe.ts`, [], {
      env: {
        PATH: "/nonexistent",
        DENO_DPDK_LIB: "/nonexistent/libdpdk_deno.so",
        DENO_DPDK_CACHE: `${dir}/cache`,
      },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /LibraryError: cannot load the DPDK shim/);
    assert.match(r.stderr, /\/nonexistent\/libdpdk_deno\.so: /);
    assert.match(r.stderr, /native\/build\/libdpdk_deno\.so: not built/);
    assert.match(r.stderr, /could not build \(pkg-config and libdpdk-dev are not installed/);
    assert.match(r.stderr, /apt-get install -y/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the shim is compiled into the cache on first use and reused after", async () => {
  const dir = isolatedCopy();
  try {
    const env = { DENO_DPDK_CACHE: `${dir}/cache` };
    const first = await runDeno(`${dir}/probe.ts`, [], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /VERSION DPDK 22\.11/);
    const built = [...Deno.readDirSync(`${dir}/cache`)];
    assert.equal(built.length, 1);
    const lib = `${dir}/cache/${built[0].name}/libdpdk_deno.so`;
    const mtime = Deno.statSync(lib).mtime!.getTime();
    const second = await runDeno(`${dir}/probe.ts`, [], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(Deno.statSync(lib).mtime!.getTime(), mtime, "rebuilt instead of reused");
    // No temporary files left behind by the atomic writes.
    const files = [...Deno.readDirSync(`${dir}/cache/${built[0].name}`)].map((e) => e.name).sort();
    assert.deepEqual(files, ["dpdk_deno.c", "dpdk_deno.h", "libdpdk_deno.so"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a missing --allow-ffi names the flag", async () => {
  const r = await runDeno("examples/hello.ts", [], { flags: ["--allow-read", "--allow-env"] });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--allow-ffi/);
});

Deno.test("a cached shim that someone else owns or may write is not loaded", async (t) => {
  const dir = isolatedCopy();
  try {
    const env = { DENO_DPDK_CACHE: `${dir}/cache` };
    const first = await runDeno(`${dir}/probe.ts`, [], { env });
    assert.equal(first.code, 0, first.stderr);
    const [entry] = [...Deno.readDirSync(`${dir}/cache`)];
    assert.match(
      entry.name,
      /^[0-9a-f]{8}-dpdk22\.11\.\d+-[0-9a-f]{8}$/,
      "source, version, config",
    );
    const built = `${dir}/cache/${entry.name}`, lib = `${built}/libdpdk_deno.so`;
    assert.equal(Deno.statSync(built).mode! & 0o777, 0o700);
    // The loader would rebuild a refused cache entry in place: no compiler on PATH for the rest.
    const noCompiler = { ...env, PATH: "/nonexistent", DENO_DPDK_LIB: "/nonexistent/x.so" };
    await t.step("a folder others may write", async () => {
      Deno.chmodSync(built, 0o777);
      const r = await runDeno(`${dir}/probe.ts`, [], { env: noCompiler });
      Deno.chmodSync(built, 0o700);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /group or others may write it \(mode 777\): not loading it/);
    });
    await t.step("a library owned by another user", async () => {
      Deno.chownSync(lib, 65534, null);
      const r = await runDeno(`${dir}/probe.ts`, [], { env: noCompiler });
      Deno.chownSync(lib, Deno.uid(), null);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        new RegExp(`libdpdk_deno\\.so: owned by uid 65534, not ${Deno.uid()}: not loading it`),
      );
    });
    await t.step("restored, it loads again", async () => {
      const r = await runDeno(`${dir}/probe.ts`, [], { env: noCompiler });
      assert.equal(r.code, 0, r.stderr);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
