/* engine.c - the per-worker BitTorrent engine: per packet, find the flow,
 * feed undecided flows to the detectors with their stream heads, decide
 * block or allow, and keep the endpoint cache that lets a new flow to a
 * known peer be blocked from its first packet. */
#include "engine.h"
#include "packet.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

/* Counters are read by the control thread: relaxed atomic stores. */
#define BUMP(field) __atomic_store_n(&(field), (field) + 1, __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Reply packets of a blocked flow still parsed for endpoints (offline mode
 * and the packets in flight before the kernel drops the flow). */
#define LEARN_BUDGET 8

/* Idle flows are looked for every EXPIRE_INTERVAL_NS of packet time, up
 * to EXPIRE_BATCH at a time: timeouts are seconds long, so a walk per
 * packet bought nothing but cycles. A full table still evicts the oldest
 * flow at once, and a lookup that finds an expired flow drops it. */
#define EXPIRE_INTERVAL_NS (50 * 1000 * 1000ull)
#define EXPIRE_BATCH 256

void engine_config_defaults(struct engine_config *c)
{
	c->flow_capacity = ENGINE_DEF_FLOW_CAPACITY;
	c->tcp_timeout_s = ENGINE_DEF_TCP_TIMEOUT;
	c->udp_timeout_s = ENGINE_DEF_UDP_TIMEOUT;
	c->stream_prefix = ENGINE_DEF_STREAM_PREFIX;
	c->allow_after = ENGINE_DEF_ALLOW_AFTER;
	c->endpoint_capacity = ENGINE_DEF_ENDPOINT_CAPACITY;
	c->endpoint_ttl_s = ENGINE_DEF_ENDPOINT_TTL;
	c->hash_seed = 0;
}

const char *engine_config_check(const struct engine_config *c)
{
	if (c->flow_capacity < 16 || c->flow_capacity > (1u << 24))
		return "flow-capacity must be between 16 and 16777216";
	if (c->tcp_timeout_s < 1 || c->tcp_timeout_s > 86400)
		return "tcp-timeout must be between 1 and 86400 seconds";
	if (c->udp_timeout_s < 1 || c->udp_timeout_s > 86400)
		return "udp-timeout must be between 1 and 86400 seconds";
	if (c->stream_prefix < 64 || c->stream_prefix > 16384)
		return "stream-prefix must be between 64 and 16384 bytes";
	if (c->allow_after < 1 || c->allow_after > 1000)
		return "allow-after must be between 1 and 1000 packets";
	if (c->endpoint_capacity > (1u << 24))
		return "endpoint-capacity must be between 0 (off) and 16777216";
	if (c->endpoint_ttl_s < 1 || c->endpoint_ttl_s > 7 * 86400)
		return "endpoint-ttl must be between 1 and 604800 seconds";
	return NULL;
}

static void flow_ended(void *arg, const struct flow *f, enum flow_end why)
{
	struct engine *e = arg;

	(void)why;
	if (e->on_end)
		e->on_end(e->on_end_arg, f);
}

int engine_init(struct engine *e, const struct engine_config *c)
{
	struct timespec ts;
	uint64_t seed;

	memset(e, 0, sizeof(*e));
	if (engine_config_check(c))
		return -1;
	e->cfg = *c;
	/* A per-engine seed keeps the hash buckets unpredictable to senders;
	 * a fixed one makes a fuzzing run repeatable. */
	if (c->hash_seed) {
		seed = c->hash_seed;
	} else {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)e;
	}
	if (flow_table_init(&e->flows, c->flow_capacity, c->stream_prefix,
			    c->tcp_timeout_s, c->udp_timeout_s, seed) < 0)
		return -1;
	/* capacity 0 turns the cache off: one dead slot set answers "no" */
	if (endpoints_init(&e->eps, c->endpoint_capacity ? c->endpoint_capacity : 1,
			   c->endpoint_ttl_s, ~seed) < 0) {
		flow_table_fini(&e->flows);
		return -1;
	}
	e->flows.on_end = flow_ended;
	e->flows.on_end_arg = e;
	return 0;
}

void engine_fini(struct engine *e)
{
	flow_table_fini(&e->flows);
	endpoints_fini(&e->eps);
}

