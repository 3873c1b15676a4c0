/* test_dpi_otherproto.c - unit tests of the recogniser of other protocols
 * (src/dpi/otherproto.c): real message layouts are named, BitTorrent,
 * uTP, SOCKS5 headers and random bytes are not, and no length makes it
 * read past the packet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/otherproto.c"
#include "lookalikes.h"

enum { UDP = 0, TCP = 1 };

/* splitmix64: a fixed seed gives the same bytes on every run */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rnd_fill(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rng();
}

/* A packet built field by field. */
struct vec {
	const char *name;
	int tcp;
	enum otherproto want;
	size_t len;
	uint8_t d[1500];
};

#define NVEC_MAX 128
static struct vec vecs[NVEC_MAX];
static int nvec;

static struct vec *vec_new(const char *name, int tcp, enum otherproto want)
{
	struct vec *v;

	assert_true(nvec < NVEC_MAX);
	v = &vecs[nvec++];
	memset(v, 0, sizeof(*v));
	v->name = name;
	v->tcp = tcp;
	v->want = want;
	return v;
}

static void add(struct vec *v, const void *s, size_t n)
{
	assert_true(n <= sizeof(v->d) - v->len);
	memcpy(v->d + v->len, s, n);
	v->len += n;
}

static void add8(struct vec *v, unsigned x)
{
	uint8_t b = (uint8_t)x;

	add(v, &b, 1);
}

static void add16(struct vec *v, unsigned x)
{
	add8(v, x >> 8);
	add8(v, x);
}

static void add24(struct vec *v, unsigned x)
{
	add8(v, x >> 16);
	add16(v, x);
}

static void add32(struct vec *v, uint32_t x)
{
	add16(v, x >> 16);
	add16(v, x);
}

static void add_str(struct vec *v, const char *s)
{
	add(v, s, strlen(s));
}

static void add_rnd(struct vec *v, size_t n)
{
	assert_true(n <= sizeof(v->d) - v->len);
	rnd_fill(v->d + v->len, n);
	v->len += n;
}

static void set16(struct vec *v, size_t off, size_t x)
{
	v->d[off] = (uint8_t)(x >> 8);
	v->d[off + 1] = (uint8_t)x;
}

static void set24(struct vec *v, size_t off, size_t x)
{
	v->d[off] = (uint8_t)(x >> 16);
	set16(v, off + 1, x);
}

static void set32(struct vec *v, size_t off, size_t x)
{
	set16(v, off, x >> 16);
	set16(v, off + 2, x & 0xffff);
}

static struct vec *text(const char *name, int tcp, enum otherproto want, const char *s)
{
	struct vec *v = vec_new(name, tcp, want);

	add_str(v, s);
	return v;
}

/* --- builders of real layouts --- */

static void tls_vectors(void)
{
	struct vec *v;
	size_t r;

	v = vec_new("tls-client-hello-sni", TCP, OTHERPROTO_TLS);
	v->len = la_client_hello(v->d, "video.example.net", 3);
	/* ServerHello, change_cipher_spec, encrypted extensions: one segment */
	v = vec_new("tls13-server-flight", TCP, OTHERPROTO_TLS);
	add(v, "\x16\x03\x03", 3);
	r = v->len;
	add16(v, 0);
	add(v, "\x02\x00\x00\x00\x03\x03", 6);
	add_rnd(v, 32);
	add(v, "\x20", 1);
	add_rnd(v, 32);
	add(v, "\x13\x01\x00\x00\x2e\x00\x2b\x00\x02\x03\x04\x00\x33\x00\x24\x00\x1d\x00\x20", 19);
	add_rnd(v, 32);
	set16(v, r, v->len - r - 2);
	set24(v, r + 3, v->len - r - 2 - 4);
	add(v, "\x14\x03\x03\x00\x01\x01", 6);
	add(v, "\x17\x03\x03\x04\x10", 5);
	add_rnd(v, 1000);		/* the record goes on in the next segment */
	v = vec_new("tls-alert", TCP, OTHERPROTO_TLS);
	add(v, "\x15\x03\x03\x00\x02\x02\x28", 7);
	/* a post-quantum ClientHello is longer than a segment */
	v = vec_new("tls-client-hello-2-segments", TCP, OTHERPROTO_TLS);
	add(v, "\x16\x03\x01\x07\x08\x01\x00\x07\x04\x03\x03", 11);
	add_rnd(v, 1448 - 11);
	v = vec_new("tls-app-data-1.0", TCP, OTHERPROTO_TLS);
	add(v, "\x17\x03\x01\x00\x40", 5);
	add_rnd(v, 64);
}

