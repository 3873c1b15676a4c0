/* ruleset.h - the daemon's view of its kernel ruleset: the ban counters
 * and ban sets of table inet btblockd, read over nftables netlink, and the
 * watch that notices when the table or a part of it disappears. */
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
#define RULESET_GRACE_MS	5000		/* a loss this long ends the daemon (--firewall-lost exit) */
#define RULESET_EVENT_MIN_MS	250		/* readings on notifications: at most 4 a second */
#define RULESET_EVENT_BURST	64		/* notification datagrams drained per turn */
#define RULESET_MAX_CHAINS	64		/* chains of the table remembered per reading */
#define RULESET_NAME_MAX	32		/* their names (ours are short; longer ones are skipped) */
#define RULESET_MISSING_MAX	384		/* what is missing, as text */
#define RULESET_XT_CHAIN	"BTBLOCKD"	/* the xtables backend's chain, table mangle */

/* What the watch makes of the last reading. */
enum ruleset_state {
	RULESET_ABSENT,		/* never seen complete since start-up: not watched yet */
	RULESET_OK,		/* complete */
	RULESET_MISSING,	/* seen before, gone now */
	RULESET_DAMAGED,	/* there, but a part of it is missing */
	RULESET_UNKNOWN,	/* the reading failed */
};

/* A chain of the table: its name, whether it hooks (base chain), and the
 * rules it has. */
struct ruleset_chain {
	char name[RULESET_NAME_MAX];
	int base;
	uint32_t rules;
};

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
	/* What the watch checks (see ruleset_missing). */
	int has_handle;
	uint64_t handle;		/* the table's: another one means loaded again */
	int has_decided, has_verdicts;	/* the verdict maps */
	unsigned nchains;
	struct ruleset_chain chains[RULESET_MAX_CHAINS];
	int chains_overflow;		/* more chains than remembered */
	int queue_expr;			/* a rule queues: the nft backend */
	/* The xtables backend (no queue expression), per family, [0] ip and
	 * [1] ip6: read or not, rules of chain BTBLOCKD in table mangle and
	 * rules jumping to it. With iptables-legacy they are not in
	 * nftables and never seen. */
	int xt_read[2];
	uint32_t xt_rules[2], xt_jumps[2];
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
	/* The watch: notifications of ruleset changes (nftables multicast
	 * group) make a reading due at once. */
	struct mnl_socket *ev;
	int dirty;			/* a notification came since the last reading */
	int64_t last_read_ms;
	uint64_t notifications;		/* datagrams received on ev */
	enum ruleset_state state;
	char missing[RULESET_MISSING_MAX];	/* "set ban4, chain forward_decide" */
	int armed;			/* seen complete: a loss now counts */
	uint64_t base_handle;		/* the table the baseline is of */
	unsigned nbase;			/* its base chains, which must stay */
	char base[RULESET_MAX_CHAINS][RULESET_NAME_MAX];
	int xt_seen[2];			/* the xtables rules were seen, ip and ip6 */
	uint64_t lost;			/* losses seen (complete -> missing or damaged) */
	int64_t lost_since_ms;		/* 0: not lost now */
	int exit_on_loss;		/* --firewall-lost exit; atomic, set by main */
	int exit_requested;		/* atomic, read by main: leave with EXIT_FIREWALL_LOST */
	struct ruleset_view scratch;	/* the reading under way */
	char buf[RULESET_BUF_SIZE];
};

/* Open and bind the netlink sockets, the reader's and the one subscribed
 * to ruleset notifications (at start-up: while still root, before the
 * seccomp filter, which allows only sending and receiving on them later).
 * On failure the view says why and no reading is ever tried; without
 * notifications (err says why, return 1) the readings every
 * RULESET_POLL_MS still watch the table. exit_on_loss: --firewall-lost. */
int ruleset_open(struct ruleset *r, int exit_on_loss, char *err, size_t errlen);

/* The notification socket's descriptor, for poll(); -1 if none. */
int ruleset_event_fd(const struct ruleset *r);

/* Drain the notifications that arrived (bounded); a reading is then due. */
void ruleset_events(struct ruleset *r);

/* Read the table when a reading is due (every RULESET_POLL_MS, after a
 * notification, at the end of a loss's grace), log a ban set that turned
 * full and a table that went missing; now_ms is CLOCK_MONOTONIC. Control
 * thread. */
void ruleset_poll(struct ruleset *r, int64_t now_ms);

/* Main thread: --firewall-lost changed (reload); has the watch asked the
 * daemon to exit? */
void ruleset_set_exit_on_loss(struct ruleset *r, int exit_on_loss);
int ruleset_exit_requested(struct ruleset *r);

/* Read the table now, whatever the time. */
void ruleset_read(struct ruleset *r, int64_t now_ms);

/* The "ruleset" object of the stats document: the view and, when r is
 * given, the watch. */
json_t *ruleset_json(const struct ruleset_view *v, const struct ruleset *r, int64_t now_ms);

/* Close the socket. */
void ruleset_close(struct ruleset *r);

/* Exposed for the unit tests: one NEWSET or NEWOBJ message of a dump into
 * the view (others are ignored); the request of a dump; the warning
 * logic applied to a reading. */
int ruleset_parse_set(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_obj(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_table(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_chain(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_rule(const struct nlmsghdr *nlh, struct ruleset_view *v);
int ruleset_parse_xt_rule(const struct nlmsghdr *nlh, struct ruleset_view *v);
struct nlmsghdr *ruleset_dump_request(char *buf, uint16_t msg_type, uint32_t seq);
/* The same for family ip or ip6 and table mangle (rules of the xtables
 * backend). */
struct nlmsghdr *ruleset_dump_request_xt(char *buf, uint8_t family, uint32_t seq);
/* What the view lacks, as text in buf ("" when complete); the count. */
unsigned ruleset_missing(const struct ruleset *r, const struct ruleset_view *v,
			 char *buf, size_t len);
/* The watch applied to a reading: state, logs, the exit request. */
void ruleset_check(struct ruleset *r, const struct ruleset_view *v, int64_t now_ms);
/* One datagram of a dump reply: 1 when the dump is complete, 0 when more
 * is to come, -errno when the kernel refused it or a message is malformed. */
int ruleset_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		 struct ruleset_view *v);
void ruleset_note(struct ruleset *r, const struct ruleset_view *v, int64_t now_ms);

#endif
