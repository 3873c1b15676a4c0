/* queue.c - one NFQUEUE binding through libmnl: bind, receive batches with
 * recvmmsg, answer each batch with one send of batched verdicts. */
#include "sysincl.h"
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include "clock.h"
#include "log.h"
#include "queue.h"

#define PACKET_MSG_TYPE ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
/* Room for every attribute the kernel puts around the payload (packet
 * header, interfaces, hardware address, timestamp, cap_len, skb info...). */
#define RX_HEADROOM 2048
/* The longest verdict message: header, verdict and mark attributes. */
#define VERDICT_MSG_MAX 64
#define ACK_WAIT_MS 3000
/* Config and single verdict messages we build are a few dozen bytes. */
#define SMALL_MSG_SIZE 256
/* The sequence number of release verdicts (below): its ENOENT only says
 * that nothing was left waiting. Config messages count up from 1. */
#define RELEASE_SEQ 0x7e1ea5e0u

/*
 * What the kernel does with our verdicts (net/netfilter/nfnetlink_queue.c),
 * and so what a verdict may cover:
 * - Each queue numbers its packets with its own counter (one more per
 *   packet, wrapping) and keeps those waiting for a verdict in a list in
 *   that order; their messages reach us in the same order.
 * - A batch verdict with id N takes packets from the head of the list
 *   while their id is not after N (a wrapping comparison) and gives every
 *   one of them the verdict and the mark. A plain verdict takes only its
 *   own id. Either fails with ENOENT when it finds nothing.
 * - A packet whose message cannot be delivered (receive buffer full) is
 *   accepted (fail-open) or dropped at once: it takes an id but never
 *   waits. Gaps in the ids are normal under load and hide no packet.
 * - Unbinding drops every packet still waiting.
 * So a batch ending at N is right only if every packet up to N still
 * waiting was judged by us with that verdict and mark. Two things leave a
 * packet waiting unjudged: a packet message we could not judge (truncated
 * without a readable id, no packet header) and a verdict send that failed
 * (its packets still wait). Both set q->unjudged, and the next verdict
 * message is preceded by a release: a batch ACCEPT without a mark up to
 * the id before its first packet, which is what the ruleset's bypass
 * would do with them. Without errors nothing changes: one message per run
 * of equal verdicts.
 */
enum {
	UNJUDGED_NONE = 0,
	UNJUDGED_SEEN,		/* every such packet has an id <= seen_max */
	UNJUDGED_UNSEEN,	/* one may have an id we never read */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int queue_fd(const struct queue *q)
{
	return mnl_socket_get_fd(q->nl);
}

/* Remember the highest packet id we have read (ids grow in arrival order). */
static void note_seen(struct queue *q, uint32_t id)
{
	q->seen_max = id;
	q->seen_valid = 1;
}

/* Send one verdict immediately, outside any batch (used while waiting for acks). */
static void queue_accept_now(struct queue *q, uint32_t id)
{
	char buf[SMALL_MSG_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, q->num);

	note_seen(q, id);
	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		COUNTER_INC(q->ctr.verdict_errors);
		if (q->unjudged == UNJUDGED_NONE)
			q->unjudged = UNJUDGED_SEEN;
	}
}

/*
 * The packet id of a packet message of which only len bytes are at hand
 * (a truncated datagram holds the start of it): the packet header is the
 * kernel's first attribute. Every length is checked against len.
 */
static int packet_id_in(const uint8_t *buf, size_t len, uint32_t *id)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));

	if (len < off || nlh->nlmsg_type != PACKET_MSG_TYPE || nlh->nlmsg_len < off)
		return 0;
	if (nlh->nlmsg_len < len)
		len = nlh->nlmsg_len;
	while (len - off >= sizeof(struct nlattr)) {
		const struct nlattr *attr = (const struct nlattr *)(buf + off);

		if (attr->nla_len < sizeof(struct nlattr) || attr->nla_len > len - off)
			return 0;
		if (mnl_attr_get_type(attr) == NFQA_PACKET_HDR) {
			const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr);

			if (mnl_attr_get_payload_len(attr) < sizeof(*ph))
				return 0;
			*id = ntohl(ph->packet_id);
			return 1;
		}
		off += NLMSG_ALIGN(attr->nla_len);
		if (off > len)
			return 0;
	}
	return 0;
}

