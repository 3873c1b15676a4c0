/* test_dpi_webtorrent.c - unit tests of the WebTorrent detector
 * (src/dpi/webtorrent.c): WebSocket tracker frames, masked and not,
 * split and whole; the look-alikes it must leave alone (chat, Socket.IO,
 * a call's signalling); the tracker names over TLS; the peers learned from
 * relayed SDP, and through the engine, what a learned peer's STUN and
 * DTLS flows get compared with everyone else's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/webtorrent.c"
#include "dpi_test.h"
#include "lookalikes.h"
#include "engine.h"
#include "dpi/tls_sni.h"

/* A 20-character binary info_hash as JSON.stringify writes one: escapes,
 * two-byte UTF-8 (U+0080, U+00FF), an escaped backslash and quote. */
#define IH "\\u0000\\u0001abc\xc2\x80\xc3\xbf\\\\\\\"defghijklmn"
#define PEER "-WW0207-abcdefghijkl"
#define UPGRADE "GET /announce HTTP/1.1\r\nHost: tracker.example.org\r\nConnection: Upgrade\r\n" \
	"Upgrade: websocket\r\nOrigin: http://127.0.0.1:8000\r\nSec-WebSocket-Version: 13\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
#define SWITCHED "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
/* SDP as JSON string text: lines end in the escapes \r\n */
#define SDP_HEAD "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n" \
	"a=group:BUNDLE 0\\r\\na=msid-semantic: WMS\\r\\n"
#define SDP_DC "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\n"
#define SDP_TAIL "a=ice-ufrag:I9/4\\r\\na=ice-pwd:3ldOCt3tz+xOlLTsrbxQDgLW\\r\\n" \
	"a=fingerprint:sha-256 26:65:7F:CC:83:56:42:6F\\r\\na=setup:actpass\\r\\na=mid:0\\r\\n" \
	"a=sctp-port:5000\\r\\na=max-message-size:262144\\r\\n"
#define CAND(addr, port) "a=candidate:1570253627 1 udp 2113937151 " addr " " port \
	" typ host generation 0 network-cost 999\\r\\n"

static const char announce[] =
	"{\"numwant\":5,\"uploaded\":0,\"downloaded\":0,\"left\":20000000,\"event\":\"started\","
	"\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PEER "\",\"offers\":["
	"{\"offer\":{\"type\":\"offer\",\"sdp\":\"" SDP_HEAD SDP_DC CAND("10.0.0.1", "50010") SDP_TAIL
	"\"},\"offer_id\":\"abcdefghijklmnopqrst\"}]}";

/* The tracker relays a peer's answer: its candidates, of every shape. */
static const char relayed_answer[] =
	"{\"action\":\"announce\",\"answer\":{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC
	CAND("10.0.0.201", "50000")
	"a=candidate:2 1 udp 1677729535 198.51.100.7 61000 typ srflx raddr 10.0.0.201 rport 50000\\r\\n"
	"a=candidate:3 1 UDP 2113939711 fd00::201 50002 typ host\\r\\n"
	"a=candidate:4 1 udp 2113937151 1f2e3d4c-5b6a-4789-a0b1-c2d3e4f5a6b7.local 50003 typ host\\r\\n"
	"a=candidate:5 1 tcp 1518280447 10.0.0.201 9 typ host tcptype active\\r\\n"
	"a=candidate:6 1 udp 2113937151 10.0.0.201 53 typ host\\r\\n"
	"a=candidate:7 1 udp 2113937151 10.0.0.201 70000 typ host\\r\\n"
	SDP_TAIL "\"},\"offer_id\":\"abcdefghijklmnopqrst\",\"peer_id\":\"" PEER "\","
	"\"info_hash\":\"" IH "\"}";

static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A frame of t at b: first byte b0 (0x81: FIN, text), masked with k
 * unless NULL, length in its shortest form (64-bit when long64). */
static size_t frame(uint8_t *b, uint8_t b0, const char *t, size_t tl, const uint8_t *k, int long64)
{
	size_t n = 0, i;

	b[n++] = b0;
	if (!long64 && tl < 126) {
		b[n++] = (uint8_t)tl;
	} else if (!long64 && tl <= 0xffff) {
		b[n++] = 126;
		b[n++] = (uint8_t)(tl >> 8);
		b[n++] = (uint8_t)tl;
	} else {
		b[n++] = 127;
		for (i = 0; i < 8; i++)
			b[n++] = (uint8_t)((uint64_t)tl >> (56 - 8 * i));
	}
	if (k) {
		b[1] |= 0x80;
		memcpy(b + n, k, 4);
		n += 4;
	}
	for (i = 0; i < tl; i++)
		b[n + i] = (uint8_t)t[i] ^ (k ? k[i & 3] : 0);
	return n + tl;
}

