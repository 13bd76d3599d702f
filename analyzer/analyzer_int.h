/*
 * analyzer_int.h — the analyzer's own state, shared by its files and no one else:
 * analyzer.c (thread, loop, lifecycle), score.c (vectors and the scoring pass),
 * judge.c (limits, rules, persistence), explain.c (filling an alert), train.c
 * (reservoir, fitting, installing models). Everything here runs on the analyzer thread
 * unless a comment says otherwise.
 */
#ifndef TAPIR_ANALYZER_INT_H
#define TAPIR_ANALYZER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "alert.h"
#include "analyzer.h"
#include "baseline.h"
#include "conv.h"
#include "flowidx.h"
#include "geo.h"
#include "incident.h"
#include "model.h"
#include "output.h"
#include "rules.h"

#define RESERVOIR_MAX      16384 /* vectors kept per side for training */
#define LIMIT_FACTOR       3.0   /* learned-limit rule: this many times the training maximum */
#define TRAIN_MIN_ROWS     64    /* fewer: a forest on samples of all of them (prefix: pooled) */
#define TRAIN_FLOOR_ROWS   16    /* fewer make a forest that flags whatever it sees: not scored */
#define LIMIT_MIN_ROWS     200   /* fewer make a maximum too noisy for LIMIT_FACTOR ... */
#define LIMIT_FACTOR_SMALL 10.0  /* ... so a smaller sample's limits sit this far out */
#define RETRAIN_DRIFT_MAX  0.03  /* a retrained threshold stays this close to the reference */
#define SCORE_BATCH        256   /* vectors per iforest_score_many call (it walks 128 at once) */

struct side_train {
    float *x;           /* rows x n_features */
    struct ip_addr *ip; /* rows: whose vector each row is (a prefix: its base address) */
    size_t rows;        /* rows held */
    size_t cap;         /* rows allocated */
    uint64_t seen;      /* rows offered (reservoir sampling) */
};

struct prefix_acc {
    struct host_window acc;
    uint32_t members;
};

struct prefix_key {
    struct ip_addr ip; /* the prefix's base address */
    uint32_t members;  /* scored sources in it this window */
    uint32_t acc;      /* its accumulator in prefixes[] + 1, 0: none (one member) */
};

/* A side's learned limits, worked out once per model bind (analyzer_limits_bind) rather
 * than per vector: the logarithms were 4% of a replay's instructions. */
struct limit_cache {
    bool on;                             /* the section has limits (train_max, factor) */
    double log_factor;                   /* log(limit_factor), natural-log units */
    double lmax[BEHAVIOUR_MAX_FEATURES]; /* log1p of the training maximum, floor applied */
    double vcut[BEHAVIOUR_MAX_FEATURES]; /* a value at most this is certainly within its
                                            limit (log1p(v) <= lmax): no log1p needed */
};

struct analyzer {
    struct analyzer_config cfg;
    wqueue_t *q;
    pthread_t thread;
    bool started;
    struct event_base *base;
    struct event *wake;
    struct event *beat;         /* heartbeat timer, or NULL */
    _Atomic uint64_t heartbeat; /* notify_monotonic_us of the loop's last run */

    output_t *out; /* every sink: store, alert log, CSVs, stdout, HTTP */
    rules_t *rules;
    geo_t *geo;
    analyzer_l7_name_fn l7_name; /* protocol names (the sensor's nDPI), or NULL */
    void *l7_ctx;
    analyzer_risk_name_fn risk_name; /* nDPI risk names (the sensor's), or NULL */
    void *risk_ctx;
    baseline_t *baseline;
    conv_t *conv;          /* conversations across windows (conv.c), or NULL when off */
    incident_t *incidents; /* every alert's incident (incident.c) */
    bool between_windows;  /* in analyzer_emit_alert_now: an end goes out at once too */
    peers_t *peers;        /* the window's peers per IP, for directions (direction.c) */
    flow_index_t *flowidx; /* the window's flow records by initiator (flowidx.c) */
    uint64_t last_end_us;  /* end of the latest window analysed, packet time (0: none) */
    uint64_t last_seq;     /* its seq */

