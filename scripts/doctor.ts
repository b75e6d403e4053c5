/**
 * Tells a newcomer what this machine offers for DPDK and the exact next
 * command for each gap. Reads only; never changes the machine, never starts
 * the EAL, does not need the shim.
 *
 * Usage: deno run -A scripts/doctor.ts [--json]
 *
 * Deno 2 lets a program read /proc, /sys and /dev only with --allow-all
 * (`--allow-read` is not enough for them); with less, the report says what it
 * could not see. The program still only reads files and runs pkg-config and
 * dpkg-query.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { doctor, formatDoctorReport } from "../src/doctor.ts";

const { values } = parseArgs({ args: Deno.args, options: { json: { type: "boolean" } } });
const report = doctor();
console.log(values.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
