/* test_statefile.c - unit tests of the state file's format and its I/O
 * (src/statefile.c): round trips, and every way a file can be wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include "../../src/statefile.c"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t boot[16] = { 0x6b, 0x11, 0x3b, 0xfd, 0xb8, 0x74, 0x48, 0x0e,
				  0x39, 0x54, 0x49, 0x29, 0xbf, 0x2b, 0x65, 0x81 };

/* Two endpoints (IPv4 listed, IPv6 confirmed) and two hosts. */
static void sample(struct state_doc *d, struct state_endpoint *e, struct state_host *h)
{
	memset(d, 0, sizeof(*d));
	memset(e, 0, 2 * sizeof(*e));
	memset(h, 0, 2 * sizeof(*h));
	e[0] = (struct state_endpoint){ .family = 4, .tier = 1, .kinds = 1, .port = 6881, .queue = 2,
					.source = 0x12345679, .ttl_s = 3599,
					.addr = { 203, 0, 113, 7 } };
	e[1] = (struct state_endpoint){ .family = 6, .tier = 2, .kinds = 2, .port = 51413, .queue = 3,
					.source = 0xdeadbeef, .ttl_s = 604800,
					.addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 } };
	h[0] = (struct state_host){ .family = 4, .age_s = 12, .addr = { 192, 168, 1, 10 } };
	h[1] = (struct state_host){ .family = 6, .age_s = 86000,
				    .addr = { 0xfd, 0x00, [15] = 0x10 } };
	d->saved_s = 1795740721;
	memcpy(d->boot_id, boot, 16);
	d->queue_first = 2;
	d->queue_last = 3;
	d->nendpoints = 2;
	d->nhosts = 2;
	d->endpoints = e;
	d->hosts = h;
}

/* The sample encoded into a fresh heap buffer of exactly its size. */
static uint8_t *encoded(size_t *len)
{
	struct state_doc d;
	struct state_endpoint e[2];
	struct state_host h[2];
	uint8_t *buf;

	sample(&d, e, h);
	*len = statefile_size(2, 2);
	buf = malloc(*len);
	assert_non_null(buf);
	statefile_encode(&d, buf);
	return buf;
}

/* After an edit, a valid checksum again: only the rule under test fails. */
static void reseal(uint8_t *buf, size_t len)
{
	put32(buf + len - 4, statefile_crc32(0, buf, len - 4));
}

static int parses(const uint8_t *buf, size_t len, char *why)
{
	struct state_doc d;
	int r = statefile_parse(buf, len, &d, why, 160);

	if (r == 0)
		statefile_free(&d);
	else
		assert_null(d.endpoints);	/* nothing kept from a refused file */
	return r;
}

static void test_crc32(void **state)
{
	(void)state;
	/* the check value of CRC-32/ISO-HDLC, as zlib's crc32 */
	assert_int_equal(statefile_crc32(0, (const uint8_t *)"123456789", 9), 0xcbf43926);
	assert_int_equal(statefile_crc32(0, (const uint8_t *)"", 0), 0);
	/* in pieces, the same */
	assert_int_equal(statefile_crc32(statefile_crc32(0, (const uint8_t *)"1234", 4),
					 (const uint8_t *)"56789", 5), 0xcbf43926);
}

static void test_round_trip(void **state)
{
	struct state_doc d, in;
	struct state_endpoint e[2];
	struct state_host h[2];
	size_t len;
	uint8_t *buf = encoded(&len);
	char why[160];

	(void)state;
	sample(&in, e, h);
	assert_int_equal(len, 64 + 2 * 32 + 2 * 24 + 4);
	assert_memory_equal(buf, "BTBSTATE\0\0\0\1\0\0\0\x40", 16);
	assert_int_equal(statefile_parse(buf, len, &d, why, sizeof(why)), 0);
	assert_int_equal(d.saved_s, in.saved_s);
	assert_memory_equal(d.boot_id, boot, 16);
	assert_int_equal(d.queue_first, 2);
	assert_int_equal(d.queue_last, 3);
	assert_int_equal(d.nendpoints, 2);
	assert_int_equal(d.nhosts, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(d.endpoints[i].family, e[i].family);
		assert_int_equal(d.endpoints[i].tier, e[i].tier);
		assert_int_equal(d.endpoints[i].port, e[i].port);
		assert_int_equal(d.endpoints[i].queue, e[i].queue);
		assert_int_equal(d.endpoints[i].source, e[i].source);
		assert_int_equal(d.endpoints[i].ttl_s, e[i].ttl_s);
		assert_memory_equal(d.endpoints[i].addr, e[i].addr, 16);
		assert_int_equal(d.hosts[i].family, h[i].family);
		assert_int_equal(d.hosts[i].age_s, h[i].age_s);
		assert_memory_equal(d.hosts[i].addr, h[i].addr, 16);
	}
	statefile_free(&d);
	free(buf);
	/* an empty file: header and checksum */
	memset(&in, 0, sizeof(in));
	buf = malloc(statefile_size(0, 0));
	assert_non_null(buf);
	statefile_encode(&in, buf);
	assert_int_equal(statefile_parse(buf, statefile_size(0, 0), &d, why, sizeof(why)), 0);
	assert_int_equal(d.nendpoints + d.nhosts, 0);
	statefile_free(&d);
	free(buf);
}

