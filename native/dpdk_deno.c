/*
 * dpdk_deno: see dpdk_deno.h for why this file exists.
 * Build: cc -O3 -shared -fPIC dpdk_deno.c $(pkg-config --cflags --libs libdpdk)
 *        -lrte_bus_vdev -o libdpdk_deno.so
 */
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pdump.h>
#include <rte_version.h>

#include "dpdk_deno.h"

#define DD_EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(struct dd_batch) == DD_BATCH_HEADER_BYTES, "batch header layout");
_Static_assert(offsetof(struct dd_batch, cap) == DD_BATCH_CAP * 4, "batch cap word");
_Static_assert(offsetof(struct dd_batch, room) == DD_BATCH_ROOM * 4, "batch room word");
_Static_assert(offsetof(struct dd_batch, offload) == DD_BATCH_OFFLOAD * 4, "batch offload word");
_Static_assert(offsetof(struct dd_batch, tsc) == DD_BATCH_TSC * 4, "batch tsc words");
_Static_assert(offsetof(struct dd_batch, foreign) == DD_BATCH_FOREIGN * 4, "batch foreign word");
_Static_assert(offsetof(struct dd_batch, headroom_at) == DD_BATCH_BUF_AT * 4, "batch buffer word");

/*
 * The shim stays mapped until the process ends, whatever closes it: its
 * signal handler can be called after Deno unloads the library at exit (Deno's
 * own handler, installed for StopSignal's listener, chains to ours), and a
 * handler in unmapped code crashed processes stopped by a signal as they exited.
 */
__attribute__((constructor)) static void dd_pin_self(void)
{
	Dl_info info;
	if (dladdr((void *)dd_pin_self, &info) != 0 && info.dli_fname != NULL)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
}

/* ---------------------------------------------------------------- versions */

DD_EXPORT uint32_t dd_abi_version(void) { return DD_ABI_VERSION; }

/* "DPDK 22.11.x" as DPDK reports it at run time. */
DD_EXPORT const char *dd_dpdk_version(void) { return rte_version(); }

DD_EXPORT uint32_t dd_size_of(uint32_t key)
{
	switch (key) {
	case DD_SIZE_BATCH_HEADER: return sizeof(struct dd_batch);
	case DD_SIZE_INFO_FIELDS: return DD_INFO_FIELDS;
	case DD_SIZE_STATS_FIELDS: return DD_STATS_FIELDS;
	case DD_SIZE_LINK_FIELDS: return DD_LINK_FIELDS;
	case DD_SIZE_CONF_FIELDS: return DD_CONF_FIELDS;
	case DD_SIZE_XSTAT_NAME: return RTE_ETH_XSTATS_NAME_SIZE;
	case DD_SIZE_POINTER: return sizeof(void *);
	case DD_SIZE_MBUF_FIELDS: return DD_MBUF_FIELDS;
	default: return 0;
	}
}

/* ------------------------------------------------------------------ errors */

DD_EXPORT int dd_errno(void) { return rte_errno; }
DD_EXPORT const char *dd_strerror(int errnum) { return rte_strerror(errnum); }

/* --------------------------------------------------------------------- EAL */

/* 0: not initialised, 1: running, 2: cleaned up. Shared by every isolate of the process. */
static volatile int dd_eal_state_value;
/* Whether rte_pdump_init ran (dd_pdump_init). */
static int dd_pdump_on;

/* Whether argv asks the EAL for its usage text (then it prints it and exits the process). */
static int wants_help(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/*
 * rte_eal_init, with what it prints kept aside: DPDK answers a bad argument
 * with ~100 lines of usage on stdout, which buries its one-line reason (on
 * stderr and in its log). During init stdout goes to /dev/null and stderr and
 * the log to a temporary file. On success that text is written to stderr as
 * it would have been; on failure its last `diag_size - 1` bytes go to `diag`
 * for the error message, and nothing is printed.
 */
DD_EXPORT int dd_eal_init(int argc, char **argv, char *diag, uint32_t diag_size)
{
	FILE *tmp = NULL;
	int out = -1, err = -1, devnull = -1, ret;
	long len;

	if (diag_size > 0)
		diag[0] = 0;
	if (!wants_help(argc, argv)) {
		tmp = tmpfile();
		devnull = open("/dev/null", O_WRONLY);
	}
	if (tmp != NULL && devnull >= 0) {
		fflush(stdout);
		fflush(stderr);
		out = dup(1);
		err = dup(2);
		dup2(devnull, 1);
		dup2(fileno(tmp), 2);
		rte_openlog_stream(stderr);
	}
	ret = rte_eal_init(argc, argv);
	if (out >= 0 && err >= 0) {
		fflush(stdout);
		fflush(stderr);
		dup2(out, 1);
		dup2(err, 2);
		close(out);
		close(err);
		rte_openlog_stream(NULL);
		len = ftell(tmp);
		if (ret >= 0 || diag_size == 0) {
			char chunk[4096];
			size_t n;
			rewind(tmp);
			while ((n = fread(chunk, 1, sizeof(chunk), tmp)) > 0)
				fwrite(chunk, 1, n, stderr);
		} else if (len > 0) {
			long from = len > (long)diag_size - 1 ? len - ((long)diag_size - 1) : 0;
			size_t n;
			fseek(tmp, from, SEEK_SET);
			n = fread(diag, 1, diag_size - 1, tmp);
			diag[n] = 0;
		}
	}
	if (tmp != NULL)
		fclose(tmp);
	if (devnull >= 0)
		close(devnull);
	/* Some failures (e.g. the config lock held by another process) leave rte_errno 0. */
	if (ret < 0)
		return rte_errno ? -rte_errno : -EINVAL;
	dd_eal_state_value = 1;
	return ret;
}

DD_EXPORT int dd_eal_cleanup(void)
{
	int ret;
	dd_eal_state_value = 2;
	if (dd_pdump_on)
		rte_pdump_uninit();
	ret = rte_eal_cleanup();
	return ret < 0 ? (rte_errno ? -rte_errno : -EINVAL) : ret;
}

DD_EXPORT int dd_eal_state(void) { return dd_eal_state_value; }

/* Lets dpdk-dumpcap and dpdk-pdump (secondary processes) capture this process's ports. */
DD_EXPORT int dd_pdump_init(void)
{
	if (dd_pdump_on)
		return 0;
	if (rte_pdump_init() < 0)
		return rte_errno ? -rte_errno : -EINVAL;
	dd_pdump_on = 1;
	return 0;
}

DD_EXPORT void dd_log_set_level(uint32_t level) { rte_log_set_global_level(level); }

/* ------------------------------------------------------------------ lcores */

DD_EXPORT uint32_t dd_lcore_id(void) { return rte_lcore_id(); }
DD_EXPORT uint32_t dd_main_lcore(void) { return rte_get_main_lcore(); }
/* Next enabled lcore after `prev` (pass UINT32_MAX to start); RTE_MAX_LCORE at the end. */
DD_EXPORT uint32_t dd_lcore_next(uint32_t prev) { return rte_get_next_lcore(prev, 0, 0); }
DD_EXPORT int dd_lcore_cpu(uint32_t lcore) { return rte_lcore_to_cpu_id(lcore); }
DD_EXPORT int dd_lcore_socket(uint32_t lcore) { return rte_lcore_to_socket_id(lcore); }
DD_EXPORT uint32_t dd_max_lcore(void) { return RTE_MAX_LCORE; }
DD_EXPORT int dd_socket_id(void) { return rte_socket_id(); }

/*
 * Makes the calling thread (a Deno Worker) act as EAL worker lcore `lcore`:
 * pinned to that lcore's CPUs, with rte_lcore_id() returning `lcore`, so the
 * per-lcore mempool caches are its own. The EAL's own thread for that lcore
 * stays parked waiting for a remote launch; nothing may be launched on an
 * adopted lcore. Returns 0, -EINVAL (not an enabled worker lcore) or -EBUSY.
 */
static volatile uint8_t dd_adopted[RTE_MAX_LCORE];

/*
 * Whether the thread that adopted each lcore still exists: set on adoption,
 * cleared by a thread-specific destructor when that thread ends, so the main
 * thread can wait for a terminated worker to be really gone (not still inside
 * an rx/tx call) before the lcore, its queues and pools are reused or freed.
 */
static volatile uint8_t dd_lcore_thread_live[RTE_MAX_LCORE];
static pthread_key_t dd_thread_key;
static pthread_once_t dd_thread_key_once = PTHREAD_ONCE_INIT;

static void dd_thread_gone(void *value)
{
	uintptr_t lcore = (uintptr_t)value - 1;
	if (lcore < RTE_MAX_LCORE) {
		/* A thread that ended without releasing its lcore (terminated) frees it too. */
		__atomic_store_n(&dd_adopted[lcore], 0, __ATOMIC_RELEASE);
		__atomic_store_n(&dd_lcore_thread_live[lcore], 0, __ATOMIC_RELEASE);
	}
}

static void dd_thread_key_create(void) { pthread_key_create(&dd_thread_key, dd_thread_gone); }

/* 1 while the thread that adopted `lcore` has not ended. */
DD_EXPORT int dd_lcore_thread_live_get(uint32_t lcore)
{
	return lcore < RTE_MAX_LCORE && __atomic_load_n(&dd_lcore_thread_live[lcore], __ATOMIC_ACQUIRE);
}

DD_EXPORT int dd_lcore_adopt(uint32_t lcore)
{
	rte_cpuset_t cpus;

	if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore) ||
	    lcore == rte_get_main_lcore() || rte_eal_lcore_role(lcore) != ROLE_RTE)
		return -EINVAL;
	if (rte_lcore_id() != LCORE_ID_ANY)
		return -EALREADY;
	if (__atomic_exchange_n(&dd_adopted[lcore], 1, __ATOMIC_ACQ_REL))
		return -EBUSY;
	cpus = rte_lcore_cpuset(lcore);
	if (rte_thread_set_affinity(&cpus) != 0) {
		__atomic_store_n(&dd_adopted[lcore], 0, __ATOMIC_RELEASE);
		return -EPERM;
	}
	RTE_PER_LCORE(_lcore_id) = lcore;
	pthread_once(&dd_thread_key_once, dd_thread_key_create);
	__atomic_store_n(&dd_lcore_thread_live[lcore], 1, __ATOMIC_RELEASE);
	pthread_setspecific(dd_thread_key, (void *)(uintptr_t)(lcore + 1));
	return 0;
}

