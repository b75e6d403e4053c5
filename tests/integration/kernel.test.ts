// Real traffic with the Linux kernel: a namespace and veth pair made and
// removed by the test, DPDK on the host end through net_af_packet.
import assert from "node:assert/strict";
import { NEEDS_ROOT, scenario, sh, vethNamespace } from "../helpers.ts";

Deno.test({
  name: "kernel UDP over a veth: received in place, and sent to a kernel socket",
  ignore: NEEDS_ROOT, // creating namespaces needs root; CI runs as root
  async fn() {
    const v = vethNamespace(41);
    try {
      const hostMac = sh("ip", "-o", "link", "show", v.host).match(/link\/ether (\S+)/)![1];
      // The namespace knows the DPDK side's MAC: no ARP needed for this test.
      sh("ip", "-n", v.ns, "neigh", "replace", v.dpdkIp, "lladdr", hostMac, "dev", v.peer);
      const r = await scenario("kernel_udp.ts", [v.host, v.ns, v.peerIp, v.dpdkIp, v.peerMac]);
      assert.equal(r.senderOk, true);
      assert.deepEqual(r.received, { text: r.message, srcIp: true, dstIp: true });
      assert.equal(r.listening, "LISTENING");
      assert.deepEqual(r.kernelGot, { payload: r.reply, from: v.dpdkIp, port: 6001 });
      assert.ok(r.sentFrames >= 1);
      assert.equal(r.checksumOk, true);
      assert.equal(r.inUseEnd, r.inUseStart);
    } finally {
      v.remove();
    }
    assert.ok(!sh("ip", "netns", "list").includes(v.ns), "namespace left behind");
  },
});
