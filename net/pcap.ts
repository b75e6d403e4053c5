/**
 * Capture files: a reader for classic pcap (microsecond and nanosecond, either byte order) and
 * pcapng (SHB, IDB with `if_tsresol`, EPB, SPB, OPB; other blocks skipped), and classic pcap
 * writers (in memory, or streaming to anything with `writeSync`).
 *
 * Malformed input raises {@link PcapError} and nothing else; every length is checked against
 * the bytes that remain, and every block advances, so reading always ends.
 *
 * @module
 */

/** The one error the pcap reader and writers throw for malformed files or failed writes. */
export class PcapError extends Error {
  /** Always "PcapError". */
  override name: string = "PcapError";
}

/** Common link-layer header types (the pcap `network` field / pcapng `LinkType`). */
export const LinkType = {
  /** Ethernet II. */
  ETHERNET: 1,
  /** Raw IPv4 or IPv6, no link-layer header. */
  RAW: 101,
  /** Linux "cooked" capture v1. */
  LINUX_SLL: 113,
} as const;

/** Magic numbers of the file formats, as read in the writer's byte order. */
export const PcapMagic = {
  /** Classic pcap, microsecond timestamps. */
  MICROSECONDS: 0xa1b2c3d4,
  /** Classic pcap, nanosecond timestamps. */
  NANOSECONDS: 0xa1b23c4d,
  /** pcapng section header block type. */
  PCAPNG: 0x0a0d0d0a,
} as const;

/** One captured packet. */
export interface PcapRecord {
  /** Capture time in nanoseconds since the Unix epoch (0n for pcapng simple packet blocks). */
  timestampNs: bigint;
  /** Bytes captured (length of `data`). */
  captureLength: number;
  /** Length of the packet on the wire (≥ captureLength when the snap length cut it). */
  originalLength: number;
  /** The captured bytes: a view into the input, not a copy. */
  data: Uint8Array;
  /** pcapng interface id (0 for classic pcap). */
  interfaceId: number;
  /** Link type of the packet's interface (see {@link LinkType}). */
  linkType: number;
}

/** The container format detected by {@link readPcap}. */
export type PcapFormat = "pcap" | "pcapng";

/** An interface described by a pcapng interface description block (or a classic pcap header). */
export interface PcapInterface {
  /** Link type (see {@link LinkType}). */
  linkType: number;
  /** Maximum bytes captured per packet (0 = unlimited in pcapng). */
  snapLength: number;
  /** Timestamp units per second (1e6 by default; from `if_tsresol`). */
  unitsPerSecond: bigint;
}

/** A fully read capture: its format, interfaces and records. Iterable over the records. */
export interface PcapFile extends Iterable<PcapRecord> {
  /** "pcap" or "pcapng". */
  format: PcapFormat;
  /** True if the (first section of the) file is little-endian. */
  littleEndian: boolean;
  /** Interfaces: one for classic pcap; every IDB of every section for pcapng. */
  interfaces: PcapInterface[];
  /** All records in file order. */
  records: PcapRecord[];
}

const SHB = 0x0a0d0d0a;
const IDB = 1;
const OPB = 2;
const SPB = 3;
const EPB = 6;
const BILLION = 1_000_000_000n;

