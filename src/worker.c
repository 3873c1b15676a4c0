/* worker.c - the per-queue loop tying queue, packet view and verdict together. */
#include "sysincl.h"
#include <sched.h>
#include <dirent.h>
#include <linux/netfilter.h>
#include "config.h"
#include "log.h"
#include "packet.h"
#include "worker.h"

#define WORKER_BATCH 64
#define WORKER_RECV_TIMEOUT_MS 200

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

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->queue_num = (uint16_t)(cfg->queue_first + index);
	w->cpu = config_worker_cpu(cfg, index);
	w->numa_node = worker_cpu_node(w->cpu);
	w->cfg = cfg;
	return queue_open(&w->q, w->queue_num, &p, err, errlen);
}

/* The classifier: today every well-formed packet is accepted; malformed,
 * fragmented and non-TCP/UDP packets are counted and accepted too, since
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
	if (v.verdict == NF_DROP)
		COUNTER_INC(w->ctr.dropped);
	else
		COUNTER_INC(w->ctr.accepted);
	return v;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;
	int e;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (e)
		LOG(LOG_WARNING, "queue %u: cannot pin worker to CPU %d: %s", w->queue_num, w->cpu, strerror(e));
	/* Buffers are allocated after pinning: first touch makes them local. */
	if (queue_alloc_buffers(&w->q) < 0) {
		LOG(LOG_ERR, "queue %u: out of memory for receive buffers", w->queue_num);
		__atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
		queue_close(&w->q);
		return NULL;
	}
	LOG(LOG_INFO, "queue %u: worker on CPU %d (node %d)", w->queue_num, w->cpu, w->numa_node);
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED))
		queue_service(&w->q, worker_classify, w);
	queue_drain_and_close(&w->q, worker_classify, w);
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

void worker_stop(struct worker *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
}

void worker_join(struct worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = 0;
	} else {
		queue_close(&w->q);
	}
}
