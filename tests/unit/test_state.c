/* test_state.c - the daemon's side of the state file (src/state.c): the
 * file read at start-up and shared out to the workers, snapshots through
 * the mailboxes, periodic and final saves, what is refused. The workers
 * are engines driven by the test, which serves their mailboxes itself. */
#include "../../src/state.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static char dir[] = "/tmp/test_state.XXXXXX";
static char path[300];

static const uint8_t peer_a[16] = { 203, 0, 113, 7 }, peer_b[16] = { 203, 0, 113, 8 },
	peer_c[16] = { 198, 51, 100, 9 }, told_by[16] = { 198, 51, 100, 1 },
	lan_host[16] = { 192, 168, 1, 10 };

static void config(struct btb_config *c, uint16_t first, uint16_t last, const char *file)
{
	memset(c, 0, sizeof(*c));
	c->queue_first = first;
	c->queue_last = last;
	c->engine.endpoint_capacity = 256;
	c->engine.endpoint_ttl_s = 3600;
	c->state_interval_s = 60;
	snprintf(c->state_file, sizeof(c->state_file), "%s", file);
}

/* n workers serving queues first.., each with an engine, "ready". */
static struct worker *workers_up(const struct btb_config *c, unsigned n)
{
	struct worker *w = aligned_alloc(64, n * sizeof(*w));
	struct engine_config ec;

	assert_non_null(w);
	memset(w, 0, n * sizeof(*w));
	engine_config_defaults(&ec);
	ec.flow_capacity = 64;
	ec.endpoint_capacity = c->engine.endpoint_capacity;
	ec.endpoint_ttl_s = c->engine.endpoint_ttl_s;
	for (unsigned i = 0; i < n; i++) {
		w[i].index = i;
		w[i].queue_num = (uint16_t)(c->queue_first + i);
		ec.hash_seed = 100 + i;
		assert_int_equal(engine_init(&w[i].engine, &ec), 0);
		w[i].engine_ready = 1;
	}
	return w;
}

static void workers_down(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		engine_fini(&w[i].engine);
	free(w);
}

/* What main() and worker_main() do between state_init and "ready". */
static void start(struct state *st, struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		state_attach(st, &w[i]);
		engine_set_bthosts(&w[i].engine, w[i].bthosts, w[i].index);
		state_restore_engine(w[i].restore, w[i].queue_num, &w[i].engine, &w[i].restored);
	}
	state_started(st, w, n);
}

static void learn(struct worker *w, const uint8_t *addr, uint16_t port)
{
	assert_int_equal(endpoints_add(&w->engine.eps, 4, addr, port, ENDPOINT_CONFIRMED, 4, told_by,
				       mono_ns_coarse()), ENDPOINT_NEW);
	w->engine.ctr.endpoints_learned++;
}

static int knows(struct worker *w, const uint8_t *addr, uint16_t port)
{
	return endpoints_has(&w->engine.eps, 4, addr, port, mono_ns_coarse());
}

/* Each worker serves its mailbox until it answered (a slice a turn). */
static void serve_all(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (int turn = 0; turn < 100 && w[i].state.served != w[i].state.posted; turn++)
			state_serve(&w[i].state, &w[i].engine);
}

/* One periodic save: due at now_ms, served, written. */
static void periodic_save(struct state *st, struct worker *w, unsigned n, int64_t now_ms)
{
	uint64_t saves = st->saves;

	state_tick(st, w, n, now_ms);
	assert_int_equal(st->collecting, 1);
	serve_all(w, n);
	state_tick(st, w, n, now_ms + 1);
	assert_int_equal(st->collecting, 0);
	assert_int_equal(st->saves, saves + 1);
}

static void write_raw(const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static int setup(void **state)
{
	(void)state;
	log_init("test_state", 1, LOG_WARNING);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/sub/state", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_off(void **state)
{
	struct btb_config c;
	struct state st;
	struct worker *w;
	json_t *doc;

	(void)state;
	config(&c, 0, 1, "none");
	assert_int_equal(state_init(&st, &c, 2, 0, 0), 0);
	assert_int_equal(st.enabled, 0);
	assert_int_equal(st.dirfd, -1);
	w = workers_up(&c, 2);
	start(&st, w, 2);
	/* the hosts table is there all the same: the engines share it */
	assert_ptr_equal(w[1].bthosts, &st.hosts);
	learn(&w[0], peer_a, 6881);
	state_tick(&st, w, 2, 1000000);
	assert_int_equal(st.collecting, 0);
	assert_int_equal(w[0].state.posted, 0);
	state_save_final(&st, w, 2);
	assert_int_equal(st.saves, 0);
	doc = state_json(&st, 0);
	assert_false(json_is_true(json_object_get(doc, "enabled")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "load"), "result")),
			    "off");
	json_decref(doc);
	state_fini(&st);
	workers_down(w, 2);
}

