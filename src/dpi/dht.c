/* dht.c - the BitTorrent DHT: KRPC messages (BEP 5, BEP 32, BEP 44,
 * BEP 51), recognised by walking the bencoded dictionary and checking the
 * keys and sizes the protocol fixes, never by port. */
#include "sysincl.h"
#include "dpi/dht.h"
#include "dpi/dpi.h"
#include "dpi/bencode.h"

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
 * compact peers. */
static int check_body(const uint8_t *const v[], const size_t vl[])
{
	const uint8_t *s;
	size_t slen, off;

	if (!is_str(v[0], vl[0], &s, &slen) || slen != 20)
		return 0;
	if (v[1] && (!is_str(v[1], vl[1], &s, &slen) || slen % 26 != 0))
		return 0;
	if (v[2] && (!is_str(v[2], vl[2], &s, &slen) || slen % 38 != 0))
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
	return 1;
}

/* The nodes and peers of a reply body check_body accepted. */
static void learn_body(const uint8_t *const v[], const size_t vl[], const struct dpi_pkt *p)
{
	const uint8_t *s, *n4 = NULL, *n6 = NULL;
	size_t slen, n4l = 0, n6l = 0, off;

	if (v[1])
		is_str(v[1], vl[1], &n4, &n4l);
	if (v[2])
		is_str(v[2], vl[2], &n6, &n6l);
	for (; n4l >= 26; n4 += 26, n4l -= 26)
		dpi_learn(p, 4, n4 + 20, (uint16_t)(n4[24] << 8 | n4[25]));
	for (; n6l >= 38; n6 += 38, n6l -= 38)
		dpi_learn(p, 6, n6 + 20, (uint16_t)(n6[36] << 8 | n6[37]));
	for (off = 1; v[3] && off < vl[3] && v[3][off] != 'e';) {
		long n = bencode_value_len(v[3] + off, vl[3] - off);

		bencode_string(v[3] + off, (size_t)n, &s, &slen);
		dpi_learn_compact(p, s, slen, slen == 6 ? 4 : 6);
		off += (size_t)n;
	}
}

/* The transaction id as one word: its length and an FNV-1a hash of its
 * bytes. A forged reply must guess the id of a query it never saw. */
static uint32_t tid_hash(const uint8_t *t, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)n;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ t[i]) * 16777619u;
	return h | 1;	/* never 0 */
}

/* A parsed message: its kind ('q', 'r', 'e') and transaction id, the
 * reply's body keys; 0 when it is not KRPC. */
struct krpc {
	uint8_t kind;
	const uint8_t *t;
	size_t tlen;
	const uint8_t *rv[BODY_KEYS];
	size_t rvl[BODY_KEYS];
};

/* A message of the right size that starts as a dictionary. */
static int krpc_parse(const uint8_t *data, size_t len, struct krpc *m)
{
	static const char *const keys[] = { "t", "y", "q", "a", "r", "e" };
	enum { T, Y, Q, A, R, E };
	const uint8_t *v[6], *s, *av[BODY_KEYS];
	size_t vl[6], slen, avl[BODY_KEYS];
	const struct bencode_pick a = { body_keys, BODY_KEYS, av, avl, NULL };
	const struct bencode_pick r = { body_keys, BODY_KEYS, m->rv, m->rvl, NULL };
	const struct bencode_pick *const subs[6] = { NULL, NULL, NULL, &a, &r, NULL };
	const struct bencode_pick msg = { keys, 6, v, vl, subs };
	long n;

	if (len < 12 || len > KRPC_MAX || data[0] != 'd')
		return 0;
	/* one walk validates the whole message and finds the keys, those of
	 * the arguments and reply dictionaries included */
	n = bencode_dict_pick(data, len, &msg);
	if (n < 0 || (size_t)n != len)
		return 0;
	if (!is_str(v[T], vl[T], &m->t, &m->tlen) || m->tlen == 0 || m->tlen > 32)
		return 0;
	if (!is_str(v[Y], vl[Y], &s, &slen) || slen != 1)
		return 0;
	m->kind = s[0];
	switch (s[0]) {
	case 'q':
		return is_str(v[Q], vl[Q], &s, &slen) && known_query(s, slen) &&
			v[A] && check_body(av, avl);
	case 'r':
		return v[R] && check_body(m->rv, m->rvl);
	case 'e':
		/* An error: a list of an integer code and a message. */
		if (!v[E] || vl[E] < 3 || v[E][0] != 'l' || v[E][1] != 'i')
			return 0;
		n = bencode_value_len(v[E] + 1, vl[E] - 1);
		return n >= 0 && (size_t)n + 1 < vl[E] &&
			bencode_string(v[E] + 1 + n, vl[E] - 1 - (size_t)n, &s, &slen);
	default:
		return 0;
	}
}

/* Does m answer the protected side's pending query from the other
 * direction? */
static int answers(const struct dpi_flow *st, const struct krpc *m, int dir)
{
	return m->kind == 'r' && st->dht.query_dir == 2 - dir &&
		st->dht.tid == tid_hash(m->t, m->tlen);
}

enum dpi_id dht_check(struct dpi_flow *st, const uint8_t *data, size_t len,
		      const struct dpi_pkt *p)
{
	struct krpc m;

	if (!krpc_parse(data, len, &m))
		return DPI_NONE;
	if (!st || !p)
		return DPI_DHT;
	if (m.kind == 'q' && p->from_protected) {
		st->dht.tid = tid_hash(m.t, m.tlen);
		st->dht.query_dir = (uint8_t)(1 + p->dir);
	} else if (answers(st, &m, p->dir)) {
		st->dht.query_dir = 0;	/* one answer per query */
		st->proof |= (uint8_t)(1u << p->dir);
		learn_body(m.rv, m.rvl, p);
	}
	return DPI_DHT;
}
