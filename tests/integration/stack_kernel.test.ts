// examples/host.ts, deno-dpdk's own stack on a DPDK port, against the Linux kernel over a veth
// in a namespace the test creates: ping (1000, none lost), arping, and UDP echo of payloads of
// every size up to the MTU from a kernel socket, byte-exact.
import assert from "node:assert/strict";
import { gcsInLoop, NEEDS_ROOT, runDeno, sh, startDeno, vethNamespace } from "../helpers.ts";

function run(cmd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

// A kernel UDP socket that sends every payload size in turn and checks each echo.
const ECHO_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
bad = 0
for n in range(1, int(sys.argv[2]) + 1, int(sys.argv[3])):
    data = bytes((i * 7 + n) & 0xff for i in range(n))
    s.sendto(data, (sys.argv[1], 7))
    try:
        got, _ = s.recvfrom(65536)
        bad += got != data
    except socket.timeout:
        bad += 1
print("BAD", bad)
`;

// A kernel socket sending to multicast group 239.1.2.3 out of the veth; echoes come back unicast.
const MULTICAST_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.settimeout(2)
n = 0
for i in range(20):
    data = b"feed %d" % i
    s.sendto(data, ("239.1.2.3", 7))
    try:
        got, _ = s.recvfrom(100)
        n += got == data
    except socket.timeout:
        pass
print("ECHOES", n)
`;

Deno.test({
  name: "host.ts answers the kernel's ping, arping and UDP echo over a veth",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const v = vethNamespace(71);
    // Otherwise the kernel hands af_packet UDP with unfinished checksums (see REAL-TRAFFIC.md).
    sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
    const host = startDeno("examples/host.ts", [
      "--",
      ...["--iface", v.host, "--ip", `${v.dpdkIp}/24`, "--stats-interval", "0"],
      ...["--join", "239.1.2.3"],
    ], ["--allow-ffi", "--allow-read", "--allow-env"]);
    try {
      await host.waitFor(/\[Ctrl\+C to quit\]/);
      await t.step("ping: 1000 echo requests, none lost", () => {
        const r = run(
          "ip",
          ...["netns", "exec", v.ns, "ping", "-c", "1000", "-i", "0.002", "-W", "1", v.dpdkIp],
        );
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /1000 packets transmitted, 1000 received, 0% packet loss/);
      });
      await t.step(
        "ping -s 3000: the kernel's reassembled datagrams, our fragmented replies",
        () => {
          const r = run(
            "ip",
            ...["netns", "exec", v.ns, "ping", "-s", "3000", "-c", "100", "-i", "0.005", "-W", "1"],
            v.dpdkIp,
          );
          assert.match(r.stdout, /100 packets transmitted, 100 received, 0% packet loss/, r.stdout);
        },
      );
      await t.step("arping: every request answered", () => {
        const r = run(
          "ip",
          ...["netns", "exec", v.ns, "arping", "-c", "3", "-w", "5", "-I", v.peer, v.dpdkIp],
        );
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /Received 3 response/);
      });
      await t.step("UDP echo: payloads of 1..1472 bytes come back byte-exact", () => {
        const r = run(
          "ip",
          ...["netns", "exec", v.ns, "/usr/bin/python3", "-c", ECHO_CLIENT, v.dpdkIp, "1472", "7"],
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^BAD 0$/m);
      });
      await t.step("multicast: a kernel sender to a group we joined gets its echoes", () => {
        const r = run(
          "ip",
          ...["netns", "exec", v.ns, "/usr/bin/python3", "-c", MULTICAST_CLIENT, v.peerIp],
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^ECHOES 20$/m);
      });
      const r = await host.stop("SIGINT");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /SIGINT received/);
      const counters = JSON.parse(r.stdout.match(/counters: (\{.*\})/)![1]);
      assert.ok(counters.icmpEchoReplies >= 1000, JSON.stringify(counters));
      assert.ok(counters.arpRequestsAnswered >= 3, JSON.stringify(counters));
      assert.equal(counters.udpBad, 0);
      assert.equal(counters.ipBadChecksum, 0);
    } finally {
      await host.stop("SIGKILL").catch(() => {});
      v.remove();
    }
  },
});

Deno.test("10^6 UDP echoes through two stacks: no garbage collection in the steady state", async () => {
  const r = await runDeno("tests/integration/scenarios/stack_gc.ts", ["1000000"], {
    flags: ["--allow-all", "--v8-flags=--expose-gc,--trace-gc,--max-semi-space-size=256"],
  });
  assert.equal(r.code, 0, r.stderr);
  const gcs = gcsInLoop(r.stdout);
  assert.deepEqual(gcs, [], "the stack's steady state triggered garbage collection");
  assert.equal(r.result.echoes, 1_000_000);
  // One allocation per echo would be at least 16 MB; what remains (~0.5-1 MB, not growing with
  // the number of echoes) is compiled code and its feedback.
  assert.ok(
    r.result.heapAfterNoGc - r.result.heapBefore < 4 * 1024 * 1024,
    `heap grew by ${r.result.heapAfterNoGc - r.result.heapBefore} bytes over 10^6 echoes`,
  );
});

