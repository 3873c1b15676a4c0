/* test_endpoints.c - unit tests of the endpoint cache (src/endpoints.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/endpoints.c"

#define S 1000000000ULL

static const uint8_t src_a[16] = { 198, 51, 100, 1 };
static const uint8_t src_b[16] = { 198, 51, 100, 2 };
static const uint8_t src_c[16] = { 198, 51, 100, 3 };

/* A listed entry 10.0.x.y:port told by src. */
static enum endpoint_added add(struct endpoints *c, uint32_t i, uint16_t port,
			       enum endpoint_tier tier, const uint8_t *src, uint64_t now)
{
	uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };

	return endpoints_add(c, 4, a, port, tier, 4, src, now);
}

static int has(struct endpoints *c, uint32_t i, uint16_t port, uint64_t now)
{
	uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };

	return endpoints_has(c, 4, a, port, now);
}

static void test_add_has_expire(void **state)
{
	struct endpoints c;
	const uint8_t a[16] = { 1, 2, 3, 4 };	/* room for either family */
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	assert_int_equal(endpoints_init(&c, 64, 10, 1), 0);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 0), 0);
	assert_int_equal(endpoints_add(&c, 4, a, 6881, ENDPOINT_LISTED, 4, src_a, 5 * S),
			 ENDPOINT_NEW);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 6 * S), 1);
	assert_int_equal(endpoints_has(&c, 4, a, 6882, 6 * S), 0);	/* other port */
	assert_int_equal(endpoints_has(&c, 4, a, 0, 6 * S), 0);		/* never the host */
	assert_int_equal(endpoints_has(&c, 6, a, 6881, 6 * S), 0);	/* other family */
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 15 * S + 1), 0);	/* expired */
	/* refreshing extends the lifetime and may raise the tier */
	assert_int_equal(endpoints_add(&c, 4, a, 6881, ENDPOINT_CONFIRMED, 4, a, 14 * S),
			 ENDPOINT_REFRESHED);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 20 * S), 1);
	assert_int_equal(set_of(&c, a, 6881, 4)[0].tier + set_of(&c, a, 6881, 4)[1].tier +
			 set_of(&c, a, 6881, 4)[2].tier + set_of(&c, a, 6881, 4)[3].tier,
			 ENDPOINT_CONFIRMED);
	assert_int_equal(c.used, 1);
	endpoints_add(&c, 6, a6, 51413, ENDPOINT_LISTED, 4, src_a, 14 * S);
	assert_int_equal(endpoints_has(&c, 6, a6, 51413, 15 * S), 1);
	endpoints_clear(&c);
	assert_int_equal(endpoints_has(&c, 6, a6, 51413, 15 * S), 0);
	assert_int_equal(c.used, 0);
	endpoints_fini(&c);
}

static void test_bounded(void **state)
{
	struct endpoints c;
	uint8_t src[16] = { 203, 0, 113, 0 };
	uint32_t i, found = 0;

	(void)state;
	assert_int_equal(endpoints_init(&c, 16, 3600, 7), 0);
	/* a thousand entries from a thousand sources into sixteen slots:
	 * the size stays bounded, and what came first stays until it
	 * expires (nobody can push it out) */
	for (i = 0; i < 1000; i++) {
		src[2] = (uint8_t)(i >> 8);
		src[3] = (uint8_t)i;
		add(&c, i, 6881, ENDPOINT_LISTED, src, (uint64_t)i * S);
	}
	assert_true(c.used <= 16);
	assert_int_equal(c.replaced, 0);
	assert_true(c.set_full >= 1000 - 16);
	for (i = 0; i < 16; i++)
		found += (uint32_t)has(&c, i, 6881, 1000 * S);
	assert_true(found >= 4);
	/* once the first ones expired, their room is taken again */
	src[0] = 1;
	for (i = 2000; i < 2100; i++) {
		src[3] = (uint8_t)i;
		add(&c, i, 6881, ENDPOINT_LISTED, src, 5000 * S);
	}
	for (i = 0; i < 16; i++)
		assert_int_equal(has(&c, i, 6881, 5000 * S), 0);
	assert_true(c.replaced >= 4);
	endpoints_fini(&c);
}

static void test_source_quota(void **state)
{
	struct endpoints c;
	uint32_t i, n = 0;

	(void)state;
	assert_int_equal(endpoints_init(&c, 4096, 600, 3), 0);
	assert_int_equal(c.quota, 4096 / ENDPOINTS_QUOTA_DIV);
	/* one source's flood: only its quota gets in */
	for (i = 0; i < 1000; i++)
		n += add(&c, i, 6881, ENDPOINT_LISTED, src_a, 10 * S) == ENDPOINT_NEW;
	assert_int_equal(n, c.quota);
	assert_int_equal(c.over_quota, 1000 - c.quota - c.set_full);
	/* another source is not held back by it */
	assert_int_equal(add(&c, 5000, 6881, ENDPOINT_LISTED, src_b, 10 * S), ENDPOINT_NEW);
	/* a window later, the first source may add again */
	assert_int_equal(add(&c, 6000, 6881, ENDPOINT_LISTED, src_a, 612 * S), ENDPOINT_NEW);
	/* the smallest cache still lets a source add a few */
	endpoints_fini(&c);
	assert_int_equal(endpoints_init(&c, 16, 600, 3), 0);
	assert_int_equal(c.quota, ENDPOINTS_QUOTA_MIN);
	endpoints_fini(&c);
}

