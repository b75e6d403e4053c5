import assert from "node:assert/strict";
import { PARSER_RESULTS } from "./parser_results.ts";
import {
  buildArp,
  buildIcmpEcho,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildUdpFrame,
  EtherType,
  Icmpv6Type,
  IpProtocol,
  ipv4ToString,
  ipv6ToString,
  macToNumber,
  PacketParser,
  ParseStatus,
  parseStatusName,
  TcpFlags,
  UdpView,
  writeUdpFrame,
} from "../../net/mod.ts";

const MACS = { srcMac: "02:00:00:00:00:0a", dstMac: "02:00:00:00:00:0b" };

/** Places `frame` at `offset` in a larger region, as a packet sits in a mempool region. */
function inRegion(frame: Uint8Array, offset = 100, size = 4096): DataView {
  const region = new Uint8Array(size).fill(0x5a);
  region.set(frame, offset);
  return new DataView(region.buffer);
}

Deno.test("PacketParser on built frames", async (t) => {
  const p = new PacketParser();

  await t.step("UDP over IPv4 inside a region", () => {
    const frame = buildUdpFrame({
      ...MACS,
      srcIp: "10.1.2.3",
      dstIp: "10.4.5.6",
      srcPort: 1111,
      dstPort: 2222,
      payload: "hello world",
      ttl: 33,
    });
    const view = inRegion(frame, 100);
    assert.equal(p.parse(view, 100, frame.length), ParseStatus.OK);
    assert.equal(p.status, ParseStatus.OK);
    assert.equal(p.dstMacOffset, 100);
    assert.equal(p.srcMacOffset, 106);
    assert.equal(p.vlanCount, 0);
    assert.equal(p.vlanId0, -1);
    assert.equal(p.etherType, EtherType.IPV4);
    assert.equal(p.l3Offset, 114);
    assert.equal(p.ipVersion, 4);
    assert.equal(p.l3Length, 20 + 8 + 11);
    assert.equal(ipv4ToString(p.srcIpv4), "10.1.2.3");
    assert.equal(ipv4ToString(p.dstIpv4), "10.4.5.6");
    assert.equal(p.srcIpv6Offset, -1);
    assert.equal(p.ttl, 33);
    assert.equal(p.ipProtocol, IpProtocol.UDP);
    assert.equal(p.l4Offset, 134);
    assert.equal(p.srcPort, 1111);
    assert.equal(p.dstPort, 2222);
    assert.equal(p.payloadOffset, 142);
    assert.equal(p.payloadLength, 11);
    assert.equal(p.icmpType, -1);
    const text = new TextDecoder().decode(
      new Uint8Array(view.buffer, p.payloadOffset, p.payloadLength),
    );
    assert.equal(text, "hello world");
  });

  await t.step("UDP over IPv6 with QinQ, padding ignored", () => {
    const frame = buildUdpFrame({
      ...MACS,
      srcIp: "2001:db8::a",
      dstIp: "2001:db8::b",
      srcPort: 7,
      dstPort: 9,
      payload: new Uint8Array(3),
      vlan: [10, 20],
      minLength: 128,
    });
    assert.equal(frame.length, 128);
    assert.equal(p.parse(new DataView(frame.buffer), 0, frame.length), ParseStatus.OK);
    assert.equal(p.vlanCount, 2);
    assert.equal(p.vlanId0, 10);
    assert.equal(p.vlanId1, 20);
    assert.equal(p.etherType, EtherType.IPV6);
    assert.equal(p.l3Offset, 22);
    assert.equal(p.ipVersion, 6);
    assert.equal(p.srcIpv4, 0);
    assert.equal(ipv6ToString(frame, p.srcIpv6Offset), "2001:db8::a");
    assert.equal(ipv6ToString(frame, p.dstIpv6Offset), "2001:db8::b");
    assert.equal(p.ttl, 64);
    assert.equal(p.l4Offset, 62);
    assert.equal(p.srcPort, 7);
    assert.equal(p.dstPort, 9);
    assert.equal(p.payloadLength, 3, "Ethernet padding is not payload");
  });

  await t.step("TCP flags and payload", () => {
    const frame = buildTcpFrame({
      ...MACS,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      srcPort: 50000,
      dstPort: 80,
      flags: TcpFlags.PSH | TcpFlags.ACK,
      options: new Uint8Array([1, 1, 1]),
      payload: "GET /",
      vlan: 5,
    });
    assert.equal(p.parse(new DataView(frame.buffer), 0, frame.length), ParseStatus.OK);
    assert.equal(p.vlanCount, 1);
    assert.equal(p.vlanId0, 5);
    assert.equal(p.ipProtocol, IpProtocol.TCP);
    assert.equal(p.tcpFlags, TcpFlags.PSH | TcpFlags.ACK);
    assert.equal(p.payloadOffset, 18 + 20 + 24);
    assert.equal(p.payloadLength, 5);
  });

  await t.step("ICMP echo over IPv4 and IPv6, NDP", () => {
    const v4 = buildIcmpEcho({ ...MACS, srcIp: "10.0.0.1", dstIp: "10.0.0.2", payload: "abcd" });
    assert.equal(p.parse(new DataView(v4.buffer), 0, v4.length), ParseStatus.OK);
    assert.equal(p.ipProtocol, IpProtocol.ICMP);
    assert.equal(p.icmpType, 8);
    assert.equal(p.icmpCode, 0);
    assert.equal(p.payloadLength, 4);
    const v6 = buildIcmpEcho({ ...MACS, srcIp: "fe80::1", dstIp: "fe80::2", reply: true });
    assert.equal(p.parse(new DataView(v6.buffer), 0, v6.length), ParseStatus.OK);
    assert.equal(p.ipProtocol, IpProtocol.ICMPV6);
    assert.equal(p.icmpType, Icmpv6Type.ECHO_REPLY);
    const ns = buildNeighborSolicitation({
      srcMac: MACS.srcMac,
      srcIp: "fe80::1",
      targetIp: "fe80::2",
    });
    assert.equal(p.parse(new DataView(ns.buffer), 0, ns.length), ParseStatus.OK);
    assert.equal(p.icmpType, Icmpv6Type.NEIGHBOR_SOLICITATION);
    assert.equal(p.ttl, 255);
  });

  await t.step("ARP is OK with no IP fields", () => {
    const arp = buildArp({ srcMac: MACS.srcMac, senderIp: "1.1.1.1", targetIp: "1.1.1.2" });
    assert.equal(p.parse(new DataView(arp.buffer), 0, arp.length), ParseStatus.OK);
    assert.equal(p.etherType, EtherType.ARP);
    assert.equal(p.ipVersion, 0);
    assert.equal(p.l3Offset, 14);
    assert.equal(p.ipProtocol, -1);
    assert.equal(p.payloadOffset, 14);
    assert.equal(p.payloadLength, 28);
  });

  await t.step("writeUdpFrame writes in place, parses back, checksums valid", () => {
    const region = new Uint8Array(4096).fill(0xcc);
    const view = new DataView(region.buffer);
    const payload = new TextEncoder().encode("pktgen");
    const fields = {
      srcMac: macToNumber(MACS.srcMac),
      dstMac: macToNumber(MACS.dstMac),
      srcIp: 0xc0a80001,
      dstIp: 0xc0a80002,
      srcPort: 1000,
      dstPort: 2000,
      payloadLength: 18,
      payload,
      vlan: 42,
      identification: 9,
    };
    const length = writeUdpFrame(view, region, 256, fields);
    assert.equal(length, 18 + 20 + 8 + 18);
    assert.equal(p.parse(view, 256, length), ParseStatus.OK);
    assert.equal(p.vlanId0, 42);
    assert.equal(p.srcPort, 1000);
    assert.equal(p.payloadLength, 18);
    const udp = new UdpView();
    udp.attach(view, p.l4Offset, p.l3Offset + p.l3Length - p.l4Offset);
    assert.ok(udp.checksumValidIpv4(p.srcIpv4, p.dstIpv4));
    // Same frame as the allocating builder (minus the 0xcc bytes it leaves as payload).
    const built = buildUdpFrame({
      ...MACS,
      srcIp: "192.168.0.1",
      dstIp: "192.168.0.2",
      srcPort: 1000,
      dstPort: 2000,
      payload: region.slice(256 + length - 18, 256 + length),
      vlan: 42,
      identification: 9,
    });
    assert.deepEqual(region.slice(256, 256 + length), built);
    assert.throws(() => writeUdpFrame(view, region, 4090, fields), RangeError);
  });

  await t.step("writeUdpFrame matches buildUdpFrame for every payload length and field mix", () => {
    const region = new Uint8Array(4096);
    const view = new DataView(region.buffer);
    let seed = 7;
    const rnd = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let len = 0; len < 64; len++) {
      const payload = Uint8Array.from({ length: len }, () => rnd(256));
      const srcIp = rnd(0x100000000), dstIp = rnd(0x100000000);
      const fields = {
        srcMac: macToNumber(MACS.srcMac),
        dstMac: macToNumber(MACS.dstMac),
        srcIp,
        dstIp,
        srcPort: rnd(65536),
        dstPort: rnd(65536),
        payloadLength: len,
        payload,
        ttl: 1 + rnd(255),
        identification: rnd(65536),
      };
      const length = writeUdpFrame(view, region, 100, fields);
      const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
      const built = buildUdpFrame({
        ...MACS,
        srcIp: ip(srcIp),
        dstIp: ip(dstIp),
        srcPort: fields.srcPort,
        dstPort: fields.dstPort,
        payload,
        ttl: fields.ttl,
        identification: fields.identification,
      });
      assert.deepEqual(region.slice(100, 100 + length), built, `payload length ${len}`);
    }
  });

  await t.step("builders reject bad input", () => {
    assert.throws(
      () => buildUdpFrame({ ...MACS, srcIp: "10.0.0.1", dstIp: "::1", srcPort: 1, dstPort: 2 }),
      TypeError,
    );
    assert.throws(
      () =>
        buildUdpFrame({ ...MACS, srcIp: "1.1.1.1", dstIp: "2.2.2.2", srcPort: 70000, dstPort: 2 }),
      RangeError,
    );
    assert.throws(
      () =>
        buildUdpFrame({
          ...MACS,
          srcIp: "1.1.1.1",
          dstIp: "2.2.2.2",
          srcPort: 1,
          dstPort: 2,
          vlan: 4096,
        }),
      RangeError,
    );
  });
});

