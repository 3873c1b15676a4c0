/* test_queue.c - verdict batching against a model of the kernel queue:
 * no verdict covers a packet it was not meant for, skipped and failed
 * packets are released unmarked, interfaces reach the classifier.
 *
 * The socket calls of queue.c are replaced (below): recvmmsg hands out
 * scripted packet messages, mnl_socket_sendto hands the verdict messages
 * to the model, which applies them the way nfnetlink_queue does. */
#define mnl_socket_sendto fake_mnl_socket_sendto
#define mnl_socket_get_fd fake_mnl_socket_get_fd
#define mnl_socket_close fake_mnl_socket_close
#define recvmmsg fake_recvmmsg
#include "../../src/queue.c"
#undef mnl_socket_sendto
#undef mnl_socket_get_fd
#undef mnl_socket_close
#undef recvmmsg

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define MARK_ALLOW 0x00a10000u
#define MARK_BLOCK 0x00b10000u
#define MARK_REJECT 0x00b20000u

/* What the classifier answers, chosen by the first payload byte. */
enum kind { K_PLAIN, K_ALLOW, K_BLOCK, K_REJECT, K_NKINDS };

static const struct queue_verdict kind_verdict[K_NKINDS] = {
	[K_PLAIN] = { .verdict = NF_ACCEPT },
	[K_ALLOW] = { .verdict = NF_ACCEPT, .mark = MARK_ALLOW, .set_mark = 1 },
	[K_BLOCK] = { .verdict = NF_DROP, .mark = MARK_BLOCK, .set_mark = 1 },
	[K_REJECT] = { .verdict = NF_DROP, .mark = MARK_REJECT, .set_mark = 1 },
};

/* --- the kernel model ------------------------------------------------------ */

#define MAX_PKTS 4096
#define MAX_DGRAMS 4096
#define DGRAM_MAX 4096

struct kpkt {
	uint32_t id;
	int waiting;		/* in the kernel's list */
	int judged;		/* the classifier saw it */
	struct queue_verdict want;	/* what it answered */
	int lost;		/* a send carrying its verdict failed */
	int done;		/* left the queue */
	uint32_t verdict;	/* how it left */
	int marked;
	uint32_t mark;
	uint32_t indev, outdev;	/* what the classifier was given */
};

struct dgram {
	uint8_t data[DGRAM_MAX];
	size_t len;		/* the datagram's full length */
	int brk;		/* ends a recvmmsg batch */
};

static struct {
	struct kpkt pkt[MAX_PKTS];
	unsigned npkt;
	uint32_t next_id;	/* the kernel's id counter */
	struct dgram dg[MAX_DGRAMS];
	unsigned dg_head, dg_tail;
	int fail_sends;		/* this many sends fail with ENOBUFS */
	unsigned sends, msgs, batch_msgs, releases;
	unsigned enoent_release, enoent_other;
} k;

static struct queue q;
static char fake_socket;

static void model_reset(uint32_t first_id)
{
	memset(&k, 0, sizeof(k));
	k.next_id = first_id;
}

static struct kpkt *find_pkt(uint32_t id)
{
	for (unsigned i = 0; i < k.npkt; i++)
		if (k.pkt[i].id == id)
			return &k.pkt[i];
	return NULL;
}

/* The kernel's nfq_id_after(). */
static int id_after(uint32_t id, uint32_t max)
{
	return (int32_t)(id - max) > 0;
}

static void push_dgram(const void *data, size_t len)
{
	struct dgram *d = &k.dg[k.dg_tail++ % MAX_DGRAMS];

	assert_true(len <= DGRAM_MAX);
	memcpy(d->data, data, len);
	d->len = len;
	d->brk = 0;
}

/* The kernel answers a verdict that found nothing with an error message. */
static void push_error(uint32_t seq, int error)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -error;
	push_dgram(buf, nlh->nlmsg_len);
}

static void leave(struct kpkt *p, uint32_t verdict, const uint32_t *mark)
{
	p->waiting = 0;
	p->done = 1;
	p->verdict = verdict;
	p->marked = mark != NULL;
	p->mark = mark ? *mark : 0;
	/* A verdict that carries a mark, or a drop, is a judgement: it may
	 * only reach a packet that was judged exactly so. */
	if (mark || verdict != NF_ACCEPT) {
		assert_true(p->judged);
		assert_int_equal(verdict, p->want.verdict);
		assert_int_equal(p->want.set_mark, mark != NULL);
		if (mark)
			assert_int_equal(*mark, p->want.mark);
	}
}

/* Apply one verdict message (or, with dry_run, mark what it would have
 * reached as lost: its send failed). */
