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

/* Hosts 10.0.0.1 to .127 are the protected side, .128 and up the rest
 * of the world. */
#define LAN_PREFIX "10.0.0.0/25"

static struct engine eng;

static int setup(void **state)
{
	struct engine_config c;

	(void)state;
	engine_config_defaults(&c);
	c.flow_capacity = 256;
	c.allow_after = 6;
	if (protect_parse(&c.protect, LAN_PREFIX) < 0)
		return -1;
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

/* The handshake of TCP flow a:pa -> b:pb (SYN, SYN-ACK, sequence numbers
 * 0): the flow's start is seen. */
static void tcp_handshake(uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint64_t now)
{
	struct pkt_view v;

	pkt(&v, IPPROTO_TCP, a, pa, b, pb, "", 0);
	v.tcp_flags = 0x02;
	v.tcp_seq = 0;
	(void)run(&v, now);
	pkt(&v, IPPROTO_TCP, b, pb, a, pa, "", 0);
	v.tcp_flags = 0x12;
	v.tcp_seq = 0;
	v.tcp_ack = 1;
	(void)run(&v, now);
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
	assert_string_equal(dpi_name(DPI_DHT), "dht");
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
	tcp_handshake(1, 40002, 3, 443, S);
	for (i = 0; i < 6; i++) {
		const struct lookalike *l = &lookalikes[3];	/* TLS hello */

		pkt(&v, IPPROTO_TCP, i & 1 ? 3 : 1, i & 1 ? 443 : 40002, i & 1 ? 1 : 3,
		    i & 1 ? 40002 : 443, l->data, l->len);
		v.tcp_seq = 1 + (uint32_t)(i / 2) * (uint32_t)l->len;
		r = run(&v, S);
	}
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	assert_null(r.reason);
	assert_int_equal(r.decided_at, 8);	/* the handshake and 6 payload packets */
	inspected = eng.ctr.inspected_packets;
	/* a handshake now is not looked at: the flow is decided */
	pkt(&v, IPPROTO_TCP, 1, 40002, 3, 443, "\x13" "BitTorrent protocol", 20);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	assert_int_equal(eng.ctr.inspected_packets, inspected);
	assert_int_equal(eng.ctr.decided_allow, 1);
}

#define GET_PEERS_AA "d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij0123456789" \
	"e1:q9:get_peers1:t2:aa1:y1:qe"

/* A DHT reply with transaction id t naming peer 10.0.0.h:port. */
static int values_reply(char *buf, size_t size, const char *t, uint8_t h, uint16_t port)
{
	return snprintf(buf, size, "d1:rd2:id20:abcdefghij01234567895:token2:xx6:valuesl6:"
			"%c%c%c%c%c%cee1:t%zu:%s1:y1:re", 10, 0, 0, h, port >> 8, port & 0xff,
			strlen(t), t);
}

/* Host lan asks DHT node 10.0.0.node, which answers naming peer:port. */
static void dht_lookup(uint8_t lan, uint8_t node, uint8_t peer, uint16_t port, uint64_t now)
{
	struct pkt_view v;
	struct engine_result r;
	char reply[128];
	int n = values_reply(reply, sizeof(reply), "aa", peer, port);

	pkt(&v, IPPROTO_UDP, lan, 6881, node, 6881, GET_PEERS_AA, strlen(GET_PEERS_AA));
	r = run(&v, now);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "dht");
	pkt(&v, IPPROTO_UDP, node, 6881, lan, 6881, reply, (size_t)n);
	run(&v, now);
}

/* A TCP flow from lan:cport to host:port: the SYN, the SYN-ACK, then the
 * client's first segment d (acknowledging the SYN-ACK). */
