/**
 * WebSocket benchmark: this package's WebSocket client (`ws/`) on its own TCP/IP stack
 * (`stack/`, net_af_packet, busy-polled) against Deno's built-in `WebSocket` (kernel TCP), side
 * by side in one run, over the same veth to the same servers in a network namespace, for
 * `ws://` and `wss://`:
 *
 * 1. message latency: ping-pong of 64-byte text messages with a `Deno.upgradeWebSocket` server
 *    (`Deno.serve`, kernel sockets) that answers each with a 64-byte text message carrying the
 *    time it was sent. Reported: the server's send → our `onMessage` (one way, on a clock every
 *    process shares: CLOCK_MONOTONIC through `clock_gettime`) and the round trip (p50, p99,
 *    p99.9, max);
 * 2. message rate: a server writes N pre-built 64-byte text frames as fast as the kernel takes
 *    them (one `sendall`); the rate is what the client drains (messages/s from the first message
 *    to the last); and, for reference, N messages sent by the `Deno.upgradeWebSocket` server in
 *    a loop (there the server bounds the rate).
 *
 *   deno run --allow-all bench/ws.ts [-- --rounds N --messages N --passes 1|2 --json]
 *
 * Needs root: it creates the namespace `ddwsb` with a veth (10.99.7.0/24) and removes them at
 * the end, also on error and Ctrl-C. Ours `wss://` runs `node:tls` over the stack, so it needs
 * Deno's event loop: a `StackDriver` (64 polls per turn) drives it; ours `ws://` is a plain poll
 * loop. With two passes (the default) the paths run in the order kernel, ours, ours, kernel.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCertificates } from "../scripts/test_ca.ts";
import { monotonicNs } from "../examples/_clock.ts";
import { Stack, StackDriver } from "../stack/mod.ts";
import { TlsStream, WebSocketClient } from "../ws/mod.ts";
import {
  denoRunSelf,
  headline,
  isRoot,
  type Latency,
  type Load,
  machineInfo,
  openAfPacketPort,
  percentiles,
  pollUntil,
  result,
  round2,
  round3,
  roundLatency,
  runOnTestbed,
  scriptArgs,
  settle,
  tableRow,
  type Testbed,
  vethSummary,
} from "./_veth.ts";

const BED: Testbed = {
  ns: "ddwsb",
  hostIf: "ddw-h",
  nsIf: "ddw-n",
  serverIp: "10.99.7.1", // the namespace's end: the servers
  kernelIp: "10.99.7.2", // the host end of the veth: Deno's WebSocket's source address
  stackIp: "10.99.7.3", // our stack
  ealPrefix: "wsbench",
};
const { serverIp: SERVER_IP, stackIp: STACK_IP } = BED;
const SERVERNAME = "ws.bench"; // the certificate names it and SERVER_IP
const WS_PORT = 8080, WSS_PORT = 8443; // Deno.upgradeWebSocket
const FIRE_PORT = 9080, FIRE_TLS_PORT = 9443; // pre-built frames (Python)
const MSG = 64; // bytes per message, both ways
/** A reply: 8-digit sequence number, a space, the send time in ns (20 digits), padding. */
const STAMP_AT = 9, STAMP_DIGITS = 20;
const TEXT = 1; // the text opcode

const { values: opts } = parseArgs({
  args: scriptArgs(),
  options: {
    role: { type: "string", default: "run" },
    rounds: { type: "string", default: "50000" },
    warmup: { type: "string", default: "1000" },
    messages: { type: "string", default: "500000" },
    passes: { type: "string", default: "2" },
    pass: { type: "string", default: "1" },
    dir: { type: "string" },
    json: { type: "boolean" },
  },
});
const rounds = Number(opts.rounds);
const warmup = Number(opts.warmup);
const messages = Number(opts.messages);
const passes = Number(opts.passes);
if (
  !(rounds >= passes && warmup >= 0 && messages >= 2 && messages < 1e8 &&
    (passes === 1 || passes === 2))
) {
  console.error(
    "usage: ws.ts [-- --rounds N --warmup N --messages N (2..1e8) --passes 1|2 --json]",
  );
  Deno.exit(2);
}
/** Round trips per pass and path. */
const passRounds = Math.ceil(rounds / passes);
/** Messages of the Deno server's flood (it bounds that rate; fewer keep the run short). */
const floodMessages = Math.max(2, Math.round(messages / 5));

