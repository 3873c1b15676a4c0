/* ruleset.h - the daemon's view of its kernel ruleset: the ban counters
 * and ban sets of table inet btblockd, read over nftables netlink. */
#ifndef BTBLOCKD_RULESET_H
#define BTBLOCKD_RULESET_H

#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

struct nlmsghdr;
struct mnl_socket;

#define RULESET_TABLE		"btblockd"	/* family inet */
#define RULESET_POLL_MS		2000		/* a reading every 2 s */
#define RULESET_WARN_MS		60000		/* "ban set full" at most once a minute */
#define RULESET_RECV_TIMEOUT_MS	200		/* per reply: the reader never hangs */
#define RULESET_BUF_SIZE	32768		/* one dump datagram */

/* One ban set as the kernel describes it. */
struct ruleset_set {
	int present;
	uint32_t size;			/* most elements; 0: not given */
	uint64_t timeout_ms;		/* element timeout; 0: none */
};

/* One reading of the table. */
struct ruleset_view {
	int loaded;			/* table inet btblockd exists */
	int error;			/* errno of a failed reading (table absent: 0) */
	int has_bans, has_bans_failed;	/* the named counters exist */
	uint64_t bans;			/* flows whose pair was banned */
	uint64_t bans_failed;		/* flows whose pair could not be: set full */
	struct ruleset_set ban4, ban6;
	int64_t read_ms;		/* CLOCK_MONOTONIC ms of the reading; 0: none yet */
};

/* Owned by the control thread once the daemon runs: no locks. */
struct ruleset {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	struct ruleset_view view;	/* the last reading */
	int64_t next_read_ms;
	/* The "ban set full" warning. */
	int have_baseline;
	uint64_t failed_seen;		/* bans_failed at the last reading */
	uint64_t failed_unreported;	/* failures not yet in a warning */
	int64_t last_warn_ms;		/* 0: never warned */
	int logged_error;		/* the errno last logged, -1: "not loaded" */
	char buf[RULESET_BUF_SIZE];
};

/* Open and bind the netlink socket (at start-up: while still root, before
 * the seccomp filter, which allows only sending and receiving on it
 * later). On failure the view says why and no reading is ever tried. */
int ruleset_open(struct ruleset *r, char *err, size_t errlen);

/* Read the table when a reading is due (every RULESET_POLL_MS), log a
 * ban set that turned full; now_ms is CLOCK_MONOTONIC. Control thread. */
void ruleset_poll(struct ruleset *r, int64_t now_ms);

/* Read the table now, whatever the time. */
void ruleset_read(struct ruleset *r, int64_t now_ms);

/* The "ruleset" object of the stats document. */
json_t *ruleset_json(const struct ruleset_view *v, int64_t now_ms);

/* Close the socket. */
void ruleset_close(struct ruleset *r);

/* Exposed for the unit tests: one NEWSET or NEWOBJ message of a dump into
 * the view (others are ignored); the request of a dump; the warning
 * logic applied to a reading. */
int ruleset_parse_set(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_obj(const struct nlmsghdr *nlh, struct ruleset_view *v);
struct nlmsghdr *ruleset_dump_request(char *buf, uint16_t msg_type, uint32_t seq);
/* One datagram of a dump reply: 1 when the dump is complete, 0 when more
 * is to come, -errno when the kernel refused it or a message is malformed. */
int ruleset_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		 struct ruleset_view *v);
void ruleset_note(struct ruleset *r, const struct ruleset_view *v, int64_t now_ms);

#endif
