/* test_dpi_peerwire.c - unit tests of the peer wire detector
 * (src/dpi/peerwire.c): handshakes, and framing followed mid-stream. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/peerwire.c"
#include "dpi_test.h"
#include "lookalikes.h"

static size_t handshake(uint8_t *b, int v2)
{
	memcpy(b, "\x13" "BitTorrent protocol", 20);
	memset(b + 20, 0, 8);
	b[25] = 0x10;			/* BEP 10 extension protocol */
	b[27] = 0x05;			/* DHT, FAST */
	if (v2)
		b[27] |= 0x10;		/* BEP 52: v2 capable */
	la_fill(b + 28, 20, 1);		/* info hash */
	memcpy(b + 48, "-qB4650-", 8);
	la_fill(b + 56, 12, 2);
	return 68;
}

static size_t put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	return 4;
}

static size_t msg_request(uint8_t *b, uint8_t id, uint32_t index, uint32_t begin, uint32_t len)
{
	put32(b, 13);
	b[4] = id;
	put32(b + 5, index);
	put32(b + 9, begin);
	put32(b + 13, len);
	return 17;
}

static size_t msg_have(uint8_t *b, uint32_t index)
{
	put32(b, 5);
	b[4] = 4;
	put32(b + 5, index);
	return 9;
}

/* A TCP packet of a flow whose start was not seen. */
static enum dpi_id midstream(struct dpi_flow *st, int dir, uint32_t seq,
			     const uint8_t *d, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 50000, 6881, d, len);
	v.tcp_seq = seq;
	test_pkt(&p, &v, dir, NULL);
	p.dir_payload_pkts = 5;
	return peerwire_framing(st, &p);
}

static enum dpi_id on_head(const uint8_t *d, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 50000, 6881, d, len);
	test_pkt(&p, &v, 0, NULL);
	p.stream = d;
	p.stream_len = (uint32_t)len;
	p.stream_grew = 1;
	return peerwire_handshake(&p);
}

static void test_handshake_v1_v2(void **state)
{
	uint8_t b[68];

	(void)state;
	handshake(b, 0);
	assert_int_equal(on_head(b, 68), DPI_BT_HANDSHAKE);
	handshake(b, 1);
	assert_int_equal(on_head(b, 68), DPI_BT_HANDSHAKE);
	/* the head alone (20 bytes) suffices: the rest may be in flight */
	assert_int_equal(on_head(b, 20), DPI_BT_HANDSHAKE);
	/* a partial head: no opinion yet, but it is a prefix */
	assert_int_equal(on_head(b, 10), DPI_NONE);
	assert_int_equal(peerwire_is_handshake(b, 10, 1), 1);
	assert_int_equal(peerwire_is_handshake(b, 10, 0), 0);
}

static void test_handshake_negatives(void **state)
{
	uint8_t b[68];
	int i;

	(void)state;
	handshake(b, 0);
	b[0] = 0x14;			/* wrong pstrlen */
	assert_int_equal(on_head(b, 68), DPI_NONE);
	handshake(b, 0);
	b[5] = 'b';			/* "Bittorrent" */
	assert_int_equal(on_head(b, 68), DPI_NONE);
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		assert_int_equal(on_head(lookalikes[i].data, lookalikes[i].len), DPI_NONE);
}

static void test_handshake_later_in_stream_ignored(void **state)
{
	uint8_t b[100];

	(void)state;
	/* the handshake only counts at the head of the stream */
	memcpy(b, "HELLO", 5);
	handshake(b + 5, 0);
	assert_int_equal(on_head(b, 73), DPI_NONE);
}

static void test_framing_requests(void **state)
{
	struct dpi_flow st;
	uint8_t b[64];
	size_t n = 0;

	(void)state;
	memset(&st, 0, sizeof(st));
	n += msg_request(b + n, 6, 7, 0, 16384);
	n += msg_request(b + n, 6, 7, 16384, 16384);
	n += msg_request(b + n, 6, 7, 32768, 16384);
	/* three requests in one packet: validated, but one packet is not
	 * enough */
	assert_int_equal(midstream(&st, 0, 1000, b, n), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 1);
	assert_int_equal(st.pw[0].strong, 3);
	/* the next segment continues the framing: blocked */
	n = msg_have(b, 12);
	assert_int_equal(midstream(&st, 0, 1000 + 51, b, n), DPI_BT_FRAMING);
}