/* head[0..len) as the stream head of direction dir (the packet is its
 * last part); webtorrent_check. */
static enum dpi_id head(const uint8_t *h, size_t len, int dir)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 8000, h, len);
	test_pkt(&p, &v, dir, NULL);
	p.stream = h;
	p.stream_len = (uint32_t)len;
	p.stream_grew = 1;
	return webtorrent_check(&p);
}

/* d[0..len) as one packet without a head; webtorrent_frame_check, from
 * an exact heap copy (a sanitizer build reports a read past it) and from
 * a buffer that goes on (a read past len would see more and could change
 * the answer): both must agree. */
static enum dpi_id packet(const uint8_t *d, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;
	uint8_t *exact = malloc(len ? len : 1);
	enum dpi_id r, r_more;

	assert_non_null(exact);
	memcpy(exact, d, len);
	test_view(&v, IPPROTO_TCP, 40000, 8000, exact, len);
	test_pkt(&p, &v, 0, NULL);
	r = webtorrent_frame_check(&p);
	free(exact);
	test_view(&v, IPPROTO_TCP, 40000, 8000, d, len);
	test_pkt(&p, &v, 0, NULL);
	r_more = webtorrent_frame_check(&p);
	assert_int_equal(r, r_more);
	return r;
}

/* Upgrade request then text t in one frame (masked unless k is NULL). */
static size_t client_head(uint8_t *b, const char *t, const uint8_t *k)
{
	size_t n = sizeof(UPGRADE) - 1;

	memcpy(b, UPGRADE, n);
	return n + frame(b + n, 0x81, t, strlen(t), k, 0);
}

static uint8_t buf[8192];

