/**
 * Serves a directory read-only on 127.0.0.1 with TypeScript's media type, so
 * the package can be imported or its examples run by URL from a checkout:
 *
 *   deno run --allow-net=127.0.0.1 --allow-read scripts/serve.ts [--port 8000] [dir]
 *   deno run --allow-ffi --allow-env --allow-read --allow-write --allow-run=pkg-config,cc \
 *     http://127.0.0.1:8000/examples/hello.ts
 *
 * (A generic static server often sends `.ts` as video/mp2t, which Deno refuses.)
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Serves `dir` on 127.0.0.1 at `port` (0: any free port). */
export function serveDirectory(dir: string, port = 0): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${dir}${path}`);
      const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8000" } },
    allowPositionals: true,
  });
  const dir = positionals[0] ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const server = serveDirectory(dir, Number(values.port));
  console.log(`serving ${dir} at http://127.0.0.1:${server.addr.port}/ (Ctrl-C to stop)`);
}
