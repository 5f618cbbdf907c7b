/* server/clock.h — a cheap elapsed-time counter for per-command statistics:
 * the CPU's time-stamp counter on x86-64 (calibrated once at startup against
 * CLOCK_MONOTONIC), CLOCK_MONOTONIC elsewhere. Owns g_usec_per_tick, written
 * once before the workers start and only read afterwards. */
#ifndef DARTER_SERVER_CLOCK_H
#define DARTER_SERVER_CLOCK_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

extern double g_usec_per_tick;

static inline uint64_t clock_ticks(void)
{
#if defined(__x86_64__)
    return __rdtsc();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

static inline int64_t ticks_to_nsec(uint64_t ticks) { return (int64_t)((double)ticks * g_usec_per_tick * 1000.0); }

/* Measure the tick rate (about 10 ms). Call once before threads start. */
void clock_calibrate(void);

#endif
