/* bans_cmd.c - btblockctl bans and unban, the kernel side: the ban sets
 * (src/nft_bans.c) and the conntrack entries (src/ct_flush.c). */
#include "sysincl.h"
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include "bans_cmd.h"
#include "ct_flush.h"

/* Elements that time out between the dump and the delete make the kernel
 * refuse the whole batch (ENOENT): read again and retry, a few times. */
#define UNBAN_TRIES 4

const char *bans_error(int err, const char *what, char *buf, size_t len)
{
	switch (-err) {
	case ENOENT:
		snprintf(buf, len, "%s: table inet %s does not exist: the ruleset is not loaded "
			 "(btblockd-firewall up loads it)", what, NFT_BANS_TABLE);
		break;
	case EPERM:
	case EACCES:
		snprintf(buf, len, "%s: %s: this needs root (CAP_NET_ADMIN)", what, strerror(-err));
		break;
	case EBADMSG:
		snprintf(buf, len, "%s: the kernel's answer was malformed", what);
		break;
	case ETIMEDOUT:
		snprintf(buf, len, "%s: the kernel did not answer in time", what);
		break;
	default:
		snprintf(buf, len, "%s: %s", what, strerror(-err));
	}
	return buf;
}

static void addr_text(int family, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void bans_render_table(const struct ban_list *l, FILE *out)
{
	if (l->n == 0) {
		fprintf(out, "no banned address pairs\n");
		return;
	}
	fprintf(out, "%-6s %-39s %-39s %10s %10s\n", "FAMILY", "ADDRESS", "ADDRESS",
		"EXPIRES_S", "TIMEOUT_S");
	for (size_t i = 0; i < l->n; i++) {
		const struct ban_elem *e = &l->v[i];
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], ex[24], to[24];

		addr_text(e->family, e->a, a, sizeof(a));
		addr_text(e->family, e->b, b, sizeof(b));
		snprintf(ex, sizeof(ex), e->has_expires ? "%" PRIu64 : "-", e->expires_ms / 1000);
		snprintf(to, sizeof(to), e->has_timeout ? "%" PRIu64 : "-", e->timeout_ms / 1000);
		fprintf(out, "%-6s %-39s %-39s %10s %10s\n", e->family == 4 ? "ipv4" : "ipv6", a, b,
			ex, to);
	}
	fprintf(out, "%zu banned address pair%s%s\n", l->n, l->n == 1 ? "" : "s",
		l->truncated ? " (more left out: the list is too long)" : "");
}

json_t *bans_render_json(const struct ban_list *l)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct ban_elem *e = &l->v[i];
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

		addr_text(e->family, e->a, a, sizeof(a));
		addr_text(e->family, e->b, b, sizeof(b));
		json_array_append_new(arr, json_pack("{s:s,s:[s,s],s:o,s:o}",
			"family", e->family == 4 ? "ipv4" : "ipv6", "addresses", a, b,
			"timeout_s", e->has_timeout ? json_integer((json_int_t)(e->timeout_ms / 1000)) :
						      json_null(),
			"expires_s", e->has_expires ? json_integer((json_int_t)(e->expires_ms / 1000)) :
						      json_null()));
	}
	return json_pack("{s:o,s:b}", "bans", arr, "truncated", l->truncated);
}

int bans_list(int json, FILE *out)
{
	struct ban_list l;
	char err[256];
	int r = nft_bans_read(&l);

	if (r < 0) {
		fprintf(stderr, "btblockctl: %s\n",
			bans_error(r, "cannot read the ban sets", err, sizeof(err)));
		return 1;
	}
	nft_bans_pairs(&l);
	if (json) {
		json_t *doc = bans_render_json(&l);

		if (!doc || json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
			json_decref(doc);
			nft_bans_free(&l);
			fprintf(stderr, "btblockctl: out of memory\n");
			return 1;
		}
		fputc('\n', out);
		json_decref(doc);
	} else {
		bans_render_table(&l, out);
	}
	nft_bans_free(&l);
	return 0;
}

static int remove_bans(const struct addrspec *spec, long *pairs, int *no_table)
{
	char err[256];
	int r = 0;

	*pairs = 0;
	for (int t = 0; t < UNBAN_TRIES; t++) {
		struct ban_list all, sel;

		r = nft_bans_read(&all);
		if (r == -ENOENT) {
			*no_table = 1;
			return 0;
		}
		if (r < 0)
			break;
		r = nft_bans_select(&all, spec, &sel);
		nft_bans_free(&all);
		if (r < 0)
			break;
		if (sel.n == 0) {
			nft_bans_free(&sel);
			return 0;
		}
		r = nft_bans_delete(&sel);
		if (r == 0) {
			nft_bans_pairs(&sel);
			*pairs = (long)sel.n;
		}
		nft_bans_free(&sel);
		if (r != -ENOENT)
			break;
	}
	if (r < 0) {
		fprintf(stderr, "btblockctl: %s\n",
			bans_error(r, "cannot remove the bans", err, sizeof(err)));
		return 1;
	}
	return 0;
}

/* The held flows (held4, held6: flows blocked before conntrack confirmed
 * their entry) are keyed by addresses, protocol and ports; they are
 * emptied as a whole, one set at a time (a ruleset older than them has
 * neither): the daemon still blocks the flows it remembers, so only a
 * block the daemon no longer knows is lifted for other addresses. */
static int clear_held(void)
{
	static const char *const sets[] = { "held4", "held6" };
	struct mnl_socket *nl;
	uint32_t portid;
	char err[256];
	int status = 0;

	nl = nft_sets_socket(&portid);
	if (!nl) {
		fprintf(stderr, "btblockctl: %s\n",
			bans_error(-errno, "cannot clear the held flows", err, sizeof(err)));
		return 1;
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		int r = nft_sets_flush(nl, portid, &sets[i], 1);

		if (r < 0 && r != -ENOENT) {
			fprintf(stderr, "btblockctl: %s\n",
				bans_error(r, "cannot clear the held flows", err, sizeof(err)));
			status = 1;
		}
	}
	mnl_socket_close(nl);
	return status;
}

int bans_unban_kernel(const struct addrspec *spec, const struct bans_marks *m, long *pairs,
		      long *conns, int *no_table)
{
	struct ct_filter f = {
		.spec = *spec,
		.mask = m->mask,
		.values = { m->block, m->reject },
		.nvalues = 2,
	};
	char err[256];
	int status;

	*no_table = 0;
	status = remove_bans(spec, pairs, no_table);
	if (!*no_table && clear_held())
		status = 1;
	*conns = ct_flush(&f);
	if (*conns < 0) {
		int e = (int)*conns;

		fprintf(stderr, "btblockctl: %s\n",
			e == -ENOENT ? "cannot clear the connections: conntrack is not available" :
			bans_error(e, "cannot clear the connections", err, sizeof(err)));
		*conns = 0;
		status = 1;
	}
	return status;
}
