/* test_dpi_dht.c - unit tests of the DHT detector (src/dpi/dht.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/dht.c"
#include "dpi_test.h"
#include "lookalikes.h"

#define ID20 "abcdefghij0123456789"

/* One datagram of direction dir on the flow st (NULL: no flow state, the
 * message is only checked), sent by the protected side or not. */
static enum dpi_id check_on(struct dpi_flow *st, int dir, int from_protected, const char *s,
			    size_t len, struct learned *l)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_UDP, 6881, 6881, s, len);
	test_pkt(&p, &v, dir, l);
	p.from_protected = from_protected;
	return dht_check(st, (const uint8_t *)s, len, &p);
}

static enum dpi_id check(const char *s, size_t len, struct learned *l)
{
	return check_on(NULL, 0, 1, s, len, l);
}

static enum dpi_id checks(const char *s)
{
	struct learned l;

	return check(s, strlen(s), &l);
}

static void test_queries(void **state)
{
	(void)state;
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:qe"), DPI_DHT);
	assert_int_equal(checks("d1:ad2:id20:" ID20 "6:target20:" ID20 "e1:q9:find_node1:t2:aa1:y1:qe"),
			 DPI_DHT);
	assert_int_equal(checks("d1:ad2:id20:" ID20 "9:info_hash20:" ID20 "e1:q9:get_peers1:t4:abcd1:y1:qe"),
			 DPI_DHT);
	assert_int_equal(checks("d1:ad2:id20:" ID20 "12:implied_porti1e9:info_hash20:" ID20
				"4:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"), DPI_DHT);
	/* BEP 51, with the client version key */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "6:target20:" ID20 "e1:q17:sample_infohashes"
				"1:t2:xy1:v4:UT011:y1:qe"), DPI_DHT);
}

#define QUERY_AA "d1:ad2:id20:" ID20 "9:info_hash20:" ID20 "e1:q9:get_peers1:t2:aa1:y1:qe"

/* A get_peers reply with transaction id t naming 5.6.7.8:8080 and
 * 9.9.9.9:51413, and a node 1.2.3.4:6881. */
static int reply(char *buf, size_t size, const char *t)
{
	return snprintf(buf, size, "d1:rd2:id20:" ID20 "5:nodes26:" ID20 "%c%c%c%c%c%c"
			"5:token4:abcd6:valuesl6:%c%c%c%c%c%c6:%c%c%c%c%c%cee1:t%zu:%s1:y1:re",
			1, 2, 3, 4, 0x1a, 0xe1, 5, 6, 7, 8, 0x1f, 0x90, 9, 9, 9, 9, 0xc8, 0xd5,
			strlen(t), t);
}

