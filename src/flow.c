/* flow.c - the per-worker flow table. Chained hashing over a fixed array
 * of entries (no allocation after init), a symmetric hash so that both
 * directions land on one entry, two age lists (TCP, UDP) kept in
 * last-use order so that timeouts and eviction of the oldest are O(1),
 * and a pool of stream-head slots lent to undecided TCP flows only. */
#include "flow.h"
#include "hash.h"
#include "packet.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Counters are read by another thread: relaxed atomic stores keep the
 * read tear-free at the cost of a plain store. */
#define BUMP(field) __atomic_store_n(&(field), (field) + 1, __ATOMIC_RELAXED)

static int cls(const struct flow *f)
{
	return f->l4 == IPPROTO_TCP ? 0 : 1;
}

/* One endpoint: cheap multiply-xor; the bucket index gets a full mix. */
static uint64_t ep_hash(const uint8_t *addr, uint16_t port, uint64_t seed)
{
	uint64_t w0, w1, h;

	memcpy(&w0, addr, 8);
	memcpy(&w1, addr + 8, 8);
	h = (w0 ^ seed) * 0x9e3779b97f4a7c15ULL;
	h ^= (w1 + port) * 0xc2b2ae3d27d4eb4fULL;
	return h ^ (h >> 29) ^ ((uint64_t)port << 32);
}

/* Symmetric: the sum does not depend on which end is which. */
static uint32_t bucket_of(const struct flow_table *t, const uint8_t *a, uint16_t pa,
			  const uint8_t *b, uint16_t pb, uint8_t l4)
{
	uint64_t h = ep_hash(a, pa, t->seed) + ep_hash(b, pb, t->seed) + l4;

	return (uint32_t)hash_mix64(h) & t->mask;
}

int flow_table_init(struct flow_table *t, uint32_t capacity, uint32_t head_size,
		    uint32_t tcp_timeout_s, uint32_t udp_timeout_s, uint64_t seed)
{
	uint32_t nb = 1, i;

	memset(t, 0, sizeof(*t));
	if (capacity == 0 || capacity > (1u << 26) || head_size > 65535)
		return -1;
	while (nb < capacity)
		nb <<= 1;
	t->capacity = capacity;
	t->mask = nb - 1;
	t->seed = seed;
	t->timeout_ns[0] = (uint64_t)tcp_timeout_s * 1000000000ULL;
	t->timeout_ns[1] = (uint64_t)udp_timeout_s * 1000000000ULL;
	t->head_size = head_size;
	/* Only undecided TCP flows hold a head, a small share of the table
	 * (one flow in 16: 8 MiB for 65536 flows and 1 KiB heads);
	 * when the pool runs dry flows are inspected packet by packet. */
	t->head_slots = head_size ? (capacity / 16 > 64 ? capacity / 16 : (capacity < 64 ? capacity : 64)) : 0;
	/* malloc + memset rather than calloc: the pages are faulted in now,
	 * not on the packet path */
	t->flows = aligned_alloc(64, (size_t)capacity * sizeof(*t->flows));
	t->buckets = malloc((size_t)nb * sizeof(*t->buckets));
	if (t->head_slots) {
		t->heads = malloc((size_t)t->head_slots * 2 * head_size);
		t->head_free = malloc((size_t)t->head_slots * sizeof(*t->head_free));
	}
	if (!t->flows || !t->buckets || (t->head_slots && (!t->heads || !t->head_free))) {
		flow_table_fini(t);
		return -1;
	}
	memset(t->flows, 0, (size_t)capacity * sizeof(*t->flows));
	if (t->heads)
		memset(t->heads, 0, (size_t)t->head_slots * 2 * head_size);
	for (i = 0; i < nb; i++)
		t->buckets[i] = FLOW_NONE;
	for (i = 0; i < capacity; i++)
		t->flows[i].hnext = i + 1 < capacity ? i + 1 : FLOW_NONE;
	t->free_list = 0;
	for (i = 0; i < t->head_slots; i++)
		t->head_free[i] = t->head_slots - 1 - i;
	t->head_free_n = t->head_slots;
	t->age_head[0] = t->age_head[1] = FLOW_NONE;
	t->age_tail[0] = t->age_tail[1] = FLOW_NONE;
	return 0;
}

void flow_table_fini(struct flow_table *t)
{
	free(t->flows);
	free(t->buckets);
	free(t->heads);
	free(t->head_free);
	t->flows = NULL;
	t->buckets = NULL;
	t->heads = NULL;
	t->head_free = NULL;
}

