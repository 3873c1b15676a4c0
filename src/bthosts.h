/* bthosts.h - the protected hosts seen running BitTorrent: a small table
 * that every worker writes and reads without locks, kept across restarts
 * in the state file (src/state.c).
 *
 * A host is noted when its own BitTorrent showed on a genuine two-way
 * flow: the test that lets the ruleset ban an address pair (proof from
 * the protected side, answered in BitTorrent or, over TCP, acknowledging
 * the other end's SYN), so no stranger can get a host noted. It is
 * evidence about the host ("it ran BitTorrent a moment ago"), never a
 * verdict on any flow by itself.
 *
 * Layout: one region per writer (each worker, plus one that start-up
 * fills from the state file before any worker runs); a region is a small
 * 4-way set-associative table. Only the region's owner writes it, so a
 * slot needs no lock, only a sequence count that readers check: the
 * writer makes it odd, writes, makes it even again; a reader that saw an
 * odd or changed count reads again (a bounded number of times). A lookup
 * reads its set in every region: a few dozen compares, for the slow
 * paths that ask. Times are engine time (CLOCK_MONOTONIC_COARSE in the
 * daemon, capture time offline), which every worker shares.
 */
#ifndef BTBLOCKD_BTHOSTS_H
#define BTBLOCKD_BTHOSTS_H

#include <stdint.h>

#define BTHOSTS_WAYS 4
#define BTHOSTS_SETS 64		/* per region: 256 hosts */
#define BTHOSTS_SLOTS (BTHOSTS_SETS * BTHOSTS_WAYS)

/* A sighting is written at most once a second per host and region: a
 * host with many blocked flows costs no write per flow. */
#define BTHOSTS_GRAIN_NS 1000000000ULL

/* How long a host is kept in the state file after it was last seen. */
#define BTHOSTS_KEEP_S 86400

struct bthost_slot {
	uint32_t seq;		/* even: stable; odd: being written */
	uint8_t family;		/* 0: free */
	uint8_t pad[3];
	uint64_t addr[2];	/* 16 bytes, IPv4 in the first 4, the rest zero */
	uint64_t stamp;		/* engine time of the last sighting + BTHOSTS_BIAS */
};

/* Stamps are engine times moved up by this much, so that a host restored
 * from the state file may have been seen before the clock began (the
 * monotonic clock starts again at a reboot). */
#define BTHOSTS_BIAS (1ULL << 62)

struct bthosts_region {
	uint64_t added;		/* hosts new to the region (its owner writes) */
	uint64_t updated;	/* sightings of hosts already there */
	struct bthost_slot slot[BTHOSTS_SLOTS];
} __attribute__((aligned(64)));	/* no false sharing between writers */

struct bthosts {
	struct bthosts_region *regions;
	unsigned nregions;
	uint64_t seed;		/* keys the set index: unpredictable to senders */
};

/* One host as bthosts_export copies it out. */
struct bthost_export {
	uint8_t family;
	uint8_t addr[16];
	uint64_t age_ns;	/* time since its last sighting */
};

/* Allocate nregions empty regions (at most 1024). 0, or -1. */
int bthosts_init(struct bthosts *h, unsigned nregions, uint64_t seed);

/* Free the table (no thread may use it any more). */
void bthosts_fini(struct bthosts *h);

/* Empty every region (no thread may use it meanwhile). */
void bthosts_clear(struct bthosts *h);

/* The owner of region r: host family/addr (4 or 16 bytes) seen age_ns
 * before now_ns (0: now). A full set gives up its least recently seen
 * host; an older sighting than the one kept changes nothing. */
void bthosts_note(struct bthosts *h, unsigned r, int family, const uint8_t *addr,
		  uint64_t now_ns, uint64_t age_ns);

/* Any thread: 1 and the time since the host's latest sighting (over
 * every region) in *age_ns, or 0 when it is in none. A slot its writer
 * is rewriting at that moment is read again a few times, then passed
 * over. */
int bthosts_age(const struct bthosts *h, int family, const uint8_t *addr, uint64_t now_ns,
		uint64_t *age_ns);

/* The owner of region r: forget every host whose address match says 1
 * (addr: 16 bytes, IPv4 in the first 4). Returns how many went. */
uint32_t bthosts_remove_matching(struct bthosts *h, unsigned r,
				 int (*match)(void *arg, int family, const uint8_t *addr), void *arg);

/* Any thread: hosts added to any region so far (new hosts, not new
 * sightings). */
uint64_t bthosts_added(const struct bthosts *h);

/* Any thread: a number that moves whenever a host is added or seen
 * again (to know whether there is something new to save). */
uint64_t bthosts_changes(const struct bthosts *h);

/* Any thread: every host seen at most max_age_ns before now_ns, each
 * once (its latest sighting over all regions), at most max into out.
 * Returns the count. */
uint32_t bthosts_export(const struct bthosts *h, uint64_t now_ns, uint64_t max_age_ns,
			struct bthost_export *out, uint32_t max);

#endif
