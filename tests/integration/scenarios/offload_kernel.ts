// Offloads with the Linux kernel as the judge of what arrives:
//  1. two net_tap ports moved into the test's namespace, one with tx/rx checksum offloads on
//     (the driver fills them in) and one without (the shim fills them in): UDP and TCP frames
//     with spoiled checksums, sent with requestChecksums, are accepted by the kernel (its
//     InCsumErrors stay put, the UDP port-unreachable and TCP reset counters rise); one frame
//     sent spoiled without a request is counted as a checksum error, so the check can fail;
//     kernel UDP arriving on the offloading port carries GOOD checksum flags and a packet type;
//  2. an af_packet port on a veth with VLAN_STRIP: a tagged frame from the namespace arrives
//     with the tag stripped and its TCI in vlanTci().
// Args: <namespace> <veth host end> <veth peer end>
import {
  ChecksumStatus,
  Eal,
  Mempool,
  PacketBatch,
  Port,
  RxFlag,
  RxOffload,
  TxChecksum,
  TxOffload,
  VirtualDevice,
} from "../../../mod.ts";
import { buildTcpFrame, buildUdpFrame, PacketParser, ParseStatus } from "../../../net/mod.ts";
import { report, sh, TEST_EAL } from "../../helpers.ts";

const [ns, vethHost, vethPeer] = Deno.args;
Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 4095, cacheSize: 0 });
const inUseStart = pool.inUse;
const tag = Deno.pid % 10000;

/** Tcp or Udp counters of the namespace, from /proc/net/snmp. */
function snmp(proto: "Udp" | "Tcp" | "Ip"): Record<string, number> {
  const lines = sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").split("\n")
    .filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0].split(/\s+/), values = lines[1].split(/\s+/).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

const CKSUM = TxOffload.IPV4_CKSUM | TxOffload.UDP_CKSUM | TxOffload.TCP_CKSUM;
const RX_CKSUM = RxOffload.IPV4_CKSUM | RxOffload.UDP_CKSUM | RxOffload.TCP_CKSUM;
const taps = [
  { name: `ddtA${tag}`, subnet: 1, txOffloads: CKSUM, rxOffloads: RX_CKSUM },
  { name: `ddtB${tag}`, subnet: 2, txOffloads: 0n, rxOffloads: 0n },
].map((t, k) => {
  const dev = VirtualDevice.create(`net_tap${k}`, { iface: t.name });
  const port = Port.open(dev.portId, { pool, txOffloads: t.txOffloads, rxOffloads: t.rxOffloads });
  const kernelIp = `10.98.${t.subnet}.1`, dpdkIp = `10.98.${t.subnet}.2`;
  sh("ip", "link", "set", t.name, "netns", ns);
  sh("ip", "-n", ns, "addr", "add", `${kernelIp}/24`, "dev", t.name);
  sh("ip", "-n", ns, "link", "set", t.name, "up");
  sh("ip", "-n", ns, "neigh", "replace", dpdkIp, "lladdr", port.mac, "dev", t.name);
  const link = sh("ip", "-n", ns, "-o", "link", "show", t.name);
  const kernelMac = link.match(/link\/ether ([0-9a-f:]{17})/)![1];
  return { ...t, dev, port, kernelIp, dpdkIp, kernelMac };
});
const batch = new PacketBatch(pool, 64);

/** Sends `count` UDP and TCP frames with spoiled checksums through `tap`, asking for checksums. */
function sendSpoiled(t: typeof taps[number], count: number, request: boolean): void {
  for (let k = 0; k < count; k++) {
    const common = {
      srcMac: t.port.mac,
      dstMac: t.kernelMac,
      srcIp: t.dpdkIp,
      dstIp: t.kernelIp,
      srcPort: 40000 + k,
      dstPort: 9, // nobody listens: the kernel answers valid UDP with ICMP, valid TCP with RST
    };
    for (
      const f of [
        buildUdpFrame({ ...common, payload: `datagram ${k}` }),
        buildTcpFrame({ ...common, seq: 1000 + k, flags: 0x02 }), // SYN
      ]
    ) {
      const i = batch.alloc(1, f.length);
      batch.copyIn(i, f);
      const at = batch.offset(i), udp = f[23] === 17;
      batch.view.setUint16(at + 34 + (udp ? 6 : 16), 0xbeef); // UDP/TCP checksum
      // The control keeps its valid IPv4 header (as built) over a wrong UDP/TCP checksum.
      if (!request) continue;
      batch.view.setUint16(at + 24, 0xbeef); // IPv4 header checksum
      const l4 = udp ? TxChecksum.UDP : TxChecksum.TCP;
      batch.requestChecksums(i, TxChecksum.IPV4 | l4, 14, 20);
    }
  }
  t.port.send(0, batch);
}

