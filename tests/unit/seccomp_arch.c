/* seccomp_arch.c - the --seccomp allowlist as another architecture's C
 * library sees it; built for each target by test_seccomp_arch.sh.
 *
 * "seccomp_arch table" prints the audit architecture and the allowed
 * system call numbers of src/privs.c as compiled for this target.
 *
 * "seccomp_arch run DIR" does what the running daemon does after
 * privs_seccomp(), through the same C library functions with the same
 * arguments, between two getppid() calls (getppid is not allowed, so it
 * marks the stretch in a system call trace unambiguously); the script
 * runs it under qemu-user's -strace and checks every call in the stretch
 * against the table. "seccomp_arch enforce DIR" installs the filter
 * instead of the first marker, where the program runs natively (x86_64,
 * i386), and dies of SIGSYS on a call it lacks.
 * The daemon's own modules do their part where they
 * need nothing but the C library (logging, the detection log with its
 * rotation, the config reload); the rest mirrors, call for call:
 *   worker.c/queue.c: pinning, buffers, recvmmsg, sendto, clocks, the
 *     stall nap, the drain and the unbind;
 *   control.c/stats.c: poll, accept4, recv, send, reading the kernel
 *     counters (lseek, read, fmemopen, sscanf), the wake pipe; the DHCP
 *     lease file read again when it changed (leases.c itself); the state
 *     file replaced in its directory (statefile.c itself);
 *   main.c: sigtimedwait, the service manager notification, threads
 *     started and joined, the state file saved a last time, the pid file
 *     and socket removed at exit.
 * qemu-user cannot install a seccomp filter, so there the trace stands in
 * for it. */
#include "../../src/privs.c"
#include "config.h"
#include "detect_log.h"
#include "leases.h"
#include "statefile.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

/* How long the daemon's part waits for the control client (qemu-user, load). */
#define SERVE_WAIT_S 60

static void die(const char *what)
{
	fprintf(stderr, "seccomp_arch: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size) {
		errno = ENAMETOOLONG;
		die(name);
	}
}

static int unix_socket(int type, const char *path, int do_bind)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (do_bind && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path);
	return fd;
}

/* --- the worker: worker_main(), queue_service(), queue_drain_and_close() */

struct worker_args {
	int fd;				/* stands in for the netlink socket */
	struct detect_ring *ring;
};

static void *worker(void *arg)
{
	struct worker_args *w = arg;
	struct mmsghdr msgs[4];
	struct iovec iov[4];
	char bufs[4][256];
	struct timespec ts;
	const struct timespec nap = { .tv_nsec = 1000000 };
	struct detect_event e = { .family = 4, .l4 = 6, .detector = "bt-handshake" };
	size_t flows = 4u << 20;
	unsigned char *table;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* queue_alloc_buffers(), engine_init(): large, page-touched */
	table = aligned_alloc(64, flows);
	if (!table)
		die("aligned_alloc");
	for (size_t off = 0; off < flows; off += (size_t)sysconf(_SC_PAGESIZE))
		table[off] = 1;
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* Three packets at start, one more at shutdown. */
	for (int got = 0, n; got < 4; got += n > 0 ? n : 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);		/* heartbeat */
		n = recvmmsg(w->fd, msgs, 4, MSG_WAITFORONE, NULL);
		if (n > 0) {
			clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);	/* engine time */
			clock_gettime(CLOCK_REALTIME_COARSE, &ts);	/* detection */
			detect_ring_push(w->ring, &e);
			if (sendto(w->fd, "verdicts", 8, 0, NULL, 0) < 0)	/* mnl_socket_sendto */
				die("sendto");
		}
	}
	nanosleep(&nap, NULL);					/* the test stall */
	recvmmsg(w->fd, msgs, 4, MSG_DONTWAIT, NULL);		/* the drain */
	if (sendto(w->fd, "unbind", 6, 0, NULL, 0) < 0)
		die("sendto");
	close(w->fd);						/* mnl_socket_close */
	free(table);
	return NULL;
}

/* --- the control thread: control_main() and what it calls --------------- */

struct control_args {
	int listen_fd, wake_fd, kernel_fd;
	int state_dir;			/* the state file's directory, opened at start */
	int served;			/* the client had its answer */
	struct detect_ring *ring;
	struct detect_log *dlog;
	struct leases *leases;
};

static void read_kernel_counters(int fd)
{
	static char buf[4096];
	char line[256];
	unsigned q, portid, mode, range;
	unsigned long long total, qdrop, udrop, seq;
	size_t len = 0;
	ssize_t r;
	FILE *f;

	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek");
	while (len < sizeof(buf) && (r = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)r;
	f = fmemopen(buf, len ? len : 1, "r");
	if (!f)
		die("fmemopen");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %u %llu %u %u %llu %llu %llu", &q, &portid, &total, &mode,
			   &range, &qdrop, &udrop, &seq) == 8)
			break;
	fclose(f);
}

