// Eal.init with arguments DPDK refuses: the error carries DPDK's reason, and DPDK's usage text
// (~100 lines on stdout) is not printed. Arg: which case.
import { Eal } from "../../../mod.ts";
import { report } from "../../helpers.ts";

const cases: Record<string, string[]> = {
  bogus: ["--bogus", "--no-huge", "--no-pci", "--no-shconf"],
  mask: ["-c", "0x4", "--no-huge", "--no-pci", "--no-shconf"],
};
try {
  Eal.init(cases[Deno.args[0]]);
  report({ initialised: true });
} catch (e) {
  report({ name: (e as Error).name, message: (e as Error).message });
}