    struct model model;
    bool have_model;
    bool limits_off; /* TAPIR_DEBUG_NO_LIMITS set: the forest alone (measurement) */
    const struct model_section *sec[SIDE_COUNT];
    int n_feat[SIDE_COUNT];
    struct limit_cache lim[SIDE_COUNT]; /* the bound model's learned limits (judge.c) */
    const struct feature_def *defs[SIDE_COUNT];
    const char *names_tab[SIDE_COUNT][BEHAVIOUR_MAX_FEATURES];

    struct side_train train[SIDE_COUNT];
    double ref_threshold[SIDE_COUNT]; /* score: each side's threshold of the trained or
                                         warm-up model, which retraining may move at most
                                         RETRAIN_DRIFT_MAX from; 0 none yet */
    uint64_t windows_seen;
    uint64_t rng;
    /* The warm-up's "postponed" warning, said once per reason and then hourly (train.c). */
    char postponed_why[TAPIR_ERRBUF_SIZE]; /* the reason last said, "" none */
    uint64_t postponed_said_us;            /* when, tapir_monotonic_us */
    uint64_t postponed_since;              /* windows postponed since then */

    /* Per-window prefixes (score.c): every prefix of a scored source is a key, and only
     * those with two members or more (the ones scored) get an accumulator. */
    struct prefix_key *prefix_keys; /* prefix_cap keys, in order of first member */
    uint32_t *prefix_of;            /* per host of the window: its key + 1, 0 none */
    uint32_t prefix_cap;            /* keys and prefix_of entries allocated */
    uint32_t n_keys;
    uint32_t *prefix_idx; /* open-addressing index into prefix_keys (key + 1, 0 empty) */
    uint32_t prefix_mask;
    struct prefix_acc *prefixes; /* accumulators of the keys with 2+ members, key order */
    uint32_t acc_cap;
    uint32_t n_prefixes;

    struct scored *batch;            /* a scoring pass's vectors, batch_cap of them */
    struct baseline_entry *batch_be; /* their baseline entries as each was built */
    float *batch_x;                  /* their scaled vectors, rows of n_feat[side] floats */
    double *batch_score;             /* their forest scores */
    size_t batch_cap;                /* vectors, at most SCORE_BATCH */

    struct analyzer_stats st;
    pthread_mutex_t st_mu;

    analyzer_metrics_fn more_metrics; /* /metrics lines of the other threads, or NULL */
    void *more_metrics_ctx;
    struct event *hup;        /* SIGHUP, delivered through the loop (libevent's signal pipe) */
    struct rate_alerts *rate; /* flood episodes (rate_alert.c), after analyzer_start */
};

/* One vector on its way through scoring, judging and output. */
struct scored {
    int side;
    const struct host_window *h; /* host (or prefix accumulator) */
    struct ip_addr ip;
    uint8_t prefix_len;
    double raw[BEHAVIOUR_MAX_FEATURES];
    float x[BEHAVIOUR_MAX_FEATURES];
    double score;
    double threshold;
    bool over;
    bool alert;
    bool limit_hit;                        /* a learned limit was passed */
    bool denied;                           /* on the denylist */
    bool risk_hit;                         /* risk detector: SQLi, XSS, RCE in a URL */
    struct behaviour_rule_hit rule;        /* the scan rule judge found (rule NONE: none) */
    enum alert_detector detector;          /* why judge raised it (when alert) */
    double excess[BEHAVIOUR_MAX_FEATURES]; /* log-excess over the training maximum */
    struct baseline_entry *be;
};

/* score.c: one closed window, start to end. */
void analyzer_process_window(analyzer_t *a, struct window *w);

