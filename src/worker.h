/* worker.h - the per-queue thread: receive, classify, verdict. */
#ifndef BTBLOCKD_WORKER_H
#define BTBLOCKD_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include "queue.h"
#include "engine.h"
#include "detect_log.h"
#include "config.h"
#include "forget.h"
#include "state.h"

struct btb_config;

/* Written by the worker only, read by the control thread (COUNTER_GET). */
struct worker_counters {
	uint64_t packets;
	uint64_t bytes;		/* original packet lengths */
	uint64_t accepted;
	uint64_t malformed;	/* truncated or inconsistent headers: accepted */
	uint64_t fragments;	/* non-first IP fragments: accepted */
	uint64_t other_l4;	/* neither TCP nor UDP: accepted */
	uint64_t marked_allow;	/* packets sent back with the allow mark */
	uint64_t marked_block;	/* packets sent back with a block or reject mark */
	uint64_t bans_requested;	/* flows blocked with the block or reject mark: the
					 * ruleset bans their address pair */
	uint64_t flow_only_blocks;	/* flows blocked with a flow-only mark: no ban */
	uint64_t flows_monitored;	/* monitor mode: flows that would have been blocked */
};

struct worker {
	unsigned index;
	uint16_t queue_num;
	int cpu;
	int numa_node;			/* -1 when unknown */
	const struct btb_config *cfg;
	struct queue q;
	struct worker_counters ctr;
	struct engine engine;		/* allocated by the worker after pinning */
	int engine_ready;
	struct detect_ring detections;	/* drained by the control thread */
	struct forget_box forget;	/* "forget" requests of the control thread */
	struct state_box state;		/* snapshot requests of the control thread */
	const struct state_restore *restore;	/* the state file's entries, at start */
	struct state_restored restored;	/* what the worker took of them */
	struct bthosts *bthosts;	/* the hosts table; the worker writes region index */
	pthread_t thread;
	int started;
	int joined;			/* the thread ran and is gone */
	int stop;			/* set by the main thread */
	int failed;			/* set by the worker when it had to give up */
	int64_t heartbeat_ms;		/* CLOCK_MONOTONIC, stamped every loop turn */
	int stall_logged;		/* main thread: the current stall was logged */
	int test_stall;			/* test only: BTBLOCKD_TEST_STALL_QUEUE */
	unsigned nprotect_ifs;		/* protected-interface indexes found */
	uint32_t protect_ifs[CONFIG_MAX_IFACES];
} __attribute__((aligned(64)));	/* no false sharing between workers */

/* Bind the queue of worker index (main thread, before daemonizing). */
int worker_open(struct worker *w, unsigned index, const struct btb_config *cfg,
		char *err, size_t errlen);

/* Start the thread: pin, allocate, serve until worker_stop(). */
int worker_start(struct worker *w);

/* Return once the started worker has pinned itself and allocated its flow
 * table and buffers, or has given up (failed set). */
void worker_wait_ready(const struct worker *w);

/* Ask the worker to finish; it drains its queue and unbinds. */
void worker_stop(struct worker *w);

/* Wait for the thread (if started); its tables stay for reading. */
void worker_join_thread(struct worker *w);

/* Wait for the thread (if started) and release what is left. */
void worker_join(struct worker *w);

/* mono_ms() of clock.h, the clock of heartbeat_ms. */
int64_t worker_now_ms(void);

/* What the control thread reports of a worker: each counter read without
 * a lock (COUNTER_GET), exact on its own but not a consistent set. */
struct worker_snapshot {
	uint16_t queue_num;
	int cpu;
	int numa_node;			/* -1 when unknown */
	unsigned portid;		/* the netlink port the kernel lists for the queue */
	struct worker_counters ctr;
	uint64_t detections_lost;	/* detection events lost: the ring was full */
	uint64_t enobufs;
	uint64_t batches;
	uint64_t verdict_msgs;
	uint64_t verdict_errors;
	struct engine_counters engine;	/* all 0 until the worker allocated its engine */
};

/* Fill s from worker w (control thread, while w runs or after). */
void worker_counters_get(const struct worker *w, struct worker_snapshot *s);

/* Milliseconds since the worker last made progress (went round its loop:
 * it does at least every receive timeout, 200 ms, when healthy). */
int64_t worker_progress_age_ms(const struct worker *w, int64_t now_ms);

/* The NUMA node of a CPU, or -1 (from sysfs). */
int worker_cpu_node(int cpu);

#endif
