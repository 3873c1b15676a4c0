/* config.c - command line and config file into one struct, with clear errors.
 *
 * Both sources share one option table, so every option has the same name
 * on the command line (--name) and in the file (name value). */
#include "sysincl.h"
#include <ctype.h>
#include <getopt.h>
#include <sched.h>
#include "config.h"
#include "log.h"

enum opt_id {
	OPT_CONFIG = 256,
	OPT_QUEUES,
	OPT_CPUS,
	OPT_CONTROL,
	OPT_COPY_RANGE,
	OPT_QUEUE_MAXLEN,
	OPT_RCVBUF,
	OPT_FAIL_OPEN,
	OPT_FAIL_CLOSED,
	OPT_FOREGROUND,
	OPT_PIDFILE,
	OPT_LOG_LEVEL,
	OPT_READ_PCAP,
	OPT_HELP,
	OPT_VERSION,
};

struct opt_def {
	const char *name;
	int id;
	char short_opt;		/* 0: long only */
	int has_arg;		/* command line: required_argument or no_argument */
	int in_file;		/* allowed in the config file */
	const char *arg_name;
	const char *help;
};

static const struct opt_def opt_table[] = {
	{ "config", OPT_CONFIG, 'c', required_argument, 0, "FILE",
	  "config file (default " CONFIG_DEFAULT_FILE ")" },
	{ "queues", OPT_QUEUES, 'q', required_argument, 1, "A[-B]",
	  "NFQUEUE numbers to serve (default 0-N-1, N online CPUs)" },
	{ "cpus", OPT_CPUS, 0, required_argument, 1, "LIST",
	  "CPUs to pin workers to, e.g. 0,2-3 (default round-robin)" },
	{ "control", OPT_CONTROL, 's', required_argument, 1, "PATH",
	  "control socket (default " CONFIG_DEFAULT_CONTROL ")" },
	{ "copy-range", OPT_COPY_RANGE, 0, required_argument, 1, "BYTES",
	  "bytes of each packet copied to the daemon (default 2048)" },
	{ "queue-maxlen", OPT_QUEUE_MAXLEN, 0, required_argument, 1, "N",
	  "kernel queue length per queue (default 4096)" },
	{ "rcvbuf", OPT_RCVBUF, 0, required_argument, 1, "BYTES",
	  "netlink receive buffer per queue (default 67108864)" },
	{ "fail-open", OPT_FAIL_OPEN, 0, no_argument, 1, NULL,
	  "accept packets when a queue is full (default)" },
	{ "fail-closed", OPT_FAIL_CLOSED, 0, no_argument, 1, NULL,
	  "drop packets when a queue is full" },
	{ "foreground", OPT_FOREGROUND, 'f', no_argument, 1, NULL,
	  "stay in the foreground and log to stderr" },
	{ "pidfile", OPT_PIDFILE, 'p', required_argument, 1, "PATH",
	  "pid file (default " CONFIG_DEFAULT_PIDFILE ")" },
	{ "log-level", OPT_LOG_LEVEL, 'l', required_argument, 1, "LEVEL",
	  "error, warning, notice (default), info or debug" },
	{ "read-pcap", OPT_READ_PCAP, 'r', no_argument, 0, NULL,
	  "classify the pcap FILEs given as arguments, print JSON lines, exit" },
	{ "help", OPT_HELP, 'h', no_argument, 0, NULL, "show this help and exit" },
	{ "version", OPT_VERSION, 'V', no_argument, 0, NULL, "show the version and exit" },
};

#define RANGE_COPY_MIN		64u
#define RANGE_COPY_MAX		65531u	/* kernel limit: 0xffff - NLA_HDRLEN */
#define RANGE_MAXLEN_MIN	16u
#define RANGE_MAXLEN_MAX	1048576u
#define RANGE_RCVBUF_MIN	65536u
#define RANGE_RCVBUF_MAX	1073741824u

/* The CPUs this process may run on, in ascending order. */
static int allowed_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);

		for (long i = 0; i < online && n < max; i++)
			cpus[n++] = (int)i;
		return n > 0 ? n : 1;
	}
	for (int i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	if (n == 0)
		cpus[n++] = 0;
	return n;
}