Deno.test({
  name: "host.ts --dhcp leases an address from dnsmasq; the kernel pings, arpings and echoes it",
  ignore: NEEDS_ROOT,
  async fn() {
    const v = vethNamespace(72);
    const leases = Deno.makeTempFileSync({ prefix: "dd-leases-" });
    const dnsmasq = new Deno.Command("ip", {
      args: [
        ...["netns", "exec", v.ns, "dnsmasq", "-k", "--conf-file=/dev/null", "--user=root"],
        ...["--no-resolv", "--no-hosts", `--interface=${v.peer}`, "--port=0"],
        `--dhcp-range=10.99.72.100,10.99.72.150,255.255.255.0,2m`,
        `--dhcp-option=option:router,${v.peerIp}`,
        "--dhcp-option=option:T1,15", // renew after 15 s (dnsmasq's shortest lease is 2 min)
        `--dhcp-leasefile=${leases}`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
    const host = startDeno("examples/host.ts", [
      "--",
      ...["--iface", v.host, "--dhcp", "--stats-interval", "0"],
    ], ["--allow-ffi", "--allow-read", "--allow-env"]);
    try {
      const m = await host.waitFor(
        /DHCP: leased (10\.99\.72\.\d+)\/24 from (\S+) for (\d+) s, router ([\d.]+)/,
        30_000,
      );
      const [, leased, server, seconds, router] = m;
      assert.equal(server, v.peerIp);
      assert.equal(router, v.peerIp);
      assert.equal(seconds, "120");
      const ping = run(
        "ip",
        ...["netns", "exec", v.ns, "ping", "-c", "100", "-i", "0.01", "-W", "1", leased],
      );
      assert.match(
        ping.stdout,
        /100 packets transmitted, 100 received, 0% packet loss/,
        ping.stdout,
      );
      const arping = run(
        "ip",
        ...["netns", "exec", v.ns, "arping", "-c", "3", "-w", "5", "-I", v.peer, leased],
      );
      assert.match(arping.stdout, /Received 3 response/, arping.stdout);
      const echo = run(
        "ip",
        ...["netns", "exec", v.ns, "/usr/bin/python3", "-c", ECHO_CLIENT, leased, "1472", "31"],
      );
      assert.match(echo.stdout, /^BAD 0$/m, echo.stdout + echo.stderr);
      // dnsmasq recorded the lease for our MAC.
      assert.match(Deno.readTextFileSync(leases), new RegExp(` ${leased.replaceAll(".", "\\.")} `));
      // At T1 the lease is renewed with the server, unicast: a second "leased" line, same address.
      const renewed = await host.waitFor(
        /DHCP: leased [\s\S]*DHCP: leased (10\.99\.72\.\d+)/,
        30_000,
      );
      assert.equal(renewed[1], leased);
      const r = await host.stop("SIGINT");
      assert.equal(r.code, 0, r.stderr);
      const dhcp = JSON.parse(r.stdout.match(/dhcp: (\{.*\})/)![1]);
      assert.equal(dhcp.state, 3, "BOUND");
      assert.deepEqual([dhcp.discovers, dhcp.offers, dhcp.acks, dhcp.leases], [1, 1, 2, 2]);
    } finally {
      await host.stop("SIGKILL").catch(() => {});
      dnsmasq.kill("SIGTERM");
      await dnsmasq.output();
      v.remove();
      Deno.removeSync(leases);
    }
  },
});

Deno.test({
  name:
    "over net_tap the kernel's fragments meet our reassembly: ping -s 3000, UDP up to 8000 bytes",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const ns = `ddfrag${Deno.pid % 10000}`, tap = `ddtf${Deno.pid % 10000}`;
    sh("ip", "netns", "add", ns);
    const host = startDeno("examples/host.ts", [
      ...["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf"],
      `--vdev=net_tap0,iface=${tap}`,
      ...["--", "--ip", "10.99.74.2/24", "--stats-interval", "0"],
    ], ["--allow-ffi", "--allow-read", "--allow-env"]);
    try {
      await host.waitFor(/\[Ctrl\+C to quit\]/);
      // net_tap passes fragments as they are (af_packet would hand over reassembled datagrams).
      sh("ip", "link", "set", tap, "netns", ns);
      sh("ip", "-n", ns, "addr", "add", "10.99.74.1/24", "dev", tap);
      sh("ip", "-n", ns, "link", "set", tap, "up");
      await t.step("ping -s 3000: 1000 fragmented echo requests, none lost", () => {
        const r = run(
          "ip",
          ...["netns", "exec", ns, "ping", "-s", "3000", "-c", "1000", "-i", "0.002", "-W", "1"],
          "10.99.74.2",
        );
        assert.match(r.stdout, /1000 packets transmitted, 1000 received, 0% packet loss/, r.stdout);
      });
      await t.step("UDP echo of 1..8000-byte payloads, fragmented both ways, byte-exact", () => {
        const r = run(
          "ip",
          ...[
            "netns",
            "exec",
            ns,
            "/usr/bin/python3",
            "-c",
            ECHO_CLIENT,
            "10.99.74.2",
            "8000",
            "97",
          ],
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^BAD 0$/m);
      });
      const r = await host.stop("SIGINT");
      assert.equal(r.code, 0, r.stderr);
      const counters = JSON.parse(r.stdout.match(/counters: (\{.*\})/)![1]);
      assert.ok(counters.ipReassembled >= 1000 + 60, JSON.stringify(counters));
      assert.ok(counters.txFragments >= 2000, JSON.stringify(counters));
    } finally {
      await host.stop("SIGKILL").catch(() => {});
      try {
        sh("ip", "netns", "del", ns);
      } catch { /* gone */ }
    }
  },
});
