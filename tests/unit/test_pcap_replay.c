/* test_pcap_replay.c - unit tests of the offline mode (src/pcap_replay.c):
 * link layers, the JSON lines, several files, unreadable files. Captures
 * are written to a temporary directory with libpcap itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/pcap_replay.c"

static char dir[] = "/tmp/btb-test-pcap-XXXXXX";
static const char dht[] = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";

/* IPv4 (or IPv6) + UDP 6881 -> 6882 carrying dht; returns the length. */
static size_t ip_udp(uint8_t *b, int v6)
{
	size_t ul = 8 + sizeof(dht) - 1, off;

	if (v6) {
		memset(b, 0, 40);
		b[0] = 0x60;
		b[4] = (uint8_t)(ul >> 8);
		b[5] = (uint8_t)ul;
		b[6] = 17;
		b[7] = 64;
		b[8] = 0x20; b[9] = 0x01; b[10] = 0x0d; b[11] = 0xb8; b[23] = 1;
		b[24] = 0x20; b[25] = 0x01; b[26] = 0x0d; b[27] = 0xb8; b[39] = 2;
		off = 40;
	} else {
		memset(b, 0, 20);
		b[0] = 0x45;
		b[2] = (uint8_t)((20 + ul) >> 8);
		b[3] = (uint8_t)(20 + ul);
		b[8] = 64;
		b[9] = 17;
		b[12] = 192; b[13] = 0; b[14] = 2; b[15] = 1;
		b[16] = 192; b[17] = 0; b[18] = 2; b[19] = 2;
		off = 20;
	}
	b[off] = 0x1a; b[off + 1] = 0xe1;
	b[off + 2] = 0x1a; b[off + 3] = 0xe2;
	b[off + 4] = (uint8_t)(ul >> 8);
	b[off + 5] = (uint8_t)ul;
	b[off + 6] = 0;
	b[off + 7] = 0;
	memcpy(b + off + 8, dht, sizeof(dht) - 1);
	return off + ul;
}

/* Write a one-packet capture of link type dlt: hdr bytes then IP. */
static void write_pcap(const char *path, int dlt, const uint8_t *hdr, size_t hl, int v6)
{
	pcap_t *p = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d;
	struct pcap_pkthdr h;
	uint8_t frame[512];
	size_t len;

	assert_non_null(p);
	d = pcap_dump_open(p, path);
	assert_non_null(d);
	if (hl)
		memcpy(frame, hdr, hl);
	len = hl + ip_udp(frame + hl, v6);
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = 1700000000;
	h.caplen = (bpf_u_int32)len;
	h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)d, &h, frame);
	pcap_dump_close(d);
	pcap_close(p);
}

