/* engine.h - the per-worker BitTorrent engine: flow table, detectors and
 * endpoint cache behind one call per packet. One engine per thread; no
 * locks, nothing shared. */
#ifndef BTBLOCKD_ENGINE_H
#define BTBLOCKD_ENGINE_H

#include <stdint.h>

#include "dpi/dpi.h"
#include "flow.h"
#include "endpoints.h"
#include "bthosts.h"
#include "protect.h"

struct pkt_view;

/* Everything is sized from this at engine_init. Memory per engine with the
 * defaults: 12 MiB of flows (192 B each), 256 KiB of hash buckets, 2 MiB
 * of stream heads (one slot per 64 flows, lent to undecided TCP flows),
 * 680 KiB of endpoint cache and its source quotas: about 15 MiB, all
 * faulted in at start-up. */
struct engine_config {
	uint32_t flow_capacity;		/* flows per worker */
	uint32_t tcp_timeout_s;		/* idle TCP flow lifetime */
	uint32_t udp_timeout_s;		/* idle UDP flow lifetime */
	uint32_t stream_prefix;		/* stream head bytes kept per direction */
	uint32_t allow_after;		/* payload packets without detection before "allow" */
	uint32_t endpoint_capacity;	/* endpoint cache entries; 0 turns the cache off */
	uint32_t endpoint_ttl_s;	/* endpoint cache entry lifetime */
	uint64_t hash_seed;		/* 0: drawn at init, unpredictable to senders;
					 * else used as is, for repeatable runs (fuzzing) */
	struct protect_set protect;	/* the protected side's prefixes */
};

#define ENGINE_DEF_FLOW_CAPACITY	65536
#define ENGINE_DEF_TCP_TIMEOUT		300
#define ENGINE_DEF_UDP_TIMEOUT		60
#define ENGINE_DEF_STREAM_PREFIX	1024
#define ENGINE_DEF_ALLOW_AFTER		6
#define ENGINE_DEF_ENDPOINT_CAPACITY	16384
#define ENGINE_DEF_ENDPOINT_TTL		3600

/* Their ranges, [MIN, MAX], plain decimals: engine_config_check and the
 * daemon's option table both use them, and the check's messages spell
 * them out. */
#define ENGINE_MIN_FLOW_CAPACITY	16
#define ENGINE_MAX_FLOW_CAPACITY	16777216
#define ENGINE_MIN_TIMEOUT		1	/* tcp-timeout, udp-timeout */
#define ENGINE_MAX_TIMEOUT		86400
#define ENGINE_MIN_STREAM_PREFIX	64
#define ENGINE_MAX_STREAM_PREFIX	16384
#define ENGINE_MIN_ALLOW_AFTER		1
#define ENGINE_MAX_ALLOW_AFTER		1000
#define ENGINE_MIN_ENDPOINT_CAPACITY	0	/* 0: no endpoint cache */
#define ENGINE_MAX_ENDPOINT_CAPACITY	16777216
#define ENGINE_MIN_ENDPOINT_TTL		1
#define ENGINE_MAX_ENDPOINT_TTL		604800

enum engine_verdict { ENGINE_UNDECIDED = 0, ENGINE_ALLOW, ENGINE_BLOCK };

struct engine_result {
	enum engine_verdict verdict;
	const char *reason;		/* detector name (static), NULL when none */
	uint32_t decided_at;		/* packet index in the flow (1-based), 0: undecided */
	uint32_t flow_packets;		/* packets seen on the flow so far */
	int ban;			/* block: 1 when the evidence lets the ruleset ban
					 * the address pair, 0 to block this flow only */
};

