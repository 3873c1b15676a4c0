/* test_bencode.c - unit tests of the bencode walker (src/dpi/bencode.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/bencode.c"

static long vlen(const char *s)
{
	return bencode_value_len((const uint8_t *)s, strlen(s));
}

static void test_scalars(void **state)
{
	(void)state;
	assert_int_equal(vlen("i42e"), 4);
	assert_int_equal(vlen("i0e"), 3);
	assert_int_equal(vlen("i-7e"), 4);
	assert_int_equal(vlen("4:spam"), 6);
	assert_int_equal(vlen("0:"), 2);
	assert_int_equal(vlen("4:spamtrailing"), 6);	/* value length only */
}

static void test_bad_scalars(void **state)
{
	(void)state;
	assert_int_equal(vlen("i-0e"), -1);
	assert_int_equal(vlen("i03e"), -1);
	assert_int_equal(vlen("ie"), -1);
	assert_int_equal(vlen("i12"), -1);
	assert_int_equal(vlen("5:spam"), -1);		/* longer than the data */
	assert_int_equal(vlen("04:spam"), -1);		/* leading zero */
	assert_int_equal(vlen("x"), -1);
	assert_int_equal(vlen(""), -1);
	assert_int_equal(vlen("e"), -1);
	assert_int_equal(vlen("9999999999:x"), -1);	/* absurd length */
}

static void test_containers(void **state)
{
	(void)state;
	assert_int_equal(vlen("le"), 2);
	assert_int_equal(vlen("de"), 2);
	assert_int_equal(vlen("l4:spami3ee"), 11);
	assert_int_equal(vlen("d3:cow3:moo4:spam4:eggse"), 24);
	assert_int_equal(vlen("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe"), 56);
	assert_int_equal(vlen("d1:al1:b1:cee"), 13);
}

static void test_bad_containers(void **state)
{
	(void)state;
	assert_int_equal(vlen("l4:spam"), -1);		/* unterminated */
	assert_int_equal(vlen("d3:cowe"), -1);		/* key without value */
	assert_int_equal(vlen("di1ei2ee"), -1);		/* integer key */
	assert_int_equal(vlen("dle1:ae"), -1);		/* list key */
	assert_int_equal(vlen("d"), -1);
}

static void test_depth_limit(void **state)
{
	uint8_t b[2 * (BENCODE_MAX_DEPTH + 1)];
	size_t i, n;

	(void)state;
	/* exactly the limit: accepted */
	n = BENCODE_MAX_DEPTH;
	for (i = 0; i < n; i++) {
		b[i] = 'l';
		b[n + i] = 'e';
	}
	assert_int_equal(bencode_value_len(b, 2 * n), (long)(2 * n));
	/* one deeper: rejected, without recursion */
	n = BENCODE_MAX_DEPTH + 1;
	for (i = 0; i < n; i++) {
		b[i] = 'l';
		b[n + i] = 'e';
	}
	assert_int_equal(bencode_value_len(b, 2 * n), -1);
}

static void test_truncation_never_overreads(void **state)
{
	const char *s = "d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789ABCDEFe1:t2:aa1:y1:re";
	size_t full = strlen(s), i;

	(void)state;
	assert_int_equal(vlen(s), (long)full);
	/* every strict prefix is incomplete: -1, and (under ASan) no overread */
	for (i = 0; i < full; i++) {
		uint8_t *copy = malloc(i ? i : 1);

		memcpy(copy, s, i);
		assert_int_equal(bencode_value_len(copy, i), -1);
		free(copy);
	}
}

static void test_dict_get(void **state)
{
	const uint8_t *d = (const uint8_t *)"d1:ai1e1:bl1:xe1:c3:fooe", *v = NULL, *s = NULL;
	size_t dl = strlen((const char *)d), vl = 0, sl = 0;

	(void)state;
	assert_int_equal(bencode_dict_get(d, dl, "b", &v, &vl), 1);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "l1:xe", 5);
	assert_int_equal(bencode_dict_get(d, dl, "zz", &v, &vl), 0);
	assert_int_equal(bencode_dict_str(d, dl, "c", &s, &sl), 1);
	assert_int_equal(sl, 3);
	assert_memory_equal(s, "foo", 3);
	assert_int_equal(bencode_dict_str(d, dl, "a", &s, &sl), 0);	/* not a string */
	assert_int_equal(bencode_dict_get((const uint8_t *)"l1:ae", 5, "a", &v, &vl), -1);
	assert_int_equal(bencode_dict_get((const uint8_t *)"d1:ai1e", 7, "b", &v, &vl), -1);
}

