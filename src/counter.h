/* counter.h - counters written by one thread and read by another. A leaf:
 * the engine library and the daemon's modules both use it. */
#ifndef BTBLOCKD_COUNTER_H
#define BTBLOCKD_COUNTER_H

/* Relaxed atomics compile to plain loads and stores on every architecture
 * we target, and keep the read tear-free and the sanitizers quiet. */
#define COUNTER_ADD(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define COUNTER_INC(field) COUNTER_ADD(field, 1)
#define COUNTER_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
