/**
 * What `host.ts`, `fetch.ts` and `wscat.ts` share: the address and fault-injection options,
 * bringing up the EAL, a port, the device and the stack from them, and the clients' URL.
 *
 * @module
 */
import { DEFAULT_DATA_ROOM, Mempool, Port } from "../mod.ts";
import { parseIpv4 } from "../net/mod.ts";
import { type Device, FaultInjector, PortDevice, Stack, type StackOptions } from "../stack/mod.ts";
import { TlsStream, type Transport } from "../ws/mod.ts";
import { type Cli, flag, ifaceName, integer, interfaceProblem, number, value } from "./_cli.ts";

const NUM_MBUFS = 8191;
const NUM_BIG_MBUFS = 2047;
const AF_PACKET_FRAME = 16384;
const MBUF_CACHE_SIZE = 250;
/** EAL arguments when none are given: no hugepages, no PCI, one lcore. */
export const DEFAULT_EAL = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf"];
/** The TAP device added to {@linkcode DEFAULT_EAL} unless `--iface` is given. */
export const DEFAULT_TAP = "--vdev=net_tap0,iface=dtap0";

/** Usage lines of {@linkcode NET_OPTIONS}. */
export const NET_USAGE = "  --ip A.B.C.D/N      our address and prefix\n" +
  "  --dhcp              get the address from a DHCP server instead\n" +
  "  --gateway A.B.C.D   default gateway, on our prefix\n" +
  "  --mtu N             IP MTU, 68..the device's (default: the device's)\n" +
  "  --iface IFACE       a kernel interface through net_af_packet instead of a TAP\n" +
  "  --loss, --reorder, --duplicate, --corrupt P   faults injected both ways, probabilities 0..1\n" +
  "  --seed N            the fault injector's seed (default 1)\n";

const cidr = (text: string) => {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 32) return undefined;
  parseIpv4(m[1]); // throws with the reason when it is not an address
  return text;
};
const address = (text: string) => (parseIpv4(text), text);

/** The address and fault options, for `Cli.parse`. */
export const NET_OPTIONS = {
  ip: value("an address and prefix like 10.99.3.2/24", cidr),
  dhcp: flag(),
  gateway: value("an IPv4 address", address),
  mtu: integer(68, 9000),
  iface: ifaceName(),
  loss: number(0, 1),
  reorder: number(0, 1),
  duplicate: number(0, 1),
  corrupt: number(0, 1),
  seed: integer(0, 0xffffffff, { default: 1 }),
};

/** Usage lines of {@linkcode URL_OPTIONS}; `tls` names the secure scheme, like "https://". */
export function urlUsage(tls: string): string {
  return "  --address A.B.C.D   where HOST is (there is no name lookup)\n" +
    `  --ca FILE           trust this CA certificate (PEM) for ${tls}\n`;
}

/** A client's options for its URL: where the host is, and a CA to trust, for `Cli.parse`. */
export const URL_OPTIONS = {
  address: value("an IPv4 address", address),
  ca: value("a PEM file", (t) => t),
};

/** A client's URL, checked by {@linkcode parseUrl}. */
export interface UrlTarget {
  /** The secure scheme (https, wss). */
  secure: boolean;
  /** The host as written. */
  host: string;
  /** The host's IPv4 address: the URL's, or `--address`; undefined if neither (a name). */
  ip: string | undefined;
  /** The port, from the URL or the scheme's default. */
  port: number;
  /** The path, "/" when none. */
  path: string;
  /** The CA file's PEM text, from `--ca`. */
  ca: string | undefined;
}

/**
 * Checks `scheme://HOST[:PORT]/path` (`scheme` is "http" or "ws", with its secure form) and
 * the {@linkcode URL_OPTIONS}, exiting with a usage error. There is no name lookup: unless
 * `nameOk`, a host named by name needs `--address`. `missing` is the error without a URL.
 */
export function parseUrl(
  cli: Cli,
  url: string | undefined,
  scheme: string,
  missing: string,
  opts: { address?: string; ca?: string },
  nameOk = false,
): UrlTarget {
  if (url === undefined) cli.usageError(missing);
  const m = new RegExp(`^(${scheme}s?)://([^/:\\s]+)(?::(\\d+))?(/\\S*)?$`).exec(url);
  if (m === null) {
    cli.usageError(`${url}: expected ${scheme}://HOST[:PORT]/path or ${scheme}s://...`);
  }
  const secure = m[1] === `${scheme}s`, host = m[2];
  const ip = opts.address ?? (/^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined);
  if (ip === undefined && !nameOk) {
    cli.usageError(`${host}: there is no name lookup here; give --address A.B.C.D`);
  }
  if (opts.ca !== undefined && !secure) cli.usageError(`--ca: only for ${scheme}s://`);
  const port = m[3] === undefined ? (secure ? 443 : 80) : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) cli.usageError(`port ${m[3]} is not in 1..65535`);
  let ca: string | undefined;
  try {
    ca = opts.ca === undefined ? undefined : Deno.readTextFileSync(opts.ca);
  } catch (e) {
    cli.usageError(`--ca ${opts.ca}: ${(e as Error).message}`);
  }
  return { secure, host, ip, port, path: m[4] ?? "/", ca };
}

