/* test_flow.c - unit tests of the flow table (src/flow.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/flow.c"
#include "dpi_test.h"

#define S 1000000000ULL

static void view(struct pkt_view *v, int l4, uint8_t host, uint16_t sport, uint16_t dport, int rev)
{
	test_view(v, l4, sport, dport, "", 0);
	v->saddr[3] = host;
	if (rev) {
		uint8_t t[16];
		uint16_t p = v->sport;

		memcpy(t, v->saddr, 16);
		memcpy(v->saddr, v->daddr, 16);
		memcpy(v->daddr, t, 16);
		v->sport = v->dport;
		v->dport = p;
	}
}

static int ended;
static enum flow_end last_why;

static void on_end(void *arg, const struct flow *f, enum flow_end why)
{
	(void)arg;
	(void)f;
	ended++;
	last_why = why;
}

static void test_both_directions_one_entry(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *f, *g;
	int dir, created;

	(void)state;
	assert_int_equal(flow_table_init(&t, 64, 256, 300, 60, 1), 0);
	view(&v, IPPROTO_TCP, 1, 40000, 443, 0);
	f = flow_lookup(&t, &v, S, &dir, &created);
	assert_non_null(f);
	assert_int_equal(created, 1);
	assert_int_equal(dir, 0);
	view(&v, IPPROTO_TCP, 1, 40000, 443, 1);
	g = flow_lookup(&t, &v, S, &dir, &created);
	assert_ptr_equal(f, g);
	assert_int_equal(created, 0);
	assert_int_equal(dir, 1);
	/* the bucket kept for removal is the one either direction hashes to */
	assert_int_equal(f->bucket, bucket_of(&t, v.saddr, v.sport, v.daddr, v.dport,
					      v.l4proto, v.family));
	assert_int_equal(f->bucket, bucket_of(&t, v.daddr, v.dport, v.saddr, v.sport,
					      v.l4proto, v.family));
	/* the same ports over UDP are another flow */
	view(&v, IPPROTO_UDP, 1, 40000, 443, 0);
	g = flow_lookup(&t, &v, S, &dir, &created);
	assert_ptr_not_equal(f, g);
	assert_int_equal(t.count, 2);
	assert_int_equal(t.inserted, 2);
	/* ICMP has no flow */
	v.l4proto = 1;
	assert_null(flow_lookup(&t, &v, S, &dir, &created));
	flow_table_fini(&t);
}

static void test_ipv6(void **state)
{
	struct flow_table t;
	struct pkt_view v, w;
	struct flow *f;
	int dir, created;

	(void)state;
	assert_int_equal(flow_table_init(&t, 16, 0, 300, 60, 1), 0);
	view(&v, IPPROTO_UDP, 1, 6881, 6881, 0);
	v.family = 6;
	memset(v.saddr, 0x20, 16);
	memset(v.daddr, 0x30, 16);
	f = flow_lookup(&t, &v, S, &dir, &created);
	w = v;
	memcpy(w.saddr, v.daddr, 16);
	memcpy(w.daddr, v.saddr, 16);
	assert_ptr_equal(flow_lookup(&t, &w, S, &dir, &created), f);
	assert_int_equal(dir, 1);
	/* same bytes as IPv4 is another flow */
	w.family = 4;
	assert_ptr_not_equal(flow_lookup(&t, &w, S, &dir, &created), f);
	flow_table_fini(&t);
}