static void test_dict_scan(void **state)
{
	static const char *const keys[] = { "y", "t", "missing" };
	const uint8_t *d = (const uint8_t *)"d1:t2:aa1:xli1ei2ee1:y1:qe", *v[3];
	size_t vl[3];

	(void)state;
	assert_int_equal(bencode_dict_scan(d, strlen((const char *)d), keys, 3, v, vl),
			 (long)strlen((const char *)d));
	assert_int_equal(vl[0], 3);
	assert_memory_equal(v[0], "1:q", 3);
	assert_int_equal(vl[1], 4);
	assert_memory_equal(v[1], "2:aa", 4);
	assert_null(v[2]);
	assert_int_equal(vl[2], 0);
	/* malformed: a bad value, no end, not a dictionary */
	assert_int_equal(bencode_dict_scan((const uint8_t *)"d1:ti1xe", 8, keys, 3, v, vl), -1);
	assert_int_equal(bencode_dict_scan((const uint8_t *)"d1:ti1e", 7, keys, 3, v, vl), -1);
	assert_int_equal(bencode_dict_scan((const uint8_t *)"li1ee", 5, keys, 3, v, vl), -1);
	/* the length of the dictionary alone, trailing bytes not counted */
	assert_int_equal(bencode_dict_scan((const uint8_t *)"d1:ti1eeXYZ", 11, keys, 3, v, vl), 8);
}

/* The one-pass scan picks top-level keys only (the last of a repeated
 * key), skips nested values whole, counts the dictionary in the depth
 * limit like bencode_value_len, and refuses what bencode_value_len
 * refuses. */
static void test_dict_scan_one_pass(void **state)
{
	static const char *const keys[] = { "id", "a", "e", "", "values" };
	const char *ok = "d1:ad2:id3:in1e2:id3:top1:z0:2:id4:last6:valuesl6:abcdef6:ghijklee";
	uint8_t deep[2 * BENCODE_MAX_DEPTH + 8];
	const uint8_t *v[5];
	size_t vl[5], n, i;

	(void)state;
	assert_int_equal(bencode_dict_scan((const uint8_t *)ok, strlen(ok), keys, 5, v, vl),
			 (long)strlen(ok));
	assert_int_equal(bencode_value_len((const uint8_t *)ok, strlen(ok)), (long)strlen(ok));
	assert_int_equal(vl[0], 6);			/* the last "id", not the nested one */
	assert_memory_equal(v[0], "4:last", 6);
	assert_int_equal(vl[1], 11);			/* a nested dictionary, whole */
	assert_memory_equal(v[1], "d2:id3:in1e", 11);
	assert_null(v[2]);				/* "e" only inside values */
	assert_null(v[3]);				/* an empty key is never wanted */
	assert_int_equal(vl[4], 18);
	assert_memory_equal(v[4], "l6:abcdef6:ghijkle", 18);
	/* negative vectors, each also refused by bencode_value_len */
	{
		static const char *const bad[] = {
			"d1:a",			/* key without value */
			"d1:ai1e1:b",		/* key without value, no end */
			"di1ei2ee",		/* integer key */
			"d1:a01:xe",		/* leading zero in a length */
			"d1:ai-0ee",		/* negative zero */
			"d1:a5:abce",		/* string longer than the input */
			"d1:ald1:xee",		/* nested key without value */
			"d1:ai1e",		/* no end */
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(bencode_dict_scan((const uint8_t *)bad[i], strlen(bad[i]),
							   keys, 5, v, vl), -1);
			assert_int_equal(bencode_value_len((const uint8_t *)bad[i], strlen(bad[i])), -1);
		}
	}
	/* the dictionary and BENCODE_MAX_DEPTH - 1 lists inside: accepted;
	 * one more: refused, as by bencode_value_len */
	for (n = BENCODE_MAX_DEPTH - 1; n <= BENCODE_MAX_DEPTH; n++) {
		size_t len = 0;

		deep[len++] = 'd';
		deep[len++] = '1';
		deep[len++] = ':';
		deep[len++] = 'a';
		for (i = 0; i < n; i++)
			deep[len++] = 'l';
		for (i = 0; i < n; i++)
			deep[len++] = 'e';
		deep[len++] = 'e';
		assert_int_equal(bencode_dict_scan(deep, len, keys, 5, v, vl),
				 n < BENCODE_MAX_DEPTH ? (long)len : -1);
		assert_int_equal(bencode_value_len(deep, len), n < BENCODE_MAX_DEPTH ? (long)len : -1);
	}
	/* more keys than it can look for */
	{
		const char *many[BENCODE_SCAN_MAX + 1];

		for (i = 0; i <= BENCODE_SCAN_MAX; i++)
			many[i] = "a";
		assert_int_equal(bencode_dict_scan((const uint8_t *)ok, strlen(ok), many,
						   BENCODE_SCAN_MAX + 1, v, vl), -1);
	}
}

