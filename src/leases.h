/* leases.h - DHCP lease files: which host name a LAN address (and MAC)
 * was given. Read by the control thread only, cached per file and read
 * again when the file changes. */
#ifndef BTBLOCKD_LEASES_H
#define BTBLOCKD_LEASES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEASES_MAX_FILES	4
#define LEASES_MAX_ENTRIES	4096	/* per file; the rest is counted, not kept */
#define LEASES_NAME_MAX		64	/* a DNS label is at most 63 bytes */
#define LEASES_LINE_MAX		1024	/* longer lines are skipped whole */
#define LEASES_FILE_MAX		(4u << 20)	/* bytes read from one file at most */
/* The default list: dnsmasq on OpenWrt and Debian, odhcpd's state file. */
#define LEASES_DEFAULT_PATHS	"/tmp/dhcp.leases,/var/lib/misc/dnsmasq.leases,/tmp/odhcpd.leases"

struct lease {
	uint8_t addr[16];		/* IPv4 in the first 4 bytes */
	uint8_t family;			/* 4 or 6 */
	uint8_t has_mac;
	uint8_t mac[6];
	char name[LEASES_NAME_MAX];	/* printable ASCII, never empty */
};

#define LEASES_LINE_ADDRS	4	/* addresses taken from one odhcpd line */

/*
 * Parse one line (len bytes, no newline needed, NUL not required) of
 *  - dnsmasq:  "EXPIRY MAC IPV4 NAME CLIENTID" or "EXPIRY IAID IPV6 NAME DUID"
 *              (NAME "*" is none; the "duid ..." line is skipped);
 *  - odhcpd's state file (leasefile): "# IFACE MAC ipv4 NAME VALID ID 32 ADDR/32"
 *              and "# IFACE DUID IAID NAME VALID ID LEN ADDR/LEN..." (the
 *              first address; NAME "-" is none);
 *  - a hosts file (odhcpd's /tmp/hosts/odhcpd*): "ADDR NAME [ALIASES]".
 * Returns the entries written to out (at most max; 0 for a comment, a
 * blank or DUID line, or a lease without a usable name), or -1 for a line
 * of no format we read. Never reads past len.
 */
int lease_parse_line(const char *line, size_t len, struct lease *out, unsigned max);

struct lease_file {
	char path[256];
	int present;			/* the last stat found it */
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
	struct lease *entries;		/* nentries of them, malloc'd */
	unsigned nentries;
	uint64_t loads;			/* times read */
	uint64_t bad_lines;		/* lines of no known format, in the last read */
	uint64_t dropped;		/* entries past LEASES_MAX_ENTRIES, in the last read */
};

struct leases {
	unsigned nfiles;
	struct lease_file file[LEASES_MAX_FILES];
};

/* A comma-separated list of paths (at most LEASES_MAX_FILES, each under
 * 256 bytes), or "none". 0, or -1 when the list is not one. */
int leases_check_list(const char *list);

/* Set the files to read; nothing is read yet. */
int leases_init(struct leases *l, const char *list);

/* Read again the files whose size, inode or modification time changed
 * (a file that disappeared forgets its entries). */
void leases_refresh(struct leases *l);

/* The name given to (family, addr), preferring an entry with the same
 * MAC when mac is given. NULL when none. Call leases_refresh first. */
const char *leases_lookup(const struct leases *l, int family, const uint8_t *addr,
			  const uint8_t *mac);

/* Parse a whole file's contents (the same as a refresh does); for the tests
 * and the fuzz harness. Returns the entries kept. */
unsigned leases_parse_buffer(struct lease_file *f, const char *buf, size_t len);

void leases_free(struct leases *l);

#endif
