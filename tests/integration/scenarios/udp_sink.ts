// Kernel UDP sockets (run inside the test's namespace) that collect what
// pktgen.ts sends: binds <ip>:<first port>..<last port>, prints LISTENING,
// then, after <count> datagrams or <timeout ms>, one JSON line with what
// arrived and whether every payload matched pktgen's format.
// Args: <ip> <first port> <last port> <count> <timeout ms>
import dgram from "node:dgram";

const [ip, first, last, count, timeout] = Deno.args;
const wanted = Number(count);
const TEXT = " deno-dpdk pktgen";

const seen = {
  received: 0,
  badPayloads: 0,
  sequences: new Set<number>(),
  srcAddresses: new Set<string>(),
  srcPorts: new Set<number>(),
  dstPorts: new Set<number>(),
  payloadLengths: new Set<number>(),
};
const sockets: dgram.Socket[] = [];

function payloadOk(msg: Uint8Array): number {
  const text = new TextDecoder().decode(msg);
  if (!/^[0-9a-f]{8}/.test(text)) return -1;
  for (let j = 8; j < text.length; j++) {
    if (text[j] !== TEXT[(j - 8) % TEXT.length]) return -1;
  }
  return parseInt(text.slice(0, 8), 16);
}

function finish(timedOut: boolean): void {
  console.log(JSON.stringify({
    timedOut,
    received: seen.received,
    badPayloads: seen.badPayloads,
    distinctSequences: seen.sequences.size,
    srcAddresses: [...seen.srcAddresses].sort(),
    srcPorts: [...seen.srcPorts].sort((a, b) => a - b),
    dstPorts: [...seen.dstPorts].sort((a, b) => a - b),
    payloadLengths: [...seen.payloadLengths].sort((a, b) => a - b),
  }));
  for (const s of sockets) s.close();
  Deno.exit(0);
}

const timer = setTimeout(() => finish(true), Number(timeout));
let bound = 0;
for (let port = Number(first); port <= Number(last); port++) {
  const sock = dgram.createSocket("udp4");
  sockets.push(sock);
  sock.on("message", (msg, rinfo) => {
    seen.received++;
    const seq = payloadOk(msg);
    if (seq < 0) seen.badPayloads++;
    else seen.sequences.add(seq);
    seen.srcAddresses.add(rinfo.address);
    seen.srcPorts.add(rinfo.port);
    seen.dstPorts.add(port);
    seen.payloadLengths.add(msg.length);
    if (seen.received === wanted) {
      clearTimeout(timer);
      finish(false);
    }
  });
  sock.bind(port, ip, () => {
    if (++bound === Number(last) - Number(first) + 1) console.log("LISTENING");
  });
}
