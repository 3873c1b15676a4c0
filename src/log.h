/* log.h - one logging API: syslog priorities, stderr in the foreground. */
#ifndef BTBLOCKD_LOG_H
#define BTBLOCKD_LOG_H

#include <syslog.h>

/* Start logging: to stderr when to_stderr, else to syslog as ident. */
void log_init(const char *ident, int to_stderr, int level);

/* Change the threshold (a LOG_* priority) at run time, e.g. on SIGHUP. */
void log_set_level(int level);

/* Current threshold. */
int log_get_level(void);

/* Log one message at a LOG_* priority if it passes the threshold. */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a level name (error, warning, notice, info, debug); -1 if unknown. */
int log_level_parse(const char *name);

/* The name of a LOG_* level. */
const char *log_level_name(int level);

/* Close syslog. */
void log_fini(void);

#define LOG(prio, ...) log_msg(prio, __VA_ARGS__)

#endif