static void test_round_trip_by_queue(void **state)
{
	struct btb_config c;
	struct state st;
	struct worker *w;
	struct stat sb;
	uint64_t age = 0;
	json_t *doc, *save;

	(void)state;
	config(&c, 4, 5, path);
	/* the directory does not exist: created, mode 0700 */
	assert_int_equal(state_init(&st, &c, 2, getuid(), getgid()), 0);
	assert_int_equal(st.enabled, 1);
	assert_true(st.dirfd >= 0);
	assert_string_equal(st.load_result, "missing");
	assert_int_equal(stat(path, &sb), -1);
	w = workers_up(&c, 2);
	start(&st, w, 2);
	/* nothing changed: nothing to save, whatever the time */
	state_tick(&st, w, 2, st.last_save_ms + 3600000);
	assert_int_equal(st.collecting, 0);
	assert_int_equal(st.pending, 0);
	/* worker 0 (queue 4) learned two peers, worker 1 (queue 5) one; a
	 * LAN host was seen running BitTorrent by worker 1 */
	learn(&w[0], peer_a, 6881);
	learn(&w[0], peer_b, 51413);
	learn(&w[1], peer_c, 7000);
	bthosts_note(&st.hosts, 1, 4, lan_host, mono_ns_coarse(), 0);
	/* not due before the interval, nor before the least gap after a
	 * burst (a new host is one) */
	state_tick(&st, w, 2, st.last_save_ms + 1000);
	assert_int_equal(st.collecting, 0);
	assert_int_equal(st.pending, 1);
	/* a new host calls for a save once the least gap has passed */
	periodic_save(&st, w, 2, st.last_save_ms + STATE_MIN_GAP_MS);
	assert_int_equal(st.saved_endpoints, 3);
	assert_int_equal(st.saved_hosts, 1);
	assert_int_equal(st.save_errors, 0);
	state_tick(&st, w, 2, st.last_save_ms + 1);
	assert_int_equal(st.pending, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &sb), 0);
	doc = state_json(&st, st.last_ok_ms + 2500);
	save = json_object_get(doc, "save");
	assert_int_equal(json_integer_value(json_object_get(save, "saves")), 1);
	assert_int_equal(json_integer_value(json_object_get(save, "endpoints")), 3);
	assert_int_equal(json_integer_value(json_object_get(save, "age_s")), 2);
	assert_int_equal(json_integer_value(json_object_get(save, "bytes")),
			 (json_int_t)statefile_size(3, 1));
	assert_string_equal(json_string_value(json_object_get(save, "result")), "ok");
	assert_true(json_is_null(json_object_get(save, "error")));
	json_decref(doc);
	state_fini(&st);
	workers_down(w, 2);

	/* the next daemon, same boot, same queues: each entry back to the
	 * worker of its queue */
	assert_int_equal(state_init(&st, &c, 2, getuid(), getgid()), 0);
	assert_string_equal(st.load_result, "ok");
	assert_int_equal(st.loaded_endpoints, 3);
	assert_int_equal(st.loaded_hosts, 1);
	assert_int_equal(st.restore.by_queue, 1);
	w = workers_up(&c, 2);
	start(&st, w, 2);
	assert_int_equal(st.restored, 3);
	assert_true(knows(&w[0], peer_a, 6881));
	assert_true(knows(&w[0], peer_b, 51413));
	assert_false(knows(&w[0], peer_c, 7000));
	assert_true(knows(&w[1], peer_c, 7000));
	assert_false(knows(&w[1], peer_a, 6881));
	assert_null(st.restore.doc);		/* freed once the workers took theirs */
	/* what the file brought is nothing new to save */
	state_tick(&st, w, 2, st.last_save_ms + 3600000);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.collecting, 0);
	/* the host, for every engine */
	assert_int_equal(engine_bt_host_recent(&w[0].engine, 4, lan_host, UINT64_MAX), 1);
	assert_int_equal(bthosts_age(&st.hosts, 4, lan_host, mono_ns_coarse(), &age), 1);
	assert_true(age < 60 * NS_PER_S);
	/* with nothing new, the exit save writes the same again */
	state_save_final(&st, w, 2);
	assert_int_equal(st.saved_endpoints, 3);
	state_fini(&st);
	workers_down(w, 2);

	/* another queue range: nobody can tell which worker will see a flow
	 * to an endpoint, so every worker gets every entry */
	config(&c, 0, 2, path);
	assert_int_equal(state_init(&st, &c, 3, getuid(), getgid()), 0);
	assert_int_equal(st.restore.by_queue, 0);
	w = workers_up(&c, 3);
	start(&st, w, 3);
	assert_int_equal(st.restored, 9);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(knows(&w[i], peer_a, 6881));
		assert_true(knows(&w[i], peer_c, 7000));
	}
	state_fini(&st);
	workers_down(w, 3);
}

