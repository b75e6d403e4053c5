// Hot path v2: packet fields read in place from the mbufs, chains, timestamps, offloads.
import assert from "node:assert/strict";
import { ChecksumStatus } from "../../mod.ts";
import { NEEDS_ROOT, scenario, vethNamespace } from "../helpers.ts";

Deno.test("packet accessors, chains, timestamps and software offloads on real EAL packets", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "hotpath_" });
  try {
    const r = await scenario("hotpath_fields.ts", [dir]);
    await t.step("offsets and lengths equal what C reads from the same mbufs", () => {
      assert.equal(r.nullAgrees, true);
      assert.equal(r.ringAgrees, true);
    });
    await t.step("batches of capacity 1, 3 and 65536 receive every packet in order", () => {
      for (const pmd of ["net_ring", "net_null", "net_pcap"]) {
        for (const cap of [1, 3, 65536]) {
          assert.equal(r.capacities[`${pmd} ${cap}`], true, `${pmd} capacity ${cap}`);
        }
      }
    });
    await t.step("3000- and 9000-byte frames arrive as chains of 2048-byte buffers", () => {
      assert.deepEqual(r.segments, [1, 2, 5, 1, 1]);
      assert.deepEqual(r.packetLengths, [60, 3000, 9000, 1514, 64]);
      assert.equal(r.chainsExact, true, "copyOut");
      assert.equal(r.walkedExact, true, "segment by segment, in place");
    });
    await t.step("chains are sent whole: received ones and one built with allocPacket", () => {
      assert.equal(r.builtSegments, 5);
      assert.match(r.chainSetLength, /is a chain/);
      assert.equal(r.resent, 6);
      assert.equal(r.writtenCount, 6);
      assert.equal(r.writtenExact, true);
    });
    await t.step("pcap rx timestamps: the file's microseconds, increasing", () => {
      assert.deepEqual(r.timestamps, [0, 1000, 2000, 3000, 4000]);
    });
    await t.step("arrival TSC: stamped per burst with packets, converts to nanoseconds", () => {
      assert.equal(r.tscAfterEmptyKept, true);
      assert.equal(r.tscIncreased, true);
      assert.ok(r.arrivalGapMs >= 19 && r.arrivalGapMs < 2000, `${r.arrivalGapMs} ms`);
    });
    await t.step("device fields of a crafted mbuf: VLAN TCI, RSS hash, checksum status", () => {
      assert.deepEqual(r.crafted, {
        vlanTci: 0x2064,
        rssHash: 0xdeadbeef,
        ip: ChecksumStatus.GOOD,
        l4: ChecksumStatus.BAD,
        packetType: 0x291,
      });
      assert.deepEqual(r.plain, { vlanTci: -1, rssHash: -1, ip: ChecksumStatus.UNKNOWN });
    });
    await t.step("checksums and a VLAN tag requested on a port without offloads: software", () => {
      assert.deepEqual(r.software, {
        ipv4Header: true,
        udp: true,
        vlanTag: true,
        tcp6: true,
        udpWasSpoiled: true,
        lengthWithTag: true,
      });
      assert.equal(r.ipv6HeaderRefused, true);
    });
    await t.step("no mbuf leaked", () => assert.equal(r.inUseEnd, r.inUseStart));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "offloads judged by the kernel: tx checksums on net_tap (driver and software), rx flags, VLAN strip",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const v = vethNamespace(61);
    try {
      const r = await scenario("offload_kernel.ts", [v.ns, v.host, v.peer]);
      for (const path of ["hardware", "software"]) {
        await t.step(`${path}: every requested checksum is accepted, the control is not`, () => {
          assert.deepEqual(r.checksums[path], {
            udpNoPorts: 10,
            udpCsumErrors: 0,
            tcpResets: 10,
            tcpCsumErrors: 0,
            controlUdpCsumErrors: 1,
            controlUdpNoPorts: 0,
            controlTcpCsumErrors: 1,
            ipHeaderErrors: 0,
          });
        });
      }
      await t.step(
        "kernel UDP on a port with rx checksum offloads: GOOD flags, a packet type",
        () => {
          assert.ok(r.rx, "the datagram arrived");
          assert.equal(r.rx.ip, ChecksumStatus.GOOD);
          assert.equal(r.rx.l4, ChecksumStatus.GOOD);
          assert.equal(r.rx.packetType, 0x211); // RTE_PTYPE_L2_ETHER | L3_IPV4 | L4_UDP
          assert.equal(r.rx.inputPort, true);
        },
      );
      await t.step("VLAN_STRIP on af_packet: tag removed, its TCI in vlanTci()", () => {
        assert.deepEqual(r.vlan, { tci: 0x2064, stripped: true, etherType: 0x88b5, length: 60 });
      });
      await t.step("no mbuf leaked", () => assert.equal(r.inUseEnd, r.inUseStart));
    } finally {
      v.remove();
    }
  },
});
