// examples/wscat.ts over our stack on a veth against real WebSocket servers in a namespace:
// Deno.upgradeWebSocket and Python's websockets (Debian's python3-websockets). Messages of
// 0 B to 16 MiB, text and binary, arrive with their SHA-256 equal; lines from stdin are echoed;
// a normal close exits 0; the same program with --kernel (Deno's own WebSocket) agrees.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { NEEDS_ROOT, ROOT, sh, vethNamespace } from "../helpers.ts";
import { makeCertificates } from "../../scripts/test_ca.ts";

const SIZES = [0, 125, 126, 65536, 1 << 20, 16 << 20];

/** The bytes a server sends as message `n` of size `size` (both servers agree). */
function body(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + size) & 255;
  return out;
}

/** The lines `wscat --digest` should print: binary then text ("x" repeated) per size. */
function expectedDigests(): string[] {
  const lines: string[] = [];
  let n = 0;
  for (const size of SIZES) {
    const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    lines.push(`${++n} binary ${size} ${hex(body(size))}`);
    lines.push(`${++n} text ${size} ${hex(new TextEncoder().encode("x".repeat(size)))}`);
  }
  return lines;
}

const DENO_SERVER = `
const sizes = ${JSON.stringify(SIZES)};
const body = (size) => { const b = new Uint8Array(size); for (let i = 0; i < size; i++) b[i] = (i * 7 + size) & 255; return b; };
const tls = Deno.args[1] ? { cert: Deno.readTextFileSync(Deno.args[1]), key: Deno.readTextFileSync(Deno.args[2]) } : {};
Deno.serve({ port: Deno.args[1] ? 8443 : 8080, hostname: Deno.args[0], ...tls, onListen: () => console.log("listening") }, (req) => {
  if (req.headers.get("upgrade") !== "websocket") { // GET /bytes/N for the HTTP(S) client
    return new Response(body(Number(new URL(req.url).pathname.split("/")[2] ?? 0)));
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onopen = () => {
    const u = new URL(req.url);
    if (u.pathname === "/echo") return;
    if (u.pathname === "/count") { // numbered messages, then a normal close
      const n = Number(u.searchParams.get("n"));
      for (let i = 0; i < n; i++) socket.send(String(i));
      socket.close(1000, "done");
      return;
    }
    for (const n of sizes) { socket.send(body(n)); socket.send("x".repeat(n)); }
    socket.close(1000, "done");
  };
  socket.onmessage = (e) => e.data === "bye" ? socket.close(1000, "bye") : socket.send(e.data);
  return response;
});
`;

