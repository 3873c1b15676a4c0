/* test_engine.c - unit tests of the engine (src/engine.c): decisions over
 * whole flows, the endpoint cache, counters and configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/engine.c"
#include "dpi_test.h"
#include "lookalikes.h"

#define S 1000000000ULL

static struct engine eng;

static int setup(void **state)
{
	struct engine_config c;

	(void)state;
	engine_config_defaults(&c);
	c.flow_capacity = 256;
	c.allow_after = 6;
	return engine_init(&eng, &c);
}

static int teardown(void **state)
{
	(void)state;
	engine_fini(&eng);
	return 0;
}

/* Host a (10.0.0.a) port pa to host b port pb. */
static void pkt(struct pkt_view *v, int l4, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb,
		const void *d, size_t len)
{
	test_view(v, l4, pa, pb, d, len);
	v->saddr[3] = a;
	v->daddr[3] = b;
	v->tcp_flags = 0x18;
}

static struct engine_result run(struct pkt_view *v, uint64_t now)
{
	struct engine_result r;

	engine_process(&eng, v, now, &r);
	return r;
}

static void test_defaults_and_checks(void **state)
{
	struct engine_config c;

	(void)state;
	engine_config_defaults(&c);
	assert_null(engine_config_check(&c));
	assert_int_equal(c.flow_capacity, 65536);
	assert_int_equal(c.stream_prefix, 1024);
	c.allow_after = 0;
	assert_non_null(engine_config_check(&c));
	engine_config_defaults(&c);
	c.stream_prefix = 1;
	assert_non_null(engine_config_check(&c));
	engine_config_defaults(&c);
	c.endpoint_capacity = 0;		/* cache off is allowed */
	assert_null(engine_config_check(&c));
	assert_string_equal(engine_detector_name(DPI_DHT), "dht");
	assert_string_equal(engine_verdict_name(ENGINE_BLOCK), "block");
}

static void test_split_handshake_blocks(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	const char *hs = "\x13" "BitTorrent protocol";

	(void)state;
	engine_reset(&eng);
	pkt(&v, IPPROTO_TCP, 1, 40000, 2, 51413, "", 0);
	v.tcp_flags = 0x02;
	v.tcp_seq = 999;
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	assert_null(r.reason);
	/* the handshake split over two segments, the second sent twice */
	pkt(&v, IPPROTO_TCP, 1, 40000, 2, 51413, hs, 7);
	v.tcp_seq = 1000;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	pkt(&v, IPPROTO_TCP, 1, 40000, 2, 51413, hs + 7, 13);
	v.tcp_seq = 1007;
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "bt-handshake");
	assert_int_equal(r.decided_at, 3);
	/* the reply direction is the same flow, already blocked */
	pkt(&v, IPPROTO_TCP, 2, 51413, 1, 40000, "zz", 2);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.flow_packets, 4);
	assert_int_equal(eng.ctr.detector[DPI_BT_HANDSHAKE], 1);
	assert_int_equal(eng.ctr.decided_block, 1);
}

static void test_out_of_order_handshake(void **state)
{
	struct pkt_view v;
	const char *hs = "\x13" "BitTorrent protocol";

	(void)state;
	engine_reset(&eng);
	pkt(&v, IPPROTO_TCP, 1, 40001, 2, 6881, "", 0);
	v.tcp_flags = 0x02;
	v.tcp_seq = 0;
	run(&v, S);
	/* first the head, then the tail before the middle, then the middle */
	pkt(&v, IPPROTO_TCP, 1, 40001, 2, 6881, hs, 5);
	v.tcp_seq = 1;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	pkt(&v, IPPROTO_TCP, 1, 40001, 2, 6881, hs + 10, 10);
	v.tcp_seq = 11;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	pkt(&v, IPPROTO_TCP, 1, 40001, 2, 6881, hs + 5, 15);
	v.tcp_seq = 6;
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
}

