import assert from "node:assert/strict";
import {
  ArpOperation,
  ArpView,
  buildArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildUdpFrame,
  EthernetView,
  IcmpType,
  Icmpv6Type,
  Icmpv6View,
  IcmpView,
  ipv4ToString,
  Ipv4View,
  ipv6ToString,
  Ipv6View,
  macToNumber,
  macToString,
  parseIpv4,
  parseIpv6,
  parseMac,
  readMac,
  TcpFlags,
  TcpOption,
  TcpView,
  UdpView,
  writeMac,
} from "../../net/mod.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_B = "02:00:00:00:00:0b";

function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

Deno.test("address helpers", async (t) => {
  await t.step("MAC text, bytes and numbers", () => {
    assert.deepEqual([...parseMac("AA-bb-cc-00-01-ff")], [0xaa, 0xbb, 0xcc, 0, 1, 0xff]);
    assert.equal(macToString(parseMac("aa:bb:cc:00:01:ff")), "aa:bb:cc:00:01:ff");
    assert.equal(macToNumber("ff:ff:ff:ff:ff:ff"), 0xffffffffffff);
    assert.equal(macToString(0x0123456789ab), "01:23:45:67:89:ab");
    const b = new Uint8Array(10);
    writeMac(dv(b), 3, 0xfedcba987654);
    assert.equal(readMac(dv(b), 3), 0xfedcba987654);
    assert.equal(macToString(b, 3), "fe:dc:ba:98:76:54");
    assert.throws(() => parseMac("aa:bb:cc:dd:ee"), TypeError);
    assert.throws(() => parseMac("aa:bb:cc:dd:ee:fg"), TypeError);
  });

  await t.step("IPv4 text", () => {
    assert.equal(parseIpv4("192.168.0.199"), 0xc0a800c7);
    assert.equal(ipv4ToString(0xffffffff), "255.255.255.255");
    assert.equal(ipv4ToString(parseIpv4("10.20.30.40")), "10.20.30.40");
    for (const bad of ["1.2.3", "1.2.3.256", "a.b.c.d", "1..2.3", "1.2.3.4.5", ""]) {
      assert.throws(() => parseIpv4(bad), TypeError, bad);
    }
  });

  await t.step("IPv6 text with :: compression (RFC 5952)", () => {
    const cases: [string, string][] = [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["fe80::", "fe80::"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single 0 group stays
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first run on a tie
      ["::ffff:192.0.2.1", "::ffff:c000:201"],
      ["FF02::1:FF00:2", "ff02::1:ff00:2"],
    ];
    for (const [input, expected] of cases) assert.equal(ipv6ToString(parseIpv6(input)), expected);
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::", ":::"]) {
      assert.throws(() => parseIpv6(bad), TypeError, bad);
    }
  });
});

Deno.test("Ethernet view", async (t) => {
  await t.step("fields, MAC swap, VLAN tags", () => {
    const frame = buildUdpFrame({
      srcMac: MAC_A,
      dstMac: MAC_B,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      srcPort: 1,
      dstPort: 2,
      vlan: [100, 200],
    });
    const eth = new EthernetView();
    assert.ok(eth.attach(dv(frame), 0, frame.length));
    assert.equal(eth.dstString, MAC_B);
    assert.equal(eth.srcString, MAC_A);
    assert.equal(eth.etherType, 0x88a8);
    assert.equal(eth.vlanCount, 2);
    assert.equal(eth.vlanId, 100);
    assert.equal(eth.vlanTci(1), 200);
    assert.equal(eth.vlanTci(2), -1);
    assert.equal(eth.innerEtherType, 0x0800);
    assert.equal(eth.headerLength, 22);
    assert.equal(eth.payloadOffset, 22);
    eth.swapMacs();
    assert.equal(eth.dstString, MAC_A);
    assert.equal(eth.srcString, MAC_B);
    assert.ok(!eth.isMulticast);
    eth.dst = 0xffffffffffff;
    assert.ok(eth.isBroadcast && eth.isMulticast);
  });

  await t.step("too short: attach false, getters 0, setters no-ops", () => {
    const b = new Uint8Array(13).fill(0xab);
    const eth = new EthernetView();
    assert.equal(eth.attach(dv(b), 0, 13), false);
    assert.equal(eth.dst, 0);
    assert.equal(eth.vlanCount, 0);
    eth.src = 0;
    assert.ok(b.every((x) => x === 0xab));
    assert.equal(eth.attach(dv(b), 0, 14), false, "window leaves the DataView");
  });
});

