/* hash.h - the 64-bit finaliser of the endpoint cache (per worker) and of
 * the table of BitTorrent hosts (shared by the workers). */
#ifndef BTBLOCKD_HASH_H
#define BTBLOCKD_HASH_H

#include <stdint.h>

/* MurmurHash3's fmix64: every input bit affects every output bit, so a
 * bucket index can be taken from the low bits. */
static inline uint64_t hash_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

#endif
