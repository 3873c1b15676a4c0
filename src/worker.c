/* worker.c - the per-queue loop tying queue, packet view and verdict together. */
#include "sysincl.h"
#include <netinet/in.h>	/* before linux/netfilter.h: glibc then the uapi */
#include <sched.h>
#include <dirent.h>
#include <net/if.h>
#include <linux/netfilter.h>
#include "clock.h"
#include "config.h"
#include "detection.h"
#include "log.h"
#include "packet.h"
#include "worker.h"

#define WORKER_BATCH 64
#define WORKER_RECV_TIMEOUT_MS 200

/*
 * Test only: BTBLOCKD_TEST_STALL_QUEUE=N makes the worker of queue N stop
 * serving its queue after its first batch, as if it were stuck in a bug,
 * so that the integration tests can check stall detection. Threads cannot
 * be stopped one by one from outside (SIGSTOP stops the whole process),
 * hence a trigger; it is read once at start-up and documented as a test
 * hook in btblockd(8).
 */
#define WORKER_TEST_STALL_ENV "BTBLOCKD_TEST_STALL_QUEUE"

int64_t worker_now_ms(void)
{
	return mono_ms();
}

int64_t worker_progress_age_ms(const struct worker *w, int64_t now_ms)
{
	int64_t age = now_ms - __atomic_load_n(&w->heartbeat_ms, __ATOMIC_RELAXED);

	return age > 0 ? age : 0;
}

void worker_counters_get(const struct worker *w, struct worker_snapshot *s)
{
	const struct worker_counters *c = &w->ctr;

	*s = (struct worker_snapshot){
		.queue_num = w->queue_num,
		.cpu = w->cpu,
		.numa_node = w->numa_node,
		.portid = w->q.portid,
		.ctr = {
			.packets = COUNTER_GET(c->packets),
			.bytes = COUNTER_GET(c->bytes),
			.accepted = COUNTER_GET(c->accepted),
			.malformed = COUNTER_GET(c->malformed),
			.fragments = COUNTER_GET(c->fragments),
			.other_l4 = COUNTER_GET(c->other_l4),
			.marked_allow = COUNTER_GET(c->marked_allow),
			.marked_block = COUNTER_GET(c->marked_block),
			.bans_requested = COUNTER_GET(c->bans_requested),
			.flow_only_blocks = COUNTER_GET(c->flow_only_blocks),
			.flows_monitored = COUNTER_GET(c->flows_monitored),
		},
		.detections_lost = COUNTER_GET(w->detections.overflow),
		.enobufs = COUNTER_GET(w->q.ctr.enobufs),
		.batches = COUNTER_GET(w->q.ctr.batches),
		.verdict_msgs = COUNTER_GET(w->q.ctr.verdict_msgs),
		.verdict_errors = COUNTER_GET(w->q.ctr.verdict_errors),
	};
	if (__atomic_load_n(&w->engine_ready, __ATOMIC_ACQUIRE))
		engine_counters_get(&w->engine, &s->engine);
}

static void heartbeat(struct worker *w)
{
	__atomic_store_n(&w->heartbeat_ms, worker_now_ms(), __ATOMIC_RELAXED);
}

int worker_cpu_node(int cpu)
{
	char path[96];
	struct dirent *de;
	DIR *d;
	int node = -1;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "node", 4) == 0 && de->d_name[4] >= '0' && de->d_name[4] <= '9') {
			node = atoi(de->d_name + 4);
			break;
		}
	}
	closedir(d);
	return node;
}

int worker_open(struct worker *w, unsigned index, const struct btb_config *cfg,
		char *err, size_t errlen)
{
	struct queue_params p = {
		.copy_range = cfg->copy_range,
		.maxlen = cfg->queue_maxlen,
		.rcvbuf = cfg->rcvbuf,
		.fail_open = cfg->fail_open,
		.batch = WORKER_BATCH,
		.recv_timeout_ms = WORKER_RECV_TIMEOUT_MS,
	};
	const char *stall = getenv(WORKER_TEST_STALL_ENV);

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->queue_num = (uint16_t)(cfg->queue_first + index);
	w->cpu = config_worker_cpu(cfg, index);
	w->numa_node = worker_cpu_node(w->cpu);
	w->cfg = cfg;
	w->heartbeat_ms = worker_now_ms();
	/* by index: one compare per packet, no name lookups on the hot path */
	for (int i = 0; i < cfg->nprotect_ifaces; i++) {
		unsigned idx = if_nametoindex(cfg->protect_ifaces[i]);

		if (idx)
			w->protect_ifs[w->nprotect_ifs++] = idx;
		else if (index == 0)
			LOG(LOG_WARNING, "protected-interface %s: no such interface now; its "
			    "packets count as outside until a restart", cfg->protect_ifaces[i]);
	}
	if (stall && *stall && strtoul(stall, NULL, 10) == w->queue_num) {
		w->test_stall = 1;
		LOG(LOG_WARNING, "queue %u: %s set: this worker will stall (test only)",
		    w->queue_num, WORKER_TEST_STALL_ENV);
	}
	return queue_open(&w->q, w->queue_num, &p, err, errlen);
}