const checksums: Record<string, unknown> = {};
for (const t of taps) {
  const udp0 = snmp("Udp"), tcp0 = snmp("Tcp"), ip0 = snmp("Ip");
  sendSpoiled(t, 10, true);
  await new Promise((r) => setTimeout(r, 300));
  const udp1 = snmp("Udp"), tcp1 = snmp("Tcp");
  sendSpoiled(t, 1, false); // the control: must be refused
  await new Promise((r) => setTimeout(r, 300));
  const udp2 = snmp("Udp"), tcp2 = snmp("Tcp");
  checksums[t.txOffloads ? "hardware" : "software"] = {
    udpNoPorts: udp1.NoPorts - udp0.NoPorts,
    udpCsumErrors: udp1.InCsumErrors - udp0.InCsumErrors,
    tcpResets: tcp1.OutRsts - tcp0.OutRsts,
    tcpCsumErrors: tcp1.InCsumErrors - tcp0.InCsumErrors,
    controlUdpCsumErrors: udp2.InCsumErrors - udp1.InCsumErrors,
    controlUdpNoPorts: udp2.NoPorts - udp1.NoPorts,
    controlTcpCsumErrors: tcp2.InCsumErrors - tcp1.InCsumErrors,
    ipHeaderErrors: snmp("Ip").InHdrErrors - ip0.InHdrErrors,
  };
}

// Kernel UDP into the port with rx checksum offloads: the driver's verdict and packet type.
const a = taps[0];
let rx: Record<string, unknown> | undefined;
const parser = new PacketParser();
sh("ip", "netns", "exec", ns, "bash", "-c", `echo -n hello > /dev/udp/${a.dpdkIp}/7777`);
const deadline = Date.now() + 5000;
while (!rx && Date.now() < deadline) {
  const n = a.port.receive(0, batch);
  for (let i = 0; i < n && !rx; i++) {
    if (parser.parse(batch.view, batch.offset(i), batch.length(i)) !== ParseStatus.OK) continue;
    if (parser.ipProtocol !== 17 || parser.dstPort !== 7777) continue;
    rx = {
      ip: batch.ipChecksum(i),
      l4: batch.l4Checksum(i),
      packetType: batch.packetType(i),
      inputPort: batch.inputPort(i) === a.port.id,
    };
  }
  batch.clear();
}

// VLAN stripping on af_packet: a tagged frame written by a raw socket in the namespace. The
// kernel takes the tag off every frame it receives (skb_vlan_untag) and hands it to the packet
// socket aside; the PMD gives it to us as vlan_tci, or puts it back without VLAN_STRIP.
const af = VirtualDevice.create("net_af_packet0", { iface: vethHost });
const afPort = Port.open(af.portId, { pool, rxOffloads: RxOffload.VLAN_STRIP });
const tagged = new Uint8Array(64);
const tv = new DataView(tagged.buffer);
tagged.fill(0xff, 0, 6); // broadcast
tagged.set([0x02, 0, 0, 0, 0x61, 0x01], 6);
tv.setUint16(12, 0x8100);
tv.setUint16(14, 0x2064); // priority 1, VLAN 100
tv.setUint16(16, 0x88b5); // local experimental EtherType
const hex = Array.from(tagged, (b) => b.toString(16).padStart(2, "0")).join("");
const script = "import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); " +
  `s.bind((sys.argv[1], 0)); [s.send(bytes.fromhex(sys.argv[2])) for _ in range(3)]`;
sh("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script, vethPeer, hex);
let vlan: Record<string, unknown> | undefined;
const vlanDeadline = Date.now() + 5000;
while (!vlan && Date.now() < vlanDeadline) {
  const n = afPort.receive(0, batch);
  for (let i = 0; i < n && !vlan; i++) {
    const at = batch.offset(i);
    if ((batch.rxFlags(i) & RxFlag.VLAN) === 0) continue;
    vlan = {
      tci: batch.vlanTci(i),
      stripped: (batch.rxFlags(i) & RxFlag.VLAN_STRIPPED) !== 0,
      etherType: batch.view.getUint16(at + 12),
      length: batch.length(i),
    };
  }
  batch.clear();
}

batch.close();
for (const t of taps) t.port.close();
afPort.close();
const inUseEnd = pool.inUse;
Eal.cleanup();
report({ checksums, rx, vlan, good: ChecksumStatus.GOOD, inUseStart, inUseEnd });
