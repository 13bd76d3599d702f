/*
 * analyzer.h — the analyzer thread: closed windows in; behaviour vectors, scores and
 * alerts out, through the outputs (output.h: SQLite, alert log, ...). It owns the
 * libevent base, the model and the output set; nothing of it is touched by the capture thread
 * except through the window queue.
 */
#ifndef TAPIR_ANALYZER_H
#define TAPIR_ANALYZER_H

#include "behaviour.h"
#include "output.h"
#include "wqueue.h"

struct analyzer_config {
    const char *model_path;        /* trained model, or NULL: warm up on the first windows */
    const char *model_out;         /* where a warm-up / retrained model is saved, or NULL */
    const char *allowlist_path;    /* CIDRs never flagged, or NULL */
    const char *rules_dir;         /* allowlist, denylist and thresholds files, or NULL */
    uint32_t warmup_windows;       /* windows to train on without --model (default 10) */
    uint32_t retrain_every;        /* retrain every R windows on recent unflagged vectors, 0 off */
    double contamination;          /* training-score quantile for the threshold */
    double fixed_threshold;        /* > 0: use this score instead */
    uint32_t min_pkts;             /* minimum activity to be scored */
    uint32_t persist_k, persist_n; /* flag after k of the last n windows over threshold */
    uint32_t prefix4, prefix6;     /* prefix lengths for the prefix side (24, 64) */
    uint32_t trees, samples;       /* forest size for warm-up / retrain */
    int scaling; /* -1: each feature's own (behaviour.c); else one enum model_scaling for all */
    uint64_t seed;
    const char *source;           /* interface or files: a trained model's trained_on */
    const char *const *geo_paths; /* to geolocate alerted IPs (own cache) */
    int n_geo;
    uint64_t retention_us; /* delete stored windows/alerts older than this (packet
                              time), 0 keeps everything */
    uint64_t heartbeat_us; /* > 0: the loop marks itself alive this often (watchdog) */
    /* SIGHUP: re-read the config file onto *fresh (a copy of the running settings);
     * 0 or -1 with errbuf. NULL: no config file to re-read. */
    int (*reload_config)(void *ctx, struct analyzer_config *fresh, char *errbuf);
    void *reload_ctx;
    bool train_only; /* collect vectors for `tapir train`, no scoring */
    /* Conversations across windows (analyzer/conv.c, docs/conversations.md). */
    bool conversations;           /* beacon, brute-force and exfiltration detectors (default on) */
    uint32_t max_conversations;   /* table entries, fixed memory (default 65,536) */
    double conversation_ttl_h;    /* an idle conversation is forgotten after this, hours (2) */
    const struct rules *home_net; /* --home-net (rules_netset): alert direction; borrowed */
    const char *sensor_name;      /* --sensor or the host name, for alerts; borrowed */
    uint32_t incident_quiet;      /* an incident ends after this many windows without an
                                     alert of it (--incident-quiet, default 2) */
    uint32_t max_incidents;       /* open incidents held (--max-incidents, default 4096,
                                     rounded up to a power of two; ~0.9 KiB each) */
};

void analyzer_config_defaults(struct analyzer_config *c);

typedef struct analyzer analyzer_t;

/* Opens the model, rules and the outputs oc names (store, alert log, ...: output.h);
 * all errors are reported here, before capture starts. Borrows q; copies c and oc (their
 * strings and FILE *s are borrowed). */
analyzer_t *analyzer_create(const struct analyzer_config *c, const struct output_config *oc,
                            wqueue_t *q, char *errbuf);
/* Names of nDPI protocol ids for alerts ("TLS"), or NULL for unknown; called on the
 * analyzer thread, so it must only read what does not change after start. Before start. */
typedef const char *(*analyzer_l7_name_fn)(void *ctx, uint16_t id);
void analyzer_set_l7_names(analyzer_t *a, analyzer_l7_name_fn fn, void *ctx);
/* Names and severities of nDPI risk ids (the bits of struct host_risk's seen) for alerts:
 * ("SQL Injection", "Severe"), or NULL for none; same rules as the L7 names. */
typedef const char *(*analyzer_risk_name_fn)(void *ctx, unsigned id, const char **severity);
void analyzer_set_risk_names(analyzer_t *a, analyzer_risk_name_fn fn, void *ctx);
/* More /metrics lines (the other threads' counters), written on the analyzer thread at
 * every scrape before its own. Before start. */
struct evbuffer;
typedef void (*analyzer_metrics_fn)(void *ctx, struct evbuffer *out);
void analyzer_set_metrics(analyzer_t *a, analyzer_metrics_fn fn, void *ctx);

/* Starts the thread and the outputs that live on its loop (the HTTP server; its errors
 * land in errbuf). */
int analyzer_start(analyzer_t *a, char *errbuf);
/* Waits until the queue is closed and drained, then stops the thread. */
void analyzer_join(analyzer_t *a);
void analyzer_destroy(analyzer_t *a);

struct analyzer_stats {
    uint64_t windows;      /* windows analysed */
    uint64_t vectors;      /* vectors built (all sides) */
    uint64_t scored;       /* vectors scored */
    uint64_t below_min;    /* hosts summarised but not scored (low activity) */
    uint64_t alerts;       /* alerts raised */
    uint64_t suppressed;   /* over threshold but allowlisted or not persistent yet */
    uint64_t store_errors; /* failed store transactions */
    uint64_t log_errors;   /* failed alert-log writes */
    uint64_t trainings;    /* models fitted (warm-up, retrain) */
    uint64_t ips_scored;   /* distinct source IPs scored at least once */
    uint64_t unscorable;   /* vectors not built: 0.0.0.0, ::, broadcast or multicast IP */
    uint64_t conv_active;  /* conversations in the table */
    uint64_t conv_evicted; /* conversations evicted early: table full */
    uint64_t conv_expired; /* conversations forgotten after --conversation-ttl idle */
    uint64_t conv_alerts;  /* alerts raised by the conversation detectors */
    /* incidents (analyzer/incident.c) */
    uint64_t incidents_opened;  /* incidents opened (event "alert") */
    uint64_t incidents_ended;   /* incidents closed (event "end") */
    uint64_t incidents_evicted; /* of those, closed early: incident table full */
    uint64_t incidents_active;  /* open now */
    uint64_t alerts_merged;     /* alerts filed under an incident without an event */
};
void analyzer_get_stats(analyzer_t *a, struct analyzer_stats *st);
/* When the analyzer's loop last ran (notify_monotonic_us), for the service watchdog: a
 * timer every heartbeat_us and every window mark it. Any thread. */
uint64_t analyzer_heartbeat(analyzer_t *a);

/* After join: gives the run's totals to the outputs (the runs table). */
void analyzer_finish_run(analyzer_t *a, uint64_t packets, uint64_t bytes, int exit_status);

/* For `tapir train`: after join, fits and saves a model from every collected vector. */
int analyzer_train_save(analyzer_t *a, const char *path, char *errbuf);

#endif