// ------------------------------------------------------------------ shared helpers

/** CLOCK_MONOTONIC in µs: a clock every process on the machine shares (`examples/_clock.ts`). */
const monotonicClock = () => () => monotonicNs() / 1000;

/** The 56 bytes after a request's sequence number, and the padding of a reply. */
const REQUEST_TAIL = "r".repeat(MSG - 8);
const REPLY_TAIL = "p".repeat(MSG - STAMP_AT - STAMP_DIGITS);
const FLOOD_TAIL = "f".repeat(MSG - 8);

/** A rate: messages from the first to the last, and what went with it. */
interface Rate {
  mps: number;
  info: string;
}

/** What one client (ours or Deno's) measured on one scheme in one pass. */
interface PathPass {
  /** Round trips, µs. */
  rtt: number[];
  /** The server's send → the client's message callback, µs. */
  down: number[];
  /** Pre-built frames drained. */
  fire: Rate;
  /** The Deno server's send loop. */
  flood: Rate;
  notes: string[];
}

/** One pass of a client: `ws://` and `wss://`. */
interface Pass {
  ws: PathPass;
  wss: PathPass;
}

/** Rejects after `ms` with `what` (the bench never waits forever). */
function timeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what()}: nothing after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Parses `n` decimal digits of `data` at `at` (no allocation). */
function digits(data: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 10 + (data[at + i] - 48);
  return v;
}

/**
 * A client under test, either ours or Deno's: ping-pong on `/echo`, then draining a stream of
 * messages. The two implementations share the sequencing and the bookkeeping below.
 */
interface Client {
  /** Runs `count` round trips; pushes each round trip and one-way time (µs). */
  pingPong(secure: boolean, count: number, rtt: number[], down: number[]): Promise<string[]>;
  /** Drains `n` messages from `port` (`path`); the rate from the first to the last. */
  drain(secure: boolean, port: number, path: string, n: number): Promise<Rate & { bad: string }>;
}

async function runPass(client: Client, who: string, pass: number): Promise<Pass> {
  const one = async (secure: boolean): Promise<PathPass> => {
    const scheme = secure ? "wss" : "ws";
    const notes: string[] = [];
    const rtt: number[] = [], down: number[] = [];
    const all = await client.pingPong(secure, warmup + passRounds, rtt, down);
    notes.push(...all.map((n) => `${who} ${scheme}://: ${n}`));
    rtt.splice(0, warmup);
    down.splice(0, warmup);
    const negative = down.filter((d) => d < 0).length;
    if (negative) notes.push(`${who} ${scheme}://: ${negative} one-way times below 0 (clock?)`);
    const fire = await client.drain(secure, secure ? FIRE_TLS_PORT : FIRE_PORT, "/", messages);
    if (fire.bad) notes.push(`${who} ${scheme}:// pre-built frames: ${fire.bad}`);
    const flood = await client.drain(
      secure,
      secure ? WSS_PORT : WS_PORT,
      `/flood?n=${floodMessages}`,
      floodMessages,
    );
    if (flood.bad) notes.push(`${who} ${scheme}:// server flood: ${flood.bad}`);
    for (const note of notes) console.error(`ws: PROBLEM: ${note}`);
    const l = percentiles(down), r = percentiles(rtt);
    console.error(
      `ws: ${who}, pass ${pass}, ${scheme}://: one-way p50 ${l.p50.toFixed(1)} p99 ` +
        `${l.p99.toFixed(1)} µs, round trip p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} µs; ` +
        `${fire.mps.toFixed(0)} msg/s pre-built (${fire.info}), ${flood.mps.toFixed(0)} msg/s ` +
        `server loop (${flood.info})`,
    );
    return {
      rtt: rtt.map(round2),
      down: down.map(round2),
      fire: { mps: fire.mps, info: fire.info },
      flood: { mps: flood.mps, info: flood.info },
      notes,
    };
  };
  const ws = await one(false);
  const wss = await one(true);
  return { ws, wss };
}

