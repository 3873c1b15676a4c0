/* control.h - the Unix socket server and its line commands. */
#ifndef BTBLOCKD_CONTROL_H
#define BTBLOCKD_CONTROL_H

#include <pthread.h>
#include <stddef.h>
#include "config.h"
#include "stats.h"

struct worker;
struct detect_log;
struct ruleset;
struct detection_sink;
struct state;

#include <sys/types.h>

/* Every client is bounded: how many at once (more are told "busy" and
 * closed), the length of a line, and the time to send one. */
#define CONTROL_MAX_CLIENTS 64
#define CONTROL_LINE_MAX 512
#define CONTROL_IDLE_MS 5000
#define CONTROL_BACKLOG 64
#define CONTROL_ACCEPT_BURST 64		/* accepts per poll turn */

struct control_client {
	int fd;
	size_t len;
	int64_t deadline_ms;
	char buf[CONTROL_LINE_MAX];
};

struct control {
	int listen_fd;
	int wake_pipe[2];
	char path[CONFIG_CONTROL_MAX];	/* sun_path: checked in control.c */
	pthread_t thread;
	int started;
	const struct stats_info *info;
	struct worker *workers;
	unsigned nworkers;
	struct control_client clients[CONTROL_MAX_CLIENTS];
	struct detect_log *detect_log;	/* written by this thread only */
	struct ruleset *ruleset;	/* read by this thread only; may be NULL */
	struct detection_sink *detections;	/* set before control_start; may be NULL */
	struct state *state;		/* the state file, saved by this thread; may be NULL */
	int reopen_requested;
	uint64_t busy;			/* clients refused because every slot was taken */
	uint64_t overlong;		/* clients cut for a line over CONTROL_LINE_MAX */
	uint64_t timeouts;		/* clients cut for not finishing a line in time */
};

/* A control that holds nothing: control_close leaves it alone. */
void control_init(struct control *c);

/* Create and listen on the socket at path with the given mode (0600 or
 * 0660) and group (gid, or (gid_t)-1 to keep the creator's). A stale
 * socket is replaced; a live one (another daemon) is an error. */
int control_open(struct control *c, const char *path, gid_t gid, unsigned mode,
		 char *err, size_t errlen);

/* Serve commands from a thread of its own; it also drains the workers'
 * detection rings into dlog (may be NULL) and reads the kernel ruleset
 * into rs every RULESET_POLL_MS (may be NULL). */
int control_start(struct control *c, const struct stats_info *info,
		  struct worker *workers, unsigned n, struct detect_log *dlog,
		  struct ruleset *rs);

/* Ask the control thread to reopen the detection log (SIGHUP, logrotate). */
void control_request_reopen(struct control *c);

/* Stop the thread, close every connection and remove the socket. */
void control_close(struct control *c);

/* Answer one command line (without newline): a JSON document, caller frees.
 * Exposed for the unit tests. */
char *control_dispatch(struct control *c, const char *line);

#endif