/* Send a config message with an ack request and wait for the ack. Packets
 * that arrive meanwhile (the queue may already be bound) are accepted so
 * that none is left waiting. Returns 0 or a positive errno. */
static int queue_config_wait(struct queue *q, uint32_t seq, char *buf, size_t size)
{
	int64_t start = mono_ms();

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(q->nl, buf, size);
		const struct nlmsghdr *m;
		int remain;

		if (mono_ms() - start > ACK_WAIT_MS)
			return ETIMEDOUT;
		if (len < 0 && errno == ENOSPC) {
			uint32_t id;

			/* A datagram larger than buf: buf holds its start. */
			if (packet_id_in((const uint8_t *)buf, size, &id))
				queue_accept_now(q, id);
			else
				q->unjudged = UNJUDGED_UNSEEN;
			continue;
		}
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS)
				continue;
			return errno;
		}
		remain = (int)len;
		for (m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, remain);
		     m = mnl_nlmsg_next(m, &remain)) {
			if (m->nlmsg_type == PACKET_MSG_TYPE) {
				uint32_t id;

				if (packet_id_in((const uint8_t *)m, m->nlmsg_len, &id))
					queue_accept_now(q, id);
				else
					q->unjudged = UNJUDGED_UNSEEN;
				continue;
			}
			if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_seq == seq) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (m->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
					return EPROTO;
				return -e->error;
			}
		}
	}
}

static int queue_config_send(struct queue *q, struct nlmsghdr *nlh)
{
	size_t size = RX_HEADROOM + 65536;
	uint32_t seq = ++q->seq;
	char *buf;
	int e;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return errno;
	buf = malloc(size);
	if (!buf)
		return ENOMEM;
	e = queue_config_wait(q, seq, buf, size);
	free(buf);
	return e;
}

static void set_socket_options(struct queue *q)
{
	int fd = queue_fd(q);
	int one = 1;
	int size = (int)q->params.rcvbuf;
	struct timeval tv = {
		.tv_sec = q->params.recv_timeout_ms / 1000,
		.tv_usec = (q->params.recv_timeout_ms % 1000) * 1000,
	};

	/* SO_RCVBUFFORCE passes rmem_max; without CAP_NET_ADMIN fall back. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		LOG(LOG_WARNING, "queue %u: cannot set receive buffer to %d bytes: %s",
		    q->num, size, strerror(errno));
	/*
	 * NETLINK_NO_ENOBUFS: when the receive buffer overflows the kernel
	 * drops the message (or, with fail-open, accepts the packet) and does
	 * not report ENOBUFS to us. Without it a burst makes every recv fail
	 * until we drain, for no gain: the packet is gone either way. The
	 * loss stays visible in /proc/net/netfilter/nfnetlink_queue, which the
	 * stats export; ENOBUFS, if it still comes, is counted and ignored.
	 */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0)
		LOG(LOG_WARNING, "queue %u: cannot set NETLINK_NO_ENOBUFS: %s", q->num, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		LOG(LOG_WARNING, "queue %u: cannot set receive timeout: %s", q->num, strerror(errno));
}

int queue_open(struct queue *q, uint16_t num, const struct queue_params *p,
	       char *err, size_t errlen)
{
	char buf[SMALL_MSG_SIZE];
	struct nlmsghdr *nlh;
	uint32_t flags;
	int e;

	memset(q, 0, sizeof(*q));
	q->num = num;
	q->params = *p;
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl) {
		set_err(err, errlen, "queue %u: cannot open a netfilter netlink socket: %s%s", num,
			strerror(errno), errno == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return -1;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		set_err(err, errlen, "queue %u: cannot bind the netlink socket: %s", num, strerror(errno));
		goto fail;
	}
	q->portid = mnl_socket_get_portid(q->nl);
	set_socket_options(q);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	e = queue_config_send(q, nlh);
	if (e) {
		if (e == EPERM || e == EBUSY)
			set_err(err, errlen, "queue %u is already bound by another program "
				"(another btblockd, or an NFQUEUE user such as suricata)", num);
		else
			set_err(err, errlen, "queue %u: cannot bind: %s%s", num, strerror(e),
				e == ENOENT || e == EOPNOTSUPP ?
				" (is nfnetlink_queue available in this kernel?)" : "");
		goto fail;
	}

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)p->copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, p->maxlen);
	/* GSO: take super-packets whole, without forcing segmentation;
	 * FAIL_OPEN: accept instead of drop when the queue is full. */
	flags = NFQA_CFG_F_GSO | (p->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	e = queue_config_send(q, nlh);
	if (e) {
		set_err(err, errlen, "queue %u: cannot set copy range %u, length %u and flags: %s",
			num, p->copy_range, p->maxlen, strerror(e));
		goto fail;
	}
	return 0;
fail:
	queue_close(q);
	return -1;
}

