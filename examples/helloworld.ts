/**
 * DPDK's helloworld: every lcore says hello. Worker lcores are Deno Workers,
 * each pinned to its lcore's CPU and running as that lcore; the main lcore
 * is the main thread. Each line is printed by code running on that core.
 *
 *   deno run --allow-ffi --allow-read --allow-env examples/helloworld.ts -c 0x3 --no-huge -m 256 --no-pci
 *
 * With no arguments: `-c 0x3 --no-huge -m 256 --no-pci --no-shconf`.
 *
 * @module
 */
import { Eal, inWorker, Lcore, LcoreWorker, runOnLcore, splitArgs } from "../mod.ts";
import { Cli } from "./_cli.ts";

function hello(lcore: number, cpu: number, affinity: readonly number[]): string {
  return `hello from core ${lcore} (cpu ${cpu}, affinity ${affinity.join(",")})`;
}

if (inWorker()) {
  // lcore_hello() on each worker lcore.
  runOnLcore((ctx) => {
    console.log(hello(ctx.lcore, ctx.cpu, ctx.affinity));
    return { lcore: ctx.lcore, cpu: ctx.cpu };
  });
} else {
  const DEFAULT_EAL = ["-c", "0x3", "--no-huge", "-m", "256", "--no-pci", "--no-shconf"];
  const cli = new Cli(
    "helloworld",
    "usage: helloworld.ts [EAL args]   (no options of its own)\n" +
      `default EAL args: ${DEFAULT_EAL.join(" ")}`,
  );
  const { eal, app } = splitArgs(Deno.args);
  cli.parse(app, {}); // nothing after "--" but --help
  cli.initEal(eal.length > 0 ? eal : DEFAULT_EAL);

  // Launch the function on every worker lcore...
  const workers = await Promise.all(
    LcoreWorker.workerLcores().map((lcore) => LcoreWorker.launch(import.meta.url, { lcore })),
  );
  // ...and on the main lcore too.
  console.log(hello(Lcore.current(), Lcore.currentCpu(), Lcore.affinity()));
  // rte_eal_mp_wait_lcore(): wait for every worker to return.
  await Promise.all(workers.map((w) => w.done));
  Eal.cleanup();
}