static void test_client_announce(void **state)
{
	size_t n;

	(void)state;
	/* masked, 16-bit length */
	n = client_head(buf, announce, key);
	assert_true(strlen(announce) > 125);
	assert_int_equal(head(buf, n, 0), DPI_WEBTORRENT);
	/* the frame alone, at a packet's start */
	n = frame(buf, 0x81, announce, strlen(announce), key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	/* a first fragment (no FIN) of a message is read as well */
	n = frame(buf, 0x01, announce, strlen(announce), key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	/* a ping ahead of it in the same head */
	n = sizeof(UPGRADE) - 1;
	memcpy(buf, UPGRADE, n);
	n += frame(buf + n, 0x89, "hi", 2, key, 0);
	n += frame(buf + n, 0x81, announce, strlen(announce), key, 0);
	assert_int_equal(head(buf, n, 0), DPI_WEBTORRENT);
	/* 7-bit length: a scrape of two torrents */
	n = frame(buf, 0x81, "{\"action\":\"scrape\",\"info_hash\":[\"" IH "\",\"" IH "\"]}",
		  strlen("{\"action\":\"scrape\",\"info_hash\":[\"" IH "\",\"" IH "\"]}"), key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	/* strings with escaped quotes and backslashes ahead of the keys */
	n = frame(buf, 0x81, "{\"x\":\"a\\\"b\\\\\",\"y\":\"\\\\\",\"action\":\"announce\",\"info_hash\":\"" IH "\"}",
		  strlen("{\"x\":\"a\\\"b\\\\\",\"y\":\"\\\\\",\"action\":\"announce\",\"info_hash\":\"" IH "\"}"),
		  key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	/* the same keys inside a string are text, not keys */
	n = frame(buf, 0x81, "{\"x\":\"\\\"action\\\":\\\"announce\\\",\\\"info_hash\\\":\\\"" IH "\"}",
		  strlen("{\"x\":\"\\\"action\\\":\\\"announce\\\",\\\"info_hash\\\":\\\"" IH "\"}"),
		  key, 0);
	assert_int_equal(packet(buf, n), DPI_NONE);
	/* blanks where JSON allows them */
	n = frame(buf, 0x81, " {\"action\" : \"announce\", \"info_hash\":  \"" IH "\"}",
		  strlen(" {\"action\" : \"announce\", \"info_hash\":  \"" IH "\"}"), key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
}

static void test_server_frames(void **state)
{
	static const char resp[] = "{\"action\":\"announce\",\"interval\":120,\"info_hash\":\"" IH
		"\",\"complete\":1,\"incomplete\":0}";
	static char big[70000];
	static uint8_t bigframe[70100];
	size_t n = sizeof(SWITCHED) - 1, bl;

	(void)state;
	memcpy(buf, SWITCHED, n);
	n += frame(buf + n, 0x81, resp, strlen(resp), NULL, 0);
	assert_int_equal(head(buf, n, 1), DPI_WEBTORRENT);
	n = frame(buf, 0x81, relayed_answer, strlen(relayed_answer), NULL, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	/* past 64 KiB: a 64-bit length, of which the packet holds the start */
	bl = (size_t)snprintf(big, sizeof(big), "%.*s,\"padding\":\"", (int)strlen(relayed_answer) - 1,
			      relayed_answer);
	memset(big + bl, 'x', sizeof(big) - bl - 3);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	n = frame(bigframe, 0x81, big, sizeof(big) - 1, NULL, 0);
	assert_int_equal(bigframe[1], 127);
	assert_int_equal(packet(bigframe, 1448), DPI_WEBTORRENT);
	assert_int_equal(packet(bigframe, n), DPI_WEBTORRENT);
}

static void test_split_frames(void **state)
{
	size_t n = client_head(buf, announce, key), cut, first = 0;
	const char *vocab = strstr(announce, "\"info_hash\"");

	(void)state;
	/* the head grows segment by segment: nothing before the info_hash's
	 * closing quote is in, and from then on a detection */
	for (cut = 1; cut <= n; cut++) {
		enum dpi_id r = head(buf, cut, 0);

		if (r == DPI_WEBTORRENT && !first)
			first = cut;
		if (first)
			assert_int_equal(r, DPI_WEBTORRENT);
	}
	/* upgrade + frame header (4) + key (4) + the JSON up to the value's
	 * closing quote */
	assert_int_equal(first, sizeof(UPGRADE) - 1 + 8 + (size_t)(vocab - announce) +
			 strlen("\"info_hash\":\"" IH "\""));
	/* a frame cut at its header's end, in a packet of its own */
	n = frame(buf, 0x81, announce, strlen(announce), key, 0);
	for (cut = 0; cut < 12; cut++)
		assert_int_equal(packet(buf, cut), DPI_NONE);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
}

static void test_offer_answer_vocabulary(void **state)
{
	static const char answer[] = "{\"to_peer_id\":\"" PEER "\",\"offer_id\":\"abcdefghijklmnopqrst\","
		"\"answer\":{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC CAND("10.0.0.1", "50010")
		"\"}}";
	static const char no_dc[] = "{\"to_peer_id\":\"" PEER "\",\"offer_id\":\"abcdefghijklmnopqrst\","
		"\"answer\":{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\\r\\n\"}}";
	static const char no_to[] = "{\"offer_id\":\"abcdefghijklmnopqrst\","
		"\"answer\":{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC "\"}}";
	size_t n;

	(void)state;
	n = frame(buf, 0x81, answer, strlen(answer), key, 0);
	assert_int_equal(packet(buf, n), DPI_WEBTORRENT);
	n = frame(buf, 0x81, no_dc, strlen(no_dc), key, 0);
	assert_int_equal(packet(buf, n), DPI_NONE);
	n = frame(buf, 0x81, no_to, strlen(no_to), key, 0);
	assert_int_equal(packet(buf, n), DPI_NONE);
}

/* WebSocket applications and calls that are not WebTorrent. */
static void test_lookalike_messages(void **state)
{
	static const char *const texts[] = {
		/* a chat whose text quotes the vocabulary: escaped quotes */
		"{\"type\":\"message\",\"room\":\"general\",\"text\":\"try \\\"action\\\":\\\"announce\\\","
		"\\\"info_hash\\\":\\\"abcdefghijklmnopqrst\\\"\"}",
		/* an announce without an info_hash, and one with a hex hash */
		"{\"action\":\"announce\",\"message\":\"maintenance at 5\"}",
		"{\"action\":\"announce\",\"info_hash\":\"0123456789abcdef0123456789abcdef01234567\"}",
		"{\"action\":\"announce\",\"info_hash\":\"0123456789abcdefghi\"}",
		"{\"action\":\"update\",\"info_hash\":\"" IH "\"}",
		/* info_hash as a value, not a key */
		"{\"action\":\"announce\",\"field\":\"info_hash\",\"value\":\"" IH "\"}",
		/* a character above U+00FF */
		"{\"action\":\"announce\",\"info_hash\":\"\xe2\x82\xac" "bcdefghijklmnopqrs\"}",
		/* Socket.IO: an engine.io open packet and an event */
		"0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":5000}",
		"42[\"chat message\",\"hello\"]",
		/* a call's offer through a signalling server: audio, video */
		"{\"type\":\"offer\",\"sdp\":\"" SDP_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8\\r\\n"
		"c=IN IP4 0.0.0.0\\r\\n" CAND("10.0.0.1", "50010") "a=rtpmap:111 opus/48000/2\\r\\n"
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\\r\\na=rtpmap:96 VP8/90000\\r\\n\"}",
		/* a call with a data channel, and its trickled candidates */
		"{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC CAND("10.0.0.1", "50010") SDP_TAIL "\"}",
		"{\"candidate\":{\"candidate\":\"candidate:1 1 udp 2113937151 10.0.0.1 50010 typ host\","
		"\"sdpMid\":\"0\",\"sdpMLineIndex\":0},\"peer_id\":\"alice\",\"offer_id\":\"7\"}",
		/* a data channel offer keyed like WebTorrent but without to_peer_id */
		"{\"offer_id\":\"7\",\"peer_id\":\"bob\",\"offer\":{\"type\":\"offer\",\"sdp\":\""
		SDP_HEAD SDP_DC "\"}}",
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		n = client_head(buf, texts[i], key);
		assert_int_equal(head(buf, n, 0), DPI_NONE);
		n = frame(buf, 0x81, texts[i], strlen(texts[i]), key, 0);
		assert_int_equal(packet(buf, n), DPI_NONE);
		n = frame(buf, 0x81, texts[i], strlen(texts[i]), NULL, 0);
		assert_int_equal(packet(buf, n), DPI_NONE);
	}
}

/* The frame must be one, of the side that sent it. */
static void test_framing_rules(void **state)
{
	size_t n;

	(void)state;
	/* compressed (permessage-deflate sets RSV1): not read */
	n = frame(buf, 0xc1, announce, strlen(announce), key, 0);
	assert_int_equal(packet(buf, n), DPI_NONE);
	/* a 16-bit length where 7 bits would do */
	n = frame(buf, 0x81, "{\"action\":\"announce\",\"info_hash\":\"" IH "\"}",
		  strlen("{\"action\":\"announce\",\"info_hash\":\"" IH "\"}"), key, 0);
	assert_true(buf[1] != (0x80 | 126));
	memmove(buf + 4, buf + 2, n - 2);
	buf[1] = 0x80 | 126;
	buf[2] = 0;
	buf[3] = (uint8_t)(n - 6);
	assert_int_equal(packet(buf, n + 2), DPI_NONE);
	/* a 64-bit length for a 16-bit one */
	n = frame(buf, 0x81, announce, strlen(announce), key, 1);
	assert_int_equal(packet(buf, n), DPI_NONE);
	/* the client's frames unmasked, the server's masked */
	n = client_head(buf, announce, NULL);
	assert_int_equal(head(buf, n, 0), DPI_NONE);
	memcpy(buf, SWITCHED, sizeof(SWITCHED) - 1);
	n = sizeof(SWITCHED) - 1 + frame(buf + sizeof(SWITCHED) - 1, 0x81, announce, strlen(announce),
					 key, 0);
	assert_int_equal(head(buf, n, 1), DPI_NONE);
	/* no Upgrade, or no key: not a WebSocket */
	n = client_head(buf, announce, key);
	memcpy(strstr((char *)buf, "Upgrade: websocket"), "Upgrade: websockez", 18);
	assert_int_equal(head(buf, n, 0), DPI_NONE);
	n = client_head(buf, announce, key);
	memcpy(strstr((char *)buf, "Sec-WebSocket-Key"), "Sec-WebSocket-Kex", 17);
	assert_int_equal(head(buf, n, 0), DPI_NONE);
	/* header names in any case */
	n = client_head(buf, announce, key);
	memcpy(strstr((char *)buf, "Upgrade: websocket"), "UPGRADE: WebSocket", 18);
	assert_int_equal(head(buf, n, 0), DPI_WEBTORRENT);
	/* a binary frame is not read */
	n = frame(buf, 0x82, announce, strlen(announce), key, 0);
	assert_int_equal(packet(buf, n), DPI_NONE);
}

static void test_other_protocols(void **state)
{
	int i;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		assert_int_equal(head(lookalikes[i].data, lookalikes[i].len, 0), DPI_NONE);
		assert_int_equal(packet(lookalikes[i].data, lookalikes[i].len), DPI_NONE);
	}
}

static enum dpi_id sni(const char *name)
{
	uint8_t b[300];
	size_t len = la_client_hello(b, name, 3);
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 443, b, len);
	test_pkt(&p, &v, 0, NULL);
	return tls_sni_check(&p);
}

static void test_tracker_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < webtorrent_nhosts; i++)
		assert_int_equal(sni(webtorrent_hosts[i].s), DPI_WEBTORRENT);
	assert_int_equal(sni("Tracker.OpenWebTorrent.com"), DPI_WEBTORRENT);
	assert_int_equal(sni("eu.tracker.webtorrent.dev"), DPI_WEBTORRENT);
	/* the project's web site, and look-alike names, are not trackers */
	assert_int_equal(sni("webtorrent.io"), DPI_NONE);
	assert_int_equal(sni("instant.io"), DPI_NONE);
	assert_int_equal(sni("nottracker.openwebtorrent.com"), DPI_NONE);
	assert_int_equal(sni("tracker.openwebtorrent.com.example"), DPI_NONE);
	/* a BitTorrent and WebTorrent tracker in the other list */
	assert_int_equal(sni("tracker.files.fm"), DPI_TLS_TRACKER);
}

static void learn_from(const uint8_t *d, size_t len, struct learned *l)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 8000, 40000, d, len);
	test_pkt(&p, &v, 1, l);
	webtorrent_learn(&p);
}

