// Real traffic with the Linux kernel over a veth (net_af_packet):
//  1. the kernel, inside the test's namespace, sends a UDP datagram that the
//     port receives and reads in place;
//  2. a frame built in place and sent by the port is received by a kernel
//     UDP socket in the namespace with the right bytes.
// Args: <host iface> <namespace> <peer ip> <dpdk ip> <peer mac>
import { Eal, Mempool, PacketBatch, Port, VirtualDevice } from "../../../mod.ts";
import {
  macToNumber,
  PacketParser,
  parseIpv4,
  ParseStatus,
  verifyIpv4HeaderChecksum,
  writeUdpFrame,
} from "../../../net/mod.ts";
import { report, TEST_EAL } from "../../helpers.ts";

const [iface, ns, peerIp, dpdkIp, peerMac] = Deno.args;
Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 2047, cacheSize: 0 });
const inUseStart = pool.inUse;
const dev = VirtualDevice.create("net_af_packet0", { iface });
const port = Port.open(dev.portId, { pool });
const mac = port.mac;
const batch = new PacketBatch(pool, 32);
const parser = new PacketParser();

// --- 1. kernel -> DPDK
const nonce = crypto.randomUUID().slice(0, 8);
const message = `hello dpdk ${nonce}`;
const sender = new Deno.Command("ip", {
  args: ["netns", "exec", ns, "bash", "-c", `echo -n '${message}' > /dev/udp/${dpdkIp}/5000`],
}).outputSync();
let got: Record<string, unknown> | undefined;
let seen = 0;
const deadline = Date.now() + 5000;
while (!got && Date.now() < deadline) {
  const n = port.receive(0, batch);
  for (let i = 0; i < n && !got; i++) {
    seen++;
    const status = parser.parse(batch.view, batch.offset(i), batch.length(i));
    if (status !== ParseStatus.OK || parser.ipProtocol !== 17 || parser.dstPort !== 5000) continue;
    // Read the payload in place: no copy of the packet.
    let text = "";
    for (let j = 0; j < parser.payloadLength; j++) {
      text += String.fromCharCode(batch.data[parser.payloadOffset + j]);
    }
    got = {
      text,
      srcIp: parser.srcIpv4 === parseIpv4(peerIp),
      dstIp: parser.dstIpv4 === parseIpv4(dpdkIp),
    };
  }
  batch.clear();
}

// --- 2. DPDK -> kernel
const receiver = new Deno.Command("ip", {
  args: [
    "netns",
    "exec",
    ns,
    Deno.execPath(),
    "run",
    "--allow-net",
    new URL("./udp_recv.ts", import.meta.url).pathname,
    peerIp,
    "6000",
    "8000",
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = receiver.stdout.pipeThrough(new TextDecoderStream()).getReader();
let buffered = "";
const lineOf = async (): Promise<string> => {
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
  }
  const i = buffered.indexOf("\n");
  const line = i < 0 ? buffered : buffered.slice(0, i);
  buffered = i < 0 ? "" : buffered.slice(i + 1);
  return line;
};
const listening = await lineOf();
const reply = `from dpdk ${nonce}`;
const payload = new TextEncoder().encode(reply);
const fields = {
  srcMac: macToNumber(mac),
  dstMac: macToNumber(peerMac),
  srcIp: parseIpv4(dpdkIp),
  dstIp: parseIpv4(peerIp),
  srcPort: 6001,
  dstPort: 6000,
  payloadLength: payload.length,
  payload,
};
let checksumOk = false;
let sentFrames = 0;
const answer = (async () => JSON.parse(await lineOf()))();
let done = false;
answer.finally(() => done = true);
for (let attempt = 0; attempt < 20 && !done; attempt++) {
  const i = batch.alloc(1, 0);
  // Write the whole frame straight into the mbuf.
  batch.setLength(i, writeUdpFrame(batch.view, batch.data, batch.offset(i), fields));
  checksumOk = verifyIpv4HeaderChecksum(batch.view, batch.offset(i) + 14);
  sentFrames += port.send(0, batch);
  await new Promise((r) => setTimeout(r, 250));
}
const kernelGot = await answer;
await receiver.status;
batch.close();
dev.remove();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({
  senderOk: sender.success,
  received: got,
  seen,
  message,
  listening,
  kernelGot,
  reply,
  sentFrames,
  checksumOk,
  inUseStart,
  inUseEnd,
});
