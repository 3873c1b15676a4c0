/* endpoints.c - the per-worker cache of BitTorrent endpoints: a 4-way
 * set-associative table sized at start-up, entries that expire after
 * their TTL, a per-source quota kept in a second small table, and an
 * eviction order that an outsider cannot drive (see endpoints_add). */
#include "sysincl.h"
#include "endpoints.h"
#include "hash.h"

#define NS_PER_S 1000000000ULL

/* Each source may add capacity / ENDPOINTS_QUOTA_DIV entries per TTL,
 * at least ENDPOINTS_QUOTA_MIN: a tracker's 50 to 200 peers fit, one
 * DHT node's answers cannot fill the cache. */
#define ENDPOINTS_QUOTA_DIV 64
#define ENDPOINTS_QUOTA_MIN 16

static uint64_t key_hash(uint64_t seed, const uint8_t *addr, uint16_t port, int family)
{
	uint64_t w0, w1;

	memcpy(&w0, addr, 8);
	memcpy(&w1, addr + 8, 8);
	return hash_mix64(seed ^ w0 ^ hash_mix64(w1 ^ ((uint64_t)port << 8 | (uint64_t)family)));
}

static struct endpoint *set_of(const struct endpoints *c, const uint8_t *addr,
			       uint16_t port, int family)
{
	uint64_t h = key_hash(c->seed, addr, port, family);

	return c->slots + (size_t)(h & (c->nsets - 1)) * ENDPOINTS_WAYS;
}

static uint32_t pow2_sets(uint32_t capacity)
{
	uint32_t n = 1;

	while ((uint64_t)n * ENDPOINTS_WAYS < capacity)
		n <<= 1;
	return n;
}

uint32_t endpoints_slots_for(uint32_t capacity)
{
	return pow2_sets(capacity ? capacity : 1) * ENDPOINTS_WAYS;
}

int endpoints_init(struct endpoints *c, uint32_t capacity, uint32_t ttl_s, uint64_t seed)
{
	size_t nslots, nsources;

	memset(c, 0, sizeof(*c));
	if (capacity == 0 || capacity > (1u << 26))
		return -1;
	c->nsets = pow2_sets(capacity);
	/* a source table with room for every source that can fill its
	 * quota, and some more: the cache holds capacity entries at most */
	c->quota = capacity / ENDPOINTS_QUOTA_DIV > ENDPOINTS_QUOTA_MIN ?
		capacity / ENDPOINTS_QUOTA_DIV : ENDPOINTS_QUOTA_MIN;
	c->source_sets = pow2_sets(capacity / c->quota * 4 + ENDPOINTS_WAYS);
	c->ttl_ns = (uint64_t)ttl_s * NS_PER_S;
	c->seed = seed;
	c->epoch = 1;
	nslots = (size_t)c->nsets * ENDPOINTS_WAYS;
	nsources = (size_t)c->source_sets * ENDPOINTS_WAYS;
	/* memset, not calloc: fault the pages in at start-up */
	c->slots = malloc(nslots * sizeof(*c->slots));
	c->sources = malloc(nsources * sizeof(*c->sources));
	if (!c->slots || !c->sources) {
		endpoints_fini(c);
		return -1;
	}
	memset(c->slots, 0, nslots * sizeof(*c->slots));
	memset(c->sources, 0, nsources * sizeof(*c->sources));
	return 0;
}

void endpoints_fini(struct endpoints *c)
{
	free(c->slots);
	free(c->sources);
	c->slots = NULL;
	c->sources = NULL;
}

void endpoints_clear(struct endpoints *c)
{
	/* a new epoch frees every slot without touching the table */
	if (++c->epoch == 0) {
		memset(c->slots, 0, (size_t)c->nsets * ENDPOINTS_WAYS * sizeof(*c->slots));
		memset(c->sources, 0, (size_t)c->source_sets * ENDPOINTS_WAYS * sizeof(*c->sources));
		c->epoch = 1;
	}
	c->used = 0;
}

