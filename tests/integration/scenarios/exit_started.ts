// Leaves a port started and exits abruptly (arg: "throw" or "exit"): the shim must stop it.
import { Eal, Mempool, Port, VirtualDevice } from "../../../mod.ts";
import { TEST_EAL } from "../../helpers.ts";

Eal.init(TEST_EAL);
const pool = Mempool.create({ size: 2047, cacheSize: 0 });
const port = Port.open(VirtualDevice.create("net_ring0").portId, { pool });
console.log(`started port ${port.id}`);
if (Deno.args[0] === "exit") Deno.exit(3);
throw new Error("an uncaught error with a port started");