const PYTHON_SERVER = `
import asyncio, sys, websockets
sizes = ${JSON.stringify(SIZES)}
def body(size): return bytes((i * 7 + size) & 255 for i in range(size))
async def handler(ws, path):
    if path == "/echo":
        async for m in ws:
            if m == "bye": break
            await ws.send(m)
        return
    for n in sizes:
        await ws.send(body(n))
        await ws.send("x" * n)
async def main():
    ssl_context = None
    if len(sys.argv) > 3:
        import ssl
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(sys.argv[3], sys.argv[4])
    async with websockets.serve(handler, sys.argv[1], int(sys.argv[2]), max_size=None, ssl=ssl_context):
        print("listening", flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

function spawnIn(ns: string, cmd: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function waitListening(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const until = Date.now() + 20_000;
  while (!seen.includes("listening") && Date.now() < until) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  reader.releaseLock();
  if (!seen.includes("listening")) throw new Error(`server did not start: ${seen}`);
}

async function wscat(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      "--allow-net", // for --kernel
      `${ROOT}/examples/wscat.ts`,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "wscat.ts over DPDK against Deno.upgradeWebSocket and Python websockets: 0 B to 16 MiB, SHA-256 equal",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const v = vethNamespace(83);
    sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
    const dir = Deno.makeTempDirSync();
    const servers: Deno.ChildProcess[] = [];
    try {
      Deno.writeTextFileSync(`${dir}/server.js`, DENO_SERVER);
      Deno.writeTextFileSync(`${dir}/server.py`, PYTHON_SERVER);
      servers.push(spawnIn(v.ns, [Deno.execPath(), "run", "-A", `${dir}/server.js`, v.peerIp]));
      servers.push(spawnIn(v.ns, ["/usr/bin/python3", `${dir}/server.py`, v.peerIp, "8081"]));
      makeCertificates(dir, "feed.test");
      servers.push(
        spawnIn(v.ns, [
          ...["/usr/bin/python3", `${dir}/server.py`, v.peerIp, "8444"],
          ...[`${dir}/server.pem`, `${dir}/server.key`],
        ]),
      );
      servers.push(
        spawnIn(v.ns, [
          Deno.execPath(),
          ...["run", "-A", `${dir}/server.js`, v.peerIp, `${dir}/server.pem`, `${dir}/server.key`],
        ]),
      );
      for (const s of servers) await waitListening(s);
      const ours = ["--", "--iface", v.host, "--ip", `${v.dpdkIp}/24`];
      for (
        const [name, port] of [["Deno.upgradeWebSocket", 8080], [
          "Python websockets",
          8081,
        ]] as const
      ) {
        await t.step(
          `${name}: every message byte-exact, then a normal close (exit 0)`,
          async () => {
            const r = await wscat([...ours, `ws://${v.peerIp}:${port}/`, "--digest"]);
            assert.equal(r.code, 0, r.out + r.err);
            assert.deepEqual(r.out.trim().split("\n"), expectedDigests());
            // Python's server compresses (context takeover); Deno's has no extensions.
            if (port === 8081) assert.match(r.err, /connected, permessage-deflate/);
            else assert.match(r.err, /connected$/m);
          },
        );
        await t.step(`${name}: lines from stdin are sent and echoed`, async () => {
          const r = await wscat([...ours, `ws://${v.peerIp}:${port}/echo`], "hello\nκόσμε\nbye\n");
          assert.equal(r.code, 0, r.out + r.err);
          assert.deepEqual(r.out.trim().split("\n"), ["hello", "κόσμε"]);
        });
        await t.step(`${name}: our messages of 0 B to 16 MiB echoed byte-exact`, async () => {
          const lines = SIZES.map((n) => "x".repeat(n)).join("\n") + "\nbye\n";
          const r = await wscat([...ours, `ws://${v.peerIp}:${port}/echo`, "--digest"], lines);
          assert.equal(r.code, 0, r.out + r.err);
          const hex = (n: number) =>
            createHash("sha256").update(new TextEncoder().encode("x".repeat(n))).digest("hex");
          assert.deepEqual(
            r.out.trim().split("\n"),
            SIZES.map((n, i) => `${i + 1} text ${n} ${hex(n)}`),
          );
        });
      }
      await t.step(
        "wss:// (TLS over our TCP) to Deno.serve with a test CA: byte-exact",
        async () => {
          const r = await wscat([
            ...[...ours, "wss://feed.test:8443/", "--address", v.peerIp, "--ca", `${dir}/ca.pem`],
            "--digest",
          ]);
          assert.equal(r.code, 0, r.out + r.err);
          assert.deepEqual(r.out.trim().split("\n"), expectedDigests());
          assert.match(r.err, /connected, TLSv1\.3/);
        },
      );
      await t.step("wss:// to Python websockets (TLS by OpenSSL): byte-exact", async () => {
        const r = await wscat([
          ...[...ours, "wss://feed.test:8444/", "--address", v.peerIp, "--ca", `${dir}/ca.pem`],
          "--digest",
        ]);
        assert.equal(r.code, 0, r.out + r.err);
        assert.deepEqual(r.out.trim().split("\n"), expectedDigests());
        assert.match(r.err, /connected, permessage-deflate, TLSv1\.3/);
      });
      await t.step(
        "under 1% loss and 1% reordering: 100,000 messages complete and in order",
        async () => {
          const r = await wscat([
            ...[...ours, "--loss", "0.01", "--reorder", "0.01", "--seed", "5"],
            `ws://${v.peerIp}:8080/count?n=100000`,
          ]);
          assert.equal(r.code, 0, r.out + r.err);
          const lines = r.out.trim().split("\n");
          assert.equal(lines.length, 100_000);
          for (let i = 0; i < lines.length; i++) {
            if (lines[i] !== String(i)) assert.fail(`message ${i} is "${lines[i]}"`);
          }
        },
      );
      await t.step(
        "wss:// refuses a certificate for another name, and one from an unknown CA",
        async () => {
          const wrong = await wscat([
            ...[...ours, "wss://other.test:8443/", "--address", v.peerIp, "--ca", `${dir}/ca.pem`],
          ]);
          assert.equal(wrong.code, 1, wrong.out + wrong.err);
          assert.match(
            wrong.err,
            /closed 1006 \(the connection ended: aborted \(TLS: .*(name|NotValidForName|altname)/i,
          );
          const unknown = await wscat([...ours, "wss://feed.test:8443/", "--address", v.peerIp]);
          assert.equal(unknown.code, 1, unknown.out + unknown.err);
          assert.match(unknown.err, /TLS: .*(issuer|UnknownIssuer|certificate)/i);
        },
      );
      await t.step(
        "fetch.ts https:// (TLS and HTTP/1.1 over our TCP): 5 MB byte-exact",
        async () => {
          const r = await new Deno.Command(Deno.execPath(), {
            args: [
              ...["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env"],
              `${ROOT}/examples/fetch.ts`,
              ...ours,
              ...["https://feed.test:8443/bytes/5000000", "--address", v.peerIp],
              ...["--ca", `${dir}/ca.pem`, "-o", `${dir}/got.bin`],
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          const out = new TextDecoder().decode(r.stdout);
          assert.equal(r.code, 0, out + new TextDecoder().decode(r.stderr));
          const want = createHash("sha256").update(body(5_000_000)).digest("hex");
          assert.match(out, new RegExp(`sha256 ${want}`));
          assert.match(out, /HTTP\/1\.1 200 OK \(5000000 bytes, TLSv1\.3\)/);
          assert.equal(
            createHash("sha256").update(Deno.readFileSync(`${dir}/got.bin`)).digest("hex"),
            want,
          );
        },
      );
      await t.step("--kernel: Deno's own WebSocket prints the same digests", async () => {
        sh("ip", "addr", "add", `${v.dpdkIp}/24`, "dev", v.host); // the kernel takes our address
        try {
          const r = await wscat(["--", "--kernel", `ws://${v.peerIp}:8080/`, "--digest"]);
          assert.equal(r.code, 0, r.out + r.err);
          assert.deepEqual(r.out.trim().split("\n"), expectedDigests());
        } finally {
          sh("ip", "addr", "del", `${v.dpdkIp}/24`, "dev", v.host);
        }
      });
    } finally {
      for (const s of servers) {
        try {
          s.kill("SIGKILL");
          await s.output();
        } catch { /* gone */ }
      }
      Deno.removeSync(dir, { recursive: true });
      v.remove();
    }
  },
});