static void report_detection(struct worker *w, const struct queue_packet *p,
			     const struct pkt_view *view, const struct engine_result *r,
			     enum detect_action action)
{
	struct detect_event e = {
		.sport = view->sport,
		.dport = view->dport,
		.queue = w->queue_num,
		.family = view->family,
		.l4 = view->l4proto,
		.action = (uint8_t)action,
		.detector = r->reason,
		.packet_index = r->decided_at,
	};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	e.wall_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	memcpy(e.saddr, view->saddr, sizeof(e.saddr));
	memcpy(e.daddr, view->daddr, sizeof(e.daddr));
	/* Who is who, for the control thread to name (detection.c). */
	e.indev = p->indev;
	e.outdev = p->outdev;
	e.lan = detection_lan_sides(&w->engine.cfg.protect, view);
	if (p->hwaddr && p->hwaddr_len <= sizeof(e.hwaddr)) {
		e.hwaddr_len = (uint8_t)p->hwaddr_len;
		memcpy(e.hwaddr, p->hwaddr, p->hwaddr_len);
	}
	detect_ring_push(&w->detections, &e);
}

/* Put our value into the mark field, keeping the bits that are not ours. */
static void set_mark(struct queue_verdict *v, const struct queue_packet *p,
		     uint32_t mask, uint32_t value)
{
	v->set_mark = 1;
	v->mark = (p->mark & ~mask) | value;
}

/*
 * The mark contract (nft/btblockd.nft): every verdict is an accept; a
 * decided flow's packet carries the allow or block value in the mark
 * field, a chain after the queue copies it to the conntrack mark, drops
 * blocked flows, and stops queueing allowed ones. A block bans the
 * address pair only when the engine says the evidence allows it
 * (r.ban); otherwise the flow-only value drops the flow alone.
 */
static void mark_verdict(struct worker *w, const struct queue_packet *p, const struct pkt_view *view,
			 struct queue_verdict *v)
{
	const struct btb_config *cfg = w->cfg;
	struct engine_result r;
	enum detect_action action;
	int ban;

	engine_process(&w->engine, view, mono_ns_coarse(), &r);
	switch (r.verdict) {
	case ENGINE_UNDECIDED:
		return;
	case ENGINE_ALLOW:
		set_mark(v, p, cfg->mark_mask, cfg->mark_allow);
		COUNTER_INC(w->ctr.marked_allow);
		return;
	case ENGINE_BLOCK:
		break;
	}
	ban = r.ban;
	if (cfg->monitor) {
		/* Seen, counted, logged; the flow leaves the queue as allowed. */
		set_mark(v, p, cfg->mark_mask, cfg->mark_allow);
		COUNTER_INC(w->ctr.marked_allow);
		action = DETECT_MONITOR;
	} else if (cfg->reject && view->l4proto == IPPROTO_TCP) {
		set_mark(v, p, cfg->mark_mask, ban ? cfg->mark_reject : cfg->mark_reject_flow);
		COUNTER_INC(w->ctr.marked_block);
		action = DETECT_REJECT;
	} else {
		set_mark(v, p, cfg->mark_mask, ban ? cfg->mark_block : cfg->mark_block_flow);
		COUNTER_INC(w->ctr.marked_block);
		action = cfg->throttle ? DETECT_THROTTLE : DETECT_BLOCK;
	}
	if (r.decided_at != r.flow_packets)
		return;		/* decided earlier: reported then */
	if (action == DETECT_MONITOR)
		COUNTER_INC(w->ctr.flows_monitored);
	else if (ban)
		COUNTER_INC(w->ctr.bans_requested);
	else
		COUNTER_INC(w->ctr.flow_only_blocks);
	report_detection(w, p, view, &r, action);
}

/* The PKT_F_* bits of the protected side's interfaces the packet came
 * in on and leaves through. */
