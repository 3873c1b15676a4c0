/* state.h - what a restarted daemon needs to judge like the one before
 * it: the workers' learned endpoints and the protected hosts seen running
 * BitTorrent, kept in the state file (--state-file; format in
 * statefile.h).
 *
 * Read at start-up by the main thread, before the workers exist; each
 * worker then takes its share into its cache as it starts. Written by
 * the control thread every --state-interval when something changed, and
 * a few seconds after a burst of learning, from snapshots the workers
 * copy out through a one-slot mailbox each (the pattern of forget.h: no
 * lock, the worker copies a slice of its table per loop turn between
 * two netlink batches), and by the main thread at exit, from the
 * stopped workers' tables. The file is replaced atomically (a temporary
 * file in the same directory, fsync, rename, fsync of the directory),
 * through a descriptor of the directory opened at start-up.
 *
 * Which worker gets an entry: the kernel picks a flow's queue from a
 * hash of its addresses and protocol keyed by a secret drawn once per
 * boot, which user space cannot compute. Within one boot and with the
 * same queue range the same flows land on the same queues as before, so
 * each entry goes back to the worker of the queue that held it: the
 * caches, their quotas and their hit rates are those of the old daemon.
 * After a reboot (another boot id) or with another queue range, nobody
 * can tell which queue will see a flow to the endpoint, so every worker
 * gets every entry (a cache is allocated whole at start-up: this costs
 * slots, not memory).
 */
#ifndef BTBLOCKD_STATE_H
#define BTBLOCKD_STATE_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "bthosts.h"
#include "endpoints.h"
#include "statefile.h"
#include "config.h"

struct engine;
struct worker;

/* Slots of its endpoint cache a worker copies per loop turn for a
 * snapshot: about a millisecond of work, so a large cache never holds
 * the queue up for long. */
#define STATE_SLICE_SLOTS 65536

/* New endpoints or hosts that call for a save before the interval ends,
 * and the least time between two saves. */
#define STATE_BURST 256
#define STATE_MIN_GAP_MS 5000

/* How long the workers have to hand over a snapshot: a healthy worker
 * looks at its mailbox at least every receive timeout (200 ms). */
#define STATE_COLLECT_MS 5000

#define STATE_DEF_INTERVAL 60

/* The mailbox of one worker. The control thread writes the request and
 * then "posted"; the worker walks its table a slice per loop turn, then
 * writes the answer and "served". */
struct state_box {
	uint32_t posted;		/* the control thread's (release) */
	uint32_t served;		/* the worker's (release) */
	struct endpoint_export *buf;	/* where the worker copies its entries */
	uint32_t max;			/* room in buf */
	uint32_t cursor;		/* the walk, kept between loop turns */
	uint32_t count;			/* the answer: entries copied */
	uint32_t dropped;		/* live entries that did not fit */
};

/* What a worker takes from the file as it starts (read-only, shared). */
struct state_restore {
	const struct state_doc *doc;	/* ttl_s already counts the time since saving; 0: expired */
	int by_queue;			/* 1: an entry to its own queue only; 0: to every worker */
};

/* A worker's count of what it took (written before it reports ready). */
struct state_restored {
	uint32_t added;
	uint32_t refreshed;		/* already there (the file held it twice) */
	uint32_t no_room;		/* its set was full */
};

struct state {
	int enabled;			/* a state file is configured */
	char path[CONFIG_PATH_MAX];
	char base[256];			/* the file's name in its directory */
	int dirfd;			/* the directory, opened at start-up; -1 */
	uint32_t interval_ms;
	uid_t owner;			/* besides root, who may own the file read */
	uint32_t ttl_cap_s;		/* endpoint-ttl: no entry lives longer */
	int cache_on;			/* endpoint-capacity is not 0 */
	uint8_t boot_id[16];		/* of this boot; zeros when unknown */
	uint16_t queue_first, queue_last;
	unsigned nworkers;
	struct bthosts hosts;		/* regions 0..n-1 the workers', n the file's */
	struct bthost_export *host_buf;	/* room for every host of every region */
	uint32_t host_buf_max;
	struct endpoint_export **bufs;	/* per worker, its snapshot (lent to its box) */
	uint32_t buf_max;

	/* start-up */
	struct state_doc doc;
	struct state_restore restore;
	char load_result[16];		/* "ok", "missing", "ignored", "off" */
	char load_error[192];
	uint32_t loaded_endpoints, loaded_hosts, expired;
	uint32_t restored;		/* entries put into caches */
	uint64_t loaded_age_s;

	/* saving: the control thread's while it runs, then the main thread's */
	int armed;			/* the workers run: saves may replace the file */
	int collecting;
	int64_t collect_deadline_ms;
	uint32_t seq[CONFIG_MAX_QUEUES];	/* requests in flight */
	int64_t last_save_ms;		/* CLOCK_MONOTONIC; start-up counts as one */
	int64_t last_ok_ms;		/* -1: never */
	uint64_t saved_changes, snap_changes;
	uint64_t learned_at_save, snap_learned;
	uint64_t hosts_added_at_save, snap_hosts_added;
	uint64_t forgets, forgets_at_save, snap_forgets;
	uint64_t saves, save_errors;
	uint32_t saved_endpoints, saved_hosts, saved_dropped;
	uint64_t saved_bytes;
	int64_t save_took_ms;
	int pending;			/* changes not yet in the file */
	int last_failed;
	char save_error[192];
};

/*
 * Main thread, as root, before privileges are dropped: the hosts table
 * for nworkers workers, and with a state file the directory (created,
 * mode 0700 and given to uid/gid when it does not exist) and the file,
 * read and checked. A missing file is normal; one that cannot be used is
 * logged once with its path and why, and ignored. -1 only when memory
 * runs out.
 */
int state_init(struct state *st, const struct btb_config *cfg, unsigned nworkers,
	       uid_t uid, gid_t gid);

/* Main thread, before worker w starts: its mailbox, its share of the
 * file and its region of the hosts table. */
void state_attach(struct state *st, struct worker *w);

/* Main thread, after privileges were dropped and before the system call
 * filter: warn when the directory is not writable now. */
void state_check_writable(struct state *st);

/* Main thread, once every worker reported ready: sum what they took,
 * log it, free the file's records and allow saving. */
void state_started(struct state *st, struct worker *workers, unsigned n);

/* Worker: its share of the file into its cache (before it reports ready). */
void state_restore_engine(const struct state_restore *r, uint16_t queue, struct engine *e,
			  struct state_restored *out);

/* Worker: serve a posted snapshot request, a slice per call (one load
 * when there is none). */
void state_serve(struct state_box *b, struct engine *e);

/* Control thread, every loop turn: start a save when one is due, write
 * the file once every worker answered. */
void state_tick(struct state *st, struct worker *workers, unsigned n, int64_t now_ms);

/* Control thread: a "forget ADDR" was served (the file must follow);
 * forgets the hosts of the file's region that lie in ADDR. */
void state_note_forget(struct state *st, const char *arg);

/* Control thread: the stats document's "state" member. */
json_t *state_json(const struct state *st, int64_t now_ms);

/* Main thread, after the workers stopped and before their tables are
 * freed: the last save. */
void state_save_final(struct state *st, struct worker *workers, unsigned n);

/* Free everything (after the workers are gone). */
void state_fini(struct state *st);

#endif