/** Detects the format from the first 4 bytes; throws PcapError if it is neither. */
function detect(bytes: Uint8Array): { format: PcapFormat; littleEndian: boolean; ns: boolean } {
  if (bytes.length < 4) throw new PcapError(`Not a capture file: only ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  switch (magic) {
    case 0xa1b2c3d4:
      return { format: "pcap", littleEndian: true, ns: false };
    case 0xa1b23c4d:
      return { format: "pcap", littleEndian: true, ns: true };
    case 0xd4c3b2a1:
      return { format: "pcap", littleEndian: false, ns: false };
    case 0x4d3cb2a1:
      return { format: "pcap", littleEndian: false, ns: true };
    case SHB: {
      if (bytes.length < 12) throw new PcapError("Truncated pcapng section header block");
      const bom = v.getUint32(8, true);
      if (bom === 0x1a2b3c4d) return { format: "pcapng", littleEndian: true, ns: false };
      if (bom === 0x4d3c2b1a) return { format: "pcapng", littleEndian: false, ns: false };
      throw new PcapError(`Bad pcapng byte-order magic 0x${bom.toString(16)}`);
    }
    default:
      throw new PcapError(`Unknown capture file magic 0x${magic.toString(16).padStart(8, "0")}`);
  }
}

function* readClassic(
  bytes: Uint8Array,
  le: boolean,
  ns: boolean,
  interfaces: PcapInterface[],
): Generator<PcapRecord> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new PcapError(`Truncated pcap file header (${bytes.length} bytes)`);
  const major = v.getUint16(4, le);
  if (major !== 2) throw new PcapError(`Unsupported pcap version ${major}.${v.getUint16(6, le)}`);
  const snapLength = v.getUint32(16, le);
  // The upper bits of the link-type field carry FCS information (draft-ietf-opsawg-pcap).
  const linkType = v.getUint32(20, le) & 0xffff;
  interfaces.push({ linkType, snapLength, unitsPerSecond: ns ? BILLION : 1_000_000n });
  const scale = ns ? 1n : 1000n;
  let pos = 24;
  while (pos < bytes.length) {
    if (bytes.length - pos < 16) {
      throw new PcapError(`Truncated pcap record header at byte ${pos}`);
    }
    const seconds = v.getUint32(pos, le);
    const fraction = v.getUint32(pos + 4, le);
    const captureLength = v.getUint32(pos + 8, le);
    const originalLength = v.getUint32(pos + 12, le);
    if (captureLength > bytes.length - pos - 16) {
      throw new PcapError(
        `pcap record at byte ${pos} claims ${captureLength} bytes, only ${
          bytes.length - pos - 16
        } remain`,
      );
    }
    yield {
      timestampNs: BigInt(seconds) * BILLION + BigInt(fraction) * scale,
      captureLength,
      originalLength,
      data: bytes.subarray(pos + 16, pos + 16 + captureLength),
      interfaceId: 0,
      linkType,
    };
    pos += 16 + captureLength;
  }
}

function unitsFromTsresol(value: number): bigint {
  const exponent = BigInt(value & 0x7f);
  return (value & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
}

function* readPcapng(bytes: Uint8Array, interfaces: PcapInterface[]): Generator<PcapRecord> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Interfaces of the current section; ids in packet blocks index this list.
  let section: PcapInterface[] = [];
  let le = true;
  let pos = 0;
  while (pos < bytes.length) {
    const remaining = bytes.length - pos;
    if (remaining < 12) throw new PcapError(`Truncated pcapng block header at byte ${pos}`);
    const type = v.getUint32(pos, le);
    if (type === SHB) {
      // Each section declares its own byte order.
      const bom = v.getUint32(pos + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new PcapError(`Bad pcapng byte-order magic at byte ${pos}`);
      section = [];
    } else if (pos === 0) {
      throw new PcapError("A pcapng file must start with a section header block");
    }
    const total = v.getUint32(pos + 4, le);
    if (total < 12 || total % 4 !== 0 || total > remaining) {
      throw new PcapError(
        `Bad pcapng block length ${total} at byte ${pos} (${remaining} bytes remain)`,
      );
    }
    if (v.getUint32(pos + total - 4, le) !== total) {
      throw new PcapError(`pcapng block at byte ${pos}: trailing length does not match ${total}`);
    }
    const bodyEnd = pos + total - 4;
    switch (type) {
      case SHB: {
        if (total < 28) throw new PcapError(`Truncated section header block at byte ${pos}`);
        const major = v.getUint16(pos + 12, le);
        if (major !== 1) throw new PcapError(`Unsupported pcapng version ${major}`);
        break;
      }
      case IDB: {
        if (total < 20) throw new PcapError(`Truncated interface description at byte ${pos}`);
        const iface: PcapInterface = {
          linkType: v.getUint16(pos + 8, le),
          snapLength: v.getUint32(pos + 12, le),
          unitsPerSecond: 1_000_000n,
        };
        let p = pos + 16;
        while (p + 4 <= bodyEnd) {
          const code = v.getUint16(p, le);
          const length = v.getUint16(p + 2, le);
          if (code === 0) break;
          if (p + 4 + length > bodyEnd) {
            throw new PcapError(`Interface option ${code} at byte ${p} runs past its block`);
          }
          if (code === 9 && length >= 1) iface.unitsPerSecond = unitsFromTsresol(v.getUint8(p + 4));
          p += 4 + Math.ceil(length / 4) * 4;
        }
        section.push(iface);
        interfaces.push(iface);
        break;
      }
      case EPB:
      case OPB: {
        if (total < 32) throw new PcapError(`Truncated packet block at byte ${pos}`);
        const interfaceId = type === EPB ? v.getUint32(pos + 8, le) : v.getUint16(pos + 8, le);
        const iface = section[interfaceId];
        if (iface === undefined) {
          throw new PcapError(`Packet block at byte ${pos} names unknown interface ${interfaceId}`);
        }
        const units = (BigInt(v.getUint32(pos + 12, le)) << 32n) |
          BigInt(v.getUint32(pos + 16, le));
        const captureLength = v.getUint32(pos + 20, le);
        const originalLength = v.getUint32(pos + 24, le);
        if (captureLength > bodyEnd - (pos + 28)) {
          throw new PcapError(`Packet block at byte ${pos} claims ${captureLength} bytes`);
        }
        yield {
          timestampNs: units * BILLION / iface.unitsPerSecond,
          captureLength,
          originalLength,
          data: bytes.subarray(pos + 28, pos + 28 + captureLength),
          interfaceId,
          linkType: iface.linkType,
        };
        break;
      }
      case SPB: {
        if (total < 16) throw new PcapError(`Truncated simple packet block at byte ${pos}`);
        const iface = section[0];
        if (iface === undefined) {
          throw new PcapError(`Simple packet block at byte ${pos} before any interface`);
        }
        const originalLength = v.getUint32(pos + 8, le);
        // The captured length is implied: the original length cut by snaplen and the block.
        let captureLength = bodyEnd - (pos + 12);
        if (originalLength < captureLength) captureLength = originalLength;
        if (iface.snapLength > 0 && iface.snapLength < captureLength) {
          captureLength = iface.snapLength;
        }
        yield {
          timestampNs: 0n,
          captureLength,
          originalLength,
          data: bytes.subarray(pos + 12, pos + 12 + captureLength),
          interfaceId: 0,
          linkType: iface.linkType,
        };
        break;
      }
      default:
        // Statistics, name resolution, custom and unknown blocks: skip.
        break;
    }
    pos += total;
  }
}

/**
 * Iterates the records of a pcap or pcapng file lazily. A malformed file throws
 * {@link PcapError} when the iteration reaches the bad spot.
 *
 * ```ts
 * import { iteratePcap } from "@deno-dpdk/dpdk/net";
 * const bytes = await Deno.readFile("capture.pcap");
 * for (const record of iteratePcap(bytes)) console.log(record.captureLength);
 * ```
 */
export function* iteratePcap(bytes: Uint8Array): Generator<PcapRecord, void, undefined> {
  const { format, littleEndian, ns } = detect(bytes);
  const interfaces: PcapInterface[] = [];
  if (format === "pcap") yield* readClassic(bytes, littleEndian, ns, interfaces);
  else yield* readPcapng(bytes, interfaces);
}

/**
 * Reads a whole pcap or pcapng file (format detected from its magic). Throws {@link PcapError}
 * if it is malformed. Record data are views into `bytes`.
 *
 * ```ts
 * import { PcapWriter, readPcap } from "@deno-dpdk/dpdk/net";
 * const writer = new PcapWriter({ nanosecond: true });
 * writer.add(new Uint8Array(60), 1_700_000_000_123_456_789n);
 * const file = readPcap(writer.bytes());
 * file.records[0].timestampNs; // 1700000000123456789n
 * ```
 */
export function readPcap(bytes: Uint8Array): PcapFile {
  const { format, littleEndian, ns } = detect(bytes);
  const interfaces: PcapInterface[] = [];
  const records: PcapRecord[] = [];
  const iterator = format === "pcap"
    ? readClassic(bytes, littleEndian, ns, interfaces)
    : readPcapng(bytes, interfaces);
  for (const record of iterator) records.push(record);
  return {
    format,
    littleEndian,
    interfaces,
    records,
    [Symbol.iterator]: () => records[Symbol.iterator](),
  };
}

/** Options of the pcap writers. */
export interface PcapWriterOptions {
  /** Write nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. Default: false. */
  nanosecond?: boolean;
  /** Snap length: longer packets are truncated to it. Default: 262144. */
  snapLength?: number;
  /** Link type. Default: 1 (Ethernet). */
  linkType?: number;
  /** Byte order of the file. Default: true (little-endian). */
  littleEndian?: boolean;
}

/** Anything with a synchronous `writeSync`, such as `Deno.FsFile`. */
export interface PcapSink {
  /** Writes some bytes of `p` and returns how many were written. */
  writeSync(p: Uint8Array): number;
}

function writeAll(sink: PcapSink, p: Uint8Array): void {
  let done = 0;
  while (done < p.length) {
    const n = sink.writeSync(done === 0 ? p : p.subarray(done));
    if (!(n > 0)) throw new PcapError(`Capture sink wrote ${n} bytes`);
    done += n;
  }
}

/** Options of {@link PcapStreamWriter}. */
export interface PcapStreamOptions extends PcapWriterOptions {
  /** Bytes collected before they go to the sink in one write. Default: 65536. */
  bufferSize?: number;
}

/**
 * Writes classic pcap to a sink as packets arrive. Records are collected in one buffer and handed
 * to the sink in large writes; {@link PcapStreamWriter.flush} (or the buffer filling up) writes
 * them. {@link PcapStreamWriter.addRange} copies a packet straight from a memory region (e.g. a
 * DPDK pool) without allocating. The file header is written at once, so even an empty capture is
 * a valid file.
 *
 * ```ts
 * import { PcapStreamWriter } from "@deno-dpdk/dpdk/net";
 * const file = Deno.openSync("/tmp/out.pcap", { write: true, create: true, truncate: true });
 * const writer = new PcapStreamWriter(file, { nanosecond: true });
 * writer.add(new Uint8Array(60), 1_700_000_000_000_000_000n);
 * writer.flush();
 * file.close();
 * ```
 */
export class PcapStreamWriter {
  #sink: PcapSink;
  #buffer: Uint8Array;
  #view: DataView;
  #used = 0;
  #written = 0;
  #nanosecond: boolean;
  #snapLength: number;
  #littleEndian: boolean;
  #count = 0;

  /** Writes the 24-byte file header to `sink` right away. */
  constructor(sink: PcapSink, options: PcapStreamOptions = {}) {
    this.#sink = sink;
    this.#nanosecond = options.nanosecond ?? false;
    this.#snapLength = options.snapLength ?? 262144;
    this.#littleEndian = options.littleEndian ?? true;
    if (!Number.isInteger(this.#snapLength) || this.#snapLength <= 0) {
      throw new RangeError(`snapLength must be a positive integer, got ${this.#snapLength}`);
    }
    const size = options.bufferSize ?? 65536;
    if (!Number.isInteger(size) || size < 64) {
      throw new RangeError(`bufferSize must be an integer of at least 64, got ${size}`);
    }
    this.#buffer = new Uint8Array(size);
    this.#view = new DataView(this.#buffer.buffer);
    const v = this.#view;
    const le = this.#littleEndian;
    v.setUint32(0, this.#nanosecond ? PcapMagic.NANOSECONDS : PcapMagic.MICROSECONDS, le);
    v.setUint16(4, 2, le);
    v.setUint16(6, 4, le);
    v.setUint32(8, 0, le);
    v.setUint32(12, 0, le);
    v.setUint32(16, this.#snapLength, le);
    v.setUint32(20, options.linkType ?? LinkType.ETHERNET, le);
    this.#used = 24;
    this.flush();
  }

  /** Records added so far. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of the file so far, written or still buffered. */
  get bytes(): number {
    return this.#written + this.#used;
  }

  /**
   * Appends a packet captured at `timestampNs` (ns since the epoch; a number loses precision
   * past 2^53 ns, pass a bigint for exact values). Data beyond the snap length is cut;
   * `originalLength` defaults to the data's length.
   */
  add(data: Uint8Array, timestampNs: bigint | number = 0, originalLength?: number): void {
    this.addRange(data, 0, data.length, timestampNs, originalLength);
  }

  /**
   * Appends the packet `bytes[offset, offset + length)`, copying it into the buffer without
   * allocating: for a receive loop over a pool's memory region. Otherwise as
   * {@link PcapStreamWriter.add}.
   */
  addRange(
    bytes: Uint8Array,
    offset: number,
    length: number,
    timestampNs: bigint | number = 0,
    originalLength?: number,
  ): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
      throw new RangeError(`Packet range [${offset}, ${offset + length}) is outside the bytes`);
    }
    let seconds: number;
    let nanos: number;
    if (typeof timestampNs === "bigint") {
      seconds = Number(timestampNs / BILLION);
      nanos = Number(timestampNs % BILLION);
    } else {
      seconds = Math.floor(timestampNs / 1e9);
      nanos = Math.min(Math.max(Math.round(timestampNs - seconds * 1e9), 0), 999_999_999);
    }
    if (!(seconds >= 0 && seconds <= 0xffffffff && nanos >= 0)) {
      throw new RangeError(`Timestamp ${timestampNs} ns does not fit a pcap record`);
    }
    const captureLength = Math.min(length, this.#snapLength);
    if (this.#used + 16 + captureLength > this.#buffer.length) this.flush();
    const v = this.#view;
    const le = this.#littleEndian;
    let at = this.#used;
    v.setUint32(at, seconds, le);
    v.setUint32(at + 4, this.#nanosecond ? nanos : Math.floor(nanos / 1000), le);
    v.setUint32(at + 8, captureLength, le);
    v.setUint32(at + 12, originalLength ?? length, le);
    at += 16;
    if (at + captureLength <= this.#buffer.length) {
      const buf = this.#buffer;
      for (let i = 0; i < captureLength; i++) buf[at + i] = bytes[offset + i];
      this.#used = at + captureLength;
    } else {
      // Larger than the whole buffer: write the header, then the packet directly.
      this.#used = at;
      this.flush();
      writeAll(this.#sink, bytes.subarray(offset, offset + captureLength));
      this.#written += captureLength;
    }
    this.#count++;
  }

  /** Hands everything buffered to the sink. Call before closing the file. */
  flush(): void {
    if (this.#used === 0) return;
    writeAll(this.#sink, this.#buffer.subarray(0, this.#used));
    this.#written += this.#used;
    this.#used = 0;
  }
}

/**
 * Builds a classic pcap file in memory.
 *
 * ```ts
 * import { PcapWriter } from "@deno-dpdk/dpdk/net";
 * const writer = new PcapWriter();
 * writer.add(new Uint8Array(60), 1_000_000n);
 * const bytes = writer.bytes(); // 24 + 16 + 60 bytes
 * ```
 */
export class PcapWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #stream: PcapStreamWriter;

  /** Starts a file with the given options. */
  constructor(options: PcapWriterOptions = {}) {
    // Copy each chunk: the stream writer reuses its buffer.
    this.#stream = new PcapStreamWriter({
      writeSync: (p: Uint8Array): number => {
        this.#chunks.push(p.slice());
        this.#length += p.length;
        return p.length;
      },
    }, options);
  }

  /** Records added so far. */
  get count(): number {
    return this.#stream.count;
  }

  /** Appends a packet; see {@link PcapStreamWriter.add}. */
  add(data: Uint8Array, timestampNs: bigint | number = 0, originalLength?: number): void {
    this.#stream.add(data, timestampNs, originalLength);
  }

  /** The file so far as one byte array. */
  bytes(): Uint8Array {
    this.#stream.flush();
    const out = new Uint8Array(this.#length);
    let p = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, p);
      p += chunk.length;
    }
    return out;
  }
}