// ------------------------------------------------------------------ our client (DPDK child)

async function dpdkRole(): Promise<void> {
  const dir = opts.dir!;
  const ca = Deno.readTextFileSync(`${dir}/ca.pem`);
  const clock = monotonicClock();
  const dpdk = openAfPacketPort(BED);
  const { stop, port, device } = dpdk;
  const stack = new Stack(device, { address: `${STACK_IP}/24` });
  // The clock StackDriver uses, so that its rounds and our poll loops agree.
  const origin = performance.timeOrigin;
  const poll = () => {
    stack.clock[0] = (origin + performance.now()) * 1e6;
    stack.poll();
  };
  // The clock is set before the first connection: a connection opened at the clock's initial
  // 0 would see it jump by decades at the first poll.
  poll();
  let driver: StackDriver | null = null;
  /** Busy-polls until `done()`; throws after `limitMs`. */
  const pollFor = (what: () => string, done: () => boolean, limitMs: number) =>
    pollUntil(poll, stop, done, limitMs, () => `${what()}: nothing after ${limitMs} ms`);
  /** The driver runs for wss:// only: ws:// is measured on a plain poll loop. */
  const mode = async (secure: boolean) => {
    if (secure && driver === null) {
      driver = new StackDriver(stack);
      driver.start();
    } else if (!secure && driver !== null) {
      await driver.stop();
      driver = null;
    }
  };

  /** A client on a new connection; `state` follows it. */
  const open = async (
    secure: boolean,
    tcpPort: number,
    path: string,
    onMessage: (data: Uint8Array, offset: number, length: number) => void,
  ) => {
    await mode(secure);
    const conn = stack.connect(SERVER_IP, tcpPort);
    const transport = secure ? new TlsStream(conn, { servername: SERVERNAME, ca }) : conn;
    const url = `${secure ? "wss" : "ws"}://${secure ? SERVERNAME : SERVER_IP}:${tcpPort}${path}`;
    const ws = new WebSocketClient(transport, url);
    // Set before the open: messages may come in the same segment (or poll) as the handshake's
    // answer, and are delivered right after onOpen.
    ws.onMessage = onMessage;
    const state = { closed: "", clean: false, opened: false };
    let wake: (() => void) | null = null;
    ws.onOpen = () => {
      state.opened = true;
      wake?.();
    };
    ws.onClose = (code, reason, clean) => {
      state.closed = `${code}${reason ? ` ${reason}` : ""}`;
      state.clean = clean;
      wake?.();
    };
    const what = () => `ours: ${url}: opening: ${conn.toString()}`;
    if (secure) {
      await timeout(
        new Promise<void>((resolve) => {
          wake = resolve;
          if (state.opened || state.closed) resolve();
        }),
        10000,
        what,
      );
    } else pollFor(what, () => state.opened || state.closed !== "", 10000);
    if (!state.opened) throw new Error(`ours: ${url}: closed before opening: ${state.closed}`);
    /** Closes (if still open) and waits for the end; a note if it was not clean. */
    const finish = async (): Promise<string> => {
      if (ws.readyState === 1) ws.close();
      const w = () => `ours: ${url}: closing: ${conn.toString()}`;
      if (secure) {
        await timeout(
          new Promise<void>((resolve) => {
            wake = resolve;
            if (state.closed) resolve();
          }),
          5000,
          w,
        );
        await new Promise((r) => setTimeout(r, 5)); // the last segments
      } else {
        pollFor(w, () => state.closed !== "", 5000);
        settle(poll);
      }
      return state.clean ? "" : `closed ${state.closed}`;
    };
    return { ws, conn, state, finish, url };
  };

  const request = new TextEncoder().encode("00000000" + REQUEST_TAIL);
  const writeSeq = (i: number) => {
    for (let d = 7, v = i; d >= 0; d--, v = Math.floor(v / 10)) request[d] = 48 + v % 10;
  };

  const client: Client = {
    async pingPong(secure, count, rtt, down) {
      const notes: string[] = [];
      let got = false, sent = 0, t1 = 0, stamp = 0, bad = 0;
      let wake: (() => void) | null = null;
      const c = await open(secure, secure ? WSS_PORT : WS_PORT, "/echo", (data, offset, length) => {
        t1 = clock();
        stamp = digits(data, offset + STAMP_AT, STAMP_DIGITS) / 1000;
        if (length !== MSG || digits(data, offset, 8) !== sent % 1e8) bad++;
        got = true;
        wake?.();
      });
      for (let i = 0; i < count; i++) {
        writeSeq(i % 1e8);
        sent = i;
        got = false;
        const t0 = clock();
        c.ws.sendFrame(TEXT, request, 0, MSG);
        if (secure) {
          await timeout(
            new Promise<void>((resolve) => {
              wake = resolve;
              if (got) resolve();
            }),
            5000,
            () => `ours: ${c.url}: echo ${i}: ${c.conn.toString()}`,
          );
        } else {
          // The poll loop inlined: nothing allocated per round trip.
          let spins = 0;
          while (!got) {
            stack.clock[0] = (origin + performance.now()) * 1e6;
            stack.poll();
            if (
              (++spins & 0xfffff) === 0 && (stop.requested || clock() - t0 > 5e6 || c.state.closed)
            ) throw new Error(`ours: ${c.url}: echo ${i}: no answer: ${c.conn.toString()}`);
          }
        }
        rtt.push(t1 - t0);
        down.push(t1 - stamp);
      }
      if (bad) notes.push(`${bad} replies with a wrong length or sequence number`);
      const k = c.conn.counters;
      if (k.retransSegs) notes.push(`${k.retransSegs} TCP retransmissions during ping-pong`);
      const end = await c.finish();
      if (end) notes.push(`ping-pong: ${end}`);
      return notes;
    },
    async drain(secure, tcpPort, path, n) {
      const before = port.stats();
      let count = 0, first = 0, last = 0, bad = 0;
      let wake: (() => void) | null = null;
      const c = await open(secure, tcpPort, path, (data, offset, length) => {
        const t = clock();
        if (count === 0) first = t;
        if (length !== MSG || data[offset + 7] - 48 !== count % 10) bad++;
        if (++count === n) {
          last = t;
          wake?.();
        }
      });
      const prevClose = c.ws.onClose;
      c.ws.onClose = (code, reason, clean) => {
        prevClose?.(code, reason, clean);
        wake?.();
      };
      const what = () => `ours: ${c.url}: ${count} of ${n} messages: ${c.conn.toString()}`;
      if (secure) {
        await timeout(
          new Promise<void>((resolve) => {
            wake = resolve;
            if (count >= n || c.state.closed) resolve();
          }),
          60000,
          what,
        );
      } else pollFor(what, () => count >= n || c.state.closed !== "", 60000);
      const k = c.conn.counters;
      const end = await c.finish();
      const after = port.stats();
      const problems = [
        count !== n ? `${count} of ${n} messages` : "",
        bad ? `${bad} messages with a wrong length or sequence number` : "",
        end,
      ].filter((p) => p !== "");
      return {
        mps: (n - 1) / ((last - first) / 1e6),
        info: `TCP: ${k.segsIn} segments in, ${k.outOfOrderSegs} out of order; port: ` +
          `${after.imissed - before.imissed} missed`,
        bad: problems.join("; "),
      };
    },
  };

  const results: Pass[] = [];
  for (let pass = 1; pass <= passes; pass++) results.push(await runPass(client, "ours", pass));
  await mode(false);
  result({ kind: "ours", passes: results });
  dpdk.close();
}

