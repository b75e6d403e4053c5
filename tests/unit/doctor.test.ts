// The doctor's parsers on fixture text, and its advice on fixture machines read through a
// fake SystemReader (no /sys, no DPDK, nothing changed).
import assert from "node:assert/strict";
import {
  canWrite,
  doctor,
  type DoctorReport,
  formatDoctorReport,
  hugepageDirSizeKb,
  mountPageSizeKb,
  parseDefaultHugepageKb,
  parseDefaultRoutes,
  parseDpkg,
  parseMounts,
  parseStatusIdentity,
  pciAddressOf,
  pciName,
  pmdNames,
  type RunOutcome,
  type SystemReader,
} from "../../src/doctor.ts";

const MOUNTS = `sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0
nodev /mnt/huge\\0401G hugetlbfs rw,relatime,pagesize=1024M 0 0
hugetlbfs /mnt/default hugetlbfs rw,relatime 0 0
`;

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
ens6\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

const IPV6_ROUTE =
  `fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

const PCI_IDS = `# pci.ids fixture
1af4  Red Hat, Inc.
\t1000  Virtio network device
\t1041  Virtio 1.0 network device
\t\t1af4 1100  QEMU
8086  Intel Corporation
# a comment inside the vendor
\t10fb  82599ES 10-Gigabit SFI/SFP+ Network Connection
\t1521  I350 Gigabit Network Connection
`;

Deno.test("parsers read fixture text", async (t) => {
  await t.step("/proc/mounts, with octal escapes and page sizes", () => {
    const mounts = parseMounts(MOUNTS);
    assert.equal(mounts.length, 5);
    const huge = mounts.filter((m) => m.type === "hugetlbfs");
    assert.deepEqual(huge.map((m) => m.target), ["/dev/hugepages", "/mnt/huge 1G", "/mnt/default"]);
    assert.deepEqual(huge.map((m) => mountPageSizeKb(m, 2048)), [2048, 1048576, 2048]);
    assert.equal(mountPageSizeKb(huge[2], 1048576), 1048576);
    assert.equal(mountPageSizeKb({ ...huge[0], options: ["pagesize=1G"] }, 2048), 1048576);
  });

  await t.step("hugepage sizes", () => {
    assert.equal(hugepageDirSizeKb("hugepages-2048kB"), 2048);
    assert.equal(hugepageDirSizeKb("hugepages-1048576kB"), 1048576);
    assert.equal(hugepageDirSizeKb("README"), null);
    assert.equal(parseDefaultHugepageKb("MemTotal: 1 kB\nHugepagesize:       2048 kB\n"), 2048);
    assert.equal(parseDefaultHugepageKb("MemTotal: 1 kB\n"), null);
  });

  await t.step("default routes, IPv4 and IPv6 (lo's unreachable route ignored)", () => {
    assert.deepEqual(parseDefaultRoutes(ROUTE), ["eth0"]);
    assert.deepEqual(parseDefaultRoutes(ROUTE, IPV6_ROUTE), ["eth0", "wlan0"]);
    assert.deepEqual(parseDefaultRoutes("Iface\tDestination\n"), []);
  });

  await t.step("PCI addresses in sysfs links", () => {
    assert.equal(
      pciAddressOf("../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0"),
      "0000:00:03.0",
    );
    assert.equal(
      pciAddressOf("../../devices/pci0000:00/0000:00:01.0/0000:01:00.1/net/ens1f1"),
      "0000:01:00.1",
    );
    assert.equal(pciAddressOf("../../devices/virtual/net/lo"), null);
  });

  await t.step("pci.ids names", () => {
    assert.equal(pciName(PCI_IDS, "1af4", "1041"), "Red Hat, Inc. Virtio 1.0 network device");
    assert.equal(
      pciName(PCI_IDS, "8086", "1521"),
      "Intel Corporation I350 Gigabit Network Connection",
    );
    assert.equal(pciName(PCI_IDS, "8086", "ffff"), "Intel Corporation");
    assert.equal(pciName(PCI_IDS, "abcd", "0001"), null);
  });

  await t.step("PMD libraries, dpkg status, identity, write access", () => {
    assert.deepEqual(
      pmdNames([
        "librte_net_tap.so",
        "librte_net_tap.so.23",
        "librte_net_null.so",
        "librte_bus_pci.so",
        "librte_net_e1000.so.23.0",
      ]),
      ["net_null", "net_tap"],
    );
    assert.deepEqual(
      parseDpkg(
        "dpdk\tinstall ok installed\t22.11.11-0+deb12u1\n" +
          "libdpdk-dev\tunknown ok not-installed\t\ngcc\tdeinstall ok config-files\t12\n",
      ),
      { dpdk: "22.11.11-0+deb12u1", "libdpdk-dev": null, gcc: null },
    );
    assert.deepEqual(
      parseStatusIdentity(
        "Name:\tdeno\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n" +
          "Groups:\t27 100 998 \n",
      ),
      { uid: 1000, gid: 100, groups: [27, 100, 998] },
    );
    assert.equal(parseStatusIdentity("Name:\tdeno\n"), null);
    const user = { uid: 1000, gid: 100, groups: [998] };
    const dir = (uid: number, gid: number, mode: number) => ({ uid, gid, mode, isDirectory: true });
    assert.equal(canWrite(dir(0, 0, 0o755), user), false);
    assert.equal(canWrite(dir(0, 0, 0o1777), user), true);
    assert.equal(canWrite(dir(1000, 0, 0o755), user), true);
    assert.equal(canWrite(dir(0, 998, 0o775), user), true);
    assert.equal(canWrite(dir(0, 998, 0o755), user), false);
    assert.equal(canWrite(dir(5, 5, 0o700), { uid: 0, gid: 0, groups: [] }), true);
  });
});

interface Machine {
  files?: Record<string, string>;
  links?: Record<string, string>;
  dirs?: string[];
  run?: Record<string, RunOutcome>;
  env?: Record<string, string>;
  uid?: number;
  modes?: Record<string, number>;
  systemReadable?: boolean;
  packageDir?: string | null;
}

/** A SystemReader over an in-memory machine. */
function fake(m: Machine): SystemReader & { ran: string[] } {
  const files = m.files ?? {};
  const links = m.links ?? {};
  const paths = [...Object.keys(files), ...Object.keys(links), ...(m.dirs ?? [])];
  const isDir = (p: string) =>
    (m.dirs ?? []).includes(p) || paths.some((x) => x.startsWith(`${p}/`));
  const ran: string[] = [];
  return {
    ran,
    readText: (p) => files[p] ?? null,
    readDir(p) {
      if (!isDir(p)) return null;
      const names = new Set<string>();
      for (const x of paths) {
        if (x.startsWith(`${p}/`)) names.add(x.slice(p.length + 1).split("/")[0]);
      }
      return [...names];
    },
    readLink: (p) => links[p] ?? null,
    stat(p) {
      if (!(p in files) && !(p in links) && !isDir(p)) return null;
      return { uid: 0, gid: 0, mode: m.modes?.[p] ?? 0o755, isDirectory: isDir(p) };
    },
    run(cmd, args) {
      const key = [cmd, ...args].join(" ");
      ran.push(key);
      return m.run?.[key] ?? { status: "missing", stdout: "" };
    },
    env: (name) => m.env?.[name],
    identity: () => m.uid === undefined ? null : { uid: m.uid, gid: m.uid, groups: [] },
    systemReadable: () => m.systemReadable ?? true,
    packageDir: () => m.packageDir ?? null,
  };
}

const DPKG_ARGS = "dpkg-query -W -f=${Package}\\t${Status}\\t${Version}\\n " +
  "libdpdk-dev dpdk pkg-config gcc";

function dpdkInstalled(version = "22.11.4"): Record<string, RunOutcome> {
  return {
    "pkg-config --modversion libdpdk": { status: "ok", stdout: `${version}\n` },
    "pkg-config --variable=pmdsdir libdpdk": { status: "ok", stdout: "\n" },
    "pkg-config --variable=libdir libdpdk": { status: "ok", stdout: "/usr/lib/x86_64-linux-gnu\n" },
    [DPKG_ARGS]: {
      status: "ok",
      stdout: `libdpdk-dev\tinstall ok installed\t${version}-1\ndpdk\tinstall ok installed\t` +
        `${version}-1\npkg-config\tinstall ok installed\t1.8.1-1\ngcc\tinstall ok installed\t12\n`,
    },
  };
}

const PMDS = {
  "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_null.so": "",
  "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_tap.so": "",
  "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_ixgbe.so": "",
};

/** sysfs for one PCI NIC, and its interface when a kernel driver holds it. */
function nic(
  pci: string,
  ids: [string, string],
  driver: string | null,
  iface?: string,
): Pick<Machine, "files" | "links"> {
  const base = `/sys/bus/pci/devices/${pci}`;
  const files = {
    [`${base}/class`]: "0x020000\n",
    [`${base}/vendor`]: `0x${ids[0]}\n`,
    [`${base}/device`]: `0x${ids[1]}\n`,
  };
  const links: Record<string, string> = {};
  if (driver) links[`${base}/driver`] = `../../../bus/pci/drivers/${driver}`;
  if (iface) links[`/sys/class/net/${iface}`] = `../../devices/pci0000:00/${pci}/net/${iface}`;
  return { files, links };
}

function merge(...parts: Machine[]): Machine {
  const out: Machine = { files: {}, links: {}, dirs: [], run: {}, env: {} };
  for (const p of parts) {
    Object.assign(out.files!, p.files);
    Object.assign(out.links!, p.links);
    out.dirs!.push(...(p.dirs ?? []));
    Object.assign(out.run!, p.run);
    Object.assign(out.env!, p.env);
    for (const k of ["uid", "modes", "systemReadable", "packageDir"] as const) {
      if (p[k] !== undefined) Object.assign(out, { [k]: p[k] });
    }
  }
  return out;
}

function commands(report: DoctorReport): string[] {
  return report.next.map((n) => n.command);
}

Deno.test("doctor advises on fixture machines", async (t) => {
  await t.step("a fresh server as a user: install, hugepages, vfio, bind the spare NIC", () => {
    const machine = fake(merge(
      {
        uid: 1000,
        run: {
          "pkg-config --modversion libdpdk": { status: "failed", stdout: "" },
          [DPKG_ARGS]: {
            status: "failed",
            stdout: "libdpdk-dev\tunknown ok not-installed\t\ndpdk\tunknown ok not-installed\t\n" +
              "pkg-config\tinstall ok installed\t1.8.1-1\ngcc\tinstall ok installed\t12\n",
          },
        },
        files: {
          "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "0\n",
          "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "0\n",
          "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0\n",
          "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "0\n",
          "/proc/mounts": "proc /proc proc rw 0 0\n",
          "/proc/net/route": ROUTE.replaceAll("eth0", "eno1"),
          "/proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on\n",
          "/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
          "/usr/share/misc/pci.ids": PCI_IDS,
        },
        dirs: ["/sys/class/iommu/dmar0", "/lib/modules/6.1.0-18-amd64", "/dev/net/tun"],
        links: { "/sys/class/net/lo": "../../devices/virtual/net/lo" },
      },
      nic("0000:02:00.0", ["8086", "1521"], "igb", "eno1"),
      nic("0000:03:00.0", ["8086", "10fb"], "ixgbe", "ens6"),
    ));
    const report = doctor(machine);
    assert.equal(report.dpdkVersion, null);
    assert.equal(report.root, false);
    assert.deepEqual(report.defaultRouteInterfaces, ["eno1"]);
    assert.deepEqual(report.devices.map((d) => [d.pci, d.driver, d.interfaces, d.defaultRoute]), [
      ["0000:02:00.0", "igb", ["eno1"], true],
      ["0000:03:00.0", "ixgbe", ["ens6"], false],
    ]);
    assert.equal(report.devices[1].pmd, "net_ixgbe");
    assert.equal(
      report.devices[1].name,
      "Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection",
    );
    assert.deepEqual(report.virtualInterfaces, ["lo"]);
    assert.equal(report.iommu, true);
    assert.deepEqual(commands(report), [
      "sudo apt-get update && sudo apt-get install -y libdpdk-dev dpdk",
      "echo 512 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
      "sudo modprobe vfio-pci",
      "sudo ip link set ens6 down && sudo dpdk-devbind.py --bind=vfio-pci 0000:03:00.0",
    ]);
    const text = formatDoctorReport(report);
    assert.match(text, /0000:02:00\.0 .*if=eno1 drv=igb \(kernel\).* do NOT bind it/);
    assert.match(text, /no hugepages reserved/);
    assert.match(text, /^ {2}1\. install libdpdk-dev, dpdk:\n {7}sudo apt-get update/m);
    // Only reads: pkg-config and dpkg-query are the only programs asked.
    assert.ok(
      machine.ran.every((c) => /^(pkg-config|dpkg-query) /.test(c)),
      machine.ran.join("\n"),
    );
  });

  await t.step("root, 1 GB pages without a mount, a NIC already on vfio-pci", () => {
    const report = doctor(fake(merge(
      {
        uid: 0,
        run: dpdkInstalled(),
        files: {
          ...PMDS,
          "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "0\n",
          "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "0\n",
          "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "4\n",
          "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "4\n",
          "/proc/meminfo": "Hugepagesize:    2048 kB\n",
          "/proc/mounts": "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n",
          "/proc/net/route": ROUTE,
          "/proc/sys/kernel/osrelease": "6.1.0\n",
        },
        dirs: ["/sys/class/iommu/dmar0", "/sys/module/vfio_pci", "/sys/module/vfio", "/dev/vfio"],
      },
      nic("0000:00:03.0", ["1af4", "1041"], "virtio-pci", "eth0"),
      nic("0000:00:06.0", ["8086", "10fb"], "vfio-pci"),
    )));
    assert.equal(report.dpdkVersion, "22.11.4");
    assert.equal(report.dpdkSupported, true);
    assert.deepEqual(report.pmds, ["net_ixgbe", "net_null", "net_tap"]);
    assert.deepEqual(report.hugepages, [
      { sizeKb: 2048, total: 0, free: 0 },
      { sizeKb: 1048576, total: 4, free: 4 },
    ]);
    assert.equal(report.devices[1].userspace, true);
    assert.equal(report.devices[0].pmd, "net_virtio");
    assert.deepEqual(commands(report), [
      "mkdir -p /mnt/huge-1G && mount -t hugetlbfs -o pagesize=1G nodev /mnt/huge-1G",
      "deno run --allow-ffi --allow-read --allow-env examples/hello.ts -l 0-1 " +
      "--socket-mem 256 --huge-dir=/dev/hugepages --allow 0000:00:06.0",
    ]);
    assert.match(formatDoctorReport(report), /drv=vfio-pci \(userspace, DPDK-ready\)/);
  });

  await t.step("no IOMMU with vfio loaded: unsafe no-IOMMU mode, then bind", () => {
    const report = doctor(fake(merge(
      {
        uid: 0,
        run: dpdkInstalled(),
        files: {
          "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode": "N\n",
          "/proc/net/route": ROUTE,
        },
        dirs: ["/sys/module/vfio_pci"],
      },
      nic("0000:00:03.0", ["1af4", "1041"], "virtio-pci", "eth0"),
      nic("0000:00:06.0", ["1af4", "1041"], "virtio-pci", "ens6"),
    )));
    assert.equal(report.noiommu, false);
    assert.deepEqual(commands(report).slice(0, 2), [
      "echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
      "ip link set ens6 down && dpdk-devbind.py --bind=vfio-pci 0000:00:06.0",
    ]);
  });

  await t.step("an unsupported DPDK names DENO_DPDK_ALLOW_UNSUPPORTED", () => {
    const report = doctor(fake({ uid: 0, run: dpdkInstalled("23.11.1") }));
    assert.equal(report.dpdkSupported, false);
    assert.match(report.next[0].command, /DENO_DPDK_ALLOW_UNSUPPORTED=1/);
  });

  await t.step("the only NIC carries the route: virtual devices, never a bind", () => {
    const report = doctor(fake(merge(
      { uid: 0, run: dpdkInstalled(), files: { "/proc/net/route": ROUTE } },
      nic("0000:00:03.0", ["1af4", "1041"], "virtio-pci", "eth0"),
    )));
    assert.ok(!commands(report).some((c) => c.includes("devbind")));
    assert.match(commands(report)[0], /--vdev=net_tap0,iface=dtap0/);
  });

  await t.step("shim builds in the checkout and the cache are listed", () => {
    const report = doctor(fake({
      uid: 0,
      run: dpdkInstalled(),
      env: { DENO_DPDK_CACHE: "/c" },
      packageDir: "/repo",
      files: {
        "/repo/native/build/libdpdk_deno.so": "",
        "/c/abc-dpdk22.11.4/libdpdk_deno.so": "",
      },
      dirs: ["/c/tmp-empty"],
    }));
    assert.deepEqual(report.shims, [
      "/repo/native/build/libdpdk_deno.so",
      "/c/abc-dpdk22.11.4/libdpdk_deno.so",
    ]);
    const none = doctor(fake({ uid: 0, run: dpdkInstalled(), packageDir: "/repo" }));
    assert.deepEqual(none.shims, []);
    assert.ok(commands(none).includes("deno task setup"));
  });

  await t.step("without access to /proc and /sys it says how to get it", () => {
    const report = doctor(fake({ run: dpdkInstalled(), systemReadable: false }));
    assert.match(formatDoctorReport(report), /Deno 2 allows that only with --allow-all/);
    assert.equal(report.root, null);
  });

  await t.step("without --allow-run it names the flag", () => {
    const denied: RunOutcome = { status: "denied", stdout: "" };
    const report = doctor(fake({
      uid: 0,
      run: { "pkg-config --modversion libdpdk": denied, [DPKG_ARGS]: denied },
    }));
    assert.match(formatDoctorReport(report), /grant --allow-run=pkg-config,dpkg-query/);
    assert.ok(!commands(report).some((c) => c.includes("apt-get")));
  });
});
