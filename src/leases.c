/* leases.c - DHCP lease files into (address, MAC) -> host name.
 *
 * The files belong to another daemon and may be anything: every field is
 * checked, lines are bounded, a file is bounded, and a name is kept only
 * when it is a plausible host name (so it needs no escaping anywhere). */
#include "sysincl.h"
#include <arpa/inet.h>
#include <sys/stat.h>
#include "leases.h"
#include "log.h"

#define MAX_TOKENS 16

struct tok {
	const char *s;
	size_t len;
};

static unsigned split(const char *line, size_t len, struct tok *t, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len && n < max) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i >= len)
			break;
		t[n].s = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		t[n].len = (size_t)(line + i - t[n].s);
		n++;
	}
	return n;
}

static int tok_is(const struct tok *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

/* "aa:bb:cc:dd:ee:ff", or ether_ntoa's "2:0:0:aa:bb:1". */
static int parse_mac(const struct tok *t, uint8_t mac[6])
{
	size_t i = 0;

	for (int g = 0; g < 6; g++) {
		int v = 0, digits = 0;

		while (i < t->len && hex_value(t->s[i]) >= 0 && digits < 2) {
			v = v * 16 + hex_value(t->s[i++]);
			digits++;
		}
		if (!digits)
			return -1;
		mac[g] = (uint8_t)v;
		if (g < 5) {
			if (i >= t->len || t->s[i] != ':')
				return -1;
			i++;
		}
	}
	return i == t->len ? 0 : -1;
}

/* An address, with a "/LEN" suffix allowed when slash_ok. */
static int parse_addr(const struct tok *t, int slash_ok, struct lease *out)
{
	char buf[INET6_ADDRSTRLEN];
	size_t len = t->len;
	const char *slash = memchr(t->s, '/', t->len);

	if (slash) {
		if (!slash_ok)
			return -1;
		len = (size_t)(slash - t->s);
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, t->s, len);
	buf[len] = '\0';
	memset(out->addr, 0, sizeof(out->addr));
	if (memchr(buf, ':', len)) {
		if (inet_pton(AF_INET6, buf, out->addr) != 1)
			return -1;
		out->family = 6;
	} else {
		if (inet_pton(AF_INET, buf, out->addr) != 1)
			return -1;
		out->family = 4;
	}
	return 0;
}

/* A host name we keep: letters, digits, '-', '_' and '.', 1 to 63 bytes.
 * Anything else ("*", "-", odhcpd's "broken\x20...") means no name. */
static int take_name(const struct tok *t, struct lease *out)
{
	if (t->len == 0 || t->len >= sizeof(out->name))
		return -1;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return -1;
	}
	if (tok_is(t, "-"))
		return -1;
	memcpy(out->name, t->s, t->len);
	out->name[t->len] = '\0';
	return 0;
}

static int all_digits(const struct tok *t)
{
	if (t->len == 0 || t->len > 20)
		return 0;
	for (size_t i = 0; i < t->len; i++)
		if (t->s[i] < '0' || t->s[i] > '9')
			return 0;
	return 1;
}

/* "# IFACE MAC|DUID ipv4|IAID NAME VALID ID LEN ADDR/LEN..." */
static int parse_odhcpd(const struct tok *t, unsigned n, struct lease *out, unsigned max)
{
	struct lease tmpl = { 0 };
	unsigned got = 0;

	if (n < 9 || !tok_is(&t[0], "#"))
		return 0;	/* a comment */
	if (take_name(&t[4], &tmpl) < 0)
		return 0;
	if (tok_is(&t[3], "ipv4") && parse_mac(&t[2], tmpl.mac) == 0)
		tmpl.has_mac = 1;
	for (unsigned i = 8; i < n && got < max; i++) {
		out[got] = tmpl;
		if (parse_addr(&t[i], 1, &out[got]) < 0)
			return got ? (int)got : -1;
		got++;
	}
	return (int)got;
}

int lease_parse_line(const char *line, size_t len, struct lease *out, unsigned max)
{
	struct tok t[MAX_TOKENS];
	struct lease e = { 0 };
	unsigned n;

	if (len > LEASES_LINE_MAX)
		return -1;
	n = split(line, len, t, MAX_TOKENS);
	if (n == 0 || max == 0)
		return 0;
	if (t[0].s[0] == '#')
		return parse_odhcpd(t, n, out, max);
	if (tok_is(&t[0], "duid"))
		return 0;	/* dnsmasq: the server's DUID */
	if (all_digits(&t[0])) {
		/* dnsmasq: EXPIRY MAC|IAID ADDR NAME [CLIENTID] */
		if (n < 4 || parse_addr(&t[2], 0, &e) < 0)
			return -1;
		if (take_name(&t[3], &e) < 0)
			return 0;
		if (e.family == 4 && parse_mac(&t[1], e.mac) == 0)
			e.has_mac = 1;
		out[0] = e;
		return 1;
	}
	/* hosts: ADDR NAME [ALIASES]; the last one is the short name */
	if (n < 2 || parse_addr(&t[0], 0, &e) < 0)
		return -1;
	if (take_name(&t[n - 1], &e) < 0)
		return 0;
	out[0] = e;
	return 1;
}

