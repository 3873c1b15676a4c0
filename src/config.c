/* config.c - command line and config file into one struct, with clear errors.
 *
 * Both sources share one option table, so every option has the same name
 * on the command line (--name) and in the file (name value). */
#include "sysincl.h"
#include <ctype.h>
#include <getopt.h>
#include <sched.h>
#include "config.h"
#include "leases.h"
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
	OPT_FLOW_CAPACITY,
	OPT_TCP_TIMEOUT,
	OPT_UDP_TIMEOUT,
	OPT_STREAM_PREFIX,
	OPT_ALLOW_AFTER,
	OPT_ENDPOINT_CAPACITY,
	OPT_ENDPOINT_TTL,
	OPT_PROTECTED_PREFIX,
	OPT_PROTECTED_INTERFACE,
	OPT_MONITOR,
	OPT_REJECT,
	OPT_ACTION,
	OPT_EXEMPT,
	OPT_EXEMPT_REMOTE,
	OPT_SCHEDULE,
	OPT_MARK_MASK,
	OPT_MARK_ALLOW,
	OPT_MARK_BLOCK,
	OPT_MARK_REJECT,
	OPT_MARK_BLOCK_FLOW,
	OPT_MARK_REJECT_FLOW,
	OPT_DETECT_LOG,
	OPT_DETECT_SYSLOG,
	OPT_DETECT_LOG_RATE,
	OPT_DETECT_LOG_MAX_SIZE,
	OPT_DHCP_LEASES,
	OPT_DETECT_EXEC,
	OPT_DETECT_EXEC_RATE,
	OPT_CONTROL_GROUP,
	OPT_CONTROL_MODE,
	OPT_USER,
	OPT_SECCOMP,
	OPT_SYSLOG,
	OPT_STALL_TIMEOUT,
	OPT_STATE_FILE,
	OPT_STATE_INTERVAL,
	OPT_FIREWALL_LOST,
	OPT_READ_PCAP,
	OPT_HELP,
	OPT_VERSION,
};
enum opt_type {
	OT_U32,		/* uint32_t in [min, max] */
	OT_BOOL,	/* int flag; in the file an optional yes/no */
	OT_NEG_BOOL,	/* int flag set to the opposite (fail-closed) */
	OT_PATH,	/* char[size]; flag, when not 0, marks it given */
	OT_MARK,	/* uint32_t mark or mask, not zero */
	OT_SET,		/* int set to 1 (read-pcap, help, version) */
	OT_CUSTOM,	/* parse() */
	OT_IGNORE,	/* btblockd-firewall's key */
};

struct opt_def {
	const char *name;
	int id;
	char short_opt;		/* 0: long only */
	int has_arg;		/* command line: required_argument or no_argument */
	int in_file;		/* allowed in the config file; FIREWALL_KEY: only there */
	const char *arg_name;
	const char *help;
	enum opt_type type;
	size_t field;		/* offsetof(struct btb_config, ...) of what it sets */
	size_t size;		/* its size; OT_CUSTOM: the span of the fields it sets */
	size_t flag;		/* OT_PATH: offset of the int set when given, 0: none */
	uint32_t min, max;	/* OT_U32: the range */
	const char *unit;	/* OT_U32: the unit, for error messages */
	/* OT_CUSTOM: 0, or -1 with what was expected written into want */
	int (*parse)(struct btb_config *c, const char *value, char *want, size_t wantlen);
	int text;		/* the field is a string: compared up to its NUL */
	enum config_reload reload;	/* what a SIGHUP does with a change */
};

/* A key of the config file that btblockd-firewall reads (the kernel's
 * policy): accepted and skipped here, no command line option. */
#define FIREWALL_KEY 2

#define FIELD(f) .field = offsetof(struct btb_config, f), \
	.size = sizeof(((struct btb_config *)0)->f)
/* Fields a..b, declared in that order, as one span. */
#define SPAN(a, b) .field = offsetof(struct btb_config, a), \
	.size = offsetof(struct btb_config, b) + sizeof(((struct btb_config *)0)->b) - \
		offsetof(struct btb_config, a)