static void test_corrupt(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);
	char why[160];

	(void)state;
	/* any byte changed: the checksum (or the header) says so */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		assert_int_equal(parses(buf, len, why), -1);
		buf[i] ^= 0x20;
	}
	assert_int_equal(parses(buf, len, why), 0);
	buf[100] ^= 1;
	parses(buf, len, why);
	assert_string_equal(why, "checksum mismatch");
	free(buf);
	/* another file altogether */
	assert_int_equal(parses((const uint8_t *)"# btblockd.conf\nqueues 0-3\nnothing else here at "
				"all, just words to make it long enough\n", 80, why), -1);
	assert_string_equal(why, "not a btblockd state file");
}

static void test_truncated_and_grown(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);
	char why[160];

	(void)state;
	/* every length short of the whole, each in a buffer of exactly that
	 * size, so that a read past it is a sanitizer report */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *part = malloc(cut ? cut : 1);

		assert_non_null(part);
		memcpy(part, buf, cut);
		assert_int_equal(parses(part, cut, why), -1);
		free(part);
	}
	/* a byte more: refused too, whatever it is */
	buf = realloc(buf, len + 1);
	assert_non_null(buf);
	buf[len] = 0;
	assert_int_equal(parses(buf, len + 1, why), -1);
	assert_non_null(strstr(why, "cut short or grown"));
	free(buf);
}

static void test_version_and_header(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);
	char why[160];

	(void)state;
	put32(buf + 8, 2);	/* a later format */
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	assert_string_equal(why, "format version 2 (this btblockd reads version 1)");
	put32(buf + 8, 1);
	put32(buf + 12, 65);	/* another header length */
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	put32(buf + 12, 64);
	buf[60] = 1;		/* reserved bytes */
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	buf[60] = 0;
	put16(buf + 40, 4);	/* first queue after the last */
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	put16(buf + 40, 2);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), 0);
	free(buf);
}

static void test_oversized(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);
	char why[160];

	(void)state;
	/* counts past the bounds are refused before any allocation */
	put32(buf + 44, STATEFILE_MAX_ENDPOINTS + 1);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	assert_non_null(strstr(why, "too many records"));
	put32(buf + 44, 2);
	put32(buf + 48, UINT32_MAX);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	/* counts that do not match the length (an overflow would need them) */
	put32(buf + 48, 3);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	free(buf);
	assert_true(STATEFILE_MAX_BYTES == 64 + (size_t)32 * (1u << 20) + (size_t)24 * (1u << 16) + 4);
}

/* Each record rule: a valid file but for one field. */
static void test_bad_records(void **state)
{
	static const struct {
		size_t off;		/* from the first endpoint record */
		uint8_t value;
	} bad[] = {
		{ 0, 5 },		/* family */
		{ 0, 0 },
		{ 1, 0 },		/* tier */
		{ 1, 3 },
		{ 2, 0x01 },		/* port 0x01e1 = 481: below 1024 */
		{ 6, 0 },		/* kinds: none */
		{ 6, 4 },		/* kinds: unknown bit */
		{ 7, 1 },		/* reserved */
		{ 12, 0xff },		/* seconds left > 604800 */
		{ 16 + 5, 1 },		/* IPv4 with a stray byte after its 4 */
		{ 32 + 32 + 1, 1 },	/* host: reserved */
		{ 32 + 32 + 0, 7 },	/* host: family */
		{ 32 + 32 + 8 + 6, 1 },	/* host: IPv4 with a stray byte */
	};
	size_t len;
	uint8_t *buf = encoded(&len), *rec = buf + 64;
	char why[160];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t was = rec[bad[i].off];

		rec[bad[i].off] = bad[i].value;
		reseal(buf, len);
		assert_int_equal(parses(buf, len, why), -1);
		assert_non_null(strstr(why, "record"));
		rec[bad[i].off] = was;
	}
	/* a queue outside the file's range */
	put16(rec + 4, 7);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	assert_string_equal(why, "endpoint record 1 is not valid");
	put16(rec + 4, 2);
	/* a host of address 0 */
	memset(rec + 64 + 8, 0, 4);
	reseal(buf, len);
	assert_int_equal(parses(buf, len, why), -1);
	assert_string_equal(why, "host record 1 is not valid");
	free(buf);
}

