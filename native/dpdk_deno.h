/*
 * dpdk_deno: a thin C shim between Deno's FFI and DPDK.
 *
 * Deno.dlopen can only call exported, non-inline functions with plain
 * arguments. DPDK's hot path (rx/tx burst, mbuf alloc/free, mtod) is static
 * inline, and its structs change between releases, so this shim:
 *   - wraps the inline and macro APIs as real functions,
 *   - moves one whole burst per call through a caller-visible `dd_batch`,
 *   - copies struct fields into flat uint64 arrays indexed by the enums below
 *     (the TypeScript side never mirrors a DPDK struct),
 *   - reports its ABI and DPDK version so the loader can refuse a mismatch.
 *
 * Functions return 0 / a count on success and a negative errno on failure,
 * unless documented otherwise.
 */
#ifndef DPDK_DENO_H
#define DPDK_DENO_H

#include <stdint.h>

/* Bumped whenever a signature, enum or the batch layout below changes. */
#define DD_ABI_VERSION 1

/*
 * A reusable packet batch. One allocation holds the header followed by
 * `cap` mbuf pointers, `cap` data offsets, `cap` lengths and `cap` drop flags,
 * so TypeScript maps it once and reads everything with typed arrays.
 * Offsets are relative to `base`, the start of the batch pool's memory region.
 */
struct dd_batch {
	uint64_t base;           /* region start (virtual address) */
	uint64_t size;           /* region length in bytes */
	void *pool;              /* struct rte_mempool * the batch belongs to */
	uint32_t cap;            /* capacity in packets */
	uint32_t count;          /* packets currently held */
	uint32_t foreign;        /* mbufs from another pool seen by the last rx */
	uint32_t dropped;        /* packets flagged in drop[] */
	uint32_t room;           /* max bytes a fresh packet may hold */
	uint32_t reserved[5];
	/* followed by: void *mbufs[cap]; uint32_t off[cap]; uint32_t len[cap];
	 * uint8_t drop[cap]; */
};

/* Header words, as uint32 indexes, for the TypeScript view. */
enum dd_batch_word {
	DD_BATCH_CAP = 6,
	DD_BATCH_COUNT = 7,
	DD_BATCH_FOREIGN = 8,
	DD_BATCH_DROPPED = 9,
	DD_BATCH_ROOM = 10,
	DD_BATCH_HEADER_BYTES = 64,
};

/* dd_port_info() output, one uint64 each. */
enum dd_port_info_field {
	DD_INFO_MAX_RX_QUEUES,
	DD_INFO_MAX_TX_QUEUES,
	DD_INFO_RX_DESC_MIN,
	DD_INFO_RX_DESC_MAX,
	DD_INFO_RX_DESC_ALIGN,
	DD_INFO_TX_DESC_MIN,
	DD_INFO_TX_DESC_MAX,
	DD_INFO_TX_DESC_ALIGN,
	DD_INFO_MIN_MTU,
	DD_INFO_MAX_MTU,
	DD_INFO_MTU,
	DD_INFO_MIN_RX_BUFSIZE,
	DD_INFO_MAX_RX_PKTLEN,
	DD_INFO_RX_OFFLOAD_CAPA,
	DD_INFO_TX_OFFLOAD_CAPA,
	DD_INFO_RSS_OFFLOADS,
	DD_INFO_IF_INDEX,
	DD_INFO_SOCKET_ID, /* stored as int64 */
	DD_INFO_MAC,       /* 6 bytes, big-endian in the low 48 bits */
	DD_INFO_PROMISCUOUS,
	DD_INFO_NB_RX_QUEUES,
	DD_INFO_NB_TX_QUEUES,
	DD_INFO_FIELDS,
};

/* dd_port_stats() output. */
enum dd_stats_field {
	DD_STATS_IPACKETS,
	DD_STATS_OPACKETS,
	DD_STATS_IBYTES,
	DD_STATS_OBYTES,
	DD_STATS_IMISSED,
	DD_STATS_IERRORS,
	DD_STATS_OERRORS,
	DD_STATS_RX_NOMBUF,
	DD_STATS_FIELDS,
};

/* dd_port_link() output. */
enum dd_link_field {
	DD_LINK_SPEED,
	DD_LINK_UP,
	DD_LINK_FULL_DUPLEX,
	DD_LINK_AUTONEG,
	DD_LINK_FIELDS,
};

/* dd_port_configure() input. */
enum dd_conf_field {
	DD_CONF_MTU,
	DD_CONF_RX_OFFLOADS,
	DD_CONF_TX_OFFLOADS,
	DD_CONF_RSS_HF,
	DD_CONF_FIELDS,
};

/* dd_size_of() keys: sizes the TypeScript side checks at load time. */
enum dd_size_key {
	DD_SIZE_BATCH_HEADER,
	DD_SIZE_INFO_FIELDS,
	DD_SIZE_STATS_FIELDS,
	DD_SIZE_LINK_FIELDS,
	DD_SIZE_CONF_FIELDS,
	DD_SIZE_XSTAT_NAME,
	DD_SIZE_POINTER,
};

#endif
