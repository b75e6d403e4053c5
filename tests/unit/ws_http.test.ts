// The HTTP/1.1 client on two stacks over an in-memory pair (a StackDriver polls each): requests
// kept alive on one connection against host.ts's own server (Content-Length bodies, a POST),
// a chunked body with trailers, a body that ends with the connection, and errors.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MemoryPair } from "../../stack/memory.ts";
import { Stack } from "../../stack/interface.ts";
import { StackDriver } from "../../stack/driver.ts";
import { HttpClient, HttpError } from "../../ws/http.ts";
import { patternSlice, serveHttp } from "../../examples/_services.ts";

function hosts() {
  const pair = new MemoryPair({ slots: 1024 });
  const a = new Stack(pair.a, { address: "10.0.0.1/24" });
  const b = new Stack(pair.b, { address: "10.0.0.2/24" });
  const drivers = [new StackDriver(a), new StackDriver(b)];
  for (const d of drivers) d.start();
  return { a, b, stop: () => Promise.all(drivers.map((d) => d.stop())) };
}

const enc = new TextEncoder();

Deno.test("HTTP/1.1: three requests kept alive on one connection, Content-Length bodies and a POST", async () => {
  const h = hosts();
  try {
    serveHttp(h.b.listen(80), () => "status page\n");
    const conn = h.a.connect("10.0.0.2", 80);
    const http = new HttpClient(conn, "10.0.0.2");
    const r1 = await http.request("GET", "/bytes/300000");
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get("content-length"), "300000");
    assert.deepEqual(r1.body, patternSlice(0, 300000));
    const r2 = await http.request("GET", "/");
    assert.equal(new TextDecoder().decode(r2.body), "status page\n");
    const data = patternSlice(5, 100_000);
    const r3 = await http.request("POST", "/upload", { "Content-Type": "x/y" }, data);
    const sha = createHash("sha256").update(data).digest("hex");
    assert.equal(new TextDecoder().decode(r3.body), `100000 ${sha}\n`);
    assert.equal(h.b.tcpCounters.passiveOpens, 1, "one connection for all three");
    const r4 = await http.request("GET", "/nothing");
    assert.equal(r4.status, 404);
    http.close();
  } finally {
    await h.stop();
  }
});

Deno.test("HTTP/1.1: a chunked body with trailers, then one that ends with the connection", async () => {
  const h = hosts();
  try {
    h.b.listen(81).onConnection = (conn) => {
      let asked = 0;
      conn.onData = () => {
        if (asked++ === 0) {
          const body = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";
          conn.write(enc.encode(body));
        } else {
          conn.write(enc.encode("HTTP/1.0 200 OK\r\n\r\nto the end"));
          conn.close();
        }
      };
    };
    const http = new HttpClient(h.a.connect("10.0.0.2", 81), "10.0.0.2");
    const r1 = await http.request("GET", "/a");
    assert.equal(new TextDecoder().decode(r1.body), "hello world");
    const r2 = await http.request("GET", "/b");
    assert.equal(new TextDecoder().decode(r2.body), "to the end");
  } finally {
    await h.stop();
  }
});

Deno.test("HTTP/1.1: a refused connection and a garbage answer reject with the cause", async () => {
  const h = hosts();
  try {
    const refused = new HttpClient(h.a.connect("10.0.0.2", 9), "10.0.0.2");
    const e1 = await refused.request("GET", "/").catch((e) => e);
    assert.ok(e1 instanceof HttpError);
    assert.match(e1.message, /the connection ended \(refused/);
    h.b.listen(82).onConnection = (conn) => {
      conn.onData = () => conn.write(enc.encode("SSH-2.0-OpenSSH\r\n\r\n"));
    };
    const garbage = new HttpClient(h.a.connect("10.0.0.2", 82), "10.0.0.2");
    const e2 = await garbage.request("GET", "/").catch((e) => e);
    assert.match(String(e2), /not an HTTP response: "SSH-2\.0-OpenSSH"/);
  } finally {
    await h.stop();
  }
});
