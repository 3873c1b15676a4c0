/* nfq-floor.c - the NFQUEUE floor: accept every packet, nothing else, through
 * btblockd's own src/queue.c (linked, not copied), so the socket options,
 * recvmmsg batch and batch verdicts are exactly the daemon's. */
#include "sysincl.h"
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>	/* before linux/netfilter.h: glibc then the uapi */
#include <linux/netfilter.h>
#include "log.h"
#include "queue.h"

/* The daemon's defaults (src/config.c, src/worker.c). */
#define FLOOR_COPY_RANGE 4096
#define FLOOR_MAXLEN 4096
#define FLOOR_RCVBUF (64u << 20)
#define FLOOR_BATCH 64
#define FLOOR_RECV_TIMEOUT_MS 200
#define FLOOR_MAX_QUEUES 64

struct floor_worker {
	struct queue q;
	pthread_t thread;
	int cpu;
	uint64_t packets;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct queue_verdict accept_all(void *ctx, const struct queue_packet *p)
{
	struct queue_verdict v = { .verdict = NF_ACCEPT };

	(void)p;
	((struct floor_worker *)ctx)->packets++;
	return v;
}

static void *worker_main(void *arg)
{
	struct floor_worker *w = arg;

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr, "nfq-floor: cannot pin queue %u to CPU %d\n", w->q.num, w->cpu);
	}
	/* After pinning, like the daemon: buffers local to the worker's CPU. */
	if (queue_alloc_buffers(&w->q) < 0) {
		fprintf(stderr, "nfq-floor: out of memory\n");
		stop = 1;
		return NULL;
	}
	while (!stop)
		queue_service(&w->q, accept_all, w);
	queue_drain_and_close(&w->q, accept_all, w);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: nfq-floor [-q A[-B]] [-c CPU[,CPU...]] [-r COPY_RANGE] [-C]\n"
		"Accept every packet of NFQUEUE queues A..B (default 0), one pinned thread\n"
		"per queue, with btblockd's queue code and defaults; prints the packets\n"
		"per queue on SIGINT/SIGTERM. Prints \"ready\" once every queue is bound.\n"
		"-C: fail-closed (a full queue drops) instead of the daemon's default fail-open.\n");
	exit(2);
}

/* "0,1" -> cpus[]; returns how many. */
static int parse_cpus(const char *s, int *cpus, int max)
{
	int n = 0;

	while (*s && n < max) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > 4095)
			usage();
		cpus[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			usage();
	}
	return n;
}

int main(int argc, char **argv)
{
	static struct floor_worker w[FLOOR_MAX_QUEUES];
	struct queue_params p = {
		.copy_range = FLOOR_COPY_RANGE,
		.maxlen = FLOOR_MAXLEN,
		.rcvbuf = FLOOR_RCVBUF,
		.fail_open = 1,
		.batch = FLOOR_BATCH,
		.recv_timeout_ms = FLOOR_RECV_TIMEOUT_MS,
	};
	int cpus[FLOOR_MAX_QUEUES];
	int ncpus = 0, opt;
	unsigned first = 0, last = 0, n, i;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "q:c:r:Ch")) != -1) {
		switch (opt) {
		case 'q':
			if (sscanf(optarg, "%u-%u", &first, &last) < 2)
				last = first;
			if (last < first || last > 65535 || last - first >= FLOOR_MAX_QUEUES)
				usage();
			break;
		case 'c':
			ncpus = parse_cpus(optarg, cpus, FLOOR_MAX_QUEUES);
			break;
		case 'C':
			p.fail_open = 0;
			break;
		case 'r':
			p.copy_range = (uint32_t)strtoul(optarg, NULL, 10);
			if (p.copy_range < 64 || p.copy_range > 65531)
				usage();
			break;
		default:
			usage();
		}
	}
	log_init("nfq-floor", 1, LOG_WARNING);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	n = last - first + 1;
	for (i = 0; i < n; i++) {
		char err[256];

		w[i].cpu = ncpus ? cpus[i % (unsigned)ncpus] : -1;
		if (queue_open(&w[i].q, (uint16_t)(first + i), &p, err, sizeof(err)) < 0) {
			fprintf(stderr, "nfq-floor: %s\n", err);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "nfq-floor: cannot start a thread\n");
			return 1;
		}
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < n; i++)
		printf("queue %u packets %" PRIu64 "\n", first + i, w[i].packets);
	return 0;
}