// ------------------------------------------------------------------ Deno's WebSocket (child)

async function kernelRole(): Promise<void> {
  const clock = monotonicClock();
  const open = async (
    secure: boolean,
    tcpPort: number,
    path: string,
    onmessage: (e: MessageEvent) => void,
  ) => {
    // The certificate names SERVER_IP too: Deno's WebSocket connects by address, the test CA
    // trusted through DENO_CERT.
    const url = `${secure ? "wss" : "ws"}://${SERVER_IP}:${tcpPort}${path}`;
    const ws = new WebSocket(url);
    ws.onmessage = onmessage; // before the open: messages may come with the handshake's answer
    const state = { closed: "", clean: false };
    let onClosed: (() => void) | null = null;
    ws.onclose = (e) => {
      state.closed = `${e.code}${e.reason ? ` ${e.reason}` : ""}`;
      state.clean = e.wasClean;
      onClosed?.();
    };
    await timeout(
      new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = (e) =>
          reject(new Error(`Deno: ${url}: ${(e as ErrorEvent).message ?? "error"}`));
      }),
      10000,
      () => `Deno: ${url}: opening`,
    );
    ws.onerror = null;
    const finish = async (): Promise<string> => {
      if (ws.readyState === WebSocket.OPEN) ws.close();
      await timeout(
        new Promise<void>((resolve) => {
          onClosed = resolve;
          if (state.closed) resolve();
        }),
        5000,
        () => `Deno: ${url}: closing`,
      );
      return state.clean ? "" : `closed ${state.closed}`;
    };
    return { ws, url, state, finish };
  };
  const client: Client = {
    async pingPong(secure, count, rtt, down) {
      const notes: string[] = [];
      let sent = 0, t1 = 0, stamp = 0, bad = 0;
      let wake: (() => void) | null = null;
      const c = await open(secure, secure ? WSS_PORT : WS_PORT, "/echo", (e) => {
        t1 = clock();
        const s = e.data as string;
        stamp = Number(s.slice(STAMP_AT, STAMP_AT + STAMP_DIGITS)) / 1000;
        if (s.length !== MSG || Number(s.slice(0, 8)) !== sent % 1e8) bad++;
        wake?.();
      });
      for (let i = 0; i < count; i++) {
        sent = i;
        const text = String(i % 1e8).padStart(8, "0") + REQUEST_TAIL;
        const done = new Promise<void>((resolve) => wake = resolve);
        const t0 = clock();
        c.ws.send(text);
        await timeout(done, 5000, () => `Deno: ${c.url}: echo ${i}`);
        rtt.push(t1 - t0);
        down.push(t1 - stamp);
      }
      if (bad) notes.push(`${bad} replies with a wrong length or sequence number`);
      const end = await c.finish();
      if (end) notes.push(`ping-pong: ${end}`);
      return notes;
    },
    async drain(secure, tcpPort, path, n) {
      let count = 0, first = 0, last = 0, bad = 0;
      let wake: (() => void) | null = null;
      const done = new Promise<void>((resolve) => wake = resolve);
      const c = await open(secure, tcpPort, path, (e) => {
        const t = clock();
        if (count === 0) first = t;
        const s = e.data as string;
        if (s.length !== MSG || s.charCodeAt(7) - 48 !== count % 10) bad++;
        if (++count === n) {
          last = t;
          wake!();
        }
      });
      await timeout(
        Promise.race([
          done,
          new Promise<void>((resolve) => c.ws.addEventListener("close", () => resolve())),
        ]),
        60000,
        () => `Deno: ${c.url}: ${count} of ${n} messages`,
      );
      const end = await c.finish();
      const problems = [
        count !== n ? `${count} of ${n} messages` : "",
        bad ? `${bad} messages with a wrong length or sequence number` : "",
        end,
      ].filter((p) => p !== "");
      return { mps: (n - 1) / ((last - first) / 1e6), info: "", bad: problems.join("; ") };
    },
  };
  const pass = await runPass(client, "Deno", Number(opts.pass));
  result({ kind: "kernel", passes: [pass] });
}

