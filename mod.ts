/**
 * Deno bindings to DPDK, the Data Plane Development Kit: kernel-bypass packet
 * I/O from TypeScript, with packet bytes read and written in place.
 *
 * A program initialises the EAL, creates a pool of packet buffers, opens
 * ports, and moves packets in batches: one FFI call per burst, no copy and no
 * allocation per packet.
 *
 * @example
 * ```ts
 * import { Eal, Mempool, PacketBatch, Port, StopSignal } from "@deno-dpdk/dpdk";
 *
 * // No NIC, no hugepages: two virtual ports that produce and swallow packets.
 * Eal.init(["--no-huge", "-m", "512", "--no-pci", "--vdev=net_null0", "--vdev=net_null1"]);
 * const pool = Mempool.create({ size: 8191 });
 * const rx = Port.open(0, { pool });
 * const tx = Port.open(1, { pool });
 * const batch = new PacketBatch(pool, 32);
 * const stop = StopSignal.trap();
 * for (let i = 0; i < 1_000_000 && !stop.requested; i++) {
 *   const n = rx.receive(0, batch);
 *   for (let p = 0; p < n; p++) batch.view.setUint16(batch.offset(p) + 12, 0x0800);
 *   tx.send(0, batch);
 * }
 * console.log(tx.stats().opackets);
 * Eal.cleanup();
 * ```
 *
 * @module
 */
export { buildEalArgs, Eal, type EalOptions, splitArgs } from "./src/eal.ts";
export { DpdkError, strerror } from "./src/errors.ts";
export { DEFAULT_DATA_ROOM, Mempool, type MempoolOptions } from "./src/mempool.ts";
export { PacketBatch, type PacketBatchOptions } from "./src/burst.ts";
export { ChecksumStatus, RxFlag, tscHz, tscToNs, TxChecksum } from "./src/mbuf.ts";
export {
  type LinkStatus,
  Port,
  type PortCapabilities,
  type PortConfig,
  type PortInfo,
  type PortStats,
  Rss,
  RxOffload,
  TxOffload,
} from "./src/port.ts";
export { type VdevArgs, VirtualDevice } from "./src/vdev.ts";
export { Lcore, type LcoreInfo } from "./src/lcore.ts";
export { StopSignal, type StopSignalName } from "./src/signal.ts";
export {
  inWorker,
  type LaunchOptions,
  type LcoreContext,
  LcoreError,
  LcoreWorker,
  runOnLcore,
} from "./src/worker.ts";
export { dpdkVersion, LibraryError, setLibraryPath, SUPPORTED_DPDK } from "./ffi/library.ts";
export {
  doctor,
  type DoctorReport,
  type FileStat,
  type Finding,
  formatDoctorReport,
  type HugepagePool,
  type Level,
  type Mount,
  type NetDevice,
  type NextStep,
  type RunOutcome,
  type SystemReader,
} from "./src/doctor.ts";
