/* detection.h - a detection with the names an administrator needs to
 * find the device: the LAN end, its MAC and DHCP host name, the
 * interfaces, the NAT mapping. Built by the control thread from a
 * worker's detect_event; kept in a short history for "detections". */
#ifndef BTBLOCKD_DETECTION_H
#define BTBLOCKD_DETECTION_H

#include <stddef.h>
#include <stdint.h>
#include "detect_log.h"
#include "packet.h"
#include "protect.h"

struct leases;
struct netinfo;

#define DETECTION_HISTORY	256
#define DETECTION_LINE_MAX	1024	/* one formatted detection, with room */
/* The "detections" reply at most: it must fit the control socket's send
 * buffer (about 208 KB by default) in one non-blocking send. */
#define DETECTION_REPLY_MAX	(160u << 10)
/* Kernel lookups (interfaces, neighbour, conntrack) per second at most;
 * a flood of detections past that is logged without them. */
#define DETECTION_LOOKUPS_PER_S	200

/* The NAT lookup's outcome. */
enum detection_nat {
	NAT_SKIPPED = 0,	/* not asked (no LAN end, lookup budget spent) */
	NAT_TRANSLATED,		/* public holds the translated address */
	NAT_UNTRANSLATED,	/* the entry exists, the LAN end is not translated */
	NAT_NO_ENTRY,		/* conntrack has no entry (e.g. a first packet dropped) */
	NAT_ERROR,		/* conntrack did not answer */
};

enum detection_mac {
	MAC_NONE = 0,
	MAC_PACKET,		/* the queued packet's source, which came from the LAN end */
	MAC_NEIGHBOUR,		/* the kernel's neighbour table, for the LAN address */
};

struct detection {
	struct detect_event ev;
	char in[16], out[16];		/* interface names; empty when unknown */
	uint8_t mac_from;		/* enum detection_mac */
	uint8_t mac[6];
	char host[64];			/* DHCP host name; empty when unknown */
	uint8_t nat;			/* enum detection_nat */
	uint8_t nat_addr[16];		/* the LAN end as the world saw it */
	uint16_t nat_port;
};

/* Which of the packet's ends are on the protected side (DETECT_LAN_*),
 * by the test the engine fixes a flow's sides with: the interface it
 * came in on or leaves through, or the protected prefixes. */
static inline uint8_t detection_lan_sides(const struct protect_set *prot, const struct pkt_view *v)
{
	uint8_t lan = 0;

	if ((v->flags & PKT_F_IN_PROTECTED) || protect_match(prot, v->family, v->saddr))
		lan |= DETECT_LAN_SRC;
	if ((v->flags & PKT_F_OUT_PROTECTED) || protect_match(prot, v->family, v->daddr))
		lan |= DETECT_LAN_DST;
	return lan;
}

/* The LAN end of the event: 1 for its source, 0 for its destination, -1
 * when neither end is protected. Both protected (LAN to LAN): the source. */
int detection_lan_end(const struct detect_event *e);

struct detection_counters {
	uint64_t nat_translated;
	uint64_t nat_untranslated;
	uint64_t nat_no_entry;
	uint64_t nat_errors;
	uint64_t mac_packet;
	uint64_t mac_neighbour;
	uint64_t hosts_named;
	uint64_t lookups_skipped;	/* detections past DETECTION_LOOKUPS_PER_S */
	int64_t window_s;		/* the second the lookup budget belongs to */
	unsigned used;			/* lookups made in it */
};

/* Fill d from e: names, MAC, host name, NAT. ni and ls may be NULL (no
 * lookups); now_s (monotonic) meters the lookups per second. */
void detection_build(struct detection *d, const struct detect_event *e, struct netinfo *ni,
		     struct leases *ls, int64_t now_s, struct detection_counters *ctr);

/* One JSON object, no newline; returns its length (truncated to size - 1). */
int detection_format(const struct detection *d, char *buf, size_t size);

/* The last DETECTION_HISTORY detections, oldest first when read. */
struct detection_history {
	struct detection d[DETECTION_HISTORY];
	uint32_t next;			/* slot of the next one */
	uint32_t count;			/* slots used (up to DETECTION_HISTORY) */
};

void detection_history_add(struct detection_history *h, const struct detection *d);

/* {"omitted":N,"detections":[...]} oldest first, malloc'd, at most
 * max_bytes long: the N oldest are left out when all would not fit.
 * NULL when out of memory. */
char *detection_history_json(const struct detection_history *h, size_t max_bytes);

/* What the control thread keeps for detections: its lookups, the
 * history, the counters and the detect-exec hand-over. */
struct detect_exec;
struct detection_sink {
	struct netinfo *ni;		/* NULL: no kernel lookups */
	struct leases *ls;		/* NULL: no host names */
	struct detect_exec *exec;	/* NULL: no program */
	int64_t leases_checked_s;	/* the lease files are looked at once a second */
	struct detection_history hist;
	struct detection_counters ctr;
};

/* Name the event, log it (dlog may be NULL), keep it, hand it to the
 * program. now_s: monotonic seconds. */
void detection_sink_handle(struct detection_sink *s, const struct detect_event *e,
			   struct detect_log *dlog, int64_t now_s);

/* The sink's counters as one JSON object (jansson), for "stats". */
struct json_t;
struct json_t *detection_sink_stats(const struct detection_sink *s);

#endif