Deno.test("ARP view", async (t) => {
  await t.step("request fields and makeReply", () => {
    const frame = buildArp({ srcMac: MAC_A, senderIp: "10.0.0.1", targetIp: "10.0.0.2" });
    assert.equal(frame.length, 42);
    const eth = new EthernetView();
    eth.attach(dv(frame), 0, frame.length);
    assert.ok(eth.isBroadcast);
    assert.equal(eth.etherType, 0x0806);
    const arp = new ArpView();
    assert.ok(arp.attach(dv(frame), 14, frame.length - 14));
    assert.ok(arp.isEthernetIpv4);
    assert.equal(arp.operation, ArpOperation.REQUEST);
    assert.equal(macToString(arp.senderMac), MAC_A);
    assert.equal(ipv4ToString(arp.senderIp), "10.0.0.1");
    assert.equal(arp.targetMac, 0);
    assert.equal(ipv4ToString(arp.targetIp), "10.0.0.2");
    arp.makeReply(macToNumber(MAC_B));
    assert.equal(arp.operation, ArpOperation.REPLY);
    assert.equal(macToString(arp.senderMac), MAC_B);
    assert.equal(ipv4ToString(arp.senderIp), "10.0.0.2");
    assert.equal(macToString(arp.targetMac), MAC_A);
    assert.equal(ipv4ToString(arp.targetIp), "10.0.0.1");
  });
});

Deno.test("IPv4 view", async (t) => {
  const frame = buildUdpFrame({
    srcMac: MAC_A,
    dstMac: MAC_B,
    srcIp: "192.168.1.1",
    dstIp: "192.168.1.2",
    srcPort: 5000,
    dstPort: 6000,
    payload: "abc",
    ttl: 17,
    tos: 0xb8,
    identification: 0x1234,
    dontFragment: true,
  });
  const ip = new Ipv4View();

  await t.step("fixed fields", () => {
    assert.ok(ip.attach(dv(frame), 14, frame.length - 14));
    assert.equal(ip.version, 4);
    assert.equal(ip.ihl, 5);
    assert.equal(ip.dscp, 46);
    assert.equal(ip.ecn, 0);
    assert.equal(ip.totalLength, 20 + 8 + 3);
    assert.equal(ip.identification, 0x1234);
    assert.ok(ip.dontFragment && !ip.moreFragments && !ip.isFragment);
    assert.equal(ip.flags, 2);
    assert.equal(ip.ttl, 17);
    assert.equal(ip.protocol, 17);
    assert.equal(ipv4ToString(ip.src), "192.168.1.1");
    assert.equal(ipv4ToString(ip.dst), "192.168.1.2");
    assert.ok(ip.wellFormed);
    assert.ok(ip.checksumValid);
    assert.equal(ip.payloadOffset, 34);
    assert.equal(ip.payloadLength, 11);
    assert.equal(ip.optionsLength, 0);
  });

  await t.step("decrementTtl keeps the checksum valid", () => {
    assert.equal(ip.decrementTtl(), 16);
    assert.ok(ip.checksumValid);
    ip.ttl = 0;
    ip.updateChecksum();
    assert.equal(ip.decrementTtl(), 0);
    assert.ok(ip.checksumValid);
  });

  await t.step("options and lying lengths are clamped", () => {
    const b = new Uint8Array(32);
    const v = dv(b);
    b.set([0x47, 0, 0, 32]); // IHL 7: 8 bytes of options
    b.set([1, 7, 7, 4, 0, 0, 0, 0], 20); // NOP, record route (len 7), end
    assert.ok(ip.attach(v, 0, 32));
    assert.equal(ip.optionsLength, 8);
    assert.equal(ip.findOption(7), 21);
    assert.equal(ip.findOption(68), -1);
    assert.equal(ip.payloadOffset, 28);
    assert.equal(ip.payloadLength, 4);
    b[0] = 0x4f; // IHL 15 = 60 bytes, beyond the 32 attached
    assert.equal(ip.optionsLength, 12);
    assert.equal(ip.payloadLength, 0);
    assert.ok(!ip.wellFormed);
    assert.ok(!ip.checksumValid);
    assert.equal(ip.computeChecksum(), 0);
    b[0] = 0x43; // IHL 3 < 5
    assert.equal(ip.payloadOffset, 20);
    assert.ok(!ip.wellFormed);
    b[0] = 0x45;
    ip.totalLength = 9000;
    assert.equal(ip.payloadLength, 12);
  });
});

