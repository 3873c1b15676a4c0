/* config.h - command line and config file into one validated struct. */
#ifndef BTBLOCKD_CONFIG_H
#define BTBLOCKD_CONFIG_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include "engine.h"

#define CONFIG_DEFAULT_FILE	"/etc/btblockd.conf"
/* RUNSTATEDIR: configure's runstatedir, /run unless given (Makefile.am). */
#define CONFIG_DEFAULT_CONTROL	RUNSTATEDIR "/btblockd.sock"
#define CONFIG_DEFAULT_PIDFILE	RUNSTATEDIR "/btblockd.pid"
#define CONFIG_STATE_NAME_MAX	250	/* the state file's name: NAME.tmp fits NAME_MAX */
#define CONFIG_MAX_QUEUES	64
#define CONFIG_MAX_CPUS		256
#define CONFIG_PATH_MAX		4096
#define CONFIG_CONTROL_MAX	108	/* sizeof(sockaddr_un.sun_path), asserted in control.c */
#define CONFIG_NAME_MAX		33	/* user and group names: 32 bytes */
#define CONFIG_MAX_IFACES	16
#define CONFIG_IFNAME_MAX	16	/* IFNAMSIZ */

struct btb_config {
	char config_path[CONFIG_PATH_MAX];
	int config_explicit;		/* --config given: the file must exist */

	uint16_t queue_first;
	uint16_t queue_last;
	int ncpus;			/* 0: round-robin over online CPUs */
	int cpus[CONFIG_MAX_CPUS];

	char control_path[CONFIG_CONTROL_MAX];
	char control_group[CONFIG_NAME_MAX];	/* empty: the daemon's group (root) */
	uint32_t control_mode;		/* 0600 or 0660 */
	char user[CONFIG_NAME_MAX];	/* empty: stay root */
	int seccomp;			/* system call allowlist after start-up */
	uint32_t stall_timeout_s;	/* a worker silent this long is reported */
	int firewall_lost_exit;		/* table inet btblockd lost: exit (1) or log (0) */
	uint32_t copy_range;
	uint32_t queue_maxlen;
	uint32_t rcvbuf;
	int fail_open;
	int foreground;
	int syslog;			/* log to syslog in the foreground too */
	char pidfile[CONFIG_PATH_MAX];
	int pidfile_explicit;
	int log_level;			/* LOG_* priority */

	struct engine_config engine;	/* flow table, detectors, protected prefixes */
	int protect_prefix_set;		/* protected-prefix given */
	int nprotect_ifaces;		/* protected-interface names */
	char protect_ifaces[CONFIG_MAX_IFACES][CONFIG_IFNAME_MAX];
	int monitor;			/* detect and log, never block */
	int reject;			/* blocked TCP: mark_reject, reset by the ruleset */
	int throttle;			/* action throttle: block marks, the ruleset throttles */
	uint32_t mark_mask;		/* the mark bits that belong to btblockd */
	uint32_t mark_allow;
	uint32_t mark_block;
	uint32_t mark_reject;
	uint32_t mark_block_flow;	/* blocks the evidence does not let the ruleset ban */
	uint32_t mark_reject_flow;
	char detect_log[CONFIG_PATH_MAX];	/* empty: no file */
	int detect_syslog;
	uint32_t detect_log_rate;	/* lines per second */
	uint32_t detect_log_max_size;	/* bytes before PATH becomes PATH.1; 0: no cap */
	char dhcp_leases[CONFIG_PATH_MAX];	/* lease files, comma-separated, or "none" */
	char detect_exec[CONFIG_PATH_MAX];	/* program run per detection; empty: none */
	uint32_t detect_exec_rate;	/* its runs per minute at most */
	char state_file[CONFIG_PATH_MAX];	/* learned state across restarts, or "none" */
	uint32_t state_interval_s;	/* the most time a change waits to be saved */

	int show_help;
	int show_version;
	int read_pcap;			/* offline mode: files below */
	int npcap_files;
	char **pcap_files;		/* points into argv */
};

enum config_status {
	CONFIG_OK = 0,
	CONFIG_ERROR = -1,		/* message in err; exit status 2 */
};

/* What a SIGHUP does with a changed option. */
enum config_reload {
	CONFIG_RELOAD_LIVE = 1,		/* applied at once */
	CONFIG_RELOAD_RESTART,		/* takes effect on the next start */
	CONFIG_RELOAD_NONE,		/* not the running daemon's: config, help,
					 * read-pcap, btblockd-firewall's keys */
};

/* Fill c with the built-in defaults. */
void config_defaults(struct btb_config *c);

/* Defaults, then the config file (--config or the default path), then the
 * command line, which wins. On error err holds one sentence naming the
 * option and its origin. argv is not modified (it is re-read on reload). */
enum config_status config_load(struct btb_config *c, int argc, char *const argv[],
			       char *err, size_t errlen);

/* Call fn, if not NULL, with each option whose value differs between a
 * and b, in option table order, and its reload class; returns how many. */
unsigned config_diff(const struct btb_config *a, const struct btb_config *b,
		     void (*fn)(void *arg, const char *name, enum config_reload reload),
		     void *arg);

/* Copy the values of the options a reload applies at once from src. */
void config_take_live(struct btb_config *dst, const struct btb_config *src);

/* Print --help to f. */
void config_usage(FILE *f, const char *prog);

/* Number of queues configured. */
static inline unsigned config_nqueues(const struct btb_config *c)
{
	return (unsigned)(c->queue_last - c->queue_first) + 1;
}

/* The CPU that the worker of the i-th queue is pinned to. */
int config_worker_cpu(const struct btb_config *c, unsigned i);

#endif
