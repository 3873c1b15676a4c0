/* who.c - the detection log against an abuse notice's address, port and time. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include "who.h"

int who_parse_endpoint(const char *s, struct who_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	size_t hlen;
	char *end;
	unsigned long p;

	memset(ep, 0, sizeof(*ep));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hlen);
		port = close + 2;
		ep->family = 6;
	} else {
		const char *colon = strchr(s, ':');

		if (!colon || strchr(colon + 1, ':'))
			return -1;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, s, hlen);
		port = colon + 1;
		ep->family = 4;
	}
	host[hlen] = '\0';
	if (inet_pton(ep->family == 6 ? AF_INET6 : AF_INET, host, ep->addr) != 1)
		return -1;
	if (*port < '0' || *port > '9')
		return -1;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return -1;
	ep->port = (uint16_t)p;
	return 0;
}

/* Exactly n digits at s into *v. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): UTC without timegm or the TZ variable. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int who_parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec = 0, oh, om;
	const char *p;
	size_t len = strlen(s);
	struct tm tm;
	time_t t;

	if (len > 0 && len <= 12 && strspn(s, "0123456789") == len) {
		*out = strtoll(s, NULL, 10);
		return 0;
	}
	if (len < 16 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi))
		return -1;
	p = s + 16;
	if (*p == ':') {
		if (digits(p + 1, 2, &sec))
			return -1;
		p += 3;
		if (*p == '.' || *p == ',') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p))
				p++;	/* fractions of a second: below the window's grain */
		}
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (*p == 'Z' && p[1] == '\0') {
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
		return 0;
	}
	if ((*p == '+' || *p == '-') && s[10] == 'T') {
		int sign = *p == '-' ? -1 : 1;

		if (digits(p + 1, 2, &oh) || oh > 23)
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if (digits(p, 2, &om) || om > 59 || p[2] != '\0')
			return -1;
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
		       sign * (oh * 3600 + om * 60);
		return 0;
	}
	if (*p != '\0')
		return -1;
	/* No zone: the local time of this machine. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

/* The log's own time, "2026-12-03T10:15:00.123Z", in milliseconds. */
static int log_time_ms(const char *s, int64_t *ms)
{
	int64_t secs;
	char whole[21];
	const char *dot = strchr(s, '.');
	int frac = 0;

	if (!dot || dot - s != 19 || strlen(s) != 24 || s[23] != 'Z' || digits(dot + 1, 3, &frac))
		return -1;
	memcpy(whole, s, 19);
	whole[19] = 'Z';
	whole[20] = '\0';
	if (who_parse_time(whole, &secs) < 0)
		return -1;
	*ms = secs * 1000 + frac;
	return 0;
}

static int same_endpoint(const json_t *v, const struct who_endpoint *ep)
{
	struct who_endpoint got;

	return json_is_string(v) && who_parse_endpoint(json_string_value(v), &got) == 0 &&
	       got.family == ep->family && got.port == ep->port &&
	       memcmp(got.addr, ep->addr, ep->family == 6 ? 16 : 4) == 0;
}

int who_match_line(const char *line, const struct who_query *q, int64_t *when_ms)
{
	json_t *doc, *nat;
	int64_t ms;
	int hit = 0;

	if (strlen(line) > WHO_LINE_MAX)
		return -1;
	doc = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "time")) ||
	    log_time_ms(json_string_value(json_object_get(doc, "time")), &ms) < 0) {
		json_decref(doc);
		return -1;
	}
	*when_ms = ms;
	nat = json_object_get(doc, "nat");
	/* Translated: the world saw the public end. Not translated (a
	 * router without NAT): the LAN end itself. */
	if (json_is_object(nat))
		hit = same_endpoint(json_object_get(nat, "public"), &q->ep);
	else
		hit = same_endpoint(json_object_get(doc, "lan"), &q->ep);
	if (hit && q->have_time) {
		int64_t d = ms / 1000 - q->at_s;

		hit = d >= -q->window_s && d <= q->window_s;
	}
	json_decref(doc);
	return hit;
}
