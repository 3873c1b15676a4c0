/* dpi_bench.c - cost of the DPI engine: ns per packet over capture files
 * (all packets, one thread, parsing and flow decisions included, files
 * loaded into memory first so no I/O is timed), and worst-case inputs
 * (maximal bencode nesting, 64 KiB payloads); median of several runs. */
#include "engine.h"
#include "packet.h"
#include "pcap_replay.h"
#include "dpi/bencode.h"

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct frame {
	const uint8_t *ip;	/* into the arena */
	uint32_t caplen;
	uint32_t wirelen;
	uint64_t ts_ns;
};

struct corpus {
	uint8_t *arena;
	size_t used, cap;
	struct frame *frames;
	size_t nframes, framecap;
	size_t *file_end;	/* frame index where each file ends */
	int nfiles;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "dpi_bench: out of memory\n");
		exit(1);
	}
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Copy every IP packet of every readable file into one arena; the arena
 * is never reallocated once frames point into it (two passes). */
static void load(struct corpus *c, int n, char **files)
{
	int pass, i;

	memset(c, 0, sizeof(*c));
	c->file_end = xrealloc(NULL, sizeof(*c->file_end) * (size_t)(n ? n : 1));
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			c->arena = xrealloc(NULL, c->cap ? c->cap : 1);
			c->frames = xrealloc(NULL, sizeof(*c->frames) * (c->framecap ? c->framecap : 1));
		}
		c->nfiles = 0;
		for (i = 0; i < n; i++) {
			char err[PCAP_ERRBUF_SIZE];
			struct pcap_pkthdr *h;
			const u_char *d;
			pcap_t *p = pcap_open_offline(files[i], err);
			int dlt;

			if (!p)
				continue;
			dlt = pcap_datalink(p);
			while (pcap_next_ex(p, &h, &d) == 1) {
				long off = pcap_replay_l3_offset(dlt, d, h->caplen);
				size_t len;

				if (off < 0 || (size_t)off >= h->caplen)
					continue;
				len = h->caplen - (size_t)off;
				if (pass == 0) {
					c->cap += len;
					c->framecap++;
					continue;
				}
				memcpy(c->arena + c->used, d + off, len);
				c->frames[c->nframes].ip = c->arena + c->used;
				c->frames[c->nframes].caplen = (uint32_t)len;
				c->frames[c->nframes].wirelen = h->len > (bpf_u_int32)off ?
					(uint32_t)(h->len - (size_t)off) : (uint32_t)len;
				c->frames[c->nframes].ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ULL +
					(uint64_t)h->ts.tv_usec * 1000ULL;
				c->used += len;
				c->nframes++;
			}
			pcap_close(p);
			if (pass == 1)
				c->file_end[c->nfiles++] = c->nframes;
		}
	}
}

/* Reset the engine between files as the offline mode does; -k keeps the
 * state from file to file instead, like one long-running worker seeing
 * the whole corpus (a fresh engine for each run). */
static int reset_between_files = 1;

/* One pass over the corpus; returns the ns spent in parse + engine. */
static uint64_t run_corpus(struct engine *e, const struct corpus *c, uint64_t *blocked)
{
	uint64_t total = 0;
	size_t f = 0, i;
	int file;

	*blocked = 0;
	for (file = 0; file < c->nfiles; file++) {
		uint64_t t0 = now_ns();

		for (i = f; i < c->file_end[file]; i++) {
			struct pkt_view v;
			struct engine_result r;

			if (pkt_parse(&v, c->frames[i].ip, c->frames[i].caplen,
				      c->frames[i].wirelen) != PKT_OK)
				continue;
			engine_process(e, &v, c->frames[i].ts_ns, &r);
			*blocked += r.verdict == ENGINE_BLOCK;
		}
		total += now_ns() - t0;
		f = c->file_end[file];
		if (reset_between_files)
			engine_reset(e);	/* as the offline mode does */
	}
	return total;
}

