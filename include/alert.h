/*
 * alert.h — one flagged IP (or prefix) in one window, as every output sees it: SQLite
 * (store.c), the JSON alert log (alert_log.c), the blocklist, webhooks and HTTP.
 */
#ifndef TAPIR_ALERT_H
#define TAPIR_ALERT_H

#include "geo.h"
#include "tapir.h"

#define ALERT_TOP_FEATURES 3

enum alert_side { ALERT_SIDE_SOURCE = 0, ALERT_SIDE_DESTINATION = 1, ALERT_SIDE_PREFIX = 2 };

struct alert_feature {
    char name[40];       /* feature name, as in the README table */
    double value;        /* its value in this window (unscaled) */
    double baseline;     /* the IP's own baseline (EWMA mean) for it */
    double contribution; /* share of path shortening attributed to it, 0..1 */
};

struct alert {
    int64_t id;             /* set by store_add_alert */
    uint64_t timestamp_us;  /* when raised: window end, packet time */
    const char *event_type; /* "anomaly" or "threshold" */
    struct ip_addr ip;      /* the IP, or the prefix's first address */
    uint8_t prefix_len;     /* in the 128-bit form: 128 for an IP, 120 for a v4 /24 */
    enum alert_side side;
    double score;     /* Isolation Forest score, (0,1] */
    double threshold; /* score at or above which the side is flagged */
    uint64_t window_start_us;
    uint64_t window_end_us;
    int n_top; /* used entries of top[] */
    struct alert_feature top[ALERT_TOP_FEATURES];
    struct geo_info geo;
    char l7[96];       /* top L7 protocols, comma-separated, e.g. "TLS,DNS" */
    char risks[192];   /* nDPI risks seen when risk_score is a top feature, comma-separated
                          "name (severity)", e.g. "SQL Injection (Severe)"; "" none */
    char model_id[40]; /* model that scored it */
    /* The full behaviour vector (unscaled) for the flagged-windows table; borrowed. */
    int n_features;
    const double *features;
    const char *const *feature_names;
};

const char *alert_side_name(enum alert_side s); /* "source", "destination", "prefix" */

#endif
