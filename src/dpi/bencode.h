/* bencode.h - a bounded, allocation-free bencode walker for hostile input. */
#ifndef BTBLOCKD_DPI_BENCODE_H
#define BTBLOCKD_DPI_BENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of lists/dicts accepted; deeper input is malformed. */
#define BENCODE_MAX_DEPTH 24

/* Length of the one bencoded value starting at p[0], or -1 when the bytes
 * in p[0..len) do not hold a complete, well-formed value. */
long bencode_value_len(const uint8_t *p, size_t len);

/* Parse a byte string value at p[0..len): 1 and *s, *slen set, or 0. */
int bencode_string(const uint8_t *p, size_t len, const uint8_t **s, size_t *slen);

/* Find key in the dictionary value at d[0..dlen) (top level only).
 * 1 found (*val, *vlen: the value's bytes), 0 absent, -1 malformed. */
int bencode_dict_get(const uint8_t *d, size_t dlen, const char *key,
		     const uint8_t **val, size_t *vlen);

/* Most keys bencode_dict_scan looks for at once. */
#define BENCODE_SCAN_MAX 8

/* One pass over the dictionary d[0..dlen): for each of the nkeys keys
 * found at the top level, vals[i]/vlens[i] get its value (NULL/0 when
 * absent; a key present twice: the last). Returns the dictionary's length
 * when it is well formed (every value walked, nesting within
 * BENCODE_MAX_DEPTH counting the dictionary itself, as
 * bencode_value_len), -1 otherwise (also when nkeys > BENCODE_SCAN_MAX).
 * Keys are not empty. */
long bencode_dict_scan(const uint8_t *d, size_t dlen, const char *const keys[], int nkeys,
		       const uint8_t *vals[], size_t vlens[]);

/* What bencode_dict_pick looks for: nkeys (at most BENCODE_SCAN_MAX)
 * keys whose values land in vals/vlens (NULL/0 when absent; a key present
 * twice: the last), and, when subs is not NULL and subs[i] is, the keys
 * of keys[i]'s value when that value is a dictionary, picked in the same
 * pass (all NULL otherwise). */
struct bencode_pick {
	const char *const *keys;
	int nkeys;
	const uint8_t **vals;
	size_t *vlens;
	const struct bencode_pick *const *subs;
};

/* One pass over the dictionary d[0..dlen) and the nested dictionaries
 * pk asks for. Returns the dictionary's length when it is well formed
 * (as bencode_value_len: every value walked, nesting within
 * BENCODE_MAX_DEPTH counting the dictionary), -1 otherwise. */
long bencode_dict_pick(const uint8_t *d, size_t dlen, const struct bencode_pick *pk);

/* Like bencode_dict_get but the value must be a string: 1 found, else 0. */
int bencode_dict_str(const uint8_t *d, size_t dlen, const char *key,
		     const uint8_t **s, size_t *slen);

#endif