/* The floor: the same pass with pkt_parse only, no engine. */
static uint64_t run_parse_only(const struct corpus *c, uint64_t *ok)
{
	uint64_t t0 = now_ns();
	size_t i;

	*ok = 0;
	for (i = 0; i < c->nframes; i++) {
		struct pkt_view v;

		*ok += pkt_parse(&v, c->frames[i].ip, c->frames[i].caplen,
				 c->frames[i].wirelen) == PKT_OK;
	}
	return now_ns() - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Worst case: each packet a new flow carrying payload[0..len), so every
 * detector that applies runs on it. Returns median ns per packet. */
static double worst(struct engine *e, int l4, const uint8_t *payload, uint32_t len,
		    int iters, int repeats)
{
	uint64_t t[16];
	int r, i;

	if (repeats > 16)
		repeats = 16;
	for (r = 0; r < repeats; r++) {
		uint64_t t0 = now_ns();

		for (i = 0; i < iters; i++) {
			struct pkt_view v;
			struct engine_result res;

			memset(&v, 0, sizeof(v));
			v.family = 4;
			v.l4proto = (uint8_t)l4;
			v.saddr[0] = 10;
			v.saddr[2] = (uint8_t)(i >> 8);
			v.saddr[3] = (uint8_t)i;
			v.daddr[0] = 192;
			v.daddr[3] = 1;
			v.sport = (uint16_t)(1024 + r);
			v.dport = 6881;
			v.tcp_seq = 1;
			v.tcp_flags = 0x18;
			v.payload = payload;
			v.payload_len = len;
			v.payload_wire_len = len;
			engine_process(e, &v, 1000000000ULL, &res);
		}
		t[r] = now_ns() - t0;
		engine_reset(e);
	}
	qsort(t, (size_t)repeats, sizeof(t[0]), cmp_u64);
	return (double)t[repeats / 2] / iters;
}

#define WS_UPGRADE "GET /announce HTTP/1.1\r\nUpgrade: websocket\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

static void worst_cases(struct engine *e, int repeats)
{
	static uint8_t buf[65536];
	uint32_t i, n;
	double ns;

	/* maximal bencode nesting, then the same 64 KiB deep (rejected at
	 * the depth limit) */
	n = 0;
	buf[n++] = 'd';
	memcpy(buf + n, "1:a", 3);
	n += 3;
	for (i = 0; i < BENCODE_MAX_DEPTH - 1; i++)
		buf[n++] = 'l';
	for (i = 0; i < BENCODE_MAX_DEPTH - 1; i++)
		buf[n++] = 'e';
	memcpy(buf + n, "1:t2:aa1:y1:qe", 14);
	n += 14;
	ns = worst(e, IPPROTO_UDP, buf, n, 20000, repeats);
	printf("worst udp bencode nested to the depth limit (%u B): %.1f ns/packet\n", n, ns);
	memset(buf, 'l', sizeof(buf));
	buf[0] = 'd';
	ns = worst(e, IPPROTO_UDP, buf, sizeof(buf), 2000, repeats);
	printf("worst udp 64 KiB of nesting (over the limit): %.1f ns/packet\n", ns);
	/* a dictionary of tiny entries as large as a KRPC message may be,
	 * then 64 KiB of it (refused by size) */
	n = 0;
	buf[n++] = 'd';
	while (n + 16 < 2000) {
		memcpy(buf + n, "1:zi1e", 6);
		n += 6;
	}
	memcpy(buf + n, "1:t2:aa1:y1:qe", 14);
	n += 14;
	ns = worst(e, IPPROTO_UDP, buf, n, 2000, repeats);
	printf("worst udp bencoded dictionary of %u B: %.1f ns/packet\n", n, ns);
	n = 0;
	buf[n++] = 'd';
	while (n + 16 < sizeof(buf)) {
		memcpy(buf + n, "1:zi1e", 6);
		n += 6;
	}
	memcpy(buf + n, "1:t2:aa1:y1:qe", 14);
	n += 14;
	ns = worst(e, IPPROTO_UDP, buf, n, 200, repeats);
	printf("worst udp 64 KiB bencoded dictionary (%u B): %.1f ns/packet\n", n, ns);
	/* 64 KiB GSO payloads on new TCP flows */
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	ns = worst(e, IPPROTO_TCP, buf, sizeof(buf), 2000, repeats);
	printf("worst tcp 64 KiB random payload: %.1f ns/packet\n", ns);
	memset(buf, 0, sizeof(buf));	/* 16384 keep-alives for the framer */
	ns = worst(e, IPPROTO_TCP, buf, sizeof(buf), 2000, repeats);
	printf("worst tcp 64 KiB of keep-alives: %.1f ns/packet\n", ns);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'm', sizeof(buf) - 5);
	ns = worst(e, IPPROTO_TCP, buf, sizeof(buf), 2000, repeats);
	printf("worst tcp 64 KiB HTTP-looking head: %.1f ns/packet\n", ns);
	ns = worst(e, IPPROTO_UDP, buf, sizeof(buf), 2000, repeats);
	printf("worst udp 64 KiB datagram: %.1f ns/packet\n", ns);
	/* a masked WebSocket text frame of JSON quotes (every byte starts a
	 * key search), alone and behind an Upgrade request */
	n = (uint32_t)sizeof(buf) - 8;
	memcpy(buf, "\x81\xfe\0\0\0\0\0\0{", 9);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memset(buf + 9, '"', sizeof(buf) - 9);
	ns = worst(e, IPPROTO_TCP, buf, sizeof(buf), 2000, repeats);
	printf("worst tcp 64 KiB WebSocket frame of quotes: %.1f ns/packet\n", ns);
	n = (uint32_t)strlen(WS_UPGRADE);
	memmove(buf + n, buf, sizeof(buf) - n);
	memcpy(buf, WS_UPGRADE, n);
	ns = worst(e, IPPROTO_TCP, buf, sizeof(buf), 2000, repeats);
	printf("worst tcp 64 KiB WebSocket Upgrade and frame of quotes: %.1f ns/packet\n", ns);
}