#define U32(f, lo, hi, u) .type = OT_U32, FIELD(f), .min = (lo), .max = (hi), .unit = (u)
#define BOOL(f) .type = OT_BOOL, FIELD(f)
#define NEG_BOOL(f) .type = OT_NEG_BOOL, FIELD(f)
#define TEXT(f) FIELD(f), .text = 1
#define PATH(f) .type = OT_PATH, TEXT(f)
#define PATH_GIVEN(f, given) .type = OT_PATH, TEXT(f), .flag = offsetof(struct btb_config, given)
#define MARK(f) .type = OT_MARK, FIELD(f)
#define SET(f) .type = OT_SET, FIELD(f)
#define CUSTOM(fn, ...) .type = OT_CUSTOM, .parse = (fn), __VA_ARGS__
#define IGNORE .type = OT_IGNORE
/* The reload class, last in every row. */
#define LIVE .reload = CONFIG_RELOAD_LIVE
#define RESTART .reload = CONFIG_RELOAD_RESTART
#define NO_RELOAD .reload = CONFIG_RELOAD_NONE

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
	c->copy_range = 4096;
	c->queue_maxlen = 4096;
	c->rcvbuf = 64u << 20;
	c->fail_open = 1;
	snprintf(c->pidfile, sizeof(c->pidfile), "%s", CONFIG_DEFAULT_PIDFILE);
	c->log_level = LOG_NOTICE;
	engine_config_defaults(&c->engine);
	c->mark_mask = 0x00ff0000;
	c->mark_allow = 0x00a10000;
	c->mark_block = 0x00b10000;
	c->mark_reject = 0x00b20000;
	c->mark_block_flow = 0x00b30000;
	c->mark_reject_flow = 0x00b40000;
	c->detect_log_rate = 50;
	c->detect_log_max_size = 10u << 20;
	snprintf(c->dhcp_leases, sizeof(c->dhcp_leases), "%s", LEASES_DEFAULT_PATHS);
	c->detect_exec_rate = 30;
	c->control_mode = 0660;
	c->stall_timeout_s = 5;
	snprintf(c->state_file, sizeof(c->state_file), "none");
	c->state_interval_s = 60;
	c->firewall_lost_exit = 1;
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
static int parse_cpu_list(const char *s, int *out, int *ncpus)
{
	int cpus[CONFIG_MAX_CPUS] = { 0 };	/* whole: config_diff compares it */
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
	memcpy(out, cpus, sizeof(cpus));
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

/* The state file: none, or an absolute path ending in a file name that
 * leaves room for the temporary NAME.tmp next to it. */
static int copy_state_path(char *dst, size_t size, const char *value)
{
	const char *name = strrchr(value, '/');
	size_t len;

	if (strcmp(value, "none") == 0)
		return copy_path(dst, size, value);
	if (value[0] != '/' || !name)
		return -1;
	name++;
	len = strlen(name);
	if (len == 0 || len > CONFIG_STATE_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -1;
	return copy_path(dst, size, value);
}

/* A user or group name as useradd(8) accepts it: the name is looked up
 * at start-up, this only keeps garbage out of error messages. */
static int copy_name(char *dst, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len == 0 || len >= size || value[0] == '-')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)value[i]) && !strchr("._-", value[i]) &&
		    !(value[i] == '$' && i == len - 1))
			return -1;
	memcpy(dst, value, len + 1);
	return 0;
}

/* Socket permissions: the owner reads and writes; the group may too;
 * others never (a socket anyone can use would bypass --control-group). */
static int parse_mode(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (s[0] != '0' || strlen(s) > 5)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end != '\0' || (v != 0600 && v != 0660))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A mark or mask: hexadecimal (0x...) or decimal, 32 bits. */
static int parse_mark(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "br-lan,wlan0": interface names as the kernel allows them (1 to 15
 * bytes, no '/', ':' or white space), at most CONFIG_MAX_IFACES. */
static int parse_iface_list(const char *s, char names[][CONFIG_IFNAME_MAX], int *n)
{
	char out[CONFIG_MAX_IFACES][CONFIG_IFNAME_MAX] = { { 0 } };	/* config_diff: whole */
	int k = 0;

	for (;;) {
		size_t len = strcspn(s, ",");

		if (len == 0 || len >= CONFIG_IFNAME_MAX || k == CONFIG_MAX_IFACES)
			return -1;
		for (size_t i = 0; i < len; i++)
			if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == ':')
				return -1;
		memcpy(out[k], s, len);
		out[k++][len] = '\0';
		s += len;
		if (*s == '\0')
			break;
		s++;
	}
	memcpy(names, out, sizeof(out));
	*n = k;
	return 0;
}

