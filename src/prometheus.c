/* prometheus.c - btblockctl prometheus: the stats document in the
 * Prometheus text exposition format (version 0.0.4). */
#include "sysincl.h"
#include <jansson.h>
#include "ctl_json.h"
#include "prometheus.h"

/* Metric families rendered at most; a queue object has ~30 numeric fields. */
#define PROM_FAMILIES_MAX 256

/* Append s to a metric name, anything outside [a-zA-Z0-9_] made '_'. */
static size_t prom_name_append(char *dst, size_t n, size_t len, const char *s)
{
	for (; *s && n + 1 < len; s++)
		dst[n++] = ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			    (*s >= '0' && *s <= '9')) ? *s : '_';
	dst[n] = '\0';
	return n;
}

/* "a" or "a_b", whatever names the daemon sent. */
static void prom_name(char *dst, size_t len, const char *a, const char *b)
{
	size_t n = prom_name_append(dst, 0, len, a);

	if (b) {
		n = prom_name_append(dst, n, len, "_");
		prom_name_append(dst, n, len, b);
	}
}

/* Label values: backslash, double quote and newline escaped (text format). */
static void prom_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void prom_value(FILE *out, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else if (json_is_real(v))
		fprintf(out, "%.17g\n", json_real_value(v));
	else
		fprintf(out, "%d\n", json_is_true(v) ? 1 : 0);
}

static int prom_is_number(const json_t *v)
{
	return json_is_number(v) || json_is_boolean(v);
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A value in milliseconds, written in seconds (Prometheus base units). */
static void prom_value_ms(FILE *out, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, "%.3f\n", (double)json_integer_value(v) / 1000.0);
	else
		fprintf(out, "%.17g\n", json_number_value(v) / 1000.0);
}

/* What the per-queue fields mean; gauges are levels, the rest only grow.
 * A field not listed is a counter, unless it is a boolean (a gauge). */
static const struct prom_known {
	const char *field;	/* flattened: key or key_subkey */
	const char *metric;	/* NULL: btblockd_<field>[_total] */
	int gauge;
	const char *help;
} prom_known[] = {
	{ "packets", NULL, 0, "Packets received from the queue." },
	{ "bytes", NULL, 0, "Bytes received from the queue (original packet lengths)." },
	{ "accepted", NULL, 0, "Packets answered with an accept verdict." },
	{ "malformed", NULL, 0, "Malformed or truncated packets (accepted)." },
	{ "fragments", NULL, 0, "Non-first IP fragments (accepted)." },
	{ "other_l4", NULL, 0, "Packets neither TCP nor UDP (accepted)." },
	{ "marked_allow", NULL, 0, "Packets sent back with the allow mark." },
	{ "marked_block", NULL, 0, "Packets sent back with the block mark." },
	{ "bans_requested", NULL, 0,
	  "Flows blocked with a ban of their address pair (the ruleset may fail to add it)." },
	{ "flow_only_blocks", NULL, 0,
	  "Flows blocked without a ban: the evidence does not allow one." },
	{ "monitor_detections", NULL, 0, "Detections in monitor mode (not blocked)." },
	{ "detections_lost", NULL, 0, "Detections lost because the log ring was full." },
	{ "enobufs", NULL, 0, "Netlink receive buffer overflows (ENOBUFS)." },
	{ "batches", NULL, 0, "Receive batches." },
	{ "verdict_msgs", NULL, 0, "Verdict messages sent to the kernel." },
	{ "verdict_errors", NULL, 0, "Verdict messages the kernel refused." },
	{ "inspected_packets", NULL, 0, "Packets the detectors looked at." },
	{ "endpoint_cache_size", NULL, 1, "Suspected BitTorrent endpoints remembered now." },
	{ "endpoints_learned", NULL, 0,
	  "Endpoints learned from answers to the protected side and from confirmed peers." },
	{ "endpoints_over_quota", NULL, 0,
	  "Endpoints not learned: their source had used its quota." },
	{ "endpoints_no_room", NULL, 0,
	  "Endpoints not learned: their cache set held only others' live entries." },
	{ "flows_active", NULL, 1, "Flows tracked now." },
	{ "flows_inserted", NULL, 0, "Flows added to the flow table." },
	{ "flows_evicted", NULL, 0, "Flows evicted because the table was full." },
	{ "flows_timed_out", NULL, 0, "Flows forgotten after their idle timeout." },
	{ "flows_decided_allow", NULL, 0, "Flows decided allow." },
	{ "flows_decided_block", NULL, 0, "Flows decided block." },
	{ "flows_stream_heads_exhausted", NULL, 0,
	  "Undecided flows whose stream prefix buffer filled up." },
	{ "kernel_queue_total", "btblockd_kernel_queue_waiting", 1,
	  "Packets waiting in the kernel queue for a verdict." },
	{ "kernel_queue_dropped", NULL, 0, "Packets the kernel dropped because the queue was full." },
	{ "kernel_user_dropped", NULL, 0,
	  "Packets the kernel could not deliver to the daemon (netlink buffer full)." },
	{ "kernel_id_sequence", "btblockd_kernel_id_sequence", 1,
	  "Last packet id the kernel gave out on the queue (wraps at 2^32)." },
	{ "last_progress_ms", "btblockd_worker_last_progress_seconds", 1,
	  "Seconds since the worker of the queue last went round its loop." },
	{ "stalled", "btblockd_worker_stalled", 1,
	  "1 when the worker of the queue has made no progress for --stall-timeout." },
};

