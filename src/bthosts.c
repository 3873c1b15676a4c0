/* bthosts.c - the protected hosts seen running BitTorrent: one region per
 * writer, slots under a sequence count (see bthosts.h). */
#include "sysincl.h"
#include "bthosts.h"
#include "hash.h"

/* How often a reader tries a slot its writer is rewriting: a write is a
 * handful of stores, so a second look nearly always finds it done; a
 * writer descheduled in the middle costs the reader that one slot. */
#define READ_TRIES 8

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

int bthosts_init(struct bthosts *h, unsigned nregions, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	if (nregions == 0 || nregions > 1024)
		return -1;
	h->regions = aligned_alloc(64, sizeof(*h->regions) * nregions);
	if (!h->regions)
		return -1;
	memset(h->regions, 0, sizeof(*h->regions) * nregions);
	h->nregions = nregions;
	h->seed = seed;
	return 0;
}

void bthosts_fini(struct bthosts *h)
{
	free(h->regions);
	h->regions = NULL;
	h->nregions = 0;
}

void bthosts_clear(struct bthosts *h)
{
	if (h->regions)
		memset(h->regions, 0, sizeof(*h->regions) * h->nregions);
}

static void key(int family, const uint8_t *addr, uint64_t out[2])
{
	uint8_t a[16] = { 0 };

	memcpy(a, addr, family == 6 ? 16 : 4);
	memcpy(out, a, 16);
}

static unsigned set_index(const struct bthosts *h, int family, const uint64_t a[2])
{
	return (unsigned)(hash_mix64(h->seed ^ a[0] ^ hash_mix64(a[1] ^ (uint64_t)family)) &
			  (BTHOSTS_SETS - 1));
}

