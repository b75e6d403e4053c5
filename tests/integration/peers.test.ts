// The examples against real peers: the kernel in a network namespace (ping,
// ping -6, arping, UDP sockets, tcpdump) over a veth whose host end DPDK
// drives through net_af_packet; tshark reading our capture; l2fwd over
// net_pcap files. Each test makes and removes its own namespace and veth.
import assert from "node:assert/strict";
import {
  buildUdpFrame,
  internetChecksum,
  IpProtocol,
  macToString,
  PacketParser,
  ParseStatus,
  PcapWriter,
  readPcap,
  verifyIpv4HeaderChecksum,
  verifyTransportChecksumIpv6,
} from "../../net/mod.ts";
import {
  type Background,
  type ChildResult,
  NEEDS_ROOT,
  runDeno,
  sh,
  startDeno,
  vethNamespace,
} from "../helpers.ts";

const FLAGS = ["--allow-ffi", "--allow-read", "--allow-env"];
const decoder = new TextDecoder();

/** Runs a command; returns its exit code and output, never throws on failure. */
function run(cmd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function hostMac(iface: string): string {
  return sh("ip", "-o", "link", "show", iface).match(/link\/ether ([0-9a-f:]{17})/)![1];
}

/** Asserts a clean exit and that every mbuf went back to the pool. */
function assertCleanExit(r: ChildResult, what: string): void {
  const output = `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.equal(r.code, 0, `${what} exited with ${r.code} (signal ${r.signal})\n${output}`);
  const m = r.stdout.match(/mbufs in use: (\d+) \(at start (\d+)\)/);
  assert.ok(m, `${what} printed no mbuf count\n${output}`);
  assert.equal(m[1], m[2], `${what} leaked mbufs\n${output}`);
}

/** The number after `label` in the summary at the end of `output`, e.g. count(out, "echo6"). */
function count(output: string, label: string): number {
  const text = output.slice(output.lastIndexOf("Summary:"));
  const m = text.match(new RegExp(`${label}:? (\\d+)`));
  assert.ok(m, `no "${label}" in\n${text}`);
  return Number(m[1]);
}

Deno.test({
  name: "pingd answers kernel ping, ping -6 and arping over a veth, resolved by ARP and NDP",
  ignore: NEEDS_ROOT, // namespaces need root; CI runs as root
  async fn(t) {
    const v = vethNamespace(52);
    const peerIp6 = "fd00:99:52::1", dpdkIp6 = "fd00:99:52::2";
    const dir = Deno.makeTempDirSync({ prefix: "pingd_" });
    let pingd: Background | undefined;
    try {
      // nodad: the address is usable at once. No static neighbours: pingd must answer ARP/NDP.
      sh("ip", "-n", v.ns, "addr", "add", `${peerIp6}/64`, "dev", v.peer, "nodad");
      pingd = startDeno("examples/pingd.ts", [
        "--",
        "--iface",
        v.host,
        "--ip",
        v.dpdkIp,
        "--ip6",
        dpdkIp6,
      ], FLAGS);
      await pingd.waitFor(/\[Ctrl\+C to quit\]/);
      const mac = hostMac(v.host); // net_af_packet takes the veth's MAC

      for (const [family, address] of [["-4", v.dpdkIp], ["-6", dpdkIp6]]) {
        await t.step(`ping ${family}: 1000 echo requests, none lost`, () => {
          const r = run(
            "ip",
            ...["netns", "exec", v.ns, "ping", family, "-c", "1000", "-i", "0.002", "-W", "1"],
            ...["-q", address],
          );
          assert.match(
            r.stdout,
            /1000 packets transmitted, 1000 received, 0% packet loss/,
            r.stderr,
          );
          assert.equal(r.code, 0);
        });
      }

      await t.step("the namespace resolved pingd's MAC by ARP and by NDP", () => {
        for (const address of [v.dpdkIp, dpdkIp6]) {
          const neigh = sh("ip", "-n", v.ns, "neigh", "show", address);
          assert.match(neigh, new RegExp(`lladdr ${mac}`), `${address}: ${neigh}`);
          assert.doesNotMatch(neigh, /PERMANENT/);
        }
      });

      await t.step("arping gets a reply to each request", () => {
        const r = run(
          "ip",
          ...["netns", "exec", v.ns, "arping", "-c", "3", "-w", "5", "-I", v.peer, v.dpdkIp],
        );
        assert.match(r.stdout, /Received 3 response\(s\)/, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`reply from ${v.dpdkIp} \\[${mac.toUpperCase()}\\]`));
      });

      await t.step(
        "replies captured by tcpdump carry valid checksums (read with readPcap)",
        async () => {
          const file = `${dir}/ping.pcap`;
          const tcpdump = new Deno.Command("ip", {
            args: [
              ...["netns", "exec", v.ns, "tcpdump", "-i", v.peer, "-w", file, "-U", "-c", "20"],
              "icmp or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))",
            ],
            stdout: "null",
            stderr: "piped",
          }).spawn();
          // tcpdump says "listening on" once its socket is open.
          const errors = tcpdump.stderr.pipeThrough(new TextDecoderStream()).getReader();
          let said = "";
          while (!said.includes("listening on")) {
            const { value, done } = await errors.read();
            if (done) break;
            said += value;
          }
          for (const address of [v.dpdkIp, dpdkIp6]) {
            run("ip", "netns", "exec", v.ns, "ping", "-c", "5", "-i", "0.05", "-q", address);
          }
          const status = await Promise.race([
            tcpdump.status,
            new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
          ]);
          if (status === null) tcpdump.kill("SIGKILL");
          await errors.cancel();
          assert.ok(status?.success, `tcpdump did not see 20 packets: ${said}`);

          const records = readPcap(Deno.readFileSync(file)).records;
          assert.equal(records.length, 20);
          const parser = new PacketParser();
          let replies = 0;
          for (const { data } of records) {
            const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
            assert.equal(parser.parse(view, 0, data.length), ParseStatus.OK);
            const l4 = parser.l4Offset, l4Length = parser.l3Offset + parser.l3Length - l4;
            if (parser.ipVersion === 4) {
              assert.ok(verifyIpv4HeaderChecksum(view, parser.l3Offset));
              // ICMP has no pseudo-header: over a correct message the checksum comes out 0.
              assert.equal(internetChecksum(view, l4, l4Length), 0);
              if (parser.icmpType === 0) replies++;
            } else {
              assert.ok(
                verifyTransportChecksumIpv6(
                  view,
                  l4,
                  l4Length,
                  parser.srcIpv6Offset,
                  parser.dstIpv6Offset,
                  IpProtocol.ICMPV6,
                ),
              );
              if (parser.icmpType === 129) replies++;
            }
          }
          assert.equal(replies, 10);
        },
      );

      const r = await pingd.stop("SIGINT");
      pingd = undefined;
      assertCleanExit(r, "pingd");
      assert.match(r.stdout, /SIGINT received/);
      assert.ok(count(r.stdout, "echo") >= 1005, r.stdout);
      assert.ok(count(r.stdout, "echo6") >= 1005, r.stdout);
      assert.ok(count(r.stdout, "arp") >= 4, r.stdout); // the kernel's request + arping's 3
      assert.ok(count(r.stdout, "ndp") >= 1, r.stdout);
    } finally {
      await pingd?.stop("SIGKILL");
      v.remove();
      Deno.removeSync(dir, { recursive: true });
    }
    assert.ok(!sh("ip", "netns", "list").includes(v.ns), "namespace left behind");
  },
});

/** Packet count and checksum verdicts of a capture, as tshark reads it. */
function tsharkCheck(file: string): { packets: number; statuses: string[]; expert: string } {
  const checks = [
    ...["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"],
    ...["-o", "tcp.check_checksum:TRUE"],
  ];
  const list = run("tshark", "-r", file, ...checks);
  assert.equal(list.code, 0, list.stderr);
  const fields = run(
    "tshark",
    ...["-r", file, ...checks, "-T", "fields", "-E", "separator=,"],
    ...["-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status"],
    ...["-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status"],
  );
  // Expert info of the checksum group ("[UDP CHECKSUM INCORRECT]" and the like).
  const expert = run("tshark", "-r", file, ...checks, "-Y", '_ws.expert.group == "Checksum"');
  return {
    packets: list.stdout.split("\n").filter((l) => l.trim() !== "").length,
    statuses: fields.stdout.split("\n").filter((l) => l !== "").flatMap((l) =>
      l.split(",").filter((s) => s !== "")
    ),
    expert: expert.stdout.trim(),
  };
}

/** Sends kernel traffic from the namespace: pings, then `count` UDP datagrams to each port. */
function kernelTraffic(ns: string, to: string, pings: number, udp: [number, number][]): void {
  if (pings > 0) {
    run("ip", "netns", "exec", ns, "ping", "-c", String(pings), "-i", "0.02", "-W", "1", to);
  }
  // Payloads of a few sizes: "datagram 1", "datagram 01", ...
  const script = udp.map(([port, count]) =>
    `for i in $(seq 1 ${count}); do ` +
    `printf "datagram %0${(port % 7) + 1}d" $i > /dev/udp/${to}/${port}; done`
  ).join("; ");
  sh("ip", "netns", "exec", ns, "bash", "-c", script);
}

Deno.test({
  name: "capture writes kernel traffic to a pcap that tshark reads with valid checksums",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const v = vethNamespace(53);
    const dir = Deno.makeTempDirSync({ prefix: "capture_" });
    const flags = [...FLAGS, "--allow-write"];
    try {
      // The kernel leaves checksums to the veth's "hardware" unless told otherwise.
      sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
      // Nobody answers ARP for the DPDK side in this test: a static neighbour.
      sh("ip", "-n", v.ns, "neigh", "replace", v.dpdkIp, "lladdr", hostMac(v.host), "dev", v.peer);

      await t.step("--proto udp --port 7000 --count 20: exactly the matching packets", async () => {
        const file = `${dir}/udp.pcap`;
        const capture = startDeno("examples/capture.ts", [
          ...["--", "--iface", v.host, "--out", file],
          ...["--proto", "udp", "--port", "7000", "--count", "20"],
        ], flags);
        await capture.waitFor(/\[Ctrl\+C to quit\]/);
        kernelTraffic(v.ns, v.dpdkIp, 3, [[7001, 10], [7000, 25]]);
        const r = await capture.exit(10_000); // it stops by itself after 20 packets
        assertCleanExit(r, "capture");
        assert.match(r.stdout, /Done after/);
        assert.equal(count(r.stdout, "captured"), 20);
        assert.ok(count(r.stdout, "filtered out") >= 10 + 3, r.stdout);

        const tshark = tsharkCheck(file);
        assert.equal(tshark.packets, 20);
        assert.equal(tshark.expert, "");
        assert.equal(tshark.statuses.length, 40); // IP and UDP of each packet
        assert.ok(tshark.statuses.every((s) => s === "1"), tshark.statuses.join(" "));
        const lens = run("tshark", "-r", file, "-T", "fields", "-e", "frame.len").stdout.trim()
          .split("\n").map(Number);
        const bytes = Number(
          r.stdout.match(/wrote 20 packets \((\d+) bytes of frames; a \d+-byte file\)/)?.[1],
        );
        assert.equal(
          bytes,
          lens.reduce((a, b) => a + b, 0),
          "bytes counts the frames, not the file",
        );
        const ports = run("tshark", "-r", file, "-T", "fields", "-e", "udp.dstport");
        assert.deepEqual([...new Set(ports.stdout.trim().split("\n"))], ["7000"]);
        assert.equal(readPcap(Deno.readFileSync(file)).records.length, 20);
      });

      await t.step("no filter, stopped by Ctrl-C: a valid file of every packet", async () => {
        const file = `${dir}/all.pcap`;
        const capture = startDeno("examples/capture.ts", [
          ...["--", "--iface", v.host, "--out", file],
        ], flags);
        await capture.waitFor(/\[Ctrl\+C to quit\]/);
        kernelTraffic(v.ns, v.dpdkIp, 5, [[7000, 20], [7011, 10], [7049, 5]]);
        await new Promise((r) => setTimeout(r, 300));
        const r = await capture.stop("SIGINT");
        assertCleanExit(r, "capture");
        assert.match(r.stdout, /SIGINT received/);
        const written = count(r.stdout, "wrote");
        assert.ok(written >= 35 + 5, r.stdout);

        const tshark = tsharkCheck(file);
        assert.equal(tshark.packets, written);
        assert.equal(tshark.expert, "");
        assert.ok(tshark.statuses.length >= 2 * 40, tshark.statuses.join(" "));
        assert.ok(tshark.statuses.every((s) => s === "1"), tshark.statuses.join(" "));
        assert.equal(readPcap(Deno.readFileSync(file)).records.length, written);
      });
    } finally {
      v.remove();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** Udp InDatagrams and InCsumErrors of a namespace, from /proc/net/snmp. */
function udpCounters(ns: string): { inDatagrams: number; inCsumErrors: number } {
  const lines = sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const names = lines[0].split(/\s+/), values = lines[1].split(/\s+/).map(Number);
  return {
    inDatagrams: values[names.indexOf("InDatagrams")],
    inCsumErrors: values[names.indexOf("InCsumErrors")],
  };
}

Deno.test({
  name: "pktgen's datagrams reach kernel UDP sockets with the right payload and checksums",
  ignore: NEEDS_ROOT,
  async fn() {
    const v = vethNamespace(54);
    try {
      const before = udpCounters(v.ns);
      const sink = new Deno.Command("ip", {
        args: [
          ...["netns", "exec", v.ns, Deno.execPath(), "run", "--allow-net"],
          new URL("./scenarios/udp_sink.ts", import.meta.url).pathname,
          ...[v.peerIp, "5000", "5004", "300", "20000"],
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("LISTENING\n")) {
        const { value, done } = await lines.read();
        if (done) break;
        text += value;
      }
      const subnet = v.peerIp.slice(0, v.peerIp.lastIndexOf("."));
      const r = await runDeno("examples/pktgen.ts", [
        ...["--", "--iface", v.host, "--dst-mac", v.peerMac, "--dst", v.peerIp],
        ...["--src", `${subnet}.10-${subnet}.19`, "--src-port", "4000-4003"],
        ...["--dst-port", "5000-5004", "--size", "64,200,1000,1518"],
        ...["--count", "300", "--rate", "2000"],
      ], { flags: FLAGS, timeoutMs: 30_000 });
      assertCleanExit(r, "pktgen");
      assert.equal(count(r.stdout, "sent"), 300);

      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        text += value;
      }
      await sink.status;
      const got = JSON.parse(text.split("\n")[1]);
      assert.equal(got.timedOut, false, text);
      assert.equal(got.received, 300);
      assert.equal(got.badPayloads, 0);
      assert.equal(got.distinctSequences, 300);
      assert.deepEqual(
        got.srcAddresses,
        Array.from({ length: 10 }, (_, i) => `${subnet}.${10 + i}`).sort(),
      );
      assert.deepEqual(got.srcPorts, [4000, 4001, 4002, 4003]);
      assert.deepEqual(got.dstPorts, [5000, 5001, 5002, 5003, 5004]);
      assert.deepEqual(got.payloadLengths, [18, 154, 954, 1472]);
      // The kernel verified every UDP checksum: none failed, all 300 were delivered.
      const after = udpCounters(v.ns);
      assert.equal(after.inCsumErrors - before.inCsumErrors, 0);
      assert.equal(after.inDatagrams - before.inDatagrams, 300);
    } finally {
      v.remove();
    }
  },
});

Deno.test("pktgen on net_null: ranges and sizes as fast as possible, live rates", async () => {
  const r = await runDeno("examples/pktgen.ts", [
    ...["--", "--duration", "1.5", "--size", "64,1518", "--src", "10.0.0.1-10.0.0.20"],
    ...["--dst-port", "5000-5009"],
  ], { flags: FLAGS });
  assertCleanExit(r, "pktgen");
  assert.match(r.stdout, /\[\s+1 s\] tx [\d.]+ Mpps [\d.]+ Mbit\/s/);
  assert.ok(count(r.stdout, "sent") > 10_000, r.stdout);
});

/** Frames for l2fwd's input: UDP between two made-up hosts, of a few sizes. */
function l2fwdInput(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    buildUdpFrame({
      srcMac: "aa:00:00:00:00:01",
      dstMac: "aa:00:00:00:00:02",
      srcIp: "192.168.1.1",
      dstIp: "192.168.1.2",
      srcPort: 1000 + i,
      dstPort: 2000,
      payload: "x".repeat(20 + 37 * i),
    }));
}

Deno.test("l2fwd forwards port 0 to port 1 over net_pcap files and rewrites the MACs", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "l2fwd_" });
  try {
    const frames = l2fwdInput(40);
    const input = new PcapWriter();
    frames.forEach((f, i) => input.add(f, 1_700_000_000_000_000_000n + BigInt(i) * 1000n));
    Deno.writeFileSync(`${dir}/in.pcap`, input.bytes());
    Deno.writeFileSync(`${dir}/empty.pcap`, new PcapWriter().bytes());

    for (const macUpdating of [true, false]) {
      await t.step(`mac updating ${macUpdating ? "on" : "off"}`, async () => {
        const out = `${dir}/out-${macUpdating}`;
        const r = await runDeno("examples/l2fwd.ts", [
          ...["-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"],
          `--vdev=net_pcap0,rx_pcap=${dir}/in.pcap,tx_pcap=${out}-0.pcap`,
          `--vdev=net_pcap1,rx_pcap=${dir}/empty.pcap,tx_pcap=${out}-1.pcap`,
          ...["--", "-p", "0x3", "-T", "1", "--duration", "1.5"],
          ...(macUpdating ? [] : ["--no-mac-updating"]),
        ], { flags: FLAGS });
        assertCleanExit(r, "l2fwd");
        const port1Mac = r.stdout.match(/Port 1, MAC address: ([0-9A-F:]{17})/)?.[1];
        assert.ok(port1Mac, r.stdout);
        // l2fwd's statistics block: port 0 received 40, port 1 sent 40, nothing dropped.
        const last = r.stdout.slice(r.stdout.lastIndexOf("Port statistics"));
        assert.match(
          last,
          /port 0 -+\nPackets sent: +0\nPackets received: +40\nPackets dropped: +0/,
        );
        assert.match(
          last,
          /port 1 -+\nPackets sent: +40\nPackets received: +0\nPackets dropped: +0/,
        );
        assert.match(last, /Total packets sent: +40\nTotal packets received: +40/);

        assert.equal(readPcap(Deno.readFileSync(`${out}-0.pcap`)).records.length, 0);
        const forwarded = readPcap(Deno.readFileSync(`${out}-1.pcap`)).records;
        assert.equal(forwarded.length, frames.length);
        forwarded.forEach(({ data }, i) => {
          const dst = macToString(data, 0), src = macToString(data, 6);
          assert.equal(dst, macUpdating ? "02:00:00:00:00:01" : "aa:00:00:00:00:02");
          assert.equal(src, macUpdating ? port1Mac.toLowerCase() : "aa:00:00:00:00:01");
          assert.deepEqual(data.subarray(12), frames[i].subarray(12)); // the rest untouched
        });
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