void config_defaults(struct btb_config *c)
{
	int cpus[CONFIG_MAX_QUEUES];
	int n = allowed_cpus(cpus, CONFIG_MAX_QUEUES);

	memset(c, 0, sizeof(*c));
	snprintf(c->config_path, sizeof(c->config_path), "%s", CONFIG_DEFAULT_FILE);
	c->queue_first = 0;
	c->queue_last = (uint16_t)(n - 1);
	snprintf(c->control_path, sizeof(c->control_path), "%s", CONFIG_DEFAULT_CONTROL);
	c->copy_range = 2048;
	c->queue_maxlen = 4096;
	c->rcvbuf = 64u << 20;
	c->fail_open = 1;
	snprintf(c->pidfile, sizeof(c->pidfile), "%s", CONFIG_DEFAULT_PIDFILE);
	c->log_level = LOG_NOTICE;
}

int config_worker_cpu(const struct btb_config *c, unsigned i)
{
	int cpus[CONFIG_MAX_CPUS];
	int n;

	if (c->ncpus > 0)
		return c->cpus[i % (unsigned)c->ncpus];
	n = allowed_cpus(cpus, CONFIG_MAX_CPUS);
	return cpus[i % (unsigned)n];
}

/* Parse a whole decimal number in [min, max]. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "A" or "A-B" with A <= B, both in [0, max]. */
static int parse_range(const char *s, uint32_t max, uint32_t *a, uint32_t *b)
{
	char first[16];
	const char *dash = strchr(s, '-');

	if (!dash)
		return parse_u32(s, 0, max, a) < 0 ? -1 : (*b = *a, 0);
	if ((size_t)(dash - s) >= sizeof(first))
		return -1;
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = '\0';
	if (parse_u32(first, 0, max, a) < 0 || parse_u32(dash + 1, 0, max, b) < 0)
		return -1;
	return *a <= *b ? 0 : -1;
}

/* "0,2-3,7": a list of CPU numbers and ranges. */
static int parse_cpu_list(const char *s, int *cpus, int *ncpus)
{
	char item[32];
	int n = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		uint32_t a, b;

		if (len == 0 || len >= sizeof(item))
			return -1;
		memcpy(item, s, len);
		item[len] = '\0';
		if (parse_range(item, CPU_SETSIZE - 1, &a, &b) < 0)
			return -1;
		for (uint32_t cpu = a; cpu <= b; cpu++) {
			if (n >= CONFIG_MAX_CPUS)
				return -1;
			cpus[n++] = (int)cpu;
		}
		s += len;
		if (*s == ',' && *++s == '\0')
			return -1;
	}
	if (n == 0)
		return -1;
	*ncpus = n;
	return 0;
}

