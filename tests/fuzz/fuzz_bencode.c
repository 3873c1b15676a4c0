/* fuzz_bencode.c - libFuzzer harness: the bencode walker on hostile
 * bytes. Besides the sanitizers, it checks what the walker promises:
 * lengths and slices inside the input, and a value complete in the
 * length it reports. */
#include "sysincl.h"
#include "dpi/bencode.h"
#include "fuzz.h"

static void check_slice(const uint8_t *s, size_t slen, const uint8_t *d, size_t len)
{
	FUZZ_ASSERT(s >= d && s <= d + len);
	FUZZ_ASSERT(slen <= (size_t)(d + len - s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[BENCODE_SCAN_MAX + 1] = {
		"y", "q", "a", "r", "id", "nodes", "values", "m", "peers",
	};
	const uint8_t *vals[BENCODE_SCAN_MAX], *s;
	size_t vlens[BENCODE_SCAN_MAX], slen;
	uint8_t *d = fuzz_dup(data, size);
	long n;
	int r;

	n = bencode_value_len(d, size);
	FUZZ_ASSERT(n >= -1 && (n < 0 || (size_t)n <= size));
	if (n > 0)	/* complete in n bytes: the same length from a tight buffer */
		FUZZ_ASSERT(bencode_value_len(d, (size_t)n) == n);
	FUZZ_ASSERT(n != 0);	/* a value is never empty */
	if (bencode_string(d, size, &s, &slen))
		check_slice(s, slen, d, size);
	for (unsigned i = 0; i < BENCODE_SCAN_MAX; i++) {
		r = bencode_dict_get(d, size, keys[i], &s, &slen);
		FUZZ_ASSERT(r >= -1 && r <= 1);
		if (r == 1)
			check_slice(s, slen, d, size);
		if (bencode_dict_str(d, size, keys[i], &s, &slen))
			check_slice(s, slen, d, size);
	}
	n = bencode_dict_scan(d, size, keys, BENCODE_SCAN_MAX, vals, vlens);
	FUZZ_ASSERT(n >= -1 && (n < 0 || (size_t)n <= size));
	/* the one-pass scan accepts exactly the dictionaries the walker
	 * accepts, with the same length; each picked value is whole */
	if (size > 0 && d[0] == 'd')
		FUZZ_ASSERT(n == bencode_value_len(d, size));
	if (n >= 0)
		for (unsigned i = 0; i < BENCODE_SCAN_MAX; i++)
			if (vals[i]) {
				check_slice(vals[i], vlens[i], d, size);
				FUZZ_ASSERT(bencode_value_len(vals[i], vlens[i]) == (long)vlens[i]);
			}
	/* the same keys with "a" and "r" picked inside: same verdict and
	 * length, nested values inside the outer one */
	{
		const uint8_t *iv[BENCODE_SCAN_MAX], *ov[BENCODE_SCAN_MAX];
		size_t ivl[BENCODE_SCAN_MAX], ovl[BENCODE_SCAN_MAX];
		const struct bencode_pick inner = { keys, BENCODE_SCAN_MAX, iv, ivl, NULL };
		const struct bencode_pick *subs[BENCODE_SCAN_MAX] = { NULL };
		const struct bencode_pick outer = { keys, BENCODE_SCAN_MAX, ov, ovl, subs };

		subs[2] = subs[3] = &inner;
		FUZZ_ASSERT(bencode_dict_pick(d, size, &outer) == n);
		if (n >= 0)
			for (unsigned i = 0; i < BENCODE_SCAN_MAX; i++)
				if (iv[i])
					check_slice(iv[i], ivl[i], d, size);
	}
	/* more keys than it can look for at once: refused, not overrun */
	FUZZ_ASSERT(bencode_dict_scan(d, size, keys, BENCODE_SCAN_MAX + 1, vals, vlens) == -1);
	free(d);
	return 0;
}