static void test_outsiders_cannot_evict(void **state)
{
	struct endpoints c;
	uint32_t i;

	(void)state;
	/* four slots: one set, so every entry competes for the same room */
	assert_int_equal(endpoints_init(&c, 4, 3600, 5), 0);
	assert_int_equal(c.nsets, 1);
	assert_int_equal(add(&c, 1, 51413, ENDPOINT_LISTED, src_a, 1 * S), ENDPOINT_NEW);
	/* another source fills the rest, then only churns its own entries */
	for (i = 100; i < 110; i++)
		add(&c, i, 6881, ENDPOINT_LISTED, src_b, 2 * S + i);
	assert_int_equal(c.replaced, 7);
	assert_int_equal(has(&c, 1, 51413, 3 * S), 1);
	assert_int_equal(has(&c, 109, 6881, 3 * S), 1);
	/* a source may replace its own oldest entry */
	assert_int_equal(add(&c, 2, 51413, ENDPOINT_LISTED, src_a, 3 * S), ENDPOINT_NEW);
	assert_int_equal(has(&c, 1, 51413, 4 * S), 0);
	assert_int_equal(has(&c, 2, 51413, 4 * S), 1);
	/* confirmed evidence from elsewhere finds no room either... */
	assert_int_equal(add(&c, 3, 6881, ENDPOINT_CONFIRMED, src_c, 5 * S), ENDPOINT_NO_ROOM);
	assert_int_equal(has(&c, 2, 51413, 6 * S), 1);
	/* ...but replaces the same source's listed entry, which a listed
	 * entry of that source then cannot displace */
	assert_int_equal(add(&c, 4, 6881, ENDPOINT_CONFIRMED, src_b, 6 * S), ENDPOINT_NEW);
	assert_int_equal(has(&c, 107, 6881, 7 * S), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(add(&c, 5 + i, 6881, ENDPOINT_CONFIRMED, src_b, 7 * S), ENDPOINT_NEW);
	assert_int_equal(add(&c, 9, 6881, ENDPOINT_LISTED, src_b, 8 * S), ENDPOINT_NO_ROOM);
	assert_int_equal(has(&c, 4, 6881, 9 * S), 1);
	/* the oldest confirmed entry of a source makes room for its next */
	assert_int_equal(add(&c, 10, 6881, ENDPOINT_CONFIRMED, src_b, 9 * S), ENDPOINT_NEW);
	assert_int_equal(has(&c, 4, 6881, 10 * S), 0);
	assert_int_equal(has(&c, 2, 51413, 10 * S), 1);
	endpoints_fini(&c);
}

static void test_bad_init(void **state)
{
	struct endpoints c;

	(void)state;
	assert_int_equal(endpoints_init(&c, 0, 10, 0), -1);
}

static void test_export(void **state)
{
	struct endpoints c;
	struct endpoint_export out[300];
	uint8_t src[16] = { 198, 51, 100, 0 };
	uint32_t cursor = 0, n = 0, dropped = 0, calls = 0, live = 0, tiers[3] = { 0 };

	(void)state;
	assert_int_equal(endpoints_init(&c, 256, 100, 3), 0);
	assert_int_equal(endpoints_slots(&c), 256);
	assert_int_equal(endpoints_slots_for(256), 256);
	assert_int_equal(endpoints_slots_for(0), 4);
	/* 200 entries, each from a source of its own; the first 150 at 1 s,
	 * which have expired at 120 s, the rest at 110 s */
	for (uint32_t i = 0; i < 200; i++) {
		src[3] = (uint8_t)i;
		add(&c, i, 6881, i % 2 ? ENDPOINT_CONFIRMED : ENDPOINT_LISTED, src,
		    (i < 150 ? 1 : 110) * S);
	}
	for (uint32_t i = 150; i < 200; i++)
		live += has(&c, i, 6881, 120 * S);
	assert_true(live >= 45);
	/* slices of 64 slots: four calls walk the table */
	while (cursor < endpoints_slots(&c)) {
		n += endpoints_export(&c, &cursor, 64, 120 * S, out + n, 300 - n, &dropped);
		calls++;
	}
	assert_int_equal(calls, 4);
	assert_int_equal(dropped, 0);
	assert_int_equal(n, live);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)out[i].addr[2] << 8 | out[i].addr[3];

		assert_true(k >= 150 && k < 200);
		assert_true(out[i].expires_ns == 210 * S);
		assert_int_equal(out[i].family, 4);
		assert_int_equal(out[i].port, 6881);
		assert_int_equal(out[i].tier, k % 2 ? ENDPOINT_CONFIRMED : ENDPOINT_LISTED);
		assert_int_not_equal(out[i].source, 0);
		tiers[out[i].tier]++;
	}
	assert_true(tiers[ENDPOINT_LISTED] > 0 && tiers[ENDPOINT_CONFIRMED] > 0);
	/* a walk past the end copies nothing more */
	assert_int_equal(endpoints_export(&c, &cursor, 64, 120 * S, out, 300, &dropped), 0);
	/* room for fewer: the rest is counted, not written */
	cursor = 0;
	n = endpoints_export(&c, &cursor, UINT32_MAX, 120 * S, out, 10, &dropped);
	assert_int_equal(n, 10);
	assert_int_equal(dropped, live - 10);
	endpoints_fini(&c);
}

