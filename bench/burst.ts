/**
 * Deno vs C on the same ports in the same process, alternating runs.
 *
 *   deno task bench                        # table
 *   deno task bench -- --json              # the same rows as one JSON array
 *   deno run -A bench/burst.ts [EAL args] -- [--pairs 5] [--seconds 0.2] [--latency 20]
 *       [--workloads io,macswap,parse,parse-raw,txgen,rxdrop] [--bursts 1,8,32,64,256] [--json]
 *
 * The program re-runs itself as a child with V8's GC tracing on, so every
 * garbage collection during a timed Deno loop is counted, then prints:
 * per workload and burst size the Deno and C rates (median of the pairs), the
 * ratio Deno/C (median, min, max), the cost of a no-op FFI call and of an
 * empty burst, JS heap and GC activity, and a per-burst latency profile.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { library } from "../ffi/library.ts";
import { Eal, Mempool, PacketBatch, Port, splitArgs, VirtualDevice } from "../mod.ts";
import { buildTcpFrame, buildUdpFrame, PacketParser } from "../net/mod.ts";
import {
  cLoops,
  denoIo,
  denoMacswap,
  denoParse,
  denoParseRaw,
  denoRxdrop,
  denoTxgen,
  FLOW_SLOTS,
  latencyLoop,
  txgenState,
} from "./loops.ts";
import { memoryArgs } from "./memory.ts";

const DEFAULT_EAL = [
  "-l",
  "0",
  ...memoryArgs(1024),
  "--no-pci",
  "--no-shconf",
  "--log-level=warning",
  "--vdev=net_null0",
  "--vdev=net_null1",
];
const WORKLOADS = ["io", "macswap", "parse", "parse-raw", "txgen", "rxdrop"] as const;
type Workload = typeof WORKLOADS[number];

const { eal, app } = splitArgs(Deno.args);
const { values: opts } = parseArgs({
  args: app,
  options: {
    child: { type: "boolean" },
    json: { type: "boolean" },
    pairs: { type: "string", default: "5" },
    seconds: { type: "string", default: "0.2" },
    latency: { type: "string", default: "20" },
    workloads: { type: "string", default: WORKLOADS.join(",") },
    bursts: { type: "string", default: "1,8,32,64,256" },
  },
});

/** One table row; the JSON output uses these field names. */
interface Row {
  workload: string;
  burst: number;
  deno_mpps: number;
  c_mpps: number;
  deno_ns_per_packet: number;
  c_ns_per_packet: number;
  ratio: number;
  ratio_min: number;
  ratio_max: number;
  gcs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------- the child

function child(): void {
  const pairs = Number(opts.pairs);
  const seconds = Number(opts.seconds);
  const workloads = opts.workloads.split(",") as Workload[];
  const bursts = opts.bursts.split(",").map(Number);
  const s = library().symbols;
  // V8's GC trace goes through C stdio: unbuffered, it stays in order with our markers.
  s.dd_stdout_unbuffered();
  Eal.init(eal.length > 0 ? eal : DEFAULT_EAL);
  const pool = Mempool.create({ name: "bench", size: 16383, cacheSize: 256 });
  const [rx, tx] = [Port.open(0, { pool }), Port.open(1, { pool })];
  const ringDev = VirtualDevice.create("net_ring0");
  const ring = Port.open(ringDev.portId, { pool });
  const emptyDev = VirtualDevice.create("net_ring1");
  const empty = Port.open(emptyDev.portId, { pool });
  const c = cLoops();
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const say = (tag: string, value: unknown) => console.log(`${tag} ${JSON.stringify(value)}`);
  const progress = (text: string) => console.error(`bench: ${text}`);

  // Parse traffic: 992 frames (31 bursts of 32; the ring holds 1023) with 64 flows, mixed sizes, 1 in 16 not UDP.
  const fill = new PacketBatch(pool, 992);
  for (let i = 0; i < 992; i++) {
    const flow = i % 64;
    const common = {
      srcMac: "02:00:00:00:00:01",
      dstMac: "02:00:00:00:00:02",
      srcIp: `10.1.${flow}.${1 + (flow % 7)}`,
      dstIp: `10.2.${flow % 5}.${9 + flow}`,
      srcPort: 1000 + flow,
      dstPort: 2000 + (flow % 9),
      payload: new Uint8Array([18, 82, 210, 466, 978, 1458][i % 6]),
    };
    const frame = i % 16 === 15
      ? buildTcpFrame({ ...common, flags: 0x10, seq: i })
      : buildUdpFrame(common);
    const at = fill.alloc(1, frame.length);
    fill.copyIn(at, frame);
  }
  ring.send(0, fill);
  fill.close();

  // Each workload as two closures of the same shape, so pairs alternate freely.
  const tables = {
    deno: new Uint32Array(FLOW_SLOTS + 1),
    raw: new Uint32Array(FLOW_SLOTS + 1),
    c: new Uint32Array(FLOW_SLOTS + 1),
  };
  const parser = new PacketParser();
  const txState = txgenState();
  const seq = new BigUint64Array(1);
  const runners = (w: Workload, batch: PacketBatch) => {
    const b = batch.capacity;
    switch (w) {
      case "io":
        return {
          deno: (n: number) => denoIo(rx, tx, batch, n),
          c: (n: number) => c.io(0, 1, b, n),
        };
      case "macswap":
        return {
          deno: (n: number) => denoMacswap(rx, tx, batch, n),
          c: (n: number) => c.macswap(0, 1, b, n),
        };
      case "parse":
        return {
          deno: (n: number) => denoParse(ring, batch, n, tables.deno, parser),
          c: (n: number) => c.parse(ring.id, b, n, tables.c),
        };
      case "parse-raw":
        return {
          deno: (n: number) => denoParseRaw(ring, batch, n, tables.raw),
          c: (n: number) => c.parse(ring.id, b, n, tables.c),
        };
      case "txgen":
        return {
          deno: (n: number) => denoTxgen(tx, batch, n, txState),
          c: (n: number) => c.txgen(1, pool, b, n, seq),
        };
      case "rxdrop":
        return {
          deno: (n: number) => denoRxdrop(rx, batch, n),
          c: (n: number) => c.rxdrop(0, b, n),
        };
    }
  };
  const timed = (f: (n: number) => number, n: number) => {
    const t0 = performance.now();
    const packets = f(n);
    return packets / ((performance.now() - t0) / 1000) / 1e6;
  };

  // Correctness first: the parse loops over the same 992 frames count the same flows. Bursts
  // of 32, so our receive never stashes and every loop sees the ring's frames in one order.
  {
    const batch = new PacketBatch(pool, 32);
    const r = runners("parse", batch)!;
    r.deno(31);
    r.c(31);
    runners("parse-raw", batch)!.deno(31);
    say("PARSECHECK", {
      match: tables.deno.every((v, i) => v === tables.c[i] && v === tables.raw[i]),
      packets: tables.deno.reduce((a, v) => a + v, 0),
      flows: tables.deno.filter((v, i) => v > 0 && i < FLOW_SLOTS).length,
      nonUdp: tables.deno[FLOW_SLOTS],
    });
    batch.close();
  }

  // Call costs: a no-op FFI call, an empty burst through the API and raw.
  {
    const batch = new PacketBatch(pool, 32);
    const handle = batch.unsafeHandle;
    const calls = 5_000_000;
    const noop = s.dd_noop, rxRaw = s.dd_rx_burst, id = empty.id;
    for (let i = 0; i < 100_000; i++) noop();
    let t0 = performance.now();
    for (let i = 0; i < calls; i++) noop();
    const noopNs = (performance.now() - t0) * 1e6 / calls;
    for (let i = 0; i < 100_000; i++) rxRaw(id, 0, handle);
    t0 = performance.now();
    for (let i = 0; i < calls; i++) rxRaw(id, 0, handle);
    const rawNs = (performance.now() - t0) * 1e6 / calls;
    for (let i = 0; i < 100_000; i++) empty.receive(0, batch);
    t0 = performance.now();
    for (let i = 0; i < calls; i++) empty.receive(0, batch);
    const apiNs = (performance.now() - t0) * 1e6 / calls;
    say("CALLS", { noopNs, emptyBurstRawNs: rawNs, emptyBurstApiNs: apiNs });
    batch.close();
  }

  gc();
  const heapStart = Deno.memoryUsage().heapUsed;
  let denoPackets = 0;
  for (const w of workloads) {
    for (const burst of bursts) {
      const batch = new PacketBatch(pool, burst);
      const r = runners(w, batch)!;
      // Calibrate on C: iterations for `seconds` per run.
      let n = 64;
      for (;;) {
        const t0 = performance.now();
        r.c(n);
        const dt = (performance.now() - t0) / 1000;
        if (dt > 0.02) {
          n = Math.max(1, Math.round(n * seconds / dt));
          break;
        }
        n *= 2;
      }
      // Warm-up: several calls, so the timed ones run fully optimised code, not OSR code.
      for (let w = 0; w < 5; w++) timed(r.deno, Math.max(1, Math.round(n / 5)));
      timed(r.c, n);
      const deno: number[] = [], cr: number[] = [];
      console.log(`BEGIN ${w} ${burst}`);
      for (let p = 0; p < pairs; p++) {
        // Alternate which side goes first, to cancel drift.
        if (p % 2 === 0) {
          deno.push(timed(r.deno, n));
          cr.push(timed(r.c, n));
        } else {
          cr.push(timed(r.c, n));
          deno.push(timed(r.deno, n));
        }
      }
      console.log(`END ${w} ${burst}`);
      denoPackets += deno.reduce((a, m) => a + m * 1e6 * seconds, 0);
      const ratios = deno.map((d, i) => d / cr[i]);
      const dm = median(deno), cm = median(cr);
      say("ROW", {
        workload: w,
        burst,
        deno_mpps: dm,
        c_mpps: cm,
        deno_ns_per_packet: 1000 / dm,
        c_ns_per_packet: 1000 / cm,
        ratio: median(ratios),
        ratio_min: Math.min(...ratios),
        ratio_max: Math.max(...ratios),
      });
      progress(`${w} burst ${burst}: Deno ${dm.toFixed(2)} Mpps, C ${cm.toFixed(2)} Mpps`);
      batch.close();
    }
  }
  const heapNoGc = Deno.memoryUsage().heapUsed;
  gc();
  say("HEAP", {
    heapStart,
    heapEndBeforeGc: heapNoGc,
    heapEnd: Deno.memoryUsage().heapUsed,
    denoPackets,
  });

  // Latency: per-burst time of the Deno macswap loop, TSC-timed, over `latency` seconds.
  const latencySeconds = Number(opts.latency);
  if (latencySeconds > 0) {
    progress(`latency: ${latencySeconds} s of macswap at burst 32`);
    const batch = new PacketBatch(pool, 32);
    // Warm-up calls: the timed call then starts in optimised code instead of on-stack
    // replacement, whose early tiers box doubles.
    for (let w = 0; w < 3; w++) latencyLoop(rx, tx, batch, 0.2);
    console.log("BEGIN latency");
    const { buckets, bucketNs, bursts, packets, max, over } = latencyLoop(
      rx,
      tx,
      batch,
      latencySeconds,
    );
    console.log("END latency");
    const pct = (q: number) => {
      const target = q * bursts;
      let seen = 0;
      for (let i = 0; i < buckets.length; i++) {
        seen += buckets[i];
        if (seen >= target) return (i + 1) * bucketNs;
      }
      return max;
    };
    say("LATENCY", {
      seconds: latencySeconds,
      bursts,
      packets,
      p50: pct(0.5),
      p99: pct(0.99),
      p999: pct(0.999),
      max,
      over1ms: over,
    });
    batch.close();
  }
  Eal.cleanup();
}

// --------------------------------------------------------------- the parent

interface GcEvent {
  kind: string;
  ms: number;
}

function gcEvent(line: string): GcEvent | undefined {
  const m = line.match(
    /\d+ ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep|Minor)[^,]*,.*?([\d.]+) \/ [\d.]+ ms/,
  );
  return m ? { kind: m[1], ms: Number(m[2]) } : undefined;
}

