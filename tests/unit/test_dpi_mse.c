/* test_dpi_mse.c - unit tests of the MSE/PE heuristic (src/dpi/mse.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/mse.c"
#include "dpi_test.h"
#include "lookalikes.h"

static void feed(struct dpi_flow *st, int dir, const uint8_t *d, size_t len, int start_seen)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 6881, d, len);
	test_pkt(&p, &v, dir, NULL);
	p.start_seen = start_seen;
	assert_int_equal(mse_check(st, &p), DPI_NONE);	/* never blocks alone */
}

static void test_random_shape(void **state)
{
	uint8_t b[700];

	(void)state;
	la_fill(b, sizeof(b), 42);
	assert_int_equal(mse_looks_random(b, 96), 1);
	assert_int_equal(mse_looks_random(b, 96 + 512), 1);
	assert_int_equal(mse_looks_random(b, 95), 0);		/* shorter than a key */
	assert_int_equal(mse_looks_random(b, 96 + 513), 0);	/* more than max padding */
	memset(b, 'a', 200);
	assert_int_equal(mse_looks_random(b, 200), 0);		/* low diversity */
}

static void test_exchange(void **state)
{
	struct dpi_flow st;
	uint8_t a[200], b[150];

	(void)state;
	la_fill(a, sizeof(a), 1);
	la_fill(b, sizeof(b), 2);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse_candidate, 0);
	feed(&st, 1, b, sizeof(b), 1);
	assert_int_equal(st.mse_candidate, 1);
	/* whoever speaks first is the MSE initiator (the capture may have
	 * begun at the SYN-ACK) */
	memset(&st, 0, sizeof(st));
	feed(&st, 1, b, sizeof(b), 1);
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse_candidate, 1);
	/* a server banner first is no MSE */
	memset(&st, 0, sizeof(st));
	memcpy(b, "SSH-2.0-x\r\n", 11);
	feed(&st, 1, b, sizeof(b), 1);
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse_candidate, 0);
	/* flows caught mid-stream are not judged */
	la_fill(b, sizeof(b), 2);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, sizeof(a), 0);
	feed(&st, 1, b, sizeof(b), 0);
	assert_int_equal(st.mse_candidate, 0);
}

static void test_structured_lookalikes(void **state)
{
	struct dpi_flow st;
	int i;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		const struct lookalike *l = &lookalikes[i];

		if (l->l4 != 6)
			continue;
		memset(&st, 0, sizeof(st));
		feed(&st, 0, l->data, l->len, 1);
		feed(&st, 1, l->data, l->len, 1);
		/* only the encrypted SSH packet is random-shaped: it is the
		 * reason a candidate needs the endpoint cache to block */
		if (strcmp(l->name, "ssh-encrypted") == 0)
			assert_int_equal(st.mse_candidate, 1);
		else
			assert_int_equal(st.mse_candidate, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_shape),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_structured_lookalikes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