static void test_restore(void **state)
{
	struct endpoints c;
	uint8_t a[16] = { 10, 0, 0, 1 };
	uint32_t src;

	(void)state;
	assert_int_equal(endpoints_init(&c, 16, 100, 5), 0);
	assert_int_equal(endpoints_restore(&c, 4, a, 6881, ENDPOINT_LISTED, ENDPOINT_KIND_BT, 7, 50 * S, S),
			 ENDPOINT_NEW);
	assert_int_equal(c.used, 1);
	assert_int_equal(c.restored, 1);
	assert_int_equal(c.inserted, 0);	/* not learned: restored */
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 49 * S), 1);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 50 * S), 0);
	/* the file held it twice: the later expiry and the higher tier */
	assert_int_equal(endpoints_restore(&c, 4, a, 6881, ENDPOINT_CONFIRMED, ENDPOINT_KIND_WEBRTC, 8, 40 * S, S),
			 ENDPOINT_REFRESHED);
	assert_int_equal(endpoints_restore(&c, 4, a, 6881, ENDPOINT_LISTED, ENDPOINT_KIND_BT, 8, 60 * S, S),
			 ENDPOINT_REFRESHED);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 59 * S), 1);
	/* the kinds of both records: BitTorrent and WebRTC */
	assert_int_equal(endpoints_kinds(&c, 4, a, 6881, 59 * S), ENDPOINT_KIND_BT | ENDPOINT_KIND_WEBRTC);
	for (int i = 0; i < ENDPOINTS_WAYS; i++)
		if (set_of(&c, a, 6881, 4)[i].family)
			assert_int_equal(set_of(&c, a, 6881, 4)[i].tier, ENDPOINT_CONFIRMED);
	/* the source is a key of its own: none of a live sender */
	src = set_of(&c, a, 6881, 4)[0].family ? set_of(&c, a, 6881, 4)[0].source :
		set_of(&c, a, 6881, 4)[1].source;
	assert_int_not_equal(src, (uint32_t)key_hash(~c.seed, a, 0, 4) | 1);
	assert_int_not_equal(src, 0);
	endpoints_fini(&c);
}

/* A restored entry never displaces one in the cache, and live sources
 * cannot push restored ones out: what the last run learned honestly
 * stays until it expires. */
static void test_restore_displaces_nothing(void **state)
{
	struct endpoints c;
	uint8_t src[16] = { 203, 0, 113, 0 };
	uint32_t i, restored = 0, refused = 0, kept = 0;

	(void)state;
	assert_int_equal(endpoints_init(&c, 16, 3600, 11), 0);
	/* the cache filled by one source, as far as its quota and the sets allow */
	for (i = 0; i < 64; i++)
		add(&c, i, 6881, ENDPOINT_LISTED, src_a, S);
	/* restoring more than fits: only free slots are taken */
	for (i = 100; i < 200; i++) {
		uint8_t a[4] = { 10, 0, 0, (uint8_t)i };

		if (endpoints_restore(&c, 4, a, 7000, ENDPOINT_CONFIRMED, ENDPOINT_KIND_BT, i, 3000 * S, S) ==
		    ENDPOINT_NEW)
			restored++;
		else
			refused++;
	}
	assert_true(c.used <= 16);
	assert_int_equal(restored + refused, 100);
	assert_int_equal(c.restored, restored);
	/* a flood from a thousand sources afterwards */
	for (i = 0; i < 1000; i++) {
		src[2] = (uint8_t)(i >> 8);
		src[3] = (uint8_t)i;
		add(&c, 1000 + i, 6881, ENDPOINT_CONFIRMED, src, 2 * S);
	}
	for (i = 100; i < 200; i++) {
		uint8_t a[4] = { 10, 0, 0, (uint8_t)i };

		kept += endpoints_has(&c, 4, a, 7000, 3 * S);
	}
	assert_int_equal(kept, restored);
	endpoints_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_has_expire),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_source_quota),
		cmocka_unit_test(test_outsiders_cannot_evict),
		cmocka_unit_test(test_bad_init),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_restore_displaces_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