static void test_allow_after_and_no_more_dpi(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	uint64_t inspected;
	int i;

	(void)state;
	engine_reset(&eng);
	lookalikes_init();
	for (i = 0; i < 6; i++) {
		const struct lookalike *l = &lookalikes[3];	/* TLS hello */

		pkt(&v, IPPROTO_TCP, i & 1 ? 3 : 1, i & 1 ? 443 : 40002, i & 1 ? 1 : 3,
		    i & 1 ? 40002 : 443, l->data, l->len);
		v.tcp_seq = 1 + (uint32_t)(i / 2) * (uint32_t)l->len;
		r = run(&v, S);
	}
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	assert_null(r.reason);
	assert_int_equal(r.decided_at, 6);
	inspected = eng.ctr.inspected_packets;
	/* a handshake now is not looked at: the flow is decided */
	pkt(&v, IPPROTO_TCP, 1, 40002, 3, 443, "\x13" "BitTorrent protocol", 20);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	assert_int_equal(eng.ctr.inspected_packets, inspected);
	assert_int_equal(eng.ctr.decided_allow, 1);
}

static void test_endpoint_cache_from_dht(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	char reply[128];
	int n;

	(void)state;
	engine_reset(&eng);
	/* a DHT exchange; the reply names peer 10.0.0.9:7000 */
	pkt(&v, IPPROTO_UDP, 1, 6881, 5, 6881,
	    "d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe",
	    95);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "dht");
	n = snprintf(reply, sizeof(reply), "d1:rd2:id20:abcdefghij01234567895:token2:xx6:valuesl6:%c%c%c%c%c%cee1:t2:aa1:y1:re",
		     10, 0, 0, 9, 0x1b, 0x58);
	pkt(&v, IPPROTO_UDP, 5, 6881, 1, 6881, reply, (size_t)n);
	run(&v, S);
	assert_true(eng.ctr.endpoints_learned >= 1);
	/* an encrypted TCP connection to that peer: blocked at its SYN */
	pkt(&v, IPPROTO_TCP, 1, 40003, 9, 7000, "", 0);
	v.tcp_flags = 0x02;
	r = run(&v, 2 * S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "endpoint-cache");
	assert_int_equal(r.decided_at, 1);
	/* the DHT node itself (responder of a blocked flow) is cached too */
	pkt(&v, IPPROTO_UDP, 1, 6999, 5, 6881, "x", 1);
	assert_int_equal(run(&v, 2 * S).verdict, ENGINE_BLOCK);
	/* another port of that host is not */
	pkt(&v, IPPROTO_UDP, 1, 6999, 5, 53, "x", 1);
	assert_int_equal(run(&v, 2 * S).verdict, ENGINE_UNDECIDED);
	/* entries expire */
	pkt(&v, IPPROTO_TCP, 1, 40004, 9, 7000, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, 2 * S + 3601 * S).verdict, ENGINE_UNDECIDED);
}

/* A handshake flow from host 1:cport to 2:6881, starting with flags. */
static void handshake_flow(uint16_t cport, uint8_t first_flags)
{
	struct pkt_view v;

	if (first_flags == 0x12)	/* the SYN-ACK, from the server */
		pkt(&v, IPPROTO_TCP, 2, 6881, 1, cport, "", 0);
	else
		pkt(&v, IPPROTO_TCP, 1, cport, 2, 6881, "", 0);
	v.tcp_flags = first_flags;
	if (first_flags)
		run(&v, S);
	pkt(&v, IPPROTO_TCP, 1, cport, 2, 6881, "\x13" "BitTorrent protocol", 20);
	v.tcp_seq = 1;
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
}

