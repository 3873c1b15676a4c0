/* pcap_replay.h - the offline mode: pcap/pcapng files through the engine,
 * one JSON line per flow. */
#ifndef BTBLOCKD_PCAP_REPLAY_H
#define BTBLOCKD_PCAP_REPLAY_H

#include <stdio.h>
#include <stdint.h>
#include <stddef.h>

struct engine_config;

/* Offset of the IP header in a frame of link type dlt (DLT_*), following
 * VLAN tags; -1 when the frame carries no IPv4/IPv6 or dlt is unknown. */
long pcap_replay_l3_offset(int dlt, const uint8_t *frame, size_t caplen);

/* Run every file through a fresh engine (state reset between files) and
 * print one JSON object per flow to out. Returns 0, or 1 when a file
 * could not be read (an error on stderr names it; the others still run). */
int pcap_replay_run(const struct engine_config *c, int nfiles, char *const files[], FILE *out);

#endif
