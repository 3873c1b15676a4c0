/* flow.h - the per-worker flow table: both directions of a 5-tuple in one
 * entry, fixed capacity, idle timeouts, oldest evicted when full, and a
 * pool of per-direction stream heads for the flows still undecided. */
#ifndef BTBLOCKD_FLOW_H
#define BTBLOCKD_FLOW_H

#include <stdint.h>
#include <stddef.h>

#include <netinet/in.h>
#include <string.h>

#include "dpi/dpi.h"
#include "packet.h"

#define FLOW_NONE UINT32_MAX

/* One direction of a flow, kept while the flow is undecided. */
struct flow_dir {
	uint32_t next_seq;	/* TCP: the next in-order byte of the head */
	uint16_t payload_packets;	/* saturates at 65535 */
	uint16_t head_len;	/* bytes in the stream head */
};

/* flow.side: the sender of direction d is on the protected side */
#define FLOW_SIDE(d)	(1u << (d))

/* flow.flags */
#define FLOW_F_SEQ(d)	(0x01u << (d))	/* TCP: next_seq of direction d is set */
#define FLOW_F_ISN(d)	(0x04u << (d))	/* TCP: isn[d] holds direction d's SYN sequence */
#define FLOW_F_ACKED(d)	(0x10u << (d))	/* TCP: direction d acknowledged the other's SYN */
#define FLOW_F_HINT	0x40u		/* an end is a learned endpoint (kinds in hint) */
#define FLOW_F_BAN	0x80u		/* blocked on evidence that allows a ban */

/* Three cache lines. The first holds all a decided flow needs per packet
 * (key, chain, verdict, counters, ages), so such a packet touches one
 * line; the key comes first, laid out like the packet view's addresses
 * and ports so that it is compared as 64-bit words. */
struct flow {
	/* first cache line */
	uint8_t a[16], b[16];	/* a: sender of the first packet seen */
	uint16_t pa, pb;
	uint8_t family;		/* 4 or 6 */
	uint8_t l4;		/* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t verdict;	/* enum engine_verdict */
	uint8_t reason;		/* enum dpi_id */
	uint32_t hnext;		/* hash chain, or the free list */
	uint32_t packets;
	uint64_t last_ns;	/* last packet */
	uint32_t linked;	/* last_ns >> 30 (about 1 s) when last moved to the
				 * young end of its age list */
	uint32_t decided_at;
	/* the rest: undecided flows, age list moves, reports */
	uint32_t prev, next;	/* age list */
	uint32_t head;		/* stream head slot or FLOW_NONE */
	uint32_t bucket;	/* hash bucket: removal needs no rehash */
	uint32_t isn[2];	/* TCP: each direction's initial sequence number */
	uint8_t in_use;
	uint8_t start_seen;	/* TCP: SYN or SYN-ACK seen */
	uint8_t server;		/* TCP: 1 b listens, 2 a listens, 0 unknown */
	uint8_t learn_budget;	/* blocked: reply packets still parsed to learn */
	uint8_t side;		/* FLOW_SIDE bits, fixed when the flow is created */
	uint8_t flags;		/* FLOW_F_* */
	uint8_t list;		/* age list: FLOW_LIST_* */
	uint8_t hint;		/* FLOW_F_HINT: what the learned end was learned
				 * as (enum endpoint_kind bits) */
	struct flow_dir dir[2];	/* counted while undecided */
	struct dpi_flow dpi;
} __attribute__((aligned(64)));

/* Flows remembered by a cheap unkeyed index of their tuple: a packet
 * of one of them skips the keyed hash and the chain. A collision only
 * costs the full lookup. 64 slots (256 bytes): over the corpus, 16
 * sent 7878 packets of known flows to the chain, 64 send 4676. */
#define FLOW_RECENT 64

/* flow_view_dir compares the key and the view's tuple as blocks */
_Static_assert(offsetof(struct flow, b) == offsetof(struct flow, a) + 16 &&
	       offsetof(struct flow, pb) == offsetof(struct flow, pa) + 2,
	       "struct flow key layout");
_Static_assert(offsetof(struct pkt_view, daddr) == offsetof(struct pkt_view, saddr) + 16 &&
	       offsetof(struct pkt_view, dport) == offsetof(struct pkt_view, sport) + 2,
	       "struct pkt_view tuple layout");

