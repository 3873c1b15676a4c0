/* stats.c - per-worker counters read without locks, kernel queue counters
 * from procfs, all turned into one JSON document. */
#include "sysincl.h"
#include "clock.h"
#include "stats.h"
#include "worker.h"
#include "detect_log.h"

/* One line per bound queue:
 * queue portid waiting copy_mode copy_range queue_dropped user_dropped id_seq 1 */
static int parse_kernel(FILE *f, struct kernel_queue_stats *out, int max)
{
	char line[256];
	int n = 0;

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
	return n;
}

int stats_read_kernel(const char *path, struct kernel_queue_stats *out, int max)
{
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return -1;
	n = parse_kernel(f, out, max);
	fclose(f);
	return n;
}

/* Set once at start-up, before the control thread exists. */
static int kernel_fd = -1;

int stats_open_kernel(void)
{
	if (kernel_fd < 0)
		kernel_fd = open(STATS_PROC_PATH, O_RDONLY | O_CLOEXEC);
	return kernel_fd < 0 ? -1 : 0;
}

void stats_close_kernel(void)
{
	if (kernel_fd >= 0)
		close(kernel_fd);
	kernel_fd = -1;
}

int stats_read_kernel_fd(int fd, struct kernel_queue_stats *out, int max)
{
	/* 256 lines of at most ~90 bytes: the whole table in one buffer. */
	static char buf[STATS_KERNEL_MAX * 96];
	size_t len = 0;
	ssize_t r;
	FILE *f;
	int n;

	/* A seq_file starts over from offset 0; it is read by one thread. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while (len < sizeof(buf) && (r = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len += (size_t)r;
	}
	f = fmemopen(buf, len ? len : 1, "r");
	if (!f)
		return -1;
	n = len ? parse_kernel(f, out, max) : 0;
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

/* Add n to the integer member key of obj (created at 0). */
static void json_add(json_t *obj, const char *key, uint64_t n)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer((v ? json_integer_value(v) : 0) + (json_int_t)n));
}

/* Worker counters, engine counters and queue counters of one worker,
 * set into obj and added into totals and detectors. */
static void worker_json(const struct worker_snapshot *s, json_t *obj, json_t *totals,
			json_t *detectors)
{
	const struct engine_counters *e = &s->engine;
	const struct {
		const char *key;
		uint64_t value;
	} fields[] = {
		{ "packets", s->ctr.packets },
		{ "bytes", s->ctr.bytes },
		{ "accepted", s->ctr.accepted },
		{ "malformed", s->ctr.malformed },
		{ "fragments", s->ctr.fragments },
		{ "other_l4", s->ctr.other_l4 },
		{ "marked_allow", s->ctr.marked_allow },
		{ "marked_block", s->ctr.marked_block },
		{ "bans_requested", s->ctr.bans_requested },
		{ "flow_only_blocks", s->ctr.flow_only_blocks },
		{ "monitor_detections", s->ctr.flows_monitored },
		{ "detections_lost", s->detections_lost },
		{ "enobufs", s->enobufs },
		{ "batches", s->batches },
		{ "verdict_msgs", s->verdict_msgs },
		{ "verdict_errors", s->verdict_errors },
	};
	json_t *flows;

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_object_set_new(obj, fields[i].key, json_integer((json_int_t)fields[i].value));
		json_add(totals, fields[i].key, fields[i].value);
	}
	flows = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			  "active", (json_int_t)e->flows_active,
			  "inserted", (json_int_t)e->flows_inserted,
			  "evicted", (json_int_t)e->flows_evicted,
			  "timed_out", (json_int_t)e->flows_timed_out,
			  "decided_allow", (json_int_t)e->decided_allow,
			  "decided_block", (json_int_t)e->decided_block,
			  "stream_heads_exhausted", (json_int_t)e->stream_heads_exhausted);
	json_object_set_new(obj, "flows", flows);
	json_object_set_new(obj, "inspected_packets", json_integer((json_int_t)e->inspected_packets));
	json_object_set_new(obj, "endpoint_cache_size", json_integer((json_int_t)e->endpoint_cache_size));
	json_object_set_new(obj, "endpoints_learned", json_integer((json_int_t)e->endpoints_learned));
	json_object_set_new(obj, "endpoints_over_quota", json_integer((json_int_t)e->endpoints_over_quota));
	json_object_set_new(obj, "endpoints_no_room", json_integer((json_int_t)e->endpoints_no_room));
	json_add(totals, "inspected_packets", e->inspected_packets);
	json_add(totals, "endpoint_cache_size", e->endpoint_cache_size);
	json_add(totals, "endpoints_learned", e->endpoints_learned);
	json_add(totals, "endpoints_over_quota", e->endpoints_over_quota);
	json_add(totals, "endpoints_no_room", e->endpoints_no_room);
	json_add(totals, "flows_active", e->flows_active);
	json_add(totals, "flows_decided_allow", e->decided_allow);
	json_add(totals, "flows_decided_block", e->decided_block);
	for (unsigned i = 1; i < DPI_COUNT; i++)
		json_add(detectors, dpi_name((enum dpi_id)i), e->detector[i]);
}