static struct engine_result tcp_open(uint8_t lan, uint16_t cport, uint8_t host, uint16_t port,
				     const void *d, size_t len, uint64_t now)
{
	struct pkt_view v;

	pkt(&v, IPPROTO_TCP, lan, cport, host, port, "", 0);
	v.tcp_flags = 0x02;
	v.tcp_seq = 100;
	run(&v, now);
	pkt(&v, IPPROTO_TCP, host, port, lan, cport, "", 0);
	v.tcp_flags = 0x12;
	v.tcp_seq = 5000;
	v.tcp_ack = 101;
	run(&v, now);
	pkt(&v, IPPROTO_TCP, lan, cport, host, port, d, len);
	v.tcp_seq = 101;
	v.tcp_ack = 5001;
	return run(&v, now);
}

static const uint8_t random_bytes[] = {
	0x8e, 0x3b, 0xd1, 0x52, 0x07, 0xfa, 0x6c, 0x91, 0x2d, 0xb4, 0x78, 0xe3, 0x19, 0xc6, 0x5f, 0xa0,
	0x44, 0x9d, 0xf2, 0x63, 0x0b, 0xe8, 0x37, 0xca, 0x85, 0x1e, 0x70, 0xbd, 0x29, 0x96, 0xd4, 0x5a,
};