static void test_timeouts(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *f;
	int dir, created;

	(void)state;
	assert_int_equal(flow_table_init(&t, 64, 0, 300, 60, 1), 0);
	t.on_end = on_end;
	ended = 0;
	view(&v, IPPROTO_TCP, 1, 1000, 80, 0);
	flow_lookup(&t, &v, 0, &dir, &created);
	view(&v, IPPROTO_UDP, 1, 1000, 53, 0);
	f = flow_lookup(&t, &v, 0, &dir, &created);
	flow_touch(&t, f, 0);
	/* at 61 s only the UDP flow is idle for too long */
	assert_int_equal(flow_expire(&t, 61 * S, 100), 1);
	assert_int_equal(ended, 1);
	assert_int_equal(last_why, FLOW_END_TIMEOUT);
	assert_int_equal(t.count, 1);
	assert_int_equal(flow_expire(&t, 299 * S, 100), 0);
	assert_int_equal(flow_expire(&t, 301 * S, 100), 1);
	assert_int_equal(t.timed_out, 2);
	/* an idle flow met again by lookup is replaced by a fresh one */
	view(&v, IPPROTO_UDP, 1, 1000, 53, 0);
	f = flow_lookup(&t, &v, 400 * S, &dir, &created);
	f->packets = 9;
	f = flow_lookup(&t, &v, 500 * S, &dir, &created);
	assert_int_equal(created, 1);
	assert_int_equal(f->packets, 0);
	assert_int_equal(t.timed_out, 3);
	flow_table_fini(&t);
}

static void test_evicts_oldest(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *first;
	int dir, created, i;

	(void)state;
	assert_int_equal(flow_table_init(&t, 16, 0, 300, 60, 1), 0);
	t.on_end = on_end;
	ended = 0;
	for (i = 0; i < 16; i++) {
		view(&v, i & 1 ? IPPROTO_UDP : IPPROTO_TCP, 1, (uint16_t)(1000 + i), 80, 0);
		flow_lookup(&t, &v, (uint64_t)i * S, &dir, &created);
	}
	/* touch flow 0 again: flow 1 becomes the oldest */
	view(&v, IPPROTO_TCP, 1, 1000, 80, 0);
	first = flow_lookup(&t, &v, 20 * S, &dir, &created);
	flow_touch(&t, first, 20 * S);
	view(&v, IPPROTO_TCP, 1, 2000, 80, 0);
	flow_lookup(&t, &v, 21 * S, &dir, &created);
	assert_int_equal(t.evicted, 1);
	assert_int_equal(last_why, FLOW_END_EVICTED);
	assert_int_equal(t.count, 16);
	view(&v, IPPROTO_UDP, 1, 1001, 80, 0);
	flow_lookup(&t, &v, 22 * S, &dir, &created);
	assert_int_equal(created, 1);		/* flow 1 was the victim */
	view(&v, IPPROTO_TCP, 1, 1000, 80, 0);
	flow_lookup(&t, &v, 22 * S, &dir, &created);
	assert_int_equal(created, 0);		/* flow 0 survived */
	flow_table_flush(&t);
	assert_int_equal(t.count, 0);
	assert_int_equal(last_why, FLOW_END_FLUSH);
	flow_table_fini(&t);
}

static void test_stream_head(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *f;
	const uint8_t *h;
	int dir, created;

	(void)state;
	assert_int_equal(flow_table_init(&t, 16, 16, 300, 60, 1), 0);
	view(&v, IPPROTO_TCP, 1, 1000, 80, 0);
	f = flow_lookup(&t, &v, 0, &dir, &created);
	assert_null(flow_head(&t, f, 0));
	assert_int_equal(flow_head_append(&t, f, 0, 100, (const uint8_t *)"abcd", 4), 1);
	/* retransmission: nothing new */
	assert_int_equal(flow_head_append(&t, f, 0, 100, (const uint8_t *)"abcd", 4), 0);
	/* out of order: held back */
	assert_int_equal(flow_head_append(&t, f, 0, 108, (const uint8_t *)"ijkl", 4), 0);
	/* overlap: only the new part */
	assert_int_equal(flow_head_append(&t, f, 0, 102, (const uint8_t *)"cdefgh", 6), 1);
	h = flow_head(&t, f, 0);
	assert_int_equal(f->dir[0].head_len, 8);
	assert_memory_equal(h, "abcdefgh", 8);
	/* the other direction has its own head */
	assert_int_equal(flow_head_append(&t, f, 1, 7, (const uint8_t *)"XY", 2), 1);
	assert_memory_equal(flow_head(&t, f, 1), "XY", 2);
	/* full at 16 bytes */
	assert_int_equal(flow_head_append(&t, f, 0, 108, (const uint8_t *)"ijklmnopqrstuvwxyz", 18), 1);
	assert_int_equal(f->dir[0].head_len, 16);
	assert_memory_equal(h, "abcdefghijklmnop", 16);
	assert_int_equal(flow_head_append(&t, f, 0, 126, (const uint8_t *)"z", 1), 0);
	/* sequence numbers wrap */
	flow_head_release(&t, f);
	f->dir[0].head_len = 0;
	assert_int_equal(flow_head_append(&t, f, 0, 0xfffffffe, (const uint8_t *)"ab", 2), 1);
	assert_int_equal(flow_head_append(&t, f, 0, 0, (const uint8_t *)"cd", 2), 1);
	assert_memory_equal(flow_head(&t, f, 0), "abcd", 4);
	flow_table_fini(&t);
}

