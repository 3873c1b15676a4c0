/* control.h - the Unix socket server and its line commands. */
#ifndef BTBLOCKD_CONTROL_H
#define BTBLOCKD_CONTROL_H

#include <pthread.h>
#include <stddef.h>
#include "stats.h"

struct worker;
struct detect_log;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_LINE_MAX 512
#define CONTROL_IDLE_MS 5000

struct control_client {
	int fd;
	size_t len;
	int64_t deadline_ms;
	char buf[CONTROL_LINE_MAX];
};

struct control {
	int listen_fd;
	int wake_pipe[2];
	char path[108];
	pthread_t thread;
	int started;
	const struct stats_info *info;
	struct worker *workers;
	unsigned nworkers;
	struct control_client clients[CONTROL_MAX_CLIENTS];
	struct detect_log *detect_log;	/* written by this thread only */
	int reopen_requested;
};

/* Create and listen on the socket at path (mode 0660). A stale socket is
 * replaced; a live one (another daemon) is an error. */
int control_open(struct control *c, const char *path, char *err, size_t errlen);

/* Serve commands from a thread of its own; it also drains the workers'
 * detection rings into dlog (may be NULL). */
int control_start(struct control *c, const struct stats_info *info,
		  struct worker *workers, unsigned n, struct detect_log *dlog);

/* Ask the control thread to reopen the detection log (SIGHUP, logrotate). */
void control_request_reopen(struct control *c);

/* Stop the thread, close every connection and remove the socket. */
void control_close(struct control *c);

/* Answer one command line (without newline): a JSON document, caller frees.
 * Exposed for the unit tests. */
char *control_dispatch(struct control *c, const char *line);

#endif
