/* btblockctl.c - the command line client of btblockd: stats, top, prometheus, reload, version,
 * bans, unban, detections, who and check. */
#include "sysincl.h"
#include <getopt.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <jansson.h>
#include "clock.h"
#include "bans_cmd.h"
#include "ctl_json.h"
#include "prometheus.h"
#include "selfcheck.h"
#include "who.h"

/* RUNSTATEDIR: configure's runstatedir, /run unless given (Makefile.am;
 * the OpenWrt package gives /var/run, OpenWrt has no /run). */
#define CTL_DEFAULT_SOCKET RUNSTATEDIR "/btblockd.sock"
#define CTL_DEFAULT_PIDFILE RUNSTATEDIR "/btblockd.pid"
#define CTL_DEFAULT_CONFIG "/etc/btblockd.conf"
/* Tried when the default does not exist and no path was given: where the
 * shipped systemd unit (its RuntimeDirectory, because ProtectSystem=strict
 * leaves the rest of /run read-only) and the OpenWrt init script put them. */
static const char *const ctl_socket_fallbacks[] = {
	RUNSTATEDIR "/btblockd/btblockd.sock",
	NULL,
};
static const char *const ctl_pidfile_fallbacks[] = {
	RUNSTATEDIR "/btblockd/btblockd.pid",
	NULL,
};
#define CTL_DEFAULT_TIMEOUT_MS 5000
/* A stats reply of 64 queues is ~100 KB; the bound only stops a runaway peer. */
#define CTL_REPLY_MAX (8u << 20)
#define CTL_ERR_MAX 512

enum ctl_exit { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_WARN = 3 };

enum ctl_command {
	CMD_NONE, CMD_STATS, CMD_TOP, CMD_PROMETHEUS, CMD_RELOAD, CMD_VERSION, CMD_BANS, CMD_UNBAN,
	CMD_DETECTIONS, CMD_WHO, CMD_CHECK
};

struct ctl_options {
	enum ctl_command command;
	const char *socket_path;
	const char *pidfile;
	const char *const *socket_fallbacks;	/* NULL when -s was given */
	const char *const *pidfile_fallbacks;	/* NULL when -p was given */
	int timeout_ms;
	int table;		/* stats --table */
	long count;		/* top --count, 0: until interrupted */
	int json;		/* bans, detections and check --json */
	unsigned hooks;		/* check --hooks, SC_HOOK_* bits; 0: not given */
	const char *who;	/* who ADDR:PORT */
	const char *at;		/* who --at TIME */
	const char *log;	/* who --log FILE */
	long window_s;		/* who --window SECONDS */
	int help;
	int version;
	const char *unban;	/* unban ADDR */
	struct addrspec spec;	/* unban: ADDR parsed */
	uint32_t marks[3];	/* unban --mark-mask, --mark-block, --mark-reject; 0: not given */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: btblockctl [OPTION]... COMMAND\n"
		"Query and control a running btblockd.\n"
		"\n"
		"Commands:\n"
		"  stats [-t|--table]     counters as pretty JSON, or as a table per queue\n"
		"  top [-n|--count N]     per-queue packet and verdict rates, refreshed every second\n"
		"  prometheus             counters in the Prometheus text exposition format\n"
		"  reload                 make btblockd re-read its configuration (SIGHUP)\n"
		"  version                versions of btblockd and btblockctl\n"
		"  bans [--json]          banned address pairs and their time left (kernel)\n"
		"  unban ADDR[/LEN]       lift the bans naming ADDR, clear its blocked connections\n"
		"                         and make btblockd forget its flows and endpoints\n"
		"  detections [--json]    the last detections: LAN device, MAC, host name, NAT\n"
		"  who ADDR:PORT [--at TIME] [--window SECONDS] [--log FILE]\n"
		"                         the LAN device that was ADDR:PORT (a public address\n"
		"                         and port from an abuse notice) in the detection log;\n"
		"                         TIME: 2026-12-03T10:15:00Z, \"2026-12-03 11:15\" (local)\n"
		"                         or unix seconds; matches within SECONDS (default 600)\n"
		"  check [--hooks LIST] [--json]\n"
		"                         whether this router really blocks: the ruleset, the\n"
		"                         queues and their listener, flow offloading, bridges,\n"
		"                         conntrack accounting, the ban sets, the workers; one\n"
		"                         line per check (PASS, WARN, FAIL) with what to do;\n"
		"                         LIST: hooks the rules must cover (default forward)\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH      control socket (default " CTL_DEFAULT_SOCKET ")\n"
		"  -p, --pidfile PATH     pid file, for reload (default " CTL_DEFAULT_PIDFILE ")\n"
		"      --timeout SECONDS  give up on an answer after SECONDS, 1 to 300 (default 5)\n"
		"      --mark-mask M, --mark-block V, --mark-reject V\n"
		"                         unban: the conntrack marks of blocked flows (default:\n"
		"                         what btblockd says, else 0x00ff0000, 0x00b10000, 0x00b20000)\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version of btblockctl and exit\n"
		"\n"
		"Exit status: 0 success, 1 btblockd not reachable or an error (who: nothing\n"
		"found; check: a check failed), 2 usage error, 3 check: no failure, but a\n"
		"warning.\n"
		"bans, unban and check read (unban: change) the kernel's tables: they need root\n"
		"(CAP_NET_ADMIN); unban without btblockd running does the kernel part only.\n");
}