unsigned leases_parse_buffer(struct lease_file *f, const char *buf, size_t len)
{
	size_t pos = 0;

	f->nentries = 0;
	f->bad_lines = 0;
	f->dropped = 0;
	if (!f->entries)
		f->entries = calloc(LEASES_MAX_ENTRIES, sizeof(*f->entries));
	if (!f->entries)
		return 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		struct lease got[LEASES_LINE_ADDRS];
		int k = lease_parse_line(buf + pos, linelen, got, LEASES_LINE_ADDRS);

		if (k < 0)
			f->bad_lines++;
		for (int i = 0; i < k; i++) {
			if (f->nentries < LEASES_MAX_ENTRIES)
				f->entries[f->nentries++] = got[i];
			else
				f->dropped++;
		}
		pos += linelen + 1;
	}
	return f->nentries;
}

int leases_check_list(const char *list)
{
	unsigned n = 0;
	const char *p = list;

	if (strcmp(list, "none") == 0)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0 || len >= sizeof(((struct lease_file *)0)->path) ||
		    ++n > LEASES_MAX_FILES || memchr(p, '\n', len))
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int leases_init(struct leases *l, const char *list)
{
	const char *p = list;

	memset(l, 0, sizeof(*l));
	if (leases_check_list(list) < 0)
		return -1;
	if (strcmp(list, "none") == 0)
		return 0;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		memcpy(l->file[l->nfiles].path, p, len);
		l->file[l->nfiles].path[len] = '\0';
		l->nfiles++;
		p += len + (comma != NULL);
	}
	return 0;
}

static void file_forget(struct lease_file *f)
{
	f->present = 0;
	f->nentries = 0;
}

static void file_load(struct lease_file *f, const struct stat *st)
{
	size_t want = st->st_size > (off_t)LEASES_FILE_MAX ? LEASES_FILE_MAX : (size_t)st->st_size;
	size_t got = 0;
	char *buf;
	int fd;

	buf = malloc(want + 1);
	if (!buf) {
		LOG(LOG_WARNING, "lease file %s: out of memory", f->path);
		return;
	}
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		LOG(LOG_WARNING, "cannot read lease file %s: %s", f->path, strerror(errno));
		free(buf);
		file_forget(f);
		return;
	}
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	/* A line cut by the size cap or by a writer in the middle of its
	 * work is not a lease: keep whole lines only. */
	if (want < (size_t)st->st_size)
		while (got > 0 && buf[got - 1] != '\n')
			got--;
	leases_parse_buffer(f, buf, got);
	free(buf);
	f->loads++;
	if (f->bad_lines || f->dropped)
		LOG(LOG_INFO, "lease file %s: %" PRIu64 " lines of no known format, %" PRIu64
		    " entries over %d skipped", f->path, f->bad_lines, f->dropped, LEASES_MAX_ENTRIES);
}

void leases_refresh(struct leases *l)
{
	for (unsigned i = 0; i < l->nfiles; i++) {
		struct lease_file *f = &l->file[i];
		struct stat st;
		int64_t mtime;

		if (stat(f->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			file_forget(f);
			continue;
		}
		mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		if (f->present && st.st_dev == f->dev && st.st_ino == f->ino &&
		    st.st_size == f->size && mtime == f->mtime_ns)
			continue;
		f->present = 1;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime_ns = mtime;
		file_load(f, &st);
	}
}

const char *leases_lookup(const struct leases *l, int family, const uint8_t *addr,
			  const uint8_t *mac)
{
	size_t alen = family == 6 ? 16 : 4;
	const char *any = NULL;

	for (unsigned i = 0; i < l->nfiles; i++) {
		const struct lease_file *f = &l->file[i];

		for (unsigned k = 0; k < f->nentries; k++) {
			const struct lease *e = &f->entries[k];

			if (e->family != family || memcmp(e->addr, addr, alen) != 0)
				continue;
			/* An address that moved to another device keeps an
			 * old line for a while: the MAC decides. */
			if (mac && e->has_mac) {
				if (memcmp(e->mac, mac, 6) == 0)
					return e->name;
				continue;
			}
			if (!any)
				any = e->name;
		}
	}
	return any;
}

void leases_free(struct leases *l)
{
	for (unsigned i = 0; i < l->nfiles; i++) {
		free(l->file[i].entries);
		l->file[i].entries = NULL;
		l->file[i].nentries = 0;
	}
}
