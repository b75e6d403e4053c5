// A kernel UDP socket (run inside the test's namespace): prints LISTENING,
// then the first datagram as JSON, then exits. Args: <ip> <port> <timeout ms>.
import dgram from "node:dgram";

const [ip, port, timeout] = Deno.args;
const sock = dgram.createSocket("udp4");
const timer = setTimeout(() => {
  console.log(JSON.stringify({ timeout: true }));
  Deno.exit(2);
}, Number(timeout ?? 10000));
sock.on("message", (msg, rinfo) => {
  clearTimeout(timer);
  console.log(
    JSON.stringify({ payload: msg.toString("utf8"), from: rinfo.address, port: rinfo.port }),
  );
  sock.close();
});
sock.bind(Number(port), ip, () => console.log("LISTENING"));
