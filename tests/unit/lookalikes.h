/* lookalikes.h - payloads of other protocols that every BitTorrent
 * detector must leave alone: SSH, TLS, HTTP, DNS, STUN, DTLS, QUIC,
 * WireGuard, OpenVPN, plain bencode. Built by hand from the RFCs. */
#ifndef BTBLOCKD_LOOKALIKES_H
#define BTBLOCKD_LOOKALIKES_H

#include <stdint.h>
#include <string.h>

struct lookalike {
	const char *name;
	int l4;			/* 6 TCP, 17 UDP */
	uint8_t data[320];
	size_t len;
};

/* Fill with a pseudo-random (but fixed) byte pattern. */
static __attribute__((unused)) void la_fill(uint8_t *b, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

static __attribute__((unused)) size_t la_put(uint8_t *b, const void *s, size_t n)
{
	memcpy(b, s, n);
	return n;
}

/* A TLS 1.2 ClientHello naming sni (record, handshake, one extension). */
static __attribute__((unused)) size_t la_client_hello(uint8_t *b, const char *sni, uint8_t ver_major)
{
	size_t nl = strlen(sni), off = 0, ext_len = 9 + nl, body;

	b[off++] = 0x16;
	b[off++] = ver_major;	/* 3: TLS */
	b[off++] = 0x01;
	body = 4 + 2 + 32 + 1 + 2 + 4 + 1 + 1 + 2 + ext_len;
	b[off++] = (uint8_t)(body >> 8);
	b[off++] = (uint8_t)body;
	b[off++] = 0x01;			/* ClientHello */
	b[off++] = 0;
	b[off++] = (uint8_t)((body - 4) >> 8);
	b[off++] = (uint8_t)(body - 4);
	b[off++] = 3;
	b[off++] = 3;
	la_fill(b + off, 32, 7);
	off += 32;
	b[off++] = 0;				/* session id */
	b[off++] = 0;
	b[off++] = 4;				/* two suites */
	b[off++] = 0xc0;
	b[off++] = 0x2f;
	b[off++] = 0x00;
	b[off++] = 0x9c;
	b[off++] = 1;				/* compression: null */
	b[off++] = 0;
	b[off++] = (uint8_t)(ext_len >> 8);
	b[off++] = (uint8_t)ext_len;
	b[off++] = 0;				/* server_name */
	b[off++] = 0;
	b[off++] = (uint8_t)((nl + 5) >> 8);
	b[off++] = (uint8_t)(nl + 5);
	b[off++] = (uint8_t)((nl + 3) >> 8);
	b[off++] = (uint8_t)(nl + 3);
	b[off++] = 0;				/* host_name */
	b[off++] = (uint8_t)(nl >> 8);
	b[off++] = (uint8_t)nl;
	memcpy(b + off, sni, nl);
	return off + nl;
}

#define LA_COUNT 16

static struct lookalike lookalikes[LA_COUNT];

/* Build the table (once per test program). */
static __attribute__((unused)) void lookalikes_init(void)
{
	struct lookalike *l = lookalikes;
	static const uint8_t dns_q[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
	};

	memset(lookalikes, 0, sizeof(lookalikes));
	l->name = "ssh-banner";
	l->l4 = 6;
	l->len = la_put(l->data, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 40);
	l++;
	/* SSH KEXINIT in clear: packet length, padding length 5 (the id of a
	 * bitfield), message 20 (the id of an extended message) */
	l->name = "ssh-kexinit";
	l->l4 = 6;
	l->len = 300;
	la_fill(l->data, l->len, 3);
	l->data[0] = 0; l->data[1] = 0; l->data[2] = 0x01; l->data[3] = 0x28;	/* 296 */
	l->data[4] = 0x05;			/* padding length 5, like a bitfield id */
	l->data[5] = 20;			/* SSH_MSG_KEXINIT */
	l++;
	l->name = "ssh-encrypted";
	l->l4 = 6;
	l->len = 180;
	la_fill(l->data, l->len, 11);
	l++;
	l->name = "tls-client-hello";
	l->l4 = 6;
	l->len = la_client_hello(l->data, "www.example.com", 3);
	l++;
	l->name = "tls-app-data";
	l->l4 = 6;
	l->len = 200;
	la_fill(l->data, l->len, 5);
	l->data[0] = 0x17; l->data[1] = 3; l->data[2] = 3; l->data[3] = 0; l->data[4] = 195;
	l++;
	l->name = "http-get";
	l->l4 = 6;
	l->len = la_put(l->data, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
			"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n", 85);
	l++;
	l->name = "http-reply";
	l->l4 = 6;
	l->len = la_put(l->data, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			"Content-Length: 10\r\n\r\nd8:hello", 74);
	l++;
	l->name = "dns-query";
	l->l4 = 17;
	l->len = la_put(l->data, dns_q, sizeof(dns_q));
	l++;
	l->name = "stun-binding";
	l->l4 = 17;
	l->len = 20;
	la_fill(l->data, 20, 9);
	l->data[0] = 0x00; l->data[1] = 0x01; l->data[2] = 0; l->data[3] = 0;
	l->data[4] = 0x21; l->data[5] = 0x12; l->data[6] = 0xa4; l->data[7] = 0x42;
	l++;
	l->name = "dtls-client-hello";
	l->l4 = 17;
	l->len = 120;
	la_fill(l->data, l->len, 13);
	l->data[0] = 0x16; l->data[1] = 0xfe; l->data[2] = 0xfd;
	l++;
	l->name = "quic-initial";
	l->l4 = 17;
	l->len = 300;
	la_fill(l->data, l->len, 17);
	l->data[0] = 0xc3; l->data[1] = 0; l->data[2] = 0; l->data[3] = 0; l->data[4] = 1;
	l++;
	/* QUIC short header: first byte 0x41 is also "uTP SYN, version 1" */
	l->name = "quic-short-0x41";
	l->l4 = 17;
	l->len = 40;
	la_fill(l->data, l->len, 19);
	l->data[0] = 0x41; l->data[1] = 0x00;
	l++;
	l->name = "wireguard-init";
	l->l4 = 17;
	l->len = 148;
	la_fill(l->data, l->len, 23);
	l->data[0] = 1; l->data[1] = 0; l->data[2] = 0; l->data[3] = 0;
	l++;
	l->name = "wireguard-data";
	l->l4 = 17;
	l->len = 96;
	la_fill(l->data, l->len, 29);
	l->data[0] = 4; l->data[1] = 0; l->data[2] = 0; l->data[3] = 0;
	l++;
	l->name = "openvpn-tcp";
	l->l4 = 6;
	l->len = 56;
	la_fill(l->data, l->len, 31);
	l->data[0] = 0; l->data[1] = 54; l->data[2] = 0x38;	/* P_CONTROL_HARD_RESET_CLIENT_V2 */
	l++;
	l->name = "plain-bencode";
	l->l4 = 17;
	l->len = la_put(l->data, "d4:spam4:eggs3:cowi3e1:t2:aa1:y1:xe", 35);
}

#endif