static void normalise(uint8_t out[16], int family, const uint8_t *addr)
{
	memset(out, 0, 16);
	memcpy(out, addr, family == 6 ? 16 : 4);
}

static int is_free(const struct endpoints *c, const struct endpoint *e)
{
	return e->family == 0 || e->epoch != c->epoch;
}

static int same(const struct endpoints *c, const struct endpoint *e, int family,
		const uint8_t *a, uint16_t port)
{
	return e->family == family && e->port == port && e->epoch == c->epoch &&
		memcmp(e->addr, a, 16) == 0;
}

static int source_live(const struct endpoints *c, const struct endpoint_source *x,
		       uint32_t now_s)
{
	return x->key != 0 && x->epoch == c->epoch && (int32_t)(x->window_end_s - now_s) > 0;
}

/* The source's quota: 1 if it may add one more entry now (counted). */
static int source_take(struct endpoints *c, uint32_t key, uint64_t now_ns)
{
	uint32_t now_s = (uint32_t)(now_ns / NS_PER_S), i;
	struct endpoint_source *s = c->sources + (size_t)(key & (c->source_sets - 1)) * ENDPOINTS_WAYS;
	struct endpoint_source *victim = NULL;

	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		struct endpoint_source *x = &s[i];
		int live = source_live(c, x, now_s);

		if (live && x->key == key) {
			if (x->count >= c->quota)
				return 0;
			x->count++;
			return 1;
		}
		/* a free or ended window first, else the one ending soonest */
		if (!victim || (!live && source_live(c, victim, now_s)) ||
		    (live && source_live(c, victim, now_s) &&
		     (int32_t)(x->window_end_s - victim->window_end_s) < 0))
			victim = x;
	}
	victim->key = key;
	victim->epoch = c->epoch;
	victim->count = 1;
	victim->window_end_s = now_s + (uint32_t)(c->ttl_ns / NS_PER_S) + 1;
	return 1;
}

/* Where a new entry of the given tier and source may go in set s, or
 * NULL: a free or expired slot; else the oldest entry of the same source
 * that is not of a higher tier. What others taught is never displaced:
 * no source, however many answers it sends or however many sources an
 * attacker runs, can push an honest entry out before it expires. */
static struct endpoint *room_for(const struct endpoints *c, struct endpoint *s,
				 enum endpoint_tier tier, uint32_t key, uint64_t now_ns)
{
	struct endpoint *victim = NULL;
	int i;

	for (i = 0; i < ENDPOINTS_WAYS; i++)
		if (is_free(c, &s[i]) || s[i].expires_ns <= now_ns)
			return &s[i];
	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		struct endpoint *x = &s[i];

		if (x->source != key || x->tier > tier)
			continue;
		if (!victim || x->expires_ns < victim->expires_ns)
			victim = x;
	}
	return victim;
}

enum endpoint_added endpoints_add_kind(struct endpoints *c, int family, const uint8_t *addr,
				       uint16_t port, enum endpoint_tier tier, enum endpoint_kind kind,
				       int src_family, const uint8_t *src, uint64_t now_ns)
{
	uint8_t a[16], sa[16];
	struct endpoint *s, *victim;
	uint32_t key;
	int i;

	normalise(a, family, addr);
	normalise(sa, src_family, src);
	key = (uint32_t)key_hash(~c->seed, sa, 0, src_family) | 1;
	s = set_of(c, a, port, family);
	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		if (same(c, &s[i], family, a, port)) {
			s[i].expires_ns = now_ns + c->ttl_ns;
			if (tier > s[i].tier)
				s[i].tier = (uint8_t)tier;
			s[i].kinds |= (uint8_t)kind;
			c->refreshed++;
			return ENDPOINT_REFRESHED;
		}
	}
	victim = room_for(c, s, tier, key, now_ns);
	if (!victim) {
		c->set_full++;
		return ENDPOINT_NO_ROOM;
	}
	if (!source_take(c, key, now_ns)) {
		c->over_quota++;
		return ENDPOINT_OVER_QUOTA;
	}
	if (is_free(c, victim))
		c->used++;
	else
		c->replaced++;
	memcpy(victim->addr, a, 16);
	victim->port = port;
	victim->family = (uint8_t)family;
	victim->tier = (uint8_t)tier;
	victim->kinds = (uint8_t)kind;
	victim->source = key;
	victim->epoch = c->epoch;
	victim->expires_ns = now_ns + c->ttl_ns;
	c->inserted++;
	return ENDPOINT_NEW;
}