/* The age lists, oldest first: TCP and UDP flows, and the same for
 * guarded flows, undecided ones with payload in both directions: a flood
 * of new flows evicts every other flow before one of those, so that
 * nobody can push a conversation in progress out of the table before it
 * is judged. */
enum { FLOW_LIST_TCP, FLOW_LIST_UDP, FLOW_LIST_GUARDED_TCP, FLOW_LIST_GUARDED_UDP, FLOW_LISTS };

/* Why a flow left the table, for the removal callback. */
enum flow_end { FLOW_END_TIMEOUT, FLOW_END_EVICTED, FLOW_END_FLUSH };

typedef void (*flow_end_fn)(void *arg, const struct flow *f, enum flow_end why);

struct flow_table {
	struct flow *flows;
	uint32_t capacity;
	uint32_t *buckets;
	uint32_t mask;
	uint32_t free_list;
	uint32_t recent[FLOW_RECENT];	/* flows last found, tried before hashing */
	uint32_t count;
	uint32_t age_head[FLOW_LISTS], age_tail[FLOW_LISTS];	/* oldest first */
	uint64_t timeout_ns[2];		/* TCP, UDP */
	uint8_t *heads;			/* head_slots * 2 * head_size bytes */
	uint32_t head_size;
	uint32_t head_slots;
	uint32_t *head_free;		/* stack of free slots */
	uint32_t head_free_n;
	uint32_t *head_owner;		/* flow index holding each slot */
	uint32_t head_hand;		/* next slot looked at for reclaiming */
	uint64_t seed;
	uint64_t inserted, evicted, timed_out, head_exhausted;	/* read by the control thread */
	uint64_t head_reclaimed;
	flow_end_fn on_end;
	void *on_end_arg;
};

/* Allocate a table of capacity flows with stream heads of head_size bytes
 * per direction (0: none). 0, or -1 on bad arguments or ENOMEM. */
int flow_table_init(struct flow_table *t, uint32_t capacity, uint32_t head_size,
		    uint32_t tcp_timeout_s, uint32_t udp_timeout_s, uint64_t seed);

/* Free what flow_table_init allocated. */
void flow_table_fini(struct flow_table *t);

/* Remove every flow (reported as FLOW_END_FLUSH), e.g. between files. */
void flow_table_flush(struct flow_table *t);

/* 0 for a TCP flow's timeout, 1 for UDP. */
static inline int flow_class(const struct flow *f)
{
	return f->l4 == IPPROTO_TCP ? 0 : 1;
}

static inline int flow_expired(const struct flow_table *t, const struct flow *f, uint64_t now)
{
	return now > f->last_ns && now - f->last_ns > t->timeout_ns[flow_class(f)];
}

/* Put f on the guarded age lists (on = 1) or back on the plain ones. */
void flow_guard(struct flow_table *t, struct flow *f, int on);

