// The stack's DNS resolver against dnsmasq in a network namespace the test creates: a name
// dnsmasq knows resolves to its address, an unknown one fails with "no such name".
import assert from "node:assert/strict";
import { NEEDS_ROOT, scenario, sh, vethNamespace } from "../helpers.ts";

Deno.test({
  name: "DNS: names resolved through dnsmasq in a namespace, over a net_af_packet port",
  ignore: NEEDS_ROOT,
  async fn() {
    const v = vethNamespace(73);
    // DNS on (no --port=0); --local=/test/ makes dnsmasq answer NXDOMAIN for the other names
    // of the domain itself (it has no upstream server to forward them to).
    const dnsmasq = new Deno.Command("ip", {
      args: [
        ...["netns", "exec", v.ns, "dnsmasq", "-k", "--conf-file=/dev/null", "--user=root"],
        ...["--no-resolv", "--no-hosts", `--interface=${v.peer}`],
        "--address=/name.test/10.99.73.9",
        "--local=/test/",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      // Otherwise the kernel hands af_packet UDP with unfinished checksums (see REAL-TRAFFIC.md).
      sh("ip", "netns", "exec", v.ns, "ethtool", "-K", v.peer, "tx", "off");
      const r = await scenario("stack_dns.ts", [
        v.host,
        `${v.dpdkIp}/24`,
        v.peerIp,
        "name.test",
        "unknown.test",
      ]);
      assert.deepEqual(r.results["name.test"].addresses, ["10.99.73.9"], JSON.stringify(r));
      assert.equal(r.results["unknown.test"].reason, "no such name", JSON.stringify(r));
      assert.equal(r.stats.answers, 2, JSON.stringify(r.stats));
      assert.equal(r.counters.udpBad, 0);
    } finally {
      dnsmasq.kill("SIGTERM");
      await dnsmasq.output();
      v.remove();
    }
  },
});
