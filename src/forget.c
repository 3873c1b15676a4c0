/* forget.c - the workers forget an address: flows and learned endpoints
 * naming it, asked through a one-slot mailbox per worker (see forget.h). */
#include "sysincl.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "forget.h"
#include "worker.h"

static int flow_names(void *arg, const struct flow *f)
{
	const struct addrspec *s = arg;

	return addrspec_match(s, f->family, f->a) || addrspec_match(s, f->family, f->b);
}

static int endpoint_named(void *arg, int family, const uint8_t *addr)
{
	return addrspec_match(arg, family, addr);
}

void forget_engine(struct engine *e, const struct addrspec *spec, struct forget_result *r)
{
	struct addrspec s = *spec;

	r->flows = flow_remove_matching(&e->flows, flow_names, &s);
	r->endpoints = endpoints_remove_matching(&e->eps, endpoint_named, &s);
	/* the engine's own region of the shared hosts table */
	bthosts_remove_matching(e->bthosts, e->bthosts_region, endpoint_named, &s);
}

uint32_t forget_post(struct forget_box *b, const struct addrspec *spec)
{
	uint32_t seq = b->posted;	/* only this thread writes it */

	if (__atomic_load_n(&b->served, __ATOMIC_ACQUIRE) != seq)
		return 0;
	if (++seq == 0)
		seq = 1;		/* 0 means "not posted" to the caller */
	b->spec = *spec;
	__atomic_store_n(&b->posted, seq, __ATOMIC_RELEASE);
	return seq;
}

int forget_collect(struct forget_box *b, uint32_t seq, struct forget_result *r)
{
	if (__atomic_load_n(&b->served, __ATOMIC_ACQUIRE) != seq)
		return 0;
	*r = b->result;
	return 1;
}

void forget_serve(struct forget_box *b, struct engine *e)
{
	uint32_t seq = __atomic_load_n(&b->posted, __ATOMIC_ACQUIRE);

	if (seq == b->served)
		return;
	forget_engine(e, &b->spec, &b->result);
	__atomic_store_n(&b->served, seq, __ATOMIC_RELEASE);
}

json_t *forget_command(struct worker *workers, unsigned n, const struct btb_config *cfg,
		       const char *arg, int wait_ms)
{
	const struct timespec nap = { .tv_nsec = 1000000 };
	uint32_t seq[CONFIG_MAX_QUEUES];
	struct forget_result total = { 0, 0 };
	unsigned asked = 0, answered = 0, busy = 0;
	char shown[ADDRSPEC_STRLEN];
	struct addrspec spec;
	int64_t deadline;
	json_t *doc;

	if (addrspec_parse(arg, &spec) < 0)
		return json_pack("{s:s}", "error", "forget needs an IPv4 or IPv6 address or prefix");
	if (n > CONFIG_MAX_QUEUES)
		n = CONFIG_MAX_QUEUES;	/* never more: config refuses them */
	for (unsigned i = 0; i < n; i++) {
		seq[i] = 0;
		/* A worker that never started or gave up has no tables. */
		if (!__atomic_load_n(&workers[i].engine_ready, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&workers[i].failed, __ATOMIC_ACQUIRE))
			continue;
		seq[i] = forget_post(&workers[i].forget, &spec);
		if (seq[i])
			asked++;
		else
			busy++;
	}
	deadline = mono_ms() + wait_ms;
	for (;;) {
		unsigned pending = 0;

		for (unsigned i = 0; i < n; i++) {
			struct forget_result r;

			if (!seq[i])
				continue;
			if (!forget_collect(&workers[i].forget, seq[i], &r)) {
				pending++;
				continue;
			}
			total.flows += r.flows;
			total.endpoints += r.endpoints;
			answered++;
			seq[i] = 0;
		}
		if (!pending || mono_ms() >= deadline)
			break;
		nanosleep(&nap, NULL);
	}
	addrspec_format(&spec, shown, sizeof(shown));
	doc = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "forgot", shown,
			"flows", (json_int_t)total.flows, "endpoints", (json_int_t)total.endpoints,
			"workers", (json_int_t)(asked + busy), "answered", (json_int_t)answered,
			"pending", (json_int_t)(asked + busy - answered));
	if (doc && cfg)
		json_object_set_new(doc, "marks",
				    json_pack("{s:I,s:I,s:I}", "mask", (json_int_t)cfg->mark_mask,
					      "block", (json_int_t)cfg->mark_block,
					      "reject", (json_int_t)cfg->mark_reject));
	return doc;
}
