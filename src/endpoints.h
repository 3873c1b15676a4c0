/* endpoints.h - the per-worker cache of endpoints suspected to run
 * BitTorrent: ip:port of peers and DHT nodes that remote parties named in
 * answer to the protected side (listed), and of remote ends that spoke
 * BitTorrent with it on a flow (confirmed). Never a bare host, never a
 * port below 1024 (the caller filters those). An entry is evidence for a
 * later flow, not a verdict on it. */
#ifndef BTBLOCKD_ENDPOINTS_H
#define BTBLOCKD_ENDPOINTS_H

#include <stdint.h>

/* How an entry was learned; a higher tier is stronger evidence. */
enum endpoint_tier {
	ENDPOINT_LISTED = 1,	/* named in a solicited answer (DHT, tracker, PEX) */
	ENDPOINT_CONFIRMED = 2,	/* spoke BitTorrent with the protected side */
};

/* What an entry was learned from: bits, an endpoint may be both. */
enum endpoint_kind {
	ENDPOINT_KIND_BT = 1,		/* DHT, tracker and PEX lists, BitTorrent peers */
	ENDPOINT_KIND_WEBRTC = 2,	/* ICE candidates a WebTorrent tracker relayed */
};

/* One cached endpoint. */
struct endpoint {
	uint64_t expires_ns;
	uint8_t addr[16];
	uint32_t epoch;		/* entries of an older epoch are free */
	uint32_t source;	/* keyed hash of who told us */
	uint16_t port;
	uint8_t family;		/* 0: free slot */
	uint8_t tier;		/* enum endpoint_tier */
	uint8_t kinds;		/* enum endpoint_kind bits */
};

/* Entries each source put in the cache within the current window. */
struct endpoint_source {
	uint32_t key;		/* keyed hash of the source address, 0: free */
	uint32_t epoch;
	uint32_t count;
	uint32_t window_end_s;	/* seconds of packet time */
};

struct endpoints {
	struct endpoint *slots;
	struct endpoint_source *sources;
	uint32_t nsets;		/* power of two; ENDPOINTS_WAYS slots each */
	uint32_t source_sets;	/* power of two; ENDPOINTS_WAYS sources each */
	uint32_t quota;		/* entries per source and window */
	uint64_t ttl_ns;
	uint64_t seed;
	uint32_t epoch;		/* bumped by endpoints_clear */
	uint64_t used;		/* slots holding an entry (live or stale) */
	uint64_t inserted, replaced, hits;
	uint64_t refreshed;	/* endpoints_add found the entry and renewed it */
	uint64_t restored;	/* entries put back by endpoints_restore */
	uint64_t over_quota;	/* entries refused: their source used its quota */
	uint64_t set_full;	/* entries refused: no room they may take */
};

#define ENDPOINTS_WAYS 4

/* What endpoints_add did. */
enum endpoint_added {
	ENDPOINT_NEW,		/* a new entry */
	ENDPOINT_REFRESHED,	/* it was there: lifetime (and tier) renewed */
	ENDPOINT_OVER_QUOTA,	/* refused: the source's quota is used up */
	ENDPOINT_NO_ROOM,	/* refused: every slot of its set holds others' evidence */
};

/* Allocate room for about capacity entries kept ttl_s seconds; a source
 * may add capacity / 64 entries (at least 16) per ttl. 0 or -1. */
int endpoints_init(struct endpoints *c, uint32_t capacity, uint32_t ttl_s, uint64_t seed);

/* Free the cache. */
void endpoints_fini(struct endpoints *c);

/* Forget every entry. */
void endpoints_clear(struct endpoints *c);

/*
 * Remember (or refresh) family/addr/port of the given kind until now +
 * ttl, as told by the host src (family src_family). Room is taken from
 * free and expired slots; else an entry may only replace the oldest entry
 * of its own source (not one of a higher tier). So nobody can push out
 * what others taught; a full set refuses new entries until some expire.
 * A refreshed entry keeps the kinds it had and gains this one.
 */
enum endpoint_added endpoints_add_kind(struct endpoints *c, int family, const uint8_t *addr,
				       uint16_t port, enum endpoint_tier tier, enum endpoint_kind kind,
				       int src_family, const uint8_t *src, uint64_t now_ns);

/* endpoints_add_kind of a BitTorrent endpoint. */
static inline enum endpoint_added endpoints_add(struct endpoints *c, int family,
						const uint8_t *addr, uint16_t port,
						enum endpoint_tier tier, int src_family,
						const uint8_t *src, uint64_t now_ns)
{
	return endpoints_add_kind(c, family, addr, port, tier, ENDPOINT_KIND_BT, src_family, src,
				  now_ns);
}

/* The kinds (enum endpoint_kind bits) of the endpoint if it is cached
 * and not expired, else 0. */
unsigned endpoints_kinds(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
			 uint64_t now_ns);

/* 1 if the endpoint is cached and not expired, else 0. */
static inline int endpoints_has(struct endpoints *c, int family, const uint8_t *addr,
				uint16_t port, uint64_t now_ns)
{
	return endpoints_kinds(c, family, addr, port, now_ns) != 0;
}

/* Forget every entry whose address match says 1 (addr: 16 bytes, IPv4
 * in the first 4); returns how many live or stale entries went. */
uint32_t endpoints_remove_matching(struct endpoints *c,
				   int (*match)(void *arg, int family, const uint8_t *addr),
				   void *arg);

/* One live entry as endpoints_export copies it out (the state file). */
struct endpoint_export {
	uint64_t expires_ns;
	uint8_t addr[16];
	uint32_t source;	/* the keyed hash of who told us, opaque */
	uint16_t port;
	uint8_t family;
	uint8_t tier;
	uint8_t kinds;		/* enum endpoint_kind bits */
};

/* Slots endpoints_init allocates for capacity entries. */
uint32_t endpoints_slots_for(uint32_t capacity);

/* Slots in the table: the end of an export cursor. */
static inline uint32_t endpoints_slots(const struct endpoints *c)
{
	return c->nsets * ENDPOINTS_WAYS;
}

/*
 * Copy the entries alive at now_ns of slots [*cursor, *cursor + nslots)
 * into out (at most max of them), and move *cursor on; the walk is done
 * when *cursor reaches endpoints_slots(). Entries beyond max are counted
 * in *dropped. Returns the entries copied. The owning thread only, a
 * slice at a time: no system call, no allocation.
 */
uint32_t endpoints_export(const struct endpoints *c, uint32_t *cursor, uint32_t nslots,
			  uint64_t now_ns, struct endpoint_export *out, uint32_t max,
			  uint32_t *dropped);

/*
 * Put back an entry an earlier run of the daemon saved: alive until
 * expires_ns, learned from the source saved as source_tag. It goes into
 * a free or expired slot only (it never displaces anything), or renews
 * the entry already there (the later expiry, the higher tier, its kinds
 * added). Its source
 * is a key of its own derived from source_tag, so it counts against no
 * live source's quota, and only entries of that same old source could
 * ever replace it. ENDPOINT_NEW, ENDPOINT_REFRESHED or ENDPOINT_NO_ROOM.
 */
enum endpoint_added endpoints_restore(struct endpoints *c, int family, const uint8_t *addr,
				      uint16_t port, enum endpoint_tier tier, unsigned kinds,
				      uint64_t source_tag, uint64_t expires_ns, uint64_t now_ns);

#endif