Deno.test("IPv6 view and extension headers", async (t) => {
  await t.step("fixed fields", () => {
    const frame = buildUdpFrame({
      srcMac: MAC_A,
      dstMac: MAC_B,
      srcIp: "2001:db8::1",
      dstIp: "2001:db8::2",
      srcPort: 1,
      dstPort: 2,
      tos: 0x12,
      flowLabel: 0xabcde,
      ttl: 9,
    });
    const ip6 = new Ipv6View();
    assert.ok(ip6.attach(dv(frame), 14, frame.length - 14));
    assert.equal(ip6.version, 6);
    assert.equal(ip6.trafficClass, 0x12);
    assert.equal(ip6.flowLabel, 0xabcde);
    assert.equal(ip6.payloadLength, 8);
    assert.equal(ip6.nextHeader, 17);
    assert.equal(ip6.hopLimit, 9);
    assert.equal(ip6.srcString, "2001:db8::1");
    assert.equal(ip6.dstString, "2001:db8::2");
    assert.ok(ip6.wellFormed);
    assert.ok(ip6.walkExtensionHeaders());
    assert.equal(ip6.upperLayerProtocol, 17);
    assert.equal(ip6.upperLayerOffset, 54);
    ip6.setDst(parseIpv6("::1"));
    assert.equal(ip6.dstString, "::1");
    assert.equal(ip6.decrementHopLimit(), 8);
  });

  await t.step("hop-by-hop, routing, fragment, AH, destination options", () => {
    const b = new Uint8Array(40 + 8 + 24 + 8 + 16 + 8 + 8);
    const v = dv(b);
    v.setUint32(0, 0x60000000);
    v.setUint16(4, b.length - 40);
    b[6] = 0; // hop-by-hop
    let p = 40;
    b.set([43, 0], p); // HBH: next routing, 8 bytes
    p += 8;
    b.set([44, 2], p); // routing: next fragment, (2+1)*8 = 24 bytes
    p += 24;
    b.set([51, 0, 0, 0], p); // fragment: next AH, offset 0, MF 0
    p += 8;
    b.set([60, 2], p); // AH: next dest-opts, (2+2)*4 = 16 bytes
    p += 16;
    b.set([17, 0], p); // dest opts: next UDP, 8 bytes
    p += 8;
    const ip6 = new Ipv6View();
    assert.ok(ip6.attach(v, 0, b.length));
    assert.ok(ip6.walkExtensionHeaders());
    assert.equal(ip6.upperLayerProtocol, 17);
    assert.equal(ip6.upperLayerOffset, p);
    assert.equal(ip6.extensionCount, 5);
    assert.equal(ip6.fragmentHeaderOffset, 72);
    assert.equal(ip6.fragmentOffset, 0);
    assert.ok(!ip6.moreFragments);
    // A routing header claiming 255*8 bytes runs past the packet.
    b[41 + 8] = 255;
    assert.equal(ip6.walkExtensionHeaders(), false);
    assert.equal(ip6.upperLayerProtocol, -1);
  });
});

