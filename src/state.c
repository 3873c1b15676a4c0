/* state.c - learned endpoints and BitTorrent hosts across restarts: the
 * state file read at start-up, handed to the workers, and written from
 * their snapshots (see state.h). */
#include "sysincl.h"
#include <sys/stat.h>
#include "clock.h"
#include "addrspec.h"
#include "dpi/dpi.h"
#include "engine.h"
#include "log.h"
#include "state.h"
#include "worker.h"

#define NS_PER_S 1000000000ULL

/* This boot's id: within one boot the kernel's queue hash stays the same. */
static void read_boot_id(uint8_t out[16])
{
	char text[64];
	ssize_t n = -1;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	memset(out, 0, 16);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (n <= 0 || !statefile_boot_id(text, (size_t)n, out)) {
		memset(out, 0, 16);
		LOG(LOG_INFO, "state: no boot id; restored endpoints go to every worker");
	}
}

/* The directory of the state file, opened now (as root): created, mode
 * 0700 and given to the daemon's user, when it does not exist; an
 * existing one is left as it is. */
static void open_dir(struct state *st, uid_t uid, gid_t gid, int have_user)
{
	char dir[CONFIG_PATH_MAX];
	const char *slash = strrchr(st->path, '/');
	size_t dlen;

	dlen = slash == st->path ? 1 : (size_t)(slash - st->path);
	memcpy(dir, st->path, dlen);
	dir[dlen] = '\0';
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0) {
		if (have_user && chown(dir, uid, gid) < 0)
			LOG(LOG_WARNING, "state file %s: cannot give the new directory %s to uid %u: %s",
			    st->path, dir, (unsigned)uid, strerror(errno));
		else
			LOG(LOG_NOTICE, "state file %s: created the directory %s", st->path, dir);
		st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (st->dirfd < 0) {
		snprintf(st->load_error, sizeof(st->load_error), "directory %.100s: %s", dir,
			 strerror(errno));
		snprintf(st->save_error, sizeof(st->save_error), "%s", st->load_error);
		LOG(LOG_WARNING, "state file %s: cannot open its directory %s: %s; learned state "
		    "will be neither restored nor saved", st->path, dir, strerror(errno));
	}
}

/* Every endpoint of the file must be one a worker could have learned. */
static int check_learnable(const struct state_doc *d, char *why, size_t whylen)
{
	for (uint32_t i = 0; i < d->nendpoints; i++) {
		const struct state_endpoint *e = &d->endpoints[i];

		if (!dpi_learnable(e->family, e->addr, e->port)) {
			snprintf(why, whylen, "endpoint record %u is an address never learned", i + 1);
			return -1;
		}
	}
	return 0;
}

/* Read the file, age its records by the time since it was saved, put the
 * hosts into the file's region; the endpoints wait for the workers. */