static void test_replies_learn(void **state)
{
	struct dpi_flow st;
	struct learned l;
	char buf[256];
	int n = reply(buf, sizeof(buf), "aa");

	(void)state;
	/* the protected side asks (direction 0), the node answers */
	memset(&st, 0, sizeof(st));
	assert_int_equal(check_on(&st, 0, 1, QUERY_AA, strlen(QUERY_AA), &l), DPI_DHT);
	assert_int_equal(l.n, 0);		/* a query teaches nothing */
	assert_int_equal(check_on(&st, 1, 0, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.family[0], 4);
	assert_memory_equal(l.addr[0], "\x01\x02\x03\x04", 4);
	assert_int_equal(l.port[0], 6881);	/* the node */
	assert_int_equal(l.port[1], 8080);
	assert_int_equal(l.port[2], 51413);
	assert_int_equal(st.proof, 2);		/* the answering side spoke DHT */
	/* one answer per query: the same reply again teaches nothing */
	assert_int_equal(check_on(&st, 1, 0, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
}

static void test_unsolicited_replies_teach_nothing(void **state)
{
	struct dpi_flow st;
	struct learned l;
	char buf[256], other[256];
	int n = reply(buf, sizeof(buf), "aa"), m = reply(other, sizeof(other), "ab");

	(void)state;
	/* an answer to nothing */
	memset(&st, 0, sizeof(st));
	assert_int_equal(check_on(&st, 1, 0, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
	assert_int_equal(st.proof, 0);
	/* an answer with another transaction id */
	assert_int_equal(check_on(&st, 0, 1, QUERY_AA, strlen(QUERY_AA), &l), DPI_DHT);
	assert_int_equal(check_on(&st, 1, 0, other, (size_t)m, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
	/* an "answer" from the side that asked */
	assert_int_equal(check_on(&st, 0, 1, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
	/* a query from outside arms nothing: its answer is not learned */
	memset(&st, 0, sizeof(st));
	assert_int_equal(check_on(&st, 1, 0, QUERY_AA, strlen(QUERY_AA), &l), DPI_DHT);
	assert_int_equal(check_on(&st, 0, 1, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
	/* nodes and values carried by a query are never learned */
	n = snprintf(buf, sizeof(buf), "d1:ad2:id20:" ID20 "5:nodes26:" ID20 "%c%c%c%c%c%c"
		     "e1:q4:ping1:t2:aa1:y1:qe", 1, 2, 3, 4, 0x1a, 0xe1);
	memset(&st, 0, sizeof(st));
	assert_int_equal(check_on(&st, 1, 0, buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
	/* without flow state nothing is learned either */
	n = reply(buf, sizeof(buf), "aa");
	assert_int_equal(check(buf, (size_t)n, &l), DPI_DHT);
	assert_int_equal(l.n, 0);
}

static void test_error(void **state)
{
	(void)state;
	assert_int_equal(checks("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"), DPI_DHT);
	assert_int_equal(checks("d1:eli201ee1:t2:aa1:y1:ee"), DPI_NONE);	/* no message */
}

static void test_structure_negatives(void **state)
{
	(void)state;
	/* id of the wrong length */
	assert_int_equal(checks("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe"), DPI_NONE);
	/* unknown query name */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q5:hello1:t2:aa1:y1:qe"), DPI_NONE);
	/* no transaction id */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q4:ping1:y1:qe"), DPI_NONE);
	/* bad y */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:xe"), DPI_NONE);
	/* nodes not a multiple of 26 */
	assert_int_equal(checks("d1:rd2:id20:" ID20 "5:nodes25:" ID20 "12345e1:t2:aa1:y1:re"), DPI_NONE);
	/* a value of 7 bytes */
	assert_int_equal(checks("d1:rd2:id20:" ID20 "6:valuesl7:1234567ee1:t2:aa1:y1:re"), DPI_NONE);
	/* trailing garbage after the dictionary */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:qeXX"), DPI_NONE);
	/* truncated */
	assert_int_equal(checks("d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:q"), DPI_NONE);
}

static void test_oversized(void **state)
{
	static char big[4096];
	struct learned l;
	size_t n;

	(void)state;
	/* a valid query padded with a long value: beyond any datagram the
	 * DHT sends, so not looked at */
	n = (size_t)snprintf(big, sizeof(big), "d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:z3000:");
	memset(big + n, 'x', 3000);
	big[n + 3000] = 'e';
	assert_int_equal(check(big, n + 3001, &l), DPI_NONE);
	/* the same shape kept small is fine */
	n = (size_t)snprintf(big, sizeof(big), "d1:ad2:id20:" ID20 "e1:q4:ping1:t2:aa1:y1:qe");
	assert_int_equal(check(big, n, &l), DPI_DHT);
}

static void test_lookalikes(void **state)
{
	struct learned l;
	int i;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		assert_int_equal(check((const char *)lookalikes[i].data, lookalikes[i].len, &l), DPI_NONE);
	assert_int_equal(l.n, 0);
}

static void test_every_prefix_is_rejected(void **state)
{
	const char *s = "d1:ad2:id20:" ID20 "9:info_hash20:" ID20 "e1:q9:get_peers1:t2:aa1:y1:qe";
	size_t i, n = strlen(s);

	(void)state;
	for (i = 0; i < n; i++) {
		char *c = malloc(i + 1);
		struct learned l;

		memcpy(c, s, i);
		assert_int_equal(check(c, i, &l), DPI_NONE);
		free(c);
	}
	assert_int_equal(checks(s), DPI_DHT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_replies_learn),
		cmocka_unit_test(test_unsolicited_replies_teach_nothing),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_structure_negatives),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_lookalikes),
		cmocka_unit_test(test_every_prefix_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
