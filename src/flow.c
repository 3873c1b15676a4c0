/* flow.c - the per-worker flow table. Chained hashing over a fixed array
 * of entries (no allocation after init), a symmetric hash so that both
 * directions land on one entry, two age lists (TCP, UDP) kept in
 * last-use order so that timeouts and eviction of the oldest are O(1),
 * and a pool of stream-head slots lent to undecided TCP flows only. */
#include "sysincl.h"
#include "flow.h"
#include "counter.h"
#include "packet.h"

#include <netinet/in.h>

/* One keyed multiply-xorshift round: the seed enters every round, so
 * without it a sender cannot tell which tuples share a bucket. */
static inline uint64_t absorb(uint64_t h, uint64_t w, uint64_t seed)
{
	h = (h ^ w ^ seed) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 31);
}

/* a last multiply spreads the high bits into the low ones taken */
static inline uint32_t bucket_fold(const struct flow_table *t, uint64_t h)
{
	h *= 0xd6e8feb86659fd93ULL;
	return (uint32_t)(h ^ (h >> 32)) & t->mask;
}

static __attribute__((noinline)) uint32_t bucket_of6(const struct flow_table *t,
						     const uint8_t *a, uint16_t pa,
						     const uint8_t *b, uint16_t pb, uint64_t meta)
{
	uint64_t a0 = flow_load64(a), a1 = flow_load64(a + 8), b0 = flow_load64(b), b1 = flow_load64(b + 8), h;
	int swap = a0 != b0 ? a0 > b0 : a1 != b1 ? a1 > b1 : pa > pb;

	if (swap) {
		uint64_t t0 = a0, t1 = a1;
		uint16_t tp = pa;

		a0 = b0, a1 = b1, pa = pb;
		b0 = t0, b1 = t1, pb = tp;
	}
	h = absorb(meta, a0, t->seed);
	h = absorb(h, a1, t->seed);
	h = absorb(h, b0, t->seed);
	h = absorb(h, b1, t->seed);
	h = absorb(h, (uint64_t)pa << 16 | pb, t->seed);
	return bucket_fold(t, h);
}

/* Symmetric: the two endpoints are put in a canonical order (the lower
 * (address, port) first) before hashing, so both directions of a flow
 * land in one bucket. IPv4 addresses are zero-padded to 16 bytes
 * (packet.h); an IPv4 endpoint fits one word. */
static inline uint32_t bucket_of(const struct flow_table *t, const uint8_t *a, uint16_t pa,
				 const uint8_t *b, uint16_t pb, uint8_t l4, uint8_t family)
{
	uint64_t h, x, y, meta = (uint64_t)l4 << 8 | family;

	if (family != 4)
		return bucket_of6(t, a, pa, b, pb, meta);
	x = (uint64_t)flow_load32(a) << 16 | pa;
	y = (uint64_t)flow_load32(b) << 16 | pb;
	h = absorb(meta, x < y ? x : y, t->seed);
	h = absorb(h, x < y ? y : x, t->seed);
	return bucket_fold(t, h);
}

/* The stream-head pool: one slot (both directions) per FLOW_HEAD_RATIO
 * flows. A slot is held only while a TCP flow is undecided, and a flow
 * is decided within allow-after payload packets, so few are held at
 * once; a slot whose flow has been idle for FLOW_HEAD_IDLE_NS is taken
 * back when the pool runs dry (a flow that sent a little and went quiet
 * would otherwise keep it until its idle timeout). */
#define FLOW_HEAD_RATIO 64
#define FLOW_HEAD_IDLE_NS (2 * 1000 * 1000 * 1000ull)
#define FLOW_HEAD_SCAN 4

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
	 * (2 MiB for 65536 flows and 1 KiB heads); when the pool runs dry
	 * flows are inspected packet by packet. */
	t->head_slots = head_size ? (capacity / FLOW_HEAD_RATIO > 64 ? capacity / FLOW_HEAD_RATIO :
				     (capacity < 64 ? capacity : 64)) : 0;
	/* malloc + memset rather than calloc: the pages are faulted in now,
	 * not on the packet path */
	t->flows = aligned_alloc(64, (size_t)capacity * sizeof(*t->flows));
	t->buckets = malloc((size_t)nb * sizeof(*t->buckets));
	if (t->head_slots) {
		t->heads = malloc((size_t)t->head_slots * 2 * head_size);
		t->head_free = malloc((size_t)t->head_slots * sizeof(*t->head_free));
		t->head_owner = malloc((size_t)t->head_slots * sizeof(*t->head_owner));
	}
	if (!t->flows || !t->buckets ||
	    (t->head_slots && (!t->heads || !t->head_free || !t->head_owner))) {
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
	for (i = 0; i < t->head_slots; i++) {
		t->head_free[i] = t->head_slots - 1 - i;
		t->head_owner[i] = FLOW_NONE;
	}
	t->head_free_n = t->head_slots;
	for (i = 0; i < FLOW_LISTS; i++)
		t->age_head[i] = t->age_tail[i] = FLOW_NONE;
	return 0;
}