Deno.test("UDP and TCP views", async (t) => {
  await t.step("UDP fields and checksums over IPv4 and IPv6", () => {
    for (const [srcIp, dstIp] of [["10.0.0.1", "10.0.0.2"], ["fe80::1", "fe80::2"]]) {
      const frame = buildUdpFrame({
        srcMac: MAC_A,
        dstMac: MAC_B,
        srcIp,
        dstIp,
        srcPort: 4000,
        dstPort: 53,
        payload: "query",
      });
      const v6 = srcIp.includes(":");
      const l4 = v6 ? 54 : 34;
      const udp = new UdpView();
      assert.ok(udp.attach(dv(frame), l4, frame.length - l4));
      assert.equal(udp.srcPort, 4000);
      assert.equal(udp.dstPort, 53);
      assert.equal(udp.length, 13);
      assert.ok(udp.wellFormed);
      assert.equal(udp.payloadOffset, l4 + 8);
      assert.equal(udp.payloadLength, 5);
      const ok = v6 ? udp.checksumValidIpv6(22, 38) : udp.checksumValidIpv4(0x0a000001, 0x0a000002);
      assert.ok(ok, srcIp);
      const stored = udp.checksum;
      udp.checksum = 0x1111;
      const again = v6
        ? udp.updateChecksumIpv6(22, 38)
        : udp.updateChecksumIpv4(0x0a000001, 0x0a000002);
      assert.equal(again, stored);
    }
  });

  await t.step("TCP flags, data offset and options", () => {
    const options = new Uint8Array([
      TcpOption.MSS,
      4,
      0x05,
      0xb4,
      TcpOption.SACK_PERMITTED,
      2,
      TcpOption.TIMESTAMP,
      10,
      0,
      0,
      0x12,
      0x34,
      0,
      0,
      0,
      0,
      TcpOption.NOP,
      TcpOption.WINDOW_SCALE,
      3,
      7,
    ]);
    const frame = buildTcpFrame({
      srcMac: MAC_A,
      dstMac: MAC_B,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      srcPort: 40000,
      dstPort: 443,
      seq: 0xfffffff0,
      ack: 7,
      flags: TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR,
      window: 1024,
      options,
      payload: "x",
    });
    const tcp = new TcpView();
    assert.ok(tcp.attach(dv(frame), 34, frame.length - 34));
    assert.equal(tcp.srcPort, 40000);
    assert.equal(tcp.dstPort, 443);
    assert.equal(tcp.seq, 0xfffffff0);
    assert.equal(tcp.ack, 7);
    assert.equal(tcp.dataOffset, 10);
    assert.equal(tcp.headerLength, 40);
    assert.ok(tcp.hasFlags(TcpFlags.SYN | TcpFlags.CWR));
    assert.ok(!tcp.hasFlags(TcpFlags.ACK));
    assert.equal(tcp.window, 1024);
    assert.equal(tcp.mss, 1460);
    assert.ok(tcp.sackPermitted);
    assert.equal(tcp.timestampValue, 0x1234);
    assert.equal(tcp.timestampEcho, 0);
    assert.equal(tcp.windowScale, 7);
    assert.equal(tcp.payloadOffset, 74);
    assert.equal(tcp.payloadLength, 1);
    assert.ok(tcp.checksumValidIpv4(0x0a000001, 0x0a000002));
    tcp.flags = TcpFlags.ACK;
    assert.equal(tcp.dataOffset, 10, "setting flags keeps the data offset");
    tcp.updateChecksumIpv4(0x0a000001, 0x0a000002);
    assert.ok(tcp.checksumValidIpv4(0x0a000001, 0x0a000002));
  });

  await t.step("malformed TCP options stop the walk inside the header", () => {
    const b = new Uint8Array(32);
    const tcp = new TcpView();
    tcp.attach(dv(b), 0, 32);
    tcp.dataOffset = 8; // 12 bytes of options
    b.set([TcpOption.NOP, TcpOption.MSS, 0], 20); // MSS with length 0: malformed
    assert.equal(tcp.mss, -1);
    b.set([TcpOption.NOP, TcpOption.MSS, 4, 1, 2, TcpOption.WINDOW_SCALE, 40], 20);
    assert.equal(tcp.mss, 0x0102);
    assert.equal(tcp.windowScale, -1, "option runs past the header");
    tcp.dataOffset = 15; // 60 bytes claimed, only 32 attached
    assert.equal(tcp.optionsLength, 12);
    assert.ok(!tcp.wellFormed);
    tcp.dataOffset = 2;
    assert.equal(tcp.optionsLength, 0);
    assert.equal(tcp.mss, -1);
  });
});

