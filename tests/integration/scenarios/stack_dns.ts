// The stack's DNS resolver against a real server: a Stack on a net_af_packet port over the
// host end of a veth asks dnsmasq, in the test's namespace at the other end, for each name.
// Args: <host iface> <our address/prefix> <server ip> <name>...
// Reports, for each name, its addresses (dotted) and TTL or the reason it failed, with the
// resolver's and the stack's counters.
import { Eal, Mempool, Port } from "../../../mod.ts";
import { ipv4ToString, parseIpv4 } from "../../../net/mod.ts";
import { DnsResolver } from "../../../stack/dns.ts";
import { PortDevice, Stack } from "../../../stack/mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const [iface, address, server, ...names] = Deno.args;
Eal.init([...TEST_EAL, `--vdev=net_af_packet0,iface=${iface}`]);
const info = Port.list().find((p) => p.name === "net_af_packet0");
if (info === undefined) throw new Error(`no net_af_packet port on ${iface}`);
const pool = Mempool.create({ size: 4095, cacheSize: 0 });
const port = Port.open(info.id, { pool });
const device = new PortDevice(port);
const stack = new Stack(device, { address });
const dns = new DnsResolver(stack, { servers: [parseIpv4(server)], timeoutNs: 1e9 });

const results: Record<string, { addresses?: string[]; ttl?: number; reason?: string }> = {};
for (const name of names) {
  dns.resolve(name, {
    resolved(name, addresses, ttl) {
      results[name] = { addresses: addresses.map(ipv4ToString), ttl };
    },
    failed(name, reason) {
      results[name] = { reason };
    },
  });
}
// The poll loop owns the clock (the stack reads none): until every name has an outcome.
const deadline = performance.now() + 10_000;
while (Object.keys(results).length < names.length && performance.now() < deadline) {
  stack.clock[0] = performance.now() * 1e6;
  stack.poll();
}
report({ results, stats: dns.stats, counters: stack.counters });
dns.close();
device.close();
port.close();
Eal.cleanup();
