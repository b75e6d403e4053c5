/**
 * Initialises the EAL from a DPDK command line and prints what it sees:
 * lcores (with their CPUs) and ports.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/hello.ts -c 0x3 --no-huge --no-pci
 *
 * With no arguments: `-c 0x3 --no-huge -m 256 --no-pci --no-shconf --vdev=net_null0`.
 *
 * @module
 */
import { dpdkVersion, Eal, Lcore, Port, splitArgs } from "../mod.ts";
import { Cli } from "./_cli.ts";

const DEFAULT_EAL = [
  "-c",
  "0x3",
  "--no-huge",
  "-m",
  "256",
  "--no-pci",
  "--no-shconf",
  "--vdev=net_null0",
];
const cli = new Cli(
  "hello",
  "usage: hello.ts [EAL args]   (no options of its own)\n" +
    `default EAL args: ${DEFAULT_EAL.join(" ")}`,
);
const { eal, app } = splitArgs(Deno.args);
cli.parse(app, {}); // nothing after "--" but --help

cli.initEal(eal.length > 0 ? eal : DEFAULT_EAL);
console.log(`${dpdkVersion()}, EAL arguments: ${Eal.args.join(" ")}`);
for (const l of Lcore.list()) {
  console.log(`lcore ${l.id}: cpu ${l.cpu}, socket ${l.socket}${l.main ? " (main)" : ""}`);
}
const ports = Port.list();
if (ports.length === 0) console.log("no ports (add --vdev=net_null0, or bind a NIC)");
for (const p of ports) {
  console.log(
    `port ${p.id}: ${p.name} driver ${p.driver} mac ${p.mac} socket ${p.socket} ` +
      `link ${p.link.up ? "up" : "down"} ${p.link.speedMbps} Mbps`,
  );
}
Eal.cleanup();