/* Run the replay over files; the output in out (NUL-terminated). */
static int replay(int n, char **files, char *out, size_t outlen)
{
	struct engine_config c;
	FILE *f = tmpfile();
	size_t got;
	int rc;

	assert_non_null(f);
	engine_config_defaults(&c);
	c.flow_capacity = 64;
	rc = pcap_replay_run(&c, n, files, f);
	rewind(f);
	got = fread(out, 1, outlen - 1, f);
	out[got] = 0;
	fclose(f);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void one(int dlt, const uint8_t *hdr, size_t hl, int v6, const char *expect)
{
	char path[256], out[4096];
	char *files[1] = { path };

	snprintf(path, sizeof(path), "%s/dlt%d-%zu-%d.pcap", dir, dlt, hl, v6);
	write_pcap(path, dlt, hdr, hl, v6);
	assert_int_equal(replay(1, files, out, sizeof(out)), 0);
	assert_non_null(strstr(out, expect));
	assert_non_null(strstr(out, "\"verdict\": \"block\", \"reason\": \"dht\", \"ban\": false, \"packets\": 1, \"decided_at\": 1}"));
}

static void test_link_layers(void **state)
{
	static const uint8_t eth4[14] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00 };
	static const uint8_t eth6[14] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x86, 0xdd };
	static const uint8_t vlan[18] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0, 5, 0x08, 0x00 };
	static const uint8_t qinq[22] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0, 5,
					  0x81, 0x00, 0, 6, 0x86, 0xdd };
	static const uint8_t sll[16] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00 };
	static const uint8_t sll2[20] = { 0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0 };
	uint32_t af_host = 2;
	static const uint8_t loop_be[4] = { 0, 0, 0, 2 };
	const char *v4 = "\"l4\": \"udp\", \"src\": \"192.0.2.1:6881\", \"dst\": \"192.0.2.2:6882\"";
	const char *v6 = "\"src\": \"2001:db8::1:6881\", \"dst\": \"2001:db8::2:6882\"";

	(void)state;
	one(DLT_EN10MB, eth4, sizeof(eth4), 0, v4);
	one(DLT_EN10MB, eth6, sizeof(eth6), 1, v6);
	one(DLT_EN10MB, vlan, sizeof(vlan), 0, v4);
	one(DLT_EN10MB, qinq, sizeof(qinq), 1, v6);
	one(DLT_LINUX_SLL, sll, sizeof(sll), 0, v4);
	one(DLT_LINUX_SLL2, sll2, sizeof(sll2), 1, v6);
	one(DLT_RAW, NULL, 0, 0, v4);
	one(DLT_RAW, NULL, 0, 1, v6);
	one(DLT_IPV4, NULL, 0, 0, v4);
	one(DLT_IPV6, NULL, 0, 1, v6);
	one(DLT_NULL, (const uint8_t *)&af_host, 4, 0, v4);
	one(DLT_LOOP, loop_be, 4, 0, v4);
	/* Captured on the other byte order than the host's: the words are
	 * bytes in the file, so spell them out rather than in host order. */
	one(DLT_NULL, (const uint8_t *)"\x02\0\0\0", 4, 0, v4);	/* little-endian AF_INET */
	one(DLT_NULL, (const uint8_t *)"\0\0\0\x02", 4, 0, v4);	/* big-endian AF_INET */
	one(DLT_NULL, (const uint8_t *)"\x1e\0\0\0", 4, 1, v6);	/* little-endian AF_INET6 (macOS) */
	one(DLT_NULL, (const uint8_t *)"\0\0\0\x18", 4, 1, v6);	/* big-endian AF_INET6 (NetBSD) */
	one(DLT_LOOP, (const uint8_t *)"\0\0\0\x0a", 4, 1, v6);	/* network order AF_INET6 (Linux) */
}

static void test_l3_offset_negatives(void **state)
{
	static const uint8_t arp[14] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x06 };
	static const uint8_t vlan_cut[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0, 5 };

	(void)state;
	assert_int_equal(pcap_replay_l3_offset(DLT_EN10MB, arp, sizeof(arp)), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_EN10MB, vlan_cut, sizeof(vlan_cut)), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_EN10MB, arp, 10), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_NULL, (const uint8_t *)"\x63\0\0\0", 4), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_NULL, (const uint8_t *)"\0\0\0\x63", 4), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_NULL, (const uint8_t *)"\x02\0\0\x02", 4), -1);
	assert_int_equal(pcap_replay_l3_offset(DLT_LOOP, (const uint8_t *)"\x02\0\0", 3), -1);
	assert_int_equal(pcap_replay_l3_offset(147 /* user */, arp, sizeof(arp)), -1);
}

static void test_bad_files_and_reset(void **state)
{
	char good[256], bad[256], missing[256], cut[256], out[8192];
	char *files[4] = { missing, good, bad, cut };
	FILE *f;
	long size;

	(void)state;
	snprintf(good, sizeof(good), "%s/good.pcap", dir);
	snprintf(bad, sizeof(bad), "%s/bad.pcap", dir);
	snprintf(missing, sizeof(missing), "%s/missing.pcap", dir);
	snprintf(cut, sizeof(cut), "%s/cut.pcap", dir);
	write_pcap(good, DLT_RAW, NULL, 0, 0);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("this is not a capture file at all, sorry", f);
	fclose(f);
	/* a capture cut in the middle of its packet */
	write_pcap(cut, DLT_RAW, NULL, 0, 1);
	f = fopen(cut, "r+");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	assert_int_equal(ftruncate(fileno(f), size - 10), 0);
	fclose(f);
	/* errors are reported, the good file still runs, the status is 1 */
	assert_int_equal(replay(4, files, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"pcap\": \"good.pcap\""));
	assert_null(strstr(out, "bad.pcap"));
	/* the same good file twice: state is reset, so two lines */
	files[0] = good;
	files[1] = good;
	assert_int_equal(replay(2, files, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "good.pcap"));
	assert_non_null(strstr(strstr(out, "good.pcap") + 1, "good.pcap"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_layers),
		cmocka_unit_test(test_l3_offset_negatives),
		cmocka_unit_test(test_bad_files_and_reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
