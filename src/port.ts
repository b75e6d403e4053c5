/**
 * Ethernet ports: discovery, configuration checked against the device,
 * start/stop, statistics, and the burst calls of the hot loop.
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { ConfField, InfoField, LinkField, SizeKey, StatsField } from "../ffi/symbols.ts";
import type { PacketBatch } from "./burst.ts";
import { cstring, fromCString } from "./cstring.ts";
import { Eal, onCleanup, requireEal } from "./eal.ts";
import { check, DpdkError, throwRteErrno } from "./errors.ts";
import type { Mempool } from "./mempool.ts";
import { Lcore } from "./lcore.ts";
import { forgetRxTimestampField, mbufLayout } from "./mbuf.ts";

/** Link state of a port. */
export interface LinkStatus {
  /** Whether the link is up. */
  up: boolean;
  /** Speed in Mbit/s (0 when unknown). */
  speedMbps: number;
  /** Full duplex. */
  fullDuplex: boolean;
  /** Autonegotiated. */
  autoneg: boolean;
}

/** What a device can do (`rte_eth_dev_info`), and its current settings. */
export interface PortCapabilities {
  /** Maximum receive queues. */
  maxRxQueues: number;
  /** Maximum transmit queues. */
  maxTxQueues: number;
  /** Receive descriptors per queue: minimum, maximum, and the multiple required. */
  rxDescriptors: { min: number; max: number; align: number };
  /** Transmit descriptors per queue: minimum, maximum, and the multiple required. */
  txDescriptors: { min: number; max: number; align: number };
  /** MTU limits. */
  minMtu: number;
  /** Largest MTU the device accepts. */
  maxMtu: number;
  /** Current MTU. */
  mtu: number;
  /** Receive offloads supported (`RTE_ETH_RX_OFFLOAD_*` bits). */
  rxOffloads: bigint;
  /** Transmit offloads supported (`RTE_ETH_TX_OFFLOAD_*` bits). */
  txOffloads: bigint;
  /** RSS hash functions supported (`RTE_ETH_RSS_*` bits). */
  rssOffloads: bigint;
  /** Kernel interface index bound to the port, 0 if none. */
  ifIndex: number;
  /** Whether promiscuous mode is on. */
  promiscuous: boolean;
  /** Smallest receive buffer (data room less headroom) the device accepts (`min_rx_bufsize`). */
  minRxBufferSize: number;
  /** Largest frame the device receives (`max_rx_pktlen`). */
  maxRxFrame: number;
}

/** A port as {@linkcode Port.list} reports it. */
export interface PortInfo {
  /** Port id. */
  id: number;
  /** Device name, e.g. `net_null0` or `0000:00:06.0`. */
  name: string;
  /** Driver name, e.g. `net_null`. */
  driver: string;
  /** MAC address, `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** NUMA socket, -1 if unknown. */
  socket: number;
  /** Current link state. */
  link: LinkStatus;
}

/** Port counters (`rte_eth_stats`). */
export interface PortStats {
  /** Packets received. */
  ipackets: number;
  /** Packets sent. */
  opackets: number;
  /** Bytes received. */
  ibytes: number;
  /** Bytes sent. */
  obytes: number;
  /** Packets the hardware dropped because the receive queues were full. */
  imissed: number;
  /** Erroneous received packets. */
  ierrors: number;
  /** Failed transmissions. */
  oerrors: number;
  /** Receive failures for lack of mbufs. */
  rxNoMbuf: number;
}

/** Receive offload bits (`RTE_ETH_RX_OFFLOAD_*`), for {@linkcode PortConfig.rxOffloads}. */
export const RxOffload = {
  VLAN_STRIP: 1n << 0n,
  IPV4_CKSUM: 1n << 1n,
  UDP_CKSUM: 1n << 2n,
  TCP_CKSUM: 1n << 3n,
  TCP_LRO: 1n << 4n,
  SCATTER: 1n << 13n,
  TIMESTAMP: 1n << 14n,
  RSS_HASH: 1n << 19n,
} as const;

/** Transmit offload bits (`RTE_ETH_TX_OFFLOAD_*`), for {@linkcode PortConfig.txOffloads}. */
export const TxOffload = {
  VLAN_INSERT: 1n << 0n,
  IPV4_CKSUM: 1n << 1n,
  UDP_CKSUM: 1n << 2n,
  TCP_CKSUM: 1n << 3n,
  TCP_TSO: 1n << 5n,
  MULTI_SEGS: 1n << 15n,
  /**
   * The driver may free sent mbufs without checking their pool or reference count. Only valid
   * when every packet sent on the port comes from the port's own pool: `send` then refuses a
   * batch of another pool.
   */
  MBUF_FAST_FREE: 1n << 16n,
} as const;