static void load(struct state *st)
{
	struct state_doc *d = &st->doc;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[160];
	uint64_t now_ns = mono_ns_coarse(), elapsed;
	time_t now = time(NULL);
	int r;

	r = statefile_read(st->dirfd, st->base, st->owner, &buf, &len, why, sizeof(why));
	if (r == 0) {
		snprintf(st->load_result, sizeof(st->load_result), "missing");
		LOG(LOG_INFO, "state file %s: none yet", st->path);
		return;
	}
	if (r > 0 && (statefile_parse(buf, len, d, why, sizeof(why)) < 0 ||
		      check_learnable(d, why, sizeof(why)) < 0)) {
		statefile_free(d);
		r = -1;
	}
	free(buf);
	if (r < 0) {
		snprintf(st->load_result, sizeof(st->load_result), "ignored");
		snprintf(st->load_error, sizeof(st->load_error), "%s", why);
		LOG(LOG_WARNING, "state file %s ignored: %s", st->path, why);
		return;
	}
	/* wall clock: it is the only one a reboot keeps; a clock set back
	 * counts as no time passed */
	elapsed = now > 0 && (uint64_t)now > d->saved_s ? (uint64_t)now - d->saved_s : 0;
	st->loaded_age_s = elapsed;
	for (uint32_t i = 0; i < d->nendpoints; i++) {
		struct state_endpoint *e = &d->endpoints[i];

		e->ttl_s = e->ttl_s > elapsed ? e->ttl_s - (uint32_t)elapsed : 0;
		if (e->ttl_s > st->ttl_cap_s)
			e->ttl_s = st->ttl_cap_s;
		if (e->ttl_s)
			st->loaded_endpoints++;
		else
			st->expired++;
	}
	for (uint32_t i = 0; i < d->nhosts; i++) {
		const struct state_host *h = &d->hosts[i];
		uint64_t age = h->age_s + elapsed;

		if (age > BTHOSTS_KEEP_S) {
			st->expired++;
			continue;
		}
		bthosts_note(&st->hosts, st->nworkers, h->family, h->addr, now_ns, age * NS_PER_S);
		st->loaded_hosts++;
	}
	st->restore.doc = d;
	st->restore.by_queue = memcmp(d->boot_id, st->boot_id, 16) == 0 &&
		memcmp(st->boot_id, (const uint8_t[16]){ 0 }, 16) != 0 &&
		d->queue_first == st->queue_first && d->queue_last == st->queue_last;
	if (!st->cache_on && st->loaded_endpoints)
		LOG(LOG_NOTICE, "state file %s: endpoint-capacity is 0, its %u endpoints are not "
		    "restored", st->path, st->loaded_endpoints);
	snprintf(st->load_result, sizeof(st->load_result), "ok");
}

int state_init(struct state *st, const struct btb_config *cfg, unsigned nworkers,
	       uid_t uid, gid_t gid)
{
	struct timespec ts;
	const char *base;
	uint32_t max;

	memset(st, 0, sizeof(*st));
	st->dirfd = -1;
	st->last_ok_ms = -1;
	st->nworkers = nworkers;
	st->interval_ms = cfg->state_interval_s * 1000;
	st->ttl_cap_s = cfg->engine.endpoint_ttl_s;
	st->cache_on = cfg->engine.endpoint_capacity != 0;
	st->queue_first = cfg->queue_first;
	st->queue_last = cfg->queue_last;
	st->owner = cfg->user[0] ? uid : geteuid();
	snprintf(st->load_result, sizeof(st->load_result), "off");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (bthosts_init(&st->hosts, nworkers + 1,
			 (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)st) < 0)
		return -1;
	st->host_buf_max = (nworkers + 1) * BTHOSTS_SLOTS;
	st->host_buf = malloc(st->host_buf_max * sizeof(*st->host_buf));
	st->bufs = calloc(nworkers, sizeof(*st->bufs));
	if (!st->host_buf || !st->bufs)
		return -1;
	if (!cfg->state_file[0] || strcmp(cfg->state_file, "none") == 0)
		return 0;
	st->enabled = 1;
	snprintf(st->path, sizeof(st->path), "%s", cfg->state_file);
	base = strrchr(st->path, '/') + 1;	/* config.c: absolute, a file name at the end */
	snprintf(st->base, sizeof(st->base), "%s", base);
	/* Room for a worker's whole cache, within what one file may hold;
	 * malloc'd, not touched: the pages come when a snapshot needs them. */
	max = endpoints_slots_for(cfg->engine.endpoint_capacity);
	if (max > STATEFILE_MAX_ENDPOINTS / nworkers)
		max = STATEFILE_MAX_ENDPOINTS / nworkers;
	st->buf_max = st->cache_on ? max : 0;
	for (unsigned i = 0; i < nworkers && st->buf_max; i++) {
		st->bufs[i] = malloc(st->buf_max * sizeof(**st->bufs));
		if (!st->bufs[i])
			return -1;
	}
	open_dir(st, uid, gid, cfg->user[0] != '\0');
	if (st->dirfd < 0) {
		snprintf(st->load_result, sizeof(st->load_result), "ignored");
		return 0;
	}
	read_boot_id(st->boot_id);
	load(st);
	/* what the file brought is not a change to save again */
	st->saved_changes = bthosts_changes(&st->hosts);
	st->hosts_added_at_save = bthosts_added(&st->hosts);
	return 0;
}