static void age_unlink(struct flow_table *t, struct flow *f)
{
	int c = cls(f);

	if (f->prev != FLOW_NONE)
		t->flows[f->prev].next = f->next;
	else
		t->age_head[c] = f->next;
	if (f->next != FLOW_NONE)
		t->flows[f->next].prev = f->prev;
	else
		t->age_tail[c] = f->prev;
}

static void age_append(struct flow_table *t, struct flow *f)
{
	int c = cls(f);
	uint32_t idx = (uint32_t)(f - t->flows);

	f->next = FLOW_NONE;
	f->prev = t->age_tail[c];
	if (f->prev != FLOW_NONE)
		t->flows[f->prev].next = idx;
	else
		t->age_head[c] = idx;
	t->age_tail[c] = idx;
}

void flow_head_release(struct flow_table *t, struct flow *f)
{
	if (f->head == FLOW_NONE)
		return;
	t->head_free[t->head_free_n++] = f->head;
	f->head = FLOW_NONE;
}

static void flow_remove(struct flow_table *t, struct flow *f, enum flow_end why)
{
	uint32_t idx = (uint32_t)(f - t->flows);
	uint32_t *pp = &t->buckets[bucket_of(t, f->a, f->pa, f->b, f->pb, f->l4)];

	if (t->on_end)
		t->on_end(t->on_end_arg, f, why);
	while (*pp != FLOW_NONE && *pp != idx)
		pp = &t->flows[*pp].hnext;
	if (*pp == idx)
		*pp = f->hnext;
	age_unlink(t, f);
	flow_head_release(t, f);
	f->in_use = 0;
	f->hnext = t->free_list;
	t->free_list = idx;
	t->count--;
}

void flow_table_flush(struct flow_table *t)
{
	int c;

	/* the age lists hold every flow: O(flows in use), not O(capacity) */
	for (c = 0; c < 2; c++)
		while (t->age_head[c] != FLOW_NONE)
			flow_remove(t, &t->flows[t->age_head[c]], FLOW_END_FLUSH);
}

void flow_foreach(struct flow_table *t, void (*fn)(void *arg, const struct flow *f), void *arg)
{
	uint32_t i;

	for (i = 0; i < t->capacity; i++)
		if (t->flows[i].in_use)
			fn(arg, &t->flows[i]);
}

static int expired(const struct flow_table *t, const struct flow *f, uint64_t now)
{
	return now > f->last_ns && now - f->last_ns > t->timeout_ns[cls(f)];
}

/* A busy flow is moved to the young end of its list at most once per
 * 2^30 ns (about a second): moving touches two neighbours' cache lines,
 * and an order exact to the second is all that timeouts need. */
#define LINK_SHIFT 30

static void relink(struct flow_table *t, struct flow *f)
{
	f->linked = (uint32_t)(f->last_ns >> LINK_SHIFT);
	if (t->age_tail[cls(f)] != (uint32_t)(f - t->flows)) {
		age_unlink(t, f);
		age_append(t, f);
	}
}

uint32_t flow_expire(struct flow_table *t, uint64_t now_ns, uint32_t max)
{
	uint32_t n = 0, steps = 0;
	int c;

	for (c = 0; c < 2; c++) {
		while (n < max && steps++ < 2 * max && t->age_head[c] != FLOW_NONE) {
			struct flow *f = &t->flows[t->age_head[c]];

			if (!expired(t, f, now_ns)) {
				/* used since it was linked: put it in its
				 * place and look at the next oldest */
				if ((uint32_t)(f->last_ns >> LINK_SHIFT) != f->linked &&
				    now_ns - ((uint64_t)f->linked << LINK_SHIFT) > t->timeout_ns[c]) {
					relink(t, f);
					continue;
				}
				break;
			}
			flow_remove(t, f, FLOW_END_TIMEOUT);
			BUMP(t->timed_out);
			n++;
		}
	}
	return n;
}

void flow_touch(struct flow_table *t, struct flow *f, uint64_t now_ns)
{
	if (now_ns > f->last_ns)
		f->last_ns = now_ns;
	if ((uint32_t)(f->last_ns >> LINK_SHIFT) != f->linked)
		relink(t, f);
}