/** RSS hash functions (`RTE_ETH_RSS_*`), for {@linkcode PortConfig.rss}. */
export const Rss = {
  IPV4: 1n << 2n,
  NONFRAG_IPV4_TCP: 1n << 4n,
  NONFRAG_IPV4_UDP: 1n << 5n,
  IPV6: 1n << 8n,
  NONFRAG_IPV6_TCP: 1n << 10n,
  NONFRAG_IPV6_UDP: 1n << 11n,
  /** IPv4/IPv6 addresses plus TCP/UDP ports. */
  IP_TCP_UDP: (1n << 2n) | (1n << 4n) | (1n << 5n) | (1n << 8n) | (1n << 10n) | (1n << 11n),
} as const;

/** Options of {@linkcode Port.open}. */
export interface PortConfig {
  /** Pool that receive queues take their mbufs from. Required. */
  pool: Mempool;
  /** Receive queues. Default: 1. */
  rxQueues?: number;
  /** Transmit queues. Default: 1. */
  txQueues?: number;
  /** Descriptors per receive queue. Default: 1024, clamped to the device's limits. */
  rxDescriptors?: number;
  /** Descriptors per transmit queue. Default: 1024, clamped to the device's limits. */
  txDescriptors?: number;
  /**
   * MTU in bytes. Default: the device's current MTU (1500 where it reports
   * none). Frames of this MTU must fit the pool's buffers, or `rxOffloads`
   * must include `RxOffload.SCATTER` to receive them as chains.
   */
  mtu?: number;
  /** Promiscuous mode. Default: `true`, as DPDK's samples do. */
  promiscuous?: boolean;
  /** Receive offloads ({@linkcode RxOffload} bits), each checked against the device. Default: none. */
  rxOffloads?: bigint;
  /** Transmit offloads ({@linkcode TxOffload} bits), each checked against the device. Default: none. */
  txOffloads?: bigint;
  /** RSS hash functions ({@linkcode Rss} bits) to spread flows over rx queues. Default: none. */
  rss?: bigint;
  /** Start the port after configuring it. Default: `true`. */
  start?: boolean;
}

/**
 * Drivers whose link is checked before every burst (see {@linkcode Port.linkUp}): without it,
 * DPDK 22.11's memif PMD crashed our process when the peer quit mid-traffic (at the 5th of 20
 * disconnects in a test run), with it 20 of 20 passed.
 */
const WATCHED_DRIVERS = ["net_memif"];

let controlCpuWarned = false;
/**
 * DPDK runs its control thread (which handles a memif peer's disconnect) on the CPUs no lcore
 * has, or, when every CPU is an lcore's, on the main lcore's: the teardown then preempts the
 * poller, possibly mid-burst, and unmaps the rings under it. With a CPU busy elsewhere, 20
 * disconnects crashed our process in 2 of 3 runs with `-l 0-1` on 2 CPUs, in 0 of 3 with `-l 0`.
 * Says so once.
 */
function warnSharedControlCpu(name: string): void {
  if (controlCpuWarned) return;
  const cpus = new Set(Lcore.list().map((l) => l.cpu));
  if (cpus.size < navigator.hardwareConcurrency) return;
  controlCpuWarned = true;
  console.error(
    `${name}: every CPU is an lcore's, so DPDK's control thread shares the main lcore's CPU and ` +
      `a peer disconnecting can tear the rings down under a burst; leave a CPU out of -l`,
  );
}

let linkStateView: Uint8Array | undefined;
/** The shim's per-port link states, mapped once. */
function linkStates(): Uint8Array {
  if (linkStateView) return linkStateView;
  const s = library().symbols;
  const p = s.dd_link_states();
  if (p === null) throw new DpdkError("dd_link_states", 0, "no link state table");
  return linkStateView = new Uint8Array(
    Deno.UnsafePointerView.getArrayBuffer(p, s.dd_max_ports()),
  );
}

/** Mbufs a pool must have beyond its rings and caches: a burst's worth, to receive at all. */
const RX_MARGIN = 64;

/** Ethernet header, two VLAN tags and CRC around an MTU-sized payload. */
const FRAME_OVERHEAD = 14 + 8 + 4;

const STATE_STOPPED = 0;
const STATE_STARTED = 1;
const STATE_CLOSED = 2;

const openPorts = new Map<number, Port>();

function macString(value: bigint): string {
  const parts: string[] = [];
  for (let shift = 40n; shift >= 0n; shift -= 8n) {
    parts.push(((value >> shift) & 0xffn).toString(16).padStart(2, "0"));
  }
  return parts.join(":");
}

function portName(id: number): string {
  const buf = new Uint8Array(64);
  check("rte_eth_dev_get_name_by_port", library().symbols.dd_port_name(id, buf, buf.length));
  return fromCString(buf);
}