static void test_learn_candidates(void **state)
{
	static const uint8_t a6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01 };
	struct learned l;
	size_t n;
	int i;

	(void)state;
	n = frame(buf, 0x81, relayed_answer, strlen(relayed_answer), NULL, 0);
	learn_from(buf, n, &l);
	/* UDP candidates with an address and a port from 1024: not the mDNS
	 * name, the TCP one, port 53 or a port past 65535 */
	assert_int_equal(l.n, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(l.webrtc[i], 1);
	assert_int_equal(l.family[0], 4);
	assert_memory_equal(l.addr[0], "\x0a\x00\x00\xc9", 4);
	assert_int_equal(l.port[0], 50000);
	assert_memory_equal(l.addr[1], "\xc6\x33\x64\x07", 4);
	assert_int_equal(l.port[1], 61000);
	assert_int_equal(l.family[2], 6);
	assert_memory_equal(l.addr[2], a6, 16);
	assert_int_equal(l.port[2], 50002);
	/* behind the 101 answer in the same packet */
	memcpy(buf, SWITCHED, sizeof(SWITCHED) - 1);
	n = sizeof(SWITCHED) - 1 + frame(buf + sizeof(SWITCHED) - 1, 0x81, relayed_answer,
					 strlen(relayed_answer), NULL, 0);
	learn_from(buf, n, &l);
	assert_int_equal(l.n, 3);
	/* a masked frame is the client's own: nothing */
	n = frame(buf, 0x81, relayed_answer, strlen(relayed_answer), key, 0);
	learn_from(buf, n, &l);
	assert_int_equal(l.n, 0);
	/* a call's signalling naming candidates: no tracker, nothing */
	n = frame(buf, 0x81, "{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC CAND("10.0.0.9", "50000")
		  "\"}", strlen("{\"type\":\"answer\",\"sdp\":\"" SDP_HEAD SDP_DC
				CAND("10.0.0.9", "50000") "\"}"), NULL, 0);
	learn_from(buf, n, &l);
	assert_int_equal(l.n, 0);
	/* cut anywhere: never more than the whole, never a read past it */
	n = frame(buf, 0x81, relayed_answer, strlen(relayed_answer), NULL, 0);
	for (size_t cut = 0; cut <= n; cut++) {
		uint8_t *exact = malloc(cut ? cut : 1);

		assert_non_null(exact);
		memcpy(exact, buf, cut);
		learn_from(exact, cut, &l);
		assert_true(l.n <= 3);
		free(exact);
	}
}

