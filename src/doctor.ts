/**
 * What this machine offers for DPDK, and the exact command for each gap.
 *
 * {@linkcode doctor} reads `/sys`, `/proc` and `/dev` and asks `pkg-config`
 * and `dpkg-query`; it never initialises the EAL, never loads the shim and
 * never changes the machine. {@linkcode formatDoctorReport} renders the
 * report for a terminal. Every reading goes through a {@linkcode SystemReader},
 * so the logic is tested on fixture machines.
 *
 * Deno 2 lets a program read `/proc`, `/sys` and `/dev` only with
 * `--allow-all`; with less, the report says which parts it could not see.
 *
 * @example
 * ```ts
 * import { doctor, formatDoctorReport } from "./doctor.ts";
 *
 * console.log(formatDoctorReport(doctor()));
 * ```
 *
 * @module
 */
import { LIBRARY_FILE } from "../ffi/build.ts";
import { SUPPORTED_DPDK } from "../ffi/library.ts";

/** The outcome of running a program through a {@linkcode SystemReader}. */
export interface RunOutcome {
  /** `ok`: exit 0; `failed`: non-zero exit; `missing`: not installed; `denied`: no permission. */
  status: "ok" | "failed" | "missing" | "denied";
  /** Standard output (empty unless the program ran). */
  stdout: string;
}

/** Owner and mode bits of a file, as `stat` reports them. */
export interface FileStat {
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Permission bits, e.g. `0o755`. */
  mode: number;
  /** Whether it is a directory. */
  isDirectory: boolean;
}

/** Every reading the doctor makes. Nothing here writes. */
export interface SystemReader {
  /** A file's text, or `null` when it is missing or cannot be read. */
  readText(path: string): string | null;
  /** A directory's entry names, or `null` when it is missing or cannot be read. */
  readDir(path: string): string[] | null;
  /** A symbolic link's target, or `null`. */
  readLink(path: string): string | null;
  /** A file's owner and mode, or `null`. */
  stat(path: string): FileStat | null;
  /** Runs a program to completion and returns its output. */
  run(cmd: string, args: string[]): RunOutcome;
  /** An environment variable, or `undefined` (also when not permitted). */
  env(name: string): string | undefined;
  /** The current user's uid, gid and groups, or `null` when unknown. */
  identity(): { uid: number; gid: number; groups: number[] } | null;
  /** Whether `/proc`, `/sys` and `/dev` could be read (Deno needs --allow-all for them). */
  systemReadable(): boolean;
  /** The directory of this package when loaded from a local checkout, else `null`. */
  packageDir(): string | null;
}

/** How a finding reads: fine, worth knowing, or something to fix. */
export type Level = "ok" | "info" | "warn";

/** One line of the report. */
export interface Finding {
  /** `ok`, `info` or `warn`. */
  level: Level;
  /** What was found, in one sentence. */
  text: string;
}

/** A gap and the exact command that closes it. */
export interface NextStep {
  /** Why, in a few words. */
  why: string;
  /** The command to run, copy-paste ready. */
  command: string;
}

/** A hugepage size and how many pages of it exist. */
export interface HugepagePool {
  /** Page size in kB (2048 for 2 MB pages, 1048576 for 1 GB pages). */
  sizeKb: number;
  /** Pages reserved (`nr_hugepages`). */
  total: number;
  /** Pages not in use (`free_hugepages`). */
  free: number;
}

/** One line of `/proc/mounts`. */
export interface Mount {
  /** What is mounted (`nodev` for hugetlbfs). */
  source: string;
  /** Where. */
  target: string;
  /** File system type. */
  type: string;
  /** Mount options, split on commas. */
  options: string[];
}

/** A PCI network device, as `dpdk-devbind.py --status` shows it. */
export interface NetDevice {
  /** PCI address, e.g. `0000:00:03.0`. */
  pci: string;
  /** `vendor:device` ids, e.g. `1af4:1041`. */
  ids: string;
  /** Human name from pci.ids, when known. */
  name: string | null;
  /** The PCI driver bound to it (`virtio-pci`, `vfio-pci`, ...), or `null`. */
  driver: string | null;
  /** Whether that driver is a userspace one DPDK can use (vfio-pci, igb_uio, uio_pci_generic). */
  userspace: boolean;
  /** Kernel interfaces on it (empty when bound to a userspace driver). */
  interfaces: string[];
  /** Whether one of its interfaces carries a default route: binding it cuts the connection. */
  defaultRoute: boolean;
  /** The DPDK PMD that drives it, when known. */
  pmd: string | null;
}