function readInfo(id: number): { words: BigUint64Array; driver: string } {
  const words = new BigUint64Array(InfoField.FIELDS);
  const driver = new Uint8Array(64);
  check(
    "rte_eth_dev_info_get",
    library().symbols.dd_port_info(id, new Uint8Array(words.buffer), driver, driver.length),
    `port ${id}`,
  );
  return { words, driver: fromCString(driver) };
}

function readLink(id: number): LinkStatus {
  const w = new BigUint64Array(LinkField.FIELDS);
  check("rte_eth_link_get_nowait", library().symbols.dd_port_link(id, new Uint8Array(w.buffer)));
  return {
    up: w[LinkField.UP] !== 0n,
    speedMbps: Number(w[LinkField.SPEED]),
    fullDuplex: w[LinkField.FULL_DUPLEX] !== 0n,
    autoneg: w[LinkField.AUTONEG] !== 0n,
  };
}

/** Resolves a port id or device name to a valid port id, or throws. */
function resolvePort(idOrName: number | string, what: string): number {
  const s = library().symbols;
  if (typeof idOrName === "string") {
    const ret = s.dd_port_by_name(cstring(idOrName));
    if (ret < 0) {
      const known = Port.list().map((p) => `${p.id}:${p.name}`).join(", ") || "none";
      throw new DpdkError(
        "rte_eth_dev_get_port_by_name",
        -ret,
        `${what}: no port named "${idOrName}" (ports: ${known})`,
      );
    }
    return ret;
  }
  if (!Number.isInteger(idOrName) || idOrName < 0 || idOrName > 0xffff) {
    throw new RangeError(`${what}: port id ${idOrName} is not an integer in 0..65535`);
  }
  if (s.dd_port_is_valid(idOrName) !== 1) {
    const known = Port.list().map((p) => `${p.id}:${p.name}`).join(", ") || "none";
    throw new DpdkError(
      "rte_eth_dev_is_valid_port",
      19,
      `${what}: no port ${idOrName} (ports: ${known})`,
    );
  }
  return idOrName;
}

function checkCount(what: string, value: number, min: number, max: number, unit: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what}: ${value} ${unit} is outside the device's limits ${min}..${max}`);
  }
}

function unsupportedBits(wanted: bigint, capa: bigint): string[] {
  const bad: string[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    if ((wanted >> bit) & 1n && !((capa >> bit) & 1n)) bad.push(`bit ${bit}`);
  }
  return bad;
}

function describeBits(table: Record<string, bigint>, bits: string[]): string {
  return bits.map((b) => {
    const n = BigInt(b.slice(4));
    const name = Object.entries(table).find(([, v]) => v === 1n << n)?.[0];
    return name ?? b;
  }).join(", ");
}

/**
 * An Ethernet port opened for packet I/O.
 *
 * @example
 * ```ts
 * import { Eal, Mempool, PacketBatch, Port } from "@deno-dpdk/dpdk";
 * Eal.init({ hugepages: false, pci: false, vdevs: ["net_null0", "net_null1"] });
 * const pool = Mempool.create();
 * using rx = Port.open(0, { pool });
 * using tx = Port.open("net_null1", { pool });
 * using batch = new PacketBatch(pool, 32);
 * for (let i = 0; i < 1000; i++) {
 *   rx.receive(0, batch);
 *   tx.send(0, batch);
 * }
 * console.log(rx.stats().ipackets, tx.stats().opackets);
 * ```
 */
export class Port {
  readonly #id: number;
  readonly #name: string;
  readonly #driver: string;
  #state = STATE_STOPPED;
  #rxQueues: number;
  #txQueues: number;
  #pool: Mempool;
  #detach: () => void;
  #unregister: () => void;
  #stats = new BigUint64Array(StatsField.FIELDS);
  // Taken from lib.symbols once: the hot path calls them without a lookup.
  #rxBurst: (port: number, queue: number, batch: Deno.PointerObject) => number;
  #txBurst: (port: number, queue: number, batch: Deno.PointerObject, keep: number) => number;

  #owned: boolean;
  #fastFree = false;
  #watched: boolean;
  /** Queues this object polls: rx queues first, then tx queues. */
  #claimed: Uint8Array;

