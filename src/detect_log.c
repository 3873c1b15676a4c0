/* detect_log.c - detection events from workers to a file and/or syslog.
 *
 * Workers only push into their own ring (no syscall, no lock, no
 * allocation); the control thread drains the rings and writes. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <syslog.h>
#include <sys/stat.h>
#include "detect_log.h"
#include "log.h"

void detect_ring_push(struct detect_ring *r, const struct detect_event *e)
{
	uint32_t head = r->head;
	uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

	if (head - tail >= DETECT_RING_SIZE) {
		COUNTER_INC(r->overflow);
		return;
	}
	r->ev[head & (DETECT_RING_SIZE - 1)] = *e;
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
}

int detect_ring_pop(struct detect_ring *r, struct detect_event *out)
{
	uint32_t tail = r->tail;
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);

	if (tail == head)
		return 0;
	*out = r->ev[tail & (DETECT_RING_SIZE - 1)];
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return 1;
}

const char *detect_action_name(enum detect_action a)
{
	switch (a) {
	case DETECT_BLOCK:
		return "block";
	case DETECT_REJECT:
		return "reject";
	case DETECT_MONITOR:
		return "monitor";
	case DETECT_THROTTLE:
		return "throttle";
	}
	return "unknown";
}

static void endpoint_str(char *buf, size_t size, int family, const uint8_t *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, size, family == 6 ? "[%s]:%u" : "%s:%u", ip, port);
}

int detect_log_format(const struct detect_event *e, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];
	time_t secs = (time_t)(e->wall_ms / 1000);
	struct tm tm;
	char when[32];
	int n;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	endpoint_str(src, sizeof(src), e->family, e->saddr, e->sport);
	endpoint_str(dst, sizeof(dst), e->family, e->daddr, e->dport);
	/* Every field is ours (numbers, addresses, static names): no escaping needed. */
	n = snprintf(buf, size,
		     "{\"time\":\"%s.%03uZ\",\"queue\":%u,\"l4\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
		     "\"detector\":\"%s\",\"packet\":%u,\"action\":\"%s\"}",
		     when, (unsigned)(e->wall_ms % 1000), e->queue, e->l4 == IPPROTO_TCP ? "tcp" : "udp",
		     src, dst, e->detector ? e->detector : "", e->packet_index,
		     detect_action_name((enum detect_action)e->action));
	if (n < 0)
		return 0;
	return n < (int)size ? n : (int)size - 1;
}

int detect_log_open(struct detect_log *l, const char *path, int use_syslog, uint32_t rate,
		    uint64_t max_size)
{
	memset(l, 0, sizeof(*l));
	l->use_syslog = use_syslog;
	l->rate = rate ? rate : 1;
	l->max_size = max_size;
	snprintf(l->path, sizeof(l->path), "%s", path ? path : "");
	return detect_log_reopen(l);
}

int detect_log_reopen(struct detect_log *l)
{
	struct stat st;
	FILE *f;

	if (!l->path[0])
		return 0;
	f = fopen(l->path, "ae");
	if (!f) {
		LOG(LOG_ERR, "cannot open detection log %s: %s", l->path, strerror(errno));
		return -1;
	}
	/* One line per write: tail -f and a crash never see half a line. */
	setvbuf(f, NULL, _IOLBF, 0);
	if (l->file)
		fclose(l->file);
	l->file = f;
	/* Appending: the cap counts what is already there. */
	l->size = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

int detect_log_chown(const struct detect_log *l, uid_t uid, gid_t gid)
{
	if (!l->file)
		return 0;
	if (fchown(fileno(l->file), uid, gid) < 0) {
		LOG(LOG_ERR, "cannot give detection log %s to uid %u gid %u: %s", l->path,
		    (unsigned)uid, (unsigned)gid, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The file reached its cap: PATH becomes PATH.1 (replacing the one
 * before) and a new PATH is started. When that fails the file is closed
 * rather than left to grow; a reload (SIGHUP) opens it again.
 */
static void rotate(struct detect_log *l)
{
	char old[sizeof(l->path) + 2];

	snprintf(old, sizeof(old), "%s.1", l->path);
	if (rename(l->path, old) < 0) {
		LOG(LOG_ERR, "detection log %s reached %" PRIu64 " bytes and cannot be renamed to %s: %s; "
		    "closed until the next reload", l->path, l->max_size, old, strerror(errno));
		goto close;
	}
	COUNTER_INC(l->rotations);
	if (detect_log_reopen(l) == 0)
		return;
close:
	fclose(l->file);
	l->file = NULL;
}

static void emit(struct detect_log *l, const char *line)
{
	if (l->file) {
		uint64_t len = strlen(line) + 1;

		/* An empty file takes a line longer than the cap as it is. */
		if (l->max_size && l->size > 0 && l->size + len > l->max_size)
			rotate(l);
		if (l->file) {
			if (fprintf(l->file, "%s\n", line) < 0)
				LOG(LOG_WARNING, "detection log %s: write failed: %s", l->path, strerror(errno));
			else
				l->size += len;
		}
	}
	if (l->use_syslog)
		syslog(LOG_NOTICE, "detection %s", line);
}

void detect_log_write(struct detect_log *l, const struct detect_event *e, uint64_t now_s)
{
	char line[512];

	if (!l->file && !l->use_syslog)
		return;
	detect_log_format(e, line, sizeof(line));
	detect_log_write_line(l, line, now_s);
}

void detect_log_write_line(struct detect_log *l, const char *event_line, uint64_t now_s)
{
	char line[128];

	if (!l->file && !l->use_syslog)
		return;
	if (now_s != l->window_s) {
		if (l->suppressed) {
			snprintf(line, sizeof(line), "{\"suppressed\":%" PRIu64 ",\"rate\":%u}",
				 l->suppressed, l->rate);
			emit(l, line);
			l->suppressed = 0;
		}
		l->window_s = now_s;
		l->used = 0;
	}
	if (l->used >= l->rate) {
		l->suppressed++;
		COUNTER_INC(l->suppressed_total);
		return;
	}
	l->used++;
	emit(l, event_line);
	COUNTER_INC(l->written);
}

void detect_log_close(struct detect_log *l)
{
	if (l->file)
		fclose(l->file);
	l->file = NULL;
}