static inline uint64_t flow_load64(const void *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline uint32_t flow_load32(const void *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/* Which direction of f the packet v goes, or -1 when v is not f's.
 * The flow's a, b, pa, pb sit in the same order as the view's saddr,
 * daddr, sport, dport (IPv4 zero-padded), so the compares are of fixed
 * size and compile to word compares. A free entry has family 0. */
static inline int flow_view_dir(const struct flow *f, const struct pkt_view *v)
{
	if (f->family != v->family || f->l4 != v->l4proto)
		return -1;
	if (f->pa == v->sport && f->pb == v->dport && memcmp(f->a, v->saddr, 32) == 0)
		return 0;
	if (f->pa == v->dport && f->pb == v->sport &&
	    memcmp(f->a, v->daddr, 16) == 0 && memcmp(f->b, v->saddr, 16) == 0)
		return 1;
	return -1;
}

/* The slot of recent[] for a tuple, the same both ways round: the ports
 * folded by xor (a client's ephemeral port tells its flows apart). */
static inline uint32_t flow_recent_slot(const struct pkt_view *v)
{
	uint32_t x = (uint32_t)(v->sport ^ v->dport);

	return (x ^ (x >> 8)) & (FLOW_RECENT - 1);
}

/* The flow recent[] remembers for v's slot: a candidate only, v's own
 * flow when flow_view_dir says so. */
static inline struct flow *flow_recent(struct flow_table *t, const struct pkt_view *v)
{
	return &t->flows[t->recent[flow_recent_slot(v)]];
}

/* Remember flow index idx as the one of v's slot. */
static inline void flow_recent_set(struct flow_table *t, const struct pkt_view *v, uint32_t idx)
{
	t->recent[flow_recent_slot(v)] = idx;
}

/* flow_lookup past the recent flows: keyed hash, chain, creation. */
struct flow *flow_lookup_chain(struct flow_table *t, const struct pkt_view *v,
			       uint64_t now_ns, int *dir, int *created);

/* The flow of a TCP/UDP packet, created if new (evicting the oldest when
 * full). *dir gets 0 or 1, *created 1 for a new flow. NULL for other L4.
 * Inline: packets come in bursts per flow, and a recent flow is found
 * here, its key line still in cache, without hashing. */
static inline struct flow *flow_lookup(struct flow_table *t, const struct pkt_view *v,
				       uint64_t now_ns, int *dir, int *created)
{
	struct flow *f;
	int d;

	if (v->l4proto != IPPROTO_TCP && v->l4proto != IPPROTO_UDP)
		return NULL;
	f = flow_recent(t, v);
	d = flow_view_dir(f, v);
	if (d < 0 || flow_expired(t, f, now_ns))
		return flow_lookup_chain(t, v, now_ns, dir, created);
	*dir = d;
	*created = 0;
	return f;
}

/* A busy flow is moved to the young end of its age list at most once per
 * 2^FLOW_LINK_SHIFT ns (about a second): moving touches two neighbours'
 * cache lines, and an order exact to the second is all timeouts need. */
#define FLOW_LINK_SHIFT 30

/* The value of flow.linked for a flow linked at time ns. */
static inline uint32_t flow_link_epoch(uint64_t ns)
{
	return (uint32_t)(ns >> FLOW_LINK_SHIFT);
}

/* When f was last linked, to the link granularity. */
static inline uint64_t flow_linked_ns(const struct flow *f)
{
	return (uint64_t)f->linked << FLOW_LINK_SHIFT;
}

/* Move f to the young end of its age list (flow_touch decides when). */
void flow_relink(struct flow_table *t, struct flow *f);

/* Mark f as used now. */
static inline void flow_touch(struct flow_table *t, struct flow *f, uint64_t now_ns)
{
	if (now_ns > f->last_ns)
		f->last_ns = now_ns;
	if (flow_link_epoch(f->last_ns) != f->linked)
		flow_relink(t, f);
}

/* flow_touch when it needs no age list move: 1 with f marked as used
 * now, or 0, f untouched, when a move is due (then flow_touch). For the
 * fast path, which must not call. */
static inline int flow_touch_unlinked(struct flow *f, uint64_t now_ns)
{
	uint64_t last = now_ns > f->last_ns ? now_ns : f->last_ns;

	if (flow_link_epoch(last) != f->linked)
		return 0;
	f->last_ns = last;
	return 1;
}

/* Remove up to max idle flows (oldest first); returns how many. */
uint32_t flow_expire(struct flow_table *t, uint64_t now_ns, uint32_t max);

/* The earliest packet time at which flow_expire could find an idle flow,
 * for the flows in the table and any created from now_ns on (packet
 * times must not go back). */
uint64_t flow_expiry_due(const struct flow_table *t, uint64_t now_ns);

/* Append TCP payload of direction dir at sequence seq to the flow's
 * stream head, in order only (retransmitted bytes skipped, gaps stop the
 * head). Returns 1 if bytes were added, 0 otherwise. */
int flow_head_append(struct flow_table *t, struct flow *f, int dir, uint32_t seq,
		     const uint8_t *data, uint32_t len);

/* The head of direction dir, or NULL when the flow has no head slot.
 * Inline: asked for on every packet of an undecided TCP flow. */
static inline const uint8_t *flow_head(const struct flow_table *t, const struct flow *f, int dir)
{
	if (f->head == FLOW_NONE)
		return NULL;
	return t->heads + ((size_t)f->head * 2 + (size_t)dir) * t->head_size;
}

/* Give the flow's head slot back (the flow is decided). */
void flow_head_release(struct flow_table *t, struct flow *f);

/* Remove every flow for which match says 1 (reported as FLOW_END_FLUSH);
 * returns how many. */
uint32_t flow_remove_matching(struct flow_table *t, int (*match)(void *arg, const struct flow *f),
			      void *arg);

/* Call fn for every flow in the table. */
void flow_foreach(struct flow_table *t, void (*fn)(void *arg, const struct flow *f), void *arg);

#endif
