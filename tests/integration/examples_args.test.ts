// Every example, run with bad arguments as a new user would: one line naming the option and
// what it accepts, exit code 2, no stack trace, nothing left in /var/run/dpdk or as a TAP.
// And every long-running example stops on SIGINT and SIGTERM with its summary and exit 0.
import assert from "node:assert/strict";
import { type ChildResult, IS_ROOT, runDeno, sh, startDeno } from "../helpers.ts";

const FLAGS = ["--allow-ffi", "--allow-read", "--allow-env", "--allow-write"];
/** EAL arguments for the cases that start the EAL: small, no files in /var/run/dpdk. */
const EAL = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=notice"];
const NULL2 = ["--vdev=net_null0", "--vdev=net_null1"];

interface Case {
  /** Example file name without `.ts`. */
  example: string;
  args: string[];
  /** What the output must say: the option (or port, interface, lcore) and what is accepted. */
  says: RegExp;
  /** Found before the EAL starts: the usage follows the message. Default true. */
  early?: boolean;
}

/** Builds the table; `dir` is an existing directory, used where a file path is needed. */
function cases(dir: string): Case[] {
  const tapName = `ddargs${Deno.pid % 100000}`;
  return [
    // skeleton
    ...["0", "abc", "1.5", "100000"].map((burst) => ({
      example: "skeleton",
      args: ["--", "--burst", burst],
      says: new RegExp(`--burst must be an integer in 1\\.\\.1024, got "${burst}"`),
    })),
    {
      example: "skeleton",
      args: ["--", "--duration=abc"],
      says: /--duration must be a number of seconds ≥ 0.*got "abc"/,
    },
    {
      example: "skeleton",
      args: ["--", "--duration=-1"],
      says: /--duration must be a number of seconds ≥ 0.*got "-1"/,
    },
    {
      example: "skeleton",
      args: ["--", "--duration", "-1"],
      says: /--duration must be a number of seconds ≥ 0.*got "-1"/,
    },
    {
      example: "skeleton",
      args: ["--", "--stats-interval", "x"],
      says: /--stats-interval must be a number of seconds ≥ 0/,
    },
    { example: "skeleton", args: ["--", "--bogus"], says: /unknown option --bogus \(options: / },
    { example: "skeleton", args: ["--", "--burst"], says: /--burst needs a value: an integer/ },
    { example: "skeleton", args: ["--", "--help=1"], says: /--help takes no value/ },
    { example: "skeleton", args: ["--", "stray"], says: /unexpected argument "stray"/ },
    { example: "skeleton", args: ["--bogus"], says: /skeleton: EAL: .*--bogus/, early: false },
    {
      example: "skeleton",
      args: ["--duration", "5"],
      says: /skeleton: EAL: [^]*--duration is skeleton's own option: put it after "--"/,
      early: false,
    },
    {
      example: "skeleton",
      args: ["-l", "0", ...EAL, "--vdev=net_null0"],
      says: /number of ports must be even and at least 2, found 1/,
      early: false,
    },
    // hello and helloworld: EAL arguments only
    { example: "hello", args: ["--bogus"], says: /hello: EAL: .*--bogus/, early: false },
    { example: "hello", args: ["--", "--x"], says: /unknown option --x/ },
    {
      example: "helloworld",
      args: ["-c", "0x4", ...EAL],
      says: /helloworld: EAL: .*(0x4|lcore 2|core 2)/,
      early: false,
    },
    { example: "helloworld", args: ["--bogus"], says: /helloworld: EAL: .*--bogus/, early: false },
    { example: "helloworld", args: ["--", "x"], says: /unexpected argument "x"/ },
    // l2fwd
    { example: "l2fwd", args: ["--", "-p", "xyz"], says: /-p must be a hexadecimal port mask/ },
    { example: "l2fwd", args: ["--", "-p", "0"], says: /-p must be a hexadecimal port mask/ },
    { example: "l2fwd", args: ["--", "-T", "-1"], says: /-T must be an integer in 0\.\.86400/ },
    { example: "l2fwd", args: ["--", "--duration", "abc"], says: /--duration must be/ },
    { example: "l2fwd", args: ["--", "-q", "2"], says: /unknown option -q/ },
    {
      example: "l2fwd",
      args: ["--", "-p", "0x4"],
      says: /-p 0x4: port 2 does not exist \(ports: 0, 1\)/,
      early: false,
    },
    ...(IS_ROOT
      ? [{
        // a TAP is created, then the mask is refused: the TAP must go with the process
        example: "l2fwd",
        args: ["-l", "0", ...EAL, `--vdev=net_tap0,iface=${tapName}`, "--", "-p", "0x2"],
        says: /-p 0x2: port 1 does not exist \(ports: 0\)/,
        early: false,
      }]
      : []),
    // mqfwd
    {
      example: "mqfwd",
      args: ["--", "--duration", "abc"],
      says: /--duration must be a number of seconds/,
    },
    { example: "mqfwd", args: ["--", "--workers", "0"], says: /--workers must be an integer in 1/ },
    { example: "mqfwd", args: ["--", "--burst", "0"], says: /--burst must be an integer in 1/ },
    {
      example: "mqfwd",
      args: ["-l", "0-1", ...EAL, ...NULL2],
      says: /mqfwd: needs 3 lcores for --workers 2 \(have 2\): pass -l 0-2 .*or --workers 1/,
      early: false,
    },
    {
      example: "mqfwd",
      args: ["-l", "0-1", ...EAL, "--vdev=net_null0", "--", "--workers", "1"],
      says: /mqfwd: needs two ports \(found 1\)/,
      early: false,
    },
    // pingd
    { example: "pingd", args: [], says: /give at least one address.*--ip/ },
    { example: "pingd", args: ["--", "--ip", "10.0.0.300"], says: /--ip must be an IPv4 address/ },
    { example: "pingd", args: ["--", "--ip6", "zz::1"], says: /--ip6 must be an IPv6 address/ },
    {
      example: "pingd",
      args: ["--", "--ip", "10.0.0.1", "--duration", "abc"],
      says: /--duration must be a number of seconds/,
    },
    {
      example: "pingd",
      args: ["--", "--ip", "10.0.0.1", "--iface", "a,b"],
      says: /--iface must be a network interface name/,
    },
    {
      example: "pingd",
      args: ["--", "--ip", "10.0.0.1", "--iface", "nosuch0"],
      says: /--iface nosuch0: no interface nosuch0/,
      early: false,
    },
    // pktgen
    { example: "pktgen", args: ["--", "--count", "0"], says: /--count must be an integer ≥ 1/ },
    { example: "pktgen", args: ["--", "--rate=-5"], says: /--rate must be a number of packets/ },
    { example: "pktgen", args: ["--", "--rate", "abc"], says: /--rate must be a number/ },
    { example: "pktgen", args: ["--", "--dst-mac", "zz"], says: /--dst-mac must be a MAC address/ },
    { example: "pktgen", args: ["--", "--src-mac", "00:11"], says: /--src-mac must be a MAC/ },
    { example: "pktgen", args: ["--", "--size", "63"], says: /--size must be frame sizes .*64/ },
    {
      example: "pktgen",
      args: ["--", "--src", "10.0.0.5-10.0.0.1"],
      says: /--src must be an IPv4 address or range .*\(the range is empty\)/,
    },
    { example: "pktgen", args: ["--", "--dst-port", "70000"], says: /--dst-port must be a UDP/ },
    { example: "pktgen", args: ["--", "--burst", "2000"], says: /--burst must be an integer in/ },
    {
      example: "pktgen",
      args: ["--", "--tx-port", "3"],
      says: /--tx-port 3: port 3 does not exist \(ports: 0\)/,
      early: false,
    },
    {
      example: "pktgen",
      args: ["--", "--iface", "nosuch0"],
      says: /--iface nosuch0: no interface nosuch0/,
      early: false,
    },
    // capture
    {
      example: "capture",
      args: ["--", "--out", "/proc/x.pcap"],
      says: /--out must be a file that can be created, got "\/proc\/x\.pcap"/,
    },
    {
      example: "capture",
      args: ["--", "--out", dir],
      says: /--out must be a file that can be created, .*\(it is a directory\)/,
    },
    {
      example: "capture",
      args: ["--", "--out", `${dir}/missing/x.pcap`],
      says: /--out must be a file that can be created, .*\(no such folder/,
    },
    { example: "capture", args: ["--", "--snaplen", "0"], says: /--snaplen must be an integer/ },
    { example: "capture", args: ["--", "--port", "abc"], says: /--port must be a port number/ },
    { example: "capture", args: ["--", "--proto", "sctp"], says: /--proto must be one of udp/ },
    { example: "capture", args: ["--", "--host", "300.1.1.1"], says: /--host must be an IPv4/ },
    { example: "capture", args: ["--", "-c", "0"], says: /-c must be an integer ≥ 1/ },
    {
      example: "capture",
      args: ["--", "--proto", "arp", "--port", "53"],
      says: /--port needs --proto udp or tcp/,
    },
    {
      example: "capture",
      args: ["--", "--iface", "nosuch0", "--out", `${dir}/never.pcap`],
      says: /--iface nosuch0: no interface nosuch0/,
      early: false,
    },
    // fetch
    { example: "fetch", args: ["--", "--ip", "10.0.0.2/24"], says: /give the URL to fetch/ },
    {
      example: "fetch",
      args: ["--", "--ip", "10.0.0.2/24", "https://example.com/"],
      says: /example\.com: there is no name lookup here; give --address A\.B\.C\.D/,
    },
    {
      example: "fetch",
      args: ["--", "--ip", "10.0.0.2/24", "ftp://10.0.0.1/"],
      says: /ftp:\/\/10\.0\.0\.1\/: expected http:\/\/HOST\[:PORT\]\/path or https:\/\//,
    },
    {
      example: "fetch",
      args: ["--", "--ip", "10.0.0.2/24", "http://10.0.0.1/", "--ca", "x.pem"],
      says: /--ca: only for https:\/\//,
    },
    {
      example: "fetch",
      args: ["--", "--ip", "10.0.0.2/24", "http://10.0.0.1/", "http://10.0.0.1/b"],
      says: /unexpected argument "http:\/\/10\.0\.0\.1\/b"/,
    },
    {
      example: "fetch",
      args: ["--", "http://10.0.0.1/"],
      says: /give --ip A\.B\.C\.D\/N, or --dhcp/,
    },
    // wscat
    { example: "wscat", args: ["--", "--ip", "10.0.0.2/24"], says: /give the URL, like ws:\/\// },
    {
      example: "wscat",
      args: ["--", "--ip", "10.0.0.2/24", "wss://feed.test/"],
      says: /feed\.test: there is no name lookup here; give --address A\.B\.C\.D/,
    },
    {
      example: "wscat",
      args: ["--", "--ip", "10.0.0.2/24", "ws://10.0.0.1/", "--digest", "--quiet"],
      says: /--digest and --quiet: choose one/,
    },
    // orderbook
    {
      example: "orderbook",
      args: ["--", "--ip", "10.0.0.2/24", "--ws", "ws://10.0.0.1/ws"],
      says: /give --exchange binance or --exchange kraken/,
    },
    {
      example: "orderbook",
      args: ["--", "--exchange", "bitstamp"],
      says: /--exchange must be one of binance, kraken, got "bitstamp"/,
    },
    {
      example: "orderbook",
      args: ["--", "--exchange", "kraken", "--symbol", "BTC/USD", "--depth", "20"],
      says: /--depth 20: Kraken offers 10, 25, 100, 500 or 1000/,
    },
    {
      example: "orderbook",
      args: [
        ...["--", "--ip", "10.0.0.2/24", "--exchange", "binance", "--symbol", "BTCUSDT"],
        ...["--ws", "ws://10.0.0.1/ws/btcusdt@depth"],
      ],
      says: /binance needs --rest URL, where the snapshots come from/,
    },
    {
      example: "orderbook",
      args: [
        ...["--", "--ip", "10.0.0.2/24", "--exchange", "kraken", "--symbol", "BTC/USD"],
        ...["--ws", "wss://ws.kraken.com/v2"],
      ],
      says: /ws\.kraken\.com: there is no name lookup here; give --address A\.B\.C\.D/,
    },
    {
      example: "orderbook",
      args: ["--", "--kernel", "--exchange", "kraken", "--ca", "/etc/hostname"],
      says: /--ca with --kernel: Deno's WebSocket and fetch take CAs from DENO_CERT=FILE instead/,
    },
  ];
}

function runtimeDirs(): string[] {
  try {
    return [...Deno.readDirSync("/var/run/dpdk")].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function taps(): string[] {
  try {
    return sh("ip", "-o", "link", "show", "type", "tun").split("\n")
      .map((l) => l.split(": ")[1]).filter((n) => n).sort();
  } catch {
    return []; // no `ip`: nothing to compare
  }
}

function checkRefusal(c: Case, r: ChildResult): void {
  const all = r.stdout + r.stderr;
  const what = `${c.example} ${c.args.join(" ")}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.equal(r.code, 2, `exit ${r.code}: ${what}`);
  assert.match(all, c.says, what);
  assert.match(r.stderr, new RegExp(`^${c.example}: `, "m"), what);
  assert.doesNotMatch(r.stdout, /^\s+at /m, what);
  assert.doesNotMatch(r.stderr, /^\s+at /m, what);
  if (c.early ?? true) {
    assert.match(r.stderr, new RegExp(`^usage: ${c.example}\\.ts`, "m"), what);
    assert.doesNotMatch(all, /EAL: Detected/, `the EAL started: ${what}`);
  }
}

Deno.test("every example refuses bad arguments with one line, exit 2, and leaves nothing", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "examples_args_" });
  const dirsBefore = runtimeDirs(), tapsBefore = taps();
  try {
    const table = cases(dir);
    for (const example of new Set(table.map((c) => c.example))) {
      await t.step(example, async () => {
        const mine = table.filter((c) => c.example === example);
        // A few at a time: each run is a process with its own EAL (no shared files).
        for (let i = 0; i < mine.length; i += 4) {
          const group = mine.slice(i, i + 4);
          const results = await Promise.all(
            group.map((c) =>
              runDeno(`examples/${c.example}.ts`, c.args, { flags: FLAGS, cwd: dir })
            ),
          );
          group.forEach((c, k) => checkRefusal(c, results[k]));
        }
      });
    }
    // No capture file was created by a refused run (the default name in the working directory).
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
    assert.deepEqual(runtimeDirs(), dirsBefore, "entries left in /var/run/dpdk");
    assert.deepEqual(taps(), tapsBefore, "TAP interfaces left behind");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an EAL refusal prints DPDK's reason in one line and a hint, not a stack", async () => {
  const r = await runDeno("examples/skeleton.ts", ["--bogus"], { flags: FLAGS });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^skeleton: EAL: .+$/m);
  assert.match(r.stderr, /^hint: EAL arguments go before "--".*EAL parameters guide/m);
  assert.doesNotMatch(r.stderr, /DpdkError|^\s+at /m);
});

/** Long-running examples, each on net_null ports (no TAP, no root), and what they print when up. */
const RUNNING: { example: string; args: string[]; ready: RegExp; summary: RegExp }[] = [
  {
    example: "skeleton",
    args: [],
    ready: /\[Ctrl\+C to quit\]/,
    summary: /total: \d+ packets[^]*mbufs in use: 0 \(at start 0\)/,
  },
  {
    example: "l2fwd",
    args: ["--", "-T", "0"],
    ready: /entering main loop/,
    summary: /Total packets received: +\d+[^]*mbufs in use: 0[^]*Bye\.\.\./,
  },
  {
    example: "pktgen",
    args: ["--", "--rate", "1000"],
    ready: /\[Ctrl\+C to quit\]/,
    summary: /sent \d+ packets[^]*mbufs in use: 0 \(at start 0\)/,
  },
  {
    example: "mqfwd",
    args: ["--", "--workers", "1"], // 2 lcores: the main one and one worker
    ready: /forwards queue 0/,
    summary: /queue 0 \(lcore 1\): received \d+[^]*mbufs in use: 0 \(at start 0\)/,
  },
  {
    example: "pingd",
    args: ["-l", "0", ...EAL, "--vdev=net_null0", "--", "--ip", "10.0.0.1"],
    ready: /\[Ctrl\+C to quit\]/,
    summary: /received \d+, replies sent 0[^]*mbufs in use: 0 \(at start 0\)/,
  },
  {
    example: "capture",
    // net_null's zeroed frames are not ARP: nothing is written
    args: ["-l", "0", ...EAL, "--vdev=net_null0", "--", "--proto", "arp", "--out", "OUT"],
    ready: /\[Ctrl\+C to quit\]/,
    summary: /captured 0, filtered out \d+[^]*wrote 0 packets[^]*mbufs in use: 0/,
  },
];

Deno.test("SIGINT and SIGTERM stop every long-running example with its summary, exit 0", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "examples_signals_" });
  try {
    for (const run of RUNNING) {
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        await t.step(`${run.example} ${signal}`, async () => {
          const args = run.args.map((a) => a === "OUT" ? `${dir}/${signal}.pcap` : a);
          const child = startDeno(`examples/${run.example}.ts`, args, FLAGS);
          await child.waitFor(run.ready);
          await new Promise((r) => setTimeout(r, 300));
          const r = await child.stop(signal);
          const what = `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
          assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal})\n${what}`);
          assert.match(r.stdout, new RegExp(`${signal} received`), what);
          assert.match(r.stdout, run.summary, what);
          assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, what);
        });
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