struct prom_family {
	char field[96];		/* flattened key, as in prom_known */
	char key[48], sub[48];	/* where the value is in each queue object */
	char metric[112];
	int gauge;
	int ms;
	const char *help;
};

/* Add the family of queue member key[.sub], of value v, unless already known. */
static int prom_add_family(struct prom_family *f, int *n, const char *key, const char *sub,
			   const json_t *v)
{
	struct prom_family *x;
	char field[96];

	if (strlen(key) >= sizeof(f->key) || (sub && strlen(sub) >= sizeof(f->sub)))
		return 0;	/* absurd names from a hostile peer: skipped */
	prom_name(field, sizeof(field), key, sub);
	for (int i = 0; i < *n; i++)
		if (strcmp(f[i].field, field) == 0)
			return 0;
	if (*n >= PROM_FAMILIES_MAX)
		return -1;
	x = &f[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->field, sizeof(x->field), "%s", field);
	snprintf(x->key, sizeof(x->key), "%s", key);
	snprintf(x->sub, sizeof(x->sub), "%s", sub ? sub : "");
	x->gauge = json_is_boolean(v);
	x->help = x->gauge ? "Per-queue state of btblockd (1 true, 0 false)." :
			     "Per-queue counter of btblockd.";
	for (size_t k = 0; k < ARRAY_SIZE(prom_known); k++) {
		if (strcmp(prom_known[k].field, field) != 0)
			continue;
		x->gauge = prom_known[k].gauge;
		x->help = prom_known[k].help;
		if (prom_known[k].metric)
			snprintf(x->metric, sizeof(x->metric), "%s", prom_known[k].metric);
		/* A field in ms named in seconds, the base unit. */
		x->ms = ends_with(field, "_ms") && ends_with(x->metric, "_seconds");
	}
	if (!x->metric[0]) {
		size_t l = strlen(field);
		int has_total = l >= 6 && strcmp(field + l - 6, "_total") == 0;

		snprintf(x->metric, sizeof(x->metric), "btblockd_%s%s", field,
			 x->gauge || has_total ? "" : "_total");
	}
	return 0;
}

/* The members of a queue object that are not counters but its identity
 * (the netlink port is one too: it changes with every start). */
static int queue_label_key(const char *key)
{
	return strcmp(key, "queue") == 0 || strcmp(key, "cpu") == 0 ||
	       strcmp(key, "numa_node") == 0 || strcmp(key, "portid") == 0;
}

static void prom_family_head(FILE *out, const char *metric, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* The kernel ruleset as the daemon last read it; a counter the table
 * lacks (an older ruleset) is left out, not written as 0. */
static void prom_ruleset(const json_t *rs, FILE *out)
{
	static const struct {
		const char *key, *metric, *help;
	} counters[] = {
		{ "bans", "btblockd_ruleset_bans_total",
		  "Flows whose address pair the ruleset banned (its counter bans)." },
		{ "bans_failed", "btblockd_ruleset_bans_failed_total",
		  "Flows whose address pair could not be banned because a ban set was full." },
	};
	const json_t *sets = json_object_get(rs, "ban_sets");
	const char *name;
	const json_t *s;
	int head = 0;

	prom_family_head(out, "btblockd_ruleset_loaded", "gauge",
			 "1 when table inet btblockd was loaded at the daemon's last reading.");
	fprintf(out, "btblockd_ruleset_loaded %d\n", json_is_true(json_object_get(rs, "loaded")) ? 1 : 0);
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
		const json_t *v = json_object_get(rs, counters[i].key);

		if (!prom_is_number(v))
			continue;
		prom_family_head(out, counters[i].metric, "counter", counters[i].help);
		fprintf(out, "%s ", counters[i].metric);
		prom_value(out, v);
	}
	if (!json_is_object(sets))
		return;
	json_object_foreach((json_t *)sets, name, s) {
		const json_t *size = json_object_get(s, "size");

		if (!prom_is_number(size))
			continue;
		if (!head)
			prom_family_head(out, "btblockd_ban_set_size", "gauge",
					 "Most elements a ban set holds (two per banned pair).");
		head = 1;
		fputs("btblockd_ban_set_size{set=\"", out);
		prom_label_value(out, name);
		fputs("\"} ", out);
		prom_value(out, size);
	}
}

