import assert from "node:assert/strict";
import {
  buildIcmpEcho,
  buildTcpFrame,
  buildUdpFrame,
  iteratePcap,
  LinkType,
  PacketParser,
  ParseStatus,
  PcapError,
  PcapStreamWriter,
  PcapWriter,
  readPcap,
  TcpFlags,
} from "../../net/mod.ts";

const MACS = { srcMac: "02:00:00:00:00:0a", dstMac: "02:00:00:00:00:0b" };

function sampleFrames(): Uint8Array[] {
  return [
    buildUdpFrame({
      ...MACS,
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      srcPort: 1234,
      dstPort: 5678,
      payload: "hi",
    }),
    buildTcpFrame({
      ...MACS,
      srcIp: "2001:db8::1",
      dstIp: "2001:db8::2",
      srcPort: 40000,
      dstPort: 80,
      flags: TcpFlags.SYN,
      options: new Uint8Array([2, 4, 5, 0xb4]),
    }),
    buildIcmpEcho({
      ...MACS,
      srcIp: "192.168.1.1",
      dstIp: "192.168.1.2",
      identifier: 5,
      sequence: 6,
      vlan: 7,
    }),
    buildUdpFrame({
      ...MACS,
      srcIp: "fe80::1",
      dstIp: "ff02::1",
      srcPort: 1,
      dstPort: 2,
      vlan: [3, 4],
    }),
  ];
}

const TIMES = [
  1_700_000_000_123_456_789n,
  1_700_000_001_000_000_000n,
  1_700_000_002_000_000_001n,
  3_000_000_999n,
];

Deno.test("classic pcap", async (t) => {
  for (const nanosecond of [false, true]) {
    for (const littleEndian of [true, false]) {
      await t.step(`write -> read round trip, ns=${nanosecond}, le=${littleEndian}`, () => {
        const frames = sampleFrames();
        const writer = new PcapWriter({ nanosecond, littleEndian, snapLength: 60 });
        frames.forEach((f, i) => writer.add(f, TIMES[i]));
        assert.equal(writer.count, 4);
        const bytes = writer.bytes();
        const file = readPcap(bytes);
        assert.equal(file.format, "pcap");
        assert.equal(file.littleEndian, littleEndian);
        assert.equal(file.interfaces[0].linkType, LinkType.ETHERNET);
        assert.equal(file.interfaces[0].snapLength, 60);
        assert.equal(file.records.length, 4);
        file.records.forEach((r, i) => {
          const expected = nanosecond ? TIMES[i] : TIMES[i] / 1000n * 1000n;
          assert.equal(r.timestampNs, expected);
          assert.equal(r.originalLength, frames[i].length);
          assert.equal(r.captureLength, Math.min(60, frames[i].length));
          assert.deepEqual(r.data, frames[i].subarray(0, 60));
          assert.equal(r.linkType, 1);
        });
        assert.deepEqual([...iteratePcap(bytes)], file.records);
        assert.equal([...file].length, 4);
      });
    }
  }

  await t.step("number timestamps and a partial-writing sink", () => {
    const written: number[] = [];
    const sink = {
      writeSync(p: Uint8Array): number {
        const n = Math.min(p.length, 7); // like a pipe accepting a few bytes at a time
        written.push(...p.subarray(0, n));
        return n;
      },
    };
    const writer = new PcapStreamWriter(sink, { nanosecond: true });
    writer.add(new Uint8Array([1, 2, 3]), 1_500_000_000);
    writer.add(new Uint8Array(0), 0);
    writer.flush();
    const file = readPcap(new Uint8Array(written));
    assert.equal(file.records.length, 2);
    assert.equal(file.records[0].timestampNs, 1_500_000_000n);
    assert.deepEqual([...file.records[0].data], [1, 2, 3]);
    assert.equal(file.records[1].captureLength, 0);
    assert.throws(() => new PcapStreamWriter({ writeSync: () => 0 }), PcapError);
    assert.throws(() => writer.add(new Uint8Array(1), -1), RangeError);
  });

  await t.step("streaming to a Deno.FsFile", () => {
    const path = Deno.makeTempFileSync({ suffix: ".pcap" });
    try {
      const file = Deno.openSync(path, { write: true, truncate: true });
      const writer = new PcapStreamWriter(file);
      for (const frame of sampleFrames()) writer.add(frame, 42_000n);
      writer.flush();
      file.close();
      const records = readPcap(Deno.readFileSync(path)).records;
      assert.equal(records.length, 4);
      assert.equal(records[3].timestampNs, 42_000n);
    } finally {
      Deno.removeSync(path);
    }
  });

  await t.step("addRange copies from a region; large packets bypass the buffer", () => {
    const chunks: Uint8Array[] = [];
    const sink = {
      writeSync(p: Uint8Array): number {
        chunks.push(p.slice());
        return p.length;
      },
    };
    const writer = new PcapStreamWriter(sink, { bufferSize: 256 });
    const region = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
    writer.addRange(region, 100, 60, 1_000n); // fits in the buffer
    writer.addRange(region, 1000, 200, 2_000n); // forces a flush first
    writer.addRange(region, 0, 1500, 3_000n); // larger than the buffer
    assert.throws(() => writer.addRange(region, 4000, 200), RangeError);
    writer.flush();
    const bytes = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
    assert.equal(writer.bytes, bytes.length);
    const records = readPcap(bytes).records;
    assert.deepEqual(records.map((r) => r.captureLength), [60, 200, 1500]);
    assert.deepEqual([...records[0].data], [...region.subarray(100, 160)]);
    assert.deepEqual([...records[1].data], [...region.subarray(1000, 1200)]);
    assert.deepEqual([...records[2].data], [...region.subarray(0, 1500)]);
    assert.equal(writer.count, 3);
  });

  await t.step("malformed files throw PcapError", () => {
    const good = new PcapWriter();
    good.add(new Uint8Array(20), 1n);
    const bytes = good.bytes();
    const bad: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["unknown magic", new Uint8Array(24)],
      ["short header", bytes.slice(0, 20)],
      ["short record header", bytes.slice(0, 30)],
      ["short record data", bytes.slice(0, bytes.length - 1)],
      ["version 3", bytes.slice().fill(3, 4, 5)],
    ];
    for (const [name, b] of bad) {
      assert.throws(() => readPcap(b), PcapError, name);
      assert.throws(() => [...iteratePcap(b)], PcapError, name);
    }
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(24 + 8, 0xffffffff, true);
    assert.throws(() => readPcap(huge), PcapError);
    assert.equal(new PcapError("x").name, "PcapError");
  });
});