static void test_framing_piece_across_segments(void **state)
{
	struct dpi_flow st;
	uint8_t seg[1400];
	uint32_t seq = 5000, left;
	int pieces = 0;
	enum dpi_id r = DPI_NONE;

	(void)state;
	memset(&st, 0, sizeof(st));
	/* piece messages of 16 KiB cut into 1400-byte segments: the framer
	 * must find each next header exactly where the length said */
	while (pieces < 3 && r == DPI_NONE) {
		la_fill(seg, sizeof(seg), (uint32_t)pieces);
		put32(seg, 9 + 16384);
		seg[4] = 7;
		put32(seg + 5, 3);
		put32(seg + 9, (uint32_t)pieces * 16384);
		r = midstream(&st, 1, seq, seg, sizeof(seg));
		seq += sizeof(seg);
		left = 4 + 9 + 16384 - sizeof(seg);
		while (left > 0 && r == DPI_NONE) {
			uint32_t n = left > sizeof(seg) ? sizeof(seg) : left;

			la_fill(seg, n, seq);
			r = midstream(&st, 1, seq, seg, n);
			seq += n;
			left -= n;
		}
		pieces++;
	}
	assert_int_equal(r, DPI_BT_FRAMING);
	assert_int_equal(pieces, 3);
}

static void test_framing_both_directions_add_up(void **state)
{
	struct dpi_flow st;
	uint8_t b[64];
	size_t n;

	(void)state;
	memset(&st, 0, sizeof(st));
	n = msg_request(b, 6, 1, 0, 16384);
	n += msg_request(b + n, 6, 1, 16384, 16384);
	assert_int_equal(midstream(&st, 0, 100, b, n), DPI_NONE);
	/* a FAST reject answers in the other direction */
	n = msg_request(b, 16, 1, 0, 16384);
	assert_int_equal(midstream(&st, 1, 9000, b, n), DPI_BT_FRAMING);
}

static void test_framing_fast_and_v2(void **state)
{
	struct dpi_flow st;
	uint8_t b[128];
	size_t n = 0;

	(void)state;
	memset(&st, 0, sizeof(st));
	put32(b, 1);			/* have all (BEP 6) */
	b[4] = 14;
	n = 5;
	put32(b + n, 5);		/* allowed fast */
	b[n + 4] = 17;
	put32(b + n + 5, 9);
	n += 9;
	put32(b + n, 49);		/* hash request (BEP 52) */
	b[n + 4] = 21;
	la_fill(b + n + 5, 48, 4);
	n += 53;
	assert_int_equal(midstream(&st, 0, 1, b, n), DPI_NONE);
	assert_int_equal(st.pw[0].strong, 2);
	n = msg_have(b, 1);
	assert_int_equal(midstream(&st, 0, 1 + 67, b, n), DPI_BT_FRAMING);
}

static void test_framing_extension_handshake(void **state)
{
	struct dpi_flow st;
	uint8_t b[128];
	const char *d = "d1:md6:ut_pexi1e11:ut_metadatai2ee1:v12:qBittorrent/e";
	size_t dl = strlen(d);

	(void)state;
	memset(&st, 0, sizeof(st));
	put32(b, (uint32_t)(2 + dl));
	b[4] = 20;
	b[5] = 0;
	memcpy(b + 6, d, dl);
	assert_int_equal(midstream(&st, 1, 77, b, 6 + dl), DPI_BT_EXTENSION);
}