  private constructor(id: number, config: PortConfig, owned = true) {
    this.#id = id;
    this.#name = portName(id);
    this.#pool = config.pool;
    this.#owned = owned;
    const s = library().symbols;
    this.#rxBurst = s.dd_rx_burst;
    this.#txBurst = s.dd_tx_burst;
    const { words, driver } = readInfo(id);
    this.#driver = driver;
    if (owned) {
      this.#rxQueues = config.rxQueues ?? 1;
      this.#txQueues = config.txQueues ?? 1;
      this.#configure(config, words);
      this.#unregister = onCleanup("port", () => this.close());
    } else {
      // Configured and started by its owner: take the queue counts it set up.
      this.#rxQueues = Number(words[InfoField.NB_RX_QUEUES]);
      this.#txQueues = Number(words[InfoField.NB_TX_QUEUES]);
      this.#state = STATE_STARTED;
      this.#unregister = () => {};
    }
    this.#claimed = new Uint8Array(this.#rxQueues + this.#txQueues);
    // A memif peer leaving tears the shared rings down from another thread: no burst then.
    this.#watched = WATCHED_DRIVERS.includes(this.#driver);
    if (this.#watched) {
      s.dd_link_watch(id, 1);
      warnSharedControlCpu(this.#name);
    }
    this.#detach = config.pool.adopt(() => this.close());
  }

  /**
   * Uses a port that another isolate of this process (the main thread, for a
   * worker lcore) opened and started, e.g. to poll one of its queues. The
   * owner keeps control: closing the attached port only ends this use of it.
   */
  static attach(idOrName: number | string, pool: Mempool): Port {
    requireEal("Port.attach");
    return new Port(resolvePort(idOrName, "Port.attach"), { pool }, false);
  }

  /** Lists the ports DPDK knows: probed NICs and virtual devices. Needs the EAL. */
  static list(): PortInfo[] {
    requireEal("Port.list");
    const s = library().symbols;
    const out: PortInfo[] = [];
    const max = s.dd_max_ports();
    for (let id = s.dd_port_next(0); id < max; id = s.dd_port_next(id + 1)) {
      const { words, driver } = readInfo(id);
      out.push({
        id,
        name: portName(id),
        driver,
        mac: macString(words[InfoField.MAC]),
        socket: Number(BigInt.asIntN(64, words[InfoField.SOCKET_ID])),
        link: readLink(id),
      });
    }
    return out;
  }

  /** The device's limits and current settings, without opening it. */
  static capabilities(idOrName: number | string): PortCapabilities {
    requireEal("Port.capabilities");
    const { words: w } = readInfo(resolvePort(idOrName, "Port.capabilities"));
    const n = (f: number) => Number(w[f]);
    return {
      maxRxQueues: n(InfoField.MAX_RX_QUEUES),
      maxTxQueues: n(InfoField.MAX_TX_QUEUES),
      rxDescriptors: {
        min: n(InfoField.RX_DESC_MIN),
        max: n(InfoField.RX_DESC_MAX),
        align: n(InfoField.RX_DESC_ALIGN),
      },
      txDescriptors: {
        min: n(InfoField.TX_DESC_MIN),
        max: n(InfoField.TX_DESC_MAX),
        align: n(InfoField.TX_DESC_ALIGN),
      },
      minMtu: n(InfoField.MIN_MTU),
      maxMtu: n(InfoField.MAX_MTU),
      mtu: n(InfoField.MTU),
      rxOffloads: w[InfoField.RX_OFFLOAD_CAPA],
      txOffloads: w[InfoField.TX_OFFLOAD_CAPA],
      rssOffloads: w[InfoField.RSS_OFFLOADS],
      ifIndex: n(InfoField.IF_INDEX),
      promiscuous: w[InfoField.PROMISCUOUS] !== 0n,
      minRxBufferSize: n(InfoField.MIN_RX_BUFSIZE),
      maxRxFrame: n(InfoField.MAX_RX_PKTLEN),
    };
  }

  /**
   * Configures a port, sets up its queues on the port's NUMA socket, and
   * (unless `start: false`) starts it. Every setting is checked against the
   * device's reported limits first, with a message naming the limit.
   */
  static open(idOrName: number | string, config: PortConfig): Port {
    requireEal("Port.open");
    if (!config || typeof config !== "object" || !config.pool) {
      throw new TypeError("Port.open: config.pool (a Mempool) is required");
    }
    const id = resolvePort(idOrName, "Port.open");
    if (openPorts.has(id)) {
      throw new DpdkError("Port.open", 16, `Port.open: port ${id} is already open; close it first`);
    }
    const port = new Port(id, config);
    openPorts.set(id, port);
    return port;
  }

  #configure(config: PortConfig, w: BigUint64Array): void {
    const s = library().symbols;
    const id = this.#id;
    const what = `port ${id} (${this.#driver})`;
    const n = (f: number) => Number(w[f]);
    checkCount(`${what} rxQueues`, this.#rxQueues, 1, n(InfoField.MAX_RX_QUEUES), "queues");
    checkCount(`${what} txQueues`, this.#txQueues, 1, n(InfoField.MAX_TX_QUEUES), "queues");
    const desc = (dir: "rx" | "tx", asked: number | undefined): number => {
      const [min, max, align] = dir === "rx"
        ? [n(InfoField.RX_DESC_MIN), n(InfoField.RX_DESC_MAX), n(InfoField.RX_DESC_ALIGN)]
        : [n(InfoField.TX_DESC_MIN), n(InfoField.TX_DESC_MAX), n(InfoField.TX_DESC_ALIGN)];
      if (asked === undefined) return Math.min(Math.max(1024, min), max);
      checkCount(`${what} ${dir}Descriptors`, asked, Math.max(min, 1), max, "descriptors");
      if (align > 1 && asked % align !== 0) {
        throw new RangeError(
          `${what} ${dir}Descriptors: ${asked} is not a multiple of ${align} as the device ` +
            `requires (try ${Math.ceil(asked / align) * align})`,
        );
      }
      return asked;
    };
    const rxDesc = desc("rx", config.rxDescriptors);
    const txDesc = desc("tx", config.txDescriptors);
    this.#checkPoolSize(what, rxDesc);
    if (config.mtu !== undefined) {
      checkCount(`${what} mtu`, config.mtu, n(InfoField.MIN_MTU), n(InfoField.MAX_MTU), "bytes");
    }
    // DPDK 22.11 sets 1500 when given 0: pass the device's own MTU instead, as documented.
    const current = n(InfoField.MTU);
    const mtu = config.mtu ??
      (current >= n(InfoField.MIN_MTU) && current <= n(InfoField.MAX_MTU) && current > 0
        ? current
        : 1500);
    const offloads = (dir: "rx" | "tx", wanted: bigint | undefined, capa: bigint): bigint => {
      if (wanted === undefined) return 0n;
      if (typeof wanted !== "bigint") {
        throw new TypeError(`${what} ${dir}Offloads must be a bigint of offload bits`);
      }
      const bad = unsupportedBits(wanted, capa);
      if (bad.length > 0) {
        const table = dir === "rx" ? RxOffload : TxOffload;
        throw new RangeError(
          `${what} does not support ${dir} offloads ${describeBits(table, bad)} ` +
            `(supported mask 0x${capa.toString(16)})`,
        );
      }
      return wanted;
    };
    const conf = new BigUint64Array(ConfField.FIELDS);
    conf[ConfField.MTU] = BigInt(mtu);
    conf[ConfField.RX_OFFLOADS] = offloads("rx", config.rxOffloads, w[InfoField.RX_OFFLOAD_CAPA]);
    conf[ConfField.TX_OFFLOADS] = offloads("tx", config.txOffloads, w[InfoField.TX_OFFLOAD_CAPA]);
    this.#fastFree = (conf[ConfField.TX_OFFLOADS] & TxOffload.MBUF_FAST_FREE) !== 0n;
    this.#checkFrameRoom(what, mtu, conf[ConfField.RX_OFFLOADS], w[InfoField.RX_OFFLOAD_CAPA]);
    if (config.rss !== undefined && config.rss !== 0n) {
      const capa = w[InfoField.RSS_OFFLOADS];
      const bad = unsupportedBits(config.rss, capa);
      if (bad.length > 0) {
        throw new RangeError(
          `${what} does not support RSS hash functions ${describeBits(Rss, bad)} ` +
            `(supported mask 0x${capa.toString(16)})`,
        );
      }
      conf[ConfField.RSS_HF] = config.rss;
    }
    check(
      "rte_eth_dev_configure",
      s.dd_port_configure(id, this.#rxQueues, this.#txQueues, new Uint8Array(conf.buffer)),
      what,
    );
    const socket = Number(BigInt.asIntN(64, w[InfoField.SOCKET_ID]));
    const pool = config.pool.unsafeHandle;
    for (let q = 0; q < this.#rxQueues; q++) {
      check(
        "rte_eth_rx_queue_setup",
        s.dd_port_rxq_setup(id, q, rxDesc, socket, pool),
        `${what} rx queue ${q}`,
      );
    }
    for (let q = 0; q < this.#txQueues; q++) {
      check(
        "rte_eth_tx_queue_setup",
        s.dd_port_txq_setup(id, q, txDesc, socket),
        `${what} tx queue ${q}`,
      );
    }
    forgetRxTimestampField();
    if (config.start !== false) this.start();
    if (config.promiscuous !== false) {
      check("rte_eth_promiscuous_enable", s.dd_port_promiscuous(id, 1), what);
    }
  }

  /**
   * The pool must fill every rx ring and still have mbufs left for the lcores' caches: a driver
   * that fills its rings at start (net_tap, real NICs) otherwise receives nothing, silently
   * (`rxNoMbuf` rises), or fails with ENOMEM.
   */
  #checkPoolSize(what: string, rxDesc: number): void {
    const pool = this.#pool, rings = rxDesc * this.#rxQueues;
    const caches = pool.cacheSize * Lcore.list().length;
    if (pool.size >= rings + caches + RX_MARGIN) return;
    throw new RangeError(
      `${what}: pool "${pool.name}" has ${pool.size} mbufs; its ${this.#rxQueues} rx ` +
        `queue(s) of ${rxDesc} descriptors hold ${rings}, the lcore caches up to ${caches}, ` +
        `and bursts need more: create the pool with size >= ${rings + caches + RX_MARGIN} ` +
        `(DPDK's samples add rx + tx descriptors, a burst and the caches per port) ` +
        `or give fewer rxDescriptors`,
    );
  }

  /** A frame of the MTU must fit one buffer of the pool, unless it may arrive as a chain. */
  #checkFrameRoom(what: string, mtu: number, rxOffloads: bigint, capa: bigint): void {
    const frame = mtu + FRAME_OVERHEAD;
    const room = this.#pool.dataRoomSize - mbufLayout().headroom;
    if (frame <= room || (rxOffloads & RxOffload.SCATTER) !== 0n) return;
    const bigger = `a pool with dataRoomSize >= ${frame + mbufLayout().headroom}`;
    throw new RangeError(
      `${what}: frames of MTU ${mtu} (${frame} bytes) do not fit the ${room}-byte buffers of ` +
        `pool "${this.#pool.name}": use ` +
        ((capa & RxOffload.SCATTER) !== 0n
          ? `rxOffloads: RxOffload.SCATTER (received as chains) or ${bigger}`
          : `${bigger} (the device has no scattered receive)`),
    );
  }

  /** Port id. */
  get id(): number {
    return this.#id;
  }

  /** Device name, e.g. `net_null0`. */
  get name(): string {
    return this.#name;
  }

  /** Driver name, e.g. `net_null`. */
  get driver(): string {
    return this.#driver;
  }

  /** Number of receive queues configured. */
  get rxQueues(): number {
    return this.#rxQueues;
  }

  /** Number of transmit queues configured. */
  get txQueues(): number {
    return this.#txQueues;
  }

  /** The pool the receive queues use. */
  get pool(): Mempool {
    return this.#pool;
  }

  /** Whether the port is started. */
  get started(): boolean {
    return this.#state === STATE_STARTED;
  }

  /** Whether {@linkcode Port.close} has run. */
  get closed(): boolean {
    return this.#state === STATE_CLOSED;
  }

  #open(what: string): void {
    if (this.#state === STATE_CLOSED) {
      throw new DpdkError(
        `Port.${what.split(" ")[0]}`,
        0,
        `Cannot ${what} a closed Port (port ${this.#id})`,
      );
    }
    requireEal(what);
  }

