/* main.c - start-up, signals, threads and shutdown of btblockd. */
#include "sysincl.h"
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include "config.h"
#include "control.h"
#include "detect_exec.h"
#include "detect_log.h"
#include "detection.h"
#include "leases.h"
#include "netinfo.h"
#ifdef HAVE_PCAP
#include "pcap_replay.h"
#endif
#include "log.h"
#include <libmnl/libmnl.h>
#include "nft_bans.h"
#include "privs.h"
#include "ruleset.h"
#include "sdnotify.h"
#include "state.h"
#include "stats.h"
#include "worker.h"

#define EXIT_CONFIG 2
#define EXIT_FIREWALL_LOST 3	/* table inet btblockd lost (--firewall-lost exit) */

struct daemon {
	struct btb_config cfg;
	struct worker *workers;
	unsigned nworkers;
	struct control control;
	struct stats_info info;
	struct detect_log detect_log;
	struct ruleset ruleset;	/* read by the control thread */
	struct netinfo netinfo;	/* asked by the control thread */
	struct leases leases;	/* read by the control thread */
	struct detect_exec exec;
	struct detection_sink sink;	/* the control thread's */
	struct state state;	/* learned state across restarts */
	struct mnl_socket *budget_nl;	/* empties the queue budgets once, at start */
	uint32_t budget_portid;
	int pidfile_fd;
	int ready_fd;		/* write end of the pipe the parent waits on */
	uid_t uid;		/* --user, looked up before anything is opened */
	gid_t gid;
	gid_t control_gid;	/* --control-group, or (gid_t)-1 */
	int64_t watchdog_ms;	/* WATCHDOG=1 interval, 0 without a watchdog */
	int64_t watchdog_last;	/* when it was last sent, -1 never */
};

/* Detach: the parent exits once the child says start-up went well, so
 * that a service manager and an admin see a real exit status. */