static void test_only_listening_ports_cached(void **state)
{
	struct pkt_view v;

	(void)state;
	/* seen from the SYN: the server 2:6881 is cached, not 1:50000 */
	engine_reset(&eng);
	handshake_flow(50000, 0x02);
	pkt(&v, IPPROTO_TCP, 3, 40000, 2, 6881, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	pkt(&v, IPPROTO_TCP, 1, 50000, 4, 443, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	/* first seen at the SYN-ACK: the same server found */
	engine_reset(&eng);
	handshake_flow(50001, 0x12);
	pkt(&v, IPPROTO_TCP, 3, 40001, 2, 6881, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	pkt(&v, IPPROTO_TCP, 1, 50001, 4, 443, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	/* caught mid-stream: which side listens is unknown, nothing cached */
	engine_reset(&eng);
	handshake_flow(50002, 0);
	pkt(&v, IPPROTO_TCP, 3, 40002, 2, 6881, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	pkt(&v, IPPROTO_TCP, 1, 50002, 4, 443, "", 0);
	v.tcp_flags = 0x02;
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
}

static void mse_flow(uint8_t client, uint8_t server, uint16_t port, uint64_t now,
		     struct engine_result *r)
{
	struct pkt_view v;
	uint8_t a[300], b[200];

	la_fill(a, sizeof(a), port);
	la_fill(b, sizeof(b), port + 1u);
	pkt(&v, IPPROTO_TCP, client, port, server, 8999, "", 0);
	v.tcp_flags = 0x02;
	run(&v, now);
	pkt(&v, IPPROTO_TCP, client, port, server, 8999, a, sizeof(a));
	v.tcp_seq = 1;
	run(&v, now);
	pkt(&v, IPPROTO_TCP, server, 8999, client, port, b, sizeof(b));
	v.tcp_seq = 1;
	*r = run(&v, now);
}

static void test_mse_needs_known_host(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	char reply[160];
	int n;

	(void)state;
	engine_reset(&eng);
	/* random bytes both ways with no BitTorrent around: entropy alone
	 * never blocks */
	mse_flow(1, 7, 41000, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* host 1 runs a client: its DHT lookup names peer 10.0.0.7:7000 */
	pkt(&v, IPPROTO_UDP, 1, 6881, 5, 6881, "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", 56);
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	n = snprintf(reply, sizeof(reply), "d1:rd2:id20:abcdefghij01234567895:token2:xx6:valuesl6:%c%c%c%c%c%cee1:t2:aa1:y1:re",
		     10, 0, 0, 7, 0x1b, 0x58);
	pkt(&v, IPPROTO_UDP, 5, 6881, 1, 6881, reply, (size_t)n);
	run(&v, S);
	/* a key exchange with that peer on another port: MSE */
	mse_flow(1, 7, 41001, S, &r);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "mse");
	/* the same shape towards a server never learned as a peer (a
	 * messenger, a VPN) is left alone, even from the client's host */
	mse_flow(1, 8, 41002, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* a peer connecting in to the client's host: the host answers */
	mse_flow(9, 1, 41003, S, &r);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "mse");
	/* a known peer whose flow opens with structure is not MSE */
	pkt(&v, IPPROTO_TCP, 1, 41005, 7, 22, "", 0);
	v.tcp_flags = 0x02;
	run(&v, S);
	pkt(&v, IPPROTO_TCP, 1, 41005, 7, 22, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	v.tcp_seq = 1;
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
}

static void test_dht_nodes_are_not_peer_hosts(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	char reply[160];
	int n;

	(void)state;
	engine_reset(&eng);
	/* a find_node reply names node 10.0.0.11:7000 */
	n = snprintf(reply, sizeof(reply), "d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789%c%c%c%c%c%ce1:t2:aa1:y1:re",
		     10, 0, 0, 11, 0x1b, 0x58);
	pkt(&v, IPPROTO_UDP, 5, 6881, 1, 6881, reply, (size_t)n);
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	/* the node's endpoint is known */
	pkt(&v, IPPROTO_UDP, 1, 6881, 11, 7000, "x", 1);
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	/* but its host is not taken for a peer: no MSE verdict on it */
	mse_flow(1, 11, 42000, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
}

static void test_cache_off(void **state)
{
	struct engine e;
	struct engine_config c;
	struct engine_result r;
	struct pkt_view v;

	(void)state;
	engine_config_defaults(&c);
	c.flow_capacity = 64;
	c.endpoint_capacity = 0;
	assert_int_equal(engine_init(&e, &c), 0);
	pkt(&v, IPPROTO_UDP, 1, 6881, 5, 6881,
	    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", 56);
	engine_process(&e, &v, S, &r);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	pkt(&v, IPPROTO_UDP, 1, 7000, 5, 6881, "x", 1);
	engine_process(&e, &v, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	assert_int_equal(e.eps.used, 0);
	engine_fini(&e);
}

static void test_lookalike_flows_allowed(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	uint64_t blocks = eng.ctr.decided_block;
	int i, k;

	(void)state;
	engine_reset(&eng);
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		const struct lookalike *l = &lookalikes[i];
		uint32_t seq[2] = { 1, 1 };

		for (k = 0; k < 8; k++) {
			int d = k & 1;

			pkt(&v, l->l4, d ? 2 : 1, d ? 9000 : (uint16_t)(20000 + i), d ? 1 : 2,
			    d ? (uint16_t)(20000 + i) : 9000, l->data, l->len);
			v.tcp_flags = k == 0 ? 0x02 : 0x18;
			v.tcp_seq = seq[d];
			seq[d] += (uint32_t)l->len;
			r = run(&v, S + (uint64_t)k);
			assert_int_not_equal(r.verdict, ENGINE_BLOCK);
		}
		assert_int_equal(r.verdict, ENGINE_ALLOW);
	}
	assert_int_equal(eng.ctr.decided_block, blocks);
}

/* An allowed flow's later packets take engine_process's short path:
 * counted, aged and moved in the age list as before. */
static void test_allowed_flow_short_path(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	const struct lookalike *l;
	struct flow *f;
	uint64_t now = S, payload, allowed = eng.ctr.decided_allow;
	uint32_t n;
	int i;

	(void)state;
	engine_reset(&eng);
	lookalikes_init();
	l = &lookalikes[3];	/* TLS hello */
	for (i = 0; i < 6; i++) {
		pkt(&v, IPPROTO_TCP, i & 1 ? 3 : 1, i & 1 ? 443 : 40002, i & 1 ? 1 : 3,
		    i & 1 ? 40002 : 443, l->data, l->len);
		v.tcp_seq = 1 + (uint32_t)(i / 2) * (uint32_t)l->len;
		r = run(&v, now);
	}
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	n = r.flow_packets;
	/* both directions, with and without payload, over ten minutes: far
	 * past the idle timeout in total, never idle that long */
	for (i = 0; i < 120; i++) {
		payload = eng.ctr.payload_packets;
		if (i & 1)
			pkt(&v, IPPROTO_TCP, 3, 443, 1, 40002, "", 0);
		else
			pkt(&v, IPPROTO_TCP, 1, 40002, 3, 443, l->data, l->len);
		now += 5 * S;
		r = run(&v, now);
		assert_int_equal(r.verdict, ENGINE_ALLOW);
		assert_null(r.reason);
		assert_int_equal(r.decided_at, 6);
		assert_int_equal(r.flow_packets, ++n);
		assert_int_equal(eng.ctr.payload_packets, payload + !(i & 1));
	}
	f = &eng.flows.flows[eng.flows.recent[flow_recent_slot(&v)]];
	assert_int_equal(f->last_ns, now);
	assert_int_equal(f->linked, (uint32_t)(now >> FLOW_LINK_SHIFT));
	assert_int_equal(eng.flows.age_tail[0], (uint32_t)(f - eng.flows.flows));
	assert_int_equal(eng.ctr.decided_allow, allowed + 1);
	/* idle past the TCP timeout: the same tuple is a new flow */
	now += ((uint64_t)eng.cfg.tcp_timeout_s + 1) * S;
	r = run(&v, now);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	assert_int_equal(r.flow_packets, 1);
}

static void test_counters_snapshot(void **state)
{
	struct engine_counters c;
	struct pkt_view v;

	(void)state;
	engine_reset(&eng);
	pkt(&v, IPPROTO_UDP, 1, 1, 2, 2, "hello", 5);
	run(&v, S);
	engine_counters_get(&eng, &c);
	assert_int_equal(c.packets, eng.ctr.packets);
	assert_int_equal(c.flows_active, 1);
	assert_true(c.flows_inserted >= 1);
	assert_int_equal(c.detector[DPI_DHT], eng.ctr.detector[DPI_DHT]);
	/* idle past the UDP timeout, the flow is gone at the next packet */
	pkt(&v, IPPROTO_UDP, 1, 3, 2, 3, "hello", 5);
	run(&v, 100 * S);
	engine_counters_get(&eng, &c);
	assert_int_equal(c.flows_active, 1);
	assert_true(c.flows_timed_out >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_checks),
		cmocka_unit_test(test_split_handshake_blocks),
		cmocka_unit_test(test_out_of_order_handshake),
		cmocka_unit_test(test_allow_after_and_no_more_dpi),
		cmocka_unit_test(test_endpoint_cache_from_dht),
		cmocka_unit_test(test_only_listening_ports_cached),
		cmocka_unit_test(test_mse_needs_known_host),
		cmocka_unit_test(test_dht_nodes_are_not_peer_hosts),
		cmocka_unit_test(test_cache_off),
		cmocka_unit_test(test_lookalike_flows_allowed),
		cmocka_unit_test(test_allowed_flow_short_path),
		cmocka_unit_test(test_counters_snapshot),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