int main(int argc, char **argv)
{
	struct engine_config cfg;
	struct engine *e;
	struct corpus c;
	uint64_t t[64], blocked = 0;
	int repeats = 9, first = 1, r, want_worst = 0;

	/* dpi_bench [-r RUNS] [-k] [-w] [FILE...]: -k keeps engine state from
	 * file to file, -w adds the worst cases (also run without files) */
	while (first < argc && argv[first][0] == '-') {
		if (strcmp(argv[first], "-r") == 0 && first + 1 < argc) {
			repeats = atoi(argv[first + 1]);
			first += 2;
		} else if (strcmp(argv[first], "-k") == 0) {
			reset_between_files = 0;
			first++;
		} else if (strcmp(argv[first], "-w") == 0) {
			want_worst = 1;
			first++;
		} else {
			fprintf(stderr, "usage: dpi_bench [-r RUNS] [-k] [-w] [FILE...]\n");
			return 2;
		}
	}
	if (repeats < 1 || repeats > 64) {
		fprintf(stderr, "dpi_bench: -r takes 1..64\n");
		return 2;
	}
	engine_config_defaults(&cfg);
	e = malloc(sizeof(*e));
	if (!e || engine_init(e, &cfg) < 0) {
		fprintf(stderr, "dpi_bench: cannot set up the engine\n");
		return 1;
	}
	if (argc > first) {
		load(&c, argc - first, argv + first);
		(void)run_corpus(e, &c, &blocked);	/* warm the caches */
		for (r = 0; r < repeats; r++) {
			if (!reset_between_files) {
				engine_fini(e);
				if (engine_init(e, &cfg) < 0)
					return 1;
			}
			t[r] = run_corpus(e, &c, &blocked);
		}
		qsort(t, (size_t)repeats, sizeof(t[0]), cmp_u64);
		{
			uint64_t f[64], ok = 0;

			for (r = 0; r < repeats; r++)
				f[r] = run_parse_only(&c, &ok);
			qsort(f, (size_t)repeats, sizeof(f[0]), cmp_u64);
			printf("parse only (floor): median %.1f ns/packet; %llu packets TCP/UDP\n",
			       (double)f[repeats / 2] / (double)(c.nframes ? c.nframes : 1),
			       (unsigned long long)ok);
		}
		printf("corpus (%s): %d files, %zu packets (%zu bytes), %d runs: median %.1f ns/packet "
		       "(min %.1f, max %.1f); %llu packets got a block verdict\n",
		       reset_between_files ? "state reset per file" : "one engine for all files",
		       c.nfiles, c.nframes, c.used, repeats,
		       (double)t[repeats / 2] / (double)(c.nframes ? c.nframes : 1),
		       (double)t[0] / (double)(c.nframes ? c.nframes : 1),
		       (double)t[repeats - 1] / (double)(c.nframes ? c.nframes : 1),
		       (unsigned long long)blocked);
	}
	if (want_worst || argc <= first)
		worst_cases(e, repeats);
	engine_fini(e);
	free(e);
	return 0;
}