static void evict_oldest(struct flow_table *t)
{
	uint32_t h0 = t->age_head[0], h1 = t->age_head[1], victim;

	if (h0 == FLOW_NONE)
		victim = h1;
	else if (h1 == FLOW_NONE)
		victim = h0;
	else
		victim = t->flows[h0].last_ns <= t->flows[h1].last_ns ? h0 : h1;
	flow_remove(t, &t->flows[victim], FLOW_END_EVICTED);
	BUMP(t->evicted);
}

struct flow *flow_lookup(struct flow_table *t, const struct pkt_view *v,
			 uint64_t now_ns, int *dir, int *created)
{
	uint32_t b, idx;
	struct flow *f;

	if (v->l4proto != IPPROTO_TCP && v->l4proto != IPPROTO_UDP)
		return NULL;
	*created = 0;
	b = bucket_of(t, v->saddr, v->sport, v->daddr, v->dport, v->l4proto);
	for (idx = t->buckets[b]; idx != FLOW_NONE; idx = f->hnext) {
		f = &t->flows[idx];
		if (f->l4 != v->l4proto || f->family != v->family)
			continue;
		/* IPv4 addresses are zero-padded to 16 bytes (packet.h), so
		 * fixed-size compares serve both families */
		if (f->pa == v->sport && f->pb == v->dport &&
		    memcmp(f->a, v->saddr, 16) == 0 && memcmp(f->b, v->daddr, 16) == 0)
			*dir = 0;
		else if (f->pa == v->dport && f->pb == v->sport &&
			 memcmp(f->a, v->daddr, 16) == 0 && memcmp(f->b, v->saddr, 16) == 0)
			*dir = 1;
		else
			continue;
		if (!expired(t, f, now_ns))
			return f;
		flow_remove(t, f, FLOW_END_TIMEOUT);
		BUMP(t->timed_out);
		break;
	}
	if (t->free_list == FLOW_NONE)
		evict_oldest(t);
	idx = t->free_list;
	f = &t->flows[idx];
	t->free_list = f->hnext;
	memset(f, 0, sizeof(*f));
	memcpy(f->a, v->saddr, 16);
	memcpy(f->b, v->daddr, 16);
	f->pa = v->sport;
	f->pb = v->dport;
	f->family = v->family;
	f->l4 = v->l4proto;
	f->in_use = 1;
	f->head = FLOW_NONE;
	f->first_ns = f->last_ns = now_ns;
	f->linked = (uint32_t)(now_ns >> LINK_SHIFT);
	f->hnext = t->buckets[b];
	t->buckets[b] = idx;
	age_append(t, f);
	t->count++;
	BUMP(t->inserted);
	*dir = 0;
	*created = 1;
	return f;
}

const uint8_t *flow_head(const struct flow_table *t, const struct flow *f, int dir)
{
	if (f->head == FLOW_NONE)
		return NULL;
	return t->heads + ((size_t)f->head * 2 + (size_t)dir) * t->head_size;
}

int flow_head_append(struct flow_table *t, struct flow *f, int dir, uint32_t seq,
		     const uint8_t *data, uint32_t len)
{
	struct flow_dir *d = &f->dir[dir];
	uint8_t *h;
	uint32_t room, n;
	int32_t delta;

	if (len == 0 || t->head_size == 0)
		return 0;
	if (f->head == FLOW_NONE) {
		if (t->head_free_n == 0) {
			BUMP(t->head_exhausted);
			return 0;
		}
		f->head = t->head_free[--t->head_free_n];
		f->dir[0].head_len = f->dir[1].head_len = 0;
	}
	/* The head starts at the first payload seen (the sequence after the
	 * SYN is not trusted: a lost first segment would freeze the head). */
	if (!d->seq_set || d->head_len == 0) {
		d->next_seq = seq;
		d->seq_set = 1;
	}
	delta = (int32_t)(seq - d->next_seq);
	if (delta > 0)
		return 0;			/* a gap: wait for the missing bytes */
	/* negated as unsigned: delta may be INT32_MIN (2^31 bytes behind) */
	if (-(uint32_t)delta >= len)
		return 0;			/* retransmission of bytes we have */
	data += -(uint32_t)delta;
	len -= -(uint32_t)delta;
	d->next_seq += len;
	h = (uint8_t *)flow_head(t, f, dir);
	room = t->head_size - d->head_len;
	n = len < room ? len : room;
	if (n == 0)
		return 0;
	memcpy(h + d->head_len, data, n);
	d->head_len = (uint16_t)(d->head_len + n);
	return 1;
}
