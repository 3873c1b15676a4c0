/* log.c - logging to syslog or, in the foreground, to stderr. */
#include "sysincl.h"
#include "log.h"

static int log_to_stderr = 1;
static int log_threshold = LOG_NOTICE;
static const char *log_ident = PACKAGE;

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

void log_init(const char *ident, int to_stderr, int level)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_set_level(level);
	/* Detached, our messages go to syslog; detections (--detect-syslog)
	 * always do, in the foreground too: both under our name and the
	 * daemon facility. Without LOG_NDELAY nothing connects until the
	 * first message. */
	openlog(ident, LOG_PID | (to_stderr ? 0 : LOG_NDELAY), LOG_DAEMON);
}

void log_set_level(int level)
{
	__atomic_store_n(&log_threshold, level, __ATOMIC_RELAXED);
}

int log_get_level(void)
{
	return __atomic_load_n(&log_threshold, __ATOMIC_RELAXED);
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (prio > log_get_level())
		return;

	va_start(ap, fmt);
	if (!log_to_stderr) {
		vsyslog(prio, fmt, ap);
		va_end(ap);
		return;
	}
	/* One write per line keeps lines from several threads whole. */
	n = snprintf(line, sizeof(line), "%s: ", log_ident);
	if (n < 0)
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(log_levels); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

const char *log_level_name(int level)
{
	for (size_t i = 0; i < ARRAY_SIZE(log_levels); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return "unknown";
}

void log_fini(void)
{
	closelog();
}