/* RATE of "throttle RATE": a whole number and bit, kbit, mbit, gbit, bytes,
 * kbytes or mbytes, at least one byte per second (btblockd-firewall's
 * rule: the ruleset applies the rate, the daemon only checks it). */
static int parse_rate(const char *s)
{
	static const struct { const char *unit; uint64_t bits; } units[] = {
		{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
		{ "bytes", 8 }, { "kbytes", 8000 }, { "mbytes", 8000000 },
	};
	uint64_t n = 0;
	size_t digits = 0;

	while (isdigit((unsigned char)s[digits])) {
		if (digits >= 9)
			return -1;
		n = n * 10 + (uint64_t)(s[digits] - '0');
		digits++;
	}
	if (digits == 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(s + digits, units[i].unit) == 0)
			return n * units[i].bits >= 8 ? 0 : -1;
	return -1;
}

/* block, reject, monitor or "throttle RATE": the daemon's marks for it. */
static int parse_action(struct btb_config *c, const char *s)
{
	if (strcmp(s, "block") == 0 || strcmp(s, "reject") == 0 || strcmp(s, "monitor") == 0) {
		c->reject = s[0] == 'r';
		c->monitor = s[0] == 'm';
		c->throttle = 0;
		return 0;
	}
	if (strncmp(s, "throttle", 8) != 0 || !isspace((unsigned char)s[8]))
		return -1;
	s += 8;
	while (isspace((unsigned char)*s))
		s++;
	if (parse_rate(s) < 0)
		return -1;
	c->reject = 0;
	c->monitor = 0;
	c->throttle = 1;
	return 0;
}

/* The options that take more than a type: one setter each. */
static int set_queues(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	uint32_t a, b;

	if (parse_range(value, 65535, &a, &b) < 0 || b - a >= CONFIG_MAX_QUEUES) {
		snprintf(want, wantlen, "a queue number A or range A-B with 0 <= A <= B <= 65535, at most %d queues",
			 CONFIG_MAX_QUEUES);
		return -1;
	}
	c->queue_first = (uint16_t)a;
	c->queue_last = (uint16_t)b;
	return 0;
}

static int set_cpus(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (parse_cpu_list(value, c->cpus, &c->ncpus) < 0) {
		snprintf(want, wantlen, "a CPU list such as 0,2-3 (CPUs 0-%d, at most %d entries)",
			 CPU_SETSIZE - 1, CONFIG_MAX_CPUS);
		return -1;
	}
	return 0;
}

static int set_control(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (copy_path(c->control_path, sizeof(c->control_path), value) < 0) {
		snprintf(want, wantlen, "a socket path of 1 to %d bytes", CONFIG_CONTROL_MAX - 1);
		return -1;
	}
	return 0;
}

static int set_name(char *dst, const char *what, const char *value, char *want, size_t wantlen)
{
	if (copy_name(dst, CONFIG_NAME_MAX, value) < 0) {
		snprintf(want, wantlen, "a %s name of 1 to %d letters, digits, '.', '_' or '-'",
			 what, CONFIG_NAME_MAX - 1);
		return -1;
	}
	return 0;
}

static int set_user(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	return set_name(c->user, "user", value, want, wantlen);
}

static int set_control_group(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	return set_name(c->control_group, "group", value, want, wantlen);
}

static int set_control_mode(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (parse_mode(value, &c->control_mode) < 0) {
		snprintf(want, wantlen, "0600 or 0660");
		return -1;
	}
	return 0;
}

static int set_action(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (parse_action(c, value) < 0) {
		snprintf(want, wantlen, "block, reject, monitor or 'throttle RATE' "
			 "(RATE such as 2mbit or 500kbytes, at least 8bit)");
		return -1;
	}
	return 0;
}

static int set_dhcp_leases(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (leases_check_list(value) < 0) {
		snprintf(want, wantlen, "none, or a comma-separated list of at most %d paths "
			 "of 1 to %zu bytes", LEASES_MAX_FILES,
			 sizeof(((struct lease_file *)0)->path) - 1);
		return -1;
	}
	snprintf(c->dhcp_leases, sizeof(c->dhcp_leases), "%s", value);
	return 0;
}

static int set_detect_exec(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (value[0] != '/' || copy_path(c->detect_exec, sizeof(c->detect_exec), value) < 0) {
		snprintf(want, wantlen, "an absolute path of 1 to %d bytes", CONFIG_PATH_MAX - 1);
		return -1;
	}
	return 0;
}

static int set_protected_prefix(struct btb_config *c, const char *value, char *want,
				size_t wantlen)
{
	if (protect_parse(&c->engine.protect, value) < 0) {
		snprintf(want, wantlen, "none, or a comma-separated list of at most %d "
			 "addresses or prefixes such as 192.168.1.0/24,fd00::/8",
			 PROTECT_MAX_PREFIXES);
		return -1;
	}
	c->protect_prefix_set = 1;
	return 0;
}

static int set_protected_interface(struct btb_config *c, const char *value, char *want,
				   size_t wantlen)
{
	if (parse_iface_list(value, c->protect_ifaces, &c->nprotect_ifaces) < 0) {
		snprintf(want, wantlen, "a comma-separated list of at most %d interface names "
			 "of 1 to %d bytes", CONFIG_MAX_IFACES, CONFIG_IFNAME_MAX - 1);
		return -1;
	}
	return 0;
}

static int set_state_file(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (copy_state_path(c->state_file, sizeof(c->state_file), value) < 0) {
		snprintf(want, wantlen, "none, or an absolute path of at most %d bytes ending in "
			 "a file name of 1 to %d bytes", CONFIG_PATH_MAX - 1, CONFIG_STATE_NAME_MAX);
		return -1;
	}
	return 0;
}

static int set_log_level(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	int level = log_level_parse(value);

	if (level < 0) {
		snprintf(want, wantlen, "one of error, warning, notice, info, debug");
		return -1;
	}
	c->log_level = level;
	return 0;
}

static int set_firewall_lost(struct btb_config *c, const char *value, char *want, size_t wantlen)
{
	if (strcmp(value, "exit") == 0)
		c->firewall_lost_exit = 1;
	else if (strcmp(value, "log") == 0)
		c->firewall_lost_exit = 0;
	else {
		snprintf(want, wantlen, "exit or log");
		return -1;
	}
	return 0;
}

static const struct opt_def opt_table[] = {
	{ "config", OPT_CONFIG, 'c', required_argument, 0, "FILE",
	  "config file (default " CONFIG_DEFAULT_FILE ")",
	  PATH_GIVEN(config_path, config_explicit), NO_RELOAD },
	{ "queues", OPT_QUEUES, 'q', required_argument, 1, "A[-B]",
	  "NFQUEUE numbers to serve (default 0-N-1, N online CPUs)",
	  CUSTOM(set_queues, SPAN(queue_first, queue_last)), RESTART },
	{ "cpus", OPT_CPUS, 0, required_argument, 1, "LIST",
	  "CPUs to pin workers to, e.g. 0,2-3 (default round-robin)",
	  CUSTOM(set_cpus, SPAN(ncpus, cpus)), RESTART },
	{ "control", OPT_CONTROL, 's', required_argument, 1, "PATH",
	  "control socket (default " CONFIG_DEFAULT_CONTROL ")",
	  CUSTOM(set_control, TEXT(control_path)), RESTART },
	{ "control-group", OPT_CONTROL_GROUP, 0, required_argument, 1, "GROUP",
	  "group owning the control socket (default root)",
	  CUSTOM(set_control_group, TEXT(control_group)), RESTART },
	{ "control-mode", OPT_CONTROL_MODE, 0, required_argument, 1, "MODE",
	  "control socket permissions, 0600 or 0660 (default 0660)",
	  CUSTOM(set_control_mode, FIELD(control_mode)), RESTART },
	{ "copy-range", OPT_COPY_RANGE, 0, required_argument, 1, "BYTES",
	  "bytes of each packet copied to the daemon (default 4096)",
	  U32(copy_range, 64, 65531, "bytes"), RESTART },	/* kernel: 0xffff - NLA_HDRLEN */
	{ "queue-maxlen", OPT_QUEUE_MAXLEN, 0, required_argument, 1, "N",
	  "kernel queue length per queue (default 4096)",
	  U32(queue_maxlen, 16, 1048576, "packets"), RESTART },
	{ "rcvbuf", OPT_RCVBUF, 0, required_argument, 1, "BYTES",
	  "netlink receive buffer per queue (default 67108864)",
	  U32(rcvbuf, 65536, 1073741824, "bytes"), RESTART },
	{ "flow-capacity", OPT_FLOW_CAPACITY, 0, required_argument, 1, "N",
	  "flows tracked per worker (default 65536)",
	  U32(engine.flow_capacity, ENGINE_MIN_FLOW_CAPACITY, ENGINE_MAX_FLOW_CAPACITY, "flows"),
	  RESTART },
	{ "tcp-timeout", OPT_TCP_TIMEOUT, 0, required_argument, 1, "SECONDS",
	  "idle time after which a TCP flow is forgotten (default 300)",
	  U32(engine.tcp_timeout_s, ENGINE_MIN_TIMEOUT, ENGINE_MAX_TIMEOUT, "seconds"), RESTART },
	{ "udp-timeout", OPT_UDP_TIMEOUT, 0, required_argument, 1, "SECONDS",
	  "idle time after which a UDP flow is forgotten (default 60)",
	  U32(engine.udp_timeout_s, ENGINE_MIN_TIMEOUT, ENGINE_MAX_TIMEOUT, "seconds"), RESTART },
	{ "stream-prefix", OPT_STREAM_PREFIX, 0, required_argument, 1, "BYTES",
	  "payload bytes kept per flow direction for detection (default 1024)",
	  U32(engine.stream_prefix, ENGINE_MIN_STREAM_PREFIX, ENGINE_MAX_STREAM_PREFIX, "bytes"),
	  RESTART },
	{ "allow-after", OPT_ALLOW_AFTER, 0, required_argument, 1, "N",
	  "payload packets without detection before a flow is allowed (default 6)",
	  U32(engine.allow_after, ENGINE_MIN_ALLOW_AFTER, ENGINE_MAX_ALLOW_AFTER, "packets"),
	  RESTART },
	{ "endpoint-capacity", OPT_ENDPOINT_CAPACITY, 0, required_argument, 1, "N",
	  "known BitTorrent endpoints remembered per worker, 0: off (default 16384)",
	  U32(engine.endpoint_capacity, ENGINE_MIN_ENDPOINT_CAPACITY, ENGINE_MAX_ENDPOINT_CAPACITY,
	      "entries"), RESTART },
	{ "endpoint-ttl", OPT_ENDPOINT_TTL, 0, required_argument, 1, "SECONDS",
	  "how long a known endpoint is remembered (default 3600)",
	  U32(engine.endpoint_ttl_s, ENGINE_MIN_ENDPOINT_TTL, ENGINE_MAX_ENDPOINT_TTL, "seconds"),
	  RESTART },
	{ "protected-prefix", OPT_PROTECTED_PREFIX, 0, required_argument, 1, "LIST",
	  "the protected side's networks, e.g. 192.168.1.0/24,2001:db8:1::/48, or none "
	  "(default: the private ranges, unless protected-interface is set)",
	  CUSTOM(set_protected_prefix, FIELD(engine.protect)), RESTART },
	{ "protected-interface", OPT_PROTECTED_INTERFACE, 0, required_argument, 1, "LIST",
	  "interfaces of the protected side, e.g. br-lan,wlan0 (default: none)",
	  CUSTOM(set_protected_interface, SPAN(nprotect_ifaces, protect_ifaces)), RESTART },
	{ "monitor", OPT_MONITOR, 'm', no_argument, 1, NULL,
	  "detect, count and log, but never block", BOOL(monitor), RESTART },
	{ "reject", OPT_REJECT, 0, no_argument, 1, NULL,
	  "reset blocked TCP flows instead of dropping them silently", BOOL(reject), RESTART },
	{ "action", OPT_ACTION, 0, required_argument, 1, "ACTION",
	  "block, reject, monitor or 'throttle RATE' (default block; the ruleset "
	  "applies it, see btblockd-firewall)",
	  CUSTOM(set_action, SPAN(monitor, throttle)), RESTART },
	{ "exempt", OPT_EXEMPT, 0, required_argument, FIREWALL_KEY, NULL, NULL, IGNORE, NO_RELOAD },
	{ "exempt-remote", OPT_EXEMPT_REMOTE, 0, required_argument, FIREWALL_KEY, NULL, NULL,
	  IGNORE, NO_RELOAD },
	{ "schedule", OPT_SCHEDULE, 0, required_argument, FIREWALL_KEY, NULL, NULL,
	  IGNORE, NO_RELOAD },
	{ "mark-mask", OPT_MARK_MASK, 0, required_argument, 1, "MASK",
	  "packet and conntrack mark bits owned by btblockd (default 0x00ff0000)",
	  MARK(mark_mask), RESTART },
	{ "mark-allow", OPT_MARK_ALLOW, 0, required_argument, 1, "VALUE",
	  "mark of allowed flows, inside the mask (default 0x00a10000)",
	  MARK(mark_allow), RESTART },
	{ "mark-block", OPT_MARK_BLOCK, 0, required_argument, 1, "VALUE",
	  "mark of blocked flows to ban, inside the mask (default 0x00b10000)",
	  MARK(mark_block), RESTART },
	{ "mark-reject", OPT_MARK_REJECT, 0, required_argument, 1, "VALUE",
	  "mark of blocked TCP flows to ban with --reject (default 0x00b20000)",
	  MARK(mark_reject), RESTART },
	{ "mark-block-flow", OPT_MARK_BLOCK_FLOW, 0, required_argument, 1, "VALUE",
	  "mark of blocked flows not to ban (default 0x00b30000)", MARK(mark_block_flow), RESTART },
	{ "mark-reject-flow", OPT_MARK_REJECT_FLOW, 0, required_argument, 1, "VALUE",
	  "mark of blocked TCP flows not to ban, --reject (default 0x00b40000)",
	  MARK(mark_reject_flow), RESTART },
	{ "detect-log", OPT_DETECT_LOG, 0, required_argument, 1, "PATH",
	  "append one JSON line per detection to PATH", PATH(detect_log), RESTART },
	{ "detect-syslog", OPT_DETECT_SYSLOG, 0, no_argument, 1, NULL,
	  "send detections to syslog too", BOOL(detect_syslog), RESTART },
	{ "detect-log-rate", OPT_DETECT_LOG_RATE, 0, required_argument, 1, "N",
	  "at most N detection lines per second, the rest counted (default 50)",
	  U32(detect_log_rate, 1, 100000, "lines per second"), RESTART },
	{ "detect-log-max-size", OPT_DETECT_LOG_MAX_SIZE, 0, required_argument, 1, "N",
	  "rotate the detection log to PATH.1 past N bytes, 0: never (default 10485760)",
	  U32(detect_log_max_size, 0, UINT32_MAX, "bytes"), RESTART },
	{ "dhcp-leases", OPT_DHCP_LEASES, 0, required_argument, 1, "LIST",
	  "DHCP lease files naming LAN hosts in detections, or none "
	  "(default " LEASES_DEFAULT_PATHS ")",
	  CUSTOM(set_dhcp_leases, TEXT(dhcp_leases)), RESTART },
	{ "detect-exec", OPT_DETECT_EXEC, 0, required_argument, 1, "PROGRAM",
	  "run PROGRAM per detection, the detection as JSON on its standard input",
	  CUSTOM(set_detect_exec, TEXT(detect_exec)), RESTART },
	{ "detect-exec-rate", OPT_DETECT_EXEC_RATE, 0, required_argument, 1, "N",
	  "at most N detect-exec runs per minute, the rest counted (default 30)",
	  U32(detect_exec_rate, 1, 6000, "runs per minute"), RESTART },
	{ "fail-open", OPT_FAIL_OPEN, 0, no_argument, 1, NULL,
	  "accept packets when a queue is full (default)", BOOL(fail_open), RESTART },
	{ "fail-closed", OPT_FAIL_CLOSED, 0, no_argument, 1, NULL,
	  "drop packets when a queue is full", NEG_BOOL(fail_open), RESTART },
	{ "foreground", OPT_FOREGROUND, 'f', no_argument, 1, NULL,
	  "stay in the foreground and log to stderr", BOOL(foreground), RESTART },
	{ "syslog", OPT_SYSLOG, 0, no_argument, 1, NULL,
	  "log to syslog, in the foreground too", BOOL(syslog), RESTART },
	{ "pidfile", OPT_PIDFILE, 'p', required_argument, 1, "PATH",
	  "pid file (default " CONFIG_DEFAULT_PIDFILE ")",
	  PATH_GIVEN(pidfile, pidfile_explicit), RESTART },
	{ "log-level", OPT_LOG_LEVEL, 'l', required_argument, 1, "LEVEL",
	  "error, warning, notice (default), info or debug",
	  CUSTOM(set_log_level, FIELD(log_level)), LIVE },
	{ "user", OPT_USER, 'u', required_argument, 1, "USER",
	  "after start-up run as USER with only CAP_NET_ADMIN",
	  CUSTOM(set_user, TEXT(user)), RESTART },
	{ "seccomp", OPT_SECCOMP, 0, no_argument, 1, NULL,
	  "after start-up allow only the system calls the daemon needs", BOOL(seccomp), RESTART },
	{ "stall-timeout", OPT_STALL_TIMEOUT, 0, required_argument, 1, "SECONDS",
	  "report a worker without progress for this long (default 5)",
	  U32(stall_timeout_s, 1, 3600, "seconds"), LIVE },
	{ "state-file", OPT_STATE_FILE, 0, required_argument, 1, "PATH",
	  "keep learned endpoints and BitTorrent hosts in PATH across restarts, or none "
	  "(default none)", CUSTOM(set_state_file, TEXT(state_file)), RESTART },
	{ "state-interval", OPT_STATE_INTERVAL, 0, required_argument, 1, "SECONDS",
	  "save the state file this often when it changed (default 60)",
	  U32(state_interval_s, 1, 86400, "seconds"), RESTART },
	{ "firewall-lost", OPT_FIREWALL_LOST, 0, required_argument, 1, "ACTION",
	  "table inet btblockd or a part of it lost: exit with status 3 after 5 s, "
	  "for the service manager to restart btblockd and its rules, or log "
	  "(default exit)", CUSTOM(set_firewall_lost, FIELD(firewall_lost_exit)), LIVE },
	{ "read-pcap", OPT_READ_PCAP, 'r', no_argument, 0, NULL,
	  "classify the pcap FILEs given as arguments, print JSON lines, exit",
	  SET(read_pcap), NO_RELOAD },
	{ "help", OPT_HELP, 'h', no_argument, 0, NULL, "show this help and exit",
	  SET(show_help), NO_RELOAD },
	{ "version", OPT_VERSION, 'V', no_argument, 0, NULL, "show the version and exit",
	  SET(show_version), NO_RELOAD },
};

/* Apply one option. On a bad value, write what was expected into want. */
static int config_set(struct btb_config *c, const struct opt_def *o,
		      const char *value, char *want, size_t wantlen)
{
	void *field = (char *)c + o->field;
	int flag;

	switch (o->type) {
	case OT_U32:
		if (parse_u32(value, o->min, o->max, field) < 0) {
			snprintf(want, wantlen, "a number of %s from %u to %u", o->unit, o->min, o->max);
			return -1;
		}
		return 0;
	case OT_BOOL:
	case OT_NEG_BOOL:
		if (parse_bool(value, &flag) < 0) {
			snprintf(want, wantlen, "yes or no");
			return -1;
		}
		*(int *)field = o->type == OT_BOOL ? flag : !flag;
		return 0;
	case OT_PATH:
		if (copy_path(field, o->size, value) < 0) {
			snprintf(want, wantlen, "a path of 1 to %zu bytes", o->size - 1);
			return -1;
		}
		if (o->flag)
			*(int *)(void *)((char *)c + o->flag) = 1;
		return 0;
	case OT_MARK:
		if (parse_mark(value, field) < 0 || *(uint32_t *)field == 0) {
			snprintf(want, wantlen, "a non-zero 32-bit number such as 0x00b10000");
			return -1;
		}
		return 0;
	case OT_SET:
		*(int *)field = 1;
		return 0;
	case OT_CUSTOM:
		return o->parse(c, value, want, wantlen);
	case OT_IGNORE:
		return 0;	/* btblockd-firewall's keys: it checks them */
	}
	snprintf(want, wantlen, "nothing: internal error");
	return -1;
}

/* Checks across options, once everything is read. */
static int config_check_marks(const struct btb_config *c, char *err, size_t errlen)
{
	static const char *const names[] = {
		"mark-allow", "mark-block", "mark-reject", "mark-block-flow", "mark-reject-flow",
	};
	const uint32_t values[] = {
		c->mark_allow, c->mark_block, c->mark_reject, c->mark_block_flow, c->mark_reject_flow,
	};

	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		if (values[i] & ~c->mark_mask) {
			snprintf(err, errlen, "invalid value 0x%08x for --%s: it must lie inside --mark-mask 0x%08x",
				 values[i], names[i], c->mark_mask);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (values[i] == values[j]) {
				snprintf(err, errlen, "invalid value 0x%08x for --%s: it equals --%s",
					 values[i], names[i], names[j]);
				return -1;
			}
		}
	}
	return 0;
}

