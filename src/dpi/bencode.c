/* bencode.c - a bounded, allocation-free bencode walker for hostile input. */
#include "sysincl.h"
#include "dpi/bencode.h"

/* Parse the decimal length of a string at p; the digits must be followed
 * by ':'. Returns the index of ':' or -1; *n gets the length. */
static long parse_strlen(const uint8_t *p, size_t len, size_t *n)
{
	size_t i = 0, v = 0;

	if (len == 0 || p[0] < '0' || p[0] > '9')
		return -1;
	if (len > 1 && p[1] == ':') {	/* one digit: most keys and short values */
		*n = (size_t)(p[0] - '0');
		return 1;
	}
	if (p[0] == '0')
		return -1;		/* no leading zeros */
	while (i < len && p[i] >= '0' && p[i] <= '9') {
		if (i >= 9)
			return -1;	/* no string of a gigabyte in a packet */
		v = v * 10 + (size_t)(p[i] - '0');
		i++;
	}
	if (i >= len || p[i] != ':')
		return -1;
	*n = v;
	return (long)i;
}

/* A string value at p: total length (digits, ':', bytes) or -1. */
static long string_len(const uint8_t *p, size_t len)
{
	size_t n;
	long c = parse_strlen(p, len, &n);

	if (c < 0 || n > len - (size_t)c - 1)
		return -1;
	return c + 1 + (long)n;
}

/* An integer value at p ("i-12e"): total length or -1. */
static long int_len(const uint8_t *p, size_t len)
{
	size_t i = 1, start;

	if (len < 3 || p[0] != 'i')
		return -1;
	if (p[i] == '-')
		i++;
	start = i;
	while (i < len && p[i] >= '0' && p[i] <= '9' && i - start < 20)
		i++;
	if (i == start || i >= len || p[i] != 'e')
		return -1;
	if (p[start] == '0' && (i - start > 1 || start == 2))
		return -1;		/* "i03e" and "i-0e" are invalid */
	return (long)i + 1;
}

/* Length of the one value at p[0] nested at most max_depth deep, or -1.
 * Iterative, with an explicit stack: per level, whether it is a
 * dictionary and, if so, whether a key is expected next. */
static long walk(const uint8_t *p, size_t len, int max_depth)
{
	uint8_t is_dict[BENCODE_MAX_DEPTH];
	uint8_t want_key[BENCODE_MAX_DEPTH];
	int depth = 0;
	size_t off = 0;

	do {
		long n;

		if (off >= len)
			return -1;
		if (p[off] == 'e' && depth > 0) {
			if (is_dict[depth - 1] && !want_key[depth - 1])
				return -1;	/* key without value */
			depth--;
			off++;
			goto value_done;
		}
		if (depth > 0 && is_dict[depth - 1] && want_key[depth - 1]) {
			n = string_len(p + off, len - off);
			if (n < 0)
				return -1;
			off += (size_t)n;
			want_key[depth - 1] = 0;
			continue;
		}
		switch (p[off]) {
		case 'd':
		case 'l':
			if (depth >= max_depth)
				return -1;
			is_dict[depth] = p[off] == 'd';
			want_key[depth] = 1;
			depth++;
			off++;
			continue;
		case 'i':
			n = int_len(p + off, len - off);
			break;
		default:
			n = string_len(p + off, len - off);
			break;
		}
		if (n < 0)
			return -1;
		off += (size_t)n;
value_done:
		if (depth > 0 && is_dict[depth - 1])
			want_key[depth - 1] = 1;
	} while (depth > 0);
	return (long)off;
}

long bencode_value_len(const uint8_t *p, size_t len)
{
	return walk(p, len, BENCODE_MAX_DEPTH);
}

/* A value inside a dictionary that may use depth levels: scalars parsed
 * here, containers walked. */
static long member_len(const uint8_t *p, size_t len, int depth)
{
	if (len == 0)
		return -1;
	if (p[0] == 'i')
		return int_len(p, len);
	if (p[0] == 'd' || p[0] == 'l')
		return walk(p, len, depth);
	return string_len(p, len);
}

/* Wanted keys by length and first byte: one compare per wanted key
 * unless both match. */
static uint32_t key_tag(size_t kl, uint8_t first)
{
	return (uint32_t)kl << 8 | first;
}

int bencode_string(const uint8_t *p, size_t len, const uint8_t **s, size_t *slen)
{
	size_t n;
	long c = parse_strlen(p, len, &n);

	if (c < 0 || n > len - (size_t)c - 1)
		return 0;
	*s = p + c + 1;
	*slen = n;
	return 1;
}