/* Print a usage error and return the usage exit status. */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "btblockctl: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr, "Try 'btblockctl --help'.\n");
	return CTL_USAGE;
}

/* A decimal integer in [min, max] and nothing else. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static enum ctl_command command_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum ctl_command cmd;
	} names[] = {
		{ "stats", CMD_STATS }, { "top", CMD_TOP }, { "prometheus", CMD_PROMETHEUS },
		{ "reload", CMD_RELOAD }, { "version", CMD_VERSION },
		{ "bans", CMD_BANS }, { "unban", CMD_UNBAN },
		{ "detections", CMD_DETECTIONS }, { "who", CMD_WHO }, { "check", CMD_CHECK },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].cmd;
	return CMD_NONE;
}

/* Options without a short form. */
enum {
	OPT_JSON = 256, OPT_MARK_MASK, OPT_MARK_BLOCK, OPT_MARK_REJECT, OPT_HOOKS, OPT_AT, OPT_LOG,
	OPT_WINDOW, OPT_TIMEOUT,
};

/* "-": words come back in order as option 1, so that options may follow
 * the command; ":": a missing value returns ':', and getopt prints nothing. */
static const char ctl_short_options[] = "-:hVts:p:n:";

static const struct option ctl_long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "table", no_argument, NULL, 't' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "mark-mask", required_argument, NULL, OPT_MARK_MASK },
	{ "mark-block", required_argument, NULL, OPT_MARK_BLOCK },
	{ "mark-reject", required_argument, NULL, OPT_MARK_REJECT },
	{ "hooks", required_argument, NULL, OPT_HOOKS },
	{ "at", required_argument, NULL, OPT_AT },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "socket", required_argument, NULL, 's' },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "count", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

/* getopt_long takes more than btblockctl ever did: abbreviated long names
 * ("--tab") and clusters of short ones ("-tn5"). Is argument a, which gave
 * option c, spelt in full: "--name", "--name=value", "-c" or "-cVALUE"? */
static int spelt_in_full(const char *a, int c)
{
	if (a[0] == '-' && a[1] == '-') {
		size_t len = strcspn(a + 2, "=");

		for (const struct option *l = ctl_long_options; l->name; l++)
			if (l->val == c)
				return strlen(l->name) == len && strncmp(a + 2, l->name, len) == 0;
		return 0;
	}
	return a[1] == c && (a[2] == '\0' || strchr(ctl_short_options, c)[1] == ':');
}

/* A word: the command, or the address of unban and who. */
static int parse_word(struct ctl_options *o, const char *a)
{
	if (o->command == CMD_UNBAN && !o->unban) {
		if (addrspec_parse(a, &o->spec) < 0)
			return usage_error("unban needs an IPv4 or IPv6 address, optionally with /LEN",
					   a);
		o->unban = a;
		return 0;
	}
	if (o->command == CMD_WHO && !o->who) {
		o->who = a;
		return 0;
	}
	if (o->command != CMD_NONE)
		return usage_error("unexpected argument", a);
	o->command = command_from_name(a);
	if (o->command == CMD_NONE)
		return usage_error("unknown command", a);
	return 0;
}

/* Option c of argument a with value v (NULL when missing). */
static int parse_option(struct ctl_options *o, int c, const char *v, const char *a,
			int *count_given)
{
	unsigned long long m;
	char *end;
	long l;

	switch (c) {
	case 'h':
		o->help = 1;
		break;
	case 'V':
		o->version = 1;
		break;
	case 't':
		o->table = 1;
		break;
	case OPT_JSON:
		o->json = 1;
		break;
	case OPT_MARK_MASK:
	case OPT_MARK_BLOCK:
	case OPT_MARK_REJECT:
		errno = 0;
		/* Not strtol: a long has 31 bits of value on 32-bit CPUs. */
		m = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 0) : 0;
		if (m == 0 || m > UINT32_MAX || errno || *end)
			return usage_error("a mark needs a number from 1 to 0xffffffff", v);
		o->marks[c - OPT_MARK_MASK] = (uint32_t)m;
		break;
	case OPT_HOOKS:
		if (sc_parse_hooks(v, &o->hooks) < 0)
			return usage_error("--hooks needs a list of forward, input and output, "
					   "such as forward,input", v);
		break;
	case OPT_AT:
		if (!v || !*v)
			return usage_error("option needs a time", a);
		o->at = v;
		break;
	case OPT_LOG:
		if (!v || !*v)
			return usage_error("option needs a path", a);
		o->log = v;
		break;
	case OPT_WINDOW:
		if (parse_long(v, 0, 7 * 86400, &l) < 0)
			return usage_error("--window needs a number of seconds from 0 to 604800", v);
		o->window_s = l;
		break;
	case 's':
		if (!v || !*v)
			return usage_error("option needs a path", a);
		o->socket_path = v;
		o->socket_fallbacks = NULL;
		break;
	case 'p':
		if (!v || !*v)
			return usage_error("option needs a path", a);
		o->pidfile = v;
		o->pidfile_fallbacks = NULL;
		break;
	case OPT_TIMEOUT:
		if (parse_long(v, 1, 300, &l) < 0)
			return usage_error("--timeout needs a number of seconds from 1 to 300", v);
		o->timeout_ms = (int)l * 1000;
		break;
	case 'n':
		if (parse_long(v, 1, 1000000, &l) < 0)
			return usage_error("--count needs a number from 1 to 1000000", v);
		o->count = l;
		*count_given = 1;
		break;
	default:
		return usage_error("unknown option", a);
	}
	return 0;
}