void engine_set_flow_end(struct engine *e, engine_flow_end_fn fn, void *arg)
{
	e->on_end = fn;
	e->on_end_arg = arg;
}

void engine_reset(struct engine *e)
{
	flow_table_flush(&e->flows);
	endpoints_clear(&e->eps);
	e->now_ns = 0;
	e->next_expire_ns = 0;
}

static void learn(void *ctx, int family, const uint8_t *addr, uint16_t port, int peer)
{
	struct engine *e = ctx;

	if (!e->cfg.endpoint_capacity)
		return;
	/* the endpoint, and for a peer its host (met on another port, an
	 * encrypted handshake is judged by it); DHT nodes are many and
	 * rarely peers, their hosts would only crowd the cache */
	endpoints_add(&e->eps, family, addr, port, e->now_ns);
	if (peer)
		endpoints_add(&e->eps, family, addr, 0, e->now_ns);
	BUMP(e->ctr.endpoints_learned);
}

/* Detectors whose verdict makes both ends BitTorrent peers. A flow blocked
 * by the cache itself teaches nothing: entries never breed entries. */
static int peer_reason(enum dpi_id r)
{
	switch (r) {
	case DPI_BT_HANDSHAKE: case DPI_BT_FRAMING: case DPI_BT_EXTENSION:
	case DPI_DHT: case DPI_UTP: case DPI_MSE:
		return 1;
	default:
		return 0;
	}
}

__attribute__((noinline)) static void decide(struct engine *e, struct flow *f, enum engine_verdict verdict,
		   enum dpi_id reason, const struct pkt_view *v)
{
	f->verdict = (uint8_t)verdict;
	f->reason = (uint8_t)reason;
	f->decided_at = f->packets;
	flow_head_release(&e->flows, f);
	if (verdict == ENGINE_ALLOW) {
		BUMP(e->ctr.decided_allow);
		return;
	}
	BUMP(e->ctr.decided_block);
	BUMP(e->ctr.detector[reason]);
	f->learn_budget = LEARN_BUDGET;
	if (!e->cfg.endpoint_capacity)
		return;
	if (peer_reason(reason)) {
		/* Both ends run a client. Only listening ports are cached: a
		 * client's ephemeral TCP port will serve other programs
		 * later. Over UDP both ports are the clients' own. */
		if (f->l4 == IPPROTO_UDP || f->server == 1)
			endpoints_add(&e->eps, f->family, f->b, f->pb, e->now_ns);
		if (f->l4 == IPPROTO_UDP || f->server == 2)
			endpoints_add(&e->eps, f->family, f->a, f->pa, e->now_ns);
		endpoints_add(&e->eps, f->family, f->a, 0, e->now_ns);
		endpoints_add(&e->eps, f->family, f->b, 0, e->now_ns);
	} else if (reason != DPI_SOCKS5 && reason != DPI_ENDPOINT) {
		/* Tracker, web seed, LSD: only the client that spoke is known;
		 * the server may serve other things too. */
		endpoints_add(&e->eps, v->family, v->saddr, 0, e->now_ns);
	}
}

static int endpoint_known(struct engine *e, const struct pkt_view *v)
{
	if (!e->cfg.endpoint_capacity || !e->eps.used)
		return 0;
	return endpoints_has(&e->eps, v->family, v->daddr, v->dport, e->now_ns) ||
		endpoints_has(&e->eps, v->family, v->saddr, v->sport, e->now_ns);
}

/* Is the side that answered the key exchange a host known to run
 * BitTorrent? Only the answering side counts: a BitTorrent user's other
 * encrypted connections (messengers, VPNs) go to servers that are never
 * learned as peers. */
static int mse_responder_known(struct engine *e, const struct flow *f)
{
	if (!e->cfg.endpoint_capacity)
		return 0;
	return endpoints_has(&e->eps, f->family, f->dpi.mse_first == 2 ? f->a : f->b, 0,
			     e->now_ns);
}

