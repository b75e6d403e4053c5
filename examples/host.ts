/**
 * host: a host on a DPDK port, with deno-dpdk's own network stack. It answers ARP and ping, runs
 * UDP and TCP echo services on port 7 and a small HTTP/1.1 server on port 80 (`GET /bytes/N`:
 * N bytes of a fixed pattern; `GET /`: the counters), prints its counters every second and a
 * summary at the end.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/host.ts [EAL args] -- \
 *     (--ip 10.99.3.2/24 [--gateway 10.99.3.1] | --dhcp) [--mtu N] [--iface IFACE] \
 *     [--loss P --reorder P --duplicate P --seed N] [--duration S] [--stats-interval S]
 *
 * With no EAL arguments it creates a TAP interface, `dtap0`, for the kernel to talk to:
 *
 *   ip addr add 10.99.3.1/24 dev dtap0 && ip link set dtap0 up && ping 10.99.3.2
 *
 * `--iface veth0` attaches to an existing kernel interface through net_af_packet instead. The
 * fault options run the port through the stack's fault injector (seeded: reproducible), so the
 * stack can be watched under loss. `--dhcp` gets the address, router and DNS servers from a DHCP
 * server and prints each lease.
 *
 *   curl -o /dev/null http://10.99.3.2/bytes/100000000   # 100 MB over our TCP
 *
 * @module
 */
import { Eal, splitArgs, StopSignal } from "../mod.ts";
import { ipv4ToString, parseIpv4 } from "../net/mod.ts";
import { Cli, repeated, seconds, value } from "./_cli.ts";
import { DEFAULT_EAL, DEFAULT_TAP, faultNote, NET_OPTIONS, NET_USAGE, openHost } from "./_net.ts";
import { serveEcho, serveHttp } from "./_services.ts";

const ECHO_PORT = 7;
const HTTP_PORT = 80;

const cli = new Cli(
  "host",
  "usage: host.ts [EAL args] -- (--ip A.B.C.D/N [--gateway A.B.C.D] | --dhcp) [--mtu N]\n" +
    "               [--iface IFACE] [--join GROUP]\n" +
    "               [--loss P] [--reorder P] [--duplicate P] [--seed N]\n" +
    "               [--duration S] [--stats-interval S]\n" +
    NET_USAGE +
    "  --join GROUP        answer UDP echo sent to this multicast group too (repeatable)\n" +
    "  --duration S        stop after S seconds (≥ 0; default 0: until Ctrl-C)\n" +
    "  --stats-interval S  seconds between live counters (≥ 0; default 1; 0: none)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")} ${DEFAULT_TAP}`,
);
const multicastGroup = (text: string) => ((parseIpv4(text) >>> 28) === 0xe ? text : undefined);
const { eal, app } = splitArgs(Deno.args);
const opts = cli.parse(app, {
  ...NET_OPTIONS,
  join: repeated(value("an IPv4 multicast group like 239.1.2.3", multicastGroup)),
  duration: seconds({ note: "0: until Ctrl-C" }),
  "stats-interval": seconds({ default: 1, note: "0: none" }),
});
const { stack, port, injector } = openHost(cli, eal, opts);

// UDP echo: each datagram goes back to its sender, read in place from the received frame.
const echo = stack.udp(ECHO_PORT);
echo.receiver = {
  datagram(data, _view, offset, length, srcIp, srcPort) {
    echo.sendTo(srcIp, srcPort, data, offset, length);
  },
};
// --join: the echo service answers datagrams sent to these multicast groups too.
for (const group of opts.join) echo.join(parseIpv4(group));
// TCP: echo on port 7, HTTP on port 80.
const tcpEcho = stack.listen(ECHO_PORT);
serveEcho(tcpEcho);
const t = stack.tcpCounters;
const http = serveHttp(
  stack.listen(HTTP_PORT),
  () =>
    `deno-dpdk host ${ipv4ToString(stack.address)}\n\nstack: ${
      JSON.stringify(stack.counters, null, 1)
    }\ntcp: ${JSON.stringify(t, null, 1)}\nconnections:\n${
      stack.tcpConnections.map((c) => `  ${c}`).join("\n")
    }\n`,
);

const stop = StopSignal.trap();
console.log(
  `\nhost ${
    opts.ip ?? "(DHCP)"
  } on port ${port.id}: answering ARP and ping, UDP and TCP echo on port ${ECHO_PORT}, ` +
    `HTTP on port ${HTTP_PORT}` +
    faultNote(opts) +
    ". [Ctrl+C to quit]",
);

const c = stack.counters;
const line = () =>
  `rx ${c.rxFrames} tx ${c.txFrames} | arp answered ${c.arpRequestsAnswered} | ` +
  `ping ${c.icmpEchoReplies} | udp echo ${echo.received} | dropped: not ours ${
    c.ipNotOurs + c.rxOtherMac
  }, ` +
  `bad ${c.ipBadChecksum + c.ipBadHeader + c.ipBadSource + c.udpBad + c.icmpBadChecksum}, ` +
  `no socket ${c.udpNoSocket}, fragments ${c.ipFragments} | tcp estab ${t.currEstab} ` +
  `in ${t.inSegs} out ${t.outSegs} retrans ${t.retransSegs} | http ${http.requests} req ` +
  `${(http.bodyBytes / 1e6).toFixed(1)} MB`;

// The poll loop owns the clock: the stack reads none. It is written into stack.clock (a number
// passed to poll() would be a new heap object each time), before a poll that follows a busy one
// and every 64 idle polls (a few µs): a read costs ~100 ns, more than an idle poll.
const start = performance.now();
let lastPrint = start;
let leases = 0;
for (let iter = 0; !stop.requested; iter++) {
  if (stack.busy || (iter & 63) === 0) stack.clock[0] = (performance.now() - start) * 1e6;
  stack.poll();
  if ((iter & 1023) === 0) {
    const now = performance.now();
    const d = stack.dhcp;
    if (d !== undefined && d.leases !== leases) {
      leases = d.leases;
      console.log(
        `DHCP: leased ${ipv4ToString(d.address)}/${d.prefix} from ${ipv4ToString(d.server)} ` +
          `for ${d.leaseSeconds} s, router ${ipv4ToString(d.router)}, ` +
          `DNS ${d.dns.map(ipv4ToString).join(" ") || "none"}`,
      );
    }
    if (opts["stats-interval"] > 0 && now - lastPrint >= opts["stats-interval"] * 1000) {
      console.log(`[${((now - start) / 1000).toFixed(0).padStart(4)} s] ${line()}`);
      lastPrint = now;
    }
    if (opts.duration > 0 && now - start >= opts.duration * 1000) break;
  }
}

const elapsed = (performance.now() - start) / 1000;
console.log(`\n${stop.signal ? `${stop.signal} received` : "Done"} after ${elapsed.toFixed(1)} s.`);
console.log("Summary:");
console.log(`  ${line()}`);
console.log(`  counters: ${JSON.stringify(c)}`);
console.log(`  tcp: ${JSON.stringify(t)}`);
if (injector) console.log(`  faults: ${JSON.stringify(injector.stats)}`);
if (stack.dhcp) console.log(`  dhcp: ${JSON.stringify(stack.dhcp)}`);
echo.close();
tcpEcho.close();
Eal.cleanup();
