/*
 * baseline.h — each IP's slow memory of itself: EWMA mean and variance of its past
 * windows' features, and which of its recent windows were over threshold (persistence).
 * Owner: the analyzer thread.
 */
#ifndef TAPIR_BASELINE_H
#define TAPIR_BASELINE_H

#include "behaviour.h"
#include "tapir.h"

#define BASELINE_FEATURES 40 /* source + destination raw features kept per IP */

struct baseline_entry {
    struct ip_addr ip;
    uint64_t last_seq;              /* last window that touched it */
    uint32_t n;                     /* windows folded into the means */
    uint16_t over[SIDE_COUNT];      /* bit i: window seq-i was over threshold */
    uint16_t over_run[SIDE_COUNT];  /* windows of the current stretch over threshold (gaps
                                       of 1-2 windows bridged), saturating */
    float mean[BASELINE_FEATURES];  /* EWMA of raw values (what alerts show) */
    float lmean[BASELINE_FEATURES]; /* EWMA of log1p values */
    float lvar[BASELINE_FEATURES];  /* EWMA variance of log1p values */
    double up_acc;                  /* net public upload, decayed sum (baseline_upload) */
    uint64_t up_seq;                /* window + 1 up_acc was last brought to; 0 never */
};

typedef struct baseline baseline_t;

/* capacity IPs (oldest forgotten when full); alpha: EWMA weight of a new window. */
baseline_t *baseline_create(uint32_t capacity, double alpha, uint64_t seed, char *errbuf);
void baseline_destroy(baseline_t *b);

/* The entry of ip, created empty (n = 0) if absent. Never NULL. */
struct baseline_entry *baseline_get(baseline_t *b, const struct ip_addr *ip, uint64_t seq);
/* The entry of ip, or NULL; does not create or touch it. */
struct baseline_entry *baseline_find(baseline_t *b, const struct ip_addr *ip);
/* Folds a window's raw values (n <= BASELINE_FEATURES, starting at index first). */
void baseline_update(baseline_t *b, struct baseline_entry *e, int first, const double *raw, int n);
/* (log1p(x) - mean) / sd of feature i, clipped to +-8; 0 with fewer than 3 windows. */
double baseline_deviation(const struct baseline_entry *e, int i, double x);

/* Adds window seq's net public upload to the host's decayed sum (half-life
 * BASELINE_UPLOAD_HALF_LIFE windows, so a steady trickle adds up to ~12 windows' worth)
 * and returns the sum. Every scored window counts, over threshold or not: it is a total,
 * not a picture of normal. */
#define BASELINE_UPLOAD_HALF_LIFE 8
double baseline_upload(struct baseline_entry *e, uint64_t seq, double bytes);

/* Records whether window seq was over threshold for side; returns how many of the last
 * n windows (including this one) were. */
int baseline_persist(struct baseline_entry *e, int side, uint64_t seq, bool over, int n);

/* Whether retraining may learn this IP's window on side: when none of its last 16 windows
 * was over threshold (an attacker's quieter windows must not teach "normal"), or when it
 * has been over for BASELINE_ACCEPT_WINDOWS windows on end: a change that lasts that long
 * (a host that started a new service) is the new normal, and has been alerted on for as
 * long. A learned-limit hit is never learned (the caller checks). */
#define BASELINE_ACCEPT_WINDOWS 60 /* an hour at the default 60 s window */
bool baseline_learnable(const struct baseline_entry *e, int side);

#endif
