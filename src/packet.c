/* packet.c - the packet view: IPv4/IPv6 and TCP/UDP headers, bounds checked. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include "packet.h"

/* Big-endian loads: one load and a byte swap each. */
static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t x;

	memcpy(&x, p, 2);
	return ntohs(x);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return ntohl(x);
}

/* Transport header at data[off..end); end is the captured end of the IP
 * datagram, wire_end where it ends on the wire. */
static enum pkt_status parse_l4(struct pkt_view *v, const uint8_t *data,
				size_t off, size_t end, size_t wire_end)
{
	size_t hlen;

	switch (v->l4proto) {
	case IPPROTO_TCP:
		if (end < off + 20)
			return PKT_MALFORMED;
		hlen = (size_t)(data[off + 12] >> 4) * 4;
		if (hlen < 20 || end < off + hlen)
			return PKT_MALFORMED;
		v->sport = rd16(data + off);
		v->dport = rd16(data + off + 2);
		v->tcp_seq = rd32(data + off + 4);
		v->tcp_ack = rd32(data + off + 8);
		v->tcp_flags = data[off + 13];
		break;
	case IPPROTO_UDP:
		hlen = 8;
		if (end < off + hlen)
			return PKT_MALFORMED;
		v->sport = rd16(data + off);
		v->dport = rd16(data + off + 2);
		break;
	default:
		return PKT_OTHER_L4;
	}
	v->payload = data + off + hlen;
	v->payload_len = (uint32_t)(end - off - hlen);
	v->payload_wire_len = wire_end > off + hlen ? (uint32_t)(wire_end - off - hlen) : 0;
	return PKT_OK;
}

static enum pkt_status parse_ipv4(struct pkt_view *v, const uint8_t *data,
				  size_t cap_len, size_t wire_len)
{
	size_t ihl, total, end;
	uint16_t frag;

	if (cap_len < 20)
		return PKT_MALFORMED;
	ihl = (size_t)(data[0] & 0x0f) * 4;
	total = rd16(data + 2);
	/* GSO super-packets may carry 0 (or a stale value): trust the wire length then. */
	if (total == 0 && wire_len > 0xffff)
		total = wire_len;
	if (ihl < 20 || total < ihl || cap_len < ihl || total > wire_len)
		return PKT_MALFORMED;
	v->family = 4;
	v->l4proto = data[9];
	memcpy(v->saddr, data + 12, 4);
	memcpy(v->daddr, data + 16, 4);
	frag = rd16(data + 6);
	if (frag & 0x1fff)
		return PKT_FRAGMENT;
	if (frag & 0x2000)
		v->flags |= PKT_F_FIRST_FRAGMENT;
	end = total < cap_len ? total : cap_len;
	if (end < total)
		v->flags |= PKT_F_PAYLOAD_CUT;
	return parse_l4(v, data, ihl, end, total);
}

/* Walk the IPv6 extension header chain to the transport header. */
static enum pkt_status parse_ipv6(struct pkt_view *v, const uint8_t *data,
				  size_t cap_len, size_t wire_len)
{
	size_t off = 40, total, end;
	uint8_t next;

	if (cap_len < 40)
		return PKT_MALFORMED;
	total = 40 + (size_t)rd16(data + 4);
	/* Jumbograms and GSO packets: payload length 0, the wire length tells. */
	if (total == 40 && wire_len > 40)
		total = wire_len;
	if (total > wire_len)
		return PKT_MALFORMED;
	v->family = 6;
	memcpy(v->saddr, data + 8, 16);
	memcpy(v->daddr, data + 24, 16);
	end = total < cap_len ? total : cap_len;
	if (end < total)
		v->flags |= PKT_F_PAYLOAD_CUT;
	next = data[6];
	/* Bounded: each header is at least 8 bytes and inside end. */
	for (;;) {
		switch (next) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (end < off + 8)
				return PKT_MALFORMED;
			next = data[off];
			off += ((size_t)data[off + 1] + 1) * 8;
			break;
		case 51:	/* AH: length in 4-byte units, minus 2 */
			if (end < off + 8)
				return PKT_MALFORMED;
			next = data[off];
			off += ((size_t)data[off + 1] + 2) * 4;
			break;
		case 44:	/* fragment */
			if (end < off + 8)
				return PKT_MALFORMED;
			if (rd16(data + off + 2) & 0xfff8) {
				v->l4proto = data[off];
				return PKT_FRAGMENT;
			}
			if (rd16(data + off + 2) & 1)
				v->flags |= PKT_F_FIRST_FRAGMENT;
			next = data[off];
			off += 8;
			break;
		default:
			if (off > end)
				return PKT_MALFORMED;
			v->l4proto = next;
			return parse_l4(v, data, off, end, total);
		}
		if (off > end)
			return PKT_MALFORMED;
	}
}