// ------------------------------------------------------------------ the servers (namespace)

/** The Deno.upgradeWebSocket server: `/echo` (stamped replies) and `/flood?n=N`. */
function serverRole(): void {
  const dir = opts.dir!;
  const clock = monotonicClock();
  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    const { socket, response } = Deno.upgradeWebSocket(req);
    if (url.pathname === "/echo") {
      socket.onmessage = (e) => {
        const seq = (e.data as string).slice(0, 8);
        const stamp = String(Math.round(clock() * 1000)).padStart(STAMP_DIGITS, "0");
        socket.send(seq + " " + stamp + REPLY_TAIL);
      };
    } else if (url.pathname === "/flood") {
      const n = Number(url.searchParams.get("n"));
      socket.onopen = () => {
        for (let i = 0; i < n; i++) socket.send(String(i % 1e8).padStart(8, "0") + FLOOD_TAIL);
        socket.close(1000, "done");
      };
    }
    return response;
  };
  let listening = 0;
  const onListen = () => {
    if (++listening === 2) console.log("READY");
  };
  Deno.serve({ hostname: SERVER_IP, port: WS_PORT, onListen }, handler);
  Deno.serve({
    hostname: SERVER_IP,
    port: WSS_PORT,
    cert: Deno.readTextFileSync(`${dir}/server.pem`),
    key: Deno.readTextFileSync(`${dir}/server.key`),
    onListen,
  }, handler);
}

