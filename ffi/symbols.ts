/**
 * The shim's symbol table for `Deno.dlopen`, one entry per function in
 * `native/dpdk_deno.c`, with the C declaration beside each parameter.
 *
 * Hot-path symbols (bursts, batch alloc) take only numbers and pointers so
 * V8 keeps them on its fast-call path; none is `nonblocking`.
 *
 * @module
 */

/** ABI version this table matches; must equal `DD_ABI_VERSION` in the shim. */
export const ABI_VERSION = 3;

/** uint32 word indexes into a batch header (`enum dd_batch_word`). */
export const BatchWord = {
  CAP: 6,
  COUNT: 7,
  FLAGS: 8,
  DROPPED: 9,
  ROOM: 10,
  OFFLOAD: 11,
  TSC: 12,
  FOREIGN: 14,
  BUF_AT: 15,
  HEADER_BYTES: 64,
} as const;

/** `dd_batch.flags` bits. */
export const BatchFlag = { TSC: 1 } as const;

/** The smallest receive request the shim makes of a driver (`DD_RX_MIN_BURST`). */
export const RX_MIN_BURST = 32;

/** Indexes of `dd_mbuf_layout()` output words (`enum dd_mbuf_layout_field`). */
export const MbufField = {
  SIZE: 0,
  BUF_ADDR: 1,
  DATA_OFF: 2,
  REFCNT: 3,
  NB_SEGS: 4,
  PORT: 5,
  OL_FLAGS: 6,
  PACKET_TYPE: 7,
  PKT_LEN: 8,
  DATA_LEN: 9,
  VLAN_TCI: 10,
  RSS: 11,
  BUF_LEN: 12,
  POOL: 13,
  NEXT: 14,
  TX_OFFLOAD: 15,
  L2_SHIFT: 16,
  L2_BITS: 17,
  L3_SHIFT: 18,
  L3_BITS: 19,
  L4_SHIFT: 20,
  L4_BITS: 21,
  RX_VLAN: 22,
  RX_VLAN_STRIPPED: 23,
  RX_RSS_HASH: 24,
  RX_IP_CKSUM_GOOD: 25,
  RX_IP_CKSUM_BAD: 26,
  RX_L4_CKSUM_GOOD: 27,
  RX_L4_CKSUM_BAD: 28,
  RX_LRO: 29,
  TX_IP_CKSUM: 30,
  TX_IPV4: 31,
  TX_IPV6: 32,
  TX_TCP_CKSUM: 33,
  TX_UDP_CKSUM: 34,
  TX_L4_MASK: 35,
  TX_VLAN: 36,
  EXTERNAL: 37,
  INDIRECT: 38,
  HEADROOM: 39,
  FIELDS: 40,
} as const;

/** Indexes of `dd_port_info()` output words (`enum dd_port_info_field`). */
export const InfoField = {
  MAX_RX_QUEUES: 0,
  MAX_TX_QUEUES: 1,
  RX_DESC_MIN: 2,
  RX_DESC_MAX: 3,
  RX_DESC_ALIGN: 4,
  TX_DESC_MIN: 5,
  TX_DESC_MAX: 6,
  TX_DESC_ALIGN: 7,
  MIN_MTU: 8,
  MAX_MTU: 9,
  MTU: 10,
  MIN_RX_BUFSIZE: 11,
  MAX_RX_PKTLEN: 12,
  RX_OFFLOAD_CAPA: 13,
  TX_OFFLOAD_CAPA: 14,
  RSS_OFFLOADS: 15,
  IF_INDEX: 16,
  SOCKET_ID: 17,
  MAC: 18,
  PROMISCUOUS: 19,
  NB_RX_QUEUES: 20,
  NB_TX_QUEUES: 21,
  FIELDS: 22,
} as const;

/** Indexes of `dd_port_stats()` output words. */
export const StatsField = {
  IPACKETS: 0,
  OPACKETS: 1,
  IBYTES: 2,
  OBYTES: 3,
  IMISSED: 4,
  IERRORS: 5,
  OERRORS: 6,
  RX_NOMBUF: 7,
  FIELDS: 8,
} as const;

/** Indexes of `dd_port_link()` output words. */
export const LinkField = { SPEED: 0, UP: 1, FULL_DUPLEX: 2, AUTONEG: 3, FIELDS: 4 } as const;

/** Indexes of `dd_port_configure()` input words. */
export const ConfField = { MTU: 0, RX_OFFLOADS: 1, TX_OFFLOADS: 2, RSS_HF: 3, FIELDS: 4 } as const;

/** Keys for `dd_size_of()`: layouts checked when the library loads. */
export const SizeKey = {
  BATCH_HEADER: 0,
  INFO_FIELDS: 1,
  STATS_FIELDS: 2,
  LINK_FIELDS: 3,
  CONF_FIELDS: 4,
  XSTAT_NAME: 5,
  POINTER: 6,
  MBUF_FIELDS: 7,
} as const;

