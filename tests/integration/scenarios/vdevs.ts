// Creates each kind of virtual device at run time, opens, starts, closes and
// removes it; reads a pcap file through net_pcap and writes one back.
// Args: <tmp dir> [root]: with "root", also net_tap and net_af_packet.
import { Eal, Mempool, PacketBatch, Port, VirtualDevice } from "../../../mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const dir = Deno.args[0];
const root = Deno.args[1] === "root";

/** A classic pcap file (microsecond, Ethernet) holding `frames`. */
function pcapFile(frames: Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((a, f) => a + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, 1, true);
  let at = 24;
  frames.forEach((f, i) => {
    v.setUint32(at, 1700000000 + i, true);
    v.setUint32(at + 8, f.length, true);
    v.setUint32(at + 12, f.length, true);
    out.set(f, at + 16);
    at += 16 + f.length;
  });
  return out;
}

Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 2047, cacheSize: 0 });
const inUseStart = pool.inUse;
const devices: Record<string, unknown> = {};

function cycle(name: string, args: Record<string, string | number> | string = ""): void {
  const dev = VirtualDevice.create(name, args);
  const info = Port.list().find((p) => p.id === dev.portId);
  const port = Port.open(dev.portId, { pool });
  const started = port.started;
  port.close();
  dev.remove();
  devices[name] = {
    driver: info?.driver,
    listed: info?.name === name,
    started,
    goneAfterRemove: !Port.list().some((p) => p.name === name),
  };
}

cycle("net_null7");
cycle("net_ring7");
cycle("net_memif7", {
  role: "server",
  id: 0,
  socket: `${dir}/memif.sock`,
  "socket-abstract": "no",
});
if (root) {
  cycle("net_tap7", { iface: `ddtap${Deno.pid % 10000}` });
  cycle("net_af_packet7", { iface: "lo" });
}

// net_pcap: three frames in, read in place, sent to a pcap file out.
const frames = [60, 100, 1514].map((len, i) =>
  Uint8Array.from({ length: len }, (_, j) => (i * 31 + j) & 0xff)
);
Deno.writeFileSync(`${dir}/in.pcap`, pcapFile(frames));
const pcap = VirtualDevice.create("net_pcap7", {
  rx_pcap: `${dir}/in.pcap`,
  tx_pcap: `${dir}/out.pcap`,
});
const port = Port.open(pcap.portId, { pool });
const batch = new PacketBatch(pool, 8);
const deadline = Date.now() + 5000;
while (batch.count < frames.length && Date.now() < deadline) port.receive(0, batch);
const pcapMatches = batch.count === frames.length &&
  frames.every((f, i) => {
    const p = batch.packet(i);
    return p.length === f.length && p.every((b, j) => b === f[j]);
  });
const pcapReceived = batch.count;
const pcapSent = port.send(0, batch);
pcap.remove(); // closes the port: the PMD flushes and closes out.pcap
const written = Deno.readFileSync(`${dir}/out.pcap`);
const wv = new DataView(written.buffer);
const outLengths: number[] = [];
for (let at = 24; at + 16 <= written.length; at += 16 + wv.getUint32(at + 8, true)) {
  outLengths.push(wv.getUint32(at + 8, true));
}
batch.close();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({ devices, pcapReceived, pcapMatches, pcapSent, outLengths, inUseStart, inUseEnd });