static void test_boot_id(void **state)
{
	uint8_t id[16];

	(void)state;
	assert_int_equal(statefile_boot_id("6b113bfd-b874-480e-3954-4929bf2b6581\n", 37, id), 1);
	assert_memory_equal(id, boot, 16);
	assert_int_equal(statefile_boot_id("6B113BFD-B874-480E-3954-4929BF2B6581", 36, id), 1);
	assert_memory_equal(id, boot, 16);
	assert_int_equal(statefile_boot_id("6b113bfd-b874-480e-3954-4929bf2b658", 35, id), 0);
	assert_int_equal(statefile_boot_id("6b113bfdxb874-480e-3954-4929bf2b6581", 36, id), 0);
	assert_int_equal(statefile_boot_id("6b113bfd-b874-480e-3954-4929bf2b658g", 36, id), 0);
	assert_int_equal(statefile_boot_id("6b113bfd-b874-480e-3954-4929bf2b65811", 37, id), 0);
}

/* --- the file on disk ------------------------------------------------ */

static char dir[] = "/tmp/test_statefile.XXXXXX";
static int dirfd_;

static int setup_dir(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dirfd_ < 0 ? -1 : 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	close(dirfd_);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_write_read(void **state)
{
	size_t len, got;
	uint8_t *buf = encoded(&len), *back;
	char why[192];
	struct stat st;
	mode_t old;

	(void)state;
	unlinkat(dirfd_, "state", 0);
	assert_int_equal(statefile_read(dirfd_, "state", getuid(), &back, &got, why, sizeof(why)), 0);
	/* written whatever the umask: 0600 */
	old = umask(0);
	assert_int_equal(statefile_write(dirfd_, "state", buf, len, why, sizeof(why)), 0);
	umask(0777);
	assert_int_equal(statefile_write(dirfd_, "state", buf, len, why, sizeof(why)), 0);
	umask(old);
	assert_int_equal(fstatat(dirfd_, "state", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, (off_t)len);
	assert_int_equal(fstatat(dirfd_, "state.tmp", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(statefile_read(dirfd_, "state", getuid(), &back, &got, why, sizeof(why)), 1);
	assert_int_equal(got, len);
	assert_memory_equal(back, buf, len);
	free(back);
	/* a stale temporary file, or a link planted in its place, goes: the
	 * link's target is never written */
	assert_int_equal(symlinkat("/tmp/test_statefile_never_written", dirfd_, "state.tmp"), 0);
	assert_int_equal(statefile_write(dirfd_, "state", buf, len, why, sizeof(why)), 0);
	assert_int_equal(access("/tmp/test_statefile_never_written", F_OK), -1);
	free(buf);
}

static void test_read_refuses(void **state)
{
	uint8_t *back;
	size_t got;
	char why[192];
	int fd;

	(void)state;
	/* a symbolic link */
	unlinkat(dirfd_, "link", 0);
	assert_int_equal(symlinkat("state", dirfd_, "link"), 0);
	assert_int_equal(statefile_read(dirfd_, "link", getuid(), &back, &got, why, sizeof(why)), -1);
	assert_string_equal(why, "a symbolic link");
	/* a FIFO: refused without waiting for a writer */
	assert_int_equal(mkfifoat(dirfd_, "fifo", 0600), 0);
	assert_int_equal(statefile_read(dirfd_, "fifo", getuid(), &back, &got, why, sizeof(why)), -1);
	assert_string_equal(why, "not a regular file");
	/* a directory */
	assert_int_equal(mkdirat(dirfd_, "sub", 0700), 0);
	assert_int_equal(statefile_read(dirfd_, "sub", getuid(), &back, &got, why, sizeof(why)), -1);
	/* writable by others */
	fd = openat(dirfd_, "open", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0622), 0);
	assert_int_equal(statefile_read(dirfd_, "open", getuid(), &back, &got, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "writable by group or others"));
	assert_int_equal(fchmod(fd, 0600), 0);
	/* oversized: a sparse file one byte past the bound */
	assert_int_equal(ftruncate(fd, (off_t)STATEFILE_MAX_BYTES + 1), 0);
	assert_int_equal(statefile_read(dirfd_, "open", getuid(), &back, &got, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than a state file may hold"));
	/* someone else's (as root: a file given to another uid) */
	if (geteuid() == 0) {
		assert_int_equal(ftruncate(fd, 10), 0);
		assert_int_equal(fchown(fd, 4242, 4242), 0);
		assert_int_equal(statefile_read(dirfd_, "open", 0, &back, &got, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "owned by uid 4242"));
		/* ... unless that uid is the daemon's */
		assert_int_equal(statefile_read(dirfd_, "open", 4242, &back, &got, why, sizeof(why)), 1);
		assert_int_equal(got, 10);
		free(back);
	} else {
		print_message("not root: the owner check is not tested\n");
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_truncated_and_grown),
		cmocka_unit_test(test_version_and_header),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_boot_id),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_read_refuses),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