/*
 * Fault every page in now. A large calloc gets untouched zero pages from
 * mmap, which the kernel would place on the node of whichever CPU first
 * writes them (the first recvmmsg); the caller runs pinned, so touching
 * them here places them on its node, and the resident size is final
 * before the first packet. Volatile: the compiler may not fold the writes
 * into the calloc, as it does with a memset.
 */
static void first_touch(void *p, size_t len)
{
	volatile unsigned char *c = p;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (size_t off = 0; off < len; off += page)
		c[off] = 0;
}

int queue_alloc_buffers(struct queue *q)
{
	unsigned n = q->params.batch;

	q->rx_bufsize = ((size_t)q->params.copy_range + RX_HEADROOM + 63) & ~(size_t)63;
	q->rx_area = calloc(n, q->rx_bufsize);
	q->rx_msgs = calloc(n, sizeof(*q->rx_msgs));
	q->rx_iov = calloc(n, sizeof(*q->rx_iov));
	q->tx_size = (size_t)n * VERDICT_MSG_MAX + VERDICT_MSG_MAX;
	q->tx_buf = calloc(1, q->tx_size);
	if (!q->rx_area || !q->rx_msgs || !q->rx_iov || !q->tx_buf)
		return -1;
	first_touch(q->rx_area, n * q->rx_bufsize);
	first_touch(q->tx_buf, q->tx_size);
	for (unsigned i = 0; i < n; i++) {
		q->rx_iov[i].iov_base = q->rx_area + (size_t)i * q->rx_bufsize;
		q->rx_iov[i].iov_len = q->rx_bufsize;
		q->rx_msgs[i].msg_hdr.msg_iov = &q->rx_iov[i];
		q->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* Send the verdicts built so far. The kernel handles a buffer whole or,
 * when the send fails, not at all: its packets then still wait. */
static void tx_send(struct queue *q)
{
	if (q->tx_len == 0)
		return;
	if (mnl_socket_sendto(q->nl, q->tx_buf, q->tx_len) < 0) {
		if (errno == ENOBUFS)
			COUNTER_INC(q->ctr.enobufs);
		COUNTER_INC(q->ctr.verdict_errors);
		LOG(LOG_DEBUG, "queue %u: verdict send failed: %s", q->num, strerror(errno));
		if (q->unjudged == UNJUDGED_NONE)
			q->unjudged = UNJUDGED_SEEN;
	}
	q->tx_len = 0;
}

/* Append one verdict message; the caller made room for it. */
static void tx_put(struct queue *q, uint16_t type, uint32_t id, uint32_t verdict,
		   const uint32_t *mark, uint32_t seq)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)q->tx_buf + q->tx_len, type, q->num);

	nlh->nlmsg_seq = seq;
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (mark)
		nfq_nlmsg_verdict_put_mark(nlh, *mark);
	q->tx_len += NLMSG_ALIGN(nlh->nlmsg_len);
	COUNTER_INC(q->ctr.verdict_msgs);
}

/* A release: every packet still waiting up to id is accepted, unmarked. */
static void tx_put_release(struct queue *q, uint32_t id)
{
	tx_put(q, NFQNL_MSG_VERDICT_BATCH, id, NF_ACCEPT, NULL, RELEASE_SEQ);
	q->unjudged = UNJUDGED_NONE;
}

/* Emit the current run of equal verdicts: one message for the whole run,
 * after a release of what waits unjudged below it. */
static void run_flush(struct queue *q)
{
	if (!q->run_active)
		return;
	if (q->tx_size - q->tx_len < 2 * VERDICT_MSG_MAX)
		tx_send(q);
	if (q->unjudged != UNJUDGED_NONE)
		tx_put_release(q, q->run_first_id - 1);
	tx_put(q, q->run_len > 1 ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
	       q->run_last_id, q->run.verdict, q->run.set_mark ? &q->run.mark : NULL, 0);
	q->run_active = 0;
	q->run_len = 0;
}

