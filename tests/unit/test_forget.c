/* test_forget.c - the workers forget an address (src/forget.c): address
 * specs, the flows and endpoints that go and those that stay, the
 * one-slot mailbox, and the control command over running workers. */
#include "../../src/forget.c"

#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define S 1000000000ULL

static void spec_ok(const char *text, int family, unsigned prefix, const char *shown)
{
	struct addrspec s;
	char buf[ADDRSPEC_STRLEN];

	assert_int_equal(addrspec_parse(text, &s), 0);
	assert_int_equal(s.family, family);
	assert_int_equal(s.prefix, prefix);
	addrspec_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, shown);
}

static void test_addrspec_parse(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4/33", "::/129", "/24", "1.2.3.4/", "1.2.3.4/ 8",
		"1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/0008", "1.2.3.4/8x", "1.2.3.4 ", " 1.2.3.4",
		"10.0.0.300", "fe80::1%eth0", "1.2.3.4/8/8", "host.example",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	struct addrspec s;

	(void)state;
	spec_ok("10.0.0.2", 4, 32, "10.0.0.2");
	spec_ok("10.0.0.2/24", 4, 24, "10.0.0.0/24");	/* host bits cleared */
	spec_ok("10.0.0.255/31", 4, 31, "10.0.0.254/31");
	spec_ok("0.0.0.0/0", 4, 0, "0.0.0.0/0");
	spec_ok("2001:db8::1", 6, 128, "2001:db8::1");
	spec_ok("2001:db8:ffff::1/33", 6, 33, "2001:db8:8000::/33");
	spec_ok("::ffff:10.0.0.1", 6, 128, "::ffff:10.0.0.1");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (addrspec_parse(bad[i], &s) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_addrspec_match(void **state)
{
	const uint8_t a[16] = { 10, 0, 0, 2 }, b[16] = { 10, 0, 1, 2 }, c[16] = { 10, 0, 0, 3 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct addrspec s;

	(void)state;
	assert_int_equal(addrspec_parse("10.0.0.2", &s), 0);
	assert_true(addrspec_match(&s, 4, a));
	assert_false(addrspec_match(&s, 4, c));
	assert_false(addrspec_match(&s, 6, a));		/* another family */
	assert_int_equal(addrspec_parse("10.0.0.0/24", &s), 0);
	assert_true(addrspec_match(&s, 4, a));
	assert_true(addrspec_match(&s, 4, c));
	assert_false(addrspec_match(&s, 4, b));
	assert_int_equal(addrspec_parse("10.0.0.2/31", &s), 0);
	assert_true(addrspec_match(&s, 4, c));
	assert_int_equal(addrspec_parse("10.0.0.4/31", &s), 0);
	assert_false(addrspec_match(&s, 4, c));
	assert_int_equal(addrspec_parse("2001:db8::/32", &s), 0);
	assert_true(addrspec_match(&s, 6, v6));
	v6[3] = 0xb9;
	assert_false(addrspec_match(&s, 6, v6));
}

static struct engine eng;

static void engine_up(void)
{
	struct engine_config c;

	engine_config_defaults(&c);
	c.flow_capacity = 256;
	c.endpoint_capacity = 256;
	c.hash_seed = 7;
	assert_int_equal(engine_init(&eng, &c), 0);
}

/* A UDP flow between 10.0.0.x:sport and 10.0.1.y:dport (a sends first). */
static void add_flow(uint8_t x, uint8_t y, uint16_t sport, uint16_t dport)
{
	struct pkt_view v;
	int dir, created;

	memset(&v, 0, sizeof(v));
	v.family = 4;
	v.l4proto = IPPROTO_UDP;
	v.saddr[0] = 10, v.saddr[3] = x;
	v.daddr[0] = 10, v.daddr[2] = 1, v.daddr[3] = y;
	v.sport = sport;
	v.dport = dport;
	assert_non_null(flow_lookup(&eng.flows, &v, S, &dir, &created));
	assert_int_equal(created, 1);
}

static int has_flow(uint8_t x, uint8_t y, uint16_t sport, uint16_t dport)
{
	struct pkt_view v;
	int dir, created;

	memset(&v, 0, sizeof(v));
	v.family = 4;
	v.l4proto = IPPROTO_UDP;
	/* asked from the other end: the entry holds both directions */
	v.daddr[0] = 10, v.daddr[3] = x;
	v.saddr[0] = 10, v.saddr[2] = 1, v.saddr[3] = y;
	v.dport = sport;
	v.sport = dport;
	assert_non_null(flow_lookup(&eng.flows, &v, S, &dir, &created));
	return !created;
}

static void add_endpoint(uint8_t b2, uint8_t b3, uint16_t port)
{
	const uint8_t addr[16] = { 10, 0, b2, b3 }, src[16] = { 192, 0, 2, 1 };

	assert_int_equal(endpoints_add(&eng.eps, 4, addr, port, ENDPOINT_CONFIRMED, 4, src, S),
			 ENDPOINT_NEW);
}

static int has_endpoint(uint8_t b2, uint8_t b3, uint16_t port)
{
	const uint8_t addr[16] = { 10, 0, b2, b3 };

	return endpoints_has(&eng.eps, 4, addr, port, S);
}

static void test_forget_engine(void **state)
{
	struct addrspec s;
	struct forget_result r;

	(void)state;
	engine_up();
	add_flow(2, 7, 40000, 6881);	/* 10.0.0.2 as sender */
	add_flow(3, 7, 40001, 6881);
	add_flow(3, 8, 40002, 6881);
	add_flow(4, 2, 40003, 53);	/* 10.0.1.2: not 10.0.0.2 */
	add_endpoint(1, 7, 6881);	/* 10.0.1.7 */
	add_endpoint(1, 7, 6882);
	add_endpoint(1, 8, 6881);
	add_endpoint(0, 2, 51413);
	assert_int_equal(eng.flows.count, 4);

	/* the responder's address: both of its flows go, with its endpoints */
	assert_int_equal(addrspec_parse("10.0.1.7", &s), 0);
	forget_engine(&eng, &s, &r);
	assert_int_equal(r.flows, 2);
	assert_int_equal(r.endpoints, 2);
	assert_int_equal(eng.flows.count, 2);
	assert_false(has_endpoint(1, 7, 6881));
	assert_false(has_endpoint(1, 7, 6882));
	assert_true(has_endpoint(1, 8, 6881));
	assert_true(has_endpoint(0, 2, 51413));
	assert_true(has_flow(3, 8, 40002, 6881));
	assert_true(has_flow(4, 2, 40003, 53));
	/* nothing left to forget */
	forget_engine(&eng, &s, &r);
	assert_int_equal(r.flows, 0);
	assert_int_equal(r.endpoints, 0);

	/* a prefix: the initiator 10.0.0.3 and the endpoint 10.0.0.2 */
	assert_int_equal(addrspec_parse("10.0.0.0/30", &s), 0);
	forget_engine(&eng, &s, &r);
	assert_int_equal(r.flows, 1);
	assert_int_equal(r.endpoints, 1);
	assert_true(has_flow(4, 2, 40003, 53));
	assert_true(has_endpoint(1, 8, 6881));
	/* has_flow created flows the lookups did not find: a forgotten flow
	 * starts anew */
	assert_false(has_flow(2, 7, 40000, 6881));
	engine_fini(&eng);
}

static void test_mailbox(void **state)
{
	struct forget_box b;
	struct forget_result r = { 0 };
	struct addrspec s;
	uint32_t seq, seq2;

	(void)state;
	memset(&b, 0, sizeof(b));
	engine_up();
	add_flow(2, 7, 40000, 6881);
	assert_int_equal(addrspec_parse("10.0.0.2", &s), 0);
	/* nothing posted: serving is a no-op */
	forget_serve(&b, &eng);
	assert_int_equal(b.served, 0);
	seq = forget_post(&b, &s);
	assert_int_not_equal(seq, 0);
	assert_int_equal(forget_collect(&b, seq, &r), 0);
	/* the slot is taken until the worker served it */
	assert_int_equal(forget_post(&b, &s), 0);
	forget_serve(&b, &eng);
	assert_int_equal(forget_collect(&b, seq, &r), 1);
	assert_int_equal(r.flows, 1);
	/* served once only */
	forget_serve(&b, &eng);
	assert_int_equal(forget_collect(&b, seq, &r), 1);
	assert_int_equal(r.flows, 1);
	seq2 = forget_post(&b, &s);
	assert_int_not_equal(seq2, seq);
	forget_serve(&b, &eng);
	assert_int_equal(forget_collect(&b, seq2, &r), 1);
	assert_int_equal(r.flows, 0);
	/* the sequence number wraps past 0, which means "not posted" */
	b.posted = b.served = UINT32_MAX;
	seq = forget_post(&b, &s);
	assert_int_equal(seq, 1);
	forget_serve(&b, &eng);
	assert_int_equal(forget_collect(&b, 1, &r), 1);
	engine_fini(&eng);
}

static struct worker *workers;
static int stop_serving;

static void *serve_loop(void *arg)
{
	struct worker *w = arg;
	const struct timespec nap = { .tv_nsec = 1000000 };

	while (!__atomic_load_n(&stop_serving, __ATOMIC_ACQUIRE)) {
		forget_serve(&w->forget, &w->engine);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static json_int_t jget(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_command(void **state)
{
	struct btb_config cfg;
	struct engine_config ec;
	pthread_t th;
	json_t *doc;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.mark_mask = 0x00ff0000;
	cfg.mark_block = 0x00b10000;
	cfg.mark_reject = 0x00b20000;
	workers = aligned_alloc(64, 3 * sizeof(*workers));
	assert_non_null(workers);
	memset(workers, 0, 3 * sizeof(*workers));
	engine_config_defaults(&ec);
	ec.flow_capacity = 64;
	ec.endpoint_capacity = 64;
	ec.hash_seed = 3;
	/* worker 0 serves, worker 1 is stuck, worker 2 never started */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(engine_init(&workers[i].engine, &ec), 0);
		workers[i].engine_ready = 1;
	}
	eng = workers[0].engine;
	add_flow(2, 7, 40000, 6881);
	workers[0].engine = eng;
	eng = workers[1].engine;
	add_flow(2, 8, 40001, 6881);
	workers[1].engine = eng;
	assert_int_equal(pthread_create(&th, NULL, serve_loop, &workers[0]), 0);

	doc = forget_command(workers, 3, &cfg, "10.0.0.2", 50);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "forgot")), "10.0.0.2");
	assert_int_equal(jget(doc, "flows"), 1);
	assert_int_equal(jget(doc, "workers"), 2);
	assert_int_equal(jget(doc, "answered"), 1);
	assert_int_equal(jget(doc, "pending"), 1);
	assert_int_equal(jget(json_object_get(doc, "marks"), "block"), 0x00b10000);
	json_decref(doc);
	/* worker 1 still holds the first request: it is not asked again, and
	 * forgets when it gets to it */
	doc = forget_command(workers, 3, &cfg, "10.0.0.2", 50);
	assert_int_equal(jget(doc, "answered"), 1);
	assert_int_equal(jget(doc, "pending"), 1);
	assert_int_equal(jget(doc, "flows"), 0);
	json_decref(doc);
	forget_serve(&workers[1].forget, &workers[1].engine);
	assert_int_equal(workers[1].engine.flows.count, 0);

	doc = forget_command(workers, 3, NULL, "not an address", 50);
	assert_non_null(json_object_get(doc, "error"));
	json_decref(doc);
	doc = forget_command(workers, 3, NULL, "10.0.0.2 1.2.3.4", 50);
	assert_non_null(json_object_get(doc, "error"));
	json_decref(doc);
	/* no cfg: no marks; the serving worker answers within the wait */
	doc = forget_command(workers, 3, NULL, "2001:db8::/32", 5000);
	assert_null(json_object_get(doc, "marks"));
	assert_int_equal(jget(doc, "answered"), 1);
	assert_int_equal(jget(doc, "pending"), 1);
	json_decref(doc);

	__atomic_store_n(&stop_serving, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	for (int i = 0; i < 2; i++)
		engine_fini(&workers[i].engine);
	free(workers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrspec_parse),
		cmocka_unit_test(test_addrspec_match),
		cmocka_unit_test(test_forget_engine),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