/* Defaults that depend on other options, once everything is read. */
static enum config_status config_finish(struct btb_config *c)
{
	/* interfaces alone name the protected side: the private ranges would
	 * also take in what lies behind the WAN (a modem's LAN, CGNAT) */
	if (c->nprotect_ifaces > 0 && !c->protect_prefix_set)
		(void)protect_parse(&c->engine.protect, "none");
	return CONFIG_OK;
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

		if (o->in_file == FIREWALL_KEY)
			continue;
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
	if (c->show_help || c->show_version)
		return CONFIG_OK;
	/* Offline mode: no file, so that captures classify the same anywhere. */
	if (c->read_pcap)
		return config_finish(c);
	/* The command line wins over the file: read the file, then argv again. */
	if (config_file_load(c, err, errlen) < 0)
		return CONFIG_ERROR;
	if (config_argv_pass(c, argc, argv, 0, err, errlen) < 0)
		return CONFIG_ERROR;
	if (config_check_marks(c, err, errlen) < 0)
		return CONFIG_ERROR;
	return config_finish(c);
}

/* One option's fields in a and b the same? Strings up to their NUL: a
 * shorter value leaves the bytes of a longer one behind it. */
static int opt_same(const struct opt_def *o, const struct btb_config *a,
		    const struct btb_config *b)
{
	const char *x = (const char *)a + o->field, *y = (const char *)b + o->field;

	if (o->text)
		return strncmp(x, y, o->size) == 0;
	return memcmp(x, y, o->size) == 0;
}

