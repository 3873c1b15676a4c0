/* detection.c - a worker's detect_event, named for the administrator.
 *
 * Runs in the control thread: the lookups (netlink, lease files) cost
 * system calls, which workers never make. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <jansson.h>
#include "detect_exec.h"
#include "detection.h"
#include "json_esc.h"
#include "leases.h"
#include "netinfo.h"

int detection_lan_end(const struct detect_event *e)
{
	if (e->lan & DETECT_LAN_SRC)
		return 1;
	if (e->lan & DETECT_LAN_DST)
		return 0;
	return -1;
}

/* The LAN address (and MAC) as conntrack's tuples place it: the public
 * address is the other tuple's view of it. */
static void nat_from_tuples(struct detection *d, const uint8_t *lan, uint16_t lan_port,
			    const struct netinfo_tuple *o, const struct netinfo_tuple *r)
{
	size_t alen = d->ev.family == 6 ? 16 : 4;
	const uint8_t *pub;
	uint16_t pub_port;

	if (memcmp(o->src, lan, alen) == 0 && o->sport == lan_port) {
		/* the LAN end opened the connection: source NAT shows in the
		 * reply's destination */
		pub = r->dst;
		pub_port = r->dport;
	} else if (memcmp(r->src, lan, alen) == 0 && r->sport == lan_port) {
		/* the LAN end answered: destination NAT (a forwarded port)
		 * shows in the original's destination */
		pub = o->dst;
		pub_port = o->dport;
	} else {
		d->nat = NAT_UNTRANSLATED;
		return;
	}
	if (memcmp(pub, lan, alen) == 0 && pub_port == lan_port) {
		d->nat = NAT_UNTRANSLATED;
		return;
	}
	d->nat = NAT_TRANSLATED;
	memset(d->nat_addr, 0, sizeof(d->nat_addr));
	memcpy(d->nat_addr, pub, alen);
	d->nat_port = pub_port;
}

void detection_build(struct detection *d, const struct detect_event *e, struct netinfo *ni,
		     struct leases *ls, int64_t now_s, struct detection_counters *ctr)
{
	int end = detection_lan_end(e);
	const uint8_t *lan = end == 1 ? e->saddr : e->daddr;
	uint16_t lan_port = end == 1 ? e->sport : e->dport;
	uint32_t lan_if = end == 1 ? e->indev : e->outdev;
	struct netinfo_tuple o, r;
	const char *host;
	int ret;

	memset(d, 0, sizeof(*d));
	d->ev = *e;
	if (now_s != ctr->window_s) {
		ctr->window_s = now_s;
		ctr->used = 0;
	}
	if (!ni || ctr->used >= DETECTION_LOOKUPS_PER_S) {
		if (ni)
			COUNTER_INC(ctr->lookups_skipped);
		return;
	}
	ctr->used++;
	if (e->indev)
		netinfo_ifname(ni, e->indev, now_s, d->in);
	if (e->outdev)
		netinfo_ifname(ni, e->outdev, now_s, d->out);
	if (end < 0)
		return;
	/* The packet's hardware address is the LAN device's only when the
	 * packet came from it (and over Ethernet); otherwise the neighbour
	 * table knows the LAN address on the LAN side's interface. */
	if (end == 1 && e->hwaddr_len == 6) {
		memcpy(d->mac, e->hwaddr, 6);
		d->mac_from = MAC_PACKET;
		COUNTER_INC(ctr->mac_packet);
	} else if (netinfo_neigh(ni, e->family, lan, lan_if, d->mac) == 0) {
		d->mac_from = MAC_NEIGHBOUR;
		COUNTER_INC(ctr->mac_neighbour);
	}
	if (ls) {
		host = leases_lookup(ls, e->family, lan, d->mac_from ? d->mac : NULL);
		if (host) {
			snprintf(d->host, sizeof(d->host), "%s", host);
			COUNTER_INC(ctr->hosts_named);
		}
	}
	/* The packet as queued may already be translated (a forwarded
	 * port: the destination is the LAN address): conntrack then knows
	 * it reversed, as the reply tuple. */
	ret = netinfo_conntrack(ni, e->family, e->l4, e->saddr, e->daddr, e->sport, e->dport, &o, &r);
	if (ret == -ENOENT)
		ret = netinfo_conntrack(ni, e->family, e->l4, e->daddr, e->saddr, e->dport, e->sport,
					&o, &r);
	if (ret == 0) {
		nat_from_tuples(d, lan, lan_port, &o, &r);
		if (d->nat == NAT_TRANSLATED)
			COUNTER_INC(ctr->nat_translated);
		else
			COUNTER_INC(ctr->nat_untranslated);
	} else if (ret == -ENOENT) {
		d->nat = NAT_NO_ENTRY;
		COUNTER_INC(ctr->nat_no_entry);
	} else {
		d->nat = NAT_ERROR;
		COUNTER_INC(ctr->nat_errors);
	}
}

