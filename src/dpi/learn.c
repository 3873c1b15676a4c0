/* learn.c - the endpoint-learning helpers every detector shares: the
 * filter of what may be learned at all, and the calls into the engine's
 * callbacks. */
#include "sysincl.h"
#include "dpi/detector.h"

int dpi_learnable(int family, const uint8_t *addr, uint16_t port)
{
	static const uint8_t zero[16];

	/* Ports below 1024 are never learned: no answer, however solicited,
	 * can get a DNS, web or mail server suspected. */
	if (port < 1024)
		return 0;
	if (family == 4)
		return addr[0] != 0 && addr[0] < 224;
	return addr[0] != 0xff && memcmp(addr, zero, 16) != 0;
}

void dpi_learn(const struct dpi_pkt *p, int family, const uint8_t *addr, uint16_t port)
{
	if (p->learn && dpi_learnable(family, addr, port))
		p->learn(p->learn_ctx, family, addr, port);
}

void dpi_learn_webrtc(const struct dpi_pkt *p, int family, const uint8_t *addr, uint16_t port)
{
	if (p->learn_webrtc && dpi_learnable(family, addr, port))
		p->learn_webrtc(p->learn_ctx, family, addr, port);
}

void dpi_learn_compact(const struct dpi_pkt *p, const uint8_t *list, size_t len, int family)
{
	size_t sz = family == 6 ? 18 : 6;

	for (; len >= sz; list += sz, len -= sz)
		dpi_learn(p, family, list, (uint16_t)(list[sz - 2] << 8 | list[sz - 1]));
}