/* The writer's side of the sequence count (the region's owner only). */
static void slot_write(struct bthost_slot *s, int family, const uint64_t a[2], uint64_t stamp)
{
	uint32_t q = s->seq;

	STORE(s->seq, q + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	STORE(s->family, (uint8_t)family);
	STORE(s->addr[0], a[0]);
	STORE(s->addr[1], a[1]);
	STORE(s->stamp, stamp);
	__atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of the slot, or 0 when its writer kept it busy. */
static int slot_read(const struct bthost_slot *s, uint8_t *family, uint64_t a[2], uint64_t *stamp)
{
	for (int i = 0; i < READ_TRIES; i++) {
		uint32_t q = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

		if (q & 1)
			continue;
		*family = LOAD(s->family);
		a[0] = LOAD(s->addr[0]);
		a[1] = LOAD(s->addr[1]);
		*stamp = LOAD(s->stamp);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (LOAD(s->seq) == q)
			return 1;
	}
	return 0;
}

/* Time from a stamp to now; 0 for a stamp a little ahead (another
 * worker's clock read a moment later). */
static uint64_t age_of(uint64_t stamp, uint64_t now_ns)
{
	uint64_t now = now_ns + BTHOSTS_BIAS;

	return now > stamp ? now - stamp : 0;
}

void bthosts_note(struct bthosts *h, unsigned r, int family, const uint8_t *addr,
		  uint64_t now_ns, uint64_t age_ns)
{
	struct bthosts_region *reg;
	struct bthost_slot *set, *victim = NULL;
	uint64_t a[2], stamp;

	if (!h || !h->regions || r >= h->nregions || (family != 4 && family != 6))
		return;
	if (age_ns > BTHOSTS_BIAS)
		age_ns = BTHOSTS_BIAS;
	stamp = now_ns + BTHOSTS_BIAS - age_ns;
	reg = &h->regions[r];
	key(family, addr, a);
	set = &reg->slot[set_index(h, family, a) * BTHOSTS_WAYS];
	/* the owner reads its own slots without the count: nobody else writes */
	for (int i = 0; i < BTHOSTS_WAYS; i++) {
		struct bthost_slot *s = &set[i];

		if (s->family == family && s->addr[0] == a[0] && s->addr[1] == a[1]) {
			if (stamp >= s->stamp + BTHOSTS_GRAIN_NS) {
				slot_write(s, family, a, stamp);
				STORE(reg->updated, reg->updated + 1);
			}
			return;
		}
		if (!victim || (victim->family && (!s->family || s->stamp < victim->stamp)))
			victim = s;
	}
	/* a full set: an older sighting than all it holds is not kept */
	if (victim->family && victim->stamp >= stamp)
		return;
	slot_write(victim, family, a, stamp);
	STORE(reg->added, reg->added + 1);
}

int bthosts_age(const struct bthosts *h, int family, const uint8_t *addr, uint64_t now_ns,
		uint64_t *age_ns)
{
	uint64_t a[2], b[2], stamp, best = 0;
	uint8_t fam;
	unsigned set;
	int found = 0;

	if (!h || !h->regions || (family != 4 && family != 6))
		return 0;
	key(family, addr, a);
	set = set_index(h, family, a) * BTHOSTS_WAYS;
	for (unsigned r = 0; r < h->nregions; r++) {
		for (int i = 0; i < BTHOSTS_WAYS; i++) {
			if (!slot_read(&h->regions[r].slot[set + i], &fam, b, &stamp))
				continue;
			if (fam != family || b[0] != a[0] || b[1] != a[1])
				continue;
			if (!found || stamp > best)
				best = stamp;
			found = 1;
		}
	}
	if (found && age_ns)
		*age_ns = age_of(best, now_ns);
	return found;
}

uint32_t bthosts_remove_matching(struct bthosts *h, unsigned r,
				 int (*match)(void *arg, int family, const uint8_t *addr), void *arg)
{
	static const uint64_t none[2];
	uint32_t n = 0;

	if (!h || !h->regions || r >= h->nregions)
		return 0;
	for (unsigned i = 0; i < BTHOSTS_SLOTS; i++) {
		struct bthost_slot *s = &h->regions[r].slot[i];
		uint8_t a[16];

		if (!s->family)
			continue;
		memcpy(a, s->addr, 16);
		if (!match(arg, s->family, a))
			continue;
		slot_write(s, 0, none, 0);
		n++;
	}
	if (n)
		STORE(h->regions[r].updated, h->regions[r].updated + 1);
	return n;
}

uint64_t bthosts_added(const struct bthosts *h)
{
	uint64_t n = 0;

	for (unsigned r = 0; h && r < h->nregions; r++)
		n += LOAD(h->regions[r].added);
	return n;
}

uint64_t bthosts_changes(const struct bthosts *h)
{
	uint64_t n = 0;

	for (unsigned r = 0; h && r < h->nregions; r++)
		n += LOAD(h->regions[r].added) + LOAD(h->regions[r].updated);
	return n;
}

uint32_t bthosts_export(const struct bthosts *h, uint64_t now_ns, uint64_t max_age_ns,
			struct bthost_export *out, uint32_t max)
{
	uint32_t n = 0;

	if (!h || !h->regions)
		return 0;
	/* Set by set: a host lives in the same set of every region, so its
	 * copies meet within the few entries of one set. */
	for (unsigned set = 0; set < BTHOSTS_SETS; set++) {
		uint32_t first = n;

		for (unsigned r = 0; r < h->nregions; r++) {
			for (int i = 0; i < BTHOSTS_WAYS; i++) {
				uint64_t a[2], stamp, age;
				uint8_t fam;
				uint32_t k;

				if (!slot_read(&h->regions[r].slot[set * BTHOSTS_WAYS + i], &fam, a, &stamp) ||
				    (fam != 4 && fam != 6))
					continue;
				age = age_of(stamp, now_ns);
				if (age > max_age_ns)
					continue;
				for (k = first; k < n; k++)
					if (out[k].family == fam && memcmp(out[k].addr, a, 16) == 0)
						break;
				if (k < n) {
					if (age < out[k].age_ns)
						out[k].age_ns = age;
					continue;
				}
				if (n == max)
					return n;
				out[n].family = fam;
				memcpy(out[n].addr, a, 16);
				out[n].age_ns = age;
				n++;
			}
		}
	}
	return n;
}
