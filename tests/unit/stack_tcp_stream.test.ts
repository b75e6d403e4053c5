// TCP's async face on two stacks over an in-memory pair, each polled by a StackDriver: TcpConn
// read/write/closeWrite and its streams, TcpConnListener, the causes TcpError names, and
// node:tls over tcpDuplex (TLS 1.3 with a certificate the test makes with openssl).
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { MemoryPair } from "../../stack/memory.ts";
import { Stack } from "../../stack/interface.ts";
import { StackDriver } from "../../stack/driver.ts";
import { TcpConn, TcpConnListener, tcpDuplex, TcpError } from "../../stack/tcp_stream.ts";
import { pattern } from "./_tcp_harness.ts";

/** Two stacks, each with a running driver; `stop()` ends both. */
function hosts() {
  const pair = new MemoryPair({ slots: 1024 });
  // B is A's gateway too: B drops what it is sent for other hosts, so those never answer.
  const a = new Stack(pair.a, { address: "10.0.0.1/24", gateway: "10.0.0.2" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  const drivers = [new StackDriver(a), new StackDriver(b)];
  for (const d of drivers) d.start();
  return { a, b, stop: () => Promise.all(drivers.map((d) => d.stop())) };
}

async function readAll(conn: TcpConn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
}

Deno.test("TcpConn: 4 MB echoed through read/write, closeWrite ends the stream both ways", async () => {
  const h = hosts();
  try {
    const server = new TcpConnListener(h.b.listen(7, { receiveBuffer: 65536 }));
    const echoed = (async () => {
      const conn = await server.accept();
      const buf = new Uint8Array(10000);
      let total = 0;
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        await conn.write(buf.subarray(0, n));
        total += n;
      }
      conn.close();
      return total;
    })();
    const client = await TcpConn.connect(h.a, "10.0.0.2", 7);
    assert.deepEqual(client.remoteAddr, { transport: "tcp", hostname: "10.0.0.2", port: 7 });
    const data = pattern(4 << 20, 3);
    const reading = readAll(client);
    await client.write(data); // more than both windows: waits for room as the peer reads
    await client.closeWrite();
    assert.deepEqual(await reading, data);
    assert.equal(await echoed, data.length);
    client.close();
  } finally {
    await h.stop();
  }
});

Deno.test("TcpConn: readable and writable streams pipe 1 MB", async () => {
  const h = hosts();
  try {
    const server = new TcpConnListener(h.b.listen(9));
    const received = (async () => {
      const conn = await server.accept();
      const all = await readAll(conn);
      conn.close();
      return all;
    })();
    const client = await TcpConn.connect(h.a, "10.0.0.2", 9);
    const data = pattern(1 << 20, 5);
    const source = ReadableStream.from([data.subarray(0, 300_000), data.subarray(300_000)]);
    await source.pipeTo(client.writable); // closes our side at the end
    assert.deepEqual(await received, data);
    const back = await new Response(client.readable).arrayBuffer(); // the server closed: empty
    assert.equal(back.byteLength, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("TcpError names the cause: refused, unreachable, timed out", async () => {
  const h = hosts();
  try {
    const refused = await TcpConn.connect(h.a, "10.0.0.2", 81).catch((e) => e);
    assert.ok(refused instanceof TcpError);
    assert.equal(refused.reason, "refused");
    assert.match(refused.message, /connection to 10\.0\.0\.2:81 refused/);
    // Nobody has 10.0.0.9: ARP gives up after its retries (about 3 s).
    const unreachable = await TcpConn.connect(h.a, "10.0.0.9", 80).catch((e) => e);
    assert.equal(unreachable.reason, "unreachable");
    assert.match(unreachable.message, /10\.0\.0\.9:80 is unreachable: no ARP answer/);
    // Off-link through B, which drops what is not for it: no answer to the SYNs.
    const timedOut = await TcpConn.connect(h.a, "10.1.0.5", 80, { connectTimeoutMs: 1500 })
      .catch((e) => e);
    assert.equal(timedOut.reason, "timeout");
    assert.match(timedOut.message, /10\.1\.0\.5:80 timed out: no answer to the SYN within 1500 ms/);
  } finally {
    await h.stop();
  }
});

Deno.test("node:tls runs over tcpDuplex: TLS 1.3 both ways, certificate checked", async () => {
  const dir = Deno.makeTempDirSync();
  const h = hosts();
  try {
    const openssl = new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-subj", "/CN=stack.test"],
        ...["-addext", "subjectAltName=DNS:stack.test"],
      ],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    assert.ok(openssl.success, new TextDecoder().decode(openssl.stderr));
    const key = Deno.readTextFileSync(`${dir}/key.pem`);
    const cert = Deno.readTextFileSync(`${dir}/cert.pem`);
    const server = new TcpConnListener(h.b.listen(443));
    const serving = (async () => {
      for (let i = 0; i < 2; i++) {
        const raw = await server.accept();
        const secure = new tls.TLSSocket(tcpDuplex(raw), { isServer: true, key, cert });
        secure.on("data", (d: Uint8Array) => secure.write(d)); // echo
        secure.on("end", () => secure.end());
        secure.on("error", () => secure.destroy()); // the refused client goes away
      }
    })();
    const raw = await TcpConn.connect(h.a, "10.0.0.2", 443);
    const client = tls.connect({ socket: tcpDuplex(raw), ca: cert, servername: "stack.test" });
    await new Promise<void>((resolve, reject) => {
      client.once("secureConnect", resolve);
      client.once("error", reject);
    });
    assert.equal(client.getProtocol(), "TLSv1.3");
    const data = pattern(200_000, 9);
    const got = new Uint8Array(data.length);
    let n = 0;
    const done = new Promise<void>((resolve) =>
      client.on("data", (d: Uint8Array) => {
        got.set(d, n);
        if ((n += d.length) >= data.length) resolve();
      })
    );
    client.write(data);
    await done;
    assert.deepEqual(got, data);
    client.end();
    // A name the certificate does not carry is refused.
    const raw2 = await TcpConn.connect(h.a, "10.0.0.2", 443);
    const wrong = tls.connect({ socket: tcpDuplex(raw2), ca: cert, servername: "other.test" });
    const err = await new Promise<Error>((resolve) => wrong.once("error", resolve));
    assert.match(String(err), /certificate|name|altname|NotValidForName/i);
    wrong.destroy();
    await serving;
  } finally {
    await h.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