static void test_head_pool_exhaustion(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *f[40];
	int dir, created, i, with = 0;

	(void)state;
	/* a 40-flow table lends heads to at most 40 flows; force a small
	 * pool to see flows go on without one */
	assert_int_equal(flow_table_init(&t, 40, 32, 300, 60, 1), 0);
	t.head_free_n = 4;
	for (i = 0; i < 8; i++) {
		view(&v, IPPROTO_TCP, 1, (uint16_t)(3000 + i), 80, 0);
		f[i] = flow_lookup(&t, &v, 0, &dir, &created);
		with += flow_head_append(&t, f[i], 0, 1, (const uint8_t *)"x", 1);
	}
	assert_int_equal(with, 4);
	assert_int_equal(t.head_exhausted, 4);
	/* a decided flow gives its slot back */
	flow_head_release(&t, f[0]);
	assert_int_equal(flow_head_append(&t, f[7], 0, 1, (const uint8_t *)"x", 1), 1);
	flow_table_fini(&t);
}

/* A dry pool takes back the slot of a flow idle for FLOW_HEAD_IDLE_NS,
 * and only then. */
static void test_head_reclaimed_from_idle_flow(void **state)
{
	enum { SLOTS = 65 };
	struct flow_table t;
	struct pkt_view v;
	struct flow *f[SLOTS], *late;
	int dir, created, i, lost = 0;

	(void)state;
	assert_int_equal(flow_table_init(&t, FLOW_HEAD_RATIO * SLOTS, 32, 300, 60, 1), 0);
	assert_int_equal(t.head_slots, SLOTS);
	for (i = 0; i < SLOTS; i++) {
		view(&v, IPPROTO_TCP, 1, (uint16_t)(3000 + i), 80, 0);
		f[i] = flow_lookup(&t, &v, S, &dir, &created);
		assert_int_equal(flow_head_append(&t, f[i], 0, 1, (const uint8_t *)"ab", 2), 1);
	}
	assert_int_equal(t.head_free_n, 0);
	/* the holders have not been idle long enough */
	view(&v, IPPROTO_TCP, 2, 4000, 80, 0);
	late = flow_lookup(&t, &v, S + FLOW_HEAD_IDLE_NS / 2, &dir, &created);
	assert_int_equal(flow_head_append(&t, late, 0, 1, (const uint8_t *)"cd", 2), 0);
	assert_int_equal(t.head_exhausted, 1);
	assert_int_equal(t.head_reclaimed, 0);
	/* now they have: one of them gives its slot up and starts afresh */
	flow_touch(&t, late, S + FLOW_HEAD_IDLE_NS + 1);
	assert_int_equal(flow_head_append(&t, late, 0, 1, (const uint8_t *)"cd", 2), 1);
	assert_memory_equal(flow_head(&t, late, 0), "cd", 2);
	assert_int_equal(t.head_reclaimed, 1);
	for (i = 0; i < SLOTS; i++) {
		if (f[i]->head != FLOW_NONE)
			continue;
		lost++;
		assert_int_equal(f[i]->dir[0].head_len, 0);
		assert_int_equal(f[i]->flags & FLOW_F_SEQ(0), 0);
		assert_null(flow_head(&t, f[i], 0));
	}
	assert_int_equal(lost, 1);
	flow_table_fini(&t);
}

