/* engine.c - the per-worker BitTorrent engine: per packet, find the flow,
 * feed undecided flows to the detectors with their stream heads, decide
 * block or allow, and keep the endpoint cache of suspected peers.
 *
 * Who may cause what (btblockd(8), TRUST): bytes the protected side's own
 * flow carried in a shape only BitTorrent has are proof, which blocks the
 * flow and, on a genuine two-way flow, lets the ruleset ban the address
 * pair. What a remote party answered the protected side (a DHT reply to
 * its query, a tracker's list on the flow that asked, PEX inside a flow
 * where both ends spoke BitTorrent) is evidence: it makes a later flow to
 * that ip:port suspect, and blocks it only if its payload is not plainly
 * another protocol; a WebTorrent peer named in SDP that a WebSocket tracker
 * relayed on the protected side's own tracker connection is suspect of
 * WebRTC, so STUN and DTLS, its data channel's protocols, do not clear it.
 * Everything else is noise: never learned, never banned on. */
#include "sysincl.h"
#include "engine.h"
#include "counter.h"
#include "packet.h"
#include "dpi/otherproto.h"

#include <netinet/in.h>

/* Reply packets of a blocked flow still parsed for endpoints (offline mode
 * and the packets in flight before the kernel drops the flow). */
#define LEARN_BUDGET 8

/* Idle flows are looked for every EXPIRE_INTERVAL_NS of packet time, up
 * to EXPIRE_BATCH at a time: timeouts are seconds long, so a walk per
 * packet bought nothing but cycles. A full table still evicts the oldest
 * flow at once, and a lookup that finds an expired flow drops it. */
#define EXPIRE_INTERVAL_NS (50 * 1000 * 1000ull)
#define EXPIRE_BATCH 256

/* How far past the other side's initial sequence number an
 * acknowledgement may point: the bytes a side may have received before it
 * shows BitTorrent. A blind spoofer hits the window once in 4096 tries. */
#define ACK_WINDOW (1u << 20)

#define TCP_SYN 0x02
#define TCP_ACK 0x10

#define RANGE_STR_(x) #x
#define RANGE_STR(x) RANGE_STR_(x)
/* Unsigned v outside [ENGINE_MIN_x, ENGINE_MAX_x]: below MIN wraps to a
 * large number, so one comparison, and none against a MIN of 0. */