void flow_table_fini(struct flow_table *t)
{
	free(t->flows);
	free(t->buckets);
	free(t->heads);
	free(t->head_free);
	free(t->head_owner);
	t->head_owner = NULL;
	t->flows = NULL;
	t->buckets = NULL;
	t->heads = NULL;
	t->head_free = NULL;
}

static void age_unlink(struct flow_table *t, struct flow *f)
{
	int c = f->list;

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
	int c = f->list;
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
	t->head_owner[f->head] = FLOW_NONE;
	t->head_free[t->head_free_n++] = f->head;
	f->head = FLOW_NONE;
}

static void flow_remove(struct flow_table *t, struct flow *f, enum flow_end why)
{
	uint32_t idx = (uint32_t)(f - t->flows);
	uint32_t *pp = &t->buckets[f->bucket];

	if (t->on_end)
		t->on_end(t->on_end_arg, f, why);
	while (*pp != FLOW_NONE && *pp != idx)
		pp = &t->flows[*pp].hnext;
	if (*pp == idx)
		*pp = f->hnext;
	age_unlink(t, f);
	flow_head_release(t, f);
	f->in_use = 0;
	f->family = 0;		/* a free entry's key matches no packet */
	f->hnext = t->free_list;
	t->free_list = idx;
	t->count--;
}

