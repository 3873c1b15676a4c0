/* dpi_test.h - helpers shared by the DPI unit tests: packet views and
 * detector inputs built in memory, and a recorder of learned endpoints. */
#ifndef BTBLOCKD_DPI_TEST_H
#define BTBLOCKD_DPI_TEST_H

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "dpi/dpi.h"
#include "packet.h"

/* Endpoints reported through dpi_pkt.learn (webrtc 0) and
 * dpi_pkt.learn_webrtc (webrtc 1). */
struct learned {
	int n;
	int family[64];
	uint8_t addr[64][16];
	uint16_t port[64];
	int webrtc[64];
};

static void test_learn_as(void *ctx, int family, const uint8_t *addr, uint16_t port, int webrtc)
{
	struct learned *l = ctx;

	if (l->n >= 64)
		return;
	l->family[l->n] = family;
	memset(l->addr[l->n], 0, 16);
	memcpy(l->addr[l->n], addr, family == 6 ? 16 : 4);
	l->port[l->n] = port;
	l->webrtc[l->n] = webrtc;
	l->n++;
}

static __attribute__((unused)) void test_learn(void *ctx, int family, const uint8_t *addr,
						uint16_t port)
{
	test_learn_as(ctx, family, addr, port, 0);
}

static __attribute__((unused)) void test_learn_webrtc(void *ctx, int family, const uint8_t *addr,
						       uint16_t port)
{
	test_learn_as(ctx, family, addr, port, 1);
}

/* An IPv4 view 10.0.0.1:sport -> 10.0.0.2:dport carrying data. */
static __attribute__((unused)) void test_view(struct pkt_view *v, int l4, uint16_t sport, uint16_t dport,
		      const void *data, size_t len)
{
	memset(v, 0, sizeof(*v));
	v->family = 4;
	v->l4proto = (uint8_t)l4;
	v->saddr[0] = 10;
	v->saddr[3] = 1;
	v->daddr[0] = 10;
	v->daddr[3] = 2;
	v->sport = sport;
	v->dport = dport;
	v->payload = data;
	v->payload_len = (uint32_t)len;
	v->payload_wire_len = (uint32_t)len;
}

/* A detector input for one packet of direction dir, no stream head. */
static __attribute__((unused)) void test_pkt(struct dpi_pkt *p, const struct pkt_view *v, int dir,
		     struct learned *l)
{
	memset(p, 0, sizeof(*p));
	p->v = v;
	p->dir = dir;
	p->data = v->payload;
	p->len = v->payload_len;
	p->dir_payload_pkts = 1;
	if (l) {
		memset(l, 0, sizeof(*l));
		p->learn = test_learn;
		p->learn_webrtc = test_learn_webrtc;
		p->learn_ctx = l;
	}
}

#endif