static uint8_t interface_sides(const struct worker *w, const struct queue_packet *p)
{
	uint8_t flags = 0;

	for (unsigned i = 0; i < w->nprotect_ifs; i++) {
		if (p->indev == w->protect_ifs[i])
			flags |= PKT_F_IN_PROTECTED;
		if (p->outdev == w->protect_ifs[i])
			flags |= PKT_F_OUT_PROTECTED;
	}
	return flags;
}

/* Malformed, fragmented and non-TCP/UDP packets are counted and accepted:
 * nothing can be concluded from them and dropping would harm the network. */
static struct queue_verdict worker_classify(void *ctx, const struct queue_packet *p)
{
	struct worker *w = ctx;
	struct queue_verdict v = { .verdict = NF_ACCEPT };
	struct pkt_view view;

	COUNTER_INC(w->ctr.packets);
	COUNTER_ADD(w->ctr.bytes, p->wire_len);
	switch (pkt_parse(&view, p->data, p->cap_len, p->wire_len)) {
	case PKT_OK:
		view.flags |= interface_sides(w, p);
		mark_verdict(w, p, &view, &v);
		break;
	case PKT_OTHER_L4:
		COUNTER_INC(w->ctr.other_l4);
		break;
	case PKT_FRAGMENT:
		COUNTER_INC(w->ctr.fragments);
		break;
	case PKT_MALFORMED:
		COUNTER_INC(w->ctr.malformed);
		break;
	}
	COUNTER_INC(w->ctr.accepted);
	return v;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	cpu_set_t set;
	int e;

	/* Named per queue: ps -L, top -H and the tests tell the workers apart. */
	snprintf(name, sizeof(name), "btblockd-q%u", w->queue_num);
	e = pthread_setname_np(pthread_self(), name);
	if (e)
		LOG(LOG_DEBUG, "queue %u: cannot name the worker thread: %s", w->queue_num, strerror(e));
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (e)
		LOG(LOG_WARNING, "queue %u: cannot pin worker to CPU %d: %s", w->queue_num, w->cpu, strerror(e));
	heartbeat(w);
	/* Buffers are allocated after pinning: first touch makes them local. */
	if (queue_alloc_buffers(&w->q) < 0) {
		LOG(LOG_ERR, "queue %u: out of memory for receive buffers", w->queue_num);
		goto fail;
	}
	if (engine_init(&w->engine, &w->cfg->engine) < 0) {
		LOG(LOG_ERR, "queue %u: out of memory for a flow table of %u flows", w->queue_num,
		    w->cfg->engine.flow_capacity);
		goto fail;
	}
	/* Shared hosts table and the state file's entries: before "ready",
	 * so that the first packet meets them. */
	engine_set_bthosts(&w->engine, w->bthosts, w->index);
	state_restore_engine(w->restore, w->queue_num, &w->engine, &w->restored);
	__atomic_store_n(&w->engine_ready, 1, __ATOMIC_RELEASE);
	LOG(LOG_INFO, "queue %u: worker on CPU %d (node %d)", w->queue_num, w->cpu, w->numa_node);
	/* One stamp per turn: the receive timeout bounds a healthy turn. */
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		heartbeat(w);
		if (w->test_stall && COUNTER_GET(w->q.ctr.batches) > 0) {
			const struct timespec nap = { .tv_nsec = 100 * 1000000 };

			while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED))
				nanosleep(&nap, NULL);
			break;
		}
		forget_serve(&w->forget, &w->engine);
		state_serve(&w->state, &w->engine);
		queue_service(&w->q, worker_classify, w);
	}
	queue_drain_and_close(&w->q, worker_classify, w);
	return NULL;
fail:
	/* Leave the queue: with bypass the kernel passes its traffic on. */
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	queue_close(&w->q);
	return NULL;
}

int worker_start(struct worker *w)
{
	sigset_t all, old;
	int e;

	/* Workers never take signals: the main thread waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		LOG(LOG_ERR, "queue %u: cannot start worker thread: %s", w->queue_num, strerror(e));
		return -1;
	}
	w->started = 1;
	return 0;
}

void worker_wait_ready(const struct worker *w)
{
	const struct timespec nap = { .tv_nsec = 1000000 };

	/* Start-up is allocation and first touch only: it always ends. */
	while (!__atomic_load_n(&w->engine_ready, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
		nanosleep(&nap, NULL);
}

void worker_stop(struct worker *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
}

void worker_join_thread(struct worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = 0;
		w->joined = 1;
	}
}

void worker_join(struct worker *w)
{
	worker_join_thread(w);
	if (!w->joined)
		queue_close(&w->q);	/* never started: the queue is still bound */
	w->joined = 0;
	if (w->engine_ready) {
		engine_fini(&w->engine);
		w->engine_ready = 0;
	}
}