void state_attach(struct state *st, struct worker *w)
{
	w->bthosts = &st->hosts;
	w->state.buf = st->bufs[w->index];
	w->state.max = st->bufs[w->index] ? st->buf_max : 0;
	w->restore = st->restore.doc ? &st->restore : NULL;
}

void state_check_writable(struct state *st)
{
	if (st->dirfd < 0)
		return;
	if (faccessat(st->dirfd, ".", W_OK | X_OK, 0) == 0)
		return;
	snprintf(st->save_error, sizeof(st->save_error), "directory not writable by uid %u: %s",
		 (unsigned)geteuid(), strerror(errno));
	LOG(LOG_WARNING, "state file %s: its directory is not writable by uid %u (%s): learned "
	    "state will not be saved; the directory must belong to the daemon's user",
	    st->path, (unsigned)geteuid(), strerror(errno));
}

void state_started(struct state *st, struct worker *workers, unsigned n)
{
	uint32_t no_room = 0;

	for (unsigned i = 0; i < n; i++) {
		st->restored += workers[i].restored.added;
		no_room += workers[i].restored.no_room;
		workers[i].restore = NULL;
	}
	if (st->restore.doc)
		LOG(LOG_NOTICE, "state file %s: %u endpoints and %u hosts restored from %llu s ago "
		    "(%u expired), %s: %u cache entries%s", st->path, st->loaded_endpoints,
		    st->loaded_hosts, (unsigned long long)st->loaded_age_s, st->expired,
		    st->restore.by_queue ? "each to the worker of its queue" :
		    "to every worker (another boot or queue range)", st->restored,
		    no_room ? ", some sets full" : "");
	statefile_free(&st->doc);
	st->restore.doc = NULL;
	st->armed = 1;
	st->last_save_ms = mono_ms();
}

void state_restore_engine(const struct state_restore *r, uint16_t queue, struct engine *e,
			  struct state_restored *out)
{
	uint64_t now = mono_ns_coarse();

	if (!r || !r->doc || !e->cfg.endpoint_capacity)
		return;
	for (uint32_t i = 0; i < r->doc->nendpoints; i++) {
		const struct state_endpoint *x = &r->doc->endpoints[i];

		if (!x->ttl_s || (r->by_queue && x->queue != queue))
			continue;
		/* the old worker's source, kept apart from another worker's */
		switch (endpoints_restore(&e->eps, x->family, x->addr, x->port,
					  (enum endpoint_tier)x->tier, x->kinds,
					  (uint64_t)x->queue << 32 | x->source,
					  now + (uint64_t)x->ttl_s * NS_PER_S, now)) {
		case ENDPOINT_NEW:
			out->added++;
			break;
		case ENDPOINT_REFRESHED:
			out->refreshed++;
			break;
		default:
			out->no_room++;
			break;
		}
	}
}

void state_serve(struct state_box *b, struct engine *e)
{
	uint32_t seq = __atomic_load_n(&b->posted, __ATOMIC_ACQUIRE);

	if (seq == b->served)
		return;
	if (e->cfg.endpoint_capacity && b->buf)
		b->count += endpoints_export(&e->eps, &b->cursor, STATE_SLICE_SLOTS, e->now_ns,
					     b->buf + b->count, b->max - b->count, &b->dropped);
	else
		b->cursor = endpoints_slots(&e->eps);
	if (b->cursor >= endpoints_slots(&e->eps))
		__atomic_store_n(&b->served, seq, __ATOMIC_RELEASE);
}

static int worker_usable(const struct worker *w)
{
	return __atomic_load_n(&w->engine_ready, __ATOMIC_ACQUIRE) &&
		!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE);
}

/* Numbers that only grow: what the caches learned and renewed, the hosts
 * noted, the forgets. *learned and *added for the burst rule. */