static void apply_verdict(const struct nlmsghdr *nlh, int dry_run)
{
	const struct nfqnl_msg_verdict_hdr *vh = NULL;
	const struct nlattr *attr;
	uint32_t mark = 0, id, verdict;
	int has_mark = 0, found = 0;
	int batch = nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH);

	assert_true(batch || nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT));
	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attr) == NFQA_VERDICT_HDR) {
			assert_true(mnl_attr_get_payload_len(attr) >= sizeof(*vh));
			vh = mnl_attr_get_payload(attr);
		} else if (mnl_attr_get_type(attr) == NFQA_MARK) {
			mark = ntohl(mnl_attr_get_u32(attr));
			has_mark = 1;
		}
	}
	assert_non_null(vh);
	id = ntohl(vh->id);
	verdict = ntohl(vh->verdict);
	if (!dry_run) {
		k.msgs++;
		k.batch_msgs += batch;
		k.releases += nlh->nlmsg_seq == RELEASE_SEQ;
	}
	if (nlh->nlmsg_seq == RELEASE_SEQ) {
		assert_true(batch);
		assert_int_equal(verdict, NF_ACCEPT);
		assert_false(has_mark);
	}
	for (unsigned i = 0; i < k.npkt; i++) {
		struct kpkt *p = &k.pkt[i];

		if (!p->waiting)
			continue;
		if (batch ? id_after(p->id, id) : p->id != id) {
			if (batch)
				break;	/* the list is in id order */
			continue;
		}
		found = 1;
		if (dry_run)
			p->lost = 1;
		else
			leave(p, verdict, has_mark ? &mark : NULL);
	}
	if (!found && !dry_run) {
		if (nlh->nlmsg_seq == RELEASE_SEQ)
			k.enoent_release++;
		else
			k.enoent_other++;
		push_error(nlh->nlmsg_seq, ENOENT);
	}
}

ssize_t fake_mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	int remain = (int)len;
	int failing = k.fail_sends > 0;

	assert_ptr_equal(nl, (const void *)&fake_socket);
	if (failing)
		k.fail_sends--;
	else
		k.sends++;
	for (nlh = buf; mnl_nlmsg_ok(nlh, remain); nlh = mnl_nlmsg_next(nlh, &remain)) {
		if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG))
			continue;	/* the unbind at close */
		apply_verdict(nlh, failing);
	}
	assert_int_equal(remain, 0);
	/* A failed send reaches nothing: the packets stay waiting. */
	if (failing) {
		errno = ENOBUFS;
		return -1;
	}
	return (ssize_t)len;
}

int fake_mnl_socket_get_fd(const struct mnl_socket *nl)
{
	(void)nl;
	return 42;
}

int fake_mnl_socket_close(struct mnl_socket *nl)
{
	assert_ptr_equal(nl, (void *)&fake_socket);
	return 0;
}

int fake_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags, struct timespec *tmo)
{
	unsigned n = 0;

	(void)flags;
	(void)tmo;
	assert_int_equal(fd, 42);
	while (n < vlen && k.dg_head != k.dg_tail) {
		struct dgram *d = &k.dg[k.dg_head++ % MAX_DGRAMS];
		struct iovec *iov = msgs[n].msg_hdr.msg_iov;
		size_t copy = d->len < iov->iov_len ? d->len : iov->iov_len;

		memcpy(iov->iov_base, d->data, copy);
		msgs[n].msg_len = (unsigned)copy;
		msgs[n].msg_hdr.msg_flags = copy < d->len ? MSG_TRUNC : 0;
		n++;
		if (d->brk)
			break;
	}
	if (n == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (int)n;
}

/* --- building packet messages ------------------------------------------------ */

enum shape {
	S_NORMAL,		/* header first, as the kernel writes it */
	S_NO_HEADER,		/* no packet header attribute */
	S_TRUNCATED,		/* longer than the receive buffer: header readable */
	S_TRUNCATED_LATE,	/* longer, and the header after the payload: unreadable */
};

/* A packet the kernel queues, and its message. */
static struct kpkt *inject(enum kind kind, enum shape shape, uint32_t indev, uint32_t outdev)
{
	uint8_t buf[DGRAM_MAX];
	uint8_t payload[3000];
	size_t plen = shape == S_TRUNCATED || shape == S_TRUNCATED_LATE ? sizeof(payload) : 40;
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, q.num);
	struct nfqnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 1 };
	struct kpkt *p = &k.pkt[k.npkt++];

	assert_true(k.npkt <= MAX_PKTS);
	memset(p, 0, sizeof(*p));
	p->id = k.next_id++;
	p->waiting = 1;
	memset(payload, 0, sizeof(payload));
	payload[0] = 0x45;
	payload[1] = (uint8_t)kind;
	ph.packet_id = htonl(p->id);
	if (shape == S_NORMAL || shape == S_TRUNCATED)
		mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	if (indev)
		mnl_attr_put_u32(nlh, NFQA_IFINDEX_INDEV, htonl(indev));
	if (outdev)
		mnl_attr_put_u32(nlh, NFQA_IFINDEX_OUTDEV, htonl(outdev));
	mnl_attr_put_u32(nlh, NFQA_CAP_LEN, htonl((uint32_t)plen));
	mnl_attr_put(nlh, NFQA_PAYLOAD, plen, payload);
	if (shape == S_TRUNCATED_LATE)
		mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	push_dgram(buf, nlh->nlmsg_len);
	return p;
}

