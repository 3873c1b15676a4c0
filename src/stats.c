/* stats.c - per-worker counters read without locks, kernel queue counters
 * from procfs, all turned into one JSON document. */
#include "sysincl.h"
#include "stats.h"
#include "worker.h"

int stats_read_kernel(const char *path, struct kernel_queue_stats *out, int max)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int n = 0;

	if (!f)
		return -1;
	/* queue portid waiting copy_mode copy_range queue_dropped user_dropped id_seq 1 */
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned q, portid, mode, range;
		unsigned long long total, qdrop, udrop, seq;

		if (sscanf(line, "%u %u %llu %u %u %llu %llu %llu", &q, &portid, &total, &mode,
			   &range, &qdrop, &udrop, &seq) != 8)
			continue;
		out[n++] = (struct kernel_queue_stats){
			.queue = q, .portid = portid, .queue_total = total,
			.queue_dropped = qdrop, .user_dropped = udrop, .id_sequence = seq,
		};
	}
	fclose(f);
	return n;
}

static json_t *kernel_json(const struct kernel_queue_stats *k, int nk, uint16_t queue)
{
	for (int i = 0; i < nk; i++)
		if (k[i].queue == queue)
			return json_pack("{s:I,s:I,s:I,s:I}",
					 "queue_total", (json_int_t)k[i].queue_total,
					 "queue_dropped", (json_int_t)k[i].queue_dropped,
					 "user_dropped", (json_int_t)k[i].user_dropped,
					 "id_sequence", (json_int_t)k[i].id_sequence);
	return json_null();
}

json_t *stats_build(const struct stats_info *info, struct worker *workers, unsigned n)
{
	struct kernel_queue_stats kernel[STATS_KERNEL_MAX];
	struct worker_counters sum = { 0 };
	struct timespec now;
	json_t *queues = json_array();
	json_t *doc;
	int nk;

	nk = stats_read_kernel(STATS_PROC_PATH, kernel, STATS_KERNEL_MAX);
	for (unsigned i = 0; i < n; i++) {
		const struct worker *w = &workers[i];
		struct worker_counters c = {
			.packets = COUNTER_GET(w->ctr.packets),
			.bytes = COUNTER_GET(w->ctr.bytes),
			.accepted = COUNTER_GET(w->ctr.accepted),
			.dropped = COUNTER_GET(w->ctr.dropped),
			.malformed = COUNTER_GET(w->ctr.malformed),
			.fragments = COUNTER_GET(w->ctr.fragments),
			.other_l4 = COUNTER_GET(w->ctr.other_l4),
		};
		json_t *q;

		sum.packets += c.packets;
		sum.bytes += c.bytes;
		sum.accepted += c.accepted;
		sum.dropped += c.dropped;
		sum.malformed += c.malformed;
		sum.fragments += c.fragments;
		sum.other_l4 += c.other_l4;
		q = json_pack("{s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
			      "queue", (int)w->queue_num,
			      "cpu", w->cpu,
			      "numa_node", w->numa_node,
			      "packets", (json_int_t)c.packets,
			      "bytes", (json_int_t)c.bytes,
			      "accepted", (json_int_t)c.accepted,
			      "dropped", (json_int_t)c.dropped,
			      "malformed", (json_int_t)c.malformed,
			      "fragments", (json_int_t)c.fragments,
			      "other_l4", (json_int_t)c.other_l4,
			      "enobufs", (json_int_t)COUNTER_GET(w->q.ctr.enobufs),
			      "batches", (json_int_t)COUNTER_GET(w->q.ctr.batches),
			      "verdict_msgs", (json_int_t)COUNTER_GET(w->q.ctr.verdict_msgs),
			      "verdict_errors", (json_int_t)COUNTER_GET(w->q.ctr.verdict_errors),
			      "kernel", nk >= 0 ? kernel_json(kernel, nk, w->queue_num) : json_null());
		json_array_append_new(queues, q);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	doc = json_pack("{s:s,s:I,s:s,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o}",
			"version", PACKAGE_VERSION,
			"uptime_s", (json_int_t)(now.tv_sec - info->started),
			"mode", info->mode,
			"fail_open", info->fail_open,
			"totals",
			"packets", (json_int_t)sum.packets,
			"bytes", (json_int_t)sum.bytes,
			"accepted", (json_int_t)sum.accepted,
			"dropped", (json_int_t)sum.dropped,
			"malformed", (json_int_t)sum.malformed,
			"fragments", (json_int_t)sum.fragments,
			"other_l4", (json_int_t)sum.other_l4,
			"queues", queues);
	return doc;
}