static uint64_t changes(const struct state *st, const struct worker *w, unsigned n,
			uint64_t *learned, uint64_t *added)
{
	uint64_t renewed = 0;

	*learned = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!worker_usable(&w[i]))
			continue;
		*learned += COUNTER_GET(w[i].engine.ctr.endpoints_learned);
		renewed += COUNTER_GET(w[i].engine.eps.refreshed);
	}
	*added = bthosts_added(&st->hosts);
	return *learned + renewed + bthosts_changes(&st->hosts) + st->forgets;
}

static void save_failed(struct state *st, const char *why, int final)
{
	st->save_errors++;
	/* once per kind of failure, not once a minute */
	if (!st->last_failed || strcmp(why, st->save_error) != 0 || final)
		LOG(LOG_WARNING, "state file %s: not saved: %s", st->path, why);
	snprintf(st->save_error, sizeof(st->save_error), "%s", why);
	st->last_failed = 1;
}

/* The file from the workers' snapshots (in their boxes) and the hosts. */
static void write_state(struct state *st, struct worker *w, unsigned n, int64_t now_ms, int final)
{
	struct state_doc d = { 0 };
	uint64_t now = mono_ns_coarse();
	uint32_t total = 0, dropped = 0, nh;
	uint8_t *buf = NULL;
	char why[192];
	size_t len;
	int64_t t0;
	int r;

	for (unsigned i = 0; i < n; i++) {
		total += w[i].state.count;
		dropped += w[i].state.dropped;
	}
	if (total > STATEFILE_MAX_ENDPOINTS) {
		dropped += total - STATEFILE_MAX_ENDPOINTS;
		total = STATEFILE_MAX_ENDPOINTS;
	}
	nh = bthosts_export(&st->hosts, now, (uint64_t)BTHOSTS_KEEP_S * NS_PER_S, st->host_buf,
			    st->host_buf_max);
	if (nh > STATEFILE_MAX_HOSTS)
		nh = STATEFILE_MAX_HOSTS;
	d.endpoints = malloc((total ? total : 1) * sizeof(*d.endpoints));
	d.hosts = malloc((nh ? nh : 1) * sizeof(*d.hosts));
	if (!d.endpoints || !d.hosts) {
		save_failed(st, "out of memory", final);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct state_box *b = &w[i].state;

		for (uint32_t k = 0; k < b->count && d.nendpoints < total; k++) {
			const struct endpoint_export *x = &b->buf[k];
			struct state_endpoint *e = &d.endpoints[d.nendpoints];
			uint64_t left = x->expires_ns > now ? (x->expires_ns - now) / NS_PER_S : 0;

			/* a second or less left is not worth a record; the
			 * reader refuses what a cache could never hold */
			if (!left || !dpi_learnable(x->family, x->addr, x->port) ||
			    (x->tier != ENDPOINT_LISTED && x->tier != ENDPOINT_CONFIRMED) ||
			    !x->kinds || x->kinds > 3)
				continue;
			memset(e, 0, sizeof(*e));
			e->family = x->family;
			e->tier = x->tier;
			e->kinds = x->kinds;
			e->port = x->port;
			e->queue = w[i].queue_num;
			e->source = x->source;
			e->ttl_s = (uint32_t)(left < STATEFILE_MAX_TTL ? left : STATEFILE_MAX_TTL);
			memcpy(e->addr, x->addr, 16);
			d.nendpoints++;
		}
	}
	for (uint32_t i = 0; i < nh; i++) {
		d.hosts[i].family = st->host_buf[i].family;
		d.hosts[i].age_s = (uint32_t)(st->host_buf[i].age_ns / NS_PER_S);
		memcpy(d.hosts[i].addr, st->host_buf[i].addr, 16);
	}
	d.nhosts = nh;
	d.saved_s = (uint64_t)time(NULL);
	memcpy(d.boot_id, st->boot_id, 16);
	d.queue_first = st->queue_first;
	d.queue_last = st->queue_last;
	len = statefile_size(d.nendpoints, d.nhosts);
	buf = malloc(len);
	if (!buf) {
		save_failed(st, "out of memory", final);
		goto out;
	}
	statefile_encode(&d, buf);
	t0 = mono_ms();
	r = statefile_write(st->dirfd, st->base, buf, len, why, sizeof(why));
	st->save_took_ms = mono_ms() - t0;
	if (r < 0) {
		save_failed(st, why, final);
		goto out;
	}
	if (dropped && (final || !st->saved_dropped))
		LOG(LOG_WARNING, "state file %s: %u endpoints left out (more than a file holds)",
		    st->path, dropped);
	st->saves++;
	st->last_ok_ms = now_ms;
	st->saved_endpoints = d.nendpoints;
	st->saved_hosts = d.nhosts;
	st->saved_dropped = dropped;
	st->saved_bytes = len;
	st->saved_changes = st->snap_changes;
	st->learned_at_save = st->snap_learned;
	st->hosts_added_at_save = st->snap_hosts_added;
	st->forgets_at_save = st->snap_forgets;
	if (final)
		LOG(LOG_NOTICE, "state file %s: %u endpoints and %u hosts saved", st->path,
		    d.nendpoints, d.nhosts);
	else if (st->last_failed)
		LOG(LOG_NOTICE, "state file %s: saved again (%u endpoints, %u hosts)", st->path,
		    d.nendpoints, d.nhosts);
	else
		LOG(LOG_DEBUG, "state file %s: %u endpoints and %u hosts saved in %lld ms",
		    st->path, d.nendpoints, d.nhosts, (long long)st->save_took_ms);
	st->last_failed = 0;
	st->save_error[0] = '\0';
out:
	free(buf);
	statefile_free(&d);
}