static void inspect(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct dpi_pkt p;
	enum dpi_id r;

	/* every field set once (no memset of the whole packet first) */
	p.v = v;
	p.dir = dir;
	p.start_seen = f->start_seen;
	p.now_ns = e->now_ns;
	p.dir_payload_pkts = f->dir[dir].payload_packets;
	p.data = v->payload;
	p.len = v->payload_len;
	p.learn = learn;
	p.learn_ctx = e;
	p.stream = NULL;
	p.stream_len = 0;
	p.stream_grew = 0;
	if (v->l4proto == IPPROTO_TCP) {
		p.stream_grew = flow_head_append(&e->flows, f, dir, v->tcp_seq,
						 v->payload, v->payload_len);
		p.stream = flow_head(&e->flows, f, dir);
		if (p.stream)
			p.stream_len = f->dir[dir].head_len;
	}
	BUMP(e->ctr.inspected_packets);
	r = dpi_inspect(&f->dpi, &p);
	if (r == DPI_NONE && f->dpi.mse_candidate && mse_responder_known(e, f))
		r = DPI_MSE;
	/* an endpoint learned since the flow was last checked (the
	 * generation spares a lookup while nothing new was learned) */
	if (r == DPI_NONE && f->eps_gen != (uint32_t)e->eps.inserted) {
		f->eps_gen = (uint32_t)e->eps.inserted;
		if (endpoint_known(e, v))
			r = DPI_ENDPOINT;
	}
	if (r != DPI_NONE)
		decide(e, f, ENGINE_BLOCK, r, v);
	else if (f->dir[0].payload_packets + f->dir[1].payload_packets >= e->cfg.allow_after)
		decide(e, f, ENGINE_ALLOW, DPI_NONE, v);
}

__attribute__((noinline)) static void learn_blocked(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct dpi_pkt p;

	memset(&p, 0, sizeof(p));
	p.v = v;
	p.dir = dir;
	p.data = v->payload;
	p.len = v->payload_len;
	p.learn = learn;
	p.learn_ctx = e;
	f->learn_budget--;
	dpi_learn_blocked(&p);
}

/* The idle-flow walk, when it is due. */
static __attribute__((noinline)) void expire_idle(struct engine *e)
{
	uint64_t due;

	flow_expire(&e->flows, e->now_ns, EXPIRE_BATCH);
	/* no walk before a flow can have gone idle: sparse traffic (and
	 * capture files) would otherwise walk every interval for nothing */
	due = flow_expiry_due(&e->flows, e->now_ns);
	e->next_expire_ns = e->now_ns + EXPIRE_INTERVAL_NS;
	if (due > e->next_expire_ns)
		e->next_expire_ns = due;
}

/* A new or undecided flow, or a blocked one still learning. */
static void process_open(struct engine *e, struct flow *f, int dir,
			 int created, const struct pkt_view *v)
{
	if (created) {
		f->eps_gen = (uint32_t)e->eps.inserted;
		if (endpoint_known(e, v))
			decide(e, f, ENGINE_BLOCK, DPI_ENDPOINT, v);
	}
	if (f->verdict == ENGINE_UNDECIDED) {
		if (v->l4proto == IPPROTO_TCP && (v->tcp_flags & 0x02)) {
			f->start_seen = 1;
			/* SYN comes from the client, SYN-ACK from the server */
			if (!f->server)
				f->server = (uint8_t)((v->tcp_flags & 0x10) ? 1 + !dir : 1 + dir);
		}
		if (v->payload_len > 0) {
			BUMP(e->ctr.payload_packets);
			f->dir[dir].payload_packets++;
			inspect(e, f, dir, v);
		}
	} else if (v->payload_len > 0) {
		BUMP(e->ctr.payload_packets);
		if (f->verdict == ENGINE_BLOCK && f->learn_budget)
			learn_blocked(e, f, dir, v);
	}
}

/* Everything but a recent allowed flow. f is the flow the recent-flow
 * check found (direction dir), or NULL; recent_missed says that check
 * ran (no expiry walk was due) and found nothing, so only the chain is
 * left to try. */
static __attribute__((noinline)) void process_slow(struct engine *e, const struct pkt_view *v,
						   struct flow *f, int dir, int recent_missed,
						   struct engine_result *out)
{
	int created = 0;