/**
 * Pre-built frames: after the opening handshake, `messages` unmasked 64-byte text frames in one
 * `sendall`, then a close frame. Over TLS too (Python's ssl: OpenSSL).
 */
const FIREHOSE_PY = `
import base64, hashlib, socket, ssl, sys, threading
N = int(sys.argv[1])
DIR = sys.argv[2]
TAIL = b"f" * ${MSG - 8}
FRAMES = b"".join(b"\\x81" + bytes([${MSG}]) + b"%08d" % (i % 100000000) + TAIL for i in range(N))
CLOSE = b"\\x88\\x02\\x03\\xe8"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def handle(c):
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            more = c.recv(4096)
            if not more:
                return
            head += more
        key = b""
        for line in head.split(b"\\r\\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\n"
                  b"Connection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + b"\\r\\n\\r\\n")
        c.sendall(FRAMES)
        c.sendall(CLOSE)
        c.settimeout(10)
        while c.recv(65536):  # the client's close frame, then its FIN
            pass
    except (OSError, ssl.SSLError) as e:
        print("firehose:", e, file=sys.stderr, flush=True)
    finally:
        c.close()

def serve(port, context):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("${SERVER_IP}", port))
    s.listen(16)
    def loop():
        while True:
            c, _ = s.accept()
            if context is not None:
                try:
                    c = context.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    print("firehose: TLS:", e, file=sys.stderr, flush=True)
                    c.close()
                    continue
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(DIR + "/server.pem", DIR + "/server.key")
serve(${FIRE_PORT}, None)
serve(${FIRE_TLS_PORT}, context)
print("READY", flush=True)
threading.Event().wait()
`;

// ------------------------------------------------------------------ orchestration

function selfArgs(role: string, dir: string, extra: string[] = []): string[] {
  return denoRunSelf(import.meta.url, [
    ...["--role", role, "--dir", dir, "--rounds", String(rounds), "--warmup", String(warmup)],
    ...["--messages", String(messages), "--passes", String(passes)],
    ...extra,
  ]);
}