/* The one total that is not a sum of queue series but a count of them,
 * and the control socket's refusals. */
static void prom_control(const json_t *doc, FILE *out)
{
	static const struct {
		const char *key, *metric, *help;
	} control[] = {
		{ "busy", "btblockd_control_busy_total",
		  "Control socket clients refused because every slot was taken." },
		{ "overlong", "btblockd_control_overlong_total",
		  "Control socket clients cut for a line that was too long." },
		{ "timeouts", "btblockd_control_timeouts_total",
		  "Control socket clients cut for not finishing a line in time." },
	};
	const json_t *ctl = json_object_get(doc, "control");
	const json_t *v = json_object_get(json_object_get(doc, "totals"), "stalled_workers");

	if (prom_is_number(v)) {
		prom_family_head(out, "btblockd_stalled_workers", "gauge",
				 "Workers that have made no progress for --stall-timeout.");
		fputs("btblockd_stalled_workers ", out);
		prom_value(out, v);
	}
	if (!json_is_object(ctl))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(control); i++) {
		v = json_object_get(ctl, control[i].key);
		if (!prom_is_number(v))
			continue;
		prom_family_head(out, control[i].metric, "counter", control[i].help);
		fprintf(out, "%s ", control[i].metric);
		prom_value(out, v);
	}
}

/* Counters and gauges of every numeric field of every queue, labelled by
 * queue; the per-detector blocked flows; uptime, mode and version. Totals
 * are left out: they are sums of the per-queue series. */
/* The "detections" object: how detections were named, and detect-exec. */
static void prom_detections(const json_t *d, FILE *out)
{
	static const struct {
		const char *key, *sub, *metric, *type, *help;
	} m[] = {
		{ "nat_translated", NULL, "btblockd_detections_nat_translated_total", "counter",
		  "Detections whose NAT mapping conntrack gave." },
		{ "nat_untranslated", NULL, "btblockd_detections_nat_untranslated_total", "counter",
		  "Detections whose LAN end conntrack showed untranslated." },
		{ "nat_no_entry", NULL, "btblockd_detections_nat_no_entry_total", "counter",
		  "Detections without a conntrack entry." },
		{ "nat_errors", NULL, "btblockd_detections_nat_errors_total", "counter",
		  "Conntrack lookups that failed." },
		{ "hosts_named", NULL, "btblockd_detections_hosts_named_total", "counter",
		  "Detections given a DHCP host name." },
		{ "lookups_skipped", NULL, "btblockd_detections_lookups_skipped_total", "counter",
		  "Detections logged without lookups (over 200 a second)." },
		{ "lease_entries", NULL, "btblockd_detections_lease_entries", "gauge",
		  "Entries read from the DHCP lease files." },
		{ "exec", "runs", "btblockd_detect_exec_runs_total", "counter",
		  "detect-exec programs started." },
		{ "exec", "failures", "btblockd_detect_exec_failures_total", "counter",
		  "detect-exec programs that could not start or exited non-zero." },
		{ "exec", "suppressed", "btblockd_detect_exec_suppressed_total", "counter",
		  "Detections not handed to the detect-exec program." },
	};

	if (!json_is_object(d))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		const json_t *v = json_object_get(d, m[i].key);

		if (m[i].sub)
			v = json_is_object(v) ? json_object_get(v, m[i].sub) : NULL;
		if (!prom_is_number(v))
			continue;
		prom_family_head(out, m[i].metric, m[i].type, m[i].help);
		fprintf(out, "%s ", m[i].metric);
		prom_value(out, v);
	}
}