	if (!f) {
		if (recent_missed) {
			f = flow_lookup_chain(&e->flows, v, e->now_ns, &dir, &created);
		} else {
			if (e->now_ns >= e->next_expire_ns)
				expire_idle(e);
			f = flow_lookup(&e->flows, v, e->now_ns, &dir, &created);
		}
	}
	if (!f) {
		out->verdict = ENGINE_UNDECIDED;
		out->reason = NULL;
		out->decided_at = 0;
		out->flow_packets = 0;
		out->ban = 0;
		return;
	}
	flow_touch(&e->flows, f, e->now_ns);
	f->packets++;
	/* a decided flow: counted, nothing else (its first cache line only) */
	if (created || f->verdict == ENGINE_UNDECIDED ||
	    (f->verdict == ENGINE_BLOCK && v->payload_len > 0))
		process_open(e, f, dir, created, v);
	else	/* no branch: pure ACKs and data interleave */
		__atomic_store_n(&e->ctr.payload_packets,
				 e->ctr.payload_packets + (v->payload_len > 0), __ATOMIC_RELAXED);
	out->verdict = (enum engine_verdict)f->verdict;
	out->reason = f->verdict == ENGINE_BLOCK ? dpi_name((enum dpi_id)f->reason) : NULL;
	out->decided_at = f->decided_at;
	out->flow_packets = f->packets;
	out->ban = f->verdict == ENGINE_BLOCK;
}

/* Most packets belong to an allowed flow met a moment ago: that case is
 * handled here without a call, so without a stack frame; the rest goes
 * to process_slow with what the recent-flow check learned. */
void engine_process(struct engine *e, const struct pkt_view *v, uint64_t now_ns,
		    struct engine_result *out)
{
	struct flow_table *t = &e->flows;
	struct flow *f;
	uint64_t last;
	int dir;

	if (now_ns > e->now_ns)
		e->now_ns = now_ns;	/* capture clocks may step back */
	BUMP(e->ctr.packets);
	if (e->now_ns >= e->next_expire_ns ||
	    (v->l4proto != IPPROTO_TCP && v->l4proto != IPPROTO_UDP)) {
		process_slow(e, v, NULL, 0, 0, out);
		return;
	}
	f = &t->flows[t->recent[flow_recent_slot(v)]];
	dir = flow_view_dir(f, v);
	if (dir < 0 || flow_expired(t, f, e->now_ns)) {
		process_slow(e, v, NULL, 0, 1, out);
		return;
	}
	/* flow_touch, when it needs no age list move */
	last = e->now_ns > f->last_ns ? e->now_ns : f->last_ns;
	if (f->verdict != ENGINE_ALLOW || (uint32_t)(last >> FLOW_LINK_SHIFT) != f->linked) {
		process_slow(e, v, f, dir, 0, out);
		return;
	}
	f->last_ns = last;
	f->packets++;
	__atomic_store_n(&e->ctr.payload_packets,
			 e->ctr.payload_packets + (v->payload_len > 0), __ATOMIC_RELAXED);
	out->verdict = ENGINE_ALLOW;
	out->reason = NULL;
	out->decided_at = f->decided_at;
	out->flow_packets = f->packets;
	out->ban = 0;
}

void engine_counters_get(const struct engine *e, struct engine_counters *out)
{
	unsigned i;

	out->packets = GET(e->ctr.packets);
	out->payload_packets = GET(e->ctr.payload_packets);
	out->inspected_packets = GET(e->ctr.inspected_packets);
	out->flows_inserted = GET(e->flows.inserted);
	out->flows_evicted = GET(e->flows.evicted);
	out->flows_timed_out = GET(e->flows.timed_out);
	out->flows_active = GET(e->flows.count);
	out->decided_allow = GET(e->ctr.decided_allow);
	out->decided_block = GET(e->ctr.decided_block);
	out->stream_heads_exhausted = GET(e->flows.head_exhausted);
	out->endpoints_learned = GET(e->ctr.endpoints_learned);
	out->endpoint_cache_size = GET(e->eps.used);
	for (i = 0; i < DPI_COUNT; i++)
		out->detector[i] = GET(e->ctr.detector[i]);
}

const char *engine_detector_name(unsigned i)
{
	return dpi_name((enum dpi_id)i);
}

const char *engine_verdict_name(enum engine_verdict v)
{
	switch (v) {
	case ENGINE_BLOCK:
		return "block";
	case ENGINE_ALLOW:
		return "allow";
	default:
		return "undecided";
	}
}
