// Packets written in place, sent through a net_ring port created at run time,
// received back and read in place: contents, lengths, drop(), trySend() and
// mbuf ownership.
import { Eal, Mempool, PacketBatch, Port, VirtualDevice } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 4095, cacheSize: 0 });
const inUseStart = pool.inUse;
const ring = VirtualDevice.create("net_ring0");
const port = Port.open(ring.portId, { pool });
const out = new PacketBatch(pool, 16);
const back = new PacketBatch(pool, 64);

// 16 packets of different lengths; byte j of packet i is (i * 7 + j) & 0xff.
const first = out.alloc(16, 60);
for (let i = 0; i < 16; i++) {
  const len = 60 + i * 10;
  out.setLength(i, len);
  const at = out.offset(i);
  for (let j = 0; j < len; j++) out.data[at + j] = (i * 7 + j) & 0xff;
}
const sent = port.send(0, out);
const received = port.receive(0, back);
let contentOk = true;
const lengths: number[] = [];
for (let i = 0; i < received; i++) {
  lengths.push(back.length(i));
  const at = back.offset(i);
  for (let j = 0; j < back.length(i); j++) {
    if (back.data[at + j] !== ((i * 7 + j) & 0xff)) contentOk = false;
  }
}
// Modify in place and send again: the second trip sees the change.
back.view.setUint32(back.offset(0), 0xdeadbeef);
for (let i = 1; i < received; i += 2) back.drop(i); // drop the odd ones
const resent = port.send(0, back);
const again = port.receive(0, back);
const firstWord = back.view.getUint32(back.offset(0));
const evenLengths = Array.from({ length: again }, (_, i) => back.length(i));
back.clear();

// trySend keeps what the ring refused: fill the ring (1024 slots) then try more.
const big = new PacketBatch(pool, 512);
let queued = 0;
for (let round = 0; round < 2; round++) {
  big.alloc(512, 64);
  queued += port.trySend(0, big);
}
big.alloc(Math.min(big.free, 100), 64);
const beforeTry = big.count;
const accepted = port.trySend(0, big);
const kept = big.count;
big.clear();
let drained = 0;
for (let n = port.receive(0, back); n > 0; n = port.receive(0, back)) {
  drained += n;
  back.clear();
}
const inUseBeforeClose = pool.inUse;

// Runtime removal: the port disappears from the list.
ring.remove();
const listedAfterRemove = Port.list().some((p) => p.name === "net_ring0");
for (const b of [out, back, big]) b.close();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({
  first,
  sent,
  received,
  contentOk,
  lengths,
  resent,
  again,
  firstWord,
  evenLengths,
  queued,
  beforeTry,
  accepted,
  kept,
  drained,
  inUseStart,
  inUseBeforeClose,
  inUseEnd,
  portClosed: port.closed,
  listedAfterRemove,
});