#define OUT_OF_RANGE(v, x) \
	((uint64_t)(v) - ENGINE_MIN_##x > (uint64_t)ENGINE_MAX_##x - ENGINE_MIN_##x)
#define RANGE_TEXT(x) "between " RANGE_STR(ENGINE_MIN_##x) " and " RANGE_STR(ENGINE_MAX_##x)

const char *engine_config_check(const struct engine_config *c)
{
	if (OUT_OF_RANGE(c->flow_capacity, FLOW_CAPACITY))
		return "flow-capacity must be " RANGE_TEXT(FLOW_CAPACITY);
	if (OUT_OF_RANGE(c->tcp_timeout_s, TIMEOUT))
		return "tcp-timeout must be " RANGE_TEXT(TIMEOUT) " seconds";
	if (OUT_OF_RANGE(c->udp_timeout_s, TIMEOUT))
		return "udp-timeout must be " RANGE_TEXT(TIMEOUT) " seconds";
	if (OUT_OF_RANGE(c->stream_prefix, STREAM_PREFIX))
		return "stream-prefix must be " RANGE_TEXT(STREAM_PREFIX) " bytes";
	if (OUT_OF_RANGE(c->allow_after, ALLOW_AFTER))
		return "allow-after must be " RANGE_TEXT(ALLOW_AFTER) " packets";
	if (OUT_OF_RANGE(c->endpoint_capacity, ENDPOINT_CAPACITY))
		return "endpoint-capacity must be between " RANGE_STR(ENGINE_MIN_ENDPOINT_CAPACITY)
		       " (off) and " RANGE_STR(ENGINE_MAX_ENDPOINT_CAPACITY);
	if (OUT_OF_RANGE(c->endpoint_ttl_s, ENDPOINT_TTL))
		return "endpoint-ttl must be " RANGE_TEXT(ENDPOINT_TTL) " seconds";
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

void engine_set_bthosts(struct engine *e, struct bthosts *h, unsigned r)
{
	e->bthosts = h;
	e->bthosts_region = r;
}

int engine_bt_host_recent(const struct engine *e, int family, const uint8_t *addr,
			  uint64_t max_age_ns)
{
	uint64_t age = 0;

	return bthosts_age(e->bthosts, family, addr, e->now_ns, &age) && age <= max_age_ns;
}

void engine_reset(struct engine *e)
{
	flow_table_flush(&e->flows);
	endpoints_clear(&e->eps);
	e->now_ns = 0;
	e->next_expire_ns = 0;
}

static void note_added(struct engine *e, enum endpoint_added r)
{
	switch (r) {
	case ENDPOINT_NEW:
		COUNTER_INC(e->ctr.endpoints_learned);
		break;
	case ENDPOINT_OVER_QUOTA:
		COUNTER_INC(e->ctr.endpoints_over_quota);
		break;
	case ENDPOINT_NO_ROOM:
		COUNTER_INC(e->ctr.endpoints_no_room);
		break;
	case ENDPOINT_REFRESHED:
		break;
	}
}

/* An endpoint named in a solicited answer; the detectors call this only
 * for answers to the protected side, through dpi_learn's filter. */
static void learn_kind(struct engine *e, int family, const uint8_t *addr, uint16_t port,
		       enum endpoint_kind kind)
{
	if (!e->cfg.endpoint_capacity)
		return;
	note_added(e, endpoints_add_kind(&e->eps, family, addr, port, ENDPOINT_LISTED, kind,
					 e->src_family, e->src, e->now_ns));
}

static void learn(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
	learn_kind(ctx, family, addr, port, ENDPOINT_KIND_BT);
}

static void learn_webrtc(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
	learn_kind(ctx, family, addr, port, ENDPOINT_KIND_WEBRTC);
}

static int protected_dir(const struct flow *f, int dir)
{
	return (f->side & FLOW_SIDE(dir)) != 0;
}

/* May the ruleset ban the pair? Only when a side of the protected network
 * spoke BitTorrent on the flow, and the flow really went both ways: the
 * other end answered in BitTorrent too, or (TCP) the protected side's
 * packets acknowledged the other end's SYN, which a blind spoofer of its
 * address cannot do. One unsolicited or spoofable packet never bans. */
static int ban_worthy(const struct flow *f)
{
	uint8_t proof = f->dpi.proof;
	int d;

	for (d = 0; d < 2; d++) {
		if (!protected_dir(f, d) || !(proof & (1u << d)))
			continue;
		if (proof & (1u << !d))
			return 1;
		if (f->l4 == IPPROTO_TCP && (f->flags & FLOW_F_ACKED(d)))
			return 1;
	}
	return 0;
}

/* Both ends spoke BitTorrent with the protected side: their listening
 * endpoints are confirmed peers (a TCP client's ephemeral port will serve
 * other programs later; over UDP both ports are the clients' own). */
static void learn_confirmed(struct engine *e, const struct flow *f)
{
	int d;

	if (!e->cfg.endpoint_capacity || f->dpi.proof != 3 || !f->side)
		return;
	for (d = 0; d < 2; d++) {
		const uint8_t *addr = d ? f->b : f->a;
		uint16_t port = d ? f->pb : f->pa;

		if (f->l4 == IPPROTO_TCP && f->server != 2 - d)
			continue;
		if (!dpi_learnable(f->family, addr, port))
			continue;
		note_added(e, endpoints_add(&e->eps, f->family, addr, port, ENDPOINT_CONFIRMED,
					    f->family, addr, e->now_ns));
	}
}

/* Protected ends whose own BitTorrent showed on a genuine two-way flow
 * (ban_worthy's test, side by side) are noted as running BitTorrent. */
static void note_bt_hosts(struct engine *e, const struct flow *f)
{
	uint8_t proof = f->dpi.proof;
	int d;

	if (!e->bthosts)
		return;
	for (d = 0; d < 2; d++) {
		if (!protected_dir(f, d) || !(proof & (1u << d)))
			continue;
		if ((proof & (1u << !d)) || (f->l4 == IPPROTO_TCP && (f->flags & FLOW_F_ACKED(d))))
			bthosts_note(e->bthosts, e->bthosts_region, f->family, d ? f->b : f->a,
				     e->now_ns, 0);
	}
}

__attribute__((noinline)) static void flow_decide(struct engine *e, struct flow *f,
						 enum engine_verdict verdict, enum dpi_id reason)
{
	f->verdict = (uint8_t)verdict;
	f->reason = (uint8_t)reason;
	f->decided_at = f->packets;
	flow_head_release(&e->flows, f);
	flow_guard(&e->flows, f, 0);
	if (verdict == ENGINE_ALLOW) {
		COUNTER_INC(e->ctr.decided_allow);
		return;
	}
	COUNTER_INC(e->ctr.decided_block);
	COUNTER_INC(e->ctr.detector[reason]);
	f->learn_budget = LEARN_BUDGET;
	if (ban_worthy(f)) {
		f->flags |= FLOW_F_BAN;
		COUNTER_INC(e->ctr.decided_ban);
	}
	learn_confirmed(e, f);
	note_bt_hosts(e, f);
}

/* What the ends of a new flow were learned as (enum endpoint_kind bits),
 * 0 when neither was. */
static unsigned endpoint_known(struct engine *e, const struct pkt_view *v)
{
	if (!e->cfg.endpoint_capacity || !e->eps.used)
		return 0;
	return endpoints_kinds(&e->eps, v->family, v->daddr, v->dport, e->now_ns) |
		endpoints_kinds(&e->eps, v->family, v->saddr, v->sport, e->now_ns);
}

/* Does the payload of a flow to a learned endpoint clear it? Plainly
 * another protocol does, except, towards a WebTorrent peer over UDP, the
 * protocols of a WebRTC data channel: STUN (ICE) and DTLS (which carries
 * the SCTP). A call's flows go to endpoints nobody learned. */
static int hint_cleared(const struct flow *f, const uint8_t *d, uint32_t len)
{
	enum otherproto o = otherproto_identify(d, len, f->l4 == IPPROTO_TCP);

	if (o == OTHERPROTO_NONE)
		return 0;
	return !((f->hint & ENDPOINT_KIND_WEBRTC) && f->l4 == IPPROTO_UDP &&
		 (o == OTHERPROTO_STUN || o == OTHERPROTO_DTLS));
}

/* Was family/addr:port learned as a BitTorrent peer? Asked by detectors
 * (MSE's answering side) through dpi_pkt.known. */
static int known(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
	struct engine *e = ctx;

	if (!e->cfg.endpoint_capacity)
		return 0;
	return endpoints_has(&e->eps, family, addr, port, e->now_ns);
}

/* The fields of a detector packet every path sets. */
static void dpi_pkt_init(struct engine *e, const struct flow *f, int dir,
			 const struct pkt_view *v, struct dpi_pkt *p)
{
	p->v = v;
	p->dir = dir;
	p->from_protected = protected_dir(f, dir);
	p->to_protected = protected_dir(f, !dir);
	p->start_seen = f->start_seen;
	p->now_ns = e->now_ns;
	p->dir_payload_pkts = f->dir[dir].payload_packets;
	p->data = v->payload;
	p->len = v->payload_len;
	p->learn = learn;
	p->learn_webrtc = learn_webrtc;
	p->known = known;
	p->learn_ctx = e;
	p->stream = NULL;
	p->stream_len = 0;
	p->stream_grew = 0;
	e->src = v->saddr;
	e->src_family = v->family;
}

/* Whether an undecided flow has shown enough payload to be allowed:
 * --allow-after packets. A flow seen from its middle (running before
 * the daemon or its ruleset started) needs MIDSTREAM_DIR_FACTOR times as
 * many from each direction: its first payload is no handshake but
 * whatever the transfer was doing, the mid-stream detectors follow one
 * side over several segments, and the side that tells (a downloading
 * client's requests) is the quiet one while the other side's bulk would
 * fill a window counted over both. A direction that never sends that
 * many leaves the flow undecided: the ruleset's queue budget (16 per
 * direction by default, above 2 x 6) then ends its inspection and the
 * flow goes on unqueued, without a mark. Such flows are few: the ones
 * alive when btblockd starts. */
#define MIDSTREAM_DIR_FACTOR 2

static int allow_now(const struct engine *e, const struct flow *f)
{
	uint32_t n0 = f->dir[0].payload_packets, n1 = f->dir[1].payload_packets;

	if (dpi_midstream(&f->dpi, f->l4, f->start_seen))
		return n0 >= e->cfg.allow_after * MIDSTREAM_DIR_FACTOR &&
		       n1 >= e->cfg.allow_after * MIDSTREAM_DIR_FACTOR;
	return n0 + n1 >= e->cfg.allow_after;
}

static void inspect(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct dpi_pkt p;
	enum dpi_id r;

	dpi_pkt_init(e, f, dir, v, &p);
	if (v->l4proto == IPPROTO_TCP) {
		p.stream_grew = flow_head_append(&e->flows, f, dir, v->tcp_seq,
						 v->payload, v->payload_len);
		p.stream = flow_head(&e->flows, f, dir);
		if (p.stream)
			p.stream_len = f->dir[dir].head_len;
	}
	COUNTER_INC(e->ctr.inspected_packets);
	r = dpi_inspect(&f->dpi, &p);
	/* A flow to a suspected peer: evidence, not a verdict. Its first
	 * payload decides: plainly another protocol clears the suspicion,
	 * anything else (random bytes, uTP, unknown binary, a WebTorrent
	 * peer's STUN or DTLS) is blocked. */
	if (r == DPI_NONE && (f->flags & FLOW_F_HINT)) {
		if (hint_cleared(f, p.stream ? p.stream : p.data, p.stream ? p.stream_len : p.len))
			f->flags &= (uint8_t)~FLOW_F_HINT;
		else
			r = DPI_ENDPOINT;
	}
	if (r != DPI_NONE)
		flow_decide(e, f, ENGINE_BLOCK, r);
	else if (allow_now(e, f))
		flow_decide(e, f, ENGINE_ALLOW, DPI_NONE);
}

__attribute__((noinline)) static void learn_blocked(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct dpi_pkt p;
	uint8_t proof = f->dpi.proof;

	dpi_pkt_init(e, f, dir, v, &p);
	f->learn_budget--;
	dpi_learn_blocked(&f->dpi, &p);
	if (f->dpi.proof != proof) {
		learn_confirmed(e, f);
		note_bt_hosts(e, f);
	}
}

/* Which ends of a new flow are on the protected side: by the interface
 * the packet came in on or leaves through, or by address. */
static uint8_t flow_sides(const struct engine *e, const struct pkt_view *v)
{
	uint8_t side = 0;

	if ((v->flags & PKT_F_IN_PROTECTED) ||
	    protect_match(&e->cfg.protect, v->family, v->saddr))
		side |= FLOW_SIDE(0);
	if ((v->flags & PKT_F_OUT_PROTECTED) ||
	    protect_match(&e->cfg.protect, v->family, v->daddr))
		side |= FLOW_SIDE(1);
	return side;
}

/* TCP: each side's initial sequence number, and whether a side has
 * acknowledged the other's (it received the SYN or SYN-ACK). */
static void track_tcp_start(struct flow *f, int dir, const struct pkt_view *v)
{
	if (v->tcp_flags & TCP_SYN) {
		f->start_seen = 1;
		/* SYN comes from the client, SYN-ACK from the server */
		if (!f->server)
			f->server = (uint8_t)((v->tcp_flags & TCP_ACK) ? 1 + !dir : 1 + dir);
		f->isn[dir] = v->tcp_seq;
		f->flags |= (uint8_t)FLOW_F_ISN(dir);
	}
	/* once per side: most packets find the bit set or no SYN to match */
	if ((f->flags & (FLOW_F_ISN(!dir) | FLOW_F_ACKED(dir))) == FLOW_F_ISN(!dir) &&
	    (v->tcp_flags & TCP_ACK) && v->tcp_ack - f->isn[!dir] - 1u < ACK_WINDOW)
		f->flags |= (uint8_t)FLOW_F_ACKED(dir);
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
		f->side = flow_sides(e, v);
		f->hint = (uint8_t)endpoint_known(e, v);
		if (f->hint)
			f->flags |= FLOW_F_HINT;
	}
	if (f->verdict == ENGINE_UNDECIDED) {
		struct flow_dir *d = &f->dir[dir];

		if (v->l4proto == IPPROTO_TCP)
			track_tcp_start(f, dir, v);
		if (v->payload_len > 0) {
			COUNTER_INC(e->ctr.payload_packets);
			if (d->payload_packets < UINT16_MAX)
				d->payload_packets++;
			/* A conversation in progress is kept over a flood of new
			 * flows: payload both ways, or over TCP from a side that
			 * acknowledged the other's SYN. A spoofer's one-way
			 * packets are neither. */
			if (f->list < FLOW_LIST_GUARDED_TCP &&
			    (f->dir[!dir].payload_packets ||
			     (f->flags & FLOW_F_ACKED(dir))))
				flow_guard(&e->flows, f, 1);
			inspect(e, f, dir, v);
		}
	} else if (v->payload_len > 0) {
		COUNTER_INC(e->ctr.payload_packets);
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
		COUNTER_ADD(e->ctr.payload_packets, v->payload_len > 0);
	out->verdict = (enum engine_verdict)f->verdict;
	out->reason = f->verdict == ENGINE_BLOCK ? dpi_name((enum dpi_id)f->reason) : NULL;
	out->decided_at = f->decided_at;
	out->flow_packets = f->packets;
	out->ban = (f->flags & FLOW_F_BAN) != 0;
}

/* Most packets belong to an allowed flow met a moment ago: that case is
 * handled here without a call, so without a stack frame; the rest goes
 * to process_slow with what the recent-flow check learned. */
void engine_process(struct engine *e, const struct pkt_view *v, uint64_t now_ns,
		    struct engine_result *out)
{
	struct flow_table *t = &e->flows;
	struct flow *f;
	int dir;

	if (now_ns > e->now_ns)
		e->now_ns = now_ns;	/* capture clocks may step back */
	COUNTER_INC(e->ctr.packets);
	if (e->now_ns >= e->next_expire_ns ||
	    (v->l4proto != IPPROTO_TCP && v->l4proto != IPPROTO_UDP)) {
		process_slow(e, v, NULL, 0, 0, out);
		return;
	}
	f = flow_recent(t, v);
	dir = flow_view_dir(f, v);
	if (dir < 0 || flow_expired(t, f, e->now_ns)) {
		process_slow(e, v, NULL, 0, 1, out);
		return;
	}
	if (f->verdict != ENGINE_ALLOW || !flow_touch_unlinked(f, e->now_ns)) {
		process_slow(e, v, f, dir, 0, out);
		return;
	}
	f->packets++;
	COUNTER_ADD(e->ctr.payload_packets, v->payload_len > 0);
	out->verdict = ENGINE_ALLOW;
	out->reason = NULL;
	out->decided_at = f->decided_at;
	out->flow_packets = f->packets;
	out->ban = 0;
}

void engine_counters_get(const struct engine *e, struct engine_counters *out)
{
	unsigned i;

	out->packets = COUNTER_GET(e->ctr.packets);
	out->payload_packets = COUNTER_GET(e->ctr.payload_packets);
	out->inspected_packets = COUNTER_GET(e->ctr.inspected_packets);
	out->flows_inserted = COUNTER_GET(e->flows.inserted);
	out->flows_evicted = COUNTER_GET(e->flows.evicted);
	out->flows_timed_out = COUNTER_GET(e->flows.timed_out);
	out->flows_active = COUNTER_GET(e->flows.count);
	out->decided_allow = COUNTER_GET(e->ctr.decided_allow);
	out->decided_block = COUNTER_GET(e->ctr.decided_block);
	out->decided_ban = COUNTER_GET(e->ctr.decided_ban);
	out->stream_heads_exhausted = COUNTER_GET(e->flows.head_exhausted);
	out->endpoints_learned = COUNTER_GET(e->ctr.endpoints_learned);
	out->endpoints_over_quota = COUNTER_GET(e->ctr.endpoints_over_quota);
	out->endpoints_no_room = COUNTER_GET(e->ctr.endpoints_no_room);
	out->endpoint_cache_size = COUNTER_GET(e->eps.used);
	for (i = 0; i < DPI_COUNT; i++)
		out->detector[i] = COUNTER_GET(e->ctr.detector[i]);
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