/** Everything {@linkcode doctor} found. */
export interface DoctorReport {
  /** `pkg-config --modversion libdpdk`, or `null`. */
  dpdkVersion: string | null;
  /** Whether that version is one deno-dpdk supports. */
  dpdkSupported: boolean;
  /** Debian packages and their installed versions (`null`: not installed; absent: unknown). */
  packages: Record<string, string | null>;
  /** Directory the net PMDs were found in, or `null`. */
  pmdDir: string | null;
  /** Net PMD names found there, e.g. `net_null`, `net_tap`. */
  pmds: string[];
  /** Hugepage pools, by size. */
  hugepages: HugepagePool[];
  /** hugetlbfs mounts. */
  hugetlbfs: Mount[];
  /** PCI network devices. */
  devices: NetDevice[];
  /** Interfaces with no PCI device (lo, veth, tap, bridges, ...). */
  virtualInterfaces: string[];
  /** Interfaces carrying a default route. */
  defaultRouteInterfaces: string[];
  /** Whether an IOMMU is present (`/sys/class/iommu` has entries). */
  iommu: boolean;
  /** vfio's `enable_unsafe_noiommu_mode`, or `null` when vfio is not loaded. */
  noiommu: boolean | null;
  /** Kernel modules of interest that are loaded. */
  modules: string[];
  /** Whether this kernel can load modules (`/lib/modules/<release>` exists). */
  modulesAvailable: boolean;
  /** Whether the process runs as root, or `null` when unknown. */
  root: boolean | null;
  /** The shim builds found: the local one and the per-user cache ones. */
  shims: string[];
  /** Whether /proc, /sys and /dev could be read. */
  systemReadable: boolean;
  /** The findings, by section title, in order. */
  sections: { title: string; findings: Finding[] }[];
  /** What to do next, most fundamental first. */
  next: NextStep[];
}

/** Userspace PCI drivers DPDK can drive a NIC through. */
export const USERSPACE_DRIVERS: readonly string[] = ["vfio-pci", "igb_uio", "uio_pci_generic"];

/** Kernel PCI driver → the DPDK PMD for the same NIC (a few common ones). */
export const KERNEL_TO_PMD: Readonly<Record<string, string>> = {
  "virtio-pci": "net_virtio",
  ena: "net_ena",
  gve: "net_gve",
  ixgbe: "net_ixgbe",
  ixgbevf: "net_ixgbe",
  i40e: "net_i40e",
  iavf: "net_iavf",
  ice: "net_ice",
  igb: "net_e1000",
  igc: "net_igc",
  e1000: "net_e1000",
  e1000e: "net_e1000",
  mlx5_core: "net_mlx5",
  mlx4_core: "net_mlx4",
  bnxt_en: "net_bnxt",
  vmxnet3: "net_vmxnet3",
  ionic: "net_ionic",
};

/** PMDs that run beside the kernel driver (bifurcated): no binding needed. */
const BIFURCATED = ["net_mlx5", "net_mlx4"];

const PCI_ADDRESS = /[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/g;

/** Parses `/proc/mounts` (octal escapes such as `\040` decoded). */
export function parseMounts(text: string): Mount[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const [source = "", target = "", type = "", options = ""] = line.split(/\s+/);
    return { source, target: unescape(target), type, options: options.split(",") };
  });
}

/** The page size a hugetlbfs mount uses, in kB (`pagesize=` option, else the default size). */
export function mountPageSizeKb(mount: Mount, defaultKb: number): number {
  const opt = mount.options.find((o) => o.startsWith("pagesize="))?.slice(9);
  if (!opt) return defaultKb;
  const m = opt.match(/^(\d+)([KMG]?)$/i);
  if (!m) return defaultKb;
  const unit = { "": 1 / 1024, K: 1, M: 1024, G: 1024 * 1024 }[m[2].toUpperCase()] ?? 1;
  return Number(m[1]) * unit;
}

/** `Hugepagesize:` from `/proc/meminfo`, in kB, or `null`. */
export function parseDefaultHugepageKb(meminfo: string): number | null {
  const m = meminfo.match(/^Hugepagesize:\s+(\d+)\s*kB/m);
  return m ? Number(m[1]) : null;
}

/** `hugepages-2048kB` → 2048, or `null`. */
export function hugepageDirSizeKb(name: string): number | null {
  const m = name.match(/^hugepages-(\d+)kB$/);
  return m ? Number(m[1]) : null;
}

