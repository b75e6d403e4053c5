/**
 * What keeping out-of-order TCP data costs when it is copied into the connection's ring
 * (`TcpReassembly`) rather than held in its mbufs: 32 segments of 1448 bytes behind one hole,
 * then the hole fills and they are taken. Holding mbufs would spare the copy but pin receive
 * buffers (a 1 MiB window is ~700 mbufs per connection) that the port needs for new frames.
 *
 *   deno run bench/reassembly.ts
 *
 * @module
 */
import { TcpReassembly } from "../stack/tcp_reassembly.ts";

const ROUNDS = 200_000, SEGMENTS = 32, SIZE = 1448;
const ring = new TcpReassembly(1 << 21);
const segment = new Uint8Array(2048).fill(7);
let rcvNxt = 1000;
const run = (rounds: number) => {
  for (let i = 0; i < rounds; i++) {
    const base = rcvNxt;
    for (let k = 1; k <= SEGMENTS; k++) {
      ring.add(base, 1 << 20, (base + k * SIZE) >>> 0, segment, 0, SIZE);
    }
    const n = ring.take((base + SIZE) >>> 0); // the hole filled: all of it follows on
    rcvNxt = (base + SIZE + n) >>> 0;
  }
};
run(ROUNDS / 10); // warm up
const t0 = performance.now();
run(ROUNDS);
const ns = (performance.now() - t0) * 1e6 / (ROUNDS * SEGMENTS);
console.log(
  `out-of-order segment kept and taken back: ${ns.toFixed(0)} ns per ${SIZE} bytes ` +
    `(${(SIZE / ns).toFixed(1)} GB/s)`,
);