int prom_render(const json_t *doc, FILE *out)
{
	static struct prom_family fam[PROM_FAMILIES_MAX];
	const json_t *queues = json_object_get(doc, "queues");
	const json_t *detectors = json_object_get(doc, "detectors");
	const json_t *dlog = json_object_get(doc, "detect_log");
	const json_t *rs = json_object_get(doc, "ruleset");
	const char *key, *sub;
	const json_t *q, *v, *w;
	int nfam = 0;
	size_t i;

	if (!json_is_array(queues))
		return -1;
	json_array_foreach(queues, i, q) {
		json_object_foreach((json_t *)q, key, v) {
			if (queue_label_key(key))
				continue;
			if (prom_is_number(v) && prom_add_family(fam, &nfam, key, NULL, v) < 0)
				return -1;
			if (json_is_object(v))
				json_object_foreach((json_t *)v, sub, w)
					if (prom_is_number(w) &&
					    prom_add_family(fam, &nfam, key, sub, w) < 0)
						return -1;
		}
	}

	prom_family_head(out, "btblockd_up", "gauge",
			 "1 when btblockd answered btblockctl, 0 when it did not.");
	fputs("btblockd_up 1\n", out);
	prom_family_head(out, "btblockd_info", "gauge",
			 "Version and mode of the running daemon (always 1).");
	fputs("btblockd_info{version=\"", out);
	prom_label_value(out, jstr(doc, "version", ""));
	fputs("\",mode=\"", out);
	prom_label_value(out, jstr(doc, "mode", ""));
	fputs("\"} 1\n", out);
	prom_family_head(out, "btblockd_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(out, "btblockd_uptime_seconds %" JSON_INTEGER_FORMAT "\n", jint(doc, "uptime_s"));
	prom_family_head(out, "btblockd_fail_open", "gauge",
			 "1 when full queues let packets pass (fail-open), 0 when they drop them.");
	fprintf(out, "btblockd_fail_open %d\n", json_is_false(json_object_get(doc, "fail_open")) ? 0 : 1);

	prom_family_head(out, "btblockd_queue_info", "gauge",
			 "CPU and NUMA node of the worker serving each queue (always 1).");
	json_array_foreach(queues, i, q)
		fprintf(out, "btblockd_queue_info{queue=\"%" JSON_INTEGER_FORMAT "\",cpu=\"%"
			JSON_INTEGER_FORMAT "\",numa_node=\"%" JSON_INTEGER_FORMAT "\"} 1\n",
			jint(q, "queue"), jint(q, "cpu"), jint(q, "numa_node"));

	for (int f = 0; f < nfam; f++) {
		prom_family_head(out, fam[f].metric, fam[f].gauge ? "gauge" : "counter", fam[f].help);
		json_array_foreach(queues, i, q) {
			v = json_object_get(q, fam[f].key);
			if (fam[f].sub[0])
				v = json_is_object(v) ? json_object_get(v, fam[f].sub) : NULL;
			if (!prom_is_number(v))
				continue;	/* e.g. kernel counters of a queue not in procfs */
			fprintf(out, "%s{queue=\"%" JSON_INTEGER_FORMAT "\"} ", fam[f].metric,
				jint(q, "queue"));
			if (fam[f].ms)
				prom_value_ms(out, v);
			else
				prom_value(out, v);
		}
	}

	if (json_is_object(detectors)) {
		prom_family_head(out, "btblockd_detections_total", "counter",
				 "Flows blocked, by the detector that fired.");
		json_object_foreach((json_t *)detectors, key, v) {
			if (!prom_is_number(v))
				continue;
			fputs("btblockd_detections_total{detector=\"", out);
			prom_label_value(out, key);
			fputs("\"} ", out);
			prom_value(out, v);
		}
	}
	if (json_is_object(dlog)) {
		prom_family_head(out, "btblockd_detect_log_written_total", "counter",
				 "Lines written to the detection log.");
		fprintf(out, "btblockd_detect_log_written_total %" JSON_INTEGER_FORMAT "\n",
			jint(dlog, "written"));
		prom_family_head(out, "btblockd_detect_log_suppressed_total", "counter",
				 "Detection log lines left out by the rate limit.");
		fprintf(out, "btblockd_detect_log_suppressed_total %" JSON_INTEGER_FORMAT "\n",
			jint(dlog, "suppressed"));
	}
	if (json_is_object(rs))
		prom_ruleset(rs, out);
	prom_detections(json_object_get(doc, "detections"), out);
	prom_control(doc, out);
	return 0;
}

/* The daemon did not answer: still a valid scrape, so that a textfile
 * collector replaces the last one with "down" instead of keeping it. */
void prom_render_down(FILE *out)
{
	prom_family_head(out, "btblockd_up", "gauge",
			 "1 when btblockd answered btblockctl, 0 when it did not.");
	fputs("btblockd_up 0\n", out);
}