/* Flags in the config file take an optional yes/no. */
static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	if (!s) {
		*out = 1;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int copy_path(char *dst, size_t size, const char *value)
{
	if (value[0] == '\0' || strlen(value) >= size)
		return -1;
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* Apply one option. On a bad value, write what was expected into want. */
static int config_set(struct btb_config *c, const struct opt_def *o,
		      const char *value, char *want, size_t wantlen)
{
	uint32_t a, b;
	int flag;

	switch (o->id) {
	case OPT_CONFIG:
		if (copy_path(c->config_path, sizeof(c->config_path), value) < 0)
			goto bad_path;
		c->config_explicit = 1;
		return 0;
	case OPT_QUEUES:
		if (parse_range(value, 65535, &a, &b) < 0 || b - a >= CONFIG_MAX_QUEUES) {
			snprintf(want, wantlen, "a queue number A or range A-B with 0 <= A <= B <= 65535, at most %d queues",
				 CONFIG_MAX_QUEUES);
			return -1;
		}
		c->queue_first = (uint16_t)a;
		c->queue_last = (uint16_t)b;
		return 0;
	case OPT_CPUS:
		if (parse_cpu_list(value, c->cpus, &c->ncpus) < 0) {
			snprintf(want, wantlen, "a CPU list such as 0,2-3 (CPUs 0-%d, at most %d entries)",
				 CPU_SETSIZE - 1, CONFIG_MAX_CPUS);
			return -1;
		}
		return 0;
	case OPT_CONTROL:
		if (copy_path(c->control_path, sizeof(c->control_path), value) < 0) {
			snprintf(want, wantlen, "a socket path of 1 to %d bytes", CONFIG_CONTROL_MAX - 1);
			return -1;
		}
		return 0;
	case OPT_COPY_RANGE:
		if (parse_u32(value, RANGE_COPY_MIN, RANGE_COPY_MAX, &c->copy_range) < 0) {
			snprintf(want, wantlen, "a number of bytes from %u to %u", RANGE_COPY_MIN, RANGE_COPY_MAX);
			return -1;
		}
		return 0;
	case OPT_QUEUE_MAXLEN:
		if (parse_u32(value, RANGE_MAXLEN_MIN, RANGE_MAXLEN_MAX, &c->queue_maxlen) < 0) {
			snprintf(want, wantlen, "a number of packets from %u to %u", RANGE_MAXLEN_MIN, RANGE_MAXLEN_MAX);
			return -1;
		}
		return 0;
	case OPT_RCVBUF:
		if (parse_u32(value, RANGE_RCVBUF_MIN, RANGE_RCVBUF_MAX, &c->rcvbuf) < 0) {
			snprintf(want, wantlen, "a number of bytes from %u to %u", RANGE_RCVBUF_MIN, RANGE_RCVBUF_MAX);
			return -1;
		}
		return 0;
	case OPT_FAIL_OPEN:
	case OPT_FAIL_CLOSED:
	case OPT_FOREGROUND:
		if (parse_bool(value, &flag) < 0) {
			snprintf(want, wantlen, "yes or no");
			return -1;
		}
		if (o->id == OPT_FOREGROUND)
			c->foreground = flag;
		else
			c->fail_open = (o->id == OPT_FAIL_OPEN) ? flag : !flag;
		return 0;
	case OPT_PIDFILE:
		if (copy_path(c->pidfile, sizeof(c->pidfile), value) < 0)
			goto bad_path;
		c->pidfile_explicit = 1;
		return 0;
	case OPT_LOG_LEVEL:
		flag = log_level_parse(value);
		if (flag < 0) {
			snprintf(want, wantlen, "one of error, warning, notice, info, debug");
			return -1;
		}
		c->log_level = flag;
		return 0;
	case OPT_READ_PCAP:
		c->read_pcap = 1;
		return 0;
	case OPT_HELP:
		c->show_help = 1;
		return 0;
	case OPT_VERSION:
		c->show_version = 1;
		return 0;
	default:
		snprintf(want, wantlen, "nothing: internal error");
		return -1;
	}
bad_path:
	snprintf(want, wantlen, "a path of 1 to %d bytes", CONFIG_PATH_MAX - 1);
	return -1;
}

static const struct opt_def *opt_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (strcmp(opt_table[i].name, name) == 0)
			return &opt_table[i];
	return NULL;
}

static const struct opt_def *opt_by_id(int id)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].id == id)
			return &opt_table[i];
	return NULL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* One line of the file: "name", "name value" or "name = value". */
static int config_file_line(struct btb_config *c, char *line, const char *path,
			    unsigned lineno, char *err, size_t errlen)
{
	char want[160];
	char *name, *value, *hash;
	const struct opt_def *o;
	size_t namelen;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	name = trim(line);
	if (*name == '\0')
		return 0;
	namelen = strcspn(name, " \t=");
	value = name + namelen;
	if (*value) {
		*value++ = '\0';
		value = trim(value);
		if (*value == '=')
			value = trim(value + 1);
		if (*value == '\0')
			value = NULL;
	} else {
		value = NULL;
	}
	o = opt_by_name(name);
	if (!o || !o->in_file) {
		snprintf(err, errlen, "%s:%u: unknown option '%s'", path, lineno, name);
		return -1;
	}
	if (o->has_arg == required_argument && !value) {
		snprintf(err, errlen, "%s:%u: option '%s' needs a value", path, lineno, name);
		return -1;
	}
	if (config_set(c, o, value, want, sizeof(want)) < 0) {
		snprintf(err, errlen, "%s:%u: invalid value '%s' for '%s': expected %s",
			 path, lineno, value ? value : "", name, want);
		return -1;
	}
	return 0;
}

static int config_file_load(struct btb_config *c, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX];
	char line[1024];
	unsigned lineno = 0;
	FILE *f;
	int ret = 0;

	/* The file may not name another file: keep its own path. */
	memcpy(path, c->config_path, sizeof(path));
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !c->config_explicit)
			return 0;
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line longer than %zu bytes", path, lineno,
				 sizeof(line) - 2);
			ret = -1;
			break;
		}
		if (config_file_line(c, line, path, lineno, err, errlen) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && ferror(f)) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		ret = -1;
	}
	fclose(f);
	return ret;
}

