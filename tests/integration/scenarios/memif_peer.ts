// A memif server that forwards whatever its peer sends straight back, while the peer (a
// dpdk-testpmd the test starts and stops again and again) comes and goes. Stops on SIGINT and
// reports what it saw. Arg: the socket file.
import { Eal, Mempool, PacketBatch, Port, StopSignal, VirtualDevice } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const [socket] = Deno.args;
// -l 0: DPDK's control thread, which tears the rings down when the peer leaves, then runs on the
// other CPU instead of preempting this poller mid-burst (see Port's memif note).
Eal.init(["-l", "0", ...TEST_EAL.slice(2)]);
const pool = Mempool.create({ size: 8191, cacheSize: 0 });
const dev = VirtualDevice.create("net_memif0", {
  role: "server",
  id: 0,
  socket,
  "socket-abstract": "no",
});
const port = Port.open(dev.portId, { pool });
const batch = new PacketBatch(pool, 32);
const stop = StopSignal.trap();
let received = 0, sent = 0, ups = 0, downs = 0, wasUp = false;
console.log("LISTENING");
while (!stop.requested) {
  const n = port.receive(0, batch);
  received += n;
  if (n > 0) sent += port.send(0, batch);
  const up = port.linkUp;
  if (up !== wasUp) {
    if (up) ups++;
    else downs++;
    wasUp = up;
    console.log(up ? `UP ${ups}` : `DOWN ${downs}`);
  }
  if (!up) await new Promise((r) => setTimeout(r, 1));
}
batch.close();
port.close();
const inUse = pool.inUse;
Eal.cleanup();
report({ received, sent, ups, downs, inUse });