/* Keys of a nested dictionary picked in the same pass: found inside the
 * outer key's value, cleared when a later value of that key is not a
 * dictionary, and the depth counted from the outer dictionary. */
static void test_dict_pick_nested(void **state)
{
	static const char *const outer_keys[] = { "a", "t" };
	static const char *const inner_keys[] = { "id", "x" };
	const uint8_t *ov[2], *iv[2];
	size_t ovl[2], ivl[2];
	const struct bencode_pick inner = { inner_keys, 2, iv, ivl, NULL };
	const struct bencode_pick *const subs[2] = { &inner, NULL };
	const struct bencode_pick outer = { outer_keys, 2, ov, ovl, subs };
	const char *msg = "d1:ad2:id2:ab1:yi1ee2:id2:zz1:t1:qe";
	const char *twice = "d1:ad2:id2:abe1:ali1eee";
	uint8_t deep[2 * BENCODE_MAX_DEPTH + 16];
	size_t n, i;

	(void)state;
	assert_int_equal(bencode_dict_pick((const uint8_t *)msg, strlen(msg), &outer),
			 (long)strlen(msg));
	assert_int_equal(ovl[0], 16);
	assert_memory_equal(ov[0], "d2:id2:ab1:yi1ee", 16);
	assert_int_equal(ivl[0], 4);			/* the inner "id", not the outer */
	assert_memory_equal(iv[0], "2:ab", 4);
	assert_null(iv[1]);
	assert_int_equal(ovl[1], 3);
	/* "a" again, now a list: the last value wins, the inner picks go */
	assert_int_equal(bencode_dict_pick((const uint8_t *)twice, strlen(twice), &outer),
			 (long)strlen(twice));
	assert_memory_equal(ov[0], "li1ee", 5);
	assert_null(iv[0]);
	/* malformed inside the nested dictionary: the whole message fails */
	assert_int_equal(bencode_dict_pick((const uint8_t *)"d1:ad2:ide1:ti1ee", 17, &outer), -1);
	/* depth: the outer and inner dictionaries and BENCODE_MAX_DEPTH - 2
	 * lists fit, one more list does not, as for bencode_value_len */
	for (n = BENCODE_MAX_DEPTH - 2; n <= BENCODE_MAX_DEPTH - 1; n++) {
		size_t len = 0;

		memcpy(deep, "d1:ad1:x", 8);
		len = 8;
		for (i = 0; i < n; i++)
			deep[len++] = 'l';
		for (i = 0; i < n; i++)
			deep[len++] = 'e';
		deep[len++] = 'e';
		deep[len++] = 'e';
		assert_int_equal(bencode_dict_pick(deep, len, &outer),
				 n < BENCODE_MAX_DEPTH - 1 ? (long)len : -1);
		assert_int_equal(bencode_value_len(deep, len),
				 n < BENCODE_MAX_DEPTH - 1 ? (long)len : -1);
	}
}

static void test_string(void **state)
{
	const uint8_t *s = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(bencode_string((const uint8_t *)"3:abcdef", 8, &s, &n), 1);
	assert_int_equal(n, 3);
	assert_memory_equal(s, "abc", 3);
	assert_int_equal(bencode_string((const uint8_t *)"3:ab", 4, &s, &n), 0);
	assert_int_equal(bencode_string((const uint8_t *)"i3e", 3, &s, &n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_bad_scalars),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_bad_containers),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_truncation_never_overreads),
		cmocka_unit_test(test_dict_get),
		cmocka_unit_test(test_dict_scan),
		cmocka_unit_test(test_dict_scan_one_pass),
		cmocka_unit_test(test_dict_pick_nested),
		cmocka_unit_test(test_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