/* Through the engine: hosts 10.0.0.1-127 are protected, the rest is the
 * world. Tracker .200:8000, WebTorrent peer .201:50000 (learned), a
 * call's peer .202:50000 (never named by a tracker). */
#define S 1000000000ULL
static struct engine eng;

static int engine_setup(void **state)
{
	struct engine_config c;

	(void)state;
	engine_config_defaults(&c);
	c.flow_capacity = 256;
	if (protect_parse(&c.protect, "10.0.0.0/25") < 0)
		return -1;
	return engine_init(&eng, &c);
}

static int engine_teardown(void **state)
{
	(void)state;
	engine_fini(&eng);
	return 0;
}

static struct engine_result seg(int l4, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint8_t flags,
				uint32_t seq, uint32_t ack, const void *d, size_t len)
{
	struct pkt_view v;
	struct engine_result r;

	test_view(&v, l4, pa, pb, d, len);
	v.saddr[3] = a;
	v.daddr[3] = b;
	v.tcp_flags = flags;
	v.tcp_seq = seq;
	v.tcp_ack = ack;
	engine_process(&eng, &v, S, &r);
	return r;
}

/* A STUN binding request (RFC 8489) with a FINGERPRINT. */
static const uint8_t stun[] = {
	0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	0x80, 0x28, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78,
};

