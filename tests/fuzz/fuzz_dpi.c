/* fuzz_dpi.c - libFuzzer harness: every detector entry point, and
 * dpi_inspect over a synthetic flow whose state builds up packet by
 * packet.
 *
 * Input: a 5-byte head (flags, source port, destination port, both
 * big-endian), then records (fuzz.h) of one payload each:
 *   head flags bit 0   UDP (else TCP)
 *   head flags bit 1   TCP: the SYN was seen (else a mid-stream flow)
 *   head flags bit 2   IPv6 addresses
 *   ctl bit 0          direction (0: initiator)
 *   ctl bit 1          TCP: out of order (not appended to the head)
 *   ctl bits 2-7       time advance in ms
 * The detector state is fresh for every input, so a finding reproduces
 * from its file alone. */
#include "sysincl.h"
#include <netinet/in.h>
#include "dpi/dpi.h"
#include "packet.h"
#include "dpi/bencode.h"
#include "dpi/peerwire.h"
#include "dpi/extension.h"
#include "dpi/dht.h"
#include "dpi/udp_tracker.h"
#include "dpi/http.h"
#include "dpi/tls_sni.h"
#include "dpi/lsd.h"
#include "dpi/utp.h"
#include "dpi/mse.h"
#include "dpi/socks5.h"
#include "dpi/webtorrent.h"
#include "dpi/otherproto.h"
#include "fuzz.h"

#define HEAD_SIZE 1024		/* the engine's default stream prefix */

static volatile unsigned sink;

/* Every learned endpoint is read in full (ASan checks the bytes) and
 * must have passed dpi_learn's filter. */
static void learn(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
	unsigned sum = 0;

	(void)ctx;
	FUZZ_ASSERT(family == 4 || family == 6);
	FUZZ_ASSERT(port >= 1024);
	for (int i = 0; i < (family == 6 ? 16 : 4); i++)
		sum += addr[i];
	sink += sum + port;
}

/* A returned slice must lie inside the input. */
static void check_slice(const uint8_t *s, size_t slen, const uint8_t *d, size_t len)
{
	FUZZ_ASSERT(s >= d && s <= d + len);
	FUZZ_ASSERT(slen <= (size_t)(d + len - s));
}

/* The recogniser of other protocols over both transports: a known id
 * with a name, and never one for what is BitTorrent's own (a peer wire
 * handshake, KRPC, a UDP tracker connect). */
static void other_protocol(const uint8_t *d, size_t len, int krpc)
{
	enum otherproto o;

	for (int tcp = 0; tcp <= 1; tcp++) {
		o = otherproto_identify(d, len, tcp);
		FUZZ_ASSERT((unsigned)o < OTHERPROTO_COUNT && otherproto_name(o)[0] != '\0');
		if (peerwire_is_handshake(d, len, 1) || (!tcp && (krpc || udp_tracker_is_connect(d, len))))
			FUZZ_ASSERT(o == OTHERPROTO_NONE);
		sink += (unsigned)o;
	}
}