/* Options may come before or after the command; "--" ends them. Returns 0,
 * or the usage exit status after printing why. Starts getopt afresh, so it
 * may be called more than once. */
static int parse_args(int argc, char **argv, struct ctl_options *o)
{
	int count_given = 0;
	int c, r;

	*o = (struct ctl_options){
		.socket_path = CTL_DEFAULT_SOCKET,
		.pidfile = CTL_DEFAULT_PIDFILE,
		.socket_fallbacks = ctl_socket_fallbacks,
		.pidfile_fallbacks = ctl_pidfile_fallbacks,
		.timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
		.window_s = WHO_DEFAULT_WINDOW_S,
	};
	optind = 0;		/* glibc and musl: start over, forget any half-read cluster */
	for (;;) {
		/* In "-" mode nothing is permuted: the argument being read is
		 * argv[optind] as it was before the call. */
		int i = optind ? optind : 1;
		const char *a = i < argc ? argv[i] : "";

		c = getopt_long(argc, argv, ctl_short_options, ctl_long_options, NULL);
		if (c == -1)
			break;
		if (c == 1)
			r = parse_word(o, optarg);
		else if (c == '?' || !spelt_in_full(a, c == ':' ? optopt : c))
			r = usage_error("unknown option", a);
		else
			r = parse_option(o, c == ':' ? optopt : c, c == ':' ? NULL : optarg, a,
					 &count_given);
		if (r)
			return r;
	}
	for (int i = optind; i < argc; i++)	/* after "--": words only */
		if ((r = parse_word(o, argv[i])) != 0)
			return r;
	if (o->help || o->version)
		return 0;
	if (o->command == CMD_NONE)
		return usage_error("a command is needed: stats, top, prometheus, reload, version, "
				   "bans, unban, detections, who or check", NULL);
	if ((o->at || o->log || o->window_s != WHO_DEFAULT_WINDOW_S) && o->command != CMD_WHO)
		return usage_error("--at, --log and --window go with the who command only", NULL);
	if (o->command == CMD_WHO && !o->who)
		return usage_error("who needs the address and port of the notice, e.g. "
				   "who 203.0.113.5:40000", NULL);
	if (o->table && o->command != CMD_STATS)
		return usage_error("--table goes with the stats command only", NULL);
	if (count_given && o->command != CMD_TOP)
		return usage_error("--count goes with the top command only", NULL);
	if (o->json && o->command != CMD_BANS && o->command != CMD_DETECTIONS &&
	    o->command != CMD_CHECK)
		return usage_error("--json goes with the bans, detections and check commands only",
				   NULL);
	if (o->hooks && o->command != CMD_CHECK)
		return usage_error("--hooks goes with the check command only", NULL);
	if ((o->marks[0] || o->marks[1] || o->marks[2]) && o->command != CMD_UNBAN)
		return usage_error("--mark-* options go with the unban command only", NULL);
	if (o->command == CMD_UNBAN && !o->unban)
		return usage_error("unban needs an address", NULL);
	return 0;
}

/* ---- the control socket ---------------------------------------------- */

/* A sentence an administrator can act on, for a failed connect(). */
static void connect_error(const char *path, int e, int timeout_ms, char *err, size_t errlen)
{
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTDIR:
		snprintf(err, errlen, "cannot connect to %s: %s: is btblockd running?",
			 path, strerror(e));
		break;
	case EACCES:
	case EPERM:
		snprintf(err, errlen,
			 "cannot connect to %s: %s: the socket is readable and writable only by "
			 "its owner and group; run btblockctl as root or as a member of that group",
			 path, strerror(e));
		break;
	case EAGAIN:
	case ETIMEDOUT:
		snprintf(err, errlen,
			 "cannot connect to %s: btblockd did not accept the connection within %d s",
			 path, timeout_ms / 1000);
		break;
	default:
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(e));
	}
}

/* Connect with every blocking step bounded: on a Unix socket, connect()
 * honours SO_SNDTIMEO when the daemon's backlog is full. */
