// The public documentation shows what the README names, and its examples can be copied.
import assert from "node:assert/strict";
import { ROOT } from "../helpers.ts";

Deno.test("deno doc shows Port.capabilities and the packet accessors", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", `${ROOT}/mod.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const names = new Map<string, boolean>(); // documented member name -> is static
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    if (typeof n.name === "string") {
      names.set(n.name, n.isStatic === true || names.get(n.name) === true);
    }
    Object.values(n).forEach(walk);
  };
  walk(JSON.parse(new TextDecoder().decode(out.stdout)));
  // deno doc dropped a static method that had an instance twin: it must be listed now.
  assert.equal(names.get("capabilities"), true);
  for (const name of ["offset", "length", "setLength", "copyOut", "requestChecksums", "linkUp"]) {
    assert.ok(names.has(name), name);
  }
});

Deno.test("examples in net/ JSDoc import the public specifier, not internal paths", () => {
  for (const entry of Deno.readDirSync(`${ROOT}/net`)) {
    const text = Deno.readTextFileSync(`${ROOT}/net/${entry.name}`);
    const internal = text.split("\n").filter((l) => /^\s*\*\s*import .* from "\.\.?\//.test(l));
    assert.deepEqual(internal, [], `${entry.name}: ${internal.join(" | ")}`);
  }
});

Deno.test("the README's TCP example runs as printed", async () => {
  const readme = Deno.readTextFileSync(`${ROOT}/README.md`);
  const section = readme.slice(readme.indexOf("### TCP"));
  const start = section.indexOf("```ts\n") + 6;
  const code = section.slice(start, section.indexOf("\n```\n", start));
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  try {
    Deno.writeTextFileSync(file, code.replaceAll("@deno-dpdk/dpdk/stack", `${ROOT}/stack/mod.ts`));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.match(text, /^hello\nTIME-WAIT 10\.0\.0\.2:\d+ 10\.0\.0\.1:7 ts sack wscale:5,5 /);
  } finally {
    Deno.removeSync(file);
  }
});