/** Interfaces with a default route in `/proc/net/route` and `/proc/net/ipv6_route`. */
export function parseDefaultRoutes(route: string, ipv6Route = ""): string[] {
  const found = new Set<string>();
  for (const line of route.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === "00000000" && f[7] === "00000000") found.add(f[0]);
  }
  for (const line of ipv6Route.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[9] === "lo") continue;
    // Destination ::/0 through a real next hop (flags RTF_GATEWAY 0x2).
    if (/^0{32}$/.test(f[0]) && f[1] === "00" && (parseInt(f[8], 16) & 0x2) !== 0) {
      found.add(f[9]);
    }
  }
  return [...found].sort();
}

/** The last PCI address in a sysfs path (`../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0`). */
export function pciAddressOf(sysfsPath: string): string | null {
  const all = sysfsPath.match(PCI_ADDRESS);
  return all ? all[all.length - 1] : null;
}

/** Looks up a vendor/device name in the text of `pci.ids`. */
export function pciName(ids: string, vendor: string, device: string): string | null {
  const v = ids.indexOf(`\n${vendor}  `);
  if (v < 0) return null;
  const vendorName = ids.slice(v + 7, ids.indexOf("\n", v + 1)).trim();
  let at = ids.indexOf("\n", v + 1);
  while (at >= 0 && (ids[at + 1] === "\t" || ids[at + 1] === "#")) {
    const end = ids.indexOf("\n", at + 1);
    const line = ids.slice(at + 1, end < 0 ? undefined : end);
    if (line.startsWith(`\t${device}  `)) return `${vendorName} ${line.slice(7).trim()}`;
    at = end;
    if (at < 0) break;
  }
  return vendorName;
}

/** Net PMD names from a PMD directory listing (`librte_net_tap.so` → `net_tap`). */
export function pmdNames(files: string[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    const m = f.match(/^librte_(net_\w+)\.so$/);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** Parses `dpkg-query -W -f='${Package}\t${Status}\t${Version}\n'` output. */
export function parseDpkg(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const line of text.split("\n")) {
    const [name, status, version] = line.split("\t");
    if (!name) continue;
    out[name] = status?.endsWith("installed") && status.includes("ok installed")
      ? (version ?? "")
      : null;
  }
  return out;
}

/** uid, gid and supplementary groups from `/proc/<pid>/status` text. */
export function parseStatusIdentity(
  text: string,
): { uid: number; gid: number; groups: number[] } | null {
  const uid = text.match(/^Uid:\s+\d+\s+(\d+)/m);
  const gid = text.match(/^Gid:\s+\d+\s+(\d+)/m);
  if (!uid || !gid) return null;
  const groups = (text.match(/^Groups:(.*)$/m)?.[1] ?? "").trim().split(/\s+/).filter((g) => g)
    .map(Number);
  return { uid: Number(uid[1]), gid: Number(gid[1]), groups };
}

/** Whether `who` may write to a file with `stat` (mode bits; root always may). */
export function canWrite(
  stat: FileStat,
  who: { uid: number; gid: number; groups: number[] },
): boolean {
  if (who.uid === 0) return true;
  if (stat.uid === who.uid) return (stat.mode & 0o200) !== 0;
  if (stat.gid === who.gid || who.groups.includes(stat.gid)) return (stat.mode & 0o020) !== 0;
  return (stat.mode & 0o002) !== 0;
}

const PACKAGES = ["libdpdk-dev", "dpdk", "pkg-config", "gcc"];
const MODULES = ["vfio", "vfio_pci", "vfio_iommu_type1", "uio", "uio_pci_generic", "igb_uio"];
const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/usr/local/lib",
  "/usr/local/lib64",
  "/usr/local/lib/x86_64-linux-gnu",
  "/usr/lib",
];

function findPmds(r: SystemReader): { dir: string | null; pmds: string[] } {
  const dirs: string[] = [];
  const pmdsdir = r.run("pkg-config", ["--variable=pmdsdir", "libdpdk"]);
  if (pmdsdir.status === "ok" && pmdsdir.stdout.trim()) dirs.push(pmdsdir.stdout.trim());
  const libdir = r.run("pkg-config", ["--variable=libdir", "libdpdk"]);
  const libs = libdir.status === "ok" && libdir.stdout.trim()
    ? [libdir.stdout.trim(), ...LIB_DIRS]
    : LIB_DIRS;
  for (const lib of libs) {
    for (const name of (r.readDir(`${lib}/dpdk`) ?? []).sort().reverse()) {
      if (name.startsWith("pmds-")) dirs.push(`${lib}/dpdk/${name}`);
    }
  }
  for (const dir of dirs) {
    const pmds = pmdNames(r.readDir(dir) ?? []);
    if (pmds.length > 0) return { dir, pmds };
  }
  return { dir: null, pmds: [] };
}

