/* queue.h - one NFQUEUE binding: socket options, receive batch, verdict batch. */
#ifndef BTBLOCKD_QUEUE_H
#define BTBLOCKD_QUEUE_H

#include <stdint.h>
#include <stddef.h>

struct mnl_socket;
struct mmsghdr;
struct iovec;

struct queue_params {
	uint32_t copy_range;
	uint32_t maxlen;
	uint32_t rcvbuf;
	int fail_open;
	unsigned batch;			/* datagrams per recvmmsg */
	unsigned recv_timeout_ms;	/* how often an idle worker looks up */
};

/* One packet handed to the classifier. Pointers are valid until the next receive. */
struct queue_packet {
	uint32_t id;
	const uint8_t *data;		/* the IP header */
	uint32_t cap_len;		/* bytes in data */
	uint32_t wire_len;		/* original length (NFQA_CAP_LEN) */
	uint32_t skb_info;		/* NFQA_SKB_INFO flags */
	uint32_t mark;			/* the packet's mark (0 when it has none) */
	uint32_t indev, outdev;		/* interface indexes (0 when absent) */
	const uint8_t *hwaddr;		/* source hardware address (NULL when absent) */
	uint16_t hwaddr_len;
};

/* The classifier's answer. */
struct queue_verdict {
	uint32_t verdict;		/* NF_ACCEPT or NF_DROP */
	uint32_t mark;			/* the whole packet mark to set when set_mark */
	int set_mark;
};

/* Counters kept by the queue; written by its worker only. */
struct queue_counters {
	uint64_t received;		/* datagrams */
	uint64_t batches;		/* recvmmsg calls that returned data */
	uint64_t verdict_msgs;		/* verdict messages sent */
	uint64_t enobufs;		/* ENOBUFS from recv or send */
	uint64_t recv_errors;		/* other receive failures */
	uint64_t verdict_errors;	/* failed verdict sends */
	uint64_t bad_messages;		/* packet messages we could not classify (truncated, no id) */
};

struct queue {
	struct mnl_socket *nl;
	unsigned portid;
	uint16_t num;
	struct queue_params params;
	uint32_t seq;
	/* receive side: one buffer per datagram of the batch */
	size_t rx_bufsize;
	uint8_t *rx_area;
	struct mmsghdr *rx_msgs;
	struct iovec *rx_iov;
	/* verdict side: all verdicts of one receive batch, one send */
	uint8_t *tx_buf;
	size_t tx_size;
	size_t tx_len;
	int run_active;
	uint32_t run_first_id;
	uint32_t run_last_id;
	uint32_t run_len;
	struct queue_verdict run;
	/* packets that may still wait without a verdict (see queue.c) */
	int unjudged;
	int seen_valid;
	uint32_t seen_max;		/* the last packet id read */
	struct queue_counters ctr;
};

typedef struct queue_verdict (*queue_classify_fn)(void *ctx, const struct queue_packet *p);

/* Open a netlink socket and bind queue num with the given parameters.
 * On failure returns -1 with one sentence in err (e.g. queue in use). */
int queue_open(struct queue *q, uint16_t num, const struct queue_params *p,
	       char *err, size_t errlen);

/* Allocate the receive and verdict buffers; call from the worker thread
 * after pinning so the memory is local to its CPU. */
int queue_alloc_buffers(struct queue *q);

/* Receive one batch (waiting at most recv_timeout_ms), classify every
 * packet with fn, send the verdicts. Returns packets handled, 0 on
 * timeout, -1 on a non-fatal error (counted). */
int queue_service(struct queue *q, queue_classify_fn fn, void *ctx);

/* Verdict everything already waiting without blocking, then unbind. */
void queue_drain_and_close(struct queue *q, queue_classify_fn fn, void *ctx);

/* Unbind (if bound) and free everything; safe on a partly opened queue. */
void queue_close(struct queue *q);

#endif