/* An id the kernel spends without queueing (message not deliverable). */
static void gap(void)
{
	k.next_id++;
}

/* The next recvmmsg returns here. */
static void batch_end(void)
{
	if (k.dg_tail != k.dg_head)
		k.dg[(k.dg_tail - 1) % MAX_DGRAMS].brk = 1;
}

static struct queue_verdict classify(void *ctx, const struct queue_packet *pk)
{
	struct kpkt *p = find_pkt(pk->id);

	(void)ctx;
	assert_non_null(p);
	assert_true(p->waiting);
	assert_false(p->judged);
	assert_true(pk->cap_len >= 2);
	assert_true(pk->data[1] < K_NKINDS);
	p->judged = 1;
	p->want = kind_verdict[pk->data[1]];
	p->indev = pk->indev;
	p->outdev = pk->outdev;
	return p->want;
}

static int setup(void **state)
{
	const struct queue_params params = {
		.copy_range = 64, .maxlen = 1024, .rcvbuf = 1 << 20, .fail_open = 1,
		.batch = 8, .recv_timeout_ms = 100,
	};

	(void)state;
	memset(&q, 0, sizeof(q));
	q.num = 3;
	q.params = params;
	q.nl = (struct mnl_socket *)(void *)&fake_socket;
	model_reset(1);
	return queue_alloc_buffers(&q) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	q.nl = NULL;
	queue_close(&q);
	return 0;
}

/* Receive until the script is empty (as many batches as it takes). */
static void serve_all(void)
{
	while (queue_service(&q, classify, NULL) > 0)
		;
}

/* Every packet left the queue; judged ones with their own verdict, unless
 * a failed send lost it (then accepted unmarked), the others accepted
 * unmarked: what the ruleset's bypass would do. */
static void assert_all_settled(void)
{
	for (unsigned i = 0; i < k.npkt; i++) {
		const struct kpkt *p = &k.pkt[i];

		assert_true(p->done);
		if (p->judged && !p->lost) {
			assert_int_equal(p->verdict, p->want.verdict);
			assert_int_equal(p->marked, p->want.set_mark);
			assert_int_equal(p->mark, p->want.mark);
		} else if (!(p->judged && p->verdict == p->want.verdict &&
			     p->marked == p->want.set_mark && p->mark == p->want.mark)) {
			assert_int_equal(p->verdict, NF_ACCEPT);
			assert_false(p->marked);
		}
	}
}

/* --- tests ------------------------------------------------------------------- */

static void test_runs_one_message_each(void **state)
{
	static const enum kind kinds[] = { K_ALLOW, K_ALLOW, K_ALLOW, K_BLOCK, K_BLOCK,
					   K_PLAIN, K_REJECT, K_ALLOW };

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(kinds); i++)
		inject(kinds[i], S_NORMAL, 2, 3);
	batch_end();
	assert_int_equal(queue_service(&q, classify, NULL), (int)ARRAY_SIZE(kinds));
	assert_all_settled();
	/* Runs: allow x3, block x2, plain, reject, allow: one message each,
	 * all in one send. */
	assert_int_equal(k.msgs, 5);
	assert_int_equal(k.batch_msgs, 2);
	assert_int_equal(k.sends, 1);
	assert_int_equal(k.releases, 0);
	assert_int_equal(q.ctr.verdict_msgs, 5);
	assert_int_equal(q.ctr.verdict_errors, 0);
	assert_int_equal(q.ctr.bad_messages, 0);
}

static void test_gap_is_no_packet(void **state)
{
	(void)state;
	/* An id spent without queueing (fail-open on overflow) sits inside
	 * a run: the run stays one message and reaches nothing extra. */
	inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	gap();
	inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	serve_all();
	assert_all_settled();
	assert_int_equal(k.msgs, 1);
	assert_int_equal(k.releases, 0);
}

