/* detect_exec.h - run the administrator's program for each detection.
 *
 * The program is started by a launcher process forked at start-up,
 * before the daemon drops root and installs its seccomp filter: what it
 * runs inherits neither the filter nor CAP_NET_ADMIN. The control
 * thread hands it one JSON line per detection over a socket pair,
 * without ever waiting; the launcher writes the line to the program's
 * standard input and reports back how it went. */
#ifndef BTBLOCKD_DETECT_EXEC_H
#define BTBLOCKD_DETECT_EXEC_H

#include <stdint.h>
#include <sys/types.h>

#define DETECT_EXEC_MAX_CHILDREN	4	/* programs running at once */
#define DETECT_EXEC_TIMEOUT_S		30	/* a program running longer is killed */
#define DETECT_EXEC_MSG_MAX		2048	/* one detection line, at most */

struct detect_exec {
	int fd;				/* the daemon's end; -1: off */
	pid_t launcher;
	uint32_t rate;			/* runs per minute */
	int64_t window_min;		/* the minute the budget belongs to */
	uint32_t used;			/* runs asked for in it */
	int lost_logged;
	uint64_t runs;			/* programs started (the launcher says) */
	uint64_t failures;		/* programs that could not start or exited non-zero */
	uint64_t suppressed;		/* detections not handed over: rate, launcher busy or gone */
};

/* Fork the launcher for program (a path, run without a shell or
 * arguments). uid/gid: the user the daemon will run as, or uid 0 to stay
 * root; either way the launcher keeps no CAP_NET_ADMIN. 0, or -1 with a
 * sentence in err. */
int detect_exec_start(struct detect_exec *x, const char *program, uint32_t rate_per_min,
		      uid_t uid, gid_t gid, char *err, size_t errlen);

/* Hand one detection (a JSON object without newline) over, within the
 * rate; never blocks. now_s: monotonic seconds. */
void detect_exec_send(struct detect_exec *x, const char *json, int64_t now_s);

/* Read the launcher's reports (runs, failures, busy); never blocks. */
void detect_exec_poll(struct detect_exec *x);

/* Close the daemon's end: the launcher exits when its programs have. */
void detect_exec_stop(struct detect_exec *x);

#endif
