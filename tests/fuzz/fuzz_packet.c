/* fuzz_packet.c - libFuzzer harness: raw IPv4/IPv6 packets through the
 * packet view, the flow table and every detector.
 *
 * One engine lives across inputs, as in a worker, so flow state (stream
 * heads, detector state, endpoint cache, evictions, timeouts) carries
 * from one input to the next; the tables are small so that eviction and
 * head exhaustion happen often. An input is a series of records (fuzz.h):
 *   ctl bits 0-5  time advance: that many ms, or with bit 7 that many 10 s
 *   ctl bit 6     capture cut: the packet was 1000 bytes longer on the wire
 * A crash found this way may need the inputs before it: replay the whole
 * corpus directory, not the crash file alone, when it does not reproduce. */
#include "sysincl.h"
#include <netinet/in.h>
#include "engine.h"
#include "packet.h"
#include "fuzz.h"

static struct engine *eng;
static uint64_t now_ns = 1000000000ULL;

static void engine_setup(void)
{
	struct engine_config c;

	engine_config_defaults(&c);
	c.flow_capacity = 64;
	c.stream_prefix = 256;
	c.endpoint_capacity = 32;
	c.tcp_timeout_s = 30;
	c.udp_timeout_s = 10;
	c.endpoint_ttl_s = 60;
	c.hash_seed = 0x5eed;	/* the same buckets every run */
	eng = malloc(sizeof(*eng));
	FUZZ_ASSERT(eng != NULL);
	FUZZ_ASSERT(engine_init(eng, &c) == 0);
}

/* The view must lie inside the captured bytes and agree with itself. */
static void check_view(const struct pkt_view *v, const uint8_t *buf, size_t len)
{
	FUZZ_ASSERT(v->family == 4 || v->family == 6);
	FUZZ_ASSERT(v->l4proto == IPPROTO_TCP || v->l4proto == IPPROTO_UDP);
	FUZZ_ASSERT(v->payload_len <= v->payload_wire_len);
	if (v->payload_len) {
		FUZZ_ASSERT(v->payload >= buf && v->payload <= buf + len);
		FUZZ_ASSERT(v->payload_len <= (size_t)(buf + len - v->payload));
	}
}

static void one_packet(const struct fuzz_rec *r)
{
	uint8_t *buf = fuzz_dup(r->data, r->len);
	size_t wire = r->len + ((r->ctl & 0x40) ? 1000 : 0);
	struct engine_result res;
	struct pkt_view v;
	enum pkt_status st;

	now_ns += (uint64_t)(r->ctl & 0x3f) * ((r->ctl & 0x80) ? 10000000000ULL : 1000000ULL);
	st = pkt_parse(&v, buf, r->len, wire);
	FUZZ_ASSERT(pkt_status_name(st) != NULL);
	if (st == PKT_OK) {
		check_view(&v, buf, r->len);
		engine_process(eng, &v, now_ns, &res);
		FUZZ_ASSERT(res.verdict <= ENGINE_BLOCK);
		FUZZ_ASSERT(res.verdict != ENGINE_BLOCK || res.reason != NULL);
		FUZZ_ASSERT(engine_verdict_name(res.verdict) != NULL);
		FUZZ_ASSERT(eng->flows.count <= eng->flows.capacity);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rec r;

	if (!eng)
		engine_setup();
	while (fuzz_next_rec(&data, &size, &r))
		one_packet(&r);
	return 0;
}