/* Gives the calling thread's adopted lcore back (before the thread ends). */
DD_EXPORT void dd_lcore_release(void)
{
	unsigned int lcore = rte_lcore_id();
	if (lcore < RTE_MAX_LCORE && dd_adopted[lcore]) {
		RTE_PER_LCORE(_lcore_id) = LCORE_ID_ANY;
		__atomic_store_n(&dd_adopted[lcore], 0, __ATOMIC_RELEASE);
	}
}

/* CPUs the calling thread may run on, as a bit mask over out[0..words). */
DD_EXPORT int dd_thread_affinity(uint64_t *out, uint32_t words)
{
	cpu_set_t set;
	uint32_t cpu;

	if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		return -errno;
	memset(out, 0, words * sizeof(*out));
	for (cpu = 0; cpu < words * 64 && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			out[cpu / 64] |= 1ull << (cpu % 64);
	return 0;
}

/* Kernel thread id of the calling thread (gettid). */
DD_EXPORT int dd_thread_tid(void) { return (int)syscall(SYS_gettid); }

/* Current CPU of the calling thread, as the kernel reports it. */
DD_EXPORT int dd_current_cpu(void) { return sched_getcpu(); }

DD_EXPORT uint64_t dd_tsc_hz(void) { return rte_get_tsc_hz(); }

/*
 * Makes C stdio's stdout unbuffered. V8 prints --trace-gc lines through
 * stdio while Deno writes console.log straight to fd 1: unbuffered, the two
 * stay in order, so tests and benchmarks can tell which loop a GC hit.
 */
DD_EXPORT void dd_stdout_unbuffered(void) { setvbuf(stdout, NULL, _IONBF, 0); }

/* An empty function: the cost of one FFI call, for the benchmarks. */
DD_EXPORT void dd_noop(void) {}

/* ---------------------------------------------------------------- mempools */

DD_EXPORT struct rte_mempool *dd_pool_create(const char *name, uint32_t n, uint32_t cache,
					     uint32_t data_room, int socket)
{
	if (data_room > UINT16_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	return rte_pktmbuf_pool_create(name, n, cache, 0, (uint16_t)data_room, socket);
}

DD_EXPORT void dd_pool_free(struct rte_mempool *mp) { rte_mempool_free(mp); }
DD_EXPORT uint32_t dd_pool_available(struct rte_mempool *mp) { return rte_mempool_avail_count(mp); }
DD_EXPORT uint32_t dd_pool_in_use(struct rte_mempool *mp) { return rte_mempool_in_use_count(mp); }
DD_EXPORT uint32_t dd_pool_size(struct rte_mempool *mp) { return mp->size; }
DD_EXPORT uint32_t dd_pool_cache_size(struct rte_mempool *mp) { return mp->cache_size; }
DD_EXPORT int dd_pool_socket(struct rte_mempool *mp) { return mp->socket_id; }

/* Mbufs held in `lcore`'s cache of the pool. */
DD_EXPORT uint32_t dd_pool_cached(struct rte_mempool *mp, uint32_t lcore)
{
	return mp->cache_size && lcore < RTE_MAX_LCORE ? mp->local_cache[lcore].len : 0;
}

/* Returns the calling lcore's cached mbufs to the pool (a worker leaving its lcore). */
DD_EXPORT void dd_pool_cache_flush(struct rte_mempool *mp)
{
	struct rte_mempool_cache *cache = rte_mempool_default_cache(mp, rte_lcore_id());
	if (cache != NULL)
		rte_mempool_cache_flush(cache, mp);
}
DD_EXPORT uint32_t dd_pool_data_room(struct rte_mempool *mp)
{
	return rte_pktmbuf_data_room_size(mp);
}

struct region { uintptr_t lo, hi; uint32_t chunks; };

static void region_cb(struct rte_mempool *mp, void *opaque, struct rte_mempool_memhdr *m,
		      unsigned idx)
{
	struct region *r = opaque;
	uintptr_t a = (uintptr_t)m->addr;
	(void)mp;
	(void)idx;
	if (r->chunks == 0 || a < r->lo)
		r->lo = a;
	if (r->chunks == 0 || a + m->len > r->hi)
		r->hi = a + m->len;
	r->chunks++;
}

/*
 * The pool's memory as one span covering all its chunks: out[0] = start,
 * out[1] = length, out[2] = number of chunks. Chunks of one pool come from
 * one memseg list, a single virtual reservation, so the span stays small.
 */
DD_EXPORT int dd_pool_region(struct rte_mempool *mp, uint64_t *out)
{
	struct region r = {0, 0, 0};
	rte_mempool_mem_iter(mp, region_cb, &r);
	if (r.chunks == 0)
		return -ENOMEM;
	out[0] = r.lo;
	out[1] = r.hi - r.lo;
	out[2] = r.chunks;
	return 0;
}

/* ------------------------------------------------------------------- mbufs */

static inline uint32_t high_bits(uint64_t flag) { return (uint32_t)(flag >> 32); }

/* Fills out[DD_MBUF_FIELDS]; see enum dd_mbuf_layout_field. */
DD_EXPORT void dd_mbuf_layout(uint32_t *out)
{
	out[DD_MBUF_SIZE] = sizeof(struct rte_mbuf);
	out[DD_MBUF_BUF_ADDR] = offsetof(struct rte_mbuf, buf_addr);
	out[DD_MBUF_DATA_OFF] = offsetof(struct rte_mbuf, data_off);
	out[DD_MBUF_REFCNT] = offsetof(struct rte_mbuf, refcnt);
	out[DD_MBUF_NB_SEGS] = offsetof(struct rte_mbuf, nb_segs);
	out[DD_MBUF_PORT] = offsetof(struct rte_mbuf, port);
	out[DD_MBUF_OL_FLAGS] = offsetof(struct rte_mbuf, ol_flags);
	out[DD_MBUF_PACKET_TYPE] = offsetof(struct rte_mbuf, packet_type);
	out[DD_MBUF_PKT_LEN] = offsetof(struct rte_mbuf, pkt_len);
	out[DD_MBUF_DATA_LEN] = offsetof(struct rte_mbuf, data_len);
	out[DD_MBUF_VLAN_TCI] = offsetof(struct rte_mbuf, vlan_tci);
	out[DD_MBUF_RSS] = offsetof(struct rte_mbuf, hash.rss);
	out[DD_MBUF_BUF_LEN] = offsetof(struct rte_mbuf, buf_len);
	out[DD_MBUF_POOL] = offsetof(struct rte_mbuf, pool);
	out[DD_MBUF_NEXT] = offsetof(struct rte_mbuf, next);
	out[DD_MBUF_TX_OFFLOAD] = offsetof(struct rte_mbuf, tx_offload);
	/* The bitfield positions, as DPDK's own packer lays them out. */
	out[DD_MBUF_L2_SHIFT] = __builtin_ctzll(rte_mbuf_tx_offload(1, 0, 0, 0, 0, 0, 0));
	out[DD_MBUF_L2_BITS] = RTE_MBUF_L2_LEN_BITS;
	out[DD_MBUF_L3_SHIFT] = __builtin_ctzll(rte_mbuf_tx_offload(0, 1, 0, 0, 0, 0, 0));
	out[DD_MBUF_L3_BITS] = RTE_MBUF_L3_LEN_BITS;
	out[DD_MBUF_L4_SHIFT] = __builtin_ctzll(rte_mbuf_tx_offload(0, 0, 1, 0, 0, 0, 0));
	out[DD_MBUF_L4_BITS] = RTE_MBUF_L4_LEN_BITS;
	out[DD_MBUF_RX_VLAN] = (uint32_t)RTE_MBUF_F_RX_VLAN;
	out[DD_MBUF_RX_VLAN_STRIPPED] = (uint32_t)RTE_MBUF_F_RX_VLAN_STRIPPED;
	out[DD_MBUF_RX_RSS_HASH] = (uint32_t)RTE_MBUF_F_RX_RSS_HASH;
	out[DD_MBUF_RX_IP_CKSUM_GOOD] = (uint32_t)RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	out[DD_MBUF_RX_IP_CKSUM_BAD] = (uint32_t)RTE_MBUF_F_RX_IP_CKSUM_BAD;
	out[DD_MBUF_RX_L4_CKSUM_GOOD] = (uint32_t)RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	out[DD_MBUF_RX_L4_CKSUM_BAD] = (uint32_t)RTE_MBUF_F_RX_L4_CKSUM_BAD;
	out[DD_MBUF_RX_LRO] = (uint32_t)RTE_MBUF_F_RX_LRO;
	out[DD_MBUF_TX_IP_CKSUM] = high_bits(RTE_MBUF_F_TX_IP_CKSUM);
	out[DD_MBUF_TX_IPV4] = high_bits(RTE_MBUF_F_TX_IPV4);
	out[DD_MBUF_TX_IPV6] = high_bits(RTE_MBUF_F_TX_IPV6);
	out[DD_MBUF_TX_TCP_CKSUM] = high_bits(RTE_MBUF_F_TX_TCP_CKSUM);
	out[DD_MBUF_TX_UDP_CKSUM] = high_bits(RTE_MBUF_F_TX_UDP_CKSUM);
	out[DD_MBUF_TX_L4_MASK] = high_bits(RTE_MBUF_F_TX_L4_MASK);
	out[DD_MBUF_TX_VLAN] = high_bits(RTE_MBUF_F_TX_VLAN);
	out[DD_MBUF_EXTERNAL] = high_bits(RTE_MBUF_F_EXTERNAL);
	out[DD_MBUF_INDIRECT] = high_bits(RTE_MBUF_F_INDIRECT);
	out[DD_MBUF_HEADROOM] = RTE_PKTMBUF_HEADROOM;
}

/* Offset of a registered dynamic field (e.g. "rte_dynfield_timestamp"), or -errno. */
DD_EXPORT int dd_mbuf_dynfield(const char *name)
{
	int off = rte_mbuf_dynfield_lookup(name, NULL);
	return off < 0 ? -rte_errno : off;
}

/* Bit number of a registered dynamic flag (e.g. "rte_dynflag_rx_timestamp"), or -errno. */
DD_EXPORT int dd_mbuf_dynflag(const char *name)
{
	int bit = rte_mbuf_dynflag_lookup(name, NULL);
	return bit < 0 ? -rte_errno : bit;
}

/* ----------------------------------------------------------------- batches */

static inline struct rte_mbuf **batch_mbufs(struct dd_batch *b)
{
	return (struct rte_mbuf **)(b + 1);
}
static inline uint8_t *batch_drop(struct dd_batch *b) { return (uint8_t *)(batch_mbufs(b) + b->cap); }

/*
 * Slots that hold no packet keep the region's base address: TypeScript reads it
 * as "no packet" (no mbuf starts at offset 0, where a mempool object header
 * lies), so an index of a packet already sent or freed is never misread.
 */
static inline void batch_poison(struct dd_batch *b, uint32_t from, uint32_t to)
{
	struct rte_mbuf **m = batch_mbufs(b);
	uint32_t i;
	for (i = from; i < to; i++)
		m[i] = (struct rte_mbuf *)(uintptr_t)b->base;
}

/* Counts received pointers outside the pool's region (mbufs of another pool, e.g. via a ring). */
static inline uint32_t batch_foreign(const struct dd_batch *b, struct rte_mbuf *const *m, uint32_t n)
{
	uint32_t i, bad = 0;
	for (i = 0; i < n; i++)
		bad += (uint64_t)(uintptr_t)m[i] - b->base >= b->size;
	return bad;
}

DD_EXPORT uint64_t dd_batch_bytes(uint32_t cap)
{
	return sizeof(struct dd_batch) + (uint64_t)cap * (sizeof(void *) + 1);
}

/*
 * Initialises a batch in caller-owned memory of dd_batch_bytes(cap) bytes,
 * 8-byte aligned. The memory belongs to the JavaScript garbage collector, so a
 * closed batch can never turn into a dangling pointer on either side.
 */
DD_EXPORT int dd_batch_init(struct dd_batch *b, struct rte_mempool *mp, uint32_t cap)
{
	uint64_t region[3];
	int ret;

	if (cap == 0 || cap > 65536 || ((uintptr_t)b & 7) != 0)
		return -EINVAL;
	ret = dd_pool_region(mp, region);
	if (ret < 0)
		return ret;
	memset(b, 0, dd_batch_bytes(cap));
	b->base = region[0];
	b->size = region[1];
	b->pool = mp;
	b->cap = cap;
	b->room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
	b->headroom_at = sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(mp);
	batch_poison(b, 0, cap);
	return 0;
}

/* Frees every packet the batch still holds. */
DD_EXPORT void dd_batch_free_all(struct dd_batch *b)
{
	if (b->count > 0)
		rte_pktmbuf_free_bulk(batch_mbufs(b), b->count);
	batch_poison(b, 0, b->count);
	if (b->dropped > 0)
		memset(batch_drop(b), 0, b->cap);
	b->count = 0;
	b->dropped = 0;
	b->offload = 0;
}

/* Frees the packets flagged in drop[] and closes the gaps, keeping order. */
DD_EXPORT uint32_t dd_batch_sweep(struct dd_batch *b)
{
	struct rte_mbuf **m = batch_mbufs(b);
	uint8_t *drop = batch_drop(b);
	uint32_t i, kept = 0;

	for (i = 0; i < b->count; i++) {
		if (drop[i]) {
			rte_pktmbuf_free(m[i]);
			drop[i] = 0;
			continue;
		}
		m[kept++] = m[i];
	}
	batch_poison(b, kept, b->count);
	b->count = kept;
	b->dropped = 0;
	return kept;
}

/*
 * Appends `n` fresh packets of `len` bytes from the batch's pool. Returns the
 * number added, -ENOSPC if the batch lacks room, -ENOBUFS if the pool is empty
 * (then nothing is added), -EMSGSIZE if len exceeds the buffer room.
 */
DD_EXPORT int dd_batch_alloc(struct dd_batch *b, uint32_t n, uint32_t len)
{
	struct rte_mbuf **m = batch_mbufs(b) + b->count;
	uint32_t i;

	if (n > b->cap - b->count)
		return -ENOSPC;
	if (len > b->room)
		return -EMSGSIZE;
	if (rte_pktmbuf_alloc_bulk(b->pool, m, n) != 0)
		return -ENOBUFS;
	for (i = 0; i < n; i++) {
		m[i]->data_len = (uint16_t)len;
		m[i]->pkt_len = len;
	}
	b->count += n;
	return (int)n;
}

/*
 * Appends one packet of `len` bytes as a chain of as many full buffers as it
 * needs (the last one partly filled). Returns its index, or -ENOSPC, -ENOBUFS
 * (nothing added), -EMSGSIZE (more than UINT16_MAX segments' worth).
 */
DD_EXPORT int dd_batch_alloc_chain(struct dd_batch *b, uint32_t len)
{
	struct rte_mbuf *segs[256];
	uint32_t room = b->room, n, i, left = len;

	if (b->count >= b->cap)
		return -ENOSPC;
	n = len == 0 ? 1 : (len + room - 1) / room;
	if (n > RTE_DIM(segs) || room == 0)
		return -EMSGSIZE;
	if (rte_pktmbuf_alloc_bulk(b->pool, segs, n) != 0)
		return -ENOBUFS;
	for (i = 0; i < n; i++) {
		uint32_t part = left > room ? room : left;
		segs[i]->data_len = (uint16_t)part;
		segs[i]->next = i + 1 < n ? segs[i + 1] : NULL;
		left -= part;
	}
	segs[0]->nb_segs = (uint16_t)n;
	segs[0]->pkt_len = len;
	batch_mbufs(b)[b->count] = segs[0];
	return (int)b->count++;
}

/* --------------------------------------------------------- receive stashes */

/*
 * Packets received for a batch that had no room for them, per (port, queue).
 * Only used when a batch has fewer than DD_RX_MIN_BURST free slots; the rx
 * queue's single consumer is the only one to touch its stash.
 */
struct dd_rx_stash {
	uint16_t first, count;
	struct rte_mbuf *m[DD_RX_MIN_BURST];
};

static struct dd_rx_stash *dd_stashes[RTE_MAX_ETHPORTS];
static uint16_t dd_stash_queues[RTE_MAX_ETHPORTS];
/* Packets waiting in any stash of the port: the fast path reads only this. */
static uint32_t dd_stash_held[RTE_MAX_ETHPORTS];

static void stash_release(uint16_t port)
{
	uint16_t q;
	struct dd_rx_stash *s = dd_stashes[port];

	if (s == NULL)
		return;
	for (q = 0; q < dd_stash_queues[port]; q++) {
		if (s[q].count > 0)
			rte_pktmbuf_free_bulk(s[q].m + s[q].first, s[q].count);
		s[q].first = s[q].count = 0;
	}
	__atomic_store_n(&dd_stash_held[port], 0, __ATOMIC_RELAXED);
}

static int stash_setup(uint16_t port, uint16_t queues)
{
	stash_release(port);
	free(dd_stashes[port]);
	dd_stashes[port] = calloc(queues ? queues : 1, sizeof(struct dd_rx_stash));
	dd_stash_queues[port] = dd_stashes[port] ? queues : 0;
	return dd_stashes[port] ? 0 : -ENOMEM;
}

static void stash_free(uint16_t port)
{
	stash_release(port);
	free(dd_stashes[port]);
	dd_stashes[port] = NULL;
	dd_stash_queues[port] = 0;
}

/* ------------------------------------------------------------ queue owners */

/*
 * The thread (kernel tid) polling each rx and tx queue. A DPDK queue has one
 * consumer: two isolates polling the same queue corrupt its ring. 0 = nobody.
 */
static uint32_t *dd_queue_owner[2][RTE_MAX_ETHPORTS];
static uint16_t dd_queue_count[2][RTE_MAX_ETHPORTS];

static void owners_free(uint16_t port)
{
	int dir;
	for (dir = 0; dir < 2; dir++) {
		free(dd_queue_owner[dir][port]);
		dd_queue_owner[dir][port] = NULL;
		dd_queue_count[dir][port] = 0;
	}
}

static int owners_setup(uint16_t port, uint16_t nb_rxq, uint16_t nb_txq)
{
	owners_free(port);
	dd_queue_owner[0][port] = calloc(nb_rxq ? nb_rxq : 1, sizeof(uint32_t));
	dd_queue_owner[1][port] = calloc(nb_txq ? nb_txq : 1, sizeof(uint32_t));
	if (dd_queue_owner[0][port] == NULL || dd_queue_owner[1][port] == NULL) {
		owners_free(port);
		return -ENOMEM;
	}
	dd_queue_count[0][port] = nb_rxq;
	dd_queue_count[1][port] = nb_txq;
	return 0;
}

static int thread_alive(uint32_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%u", tid);
	return access(path, F_OK) == 0;
}

/*
 * Makes the calling thread the poller of queue `queue` (tx != 0: a tx queue).
 * Returns 0, the owner's tid when another live thread polls it, or -EINVAL.
 * A claim left by a thread that has ended is taken over.
 */
DD_EXPORT int dd_queue_claim(uint16_t port, uint16_t queue, uint32_t tx)
{
	uint32_t me = (uint32_t)syscall(SYS_gettid), owner;
	uint32_t *slot;

	if (tx > 1 || dd_queue_owner[tx][port] == NULL || queue >= dd_queue_count[tx][port])
		return -EINVAL;
	slot = &dd_queue_owner[tx][port][queue];
	for (;;) {
		owner = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (owner == me)
			return 0;
		if (owner != 0 && thread_alive(owner))
			return (int)owner;
		if (__atomic_compare_exchange_n(slot, &owner, me, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return 0;
	}
}

/* Gives up the calling thread's claim on a queue. */
DD_EXPORT void dd_queue_release(uint16_t port, uint16_t queue, uint32_t tx)
{
	uint32_t me = (uint32_t)syscall(SYS_gettid);

	if (tx > 1 || dd_queue_owner[tx][port] == NULL || queue >= dd_queue_count[tx][port])
		return;
	__atomic_compare_exchange_n(&dd_queue_owner[tx][port][queue], &me, 0, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
}

/* The slow receive: drain the queue's stash first, refill it when the batch is short of room. */
static uint32_t rx_stashed(uint16_t port, uint16_t queue, struct dd_batch *b)
{
	struct dd_rx_stash *s;
	struct rte_mbuf **m = batch_mbufs(b) + b->count;
	uint32_t room = b->cap - b->count, n = 0, take;

	if (dd_stashes[port] == NULL || queue >= dd_stash_queues[port])
		return 0;
	s = &dd_stashes[port][queue];
	if (s->count == 0 && room >= DD_RX_MIN_BURST) {
		uint16_t want = room > DD_RX_MAX_BURST ? DD_RX_MAX_BURST : (uint16_t)room;
		return rte_eth_rx_burst(port, queue, m, want);
	}
	if (s->count == 0) {
		s->first = 0;
		s->count = rte_eth_rx_burst(port, queue, s->m, DD_RX_MIN_BURST);
		__atomic_fetch_add(&dd_stash_held[port], s->count, __ATOMIC_RELAXED);
	}
	take = s->count < room ? s->count : room;
	memcpy(m, s->m + s->first, take * sizeof(*m));
	s->first += take;
	s->count -= take;
	__atomic_fetch_sub(&dd_stash_held[port], take, __ATOMIC_RELAXED);
	n = take;
	return n;
}

/* --------------------------------------------------------------- link watch */

/*
 * Ports whose peer can vanish under a burst (net_memif: the peer process
 * leaving unmaps the shared rings from the control thread). For them every
 * burst first checks the link and touches no queue while it is down, which
 * keeps the bursts out of the teardown (DPDK 22.11's memif PMD was seen to
 * crash when a peer quit mid-traffic). dd_link_state[port] is what the last
 * burst saw: 1 up, 0 down; TypeScript maps it to tell a send loop why it
 * sends nothing.
 */
static uint8_t dd_link_watched[RTE_MAX_ETHPORTS];
static volatile uint8_t dd_link_state[RTE_MAX_ETHPORTS];

DD_EXPORT volatile uint8_t *dd_link_states(void) { return dd_link_state; }

static inline int link_down(uint16_t port)
{
	struct rte_eth_link link;

	if (likely(!dd_link_watched[port]))
		return 0;
	if (rte_eth_link_get_nowait(port, &link) < 0 || link.link_status == RTE_ETH_LINK_DOWN) {
		dd_link_state[port] = 0;
		return 1;
	}
	dd_link_state[port] = 1;
	return 0;
}

/* Starts (or stops) checking the link before every burst on `port`; fills its state now. */
DD_EXPORT void dd_link_watch(uint16_t port, uint32_t on)
{
	dd_link_watched[port] = on != 0;
	if (on)
		link_down(port);
}

/* Appends up to cap - count received packets (mbuf pointers only); returns how many arrived. */
DD_EXPORT uint32_t dd_rx_burst(uint16_t port, uint16_t queue, struct dd_batch *b)
{
	uint32_t room = b->cap - b->count, n;

	if (unlikely(link_down(port)))
		return 0;

	if (likely(room >= DD_RX_MIN_BURST &&
		   __atomic_load_n(&dd_stash_held[port], __ATOMIC_RELAXED) == 0))
		n = rte_eth_rx_burst(port, queue, batch_mbufs(b) + b->count,
				     room > DD_RX_MAX_BURST ? DD_RX_MAX_BURST : (uint16_t)room);
	else
		n = rx_stashed(port, queue, b);
	b->foreign = batch_foreign(b, batch_mbufs(b) + b->count, n);
	b->count += n;
	if (unlikely(b->flags & DD_BATCH_F_TSC) && n > 0)
		b->tsc = rte_rdtsc();
	return n;
}

/* ------------------------------------------------------------- tx offloads */

/* Tx offloads each port was configured with, for the software fallback. */
static uint64_t dd_port_txoff[RTE_MAX_ETHPORTS];

/* Computes in software the checksums and VLAN tag the port cannot add itself. */
static int tx_soft_offload(uint16_t port, struct rte_mbuf **pm)
{
	struct rte_mbuf *m = *pm;
	uint64_t have = dd_port_txoff[port], fl = m->ol_flags;
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, m->l2_len);
	uint64_t l4 = fl & RTE_MBUF_F_TX_L4_MASK;

	if (m->l2_len + m->l3_len + (l4 ? 8u : 0u) > m->data_len)
		return -EINVAL; /* headers must lie in the first segment */
	if ((fl & RTE_MBUF_F_TX_IP_CKSUM) && !(have & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		fl &= ~RTE_MBUF_F_TX_IP_CKSUM;
	}
	if (l4 == RTE_MBUF_F_TX_UDP_CKSUM || l4 == RTE_MBUF_F_TX_TCP_CKSUM) {
		int udp = l4 == RTE_MBUF_F_TX_UDP_CKSUM;
		uint64_t need = udp ? RTE_ETH_TX_OFFLOAD_UDP_CKSUM : RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		if (!(have & need)) {
			uint16_t off = m->l2_len + m->l3_len;
			uint16_t *field = rte_pktmbuf_mtod_offset(m, uint16_t *, off + (udp ? 6 : 16));
			uint16_t sum;
			if ((uint32_t)off + (udp ? 8u : 18u) > m->data_len)
				return -EINVAL;
			*field = 0;
			if (fl & RTE_MBUF_F_TX_IPV4)
				sum = rte_ipv4_udptcp_cksum_mbuf(m, (struct rte_ipv4_hdr *)l3, off);
			else
				sum = rte_ipv6_udptcp_cksum_mbuf(m, (struct rte_ipv6_hdr *)l3, off);
			*field = sum;
			fl &= ~RTE_MBUF_F_TX_L4_MASK;
		}
	}
	if ((fl & RTE_MBUF_F_TX_VLAN) && !(have & RTE_ETH_TX_OFFLOAD_VLAN_INSERT)) {
		m->ol_flags = fl;
		if (rte_vlan_insert(pm) != 0)
			return -ENOSPC;
		m = *pm;
		fl = m->ol_flags & ~RTE_MBUF_F_TX_VLAN;
		m->l2_len += 4; /* the tag now sits before the headers the hardware may still sum */
	}
	if (!(fl & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)))
		fl &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6);
	m->ol_flags = fl;
	return 0;
}

/*
 * Readies packets that asked for offloads: software for what the port lacks,
 * then rte_eth_tx_prepare (pseudo-header sums etc.) for the rest. Returns 0
 * or -(i + 1) for the first packet that cannot be sent (rte_errno says why).
 */
static int tx_offload_prepare(uint16_t port, uint16_t queue, struct dd_batch *b)
{
	struct rte_mbuf **m = batch_mbufs(b);
	const uint64_t any = RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_VLAN;
	uint32_t i, hw = 0;
	int ret;

	b->offload = 0;
	for (i = 0; i < b->count; i++) {
		if (!(m[i]->ol_flags & any))
			continue;
		ret = tx_soft_offload(port, &m[i]);
		if (ret < 0) {
			rte_errno = -ret;
			return -(int)(i + 1);
		}
		hw |= (m[i]->ol_flags & any) != 0;
	}
	if (hw) {
		uint32_t done = 0;
		while (done < b->count) {
			uint16_t chunk = b->count - done > UINT16_MAX ? UINT16_MAX
								     : (uint16_t)(b->count - done);
			uint16_t ok = rte_eth_tx_prepare(port, queue, m + done, chunk);
			done += ok;
			if (ok < chunk)
				return -(int)(done + 1);
		}
	}
	return 0;
}

/*
 * Sends the batch. Packets flagged for dropping are freed first; packets that
 * asked for offloads are prepared. What the driver did not take is freed
 * (keep = 0) or left at the front of the batch for a retry (keep = 1).
 * Returns the number sent, or -(i + 1) if packet i cannot be prepared (then
 * nothing is sent and the batch still holds every packet).
 */
DD_EXPORT int dd_tx_burst(uint16_t port, uint16_t queue, struct dd_batch *b, uint32_t keep)
{
	struct rte_mbuf **m = batch_mbufs(b);
	uint32_t n = 0, total, left;

	if (unlikely(b->dropped > 0))
		dd_batch_sweep(b);
	if (unlikely(b->offload != 0)) {
		int ret = tx_offload_prepare(port, queue, b);
		if (ret < 0)
			return ret;
	}
	total = b->count;
	while (n < total && !link_down(port)) {
		uint16_t chunk = total - n > UINT16_MAX ? UINT16_MAX : (uint16_t)(total - n);
		uint16_t sent = rte_eth_tx_burst(port, queue, m + n, chunk);
		n += sent;
		if (sent < chunk)
			break;
	}
	left = total - n;
	if (left > 0 && !keep) {
		rte_pktmbuf_free_bulk(m + n, left);
		left = 0;
	} else if (left > 0) {
		memmove(m, m + n, left * sizeof(*m));
	}
	batch_poison(b, left, total);
	b->count = left;
	return (int)n;
}

/* ------------------------------------------------------------------- ports */

DD_EXPORT int dd_port_is_valid(uint16_t port) { return rte_eth_dev_is_valid_port(port); }

/* NUMA socket of a port (SOCKET_ID_ANY when unknown), or -EINVAL for a bad id. */
DD_EXPORT int dd_port_socket(uint16_t port)
{
	if (!rte_eth_dev_is_valid_port(port))
		return -EINVAL;
	return rte_eth_dev_socket_id(port);
}

/* Next valid port id >= `from`, or RTE_MAX_ETHPORTS when there is none. */
DD_EXPORT uint32_t dd_port_next(uint32_t from)
{
	if (from >= RTE_MAX_ETHPORTS)
		return RTE_MAX_ETHPORTS;
	return (uint32_t)rte_eth_find_next_owned_by((uint16_t)from, RTE_ETH_DEV_NO_OWNER);
}

DD_EXPORT uint32_t dd_max_ports(void) { return RTE_MAX_ETHPORTS; }

DD_EXPORT int dd_port_by_name(const char *name)
{
	uint16_t port;
	int ret = rte_eth_dev_get_port_by_name(name, &port);
	return ret < 0 ? ret : port;
}

DD_EXPORT int dd_port_name(uint16_t port, char *out, uint32_t size)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int ret = rte_eth_dev_get_name_by_port(port, name);
	if (ret < 0)
		return ret;
	strlcpy(out, name, size);
	return 0;
}

/* Fills `out` (DD_INFO_FIELDS words) and the driver name. */
DD_EXPORT int dd_port_info(uint16_t port, uint64_t *out, char *driver, uint32_t driver_size)
{
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t mtu = 0;
	uint64_t m = 0;
	int ret, i;

	ret = rte_eth_dev_info_get(port, &info);
	if (ret < 0)
		return ret;
	if (rte_eth_macaddr_get(port, &mac) == 0)
		for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
			m = (m << 8) | mac.addr_bytes[i];
	rte_eth_dev_get_mtu(port, &mtu);
	out[DD_INFO_MAX_RX_QUEUES] = info.max_rx_queues;
	out[DD_INFO_MAX_TX_QUEUES] = info.max_tx_queues;
	out[DD_INFO_RX_DESC_MIN] = info.rx_desc_lim.nb_min;
	out[DD_INFO_RX_DESC_MAX] = info.rx_desc_lim.nb_max;
	out[DD_INFO_RX_DESC_ALIGN] = info.rx_desc_lim.nb_align;
	out[DD_INFO_TX_DESC_MIN] = info.tx_desc_lim.nb_min;
	out[DD_INFO_TX_DESC_MAX] = info.tx_desc_lim.nb_max;
	out[DD_INFO_TX_DESC_ALIGN] = info.tx_desc_lim.nb_align;
	out[DD_INFO_MIN_MTU] = info.min_mtu;
	out[DD_INFO_MAX_MTU] = info.max_mtu;
	out[DD_INFO_MTU] = mtu;
	out[DD_INFO_MIN_RX_BUFSIZE] = info.min_rx_bufsize;
	out[DD_INFO_MAX_RX_PKTLEN] = info.max_rx_pktlen;
	out[DD_INFO_RX_OFFLOAD_CAPA] = info.rx_offload_capa;
	out[DD_INFO_TX_OFFLOAD_CAPA] = info.tx_offload_capa;
	out[DD_INFO_RSS_OFFLOADS] = info.flow_type_rss_offloads;
	out[DD_INFO_IF_INDEX] = info.if_index;
	out[DD_INFO_SOCKET_ID] = (uint64_t)(int64_t)rte_eth_dev_socket_id(port);
	out[DD_INFO_MAC] = m;
	out[DD_INFO_PROMISCUOUS] = rte_eth_promiscuous_get(port) == 1;
	out[DD_INFO_NB_RX_QUEUES] = info.nb_rx_queues;
	out[DD_INFO_NB_TX_QUEUES] = info.nb_tx_queues;
	strlcpy(driver, info.driver_name ? info.driver_name : "", driver_size);
	return 0;
}

/* conf: DD_CONF_FIELDS words. RSS is enabled when conf[DD_CONF_RSS_HF] != 0. */
DD_EXPORT int dd_port_configure(uint16_t port, uint16_t nb_rxq, uint16_t nb_txq,
				const uint64_t *conf)
{
	struct rte_eth_conf c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.rxmode.mtu = (uint32_t)conf[DD_CONF_MTU];
	c.rxmode.offloads = conf[DD_CONF_RX_OFFLOADS];
	c.txmode.offloads = conf[DD_CONF_TX_OFFLOADS];
	if (conf[DD_CONF_RSS_HF] != 0) {
		c.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		c.rx_adv_conf.rss_conf.rss_hf = conf[DD_CONF_RSS_HF];
	}
	ret = rte_eth_dev_configure(port, nb_rxq, nb_txq, &c);
	if (ret < 0)
		return ret;
	dd_port_txoff[port] = c.txmode.offloads;
	ret = owners_setup(port, nb_rxq, nb_txq);
	return ret < 0 ? ret : stash_setup(port, nb_rxq);
}

DD_EXPORT int dd_port_rxq_setup(uint16_t port, uint16_t queue, uint16_t nb_desc, int socket,
				struct rte_mempool *mp)
{
	return rte_eth_rx_queue_setup(port, queue, nb_desc,
				      (unsigned int)socket /* -1 is SOCKET_ID_ANY */, NULL, mp);
}

DD_EXPORT int dd_port_txq_setup(uint16_t port, uint16_t queue, uint16_t nb_desc, int socket)
{
	return rte_eth_tx_queue_setup(port, queue, nb_desc,
				      (unsigned int)socket, NULL);
}

/*
 * Ports started and not stopped since. A process that exits without stopping
 * them (an uncaught exception, Deno.exit) would leave a real NIC writing
 * received packets into memory the process no longer owns (with igb_uio and no
 * IOMMU, into whatever the pages become): at exit, stop them.
 */
static volatile uint8_t dd_port_started[RTE_MAX_ETHPORTS];
static int dd_atexit_registered;

static void dd_stop_ports_at_exit(void)
{
	uint32_t port;

	if (dd_eal_state_value != 1)
		return;
	for (port = 0; port < RTE_MAX_ETHPORTS; port++) {
		if (!dd_port_started[port])
			continue;
		dd_port_started[port] = 0;
		rte_eth_dev_stop((uint16_t)port);
		fprintf(stderr, "deno-dpdk: port %u was still started at exit: stopped it\n", port);
	}
}

DD_EXPORT int dd_port_start(uint16_t port)
{
	int ret = rte_eth_dev_start(port);
	if (ret == 0) {
		dd_port_started[port] = 1;
		if (!dd_atexit_registered)
			dd_atexit_registered = atexit(dd_stop_ports_at_exit) == 0;
	}
	return ret;
}
/* Stopping hands the stashed packets back to their pool, as the driver does with its rings. */
DD_EXPORT int dd_port_stop(uint16_t port)
{
	int ret = rte_eth_dev_stop(port);
	dd_port_started[port] = 0;
	stash_release(port);
	return ret;
}

DD_EXPORT int dd_port_close(uint16_t port)
{
	dd_port_started[port] = 0;
	dd_link_watched[port] = 0;
	stash_free(port);
	owners_free(port);
	dd_port_txoff[port] = 0;
	return rte_eth_dev_close(port);
}
DD_EXPORT int dd_port_set_mtu(uint16_t port, uint16_t mtu) { return rte_eth_dev_set_mtu(port, mtu); }

DD_EXPORT int dd_port_promiscuous(uint16_t port, uint32_t on)
{
	return on ? rte_eth_promiscuous_enable(port) : rte_eth_promiscuous_disable(port);
}

DD_EXPORT int dd_port_link(uint16_t port, uint64_t *out)
{
	struct rte_eth_link link;
	int ret = rte_eth_link_get_nowait(port, &link);
	if (ret < 0)
		return ret;
	out[DD_LINK_SPEED] = link.link_speed;
	out[DD_LINK_UP] = link.link_status;
	out[DD_LINK_FULL_DUPLEX] = link.link_duplex;
	out[DD_LINK_AUTONEG] = link.link_autoneg;
	return 0;
}

DD_EXPORT int dd_port_stats(uint16_t port, uint64_t *out)
{
	struct rte_eth_stats s;
	int ret = rte_eth_stats_get(port, &s);
	if (ret < 0)
		return ret;
	out[DD_STATS_IPACKETS] = s.ipackets;
	out[DD_STATS_OPACKETS] = s.opackets;
	out[DD_STATS_IBYTES] = s.ibytes;
	out[DD_STATS_OBYTES] = s.obytes;
	out[DD_STATS_IMISSED] = s.imissed;
	out[DD_STATS_IERRORS] = s.ierrors;
	out[DD_STATS_OERRORS] = s.oerrors;
	out[DD_STATS_RX_NOMBUF] = s.rx_nombuf;
	return 0;
}

DD_EXPORT int dd_port_stats_reset(uint16_t port) { return rte_eth_stats_reset(port); }

/* Number of extended statistics, or a negative errno. */
DD_EXPORT int dd_xstats_count(uint16_t port) { return rte_eth_xstats_get_names(port, NULL, 0); }

/* names: n * RTE_ETH_XSTATS_NAME_SIZE bytes; values: n words. Returns the count. */
DD_EXPORT int dd_xstats_get(uint16_t port, char *names, uint64_t *values, uint32_t n)
{
	struct rte_eth_xstat *xs;
	int ret, got, i;

	ret = rte_eth_xstats_get_names(port, (struct rte_eth_xstat_name *)names, n);
	if (ret < 0 || (uint32_t)ret > n)
		return ret < 0 ? ret : -ENOSPC;
	xs = calloc(n ? n : 1, sizeof(*xs));
	if (xs == NULL)
		return -ENOMEM;
	got = rte_eth_xstats_get(port, xs, n);
	for (i = 0; i < got && (uint32_t)i < n; i++)
		values[i] = xs[i].value;
	free(xs);
	return got < 0 ? got : (got > ret ? ret : got);
}

/* --------------------------------------------------------- virtual devices */

DD_EXPORT int dd_vdev_create(const char *name, const char *args)
{
	return rte_vdev_init(name, args);
}

DD_EXPORT int dd_vdev_remove(const char *name) { return rte_vdev_uninit(name); }

/* Where this DPDK loads its drivers from (RTE_EAL_PMD_PATH). */
DD_EXPORT const char *dd_pmd_path(void) { return RTE_EAL_PMD_PATH; }

/* Kernel interface index of `name`, or 0 if there is no such interface. */
DD_EXPORT uint32_t dd_if_index(const char *name) { return if_nametoindex(name); }

/* ----------------------------------------------------------------- signals */

/*
 * A C signal handler that only counts. The hot loop reads the counters through
 * a typed array mapped once, so it can poll for Ctrl-C without an FFI call and
 * without yielding to the event loop. A second signal of the same kind
 * restores the default action and re-raises it, so a stuck program still dies.
 */
static volatile uint32_t dd_signal_counts[65];

static void dd_signal_handler(int sig)
{
	if (sig <= 0 || sig > 64)
		return;
	if (dd_signal_counts[sig]++ > 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

DD_EXPORT volatile uint32_t *dd_signal_counters(void) { return dd_signal_counts; }

DD_EXPORT int dd_signal_trap(int sig)
{
	struct sigaction sa;
	if (sig <= 0 || sig > 64)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = dd_signal_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	dd_signal_counts[sig] = 0;
	return sigaction(sig, &sa, NULL) < 0 ? -errno : 0;
}

/*
 * For tests: what C sees of each packet of a batch, 4 words per packet:
 * data offset from the region (rte_pktmbuf_mtod - base), data_len, pkt_len,
 * nb_segs. Returns the packet count.
 */
DD_EXPORT uint32_t dd_batch_describe(struct dd_batch *b, uint32_t *out)
{
	struct rte_mbuf **m = batch_mbufs(b);
	uint32_t i;

	for (i = 0; i < b->count; i++) {
		out[4 * i] = (uint32_t)(rte_pktmbuf_mtod(m[i], uintptr_t) - b->base);
		out[4 * i + 1] = m[i]->data_len;
		out[4 * i + 2] = m[i]->pkt_len;
		out[4 * i + 3] = m[i]->nb_segs;
	}
	return b->count;
}

/* =========================================================================
 * Reference loops in C, for bench/ only: the same workloads as the
 * TypeScript loops, written as a C programmer would (rte_eth_rx_burst and
 * rte_eth_tx_burst on plain arrays), run in the same process on the same
 * ports. Each runs `iterations` bursts and returns the packets processed.
 * ========================================================================= */

#define DD_REF_MAX_BURST 256

static inline void ref_send_or_free(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(port, 0, pkts, n);
	if (unlikely(sent < n))
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
}

/* io: receive a burst, send it. */
DD_EXPORT uint64_t dd_ref_io(uint16_t rx, uint16_t tx, uint16_t burst, uint32_t iterations)
{
	struct rte_mbuf *pkts[DD_REF_MAX_BURST];
	uint64_t total = 0;
	uint32_t it;

	for (it = 0; it < iterations; it++) {
		uint16_t n = rte_eth_rx_burst(rx, 0, pkts, burst);
		if (n == 0)
			continue;
		total += n;
		ref_send_or_free(tx, pkts, n);
	}
	return total;
}

/* macswap: swap destination and source MAC of every packet, then send. */
DD_EXPORT uint64_t dd_ref_macswap(uint16_t rx, uint16_t tx, uint16_t burst, uint32_t iterations)
{
	struct rte_mbuf *pkts[DD_REF_MAX_BURST];
	uint64_t total = 0;
	uint32_t it;
	uint16_t i;

	for (it = 0; it < iterations; it++) {
		uint16_t n = rte_eth_rx_burst(rx, 0, pkts, burst);
		for (i = 0; i < n; i++) {
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
			struct rte_ether_addr tmp = eth->dst_addr;
			eth->dst_addr = eth->src_addr;
			eth->src_addr = tmp;
		}
		if (n == 0)
			continue;
		total += n;
		ref_send_or_free(tx, pkts, n);
	}
	return total;
}

/*
 * parse: Ethernet/IPv4/UDP of every packet, count packets per flow (5-tuple
 * hash into `table`, mask + 1 entries), send the packets back out of `port`
 * (a net_ring port loops them to its own rx). Non-IPv4/UDP frames count in
 * table[mask + 1].
 */
DD_EXPORT uint64_t dd_ref_parse(uint16_t port, uint16_t burst, uint32_t iterations,
				uint32_t *table, uint32_t mask)
{
	struct rte_mbuf *pkts[DD_REF_MAX_BURST];
	uint64_t total = 0;
	uint32_t it;
	uint16_t i;

	for (it = 0; it < iterations; it++) {
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, burst);
		for (i = 0; i < n; i++) {
			const uint8_t *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
			uint32_t len = pkts[i]->data_len, ihl, src, dst, ports, h;
			if (len < 42 || p[12] != 0x08 || p[13] != 0x00 || (p[14] >> 4) != 4 ||
			    p[23] != 17) {
				table[mask + 1]++;
				continue;
			}
			ihl = (uint32_t)(p[14] & 0x0f) * 4;
			if (ihl < 20 || 14 + ihl + 8 > len) {
				table[mask + 1]++;
				continue;
			}
			src = rte_be_to_cpu_32(*(const unaligned_uint32_t *)(p + 26));
			dst = rte_be_to_cpu_32(*(const unaligned_uint32_t *)(p + 30));
			ports = rte_be_to_cpu_32(*(const unaligned_uint32_t *)(p + 14 + ihl));
			h = (src * 0x9e3779b1u) ^ dst;
			h = (h * 0x85ebca6bu) ^ ports;
			h = (h * 0xc2b2ae35u) ^ 17u;
			table[(h ^ (h >> 16)) & mask]++;
		}
		if (n == 0)
			continue;
		total += n;
		ref_send_or_free(port, pkts, n);
	}
	return total;
}

/*
 * txgen: allocate a burst, write a 60-byte Ethernet/IPv4/UDP frame with
 * correct IPv4 and UDP checksums and a sequence number in the payload, send.
 * seq is in/out. Addresses: 10.0.0.1:1234 -> 10.0.0.2:5678.
 */
DD_EXPORT uint64_t dd_ref_txgen(uint16_t tx, struct rte_mempool *mp, uint16_t burst,
				uint32_t iterations, uint64_t *seq)
{
	struct rte_mbuf *pkts[DD_REF_MAX_BURST];
	uint64_t total = 0, s = *seq;
	uint32_t it;
	uint16_t i;

	for (it = 0; it < iterations; it++) {
		if (rte_pktmbuf_alloc_bulk(mp, pkts, burst) != 0)
			continue;
		for (i = 0; i < burst; i++) {
			struct rte_mbuf *m = pkts[i];
			uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
			struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(p + 34);
			uint64_t be = rte_cpu_to_be_64(s++);

			m->data_len = 60;
			m->pkt_len = 60;
			memset(eth->dst_addr.addr_bytes, 0, 6);
			eth->dst_addr.addr_bytes[0] = 0x02;
			eth->dst_addr.addr_bytes[5] = 0x02;
			memset(eth->src_addr.addr_bytes, 0, 6);
			eth->src_addr.addr_bytes[0] = 0x02;
			eth->src_addr.addr_bytes[5] = 0x01;
			eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
			ip->version_ihl = 0x45;
			ip->type_of_service = 0;
			ip->total_length = rte_cpu_to_be_16(46);
			ip->packet_id = 0;
			ip->fragment_offset = 0;
			ip->time_to_live = 64;
			ip->next_proto_id = IPPROTO_UDP;
			ip->hdr_checksum = 0;
			ip->src_addr = rte_cpu_to_be_32(0x0a000001);
			ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
			udp->src_port = rte_cpu_to_be_16(1234);
			udp->dst_port = rte_cpu_to_be_16(5678);
			udp->dgram_len = rte_cpu_to_be_16(26);
			udp->dgram_cksum = 0;
			memcpy(p + 42, &be, 8);
			memset(p + 50, 0, 10);
			ip->hdr_checksum = rte_ipv4_cksum(ip);
			udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
		}
		total += burst;
		ref_send_or_free(tx, pkts, burst);
	}
	*seq = s;
	return total;
}

/* rxdrop: receive a burst and free it. */
DD_EXPORT uint64_t dd_ref_rxdrop(uint16_t rx, uint16_t burst, uint32_t iterations)
{
	struct rte_mbuf *pkts[DD_REF_MAX_BURST];
	uint64_t total = 0;
	uint32_t it;

	for (it = 0; it < iterations; it++) {
		uint16_t n = rte_eth_rx_burst(rx, 0, pkts, burst);
		if (n == 0)
			continue;
		total += n;
		rte_pktmbuf_free_bulk(pkts, n);
	}
	return total;
}

/*
 * TSC cycles since this thread's previous call, written to *out (capped at
 * 2^31 - 1). An integer that fits V8's small integers, and no return value:
 * a timing loop in JavaScript keeps no double across its FFI calls, which
 * V8 would box on every iteration.
 */
static __thread uint64_t dd_lap_last;

DD_EXPORT void dd_tsc_lap(uint32_t *out)
{
	uint64_t now = rte_rdtsc(), d = now - dd_lap_last;
	dd_lap_last = now;
	*out = d > INT32_MAX ? INT32_MAX : (uint32_t)d;
}

