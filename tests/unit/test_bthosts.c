/* test_bthosts.c - unit tests of the shared table of protected hosts seen
 * running BitTorrent (src/bthosts.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include "../../src/bthosts.c"

#define S 1000000000ULL

static const uint8_t h1[16] = { 192, 168, 1, 10 };
static const uint8_t h2[16] = { 192, 168, 1, 11 };
static const uint8_t h6[16] = { 0xfd, 0x00, 0, 1, [15] = 0x10 };

static void test_note_and_age(void **state)
{
	struct bthosts h;
	uint64_t age = 77;

	(void)state;
	assert_int_equal(bthosts_init(&h, 0, 1), -1);
	assert_int_equal(bthosts_init(&h, 3, 1), 0);
	assert_int_equal(bthosts_age(&h, 4, h1, 10 * S, &age), 0);
	assert_int_equal(age, 77);	/* untouched when not found */
	bthosts_note(&h, 0, 4, h1, 10 * S, 0);
	assert_int_equal(bthosts_age(&h, 4, h1, 15 * S, &age), 1);
	assert_int_equal(age, 5 * S);
	assert_int_equal(bthosts_age(&h, 4, h2, 15 * S, &age), 0);
	assert_int_equal(bthosts_age(&h, 6, h1, 15 * S, &age), 0);	/* other family */
	/* seen again in another region: the latest sighting counts */
	bthosts_note(&h, 2, 4, h1, 12 * S, 0);
	assert_int_equal(bthosts_age(&h, 4, h1, 15 * S, &age), 1);
	assert_int_equal(age, 3 * S);
	/* within a second, a sighting writes nothing */
	bthosts_note(&h, 0, 4, h1, 10 * S + S / 2, 0);
	assert_int_equal(h.regions[0].updated, 0);
	bthosts_note(&h, 0, 4, h1, 14 * S, 0);
	assert_int_equal(h.regions[0].updated, 1);
	assert_int_equal(bthosts_added(&h), 2);
	/* IPv6, and a region number out of range is ignored */
	bthosts_note(&h, 1, 6, h6, 14 * S, 0);
	bthosts_note(&h, 3, 4, h2, 14 * S, 0);
	bthosts_note(&h, 1, 5, h2, 14 * S, 0);
	assert_int_equal(bthosts_age(&h, 6, h6, 14 * S, &age), 1);
	assert_int_equal(age, 0);
	assert_int_equal(bthosts_age(&h, 4, h2, 14 * S, &age), 0);
	/* a sighting a little in another worker's future reads as now */
	assert_int_equal(bthosts_age(&h, 6, h6, 13 * S, &age), 1);
	assert_int_equal(age, 0);
	assert_int_equal(bthosts_age(NULL, 4, h1, S, &age), 0);
	bthosts_clear(&h);
	assert_int_equal(bthosts_age(&h, 4, h1, 15 * S, &age), 0);
	bthosts_fini(&h);
}

/* A host restored from a file may have been seen before the clock began
 * (a reboot restarts the monotonic clock). */
static void test_seen_before_the_clock(void **state)
{
	struct bthosts h;
	struct bthost_export out[4] = { { 0 } };
	uint64_t age = 0;

	(void)state;
	assert_int_equal(bthosts_init(&h, 2, 5), 0);
	bthosts_note(&h, 1, 4, h1, 30 * S, 3600 * S);
	assert_int_equal(bthosts_age(&h, 4, h1, 40 * S, &age), 1);
	assert_int_equal(age, 3610 * S);
	assert_int_equal(bthosts_export(&h, 40 * S, 86400 * S, out, 4), 1);
	assert_int_equal(out[0].age_ns, 3610 * S);
	/* an older sighting of a host the region holds changes nothing */
	bthosts_note(&h, 1, 4, h1, 40 * S, 7200 * S);
	assert_int_equal(bthosts_age(&h, 4, h1, 40 * S, &age), 1);
	assert_int_equal(age, 3610 * S);
	bthosts_fini(&h);
}

static void test_full_set_keeps_the_recent(void **state)
{
	struct bthosts h;
	uint8_t a[16] = { 10, 0, 0, 0 };
	uint64_t age = 0;
	int kept = 0;

	(void)state;
	assert_int_equal(bthosts_init(&h, 1, 9), 0);
	/* many more hosts than slots: the table stays bounded, a set gives
	 * up its least recently seen host, and the last ones are there */
	for (uint32_t i = 0; i < 4 * BTHOSTS_SLOTS; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		bthosts_note(&h, 0, 4, a, (100 + i) * S, 0);
	}
	for (uint32_t i = 3 * BTHOSTS_SLOTS; i < 4 * BTHOSTS_SLOTS; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		kept += bthosts_age(&h, 4, a, 2000 * S, &age);
	}
	/* the newest host is always kept; most of the last quarter too */
	assert_int_equal(bthosts_age(&h, 4, a, 2000 * S, &age), 1);
	assert_true(kept > BTHOSTS_SLOTS / 2);
	assert_true(kept <= BTHOSTS_SLOTS);
	/* an older sighting than all a full set holds does not displace them */
	{
		unsigned set = set_index(&h, 4, (const uint64_t[2]){ 0 });
		struct bthost_slot before[BTHOSTS_WAYS];

		memcpy(before, &h.regions[0].slot[set * BTHOSTS_WAYS], sizeof(before));
		bthosts_note(&h, 0, 4, (const uint8_t[16]){ 0 }, 5 * S, 0);
		assert_memory_equal(before, &h.regions[0].slot[set * BTHOSTS_WAYS], sizeof(before));
	}
	bthosts_fini(&h);
}

