/* endpoints.h - the per-worker cache of endpoints known to run BitTorrent:
 * ip:port of peers learned from DHT, trackers and PEX and of responders
 * of blocked flows; bare hosts (port 0) known to run a client. */
#ifndef BTBLOCKD_ENDPOINTS_H
#define BTBLOCKD_ENDPOINTS_H

#include <stdint.h>

/* One cached endpoint. */
struct endpoint {
	uint8_t addr[16];
	uint16_t port;		/* 0: the host itself */
	uint8_t family;		/* 0: free slot */
	uint32_t epoch;		/* entries of an older epoch are free */
	uint64_t expires_ns;
};

struct endpoints {
	struct endpoint *slots;
	uint32_t nsets;		/* power of two; ENDPOINTS_WAYS slots each */
	uint64_t ttl_ns;
	uint64_t seed;
	uint32_t epoch;		/* bumped by endpoints_clear */
	uint64_t used;		/* slots holding an entry (live or stale) */
	uint64_t inserted, replaced, hits;
};

#define ENDPOINTS_WAYS 4

/* Allocate room for about capacity entries kept ttl_s seconds. 0 or -1. */
int endpoints_init(struct endpoints *c, uint32_t capacity, uint32_t ttl_s, uint64_t seed);

/* Free the cache. */
void endpoints_fini(struct endpoints *c);

/* Forget every entry. */
void endpoints_clear(struct endpoints *c);

/* Remember (or refresh) family/addr/port until now + ttl; port 0 names
 * the host. When the set is full the entry closest to expiry goes. */
void endpoints_add(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
		   uint64_t now_ns);

/* 1 if the endpoint is cached and not expired, else 0. */
int endpoints_has(struct endpoints *c, int family, const uint8_t *addr, uint16_t port,
		  uint64_t now_ns);

#endif
