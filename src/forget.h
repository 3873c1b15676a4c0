/* forget.h - make the workers forget what they remember of an address
 * (the control command "forget", used by btblockctl unban): the verdicts
 * of flows naming it and the endpoints learned for it.
 *
 * The control thread asks each worker through a mailbox of one slot;
 * the worker looks at it between two netlink batches, does the work on
 * its own tables and answers in the same slot. No lock: the control
 * thread writes the query and then the sequence number "posted", the
 * worker reads "posted", works, writes the result and then "served". */
#ifndef BTBLOCKD_FORGET_H
#define BTBLOCKD_FORGET_H

#include <stdint.h>
#include <jansson.h>
#include "addrspec.h"

struct engine;
struct worker;
struct btb_config;

/* How long the control thread waits for the workers' answers: a
 * healthy worker looks at its mailbox at least every receive timeout
 * (200 ms). A worker that answers later still forgets. */
#define FORGET_WAIT_MS 2000

struct forget_result {
	uint32_t flows;		/* flows removed from the flow table */
	uint32_t endpoints;	/* entries removed from the endpoint cache */
};

struct forget_box {
	uint32_t posted;	/* written by the control thread (release) */
	uint32_t served;	/* written by the worker (release) */
	struct addrspec spec;	/* the query of request "posted" */
	struct forget_result result;	/* the answer to request "served" */
};

/* Remove from one engine the flows with an end in spec and the endpoints
 * whose address lies in it. */
void forget_engine(struct engine *e, const struct addrspec *spec, struct forget_result *r);

/* Control thread: post a query. The number of the request, or 0 when the
 * worker has not served the one before (the slot is taken). */
uint32_t forget_post(struct forget_box *b, const struct addrspec *spec);

/* Control thread: 1 and the result once request seq is served, else 0. */
int forget_collect(struct forget_box *b, uint32_t seq, struct forget_result *r);

/* Worker: serve a posted query, if any (one load when there is none). */
void forget_serve(struct forget_box *b, struct engine *e);

/* The control command "forget ADDR[/LEN]": ask every running worker, wait
 * up to wait_ms, answer with the counts and the mark values that
 * btblockctl needs to clear conntrack entries (cfg may be NULL). */
json_t *forget_command(struct worker *workers, unsigned n, const struct btb_config *cfg,
		       const char *arg, int wait_ms);

#endif