/* Ask every worker for a snapshot; 0 when one still holds an older
 * request (nothing is posted then). */
static int start_collect(struct state *st, struct worker *w, unsigned n, int64_t now_ms)
{
	for (unsigned i = 0; i < n; i++) {
		const struct state_box *b = &w[i].state;

		/* "posted" is this thread's own */
		if (worker_usable(&w[i]) && __atomic_load_n(&b->served, __ATOMIC_ACQUIRE) != b->posted) {
			char why[96];

			snprintf(why, sizeof(why), "queue %u has not answered the previous snapshot "
				 "request", w[i].queue_num);
			save_failed(st, why, 0);
			return 0;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct state_box *b = &w[i].state;
		uint32_t seq = b->posted;

		st->seq[i] = 0;
		b->count = 0;
		b->dropped = 0;
		if (!worker_usable(&w[i]))
			continue;
		if (++seq == 0)
			seq = 1;
		b->cursor = 0;
		st->seq[i] = seq;
		__atomic_store_n(&b->posted, seq, __ATOMIC_RELEASE);
	}
	st->collecting = 1;
	st->collect_deadline_ms = now_ms + STATE_COLLECT_MS;
	return 1;
}

void state_tick(struct state *st, struct worker *workers, unsigned n, int64_t now_ms)
{
	uint64_t now_changes, learned, added;
	int64_t since;
	int burst;

	if (!st->enabled || !st->armed || st->dirfd < 0)
		return;
	if (n > CONFIG_MAX_QUEUES)
		n = CONFIG_MAX_QUEUES;
	if (st->collecting) {
		unsigned pending = 0;

		for (unsigned i = 0; i < n; i++)
			if (st->seq[i] &&
			    __atomic_load_n(&workers[i].state.served, __ATOMIC_ACQUIRE) != st->seq[i])
				pending++;
		if (pending && now_ms < st->collect_deadline_ms)
			return;
		st->collecting = 0;
		st->last_save_ms = now_ms;
		if (pending) {
			char why[96];

			snprintf(why, sizeof(why), "%u of the workers did not hand over their "
				 "endpoints within %d s", pending, STATE_COLLECT_MS / 1000);
			save_failed(st, why, 0);
			return;
		}
		write_state(st, workers, n, now_ms, 0);
		return;
	}
	now_changes = changes(st, workers, n, &learned, &added);
	st->pending = now_changes != st->saved_changes;
	if (!st->pending)
		return;
	since = now_ms - st->last_save_ms;
	burst = learned - st->learned_at_save >= STATE_BURST ||
		added != st->hosts_added_at_save || st->forgets != st->forgets_at_save;
	if (since < (int64_t)st->interval_ms && !(burst && since >= STATE_MIN_GAP_MS))
		return;
	st->snap_changes = now_changes;
	st->snap_learned = learned;
	st->snap_hosts_added = added;
	st->snap_forgets = st->forgets;
	if (!start_collect(st, workers, n, now_ms))
		st->last_save_ms = now_ms;
}

static int host_named(void *arg, int family, const uint8_t *addr)
{
	return addrspec_match(arg, family, addr);
}

void state_note_forget(struct state *st, const char *arg)
{
	struct addrspec spec;

	if (addrspec_parse(arg, &spec) < 0)
		return;
	/* the file's region: nobody else writes it once the workers run */
	bthosts_remove_matching(&st->hosts, st->nworkers, host_named, &spec);
	st->forgets++;
}

void state_save_final(struct state *st, struct worker *workers, unsigned n)
{
	uint64_t now = mono_ns_coarse();

	if (!st->enabled || !st->armed || st->dirfd < 0)
		return;
	if (n > CONFIG_MAX_QUEUES)
		n = CONFIG_MAX_QUEUES;
	/* the workers have stopped: their tables are read directly */
	for (unsigned i = 0; i < n; i++) {
		struct state_box *b = &workers[i].state;
		uint32_t cursor = 0;

		b->count = 0;
		b->dropped = 0;
		if (!workers[i].engine_ready || !b->buf || !workers[i].engine.cfg.endpoint_capacity)
			continue;
		b->count = endpoints_export(&workers[i].engine.eps, &cursor, UINT32_MAX, now, b->buf,
					    b->max, &b->dropped);
	}
	write_state(st, workers, n, mono_ms(), 1);
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

/* How the last save went: "ok", "error", or "none" before the first. */
static const char *save_result(const struct state *st)
{
	return st->save_error[0] ? "error" : st->saves ? "ok" : "none";
}

json_t *state_json(const struct state *st, int64_t now_ms)
{
	json_t *load, *save;

	load = json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:b}",
			 "result", st->load_result,
			 "error", str_or_null(st->load_error),
			 "endpoints", (json_int_t)st->loaded_endpoints,
			 "hosts", (json_int_t)st->loaded_hosts,
			 "expired", (json_int_t)st->expired,
			 "restored", (json_int_t)st->restored,
			 "age_s", (json_int_t)st->loaded_age_s,
			 "by_queue", st->restore.by_queue);
	save = json_pack("{s:I,s:I,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:b}",
			 "saves", (json_int_t)st->saves,
			 "errors", (json_int_t)st->save_errors,
			 "result", save_result(st),
			 "error", str_or_null(st->save_error),
			 "age_s", st->last_ok_ms < 0 ? json_null() :
				json_integer((json_int_t)((now_ms - st->last_ok_ms) / 1000)),
			 "endpoints", (json_int_t)st->saved_endpoints,
			 "hosts", (json_int_t)st->saved_hosts,
			 "dropped", (json_int_t)st->saved_dropped,
			 "bytes", (json_int_t)st->saved_bytes,
			 "ms", (json_int_t)st->save_took_ms,
			 "pending", st->pending);
	return json_pack("{s:b,s:s,s:I,s:o,s:o}",
			 "enabled", st->enabled,
			 "path", st->path,
			 "interval_s", (json_int_t)(st->interval_ms / 1000),
			 "load", load ? load : json_null(),
			 "save", save ? save : json_null());
}

void state_fini(struct state *st)
{
	for (unsigned i = 0; st->bufs && i < st->nworkers; i++)
		free(st->bufs[i]);
	free(st->bufs);
	st->bufs = NULL;
	free(st->host_buf);
	st->host_buf = NULL;
	statefile_free(&st->doc);
	bthosts_fini(&st->hosts);
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
}