Deno.test("ICMP and ICMPv6 views", async (t) => {
  await t.step("ICMPv4 echo and echoToReply", () => {
    const frame = buildIcmpEcho({
      srcMac: MAC_A,
      dstMac: MAC_B,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      identifier: 0x77,
      sequence: 3,
      payload: "ping!",
    });
    const icmp = new IcmpView();
    assert.ok(icmp.attach(dv(frame), 34, frame.length - 34));
    assert.equal(icmp.type, IcmpType.ECHO_REQUEST);
    assert.equal(icmp.identifier, 0x77);
    assert.equal(icmp.sequence, 3);
    assert.equal(icmp.payloadLength, 5);
    assert.ok(icmp.checksumValid);
    assert.ok(icmp.echoToReply());
    assert.equal(icmp.type, IcmpType.ECHO_REPLY);
    assert.ok(icmp.checksumValid);
    assert.equal(icmp.checksum, icmp.computeChecksum());
    assert.ok(!icmp.echoToReply());
  });

  await t.step("ICMPv6 echo", () => {
    const frame = buildIcmpEcho({
      srcMac: MAC_A,
      dstMac: MAC_B,
      srcIp: "fe80::1",
      dstIp: "fe80::2",
      identifier: 1,
      sequence: 2,
    });
    const icmp6 = new Icmpv6View();
    assert.ok(icmp6.attach(dv(frame), 54, frame.length - 54));
    assert.equal(icmp6.type, Icmpv6Type.ECHO_REQUEST);
    assert.ok(icmp6.checksumValid(22, 38));
    assert.ok(icmp6.echoToReply());
    assert.equal(icmp6.type, Icmpv6Type.ECHO_REPLY);
    assert.ok(icmp6.checksumValid(38, 22), "valid with the addresses swapped, too");
  });

  await t.step("neighbor solicitation and advertisement", () => {
    const ns = buildNeighborSolicitation({
      srcMac: MAC_A,
      srcIp: "fe80::1",
      targetIp: "fe80::abcd:2",
    });
    const eth = new EthernetView();
    eth.attach(dv(ns), 0, ns.length);
    assert.equal(eth.dstString, "33:33:ff:cd:00:02");
    const ip6 = new Ipv6View();
    ip6.attach(dv(ns), 14, ns.length - 14);
    assert.equal(ip6.dstString, "ff02::1:ffcd:2");
    assert.equal(ip6.hopLimit, 255);
    const icmp6 = new Icmpv6View();
    assert.ok(icmp6.attach(dv(ns), 54, ns.length - 54));
    assert.equal(icmp6.type, Icmpv6Type.NEIGHBOR_SOLICITATION);
    assert.ok(icmp6.isNeighborMessage);
    assert.equal(icmp6.targetString, "fe80::abcd:2");
    assert.equal(macToString(icmp6.sourceLinkLayerAddress), MAC_A);
    assert.equal(icmp6.targetLinkLayerAddress, -1);
    assert.ok(icmp6.checksumValid(ip6.srcOffset, ip6.dstOffset));

    const na = buildNeighborAdvertisement({
      srcMac: MAC_B,
      dstMac: MAC_A,
      srcIp: "fe80::abcd:2",
      dstIp: "fe80::1",
    });
    ip6.attach(dv(na), 14, na.length - 14);
    assert.ok(icmp6.attach(dv(na), 54, na.length - 54));
    assert.equal(icmp6.type, Icmpv6Type.NEIGHBOR_ADVERTISEMENT);
    assert.ok(icmp6.solicited && icmp6.override && !icmp6.router);
    assert.equal(icmp6.targetString, "fe80::abcd:2");
    assert.equal(macToString(icmp6.targetLinkLayerAddress), MAC_B);
    assert.ok(icmp6.checksumValid(ip6.srcOffset, ip6.dstOffset));
    // A zero-length option ends the walk (RFC 4861 says such packets are dropped).
    na[54 + 25] = 0;
    assert.equal(icmp6.targetLinkLayerAddress, -1);
  });
});