static int ctl_connect(const char *path, int timeout_ms, int *error, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd;

	*error = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		/* Bounded: a path of any length must not overflow snprintf's int. */
		snprintf(err, errlen, "control socket path too long (%zu bytes, at most %zu): %.200s",
			 strlen(path), sizeof(sa.sun_path) - 1, path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		snprintf(err, errlen, "cannot set socket timeouts: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*error = errno;
		connect_error(path, errno, timeout_ms, err, errlen);
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one command line and read one reply line (without its newline),
 * within timeout_ms in total. Returns a string the caller frees, or NULL. */
static char *ctl_exchange(int fd, const char *path, const char *command, int timeout_ms,
			  char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	size_t cap = 65536, len = 0;
	char *buf, *nl;
	char line[64];
	int n;

	n = snprintf(line, sizeof(line), "%s\n", command);
	if (n < 0 || (size_t)n >= sizeof(line) || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "cannot send the command to btblockd on %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mono_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			snprintf(err, errlen, "btblockd on %s did not answer within %d s", path,
				 timeout_ms / 1000);
			break;
		}
		if (len + 1 >= cap) {
			char *bigger;

			if (cap >= CTL_REPLY_MAX) {
				snprintf(err, errlen, "the answer of btblockd on %s is larger than %u bytes",
					 path, CTL_REPLY_MAX);
				break;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "btblockd on %s closed the connection without an answer%s%s",
				 path, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* Parse a reply: a JSON object that is not an error report. */
static json_t *ctl_parse_reply(const char *reply, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loads(reply, JSON_REJECT_DUPLICATES, &jerr);
	json_t *e;

	if (!doc || !json_is_object(doc)) {
		snprintf(err, errlen, "btblockd on %s sent an answer that is not a JSON object: %s",
			 path, doc ? "wrong type" : jerr.text);
		json_decref(doc);
		return NULL;
	}
	e = json_object_get(doc, "error");
	if (e) {
		const char *msg = json_is_string(e) ? json_string_value(e) : "error";

		if (strcmp(msg, "busy") == 0)
			snprintf(err, errlen, "btblockd on %s is busy (too many clients): try again",
				 path);
		else
			snprintf(err, errlen, "btblockd on %s answered: %s", path, msg);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* One command, one parsed reply; NULL with err set on any failure. *used
 * (when not NULL) gets the socket path tried last: the one that answered;
 * *connect_errno (when not NULL) why connecting failed, 0 when it did not. */
static json_t *ctl_request_at(const struct ctl_options *o, const char *command, char *err,
			      size_t errlen, const char **used, int *connect_errno)
{
	const char *path = o->socket_path;
	char err2[CTL_ERR_MAX];
	char *reply;
	json_t *doc;
	int fd, e;

	fd = ctl_connect(path, o->timeout_ms, &e, err, errlen);
	/* While nothing exists, the error reported stays the one naming the
	 * default; a fallback that exists but fails reports its own. */
	for (const char *const *f = o->socket_fallbacks; fd < 0 && e == ENOENT && f && *f; f++) {
		fd = ctl_connect(*f, o->timeout_ms, &e, err2, sizeof(err2));
		if (fd >= 0 || e != ENOENT) {
			path = *f;
			snprintf(err, errlen, "%s", err2);
		}
	}
	if (used)
		*used = path;
	if (connect_errno)
		*connect_errno = fd < 0 ? e : 0;
	if (fd < 0)
		return NULL;
	reply = ctl_exchange(fd, path, command, o->timeout_ms, err, errlen);
	close(fd);
	if (!reply)
		return NULL;
	doc = ctl_parse_reply(reply, path, err, errlen);
	free(reply);
	return doc;
}

static json_t *ctl_request(const struct ctl_options *o, const char *command, char *err,
			   size_t errlen)
{
	return ctl_request_at(o, command, err, errlen, NULL, NULL);
}

/* ---- reading the stats document ----------------------------------------- */

static json_int_t kernel_drops(const json_t *q)
{
	return jint2(q, "kernel", "queue_dropped") + jint2(q, "kernel", "user_dropped");
}

static void format_uptime(json_int_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT "d %02d:%02d:%02d", s / 86400,
		 (int)(s / 3600 % 24), (int)(s / 60 % 60), (int)(s % 60));
}

/* The first line of table and top: who, how, since when. */
static void render_header(const json_t *doc, FILE *out)
{
	char up[64];

	format_uptime(jint(doc, "uptime_s"), up, sizeof(up));
	fprintf(out, "btblockd %s  mode %s  %s  uptime %s\n", jstr(doc, "version", "?"),
		jstr(doc, "mode", "?"),
		json_is_false(json_object_get(doc, "fail_open")) ? "fail-closed" : "fail-open", up);
}

/* ---- stats --table ------------------------------------------------------ */

static void table_row(FILE *out, const char *label, json_int_t cpu, int has_cpu,
		      const json_int_t v[8])
{
	char cpubuf[24] = "-";

	if (has_cpu)
		snprintf(cpubuf, sizeof(cpubuf), "%" JSON_INTEGER_FORMAT, cpu);
	fprintf(out, "%-6s %4s", label, cpubuf);
	for (int i = 0; i < 8; i++)
		fprintf(out, " %12" JSON_INTEGER_FORMAT, v[i]);
	fputc('\n', out);
}

/* The kernel ruleset as the daemon last read it: one line, and a note
 * when bans could not be added because a ban set was full. */
static void render_ruleset(const json_t *doc, FILE *out)
{
	const json_t *rs = json_object_get(doc, "ruleset");
	const json_t *sets;

	if (!json_is_object(rs))
		return;
	if (!json_is_true(json_object_get(rs, "loaded"))) {
		fprintf(out, "\nruleset: table inet btblockd not loaded%s%s\n",
			json_is_string(json_object_get(rs, "error")) ? ": " : "",
			jstr(rs, "error", ""));
		return;
	}
	fprintf(out, "\nruleset: table inet btblockd loaded; bans %" JSON_INTEGER_FORMAT
		", failed %" JSON_INTEGER_FORMAT, jint(rs, "bans"), jint(rs, "bans_failed"));
	sets = json_object_get(rs, "ban_sets");
	if (json_is_object(sets))
		fprintf(out, "; ban set size %" JSON_INTEGER_FORMAT " (ipv4), %" JSON_INTEGER_FORMAT
			" (ipv6)", jint2(sets, "ban4", "size"), jint2(sets, "ban6", "size"));
	fputc('\n', out);
	if (jint(rs, "bans_failed") > 0)
		fprintf(out, "note: %" JSON_INTEGER_FORMAT " bans could not be added because a ban set "
			"was full (btblockd-firewall --ban-set-size, --ban-time)\n",
			jint(rs, "bans_failed"));
}

/* The per-queue counters an administrator reads first, one row per queue,
 * a total row, then the blocked flows per detector and the ruleset. */
static int render_table(const json_t *doc, FILE *out)
{
	const json_t *queues = json_object_get(doc, "queues");
	const json_t *totals = json_object_get(doc, "totals");
	const json_t *detectors = json_object_get(doc, "detectors");
	json_int_t sum_kdrop = 0;
	const json_t *q;
	const char *name;
	const json_t *v;
	size_t i;

	if (!json_is_array(queues) || !json_is_object(totals))
		return -1;
	render_header(doc, out);
	fprintf(out, "\n%-6s %4s %12s %12s %12s %12s %12s %12s %12s %12s\n", "QUEUE", "CPU",
		"PACKETS", "BYTES", "ACCEPTED", "ALLOW", "BLOCK", "FLOWS", "KDROP", "ENOBUFS");
	json_array_foreach(queues, i, q) {
		json_int_t row[8] = {
			jint(q, "packets"), jint(q, "bytes"), jint(q, "accepted"),
			jint(q, "marked_allow"), jint(q, "marked_block"), jint2(q, "flows", "active"),
			kernel_drops(q), jint(q, "enobufs"),
		};
		char label[24];

		snprintf(label, sizeof(label), "%" JSON_INTEGER_FORMAT, jint(q, "queue"));
		table_row(out, label, jint(q, "cpu"), 1, row);
		sum_kdrop += row[6];
	}
	{
		json_int_t row[8] = {
			jint(totals, "packets"), jint(totals, "bytes"), jint(totals, "accepted"),
			jint(totals, "marked_allow"), jint(totals, "marked_block"),
			jint(totals, "flows_active"), sum_kdrop, jint(totals, "enobufs"),
		};

		table_row(out, "total", 0, 0, row);
	}
	fprintf(out, "\nALLOW, BLOCK: packets sent back with a decision; FLOWS: flows tracked now;\n"
		"KDROP: packets the kernel dropped (queue full or undeliverable).\n");
	if (json_is_object(detectors) && json_object_size(detectors) > 0) {
		fprintf(out, "\n%-24s %12s\n", "DETECTOR", "BLOCKED");
		json_object_foreach((json_t *)detectors, name, v)
			fprintf(out, "%-24s %12" JSON_INTEGER_FORMAT "\n", name,
				json_is_integer(v) ? json_integer_value(v) : 0);
	}
	render_ruleset(doc, out);
	return 0;
}

/* ---- top ------------------------------------------------------------- */

static const json_t *find_queue(const json_t *doc, json_int_t queue)
{
	const json_t *queues = json_object_get(doc, "queues");
	const json_t *q;
	size_t i;

	json_array_foreach(queues, i, q)
		if (jint(q, "queue") == queue)
			return q;
	return NULL;
}

/* Per second; a counter that went down (daemon restarted) counts from 0. */
static double rate(json_int_t now, json_int_t before, double seconds)
{
	json_int_t d = now >= before ? now - before : now;

	return seconds > 0 ? (double)d / seconds : 0.0;
}

struct top_row {
	double pkts, mbits, accepted, allow, block, kdrop;
	json_int_t flows;
};

static void top_print_row(FILE *out, const char *label, const struct top_row *r)
{
	fprintf(out, "%-6s %10.1f %9.2f %10.1f %9.1f %9.1f %9" JSON_INTEGER_FORMAT " %8.1f\n",
		label, r->pkts, r->mbits, r->accepted, r->allow, r->block, r->flows, r->kdrop);
}

/* One screen of rates between two stats documents taken seconds apart. */
static int render_top(const json_t *prev, const json_t *cur, double seconds, FILE *out)
{
	const json_t *queues = json_object_get(cur, "queues");
	struct top_row total = { 0 };
	const json_t *q;
	size_t i;

	if (!json_is_array(queues))
		return -1;
	render_header(cur, out);
	fprintf(out, "rates over the last %.1f s\n\n", seconds);
	fprintf(out, "%-6s %10s %9s %10s %9s %9s %9s %8s\n", "QUEUE", "PKT/S", "MBIT/S",
		"ACCEPT/S", "ALLOW/S", "BLOCK/S", "FLOWS", "KDROP/S");
	json_array_foreach(queues, i, q) {
		json_int_t num = jint(q, "queue");
		const json_t *p = find_queue(prev, num);
		struct top_row r;
		char label[24];

		if (!p)
			p = q;	/* a queue that just appeared: no rate yet */
		r = (struct top_row){
			.pkts = rate(jint(q, "packets"), jint(p, "packets"), seconds),
			.mbits = rate(jint(q, "bytes"), jint(p, "bytes"), seconds) * 8 / 1e6,
			.accepted = rate(jint(q, "accepted"), jint(p, "accepted"), seconds),
			.allow = rate(jint(q, "marked_allow"), jint(p, "marked_allow"), seconds),
			.block = rate(jint(q, "marked_block"), jint(p, "marked_block"), seconds),
			.kdrop = rate(kernel_drops(q), kernel_drops(p), seconds),
			.flows = jint2(q, "flows", "active"),
		};
		snprintf(label, sizeof(label), "%" JSON_INTEGER_FORMAT, num);
		top_print_row(out, label, &r);
		total.pkts += r.pkts;
		total.mbits += r.mbits;
		total.accepted += r.accepted;
		total.allow += r.allow;
		total.block += r.block;
		total.kdrop += r.kdrop;
		total.flows += r.flows;
	}
	top_print_row(out, "total", &total);
	return 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmd_top(const struct ctl_options *o)
{
	char err[CTL_ERR_MAX];
	int clear = isatty(STDOUT_FILENO);
	json_t *prev, *cur;
	int64_t t_prev, t_cur;

	prev = ctl_request(o, "stats", err, sizeof(err));
	if (!prev)
		goto fail;
	t_prev = mono_ms();
	for (long n = 0; o->count == 0 || n < o->count; n++) {
		sleep_ms(t_prev + 1000 - mono_ms());
		cur = ctl_request(o, "stats", err, sizeof(err));
		if (!cur) {
			json_decref(prev);
			goto fail;
		}
		t_cur = mono_ms();
		if (clear)
			fputs("\033[H\033[2J", stdout);
		else if (n > 0)
			fputc('\n', stdout);
		if (render_top(prev, cur, (double)(t_cur - t_prev) / 1000.0, stdout) < 0) {
			snprintf(err, sizeof(err), "btblockd sent stats without a queues list");
			json_decref(prev);
			json_decref(cur);
			goto fail;
		}
		fflush(stdout);
		json_decref(prev);
		prev = cur;
		t_prev = t_cur;
	}
	json_decref(prev);
	return CTL_OK;
fail:
	fprintf(stderr, "btblockctl: %s\n", err);
	return CTL_FAIL;
}

/* ---- reload ----------------------------------------------------------- */

/* The pid in a pid file: decimal digits and an optional newline. */
static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || v < 2 || v > INT_MAX || (*end && strcmp(end, "\n") != 0))
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* Read the pid file and check that it names a running btblockd: a stale
 * pid file may name a process that reused the pid, which must never get a
 * SIGHUP it does not expect. */
static int daemon_pid(const char *pidfile, pid_t *pid, char *err, size_t errlen)
{
	char buf[32], path[64], comm[32];
	ssize_t n;
	FILE *f;
	int fd;

	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			snprintf(err, errlen, "cannot read pid file %s: %s: is btblockd running? "
				 "(in the foreground it writes one only with --pidfile)",
				 pidfile, strerror(e));
		else
			snprintf(err, errlen, "cannot read pid file %s: %s%s", pidfile, strerror(e),
				 e == EACCES ? ": run btblockctl as root" : "");
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read pid file %s: %s", pidfile, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (parse_pid(buf, pid) < 0) {
		snprintf(err, errlen, "pid file %s does not hold a process id", pidfile);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)*pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "process %ld named by %s is not running (stale pid file): "
			 "is btblockd running?", (long)*pid, pidfile);
		return -1;
	}
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, "btblockd") != 0) {
		snprintf(err, errlen, "process %ld named by %s is \"%s\", not btblockd "
			 "(stale pid file): is btblockd running?", (long)*pid, pidfile, comm);
		return -1;
	}
	return 0;
}

static int cmd_reload(const struct ctl_options *o)
{
	const char *const *f = o->pidfile_fallbacks;
	char err[CTL_ERR_MAX];
	pid_t pid;
	int r = daemon_pid(o->pidfile, &pid, err, sizeof(err));

	/* As for the socket: the first pid file that exists decides. */
	if (r < 0 && f && access(o->pidfile, F_OK) < 0) {
		for (; *f && access(*f, F_OK) < 0; f++)
			;
		if (*f)
			r = daemon_pid(*f, &pid, err, sizeof(err));
	}
	if (r < 0) {
		fprintf(stderr, "btblockctl: %s\n", err);
		return CTL_FAIL;
	}
	if (kill(pid, SIGHUP) < 0) {
		fprintf(stderr, "btblockctl: cannot send SIGHUP to btblockd (pid %ld): %s%s\n",
			(long)pid, strerror(errno), errno == EPERM ? ": run btblockctl as root" : "");
		return CTL_FAIL;
	}
	printf("btblockd (pid %ld) is re-reading its configuration; errors go to its log\n",
	       (long)pid);
	return CTL_OK;
}

/* ---- unban -------------------------------------------------------------- */

/* The daemon first: once it forgot, a new flow of the address is judged
 * afresh; then the kernel: bans, then the blocked connections, so that
 * the client's next packets start a new flow that is inspected. */
static int cmd_unban(const struct ctl_options *o)
{
	struct bans_marks m = { BANS_DEF_MARK_MASK, BANS_DEF_MARK_BLOCK, BANS_DEF_MARK_REJECT };
	char cmd[ADDRSPEC_STRLEN + 8], shown[ADDRSPEC_STRLEN], err[CTL_ERR_MAX];
	long pairs, conns;
	int status, no_table;
	json_t *doc;

	addrspec_format(&o->spec, shown, sizeof(shown));
	snprintf(cmd, sizeof(cmd), "forget %s", shown);
	doc = ctl_request(o, cmd, err, sizeof(err));
	if (doc) {
		json_t *marks = json_object_get(doc, "marks");

		if (json_is_object(marks)) {
			m.mask = (uint32_t)jint(marks, "mask");
			m.block = (uint32_t)jint(marks, "block");
			m.reject = (uint32_t)jint(marks, "reject");
		}
	}
	for (int k = 0; k < 3; k++)
		if (o->marks[k])
			*(k == 0 ? &m.mask : k == 1 ? &m.block : &m.reject) = o->marks[k];
	status = bans_unban_kernel(&o->spec, &m, &pairs, &conns, &no_table);
	printf("unban %s:\n", shown);
	printf("  banned pairs removed:   %ld%s\n", pairs,
	       no_table ? " (table inet btblockd is not loaded)" : "");
	printf("  connections cleared:    %ld\n", conns);
	if (doc) {
		printf("  flows forgotten:        %lld\n", (long long)jint(doc, "flows"));
		printf("  endpoints forgotten:    %lld\n", (long long)jint(doc, "endpoints"));
		if (jint(doc, "pending") > 0)
			printf("  note: %lld of %lld workers did not answer in time; they forget "
			       "when they get to it\n", (long long)jint(doc, "pending"),
			       (long long)jint(doc, "workers"));
		json_decref(doc);
	} else {
		printf("  btblockd not reached, so it forgot nothing: %s\n", err);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "btblockctl: cannot write the output: %s\n", strerror(errno));
		return CTL_FAIL;
	}
	return status ? CTL_FAIL : CTL_OK;
}