async function run(): Promise<void> {
  if (!isRoot("WebSocket")) return;
  const ours: Pass[] = [], kernel: Pass[] = [];
  const dir = Deno.makeTempDirSync({ prefix: "wsbench" });
  const cleanup = () => Deno.removeSync(dir, { recursive: true });
  const load = await runOnTestbed(BED, { tag: "ws", limitMs: 240000, cleanup }, async (spawn) => {
    makeCertificates(dir, SERVERNAME, [SERVER_IP]);
    const inNs = (...cmd: string[]) => ["netns", "exec", BED.ns, "taskset", "-c", "1", ...cmd];
    // The servers on CPU 1; the clients (ours and Deno's) on CPU 0.
    const server = spawn("ip", inNs(Deno.execPath(), ...selfArgs("server", dir)));
    const fire = spawn(
      "ip",
      inNs("/usr/bin/python3", "-u", "-c", FIREHOSE_PY, String(messages), dir),
    );
    await server.until("READY");
    await fire.until("READY");
    // Deno's WebSocket runs while no af_packet socket is open on the veth (which would be
    // handed a copy of each frame).
    const kernelPass = async () => {
      const args = selfArgs("kernel", dir, ["--pass", String(kernel.length + 1)]);
      const k = spawn("taskset", ["-c", "0", Deno.execPath(), ...args], {
        DENO_CERT: `${dir}/ca.pem`,
      });
      kernel.push(...JSON.parse(await k.until("RESULT ")).passes);
      await k.process.status;
    };
    await kernelPass();
    const d = spawn(Deno.execPath(), selfArgs("dpdk", dir));
    ours.push(...JSON.parse(await d.until("RESULT ")).passes);
    const status = await d.process.status;
    if (!status.success) throw new Error(`the DPDK process failed (exit ${status.code})`);
    if (passes === 2) await kernelPass();
    for (const c of [server, fire]) {
      c.kill();
      await c.process.status;
    }
  });
  report(ours, kernel, load);
}

/** The best rate of the passes (the machine's noise only ever slows a run). */
function bestRate(list: PathPass[], which: "fire" | "flood"): Rate {
  return list.map((p) => p[which]).reduce((a, b) => (b.mps > a.mps ? b : a));
}

