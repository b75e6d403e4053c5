// 10^6 small WebSocket messages from a server on one stack to our client on another, over an
// in-memory pair: reports the heap and the garbage collections over the measured part, where
// the client's message path (TCP segment → frame reader → onMessage in place) must allocate
// nothing per message. Run with --v8-flags=--expose-gc,--trace-gc. Arg: messages.
import { createHash } from "node:crypto";
import { library } from "../../../ffi/library.ts";
import { MemoryPair, Stack } from "../../../stack/mod.ts";
import { Opcode, WebSocketClient, writeFrame } from "../../../ws/mod.ts";
import { report } from "../../helpers.ts";

const MESSAGES = Number(Deno.args[0] ?? 1e6);
library().symbols.dd_stdout_unbuffered();
const pair = new MemoryPair({ slots: 1024 });
const a = new Stack(pair.a, { address: "10.0.0.1/24" });
const b = new Stack(pair.b, { address: "10.0.0.2/24" });
a.arp.setStatic(0x0a000002, 0x020000000002);
b.arp.setStatic(0x0a000001, 0x020000000001);
a.clock[0] = b.clock[0] = 1e12;

// The server: answers the handshake, then sends 64-byte binary frames from one prebuilt block.
const FRAMES_PER_BLOCK = 256;
const payload = new Uint8Array(64).map((_, i) => i);
const block = new Uint8Array(FRAMES_PER_BLOCK * 66);
for (let i = 0; i < FRAMES_PER_BLOCK; i++) {
  writeFrame(block, i * 66, Opcode.BINARY, true, false, payload, 0, 64, null);
}
let server: ReturnType<typeof b.connect> | null = null;
b.listen(8080).onConnection = (conn) => {
  conn.onData = (data, offset, length) => {
    if (server !== null) return;
    const head = new TextDecoder().decode(data.subarray(offset, offset + length));
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1];
    const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
      .digest("base64");
    const answer = new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    conn.write(answer, 0, answer.length);
    server = conn;
  };
};

const got = { messages: 0, sum: 0 };
const ws = new WebSocketClient(a.connect("10.0.0.2", 8080), "ws://10.0.0.2:8080/", {
  deflate: false,
});
ws.onMessage = (data, offset, length) => {
  got.messages++;
  got.sum = (got.sum + data[offset + length - 1]) & 0xffff; // touch the message
};

function run(target: number): void {
  while (got.messages < target) {
    if (server !== null && server.writable >= block.length) server.write(block, 0, block.length);
    a.clock[0] += 2000;
    b.clock[0] = a.clock[0];
    b.poll();
    a.poll();
  }
}

// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;
run(200_000); // warm up
gc();
const start = got.messages;
const heapBefore = Deno.memoryUsage().heapUsed;
const t0 = performance.now();
console.log("LOOP START");
run(start + MESSAGES);
console.log("LOOP END");
const seconds = (performance.now() - t0) / 1000;
report({
  messages: got.messages - start,
  seconds,
  heapBefore,
  heapAfterNoGc: Deno.memoryUsage().heapUsed,
  inPlace: ws.messagesIn,
});
