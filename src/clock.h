/* clock.h - the monotonic clocks of the daemon and btblockctl, one copy.
 * clock_gettime() of these clocks is a vDSO call: no syscall, and the
 * seccomp filter allows the syscall anyway for kernels without one. */
#ifndef BTBLOCKD_CLOCK_H
#define BTBLOCKD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: timeouts, deadlines, heartbeats. */
static inline int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in whole seconds: uptimes and slow ages. */
static inline int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* CLOCK_MONOTONIC_COARSE in nanoseconds (a tick's resolution, a few ms):
 * engine time, read once per packet by the workers. */
static inline uint64_t mono_ns_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