/** The `Deno.dlopen` interface of `libdpdk_deno.so`. */
export const symbols = {
  // versions and layout
  dd_abi_version: { parameters: [], result: "u32" }, // uint32_t (void)
  dd_dpdk_version: { parameters: [], result: "pointer" }, // const char *(void)
  dd_size_of: { parameters: ["u32" /* uint32_t key */], result: "u32" },

  // errors
  dd_errno: { parameters: [], result: "i32" }, // int (void): rte_errno
  dd_strerror: { parameters: ["i32" /* int errnum */], result: "pointer" }, // const char *

  // EAL
  dd_eal_init: {
    parameters: [
      "i32", // int argc
      "buffer", // char **argv
      "buffer", // char *diag
      "u32", // uint32_t diag_size
    ],
    result: "i32",
  },
  dd_eal_cleanup: { parameters: [], result: "i32" },
  dd_pdump_init: { parameters: [], result: "i32" },
  dd_eal_state: { parameters: [], result: "i32" }, // int (void): 0 new, 1 running, 2 cleaned
  dd_log_set_level: { parameters: ["u32" /* uint32_t level */], result: "void" },

  // lcores
  dd_lcore_id: { parameters: [], result: "u32" },
  dd_main_lcore: { parameters: [], result: "u32" },
  dd_lcore_next: { parameters: ["u32" /* uint32_t prev */], result: "u32" },
  dd_lcore_cpu: { parameters: ["u32" /* uint32_t lcore */], result: "i32" },
  dd_lcore_socket: { parameters: ["u32" /* uint32_t lcore */], result: "i32" },
  dd_max_lcore: { parameters: [], result: "u32" },
  dd_socket_id: { parameters: [], result: "i32" },
  dd_current_cpu: { parameters: [], result: "i32" },
  dd_thread_tid: { parameters: [], result: "i32" }, // int (void): gettid()
  dd_lcore_adopt: { parameters: ["u32" /* uint32_t lcore */], result: "i32" },
  dd_lcore_release: { parameters: [], result: "void" },
  dd_lcore_thread_live_get: { parameters: ["u32" /* uint32_t lcore */], result: "i32" },
  dd_thread_affinity: {
    parameters: ["buffer", /* uint64_t *out */ "u32" /* uint32_t words */],
    result: "i32",
  },
  dd_tsc_hz: { parameters: [], result: "u64" },
  dd_noop: { parameters: [], result: "void" },
  dd_stdout_unbuffered: { parameters: [], result: "void" }, // void (void)

  // mempools
  dd_pool_create: {
    parameters: [
      "buffer", // const char *name
      "u32", // uint32_t n
      "u32", // uint32_t cache
      "u32", // uint32_t data_room
      "i32", // int socket
    ],
    result: "pointer", // struct rte_mempool *
  },
  dd_pool_free: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "void" },
  dd_pool_available: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "u32" },
  dd_pool_in_use: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "u32" },
  dd_pool_size: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "u32" },
  dd_pool_cache_size: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "u32" },
  dd_pool_socket: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "i32" },
  dd_pool_cached: {
    parameters: ["pointer", /* struct rte_mempool *mp */ "u32" /* uint32_t lcore */],
    result: "u32",
  },
  dd_pool_cache_flush: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "void" },
  dd_pool_data_room: { parameters: ["pointer" /* struct rte_mempool *mp */], result: "u32" },
  dd_pool_region: {
    parameters: ["pointer", /* struct rte_mempool *mp */ "buffer" /* uint64_t out[3] */],
    result: "i32",
  },

  // mbufs
  dd_mbuf_layout: { parameters: ["buffer" /* uint32_t *out */], result: "void" },
  dd_mbuf_dynfield: { parameters: ["buffer" /* const char *name */], result: "i32" },
  dd_mbuf_dynflag: { parameters: ["buffer" /* const char *name */], result: "i32" },

  // batches
  dd_batch_bytes: { parameters: ["u32" /* uint32_t cap */], result: "u64" },
  dd_batch_init: {
    parameters: [
      "pointer", // struct dd_batch *b
      "pointer", // struct rte_mempool *mp
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  dd_batch_free_all: { parameters: ["pointer" /* struct dd_batch *b */], result: "void" },
  dd_batch_sweep: { parameters: ["pointer" /* struct dd_batch *b */], result: "u32" },
  dd_batch_alloc: {
    parameters: [
      "pointer", // struct dd_batch *b
      "u32", // uint32_t n
      "u32", // uint32_t len
    ],
    result: "i32",
  },
  dd_batch_alloc_chain: {
    parameters: ["pointer", /* struct dd_batch *b */ "u32" /* uint32_t len */],
    result: "i32",
  },
  dd_rx_burst: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "pointer", // struct dd_batch *b
    ],
    result: "u32",
  },
  dd_tx_burst: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "pointer", // struct dd_batch *b
      "u32", // uint32_t keep
    ],
    result: "i32",
  },

  // ports
  dd_link_watch: {
    parameters: ["u16", /* uint16_t port */ "u32" /* uint32_t on */],
    result: "void",
  },
  dd_link_states: { parameters: [], result: "pointer" }, // volatile uint8_t *(void)
  dd_queue_claim: {
    parameters: ["u16", /* uint16_t port */ "u16", /* uint16_t queue */ "u32" /* uint32_t tx */],
    result: "i32",
  },
  dd_queue_release: {
    parameters: ["u16", /* uint16_t port */ "u16", /* uint16_t queue */ "u32" /* uint32_t tx */],
    result: "void",
  },
  dd_port_is_valid: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_port_socket: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_port_next: { parameters: ["u32" /* uint32_t from */], result: "u32" },
  dd_max_ports: { parameters: [], result: "u32" },
  dd_port_by_name: { parameters: ["buffer" /* const char *name */], result: "i32" },
  dd_port_name: {
    parameters: ["u16", /* uint16_t port */ "buffer", /* char *out */ "u32" /* uint32_t size */],
    result: "i32",
  },
  dd_port_info: {
    parameters: [
      "u16", // uint16_t port
      "buffer", // uint64_t *out
      "buffer", // char *driver
      "u32", // uint32_t driver_size
    ],
    result: "i32",
  },
  dd_port_configure: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t nb_rxq
      "u16", // uint16_t nb_txq
      "buffer", // const uint64_t *conf
    ],
    result: "i32",
  },
  dd_port_rxq_setup: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "u16", // uint16_t nb_desc
      "i32", // int socket
      "pointer", // struct rte_mempool *mp
    ],
    result: "i32",
  },
  dd_port_txq_setup: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "u16", // uint16_t nb_desc
      "i32", // int socket
    ],
    result: "i32",
  },
  dd_port_start: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_port_stop: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_port_close: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_port_set_mtu: {
    parameters: ["u16", /* uint16_t port */ "u16" /* uint16_t mtu */],
    result: "i32",
  },
  dd_port_promiscuous: {
    parameters: ["u16", /* uint16_t port */ "u32" /* uint32_t on */],
    result: "i32",
  },
  dd_port_link: {
    parameters: ["u16", /* uint16_t port */ "buffer" /* uint64_t *out */],
    result: "i32",
  },
  dd_port_stats: {
    parameters: ["u16", /* uint16_t port */ "buffer" /* uint64_t *out */],
    result: "i32",
  },
  dd_port_stats_reset: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_xstats_count: { parameters: ["u16" /* uint16_t port */], result: "i32" },
  dd_xstats_get: {
    parameters: [
      "u16", // uint16_t port
      "buffer", // char *names
      "buffer", // uint64_t *values
      "u32", // uint32_t n
    ],
    result: "i32",
  },

  // virtual devices
  dd_vdev_create: {
    parameters: ["buffer", /* const char *name */ "buffer" /* const char *args */],
    result: "i32",
  },
  dd_vdev_remove: { parameters: ["buffer" /* const char *name */], result: "i32" },
  dd_pmd_path: { parameters: [], result: "pointer" }, // const char *(void)
  dd_if_index: { parameters: ["buffer" /* const char *name */], result: "u32" },

  // signals
  dd_signal_counters: { parameters: [], result: "pointer" }, // volatile uint32_t *
  dd_signal_trap: { parameters: ["i32" /* int sig */], result: "i32" },

  // reference loops in C, for bench/ only
  dd_ref_io: {
    parameters: [
      "u16", // uint16_t rx
      "u16", // uint16_t tx
      "u16", // uint16_t burst
      "u32", // uint32_t iterations
    ],
    result: "u64",
  },
  dd_ref_macswap: {
    parameters: [
      "u16", // uint16_t rx
      "u16", // uint16_t tx
      "u16", // uint16_t burst
      "u32", // uint32_t iterations
    ],
    result: "u64",
  },
  dd_ref_parse: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t burst
      "u32", // uint32_t iterations
      "buffer", // uint32_t *table
      "u32", // uint32_t mask
    ],
    result: "u64",
  },
  dd_ref_txgen: {
    parameters: [
      "u16", // uint16_t tx
      "pointer", // struct rte_mempool *mp
      "u16", // uint16_t burst
      "u32", // uint32_t iterations
      "buffer", // uint64_t *seq
    ],
    result: "u64",
  },
  dd_ref_rxdrop: {
    parameters: [
      "u16", // uint16_t rx
      "u16", // uint16_t burst
      "u32", // uint32_t iterations
    ],
    result: "u64",
  },
  dd_batch_describe: {
    parameters: ["pointer", /* struct dd_batch *b */ "buffer" /* uint32_t *out */],
    result: "u32",
  },
  dd_tsc_lap: { parameters: ["pointer" /* uint32_t *out */], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened shim. */
export type DpdkLibrary = Deno.DynamicLibrary<typeof symbols>;