static int daemonize(struct daemon *d)
{
	int fds[2];
	pid_t pid;
	char status = 1;
	int null;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	if (setsid() < 0 || chdir("/") < 0)
		return -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

/* The ruleset counts each undecided flow's queue budget from when it
 * first saw the flow. Flows that ran while no daemon was bound (before
 * the first start, or during a restart) spent it unqueued; emptying the
 * budget sets once the queues are bound gives every undecided flow a
 * fresh budget, so this daemon inspects them from here. Decided flows
 * are not affected: their conntrack mark keeps them out of the queue. */
static void reset_queue_budgets(struct mnl_socket *nl, uint32_t portid)
{
	static const char *const sets[] = { "budget", "backstop" };
	int r;

	if (!nl)
		return;
	r = nft_sets_flush(nl, portid, sets, sizeof(sets) / sizeof(sets[0]));
	if (r == 0)
		LOG(LOG_INFO, "queue budgets reset: undecided flows, running ones too, are inspected again");
	else if (r == -ENOENT)
		LOG(LOG_INFO, "queue budgets not reset: table inet %s or its budget sets are not loaded",
		    NFT_BANS_TABLE);
	else
		LOG(LOG_WARNING, "cannot reset the queue budgets of table inet %s: %s; flows that ran while no daemon was bound stay uninspected",
		    NFT_BANS_TABLE, strerror(-r));
}

static void report_ready(struct daemon *d, char status)
{
	if (d->ready_fd < 0)
		return;
	if (write(d->ready_fd, &status, 1) != 1)
		LOG(LOG_DEBUG, "cannot report start-up status: %s", strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
}

/* Locked for the daemon's lifetime: a second instance fails cleanly. */
static int pidfile_write(struct daemon *d)
{
	char buf[32];
	int fd = open(d->cfg.pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int len;

	if (fd < 0) {
		LOG(LOG_ERR, "cannot open pid file %s: %s", d->cfg.pidfile, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		LOG(LOG_ERR, "pid file %s is locked: another btblockd is running", d->cfg.pidfile);
		close(fd);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)len) != len) {
		LOG(LOG_ERR, "cannot write pid file %s: %s", d->cfg.pidfile, strerror(errno));
		close(fd);
		return -1;
	}
	d->pidfile_fd = fd;
	return 0;
}

static void pidfile_remove(struct daemon *d)
{
	if (d->pidfile_fd < 0)
		return;
	unlink(d->cfg.pidfile);
	close(d->pidfile_fd);
	d->pidfile_fd = -1;
}

/* The options a reload found changed, by what it does with them. */
struct reload_changes {
	char live[256];
	char restart[1024];
};

static void note_change(void *arg, const char *name, enum config_reload reload)
{
	struct reload_changes *ch = arg;
	char *list = reload == CONFIG_RELOAD_LIVE ? ch->live : ch->restart;
	size_t size = reload == CONFIG_RELOAD_LIVE ? sizeof(ch->live) : sizeof(ch->restart);
	size_t len = strlen(list);

	if (reload == CONFIG_RELOAD_NONE)
		return;
	snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
}

/* SIGHUP: re-read the config; apply what can change without leaving the
 * queues, name what cannot. */
static void reload(struct daemon *d, int argc, char *const argv[])
{
	struct reload_changes ch = { "", "" };
	struct btb_config next;
	char err[512];

	if (config_load(&next, argc, argv, err, sizeof(err)) != CONFIG_OK) {
		LOG(LOG_ERR, "reload failed, keeping the running configuration: %s", err);
		return;
	}
	control_request_reopen(&d->control);
	config_diff(&d->cfg, &next, note_change, &ch);
	config_take_live(&d->cfg, &next);
	__atomic_store_n(&d->info.stall_timeout_ms, (int64_t)d->cfg.stall_timeout_s * 1000,
			 __ATOMIC_RELAXED);
	log_set_level(d->cfg.log_level);
	ruleset_set_exit_on_loss(&d->ruleset, d->cfg.firewall_lost_exit);
	if (ch.restart[0])
		LOG(LOG_WARNING, "reload: changed, but only on the next restart: %s", ch.restart);
	LOG(LOG_NOTICE, "configuration reloaded (log level %s); %s%s",
	    log_level_name(d->cfg.log_level), ch.live[0] ? "applied: " : "no change applied",
	    ch.live);
}

static int any_worker_failed(const struct daemon *d)
{
	for (unsigned i = 0; i < d->nworkers; i++)
		if (__atomic_load_n(&d->workers[i].failed, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

/*
 * The heartbeat check: a worker that has not gone round its loop for
 * --stall-timeout is logged once per stall (the stats show it all along).
 * The kernel's fail-open does not cover a stuck worker: its queue stays
 * bound and fills, so this is the only place the stall becomes visible.
 */
static unsigned check_stalls(struct daemon *d, int64_t now)
{
	int64_t limit = (int64_t)d->cfg.stall_timeout_s * 1000;
	unsigned stalled = 0;

	for (unsigned i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];
		int64_t age = worker_progress_age_ms(w, now);

		if (age > limit)
			stalled++;
		if (age > limit && !w->stall_logged) {
			LOG(LOG_ERR, "queue %u: worker has made no progress for %lld ms (stalled)",
			    w->queue_num, (long long)age);
			w->stall_logged = 1;
		} else if (age <= limit && w->stall_logged) {
			LOG(LOG_NOTICE, "queue %u: worker is making progress again", w->queue_num);
			w->stall_logged = 0;
		}
	}
	return stalled;
}

/* The service manager's watchdog is fed from here, and only while every
 * worker makes progress: a hung worker then gets the daemon restarted. */
static void feed_watchdog(struct daemon *d, int64_t now, unsigned stalled)
{
	if (!sdnotify_watchdog_due(now, d->watchdog_last, d->watchdog_ms, stalled))
		return;
	sdnotify_send("WATCHDOG=1");
	d->watchdog_last = now;
}

/* Wait for signals; returns the exit status. */
static int run(struct daemon *d, const sigset_t *sigs, int argc, char *const argv[])
{
	struct timespec tick = { .tv_nsec = 500 * 1000000 };

	/* A short watchdog needs a shorter tick than the stall check's. */
	if (d->watchdog_ms > 0 && d->watchdog_ms < 500)
		tick.tv_nsec = (long)d->watchdog_ms * 1000000;
	for (;;) {
		int sig = sigtimedwait(sigs, NULL, &tick);
		int64_t now;
		unsigned stalled;

		if (sig == SIGTERM || sig == SIGINT) {
			LOG(LOG_NOTICE, "signal %d: leaving the queues", sig);
			return EXIT_SUCCESS;
		}
		if (sig == SIGHUP) {
			sdnotify_send("RELOADING=1");
			reload(d, argc, argv);
			sdnotify_send("READY=1");
		}
		now = worker_now_ms();
		stalled = check_stalls(d, now);
		feed_watchdog(d, now, stalled);
		if (any_worker_failed(d)) {
			LOG(LOG_ERR, "a worker failed; exiting so that the service manager restarts us");
			return EXIT_FAILURE;
		}
		/* The control thread's watch said so (and why, in the log). */
		if (ruleset_exit_requested(&d->ruleset))
			return EXIT_FIREWALL_LOST;
	}
}

static void shutdown_all(struct daemon *d)
{
	control_close(&d->control);
	for (unsigned i = 0; i < d->nworkers; i++)
		worker_stop(&d->workers[i]);
	for (unsigned i = 0; i < d->nworkers; i++)
		worker_join_thread(&d->workers[i]);
	/* the workers are gone, their tables not yet: the last save */
	state_save_final(&d->state, d->workers, d->nworkers);
	for (unsigned i = 0; i < d->nworkers; i++)
		worker_join(&d->workers[i]);
	state_fini(&d->state);
	free(d->workers);
	d->workers = NULL;
	detect_log_close(&d->detect_log);
	ruleset_close(&d->ruleset);	/* its reader, the control thread, is gone */
	netinfo_close(&d->netinfo);
	leases_free(&d->leases);
	detect_exec_stop(&d->exec);
	if (d->budget_nl)
		mnl_socket_close(d->budget_nl);
	d->budget_nl = NULL;
	pidfile_remove(d);
}

/* Read the configuration and answer what needs no daemon: --help,
 * --version, --read-pcap. -1: start the daemon, else the exit status. */
static int configure(struct daemon *d, int argc, char *argv[])
{
	char err[512];

	if (config_load(&d->cfg, argc, argv, err, sizeof(err)) != CONFIG_OK) {
		fprintf(stderr, "%s: %s\n", PACKAGE, err);
		return EXIT_CONFIG;
	}
	if (d->cfg.show_help) {
		config_usage(stdout, PACKAGE);
		return EXIT_SUCCESS;
	}
	if (d->cfg.show_version) {
		printf("%s %s\n", PACKAGE, PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (d->cfg.read_pcap) {
#ifdef HAVE_PCAP
		return pcap_replay_run(&d->cfg.engine, d->cfg.npcap_files, d->cfg.pcap_files, stdout);
#else
		fprintf(stderr, "%s: option --read-pcap: this build has no offline mode "
			"(configured with --disable-pcap, without libpcap)\n", PACKAGE);
		return EXIT_CONFIG;
#endif
	}
	return -1;
}

/*
 * Everything from the configuration to "ready": bind the queues, detach,
 * open what needs root, drop it, start the threads. EXIT_SUCCESS, or the
 * exit status after undoing whatever was done (one way out: shutdown_all
 * takes a daemon in any state of this, and report_ready is a no-op
 * before the detach).
 */
static int setup(struct daemon *d)
{
	struct timespec now;
	char err[512];
	int status = EXIT_FAILURE;
	unsigned n;

	d->pidfile_fd = -1;
	d->exec.fd = -1;
	d->state.dirfd = -1;
	d->ready_fd = -1;
	d->control_gid = (gid_t)-1;
	control_init(&d->control);
	if ((d->cfg.user[0] && privs_lookup_user(d->cfg.user, &d->uid, &d->gid, err, sizeof(err)) < 0) ||
	    (d->cfg.control_group[0] &&
	     privs_lookup_group(d->cfg.control_group, &d->control_gid, err, sizeof(err)) < 0)) {
		LOG(LOG_ERR, "%s", err);
		status = EXIT_CONFIG;
		goto fail;
	}

	n = config_nqueues(&d->cfg);
	d->workers = aligned_alloc(64, sizeof(struct worker) * n);
	if (!d->workers) {
		LOG(LOG_ERR, "out of memory");
		goto fail;
	}
	if (control_open(&d->control, d->cfg.control_path, d->control_gid, d->cfg.control_mode,
			 err, sizeof(err)) < 0) {
		LOG(LOG_ERR, "%s", err);
		goto fail;
	}
	if (detect_log_open(&d->detect_log, d->cfg.detect_log, d->cfg.detect_syslog,
			    d->cfg.detect_log_rate, d->cfg.detect_log_max_size) < 0)
		goto fail;
	/* Bind every queue before detaching, so errors reach the terminal. */
	for (d->nworkers = 0; d->nworkers < n; d->nworkers++) {
		if (worker_open(&d->workers[d->nworkers], d->nworkers, &d->cfg, err, sizeof(err)) < 0) {
			LOG(LOG_ERR, "%s", err);
			goto fail;
		}
	}
	if (!d->cfg.foreground) {
		if (daemonize(d) < 0) {
			LOG(LOG_ERR, "cannot detach: %s", strerror(errno));
			goto fail;
		}
		log_init(PACKAGE, 0, d->cfg.log_level);
	}
	if ((!d->cfg.foreground || d->cfg.pidfile_explicit) && pidfile_write(d) < 0)
		goto fail;
	/* The kernel's queue counters are readable by root only. */
	if (stats_open_kernel() < 0)
		LOG(LOG_WARNING, "cannot open %s: %s; stats will lack kernel counters",
		    STATS_PROC_PATH, strerror(errno));
	/* The sockets that read table inet btblockd and hear of ruleset
	 * changes: opened now, so that only sending and receiving on them
	 * remain for after start-up. */
	switch (ruleset_open(&d->ruleset, d->cfg.firewall_lost_exit, err, sizeof(err))) {
	case 0:
		break;
	case 1:
		LOG(LOG_WARNING, "%s", err);
		break;
	default:
		LOG(LOG_WARNING, "%s; the stats will lack the ban counters and a lost table "
		    "goes unnoticed", err);
	}
	/* The socket that empties the queue budgets once the workers run
	 * (reset_queue_budgets): opened now, before the filter. */
	d->budget_nl = nft_sets_socket(&d->budget_portid);
	if (!d->budget_nl)
		LOG(LOG_WARNING, "cannot open a netlink socket for the queue budgets: %s; flows that ran "
		    "while no daemon was bound stay uninspected", strerror(errno));
	/* Detections named: netlink sockets now (conntrack wants
	 * CAP_NET_ADMIN, which the daemon keeps); the launcher of the
	 * detect-exec program now, before the user and the filter change,
	 * so that the program inherits neither. */
	netinfo_open(&d->netinfo);
	if (leases_init(&d->leases, d->cfg.dhcp_leases) < 0)
		LOG(LOG_WARNING, "dhcp-leases %s: not a list of lease files", d->cfg.dhcp_leases);
	d->sink = (struct detection_sink){ .ni = &d->netinfo, .ls = &d->leases, .leases_checked_s = -1 };
	if (d->cfg.detect_exec[0]) {
		if (detect_exec_start(&d->exec, d->cfg.detect_exec, d->cfg.detect_exec_rate,
				      d->cfg.user[0] ? d->uid : 0, d->cfg.user[0] ? d->gid : 0,
				      err, sizeof(err)) < 0) {
			LOG(LOG_ERR, "%s", err);
			goto fail;
		}
		d->sink.exec = &d->exec;
	}
	/* The state file: its directory opened and the file read as root. */
	if (state_init(&d->state, &d->cfg, d->nworkers, d->uid, d->gid) < 0) {
		LOG(LOG_ERR, "out of memory for the state of %u workers", d->nworkers);
		goto fail;
	}
	/* Everything that needs root is open: sockets, queues, pid file.
	 * Drop it before the first thread exists, so every thread runs with
	 * the reduced credentials and the filter (both are per thread). */
	if (d->cfg.user[0] && detect_log_chown(&d->detect_log, d->uid, d->gid) < 0)
		goto fail;
	if (d->cfg.user[0] && privs_drop(d->uid, d->gid, err, sizeof(err)) < 0) {
		LOG(LOG_ERR, "%s", err);
		goto fail;
	}
	state_check_writable(&d->state);
	if (d->cfg.seccomp && privs_seccomp(err, sizeof(err)) < 0) {
		LOG(LOG_ERR, "%s", err);
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	d->info = (struct stats_info){ .mode = d->cfg.monitor ? "monitor" : "enforce",
				       .fail_open = d->cfg.fail_open, .started = now.tv_sec,
				       .detect_log = &d->detect_log,
				       .stall_timeout_ms = (int64_t)d->cfg.stall_timeout_s * 1000 };
	for (unsigned i = 0; i < d->nworkers; i++) {
		state_attach(&d->state, &d->workers[i]);
		if (worker_start(&d->workers[i]) < 0)
			goto fail;
	}
	/* "Ready" (stats, the service manager) means the workers hold their
	 * memory: flow tables and buffers are faulted in, RSS is final. */
	for (unsigned i = 0; i < d->nworkers; i++)
		worker_wait_ready(&d->workers[i]);
	/* Now that every queue is read: a flow's fresh budget is spent on
	 * packets the workers see, not on ones the kernel let past a full
	 * queue during start-up. */
	reset_queue_budgets(d->budget_nl, d->budget_portid);
	if (d->budget_nl)
		mnl_socket_close(d->budget_nl);
	d->budget_nl = NULL;
	state_started(&d->state, d->workers, d->nworkers);
	d->control.detections = &d->sink;
	d->control.state = &d->state;
	if (control_start(&d->control, &d->info, d->workers, d->nworkers, &d->detect_log,
			  &d->ruleset) < 0)
		goto fail;
	LOG(LOG_NOTICE, "ready: queues %u-%u, %u workers, %s, %s, control socket %s%s%s%s",
	    d->cfg.queue_first, d->cfg.queue_last, d->nworkers, d->info.mode,
	    d->cfg.fail_open ? "fail-open" : "fail-closed", d->cfg.control_path,
	    d->cfg.user[0] ? ", user " : "", d->cfg.user, d->cfg.seccomp ? ", seccomp" : "");
	report_ready(d, 0);
	sdnotify_send("READY=1");
	d->watchdog_ms = sdnotify_watchdog_interval_ms(getenv("WATCHDOG_USEC"),
						       getenv("WATCHDOG_PID"), getpid());
	d->watchdog_last = -1;
	if (d->watchdog_ms > 0)
		LOG(LOG_INFO, "watchdog: WATCHDOG=1 every %lld ms while no worker is stalled",
		    (long long)d->watchdog_ms);
	return EXIT_SUCCESS;
fail:
	report_ready(d, 1);
	shutdown_all(d);
	return status;
}

int main(int argc, char *argv[])
{
	static struct daemon d;
	sigset_t sigs;
	int status = configure(&d, argc, argv);

	if (status >= 0)
		return status;
	/* --syslog: a service manager that runs us in the foreground (procd)
	 * gets our messages with their priorities through syslog. */
	log_init(PACKAGE, !d.cfg.syslog, d.cfg.log_level);

	/* Signals are taken synchronously by this thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	status = setup(&d);
	if (status != EXIT_SUCCESS)
		return status;
	status = run(&d, &sigs, argc, argv);
	sdnotify_send("STOPPING=1");
	shutdown_all(&d);
	stats_close_kernel();
	LOG(LOG_NOTICE, "stopped");
	log_fini();
	return status;
}
