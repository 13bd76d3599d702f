/*
 * timeutil.h — clocks and time formats (common/timeutil.c). Any thread.
 */
#ifndef TAPIR_TIMEUTIL_H
#define TAPIR_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since the epoch (CLOCK_REALTIME). Not for the packet path. */
uint64_t tapir_wall_us(void);
/* Microseconds of CLOCK_MONOTONIC: intervals, timeouts, the watchdog. */
uint64_t tapir_monotonic_us(void);

/* Microseconds since the epoch, as ISO-8601 UTC with millisecond precision
 * ("2026-11-22T04:17:10.123Z"); buf needs 32 bytes. Returns buf. */
const char *tapir_iso8601(uint64_t ts_us, char *buf, size_t len);

/* A time a user typed: ISO-8601 ("2026-11-22", "2026-11-22T04:17", seconds, fraction,
 * "Z" or an offset) or unix seconds ("1763784000.5"). 0 with *us set, or -1. */
int tapir_parse_time(const char *s, uint64_t *us);

#endif
