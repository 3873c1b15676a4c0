/* test_dpi_extension.c - unit tests of the extension protocol and PEX
 * (src/dpi/extension.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/extension.c"
#include "dpi_test.h"
#include "lookalikes.h"

static int ext(uint8_t id, const char *payload, size_t len, struct learned *l)
{
	uint8_t b[512];
	struct pkt_view v;
	struct dpi_pkt p;

	b[0] = id;
	memcpy(b + 1, payload, len);
	test_view(&v, IPPROTO_TCP, 40000, 6881, b, len + 1);
	test_pkt(&p, &v, 0, l);
	return extension_message(b, len + 1, &p);
}

static void test_handshake(void **state)
{
	const char *h = "d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e"
		"4:reqqi255e1:v16:Transmission 4.0e";
	struct learned l;

	(void)state;
	assert_int_equal(ext(0, h, strlen(h), &l), 1);
	/* an empty "m" still declares the protocol */
	assert_int_equal(ext(0, "d1:mdee", 7, &l), 1);
	/* no "m", "m" not a dictionary, trailing bytes, not bencode */
	assert_int_equal(ext(0, "d1:pi6881ee", 11, &l), -1);
	assert_int_equal(ext(0, "d1:mi1ee", 8, &l), -1);
	assert_int_equal(ext(0, "d1:mdeeXX", 9, &l), -1);
	assert_int_equal(ext(0, "hello", 5, &l), -1);
}

static void test_pex_learns(void **state)
{
	char b[128];
	struct learned l;
	size_t n;

	(void)state;
	n = (size_t)snprintf(b, sizeof(b), "d5:added12:");
	memcpy(b + n, "\x0a\x01\x01\x01\x1a\xe1\x0a\x01\x01\x02\xc8\xd5", 12);
	n += 12;
	memcpy(b + n, "7:added.f2:\x10\x00" "e", 14);
	n += 14;
	assert_int_equal(ext(1, b, n, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.port[0], 6881);
	assert_int_equal(l.port[1], 51413);
	/* a list whose length is no multiple of 6 is ignored */
	assert_int_equal(ext(1, "d5:added5:abcdee", 16, &l), 0);
	assert_int_equal(l.n, 0);
	/* without a place to learn to (the packet is still being judged),
	 * the message is only checked */
	n = (size_t)snprintf(b, sizeof(b), "d5:added12:");
	memcpy(b + n, "\x0a\x01\x01\x01\x1a\xe1\x0a\x01\x01\x02\xc8\xd5" "e", 13);
	n += 13;
	b[0] = 1;
	memmove(b + 1, b, n);
	assert_int_equal(extension_message((const uint8_t *)b, n + 1, NULL), 0);
}

static void test_other_messages(void **state)
{
	struct learned l;

	(void)state;
	/* ut_metadata: a dictionary followed by raw data */
	assert_int_equal(ext(2, "d8:msg_typei1e5:piecei0eeRAWDATA", 32, &l), 0);
	/* binary extensions are plausible */
	assert_int_equal(ext(7, "\x00\x00\x00\x01", 4, &l), 0);
	/* a broken dictionary is not */
	assert_int_equal(ext(2, "d8:msg_type", 11, &l), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_pex_learns),
		cmocka_unit_test(test_other_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