/*
 * A run ending at id N covers every packet still waiting up to N (see
 * the top of this file). Every earlier run has been answered and a
 * message we cannot judge ends the run (skip_message), so the packets
 * up to N that still wait are exactly this run's.
 */
static void run_add(struct queue *q, uint32_t id, const struct queue_verdict *v)
{
	if (q->run_active && (v->verdict != q->run.verdict || v->set_mark != q->run.set_mark ||
			      (v->set_mark && v->mark != q->run.mark)))
		run_flush(q);
	if (!q->run_active)
		q->run_first_id = id;
	q->run = *v;
	q->run_last_id = id;
	q->run_len++;
	q->run_active = 1;
	note_seen(q, id);
}

/*
 * A packet message we cannot classify (truncated, or without the
 * attributes we need). With its id (the first attribute) it is accepted
 * unmarked in its place; without, the run so far ends and the packet is
 * released before the next verdict.
 */
static void skip_message(struct queue *q, const uint8_t *buf, size_t len)
{
	static const struct queue_verdict accept = { .verdict = NF_ACCEPT };
	uint32_t id;

	COUNTER_INC(q->ctr.bad_messages);
	if (packet_id_in(buf, len, &id)) {
		run_add(q, id, &accept);
		return;
	}
	run_flush(q);
	q->unjudged = UNJUDGED_UNSEEN;
}

/* After the batch's verdicts: release now what is known to wait unjudged
 * (a failed send), instead of leaving it until the next packet. */
static void release_seen(struct queue *q)
{
	if (q->unjudged != UNJUDGED_SEEN || !q->seen_valid || !q->tx_buf)
		return;
	tx_put_release(q, q->seen_max);
	tx_send(q);
}

static uint32_t attr_u32(const struct nlattr *attr)
{
	return mnl_attr_get_payload_len(attr) >= 4 ? ntohl(mnl_attr_get_u32(attr)) : 0;
}

static void handle_packet_msg(struct queue *q, const struct nlmsghdr *nlh,
			      queue_classify_fn fn, void *ctx)
{
	struct queue_packet p = { 0 };
	const struct nlattr *attr;
	struct queue_verdict v;
	int have_id = 0;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		uint16_t len = mnl_attr_get_payload_len(attr);

		switch (mnl_attr_get_type(attr)) {
		case NFQA_PACKET_HDR:
			if (len >= sizeof(struct nfqnl_msg_packet_hdr)) {
				const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr);

				p.id = ntohl(ph->packet_id);
				have_id = 1;
			}
			break;
		case NFQA_PAYLOAD:
			p.data = mnl_attr_get_payload(attr);
			p.cap_len = len;
			break;
		case NFQA_CAP_LEN:
			p.wire_len = attr_u32(attr);
			break;
		case NFQA_SKB_INFO:
			p.skb_info = attr_u32(attr);
			break;
		case NFQA_MARK:
			p.mark = attr_u32(attr);
			break;
		case NFQA_IFINDEX_INDEV:
			p.indev = attr_u32(attr);
			break;
		case NFQA_IFINDEX_OUTDEV:
			p.outdev = attr_u32(attr);
			break;
		case NFQA_HWADDR:
			if (len >= sizeof(struct nfqnl_msg_packet_hw)) {
				const struct nfqnl_msg_packet_hw *hw = mnl_attr_get_payload(attr);

				p.hwaddr = hw->hw_addr;
				p.hwaddr_len = ntohs(hw->hw_addrlen);
				if (p.hwaddr_len > sizeof(hw->hw_addr))
					p.hwaddr_len = sizeof(hw->hw_addr);
			}
			break;
		default:
			break;
		}
	}
	if (!have_id) {
		skip_message(q, (const uint8_t *)nlh, nlh->nlmsg_len);
		return;
	}
	if (p.wire_len < p.cap_len)
		p.wire_len = p.cap_len;
	v = fn(ctx, &p);
	run_add(q, p.id, &v);
}

static void handle_error_msg(struct queue *q, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	/* A release that found nothing waiting did its job. */
	if (nlh->nlmsg_seq == RELEASE_SEQ && nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(*e) &&
	    e->error == -ENOENT)
		return;
	/* The kernel reports failed verdicts even without NLM_F_ACK. */
	COUNTER_INC(q->ctr.verdict_errors);
}

