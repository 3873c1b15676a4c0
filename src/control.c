/* control.c - the Unix socket server: line commands, JSON replies.
 *
 * Served by its own thread, never by packet workers. Every client is
 * bounded: line length, idle time and the number of clients. */
#include "sysincl.h"
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "clock.h"
#include "control.h"
#include "detect_exec.h"
#include "detect_log.h"
#include "forget.h"
#include "detection.h"
#include "log.h"
#include "ruleset.h"
#include "state.h"
#include "worker.h"

/* Remove a socket file left by a daemon that died; refuse a live one. */
static int control_claim_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "control socket %s: %s", path,
						       strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "another daemon is listening on %s", path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void control_init(struct control *c)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->wake_pipe[0] = c->wake_pipe[1] = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
}

/* struct control keeps the path it bound: config.c bounds it the same way. */
_Static_assert(CONFIG_CONTROL_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "CONFIG_CONTROL_MAX is the size of sockaddr_un.sun_path");

int control_open(struct control *c, const char *path, gid_t gid, unsigned mode,
		 char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;

	control_init(c);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		/* Bounded: a path of any length must not overflow snprintf's int. */
		snprintf(err, errlen, "control socket path too long (%zu bytes, at most %zu): %.200s",
			 strlen(path), sizeof(sa.sun_path) - 1, path);
		return -1;
	}
	if (control_claim_path(path, err, errlen) < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);	/* never world-accessible, not even briefly */
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		snprintf(err, errlen, "cannot bind control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old);
	/* Group first, then mode: the socket never allows more than asked. */
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) ||
	    chmod(path, (mode_t)(mode & 0660)) < 0 || listen(c->listen_fd, CONTROL_BACKLOG) < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (pipe2(c->wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "control socket: pipe: %s", strerror(errno));
		unlink(path);
		goto fail;
	}
	return 0;
fail:
	close(c->listen_fd);
	c->listen_fd = -1;
	c->path[0] = '\0';
	return -1;
}

static char *json_reply(json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	return s;
}

