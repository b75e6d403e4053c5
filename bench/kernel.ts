/**
 * Kernel comparison: UDP from a network namespace through a veth, received by
 * (a) this package on net_af_packet (or net_af_xdp), (b) Deno's UDP socket
 * (`Deno.listenDatagram`) and (c) `node:dgram`, one after the other in the
 * same run, from the same sender. The sender is a second DPDK process (this
 * file with `--role sender`) inside the namespace, on the other CPU, so the
 * kernel path is not limited by a slow sender; its offered rate is reported.
 *
 *   deno run -A bench/kernel.ts -- [--seconds 5] [--pmd af_xdp|af_packet] [--json]
 *
 * Needs root (it creates and removes the namespace `ddbench` and its veth).
 *
 * @module
 */
import { parseArgs } from "node:util";
import dgram from "node:dgram";
import { Eal, Mempool, PacketBatch, Port, StopSignal } from "../mod.ts";
import { macToNumber, PacketParser, parseIpv4, writeUdpFrame } from "../net/mod.ts";

const NS = "ddbench";
const HOST_IF = "ddb-h";
const NS_IF = "ddb-n";
const HOST_IP = "10.99.5.1";
const NS_IP = "10.99.5.2";
const UDP_PORT = 9000;

const { values: opts } = parseArgs({
  args: Deno.args.includes("--") ? Deno.args.slice(Deno.args.indexOf("--") + 1) : Deno.args,
  options: {
    role: { type: "string", default: "run" },
    seconds: { type: "string", default: "5" },
    pmd: { type: "string", default: "af_xdp" },
    "dst-mac": { type: "string" },
    json: { type: "boolean" },
  },
});
const seconds = Number(opts.seconds);

function ealFor(prefix: string, lcore: number, vdev: string): string[] {
  return [
    "-l",
    String(lcore),
    "--no-huge",
    "-m",
    "512",
    "--no-pci",
    "--no-shconf",
    `--file-prefix=${prefix}`,
    "--log-level=error",
    `--vdev=${vdev}`,
  ];
}

function vdevFor(iface: string): string {
  return opts.pmd === "af_xdp"
    ? `net_af_xdp0,iface=${iface},start_queue=0,queue_count=1`
    : `net_af_packet0,iface=${iface}`;
}

/** Sends 60-byte UDP frames to the host side as fast as the port takes them. */
function sender(): void {
  Eal.init(ealFor("ddsend", 1, vdevFor(NS_IF)));
  const pool = Mempool.create({ size: 8191 });
  const port = Port.open(0, { pool });
  const batch = new PacketBatch(pool, 32);
  const fields = {
    srcMac: macToNumber(port.mac),
    dstMac: macToNumber(opts["dst-mac"]!),
    srcIp: parseIpv4(NS_IP),
    dstIp: parseIpv4(HOST_IP),
    srcPort: 40000,
    dstPort: UDP_PORT,
    payloadLength: 18,
  };
  let sent = 0;
  const t0 = performance.now(), end = t0 + seconds * 1000;
  for (let it = 0;; it++) {
    const first = batch.alloc(batch.free, 60);
    for (let i = first; i < batch.count; i++) {
      fields.srcPort = 40000 + (i & 15); // a few flows
      writeUdpFrame(batch.view, batch.data, batch.offset(i), fields);
    }
    sent += port.send(0, batch);
    if ((it & 255) === 0 && performance.now() > end) break;
  }
  const elapsed = (performance.now() - t0) / 1000;
  console.log(`RESULT ${JSON.stringify({ sent, pps: sent / elapsed })}`);
  batch.close();
  Eal.cleanup();
}

/** Counts UDP datagrams to UDP_PORT received by this package for `seconds` after READY. */
function dpdkReceiver(): void {
  Eal.init(ealFor("ddrecv", 0, vdevFor(HOST_IF)));
  const pool = Mempool.create({ size: 8191 });
  const port = Port.open(0, { pool });
  const batch = new PacketBatch(pool, 64);
  const parser = new PacketParser();
  const stop = StopSignal.trap(["SIGTERM", "SIGINT"]);
  let count = 0, first = 0, last = 0;
  console.log("READY");
  while (!stop.requested) {
    const n = port.receive(0, batch);
    for (let i = 0; i < n; i++) {
      parser.parse(batch.view, batch.offset(i), batch.length(i));
      if (parser.dstPort === UDP_PORT && parser.ipProtocol === 17) {
        if (count === 0) first = performance.now();
        count++;
      }
    }
    if (n > 0) {
      last = performance.now();
      batch.clear();
    }
  }
  console.log(`RESULT ${JSON.stringify({ count, activeSeconds: (last - first) / 1000 })}`);
  batch.close();
  Eal.cleanup();
}

async function denoReceiver(): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const listen = (Deno as any).listenDatagram as (o: unknown) => Deno.DatagramConn;
  const conn = listen({ hostname: HOST_IP, port: UDP_PORT, transport: "udp" });
  let count = 0;
  let first = 0, last = 0;
  Deno.addSignalListener("SIGTERM", () => {
    console.log(`RESULT ${JSON.stringify({ count, activeSeconds: (last - first) / 1000 })}`);
    Deno.exit(0);
  });
  console.log("READY");
  for (;;) {
    await conn.receive();
    last = performance.now();
    if (count++ === 0) first = last;
  }
}