static void test_endpoint_cache_from_dht(void **state)
{
	struct pkt_view v;
	struct engine_result r;

	uint64_t learned = eng.ctr.endpoints_learned;

	(void)state;
	engine_reset(&eng);
	/* the protected host 1 asks node 200, which names peer .209:7000 */
	dht_lookup(1, 200, 209, 7000, S);
	/* the peer, the node and host 1's DHT port (both spoke DHT) */
	assert_int_equal(eng.ctr.endpoints_learned, learned + 3);
	/* a TCP flow to that peer is suspect, not blocked at its SYN... */
	pkt(&v, IPPROTO_TCP, 1, 40003, 209, 7000, "", 0);
	v.tcp_flags = 0x02;
	r = run(&v, 2 * S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* ...but random bytes on it (an encrypted handshake) are */
	pkt(&v, IPPROTO_TCP, 1, 40003, 209, 7000, random_bytes, sizeof(random_bytes));
	v.tcp_seq = 1;
	r = run(&v, 2 * S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "endpoint-cache");
	assert_int_equal(r.ban, 0);		/* evidence never bans */
	/* the node answered: its own endpoint is confirmed */
	pkt(&v, IPPROTO_UDP, 1, 6999, 200, 6881, "x", 1);
	assert_int_equal(run(&v, 2 * S).verdict, ENGINE_BLOCK);
	/* another port of those hosts, or the host itself, is not suspect */
	pkt(&v, IPPROTO_UDP, 1, 6999, 200, 5000, "x", 1);
	assert_int_equal(run(&v, 2 * S).verdict, ENGINE_UNDECIDED);
	r = tcp_open(1, 40005, 209, 8388, random_bytes, sizeof(random_bytes), 2 * S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* entries expire */
	pkt(&v, IPPROTO_TCP, 1, 40004, 209, 7000, random_bytes, sizeof(random_bytes));
	assert_int_equal(run(&v, 2 * S + 3601 * S).verdict, ENGINE_UNDECIDED);
}

static void test_suspect_flow_of_another_protocol_passes(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	int i;

	(void)state;
	engine_reset(&eng);
	lookalikes_init();
	dht_lookup(1, 200, 209, 7000, S);
	/* a TLS connection to the learned peer's port: judged on its own */
	r = tcp_open(1, 40010, 209, 7000, lookalikes[3].data, lookalikes[3].len, 2 * S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	for (i = 0; i < 5; i++) {
		pkt(&v, IPPROTO_TCP, i & 1 ? 1 : 209, i & 1 ? 40010 : 7000, i & 1 ? 209 : 1,
		    i & 1 ? 7000 : 40010, "data", 4);
		r = run(&v, 2 * S);
	}
	assert_int_equal(r.verdict, ENGINE_ALLOW);
}

static void test_unsolicited_answers_teach_nothing(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	char reply[128];
	int n;

	uint64_t learned = eng.ctr.endpoints_learned;

	(void)state;
	engine_reset(&eng);
	/* an answer from outside to no query of the protected side */
	n = values_reply(reply, sizeof(reply), "aa", 209, 7000);
	pkt(&v, IPPROTO_UDP, 200, 6881, 1, 6881, reply, (size_t)n);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);	/* the flow itself is DHT */
	assert_int_equal(r.ban, 0);
	/* the protected host's own query after it arms nothing for old news */
	pkt(&v, IPPROTO_UDP, 1, 6881, 200, 6881, GET_PEERS_AA, strlen(GET_PEERS_AA));
	run(&v, S);
	/* a reply with the wrong transaction id */
	n = values_reply(reply, sizeof(reply), "zz", 209, 7001);
	pkt(&v, IPPROTO_UDP, 200, 6881, 1, 6881, reply, (size_t)n);
	run(&v, S);
	assert_int_equal(eng.ctr.endpoints_learned, learned);
	r = tcp_open(1, 40020, 209, 7000, random_bytes, sizeof(random_bytes), S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	r = tcp_open(1, 40021, 209, 7001, random_bytes, sizeof(random_bytes), S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* a handshake from outside to a protected server: its flow is
	 * blocked, the server is not taken for a peer */
	r = tcp_open(210, 50000, 5, 8443, "\x13" "BitTorrent protocol", 20, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 0);
	r = tcp_open(211, 50001, 5, 8443, random_bytes, sizeof(random_bytes), S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	assert_int_equal(eng.ctr.endpoints_learned, learned);
}

static void test_ban_needs_the_protected_side(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	const char *hs = "\x13" "BitTorrent protocol";
	uint64_t learned = eng.ctr.endpoints_learned, bans = eng.ctr.decided_ban;

	(void)state;
	engine_reset(&eng);
	/* the protected client's handshake, acknowledging the SYN-ACK: ban */
	r = tcp_open(1, 40030, 200, 6881, hs, 20, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 1);
	assert_int_equal(eng.ctr.decided_ban, bans + 1);
	/* the server never spoke BitTorrent: it is not learned */
	assert_int_equal(eng.ctr.endpoints_learned, learned);
	/* a blind spoofer of the client's address: the ACK misses the
	 * SYN-ACK's sequence number */
	pkt(&v, IPPROTO_TCP, 2, 40031, 201, 443, "", 0);
	v.tcp_flags = 0x02;
	run(&v, S);
	pkt(&v, IPPROTO_TCP, 201, 443, 2, 40031, "", 0);
	v.tcp_flags = 0x12;
	v.tcp_seq = 777777;
	run(&v, S);
	pkt(&v, IPPROTO_TCP, 2, 40031, 201, 443, hs, 20);
	v.tcp_ack = 12345;
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 0);
	/* a handshake caught mid-stream, one way: no ban */
	pkt(&v, IPPROTO_TCP, 3, 40032, 202, 6881, hs, 20);
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 0);
	/* one DHT query: blocked, never banned */
	pkt(&v, IPPROTO_UDP, 4, 6881, 203, 6881, GET_PEERS_AA, strlen(GET_PEERS_AA));
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 0);
	/* between two hosts outside the protected side: never banned */
	r = tcp_open(204, 40033, 205, 6881, hs, 20, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(r.ban, 0);
	assert_int_equal(eng.ctr.decided_ban, bans + 1);
}

/* Only a protected host's own BitTorrent on a genuine two-way flow notes
 * it as running BitTorrent: the rule of a ban, side by side. */
static void test_bt_hosts(void **state)
{
	struct bthosts hosts;
	struct pkt_view v;
	const char *hs = "\x13" "BitTorrent protocol";
	const uint8_t host1[16] = { 10, 0, 0, 1 }, host2[16] = { 10, 0, 0, 2 },
		host3[16] = { 10, 0, 0, 3 }, host4[16] = { 10, 0, 0, 4 }, host5[16] = { 10, 0, 0, 5 },
		far[16] = { 10, 0, 0, 204 };

	(void)state;
	engine_reset(&eng);
	/* without a table: never */
	tcp_open(1, 40040, 200, 6881, hs, 20, S);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host1, 3600 * S), 0);
	assert_int_equal(bthosts_init(&hosts, 2, 1), 0);
	engine_set_bthosts(&eng, &hosts, 1);
	/* the protected client's handshake, acknowledging the SYN-ACK */
	tcp_open(1, 40041, 200, 6881, hs, 20, 10 * S);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host1, 0), 1);
	pkt(&v, IPPROTO_UDP, 9, 5000, 9, 5001, "", 0);
	run(&v, 20 * S);	/* the engine's clock moves on */
	assert_int_equal(engine_bt_host_recent(&eng, 4, host1, 10 * S), 1);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host1, 10 * S - 1), 0);
	/* it went into this engine's region */
	assert_int_equal(hosts.regions[1].added, 1);
	assert_int_equal(hosts.regions[0].added, 0);
	/* a blind spoofer of host 2: its ACK misses the SYN-ACK */
	pkt(&v, IPPROTO_TCP, 2, 40042, 201, 6881, "", 0);
	v.tcp_flags = 0x02;
	run(&v, 20 * S);
	pkt(&v, IPPROTO_TCP, 201, 6881, 2, 40042, "", 0);
	v.tcp_flags = 0x12;
	v.tcp_seq = 777777;
	run(&v, 20 * S);
	pkt(&v, IPPROTO_TCP, 2, 40042, 201, 6881, hs, 20);
	v.tcp_ack = 12345;
	assert_int_equal(run(&v, 20 * S).verdict, ENGINE_BLOCK);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host2, 3600 * S), 0);
	/* one way mid-stream, and one DHT query: not genuine, not noted */
	pkt(&v, IPPROTO_TCP, 3, 40043, 202, 6881, hs, 20);
	assert_int_equal(run(&v, 20 * S).verdict, ENGINE_BLOCK);
	pkt(&v, IPPROTO_UDP, 4, 6881, 203, 6881, GET_PEERS_AA, strlen(GET_PEERS_AA));
	assert_int_equal(run(&v, 20 * S).verdict, ENGINE_BLOCK);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host3, 3600 * S), 0);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host4, 3600 * S), 0);
	/* a query answered (both ways spoke DHT): noted */
	dht_lookup(5, 205, 209, 7000, 21 * S);
	assert_int_equal(engine_bt_host_recent(&eng, 4, host5, S), 1);
	/* hosts outside the protected side never */
	tcp_open(204, 40044, 206, 6881, hs, 20, 21 * S);
	assert_int_equal(engine_bt_host_recent(&eng, 4, far, 3600 * S), 0);
	engine_set_bthosts(&eng, NULL, 0);
	bthosts_fini(&hosts);
}

