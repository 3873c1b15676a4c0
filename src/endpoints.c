/* endpoints.c - the per-worker cache of BitTorrent endpoints: a
 * 4-way set-associative table sized at start-up; an entry expires after
 * its TTL, and a full set gives up the entry closest to expiry. */
#include "endpoints.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

static struct endpoint *set_of(const struct endpoints *c, const uint8_t *addr,
			       uint16_t port, int family)
{
	uint64_t w0, w1;

	memcpy(&w0, addr, 8);
	memcpy(&w1, addr + 8, 8);
	w0 = hash_mix64(c->seed ^ w0 ^ hash_mix64(w1 ^ ((uint64_t)port << 8 | (uint64_t)family)));
	return c->slots + (size_t)(w0 & (c->nsets - 1)) * ENDPOINTS_WAYS;
}

int endpoints_init(struct endpoints *c, uint32_t capacity, uint32_t ttl_s, uint64_t seed)
{
	uint32_t n = 1;

	memset(c, 0, sizeof(*c));
	if (capacity == 0 || capacity > (1u << 26))
		return -1;
	while ((uint64_t)n * ENDPOINTS_WAYS < capacity)
		n <<= 1;
	c->nsets = n;
	c->ttl_ns = (uint64_t)ttl_s * 1000000000ULL;
	c->seed = seed;
	c->epoch = 1;
	/* memset, not calloc: fault the pages in at start-up */
	c->slots = malloc((size_t)n * ENDPOINTS_WAYS * sizeof(*c->slots));
	if (!c->slots)
		return -1;
	memset(c->slots, 0, (size_t)n * ENDPOINTS_WAYS * sizeof(*c->slots));
	return 0;
}

void endpoints_fini(struct endpoints *c)
{
	free(c->slots);
	c->slots = NULL;
}

void endpoints_clear(struct endpoints *c)
{
	/* a new epoch frees every slot without touching the table */
	if (++c->epoch == 0) {
		memset(c->slots, 0, (size_t)c->nsets * ENDPOINTS_WAYS * sizeof(*c->slots));
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

void endpoints_add(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
		   uint64_t now_ns)
{
	uint8_t a[16];
	struct endpoint *s, *victim;
	int i;

	normalise(a, family, addr);
	s = set_of(c, a, port, family);
	victim = NULL;
	for (i = 0; i < ENDPOINTS_WAYS; i++) {
		if (same(c, &s[i], family, a, port)) {
			s[i].expires_ns = now_ns + c->ttl_ns;
			return;
		}
		/* a free slot first, else the one closest to (or past) expiry */
		if (!victim || (!is_free(c, victim) &&
				(is_free(c, &s[i]) || s[i].expires_ns < victim->expires_ns)))
			victim = &s[i];
	}
	if (is_free(c, victim))
		c->used++;
	else
		c->replaced++;
	memcpy(victim->addr, a, 16);
	victim->port = port;
	victim->family = (uint8_t)family;
	victim->epoch = c->epoch;
	victim->expires_ns = now_ns + c->ttl_ns;
	c->inserted++;
}

int endpoints_has(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
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
			return 1;
		}
	}
	return 0;
}