/* A file written by hand: its records aged by the time since saving. */
static void test_aged_records(void **state)
{
	struct state_endpoint e[3] = {
		{ .family = 4, .tier = 1, .kinds = 1, .port = 6881, .ttl_s = 50, .addr = { 203, 0, 113, 1 } },
		{ .family = 4, .tier = 2, .kinds = 1, .port = 6882, .ttl_s = 500, .addr = { 203, 0, 113, 2 } },
		{ .family = 4, .tier = 2, .kinds = 1, .port = 6883, .ttl_s = 604800, .addr = { 203, 0, 113, 3 } },
	};
	struct state_host h[2] = {
		{ .family = 4, .age_s = 86300, .addr = { 192, 168, 1, 20 } },
		{ .family = 4, .age_s = 10, .addr = { 192, 168, 1, 21 } },
	};
	struct state_doc d = { .nendpoints = 3, .nhosts = 2, .endpoints = e, .hosts = h,
			       .queue_first = 0, .queue_last = 0 };
	uint8_t buf[64 + 3 * 32 + 2 * 24 + 4];
	struct btb_config c;
	struct state st;
	struct worker *w;
	uint64_t now = mono_ns_coarse(), age = 0;

	(void)state;
	d.saved_s = (uint64_t)time(NULL) - 200;
	statefile_encode(&d, buf);
	write_raw(buf, sizeof(buf));
	config(&c, 0, 0, path);
	assert_int_equal(state_init(&st, &c, 1, getuid(), getgid()), 0);
	assert_string_equal(st.load_result, "ok");
	assert_true(st.loaded_age_s >= 200 && st.loaded_age_s < 260);
	/* the first endpoint and the first host are past their time */
	assert_int_equal(st.loaded_endpoints, 2);
	assert_int_equal(st.loaded_hosts, 1);
	assert_int_equal(st.expired, 2);
	/* another boot id (zeros in the file): every worker */
	assert_int_equal(st.restore.by_queue, 0);
	w = workers_up(&c, 1);
	start(&st, w, 1);
	assert_false(knows(&w[0], e[0].addr, 6881));
	assert_true(knows(&w[0], e[1].addr, 6882));
	/* 500 s less the 200 s since saving */
	assert_true(endpoints_has(&w[0].engine.eps, 4, e[1].addr, 6882, now + 280 * NS_PER_S));
	assert_false(endpoints_has(&w[0].engine.eps, 4, e[1].addr, 6882, now + 320 * NS_PER_S));
	/* no entry outlives this daemon's endpoint-ttl */
	assert_true(endpoints_has(&w[0].engine.eps, 4, e[2].addr, 6883, now + 3500 * NS_PER_S));
	assert_false(endpoints_has(&w[0].engine.eps, 4, e[2].addr, 6883, now + 3700 * NS_PER_S));
	assert_int_equal(bthosts_age(&st.hosts, 4, h[1].addr, mono_ns_coarse(), &age), 1);
	assert_true(age >= 209 * NS_PER_S && age < 270 * NS_PER_S);
	assert_int_equal(bthosts_age(&st.hosts, 4, h[0].addr, now, &age), 0);
	/* forget: the file's hosts in the prefix go, and a save follows */
	state_note_forget(&st, "192.168.1.0/24");
	assert_int_equal(bthosts_age(&st.hosts, 4, h[1].addr, now, &age), 0);
	state_tick(&st, w, 1, st.last_save_ms + STATE_MIN_GAP_MS);
	assert_int_equal(st.collecting, 1);
	state_note_forget(&st, "not an address");
	assert_int_equal(st.forgets, 1);
	state_fini(&st);
	workers_down(w, 1);
}

static void expect_ignored(const char *reason)
{
	struct btb_config c;
	struct state st;
	struct worker *w;
	json_t *doc, *load;

	config(&c, 0, 0, path);
	assert_int_equal(state_init(&st, &c, 1, getuid(), getgid()), 0);
	assert_string_equal(st.load_result, "ignored");
	if (!strstr(st.load_error, reason))
		fail_msg("load error \"%s\", expected \"%s\"", st.load_error, reason);
	assert_null(st.restore.doc);
	doc = state_json(&st, 0);
	load = json_object_get(doc, "load");
	assert_string_equal(json_string_value(json_object_get(load, "result")), "ignored");
	assert_string_equal(json_string_value(json_object_get(load, "error")), st.load_error);
	json_decref(doc);
	/* the daemon runs on, and its next save replaces the file */
	w = workers_up(&c, 1);
	start(&st, w, 1);
	learn(&w[0], peer_a, 6881);
	periodic_save(&st, w, 1, st.last_save_ms + 60000);
	assert_int_equal(st.saved_endpoints, 1);
	state_fini(&st);
	workers_down(w, 1);
}