/* A tuple with every field drawn from x (a small xorshift generator). */
static void random_view(struct pkt_view *v, int family, uint64_t *x)
{
	int i;

	memset(v, 0, sizeof(*v));
	v->family = (uint8_t)family;
	v->l4proto = (*x & 1) ? IPPROTO_TCP : IPPROTO_UDP;
	for (i = 0; i < (family == 6 ? 16 : 4); i++) {
		*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
		v->saddr[i] = (uint8_t)*x;
		v->daddr[i] = (uint8_t)(*x >> 8);
	}
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	v->sport = (uint16_t)*x;
	v->dport = (uint16_t)(*x >> 16);
}

static uint32_t bucket_of_view(const struct flow_table *t, const struct pkt_view *v, int rev)
{
	return rev ? bucket_of(t, v->daddr, v->dport, v->saddr, v->sport, v->l4proto, v->family) :
		bucket_of(t, v->saddr, v->sport, v->daddr, v->dport, v->l4proto, v->family);
}

/* Buckets used by n tuples in 4n buckets, and the longest chain. */
static void spread(struct flow_table *t, struct pkt_view *vs, int n, int *used, int *longest)
{
	static uint16_t load[1 << 14];
	int i;

	memset(load, 0, sizeof(load));
	*used = *longest = 0;
	for (i = 0; i < n; i++) {
		uint32_t b = bucket_of_view(t, &vs[i], 0);

		assert_int_equal(b, bucket_of_view(t, &vs[i], 1));	/* symmetric */
		*used += load[b] == 0;
		if (++load[b] > *longest)
			*longest = load[b];
	}
}

/* Both directions share a bucket; random tuples, and tuples that differ
 * only in the client port (what one sender controls), spread like a
 * random function would: 4096 keys in 16384 buckets fill about 3600 and
 * no chain grows long. Another seed places the same keys elsewhere. */
static void test_hash_symmetric_and_spread(void **state)
{
	static struct pkt_view vs[4096];
	struct flow_table t;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int fam, i, used, longest, moved = 0;

	(void)state;
	assert_int_equal(flow_table_init(&t, 1 << 14, 0, 300, 60, 12345), 0);
	for (fam = 4; fam <= 6; fam += 2) {
		for (i = 0; i < 4096; i++)
			random_view(&vs[i], fam, &x);
		spread(&t, vs, 4096, &used, &longest);
		assert_in_range(used, 3400, 3800);
		assert_in_range(longest, 1, 8);
		for (i = 0; i < 4096; i++) {
			vs[i] = vs[0];
			vs[i].sport = (uint16_t)(1024 + i);
		}
		spread(&t, vs, 4096, &used, &longest);
		assert_in_range(used, 3400, 3800);
		assert_in_range(longest, 1, 8);
		for (i = 0; i < 4096; i++) {
			uint32_t b = bucket_of_view(&t, &vs[i], 0);

			t.seed ^= 1;
			moved += b != bucket_of_view(&t, &vs[i], 0);
			t.seed ^= 1;
		}
		assert_true(moved > 4096 * 9 / 10);
		moved = 0;
	}
	flow_table_fini(&t);
}

/* Every flow in one chain (the mask forced to 0): each is still found,
 * in both directions, after its chain neighbours came and went. */
