/* udpperf.c - the pipeline benchmark's UDP traffic: a sendmmsg flood from
 * several source addresses (the queue balance hashes addresses, not ports),
 * a recvmmsg sink that counts what was delivered, and a paced
 * request/response pair (echo, ping) that reports round-trip percentiles. */
#include "sysincl.h"
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>

#define UP_BATCH 64
#define UP_BUF 2048		/* receive buffer per datagram */
#define UP_MAX_SOCKS 64
#define UP_MAX_LEN 1472
#define UP_RCVBUF (32 << 20)

struct opts {
	const char *srcs;	/* comma-separated source addresses */
	const char *dst;
	int port;
	double seconds;
	int len;		/* UDP payload bytes */
	int flows;		/* sockets (source ports) per source address */
	double rate;		/* ping: requests per second */
	const char *ifname;	/* gen: raw frames on this interface */
	const char *dmac;	/* gen: the next hop's MAC for raw frames */
};

#define UP_MAX_FRAMES 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "udpperf: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void set_addr(struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "udpperf: bad IPv4 address '%s'\n", ip);
		exit(2);
	}
}

static void big_rcvbuf(int fd)
{
	int size = UP_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* One connected socket per (source address, flow); returns the count. */
static int open_sources(const struct opts *o, int *fds)
{
	struct sockaddr_in dst, src;
	char list[1024], *save = NULL, *ip;
	int n = 0;

	set_addr(&dst, o->dst, o->port);
	snprintf(list, sizeof(list), "%s", o->srcs);
	for (ip = strtok_r(list, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		for (int f = 0; f < o->flows && n < UP_MAX_SOCKS; f++) {
			int fd = socket(AF_INET, SOCK_DGRAM, 0);

			if (fd < 0)
				die("socket");
			set_addr(&src, ip, 0);
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
				die("bind source");
			if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
				die("connect");
			big_rcvbuf(fd);
			fds[n++] = fd;
		}
	}
	if (n == 0) {
		fprintf(stderr, "udpperf: no source address\n");
		exit(2);
	}
	return n;
}

static int open_bound(const struct opts *o)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;

	if (fd < 0)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_addr(&sa, o->dst, o->port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	big_rcvbuf(fd);
	return fd;
}

/* Flood for o->seconds; the sink measures what arrives. */
static int run_gen(const struct opts *o)
{
	static uint8_t payload[UP_MAX_LEN];
	struct mmsghdr msgs[UP_BATCH];
	struct iovec iov = { payload, (size_t)o->len };
	int fds[UP_MAX_SOCKS];
	int n = open_sources(o, fds);
	uint64_t sent = 0, start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9);
	uint64_t t;
	int i = 0;

	memset(msgs, 0, sizeof(msgs));
	for (int k = 0; k < UP_BATCH; k++) {
		msgs[k].msg_hdr.msg_iov = &iov;
		msgs[k].msg_hdr.msg_iovlen = 1;
	}
	while ((t = now_ns()) < end) {
		int r = sendmmsg(fds[i], msgs, UP_BATCH, 0);

		if (r > 0)
			sent += (uint64_t)r;
		i = (i + 1) % n;
	}
	printf("sent %" PRIu64 " pps %.0f\n", sent, (double)sent * 1e9 / (double)(t - start));
	return 0;
}

static uint16_t ip_checksum(const uint8_t *h, int len)
{
	uint32_t sum = 0;

	for (int i = 0; i < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Raw mode: ready-made Ethernet/IPv4/UDP frames (one per source address
 * and flow) sent with sendmmsg on a packet socket that bypasses the
 * qdisc. The generator then skips its own UDP stack, so more of its CPU
 * is left for the router's forwarding path that runs in its context.
 */
static int run_gen_raw(const struct opts *o)
{
	static uint8_t frames[UP_MAX_FRAMES][14 + 20 + 8 + UP_MAX_LEN];
	struct mmsghdr msgs[UP_BATCH];
	struct iovec iov[UP_BATCH];
	struct sockaddr_ll ll;
	struct ifreq ifr;
	struct in_addr dst;
	char list[1024], *save = NULL, *ip;
	unsigned mac[6];
	int fd = socket(AF_PACKET, SOCK_RAW, 0), one = 1, nf = 0;
	int flen = 14 + 20 + 8 + o->len;
	uint64_t sent = 0, start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9), t;

	if (fd < 0)
		die("packet socket");
	if (sscanf(o->dmac, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, o->dst, &dst) != 1)
		exit(2);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		die("SIOCGIFHWADDR");
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_IP);
	ll.sll_ifindex = (int)if_nametoindex(o->ifname);
	if (bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		die("bind packet socket");
	snprintf(list, sizeof(list), "%s", o->srcs);
	for (ip = strtok_r(list, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		struct in_addr src;

		if (inet_pton(AF_INET, ip, &src) != 1)
			exit(2);
		for (int f = 0; f < o->flows && nf < UP_MAX_FRAMES; f++, nf++) {
			uint8_t *e = frames[nf], *h = e + 14, *u = h + 20;
			uint16_t sport = (uint16_t)(20000 + f), l3 = (uint16_t)(20 + 8 + o->len), c;

			for (int k = 0; k < 6; k++)
				e[k] = (uint8_t)mac[k];
			memcpy(e + 6, ifr.ifr_hwaddr.sa_data, 6);
			e[12] = 0x08;
			e[13] = 0x00;
			h[0] = 0x45;
			h[2] = (uint8_t)(l3 >> 8);
			h[3] = (uint8_t)l3;
			h[8] = 64;
			h[9] = IPPROTO_UDP;
			memcpy(h + 12, &src, 4);
			memcpy(h + 16, &dst, 4);
			c = ip_checksum(h, 20);
			h[10] = (uint8_t)(c >> 8);
			h[11] = (uint8_t)c;
			u[0] = (uint8_t)(sport >> 8);
			u[1] = (uint8_t)sport;
			u[2] = (uint8_t)(o->port >> 8);
			u[3] = (uint8_t)o->port;
			u[4] = (uint8_t)((8 + o->len) >> 8);
			u[5] = (uint8_t)(8 + o->len);	/* checksum 0: none (IPv4) */
		}
	}
	if (nf == 0)
		exit(2);
	memset(msgs, 0, sizeof(msgs));
	for (int k = 0; k < UP_BATCH; k++) {
		iov[k].iov_base = frames[k % nf];
		iov[k].iov_len = (size_t)flen;
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
	}
	while ((t = now_ns()) < end) {
		int r = sendmmsg(fd, msgs, UP_BATCH, 0);

		if (r > 0)
			sent += (uint64_t)r;
	}
	printf("sent %" PRIu64 " pps %.0f\n", sent, (double)sent * 1e9 / (double)(t - start));
	return 0;
}

/* One recvmmsg batch: buffer k in message k, with the sender's address in
 * peers[k] when peers is not NULL (reset before every receive: the kernel
 * shortens iov_len and msg_namelen). */
static void recv_batch_init(struct mmsghdr *msgs, struct iovec *iov,
			    uint8_t (*bufs)[UP_BUF], struct sockaddr_in *peers)
{
	memset(msgs, 0, sizeof(*msgs) * UP_BATCH);
	for (int k = 0; k < UP_BATCH; k++) {
		iov[k].iov_base = bufs[k];
		iov[k].iov_len = UP_BUF;
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
		if (peers) {
			msgs[k].msg_hdr.msg_name = &peers[k];
			msgs[k].msg_hdr.msg_namelen = sizeof(peers[k]);
		}
	}
}

/* Count datagrams; the rate is over first..last arrival. Stops after 1 s
 * of silence following the first datagram, or after o->seconds. */
static int run_sink(const struct opts *o)
{
	static uint8_t bufs[UP_BATCH][UP_BUF];
	struct mmsghdr msgs[UP_BATCH];
	struct iovec iov[UP_BATCH];
	int fd = open_bound(o);
	uint64_t count = 0, first = 0, last = 0, start = now_ns();
	uint64_t deadline = start + (uint64_t)(o->seconds * 1e9);
	struct timeval tv = { 0, 100000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	recv_batch_init(msgs, iov, bufs, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int r = recvmmsg(fd, msgs, UP_BATCH, MSG_WAITFORONE, NULL);
		uint64_t t = now_ns();

		if (r > 0) {
			if (!first)
				first = t;
			last = t;
			count += (uint64_t)r;
		}
		if (t > deadline || (first && t - last > 1000000000ULL))
			break;
	}
	printf("received %" PRIu64 " pps %.0f\n", count,
	       last > first ? (double)count * 1e9 / (double)(last - first) : 0.0);
	return 0;
}

/* Answer every datagram to its sender, batch by batch. */
static int run_echo(const struct opts *o)
{
	static uint8_t bufs[UP_BATCH][UP_BUF];
	struct sockaddr_in peers[UP_BATCH];
	struct mmsghdr msgs[UP_BATCH];
	struct iovec iov[UP_BATCH];
	int fd = open_bound(o);

	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int r;

		recv_batch_init(msgs, iov, bufs, peers);
		r = recvmmsg(fd, msgs, UP_BATCH, MSG_WAITFORONE, NULL);
		if (r <= 0)
			continue;
		for (int k = 0; k < r; k++)
			iov[k].iov_len = msgs[k].msg_len;
		(void)sendmmsg(fd, msgs, (unsigned)r, 0);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Paced requests (seq, send time) round-robin over the sources; replies
 * matched by sequence number. Prints p50/p99 round trip and losses. */
static int run_ping(const struct opts *o)
{
	int fds[UP_MAX_SOCKS];
	int n = open_sources(o, fds);
	uint64_t total = (uint64_t)(o->rate * o->seconds);
	uint64_t *rtt = calloc(total ? total : 1, sizeof(*rtt));
	uint64_t interval = (uint64_t)(1e9 / o->rate), got = 0, seq = 0;
	uint64_t start = now_ns(), next = start, stop_at = 0;
	struct pollfd pfd[UP_MAX_SOCKS];

	if (!rtt)
		die("calloc");
	for (int i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		uint64_t t = now_ns();
		struct timespec wait;

		while (seq < total && t >= next) {
			uint64_t msg[8] = { seq, now_ns() };

			(void)send(fds[seq % (uint64_t)n], msg, sizeof(msg), MSG_DONTWAIT);
			seq++;
			next += interval;
		}
		if (seq == total && !stop_at)
			stop_at = t + 500000000ULL;	/* late replies count as lost */
		if (stop_at && (t > stop_at || got == total))
			break;
		wait.tv_sec = 0;
		wait.tv_nsec = seq < total && next > t ? (long)(next - t) : 1000000;
		if (ppoll(pfd, (nfds_t)n, &wait, NULL) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			uint64_t msg[8];

			if (!(pfd[i].revents & POLLIN))
				continue;
			while (recv(fds[i], msg, sizeof(msg), MSG_DONTWAIT) == (ssize_t)sizeof(msg)) {
				if (msg[0] < total && !rtt[msg[0]]) {
					rtt[msg[0]] = now_ns() - msg[1];
					got++;
				}
			}
		}
	}
	{
		uint64_t *ok = calloc(got ? got : 1, sizeof(*ok)), m = 0;

		if (!ok)
			die("calloc");
		for (uint64_t i = 0; i < total; i++)
			if (rtt[i])
				ok[m++] = rtt[i];
		qsort(ok, m, sizeof(*ok), cmp_u64);
		printf("requests %" PRIu64 " replies %" PRIu64 " p50_us %.1f p99_us %.1f\n", total, m,
		       m ? (double)ok[m / 2] / 1000.0 : 0.0,
		       m ? (double)ok[m * 99 / 100] / 1000.0 : 0.0);
		free(ok);
	}
	free(rtt);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: udpperf gen  -s SRC[,SRC...] -d DST -p PORT [-t SEC] [-l LEN] [-f FLOWS]\n"
		"                    [-R IFNAME -M NEXTHOP_MAC]   (raw frames on a packet socket)\n"
		"       udpperf sink -d BIND -p PORT [-t MAXSEC]\n"
		"       udpperf echo -d BIND -p PORT\n"
		"       udpperf ping -s SRC[,SRC...] -d DST -p PORT [-r RATE] [-t SEC] [-f FLOWS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .port = 9000, .seconds = 3, .len = 18, .flows = 1, .rate = 5000 };
	const char *mode;
	int opt;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "s:d:p:t:l:f:r:R:M:")) != -1) {
		switch (opt) {
		case 's': o.srcs = optarg; break;
		case 'd': o.dst = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'l': o.len = atoi(optarg); break;
		case 'f': o.flows = atoi(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'R': o.ifname = optarg; break;
		case 'M': o.dmac = optarg; break;
		default: usage();
		}
	}
	if (!o.dst || o.port <= 0 || o.port > 65535 || o.seconds <= 0 || o.seconds > 600 ||
	    o.len < 16 || o.len > UP_MAX_LEN || o.flows < 1 || o.rate <= 0 || o.rate > 1e6)
		usage();
	if (!strcmp(mode, "gen") && o.srcs && o.ifname && o.dmac)
		return run_gen_raw(&o);
	if (!strcmp(mode, "gen") && o.srcs)
		return run_gen(&o);
	if (!strcmp(mode, "sink"))
		return run_sink(&o);
	if (!strcmp(mode, "echo"))
		return run_echo(&o);
	if (!strcmp(mode, "ping") && o.srcs)
		return run_ping(&o);
	usage();
	return 2;
}
