/**
 * wscat: a WebSocket client like the `wscat` tool, over deno-dpdk's own TCP/IP stack. It prints
 * each text message it receives as a line, sends the lines of its standard input as text
 * messages, and exits 0 when the server closes normally (code 1000 or 1001).
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/wscat.ts [EAL args] -- \
 *     (--ip 10.99.3.2/24 [--gateway 10.99.3.1] | --dhcp) ws://10.99.3.1:8080/path \
 *     [--digest | --quiet] [--protocol P] [--header "Name: value"] [--kernel] [--timeout S]
 *
 * `--digest` prints one line per message instead: its number, `text` or `binary`, its length
 * and its SHA-256; `--quiet` counts messages and prints a rate at the end. `--kernel` runs the
 * same code over Deno's own `WebSocket` (the kernel's TCP) for comparison (add
 * `--allow-net`). With no EAL
 * arguments it creates a TAP interface, `dtap0`, like `host.ts`. `wss://` runs TLS (`node:tls`)
 * over the stack's connection, checking the server's certificate (`--ca FILE` adds a CA). There
 * is no name lookup: a URL naming a host by name needs `--address A.B.C.D`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Eal, splitArgs } from "../mod.ts";
import { ipv4ToString } from "../net/mod.ts";
import { StackDriver } from "../stack/mod.ts";
import { TlsStream, WebSocketClient } from "../ws/mod.ts";
import { Cli, flag, repeated, seconds, value } from "./_cli.ts";
import {
  connectTarget,
  DEFAULT_EAL,
  DEFAULT_TAP,
  NET_OPTIONS,
  NET_USAGE,
  openHost,
  parseUrl,
  URL_OPTIONS,
  urlUsage,
} from "./_net.ts";

const cli: Cli = new Cli(
  "wscat",
  "usage: wscat.ts [EAL args] -- (--ip A.B.C.D/N [--gateway A.B.C.D] | --dhcp) URL\n" +
    "                [--digest | --quiet] [--protocol P] [--header H] [--kernel] [--timeout S]\n" +
    "  URL                 ws://HOST[:PORT]/path or wss://HOST[:PORT]/path\n" +
    urlUsage("wss://") +
    "  --digest            one line per message: number, text|binary, length, SHA-256\n" +
    "  --quiet             count messages; print the rate at the end\n" +
    "  --protocol P        offer subprotocol P (repeatable)\n" +
    '  --header "N: V"     an extra request header (repeatable)\n' +
    "  --kernel            Deno's own WebSocket over the kernel instead of the stack\n" +
    NET_USAGE +
    "  --timeout S         give up after S seconds (default 0: never)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}`,
);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  ...NET_OPTIONS,
  digest: flag(),
  quiet: flag(),
  kernel: flag(),
  protocol: repeated(
    value("a subprotocol name", (t) => /^[!#-'*+.^-z|~0-9A-Za-z-]+$/.test(t) ? t : undefined),
  ),
  header: repeated(
    value('a header like "Name: value"', (t) => /^[^:\s]+:\s?.*$/.test(t) ? t : undefined),
  ),
  timeout: seconds({ note: "0: never" }),
  ...URL_OPTIONS,
}, 1);
if (opts.digest && opts.quiet) cli.usageError("--digest and --quiet: choose one");
if (opts.ca !== undefined && opts.kernel) {
  cli.usageError("--ca with --kernel: Deno's WebSocket takes CAs from DENO_CERT=FILE instead");
}
const url = cli.positionals[0];
const target = parseUrl(
  cli,
  url,
  "ws",
  "give the URL, like ws://10.99.3.1:8080/path",
  opts,
  opts.kernel,
);
const headers: Record<string, string> = {};
for (const h of opts.header) {
  const colon = h.indexOf(":");
  headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
}

// What both paths share: counting, printing, the end.
let count = 0, bytes = 0, firstAt = 0;
const dec = new TextDecoder();
function received(data: Uint8Array, text: boolean): void {
  if (count++ === 0) firstAt = performance.now();
  bytes += data.length;
  if (opts.quiet) return;
  if (opts.digest) {
    const hex = createHash("sha256").update(data).digest("hex");
    console.log(`${count} ${text ? "text" : "binary"} ${data.length} ${hex}`);
  } else if (text) console.log(dec.decode(data));
  else console.log(`< binary message, ${data.length} bytes`);
}
function summary(): void {
  if (!opts.quiet) return;
  const s = (performance.now() - firstAt) / 1000;
  console.log(
    `${count} messages, ${bytes} bytes` +
      (count > 1 && s > 0
        ? `: ${(count / s).toFixed(0)} messages/s, ${(bytes / s / 1e6).toFixed(1)} MB/s`
        : ""),
  );
}
/** Sends each line of standard input as a text message, while the connection lasts. */
async function pumpStdin(send: (line: string) => void, open: () => boolean): Promise<void> {
  const chunks = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let parts: string[] = []; // a line so far: only each new chunk is searched (long lines)
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf("\n"); nl >= 0; nl = chunk.indexOf("\n", start)) {
      parts.push(chunk.slice(start, nl));
      if (open()) send(parts.join(""));
      parts = [];
      start = nl + 1;
    }
    if (start < chunk.length) parts.push(chunk.slice(start));
  }
}