  /** MAC address, `aa:bb:cc:dd:ee:ff`. */
  get mac(): string {
    this.#open("read");
    return macString(readInfo(this.#id).words[InfoField.MAC]);
  }

  #requireOwner(what: string): void {
    if (!this.#owned) {
      throw new DpdkError(
        `Port.${what}`,
        1,
        `Cannot ${what} port ${this.#id}: it is attached; its owner controls it`,
      );
    }
  }

  /** Starts the port (`rte_eth_dev_start`). No-op if started. */
  start(): void {
    this.#open("start");
    this.#requireOwner("start");
    if (this.#state === STATE_STARTED) return;
    const ret = library().symbols.dd_port_start(this.#id);
    if (ret < 0 && this.#driver === "net_memif") {
      // A memif client fails to start with EPERM when no server listens on its socket.
      const args = deviceArgs(this.#name);
      const socket = /(?:^|,)socket=([^,]+)/.exec(args)?.[1] ?? "/run/memif.sock";
      const abstract = !/(?:^|,)socket-abstract=(no|0|false)/.test(args);
      throw DpdkError.fromErrno(
        "rte_eth_dev_start",
        ret,
        `port ${this.#id} (${this.#name}): the memif peer could not be reached on socket ` +
          `${socket}${abstract ? " (abstract: in this network namespace)" : ""}; ` +
          `start the memif server first, or make this side the server (role=server)`,
      );
    }
    check("rte_eth_dev_start", ret, `port ${this.#id}`);
    this.#state = STATE_STARTED;
  }

  /** Stops the port (`rte_eth_dev_stop`). No-op if stopped. */
  stop(): void {
    this.#open("stop");
    this.#requireOwner("stop");
    if (this.#state !== STATE_STARTED) return;
    this.#state = STATE_STOPPED;
    check("rte_eth_dev_stop", library().symbols.dd_port_stop(this.#id), `port ${this.#id}`);
  }

  /** Current link state. */
  link(): LinkStatus {
    this.#open("read the link of");
    return readLink(this.#id);
  }

  /**
   * Whether the link is up. On a port whose peer can vanish (`net_memif`)
   * every burst checks the link first and touches no queue while it is down:
   * then this reads what the last burst saw, without a call, so a send loop
   * that sends nothing can tell why. Elsewhere it asks the device.
   */
  get linkUp(): boolean {
    if (this.#watched) return linkStates()[this.#id] === 1;
    return this.link().up;
  }

  /** Polls until the link is up or `timeoutMs` passes; returns the last state. */
  async waitForLink(timeoutMs = 3000): Promise<LinkStatus> {
    const end = performance.now() + timeoutMs;
    let link = this.link();
    while (!link.up && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      link = this.link();
    }
    return link;
  }

  /**
   * Basic counters (`rte_eth_stats_get`). Some drivers reset them on a link
   * event: `net_memif` does when its peer disconnects.
   */
  stats(): PortStats {
    this.#open("read stats of");
    const w = this.#stats;
    check("rte_eth_stats_get", library().symbols.dd_port_stats(this.#id, new Uint8Array(w.buffer)));
    return {
      ipackets: Number(w[StatsField.IPACKETS]),
      opackets: Number(w[StatsField.OPACKETS]),
      ibytes: Number(w[StatsField.IBYTES]),
      obytes: Number(w[StatsField.OBYTES]),
      imissed: Number(w[StatsField.IMISSED]),
      ierrors: Number(w[StatsField.IERRORS]),
      oerrors: Number(w[StatsField.OERRORS]),
      rxNoMbuf: Number(w[StatsField.RX_NOMBUF]),
    };
  }

  /** Resets the basic counters. */
  resetStats(): void {
    this.#open("reset stats of");
    check("rte_eth_stats_reset", library().symbols.dd_port_stats_reset(this.#id));
  }

  /** Extended, driver-specific counters by name (`rte_eth_xstats_get`). */
  xstats(): Record<string, number> {
    this.#open("read xstats of");
    const s = library().symbols;
    const count = check("rte_eth_xstats_get_names", s.dd_xstats_count(this.#id));
    const nameSize = s.dd_size_of(SizeKey.XSTAT_NAME);
    const names = new Uint8Array(Math.max(count, 1) * nameSize);
    const values = new BigUint64Array(Math.max(count, 1));
    const got = check(
      "rte_eth_xstats_get",
      s.dd_xstats_get(this.#id, names, new Uint8Array(values.buffer), count),
    );
    const out: Record<string, number> = {};
    for (let i = 0; i < got; i++) {
      out[fromCString(names, i * nameSize, nameSize)] = Number(values[i]);
    }
    return out;
  }

  /** Sets the MTU (checked against the device's limits). */
  setMtu(mtu: number): void {
    this.#open("set the MTU of");
    const w = readInfo(this.#id).words;
    checkCount(
      `port ${this.#id} mtu`,
      mtu,
      Number(w[InfoField.MIN_MTU]),
      Number(w[InfoField.MAX_MTU]),
      "bytes",
    );
    check("rte_eth_dev_set_mtu", library().symbols.dd_port_set_mtu(this.#id, mtu));
  }

  /** Turns promiscuous mode on or off. */
  setPromiscuous(on: boolean): void {
    this.#open("set promiscuous mode of");
    check(
      "rte_eth_promiscuous_enable",
      library().symbols.dd_port_promiscuous(this.#id, on ? 1 : 0),
    );
  }

  #notReady(what: string, queue: number, queues: number): never {
    this.#open(`${what} on`);
    if (this.#state !== STATE_STARTED) {
      throw new DpdkError(
        what,
        0,
        `Cannot ${what} on port ${this.#id}: it is stopped; call start()`,
      );
    }
    throw new RangeError(
      `${what}: queue ${queue} is outside 0..${queues - 1} configured on port ${this.#id}`,
    );
  }

  /**
   * Receives up to `batch.free` packets from rx `queue`, appending them to
   * `batch`. Returns how many arrived (often 0: this is a poll).
   */
  receive(queue: number, batch: PacketBatch): number {
    if (
      this.#state !== STATE_STARTED ||
      !(queue >= 0 && queue < this.#rxQueues && (queue | 0) === queue)
    ) {
      this.#notReady("receive", queue, this.#rxQueues);
    }
    if (this.#claimed[queue] === 0) this.#claim(queue, 0);
    const n = this.#rxBurst(this.#id, queue, batch.unsafeHandle);
    if (n !== 0 && batch.foreignCount !== 0) this.#foreign(batch);
    return n;
  }

  /**
   * Makes this thread the only poller of a queue (DPDK queues have one consumer each), once
   * per queue and Port object: the hot path reads one flag.
   */
  #claim(queue: number, tx: 0 | 1): void {
    const owner = library().symbols.dd_queue_claim(this.#id, queue, tx);
    if (owner !== 0) {
      throw new DpdkError(
        tx ? "Port.send" : "Port.receive",
        16, // EBUSY
        `${tx ? "tx" : "rx"} queue ${queue} of port ${this.#id} is already polled by another ` +
          `thread (tid ${owner}): a DPDK queue has one consumer; give each worker its own ` +
          `queue, or close the other Port object first`,
      );
    }
    this.#claimed[tx ? this.#rxQueues + queue : queue] = 1;
  }

  #foreign(batch: PacketBatch): never {
    const count = batch.foreignCount;
    throw new DpdkError(
      "Port.receive",
      0,
      `port ${this.#id} delivered ${count} mbufs that do not belong to pool "${batch.pool.name}" ` +
        `of the batch (they came from another pool, e.g. through a ring): give ports that ` +
        `exchange packets one shared pool. The batch holds them; clear() frees them.`,
    );
  }

  /**
   * Sends every packet of `batch` on tx `queue`. Packets the driver did not
   * take are freed (as DPDK's samples do), so afterwards the batch is empty.
   * Returns the number sent.
   */
  send(queue: number, batch: PacketBatch): number {
    return this.#transmit(queue, batch, 0);
  }

  /**
   * Sends what the driver takes now and keeps the rest at the front of
   * `batch` for a retry. Returns the number sent.
   */
  trySend(queue: number, batch: PacketBatch): number {
    return this.#transmit(queue, batch, 1);
  }

  #transmit(queue: number, batch: PacketBatch, keep: number): number {
    if (
      this.#state !== STATE_STARTED ||
      !(queue >= 0 && queue < this.#txQueues && (queue | 0) === queue)
    ) {
      this.#notReady("send", queue, this.#txQueues);
    }
    if (this.#claimed[this.#rxQueues + queue] === 0) this.#claim(queue, 1);
    if (this.#fastFree && batch.pool !== this.#pool) this.#notFastFree(batch);
    const n = this.#txBurst(this.#id, queue, batch.unsafeHandle, keep);
    if (n < 0) this.#unprepared(-n - 1);
    return n;
  }

  #notFastFree(batch: PacketBatch): never {
    throw new DpdkError(
      "Port.send",
      22,
      `port ${this.#id} has TxOffload.MBUF_FAST_FREE, which frees every sent mbuf into the ` +
        `port's pool "${this.#pool.name}": packets of pool "${batch.pool.name}" cannot be sent ` +
        `on it (open the port without MBUF_FAST_FREE to send packets of several pools)`,
    );
  }

  #unprepared(i: number): never {
    throwRteErrno(
      "rte_eth_tx_prepare",
      `send on port ${this.#id}: packet ${i} cannot be sent with the offloads it requested ` +
        `(headers beyond its first segment, or no headroom for a VLAN tag); nothing was sent`,
    );
  }

  /** Stops and closes the port (`rte_eth_dev_close`); an attached port is only released. Idempotent. */
  close(): void {
    if (this.#state === STATE_CLOSED) return;
    const s = library().symbols;
    const wasStarted = this.#state === STATE_STARTED;
    this.#state = STATE_CLOSED;
    this.#detach();
    this.#unregister();
    this.#releaseQueues();
    if (!this.#owned) return;
    openPorts.delete(this.#id);
    if (wasStarted) s.dd_port_stop(this.#id);
    s.dd_port_close(this.#id);
  }

  #releaseQueues(): void {
    const s = library().symbols;
    for (let i = 0; i < this.#claimed.length; i++) {
      if (this.#claimed[i] === 0) continue;
      const tx = i >= this.#rxQueues ? 1 : 0;
      s.dd_queue_release(this.#id, tx ? i - this.#rxQueues : i, tx);
      this.#claimed[i] = 0;
    }
  }

  /** Same as {@linkcode Port.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

const deviceArgsByName = new Map<string, string>();

/** Records the arguments a virtual device was created with, for error messages (internal). */
export function noteDeviceArgs(name: string, args: string): void {
  deviceArgsByName.set(name, args);
}

/** A device's arguments: from VirtualDevice.create, or its `--vdev=` EAL argument. */
function deviceArgs(name: string): string {
  const noted = deviceArgsByName.get(name);
  if (noted !== undefined) return noted;
  const list = Eal.args;
  for (let i = 0; i < list.length; i++) {
    const a = list[i] === "--vdev" ? list[i + 1] ?? "" : list[i].replace(/^--vdev=/, "");
    if (a.startsWith(`${name},`)) return a.slice(name.length + 1);
  }
  return "";
}

/** The open {@linkcode Port} with this id, if any (internal, for vdev removal). */
export function openPort(id: number): Port | undefined {
  return openPorts.get(id);
}