Deno.test("PacketParser status codes", async (t) => {
  const p = new PacketParser();
  const udp4 = buildUdpFrame({
    ...MACS,
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    srcPort: 1,
    dstPort: 2,
    payload: "0123456789",
  });
  const parse = (frame: Uint8Array, length = frame.length) =>
    p.parse(new DataView(frame.buffer), 0, length);
  const mutate = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = udp4.slice();
    f(b, new DataView(b.buffer));
    return b;
  };

  await t.step("bounds", () => {
    const v = new DataView(new ArrayBuffer(64));
    assert.equal(p.parse(v, -1, 10), ParseStatus.BAD_BOUNDS);
    assert.equal(p.parse(v, 60, 10), ParseStatus.BAD_BOUNDS);
    assert.equal(p.parse(v, 0.5, 10), ParseStatus.BAD_BOUNDS);
    assert.equal(p.parse(v, 0, NaN), ParseStatus.BAD_BOUNDS);
    assert.equal(parseStatusName(p.status), "BAD_BOUNDS");
  });

  await t.step("truncations at each layer", () => {
    assert.equal(parse(udp4, 13), ParseStatus.TRUNCATED_L2);
    assert.equal(parse(udp4, 14 + 19), ParseStatus.TRUNCATED_L3);
    assert.equal(p.etherType, EtherType.IPV4);
    assert.equal(parse(udp4, udp4.length - 1), ParseStatus.TRUNCATED_L3, "total length > frame");
    const tagged = buildUdpFrame({
      ...MACS,
      srcIp: "1.1.1.1",
      dstIp: "2.2.2.2",
      srcPort: 1,
      dstPort: 2,
      vlan: [1, 2],
    });
    assert.equal(parse(tagged, 19), ParseStatus.TRUNCATED_L2, "second tag cut");
    assert.equal(p.vlanCount, 1);
    const shortUdp = mutate((_b, v) => v.setUint16(16, 20 + 7)); // IP total leaves 7 bytes of UDP
    assert.equal(parse(shortUdp), ParseStatus.TRUNCATED_L4);
  });

  await t.step("malformed IP and UDP", () => {
    assert.equal(parse(mutate((b) => b[14] = 0x65)), ParseStatus.BAD_L3, "version 6 in IPv4");
    assert.equal(parse(mutate((b) => b[14] = 0x44)), ParseStatus.BAD_L3, "IHL 4");
    assert.equal(parse(mutate((b) => b[14] = 0x4f)), ParseStatus.TRUNCATED_L3, "IHL 15");
    assert.equal(parse(mutate((_b, v) => v.setUint16(16, 19))), ParseStatus.BAD_L3);
    assert.equal(parse(mutate((_b, v) => v.setUint16(38, 7))), ParseStatus.BAD_L4, "UDP len 7");
    assert.equal(parse(mutate((_b, v) => v.setUint16(38, 100))), ParseStatus.BAD_L4);
    assert.equal(p.payloadLength, 10, "payload clamped to the IP packet");
    // Trailing Ethernet padding after a shorter UDP length is fine.
    assert.equal(parse(mutate((_b, v) => v.setUint16(38, 12))), ParseStatus.OK);
    assert.equal(p.payloadLength, 4);
  });

  await t.step("TCP data offset", () => {
    const tcp = buildTcpFrame({
      ...MACS,
      srcIp: "1.1.1.1",
      dstIp: "2.2.2.2",
      srcPort: 1,
      dstPort: 2,
    });
    tcp[46] = 0x40;
    assert.equal(parse(tcp), ParseStatus.BAD_L4);
    tcp[46] = 0x60;
    assert.equal(parse(tcp), ParseStatus.TRUNCATED_L4);
  });

  await t.step("IPv4 fragments", () => {
    const first = mutate((_b, v) => v.setUint16(20, 0x2000)); // MF, offset 0
    assert.equal(parse(first), ParseStatus.OK);
    assert.ok(p.isFragment);
    assert.equal(p.srcPort, 1);
    const later = mutate((_b, v) => v.setUint16(20, 0x0003)); // offset 24 bytes
    assert.equal(parse(later), ParseStatus.OK);
    assert.ok(p.isFragment);
    assert.equal(p.fragmentOffset, 3);
    assert.equal(p.l4Offset, -1);
    assert.equal(p.srcPort, 0);
    assert.equal(p.payloadOffset, 34);
    assert.equal(p.payloadLength, 18);
  });

  await t.step("IPv6 extension headers, fragments and bad chains", () => {
    // HBH(8) -> fragment(8) -> dest opts(16) -> UDP(8 + 4)
    const b = new Uint8Array(14 + 40 + 8 + 8 + 16 + 12);
    const v = new DataView(b.buffer);
    v.setUint16(12, EtherType.IPV6);
    v.setUint32(14, 0x60000000);
    v.setUint16(18, b.length - 54);
    b[20] = 0;
    b[21] = 64;
    b.set([44, 0], 54);
    b.set([60, 0, 0, 0, 0, 0, 0, 1], 62);
    b.set([17, 1], 70);
    v.setUint16(86, 53);
    v.setUint16(88, 5353);
    v.setUint16(90, 12);
    assert.equal(parse(b), ParseStatus.OK);
    assert.equal(p.ipProtocol, 17);
    assert.equal(p.l4Offset, 86);
    assert.equal(p.dstPort, 5353);
    assert.equal(p.payloadLength, 4);
    assert.ok(p.isFragment);
    assert.equal(p.fragmentOffset, 0);
    // A later fragment stops after the fragment header.
    v.setUint16(64, 0x0010);
    assert.equal(parse(b), ParseStatus.OK);
    assert.equal(p.fragmentOffset, 2);
    assert.equal(p.ipProtocol, 60);
    assert.equal(p.l4Offset, -1);
    assert.equal(p.payloadOffset, 70);
    v.setUint16(64, 0);
    // The destination options header claims more than the packet holds.
    b[71] = 9;
    assert.equal(parse(b), ParseStatus.TRUNCATED_EXTENSION);
    b[71] = 1;
    // Payload length beyond the frame.
    v.setUint16(18, 1000);
    assert.equal(parse(b), ParseStatus.TRUNCATED_L3);
    // A chain of hop-by-hop headers pointing at themselves ends at the packet end.
    v.setUint16(18, b.length - 54);
    for (let i = 54; i < b.length; i += 8) b.set([0, 0], i);
    assert.equal(parse(b), ParseStatus.TRUNCATED_EXTENSION);
    b[14] = 0x40;
    assert.equal(parse(b), ParseStatus.BAD_L3);
  });
});