/* ---- detections and who ------------------------------------------------ */

static const char *jstr_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = jstr(obj, key, NULL);

	return s && *s ? s : dflt;
}

static const char *nat_public(const json_t *d)
{
	return jstr_or(json_object_get(d, "nat"), "public", "-");
}

/* One detection per line, the columns an abuse notice needs. */
static void render_detection_header(FILE *out)
{
	fprintf(out, "%-24s %-22s %-17s %-16s %-22s %-22s %-10s %-14s %s\n", "TIME", "LAN",
		"MAC", "HOST", "PUBLIC", "REMOTE", "IN>OUT", "DETECTOR", "ACTION");
}

static void render_detection(const json_t *d, FILE *out)
{
	char ifs[40];

	snprintf(ifs, sizeof(ifs), "%s>%s", jstr_or(d, "in", "-"), jstr_or(d, "out", "-"));
	fprintf(out, "%-24s %-22s %-17s %-16s %-22s %-22s %-10s %-14s %s\n",
		jstr_or(d, "time", "?"), jstr_or(d, "lan", "(none protected)"), jstr_or(d, "mac", "-"),
		jstr_or(d, "host", "-"), nat_public(d), jstr_or(d, "remote", jstr_or(d, "dst", "-")),
		ifs, jstr_or(d, "detector", "?"), jstr_or(d, "action", "?"));
}

