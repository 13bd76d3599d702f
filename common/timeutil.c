/*
 * timeutil.c — the clocks and the time formats every layer uses: wall and monotonic
 * microseconds, ISO-8601 output, and the times a user types (ISO-8601 or unix seconds)
 * for the CLI and the HTTP API. One copy: the clock reads had been written six times.
 * Packet time never comes from here: the per-packet path takes the packet's timestamp.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

uint64_t tapir_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t tapir_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

const char *tapir_iso8601(uint64_t ts_us, char *buf, size_t len)
{
    time_t t = (time_t)(ts_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return buf;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ts_us / 1000 % 1000));
    return buf;
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int tapir_parse_time(const char *s, uint64_t *us)
{
    const char *p = s;
    if (!*p)
        return -1;
    if (!strchr(s, '-')) { /* unix seconds */
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= 0) || v > 1e13)
            return -1;
        *us = (uint64_t)(v * 1e6 + 0.5);
        return 0;
    }
    int Y, M, D, h = 0, m = 0, sec = 0;
    uint64_t frac_us = 0;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                p++;
                uint64_t scale = 100000;
                if (*p < '0' || *p > '9')
                    return -1;
                for (; *p >= '0' && *p <= '9'; p++) {
                    frac_us += (uint64_t)(*p - '0') * scale;
                    scale /= 10;
                }
            }
        }
    }
    long offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59) /* "+99:99" */
            return -1;
        offset_s = sign * (oh * 3600L + om * 60L);
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
        return -1;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm rolls an impossible date over ("2026-02-31" is March 3rd): refuse it. A
     * leap second (:60) may roll the day too (23:59:60): it passes. */
    struct tm back;
    if (t == (time_t)-1 || t - offset_s < 0 || !gmtime_r(&t, &back) ||
        (back.tm_mday != D && sec < 60) || (back.tm_mon != M - 1 && sec < 60))
        return -1;
    *us = (uint64_t)(t - offset_s) * 1000000u + frac_us;
    return 0;
}
