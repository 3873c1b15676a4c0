/* pcap_replay.c - the offline mode: pcap and pcapng through libpcap,
 * link layers peeled down to IP (Ethernet with VLAN/QinQ and PPPoE, Linux
 * SLL and SLL2, raw IP, BSD loopback), each packet through the very same
 * engine as the live path, and one JSON line per flow when it ends. */
#include "sysincl.h"
#include "pcap_replay.h"
#include "engine.h"
#include "json_esc.h"
#include "packet.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETH_IP4 0x0800
#define ETH_IP6 0x86dd

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* From an ethertype at frame[off - 2]: VLAN tags and PPPoE sessions are
 * skipped; returns the IP offset or -1. */
static long ether_payload(const uint8_t *f, size_t caplen, size_t off)
{
	int tags = 0;

	for (;;) {
		uint16_t type;

		if (off < 2 || off > caplen)
			return -1;
		type = be16(f + off - 2);
		if (type == ETH_IP4 || type == ETH_IP6)
			return (long)off;
		if ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && tags++ < 4) {
			off += 4;	/* tag control, then the next type */
			continue;
		}
		if (type == 0x8864 && off + 8 <= caplen) {	/* PPPoE session */
			uint16_t ppp = be16(f + off + 6);

			if (ppp == 0x0021 || ppp == 0x0057)
				return (long)(off + 8);
		}
		return -1;
	}
}

static int is_af(uint32_t fam)
{
	return fam == 2 || fam == 10 || fam == 24 || fam == 28 || fam == 30;
}

long pcap_replay_l3_offset(int dlt, const uint8_t *f, size_t caplen)
{
	uint32_t fam;

	switch (dlt) {
	case DLT_EN10MB:
		return caplen >= 14 ? ether_payload(f, caplen, 14) : -1;
	case DLT_LINUX_SLL:
		return caplen >= 16 ? ether_payload(f, caplen, 16) : -1;
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			return -1;
		return be16(f) == ETH_IP4 || be16(f) == ETH_IP6 ? 20 : -1;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return 0;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return -1;
		/* DLT_NULL holds the address family in the capturing host's
		 * byte order, DLT_LOOP in network order.  The capturing host
		 * is not this one: read the word both ways, explicitly (ntohl
		 * is a no-op on a big-endian reader), for AF_INET (2) and the
		 * AF_INET6 values of Linux and the BSDs. */
		fam = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
		      (uint32_t)f[3] << 24;
		if (is_af(fam))
			return 4;
		fam = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 |
		      (uint32_t)f[3];
		if (is_af(fam))
			return 4;
		return -1;
	default:
		return -1;
	}
}

struct replay {
	FILE *out;
	char name[6 * NAME_MAX + 8];	/* basename of the current file, escaped */
};

static void print_ep(FILE *out, int family, const uint8_t *addr, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf)))
		strcpy(buf, "?");
	fprintf(out, "\"%s:%u\"", buf, port);
}

static void flow_done(void *arg, const struct flow *f)
{
	struct replay *r = arg;
	int blocked = f->verdict == ENGINE_BLOCK;

	fprintf(r->out, "{\"pcap\": \"%s\", \"l4\": \"%s\", \"src\": ", r->name,
		f->l4 == IPPROTO_TCP ? "tcp" : "udp");
	print_ep(r->out, f->family, f->a, f->pa);
	fputs(", \"dst\": ", r->out);
	print_ep(r->out, f->family, f->b, f->pb);
	fprintf(r->out, ", \"verdict\": \"%s\", \"reason\": \"%s\", \"ban\": %s, \"packets\": %u, \"decided_at\": ",
		blocked ? "block" : "allow",
		blocked ? dpi_name((enum dpi_id)f->reason) : "",
		blocked && (f->flags & FLOW_F_BAN) ? "true" : "false", f->packets);
	if (f->verdict != ENGINE_UNDECIDED)
		fprintf(r->out, "%u}\n", f->decided_at);
	else
		fputs("null}\n", r->out);
}

static int replay_file(struct engine *e, const char *path, struct replay *r)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	const char *slash = strrchr(path, '/');
	pcap_t *p;
	int dlt, rc, status = 0;

	p = pcap_open_offline(path, err);
	if (!p) {
		/* libpcap's message may already name the file */
		if (strncmp(err, path, strlen(path)) == 0)
			fprintf(stderr, "btblockd: %s\n", err);
		else
			fprintf(stderr, "btblockd: %s: %s\n", path, err);
		return 1;
	}
	/* File names are the only free text of the output. */
	json_escape(r->name, sizeof(r->name), slash ? slash + 1 : path, 0);
	dlt = pcap_datalink(p);
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		struct pkt_view v;
		struct engine_result res;
		long off = pcap_replay_l3_offset(dlt, data, h->caplen);
		uint64_t now;

		if (off < 0 || (size_t)off >= h->caplen)
			continue;
		if (pkt_parse(&v, data + off, h->caplen - (size_t)off,
			      h->len > (bpf_u_int32)off ? h->len - (size_t)off : h->caplen - (size_t)off) != PKT_OK)
			continue;
		now = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec * 1000ULL;
		engine_process(e, &v, now, &res);
	}
	if (rc == -1) {
		fprintf(stderr, "btblockd: %s: %s\n", path, pcap_geterr(p));
		status = 1;
	}
	/* Flows seen so far are still reported: a truncated capture keeps
	 * what it has. */
	engine_reset(e);
	pcap_close(p);
	return status;
}

int pcap_replay_run(const struct engine_config *c, int nfiles, char *const files[], FILE *out)
{
	struct engine *e;
	struct bthosts hosts;
	struct replay r;
	int i, status = 0;

	e = malloc(sizeof(*e));
	if (!e || engine_init(e, c) < 0) {
		fprintf(stderr, "btblockd: cannot set up the engine (out of memory?)\n");
		free(e);
		return 1;
	}
	if (bthosts_init(&hosts, 1, 1) < 0) {
		fprintf(stderr, "btblockd: cannot set up the engine (out of memory?)\n");
		engine_fini(e);
		free(e);
		return 1;
	}
	r.out = out;
	r.name[0] = '\0';
	engine_set_flow_end(e, flow_done, &r);
	/* The hosts seen running BitTorrent, as the live workers share
	 * them; each capture starts afresh, like the engine. */
	engine_set_bthosts(e, &hosts, 0);
	for (i = 0; i < nfiles; i++) {
		status |= replay_file(e, files[i], &r);
		bthosts_clear(&hosts);
	}
	bthosts_fini(&hosts);
	engine_fini(e);
	free(e);
	fflush(out);
	return status;
}