unsigned config_diff(const struct btb_config *a, const struct btb_config *b,
		     void (*fn)(void *arg, const char *name, enum config_reload reload),
		     void *arg)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];

		if (o->size == 0 || opt_same(o, a, b))
			continue;
		n++;
		if (fn)
			fn(arg, o->name, o->reload);
	}
	return n;
}

void config_take_live(struct btb_config *dst, const struct btb_config *src)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];

		if (o->reload == CONFIG_RELOAD_LIVE)
			memcpy((char *)dst + o->field, (const char *)src + o->field, o->size);
	}
}

/* "a, b and c": the names of the rows with in_file == which. */
static void opt_names(char *buf, size_t size, int which)
{
	size_t n = 0, k = 0, len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		n += opt_table[i].in_file == which;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(opt_table) && len < size; i++) {
		if (opt_table[i].in_file != which)
			continue;
		k++;
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					k == 1 ? "" : k == n ? " and " : ", ", opt_table[i].name);
	}
}

void config_usage(FILE *f, const char *prog)
{
	char cli_only[128], firewall_keys[128];

	fprintf(f, "Usage: %s [OPTION]...\n"
		   "       %s --read-pcap FILE...\n"
		   "Serve NFQUEUE queues and drop BitTorrent traffic.\n\n", prog, prog);
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];
		char lhs[64];

		if (o->in_file == FIREWALL_KEY)
			continue;

		snprintf(lhs, sizeof(lhs), "%c%c%s--%s%s%s",
			 o->short_opt ? '-' : ' ', o->short_opt ? o->short_opt : ' ',
			 o->short_opt ? ", " : "  ", o->name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
		fprintf(f, "  %-28s %s\n", lhs, o->help);
	}
	opt_names(cli_only, sizeof(cli_only), 0);
	opt_names(firewall_keys, sizeof(firewall_keys), FIREWALL_KEY);
	fprintf(f, "\nEvery option except %s can also be\n"
		   "set in the config file as 'name value' (flags: 'name' or 'name yes|no').\n"
		   "The file's keys %s belong to\n"
		   "btblockd-firewall, which reads them (and action) from the same file.\n"
		   "Stats: echo stats | socat - UNIX-CONNECT:%s\n", cli_only, firewall_keys,
		CONFIG_DEFAULT_CONTROL);
}
