/* dht.c - the BitTorrent DHT: KRPC messages (BEP 5, BEP 32, BEP 44,
 * BEP 51), recognised by walking the bencoded dictionary and checking the
 * keys and sizes the protocol fixes, never by port. */
#include "dpi/dht.h"
#include "dpi/bencode.h"

#include <string.h>

static const char *const query_names[] = {
	"ping", "find_node", "get_peers", "announce_peer",
	"get", "put", "sample_infohashes", "vote",
};

static int known_query(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(query_names) / sizeof(query_names[0]); i++)
		if (strlen(query_names[i]) == n && memcmp(query_names[i], s, n) == 0)
			return 1;
	return 0;
}

/* KRPC messages fit one unfragmented datagram (BEP 44 caps stored values
 * at 1000 bytes): anything larger is not the DHT, and the cap bounds the
 * work a hostile datagram can cause. */
#define KRPC_MAX 2048

static int is_str(const uint8_t *v, size_t vl, const uint8_t **s, size_t *sl)
{
	return v && bencode_string(v, vl, s, sl);
}

/* The keys of the arguments ("a") and reply ("r") dictionaries. */
static const char *const body_keys[] = { "id", "nodes", "nodes6", "values" };
#define BODY_KEYS 4

/* The arguments or reply dictionary, picked in the message's one pass
 * (v[], vl[] in body_keys order): a 20-byte "id", node lists whose
 * lengths are multiples of the compact node size, "values" a list of
 * compact peers. Endpoints are learned once all of it checked out. */
static int check_body(const uint8_t *const v[], const size_t vl[], const struct dpi_pkt *p)
{
	const uint8_t *s, *n4 = NULL, *n6 = NULL;
	size_t slen, n4l = 0, n6l = 0, off;

	if (!is_str(v[0], vl[0], &s, &slen) || slen != 20)
		return 0;
	if (v[1] && (!is_str(v[1], vl[1], &n4, &n4l) || n4l % 26 != 0))
		return 0;
	if (v[2] && (!is_str(v[2], vl[2], &n6, &n6l) || n6l % 38 != 0))
		return 0;
	if (v[3]) {
		if (v[3][0] != 'l')
			return 0;
		for (off = 1; off < vl[3] && v[3][off] != 'e';) {
			long n = bencode_value_len(v[3] + off, vl[3] - off);

			if (n < 0 || !bencode_string(v[3] + off, (size_t)n, &s, &slen) ||
			    (slen != 6 && slen != 18))
				return 0;
			off += (size_t)n;
		}
	}
	if (!p)
		return 1;
	for (; n4l >= 26; n4 += 26, n4l -= 26)
		dpi_learn(p, 4, n4 + 20, (uint16_t)(n4[24] << 8 | n4[25]), 0);
	for (; n6l >= 38; n6 += 38, n6l -= 38)
		dpi_learn(p, 6, n6 + 20, (uint16_t)(n6[36] << 8 | n6[37]), 0);
	for (off = 1; v[3] && off < vl[3] && v[3][off] != 'e';) {
		long n = bencode_value_len(v[3] + off, vl[3] - off);

		bencode_string(v[3] + off, (size_t)n, &s, &slen);
		dpi_learn_compact(p, s, slen, slen == 6 ? 4 : 6);
		off += (size_t)n;
	}
	return 1;
}

/* A message of the right size that starts as a dictionary. */
static enum dpi_id krpc_check(const uint8_t *data, size_t len, const struct dpi_pkt *p)
{
	static const char *const keys[] = { "t", "y", "q", "a", "r", "e" };
	enum { T, Y, Q, A, R, E };
	const uint8_t *v[6], *s, *av[BODY_KEYS], *rv[BODY_KEYS];
	size_t vl[6], slen, avl[BODY_KEYS], rvl[BODY_KEYS];
	const struct bencode_pick a = { body_keys, BODY_KEYS, av, avl, NULL };
	const struct bencode_pick r = { body_keys, BODY_KEYS, rv, rvl, NULL };
	const struct bencode_pick *const subs[6] = { NULL, NULL, NULL, &a, &r, NULL };
	const struct bencode_pick msg = { keys, 6, v, vl, subs };
	long n;

	/* one walk validates the whole message and finds the keys, those of
	 * the arguments and reply dictionaries included */
	n = bencode_dict_pick(data, len, &msg);
	if (n < 0 || (size_t)n != len)
		return DPI_NONE;
	if (!is_str(v[T], vl[T], &s, &slen) || slen == 0 || slen > 32)
		return DPI_NONE;
	if (!is_str(v[Y], vl[Y], &s, &slen) || slen != 1)
		return DPI_NONE;
	switch (s[0]) {
	case 'q':
		if (!is_str(v[Q], vl[Q], &s, &slen) || !known_query(s, slen))
			return DPI_NONE;
		return v[A] && check_body(av, avl, p) ? DPI_DHT : DPI_NONE;
	case 'r':
		return v[R] && check_body(rv, rvl, p) ? DPI_DHT : DPI_NONE;
	case 'e':
		/* An error: a list of an integer code and a message. */
		if (!v[E] || vl[E] < 3 || v[E][0] != 'l' || v[E][1] != 'i')
			return DPI_NONE;
		n = bencode_value_len(v[E] + 1, vl[E] - 1);
		if (n < 0 || (size_t)n + 1 >= vl[E] ||
		    !bencode_string(v[E] + 1 + n, vl[E] - 1 - (size_t)n, &s, &slen))
			return DPI_NONE;
		return DPI_DHT;
	default:
		return DPI_NONE;
	}
}

enum dpi_id dht_check(const uint8_t *data, size_t len, const struct dpi_pkt *p)
{
	if (len < 12 || len > KRPC_MAX || data[0] != 'd')
		return DPI_NONE;
	return krpc_check(data, len, p);
}
