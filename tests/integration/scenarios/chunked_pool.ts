// A pool whose memory is in several chunks (made by freeing a pool and creating a larger one
// in the fragmented memory): every mbuf of it is written through the one mapped span, sent
// through a net_ring and read back in place.
import { Eal, Mempool, PacketBatch, Port, VirtualDevice } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

Eal.init(TEST_EAL);
const filler = Mempool.create({ name: "filler", size: 40000, cacheSize: 0 });
const wedge = Mempool.create({ name: "wedge", size: 1000, cacheSize: 0 });
filler.close(); // leaves a hole before `wedge`: the next large pool must be split
const pool = Mempool.create({ name: "chunked", size: 60000, cacheSize: 0 });
const inUseStart = pool.inUse;
const ring = Port.open(VirtualDevice.create("net_ring0").portId, { pool });
const all = new PacketBatch(pool, 60000);
all.alloc(60000, 64);
const offsets = new Set<number>();
let inRegion = true;
for (let i = 0; i < all.count; i++) {
  const at = all.offset(i);
  offsets.add(at);
  if (at + 64 > all.data.length) inRegion = false;
  all.view.setUint32(at, i); // the packet's index, at both ends
  all.view.setUint32(at + 60, ~i >>> 0);
}
const back = new PacketBatch(pool, 1024);
let expected = 0, mismatches = 0;
while (all.count > 0) {
  ring.trySend(0, all);
  for (let n = ring.receive(0, back); n > 0; n = ring.receive(0, back)) {
    for (let i = 0; i < n; i++) {
      const at = back.offset(i);
      if (
        back.view.getUint32(at) !== expected || back.view.getUint32(at + 60) !== (~expected >>> 0)
      ) {
        mismatches++;
      }
      expected++;
    }
    back.clear();
  }
}
all.close();
back.close();
const chunks = pool.chunks;
const inUseEnd = pool.inUse;
wedge.close();
Eal.cleanup();
report({
  chunks,
  distinctOffsets: offsets.size,
  inRegion,
  received: expected,
  mismatches,
  inUseStart,
  inUseEnd,
});