static void endpoint_str(char *buf, size_t size, int family, const uint8_t *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, size, family == 6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* A JSON string, or null when s is empty. Interface names may hold
 * quotes; everything outside printable ASCII is escaped. */
static void json_str(char *buf, size_t size, const char *s)
{
	size_t o;

	if (!s[0]) {
		snprintf(buf, size, "null");
		return;
	}
	buf[0] = '"';
	o = 1 + json_escape(buf + 1, size - 2, s, 1);
	buf[o++] = '"';
	buf[o] = '\0';
}

static const char *nat_status_name(enum detection_nat n)
{
	switch (n) {
	case NAT_TRANSLATED:
		return "translated";
	case NAT_UNTRANSLATED:
		return "untranslated";
	case NAT_NO_ENTRY:
		return "no-conntrack-entry";
	case NAT_ERROR:
		return "lookup-failed";
	case NAT_SKIPPED:
		break;
	}
	return "not-looked-up";
}

int detection_format(const struct detection *d, char *buf, size_t size)
{
	const struct detect_event *e = &d->ev;
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];
	char lan[INET6_ADDRSTRLEN + 10], remote[INET6_ADDRSTRLEN + 10], nat[INET6_ADDRSTRLEN + 24];
	char mac[24], in[100], out[100], host[100];
	time_t secs = (time_t)(e->wall_ms / 1000);
	int end = detection_lan_end(e);
	struct tm tm;
	char when[32];
	int n;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	endpoint_str(src, sizeof(src), e->family, e->saddr, e->sport);
	endpoint_str(dst, sizeof(dst), e->family, e->daddr, e->dport);
	if (end < 0) {
		snprintf(lan, sizeof(lan), "null");
		snprintf(remote, sizeof(remote), "null");
	} else {
		snprintf(lan, sizeof(lan), "\"%s\"", end ? src : dst);
		snprintf(remote, sizeof(remote), "\"%s\"", end ? dst : src);
	}
	if (d->mac_from)
		snprintf(mac, sizeof(mac), "\"%02x:%02x:%02x:%02x:%02x:%02x\"", d->mac[0], d->mac[1],
			 d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
	else
		snprintf(mac, sizeof(mac), "null");
	if (d->nat == NAT_TRANSLATED) {
		char pub[INET6_ADDRSTRLEN + 8];

		endpoint_str(pub, sizeof(pub), e->family, d->nat_addr, d->nat_port);
		snprintf(nat, sizeof(nat), "{\"public\":\"%s\"}", pub);
	} else {
		snprintf(nat, sizeof(nat), "null");
	}
	json_str(in, sizeof(in), d->in);
	json_str(out, sizeof(out), d->out);
	json_str(host, sizeof(host), d->host);
	n = snprintf(buf, size,
		     "{\"time\":\"%s.%03uZ\",\"queue\":%u,\"l4\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
		     "\"lan\":%s,\"remote\":%s,\"mac\":%s,\"mac_from\":%s%s%s,\"host\":%s,"
		     "\"in\":%s,\"out\":%s,\"nat\":%s,\"nat_status\":\"%s\","
		     "\"detector\":\"%s\",\"packet\":%u,\"action\":\"%s\"}",
		     when, (unsigned)(e->wall_ms % 1000), e->queue, e->l4 == IPPROTO_TCP ? "tcp" : "udp",
		     src, dst, lan, remote, mac,
		     d->mac_from ? "\"" : "null",
		     d->mac_from == MAC_PACKET ? "packet" : d->mac_from == MAC_NEIGHBOUR ? "neighbour" : "",
		     d->mac_from ? "\"" : "", host, in, out, nat, nat_status_name((enum detection_nat)d->nat),
		     e->detector ? e->detector : "", e->packet_index,
		     detect_action_name((enum detect_action)e->action));
	if (n < 0)
		return 0;
	return n < (int)size ? n : (int)size - 1;
}

void detection_history_add(struct detection_history *h, const struct detection *d)
{
	h->d[h->next] = *d;
	h->next = (h->next + 1) % DETECTION_HISTORY;
	if (h->count < DETECTION_HISTORY)
		h->count++;
}

char *detection_history_json(const struct detection_history *h, size_t max_bytes)
{
	size_t cap = 64 + (size_t)h->count * (DETECTION_LINE_MAX + 1), len, start, total = 0;
	char *lines = malloc(cap), *s;
	size_t off[DETECTION_HISTORY + 1];
	uint32_t first = (h->next + DETECTION_HISTORY - h->count) % DETECTION_HISTORY, skip = 0;

	if (!lines)
		return NULL;
	for (uint32_t i = 0; i < h->count; i++) {
		off[i] = total;
		total += (size_t)detection_format(&h->d[(first + i) % DETECTION_HISTORY], lines + total,
						  DETECTION_LINE_MAX);
		lines[total++] = ',';
	}
	off[h->count] = total;
	/* The reply goes out in one non-blocking send: the oldest give way
	 * until it fits, and their number is said. */
	while (skip < h->count && total - off[skip] + 64 > max_bytes)
		skip++;
	start = off[skip];
	s = malloc(total - start + 64);
	if (!s) {
		free(lines);
		return NULL;
	}
	len = (size_t)sprintf(s, "{\"omitted\":%u,\"detections\":[", skip);
	if (total > start) {
		memcpy(s + len, lines + start, total - start - 1);	/* without the last comma */
		len += total - start - 1;
	}
	memcpy(s + len, "]}", 3);
	free(lines);
	return s;
}

void detection_sink_handle(struct detection_sink *s, const struct detect_event *e,
			   struct detect_log *dlog, int64_t now_s)
{
	struct detection d;
	char line[DETECTION_LINE_MAX];

	if (s->ls && s->leases_checked_s != now_s) {
		leases_refresh(s->ls);
		s->leases_checked_s = now_s;
	}
	detection_build(&d, e, s->ni, s->ls, now_s, &s->ctr);
	detection_format(&d, line, sizeof(line));
	if (dlog)
		detect_log_write_line(dlog, line, (uint64_t)now_s);
	detection_history_add(&s->hist, &d);
	if (s->exec)
		detect_exec_send(s->exec, line, now_s);
}

json_t *detection_sink_stats(const struct detection_sink *s)
{
	const struct detection_counters *c = &s->ctr;
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			      "history", (json_int_t)s->hist.count,
			      "nat_translated", (json_int_t)COUNTER_GET(c->nat_translated),
			      "nat_untranslated", (json_int_t)COUNTER_GET(c->nat_untranslated),
			      "nat_no_entry", (json_int_t)COUNTER_GET(c->nat_no_entry),
			      "nat_errors", (json_int_t)COUNTER_GET(c->nat_errors),
			      "mac_packet", (json_int_t)COUNTER_GET(c->mac_packet),
			      "mac_neighbour", (json_int_t)COUNTER_GET(c->mac_neighbour),
			      "hosts_named", (json_int_t)COUNTER_GET(c->hosts_named),
			      "lookups_skipped", (json_int_t)COUNTER_GET(c->lookups_skipped));
	unsigned entries = 0;

	if (!o)
		return NULL;
	if (s->ls)
		for (unsigned i = 0; i < s->ls->nfiles; i++)
			entries += s->ls->file[i].nentries;
	json_object_set_new(o, "lease_entries", json_integer(entries));
	if (s->exec)
		json_object_set_new(o, "exec", json_pack("{s:I,s:I,s:I}",
							 "runs", (json_int_t)COUNTER_GET(s->exec->runs),
							 "failures", (json_int_t)COUNTER_GET(s->exec->failures),
							 "suppressed", (json_int_t)COUNTER_GET(s->exec->suppressed)));
	return o;
}
