/* test_endpoints.c - unit tests of the endpoint cache (src/endpoints.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/endpoints.c"

#define S 1000000000ULL

static void test_add_has_expire(void **state)
{
	struct endpoints c;
	const uint8_t a[16] = { 1, 2, 3, 4 };	/* room for either family */
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	assert_int_equal(endpoints_init(&c, 64, 10, 1), 0);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 0), 0);
	endpoints_add(&c, 4, a, 6881, 5 * S);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 6 * S), 1);
	assert_int_equal(endpoints_has(&c, 4, a, 6882, 6 * S), 0);	/* other port */
	assert_int_equal(endpoints_has(&c, 4, a, 0, 6 * S), 0);		/* host entry apart */
	assert_int_equal(endpoints_has(&c, 6, a, 6881, 6 * S), 0);	/* other family */
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 15 * S + 1), 0);	/* expired */
	/* refreshing extends the lifetime */
	endpoints_add(&c, 4, a, 6881, 14 * S);
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 20 * S), 1);
	assert_int_equal(c.used, 1);
	endpoints_add(&c, 6, a6, 51413, 14 * S);
	assert_int_equal(endpoints_has(&c, 6, a6, 51413, 15 * S), 1);
	endpoints_clear(&c);
	assert_int_equal(endpoints_has(&c, 6, a6, 51413, 15 * S), 0);
	assert_int_equal(c.used, 0);
	endpoints_fini(&c);
}

static void test_bounded(void **state)
{
	struct endpoints c;
	uint8_t a[4] = { 10, 0, 0, 0 };
	uint32_t i, found = 0;

	(void)state;
	assert_int_equal(endpoints_init(&c, 16, 3600, 7), 0);
	/* a thousand entries into sixteen slots: the size stays bounded and
	 * the newest entries are the ones kept */
	for (i = 0; i < 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		endpoints_add(&c, 4, a, 6881, (uint64_t)i * S);
	}
	assert_true(c.used <= 16);
	assert_true(c.replaced >= 1000 - 16);
	for (i = 990; i < 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		found += (uint32_t)endpoints_has(&c, 4, a, 6881, 1000 * S);
	}
	/* each set keeps its youngest: most recent entries survive */
	assert_true(found >= 5);
	a[2] = 0;
	a[3] = 0;
	assert_int_equal(endpoints_has(&c, 4, a, 6881, 1000 * S), 0);
	endpoints_fini(&c);
}

static void test_bad_init(void **state)
{
	struct endpoints c;

	(void)state;
	assert_int_equal(endpoints_init(&c, 0, 10, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_has_expire),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_bad_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
