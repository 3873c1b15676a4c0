/* statefile.h - the state file's format: the learned endpoints of every
 * worker and the protected hosts seen running BitTorrent, as one daemon
 * leaves them to the next (src/state.c writes and reads the file).
 *
 * Binary, every integer big-endian, so that the same bytes mean the same
 * on any CPU:
 *
 *   header, 64 bytes
 *      0  8  magic "BTBSTATE"
 *      8  4  version, 1
 *     12  4  header length, 64
 *     16  8  saved at: wall clock, seconds since the epoch
 *     24 16  boot id of the kernel that ran the saver (zeros: unknown)
 *     40  2  first queue of the saver
 *     42  2  last queue
 *     44  4  endpoint records
 *     48  4  host records
 *     52 12  zero
 *   endpoint record, 32 bytes (address and port, never below 1024)
 *      0  1  family, 4 or 6
 *      1  1  tier: 1 listed, 2 confirmed
 *      2  2  port
 *      4  2  queue of the worker that held it
 *      6  1  kinds: bit 0 BitTorrent, bit 1 WebRTC (a WebTorrent peer)
 *      7  1  zero
 *      8  4  source: the keyed hash of who told it, opaque
 *     12  4  seconds it had left, at most 604800
 *     16 16  address (IPv4 in the first 4 bytes, the rest zero)
 *   host record, 24 bytes
 *      0  1  family, 4 or 6
 *      1  3  zero
 *      4  4  seconds since it was last seen
 *      8 16  address
 *   trailer: CRC-32 (IEEE 802.3, as zlib's crc32) of everything before.
 *
 * The length must be exactly what the counts say. Times are relative to
 * "saved at": no monotonic clock survives a reboot.
 */
#ifndef BTBLOCKD_STATEFILE_H
#define BTBLOCKD_STATEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATEFILE_MAGIC "BTBSTATE"
#define STATEFILE_VERSION 1
#define STATEFILE_HEADER 64
#define STATEFILE_ENDPOINT 32
#define STATEFILE_HOST 24
#define STATEFILE_TRAILER 4

/* What a file may hold: bounds for the reader, which refuses more, and
 * for the writer, which leaves out what does not fit (and counts it). */
#define STATEFILE_MAX_ENDPOINTS (1u << 20)
#define STATEFILE_MAX_HOSTS (1u << 16)
#define STATEFILE_MAX_TTL 604800u
#define STATEFILE_MAX_BYTES (STATEFILE_HEADER + \
	(size_t)STATEFILE_MAX_ENDPOINTS * STATEFILE_ENDPOINT + \
	(size_t)STATEFILE_MAX_HOSTS * STATEFILE_HOST + STATEFILE_TRAILER)

struct state_endpoint {
	uint8_t family;
	uint8_t tier;
	uint8_t kinds;		/* enum endpoint_kind bits, not 0 */
	uint16_t port;
	uint16_t queue;
	uint32_t source;
	uint32_t ttl_s;
	uint8_t addr[16];
};

struct state_host {
	uint8_t family;
	uint32_t age_s;
	uint8_t addr[16];
};

struct state_doc {
	uint64_t saved_s;
	uint8_t boot_id[16];
	uint16_t queue_first;
	uint16_t queue_last;
	uint32_t nendpoints;
	uint32_t nhosts;
	struct state_endpoint *endpoints;
	struct state_host *hosts;
};

/* CRC-32 of len bytes, continuing from crc (0 to start). */
uint32_t statefile_crc32(uint32_t crc, const uint8_t *p, size_t len);

/* Bytes of a file with these counts. */
size_t statefile_size(uint32_t nendpoints, uint32_t nhosts);

/* Write d into buf, which holds statefile_size() bytes. The records must
 * be valid (the writer only puts what a cache may hold). */
void statefile_encode(const struct state_doc *d, uint8_t *buf);

/*
 * Read len bytes of untrusted input into d (records allocated; free with
 * statefile_free). 0, or -1 with a sentence in why: not a state file, a
 * version this reader does not know, a length or checksum that does not
 * add up, or the first record that breaks a rule of the format (family,
 * address, port, tier, queue, seconds, zero bytes). Nothing is kept from
 * a refused file. Whether each endpoint may be learned at all (see
 * dpi_learnable) is the caller's check.
 */
int statefile_parse(const uint8_t *buf, size_t len, struct state_doc *d, char *why,
		    size_t whylen);

/* Free what statefile_parse allocated (d may be zeroed). */
void statefile_free(struct state_doc *d);

/*
 * Read base in the directory dirfd: a regular file, not a symbolic link,
 * owned by root or by owner, writable by nobody else, of at most
 * STATEFILE_MAX_BYTES. 1 with the bytes in *buf (caller frees) and their
 * number in *len, 0 when there is no such file, -1 with a sentence in
 * why.
 */
int statefile_read(int dirfd, const char *base, uid_t owner, uint8_t **buf, size_t *len,
		   char *why, size_t whylen);

/*
 * Replace base in the directory dirfd by len bytes, atomically: BASE.tmp
 * created (mode 0600, a stale one removed first), written, synced and
 * renamed over base, then the directory synced. 0, or -1 with a sentence
 * in why (the temporary file removed).
 */
int statefile_write(int dirfd, const char *base, const uint8_t *buf, size_t len, char *why,
		    size_t whylen);

/* 1 when the 36 characters of a boot id (as in
 * /proc/sys/kernel/random/boot_id) give its 16 bytes, else 0. */
int statefile_boot_id(const char *text, size_t len, uint8_t out[16]);

#endif