static void test_framing_retransmit_and_gap(void **state)
{
	struct dpi_flow st;
	uint8_t b[64];
	size_t n;

	(void)state;
	memset(&st, 0, sizeof(st));
	n = msg_request(b, 6, 1, 0, 16384);
	n += msg_request(b + n, 6, 1, 16384, 16384);
	assert_int_equal(midstream(&st, 0, 100, b, n), DPI_NONE);
	/* the same segment again: ignored, still in sync */
	assert_int_equal(midstream(&st, 0, 100, b, n), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 1);
	assert_int_equal(st.pw[0].packets, 1);
	/* a gap (capture loss): the framer resynchronises on the next
	 * segment, which validates on its own and completes the evidence */
	n = msg_have(b, 3);
	assert_int_equal(midstream(&st, 0, 5000, b, n), DPI_BT_FRAMING);
	assert_int_equal(st.pw[0].strong, 3);
	/* after a gap, a packet that frames nowhere is no evidence either
	 * way: the counts stay */
	memset(&st, 0, sizeof(st));
	n = msg_request(b, 6, 1, 0, 16384);
	n += msg_request(b + n, 6, 1, 16384, 16384);
	assert_int_equal(midstream(&st, 0, 100, b, n), DPI_NONE);
	put32(b, 77);
	b[4] = 0x63;
	assert_int_equal(midstream(&st, 0, 9000, b, 20), DPI_NONE);
	assert_int_equal(st.pw[0].strong, 2);
	assert_int_equal(st.pw[0].sync, 0);
	/* but framing that breaks where it was predicted drops it all */
	memset(&st, 0, sizeof(st));
	n = msg_request(b, 6, 1, 0, 16384);
	n += msg_request(b + n, 6, 1, 16384, 16384);
	assert_int_equal(midstream(&st, 0, 100, b, n), DPI_NONE);
	put32(b, 77);
	b[4] = 0x63;
	assert_int_equal(midstream(&st, 0, 100 + (uint32_t)n, b, 20), DPI_NONE);
	assert_int_equal(st.pw[0].strong, 0);
	assert_int_equal(st.pw[0].sync, 0);
}

static void test_framing_resync_inside_segment(void **state)
{
	struct dpi_flow st;
	uint8_t seg[1400];
	uint32_t seq = 7000;
	size_t n;
	int k;

	(void)state;
	/* block data, then a piece header 600 bytes into the segment */
	memset(&st, 0, sizeof(st));
	la_fill(seg, sizeof(seg), 77);
	put32(seg + 600, 9 + 16384);
	seg[604] = 7;
	put32(seg + 605, 12);
	put32(seg + 609, 49152);
	assert_int_equal(midstream(&st, 1, seq, seg, sizeof(seg)), DPI_NONE);
	assert_int_equal(st.pw[1].sync, 1);
	assert_int_equal(st.pw[1].skip, 600 + 4 + 9 + 16384 - sizeof(seg));
	/* the next header arrives exactly where that one said */
	seq += sizeof(seg);
	for (k = 0; k < 20 && st.pw[1].skip >= sizeof(seg); k++) {
		la_fill(seg, sizeof(seg), (uint32_t)k);
		assert_int_equal(midstream(&st, 1, seq, seg, sizeof(seg)), DPI_NONE);
		seq += sizeof(seg);
	}
	n = st.pw[1].skip;
	la_fill(seg, sizeof(seg), 99);
	put32(seg + n, 9 + 16384);
	seg[n + 4] = 7;
	put32(seg + n + 5, 12);
	put32(seg + n + 9, 65536);
	assert_int_equal(midstream(&st, 1, seq, seg, sizeof(seg)), DPI_NONE);
	assert_int_equal(st.pw[1].strong, 2);
	/* a request from the other side completes the evidence */
	n = msg_request(seg, 6, 13, 0, 16384);
	assert_int_equal(midstream(&st, 0, 1, seg, n), DPI_BT_FRAMING);
}

