import assert from "node:assert/strict";
import {
  checksumUpdate16,
  checksumUpdate32,
  foldSum,
  internetChecksum,
  ipv4HeaderChecksum,
  parseIpv4,
  parseIpv6,
  setIpv4HeaderChecksum,
  sum16,
  tcpChecksumIpv4,
  transportChecksumIpv6,
  udpChecksumIpv4,
  udpChecksumIpv6,
  verifyIpv4HeaderChecksum,
  verifyTransportChecksumIpv4,
  verifyTransportChecksumIpv6,
} from "../../net/mod.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return new Uint8Array(clean.match(/../g)!.map((b) => parseInt(b, 16)));
}

// The IPv4 header from Wikipedia's "Internet checksum" / IPv4 header checksum example.
const WIKI_HEADER = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");

Deno.test("internet checksum", async (t) => {
  await t.step("IPv4 header known answer 0xb861", () => {
    const zeroed = WIKI_HEADER.slice();
    zeroed[10] = 0;
    zeroed[11] = 0;
    assert.equal(internetChecksum(zeroed, 0, 20), 0xb861);
    assert.equal(ipv4HeaderChecksum(WIKI_HEADER, 0), 0xb861);
    assert.equal(internetChecksum(WIKI_HEADER, 0, 20), 0, "a correct header sums to 0");
    assert.ok(verifyIpv4HeaderChecksum(WIKI_HEADER, 0));
  });

  await t.step("Uint8Array and DataView give the same result at any offset", () => {
    const region = new Uint8Array(64).fill(0xee);
    region.set(WIKI_HEADER, 7);
    const view = new DataView(region.buffer);
    assert.equal(ipv4HeaderChecksum(view, 7), 0xb861);
    assert.equal(sum16(view, 7, 20), sum16(region, 7, 20));
    region[7 + 10] = 0;
    region[7 + 11] = 0;
    assert.equal(setIpv4HeaderChecksum(region, 7), 0xb861);
    assert.equal(region[17], 0xb8);
    assert.equal(region[18], 0x61);
  });

  await t.step("odd lengths pad with a zero byte", () => {
    const b = new Uint8Array([0x12, 0x34, 0x56]);
    assert.equal(sum16(b, 0, 3), 0x1234 + 0x5600);
    assert.equal(internetChecksum(b, 0, 3), ~(0x1234 + 0x5600) & 0xffff);
  });

  await t.step("partial sums chain and fold large sums", () => {
    const b = new Uint8Array(4096).fill(0xff);
    const whole = sum16(b, 0, 4096);
    assert.equal(sum16(b, 2048, 2048, sum16(b, 0, 2048)), whole);
    assert.equal(foldSum(whole), 0xffff);
    assert.equal(foldSum(2 ** 40 + 5), foldSum(foldSum(2 ** 40) + 5));
  });

  await t.step("ranges outside the buffer throw RangeError", () => {
    assert.throws(() => sum16(new Uint8Array(4), 2, 4), RangeError);
    assert.throws(() => internetChecksum(new DataView(new ArrayBuffer(4)), -1, 2), RangeError);
    assert.throws(() => ipv4HeaderChecksum(new Uint8Array(20), 0), RangeError); // IHL 0
  });
});

Deno.test("transport checksums", async (t) => {
  const src = parseIpv4("192.168.0.1");
  const dst = parseIpv4("192.168.0.199");
  // UDP 1234 -> 53 "hello"; 0x34e2 computed independently (Python, RFC 768 pseudo-header).
  const udp = hex("04d2 0035 000d 0000 68656c6c6f");

  await t.step("UDP over IPv4 known answer", () => {
    assert.equal(udpChecksumIpv4(udp, 0, udp.length, src, dst), 0x34e2);
    const stored = udp.slice();
    stored[6] = 0x34;
    stored[7] = 0xe2;
    assert.equal(udpChecksumIpv4(stored, 0, stored.length, src, dst), 0x34e2, "field ignored");
    assert.ok(verifyTransportChecksumIpv4(stored, 0, stored.length, src, dst, 17));
    stored[8] ^= 1;
    assert.ok(!verifyTransportChecksumIpv4(stored, 0, stored.length, src, dst, 17));
    assert.ok(verifyTransportChecksumIpv4(udp, 0, udp.length, src, dst, 17), "0 = no checksum");
  });

  await t.step("UDP over IPv6 known answer, zero checksum invalid", () => {
    const region = new Uint8Array(32 + udp.length);
    region.set(parseIpv6("2001:db8::1"), 0);
    region.set(parseIpv6("2001:db8::2"), 16);
    region.set(udp, 32);
    assert.equal(udpChecksumIpv6(region, 32, udp.length, 0, 16), 0x5b86);
    assert.ok(!verifyTransportChecksumIpv6(region, 32, udp.length, 0, 16, 17));
    region[38] = 0x5b;
    region[39] = 0x86;
    assert.ok(verifyTransportChecksumIpv6(region, 32, udp.length, 0, 16, 17));
    assert.equal(transportChecksumIpv6(region, 32, udp.length, 0, 16, 17), 0x5b86);
  });

  await t.step("TCP SYN with MSS option known answer", () => {
    const tcp = hex("9c40 0050 00000001 00000000 6002 ffff 0000 0000 020405b4");
    assert.equal(tcpChecksumIpv4(tcp, 0, tcp.length, src, dst), 0x797c);
  });

  await t.step("a UDP sum of 0 is sent as 0xffff", () => {
    // Pick a payload word that makes the complemented sum 0.
    const b = new Uint8Array(10);
    b[5] = 10; // length
    const base = udpChecksumIpv4(b, 0, 10, 0, 0);
    const v = new DataView(b.buffer);
    v.setUint16(8, base);
    assert.equal(udpChecksumIpv4(b, 0, 10, 0, 0), 0xffff);
  });
});

Deno.test("RFC 1624 incremental updates", async (t) => {
  await t.step("TTL decrement matches a full recomputation", () => {
    const h = WIKI_HEADER.slice();
    const updated = checksumUpdate16(0xb861, 0x4011, 0x3f11);
    h[8] = 0x3f;
    assert.equal(updated, ipv4HeaderChecksum(h, 0));
    assert.equal(updated, 0xb961);
  });

  await t.step("random 16- and 32-bit rewrites match recomputation", () => {
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const h = WIKI_HEADER.slice();
      const v = new DataView(h.buffer);
      const before = ipv4HeaderChecksum(h, 0);
      v.setUint16(10, before);
      if (i % 2 === 0) {
        const oldWord = v.getUint16(4);
        const newWord = rand() & 0xffff;
        v.setUint16(4, newWord);
        v.setUint16(10, checksumUpdate16(before, oldWord, newWord));
      } else {
        const oldIp = v.getUint32(12);
        const newIp = rand();
        v.setUint32(12, newIp);
        v.setUint16(10, checksumUpdate32(before, oldIp, newIp));
      }
      assert.ok(verifyIpv4HeaderChecksum(h, 0), `iteration ${i}`);
    }
  });
});