static void build_getopt(struct option *longopts, char *shortopts)
{
	size_t n = 0, s = 0;

	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];

		longopts[n++] = (struct option){ o->name, o->has_arg, NULL, o->id };
		if (o->short_opt) {
			shortopts[s++] = o->short_opt;
			if (o->has_arg == required_argument)
				shortopts[s++] = ':';
		}
	}
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[s] = '\0';
}

static const struct opt_def *opt_by_short(int ch)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].short_opt == ch)
			return &opt_table[i];
	return NULL;
}

/* One pass over argv. only_config: look at --config alone (first pass). */
static int config_argv_pass(struct btb_config *c, int argc, char *const argv[],
			    int only_config, char *err, size_t errlen)
{
	struct option longopts[ARRAY_SIZE(opt_table) + 1];
	char shortopts[2 * ARRAY_SIZE(opt_table) + 2];
	char want[160];
	int ch;

	shortopts[0] = ':';	/* report a missing argument as ':' */
	build_getopt(longopts, shortopts + 1);
	opterr = 0;
	optind = 0;		/* glibc: full re-initialisation */
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt_def *o;
		const char *arg = argv[optind - 1];

		if (ch == '?') {
			o = optopt >= OPT_CONFIG ? opt_by_id(optopt) : NULL;
			if (o)
				snprintf(err, errlen, "option --%s takes no value", o->name);
			else if (optopt)
				snprintf(err, errlen, "unknown option '-%c' (see --help)", optopt);
			else
				snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
			return -1;
		}
		if (ch == ':') {
			o = optopt >= OPT_CONFIG ? opt_by_id(optopt) : opt_by_short(optopt);
			snprintf(err, errlen, "option --%s needs a value", o ? o->name : "?");
			return -1;
		}
		o = ch >= OPT_CONFIG ? opt_by_id(ch) : opt_by_short(ch);
		if (!o) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
			return -1;
		}
		if (only_config != (o->id == OPT_CONFIG))
			continue;
		if (config_set(c, o, optarg, want, sizeof(want)) < 0) {
			snprintf(err, errlen, "invalid value '%s' for --%s: expected %s",
				 optarg ? optarg : "", o->name, want);
			return -1;
		}
	}
	if (!only_config) {
		if (optind < argc && !c->read_pcap) {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
			return -1;
		}
		c->npcap_files = argc - optind;
		c->pcap_files = (char **)(uintptr_t)(argv + optind);
		if (c->read_pcap && c->npcap_files == 0 && !c->show_help && !c->show_version) {
			snprintf(err, errlen, "option --read-pcap needs at least one FILE argument");
			return -1;
		}
	}
	return 0;
}

enum config_status config_load(struct btb_config *c, int argc, char *const argv[],
			       char *err, size_t errlen)
{
	config_defaults(c);
	if (config_argv_pass(c, argc, argv, 1, err, errlen) < 0)
		return CONFIG_ERROR;
	if (config_argv_pass(c, argc, argv, 0, err, errlen) < 0)
		return CONFIG_ERROR;
	if (c->show_help || c->show_version || c->read_pcap)
		return CONFIG_OK;
	/* The command line wins over the file: read the file, then argv again. */
	if (config_file_load(c, err, errlen) < 0)
		return CONFIG_ERROR;
	if (config_argv_pass(c, argc, argv, 0, err, errlen) < 0)
		return CONFIG_ERROR;
	return CONFIG_OK;
}

void config_usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [OPTION]...\n"
		   "       %s --read-pcap FILE...\n"
		   "Serve NFQUEUE queues and drop BitTorrent traffic.\n\n", prog, prog);
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "%c%c%s--%s%s%s",
			 o->short_opt ? '-' : ' ', o->short_opt ? o->short_opt : ' ',
			 o->short_opt ? ", " : "  ", o->name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
		fprintf(f, "  %-28s %s\n", lhs, o->help);
	}
	fprintf(f, "\nEvery option except config, read-pcap, help and version can also be\n"
		   "set in the config file as 'name value' (flags: 'name' or 'name yes|no').\n"
		   "Stats: echo stats | socat - UNIX-CONNECT:%s\n", CONFIG_DEFAULT_CONTROL);
}