function cacheRoot(r: SystemReader): string | null {
  const own = r.env("DENO_DPDK_CACHE");
  if (own) return own;
  const xdg = r.env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/deno-dpdk`;
  const home = r.env("HOME");
  return home ? `${home}/.cache/deno-dpdk` : null;
}

function readNumber(r: SystemReader, path: string): number | null {
  const t = r.readText(path);
  const n = t === null ? NaN : Number(t.trim());
  return Number.isFinite(n) ? n : null;
}

function sizeLabel(kb: number): string {
  return kb >= 1024 * 1024 ? `${kb / 1024 / 1024} GB` : kb >= 1024 ? `${kb / 1024} MB` : `${kb} kB`;
}

/**
 * Looks at the machine and returns what it offers for DPDK, what is missing,
 * and the next command for each gap. Only reads; never changes anything.
 * Pass a {@linkcode SystemReader} to look at another (fixture) machine.
 */
export function doctor(reader: SystemReader = denoReader()): DoctorReport {
  const r = reader;
  const identity = r.identity();
  const root = identity ? identity.uid === 0 : null;
  const sudo = root === false ? "sudo " : "";
  /** A command writing to a root-only file: `echo X > F`, or `echo X | sudo tee F`. */
  const writeAsRoot = (value: string, file: string) =>
    root === false ? `echo ${value} | sudo tee ${file}` : `echo ${value} > ${file}`;
  const next: NextStep[] = [];
  const sections: DoctorReport["sections"] = [];
  const systemReadable = r.systemReadable();

  // --- DPDK
  const dpdk: Finding[] = [];
  const mod = r.run("pkg-config", ["--modversion", "libdpdk"]);
  const dpdkVersion = mod.status === "ok" ? mod.stdout.trim() : null;
  const majorMinor = dpdkVersion?.match(/^(\d+\.\d+)/)?.[1] ?? "";
  const dpdkSupported = SUPPORTED_DPDK.includes(majorMinor);
  const dpkg = r.run("dpkg-query", [
    "-W",
    "-f=${Package}\\t${Status}\\t${Version}\\n",
    ...PACKAGES,
  ]);
  const packages = dpkg.status === "ok" || dpkg.status === "failed" ? parseDpkg(dpkg.stdout) : {};
  if (mod.status === "denied" || dpkg.status === "denied") {
    dpdk.push({
      level: "warn",
      text: "not allowed to run pkg-config/dpkg-query: grant --allow-run=pkg-config,dpkg-query",
    });
  }
  if (dpdkVersion) {
    dpdk.push({
      level: dpdkSupported ? "ok" : "warn",
      text: `DPDK ${dpdkVersion} (pkg-config libdpdk)` +
        (dpdkSupported ? "" : `: deno-dpdk supports ${SUPPORTED_DPDK.join(", ")}`),
    });
    if (!dpdkSupported) {
      next.push({
        why: `DPDK ${dpdkVersion} is not a supported release`,
        command: `install DPDK ${SUPPORTED_DPDK.join(" or ")}, or try anyway: ` +
          "export DENO_DPDK_ALLOW_UNSUPPORTED=1",
      });
    }
  } else if (mod.status !== "denied") {
    dpdk.push({
      level: "warn",
      text: mod.status === "missing"
        ? "pkg-config is not installed"
        : "DPDK's development files are not installed (pkg-config finds no libdpdk)",
    });
  }
  const known = PACKAGES.filter((p) => p in packages);
  if (known.length > 0) {
    dpdk.push({
      level: "info",
      text: "packages: " +
        known.map((p) => `${p} ${packages[p] ?? "(not installed)"}`).join(", "),
    });
  }
  const missingPackages = PACKAGES.filter((p) => packages[p] === null);
  if (!dpdkVersion && mod.status !== "denied" || missingPackages.length > 0) {
    const list = missingPackages.length > 0 ? missingPackages : PACKAGES;
    next.push({
      why: `install ${list.join(", ")}`,
      command: `${sudo}apt-get update && ${sudo}apt-get install -y ${list.join(" ")}`,
    });
  }
  const { dir: pmdDir, pmds } = findPmds(r);
  if (pmdDir) {
    dpdk.push({ level: "ok", text: `${pmds.length} net PMDs in ${pmdDir}: ${pmds.join(", ")}` });
  } else if (dpdkVersion) {
    dpdk.push({ level: "warn", text: "no net PMDs found (is the dpdk package installed?)" });
  }
  sections.push({ title: "DPDK", findings: dpdk });

  // --- Shim
  const shimFindings: Finding[] = [];
  const shims: string[] = [];
  const pkg = r.packageDir();
  if (pkg && r.stat(`${pkg}/native/build/${LIBRARY_FILE}`)) {
    shims.push(`${pkg}/native/build/${LIBRARY_FILE}`);
  }
  const cache = cacheRoot(r);
  if (cache) {
    for (const d of (r.readDir(cache) ?? []).sort()) {
      if (r.stat(`${cache}/${d}/${LIBRARY_FILE}`)) shims.push(`${cache}/${d}/${LIBRARY_FILE}`);
    }
  }
  const libEnv = r.env("DENO_DPDK_LIB");
  if (libEnv) {
    shimFindings.push({
      level: r.stat(libEnv) ? "ok" : "warn",
      text: `DENO_DPDK_LIB=${libEnv}${r.stat(libEnv) ? "" : " (missing)"}`,
    });
  }
  for (const s of shims) shimFindings.push({ level: "ok", text: `built: ${s}` });
  if (shims.length === 0) {
    shimFindings.push({
      level: "info",
      text: "not built yet: the first program compiles it into " +
        `${cache ?? "~/.cache/deno-dpdk"} (needs --allow-run=pkg-config,cc --allow-write)`,
    });
    if (pkg) next.push({ why: "build the shim in this checkout", command: "deno task setup" });
  }
  sections.push({ title: "Shim (libdpdk_deno.so)", findings: shimFindings });

  // --- Hugepages
  const huge: Finding[] = [];
  const hugepages: HugepagePool[] = [];
  for (const name of (r.readDir("/sys/kernel/mm/hugepages") ?? []).sort()) {
    const sizeKb = hugepageDirSizeKb(name);
    if (sizeKb === null) continue;
    const base = `/sys/kernel/mm/hugepages/${name}`;
    hugepages.push({
      sizeKb,
      total: readNumber(r, `${base}/nr_hugepages`) ?? 0,
      free: readNumber(r, `${base}/free_hugepages`) ?? 0,
    });
  }
  hugepages.sort((a, b) => a.sizeKb - b.sizeKb);
  const defaultKb = parseDefaultHugepageKb(r.readText("/proc/meminfo") ?? "") ?? 2048;
  const hugetlbfs = parseMounts(r.readText("/proc/mounts") ?? "").filter((m) =>
    m.type === "hugetlbfs"
  );
  for (const p of hugepages) {
    const size = sizeLabel(p.sizeKb);
    huge.push({
      level: p.total > 0 ? "ok" : "info",
      text: `${size} pages: ${p.total} reserved, ${p.free} free` +
        (p.total > 0 ? ` (${sizeLabel(p.total * p.sizeKb)} reserved)` : ""),
    });
    if (p.total > 0 && p.free === 0) {
      huge.push({
        level: "warn",
        text: `every ${size} page is in use: another DPDK process, or stale rtemap_* files ` +
          "in the hugetlbfs mount left by a crashed one",
      });
    }
  }
  for (const m of hugetlbfs) {
    const kb = mountPageSizeKb(m, defaultKb);
    const st = r.stat(m.target);
    const writable = st && identity ? canWrite(st, identity) : null;
    huge.push({
      level: writable === false ? "warn" : "ok",
      text: `hugetlbfs on ${m.target} (${sizeLabel(kb)} pages)` +
        (writable === null ? "" : writable ? ", writable" : ", NOT writable by this user"),
    });
  }
  const reserved = hugepages.filter((p) => p.total > 0);
  if (systemReadable && hugepages.length > 0 && reserved.length === 0) {
    const size = hugepages.find((p) => p.sizeKb === 2048) ?? hugepages[0];
    huge.push({
      level: "warn",
      text:
        "no hugepages reserved: DPDK runs with --no-huge -m <MB> (slower) until you reserve some",
    });
    next.push({
      why: `reserve 512 ${sizeLabel(size.sizeKb)} hugepages`,
      command: writeAsRoot(
        "512",
        `/sys/kernel/mm/hugepages/hugepages-${size.sizeKb}kB/nr_hugepages`,
      ),
    });
  }
  for (const p of reserved) {
    if (hugetlbfs.some((m) => mountPageSizeKb(m, defaultKb) === p.sizeKb)) continue;
    const flag = p.sizeKb >= 1024 * 1024 ? `${p.sizeKb / 1024 / 1024}G` : `${p.sizeKb / 1024}M`;
    const isDefault = p.sizeKb === defaultKb;
    const dir = isDefault ? "/dev/hugepages" : `/mnt/huge-${flag}`;
    const opt = isDefault ? "" : ` -o pagesize=${flag}`;
    huge.push({ level: "warn", text: `no hugetlbfs mount for the ${sizeLabel(p.sizeKb)} pages` });
    next.push({
      why: `mount hugetlbfs for the ${sizeLabel(p.sizeKb)} pages`,
      command: `${sudo}mkdir -p ${dir} && ${sudo}mount -t hugetlbfs${opt} nodev ${dir}`,
    });
  }
  sections.push({ title: "Hugepages", findings: huge });

  // --- Network devices
  const netFindings: Finding[] = [];
  const defaultRouteInterfaces = parseDefaultRoutes(
    r.readText("/proc/net/route") ?? "",
    r.readText("/proc/net/ipv6_route") ?? "",
  );
  const byPci = new Map<string, string[]>();
  const virtualInterfaces: string[] = [];
  for (const iface of (r.readDir("/sys/class/net") ?? []).sort()) {
    const link = r.readLink(`/sys/class/net/${iface}`) ?? "";
    const pci = link.includes("/devices/virtual/") ? null : pciAddressOf(link);
    if (pci) byPci.set(pci, [...(byPci.get(pci) ?? []), iface]);
    else virtualInterfaces.push(iface);
  }
  const ids = r.readText("/usr/share/misc/pci.ids") ?? r.readText("/usr/share/hwdata/pci.ids");
  const devices: NetDevice[] = [];
  for (const pci of (r.readDir("/sys/bus/pci/devices") ?? []).sort()) {
    const base = `/sys/bus/pci/devices/${pci}`;
    const cls = r.readText(`${base}/class`)?.trim() ?? "";
    if (!cls.startsWith("0x02")) continue; // network controllers only
    const vendor = (r.readText(`${base}/vendor`) ?? "").trim().replace(/^0x/, "");
    const device = (r.readText(`${base}/device`) ?? "").trim().replace(/^0x/, "");
    const driverLink = r.readLink(`${base}/driver`);
    const driver = driverLink ? driverLink.split("/").pop()! : null;
    const interfaces = byPci.get(pci) ?? [];
    const pmdFromIds = vendor === "1af4" ? "net_virtio" : null;
    devices.push({
      pci,
      ids: `${vendor}:${device}`,
      name: ids ? pciName(ids, vendor, device) : null,
      driver,
      userspace: driver !== null && USERSPACE_DRIVERS.includes(driver),
      interfaces,
      defaultRoute: interfaces.some((i) => defaultRouteInterfaces.includes(i)),
      pmd: (driver && KERNEL_TO_PMD[driver]) ?? pmdFromIds,
    });
  }
  for (const d of devices) {
    const where = d.interfaces.length > 0 ? ` if=${d.interfaces.join(",")}` : "";
    const kind = d.driver === null ? "no driver" : d.userspace ? "userspace, DPDK-ready" : "kernel";
    const pmd = d.pmd
      ? ` PMD ${d.pmd}${pmds.length && !pmds.includes(d.pmd) ? " (not installed)" : ""}`
      : "";
    netFindings.push({
      level: d.defaultRoute ? "warn" : d.userspace ? "ok" : "info",
      text:
        `${d.pci} '${d.name ?? "unknown device"}' [${d.ids}]${where} drv=${d.driver ?? "none"} ` +
        `(${kind})${pmd}` +
        (d.defaultRoute ? " - carries the default route: do NOT bind it" : ""),
    });
  }
  if (systemReadable && devices.length === 0) {
    netFindings.push({ level: "info", text: "no PCI network devices" });
  }
  if (virtualInterfaces.length > 0) {
    netFindings.push({
      level: "info",
      text: `other interfaces: ${virtualInterfaces.join(", ")} ` +
        "(reachable with --vdev=net_af_packet0,iface=<name>)",
    });
  }
  sections.push({ title: "Network devices", findings: netFindings });

  // --- IOMMU and userspace drivers
  const io: Finding[] = [];
  const iommuEntries = r.readDir("/sys/class/iommu") ?? [];
  const iommu = iommuEntries.length > 0;
  const cmdline = r.readText("/proc/cmdline") ?? "";
  const iommuArgs = cmdline.split(/\s+/).filter((a) => /^(intel_iommu|amd_iommu|iommu)=/.test(a));
  const noiommuText = r.readText("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
  const noiommu = noiommuText === null ? null : /^[Y1]/.test(noiommuText.trim());
  const modules = MODULES.filter((m) => r.stat(`/sys/module/${m}`) !== null);
  const release = r.readText("/proc/sys/kernel/osrelease")?.trim() ?? "";
  const modulesAvailable = release !== "" && r.stat(`/lib/modules/${release}`) !== null;
  const vfioLoaded = modules.includes("vfio_pci");
  const hasVfioDev = r.stat("/dev/vfio") !== null;
  if (systemReadable) {
    io.push({
      level: iommu ? "ok" : "info",
      text: iommu
        ? `IOMMU present (${iommuEntries.join(", ")})` +
          (iommuArgs.length ? `, kernel command line: ${iommuArgs.join(" ")}` : "")
        : "no IOMMU (/sys/class/iommu is empty" +
          (iommuArgs.length
            ? `; command line has ${iommuArgs.join(" ")})`
            : "; no intel_iommu=on / amd_iommu=on on the kernel command line)"),
    });
    io.push({
      level: vfioLoaded ? "ok" : "info",
      text: vfioLoaded
        ? `vfio-pci loaded${noiommu ? " (unsafe no-IOMMU mode on)" : ""}`
        : `vfio-pci not loaded; loaded: ${
          modules.length ? modules.join(", ") : "none of vfio/uio"
        }`,
    });
    if (!modulesAvailable && !vfioLoaded) {
      io.push({
        level: "info",
        text: `this kernel has no module directory (/lib/modules/${release}): modprobe cannot ` +
          "load vfio-pci here, so NICs cannot leave the kernel; use virtual devices",
      });
    }
  }
  sections.push({ title: "IOMMU and userspace drivers", findings: io });

  // --- Access
  const access: Finding[] = [];
  if (root !== null) {
    access.push({
      level: root ? "ok" : "info",
      text: root ? "running as root" : `running as uid ${identity!.uid}: DPDK on real NICs and ` +
        "hugepages usually needs root (or CAP_IPC_LOCK, CAP_SYS_ADMIN and access to /dev/vfio)",
    });
  }
  if (systemReadable) {
    const tun = r.stat("/dev/net/tun");
    access.push({
      level: tun ? "ok" : "info",
      text: tun
        ? "/dev/net/tun present (net_tap works)"
        : "/dev/net/tun missing (net_tap will fail)",
    });
    access.push({
      level: hasVfioDev ? "ok" : "info",
      text: hasVfioDev ? "/dev/vfio present" : "/dev/vfio missing (no vfio-pci bound devices yet)",
    });
  } else {
    access.push({
      level: "warn",
      text: "could not read /proc, /sys and /dev: Deno 2 allows that only with --allow-all " +
        "(deno run -A scripts/doctor.ts, or deno task doctor)",
    });
  }
  sections.push({ title: "Access", findings: access });

  // --- What to bind
  const candidates = devices.filter((d) =>
    !d.userspace && !d.defaultRoute && d.driver !== null && !BIFURCATED.includes(d.pmd ?? "")
  );
  if (candidates.length > 0) {
    if (!vfioLoaded) {
      if (!iommu && !iommuArgs.length) {
        next.push({
          why: "no IOMMU: let vfio run without one (VMs without a vIOMMU; no DMA isolation)",
          command: `${sudo}modprobe vfio enable_unsafe_noiommu_mode=1`,
        });
      }
      next.push({ why: "load the vfio-pci driver", command: `${sudo}modprobe vfio-pci` });
    } else if (!iommu && noiommu === false) {
      next.push({
        why: "no IOMMU: let vfio run without one (no DMA isolation)",
        command: writeAsRoot("1", "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"),
      });
    }
    for (const d of candidates) {
      const down = d.interfaces.map((i) => `${sudo}ip link set ${i} down && `).join("");
      next.push({
        why: `give ${d.pci}${d.interfaces.length ? ` (${d.interfaces.join(",")})` : ""} to DPDK`,
        command: `${down}${sudo}dpdk-devbind.py --bind=vfio-pci ${d.pci}`,
      });
    }
  }
  // --- Try it
  const ready = devices.filter((d) => d.userspace);
  const mount = hugetlbfs.find((m) => mountPageSizeKb(m, defaultKb) === 2048) ?? hugetlbfs[0];
  const hugeReady = reserved.some((p) => p.free > 0) && mount !== undefined;
  const memory = hugeReady ? `--socket-mem 256 --huge-dir=${mount.target}` : "--no-huge -m 256";
  const ports = ready.length > 0
    ? ready.map((d) => `--allow ${d.pci}`).join(" ")
    : "--no-pci --vdev=net_null0 --vdev=net_null1";
  if (devices.length > 0 && candidates.length === 0 && ready.length === 0) {
    next.push({
      why: "no NIC to bind (the only one carries your connection): add one for DPDK, or " +
        "practise on virtual devices (net_tap gives a kernel peer, as root)",
      command: "deno run --allow-ffi --allow-read --allow-env examples/hello.ts " +
        `-l 0-1 ${memory} --no-pci --vdev=net_tap0,iface=dtap0`,
    });
  }

  if (dpdkVersion) {
    next.push({
      why: "try it",
      command: "deno run --allow-ffi --allow-read --allow-env examples/hello.ts " +
        `-l 0-1 ${memory} ${ports}`,
    });
  }

  return {
    dpdkVersion,
    dpdkSupported,
    packages,
    pmdDir,
    pmds,
    hugepages,
    hugetlbfs,
    devices,
    virtualInterfaces,
    defaultRouteInterfaces,
    iommu,
    noiommu,
    modules,
    modulesAvailable,
    root,
    shims,
    systemReadable,
    sections,
    next,
  };
}

const MARK: Record<Level, string> = { ok: "[ok]  ", info: "[--]  ", warn: "[!!]  " };

/** Renders a report for a terminal: one section per topic, then the next commands. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = ["deno-dpdk doctor: what this machine offers for DPDK", ""];
  for (const s of report.sections) {
    if (s.findings.length === 0) continue;
    lines.push(s.title);
    for (const f of s.findings) lines.push(`  ${MARK[f.level]}${f.text}`);
    lines.push("");
  }
  lines.push("Next steps");
  report.next.forEach((n, i) => {
    lines.push(`  ${i + 1}. ${n.why}:`);
    lines.push(`       ${n.command}`);
  });
  return lines.join("\n");
}

function notCapable(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

/** The real machine, through Deno's file system and subprocess APIs. Read-only. */
export function denoReader(): SystemReader {
  const decoder = new TextDecoder();
  let systemReadable = true;
  const guard = <T>(path: string, f: () => T): T | null => {
    try {
      return f();
    } catch (e) {
      if (notCapable(e) && /^\/(proc|sys|dev)\//.test(path)) systemReadable = false;
      return null;
    }
  };
  return {
    readText: (path) => guard(path, () => Deno.readTextFileSync(path)),
    readDir: (path) => guard(path, () => [...Deno.readDirSync(path)].map((e) => e.name)),
    readLink: (path) => guard(path, () => Deno.readLinkSync(path)),
    stat: (path) =>
      guard(path, () => {
        const s = Deno.statSync(path);
        return {
          uid: s.uid ?? -1,
          gid: s.gid ?? -1,
          mode: s.mode ?? 0,
          isDirectory: s.isDirectory,
        };
      }),
    run(cmd, args) {
      try {
        const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null", stdin: "null" })
          .outputSync();
        return { status: out.success ? "ok" : "failed", stdout: decoder.decode(out.stdout) };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return { status: "missing", stdout: "" };
        if (notCapable(e)) return { status: "denied", stdout: "" };
        throw e;
      }
    },
    env(name) {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    identity() {
      // /proc/<pid>/status needs --allow-all; Deno.uid() needs --allow-sys=uid,gid.
      const status = guard("/proc/self", () => Deno.readTextFileSync(`/proc/${Deno.pid}/status`));
      if (status) return parseStatusIdentity(status);
      try {
        return { uid: Deno.uid()!, gid: Deno.gid()!, groups: [] };
      } catch {
        return null;
      }
    },
    systemReadable() {
      guard("/proc/mounts", () => Deno.statSync("/proc/mounts"));
      return systemReadable;
    },
    packageDir() {
      const url = new URL("..", import.meta.url);
      return url.protocol === "file:" ? decodeURIComponent(url.pathname).replace(/\/$/, "") : null;
    },
  };
}
