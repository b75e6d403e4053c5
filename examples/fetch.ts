/**
 * fetch: an HTTP/1.1 client over deno-dpdk's own TCP/IP stack. It gets one URL (or posts a
 * file to it), writes the body to a file, and prints the throughput, the body's SHA-256 and
 * the connection's counters.
 *
 *   deno run --allow-ffi --allow-read --allow-write --allow-env examples/fetch.ts [EAL args] -- \
 *     (--ip 10.99.3.2/24 [--gateway 10.99.3.1] | --dhcp) URL [-o FILE] [--post FILE] \
 *     [--iface IFACE] [--loss P --reorder P --duplicate P --seed N] [--timeout S]
 *
 * With no EAL arguments it creates a TAP interface, `dtap0`, like `host.ts`. There is no name
 * lookup: the URL's host is an IPv4 address (`http://10.99.3.1:8000/file`), or a name with
 * `--address A.B.C.D`. `https://` runs TLS (`node:tls`) over the stack's connection, checking
 * the certificate (`--ca FILE` adds a CA), and the HTTP/1.1 client of `ws/`. It exits 0 when
 * the whole body arrived with a 2xx status, 1 otherwise (the reason is printed: refused, timed
 * out, unreachable, a certificate refused, ...).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Eal, splitArgs, StopSignal } from "../mod.ts";
import { ipv4ToString, parseIpv4 } from "../net/mod.ts";
import { StackDriver } from "../stack/mod.ts";
import { headEnd, HttpClient, TlsStream } from "../ws/mod.ts";
import { Cli, outputFile, seconds, value } from "./_cli.ts";
import {
  DEFAULT_EAL,
  DEFAULT_TAP,
  faultNote,
  hostHeader,
  NET_OPTIONS,
  NET_USAGE,
  openHost,
  parseUrl,
  URL_OPTIONS,
  urlUsage,
} from "./_net.ts";

const cli: Cli = new Cli(
  "fetch",
  "usage: fetch.ts [EAL args] -- (--ip A.B.C.D/N [--gateway A.B.C.D] | --dhcp) URL\n" +
    "                [-o FILE] [--post FILE] [--mtu N] [--iface IFACE]\n" +
    "                [--loss P] [--reorder P] [--duplicate P] [--seed N] [--timeout S]\n" +
    "  URL                 http://HOST[:PORT]/path or https://HOST[:PORT]/path\n" +
    urlUsage("https://") +
    "  -o, --output FILE   write the body there (default: count it only)\n" +
    "  --post FILE         send FILE as the body of a POST instead of a GET\n" +
    NET_USAGE +
    "  --timeout S         give up after S seconds (default 120)\n" +
    "  --stats-interval S  seconds between progress lines (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  ...NET_OPTIONS,
  output: outputFile({ short: "o" }),
  post: value("a file to send", (text) => text),
  timeout: seconds({ default: 120 }),
  "stats-interval": seconds({ default: 1, note: "0: none" }),
  ...URL_OPTIONS,
}, 1);
const url = cli.positionals[0];
const target = parseUrl(
  cli,
  url,
  "http",
  "give the URL to fetch, like http://10.99.3.1:8000/file",
  opts,
);
const { secure, host, ip, port: serverPort, path } = target;
const serverIp = parseIpv4(ip!);
let body: Uint8Array | null = null;
if (opts.post !== undefined) {
  try {
    body = Deno.readFileSync(opts.post);
  } catch (e) {
    cli.usageError(`--post ${opts.post}: ${(e as Error).message}`);
  }
}

const { stack, injector } = openHost(cli, eal, opts);
const stop = StopSignal.trap();
const start = performance.now();
const now = () => performance.now() - start;
const poll = () => {
  stack.clock[0] = now() * 1e6;
  stack.poll();
};
const fail: (message: string) => never = (message) => {
  console.error(`fetch: ${message}`);
  Eal.cleanup();
  Deno.exit(1);
};

// An address first (at once when static; DHCP takes a moment).
while (stack.address === 0) {
  poll();
  if (now() > opts.timeout * 1000) fail("no DHCP lease");
  if (stop.requested) fail("interrupted");
}
console.log(
  `fetch ${url} from ${ipv4ToString(stack.address)}${faultNote(opts)}` +
    (body ? `, posting ${body.length} bytes` : ""),
);
if (secure) await fetchSecure(); // exits

// The response: the head is gathered, then the body goes to the file and the hash as it comes.
const out = opts.output !== undefined
  ? Deno.openSync(opts.output, { write: true, create: true, truncate: true })
  : null;
const hash = createHash("sha256");
const OUT_BUFFER = 1 << 20;
const outBuffer = new Uint8Array(OUT_BUFFER);
let outFill = 0;
const flushOut = () => {
  if (out !== null) {
    for (let at = 0; at < outFill;) at += out.writeSync(outBuffer.subarray(at, outFill));
  }
  hash.update(outBuffer.subarray(0, outFill));
  outFill = 0;
};
let status = 0;
let contentLength = -1;
let received = 0; // body bytes
let done = false;
let firstByte = 0;
const dec = new TextDecoder();

const conn = stack.connect(serverIp, serverPort);
const request = new TextEncoder().encode(
  `${body ? "POST" : "GET"} ${path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\n` +
    `User-Agent: deno-dpdk-fetch\r\nAccept: */*\r\nConnection: close\r\n` +
    (body ? `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n` : "") +
    "\r\n",
);
let toSend = [request, ...(body ? [body] : [])];
let sendAt = 0;
const pump = () => {
  while (toSend.length > 0 && conn.writableState) {
    const chunk = toSend[0];
    sendAt += conn.write(chunk, sendAt, chunk.length - sendAt);
    if (sendAt < chunk.length) return; // onWritable calls again
    toSend = toSend.slice(1);
    sendAt = 0;
  }
};
let openedAt = 0;
conn.onOpen = () => {
  openedAt = now();
  pump();
};
conn.onWritable = pump;
const takeBody = (data: Uint8Array, offset: number, length: number) => {
  if (contentLength >= 0) length = Math.min(length, contentLength - received);
  received += length;
  while (length > 0) {
    const n = Math.min(length, OUT_BUFFER - outFill);
    outBuffer.set(data.subarray(offset, offset + n), outFill);
    outFill += n;
    offset += n;
    length -= n;
    if (outFill === OUT_BUFFER) flushOut();
  }
  if (contentLength >= 0 && received >= contentLength) done = true;
};
const headBuffer = new Uint8Array(16384);
let headLength = 0;
conn.onData = (data, offset, length) => {
  if (firstByte === 0) firstByte = now();
  if (status !== 0) return takeBody(data, offset, length);
  // The head is gathered as bytes up to its blank line; what follows it is body.
  const before = headLength;
  const n = Math.min(length, headBuffer.length - headLength);
  headBuffer.set(data.subarray(offset, offset + n), headLength);
  headLength += n;
  const end = headEnd(headBuffer, before - 3, headLength);
  if (end < 0) {
    if (headLength === headBuffer.length) fail("the response head is over 16 KiB");
    return;
  }
  const lines = dec.decode(headBuffer.subarray(0, end)).split("\r\n");
  const sm = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (sm === null) fail(`not an HTTP response: ${JSON.stringify(lines[0].slice(0, 80))}`);
  status = Number(sm[1]);
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim(), v = line.slice(colon + 1).trim();
    if (/^content-length$/i.test(name)) contentLength = Number(v);
    if (/^transfer-encoding$/i.test(name) && !/^identity$/i.test(v)) {
      fail(`the server sent a ${v} body, which this example does not decode`);
    }
  }
  console.log(`${lines[0]} (${contentLength >= 0 ? `${contentLength} bytes` : "length unknown"})`);
  if (contentLength === 0) done = true;
  const consumed = end + 4 - before; // of this segment's bytes
  if (consumed < length) takeBody(data, offset + consumed, length - consumed);
};
conn.onEnd = () => {
  if (contentLength < 0) done = true; // the body ends with the connection
  conn.close();
};
let failure = "";
conn.onClose = (reason) => {
  if (reason !== "closed" && !done) {
    failure = `${ipv4ToString(serverIp)}:${serverPort}: ${reason}` +
      (conn.closeDetail ? ` (${conn.closeDetail})` : "");
  }
};

let lastPrint = 0;
let lastBytes = 0;
for (let iter = 0; !done && failure === "" && !stop.requested; iter++) {
  poll();
  if ((iter & 1023) !== 0) continue;
  const t = now();
  if (t > opts.timeout * 1000) {
    conn.abort();
    failure = `no complete answer within ${opts.timeout} s`;
  }
  if (opts["stats-interval"] > 0 && t - lastPrint >= opts["stats-interval"] * 1000) {
    const rate = (received - lastBytes) / ((t - lastPrint) / 1000) / 1e6;
    console.log(
      `[${(t / 1000).toFixed(1).padStart(5)} s] ${(received / 1e6).toFixed(1)} MB` +
        `${contentLength > 0 ? ` of ${(contentLength / 1e6).toFixed(1)}` : ""}, ` +
        `${rate.toFixed(1)} MB/s, ${conn.stateName}, retrans ${conn.counters.retransSegs}`,
    );
    lastPrint = t;
    lastBytes = received;
  }
}
// A download is timed from its first byte; an upload from the connection's opening.
const elapsed = (now() - ((body ? openedAt : firstByte) || now())) / 1000;
flushOut();
out?.close();
const moved = body ? body.length : received;
// Close politely and let the FINs cross (bounded), so the server sees a clean end.
conn.close();
for (const until = now() + 1000; now() < until && conn.closeReason === null;) {
  poll();
  if (conn.stateName === "TIME-WAIT" || conn.stateName === "FIN-WAIT-2") break;
}
if (stop.requested) failure ||= `${stop.signal} received`;
if (failure === "" && !done) failure = "the connection ended before the body did";
console.log(
  `${(moved / 1e6).toFixed(3)} MB in ${elapsed.toFixed(3)} s: ${
    elapsed > 0 ? (moved / 1e6 / elapsed).toFixed(1) : "-"
  } MB/s, sha256 ${hash.digest("hex")}`,
);
console.log(`connection: ${conn}`);
console.log(`tcp: ${JSON.stringify(stack.tcpCounters)}`);
if (injector) console.log(`faults: ${JSON.stringify(injector.stats)}`);
if (failure !== "") fail(failure);
if (!(status >= 200 && status < 300)) fail(`HTTP status ${status}`);
Eal.cleanup();

/**
 * https://: TLS (node:tls) over the stack's connection and the HTTP/1.1 client of ws/, which
 * run on Deno's event loop, so a StackDriver polls the stack. The body comes whole.
 */
async function fetchSecure(): Promise<never> {
  const driver = new StackDriver(stack);
  driver.start();
  const started = now();
  const tls = new TlsStream(stack.connect(serverIp, serverPort), {
    servername: host,
    ca: target.ca,
  });
  const http = new HttpClient(tls, hostHeader(target));
  const timer = setTimeout(() => tls.abort(), opts.timeout * 1000);
  try {
    const r = await http.request(
      body ? "POST" : "GET",
      path,
      { "User-Agent": "deno-dpdk-fetch", Accept: "*/*", Connection: "close" },
      body ?? undefined,
    );
    const s = (now() - started) / 1000;
    console.log(`HTTP/1.1 ${r.status} ${r.statusText} (${r.body.length} bytes, ${tls.protocol})`);
    if (opts.output !== undefined) Deno.writeFileSync(opts.output, r.body);
    const moved = body ? body.length : r.body.length;
    console.log(
      `${(moved / 1e6).toFixed(3)} MB in ${s.toFixed(3)} s: ${
        (moved / 1e6 / s).toFixed(1)
      } MB/s, ` +
        `sha256 ${createHash("sha256").update(r.body).digest("hex")}`,
    );
    http.close();
    clearTimeout(timer);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the close_notify and FIN go
    await driver.stop();
    if (!(r.status >= 200 && r.status < 300)) fail(`HTTP status ${r.status}`);
    Eal.cleanup();
    Deno.exit(0);
  } catch (e) {
    clearTimeout(timer);
    await driver.stop();
    return fail(`${host}:${serverPort}: ${(e as Error).message}`);
  }
}