static int cmd_detections(const struct ctl_options *o)
{
	char err[CTL_ERR_MAX];
	json_t *doc = ctl_request(o, "detections", err, sizeof(err));
	const json_t *list, *d;
	size_t i;

	if (!doc) {
		fprintf(stderr, "btblockctl: %s\n", err);
		return CTL_FAIL;
	}
	list = json_object_get(doc, "detections");
	if (!json_is_array(list)) {
		fprintf(stderr, "btblockctl: btblockd sent no detections list\n");
		json_decref(doc);
		return CTL_FAIL;
	}
	if (o->json) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else {
		render_detection_header(stdout);
		json_array_foreach(list, i, d)
			render_detection(d, stdout);
		if (jint(doc, "omitted") > 0)
			printf("(%" JSON_INTEGER_FORMAT " older detections left out; "
			       "the detection log has them)\n", jint(doc, "omitted"));
	}
	json_decref(doc);
	return fflush(stdout) == 0 && !ferror(stdout) ? CTL_OK : CTL_FAIL;
}

/* The detection log's path: the daemon's (stats), else the config file's
 * detect-log line. NULL when neither says. */
static char *who_log_path(const struct ctl_options *o)
{
	char err[CTL_ERR_MAX], line[4200];
	json_t *doc = ctl_request(o, "stats", err, sizeof(err));
	char *path = NULL;
	FILE *f;

	if (doc) {
		const char *p = jstr(json_object_get(doc, "detect_log"), "path", NULL);

		if (p && *p)
			path = strdup(p);
		json_decref(doc);
		if (path)
			return path;
	}
	f = fopen(CTL_DEFAULT_CONFIG, "re");
	if (!f)
		return NULL;
	while (!path && fgets(line, sizeof(line), f)) {
		char *v = line + strspn(line, " \t");

		if (strncmp(v, "detect-log", 10) != 0 || (v[10] != ' ' && v[10] != '\t'))
			continue;
		v += 10 + strspn(v + 10, " \t");
		v[strcspn(v, "\r\n")] = '\0';
		while (*v && (v[strlen(v) - 1] == ' ' || v[strlen(v) - 1] == '\t'))
			v[strlen(v) - 1] = '\0';
		if (*v)
			path = strdup(v);
	}
	fclose(f);
	return path;
}