static void http_vectors(void)
{
	struct vec *v;

	text("http-connect", TCP, OTHERPROTO_HTTP, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
	text("http2-preface", TCP, OTHERPROTO_HTTP, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	text("http-404", TCP, OTHERPROTO_HTTP, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	text("ssdp-m-search", UDP, OTHERPROTO_HTTP, "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
	     "MAN: \"ssdp:discover\"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n");
	text("ssdp-notify", UDP, OTHERPROTO_HTTP, "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
	     "NT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n");
	/* a body in the same segment need not be text */
	v = text("http-post-binary", TCP, OTHERPROTO_HTTP, "POST /upload HTTP/1.1\r\nHost: example.org\r\n"
		 "Content-Type: application/octet-stream\r\nContent-Length: 300\r\n\r\n");
	add_rnd(v, 300);
	/* a request line cut by the segment inside a long target */
	v = text("http-long-url", TCP, OTHERPROTO_HTTP, "GET /search?q=");
	while (v->len < 1400)
		add_str(v, "abcdefghij%20");
	/* BitTorrent over HTTP is HTTP here: the HTTP detectors judge it first */
	text("http-tracker-announce", TCP, OTHERPROTO_HTTP, "GET /announce?info_hash=%12%34%56%78%9a%bc%de"
	     "%f0%12%34%56%78%9a%bc%de%f0%12%34%56%78&peer_id=-qB4650-abcdefghijkl&port=6881"
	     "&uploaded=0&downloaded=0&left=0&compact=1 HTTP/1.1\r\nHost: tracker.example\r\n\r\n");
}

static size_t ssh_name_list(struct vec *v, const char *s)
{
	add32(v, (uint32_t)strlen(s));
	add_str(v, s);
	return 4 + strlen(s);
}

static void ssh_vectors(void)
{
	struct vec *v;
	size_t pad;

	text("ssh-banner-1.99", TCP, OTHERPROTO_SSH, "SSH-1.99-Cisco-1.25\r\n");
	/* KEXINIT as OpenSSH sends it, padded to 8 */
	v = vec_new("ssh-kexinit-real", TCP, OTHERPROTO_SSH);
	add32(v, 0);
	add8(v, 0);
	add8(v, 20);
	add_rnd(v, 16);
	ssh_name_list(v, "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
		      "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c,"
		      "kex-strict-c-v00@openssh.com");
	ssh_name_list(v, "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512");
	ssh_name_list(v, "chacha20-poly1305@openssh.com,aes128-ctr");
	ssh_name_list(v, "chacha20-poly1305@openssh.com,aes128-ctr");
	ssh_name_list(v, "umac-64-etm@openssh.com,hmac-sha2-256");
	ssh_name_list(v, "umac-64-etm@openssh.com,hmac-sha2-256");
	ssh_name_list(v, "none,zlib@openssh.com");
	ssh_name_list(v, "none,zlib@openssh.com");
	ssh_name_list(v, "");
	ssh_name_list(v, "");
	add8(v, 0);
	add32(v, 0);
	pad = 8 - v->len % 8;
	if (pad < 4)
		pad += 8;
	add_rnd(v, pad);
	v->d[4] = (uint8_t)pad;
	set32(v, 0, v->len - 4);
}

/* A DNS message: header, then the name of s ("a.b.c"), type and class. */
static struct vec *dns(const char *name, int tcp, uint16_t id, uint16_t flags, uint16_t qd,
		       uint16_t an, uint16_t ns, uint16_t ar, const char *qname, uint16_t type,
		       uint16_t cls)
{
	struct vec *v = vec_new(name, tcp, OTHERPROTO_DNS);
	const char *p = qname;

	if (tcp)
		add16(v, 0);
	add16(v, id);
	add16(v, flags);
	add16(v, qd);
	add16(v, an);
	add16(v, ns);
	add16(v, ar);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		add8(v, (unsigned)l);
		add(v, p, l);
		p += l + (dot != NULL);
	}
	add8(v, 0);
	add16(v, type);
	add16(v, cls);
	return v;
}

static void dns_opt(struct vec *v)
{
	add(v, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
}

static void dns_vectors(void)
{
	struct vec *v;

	v = dns("dns-query-edns", UDP, 0xbeef, 0x0120, 1, 0, 0, 1, "www.example.org", 1, 1);
	dns_opt(v);
	v = dns("dns-response", UDP, 0xbeef, 0x8180, 1, 1, 0, 0, "www.example.org", 28, 1);
	add(v, "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x0e\x10\x00\x10", 12);
	add_rnd(v, 16);
	v = dns("dns-nxdomain", UDP, 0x0001, 0x8183, 1, 0, 1, 0, "nope.example", 1, 1);
	add(v, "\xc0\x11\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x02\xc0\x11", 14);
	/* mDNS: a query with the unicast-response bit, an announcement
	 * without a question */
	dns("mdns-query", UDP, 0, 0, 1, 0, 0, 0, "_googlecast._tcp.local", 12, 0x8001);
	v = dns("mdns-announce", UDP, 0, 0x8400, 0, 1, 0, 0, "My Printer._ipp._tcp.local", 33, 0x8001);
	add(v, "\x00\x00\x11\x94\x00\x08\x00\x00\x00\x00\x02\x77\xc0\x0c", 14);
	dns("llmnr-query", UDP, 0x4242, 0, 1, 0, 0, 0, "fileserver", 1, 1);
	dns("nbns-status", UDP, 0x8123, 0x0010, 1, 0, 0, 0, "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 33, 1);
	v = dns("dns-tcp-query", TCP, 0x1234, 0x0100, 1, 0, 0, 1, "example.com", 15, 1);
	dns_opt(v);
	set16(v, 0, v->len - 2);
	/* a zone transfer's answer runs on in the next segments */
	v = dns("dns-tcp-axfr", TCP, 0x1234, 0x8400, 1, 40, 0, 0, "example.com", 252, 1);
	add(v, "\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x30", 12);
	add_rnd(v, 48);
	set16(v, 0, 4000);
}

/* A QUIC long header packet of total bytes: connection ids of dcil and
 * scil bytes, a token length of 0 when token, a 2-byte length field. */
static struct vec *quic(const char *name, uint8_t first, uint32_t ver, size_t dcil, size_t scil,
			int token, size_t total)
{
	struct vec *v = vec_new(name, UDP, OTHERPROTO_QUIC);
	size_t off;

	add8(v, first);
	add32(v, ver);
	add8(v, (unsigned)dcil);
	add_rnd(v, dcil);
	add8(v, (unsigned)scil);
	add_rnd(v, scil);
	if (token)
		add8(v, 0);
	off = v->len;
	add16(v, 0x4000 | (unsigned)(total - off - 2));
	add_rnd(v, total - v->len);
	return v;
}

static void quic_vectors(void)
{
	struct vec *v;
	size_t first;

	quic("quic-v1-client-initial", 0xc3, 1, 8, 0, 1, 1250);
	quic("quic-v1-server-initial", 0xc1, 1, 0, 8, 1, 180);
	quic("quic-v2-initial", 0xd3, 0x6b3343cf, 8, 8, 1, 1200);
	quic("quic-v2-handshake", 0xf0, 0x6b3343cf, 8, 8, 0, 400);
	quic("quic-draft29-handshake", 0xe2, 0xff00001d, 8, 20, 0, 700);
	quic("quic-v1-0rtt", 0xd1, 1, 20, 0, 0, 1200);
	/* an Initial and a Handshake packet in one datagram */
	v = quic("quic-coalesced", 0xc0, 1, 0, 8, 1, 150);
	first = v->len;
	add8(v, 0xe1);
	add32(v, 1);
	add8(v, 0);
	add8(v, 8);
	add_rnd(v, 8);
	add16(v, 0x4000 | 900);
	add_rnd(v, 900);
	assert_true(v->len > first);
	/* Retry: ids, a token, the integrity tag */
	v = vec_new("quic-retry", UDP, OTHERPROTO_QUIC);
	add(v, "\xf5\x00\x00\x00\x01\x08", 6);
	add_rnd(v, 8);
	add8(v, 8);
	add_rnd(v, 8 + 60 + 16);
	v = vec_new("quic-version-negotiation", UDP, OTHERPROTO_QUIC);
	add(v, "\xca\x00\x00\x00\x00\x08", 6);
	add_rnd(v, 8);
	add8(v, 8);
	add_rnd(v, 8);
	add32(v, 0x1a2a3a4a);
	add32(v, 1);
	add32(v, 0x6b3343cf);
}

static void stun_attr(struct vec *v, uint16_t type, const void *val, size_t n)
{
	static const uint8_t zero[4];

	add16(v, type);
	add16(v, (unsigned)n);
	add(v, val, n);
	add(v, zero, (4 - n % 4) % 4);
}

static struct vec *stun(const char *name, int tcp, uint16_t type, int cookie)
{
	struct vec *v = vec_new(name, tcp, OTHERPROTO_STUN);

	add16(v, type);
	add16(v, 0);
	if (cookie) {
		add32(v, 0x2112a442);
		add_rnd(v, 12);
	} else {
		add_rnd(v, 16);
	}
	return v;
}

static void stun_vectors(void)
{
	uint8_t r[20];
	struct vec *v;

	rnd_fill(r, sizeof(r));
	v = stun("stun-ice-check", UDP, 0x0001, 1);
	stun_attr(v, 0x0006, "Xk2z:9fQa", 9);		/* USERNAME */
	stun_attr(v, 0x0024, "\x6e\x7f\x1e\xff", 4);	/* PRIORITY */
	stun_attr(v, 0x802a, r, 8);			/* ICE-CONTROLLING */
	stun_attr(v, 0x0008, r, 20);			/* MESSAGE-INTEGRITY */
	stun_attr(v, 0x8028, r, 4);			/* FINGERPRINT */
	set16(v, 2, v->len - 20);
	v = stun("stun-binding-success", UDP, 0x0101, 1);
	stun_attr(v, 0x0020, "\x00\x01\xa1\x47\x5e\x12\xa4\x43", 8);	/* XOR-MAPPED-ADDRESS */
	stun_attr(v, 0x8022, "example", 7);				/* SOFTWARE */
	set16(v, 2, v->len - 20);
	v = stun("turn-allocate-tcp", TCP, 0x0003, 1);
	stun_attr(v, 0x0019, "\x11\x00\x00\x00", 4);	/* REQUESTED-TRANSPORT: UDP */
	stun_attr(v, 0x000d, "\x00\x00\x02\x58", 4);	/* LIFETIME */
	set16(v, 2, v->len - 20);
	v = stun("classic-stun-change-request", UDP, 0x0001, 0);
	stun_attr(v, 0x0003, "\x00\x00\x00\x06", 4);
	set16(v, 2, v->len - 20);
	stun("classic-stun-empty", UDP, 0x0001, 0);
	v = stun("classic-stun-response", UDP, 0x0101, 0);
	stun_attr(v, 0x0001, "\x00\x01\x1f\x90\xc0\x00\x02\x01", 8);	/* MAPPED-ADDRESS */
	stun_attr(v, 0x0004, "\x00\x01\x0d\x96\xc6\x33\x64\x07", 8);	/* SOURCE-ADDRESS */
	stun_attr(v, 0x0005, "\x00\x01\x0d\x97\xc6\x33\x64\x08", 8);	/* CHANGED-ADDRESS */
	set16(v, 2, v->len - 20);
}

/* A DTLS record header; returns the offset of its length field. */
static size_t dtls_record(struct vec *v, uint8_t type, uint16_t ver, uint16_t epoch, uint32_t seq)
{
	add8(v, type);
	add16(v, ver);
	add16(v, epoch);
	add16(v, 0);
	add32(v, seq);
	add16(v, 0);
	return v->len - 2;
}

/* A handshake message in one record: type and body of n bytes. */
static void dtls_handshake(struct vec *v, uint16_t ver, uint32_t seq, uint8_t hs, size_t n,
			   uint16_t msg_seq)
{
	size_t l = dtls_record(v, 22, ver, 0, seq);

	add8(v, hs);
	add24(v, (unsigned)n);
	add16(v, msg_seq);
	add24(v, 0);
	add24(v, (unsigned)n);
	add_rnd(v, n);
	set16(v, l, v->len - l - 2);
}

static void dtls_vectors(void)
{
	struct vec *v;
	size_t l;

	v = vec_new("dtls-client-hello", UDP, OTHERPROTO_DTLS);
	l = dtls_record(v, 22, 0xfefd, 0, 0);
	add(v, "\x01\x00\x00\x4e\x00\x00\x00\x00\x00\x00\x00\x4e\xfe\xfd", 14);
	add_rnd(v, 32);
	add(v, "\x00\x00\x00\x08\xc0\x2b\xc0\x2f\xc0\x0a\xc0\x14\x01\x00\x00\x1c", 16);
	add_rnd(v, 28);
	set16(v, l, v->len - l - 2);
	v = vec_new("dtls-hello-verify", UDP, OTHERPROTO_DTLS);
	dtls_handshake(v, 0xfeff, 0, 3, 23, 0);
	/* ServerHello, a first Certificate fragment, ServerHelloDone */
	v = vec_new("dtls-server-flight", UDP, OTHERPROTO_DTLS);
	dtls_handshake(v, 0xfefd, 1, 2, 70, 1);
	l = dtls_record(v, 22, 0xfefd, 0, 2);
	add8(v, 11);
	add24(v, 2400);
	add16(v, 2);
	add24(v, 0);
	add24(v, 900);
	add_rnd(v, 900);
	set16(v, l, v->len - l - 2);
	dtls_handshake(v, 0xfefd, 3, 14, 0, 3);
	v = vec_new("dtls-app-data", UDP, OTHERPROTO_DTLS);
	l = dtls_record(v, 23, 0xfefd, 1, 77);
	add_rnd(v, 200);
	set16(v, l, v->len - l - 2);
	/* DTLS 1.3: a ServerHello in clear, then unified headers */
	v = vec_new("dtls13-server-flight", UDP, OTHERPROTO_DTLS);
	dtls_handshake(v, 0xfefd, 0, 2, 90, 0);
	add(v, "\x2e\x00\x01", 3);
	add_rnd(v, 300);
}

static void wireguard_vectors(void)
{
	struct vec *v;

	v = vec_new("wireguard-response", UDP, OTHERPROTO_WIREGUARD);
	add(v, "\x02\x00\x00\x00", 4);
	add_rnd(v, 88);
	v = vec_new("wireguard-cookie", UDP, OTHERPROTO_WIREGUARD);
	add(v, "\x03\x00\x00\x00", 4);
	add_rnd(v, 60);
	v = vec_new("wireguard-keepalive", UDP, OTHERPROTO_WIREGUARD);
	add(v, "\x04\x00\x00\x00", 4);
	add_rnd(v, 28);
	v = vec_new("wireguard-data-1440", UDP, OTHERPROTO_WIREGUARD);
	add(v, "\x04\x00\x00\x00", 4);
	add_rnd(v, 32 + 1392 - 4);
}

/* An OpenVPN control packet after the session id: n random bytes of HMAC,
 * then packet id and time (when hmac >= 0), ack count, message id. */
static struct vec *openvpn(const char *name, int tcp, uint8_t op, int hmac)
{
	struct vec *v = vec_new(name, tcp, OTHERPROTO_OPENVPN);

	if (tcp)
		add16(v, 0);
	add8(v, op);
	add_rnd(v, 8);
	if (hmac >= 0) {
		add_rnd(v, (size_t)hmac);
		add32(v, 1);
		add32(v, 0x66a1b2c3);	/* July 2024 */
	}
	return v;
}

static void openvpn_vectors(void)
{
	struct vec *v;

	v = openvpn("openvpn-reset-client", UDP, 7 << 3, -1);
	add(v, "\x00\x00\x00\x00\x00", 5);
	/* 2.6 announces its early negotiation support in a TLV */
	v = openvpn("openvpn-reset-client-tlv", UDP, 7 << 3, -1);
	add(v, "\x00\x00\x00\x00\x00\x00\x01\x00\x02\x00\x01", 11);
	v = openvpn("openvpn-reset-server", UDP, 8 << 3, -1);
	add(v, "\x01\x00\x00\x00\x00", 5);
	add_rnd(v, 8);
	add32(v, 0);
	v = openvpn("openvpn-tls-auth-sha1", UDP, 7 << 3, 20);
	add(v, "\x00\x00\x00\x00\x00", 5);
	v = openvpn("openvpn-tls-auth-sha256", UDP, 8 << 3, 32);
	add(v, "\x01\x00\x00\x00\x00", 5);
	add_rnd(v, 8);
	add32(v, 0);
	v = openvpn("openvpn-tls-crypt", UDP, 7 << 3, 0);
	add_rnd(v, 32 + 5);
	v = openvpn("openvpn-tls-crypt-v2", UDP, 10 << 3, 0);
	add_rnd(v, 32 + 5 + 290);
	/* a control packet is not named: it follows a reset */
	v = openvpn("openvpn-control-tls-auth", UDP, 4 << 3 | 0, 20);
	v->want = OTHERPROTO_NONE;
	add(v, "\x01\x00\x00\x00\x00", 5);
	add_rnd(v, 8);
	add32(v, 1);
	add_rnd(v, 100);
	v = openvpn("openvpn-tcp-tls-auth", TCP, 7 << 3, 20);
	add(v, "\x00\x00\x00\x00\x00", 5);
	set16(v, 0, v->len - 2);
	/* a reset and the ack of the peer's, each behind its length */
	v = openvpn("openvpn-tcp-two", TCP, 8 << 3, -1);
	add(v, "\x01\x00\x00\x00\x00", 5);
	add_rnd(v, 8);
	add32(v, 0);
	set16(v, 0, v->len - 2);
	add16(v, 22);
	add8(v, 5 << 3);
	add_rnd(v, 21);
}

static void rtp_vectors(void)
{
	struct vec *v;
	size_t l;

	/* WebRTC Opus: one-byte extension (abs-send-time, audio level) */
	v = vec_new("rtp-opus-webrtc", UDP, OTHERPROTO_RTP);
	add(v, "\x90\x6f", 2);
	add_rnd(v, 10);
	add(v, "\xbe\xde\x00\x02\x22\x12\x34\x56\x10\x85\x00\x00", 12);
	add_rnd(v, 80);
	/* video: two-byte extension, marker, padding */
	v = vec_new("rtp-video-2byte-ext", UDP, OTHERPROTO_RTP);
	add(v, "\xb0\xe0", 2);
	add_rnd(v, 10);
	add(v, "\x10\x00\x00\x01\x03\x02\xab\xcd", 8);
	add_rnd(v, 1000);
	add(v, "\x00\x00\x03", 3);
	/* SIP telephony: G.711 PCMU and PCMA at 20 ms, G.722 at 30 ms */
	v = vec_new("rtp-pcmu-20ms", UDP, OTHERPROTO_RTP);
	add(v, "\x80\x00", 2);
	add_rnd(v, 10 + 160);
	v = vec_new("rtp-pcma-marker", UDP, OTHERPROTO_RTP);
	add(v, "\x80\x88", 2);
	add_rnd(v, 10 + 160);
	v = vec_new("rtp-g722-30ms", UDP, OTHERPROTO_RTP);
	add(v, "\x80\x09", 2);
	add_rnd(v, 10 + 240);
	/* RTCP: sender report + SDES CNAME */
	v = vec_new("rtcp-sr-sdes", UDP, OTHERPROTO_RTP);
	add(v, "\x80\xc8\x00\x06", 4);
	add_rnd(v, 24);
	add(v, "\x81\xca\x00\x03", 4);
	add_rnd(v, 4);
	add(v, "\x01\x04host\x00\x00", 8);
	v = vec_new("rtcp-rr-bye", UDP, OTHERPROTO_RTP);
	add(v, "\x81\xc9\x00\x07", 4);
	add_rnd(v, 28);
	add(v, "\x81\xcb\x00\x01", 4);
	add_rnd(v, 4);
	/* SRTCP: a receiver report, the rest encrypted, E + index 5, tag */
	v = vec_new("srtcp-rr", UDP, OTHERPROTO_RTP);
	add(v, "\x81\xc9\x00\x07", 4);
	add_rnd(v, 4);
	l = v->len;
	add_rnd(v, 24 + 40);
	assert_true(v->len > l);
	add(v, "\x80\x00\x00\x05", 4);
	add_rnd(v, 10);
}

static void text_vectors(void)
{
	text("smtp-greeting", TCP, OTHERPROTO_SMTP, "220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n");
	text("smtp-ehlo", TCP, OTHERPROTO_SMTP, "EHLO client.example.org\r\n");
	text("ftp-greeting", TCP, OTHERPROTO_FTP, "220 (vsFTPd 3.0.5)\r\n");
	text("ftp-greeting-multiline", TCP, OTHERPROTO_FTP, "220-ProFTPD Server (Debian)\r\n220 ready\r\n");
	text("text-220-neither", TCP, OTHERPROTO_TEXT, "220-FileZilla Server 1.8.0\r\n220 Please visit\r\n");
	text("pop3-greeting", TCP, OTHERPROTO_POP3, "+OK Dovecot (Debian) ready.\r\n");
	text("imap-greeting", TCP, OTHERPROTO_IMAP, "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS "
	     "ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n");
	text("irc-notice", TCP, OTHERPROTO_IRC, ":lead.libera.chat NOTICE * :*** Checking Ident\r\n");
	text("irc-welcome", TCP, OTHERPROTO_IRC, ":irc.example.net 001 alice :Welcome to ExampleNet alice\r\n");
	text("irc-nick", TCP, OTHERPROTO_IRC, "NICK alice\r\nUSER alice 0 * :Alice\r\n");
	text("irc-cap", TCP, OTHERPROTO_IRC, "CAP LS 302\r\n");
	text("sip-invite", UDP, OTHERPROTO_SIP, "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	     "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\n"
	     "To: Bob <sip:bob@biloxi.example.com>\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n\r\n");
	text("sip-register-tcp", TCP, OTHERPROTO_SIP, "REGISTER sip:registrar.example.com SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n");
	text("sip-options", UDP, OTHERPROTO_SIP, "OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\r\n");
	text("sip-200", UDP, OTHERPROTO_SIP, "SIP/2.0 200 OK\r\nCSeq: 314159 INVITE\r\n\r\n");
	text("rtsp-options", TCP, OTHERPROTO_RTSP, "OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n");
	text("rtsp-describe", TCP, OTHERPROTO_RTSP, "DESCRIBE rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 2\r\n"
	     "Accept: application/sdp\r\n\r\n");
	text("rtsp-200", TCP, OTHERPROTO_RTSP, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP\r\n\r\n");
	text("text-line", TCP, OTHERPROTO_TEXT, "hello there\n");
	text("text-utf8", UDP, OTHERPROTO_TEXT, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x82\xac\r\n");
	text("text-json", TCP, OTHERPROTO_TEXT, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\n");
	text("text-syslog", UDP, OTHERPROTO_TEXT, "<34>1 2024-10-11T22:14:15.003Z host su - ID47 - 'su root' failed\n");
}

static void build_vectors(void)
{
	nvec = 0;
	rng_seed(20240611);
	tls_vectors();
	http_vectors();
	ssh_vectors();
	dns_vectors();
	quic_vectors();
	stun_vectors();
	dtls_vectors();
	wireguard_vectors();
	openvpn_vectors();
	rtp_vectors();
	text_vectors();
}

/* got == want, or fail naming the input. */
static void expect(const char *what, enum otherproto got, enum otherproto want)
{
	if (got != want) {
		print_error("%s: %s, expected %s\n", what, otherproto_name(got), otherproto_name(want));
		fail();
	}
}

static enum otherproto ident(const void *d, size_t len, int tcp)
{
	return otherproto_identify(d, len, tcp);
}

static void test_real_layouts(void **state)
{
	int i, named[OTHERPROTO_COUNT] = { 0 };

	(void)state;
	build_vectors();
	for (i = 0; i < nvec; i++) {
		const struct vec *v = &vecs[i];

		expect(v->name, ident(v->d, v->len, v->tcp), v->want);
		named[v->want]++;
	}
	/* every protocol has a real layout above */
	for (i = 1; i < OTHERPROTO_COUNT; i++)
		if (!named[i]) {
			print_error("no vector for %s\n", otherproto_name((enum otherproto)i));
			fail();
		}
}

/* The look-alikes that every BitTorrent detector leaves alone. Besides
 * plain bencode, five are not recognised on purpose: their bytes are
 * random where the protocol fixes them, or one packet cannot tell them
 * from random bytes. */
static void test_lookalikes(void **state)
{
	static const struct {
		const char *name;
		enum otherproto want;
	} expected[] = {
		{ "ssh-banner", OTHERPROTO_SSH },
		/* packet length 296 not a multiple of 8 and random name-lists:
		 * a peer wire bitfield (length, id 5, first byte 20) fits too */
		{ "ssh-kexinit", OTHERPROTO_NONE },
		/* random bytes: the same as an MSE key exchange */
		{ "ssh-encrypted", OTHERPROTO_NONE },
		{ "tls-client-hello", OTHERPROTO_TLS },
		{ "tls-app-data", OTHERPROTO_TLS },
		{ "http-get", OTHERPROTO_HTTP },
		{ "http-reply", OTHERPROTO_HTTP },
		{ "dns-query", OTHERPROTO_DNS },
		{ "stun-binding", OTHERPROTO_STUN },
		/* epoch 0xb9db, sequence 0x4f62620d4bdd, a record of 17921
		 * bytes in a 120-byte datagram: none of it DTLS */
		{ "dtls-client-hello", OTHERPROTO_NONE },
		/* destination connection id of 43 bytes: RFC 9000 17.2 has
		 * version 1 packets with more than 20 dropped */
		{ "quic-initial", OTHERPROTO_NONE },
		/* a short header is random after its first two bits */
		{ "quic-short-0x41", OTHERPROTO_NONE },
		{ "wireguard-init", OTHERPROTO_WIREGUARD },
		{ "wireguard-data", OTHERPROTO_WIREGUARD },
		{ "openvpn-tcp", OTHERPROTO_OPENVPN },
		/* bencode is BitTorrent's own */
		{ "plain-bencode", OTHERPROTO_NONE },
	};
	struct lookalike fixed;
	size_t i, j;

	(void)state;
	lookalikes_init();
	assert_int_equal(ARRAY_SIZE(expected), LA_COUNT);
	for (i = 0; i < LA_COUNT; i++) {
		const struct lookalike *l = &lookalikes[i];

		for (j = 0; j < ARRAY_SIZE(expected); j++)
			if (strcmp(expected[j].name, l->name) == 0)
				break;
		assert_true(j < ARRAY_SIZE(expected));
		expect(l->name, ident(l->data, l->len, l->l4 == 6), expected[j].want);
		/* the other transport never turns them into something */
		if (expected[j].want == OTHERPROTO_NONE)
			expect(l->name, ident(l->data, l->len, l->l4 != 6), OTHERPROTO_NONE);
	}
	/* with the fields the protocol fixes set, the same bytes are
	 * recognised: it is those fields that decided */
	for (i = 0; i < LA_COUNT; i++) {
		fixed = lookalikes[i];
		if (strcmp(fixed.name, "dtls-client-hello") == 0) {
			memset(fixed.data + 3, 0, 8);			/* epoch, sequence */
			fixed.data[11] = 0;
			fixed.data[12] = (uint8_t)(fixed.len - 13);	/* record length */
			memcpy(fixed.data + 13, "\x01\x00\x00", 3);	/* ClientHello, length */
			fixed.data[16] = (uint8_t)(fixed.len - 25);
			memset(fixed.data + 17, 0, 5);			/* message seq, offset */
			fixed.data[22] = 0;
			fixed.data[23] = 0;
			fixed.data[24] = (uint8_t)(fixed.len - 25);	/* fragment length */
			expect("dtls-client-hello fixed", ident(fixed.data, fixed.len, 0),
			       OTHERPROTO_DTLS);
		} else if (strcmp(fixed.name, "quic-initial") == 0) {
			fixed.data[5] = 8;				/* DCID length */
			fixed.data[14] = 0;				/* no SCID */
			fixed.data[15] = 0;				/* no token */
			fixed.data[16] = (uint8_t)(0x40 | (fixed.len - 18) >> 8);
			fixed.data[17] = (uint8_t)(fixed.len - 18);
			expect("quic-initial fixed", ident(fixed.data, fixed.len, 0),
			       OTHERPROTO_QUIC);
		} else if (strcmp(fixed.name, "ssh-kexinit") == 0) {
			static const char kex[] = "curve25519-sha256,ext-info-c";

			fixed.data[22] = 0;
			fixed.data[23] = 0;
			fixed.data[24] = 0;
			fixed.data[25] = sizeof(kex) - 1;
			memcpy(fixed.data + 26, kex, sizeof(kex) - 1);
			expect("ssh-kexinit fixed", ident(fixed.data, fixed.len, 1),
			       OTHERPROTO_SSH);
		}
	}
}

/* Broken fields of real layouts: each is enough to refuse. */
static void test_broken_fields(void **state)
{
	uint8_t b[1500];
	size_t n;
	int i;

	(void)state;
	build_vectors();
	for (i = 0; i < nvec; i++) {
		const struct vec *v = &vecs[i];

		memcpy(b, v->d, v->len);
		n = v->len;
		if (strcmp(v->name, "tls-alert") == 0) {
			b[2] = 5;			/* TLS 3.5 */
			expect("tls version 3.5", ident(b, n, TCP), OTHERPROTO_NONE);
			b[2] = 3;
			b[4] = 0;
			b[3] = 0;			/* empty record */
			expect("tls empty record", ident(b, n, TCP), OTHERPROTO_NONE);
			expect("tls over udp", ident(v->d, v->len, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "tls13-server-flight") == 0) {
			size_t ccs = 5 + (size_t)(b[3] << 8 | b[4]);

			b[ccs + 4] = 2;			/* a change_cipher_spec of 2 bytes */
			expect("tls ccs length", ident(b, n, TCP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "dns-query-edns") == 0) {
			b[3] |= 0x40;			/* Z */
			expect("dns z bit", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[3] |= 0x01;			/* an error in a query */
			expect("dns query rcode", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[12] = 64;			/* label of 64 */
			expect("dns label 64", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[12] = 0xc0;			/* a pointer in the first name */
			expect("dns pointer", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[5] = 65;			/* 65 questions */
			expect("dns qdcount", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[12 + 17] = 0;			/* type 0 */
			b[12 + 18] = 0;
			expect("dns type 0", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "llmnr-query") == 0) {
			expect("dns trailing bytes", ident(v->d, v->len + 3, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "quic-v1-client-initial") == 0) {
			b[0] &= ~0x40;			/* fixed bit */
			expect("quic fixed bit", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[4] = 3;			/* version 3 */
			expect("quic version", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			expect("quic length past datagram", ident(b, n - 1, UDP), OTHERPROTO_NONE);
			b[5] = 21;
			expect("quic dcid 21", ident(b, n, UDP), OTHERPROTO_NONE);
			expect("quic over tcp", ident(v->d, v->len, TCP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "quic-version-negotiation") == 0) {
			expect("quic vn cut", ident(b, n - 2, UDP), OTHERPROTO_NONE);
			assert_true(n == 6 + 8 + 1 + 8 + 12);
			memset(b + 23, 0x5a, 4);	/* reserved versions only */
			memset(b + 27, 0x7a, 4);
			memset(b + 31, 0x1a, 4);
			expect("quic vn unknown", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "stun-ice-check") == 0) {
			expect("stun length", ident(b, n - 4, UDP), OTHERPROTO_NONE);
			b[0] = 0x40;
			expect("stun top bits", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "classic-stun-change-request") == 0) {
			b[22] = 0;
			b[23] = 8;			/* attribute past the message */
			expect("classic stun attrs", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[1] = 3;			/* Allocate needs the cookie */
			expect("classic stun type", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "dtls-app-data") == 0) {
			b[3] = 1;			/* epoch 257 */
			expect("dtls epoch", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[5] = 1;			/* sequence 2^40 */
			expect("dtls seq", ident(b, n, UDP), OTHERPROTO_NONE);
			expect("dtls record past datagram", ident(v->d, v->len - 1, UDP), OTHERPROTO_NONE);
			expect("dtls trailing bytes", ident(v->d, v->len + 1, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "dtls-hello-verify") == 0) {
			b[13 + 11] = 24;		/* fragment longer than the record */
			expect("dtls fragment", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "wireguard-response") == 0) {
			expect("wireguard size", ident(b, n + 1, UDP), OTHERPROTO_NONE);
			b[2] = 1;
			expect("wireguard reserved", ident(b, n, UDP), OTHERPROTO_NONE);
			expect("wireguard over tcp", ident(v->d, v->len, TCP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "wireguard-keepalive") == 0) {
			expect("wireguard data size", ident(b, n + 8, UDP), OTHERPROTO_NONE);
			b[0] = 5;
			expect("wireguard type 5", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "openvpn-reset-client") == 0) {
			b[0] |= 1;			/* a reset with key id 1 */
			expect("openvpn key id", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[12] = 1;			/* message id 256 */
			expect("openvpn message id", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "openvpn-tls-auth-sha1") == 0) {
			b[9 + 20 + 3] = 0;		/* packet id 0 */
			expect("openvpn packet id", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[9 + 20 + 4] = 0x10;		/* a time in 1978 */
			expect("openvpn time", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "openvpn-tcp-two") == 0) {
			b[30] = 6 << 3;			/* second packet: P_DATA_V1 */
			expect("openvpn tcp opcode", ident(b, n, TCP), OTHERPROTO_OPENVPN);
			b[2] = 6 << 3;			/* ... and the first */
			expect("openvpn tcp opcodes", ident(b, n, TCP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "rtp-pcmu-20ms") == 0) {
			expect("rtp pcmu 19 ms", ident(b, n - 8, UDP), OTHERPROTO_NONE);
			b[1] = 96;			/* dynamic type, no extension */
			expect("rtp no extension", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "rtp-opus-webrtc") == 0) {
			b[12] = 0xbe;
			b[13] = 0xef;			/* unknown profile */
			expect("rtp profile", ident(b, n, UDP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[15] = 40;			/* extension past the packet */
			expect("rtp extension length", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "rtcp-sr-sdes") == 0) {
			b[0] = 0x81;			/* one report block, none there */
			expect("rtcp report count", ident(b, n, UDP), OTHERPROTO_NONE);
		} else if (strcmp(v->name, "ssh-kexinit-real") == 0) {
			b[5] = 21;			/* NEWKEYS */
			expect("ssh message", ident(b, n, TCP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[4] = 3;			/* padding below 4 */
			expect("ssh padding", ident(b, n, TCP), OTHERPROTO_NONE);
			memcpy(b, v->d, n);
			b[30] = ' ';			/* a space in a name-list */
			expect("ssh name-list", ident(b, n, TCP), OTHERPROTO_NONE);
		}
	}
}

/* --- what must never be named --- */

static size_t bt_handshake(uint8_t *b)
{
	memcpy(b, "\x13" "BitTorrent protocol", 20);
	memcpy(b + 20, "\x00\x00\x00\x00\x00\x10\x00\x05", 8);
	rnd_fill(b + 28, 20);
	memcpy(b + 48, "-qB4650-", 8);
	rnd_fill(b + 56, 12);
	return 68;
}

/* A uTP header of type, extension ext, random fields; ts_diff 0 and a
 * 1 MiB window when typical. */
static size_t utp(uint8_t *b, int type, int ext, int typical)
{
	rnd_fill(b, 20);
	b[0] = (uint8_t)(type << 4 | 1);
	b[1] = (uint8_t)ext;
	if (typical) {
		memset(b + 8, 0, 4);
		memcpy(b + 12, "\x00\x10\x00\x00", 4);
	}
	if (ext == 1) {				/* selective ack of 4 bytes */
		b[20] = 0;
		b[21] = 4;
		rnd_fill(b + 22, 4);
		return 26;
	}
	if (ext == 2) {				/* extension bits */
		b[20] = 0;
		b[21] = 8;
		memset(b + 22, 0, 8);
		return 30;
	}
	return 20;
}

/* Named over neither transport; else fail showing the packet's head. */
static void refuse(const char *what, const uint8_t *d, size_t len)
{
	enum otherproto u = ident(d, len, UDP), t = ident(d, len, TCP);
	size_t i;

	if (u == OTHERPROTO_NONE && t == OTHERPROTO_NONE)
		return;
	print_error("%s (%zu bytes): %s over UDP, %s over TCP:", what, len, otherproto_name(u),
		    otherproto_name(t));
	for (i = 0; i < len && i < 48; i++)
		print_error(" %02x", d[i]);
	print_error("\n");
	fail();
}

static void refuse_str(const char *what, const char *s)
{
	refuse(what, (const uint8_t *)s, strlen(s));
}

static void test_bittorrent(void **state)
{
	static const char ext_hs[] = "d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e1:v3:qB4e";
	uint8_t b[1600], in[1200];
	size_t n, k;
	int i, t, ext;

	(void)state;
	rng_seed(68);
	for (i = 0; i < 1000; i++) {
		n = bt_handshake(b);
		refuse("bittorrent handshake", b, n);
		/* with the extension handshake in the same segment */
		k = sizeof(ext_hs) - 1;
		memcpy(b + n, "\x00\x00\x00\x00\x14\x00", 6);
		b[n + 3] = (uint8_t)(2 + k);
		memcpy(b + n + 6, ext_hs, k);
		refuse("handshake + extended", b, n + 6 + k);
	}
	/* uTP: every type, version 1, each extension, payloads on data */
	for (i = 0; i < 20000; i++) {
		t = i % 5;
		ext = (i / 5) % 3;
		n = utp(b, t, ext, (i / 15) % 2);
		refuse("utp header", b, n);
		if (t == 0 || t == 1) {
			k = (size_t)(rng() % 1200);
			rnd_fill(b + n, k);
			refuse("utp data", b, n + k);
			refuse("utp data handshake", b, n + bt_handshake(b + n));
		}
	}
	/* the one overlap: a uTP data packet on connection id 0, 148 bytes
	 * long, is laid out as a WireGuard initiation */
	n = utp(b, 0, 0, 1);
	b[2] = 0;
	b[3] = 0;
	rnd_fill(b + n, 148 - n);
	expect("utp data on connection 0", ident(b, 148, UDP), OTHERPROTO_WIREGUARD);
	refuse("utp data on connection 0, 149 bytes", b, 149);
	refuse_str("krpc ping", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
	refuse_str("krpc find_node", "d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij0123456789e"
		   "1:q9:find_node1:t2:aa1:y1:qe");
	refuse_str("krpc announce", "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:"
		   "mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe");
	refuse_str("krpc error", "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");
	refuse_str("krpc ping reply", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
	refuse_str("bencode list", "l4:spam4:eggsi42ee");
	for (i = 0; i < 1000; i++) {
		/* binary ids, compact nodes and peers */
		n = (size_t)snprintf((char *)b, sizeof(b), "d1:ad2:id20:");
		rnd_fill(b + n, 20);
		n += 20;
		memcpy(b + n, "9:info_hash20:", 14);
		n += 14;
		rnd_fill(b + n, 20);
		n += 20;
		memcpy(b + n, "e1:q9:get_peers1:t2:", 20);
		n += 20;
		rnd_fill(b + n, 2);
		n += 2;
		memcpy(b + n, "1:y1:qe", 7);
		n += 7;
		refuse("krpc get_peers", b, n);
		n = (size_t)snprintf((char *)b, sizeof(b), "d1:rd2:id20:");
		rnd_fill(b + n, 20);
		n += 20;
		memcpy(b + n, "5:nodes208:", 11);
		n += 11;
		rnd_fill(b + n, 208);
		n += 208;
		memcpy(b + n, "5:token8:", 9);
		n += 9;
		rnd_fill(b + n, 8);
		n += 8;
		memcpy(b + n, "e1:t2:aa1:y1:re", 15);
		n += 15;
		refuse("krpc nodes reply", b, n);
	}
	/* BEP 14: text, but BitTorrent's own */
	refuse_str("lsd", "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
		   "Infohash: 0123456789abcdef0123456789abcdef01234567\r\ncookie: 7a3f\r\n\r\n\r\n");
	refuse_str("lsd without infohash", "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n\r\n");
	/* UDP trackers (BEP 15) */
	for (i = 0; i < 1000; i++) {
		memcpy(b, "\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00", 12);
		rnd_fill(b + 12, 4);
		refuse("udp tracker connect", b, 16);
		memset(b, 0, 4);
		rnd_fill(b + 4, 12);
		refuse("udp tracker connect reply", b, 16);
		rnd_fill(b, 8);				/* connection id */
		memcpy(b + 8, "\x00\x00\x00\x01", 4);	/* announce */
		rnd_fill(b + 12, 4 + 20 + 20);
		memset(b + 56, 0, 24);
		memcpy(b + 80, "\x00\x00\x00\x02\x00\x00\x00\x00", 8);
		rnd_fill(b + 88, 4);
		memcpy(b + 92, "\xff\xff\xff\xff\x1a\xe1", 6);
		refuse("udp tracker announce", b, 98);
		memcpy(b, "\x00\x00\x00\x01", 4);	/* announce reply */
		rnd_fill(b + 4, 4);
		memcpy(b + 8, "\x00\x00\x07\x08\x00\x00\x00\x03\x00\x00\x00\x11", 12);
		rnd_fill(b + 20, 6 * 20);
		refuse("udp tracker announce reply", b, 20 + 6 * 20);
		memcpy(b, "\x00\x00\x00\x03", 4);	/* error */
		memcpy(b + 8, "unknown torrent", 15);
		refuse("udp tracker error", b, 23);
	}
	/* SOCKS5 UDP headers around BitTorrent and random datagrams */
	for (i = 0; i < 3000; i++) {
		static const uint8_t hl[] = { 10, 0, 22 };
		size_t h = hl[i % 3];

		memset(b, 0, 3);
		if (i % 3 == 0) {
			b[3] = 1;
			rnd_fill(b + 4, 6);
			b[4] = (uint8_t)(1 + b[4] % 223);	/* a routable first octet */
		} else if (i % 3 == 1) {
			static const char host[] = "router.bittorrent.com";

			b[3] = 3;
			b[4] = sizeof(host) - 1;
			memcpy(b + 5, host, sizeof(host) - 1);
			memcpy(b + 5 + sizeof(host) - 1, "\x1a\xe1", 2);
			h = 5 + sizeof(host) - 1 + 2;
		} else {
			b[3] = 4;
			b[4] = 0x20;
			rnd_fill(b + 5, 17);
		}
		switch (i % 4) {
		case 0:
			k = (size_t)snprintf((char *)b + h, sizeof(b) - h,
					     "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
			break;
		case 1:
			k = utp(b + h, 4, 0, 1);
			break;
		case 2:
			memcpy(b + h, "\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00\x12\x34\x56\x78", 16);
			k = 16;
			break;
		default:
			k = 20 + (size_t)(rng() % 600);
			rnd_fill(b + h, k);
		}
		refuse("socks5 udp", b, h + k);
	}
	/* peer wire messages caught mid-stream */
	for (i = 0; i < 1000; i++) {
		memcpy(b, "\x00\x00\x00\x00", 4);
		refuse("keep-alive", b, 4);
		memcpy(b, "\x00\x00\x00\x01\x02\x00\x00\x00\x05\x04", 10);
		rnd_fill(b + 10, 4);
		refuse("interested + have", b, 14);
		memcpy(b, "\x00\x00\x01\x28\x05\x14", 6);	/* bitfield, first byte 20 */
		rnd_fill(b + 6, 290);
		refuse("bitfield", b, 296 + 4);
		memset(b + 5, 0xff, 295);
		refuse("bitfield seeder", b, 296 + 4);
		memcpy(b, "\x00\x00\x40\x09\x07", 5);		/* piece, 16 KiB block */
		rnd_fill(b + 5, 1443);
		b[5] = 0;
		refuse("piece", b, 1448);
		memcpy(b, "\x00\x00\x00\x0d\x06", 5);		/* requests */
		rnd_fill(b + 5, 12);
		memcpy(b + 17, b, 17);
		refuse("requests", b, 34);
	}
	/* MSE/PE: a key and padding, each side */
	for (i = 0; i < 5000; i++) {
		n = 96 + (size_t)(rng() % 513);
		rnd_fill(in, n);
		refuse("mse key exchange", in, n);
	}
}

/* Random buffers of 20..700 bytes: at most this many per million may be
 * named, over either transport. */
#define RANDOM_BUFFERS 100000
#define RANDOM_MAX_PER_MILLION 1000	/* 0.1 % */

static void test_random(void **state)
{
	unsigned hits[2] = { 0, 0 }, by[2][OTHERPROTO_COUNT];
	int i, tcp;

	(void)state;
	memset(by, 0, sizeof(by));
	rng_seed(0x6f74686572ULL);
	for (i = 0; i < RANDOM_BUFFERS; i++) {
		size_t n = 20 + (size_t)(rng() % (700 - 20 + 1));
		uint8_t *b = malloc(n);	/* exactly n: ASan sees any overread */

		assert_non_null(b);
		rnd_fill(b, n);
		for (tcp = 0; tcp <= 1; tcp++) {
			enum otherproto p = ident(b, n, tcp);

			if (p != OTHERPROTO_NONE) {
				hits[tcp]++;
				by[tcp][p]++;
			}
		}
		free(b);
	}
	for (tcp = 0; tcp <= 1; tcp++) {
		printf("otherproto: %u of %d random buffers (20..700 bytes) named over %s: %.4f %%",
		       hits[tcp], RANDOM_BUFFERS, tcp ? "TCP" : "UDP",
		       100.0 * hits[tcp] / RANDOM_BUFFERS);
		for (i = 1; i < OTHERPROTO_COUNT; i++)
			if (by[tcp][i])
				printf(" %s:%u", otherproto_name((enum otherproto)i), by[tcp][i]);
		printf("\n");
		assert_true((uint64_t)hits[tcp] * 1000000 < (uint64_t)RANDOM_MAX_PER_MILLION * RANDOM_BUFFERS);
	}
}

/* Every length from 0 to 64 of every vector and of random bytes, each in
 * a heap block of exactly that size: ASan reports any read past it. */
static void test_boundaries(void **state)
{
	uint8_t r[64];
	size_t n;
	int i, tcp;

	(void)state;
	build_vectors();
	lookalikes_init();
	rng_seed(64);
	rnd_fill(r, sizeof(r));
	for (i = 0; i < nvec + LA_COUNT + 1; i++) {
		const uint8_t *src;
		size_t max;

		if (i < nvec) {
			src = vecs[i].d;
			max = vecs[i].len;
		} else if (i < nvec + LA_COUNT) {
			src = lookalikes[i - nvec].data;
			max = lookalikes[i - nvec].len;
		} else {
			src = r;
			max = sizeof(r);
		}
		for (n = 0; n <= 64 && n <= max; n++) {
			uint8_t *d = malloc(n ? n : 1);

			assert_non_null(d);
			memcpy(d, src, n);
			for (tcp = 0; tcp <= 1; tcp++)
				assert_true((unsigned)ident(d, n, tcp) < OTHERPROTO_COUNT);
			free(d);
		}
	}
	assert_int_equal(ident(NULL, 0, 0), OTHERPROTO_NONE);
	assert_int_equal(ident(r, 0, 1), OTHERPROTO_NONE);
}

static void test_names(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < OTHERPROTO_COUNT; i++) {
		assert_non_null(otherproto_name((enum otherproto)i));
		assert_true(otherproto_name((enum otherproto)i)[0] != '\0');
		for (j = 0; j < i; j++)
			assert_string_not_equal(otherproto_name((enum otherproto)i),
						otherproto_name((enum otherproto)j));
	}
	assert_string_equal(otherproto_name(OTHERPROTO_COUNT), "");
	assert_string_equal(otherproto_name((enum otherproto)-1), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_layouts),
		cmocka_unit_test(test_lookalikes),
		cmocka_unit_test(test_broken_fields),
		cmocka_unit_test(test_bittorrent),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
