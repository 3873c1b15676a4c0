/* fuzz_leases.c - libFuzzer harness: a DHCP lease file (dnsmasq,
 * odhcpd's state file, a hosts file, or anything) as the control thread
 * reads it. The input is the file's contents. Every entry kept must be
 * an IPv4 or IPv6 address with a non-empty host name of the allowed
 * characters, and must be found again by its address; the same input
 * as a single line must parse or be refused without reading past it. */
#include "sysincl.h"
#include "leases.h"
#include "fuzz.h"

static int name_ok(const char *s)
{
	size_t n = strnlen(s, LEASES_NAME_MAX);

	if (n == 0 || n >= LEASES_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct leases ls = { .nfiles = 1 };
	struct lease_file *f = &ls.file[0];
	struct lease one[LEASES_LINE_ADDRS];
	/* exactly size bytes: a read past the input is an ASan report */
	char *buf = malloc(size ? size : 1);
	int k;

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	leases_parse_buffer(f, buf, size);
	FUZZ_ASSERT(f->nentries <= LEASES_MAX_ENTRIES);
	for (unsigned i = 0; i < f->nentries; i++) {
		const struct lease *e = &f->entries[i];

		FUZZ_ASSERT(e->family == 4 || e->family == 6);
		FUZZ_ASSERT(name_ok(e->name));
		FUZZ_ASSERT(leases_lookup(&ls, e->family, e->addr, NULL) != NULL);
		if (e->has_mac)
			FUZZ_ASSERT(leases_lookup(&ls, e->family, e->addr, e->mac) != NULL);
	}
	k = lease_parse_line(buf, size, one, LEASES_LINE_ADDRS);
	FUZZ_ASSERT(k >= -1 && k <= LEASES_LINE_ADDRS);
	for (int i = 0; i < k; i++)
		FUZZ_ASSERT(name_ok(one[i].name));
	free(buf);
	return 0;
}