function report(ours: Pass[], kernel: Pass[], load: Load): void {
  const paths = {
    ours_ws: ours.map((p) => p.ws),
    kernel_ws: kernel.map((p) => p.ws),
    ours_wss: ours.map((p) => p.wss),
    kernel_wss: kernel.map((p) => p.wss),
  };
  type Name = keyof typeof paths;
  const names = Object.keys(paths) as Name[];
  const stats = Object.fromEntries(names.map((n) => {
    const list = paths[n];
    return [n, {
      down: percentiles(list.flatMap((p) => p.down)),
      // The other way: the client's send → the server's message handler (where it stamps).
      up: percentiles(list.flatMap((p) => p.rtt.map((r, i) => r - p.down[i]))),
      rtt: percentiles(list.flatMap((p) => p.rtt)),
      fire: bestRate(list, "fire"),
      flood: bestRate(list, "flood"),
    }];
  })) as Record<
    Name,
    { down: Latency; up: Latency; rtt: Latency; fire: Rate; flood: Rate }
  >;
  const notes = names.flatMap((n) => paths[n].flatMap((p) => p.notes));
  const machine = machineInfo(load);
  const ratio = (scheme: "ws" | "wss", kind: "down" | "rtt", q: "p50" | "p99") =>
    stats[`kernel_${scheme}`][kind][q] / stats[`ours_${scheme}`][kind][q];
  if (opts.json) {
    const r3 = round3, lat = roundLatency;
    console.log(JSON.stringify({
      machine,
      rounds,
      passes,
      messages,
      flood_messages: floodMessages,
      message_bytes: MSG,
      ...Object.fromEntries(names.map((n) => [n, {
        one_way_us: lat(stats[n].down),
        client_to_server_us: lat(stats[n].up),
        round_trip_us: lat(stats[n].rtt),
        prebuilt_msgs_per_s: Math.round(stats[n].fire.mps),
        prebuilt_info: stats[n].fire.info,
        server_loop_msgs_per_s: Math.round(stats[n].flood.mps),
        passes: paths[n].map((p) => ({
          one_way_p99_us: r3(percentiles(p.down).p99),
          prebuilt_msgs_per_s: Math.round(p.fire.mps),
          server_loop_msgs_per_s: Math.round(p.flood.mps),
        })),
      }])),
      kernel_over_ours: {
        ws_one_way_p50: r3(ratio("ws", "down", "p50")),
        ws_one_way_p99: r3(ratio("ws", "down", "p99")),
        ws_round_trip_p99: r3(ratio("ws", "rtt", "p99")),
        wss_one_way_p99: r3(ratio("wss", "down", "p99")),
        wss_round_trip_p99: r3(ratio("wss", "rtt", "p99")),
      },
      problems: notes,
    }));
    return;
  }
  const f = (x: number, d = 1) => x.toFixed(d);
  console.log(headline("WebSocket", machine, load));
  console.log(
    `${
      vethSummary(BED)
    } servers on CPU 1: Deno.serve + Deno.upgradeWebSocket (echo, server loop), Python (pre-built frames; TLS ` +
      `by OpenSSL). ours: ws/ on stack/ on net_af_packet, on CPU 0, ws:// busy-polled, wss:// ` +
      `node:tls driven by StackDriver. Deno: the built-in WebSocket, on CPU 0 (taskset). ` +
      (passes === 2 ? "Order: Deno, ours, ours, Deno." : "Order: Deno, ours."),
  );
  const head = ["ours ws://", "Deno ws://", "ours wss://", "Deno wss://"];
  const rows: [string, (n: Name) => string][] = [
    [`server send → callback p50 µs`, (n) => f(stats[n].down.p50)],
    [`server send → callback p99 µs`, (n) => f(stats[n].down.p99)],
    [`server send → callback p99.9 µs`, (n) => f(stats[n].down.p999)],
    [`server send → callback max µs`, (n) => f(stats[n].down.max)],
    [`client send → server handler p50 µs`, (n) => f(stats[n].up.p50)],
    [`client send → server handler p99 µs`, (n) => f(stats[n].up.p99)],
    [`round trip p50 µs`, (n) => f(stats[n].rtt.p50)],
    [`round trip p99 µs`, (n) => f(stats[n].rtt.p99)],
    [`round trip p99.9 µs`, (n) => f(stats[n].rtt.p999)],
    [`round trip max µs`, (n) => f(stats[n].rtt.max)],
    [`round trip / 2 p50 µs`, (n) => f(stats[n].rtt.p50 / 2)],
    [`msgs/s, pre-built frames (${messages})`, (n) => f(stats[n].fire.mps, 0)],
    [`msgs/s, Deno server loop (${floodMessages})`, (n) => f(stats[n].flood.mps, 0)],
  ];
  console.log(tableRow(`64-B text messages, ${rounds} round trips`, 40, head, 13));
  for (const [name, cell] of rows) console.log(tableRow(name, 40, names.map(cell), 13));
  console.log(
    `Deno/ours: ws:// one-way p50 ${f(ratio("ws", "down", "p50"), 2)}x, p99 ` +
      `${f(ratio("ws", "down", "p99"), 2)}x (target ≥ 3x), round trip p99 ` +
      `${f(ratio("ws", "rtt", "p99"), 2)}x; wss:// one-way p99 ${
        f(ratio("wss", "down", "p99"), 2)
      }` +
      `x, round trip p99 ${f(ratio("wss", "rtt", "p99"), 2)}x; rate (pre-built) ws:// ` +
      `${f(stats.ours_ws.fire.mps / stats.kernel_ws.fire.mps, 2)}x, wss:// ` +
      `${f(stats.ours_wss.fire.mps / stats.kernel_wss.fire.mps, 2)}x`,
  );
  console.log(
    "notes: one way = the server's clock_gettime(CLOCK_MONOTONIC) just before socket.send → " +
      "the client's, first thing in its message callback (every process reads the same clock, " +
      "~50 ns a read through FFI). The server is Deno too: its own send path and wake-up are " +
      "in every figure. Ours ws:// busy-polls CPU 0; Deno's WebSocket sleeps in epoll between " +
      "messages. Rates: from the first message to the last, best of the passes; the server " +
      "loop's rate is bounded by the server (it sends each message with its own write).",
  );
  for (const n of notes) console.log(`PROBLEM: ${n}`);
}

switch (opts.role) {
  case "dpdk":
    await dpdkRole();
    break;
  case "kernel":
    await kernelRole();
    break;
  case "server":
    serverRole();
    break;
  default:
    await run();
}