async function parent(): Promise<void> {
  const self = new URL(import.meta.url).pathname;
  const args = [...eal, "--", ...app, "--child"];
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--trace-gc,--expose-gc", self, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const rows: Row[] = [];
  // deno-lint-ignore no-explicit-any
  const info: Record<string, any> = {};
  let section: string | null = null;
  let sectionGcs: GcEvent[] = [];
  const latencyGcs: GcEvent[] = [];
  const loopGcs: GcEvent[] = [];
  const otherGcs: GcEvent[] = [];
  let pending = "";
  const decoder = new TextDecoder();
  const handle = (line: string) => {
    const ev = gcEvent(line);
    if (ev) {
      if (section) sectionGcs.push(ev);
      else otherGcs.push(ev);
      return;
    }
    const [tag, ...rest] = line.split(" ");
    const body = rest.join(" ");
    if (tag === "BEGIN") {
      section = body;
      sectionGcs = [];
    } else if (tag === "END") {
      (section === "latency" ? latencyGcs : loopGcs).push(...sectionGcs);
      section = null;
    } else if (tag === "ROW") {
      // The ROW follows its END: sectionGcs still holds that section's events.
      rows.push({ ...JSON.parse(body), gcs: sectionGcs.length });
    } else if (["PARSECHECK", "CALLS", "HEAP", "LATENCY"].includes(tag)) {
      info[tag] = JSON.parse(body);
    }
  };
  for await (const chunk of proc.stdout) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      handle(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  const status = await proc.status;
  if (!status.success) {
    console.error(`bench: the measuring process failed (exit ${status.code})`);
    Deno.exit(1);
  }
  if (opts.json) {
    console.log(JSON.stringify(
      rows.map((r) => ({
        workload: r.workload,
        burst: r.burst,
        deno_mpps: round(r.deno_mpps, 3),
        c_mpps: round(r.c_mpps, 3),
        ratio: round(r.ratio, 3),
        ratio_min: round(r.ratio_min, 3),
        ratio_max: round(r.ratio_max, 3),
      })),
    ));
    return;
  }
  const cpu = cpuModel();
  console.log(`deno-dpdk burst benchmark — ${cpu}, ${navigator.hardwareConcurrency} CPUs`);
  console.log(
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; EAL: ${
      (eal.length ? eal : DEFAULT_EAL).join(" ")
    }`,
  );
  console.log(`median of ${opts.pairs} alternating Deno/C pairs, ${opts.seconds} s per run`);
  console.log(
    (eal.length ? eal : DEFAULT_EAL).includes("--no-huge")
      ? "memory: 4 KB pages (--no-huge); reserve 2 MB hugepages for figures closer to production:\n" +
        "  echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages; " +
        "mount -t hugetlbfs nodev /dev/hugepages\n"
      : "memory: 2 MB hugepages\n",
  );
  console.log(
    "workload  burst   Deno Mpps   C Mpps   Deno ns/pkt   C ns/pkt   Deno/C  (min–max)  GCs",
  );
  for (const r of rows) {
    console.log(
      `${r.workload.padEnd(8)} ${String(r.burst).padStart(6)} ${
        r.deno_mpps.toFixed(2).padStart(11)
      } ` +
        `${r.c_mpps.toFixed(2).padStart(8)} ${r.deno_ns_per_packet.toFixed(1).padStart(13)} ` +
        `${r.c_ns_per_packet.toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(8)}  ` +
        `(${r.ratio_min.toFixed(2)}–${r.ratio_max.toFixed(2)})  ${r.gcs}`,
    );
  }
  const calls = info.CALLS, heap = info.HEAP, lat = info.LATENCY, pc = info.PARSECHECK;
  console.log(
    `\nFFI call costs: no-op ${calls.noopNs.toFixed(1)} ns; empty burst ` +
      `${calls.emptyBurstRawNs.toFixed(1)} ns raw, ${
        calls.emptyBurstApiNs.toFixed(1)
      } ns through Port.receive`,
  );
  console.log(
    `parse check: Deno and C flow tables ${pc.match ? "match" : "DIFFER"} ` +
      `(${pc.packets} packets, ${pc.flows} flows, ${pc.nonUdp} not UDP)`,
  );
  console.log(
    `JS heap over the timed runs (${
      (heap.denoPackets / 1e6).toFixed(0)
    } M packets in Deno loops): ` +
      `${kb(heap.heapStart)} -> ${kb(heap.heapEndBeforeGc)} before GC, ${
        kb(heap.heapEnd)
      } after; ` +
      `GCs during timed Deno/C loops: ${loopGcs.length}` +
      (loopGcs.length ? ` (${summary(loopGcs)})` : "") +
      `; outside them (set-up, calibration, warm-up in not yet optimised code): ` +
      `${otherGcs.filter((g) => !/Mark/.test(g.kind) || /Minor/.test(g.kind)).length} minor, ` +
      `${otherGcs.filter((g) => /Mark/.test(g.kind) && !/Minor/.test(g.kind)).length} major`,
  );
  if (lat) {
    console.log(
      `latency (Deno macswap, burst 32, ${lat.seconds} s, ${
        (lat.bursts / 1e6).toFixed(1)
      } M bursts): ` +
        `p50 ${lat.p50} ns, p99 ${lat.p99} ns, p99.9 ${lat.p999} ns, max ${
          (lat.max / 1000).toFixed(1)
        } µs; ` +
        `GC pauses: ${latencyGcs.length}${latencyGcs.length ? ` (${summary(latencyGcs)})` : ""}`,
    );
  }
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
const summary = (gcs: GcEvent[]) =>
  `${gcs.map((g) => g.kind).join(", ")}; max pause ${Math.max(...gcs.map((g) => g.ms))} ms`;

function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ??
      "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

if (opts.child) child();
else await parent();
