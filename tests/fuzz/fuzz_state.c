/* fuzz_state.c - libFuzzer harness: the state file as start-up reads it.
 * The input is the file's contents. It is parsed twice: as it is, and
 * with its checksum made right, so that mutations reach the checks of
 * the header and of every record. A file taken must be exactly as long
 * as its counts say, hold only records a cache could hold, encode back
 * to the same bytes, and go into a worker's endpoint cache and the hosts
 * table (state_restore_engine, bthosts_note) without breaking either's
 * bounds. A file refused must say why and keep nothing. */
#include "sysincl.h"
#include "engine.h"
#include "state.h"
#include "statefile.h"
#include "fuzz.h"

static struct engine eng;
static struct bthosts hosts;

static void setup(void)
{
	struct engine_config c;

	engine_config_defaults(&c);
	c.flow_capacity = 16;
	c.endpoint_capacity = 64;
	c.hash_seed = 1;	/* a seed of the clock would steer the runs */
	FUZZ_ASSERT(engine_init(&eng, &c) == 0);
	FUZZ_ASSERT(bthosts_init(&hosts, 2, 1) == 0);
}

static void check_doc(const uint8_t *buf, size_t size, struct state_doc *d, int by_queue)
{
	struct state_restore r = { .doc = d, .by_queue = by_queue };
	struct state_restored out = { 0 };
	uint8_t *again;

	FUZZ_ASSERT(size == statefile_size(d->nendpoints, d->nhosts));
	FUZZ_ASSERT(d->nendpoints <= STATEFILE_MAX_ENDPOINTS && d->nhosts <= STATEFILE_MAX_HOSTS);
	FUZZ_ASSERT(d->queue_first <= d->queue_last);
	for (uint32_t i = 0; i < d->nendpoints; i++) {
		const struct state_endpoint *e = &d->endpoints[i];

		FUZZ_ASSERT(e->family == 4 || e->family == 6);
		FUZZ_ASSERT(e->tier == ENDPOINT_LISTED || e->tier == ENDPOINT_CONFIRMED);
		FUZZ_ASSERT(e->port >= 1024 && e->ttl_s <= STATEFILE_MAX_TTL);
		FUZZ_ASSERT(e->queue >= d->queue_first && e->queue <= d->queue_last);
	}
	/* the format has one encoding: the same bytes come back */
	again = malloc(size);
	FUZZ_ASSERT(again != NULL);
	statefile_encode(d, again);
	FUZZ_ASSERT(memcmp(again, buf, size) == 0);
	free(again);
	/* what start-up does with it: endpoints into a worker's cache,
	 * hosts into the file's region */
	endpoints_clear(&eng.eps);
	state_restore_engine(&r, d->queue_first, &eng, &out);
	FUZZ_ASSERT(eng.eps.used <= endpoints_slots(&eng.eps));
	FUZZ_ASSERT((uint64_t)out.added + out.refreshed + out.no_room <= d->nendpoints);
	bthosts_clear(&hosts);
	for (uint32_t i = 0; i < d->nhosts; i++) {
		const struct state_host *h = &d->hosts[i];
		uint64_t age = 0;

		FUZZ_ASSERT(h->family == 4 || h->family == 6);
		bthosts_note(&hosts, 1, h->family, h->addr, 1000000000ULL, (uint64_t)h->age_s * 1000000000ULL);
		FUZZ_ASSERT(bthosts_age(&hosts, h->family, h->addr, 1000000000ULL, &age) ||
			    i >= BTHOSTS_WAYS);
	}
}

static void parse(const uint8_t *buf, size_t size, int by_queue)
{
	struct state_doc d;
	char why[160];

	why[0] = '\0';
	if (statefile_parse(buf, size, &d, why, sizeof(why)) == 0) {
		check_doc(buf, size, &d, by_queue);
		statefile_free(&d);
	} else {
		FUZZ_ASSERT(why[0] != '\0');
		FUZZ_ASSERT(d.endpoints == NULL && d.hosts == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	/* exactly size bytes: a read past the input is an ASan report */
	uint8_t *buf = fuzz_dup(data, size);

	if (!ready) {
		setup();
		ready = 1;
	}
	parse(buf, size, size & 1);
	if (size >= STATEFILE_TRAILER) {
		uint32_t crc = statefile_crc32(0, buf, size - STATEFILE_TRAILER);

		buf[size - 4] = (uint8_t)(crc >> 24);
		buf[size - 3] = (uint8_t)(crc >> 16);
		buf[size - 2] = (uint8_t)(crc >> 8);
		buf[size - 1] = (uint8_t)crc;
		parse(buf, size, !(size & 1));
	}
	free(buf);
	return 0;
}