let code: number;
if (opts.kernel) {
  code = await new Promise<number>((resolve) => {
    const ws = new WebSocket(url, opts.protocol);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => pumpStdin((l) => ws.send(l), () => ws.readyState === WebSocket.OPEN);
    ws.onmessage = (e) =>
      typeof e.data === "string"
        ? received(new TextEncoder().encode(e.data), true)
        : received(new Uint8Array(e.data), false);
    ws.onerror = (e) => console.error(`wscat: ${(e as ErrorEvent).message ?? "error"}`);
    ws.onclose = (e) => {
      if (e.code !== 1000 && e.code !== 1001) console.error(`wscat: closed ${e.code} ${e.reason}`);
      resolve(e.code === 1000 || e.code === 1001 ? 0 : 1);
    };
    if (opts.timeout > 0) setTimeout(() => resolve(2), opts.timeout * 1000);
  });
  summary();
  Deno.exit(code);
}

const { stack } = openHost(cli, eal, opts, {}, console.error); // stdout carries messages only
const driver = new StackDriver(stack);
driver.start();
await driver.ready();
console.error(`wscat: ${ipv4ToString(stack.address)} → ${url}`);
code = await new Promise<number>((resolve) => {
  const transport = connectTarget(stack, target);
  const ws = new WebSocketClient(transport, url, {
    protocols: opts.protocol,
    headers,
  });
  ws.onOpen = () => {
    console.error(
      `wscat: connected${ws.protocol ? `, subprotocol ${ws.protocol}` : ""}` +
        (ws.deflate ? ", permessage-deflate" : "") +
        (transport instanceof TlsStream ? `, ${transport.protocol}` : ""),
    );
    pumpStdin((l) => ws.send(l), () => ws.readyState === 1);
  };
  ws.onMessage = (data, offset, length, text) =>
    received(data.subarray(offset, offset + length), text);
  ws.onClose = (closeCode, reason) => {
    if (closeCode !== 1000 && closeCode !== 1001) {
      console.error(`wscat: closed ${closeCode}${reason ? ` (${reason})` : ""}`);
    }
    resolve(closeCode === 1000 || closeCode === 1001 ? 0 : 1);
  };
  if (opts.timeout > 0) setTimeout(() => resolve(2), opts.timeout * 1000);
});
summary();
// Let the closing handshake's last segments go, then stop.
await new Promise((r) => setTimeout(r, 50));
await driver.stop();
Eal.cleanup();
Deno.exit(code);