static void test_framing_resync_after_zero_run(void **state)
{
	struct dpi_flow st;
	uint8_t seg[1400];

	(void)state;
	/* a sparse block (zeros) running straight into a piece header: the
	 * scan steps through the run byte by byte and must still stop on
	 * the header's own leading zeros */
	memset(&st, 0, sizeof(st));
	la_fill(seg, sizeof(seg), 5);
	memset(seg + 100, 0, 500);
	put32(seg + 600, 9 + 16384);
	seg[604] = 7;
	put32(seg + 605, 3);
	put32(seg + 609, 16384);
	assert_int_equal(midstream(&st, 1, 9000, seg, sizeof(seg)), DPI_NONE);
	assert_int_equal(st.pw[1].sync, 1);
	assert_int_equal(st.pw[1].skip, 600 + 4 + 9 + 16384 - sizeof(seg));
	/* zeros alone are no message */
	memset(&st, 0, sizeof(st));
	memset(seg, 0, sizeof(seg));
	seg[0] = 0x55;
	assert_int_equal(midstream(&st, 0, 1, seg, sizeof(seg)), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 0);
}

static void test_framing_resync_needs_structure(void **state)
{
	struct dpi_flow st;
	uint8_t b[300];
	int k;

	(void)state;
	/* binary records that happen to end with the bytes of one "have":
	 * one message at the very end of a packet is not enough to resync */
	memset(&st, 0, sizeof(st));
	for (k = 0; k < 8; k++) {
		la_fill(b, sizeof(b), (uint32_t)k + 1000);
		msg_have(b + sizeof(b) - 9, 7);
		assert_int_equal(midstream(&st, k & 1, 1 + (uint32_t)k * 1000, b, sizeof(b)),
				 DPI_NONE);
		assert_int_equal(st.pw[k & 1].sync, 0);
	}
	assert_int_equal(st.pw[0].strong + st.pw[1].strong, 0);
}

static void test_framing_one_packet_of_haves(void **state)
{
	struct dpi_flow st;
	uint8_t b[200];
	size_t n = 0;
	int i;

	(void)state;
	/* the tail of a bencoded dictionary, a bitfield, then haves to the
	 * end of the segment: the capture began mid-message */
	memset(&st, 0, sizeof(st));
	memcpy(b, "4:ipv44:\x52\x3a\xd8\x73" "e", 13);
	n = 13;
	put32(b + n, 5);
	b[n + 4] = 5;
	memset(b + n + 5, 0xff, 4);
	n += 9;
	for (i = 0; i < 7; i++)
		n += msg_have(b + n, (uint32_t)(100 + i));
	assert_int_equal(midstream(&st, 1, 1, b, n), DPI_NONE);	/* seven: not yet */
	memset(&st, 0, sizeof(st));
	n += msg_have(b + n, 200);
	assert_int_equal(midstream(&st, 1, 1, b, n), DPI_BT_FRAMING);
}

static void test_framing_negatives(void **state)
{
	struct dpi_flow st;
	uint8_t b[64];
	size_t n;
	int i, k;

	(void)state;
	/* misaligned block offsets and oversized blocks are not BitTorrent */
	memset(&st, 0, sizeof(st));
	n = msg_request(b, 6, 1, 100, 16384);
	assert_int_equal(midstream(&st, 0, 1, b, n), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 0);
	n = msg_request(b, 6, 1, 0, 1u << 20);
	assert_int_equal(midstream(&st, 0, 1, b, n), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 0);
	/* unknown ids and wrong fixed lengths */
	put32(b, 1);
	b[4] = 0x42;
	assert_int_equal(midstream(&st, 0, 1, b, 5), DPI_NONE);
	put32(b, 6);
	b[4] = 4;
	assert_int_equal(midstream(&st, 0, 1, b, 10), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 0);
	/* every look-alike, five packets in a row per direction, in order */
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		uint32_t seq[2] = { 1, 1 };

		memset(&st, 0, sizeof(st));
		for (k = 0; k < 10; k++) {
			const struct lookalike *l = &lookalikes[i];

			assert_int_equal(midstream(&st, k & 1, seq[k & 1], l->data, l->len),
					 DPI_NONE);
			seq[k & 1] += (uint32_t)l->len;
		}
	}
}