static void test_export_dedup_and_age(void **state)
{
	struct bthosts h;
	struct bthost_export out[8] = { { 0 } };
	uint32_t n;

	(void)state;
	assert_int_equal(bthosts_init(&h, 3, 3), 0);
	bthosts_note(&h, 0, 4, h1, 100 * S, 0);
	bthosts_note(&h, 1, 4, h1, 150 * S, 0);
	bthosts_note(&h, 2, 4, h1, 120 * S, 0);
	bthosts_note(&h, 2, 6, h6, 10 * S, 0);
	bthosts_note(&h, 1, 4, h2, 70 * S, 0);
	/* each host once, its latest sighting; older than the bound: out */
	n = bthosts_export(&h, 160 * S, 100 * S, out, 8);
	assert_int_equal(n, 2);
	for (uint32_t i = 0; i < n; i++) {
		if (memcmp(out[i].addr, h1, 16) == 0) {
			assert_int_equal(out[i].family, 4);
			assert_int_equal(out[i].age_ns, 10 * S);
		} else {
			assert_memory_equal(out[i].addr, h2, 16);
			assert_int_equal(out[i].age_ns, 90 * S);
		}
	}
	assert_int_equal(bthosts_export(&h, 160 * S, 1000 * S, out, 8), 3);
	/* bounded by the room given */
	assert_int_equal(bthosts_export(&h, 160 * S, 1000 * S, out, 1), 1);
	bthosts_fini(&h);
}

static int in_lan(void *arg, int family, const uint8_t *addr)
{
	(void)arg;
	return family == 4 && addr[0] == 192 && addr[1] == 168;
}

static void test_remove_matching(void **state)
{
	struct bthosts h;
	uint64_t age = 0, changes;

	(void)state;
	assert_int_equal(bthosts_init(&h, 2, 3), 0);
	bthosts_note(&h, 0, 4, h1, S, 0);
	bthosts_note(&h, 0, 4, h2, S, 0);
	bthosts_note(&h, 0, 6, h6, S, 0);
	bthosts_note(&h, 1, 4, h1, S, 0);
	changes = bthosts_changes(&h);
	/* the owner of a region forgets in its own region only */
	assert_int_equal(bthosts_remove_matching(&h, 0, in_lan, NULL), 2);
	assert_true(bthosts_changes(&h) > changes);
	assert_int_equal(bthosts_age(&h, 4, h2, S, &age), 0);
	assert_int_equal(bthosts_age(&h, 4, h1, S, &age), 1);
	assert_int_equal(bthosts_remove_matching(&h, 1, in_lan, NULL), 1);
	assert_int_equal(bthosts_age(&h, 4, h1, S, &age), 0);
	assert_int_equal(bthosts_age(&h, 6, h6, S, &age), 1);
	assert_int_equal(bthosts_remove_matching(&h, 5, in_lan, NULL), 0);
	bthosts_fini(&h);
}

/* One writer rewrites a slot over and over with records whose parts
 * agree (the address says the time); readers never see them disagree. */
struct race {
	struct bthosts h;
	int stop;
	uint64_t reads, found;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	uint8_t a[16] = { 172, 16, 0, 0 };

	for (uint32_t i = 1; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		/* the same set every time: a host per way, evicted in turn */
		a[2] = (uint8_t)(i & 3);
		a[3] = (uint8_t)(i % 251);
		bthosts_note(&r->h, 0, 4, a, (uint64_t)i * 4 * S + a[3] * S, 0);
	}
	return NULL;
}

static void test_readers_see_whole_records(void **state)
{
	struct race *r = calloc(1, sizeof(*r));
	pthread_t t;

	(void)state;
	assert_non_null(r);
	/* a seed that puts all the writer's hosts in one set is not needed:
	 * export reads every slot */
	assert_int_equal(bthosts_init(&r->h, 1, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, writer, r), 0);
	for (int k = 0; k < 20000; k++) {
		struct bthost_export out[BTHOSTS_SLOTS];
		uint64_t now = 1ULL << 61;
		uint32_t n = bthosts_export(&r->h, now, UINT64_MAX, out, BTHOSTS_SLOTS);

		r->reads++;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t seen = now - out[i].age_ns;

			r->found++;
			/* written as i * 4 s + a[3] s, with a[3] = i % 251 */
			assert_int_equal(out[i].addr[0], 172);
			assert_int_equal((seen / S - out[i].addr[3]) % 4, 0);
			assert_int_equal((seen / S - out[i].addr[3]) / 4 % 251, out[i].addr[3]);
		}
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_true(r->found > 0);
	bthosts_fini(&r->h);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_and_age),
		cmocka_unit_test(test_seen_before_the_clock),
		cmocka_unit_test(test_full_set_keeps_the_recent),
		cmocka_unit_test(test_export_dedup_and_age),
		cmocka_unit_test(test_remove_matching),
		cmocka_unit_test(test_readers_see_whole_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
