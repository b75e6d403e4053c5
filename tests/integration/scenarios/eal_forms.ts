// Initialises the EAL from DPDK's own argv (seed style) or from typed options,
// then reports the lcores and ports it sees. Arg: "argv" | "options".
import { Eal, Lcore, Port } from "../../../mod.ts";
import { report } from "../../helpers.ts";

const mode = Deno.args[0];
const used = mode === "argv"
  ? Eal.init([
    "-c",
    "0x3",
    "--no-huge",
    "-m",
    "256",
    "--no-pci",
    "--no-shconf",
    "--vdev=net_null0",
    "--vdev",
    "net_ring0",
    "--log-level=warning",
  ])
  : Eal.init({
    cores: [0, 1],
    mainLcore: 1,
    hugepages: false,
    memoryMb: 256,
    pci: false,
    noSharedConfig: true,
    vdevs: ["net_null0", "net_ring0"],
    logLevel: "warning",
  });
const result = {
  used,
  initialized: Eal.initialized,
  lcores: Lcore.list(),
  current: Lcore.current(),
  ports: Port.list().map((p) => ({ id: p.id, name: p.name, driver: p.driver, mac: p.mac })),
};
Eal.cleanup();
report(result);
