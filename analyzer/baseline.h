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
    uint8_t accepted;               /* bit side: a stretch over threshold flagged by the forest
                                       alone lasted BASELINE_ACCEPT_WINDOWS: the new normal,
                                       learned until 16 windows in a row are under */
    uint64_t taint_seq;             /* window + 1 of the last alert on this IP by another
                                       detector (limit, risk, conversation); 0 never */
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

/* Whether retraining may learn this IP's window seq on side:
 *  - never within 16 windows of an alert by another detector (baseline_taint: a learned
 *    limit, a risk, a conversation): a real attack must not teach "normal";
 *  - else when none of its last 16 windows was over threshold (an attacker's quieter
 *    windows must not teach "normal" either);
 *  - else when the side is accepted: it was over threshold, flagged by the forest alone,
 *    for BASELINE_ACCEPT_WINDOWS windows on end (a host that started a new service has
 *    been alerted on for that long and is the new normal). The acceptance holds, over or
 *    under, until 16 windows in a row are under threshold: without it, a new normal that
 *    retraining had half learned scored around the threshold, every window over reset
 *    the 16-window rule, and retraining never saw enough of it to stop alerting
 *    (e2e/forest_new_service with the forest's score extension: 13 alerts in the last
 *    hour). */
#define BASELINE_ACCEPT_WINDOWS 60 /* an hour at the default 60 s window */
bool baseline_learnable(const struct baseline_entry *e, int side, uint64_t seq);
/* Whether the IP is flagged on side now: another detector's alert within 16 windows of
 * seq, or over threshold in 2 of its last 3 scored windows and not accepted as a new
 * normal. A retrain leaves out the rows it already holds of such an IP (train.c). */
bool baseline_flagged(const struct baseline_entry *e, int side, uint64_t seq);
/* An alert by a detector other than the forest on this IP in window seq: no window of it
 * is learned for 16 windows, and a stretch over threshold starts again (no acceptance). */
void baseline_taint(struct baseline_entry *e, uint64_t seq);

#endif