int bencode_dict_get(const uint8_t *d, size_t dlen, const char *key,
		     const uint8_t **val, size_t *vlen)
{
	size_t klen = strlen(key), off = 1;

	if (dlen < 2 || d[0] != 'd')
		return -1;
	while (off < dlen && d[off] != 'e') {
		const uint8_t *k;
		size_t kl;
		long n = string_len(d + off, dlen - off);
		long v;

		if (n < 0 || !bencode_string(d + off, dlen - off, &k, &kl))
			return -1;
		off += (size_t)n;
		v = bencode_value_len(d + off, dlen - off);
		if (v < 0)
			return -1;
		if (kl == klen && memcmp(k, key, klen) == 0) {
			*val = d + off;
			*vlen = (size_t)v;
			return 1;
		}
		off += (size_t)v;
	}
	return off < dlen ? 0 : -1;
}

/* Empty every pick of pk and its subs: 1, or 0 (nothing written past
 * the arrays) when one of them wants more than BENCODE_SCAN_MAX keys. */
static int pick_clear(const struct bencode_pick *pk)
{
	int i;

	if (pk->nkeys > BENCODE_SCAN_MAX)
		return 0;
	memset(pk->vals, 0, (size_t)pk->nkeys * sizeof(*pk->vals));
	memset(pk->vlens, 0, (size_t)pk->nkeys * sizeof(*pk->vlens));
	for (i = 0; pk->subs && i < pk->nkeys; i++)
		if (pk->subs[i] && !pick_clear(pk->subs[i]))
			return 0;
	return 1;
}

/* The tag of a wanted key; an empty key gets one no key can have. */
static uint32_t wanted_tag(const char *key)
{
	size_t n = 0;

	while (key[n])
		n++;
	return n ? key_tag(n, (uint8_t)key[0]) : 0;
}

/* The dictionary at d, itself one of the depth levels it may use. */
static long scan(const uint8_t *d, size_t dlen, const struct bencode_pick *pk, int depth)
{
	uint32_t tags[BENCODE_SCAN_MAX];
	size_t off = 1;
	int i;

	if (!pick_clear(pk) || depth < 1 || dlen < 2 || d[0] != 'd')
		return -1;
	for (i = 0; i < pk->nkeys; i++)
		tags[i] = wanted_tag(pk->keys[i]);
	/* one pass: each key parsed once, each value walked once */
	while (off < dlen && d[off] != 'e') {
		const struct bencode_pick *sub = NULL;
		const uint8_t *k;
		size_t kl;
		long c = parse_strlen(d + off, dlen - off, &kl), v;
		uint32_t tag;
		int picked = -1;

		if (c < 0 || kl > dlen - off - (size_t)c - 1)
			return -1;
		k = d + off + c + 1;
		off += (size_t)c + 1 + kl;
		tag = kl && kl <= 0xffffff ? key_tag(kl, k[0]) : 0;
		for (i = 0; tag && i < pk->nkeys; i++) {
			if (tags[i] == tag && memcmp(pk->keys[i] + 1, k + 1, kl - 1) == 0) {
				picked = i;
				break;
			}
		}
		if (picked >= 0 && pk->subs)
			sub = pk->subs[picked];
		if (sub && off < dlen && d[off] == 'd') {
			v = scan(d + off, dlen - off, sub, depth - 1);
		} else {
			if (sub)
				(void)pick_clear(sub);	/* a later value replaces a dictionary */
			v = member_len(d + off, dlen - off, depth - 1);
		}
		if (v < 0)
			return -1;
		if (picked >= 0) {
			pk->vals[picked] = d + off;
			pk->vlens[picked] = (size_t)v;
		}
		off += (size_t)v;
	}
	return off < dlen ? (long)off + 1 : -1;
}

long bencode_dict_pick(const uint8_t *d, size_t dlen, const struct bencode_pick *pk)
{
	return scan(d, dlen, pk, BENCODE_MAX_DEPTH);
}

long bencode_dict_scan(const uint8_t *d, size_t dlen, const char *const keys[], int nkeys,
		       const uint8_t *vals[], size_t vlens[])
{
	struct bencode_pick pk = { keys, nkeys, vals, vlens, NULL };

	return bencode_dict_pick(d, dlen, &pk);
}

int bencode_dict_str(const uint8_t *d, size_t dlen, const char *key,
		     const uint8_t **s, size_t *slen)
{
	const uint8_t *v;
	size_t vl;

	if (bencode_dict_get(d, dlen, key, &v, &vl) != 1)
		return 0;
	return bencode_string(v, vl, s, slen);
}
