/* statefile.c - the state file's bytes: written from what the caches
 * hold, read back as untrusted input (see statefile.h for the layout). */
#include "sysincl.h"
#include "statefile.h"

#include <sys/stat.h>

/* CRC-32, reflected polynomial 0xedb88320, four bits at a time: a table
 * of 16 constants, no initialisation, and fast enough for a file written
 * once a minute. */
static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t statefile_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

size_t statefile_size(uint32_t nendpoints, uint32_t nhosts)
{
	return STATEFILE_HEADER + (size_t)nendpoints * STATEFILE_ENDPOINT +
		(size_t)nhosts * STATEFILE_HOST + STATEFILE_TRAILER;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void statefile_encode(const struct state_doc *d, uint8_t *buf)
{
	size_t len = statefile_size(d->nendpoints, d->nhosts);
	uint8_t *p = buf;

	memset(buf, 0, len);
	memcpy(p, STATEFILE_MAGIC, 8);
	put32(p + 8, STATEFILE_VERSION);
	put32(p + 12, STATEFILE_HEADER);
	put64(p + 16, d->saved_s);
	memcpy(p + 24, d->boot_id, 16);
	put16(p + 40, d->queue_first);
	put16(p + 42, d->queue_last);
	put32(p + 44, d->nendpoints);
	put32(p + 48, d->nhosts);
	p += STATEFILE_HEADER;
	for (uint32_t i = 0; i < d->nendpoints; i++, p += STATEFILE_ENDPOINT) {
		const struct state_endpoint *e = &d->endpoints[i];

		p[0] = e->family;
		p[1] = e->tier;
		put16(p + 2, e->port);
		put16(p + 4, e->queue);
		p[6] = e->kinds;
		put32(p + 8, e->source);
		put32(p + 12, e->ttl_s);
		memcpy(p + 16, e->addr, e->family == 6 ? 16 : 4);
	}
	for (uint32_t i = 0; i < d->nhosts; i++, p += STATEFILE_HOST) {
		const struct state_host *h = &d->hosts[i];

		p[0] = h->family;
		put32(p + 4, h->age_s);
		memcpy(p + 8, h->addr, h->family == 6 ? 16 : 4);
	}
	put32(p, statefile_crc32(0, buf, len - STATEFILE_TRAILER));
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* An address as the caches keep it: IPv4 with twelve zero bytes after
 * it. */
static int addr_ok(uint8_t family, const uint8_t *a)
{
	if (family == 4)
		return all_zero(a + 4, 12);
	return family == 6;
}

void statefile_free(struct state_doc *d)
{
	free(d->endpoints);
	free(d->hosts);
	d->endpoints = NULL;
	d->hosts = NULL;
	d->nendpoints = 0;
	d->nhosts = 0;
}

int statefile_parse(const uint8_t *buf, size_t len, struct state_doc *d, char *why,
		    size_t whylen)
{
	uint32_t version, ne, nh, crc;
	const uint8_t *p;

	memset(d, 0, sizeof(*d));
	if (len < STATEFILE_HEADER + STATEFILE_TRAILER || memcmp(buf, STATEFILE_MAGIC, 8) != 0) {
		snprintf(why, whylen, "not a btblockd state file");
		return -1;
	}
	version = get32(buf + 8);
	if (version != STATEFILE_VERSION) {
		snprintf(why, whylen, "format version %u (this btblockd reads version %u)", version,
			 STATEFILE_VERSION);
		return -1;
	}
	ne = get32(buf + 44);
	nh = get32(buf + 48);
	if (get32(buf + 12) != STATEFILE_HEADER || !all_zero(buf + 52, 12)) {
		snprintf(why, whylen, "damaged header");
		return -1;
	}
	if (ne > STATEFILE_MAX_ENDPOINTS || nh > STATEFILE_MAX_HOSTS) {
		snprintf(why, whylen, "too many records (%u endpoints, %u hosts; at most %u and %u)",
			 ne, nh, STATEFILE_MAX_ENDPOINTS, STATEFILE_MAX_HOSTS);
		return -1;
	}
	if (len != statefile_size(ne, nh)) {
		snprintf(why, whylen, "%zu bytes where %u endpoints and %u hosts take %zu (cut short or "
			 "grown)", len, ne, nh, statefile_size(ne, nh));
		return -1;
	}
	crc = get32(buf + len - STATEFILE_TRAILER);
	if (statefile_crc32(0, buf, len - STATEFILE_TRAILER) != crc) {
		snprintf(why, whylen, "checksum mismatch");
		return -1;
	}
	d->saved_s = get64(buf + 16);
	memcpy(d->boot_id, buf + 24, 16);
	d->queue_first = get16(buf + 40);
	d->queue_last = get16(buf + 42);
	if (d->queue_first > d->queue_last) {
		snprintf(why, whylen, "queue range %u-%u", d->queue_first, d->queue_last);
		return -1;
	}
	/* the length was checked against the counts: the records are there */
	d->endpoints = malloc((ne ? ne : 1) * sizeof(*d->endpoints));
	d->hosts = malloc((nh ? nh : 1) * sizeof(*d->hosts));
	if (!d->endpoints || !d->hosts) {
		statefile_free(d);
		snprintf(why, whylen, "out of memory for %u endpoints and %u hosts", ne, nh);
		return -1;
	}
	p = buf + STATEFILE_HEADER;
	for (uint32_t i = 0; i < ne; i++, p += STATEFILE_ENDPOINT) {
		struct state_endpoint *e = &d->endpoints[i];

		e->family = p[0];
		e->tier = p[1];
		e->kinds = p[6];
		e->port = get16(p + 2);
		e->queue = get16(p + 4);
		e->source = get32(p + 8);
		e->ttl_s = get32(p + 12);
		memcpy(e->addr, p + 16, 16);
		if (!addr_ok(e->family, e->addr) || (e->tier != 1 && e->tier != 2) ||
		    e->kinds == 0 || e->kinds > 3 || p[7] != 0 || e->ttl_s > STATEFILE_MAX_TTL ||
		    e->queue < d->queue_first || e->queue > d->queue_last || e->port < 1024) {
			snprintf(why, whylen, "endpoint record %u is not valid", i + 1);
			statefile_free(d);
			return -1;
		}
	}
	for (uint32_t i = 0; i < nh; i++, p += STATEFILE_HOST) {
		struct state_host *h = &d->hosts[i];

		h->family = p[0];
		h->age_s = get32(p + 4);
		memcpy(h->addr, p + 8, 16);
		if (!addr_ok(h->family, h->addr) || !all_zero(p + 1, 3) || all_zero(h->addr, 16)) {
			snprintf(why, whylen, "host record %u is not valid", i + 1);
			statefile_free(d);
			return -1;
		}
	}
	d->nendpoints = ne;
	d->nhosts = nh;
	return 0;
}

int statefile_boot_id(const char *text, size_t len, uint8_t out[16])
{
	unsigned n = 0;

	/* 8-4-4-4-12 hexadecimal digits; a newline may follow */
	if (len < 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return 0;
			continue;
		}
		hi = hex_value(text[i]);
		lo = i + 1 < 36 ? hex_value(text[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			return 0;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return n == 16 && (len == 36 || text[36] == '\n' || text[36] == '\0');
}

int statefile_read(int dirfd, const char *base, uid_t owner, uint8_t **buf, size_t *len,
		   char *why, size_t whylen)
{
	struct stat st;
	size_t want, got = 0;
	uint8_t *b;
	int fd;

	*buf = NULL;
	*len = 0;
	/* not through a link; a FIFO planted there must not block us */
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s", errno == ELOOP ? "a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto fail;
	}
	/* what someone else can write, someone else may have written */
	if (st.st_uid != 0 && st.st_uid != owner) {
		snprintf(why, whylen, "owned by uid %u, neither root nor the daemon's user",
			 (unsigned)st.st_uid);
		goto fail;
	}
	if (st.st_mode & 022) {
		snprintf(why, whylen, "writable by group or others (mode %04o)",
			 (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > STATEFILE_MAX_BYTES) {
		snprintf(why, whylen, "%lld bytes, more than a state file may hold (%zu)",
			 (long long)st.st_size, (size_t)STATEFILE_MAX_BYTES);
		goto fail;
	}
	/* one byte more than it says: a file that grew meanwhile shows it */
	want = (size_t)st.st_size + 1;
	b = malloc(want);
	if (!b) {
		snprintf(why, whylen, "out of memory for %zu bytes", want);
		goto fail;
	}
	while (got < want) {
		ssize_t r = read(fd, b + got, want - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			free(b);
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = got;
	return 1;
fail:
	close(fd);
	return -1;
}

int statefile_write(int dirfd, const char *base, const uint8_t *buf, size_t len, char *why,
		    size_t whylen)
{
	char tmp[300];
	const char *step;
	size_t done = 0;
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", base) >= sizeof(tmp)) {
		snprintf(why, whylen, "file name too long");
		return -1;
	}
	/* a stale one (or anything planted there) goes: O_EXCL then creates
	 * a file of ours, never follows a link */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT) {
		e = errno;
		snprintf(why, whylen, "cannot remove %s: %s", tmp, strerror(e));
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(e));
		return -1;
	}
	step = "chmod";
	if (fchmod(fd, 0600) < 0)	/* whatever the umask */
		goto fail;
	step = "write";
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		done += (size_t)w;
	}
	step = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (renameat(dirfd, tmp, dirfd, base) < 0)
		goto fail;
	/* the rename itself on disk: without it a crash may bring back the
	 * old file, or none */
	if (fsync(dirfd) < 0) {
		e = errno;
		snprintf(why, whylen, "fsync of the directory: %s", strerror(e));
		return -1;
	}
	return 0;
fail:
	e = errno;
	snprintf(why, whylen, "%s %s: %s", step, tmp, strerror(e));
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return -1;
}