static void test_collisions_share_a_chain(void **state)
{
	struct flow_table t;
	struct pkt_view v;
	struct flow *f[20];
	int dir, created, i;

	(void)state;
	assert_int_equal(flow_table_init(&t, 32, 0, 300, 60, 7), 0);
	t.mask = 0;
	for (i = 0; i < 20; i++) {
		view(&v, i & 1 ? IPPROTO_UDP : IPPROTO_TCP, (uint8_t)(i / 2), 5000, 80, 0);
		f[i] = flow_lookup(&t, &v, S + (uint64_t)i, &dir, &created);
		assert_int_equal(created, 1);
	}
	for (i = 0; i < 20; i += 3)
		flow_remove(&t, f[i], FLOW_END_FLUSH);
	for (i = 0; i < 20; i++) {
		view(&v, i & 1 ? IPPROTO_UDP : IPPROTO_TCP, (uint8_t)(i / 2), 5000, 80, i & 2);
		if (i % 3 == 0) {
			assert_ptr_not_equal(flow_lookup(&t, &v, S + 100, &dir, &created), NULL);
			assert_int_equal(created, 1);
			continue;
		}
		assert_ptr_equal(flow_lookup(&t, &v, S + 100, &dir, &created), f[i]);
		assert_int_equal(created, 0);
		assert_int_equal(dir, (i & 2) ? 1 : 0);
	}
	assert_int_equal(t.count, 20);
	flow_table_fini(&t);
}

/* The key compare: a flow is found only by its own 5-tuple, whichever
 * way round, for IPv4 and IPv6, also right after another flow was found
 * (the recent-flow shortcut) and after its entry was freed. */
static void test_key_compare(void **state)
{
	static const int families[] = { 4, 6 };
	struct flow_table t;
	struct pkt_view v, w;
	struct flow *f, *g;
	int dir, created, i, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint64_t x = 42 + (uint64_t)k;

		assert_int_equal(flow_table_init(&t, 64, 0, 300, 60, 3), 0);
		random_view(&v, families[k], &x);
		f = flow_lookup(&t, &v, S, &dir, &created);
		for (i = 0; i < 16 * 8 + 4 * 8 + 1; i++) {
			/* flip one bit of an address, a port or the protocol */
			w = v;
			if (i < 128)
				w.saddr[i / 8] ^= (uint8_t)(1 << (i % 8));
			else if (i < 128 + 16)
				w.sport ^= (uint16_t)(1 << (i - 128));
			else if (i < 128 + 32)
				w.dport ^= (uint16_t)(1 << (i - 144));
			else
				w.l4proto = w.l4proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
			if (families[k] == 4 && i >= 32 && i < 128)
				continue;	/* not part of an IPv4 address */
			g = flow_lookup(&t, &w, S, &dir, &created);
			assert_ptr_not_equal(g, f);
			assert_int_equal(created, 1);
			/* the original, both ways, right after another */
			assert_ptr_equal(flow_lookup(&t, &v, S, &dir, &created), f);
			assert_int_equal(dir, 0);
			flow_remove(&t, g, FLOW_END_FLUSH);
			w = v;
			memcpy(w.saddr, v.daddr, 16);
			memcpy(w.daddr, v.saddr, 16);
			w.sport = v.dport;
			w.dport = v.sport;
			assert_ptr_equal(flow_lookup(&t, &w, S, &dir, &created), f);
			assert_int_equal(dir, 1);
		}
		/* freed: the recent-flow entry must not answer for it */
		flow_remove(&t, f, FLOW_END_FLUSH);
		assert_non_null(flow_lookup(&t, &v, S, &dir, &created));
		assert_int_equal(created, 1);
		assert_int_equal(t.count, 1);
		flow_table_fini(&t);
	}
}

static void test_bad_init(void **state)
{
	struct flow_table t;

	(void)state;
	assert_int_equal(flow_table_init(&t, 0, 16, 1, 1, 0), -1);
	assert_int_equal(flow_table_init(&t, 16, 70000, 1, 1, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_directions_one_entry),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_evicts_oldest),
		cmocka_unit_test(test_stream_head),
		cmocka_unit_test(test_head_pool_exhaustion),
		cmocka_unit_test(test_head_reclaimed_from_idle_flow),
		cmocka_unit_test(test_hash_symmetric_and_spread),
		cmocka_unit_test(test_collisions_share_a_chain),
		cmocka_unit_test(test_key_compare),
		cmocka_unit_test(test_bad_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