/** Builds pcapng blocks by hand, independent of the reader. */
class NgBuilder {
  parts: Uint8Array[] = [];
  constructor(public le = true) {}
  block(type: number, body: Uint8Array): this {
    const padded = Math.ceil(body.length / 4) * 4;
    const total = 12 + padded;
    const b = new Uint8Array(total);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, total, this.le);
    b.set(body, 8);
    v.setUint32(total - 4, total, this.le);
    this.parts.push(b);
    return this;
  }
  shb(): this {
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    v.setUint32(0, 0x1a2b3c4d, this.le);
    v.setUint16(4, 1, this.le);
    v.setBigInt64(8, -1n, this.le);
    return this.block(0x0a0d0d0a, body);
  }
  idb(linkType: number, snapLength: number, tsresol?: number): this {
    const body = new Uint8Array(tsresol === undefined ? 8 : 8 + 8 + 4);
    const v = new DataView(body.buffer);
    v.setUint16(0, linkType, this.le);
    v.setUint32(4, snapLength, this.le);
    if (tsresol !== undefined) {
      v.setUint16(8, 9, this.le); // if_tsresol
      v.setUint16(10, 1, this.le);
      body[12] = tsresol;
      // 3 padding bytes, then opt_endofopt (0, 0)
    }
    return this.block(1, body);
  }
  epb(interfaceId: number, units: bigint, data: Uint8Array, originalLength = data.length): this {
    const body = new Uint8Array(20 + data.length);
    const v = new DataView(body.buffer);
    v.setUint32(0, interfaceId, this.le);
    v.setUint32(4, Number(units >> 32n), this.le);
    v.setUint32(8, Number(units & 0xffffffffn), this.le);
    v.setUint32(12, data.length, this.le);
    v.setUint32(16, originalLength, this.le);
    body.set(data, 20);
    return this.block(6, body);
  }
  spb(data: Uint8Array, originalLength = data.length): this {
    const body = new Uint8Array(4 + data.length);
    new DataView(body.buffer).setUint32(0, originalLength, this.le);
    body.set(data, 4);
    return this.block(3, body);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

Deno.test("pcapng reader", async (t) => {
  const [udp, tcp, icmp] = sampleFrames();

  await t.step("SHB, IDBs with if_tsresol, EPB, SPB, unknown blocks, two sections", () => {
    const le = new NgBuilder(true)
      .shb()
      .idb(1, 0) // default resolution: microseconds
      .block(4, new Uint8Array([0, 0, 0, 0])) // name resolution block: skipped
      .idb(1, 65535, 9) // nanoseconds
      .epb(0, 1_700_000_000_000_001n, udp)
      .block(0x0bad, new Uint8Array(12)) // unknown: skipped
      .epb(1, 1_700_000_000_000_000_002n, tcp)
      .spb(icmp)
      .bytes();
    // A second section in big-endian with a binary resolution (2^-10 s).
    const be = new NgBuilder(false)
      .shb()
      .idb(101, 16, 0x80 | 10)
      .epb(0, 1024n * 5n + 512n, udp)
      .spb(tcp) // cut to the interface snap length
      .bytes();
    const bytes = new Uint8Array([...le, ...be]);
    const file = readPcap(bytes);
    assert.equal(file.format, "pcapng");
    assert.equal(file.littleEndian, true);
    assert.equal(file.interfaces.length, 3);
    assert.equal(file.interfaces[1].unitsPerSecond, 1_000_000_000n);
    assert.equal(file.interfaces[2].unitsPerSecond, 1024n);
    const r = file.records;
    assert.equal(r.length, 5);
    assert.equal(r[0].timestampNs, 1_700_000_000_000_001_000n);
    assert.deepEqual(r[0].data, udp);
    assert.equal(r[0].interfaceId, 0);
    assert.equal(r[1].timestampNs, 1_700_000_000_000_000_002n);
    assert.deepEqual(r[1].data, tcp);
    assert.equal(r[1].interfaceId, 1);
    assert.equal(r[2].timestampNs, 0n);
    assert.deepEqual(r[2].data, icmp, "SPB data without the block padding");
    assert.equal(r[3].timestampNs, 5_500_000_000n);
    assert.equal(r[3].linkType, 101);
    assert.equal(r[4].captureLength, 16);
    assert.equal(r[4].originalLength, tcp.length);
    const parser = new PacketParser();
    assert.equal(
      parser.parse(new DataView(r[1].data.buffer), r[1].data.byteOffset, r[1].captureLength),
      ParseStatus.OK,
    );
    assert.equal(parser.dstPort, 80);
  });

  await t.step("malformed pcapng throws PcapError", () => {
    const good = new NgBuilder().shb().idb(1, 0).epb(0, 1n, udp).bytes();
    assert.equal(readPcap(good).records.length, 1);
    const mutations: [string, (b: Uint8Array, v: DataView) => void][] = [
      ["byte-order magic", (b) => b[8] = 0],
      ["SHB version", (_b, v) => v.setUint16(12, 2, true)],
      ["block length not a multiple of 4", (_b, v) => v.setUint32(28 + 4, 21, true)],
      ["trailing length mismatch", (b) => b[28 + 16] ^= 1],
      ["block length beyond the input", (_b, v) => v.setUint32(28 + 4, 0x7ffffff0, true)],
      ["block length below 12", (_b, v) => v.setUint32(28 + 4, 8, true)],
      ["unknown interface", (_b, v) => v.setUint32(48 + 8, 1, true)],
      ["capture length past the block", (_b, v) => v.setUint32(48 + 20, 10_000, true)],
    ];
    for (const [name, mutate] of mutations) {
      const b = good.slice();
      mutate(b, new DataView(b.buffer));
      assert.throws(() => readPcap(b), PcapError, name);
    }
    assert.throws(() => readPcap(good.slice(0, good.length - 2)), PcapError, "truncated");
    assert.throws(() => readPcap(good.slice(0, 10)), PcapError, "truncated SHB");
    assert.throws(
      () => readPcap(new NgBuilder().shb().epb(0, 1n, udp).bytes()),
      PcapError,
      "EPB before any IDB",
    );
    assert.throws(
      () => readPcap(new NgBuilder().shb().spb(udp).bytes()),
      PcapError,
      "SPB before any IDB",
    );
  });
});

const TCPDUMP = "/usr/bin/tcpdump";

function tcpdumpAvailable(): boolean {
  try {
    return Deno.statSync(TCPDUMP).isFile;
  } catch {
    return false;
  }
}

function run(args: string[]): string {
  const out = new Deno.Command(TCPDUMP, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`tcpdump ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

Deno.test("pcap interop with tcpdump", async (t) => {
  // CI installs tcpdump (apt-get install -y tcpdump): fail loudly rather than skip.
  assert.ok(
    tcpdumpAvailable(),
    `${TCPDUMP} is missing: install it (apt-get install -y tcpdump) to run the interop test`,
  );
  const dir = Deno.makeTempDirSync({ prefix: "net_pcap_" });
  try {
    for (const nanosecond of [false, true]) {
      await t.step(`tcpdump reads ours and writes a copy we read, ns=${nanosecond}`, () => {
        const frames = sampleFrames();
        const writer = new PcapWriter({ nanosecond });
        frames.forEach((f, i) => writer.add(f, TIMES[i]));
        const ours = `${dir}/ours-${nanosecond}.pcap`;
        const theirs = `${dir}/theirs-${nanosecond}.pcap`;
        Deno.writeFileSync(ours, writer.bytes());
        const precision = nanosecond ? "nano" : "micro";
        const text = run([
          "-r",
          ours,
          "-e",
          "-nn",
          "-vv",
          "-tt",
          `--time-stamp-precision=${precision}`,
        ]);
        const lines = text.trim().split("\n").filter((l) => /^\d+\.\d+ /.test(l));
        assert.equal(lines.length, 4, text);
        assert.match(lines[0], nanosecond ? /^1700000000\.123456789 / : /^1700000000\.123456 /);
        assert.match(text, /10\.0\.0\.1\.1234 > 10\.0\.0\.2\.5678: \[udp sum ok\] UDP, length 2/);
        assert.match(
          text,
          /2001:db8::1\.40000 > 2001:db8::2\.80: Flags \[S\], cksum 0x[0-9a-f]+ \(correct\)/,
        );
        assert.match(
          text,
          /vlan 7, .*\n?.*192\.168\.1\.1 > 192\.168\.1\.2: ICMP echo request, id 5, seq 6/,
        );
        assert.match(text, /vlan 3, .*vlan 4, .*fe80::1\.1 > ff02::1\.2: \[udp sum ok\]/);
        assert.equal(text.split("02:00:00:00:00:0a > 02:00:00:00:00:0b").length, 5);
        assert.doesNotMatch(text, /bad cksum|wrong|incorrect/i);

        run(["-r", ours, "-w", theirs, `--time-stamp-precision=${precision}`]);
        const file = readPcap(Deno.readFileSync(theirs));
        assert.equal(file.format, "pcap");
        assert.equal(file.records.length, 4);
        file.records.forEach((r, i) => {
          assert.deepEqual(r.data, frames[i]);
          assert.equal(r.timestampNs, nanosecond ? TIMES[i] : TIMES[i] / 1000n * 1000n);
        });
      });
    }
    await t.step("tcpdump reads our hand-built pcapng (checks the test's block builder)", () => {
      const [udp, tcp, icmp] = sampleFrames();
      const path = `${dir}/hand.pcapng`;
      for (const le of [true, false]) {
        Deno.writeFileSync(
          path,
          new NgBuilder(le).shb().idb(1, 0, 9).epb(0, 1_700_000_000_000_000_005n, udp)
            .block(0x0bad, new Uint8Array(4)).spb(tcp).epb(0, 2n, icmp).bytes(),
        );
        const text = run(["-r", path, "-nn", "-tt", "--time-stamp-precision=nano"]);
        const lines = text.trim().split("\n").filter((l) => /^\d+\.\d+ /.test(l));
        assert.equal(lines.length, 3, text);
        assert.match(lines[0], /^1700000000\.000000005 IP 10\.0\.0\.1\.1234 > 10\.0\.0\.2\.5678/);
        assert.match(lines[1], /2001:db8::1\.40000 > 2001:db8::2\.80/);
        assert.equal(readPcap(Deno.readFileSync(path)).records.length, 3);
      }
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