/* Search one file; returns the matches printed, or -1 when unreadable. */
static int who_search(const char *path, const struct who_query *q, int *header, FILE *out)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		int64_t ms;
		json_t *d;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (who_match_line(line, q, &ms) != 1)
			continue;
		d = json_loads(line, 0, NULL);
		if (!d)
			continue;
		if (!*header) {
			render_detection_header(out);
			*header = 1;
		}
		render_detection(d, out);
		json_decref(d);
		found++;
	}
	free(line);
	fclose(f);
	return found;
}

static int cmd_who(const struct ctl_options *o)
{
	struct who_query q = { .window_s = o->window_s };
	char *path, rotated[4200];
	int header = 0, found = 0, readable = 0, r;

	if (who_parse_endpoint(o->who, &q.ep) < 0)
		return usage_error("not an address and port such as 203.0.113.5:40000 or "
				   "[2001:db8::5]:40000", o->who);
	if (o->at) {
		if (who_parse_time(o->at, &q.at_s) < 0)
			return usage_error("not a time such as 2026-12-03T10:15:00Z, "
					   "\"2026-12-03 11:15\" or unix seconds", o->at);
		q.have_time = 1;
	}
	path = o->log ? strdup(o->log) : who_log_path(o);
	if (!path) {
		fprintf(stderr, "btblockctl: no detection log: btblockd is not reachable and %s "
			"has no detect-log line; give one with --log FILE\n", CTL_DEFAULT_CONFIG);
		return CTL_FAIL;
	}
	/* The rotated file first: its lines are the older ones. */
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	r = who_search(rotated, &q, &header, stdout);
	if (r >= 0) {
		found += r;
		readable++;
	}
	r = who_search(path, &q, &header, stdout);
	if (r >= 0) {
		found += r;
		readable++;
	} else {
		fprintf(stderr, "btblockctl: cannot read the detection log %s: %s\n", path,
			strerror(errno));
	}
	if (readable && !found)
		fprintf(stderr, "btblockctl: no detection of %s%s%s in %s%s\n", o->who,
			o->at ? " near " : "", o->at ? o->at : "", path,
			readable > 1 ? " and its .1" : "");
	free(path);
	fflush(stdout);
	return found ? CTL_OK : CTL_FAIL;
}

