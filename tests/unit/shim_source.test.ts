import assert from "node:assert/strict";
import { SHIM_SOURCES } from "../../ffi/shim_source.ts";

// The loader compiles the embedded copy for remote importers: it must be the
// C source in native/ (scripts/setup.ts regenerates it).
Deno.test("embedded shim source matches native/", () => {
  for (const name of ["dpdk_deno.c", "dpdk_deno.h"]) {
    const onDisk = Deno.readTextFileSync(new URL(`../../native/${name}`, import.meta.url));
    assert.equal(SHIM_SOURCES[name], onDisk, `${name} is stale: run deno task setup`);
  }
});