char *control_dispatch(struct control *c, const char *line)
{
	char shown[65];
	size_t i;

	if (strcmp(line, "stats") == 0) {
		json_t *doc = stats_build(c->info, c->workers, c->nworkers);

		if (doc && c->ruleset)
			json_object_set_new(doc, "ruleset", ruleset_json(&c->ruleset->view, c->ruleset,
									  mono_ms()));
		if (doc)
			json_object_set_new(doc, "control",
					    json_pack("{s:I,s:I,s:I}",
						      "busy", (json_int_t)c->busy,
						      "overlong", (json_int_t)c->overlong,
						      "timeouts", (json_int_t)c->timeouts));
		if (doc && c->detections)
			json_object_set_new(doc, "detections", detection_sink_stats(c->detections));
		if (doc && c->state)
			json_object_set_new(doc, "state", state_json(c->state, mono_ms()));
		return json_reply(doc);
	}
	if (strcmp(line, "version") == 0)
		return json_reply(json_pack("{s:s,s:s}", "name", PACKAGE_NAME, "version", PACKAGE_VERSION));
	if (strncmp(line, "forget ", 7) == 0) {
		json_t *doc = forget_command(c->workers, c->nworkers,
					     c->nworkers ? c->workers[0].cfg : NULL, line + 7,
					     FORGET_WAIT_MS);

		/* the next save leaves the address out of the file too */
		if (c->state)
			state_note_forget(c->state, line + 7);
		return json_reply(doc);
	}
	if (strcmp(line, "detections") == 0)
		return c->detections ? detection_history_json(&c->detections->hist, DETECTION_REPLY_MAX)
				     : strdup("{\"omitted\":0,\"detections\":[]}");
	if (strcmp(line, "help") == 0)
		return json_reply(json_pack("{s:[s,s,s,s,s]}", "commands", "stats", "version", "forget",
					    "detections", "help"));
	/* Echo a printable prefix only: the line may be anything. */
	for (i = 0; i < sizeof(shown) - 1 && line[i]; i++)
		shown[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
	shown[i] = '\0';
	return json_reply(json_pack("{s:s,s:s}", "error", "unknown command", "command", shown));
}

static void client_close(struct control_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

/* A reply that does not fit in the socket buffer at once goes to a client
 * that does not read: drop it rather than block the control thread. */
static int client_send(struct control_client *cl, const char *s)
{
	size_t len = strlen(s);

	if (send(cl->fd, s, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len ||
	    send(cl->fd, "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
		return -1;
	return 0;
}

static void client_read(struct control *c, struct control_client *cl)
{
	ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)n;
	while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
		size_t linelen = (size_t)(nl - cl->buf), textlen;
		char *reply;

		/* The deadline is per line, not per read: a client that
		 * trickles bytes cannot hold a slot past CONTROL_IDLE_MS. */
		cl->deadline_ms = mono_ms() + CONTROL_IDLE_MS;
		*nl = '\0';
		textlen = linelen;
		if (textlen > 0 && cl->buf[textlen - 1] == '\r')
			cl->buf[--textlen] = '\0';
		if (memchr(cl->buf, '\0', textlen) != NULL) {
			/* Binary: a NUL inside would hide the rest of the line. */
			if (client_send(cl, "{\"error\":\"binary data in command\"}") < 0)
				client_close(cl);
		} else if (cl->buf[0] != '\0') {
			reply = control_dispatch(c, cl->buf);
			if (!reply || client_send(cl, reply) < 0)
				client_close(cl);
			free(reply);
		}
		if (cl->fd < 0)
			return;
		cl->len -= linelen + 1;
		memmove(cl->buf, nl + 1, cl->len);
	}
	if (cl->len == sizeof(cl->buf)) {
		COUNTER_INC(c->overlong);
		if (client_send(cl, "{\"error\":\"line too long\"}") < 0)
			LOG(LOG_DEBUG, "control: line too long reply failed: %s", strerror(errno));
		client_close(cl);
	}
}

/* Take one pending connection; returns 0 when there was none. */
static int control_accept_one(struct control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return 0;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (c->clients[i].fd < 0) {
			c->clients[i].fd = fd;
			c->clients[i].len = 0;
			c->clients[i].deadline_ms = mono_ms() + CONTROL_IDLE_MS;
			return 1;
		}
	}
	/* Full: say so and hang up rather than queue without bound. */
	COUNTER_INC(c->busy);
	if (send(fd, "{\"error\":\"busy\"}\n", 17, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		LOG(LOG_DEBUG, "control: busy reply failed: %s", strerror(errno));
	close(fd);
	return 1;
}

/* Empty the backlog (bounded per turn): a crowd of connections is
 * answered at once instead of one per poll wake-up. */
static void control_accept(struct control *c)
{
	for (int i = 0; i < CONTROL_ACCEPT_BURST; i++)
		if (!control_accept_one(c))
			break;
}

/* Move detection events from every worker's ring to the log. */
static void drain_detections(struct control *c)
{
	struct detect_event e;
	int64_t now_s = mono_s();

	if (__atomic_exchange_n(&c->reopen_requested, 0, __ATOMIC_ACQ_REL) && c->detect_log)
		detect_log_reopen(c->detect_log);
	if (c->detections && c->detections->exec)
		detect_exec_poll(c->detections->exec);
	for (unsigned i = 0; i < c->nworkers; i++)
		while (detect_ring_pop(&c->workers[i].detections, &e))
			if (c->detections)
				detection_sink_handle(c->detections, &e, c->detect_log, now_s);
			else if (c->detect_log)
				detect_log_write(c->detect_log, &e, (uint64_t)now_s);
}

void control_request_reopen(struct control *c)
{
	__atomic_store_n(&c->reopen_requested, 1, __ATOMIC_RELEASE);
}

static void *control_main(void *arg)
{
	struct control *c = arg;
	int e = pthread_setname_np(pthread_self(), "btblockd-ctl");

	if (e)
		LOG(LOG_DEBUG, "control: cannot name the thread: %s", strerror(e));
	for (;;) {
		struct pollfd pfd[CONTROL_MAX_CLIENTS + 3];
		int slot[CONTROL_MAX_CLIENTS + 3];
		int n = 0;
		int64_t now;

		pfd[n++] = (struct pollfd){ .fd = c->wake_pipe[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		/* Ruleset notifications (fd -1, ignored by poll, without them). */
		pfd[n++] = (struct pollfd){ .fd = c->ruleset ? ruleset_event_fd(c->ruleset) : -1,
					    .events = POLLIN };
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			if (c->clients[i].fd < 0)
				continue;
			slot[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->clients[i].fd, .events = POLLIN };
		}
		/* 100 ms: how long a detection may wait before it is logged. */
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR) {
			LOG(LOG_ERR, "control: poll failed: %s", strerror(errno));
			break;
		}
		drain_detections(c);
		if (pfd[0].revents)
			break;
		if (c->ruleset) {
			if (pfd[2].revents)
				ruleset_events(c->ruleset);
			ruleset_poll(c->ruleset, mono_ms());
		}
		if (c->state)
			state_tick(c->state, c->workers, c->nworkers, mono_ms());
		if (pfd[1].revents & POLLIN)
			control_accept(c);
		for (int i = 3; i < n; i++)
			if (pfd[i].revents)
				client_read(c, &c->clients[slot[i]]);
		now = mono_ms();
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			if (c->clients[i].fd >= 0 && now > c->clients[i].deadline_ms) {
				COUNTER_INC(c->timeouts);
				client_close(&c->clients[i]);
			}
		}
	}
	return NULL;
}

int control_start(struct control *c, const struct stats_info *info,
		  struct worker *workers, unsigned n, struct detect_log *dlog,
		  struct ruleset *rs)
{
	sigset_t all, old;
	int e;

	c->info = info;
	c->workers = workers;
	c->nworkers = n;
	c->detect_log = dlog;
	c->ruleset = rs;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&c->thread, NULL, control_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		LOG(LOG_ERR, "control: cannot start thread: %s", strerror(e));
		return -1;
	}
	c->started = 1;
	return 0;
}

void control_close(struct control *c)
{
	if (c->started) {
		if (write(c->wake_pipe[1], "x", 1) < 0)
			LOG(LOG_DEBUG, "control: wake failed: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->started = 0;
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(&c->clients[i]);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->listen_fd = -1;
	for (int i = 0; i < 2; i++)
		if (c->wake_pipe[i] >= 0)
			close(c->wake_pipe[i]);
	c->wake_pipe[0] = c->wake_pipe[1] = -1;
	if (c->path[0])
		unlink(c->path);
	c->path[0] = '\0';
}