/* The protected host lan opens a WebSocket to the tracker and announces
 * (in two segments); the tracker answers with the relayed answer. */
static const struct lookalike *la(const char *name)
{
	int i;

	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		if (strcmp(lookalikes[i].name, name) == 0)
			return &lookalikes[i];
	fail_msg("no look-alike %s", name);
	return NULL;
}

/* The protected host lan opens a WebSocket to the tracker .200 and
 * announces in two segments (*announced: the second's result); the
 * tracker's next frame relays a peer's answer. */
static struct engine_result tracker_session(uint8_t lan, uint16_t port, struct engine_result *first,
					    struct engine_result *announced)
{
	size_t n = client_head(buf, announce, key), m, u = sizeof(UPGRADE) - 1, w = sizeof(SWITCHED) - 1;
	static uint8_t sbuf[4096];

	seg(IPPROTO_TCP, lan, port, 200, 8000, 0x02, 99, 0, "", 0);
	seg(IPPROTO_TCP, 200, 8000, lan, port, 0x12, 4999, 100, "", 0);
	seg(IPPROTO_TCP, lan, port, 200, 8000, 0x18, 100, 5000, buf, u);
	seg(IPPROTO_TCP, 200, 8000, lan, port, 0x18, 5000, 100 + (uint32_t)u, SWITCHED, w);
	*first = seg(IPPROTO_TCP, lan, port, 200, 8000, 0x18, 100 + (uint32_t)u, 5000 + (uint32_t)w,
		     buf + u, 100);
	*announced = seg(IPPROTO_TCP, lan, port, 200, 8000, 0x18, 100 + (uint32_t)u + 100,
			 5000 + (uint32_t)w, buf + u + 100, n - u - 100);
	m = frame(sbuf, 0x81, relayed_answer, strlen(relayed_answer), NULL, 0);
	return seg(IPPROTO_TCP, 200, 8000, lan, port, 0x18, 5000 + (uint32_t)w, 100 + (uint32_t)n, sbuf, m);
}

static void test_engine_blocks_and_learns(void **state)
{
	struct engine_result r, first, announced;
	const struct lookalike *dtls = la("dtls-client-hello"), *dns = la("dns-query");
	uint64_t learned = eng.ctr.endpoints_learned;
	int i;

	(void)state;
	engine_reset(&eng);
	r = tracker_session(1, 40000, &first, &announced);
	/* the first segment stops before the info_hash; the second blocks:
	 * the protected side's own acknowledged flow, so the pair is banned */
	assert_int_equal(first.verdict, ENGINE_UNDECIDED);
	assert_int_equal(announced.verdict, ENGINE_BLOCK);
	assert_string_equal(announced.reason, "webtorrent");
	assert_int_equal(announced.ban, 1);
	assert_int_equal(eng.ctr.detector[DPI_WEBTORRENT], 1);
	/* the answer in flight named the peer: .201:50000, 198.51.100.7:61000
	 * and fd00::201:50002 */
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_int_equal(eng.ctr.endpoints_learned, learned + 3);
	/* the data channel to the learned peer: STUN, blocked (flow only) */
	r = seg(IPPROTO_UDP, 1, 55000, 201, 50000, 0, 0, 0, stun, sizeof(stun));
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "endpoint-cache");
	assert_int_equal(r.ban, 0);
	/* the peer's checks arriving first, or its DTLS: the same */
	r = seg(IPPROTO_UDP, 201, 50000, 1, 55001, 0, 0, 0, stun, sizeof(stun));
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	r = seg(IPPROTO_UDP, 1, 55002, 201, 50000, 0, 0, 0, dtls->data, dtls->len);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	/* a call to someone else: the same STUN and DTLS, never blocked */
	for (i = 0; i < 6; i++)
		r = seg(IPPROTO_UDP, i & 1 ? 202 : 1, i & 1 ? 50000 : 55003, i & 1 ? 1 : 202,
			i & 1 ? 55003 : 50000, 0, 0, 0, i < 2 ? stun : dtls->data,
			i < 2 ? sizeof(stun) : dtls->len);
	assert_int_equal(r.verdict, ENGINE_ALLOW);
	/* other protocols to the learned peer's port are judged on their own */
	r = seg(IPPROTO_UDP, 1, 55004, 201, 50000, 0, 0, 0, dns->data, dns->len);
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
}

