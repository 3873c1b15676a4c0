/* sdnotify.h - the service manager's notify socket: start-up, reload and the watchdog. */
#ifndef BTBLOCKD_SDNOTIFY_H
#define BTBLOCKD_SDNOTIFY_H

#include <stdint.h>
#include <sys/types.h>

/* Send one state line ("READY=1", "WATCHDOG=1", ...) to $NOTIFY_SOCKET;
 * nothing when the variable is unset. 0 sent or nothing to do, -1 error. */
int sdnotify_send(const char *state);

/* How often to send WATCHDOG=1, in ms: half of usec ($WATCHDOG_USEC), so
 * that one late ping does not trip the service manager. 0 when no
 * watchdog is asked for: usec unset, empty, zero or not a number, or pid
 * ($WATCHDOG_PID, may be NULL) naming another process than self. */
int64_t sdnotify_watchdog_interval_ms(const char *usec, const char *pid, pid_t self);

/* Whether to send WATCHDOG=1 now: a watchdog is asked for, no worker is
 * stalled, and interval_ms has passed since the last one (last_ms < 0:
 * none sent yet). Withholding it while a worker is stalled lets the
 * service manager restart a daemon whose queue no longer moves. */
int sdnotify_watchdog_due(int64_t now_ms, int64_t last_ms, int64_t interval_ms,
			  unsigned stalled_workers);

#endif
