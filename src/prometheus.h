/* prometheus.h - btblockd's stats document as a Prometheus scrape. */
#ifndef BTBLOCKD_PROMETHEUS_H
#define BTBLOCKD_PROMETHEUS_H

#include <stdio.h>
#include <jansson.h>

/* Write doc, the "stats" reply, to out; -1 when it has no queues list. */
int prom_render(const json_t *doc, FILE *out);

/* The daemon did not answer: btblockd_up 0 alone, still a valid scrape. */
void prom_render_down(FILE *out);

#endif
