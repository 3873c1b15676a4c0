/* detect_log.h - detection events: a lock-free ring per worker, and the
 * writer (file and/or syslog, rate-limited) that the control thread runs. */
#ifndef BTBLOCKD_DETECT_LOG_H
#define BTBLOCKD_DETECT_LOG_H

#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

#define DETECT_RING_SIZE 256	/* power of two */

enum detect_action { DETECT_BLOCK = 0, DETECT_REJECT, DETECT_MONITOR, DETECT_THROTTLE };

struct detect_event {
	uint64_t wall_ms;		/* CLOCK_REALTIME, milliseconds */
	uint8_t saddr[16], daddr[16];	/* src: the flow's first sender */
	uint16_t sport, dport;
	uint16_t queue;
	uint8_t family;			/* 4 or 6 */
	uint8_t l4;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t action;			/* enum detect_action */
	const char *detector;		/* static name */
	uint32_t packet_index;		/* packet of the flow that decided it */
	uint32_t indev, outdev;		/* the packet's interface indexes (0: none) */
	uint8_t lan;			/* DETECT_LAN_* bits: which end is protected */
	uint8_t hwaddr_len;		/* bytes in hwaddr (0: the packet had none) */
	uint8_t hwaddr[8];		/* the packet's source hardware address */
};

/* detect_event.lan: the packet's source or destination is on the
 * protected side (the test the engine fixes a flow's sides with). */
#define DETECT_LAN_SRC	0x01
#define DETECT_LAN_DST	0x02

/* Single producer (one worker), single consumer (the control thread). */
struct detect_ring {
	struct detect_event ev[DETECT_RING_SIZE];
	uint32_t head;			/* written by the producer */
	uint32_t tail;			/* written by the consumer */
	uint64_t overflow;		/* events lost because the ring was full */
};

/* Producer: queue an event, or count it lost when full. Never blocks. */
void detect_ring_push(struct detect_ring *r, const struct detect_event *e);

/* Consumer: take the oldest event; 0 when empty. */
int detect_ring_pop(struct detect_ring *r, struct detect_event *out);

struct detect_log {
	char path[4096];		/* empty: no file */
	FILE *file;
	int use_syslog;
	uint32_t rate;			/* lines per second */
	uint64_t max_size;		/* bytes; past them PATH becomes PATH.1 (0: no cap) */
	uint64_t size;			/* bytes in the file now */
	uint64_t window_s;		/* the second the budget belongs to */
	uint32_t used;			/* lines written in that second */
	uint64_t suppressed;		/* lines not written since the last notice */
	uint64_t written;		/* lines written in all (stats) */
	uint64_t suppressed_total;	/* lines suppressed in all (stats) */
	uint64_t rotations;		/* times the file reached max_size */
};

/* Open the file (append) if path is set. -1 with errno when it cannot be opened.
 * max_size: the file's cap in bytes (0: none); see detect_log_write. */
int detect_log_open(struct detect_log *l, const char *path, int use_syslog, uint32_t rate,
		    uint64_t max_size);

/* Reopen the file after logrotate moved it (SIGHUP). */
int detect_log_reopen(struct detect_log *l);

/* Give the open file to the user the daemon drops to (--user), who
 * reopens it at reload and renames it at the size cap. 0 done or no
 * file, -1 error (logged). */
int detect_log_chown(const struct detect_log *l, uid_t uid, gid_t gid);

/* Write one event as a JSON line, within the rate; now_s: monotonic seconds.
 * A line that would take the file past max_size first renames it to
 * PATH.1 (replacing the older one) and starts a new file. */
void detect_log_write(struct detect_log *l, const struct detect_event *e, uint64_t now_s);

/* The same for a line formatted elsewhere (detection.c). */
void detect_log_write_line(struct detect_log *l, const char *line, uint64_t now_s);

/* Format an event as one JSON object (no newline) into buf; returns its length. */
int detect_log_format(const struct detect_event *e, char *buf, size_t size);

/* Flush and close. */
void detect_log_close(struct detect_log *l);

/* The action's name in the log ("block", "reject", "monitor", "throttle"). */
const char *detect_action_name(enum detect_action a);

#endif
