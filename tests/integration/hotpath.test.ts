// Hot path v2: packet fields read in place from the mbufs, chains, timestamps, offloads.
import assert from "node:assert/strict";
import { ChecksumStatus } from "../../mod.ts";
import { scenario } from "../helpers.ts";

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