function nodeReceiver(): void {
  const sock = dgram.createSocket("udp4");
  let count = 0, first = 0, last = 0;
  sock.on("message", () => {
    last = performance.now();
    if (count++ === 0) first = last;
  });
  Deno.addSignalListener("SIGTERM", () => {
    console.log(`RESULT ${JSON.stringify({ count, activeSeconds: (last - first) / 1000 })}`);
    Deno.exit(0);
  });
  sock.bind(UDP_PORT, HOST_IP, () => console.log("READY"));
}

// ------------------------------------------------------------ orchestration

function sh(...args: string[]): string {
  const out = new Deno.Command(args[0], { args: args.slice(1), stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function teardown(): void {
  for (const args of [["ip", "link", "del", HOST_IF], ["ip", "netns", "del", NS]]) {
    try {
      sh(...args);
    } catch { /* not there */ }
  }
  // EAL creates its runtime directory even with --no-shconf.
  for (const prefix of ["ddsend", "ddrecv"]) {
    try {
      Deno.removeSync(`/var/run/dpdk/${prefix}`, { recursive: true });
    } catch { /* not there */ }
  }
}

function setup(): { hostMac: string } {
  teardown();
  sh("ip", "netns", "add", NS);
  sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF);
  sh("ip", "link", "set", NS_IF, "netns", NS);
  sh("ip", "addr", "add", `${HOST_IP}/24`, "dev", HOST_IF);
  sh("ip", "link", "set", HOST_IF, "up");
  sh("ip", "-n", NS, "addr", "add", `${NS_IP}/24`, "dev", NS_IF);
  sh("ip", "-n", NS, "link", "set", NS_IF, "up");
  const hostMac = sh("ip", "-o", "link", "show", HOST_IF).match(/link\/ether (\S+)/)![1];
  return { hostMac };
}

interface Measured {
  receiver: string;
  offered_pps: number;
  received_pps: number;
  received: number;
  sent: number;
}

async function measure(receiver: string, hostMac: string): Promise<Measured> {
  const self = new URL(import.meta.url).pathname;
  const flags = ["run", "--allow-all", "--unstable-net", self, "--"];
  const rx = new Deno.Command(Deno.execPath(), {
    args: [...flags, "--role", receiver, "--pmd", opts.pmd!],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = rx.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return buffered;
      buffered += value;
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return line;
  };
  const ready = await nextLine();
  if (ready !== "READY") throw new Error(`receiver ${receiver} did not start: ${ready}`);
  await new Promise((r) => setTimeout(r, 300));
  const tx = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      NS,
      Deno.execPath(),
      ...flags,
      "--role",
      "sender",
      "--pmd",
      opts.pmd!,
      "--seconds",
      String(seconds),
      "--dst-mac",
      hostMac,
    ],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const sentLine = new TextDecoder().decode(tx.stdout).split("\n").find((l) =>
    l.startsWith("RESULT ")
  );
  if (!sentLine) throw new Error("the sender failed");
  const { sent, pps } = JSON.parse(sentLine.slice(7));
  await new Promise((r) => setTimeout(r, 300));
  rx.kill("SIGTERM");
  let line = "";
  while (!line.startsWith("RESULT ")) {
    line = await nextLine();
    if (line === "" && buffered === "") break;
  }
  await rx.status;
  const { count } = JSON.parse(line.slice(7) || '{"count":0}');
  return {
    receiver,
    offered_pps: pps,
    received_pps: count / seconds,
    received: count,
    sent,
  };
}

async function run(): Promise<void> {
  if (Deno.uid() !== 0) {
    console.error("kernel comparison skipped: it needs root to create a network namespace");
    return;
  }
  const { hostMac } = setup();
  const rows: Measured[] = [];
  try {
    for (const receiver of ["dpdk", "deno-udp", "node-dgram"]) {
      rows.push(await measure(receiver, hostMac));
      console.error(
        `kernel: ${receiver}: ${(rows.at(-1)!.received_pps / 1e6).toFixed(3)} Mpps received ` +
          `of ${(rows.at(-1)!.offered_pps / 1e6).toFixed(3)} Mpps offered`,
      );
    }
  } finally {
    teardown();
  }
  const dpdk = rows[0].received_pps;
  const result = rows.map((r) => ({ ...r, dpdk_ratio: dpdk / r.received_pps }));
  if (opts.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(
    `\nUDP from a namespace over a veth, 60-byte frames, ${seconds} s each; ` +
      `sender: a DPDK process on net_${opts.pmd} in the namespace`,
  );
  console.log("receiver                         offered Mpps  received Mpps  dpdk/this");
  const names: Record<string, string> = {
    "dpdk": `deno-dpdk (net_${opts.pmd})`,
    "deno-udp": "Deno.listenDatagram",
    "node-dgram": "node:dgram in Deno",
  };
  for (const r of result) {
    console.log(
      `${names[r.receiver].padEnd(32)} ${(r.offered_pps / 1e6).toFixed(3).padStart(12)} ` +
        `${(r.received_pps / 1e6).toFixed(3).padStart(14)} ${r.dpdk_ratio.toFixed(1).padStart(10)}`,
    );
  }
  const bound = rows[0].received_pps > 0.9 * rows[0].offered_pps;
  if (bound) {
    console.log(
      "deno-dpdk received ~all that was offered: the sender bounds its figure (the ratio is a floor).",
    );
  }
}

switch (opts.role) {
  case "sender":
    sender();
    break;
  case "dpdk":
    dpdkReceiver();
    break;
  case "deno-udp":
    await denoReceiver();
    break;
  case "node-dgram":
    nodeReceiver();
    break;
  default:
    await run();
}