/* A BitTorrent peer learned from a DHT or tracker list (not WebRTC):
 * STUN to it is another protocol, as before. */
static void test_engine_bt_peer_stun_passes(void **state)
{
	struct engine_result r;
	static const uint8_t a[4] = { 10, 0, 0, 203 }, src[4] = { 10, 0, 0, 200 };

	(void)state;
	engine_reset(&eng);
	assert_int_equal(endpoints_add(&eng.eps, 4, a, 50000, ENDPOINT_LISTED, 4, src, S), ENDPOINT_NEW);
	r = seg(IPPROTO_UDP, 1, 55000, 203, 50000, 0, 0, 0, stun, sizeof(stun));
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
	/* learned as both: WebRTC's protocols no longer clear it */
	assert_int_equal(endpoints_add_kind(&eng.eps, 4, a, 50000, ENDPOINT_LISTED, ENDPOINT_KIND_WEBRTC,
					    4, src, S), ENDPOINT_REFRESHED);
	assert_int_equal(endpoints_kinds(&eng.eps, 4, a, 50000, S), ENDPOINT_KIND_BT | ENDPOINT_KIND_WEBRTC);
	r = seg(IPPROTO_UDP, 1, 55001, 203, 50000, 0, 0, 0, stun, sizeof(stun));
	assert_int_equal(r.verdict, ENGINE_BLOCK);
}

/* Relayed SDP on a flow where the protected side did not speak first
 * (a stranger's frames to it): the flow is blocked, nothing learned. */
static void test_engine_unsolicited_sdp(void **state)
{
	struct engine_result r;
	uint64_t learned = eng.ctr.endpoints_learned;
	size_t m = frame(buf, 0x81, relayed_answer, strlen(relayed_answer), NULL, 0);

	(void)state;
	engine_reset(&eng);
	r = seg(IPPROTO_TCP, 200, 8000, 1, 40001, 0x18, 7000, 1, buf, m);
	assert_int_equal(r.verdict, ENGINE_BLOCK);
	assert_string_equal(r.reason, "webtorrent");
	assert_int_equal(r.ban, 0);
	r = seg(IPPROTO_TCP, 200, 8000, 1, 40001, 0x18, 7000 + (uint32_t)m, 1, buf, m);
	assert_int_equal(eng.ctr.endpoints_learned, learned);
	r = seg(IPPROTO_UDP, 1, 55000, 201, 50000, 0, 0, 0, stun, sizeof(stun));
	assert_int_equal(r.verdict, ENGINE_UNDECIDED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_announce),
		cmocka_unit_test(test_server_frames),
		cmocka_unit_test(test_split_frames),
		cmocka_unit_test(test_offer_answer_vocabulary),
		cmocka_unit_test(test_lookalike_messages),
		cmocka_unit_test(test_framing_rules),
		cmocka_unit_test(test_other_protocols),
		cmocka_unit_test(test_tracker_names),
		cmocka_unit_test(test_learn_candidates),
		cmocka_unit_test(test_engine_blocks_and_learns),
		cmocka_unit_test(test_engine_bt_peer_stun_passes),
		cmocka_unit_test(test_engine_unsolicited_sdp),
	};

	return cmocka_run_group_tests(tests, engine_setup, engine_teardown);
}
