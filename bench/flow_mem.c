/* flow_mem.c - memory of the engine per tracked flow: drives src/libengine.a
 * with N synthetic concurrent UDP and TCP flows (engine flow capacity N),
 * reads VmRSS, then offers N more flows to check the table stays within
 * its capacity (the oldest are evicted, RSS does not grow). */
#include "engine.h"
#include "flow.h"
#include "packet.h"

#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Flow i: 10.x.y.z:port -> 192.0.2.1:443 (TCP) or :53 (UDP), one packet
 * with a payload no detector claims, so the flow stays tracked. */
static void feed(struct engine *e, uint32_t i, uint64_t t)
{
	static const uint8_t payload[32] = "benchmark payload, not a protoc";
	struct pkt_view v;
	struct engine_result r;

	memset(&v, 0, sizeof(v));
	v.family = 4;
	v.l4proto = (i & 1) ? IPPROTO_UDP : IPPROTO_TCP;
	v.tcp_flags = (i & 1) ? 0 : 0x18;	/* PSH ACK: mid-stream */
	v.saddr[0] = 10;
	v.saddr[1] = (uint8_t)(i >> 16);
	v.saddr[2] = (uint8_t)(i >> 8);
	v.saddr[3] = (uint8_t)i;
	v.daddr[0] = 192;
	v.daddr[2] = 2;
	v.daddr[3] = 1;
	v.sport = (uint16_t)(1024 + (i >> 24));
	v.dport = (i & 1) ? 53 : 443;
	v.tcp_seq = i;
	v.payload = payload;
	v.payload_len = sizeof(payload);
	v.payload_wire_len = sizeof(payload);
	engine_process(e, &v, t, &r);
}

static int measure(uint32_t n)
{
	struct engine_config c;
	struct engine_counters ctr;
	struct engine *e = calloc(1, sizeof(*e));
	long before, after_init, after_fill, after_over;
	uint64_t t = 1000000000ULL;
	uint32_t i;

	if (!e)
		return 1;
	engine_config_defaults(&c);
	c.flow_capacity = n;
	before = rss_kib();
	if (engine_init(e, &c) < 0) {
		fprintf(stderr, "flow_mem: engine_init(%u) failed\n", n);
		return 1;
	}
	after_init = rss_kib();
	for (i = 0; i < n; i++)
		feed(e, i, t + i);
	after_fill = rss_kib();
	engine_counters_get(e, &ctr);
	if (ctr.flows_active != n)
		fprintf(stderr, "flow_mem: %u flows offered, %" PRIu64 " tracked\n", n, ctr.flows_active);
	/* Twice the capacity: the table must evict, not grow. */
	for (i = n; i < 2 * n; i++)
		feed(e, i, t + i);
	after_over = rss_kib();
	engine_counters_get(e, &ctr);
	printf("flows %u rss_kib %ld bytes_per_flow %.0f active_after_2x %" PRIu64
	       " evicted %" PRIu64 " within_capacity %s rss_growth_2x_kib %ld\n",
	       n, after_fill, (double)(after_fill - before) * 1024.0 / n, ctr.flows_active,
	       ctr.flows_evicted, ctr.flows_active <= n ? "yes" : "NO", after_over - after_fill);
	/* Where the bytes go: the flow array, the hash buckets and the
	 * stream head pool (lent to undecided flows) grow with n. */
	printf("  per flow: struct flow %zu, buckets %.1f, stream heads %.1f\n",
	       sizeof(struct flow), (double)(e->flows.mask + 1) * sizeof(uint32_t) / n,
	       (double)e->flows.head_slots * 2 * e->flows.head_size / n);
	(void)after_init;
	engine_fini(e);
	free(e);
	return ctr.flows_active <= n ? 0 : 1;
}

int main(int argc, char **argv)
{
	int rc = 0;

	printf("sizeof_struct_flow %zu target 256\n", sizeof(struct flow));
	if (argc < 2) {
		rc |= measure(10000);
		rc |= measure(100000);
		rc |= measure(1000000);
	}
	for (int i = 1; i < argc; i++)
		rc |= measure((uint32_t)strtoul(argv[i], NULL, 10));
	return rc;
}
