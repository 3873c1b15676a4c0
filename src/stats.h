/* stats.h - counters snapshotted from the workers, and their JSON form. */
#ifndef BTBLOCKD_STATS_H
#define BTBLOCKD_STATS_H

#include <stdint.h>
#include <time.h>
#include <jansson.h>

struct worker;

/* One line of /proc/net/netfilter/nfnetlink_queue. */
struct kernel_queue_stats {
	uint32_t queue;
	uint32_t portid;
	uint64_t queue_total;		/* packets waiting for a verdict */
	uint64_t queue_dropped;		/* dropped because the queue was full */
	uint64_t user_dropped;		/* dropped because netlink could not deliver */
	uint64_t id_sequence;		/* last packet id: packets queued so far */
};

#define STATS_PROC_PATH "/proc/net/netfilter/nfnetlink_queue"
#define STATS_KERNEL_MAX 256

/* Parse the kernel's table from path; returns entries read, -1 if unreadable. */
int stats_read_kernel(const char *path, struct kernel_queue_stats *out, int max);

/* Keep the kernel's table open for the daemon's lifetime: it is readable
 * by root only, and the daemon may drop root (--user). stats_build() then
 * re-reads it through this descriptor. -1 if unavailable. */
int stats_open_kernel(void);

/* Close what stats_open_kernel() opened. */
void stats_close_kernel(void);

/* Re-read the table from an open descriptor; as stats_read_kernel. */
int stats_read_kernel_fd(int fd, struct kernel_queue_stats *out, int max);

/* What the stats document says about the daemon as a whole. */
struct detect_log;

struct stats_info {
	const char *mode;		/* "enforce" or "monitor" */
	int fail_open;
	time_t started;			/* CLOCK_MONOTONIC seconds */
	const struct detect_log *detect_log;	/* lines written and suppressed */
	int64_t stall_timeout_ms;	/* a worker without progress this long is "stalled" */
};

/* The version of the stats document's layout, its "schema" member: raised
 * when a member is removed, renamed or changes meaning (adding one does
 * not). Documented field by field in btblockd-stats(7). */
#define STATS_SCHEMA 2

/* The stats document: totals and one object per queue. */
json_t *stats_build(const struct stats_info *info, struct worker *workers, unsigned n);

#endif