/* What the kernel side must agree with (btblockctl check compares): the
 * marks and the protected interfaces. */
static void stats_config_json(json_t *doc, const struct btb_config *c)
{
	json_t *ifs = json_array();

	for (int i = 0; i < c->nprotect_ifaces; i++)
		json_array_append_new(ifs, json_string(c->protect_ifaces[i]));
	json_object_set_new(doc, "marks",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
				      "mask", (json_int_t)c->mark_mask,
				      "allow", (json_int_t)c->mark_allow,
				      "block", (json_int_t)c->mark_block,
				      "reject", (json_int_t)c->mark_reject,
				      "block_flow", (json_int_t)c->mark_block_flow,
				      "reject_flow", (json_int_t)c->mark_reject_flow));
	json_object_set_new(doc, "protected_interfaces", ifs);
}

json_t *stats_build(const struct stats_info *info, struct worker *workers, unsigned n)
{
	struct kernel_queue_stats kernel[STATS_KERNEL_MAX];
	json_t *queues = json_array();
	json_t *totals = json_object();
	json_t *detectors = json_object();
	json_t *doc;
	int nk;

	nk = kernel_fd >= 0 ? stats_read_kernel_fd(kernel_fd, kernel, STATS_KERNEL_MAX) :
			      stats_read_kernel(STATS_PROC_PATH, kernel, STATS_KERNEL_MAX);
	for (unsigned i = 0; i < n; i++) {
		const struct worker *w = &workers[i];
		struct worker_snapshot s;
		json_t *q;
		int64_t age = worker_progress_age_ms(w, worker_now_ms());
		int64_t limit = __atomic_load_n(&info->stall_timeout_ms, __ATOMIC_RELAXED);
		int stalled = limit > 0 && age > limit;

		worker_counters_get(w, &s);
		q = json_pack("{s:i,s:i,s:i}", "queue", (int)s.queue_num, "cpu", s.cpu,
			      "numa_node", s.numa_node);
		worker_json(&s, q, totals, detectors);
		/* The heartbeat: how long ago the worker last went round its loop. */
		json_object_set_new(q, "last_progress_ms", json_integer((json_int_t)age));
		json_object_set_new(q, "stalled", json_boolean(stalled));
		/* The netlink port the kernel lists as the queue's listener. */
		json_object_set_new(q, "portid", json_integer((json_int_t)s.portid));
		json_add(totals, "stalled_workers", (uint64_t)stalled);
		json_object_set_new(q, "kernel", nk >= 0 ? kernel_json(kernel, nk, s.queue_num) : json_null());
		json_array_append_new(queues, q);
	}
	doc = json_pack("{s:i,s:s,s:I,s:s,s:b,s:o,s:o,s:o}",
			"schema", STATS_SCHEMA,
			"version", PACKAGE_VERSION,
			"uptime_s", (json_int_t)(mono_s() - info->started),
			"mode", info->mode,
			"fail_open", info->fail_open,
			"totals", totals,
			"detectors", detectors,
			"queues", queues);
	if (doc && n > 0 && workers[0].cfg)
		stats_config_json(doc, workers[0].cfg);
	if (doc && info->detect_log)
		json_object_set_new(doc, "detect_log",
				    json_pack("{s:I,s:I,s:s}",
					      "written", (json_int_t)COUNTER_GET(info->detect_log->written),
					      "suppressed", (json_int_t)COUNTER_GET(info->detect_log->suppressed_total),
					      "path", info->detect_log->path));
	return doc;
}