/* judge.c: the forest's score is in sc->score (for sc->x, scaled by the model): learned
 * limits, rules, persistence and the scored-vector output. */
void analyzer_judge(analyzer_t *a, const struct window *w, struct scored *sc);

/* judge.c: the learned limits of the bound sections into a->lim; after every bind. */
void analyzer_limits_bind(analyzer_t *a);

/* judge.c: true for an address that is never scored nor alerted on, because it names
 * no one host: 0.0.0.0/8 and :: (a host with no address yet, DHCP), 255.255.255.255 and
 * multicast (224.0.0.0/4, ff00::/8). Counts it in a's stats (analyzer_stats.unscorable);
 * a may be NULL (no count). */
bool analyzer_address_unscorable(analyzer_t *a, const struct ip_addr *ip);

/* explain.c: the alert for a vector judge said to raise; contrib is scratch of
 * BEHAVIOUR_MAX_FEATURES doubles. al->features borrows sc->raw. */
void analyzer_fill_alert(analyzer_t *a, const struct window *w, struct scored *sc, struct alert *al,
                         double *contrib);

/* analyzer.c: every alert's way out. Sets al->direction from the peers of w (when al's
 * direction is UNKNOWN and w is given: NULL for an alert raised between windows), files
 * it under its incident (incident_observe: event type, incident id, severity, sensor)
 * and gives it to the outputs when the tracker says so. now_us: packet time. Returns
 * true when it was output. */
bool analyzer_emit_alert(analyzer_t *a, const struct window *w, struct alert *al, uint64_t now_us);
/* The same for an alert raised between windows (the per-second rate detector): filed
 * under its incident (direction from the side's rule: no window's peers), then stored
 * and delivered at once (output_alert_now) when the tracker emits it. */
bool analyzer_emit_alert_now(analyzer_t *a, struct alert *al, uint64_t now_us);

/* score.c: the conversation detectors on one window's flow records (conv.c), alerts
 * through the outputs; returns the alerts raised. */
size_t analyzer_conv_pass(analyzer_t *a, const struct window *w, struct alert *al);

/* train.c */
/* Loads and binds a model file; on failure the old model (if any) stays. */
int analyzer_load_model(analyzer_t *a, const char *path, char *errbuf);
/* Offers a scaled vector to a side's training reservoir (keep_all: no sampling). */
void analyzer_train_offer(analyzer_t *a, int side, const float *x, const struct ip_addr *ip,
                          bool keep_all);
/* After a window: the warm-up's first fit, or a rolling retrain when one is due. */
void analyzer_train_after_window(analyzer_t *a, bool warmup, bool scoring);
/* The bound model as the outputs record it (path: where it is saved). */
void analyzer_model_info(const analyzer_t *a, const char *path, struct output_model *om);

/* rate_alert.c: flood events from the capture thread's per-second counters. */
int analyzer_rate_start(analyzer_t *a, char *errbuf); /* tables, metrics, first limits */
void analyzer_rate_destroy(analyzer_t *a);
/* Raises the flood events waiting whose second began before before_us (UINT64_MAX: all),
 * oldest first: on_wake passes the next queued window's end, so that a lagging analyzer
 * still closes window N before it files a flood of window N + 1 (a replay's incidents
 * then do not depend on thread timing). */
void analyzer_rate_drain(analyzer_t *a, uint64_t before_us);
/* Sends the capture thread the limits of the bound model and rules (after a bind/reload). */
void analyzer_rate_publish(analyzer_t *a);
/* A closed window's per-second maxima, kept for the model's rate section. */
void analyzer_rate_window(analyzer_t *a, const struct window *w);
/* The maxima seen so far as a model's rate section (present 0 when none). */
void analyzer_rate_learned(const analyzer_t *a, struct model_rate *mr);
/* The limits a model and rules give: floors, learned maxima x factor, host groups. */
void analyzer_rate_limits(const struct model *m, bool have_model, const rules_t *rules,
                          struct rate_config *c);

#endif