static void handle_datagram(struct queue *q, const uint8_t *buf, int len, int flags,
			    queue_classify_fn fn, void *ctx)
{
	const struct nlmsghdr *nlh;

	if (flags & MSG_TRUNC) {
		/* Longer than our buffer: we hold the start of one packet message. */
		skip_message(q, buf, (size_t)len);
		return;
	}
	for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_type == PACKET_MSG_TYPE)
			handle_packet_msg(q, nlh, fn, ctx);
		else if (nlh->nlmsg_type == NLMSG_ERROR)
			handle_error_msg(q, nlh);
	}
	/* A broken packet message at the end (its length past the datagram). */
	if (len >= (int)NLMSG_HDRLEN && nlh->nlmsg_type == PACKET_MSG_TYPE)
		skip_message(q, (const uint8_t *)nlh, (size_t)len);
}

static int queue_receive(struct queue *q, int flags, queue_classify_fn fn, void *ctx)
{
	int n = recvmmsg(queue_fd(q), q->rx_msgs, q->params.batch, flags, NULL);

	if (n < 0) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
			release_seen(q);
			return 0;
		case ENOBUFS:
			COUNTER_INC(q->ctr.enobufs);
			return -1;
		default:
			COUNTER_INC(q->ctr.recv_errors);
			LOG(LOG_ERR, "queue %u: receive failed: %s", q->num, strerror(errno));
			return -1;
		}
	}
	COUNTER_INC(q->ctr.batches);
	COUNTER_ADD(q->ctr.received, (uint64_t)n);
	for (int i = 0; i < n; i++)
		handle_datagram(q, q->rx_iov[i].iov_base, (int)q->rx_msgs[i].msg_len,
				q->rx_msgs[i].msg_hdr.msg_flags, fn, ctx);
	run_flush(q);
	tx_send(q);
	release_seen(q);
	return n;
}

int queue_service(struct queue *q, queue_classify_fn fn, void *ctx)
{
	return queue_receive(q, MSG_WAITFORONE, fn, ctx);
}

void queue_drain_and_close(struct queue *q, queue_classify_fn fn, void *ctx)
{
	/*
	 * Unbinding drops whatever still waits in the kernel queue. With
	 * fail-open, first shrink the queue to nothing: from then on the
	 * kernel accepts new packets itself, and the drain below verdicts
	 * every packet that was already queued, so none is lost.
	 */
	if (q->params.fail_open && q->nl) {
		char buf[SMALL_MSG_SIZE];
		struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);

		nfq_nlmsg_cfg_put_qmaxlen(nlh, 0);
		if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
			LOG(LOG_DEBUG, "queue %u: cannot shrink the queue: %s", q->num, strerror(errno));
	}
	/* Bounded: a flood must not keep a stopping daemon alive. */
	for (int i = 0; i < 4096; i++)
		if (queue_receive(q, MSG_DONTWAIT, fn, ctx) <= 0)
			break;
	/* Unbinding drops what still waits: a packet we could not judge
	 * (its id unknown, above the last we saw) is accepted instead,
	 * with whatever else is left. The kernel compares ids within half
	 * the id space: 2^30 past the last id seen covers what waits on
	 * either side of it. */
	if (q->unjudged != UNJUDGED_NONE && q->seen_valid && q->tx_buf && q->nl) {
		tx_put_release(q, q->seen_max + (1u << 30));
		tx_send(q);
	}
	queue_close(q);
}

void queue_close(struct queue *q)
{
	if (q->nl) {
		char buf[SMALL_MSG_SIZE];
		struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);

		/* The kernel also unbinds when the socket closes; saying so
		 * explicitly keeps the intent visible and costs nothing. */
		nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
		if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
			LOG(LOG_DEBUG, "queue %u: unbind failed: %s", q->num, strerror(errno));
		mnl_socket_close(q->nl);
		q->nl = NULL;
	}
	free(q->rx_area);
	free(q->rx_msgs);
	free(q->rx_iov);
	free(q->tx_buf);
	q->rx_area = NULL;
	q->rx_msgs = NULL;
	q->rx_iov = NULL;
	q->tx_buf = NULL;
}