void flow_table_flush(struct flow_table *t)
{
	int c;

	/* the age lists hold every flow: O(flows in use), not O(capacity) */
	for (c = 0; c < FLOW_LISTS; c++)
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


void flow_relink(struct flow_table *t, struct flow *f)
{
	f->linked = flow_link_epoch(f->last_ns);
	if (t->age_tail[f->list] != (uint32_t)(f - t->flows)) {
		age_unlink(t, f);
		age_append(t, f);
	}
}

void flow_guard(struct flow_table *t, struct flow *f, int on)
{
	uint8_t list = (uint8_t)(flow_class(f) + (on ? FLOW_LIST_GUARDED_TCP : 0));

	if (f->list == list)
		return;
	/* to the young end of the other list, stamped now: its order stays
	 * the order of link times that expiry relies on */
	age_unlink(t, f);
	f->list = list;
	f->linked = flow_link_epoch(f->last_ns);
	age_append(t, f);
}

uint32_t flow_expire(struct flow_table *t, uint64_t now_ns, uint32_t max)
{
	uint32_t n = 0, steps = 0;
	int c;

	for (c = 0; c < FLOW_LISTS; c++) {
		while (n < max && steps++ < 2 * max && t->age_head[c] != FLOW_NONE) {
			struct flow *f = &t->flows[t->age_head[c]];

			if (!flow_expired(t, f, now_ns)) {
				/* used since it was linked: put it in its
				 * place and look at the next oldest */
				if (flow_link_epoch(f->last_ns) != f->linked &&
				    now_ns - flow_linked_ns(f) > t->timeout_ns[c & 1]) {
					flow_relink(t, f);
					continue;
				}
				break;
			}
			flow_remove(t, f, FLOW_END_TIMEOUT);
			COUNTER_INC(t->timed_out);
			n++;
		}
	}
	return n;
}

uint64_t flow_expiry_due(const struct flow_table *t, uint64_t now_ns)
{
	uint64_t due = UINT64_MAX;
	int c;

	/* each list is in the order flows were (re)linked, and a flow's
	 * last packet is never older than its link time; a flow created
	 * from now on lives at least a timeout */
	for (c = 0; c < FLOW_LISTS; c++) {
		uint64_t d = now_ns + t->timeout_ns[c & 1];

		if (t->age_head[c] != FLOW_NONE)
			d = flow_linked_ns(&t->flows[t->age_head[c]]) + t->timeout_ns[c & 1];
		if (d < due)
			due = d;
	}
	return due;
}

/* The oldest flow of the plain lists, or of the guarded ones when only
 * guarded flows are left. */
static void evict_oldest(struct flow_table *t)
{
	int g = t->age_head[FLOW_LIST_TCP] == FLOW_NONE && t->age_head[FLOW_LIST_UDP] == FLOW_NONE ?
		FLOW_LIST_GUARDED_TCP : FLOW_LIST_TCP;
	uint32_t h0 = t->age_head[g], h1 = t->age_head[g + 1], victim;

	if (h0 == FLOW_NONE)
		victim = h1;
	else if (h1 == FLOW_NONE)
		victim = h0;
	else
		victim = t->flows[h0].last_ns <= t->flows[h1].last_ns ? h0 : h1;
	flow_remove(t, &t->flows[victim], FLOW_END_EVICTED);
	COUNTER_INC(t->evicted);
}

_Static_assert(sizeof(struct flow) == 192, "struct flow is three cache lines");


/* A new flow for v in bucket b, taking the oldest flow's entry when the
 * table is full. */
static struct flow *flow_create(struct flow_table *t, const struct pkt_view *v,
				uint32_t b, uint64_t now_ns)
{
	struct flow *f;
	uint32_t idx;

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
	f->list = (uint8_t)flow_class(f);
	f->head = FLOW_NONE;
	f->last_ns = now_ns;
	f->linked = flow_link_epoch(now_ns);
	f->bucket = b;
	f->hnext = t->buckets[b];
	t->buckets[b] = idx;
	age_append(t, f);
	t->count++;
	COUNTER_INC(t->inserted);
	return f;
}


struct flow *flow_lookup_chain(struct flow_table *t, const struct pkt_view *v,
			       uint64_t now_ns, int *dir, int *created)
{
	uint32_t b = bucket_of(t, v->saddr, v->sport, v->daddr, v->dport, v->l4proto, v->family);
	uint32_t idx;
	struct flow *f;
	int d = -1;

	for (idx = t->buckets[b]; idx != FLOW_NONE; idx = f->hnext) {
		f = &t->flows[idx];
		d = flow_view_dir(f, v);
		if (d >= 0)
			break;
	}
	if (idx != FLOW_NONE) {
		if (!flow_expired(t, f, now_ns)) {
			flow_recent_set(t, v, idx);
			*dir = d;
			*created = 0;
			return f;
		}
		flow_remove(t, f, FLOW_END_TIMEOUT);
		COUNTER_INC(t->timed_out);
	}
	f = flow_create(t, v, b, now_ns);
	flow_recent_set(t, v, (uint32_t)(f - t->flows));
	*dir = 0;
	*created = 1;
	return f;
}


/* The pool is dry: take back the slot of the longest idle of the next
 * FLOW_HEAD_SCAN holders if it has been idle long enough. Its flow goes
 * on without a head, like a flow that found the pool dry. 1 if a slot
 * was freed. */
static int head_reclaim(struct flow_table *t, uint64_t now_ns)
{
	struct flow *victim = NULL;
	uint32_t i;

	for (i = 0; i < FLOW_HEAD_SCAN && i < t->head_slots; i++) {
		uint32_t owner = t->head_owner[t->head_hand];

		t->head_hand = t->head_hand + 1 < t->head_slots ? t->head_hand + 1 : 0;
		if (owner != FLOW_NONE && (!victim || t->flows[owner].last_ns < victim->last_ns))
			victim = &t->flows[owner];
	}
	if (!victim || now_ns < victim->last_ns || now_ns - victim->last_ns < FLOW_HEAD_IDLE_NS)
		return 0;
	flow_head_release(t, victim);
	victim->dir[0].head_len = victim->dir[1].head_len = 0;
	victim->flags &= (uint8_t)~(FLOW_F_SEQ(0) | FLOW_F_SEQ(1));
	COUNTER_INC(t->head_reclaimed);
	return 1;
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
		if (t->head_free_n == 0 && !head_reclaim(t, f->last_ns)) {
			COUNTER_INC(t->head_exhausted);
			return 0;
		}
		f->head = t->head_free[--t->head_free_n];
		t->head_owner[f->head] = (uint32_t)(f - t->flows);
		f->dir[0].head_len = f->dir[1].head_len = 0;
	}
	/* The head starts at the first payload seen (the sequence after the
	 * SYN is not trusted: a lost first segment would freeze the head). */
	if (!(f->flags & FLOW_F_SEQ(dir)) || d->head_len == 0) {
		d->next_seq = seq;
		f->flags |= (uint8_t)FLOW_F_SEQ(dir);
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

uint32_t flow_remove_matching(struct flow_table *t, int (*match)(void *arg, const struct flow *f),
			      void *arg)
{
	uint32_t n = 0;

	/* the age lists hold every flow: O(flows in use), not O(capacity) */
	for (int c = 0; c < FLOW_LISTS; c++) {
		uint32_t i = t->age_head[c];

		while (i != FLOW_NONE) {
			struct flow *f = &t->flows[i];

			i = f->next;
			if (match(arg, f)) {
				flow_remove(t, f, FLOW_END_FLUSH);
				n++;
			}
		}
	}
	return n;
}