/* The entry points dpi_inspect only reaches behind its own gates. */
static void each_entry_point(struct dpi_flow *st, const struct dpi_pkt *p)
{
	const uint8_t *d = p->data, *s;
	size_t len = p->len, slen;
	struct utp_hdr uh;
	enum dpi_id r;

	sink += (unsigned)peerwire_is_handshake(d, len, 0) + (unsigned)peerwire_is_handshake(d, len, 1);
	if (len > 0)
		sink += (unsigned)extension_message(d, len, p);
	/* a flow's state is its transport's: KRPC state only on UDP */
	r = dht_check(p->v->l4proto == IPPROTO_UDP ? st : NULL, d, len, p);
	FUZZ_ASSERT(r == DPI_NONE || r == DPI_DHT);
	other_protocol(d, len, r == DPI_DHT);
	if (p->stream)
		other_protocol(p->stream, p->stream_len, 0);
	r = lsd_check(d, len);
	FUZZ_ASSERT(r == DPI_NONE || r == DPI_LSD);
	sink += (unsigned)udp_tracker_is_connect(d, len);
	sink += (unsigned)utp_parse(d, len, &uh);
	sink += (unsigned)mse_looks_random(d, len);
	if (socks5_unwrap(d, len, &s, &slen))
		check_slice(s, slen, d, len);
	if (tls_sni_get(d, len, &s, &slen))
		check_slice(s, slen, d, len);
	if (p->stream && tls_sni_get(p->stream, p->stream_len, &s, &slen))
		check_slice(s, slen, p->stream, p->stream_len);
	sink += (unsigned)http_check(p) + (unsigned)tls_sni_check(p) + (unsigned)socks5_check(p);
	r = webtorrent_check(p);
	FUZZ_ASSERT(r == DPI_NONE || r == DPI_WEBTORRENT);
	r = webtorrent_frame_check(p);
	FUZZ_ASSERT(r == DPI_NONE || r == DPI_WEBTORRENT);
	sink += (unsigned)peerwire_handshake(p);
	if (p->v->l4proto == IPPROTO_UDP) {
		sink += (unsigned)udp_tracker_check(st, p) + (unsigned)utp_check(st, p);
		udp_tracker_learn(st, p);
	} else {
		sink += (unsigned)peerwire_framing(st, p) + (unsigned)mse_check(st, p);
		peerwire_learn_blocked(st, p);
		http_learn(p);
		webtorrent_learn(p);
	}
	dpi_learn_compact(p, d, len, 4);
	dpi_learn_compact(p, d, len, 6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t head[2][HEAD_SIZE];
	uint32_t head_len[2] = { 0, 0 }, payload_pkts[2] = { 0, 0 }, seq[2] = { 1000, 5000 };
	struct dpi_flow st, side;
	struct pkt_view v;
	struct fuzz_rec r;
	uint64_t now = 1000000000ULL;
	int udp, blocked = 0;

	if (size < 5)
		return 0;
	memset(&st, 0, sizeof(st));
	memset(&side, 0, sizeof(side));
	memset(&v, 0, sizeof(v));
	udp = data[0] & 1;
	v.family = (data[0] & 4) ? 6 : 4;
	v.l4proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
	v.saddr[0] = 10;
	v.saddr[15] = 1;
	v.daddr[0] = 10;
	v.daddr[15] = 2;
	v.sport = (uint16_t)(data[1] << 8 | data[2]);
	v.dport = (uint16_t)(data[3] << 8 | data[4]);
	for (const uint8_t *in = data + 5, *end = data + size; ; ) {
		size_t left = (size_t)(end - in);
		struct dpi_pkt p = { 0 };
		struct pkt_view pv = v;
		uint8_t *buf;
		int dir, grew = 0;
		enum dpi_id id;

		if (!fuzz_next_rec(&in, &left, &r))
			break;
		dir = r.ctl & 1;
		now += (uint64_t)(r.ctl >> 2) * 1000000ULL;
		buf = fuzz_dup(r.data, r.len);
		if (dir) {	/* the reply: addresses and ports swapped */
			memcpy(pv.saddr, v.daddr, 16);
			memcpy(pv.daddr, v.saddr, 16);
			pv.sport = v.dport;
			pv.dport = v.sport;
		}
		pv.payload = buf;
		pv.payload_len = pv.payload_wire_len = (uint32_t)r.len;
		pv.tcp_seq = seq[dir];
		seq[dir] += (uint32_t)r.len;
		if (r.len)
			payload_pkts[dir]++;
		if (!udp && !(r.ctl & 2) && head_len[dir] < HEAD_SIZE && r.len) {
			size_t n = r.len < HEAD_SIZE - head_len[dir] ? r.len : HEAD_SIZE - head_len[dir];

			memcpy(head[dir] + head_len[dir], buf, n);
			head_len[dir] += (uint32_t)n;
			grew = 1;
		}
		p.v = &pv;
		p.dir = dir;
		/* the initiator is the protected side, or both are */
		p.from_protected = !dir || (data[0] & 8);
		p.to_protected = dir || (data[0] & 8);
		p.start_seen = !udp && (data[0] & 2);
		p.now_ns = now;
		p.dir_payload_pkts = payload_pkts[dir];
		p.data = buf;
		p.len = (uint32_t)r.len;
		if (!udp) {
			p.stream = head[dir];
			p.stream_len = head_len[dir];
			p.stream_grew = grew;
		}
		p.learn = learn;
		p.learn_webrtc = learn;
		if (blocked) {
			dpi_learn_blocked(&st, &p);
		} else {
			id = dpi_inspect(&st, &p);
			FUZZ_ASSERT((unsigned)id < DPI_COUNT);
			FUZZ_ASSERT(dpi_name(id) != NULL);
			blocked = id != DPI_NONE;
		}
		each_entry_point(&side, &p);
		free(buf);
	}
	return 0;
}
