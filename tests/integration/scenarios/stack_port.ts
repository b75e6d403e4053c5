// The stack's PortDevice over a net_ring port looping to itself: frames reserved, written in
// place, flushed, received back byte-exact and in order; the limits of reserve; a FaultInjector
// over the port; every mbuf back in the pool at the end.
import { Eal, Mempool, Port, VirtualDevice } from "../../../mod.ts";
import { FaultInjector, type FrameReceiver, PortDevice } from "../../../stack/mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

/** The device clock at `ns` (devices take the time as an array: see Device.receive). */
const CLOCK = new Float64Array(1);
const clockAt = (ns: number): Float64Array => (CLOCK[0] = ns, CLOCK);

Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 4095, cacheSize: 0 });
const inUseStart = pool.inUse;
const ring = VirtualDevice.create("net_ring0");
const port = Port.open(ring.portId, { pool });
const device = new PortDevice(port, { burst: 32 });

const lengthOf = (id: number) => 60 + (id * 37) % (device.mtu + 14 - 60 + 1);

function write(data: Uint8Array, at: number, id: number, length: number): void {
  new DataView(data.buffer, data.byteOffset).setUint32(at, id);
  for (let j = 4; j < length; j++) data[at + j] = (id * 31 + j) & 0xff;
}

/** Checks each frame against what frame `id` holds. */
class Checker implements FrameReceiver {
  ids: number[] = [];
  bad = 0;
  regions = new Set<Uint8Array>();
  frame(data: Uint8Array, view: DataView, offset: number, length: number): void {
    const id = view.getUint32(offset);
    this.ids.push(id);
    this.regions.add(data);
    if (length !== lengthOf(id)) this.bad++;
    for (let j = 4; j < length; j++) {
      if (data[offset + j] !== ((id * 31 + j) & 0xff)) {
        this.bad++;
        break;
      }
    }
  }
}

// 1000 frames of 60..mtu+14 bytes, in bursts: each one back, in order, byte-exact.
const checker = new Checker();
let next = 0, flushed = 0;
while (next < 1000) {
  for (let i = 0; i < 32 && next < 1000; i++) {
    const length = lengthOf(next);
    const offset = device.reserve(length);
    if (offset < 0) break;
    write(device.txData, offset, next++, length);
  }
  flushed += device.flush(clockAt(0));
  while (device.receive(checker, clockAt(0)) > 0) { /* drain */ }
}
const inOrder = checker.ids.every((id, i) => id === i);

// A burst of reservations at most; flushing makes room.
let reserved = 0;
while (device.reserve(60) >= 0) reserved++;
const afterFull = device.reserve(60);
const sentFull = device.flush(clockAt(0));
let drained = 0;
const counter: FrameReceiver = { frame: () => drained++ };
while (device.receive(counter, clockAt(0)) > 0) { /* drain */ }

// A receiver that throws: the burst's mbufs are freed all the same.
for (let i = 0; i < 4; i++) device.reserve(60);
device.flush(clockAt(0));
let thrown = "";
try {
  device.receive({
    frame() {
      throw new Error("receiver failed");
    },
  }, clockAt(0));
} catch (e) {
  thrown = (e as Error).message;
}
const inUseAfterThrow = pool.inUse;

// An empty transmit pool: reserve says -1 and counts it, it does not throw.
const small = Mempool.create({ size: 8, cacheSize: 0 });
const starved = new PortDevice(port, { pool: small, burst: 32 });
let starvedReserved = 0;
while (starved.reserve(60) >= 0) starvedReserved++;
const starvedStats = { ...starved.stats };
starved.close();
const smallInUse = small.inUse;
small.close();

// A FaultInjector over the port: 10% loss each way, copies into the pool's mbufs.
const lossy = new FaultInjector(device, { seed: 3, loss: 0.1, duplicate: 0.02 });
const lossyChecker = new Checker();
next = 0;
while (next < 2000) {
  for (let i = 0; i < 32 && next < 2000; i++) {
    const length = lengthOf(next);
    write(lossy.txData, lossy.reserve(length), next++, length);
  }
  lossy.flush(clockAt(0));
  while (lossy.receive(lossyChecker, clockAt(0)) > 0) { /* drain */ }
}

const inUseBeforeClose = pool.inUse;
const portMac = port.mac;
device.close();
const closedTwice = (() => {
  device.close();
  return device.closed;
})();
port.close();
ring.remove();
const inUseEnd = pool.inUse;
report({
  mac: Array.from(device.mac),
  portMac,
  mtu: device.mtu,
  burst: device.burst,
  txDataIsPool: device.txData === pool.data,
  flushed,
  received: checker.ids.length,
  inOrder,
  bad: checker.bad,
  regions: checker.regions.size,
  regionIsPool: checker.regions.has(pool.data),
  stats: device.stats,
  reserved,
  afterFull,
  sentFull,
  drained,
  thrown,
  inUseAfterThrow,
  starvedReserved,
  starvedStats,
  smallInUse,
  lossy: lossy.stats,
  lossyReceived: lossyChecker.ids.length,
  lossyBad: lossyChecker.bad,
  closedTwice,
  inUseStart,
  inUseBeforeClose,
  inUseEnd,
});
Eal.cleanup();