static void test_framing_ssh_like_lengths(void **state)
{
	struct dpi_flow st;
	uint8_t b[300];
	uint32_t seq = 1;
	int k;

	(void)state;
	/* SSH binary packets: 4-byte length, then padding length 5 reads as a
	 * bitfield id; a chain of them frames perfectly but stays weak */
	memset(&st, 0, sizeof(st));
	for (k = 0; k < 12; k++) {
		la_fill(b, sizeof(b), (uint32_t)k);
		put32(b, sizeof(b) - 4);
		b[4] = 5;
		assert_int_equal(midstream(&st, 0, seq, b, sizeof(b)), DPI_NONE);
		seq += sizeof(b);
	}
}

static void test_framing_walk_bounded(void **state)
{
	struct dpi_flow st;
	static uint8_t b[65536];

	(void)state;
	/* 16384 keep-alives in one 64 KiB segment: the walk stops early and
	 * gives no opinion */
	memset(&st, 0, sizeof(st));
	assert_int_equal(midstream(&st, 0, 1, b, sizeof(b)), DPI_NONE);
	assert_int_equal(st.pw[0].sync, 0);
	assert_int_equal(st.pw[0].packets, 0);
}


/* A packet of which only cap of wire payload bytes were copied (a GSO
 * super-packet cut at the queue's copy range). */
static enum dpi_id midstream_cut(struct dpi_flow *st, int dir, uint32_t seq,
				 const uint8_t *d, size_t cap, size_t wire)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 50000, 6881, d, cap);
	v.tcp_seq = seq;
	v.payload_wire_len = (uint32_t)wire;
	test_pkt(&p, &v, dir, NULL);
	p.dir_payload_pkts = 5;
	return peerwire_framing(st, &p);
}

/* Bulk piece data in 2896-byte super-packets of which the daemon sees
 * 2048 bytes: the sequence space counts the cut part, headers are found
 * where they fall in sight. */
static void test_framing_cut_packets(void **state)
{
	static uint8_t stream[8 * (13 + 16384)];
	struct dpi_flow st;
	size_t off = 0, total = 0;
	uint32_t seq = 70000;
	enum dpi_id r = DPI_NONE;
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		uint8_t *m = stream + total;

		la_fill(m, 13 + 16384, (uint32_t)i + 100);
		put32(m, 9 + 16384);
		m[4] = 7;
		put32(m + 5, 11);
		put32(m + 9, (uint32_t)i * 16384);
		total += 13 + 16384;
	}
	memset(&st, 0, sizeof(st));
	while (off + 2896 <= total && r == DPI_NONE) {
		r = midstream_cut(&st, 1, seq, stream + off, 2048, 2896);
		off += 2896;
		seq += 2896;
	}
	assert_int_equal(r, DPI_BT_FRAMING);
	/* in sync, the cut part of a packet is skipped by its length: the
	 * framer expects the next packet where the whole one ended */
	assert_int_equal(st.pw[1].expect_seq, seq);
	/* random bulk cut the same way: nothing */
	la_fill(stream, total, 9);
	memset(&st, 0, sizeof(st));
	for (off = 0; off + 2896 <= total; off += 2896, seq += 2896)
		assert_int_equal(midstream_cut(&st, 1, seq, stream + off, 2048, 2896), DPI_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_v1_v2),
		cmocka_unit_test(test_handshake_negatives),
		cmocka_unit_test(test_handshake_later_in_stream_ignored),
		cmocka_unit_test(test_framing_requests),
		cmocka_unit_test(test_framing_piece_across_segments),
		cmocka_unit_test(test_framing_both_directions_add_up),
		cmocka_unit_test(test_framing_fast_and_v2),
		cmocka_unit_test(test_framing_extension_handshake),
		cmocka_unit_test(test_framing_retransmit_and_gap),
		cmocka_unit_test(test_framing_negatives),
		cmocka_unit_test(test_framing_ssh_like_lengths),
		cmocka_unit_test(test_framing_walk_bounded),
		cmocka_unit_test(test_framing_resync_inside_segment),
		cmocka_unit_test(test_framing_resync_after_zero_run),
		cmocka_unit_test(test_framing_resync_needs_structure),
		cmocka_unit_test(test_framing_one_packet_of_haves),
		cmocka_unit_test(test_framing_cut_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
