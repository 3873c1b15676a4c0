/* sdnotify.c - the service manager's notify socket: start-up, reload and the watchdog.
 *
 * The protocol is one datagram per state to $NOTIFY_SOCKET; speaking it
 * directly avoids a dependency on libsystemd, which OpenWrt does not have. */
#include "sysincl.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "log.h"
#include "sdnotify.h"

int sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t plen;
	int fd, rc = 0;

	if (!path)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) {
		LOG(LOG_WARNING, "cannot notify the service manager (%s): %s", state, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/* A decimal number without sign or junk; 0 if it is not one. */
static uint64_t parse_decimal(const char *s)
{
	uint64_t v = 0;

	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || v > (UINT64_MAX - digit) / 10)
			return 0;
		v = v * 10 + digit;
	}
	return v;
}

int64_t sdnotify_watchdog_interval_ms(const char *usec, const char *pid, pid_t self)
{
	uint64_t us = parse_decimal(usec);
	uint64_t ms;

	if (us == 0)
		return 0;
	/* The variables are inherited: a child of the watched process is not it. */
	if (pid && *pid && parse_decimal(pid) != (uint64_t)self)
		return 0;
	ms = us / 2000;
	if (ms > INT64_MAX / 2)
		ms = INT64_MAX / 2;
	return ms > 0 ? (int64_t)ms : 1;
}

int sdnotify_watchdog_due(int64_t now_ms, int64_t last_ms, int64_t interval_ms,
			  unsigned stalled_workers)
{
	if (interval_ms <= 0 || stalled_workers > 0)
		return 0;
	return last_ms < 0 || now_ms - last_ms >= interval_ms;
}