/** The Host header for `t`: its host, with the port unless the scheme's (RFC 9110 §7.2). */
export function hostHeader(t: UrlTarget): string {
  return t.port === (t.secure ? 443 : 80) ? t.host : `${t.host}:${t.port}`;
}

/** A connection to `t` over `stack`: TCP, inside TLS (SNI, the CA) for the secure scheme. */
export function connectTarget(stack: Stack, t: UrlTarget): Transport {
  const conn = stack.connect(t.ip!, t.port);
  return t.secure ? new TlsStream(conn, { servername: t.host, ca: t.ca }) : conn;
}

/** The parsed {@linkcode NET_OPTIONS}. */
export interface NetOptions {
  ip?: string;
  dhcp: boolean;
  gateway?: string;
  mtu?: number;
  iface?: string;
  loss?: number;
  reorder?: number;
  duplicate?: number;
  corrupt?: number;
  seed: number;
}

/** The stack and what it runs on. */
export interface Host {
  stack: Stack;
  port: Port;
  injector?: FaultInjector;
}

/**
 * Checks the options, starts the EAL (the user's arguments, or a TAP device; `--iface` adds an
 * af_packet port), opens the port and builds the stack. Mistakes exit through `cli`; the port
 * is announced through `log` (a program whose output is data passes `console.error`).
 */
export function openHost(
  cli: Cli,
  eal: string[],
  opts: NetOptions,
  stackOptions: Partial<StackOptions> = {},
  log: (line: string) => void = console.log,
): Host {
  if ((opts.ip === undefined) === !opts.dhcp) {
    cli.usageError("give --ip A.B.C.D/N, or --dhcp to get an address from a DHCP server");
  }
  if (opts.dhcp && opts.gateway !== undefined) {
    cli.usageError("--gateway: with --dhcp the server gives it");
  }
  const ealArgs = eal.length > 0 ? eal : [...DEFAULT_EAL, ...(opts.iface ? [] : [DEFAULT_TAP])];
  // net_af_packet receives what the kernel reassembled, cut to its frame size (1982 bytes by
  // default): 16 KB frames bring fragmented datagrams whole (replies still leave fragmented).
  if (opts.iface) {
    ealArgs.push(
      `--vdev=net_af_packet0,iface=${opts.iface},framesz=${AF_PACKET_FRAME},blocksz=${AF_PACKET_FRAME}`,
    );
  }
  cli.initEal(ealArgs);
  const ports = Port.list();
  if (opts.iface !== undefined && !ports.some((p) => p.name === "net_af_packet0")) {
    cli.fail(`--iface ${opts.iface}: ${interfaceProblem(opts.iface, "net_af_packet")}`);
  }
  if (ports.length === 0) {
    cli.fail("no ports: add --vdev=... or --allow a NIC, or use --iface IFACE");
  }
  const info = opts.iface !== undefined
    ? ports.find((p) => p.name === "net_af_packet0")!
    : ports[0];

  // A pool and the port, then the device the stack drives (through the fault injector if
  // asked). Buffers as large as the device requires: what it reports (min_rx_bufsize), and for
  // net_af_packet a whole frame (it reports 0, then refuses buffers smaller than its frames).
  const caps = Port.capabilities(info.id);
  const dataRoom = Math.max(
    DEFAULT_DATA_ROOM,
    caps.minRxBufferSize + 128,
    opts.iface !== undefined ? AF_PACKET_FRAME + 128 : 0,
  );
  const pool = Mempool.create({
    name: "MBUF_POOL",
    size: dataRoom > DEFAULT_DATA_ROOM ? NUM_BIG_MBUFS : NUM_MBUFS, // 16 KB buffers: fewer
    cacheSize: MBUF_CACHE_SIZE,
    dataRoomSize: dataRoom,
    port: info.id,
  });
  const port = Port.open(info.id, { pool });
  log(`Port ${port.id} (${port.driver} ${port.name}) MAC: ${port.mac}`);
  const portDevice = new PortDevice(port);
  const injector = faulty(opts)
    ? new FaultInjector(portDevice, {
      seed: opts.seed,
      loss: opts.loss,
      reorder: opts.reorder,
      duplicate: opts.duplicate,
      corrupt: opts.corrupt,
    })
    : undefined;
  const device: Device = injector ?? portDevice;
  try {
    const stack = opts.dhcp
      ? new Stack(device, { ...stackOptions, dhcp: true, mtu: opts.mtu })
      : new Stack(device, {
        ...stackOptions,
        address: opts.ip,
        gateway: opts.gateway,
        mtu: opts.mtu,
      });
    return { stack, port, injector };
  } catch (e) {
    return cli.fail((e as Error).message); // gateway off the prefix, MTU beyond the device's
  }
}

/** The fault line of a start-up message, or "". */
export function faultNote(opts: NetOptions): string {
  return faulty(opts)
    ? `, faults loss ${opts.loss ?? 0} reorder ${opts.reorder ?? 0} ` +
      `duplicate ${opts.duplicate ?? 0} corrupt ${opts.corrupt ?? 0} (seed ${opts.seed})`
    : "";
}

function faulty(opts: NetOptions): boolean {
  return opts.loss !== undefined || opts.reorder !== undefined ||
    opts.duplicate !== undefined || opts.corrupt !== undefined;
}