static void test_interfaces(void **state)
{
	struct kpkt *fwd, *in, *none;

	(void)state;
	fwd = inject(K_ALLOW, S_NORMAL, 7, 9);
	in = inject(K_ALLOW, S_NORMAL, 4, 0);
	none = inject(K_ALLOW, S_NORMAL, 0, 0);
	serve_all();
	assert_int_equal(fwd->indev, 7);
	assert_int_equal(fwd->outdev, 9);
	assert_int_equal(in->indev, 4);
	assert_int_equal(in->outdev, 0);
	assert_int_equal(none->indev, 0);
	assert_int_equal(none->outdev, 0);
	assert_all_settled();
}

/* A packet message without a packet header, between blocked packets of
 * one run: the block must not reach it. */
static void test_message_without_header(void **state)
{
	struct kpkt *skipped;

	(void)state;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	skipped = inject(K_BLOCK, S_NO_HEADER, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	serve_all();
	assert_false(skipped->judged);
	assert_all_settled();
	assert_int_equal(skipped->verdict, NF_ACCEPT);
	assert_false(skipped->marked);
	assert_int_equal(q.ctr.bad_messages, 1);
	/* block 1-2, release up to 3, block 4-5 */
	assert_int_equal(k.msgs, 3);
	assert_int_equal(k.releases, 1);
	assert_int_equal(k.enoent_release, 0);
}

/* A datagram longer than the receive buffer: the id is read from its
 * start and the packet accepted unmarked in its place. */
static void test_truncated_with_id(void **state)
{
	struct kpkt *big;

	(void)state;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	big = inject(K_BLOCK, S_TRUNCATED, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	serve_all();
	assert_false(big->judged);
	assert_all_settled();
	assert_int_equal(big->verdict, NF_ACCEPT);
	assert_false(big->marked);
	assert_int_equal(q.ctr.bad_messages, 1);
	assert_int_equal(k.releases, 0);
	assert_int_equal(k.msgs, 3);
}

/* Truncated before its id: skipped, released before the next verdict. */
static void test_truncated_without_id(void **state)
{
	struct kpkt *big;

	(void)state;
	inject(K_REJECT, S_NORMAL, 0, 0);
	big = inject(K_REJECT, S_TRUNCATED_LATE, 0, 0);
	inject(K_REJECT, S_NORMAL, 0, 0);
	inject(K_ALLOW, S_NORMAL, 0, 0);
	batch_end();
	serve_all();
	assert_false(big->judged);
	assert_all_settled();
	assert_int_equal(big->verdict, NF_ACCEPT);
	assert_false(big->marked);
	assert_int_equal(k.releases, 1);
}

/* The skipped message is the last one: it waits for the next packet,
 * whose verdict is preceded by its release. */
static void test_skipped_last_then_idle(void **state)
{
	struct kpkt *skipped;

	(void)state;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	skipped = inject(K_BLOCK, S_NO_HEADER, 0, 0);
	batch_end();
	assert_int_equal(queue_service(&q, classify, NULL), 2);
	assert_int_equal(queue_service(&q, classify, NULL), 0);	/* idle */
	assert_true(skipped->waiting);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	serve_all();
	assert_all_settled();
	assert_int_equal(k.releases, 1);
}

/* A failed send: its packets still wait. The release follows at once. */
static void test_failed_send_released_at_once(void **state)
{
	struct kpkt *a, *b;

	(void)state;
	a = inject(K_BLOCK, S_NORMAL, 0, 0);
	b = inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	k.fail_sends = 1;
	assert_int_equal(queue_service(&q, classify, NULL), 2);
	assert_int_equal(q.ctr.verdict_errors, 1);
	assert_int_equal(q.ctr.enobufs, 1);
	assert_true(a->lost && b->lost);
	assert_true(a->done && b->done);
	assert_int_equal(k.releases, 1);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_ALLOW, S_NORMAL, 0, 0);
	serve_all();
	assert_all_settled();
	assert_int_equal(a->verdict, NF_ACCEPT);
	assert_false(a->marked);
}

/* The send fails and so does the release right after it: the next batch's
 * verdicts are preceded by the release, and reach only their own packets. */
static void test_failed_send_then_next_batch(void **state)
{
	struct kpkt *a, *b, *c;

	(void)state;
	a = inject(K_REJECT, S_NORMAL, 0, 0);
	b = inject(K_REJECT, S_NORMAL, 0, 0);
	batch_end();
	k.fail_sends = 2;
	assert_int_equal(queue_service(&q, classify, NULL), 2);
	assert_true(a->waiting && b->waiting);
	c = inject(K_BLOCK, S_NORMAL, 0, 0);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	serve_all();
	assert_all_settled();
	assert_int_equal(a->verdict, NF_ACCEPT);
	assert_false(b->marked);
	assert_int_equal(c->mark, MARK_BLOCK);
	assert_int_equal(k.releases, 1);
	assert_int_equal(k.enoent_release, 0);
	assert_int_equal(k.enoent_other, 0);
}

/* The same, but the next batch comes only after an idle turn: the
 * receive timeout retries the release. */
static void test_failed_send_idle_retry(void **state)
{
	struct kpkt *a;

	(void)state;
	a = inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	k.fail_sends = 2;
	assert_int_equal(queue_service(&q, classify, NULL), 1);
	assert_true(a->waiting);
	assert_int_equal(queue_service(&q, classify, NULL), 0);
	assert_true(a->done);
	assert_all_settled();
}

/* A release that found nothing (the packet it was for never waited) is
 * answered with ENOENT: no verdict error. A plain verdict's is one. */
static void test_release_enoent_not_an_error(void **state)
{
	(void)state;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	/* A header-less message of no queued packet (the model has none
	 * behind it): remove it from the model after injecting. */
	inject(K_BLOCK, S_NO_HEADER, 0, 0);
	k.npkt--;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	batch_end();
	serve_all();
	assert_int_equal(k.enoent_release, 1);
	serve_all();		/* the kernel's answer */
	assert_int_equal(q.ctr.verdict_errors, 0);
	assert_all_settled();
	push_error(0, ENOENT);
	serve_all();
	assert_int_equal(q.ctr.verdict_errors, 1);
}

/* Ids wrap around 2^32; the release and the runs wrap with them. */
static void test_id_wrap(void **state)
{
	struct kpkt *skipped;

	(void)state;
	model_reset(0xfffffffeu);
	inject(K_BLOCK, S_NORMAL, 0, 0);
	skipped = inject(K_BLOCK, S_NO_HEADER, 0, 0);	/* 0xffffffff */
	inject(K_BLOCK, S_NORMAL, 0, 0);		/* 0 */
	inject(K_BLOCK, S_NORMAL, 0, 0);		/* 1 */
	serve_all();
	assert_int_equal(skipped->id, 0xffffffffu);
	assert_all_settled();
	assert_false(skipped->marked);
}

/* Leaving: a skipped packet whose id was never read would be dropped by
 * the unbind; it is released first. */
static void test_close_releases(void **state)
{
	struct kpkt *skipped;

	(void)state;
	inject(K_BLOCK, S_NORMAL, 0, 0);
	skipped = inject(K_BLOCK, S_TRUNCATED_LATE, 0, 0);
	batch_end();
	queue_drain_and_close(&q, classify, NULL);
	assert_true(skipped->done);
	assert_all_settled();
	assert_false(skipped->marked);
	assert_null(q.tx_buf);
}

/* Random sequences of every event above, checked against the model.
 * Fixed seeds: the same sequences every run. */
static void test_random_sequences(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 200; seed++) {
		uint32_t r = seed * 2654435761u;

		teardown(NULL);
		setup(NULL);
		model_reset(seed % 7 == 0 ? 0xffffff00u : seed);
		for (unsigned step = 0; step < 300; step++) {
			unsigned ev;

			r = r * 1103515245u + 12345u;
			ev = (r >> 16) % 100;
			if (ev < 70)
				inject((enum kind)((r >> 8) % K_NKINDS), S_NORMAL, (r >> 4) % 3, 0);
			else if (ev < 74)
				inject(K_BLOCK, S_NO_HEADER, 0, 0);
			else if (ev < 78)
				inject(K_BLOCK, S_TRUNCATED, 0, 0);
			else if (ev < 81)
				inject(K_BLOCK, S_TRUNCATED_LATE, 0, 0);
			else if (ev < 85)
				gap();
			else if (ev < 89)
				k.fail_sends = 1 + (int)((r >> 4) % 2);
			else if (ev < 95)
				batch_end();
			else
				serve_all();
		}
		serve_all();
		queue_service(&q, classify, NULL);	/* idle turn */
		k.fail_sends = 0;
		queue_drain_and_close(&q, classify, NULL);
		assert_all_settled();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_runs_one_message_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_is_no_packet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interfaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_without_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_with_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_without_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped_last_then_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_send_released_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_send_then_next_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_send_idle_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_enoent_not_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_sequences, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