/** Every public result of the parser, fields and getters. */
const RESULTS = PARSER_RESULTS;

/** What a parser that never parsed anything holds for each result, as documented. */
const DEFAULTS: Record<(typeof RESULTS)[number], number | boolean> = {
  status: ParseStatus.BAD_BOUNDS,
  dstMacOffset: -1,
  srcMacOffset: -1,
  vlanCount: 0,
  vlanId0: -1,
  vlanId1: -1,
  etherType: -1,
  l3Offset: -1,
  ipVersion: 0,
  l3Length: 0,
  srcIpv4: 0,
  dstIpv4: 0,
  srcIpv6Offset: -1,
  dstIpv6Offset: -1,
  ttl: 0,
  ipProtocol: -1,
  isFragment: false,
  fragmentOffset: 0,
  l4Offset: -1,
  srcPort: 0,
  dstPort: 0,
  tcpFlags: 0,
  icmpType: -1,
  icmpCode: -1,
  payloadOffset: -1,
  payloadLength: 0,
};

function results(p: PacketParser): Record<string, number | boolean> {
  return Object.fromEntries(RESULTS.map((name) => [name, p[name]]));
}

/** Asserts that every result not named in `reached` holds its default. */
function assertDefaultsExcept(p: PacketParser, reached: readonly string[], where: string): void {
  for (const name of RESULTS) {
    if (!reached.includes(name)) assert.equal(p[name], DEFAULTS[name], `${where}: ${name}`);
  }
}

