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
#define DD_ABI_VERSION 3

/*
 * A reusable packet batch. One allocation holds the header followed by
 * `cap` mbuf pointers and `cap` drop flags. Bursts move mbuf pointers only,
 * as C's own loop does: TypeScript reads each packet's fields (data offset,
 * lengths, flags) lazily from the mbuf header, which lies inside the pool's
 * memory region at `pointer - base`. Bursts check only that each received
 * pointer lies in the region (mbufs of another pool are reported, not read).
 */
struct dd_batch {
	uint64_t base;           /* region start (virtual address) */
	uint64_t size;           /* region length in bytes */
	void *pool;              /* struct rte_mempool * the batch belongs to */
	uint32_t cap;            /* capacity in packets */
	uint32_t count;          /* packets currently held */
	uint32_t flags;          /* DD_BATCH_F_* */
	uint32_t dropped;        /* packets flagged in drop[] */
	uint32_t room;           /* max bytes a fresh packet may hold */
	uint32_t offload;        /* nonzero: a packet asked for tx offloads since the last send */
	uint64_t tsc;            /* TSC at the last receive that returned packets (DD_BATCH_F_TSC) */
	uint32_t foreign;        /* mbufs outside the pool's region seen by the last receive */
	uint32_t headroom_at;    /* buffer start - mbuf start: sizeof(struct rte_mbuf) + priv size */
	/* followed by: void *mbufs[cap]; uint8_t drop[cap]; */
};

/* dd_batch.flags */
#define DD_BATCH_F_TSC 1u /* stamp each receive that returns packets with the TSC */

/*
 * Receive bursts ask the driver for at least this many packets: vector rx
 * paths (i40e, ice, ixgbe) round a request down to a multiple of 4 or 8 and
 * return nothing below it. A batch with fewer free slots receives through a
 * per-queue stash, so any capacity works and no packet is lost or reordered.
 */
#define DD_RX_MIN_BURST 32

/*
 * The most a receive asks of a driver in one call: a queue rarely holds more,
 * and drivers that allocate a whole request at once (net_null) would return
 * nothing for a request larger than their pool.
 */
#define DD_RX_MAX_BURST 1024

/* Header words, as uint32 indexes, for the TypeScript view. */
enum dd_batch_word {
	DD_BATCH_CAP = 6,
	DD_BATCH_COUNT = 7,
	DD_BATCH_FLAGS = 8,
	DD_BATCH_DROPPED = 9,
	DD_BATCH_ROOM = 10,
	DD_BATCH_OFFLOAD = 11,
	DD_BATCH_TSC = 12, /* two words, low first */
	DD_BATCH_FOREIGN = 14,
	DD_BATCH_BUF_AT = 15,
	DD_BATCH_HEADER_BYTES = 64,
};

/*
 * dd_mbuf_layout() output, one uint32 each: where struct rte_mbuf keeps each
 * field in the DPDK the shim was built against, and the flag bits TypeScript
 * reads and writes. Nothing about the mbuf is hand-copied into TypeScript.
 */
enum dd_mbuf_layout_field {
	DD_MBUF_SIZE,          /* sizeof(struct rte_mbuf) */
	DD_MBUF_BUF_ADDR,      /* offsets of fields in struct rte_mbuf */
	DD_MBUF_DATA_OFF,
	DD_MBUF_REFCNT,
	DD_MBUF_NB_SEGS,
	DD_MBUF_PORT,
	DD_MBUF_OL_FLAGS,
	DD_MBUF_PACKET_TYPE,
	DD_MBUF_PKT_LEN,
	DD_MBUF_DATA_LEN,
	DD_MBUF_VLAN_TCI,
	DD_MBUF_RSS,
	DD_MBUF_BUF_LEN,
	DD_MBUF_POOL,
	DD_MBUF_NEXT,
	DD_MBUF_TX_OFFLOAD,
	DD_MBUF_L2_SHIFT,      /* tx_offload bitfields: shift and width */
	DD_MBUF_L2_BITS,
	DD_MBUF_L3_SHIFT,
	DD_MBUF_L3_BITS,
	DD_MBUF_L4_SHIFT,
	DD_MBUF_L4_BITS,
	DD_MBUF_RX_VLAN,       /* receive flags: low 32 bits of ol_flags */
	DD_MBUF_RX_VLAN_STRIPPED,
	DD_MBUF_RX_RSS_HASH,
	DD_MBUF_RX_IP_CKSUM_GOOD,
	DD_MBUF_RX_IP_CKSUM_BAD,
	DD_MBUF_RX_L4_CKSUM_GOOD,
	DD_MBUF_RX_L4_CKSUM_BAD,
	DD_MBUF_RX_LRO,
	DD_MBUF_TX_IP_CKSUM,   /* transmit and buffer flags: high 32 bits of ol_flags */
	DD_MBUF_TX_IPV4,
	DD_MBUF_TX_IPV6,
	DD_MBUF_TX_TCP_CKSUM,
	DD_MBUF_TX_UDP_CKSUM,
	DD_MBUF_TX_L4_MASK,
	DD_MBUF_TX_VLAN,
	DD_MBUF_EXTERNAL,
	DD_MBUF_INDIRECT,
	DD_MBUF_HEADROOM,      /* RTE_PKTMBUF_HEADROOM */
	DD_MBUF_FIELDS,
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
	DD_SIZE_MBUF_FIELDS,
};

#endif
