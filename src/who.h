/* who.h - answering an abuse notice ("who had PUBLIC:PORT at TIME?")
 * from the detection log; shared by btblockctl and its tests. */
#ifndef BTBLOCKD_WHO_H
#define BTBLOCKD_WHO_H

#include <stddef.h>
#include <stdint.h>

/* How far a detection may lie from the notice's time by default: the
 * notice's clock, the time the peer saw the connection and the time
 * btblockd decided differ by minutes, not hours. */
#define WHO_DEFAULT_WINDOW_S	600
#define WHO_LINE_MAX		8192	/* longer log lines are skipped */

struct who_endpoint {
	int family;			/* 4 or 6 */
	uint8_t addr[16];
	uint16_t port;
};

/* "192.0.2.1:40000" or "[2001:db8::1]:40000"; 0, or -1. */
int who_parse_endpoint(const char *s, struct who_endpoint *ep);

/*
 * A time as an abuse notice gives it, into unix seconds:
 *  - ISO 8601 in UTC or with an offset: 2026-12-03T10:15:00Z,
 *    2026-12-03T10:15:00+01:00 (seconds and fractions optional);
 *  - local time: "2026-12-03 10:15[:SS]" (or with a T and no zone);
 *  - unix seconds: 1796292900.
 * 0, or -1 when it is none of these.
 */
int who_parse_time(const char *s, int64_t *out);

struct who_query {
	struct who_endpoint ep;
	int have_time;
	int64_t at_s;
	int64_t window_s;
};

/* One log line's answer: 1 when it is a detection of the query's
 * endpoint (its NAT public address, or its LAN address when it was not
 * translated) within the window, 0 when not, -1 when it is no detection
 * line. *when_ms gets its time. */
int who_match_line(const char *line, const struct who_query *q, int64_t *when_ms);

#endif