Deno.test("PacketParser results do not depend on earlier packets", async (t) => {
  const udp = buildUdpFrame({
    ...MACS,
    srcIp: "192.168.1.2",
    dstIp: "10.0.0.9",
    srcPort: 5353,
    dstPort: 53,
    payload: "query",
    ttl: 17,
  });
  const qinqTcp = buildTcpFrame({
    ...MACS,
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    srcPort: 40000,
    dstPort: 443,
    flags: TcpFlags.SYN,
    vlan: [100, 200],
  });
  const icmp6 = buildIcmpEcho({ ...MACS, srcIp: "fe80::1", dstIp: "fe80::2", payload: "p" });
  const arp = buildArp({ srcMac: MACS.srcMac, senderIp: "1.1.1.1", targetIp: "1.1.1.2" });
  const firstFragment = udp.slice();
  new DataView(firstFragment.buffer).setUint16(20, 0x2000); // MF, offset 0

  await t.step("UDP, then ARP, then a truncated IPv4 frame: later layers read as defaults", () => {
    const p = new PacketParser();
    const view = (f: Uint8Array) => new DataView(f.buffer);
    // Twice, so that the second UDP parse runs with the fields of the first in place.
    assert.equal(p.parse(view(udp), 0, udp.length), ParseStatus.OK);
    assert.equal(p.parse(view(udp), 0, udp.length), ParseStatus.OK);
    assert.equal(p.dstPort, 53);
    assert.equal(ipv4ToString(p.srcIpv4), "192.168.1.2");

    assert.equal(p.parse(view(arp), 0, arp.length), ParseStatus.OK);
    assert.equal(p.etherType, EtherType.ARP);
    assert.equal(p.l3Offset, 14);
    assert.equal(p.payloadOffset, 14);
    assert.equal(p.payloadLength, 28);
    assertDefaultsExcept(p, [
      "status",
      "dstMacOffset",
      "srcMacOffset",
      "etherType",
      "l3Offset",
      "payloadOffset",
      "payloadLength",
    ], "ARP after UDP");

    // The IPv4 header is cut after 19 bytes: nothing of layer 3 or above was parsed.
    assert.equal(p.parse(view(udp), 0, 14 + 19), ParseStatus.TRUNCATED_L3);
    assert.equal(p.etherType, EtherType.IPV4);
    assertDefaultsExcept(p, [
      "status",
      "dstMacOffset",
      "srcMacOffset",
      "etherType",
      "l3Offset",
      "payloadOffset",
      "payloadLength",
    ], "truncated IPv4 after ARP");

    // The IPv4 header is whole but the packet is shorter than its total length.
    assert.equal(p.parse(view(udp), 0, udp.length - 1), ParseStatus.TRUNCATED_L3);
    assert.equal(p.ipVersion, 4);
    assert.equal(p.ttl, 17);
    assertDefaultsExcept(p, [
      "status",
      "dstMacOffset",
      "srcMacOffset",
      "etherType",
      "l3Offset",
      "payloadOffset",
      "payloadLength",
      "ipVersion",
      "ttl",
      "ipProtocol",
      "srcIpv4",
      "dstIpv4",
    ], "IPv4 longer than the frame");

    assert.equal(p.parse(view(udp), 0, 13), ParseStatus.TRUNCATED_L2);
    assertDefaultsExcept(p, ["status"], "runt frame");
    assert.equal(p.parse(view(udp), 0, udp.length + 1), ParseStatus.BAD_BOUNDS);
    assert.deepEqual(results(p), DEFAULTS, "bad bounds");
  });

  await t.step("VLAN, IPv6, TCP and ICMP fields are cleared by a plain UDP/IPv4 packet", () => {
    const p = new PacketParser();
    for (const before of [qinqTcp, icmp6, firstFragment]) {
      p.parse(new DataView(before.buffer), 0, before.length);
      assert.equal(p.parse(new DataView(udp.buffer), 0, udp.length), ParseStatus.OK);
      assert.equal(p.vlanCount, 0);
      assert.equal(p.vlanId0, -1);
      assert.equal(p.vlanId1, -1);
      assert.equal(p.l3Offset, 14);
      assert.equal(p.srcIpv6Offset, -1);
      assert.equal(p.dstIpv6Offset, -1);
      assert.equal(p.tcpFlags, 0);
      assert.equal(p.icmpType, -1);
      assert.equal(p.icmpCode, -1);
      assert.equal(p.isFragment, false);
      assert.equal(p.ipProtocol, IpProtocol.UDP);
    }
  });

  await t.step("every frame after every other frame reads as on a new parser", () => {
    const ext = new Uint8Array(14 + 40 + 8 + 12); // IPv6, fragment header, UDP
    const ev = new DataView(ext.buffer);
    ev.setUint16(12, EtherType.IPV6);
    ev.setUint32(14, 0x60000000);
    ev.setUint16(18, 8 + 12);
    ext[20] = 44;
    ext[54] = 17;
    ev.setUint16(56, 0x0011); // offset 2 (a later fragment), MF
    const later = udp.slice();
    new DataView(later.buffer).setUint16(20, 0x0003);
    const frames = [udp, qinqTcp, icmp6, arp, firstFragment, later, ext];
    // Each frame whole and cut at every length, at an offset inside a larger region.
    const cases: [Uint8Array, number][] = [];
    for (const f of frames) for (let len = 0; len <= f.length; len++) cases.push([f, len]);
    const views = new Map(frames.map((f) => [f, inRegion(f, 64)]));
    const expected = cases.map(([f, len]) => {
      const fresh = new PacketParser();
      fresh.parse(views.get(f)!, 64, len);
      return results(fresh);
    });
    const p = new PacketParser();
    for (let a = 0; a < cases.length; a++) {
      for (const b of [a, (a * 7 + 3) % cases.length, cases.length - 1 - a]) {
        p.parse(views.get(cases[a][0])!, 64, cases[a][1]);
        p.parse(views.get(cases[b][0])!, 64, cases[b][1]);
        assert.deepEqual(results(p), expected[b], `case ${b} after case ${a}`);
      }
    }
  });
});
