/* detect_exec.c - the detect-exec launcher and the daemon's side of it. */
#include "sysincl.h"
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include "clock.h"
#include "detect_exec.h"
#include "log.h"

/* Reports from the launcher, one byte each. */
#define REPORT_RUN	'r'
#define REPORT_FAIL	'f'
#define REPORT_BUSY	'b'

struct child {
	pid_t pid;
	int64_t started_s;
};

static void report(int fd, char what)
{
	/* The daemon reads these every poll turn; a full buffer loses a count. */
	if (send(fd, &what, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		_exit(0);
}

/* Close everything but 0-2 and keep: the launcher must hold none of the
 * daemon's sockets (queues, control, netlink). */
static void close_other_fds(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

/* Give up what the program must not have.  Ambient capabilities first:
 * a daemon started as its own user with CAP_NET_ADMIN (procd's
 * capabilities file, systemd's AmbientCapabilities=) holds it there, and
 * ambient capabilities survive execve.  Then, as root, CAP_NET_ADMIN from
 * the bounding set (so that not even a root program regains it) and the
 * daemon's user, which leaves no capabilities at all.  Last, whoever we
 * are now, CAP_NET_ADMIN out of every set this process holds (dropping
 * needs no privilege). */
static int drop_privileges(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	if (geteuid() == 0) {
		if (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) < 0)
			return -1;
		if (uid != 0 &&
		    (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
			return -1;
	}
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		data[i].effective &= ~(i == CAP_TO_INDEX(CAP_NET_ADMIN) ? CAP_TO_MASK(CAP_NET_ADMIN) : 0);
		data[i].permitted &= ~(i == CAP_TO_INDEX(CAP_NET_ADMIN) ? CAP_TO_MASK(CAP_NET_ADMIN) : 0);
		data[i].inheritable = 0;
	}
	return syscall(SYS_capset, &hdr, data) < 0 ? -1 : 0;
}

static void spawn(int fd, const char *program, const char *line, size_t len,
		  struct child *kids, unsigned *nkids)
{
	int p[2];
	pid_t pid;

	if (*nkids >= DETECT_EXEC_MAX_CHILDREN) {
		report(fd, REPORT_BUSY);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		report(fd, REPORT_FAIL);
		return;
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		report(fd, REPORT_FAIL);
		return;
	}
	if (pid == 0) {
		char *argv[] = { (char *)program, NULL };

		if (dup2(p[0], 0) < 0)
			_exit(126);
		execv(program, argv);
		_exit(127);
	}
	close(p[0]);
	/* One line far below the pipe's capacity: the write does not wait. */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0 || write(p[1], line, len) != (ssize_t)len ||
	    write(p[1], "\n", 1) != 1)
		report(fd, REPORT_FAIL);
	close(p[1]);
	kids[(*nkids)++] = (struct child){ .pid = pid, .started_s = mono_s() };
	report(fd, REPORT_RUN);
}

static void reap(int fd, struct child *kids, unsigned *nkids)
{
	int64_t now = mono_s();

	for (unsigned i = 0; i < *nkids;) {
		int status;
		pid_t r = waitpid(kids[i].pid, &status, WNOHANG);

		if (r == 0) {
			if (now - kids[i].started_s > DETECT_EXEC_TIMEOUT_S)
				kill(kids[i].pid, SIGKILL);	/* reaped next turn */
			i++;
			continue;
		}
		if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			report(fd, REPORT_FAIL);
		kids[i] = kids[--*nkids];
	}
}

static void __attribute__((noreturn)) launcher_main(int fd, pid_t parent, const char *program,
						    uid_t uid, gid_t gid)
{
	struct child kids[DETECT_EXEC_MAX_CHILDREN];
	unsigned nkids = 0;
	sigset_t none;
	char msg[DETECT_EXEC_MSG_MAX];
	int eof = 0;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* The daemon gone (even killed): so is the launcher. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "btblockd-exec", 0, 0, 0);
	close_other_fds(fd);
	if (drop_privileges(uid, gid) < 0) {
		LOG(LOG_ERR, "detect-exec: cannot drop privileges: %s; no program will run",
		    strerror(errno));
		_exit(1);
	}
	while (!eof || nkids) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, eof ? 0 : 1, 1000);

		if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);

			if (n > 0) {
				reap(fd, kids, &nkids);
				spawn(fd, program, msg, (size_t)n, kids, &nkids);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = 1;
			}
		} else if (eof) {
			struct timespec nap = { .tv_nsec = 100 * 1000000 };

			nanosleep(&nap, NULL);
		}
		reap(fd, kids, &nkids);
	}
	_exit(0);
}

int detect_exec_start(struct detect_exec *x, const char *program, uint32_t rate_per_min,
		      uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int sv[2];
	pid_t parent = getpid();

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->rate = rate_per_min;
	x->window_min = -1;
	if (access(program, X_OK) < 0) {
		snprintf(err, errlen, "detect-exec %s: %s", program, strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "detect-exec: socketpair: %s", strerror(errno));
		return -1;
	}
	x->launcher = fork();
	if (x->launcher < 0) {
		snprintf(err, errlen, "detect-exec: cannot fork the launcher: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (x->launcher == 0) {
		close(sv[0]);
		launcher_main(sv[1], parent, program, uid, gid);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, errlen, "detect-exec: %s", strerror(errno));
		close(sv[0]);
		return -1;
	}
	x->fd = sv[0];
	return 0;
}

void detect_exec_send(struct detect_exec *x, const char *json, int64_t now_s)
{
	size_t len = strlen(json);

	if (x->fd < 0)
		return;
	if (now_s / 60 != x->window_min) {
		x->window_min = now_s / 60;
		x->used = 0;
	}
	if (x->used >= x->rate || len > DETECT_EXEC_MSG_MAX) {
		COUNTER_INC(x->suppressed);
		return;
	}
	x->used++;
	if (send(x->fd, json, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
		return;
	COUNTER_INC(x->suppressed);
	if (errno != EAGAIN && !x->lost_logged) {
		LOG(LOG_ERR, "detect-exec: the launcher is gone (%s); detections are no longer "
		    "handed to the program", strerror(errno));
		x->lost_logged = 1;
	}
}

void detect_exec_poll(struct detect_exec *x)
{
	char r[64];
	ssize_t n;

	if (x->fd < 0)
		return;
	while ((n = recv(x->fd, r, sizeof(r), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (r[i] == REPORT_RUN)
				COUNTER_INC(x->runs);
			else if (r[i] == REPORT_FAIL)
				COUNTER_INC(x->failures);
			else if (r[i] == REPORT_BUSY)
				COUNTER_INC(x->suppressed);
		}
	}
}

void detect_exec_stop(struct detect_exec *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}