/* ---- check ------------------------------------------------------------ */

/* The daemon's side from its stats, the kernel's read here, one line per
 * check (selfcheck.c). */
static int cmd_check(const struct ctl_options *o)
{
	struct sc_inputs *in = calloc(1, sizeof(*in));
	struct sc_report *rep = calloc(1, sizeof(*rep));
	char err[CTL_ERR_MAX];
	json_t *doc;
	int status, e;

	if (!in || !rep) {
		fprintf(stderr, "btblockctl: out of memory\n");
		free(in);
		free(rep);
		return CTL_FAIL;
	}
	doc = ctl_request_at(o, "stats", err, sizeof(err), &in->socket_path, &e);
	sc_daemon_from_stats(doc, err, &in->daemon);
	in->daemon.connect_errno = e;
	json_decref(doc);
	in->hooks = o->hooks ? o->hooks : SC_HOOK_FORWARD;
	sc_gather(in, o->timeout_ms);
	sc_judge(in, rep);
	status = sc_exit_status(rep);
	if (o->json) {
		json_t *out = sc_json(rep);

		if (!out || json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			status = CTL_FAIL;
		fputc('\n', stdout);
		json_decref(out);
	} else {
		sc_print(rep, stdout);
	}
	free(in);
	free(rep);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "btblockctl: cannot write the output: %s\n", strerror(errno));
		return CTL_FAIL;
	}
	return status == 1 ? CTL_FAIL : status == 3 ? CTL_WARN : CTL_OK;
}

/* ---- main ------------------------------------------------------------- */

static int cmd_query(const struct ctl_options *o)
{
	char err[CTL_ERR_MAX];
	const char *command = o->command == CMD_VERSION ? "version" : "stats";
	json_t *doc = ctl_request(o, command, err, sizeof(err));
	int r = 0;

	if (!doc) {
		fprintf(stderr, "btblockctl: %s\n", err);
		if (o->command == CMD_PROMETHEUS)
			prom_render_down(stdout);
		return CTL_FAIL;
	}
	switch (o->command) {
	case CMD_VERSION:
		printf("%s %s\nbtblockctl %s\n", jstr(doc, "name", "btblockd"),
		       jstr(doc, "version", "?"), PACKAGE_VERSION);
		break;
	case CMD_STATS:
		if (o->table) {
			r = render_table(doc, stdout);
		} else {
			r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
		}
		break;
	default:
		r = prom_render(doc, stdout);
		break;
	}
	json_decref(doc);
	if (r < 0) {
		fprintf(stderr, "btblockctl: btblockd sent a stats document without a queues list\n");
		return CTL_FAIL;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "btblockctl: cannot write the output: %s\n", strerror(errno));
		return CTL_FAIL;
	}
	return CTL_OK;
}

int main(int argc, char **argv)
{
	struct ctl_options o;
	int r = parse_args(argc, argv, &o);

	if (r)
		return r;
	if (o.help) {
		usage(stdout);
		return CTL_OK;
	}
	if (o.version) {
		printf("btblockctl %s\n", PACKAGE_VERSION);
		return CTL_OK;
	}
	switch (o.command) {
	case CMD_TOP:
		return cmd_top(&o);
	case CMD_RELOAD:
		return cmd_reload(&o);
	case CMD_BANS:
		return bans_list(o.json, stdout) ? CTL_FAIL : CTL_OK;
	case CMD_UNBAN:
		return cmd_unban(&o);
	case CMD_DETECTIONS:
		return cmd_detections(&o);
	case CMD_WHO:
		return cmd_who(&o);
	case CMD_CHECK:
		return cmd_check(&o);
	default:
		return cmd_query(&o);
	}
}