/* state.c's save: the file encoded and replaced (a temporary file,
 * fchmod, write, fsync, rename, fsync of the directory). */
static void save_state(int dirfd)
{
	struct state_endpoint e = { .family = 4, .tier = 2, .kinds = 1, .port = 6881, .ttl_s = 60,
				    .addr = { 203, 0, 113, 7 } };
	struct state_doc d = { .nendpoints = 1, .endpoints = &e, .saved_s = 1795740721 };
	uint8_t buf[STATEFILE_HEADER + STATEFILE_ENDPOINT + STATEFILE_TRAILER];
	char why[192];

	statefile_encode(&d, buf);
	if (statefile_write(dirfd, "state", buf, sizeof(buf), why, sizeof(why)) < 0)
		LOG(LOG_WARNING, "state file: %s", why);
}

static void *control(void *arg)
{
	struct control_args *c = arg;
	struct detect_event e;
	struct timespec ts;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = c->wake_fd, .events = POLLIN },
			{ .fd = c->listen_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			die("poll");
		clock_gettime(CLOCK_MONOTONIC, &ts);
		while (detect_ring_pop(c->ring, &e))
			detect_log_write(c->dlog, &e, (uint64_t)ts.tv_sec);
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			char req[64];
			char *reply;

			if (fd < 0)
				continue;
			for (int i = 0; i < 500 && recv(fd, req, sizeof(req), MSG_DONTWAIT) <= 0; i++)
				poll(pfd + 1, 0, 10);
			read_kernel_counters(c->kernel_fd);
			reply = malloc(64 << 10);			/* json_dumps */
			if (!reply)
				die("malloc");
			memset(reply, 'x', 64 << 10);
			if (send(fd, "{\"stats\":1}", 11, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ||
			    send(fd, "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				LOG(LOG_DEBUG, "control: send failed: %s", strerror(errno));
			free(reply);
			close(fd);
			/* Many detections at once: the rate limit, the size cap, a rotation. */
			for (uint32_t i = 0; i < 40; i++) {
				e = (struct detect_event){ .wall_ms = 1795740721137ull + i, .family = 4,
							   .l4 = 6, .detector = "bt-handshake",
							   .packet_index = i };
				detect_log_write(c->dlog, &e, (uint64_t)ts.tv_sec + 1 + i / 10);
			}
			/* Detections named: the lease file, read and looked up. */
			leases_refresh(c->leases);
			if (!leases_lookup(c->leases, 4, (const uint8_t *)"\x0a\x00\x00\x02", NULL))
				LOG(LOG_WARNING, "lease file: no name for 10.0.0.2");
			save_state(c->state_dir);
			__atomic_store_n(&c->served, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

/* A control client in a child process (its calls are not the daemon's). */
static pid_t start_client(const char *path)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char reply[64];
		sigset_t none;

		/* Never outlive a parent that died before answering. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		alarm(30);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    write(fd, "stats\n", 6) != 6 || read(fd, reply, sizeof(reply)) <= 0)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static void notify(const char *path, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		die("socket");
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path))) < 0)
		LOG(LOG_WARNING, "cannot notify the service manager: %s", strerror(errno));
	close(fd);
}

static int run(const char *dir, int enforce)
{
	static struct detect_ring ring;
	static struct detect_log dlog;
	char ctl[108], notify_path[108], conf[256], log_path[256], pidfile[256], kernel[256];
	char lease_path[256];
	static struct leases leases;
	FILE *lease_f;
	const struct timespec tick = { .tv_nsec = 1000000 };
	const struct timespec wait_tick = { .tv_nsec = 10000000 };
	struct timespec t0;
	struct worker_args wa = { .ring = &ring };
	struct control_args ca = { .ring = &ring, .dlog = &dlog };
	struct btb_config cfg;
	char arg0[] = "btblockd", arg1[] = "-c";
	char *argv[] = { arg0, arg1, conf, NULL };
	char err[512];
	pthread_t wt, ct;
	sigset_t sigs, all, old;
	int sv[2], wake[2], notify_fd, pid_fd, status;
	pid_t client;
	FILE *f;

	/* --- start-up, before the filter: as main() -------------------- */
	path_in(ctl, sizeof(ctl), dir, "ctl.sock");
	path_in(notify_path, sizeof(notify_path), dir, "notify.sock");
	path_in(conf, sizeof(conf), dir, "btblockd.conf");
	path_in(log_path, sizeof(log_path), dir, "detections.log");
	path_in(pidfile, sizeof(pidfile), dir, "btblockd.pid");
	path_in(kernel, sizeof(kernel), dir, "nfnetlink_queue");
	f = fopen(conf, "w");
	if (!f || fprintf(f, "log-level debug\ndetect-log %s\ndetect-log-max-size 1000\n", log_path) < 0 ||
	    fclose(f) != 0)
		die(conf);
	f = fopen(kernel, "w");
	if (!f || fprintf(f, "0 1234 0 2 2048 0 0 17 1\n") < 0 || fclose(f) != 0)
		die(kernel);
	log_init("seccomp_arch", 0, LOG_DEBUG);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(wake, O_CLOEXEC) < 0)
		die("socketpair");
	wa.fd = sv[0];
	ca.wake_fd = wake[0];
	ca.listen_fd = unix_socket(SOCK_STREAM | SOCK_NONBLOCK, ctl, 1);
	if (listen(ca.listen_fd, 16) < 0)
		die("listen");
	notify_fd = unix_socket(SOCK_DGRAM, notify_path, 1);
	ca.kernel_fd = open(kernel, O_RDONLY | O_CLOEXEC);
	ca.state_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* state_init() */
	if (ca.state_dir < 0)
		die(dir);
	pid_fd = open(pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (ca.kernel_fd < 0 || pid_fd < 0 || flock(pid_fd, LOCK_EX | LOCK_NB) < 0)
		die("open");
	if (detect_log_open(&dlog, log_path, 1, 5, 1000) < 0)
		die(log_path);
	path_in(lease_path, sizeof(lease_path), dir, "dhcp.leases");
	lease_f = fopen(lease_path, "we");
	if (!lease_f || fputs("1795740721 02:00:00:00:00:02 10.0.0.2 host2 *\n", lease_f) < 0 ||
	    fclose(lease_f) != 0 || leases_init(&leases, lease_path) < 0)
		die(lease_path);
	ca.leases = &leases;
	for (int i = 0; i < 3; i++)
		if (send(sv[1], "packet", 6, 0) < 0)
			die("send");
	client = start_client(ctl);

	/* --- the filter: installed, or its place marked ------------------ */
	if (enforce) {
		if (privs_seccomp(err, sizeof(err)) < 0) {
			fprintf(stderr, "seccomp_arch: %s\n", err);
			return 1;
		}
	} else {
		syscall(SYS_getppid);
	}

	if (pthread_create(&wt, NULL, worker, &wa) != 0)
		die("pthread_create");
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&ct, NULL, control, &ca) != 0)
		die("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	LOG(LOG_NOTICE, "ready");
	notify(notify_path, "READY=1");
	/* run(): signals, a reload, the stall check */
	for (int i = 0; i < 3; i++)
		sigtimedwait(&sigs, NULL, &tick);
	notify(notify_path, "RELOADING=1");
	if (config_load(&cfg, 3, argv, err, sizeof(err)) != CONFIG_OK)
		LOG(LOG_ERR, "reload failed: %s", err);
	log_set_level(cfg.log_level);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 1)		/* allowed_cpus() without affinity */
		LOG(LOG_WARNING, "no CPUs online?");
	detect_log_reopen(&dlog);
	notify(notify_path, "READY=1");
	/* Bounded by time, not by a count of waits: under qemu-user on a
	 * loaded machine the client and the control thread may take seconds. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&ca.served, __ATOMIC_ACQUIRE)) {
		struct timespec now;

		sigtimedwait(&sigs, NULL, &wait_tick);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > SERVE_WAIT_S)
			break;
	}
	/* shutdown_all() */
	if (write(wake[1], "x", 1) < 0)
		LOG(LOG_DEBUG, "wake failed");
	pthread_join(ct, NULL);
	close(ca.listen_fd);
	close(wake[0]);
	close(wake[1]);
	unlink(ctl);
	if (send(sv[1], "packet", 6, 0) < 0)
		LOG(LOG_DEBUG, "send failed");
	pthread_join(wt, NULL);
	save_state(ca.state_dir);			/* state_save_final() */
	close(ca.state_dir);
	detect_log_close(&dlog);
	unlink(pidfile);
	close(pid_fd);
	close(ca.kernel_fd);
	LOG(LOG_NOTICE, "stopped");
	log_fini();

	if (!ca.served) {
		fprintf(stderr, "seccomp_arch: the control client was not served within %d s\n",
			SERVE_WAIT_S);
		return 1;
	}
	if (dlog.rotations == 0 || dlog.written == 0) {
		fprintf(stderr, "seccomp_arch: the detection log was not written and rotated "
			"(%llu lines, %llu rotations)\n", (unsigned long long)dlog.written,
			(unsigned long long)dlog.rotations);
		return 1;
	}
	if (enforce)
		return 0;	/* the daemon's part ends with exit */

	/* --- the end of the daemon's part -------------------------------- */
	syscall(SYS_getppid);
	close(notify_fd);
	close(sv[1]);
	if (waitpid(client, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "seccomp_arch: the control client failed\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "table") == 0) {
		printf("arch %u\n", (unsigned)SECCOMP_ARCH);
		for (size_t i = 0; i < ARRAY_SIZE(allowed_syscalls); i++)
			printf("%d\n", allowed_syscalls[i]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return run(argv[2], 0);
	if (argc == 3 && strcmp(argv[1], "enforce") == 0)
		return run(argv[2], 1);
	fprintf(stderr, "usage: seccomp_arch table | seccomp_arch run|enforce DIR\n");
	return 2;
}