/* The common case, IPv4 without options or fragmentation carrying a
 * complete TCP/UDP header, in straight-line code. Fills *v exactly as
 * the general path would and returns 1; 0 leaves it to the general path,
 * which starts by clearing *v: fields written here before a 0 need no
 * undoing. Each field is stored as soon as it is known, so that few
 * values stay live (no callee-saved registers, no stack frame). */
static inline int parse_ipv4_plain(struct pkt_view *v, const uint8_t *data,
			    size_t cap_len, size_t wire_len)
{
	size_t total, end, hlen;
	uint8_t proto;

	if (cap_len < 28 || data[0] != 0x45 || (rd16(data + 6) & 0x3fff))
		return 0;
	total = rd16(data + 2);
	if (total < 20 || total > wire_len)
		return 0;
	end = total < cap_len ? total : cap_len;
	proto = data[9];
	if (proto == IPPROTO_TCP) {
		if (end < 40)
			return 0;
		hlen = (size_t)(data[32] >> 4) * 4;
		if (hlen < 20 || end < 20 + hlen)
			return 0;
		v->tcp_seq = rd32(data + 24);
		v->tcp_ack = rd32(data + 28);
		v->tcp_flags = data[33];
	} else if (proto == IPPROTO_UDP) {
		hlen = 8;
		if (end < 28)
			return 0;	/* total length cuts the header */
		v->tcp_seq = 0;
		v->tcp_ack = 0;
		v->tcp_flags = 0;
	} else {
		return 0;
	}
	v->family = 4;
	v->l4proto = proto;
	v->flags = end < total ? PKT_F_PAYLOAD_CUT : 0;
	memcpy(v->saddr, data + 12, 4);
	memset(v->saddr + 4, 0, 12);
	memcpy(v->daddr, data + 16, 4);
	memset(v->daddr + 4, 0, 12);
	v->sport = rd16(data + 20);
	v->dport = rd16(data + 22);
	v->payload = data + 20 + hlen;
	v->payload_len = (uint32_t)(end - 20 - hlen);
	/* total >= end >= 20 + hlen here */
	v->payload_wire_len = (uint32_t)(total - 20 - hlen);
	return 1;
}

/* Everything but the common case; out of line so that the common case
 * needs no stack frame. */
static __attribute__((noinline)) enum pkt_status parse_general(struct pkt_view *v,
							       const uint8_t *data,
							       size_t cap_len, size_t wire_len)
{
	memset(v, 0, sizeof(*v));
	if (cap_len < 1)
		return PKT_MALFORMED;
	switch (data[0] >> 4) {
	case 4:
		return parse_ipv4(v, data, cap_len, wire_len);
	case 6:
		return parse_ipv6(v, data, cap_len, wire_len);
	default:
		return PKT_MALFORMED;
	}
}

enum pkt_status pkt_parse(struct pkt_view *v, const uint8_t *data,
			  size_t cap_len, size_t wire_len)
{
	if (wire_len < cap_len)
		wire_len = cap_len;
	if (parse_ipv4_plain(v, data, cap_len, wire_len))
		return PKT_OK;
	return parse_general(v, data, cap_len, wire_len);
}

const char *pkt_status_name(enum pkt_status s)
{
	switch (s) {
	case PKT_OK:
		return "ok";
	case PKT_OTHER_L4:
		return "other-l4";
	case PKT_FRAGMENT:
		return "fragment";
	case PKT_MALFORMED:
		return "malformed";
	}
	return "unknown";
}