/* Per-engine counters: plain integers written by the owning thread only. */
struct engine_counters {
	uint64_t packets;
	uint64_t payload_packets;
	uint64_t inspected_packets;	/* packets that went through detectors */
	uint64_t flows_inserted;
	uint64_t flows_evicted;
	uint64_t flows_timed_out;
	uint64_t flows_active;
	uint64_t decided_allow;
	uint64_t decided_block;
	uint64_t decided_ban;		/* blocks whose evidence allows a ban */
	uint64_t stream_heads_exhausted;
	uint64_t endpoints_learned;
	uint64_t endpoints_over_quota;	/* refused: their source used its quota */
	uint64_t endpoints_no_room;	/* refused: their set holds others' evidence */
	uint64_t endpoint_cache_size;
	uint64_t detector[DPI_COUNT];	/* blocks per detector, named by dpi_name */
};

/* Called for each flow leaving the table (offline mode prints it). */
typedef void (*engine_flow_end_fn)(void *arg, const struct flow *f);

struct engine {
	struct engine_config cfg;
	struct flow_table flows;
	struct endpoints eps;
	struct engine_counters ctr;
	uint64_t now_ns;
	uint64_t next_expire_ns;	/* packet time of the next idle-flow walk */
	const uint8_t *src;		/* sender of the packet being learned from */
	int src_family;
	engine_flow_end_fn on_end;
	void *on_end_arg;
	struct bthosts *bthosts;	/* shared by the workers; NULL: none */
	unsigned bthosts_region;	/* the region this engine writes */
};

/* Fill c with the defaults above. Inline: the daemon's config defaults
 * use it without linking the engine. */
static inline void engine_config_defaults(struct engine_config *c)
{
	c->flow_capacity = ENGINE_DEF_FLOW_CAPACITY;
	c->tcp_timeout_s = ENGINE_DEF_TCP_TIMEOUT;
	c->udp_timeout_s = ENGINE_DEF_UDP_TIMEOUT;
	c->stream_prefix = ENGINE_DEF_STREAM_PREFIX;
	c->allow_after = ENGINE_DEF_ALLOW_AFTER;
	c->endpoint_capacity = ENGINE_DEF_ENDPOINT_CAPACITY;
	c->endpoint_ttl_s = ENGINE_DEF_ENDPOINT_TTL;
	c->hash_seed = 0;
	protect_defaults(&c->protect);
}

/* NULL if c is usable, else a sentence naming the bad option. */
const char *engine_config_check(const struct engine_config *c);

/* Allocate every table; 0, or -1 (bad config or ENOMEM). */
int engine_init(struct engine *e, const struct engine_config *c);

/* Free the tables. */
void engine_fini(struct engine *e);

/* Report every flow leaving the table to fn (NULL: none). */
void engine_set_flow_end(struct engine *e, engine_flow_end_fn fn, void *arg);

/* Remove every flow (each reported) and forget learned endpoints. */
void engine_reset(struct engine *e);

/* Note the protected hosts proven to run BitTorrent in region r of h,
 * shared with other engines (see bthosts.h); NULL: none (the default). */
void engine_set_bthosts(struct engine *e, struct bthosts *h, unsigned r);

/*
 * Was the protected host family/addr (4 or 16 bytes) seen running
 * BitTorrent at most max_age_ns before the engine's current time? Its
 * own BitTorrent on a genuine two-way flow, the test that lets a pair be
 * banned, noted by any engine sharing the table, or restored from the
 * state file at start-up. 1 or 0 (always 0 without a table). Read-only:
 * safe on the hot path, though it reads a set of every region (a few
 * dozen compares), so ask on slow paths only.
 */
int engine_bt_host_recent(const struct engine *e, int family, const uint8_t *addr,
			  uint64_t max_age_ns);

/* Classify one parsed packet (pkt_parse()==PKT_OK) seen at now_ns. */
void engine_process(struct engine *e, const struct pkt_view *v, uint64_t now_ns,
		    struct engine_result *out);

/* Copy the counters (any thread; fields read with relaxed atomics). */
void engine_counters_get(const struct engine *e, struct engine_counters *out);

/* The verdict name of a flow ("block", "allow", "undecided"). */
const char *engine_verdict_name(enum engine_verdict v);

#endif