static void test_answered_handshake_confirms_peer(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	const char *hs = "\x13" "BitTorrent protocol";
	uint64_t learned = eng.ctr.endpoints_learned;

	(void)state;
	engine_reset(&eng);
	r = tcp_open(1, 50000, 200, 6881, hs, 20, S);
	assert_int_equal(r.ban, 1);
	/* the peer answers (the packets in flight before the kernel drops
	 * the flow, or a capture): its listening endpoint is confirmed */
	pkt(&v, IPPROTO_TCP, 200, 6881, 1, 50000, hs, 20);
	v.tcp_seq = 5001;
	run(&v, S);
	assert_int_equal(eng.ctr.endpoints_learned, learned + 1);
	r = tcp_open(3, 40000, 200, 6881, random_bytes, sizeof(random_bytes), S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "endpoint-cache");
	/* the client's ephemeral port is not */
	r = tcp_open(4, 40001, 1, 50000, random_bytes, sizeof(random_bytes), S);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
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

static void test_mse_needs_known_peer(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	uint8_t a[300], b[200];

	(void)state;
	engine_reset(&eng);
	/* random bytes both ways with no BitTorrent around: entropy alone
	 * never blocks */
	mse_flow(1, 207, 41000, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* a key exchange under way when host 1's DHT lookup names the
	 * answering side, 10.0.0.207:8999: MSE */
	la_fill(a, sizeof(a), 41001);
	la_fill(b, sizeof(b), 41002);
	pkt(&v, IPPROTO_TCP, 1, 41001, 207, 8999, "", 0);
	v.tcp_flags = 0x02;
	run(&v, S);
	pkt(&v, IPPROTO_TCP, 1, 41001, 207, 8999, a, sizeof(a));
	v.tcp_seq = 1;
	run(&v, S);
	dht_lookup(1, 200, 207, 8999, S);
	pkt(&v, IPPROTO_TCP, 207, 8999, 1, 41001, b, sizeof(b));
	v.tcp_seq = 1;
	r = run(&v, S);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "mse");
	assert_int_equal(r.ban, 0);		/* shape and evidence, not proof */
	/* a new flow to that peer is suspect from its first bytes */
	mse_flow(1, 207, 41003, S, &r);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "endpoint-cache");
	/* the same shape towards a server never learned as a peer (a
	 * messenger, a VPN) is left alone, even from the client's host */
	mse_flow(1, 208, 41004, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* a known peer's host on a port never learned is not suspect */
	pkt(&v, IPPROTO_TCP, 1, 41005, 207, 22, "", 0);
	v.tcp_flags = 0x02;
	run(&v, S);
	pkt(&v, IPPROTO_TCP, 1, 41005, 207, 22, random_bytes, sizeof(random_bytes));
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
	/* a find_node answer to host 1 names node 10.0.0.211:7000 */
	pkt(&v, IPPROTO_UDP, 1, 6881, 200, 6881, GET_PEERS_AA, strlen(GET_PEERS_AA));
	run(&v, S);
	n = snprintf(reply, sizeof(reply), "d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789%c%c%c%c%c%ce1:t2:aa1:y1:re",
		     10, 0, 0, 211, 0x1b, 0x58);
	pkt(&v, IPPROTO_UDP, 200, 6881, 1, 6881, reply, (size_t)n);
	run(&v, S);
	/* the node's endpoint is suspect */
	pkt(&v, IPPROTO_UDP, 1, 6881, 211, 7000, "x", 1);
	assert_int_equal(run(&v, S).verdict, ENGINE_BLOCK);
	/* but its host is not taken for a peer: no MSE verdict on it */
	mse_flow(1, 211, 42000, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
}

static void test_conversation_survives_flood(void **state)
{
	struct engine e;
	struct engine_config c;
	struct engine_result r;
	struct pkt_view v;
	uint8_t a[300], b[200];
	uint32_t i;

	(void)state;
	engine_config_defaults(&c);
	c.flow_capacity = 64;
	assert_int_equal(protect_parse(&c.protect, LAN_PREFIX), 0);
	assert_int_equal(engine_init(&e, &c), 0);
	/* an encrypted key exchange in progress, both ways */
	la_fill(a, sizeof(a), 7);
	la_fill(b, sizeof(b), 8);
	pkt(&v, IPPROTO_TCP, 1, 40000, 200, 6881, "", 0);
	v.tcp_flags = 0x02;
	engine_process(&e, &v, S, &r);
	pkt(&v, IPPROTO_TCP, 1, 40000, 200, 6881, a, sizeof(a));
	v.tcp_seq = 1;
	engine_process(&e, &v, S, &r);
	pkt(&v, IPPROTO_TCP, 200, 6881, 1, 40000, b, sizeof(b));
	v.tcp_seq = 1;
	engine_process(&e, &v, S, &r);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* a thousand new one-packet flows from outside */
	for (i = 0; i < 1000; i++) {
		pkt(&v, i & 1 ? IPPROTO_UDP : IPPROTO_TCP, (uint8_t)(128 + i % 100), (uint16_t)(1024 + i),
		    1, 80, "", 0);
		v.tcp_flags = 0x02;
		engine_process(&e, &v, S + i, &r);
	}
	assert_true(e.flows.evicted >= 1000 - 64);
	/* the exchange goes on in the same flow: its third packet is its
	 * fourth, and the 68-byte handshake inside confirms MSE */
	pkt(&v, IPPROTO_TCP, 1, 40000, 200, 6881, a, 68);
	v.tcp_seq = 301;
	engine_process(&e, &v, 2 * S, &r);
	assert_int_equal(r.flow_packets, 4);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "mse");
	engine_fini(&e);
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
	tcp_handshake(1, 40002, 3, 443, now);
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
		assert_int_equal(r.decided_at, 8);	/* handshake + 6 */
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


/* n mid-stream TCP segments of len random bytes from src:sport to
 * dst:dport, sequence numbers from seq: none decides the flow. */
static void mid_bulk(int src, uint16_t sport, int dst, uint16_t dport, int n, size_t len,
		     uint32_t seq)
{
	static uint8_t d[2896];
	struct pkt_view v;
	int i;

	la_fill(d, len, seq);
	for (i = 0; i < n; i++) {
		pkt(&v, IPPROTO_TCP, src, sport, dst, dport, d, len);
		v.tcp_seq = seq + (uint32_t)(len * (size_t)i);
		assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	}
}

/* A TCP flow met in its middle (running before the daemon started): more
 * payload packets from each side before it is allowed, and encrypted
 * requests from the protected side block it, without a ban (one side's
 * statistics). */
static void test_midstream_flows(void **state)
{
	static const size_t req[] = { 102, 136, 68, 17, 366 };
	struct pkt_view v;
	struct engine_result r;
	uint8_t d[2896];
	uint32_t seq_a = 7000, seq_b = 900000;
	int i;

	(void)state;
	engine_reset(&eng);
	lookalikes_init();
	la_fill(d, sizeof(d), 5);
	/* random bulk both ways, no request shape: allowed after 2 x 6 each */
	for (i = 0; i < 24; i++) {
		pkt(&v, IPPROTO_TCP, i & 1 ? 200 : 1, i & 1 ? 51000 : 40010,
		    i & 1 ? 1 : 200, i & 1 ? 40010 : 51000, d, 1448);
		v.tcp_seq = i & 1 ? seq_b : seq_a;
		if (i & 1)
			seq_b += 1448;
		else
			seq_a += 1448;
		r = run(&v, S);
		assert_int_equal(r.verdict, i < 23 ? ENGINE_UNDECIDED : ENGINE_ALLOW);
	}
	/* the protected host 1 downloads: bulk in, requests out */
	pkt(&v, IPPROTO_TCP, 200, 51001, 1, 40011, d, sizeof(d));
	assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
	for (i = 0; i < 5; i++) {
		la_fill(d, req[i], 30 + (uint32_t)i);
		pkt(&v, IPPROTO_TCP, 1, 40011, 200, 51001, d, req[i]);
		v.tcp_seq = 5000 + 1000 * (uint32_t)i;
		r = run(&v, S);
		assert_int_equal(r.verdict, i < 4 ? ENGINE_UNDECIDED : ENGINE_BLOCK);
	}
	assert_string_equal(r.reason, "mse");
	assert_int_equal(r.ban, 0);

	/* Met just after its key exchange (the ruleset arrived then): the
	 * peer's bulk fills its 16 queued packets first, the client's first
	 * segments are the encrypted handshake, bitfield and interested, and
	 * its requests come after: the window of each direction waits for
	 * them (a window of 24 over both directions allowed this flow at the
	 * client's eighth segment). */
	{
		static const size_t client[] = { 368, 68, 175, 5, 102, 17, 34, 51, 17 };

		mid_bulk(200, 51002, 1, 40012, 16, 2896, 100000);
		for (i = 0; i < 9; i++) {
			la_fill(d, client[i], 60 + (uint32_t)i);
			pkt(&v, IPPROTO_TCP, 1, 40012, 200, 51002, d, client[i]);
			v.tcp_seq = 20000 + 1000 * (uint32_t)i;
			r = run(&v, S);
			assert_int_equal(r.verdict, i < 8 ? ENGINE_UNDECIDED : ENGINE_BLOCK);
		}
		assert_string_equal(r.reason, "mse");
	}

	/* One side only (the other sends bare acknowledgements, never
	 * queued): the flow stays undecided, the ruleset's budget ends it. */
	mid_bulk(200, 51003, 1, 40013, 16, 1448, 300000);

	/* A stranger's requests: the remote sends request-shaped segments
	 * while the protected host sends bulk (its upload, or a service's
	 * data). The remote's word blocks nothing: once each side has sent
	 * 12, the flow is allowed. */
	{
		static const size_t remote[] = { 17, 68, 26, 17, 85, 17, 68, 17, 17, 94, 17, 68 };

		mid_bulk(1, 40014, 200, 51004, 11, 2896, 500000);
		for (i = 0; i < 12; i++) {
			la_fill(d, remote[i], 80 + (uint32_t)i);
			pkt(&v, IPPROTO_TCP, 200, 51004, 1, 40014, d, remote[i]);
			v.tcp_seq = 70000 + 1000 * (uint32_t)i;
			assert_int_equal(run(&v, S).verdict, ENGINE_UNDECIDED);
		}
		la_fill(d, 2896, 90);
		pkt(&v, IPPROTO_TCP, 1, 40014, 200, 51004, d, 2896);
		v.tcp_seq = 500000 + 2896 * 11;
		r = run(&v, S);
		assert_int_equal(r.verdict, ENGINE_ALLOW);
	}
}


/* A uTP header of the given type, connection id, seq and ack, then
 * payload bytes: n bytes in all. */
static size_t utp_hdr(uint8_t *b, size_t n, int type, uint16_t conn, uint16_t seq, uint16_t ack)
{
	memset(b, 0x5a, n);
	b[0] = (uint8_t)(type << 4 | 1);
	b[1] = 0;
	b[2] = (uint8_t)(conn >> 8);
	b[3] = (uint8_t)conn;
	memset(b + 4, 0x11, 8);		/* timestamp, difference */
	b[12] = 0; b[13] = 0x10; b[14] = 0; b[15] = 0;	/* window */
	b[16] = (uint8_t)(seq >> 8);
	b[17] = (uint8_t)seq;
	b[18] = (uint8_t)(ack >> 8);
	b[19] = (uint8_t)ack;
	return n;
}

/* uTP met in its middle, a download: a burst of data before the first
 * acknowledgement keeps the flow open, the acknowledgements settle it. */
static void test_midstream_utp(void **state)
{
	struct pkt_view v;
	struct engine_result r;
	uint8_t b[1200];
	int i;

	(void)state;
	engine_reset(&eng);
	for (i = 0; i < 8; i++) {
		pkt(&v, IPPROTO_UDP, 200, 51404, 1, 51504, b,
		    utp_hdr(b, sizeof(b), 0, 700, (uint16_t)(3000 + i), 90));
		r = run(&v, S);
		assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	}
	for (i = 0; i < 3 && r.verdict == ENGINE_UNDECIDED; i++) {
		pkt(&v, IPPROTO_UDP, 1, 51504, 200, 51404, b,
		    utp_hdr(b, 20, 2, 701, 90, (uint16_t)(3007 + i)));
		r = run(&v, S);
		if (r.verdict == ENGINE_UNDECIDED) {
			pkt(&v, IPPROTO_UDP, 200, 51404, 1, 51504, b,
			    utp_hdr(b, sizeof(b), 0, 700, (uint16_t)(3008 + i), 90));
			r = run(&v, S);
		}
	}
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "utp");
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
		cmocka_unit_test(test_suspect_flow_of_another_protocol_passes),
		cmocka_unit_test(test_unsolicited_answers_teach_nothing),
		cmocka_unit_test(test_ban_needs_the_protected_side),
		cmocka_unit_test(test_bt_hosts),
		cmocka_unit_test(test_answered_handshake_confirms_peer),
		cmocka_unit_test(test_mse_needs_known_peer),
		cmocka_unit_test(test_dht_nodes_are_not_peer_hosts),
		cmocka_unit_test(test_conversation_survives_flood),
		cmocka_unit_test(test_cache_off),
		cmocka_unit_test(test_lookalike_flows_allowed),
		cmocka_unit_test(test_allowed_flow_short_path),
		cmocka_unit_test(test_midstream_flows),
		cmocka_unit_test(test_midstream_utp),
		cmocka_unit_test(test_counters_snapshot),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