static void test_refused_files(void **state)
{
	struct state_endpoint e = { .family = 4, .tier = 1, .kinds = 1, .port = 6881, .ttl_s = 50,
				    .addr = { 224, 0, 0, 1 } };
	struct state_doc d = { .nendpoints = 1, .endpoints = &e };
	uint8_t buf[64 + 32 + 4];

	(void)state;
	/* a multicast group: well formed, but never learned */
	statefile_encode(&d, buf);
	write_raw(buf, sizeof(buf));
	expect_ignored("endpoint record 1 is an address never learned");
	/* a damaged one */
	e.addr[0] = 203;
	statefile_encode(&d, buf);
	buf[70] ^= 4;
	write_raw(buf, sizeof(buf));
	expect_ignored("checksum mismatch");
	/* cut short */
	write_raw(buf, 40);
	expect_ignored("not a btblockd state file");
	/* writable by others: someone else may have written it */
	statefile_encode(&d, buf);
	write_raw(buf, sizeof(buf));
	assert_int_equal(chmod(path, 0666), 0);
	expect_ignored("writable by group or others");
}

/* A worker that does not answer: the save is skipped and said so, the
 * daemon goes on, and the next one works once the worker is back. */
static void test_worker_does_not_answer(void **state)
{
	struct btb_config c;
	struct state st;
	struct worker *w;
	int64_t t;

	(void)state;
	unlink(path);
	config(&c, 0, 1, path);
	c.state_interval_s = 1;
	assert_int_equal(state_init(&st, &c, 2, getuid(), getgid()), 0);
	w = workers_up(&c, 2);
	start(&st, w, 2);
	learn(&w[0], peer_a, 6881);
	t = st.last_save_ms + 1000;
	state_tick(&st, w, 2, t);
	assert_int_equal(st.collecting, 1);
	state_serve(&w[0].state, &w[0].engine);	/* worker 1 is stuck */
	state_tick(&st, w, 2, t + STATE_COLLECT_MS - 1);
	assert_int_equal(st.collecting, 1);
	state_tick(&st, w, 2, t + STATE_COLLECT_MS);
	assert_int_equal(st.collecting, 0);
	assert_int_equal(st.save_errors, 1);
	assert_non_null(strstr(st.save_error, "1 of the workers did not hand over"));
	/* still stuck at the next interval: its slot is taken */
	state_tick(&st, w, 2, t + STATE_COLLECT_MS + 1000);
	assert_int_equal(st.save_errors, 2);
	assert_non_null(strstr(st.save_error, "queue 1 has not answered"));
	/* it wakes up, answers the old request; the next save works */
	state_serve(&w[1].state, &w[1].engine);
	periodic_save(&st, w, 2, t + STATE_COLLECT_MS + 2000);
	assert_int_equal(st.saved_endpoints, 1);
	assert_int_equal(st.save_error[0], '\0');
	state_fini(&st);
	workers_down(w, 2);
}

/* The snapshot is a slice per loop turn: a large cache takes several. */
static void test_snapshot_in_slices(void **state)
{
	struct btb_config c;
	struct state st;
	struct worker *w;
	uint8_t a[16] = { 203, 0, 0, 0 };
	int turns = 0;

	(void)state;
	unlink(path);
	config(&c, 0, 0, path);
	c.engine.endpoint_capacity = 4 * STATE_SLICE_SLOTS;
	assert_int_equal(state_init(&st, &c, 1, getuid(), getgid()), 0);
	w = workers_up(&c, 1);
	start(&st, w, 1);
	for (int i = 0; i < 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		/* one source per entry: no quota in the way */
		assert_int_equal(endpoints_add(&w[0].engine.eps, 4, a, 6881, ENDPOINT_LISTED, 4, a,
					       mono_ns_coarse()), ENDPOINT_NEW);
	}
	w[0].engine.ctr.endpoints_learned += 1000;
	state_tick(&st, w, 1, st.last_save_ms + STATE_MIN_GAP_MS);
	assert_int_equal(st.collecting, 1);
	while (w[0].state.served != w[0].state.posted) {
		state_serve(&w[0].state, &w[0].engine);
		turns++;
	}
	assert_int_equal(turns, 4);
	state_tick(&st, w, 1, st.last_save_ms + STATE_MIN_GAP_MS + 1);
	assert_int_equal(st.saved_endpoints, 1000);
	state_fini(&st);
	workers_down(w, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_round_trip_by_queue),
		cmocka_unit_test(test_aged_records),
		cmocka_unit_test(test_refused_files),
		cmocka_unit_test(test_worker_does_not_answer),
		cmocka_unit_test(test_snapshot_in_slices),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
