/**
 * Virtual devices created and removed at run time (`rte_vdev_init`).
 *
 * @module
 */
import { library } from "../ffi/library.ts";
import { cstring } from "./cstring.ts";
import { requireEal } from "./eal.ts";
import { check, DpdkError } from "./errors.ts";
import { noteDeviceArgs, openPort } from "./port.ts";

/** Device arguments: DPDK's `key=value,...` string, or an object of them. */
export type VdevArgs = string | Record<string, string | number | boolean>;

function argString(args: VdevArgs | undefined): string {
  if (args === undefined) return "";
  if (typeof args === "string") return args;
  return Object.entries(args)
    .map(([k, v]) => `${k}=${typeof v === "boolean" ? (v ? 1 : 0) : v}`)
    .join(",");
}

/**
 * DPDK 22.11's virtual Ethernet drivers (`RTE_PMD_REGISTER_VDEV`), longest
 * first so a name finds its own driver (net_tap before net_tun is not needed,
 * but net_af_packet must not match a shorter prefix).
 */
const VDEV_DRIVERS = [
  "net_vdev_netvsc",
  "net_virtio_user",
  "net_af_packet",
  "net_failsafe",
  "net_softnic",
  "net_bonding",
  "net_af_xdp",
  "net_memif",
  "net_vhost",
  "net_null",
  "net_pcap",
  "net_ring",
  "net_tap",
  "net_tun",
  "net_kni",
  "eth_pcap",
  "eth_af_packet",
  "eth_null",
  "eth_ring",
] as const;

/** The drivers whose library this DPDK has (all of them when its driver folder cannot be read). */
function availableDrivers(): string[] {
  const p = library().symbols.dd_pmd_path();
  const dir = p ? Deno.UnsafePointerView.getCString(p) : "";
  const lib = (d: string) => d.replace(/^eth_/, "net_").replace("net_bonding", "net_bond");
  try {
    const files = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
    return VDEV_DRIVERS.filter((d) => d.startsWith("net_") && files.has(`librte_${lib(d)}.so`));
  } catch {
    return VDEV_DRIVERS.filter((d) => d.startsWith("net_"));
  }
}

/**
 * A virtual device (`net_null`, `net_ring`, `net_tap`, `net_pcap`,
 * `net_af_packet`, `net_af_xdp`, `net_memif`, …) and the port it created.
 *
 * @example
 * ```ts
 * import { Eal, Mempool, Port, VirtualDevice } from "@deno-dpdk/dpdk";
 * Eal.init({ hugepages: false, pci: false });
 * using tap = VirtualDevice.create("net_tap0", { iface: "dtap0" });
 * const pool = Mempool.create();
 * using port = Port.open(tap.portId, { pool });
 * ```
 */
export class VirtualDevice {
  #name: string;
  #portId: number;
  #removed = false;

  private constructor(name: string, portId: number) {
    this.#name = name;
    this.#portId = portId;
  }

  /**
   * Creates a virtual device. `name` starts with the driver name
   * (`net_ring0`, `net_tap1`); `args` are the driver's options.
   */
  static create(name: string, args?: VdevArgs): VirtualDevice {
    requireEal("VirtualDevice.create");
    if (typeof name !== "string" || !/^[a-z_]+[a-z0-9_]*$/i.test(name)) {
      throw new TypeError(`VirtualDevice.create: "${name}" is not a device name like net_ring0`);
    }
    const s = library().symbols;
    const text = argString(args);
    const driver = VDEV_DRIVERS.find((d) => name.startsWith(d));
    if (driver === undefined) {
      throw new DpdkError(
        "rte_vdev_init",
        19, // ENODEV
        `VirtualDevice.create: no virtual device driver for "${name}": a device is named after ` +
          `its driver and a number (e.g. net_ring0); drivers here: ${
            availableDrivers().join(", ")
          }`,
      );
    }
    // Drivers that open an existing kernel interface fail obscurely without one: say so.
    const iface = typeof args === "object" ? args.iface : /(?:^|,)iface=([^,]+)/.exec(text)?.[1];
    if (
      iface !== undefined && driver !== "net_tap" && s.dd_if_index(cstring(String(iface))) === 0
    ) {
      throw new DpdkError(
        "rte_vdev_init",
        19,
        `VirtualDevice.create: ${name}: no network interface "${iface}" (\`ip link\` lists them)`,
      );
    }
    check(
      "rte_vdev_init",
      s.dd_vdev_create(cstring(name), cstring(text)),
      `"${name}" with arguments "${text}" (bad arguments or name in use; DPDK's log says which)`,
    );
    noteDeviceArgs(name, text);
    const port = s.dd_port_by_name(cstring(name));
    if (port < 0) {
      s.dd_vdev_remove(cstring(name));
      throw new DpdkError(
        "rte_eth_dev_get_port_by_name",
        -port,
        `${name} was created but is not an Ethernet port`,
      );
    }
    return new VirtualDevice(name, port);
  }

  /** Device name. */
  get name(): string {
    return this.#name;
  }

  /** Id of the Ethernet port the device provides. */
  get portId(): number {
    return this.#portId;
  }

  /** Closes its port if open, then removes the device (`rte_vdev_uninit`). Idempotent. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    openPort(this.#portId)?.close();
    requireEal("VirtualDevice.remove");
    check("rte_vdev_uninit", library().symbols.dd_vdev_remove(cstring(this.#name)), this.#name);
  }

  /** Same as {@linkcode VirtualDevice.remove}, for `using`. */
  [Symbol.dispose](): void {
    this.remove();
  }
}
