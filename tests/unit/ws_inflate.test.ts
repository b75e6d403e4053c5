// The permessage-deflate inflater against node:zlib's deflater: stored, fixed and dynamic
// blocks, messages with the context kept across them (RFC 7692 context takeover) and without,
// corrupt data and the size limit refused.
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { InflateError, Inflater } from "../../ws/inflate.ts";

const SYNC = zlib.constants.Z_SYNC_FLUSH;

/** Deflates each message as a permessage-deflate sender does, keeping the context. */
async function deflateStream(messages: Uint8Array[], level = 6): Promise<Uint8Array[]> {
  const d = zlib.createDeflateRaw({ level });
  const out: Uint8Array[] = [];
  for (const m of messages) {
    const chunks: Uint8Array[] = [];
    const onData = (c: Uint8Array) => chunks.push(c);
    d.on("data", onData);
    d.write(m);
    await new Promise<void>((resolve) => d.flush(SYNC, () => resolve()));
    d.off("data", onData);
    const all = Buffer.concat(chunks);
    assert.deepEqual([...all.subarray(all.length - 4)], [0, 0, 0xff, 0xff]);
    out.push(new Uint8Array(all.subarray(0, all.length - 4))); // RFC 7692 §7.2.1 removes it
  }
  d.close();
  return out;
}

function sample(n: number, seed: number, text = true): Uint8Array {
  const words = ["bid", "ask", "price", "qty", "BTCUSDT", '{"e":"depthUpdate"', "0.00100", "42"];
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (text) {
      const w = new TextEncoder().encode(words[x % words.length] + " ");
      for (let k = 0; k < w.length && i < n; k++) out[i++] = w[k];
    } else out[i++] = x >>> 24;
  }
  return out;
}

Deno.test("RFC 1951: messages deflated by zlib at levels 0, 1, 6, 9 inflate byte-exact", () => {
  const inflater = new Inflater();
  for (const level of [0, 1, 6, 9]) {
    for (const n of [0, 1, 100, 5000, 70_000, 1 << 20]) {
      for (const text of [true, false]) {
        const m = sample(n, n + level, text);
        const z = zlib.deflateRawSync(m, { level, finishFlush: SYNC });
        inflater.reset();
        const len = inflater.inflate(z, 0, z.length - 4);
        assert.equal(len, n, `level ${level}, ${n} bytes`);
        assert.deepEqual(inflater.output.subarray(0, len), m, `level ${level}, ${n} bytes`);
      }
    }
  }
});

Deno.test("RFC 7692 §7.2.3: context takeover: each message refers back to the ones before it", async () => {
  const messages = Array.from({ length: 50 }, (_, i) => sample(300 + i * 37, i % 5));
  const compressed = await deflateStream(messages);
  const inflater = new Inflater();
  for (let i = 0; i < messages.length; i++) {
    const len = inflater.inflate(compressed[i], 0, compressed[i].length);
    assert.deepEqual(inflater.output.subarray(0, len), messages[i], `message ${i}`);
  }
  // The same messages without the context: later ones fail or differ (they point back).
  const fresh = new Inflater();
  let broken = 0;
  for (let i = 1; i < messages.length; i++) {
    fresh.reset();
    try {
      const len = fresh.inflate(compressed[i], 0, compressed[i].length);
      if (len !== messages[i].length) broken++;
    } catch (e) {
      assert.ok(e instanceof InflateError);
      broken++;
    }
  }
  assert.ok(broken > 40, `${broken} messages needed the context`);
});

Deno.test("corrupt data and messages past the limit are refused with InflateError", () => {
  const m = sample(10_000, 1);
  const z = zlib.deflateRawSync(m, { finishFlush: SYNC });
  const bad = new Uint8Array(z.subarray(0, z.length - 4)); // a copy (Buffer.slice shares)
  bad[5] ^= 0xff;
  bad[20] ^= 0x55;
  assert.throws(() => new Inflater().inflate(bad, 0, bad.length), InflateError);
  assert.throws(() => new Inflater().inflate(Uint8Array.of(0x07), 0, 1), /reserved type 3/);
  const small = new Inflater(4096);
  assert.throws(() => small.inflate(z, 0, z.length - 4), /inflating past 4096 bytes/);
});