unsigned endpoints_kinds(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
			 uint64_t now_ns)
{
	uint8_t a[16];
	struct endpoint *s;
	int i;

	normalise(a, family, addr);
	s = set_of(c, a, port, family);
	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		if (same(c, &s[i], family, a, port)) {
			if (s[i].expires_ns <= now_ns)
				return 0;
			c->hits++;
			return s[i].kinds;
		}
	}
	return 0;
}

uint32_t endpoints_remove_matching(struct endpoints *c,
				   int (*match)(void *arg, int family, const uint8_t *addr),
				   void *arg)
{
	size_t nslots = (size_t)c->nsets * ENDPOINTS_WAYS;
	uint32_t n = 0;

	for (size_t i = 0; i < nslots; i++) {
		struct endpoint *e = &c->slots[i];

		if (is_free(c, e) || !match(arg, e->family, e->addr))
			continue;
		e->family = 0;
		c->used--;
		n++;
	}
	return n;
}

uint32_t endpoints_export(const struct endpoints *c, uint32_t *cursor, uint32_t nslots,
			  uint64_t now_ns, struct endpoint_export *out, uint32_t max,
			  uint32_t *dropped)
{
	uint32_t end = endpoints_slots(c), n = 0, i;

	if (*cursor >= end)
		return 0;
	if (nslots > end - *cursor)
		nslots = end - *cursor;
	for (i = *cursor; i < *cursor + nslots; i++) {
		const struct endpoint *e = &c->slots[i];

		if (is_free(c, e) || e->expires_ns <= now_ns)
			continue;
		if (n == max) {
			(*dropped)++;
			continue;
		}
		out[n].expires_ns = e->expires_ns;
		memcpy(out[n].addr, e->addr, 16);
		out[n].source = e->source;
		out[n].port = e->port;
		out[n].family = e->family;
		out[n].tier = e->tier;
		out[n].kinds = e->kinds;
		n++;
	}
	*cursor += nslots;
	return n;
}

enum endpoint_added endpoints_restore(struct endpoints *c, int family, const uint8_t *addr,
				      uint16_t port, enum endpoint_tier tier, unsigned kinds,
				      uint64_t source_tag, uint64_t expires_ns, uint64_t now_ns)
{
	uint8_t a[16];
	struct endpoint *s, *slot = NULL;
	int i;

	normalise(a, family, addr);
	s = set_of(c, a, port, family);
	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		if (same(c, &s[i], family, a, port)) {
			if (expires_ns > s[i].expires_ns)
				s[i].expires_ns = expires_ns;
			if (tier > s[i].tier)
				s[i].tier = (uint8_t)tier;
			s[i].kinds |= (uint8_t)kinds;
			return ENDPOINT_REFRESHED;
		}
		if (!slot && (is_free(c, &s[i]) || s[i].expires_ns <= now_ns))
			slot = &s[i];
	}
	if (!slot) {
		c->set_full++;
		return ENDPOINT_NO_ROOM;
	}
	if (is_free(c, slot))
		c->used++;
	memcpy(slot->addr, a, 16);
	slot->port = port;
	slot->family = (uint8_t)family;
	slot->tier = (uint8_t)tier;
	slot->kinds = (uint8_t)kinds;
	/* keyed like live sources, but from another input: an old source
	 * is a source of its own, which no sender today can claim to be */
	slot->source = (uint32_t)hash_mix64(c->seed ^ 0x5e57a7edULL ^ hash_mix64(source_tag)) | 1;
	slot->epoch = c->epoch;
	slot->expires_ns = expires_ns;
	c->restored++;
	return ENDPOINT_NEW;
}
