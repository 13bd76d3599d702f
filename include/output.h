/*
 * output.h — where the analyzer's results go: one sink interface, and the set of sinks
 * a run writes to (output/output.c).
 *
 * A sink is a struct of optional callbacks and a self pointer. The analyzer talks to
 * the set only; the set calls each sink that has the callback, in registration order.
 * Durable sinks (SQLite) see a window's alerts as they are raised, inside the window;
 * every other sink sees them only after the durable sinks' window_end (the commit), so
 * a line in the alert log is always in the database too, whatever moment a crash
 * picks. The gap that leaves is the other way round (committed, not yet logged). One
 * exception, chosen: when the commit itself fails (disk full), the window is counted as
 * lost and its alerts are still written to the other sinks, so an operator still sees
 * them.
 *
 * Adding a sink: a new output/sink_NAME.c with a constructor that returns NULL when its
 * settings are absent, and one line in OUTPUT_SINKS below.
 *
 * An output_t and its sinks belong to the analyzer thread (output_create and
 * output_finish_run may run on the thread that owns the analyzer before start / after
 * join).
 */
#ifndef TAPIR_OUTPUT_H
#define TAPIR_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "alert.h"
#include "geo.h"
#include "store.h"
#include "tapir.h"
#include "window.h"

struct event_base;
struct evbuffer;

struct output_model;
struct rules;
struct blocklist_config;

/* The settings of every sink; a sink whose settings are absent is not created. */
struct output_config {
    const char *db_path;              /* SQLite file, or NULL for none */
    const char *alert_log_path;       /* JSON lines, or NULL */
    const char *cmdline;              /* for the runs table */
    const char *source;               /* interface or files, for the runs table */
    FILE *hosts_csv;                  /* every host's raw window counts, or NULL; borrowed */
    FILE *scores_csv;                 /* every scored vector's score, or NULL; borrowed */
    FILE *vectors_csv;                /* every source vector (unscaled), or NULL; borrowed */
    bool print_alerts;                /* one line per alert on stdout */
    const char *http_listen;          /* serve the API, /metrics and the dashboard, or NULL */
    const char *http_token;           /* bearer token (NULL: auth off, loopback only) */
    double http_rate;                 /* requests/s per client (0: default) */
    const struct rules *home_net;     /* --home-net (rules_netset); borrowed, never NULL in
                                         a run */
    const char *sensor_name;          /* --sensor or the host name; borrowed */
    const char *rules_dir;            /* --rules DIR: its static `suppress` file, or NULL */
    const struct output_model *model; /* the model the run starts with, or NULL; set by
                                         the analyzer; borrowed during output_create */

    /* Notifications (sink_notify.c, docs/notifications.md); NULL or 0: off / default. */
    const char *notify_webhook;        /* --notify-webhook URL */
    const char *notify_webhook_secret; /* --notify-webhook-secret-file: HMAC key file */
    const char *notify_email;          /* --notify-email ADDR[,ADDR] */
    const char *smtp_url;              /* --smtp-url smtp[s]://HOST[:PORT] */
    const char *smtp_from;             /* --smtp-from ADDR */
    const char *smtp_credentials;      /* --smtp-credentials-file: "user:password" file */
    const char *smtp_ca;               /* --smtp-ca FILE: PEM CA certificates, TLS required */
    uint32_t notify_digest;            /* mails a minute before a digest (0: 10) */
    const char *notify_exec;           /* --notify-exec PROGRAM (absolute path) */
    uint32_t notify_exec_timeout_s;    /* seconds before the hook is killed (0: 10) */
    bool syslog;                       /* --syslog */
    const char *syslog_facility;       /* daemon, user, local0..local7 (NULL: daemon) */
    bool notify_end;                   /* also when an incident ends */
    bool notify_replay;                /* send during a replay (-r) too */
    uint32_t notify_queue;             /* notifications queued per transport (0: 1024) */
    uint32_t notify_attempts;          /* sends per notification (0: 3) */
    bool replay;                       /* the input is capture files (set by cmd_run.c) */
    /* --blocklist and its options (output/blocklist.h), or NULL; borrowed */
    const struct blocklist_config *blocklist;
};

/* One window as the sinks see it. */
struct output_window {
    const struct window *w; /* borrowed: the closed window being analysed */
    bool scoring;           /* its vectors are scored (a model, not train-only) */
    uint64_t retention_us;  /* delete stored results older than this (packet time), 0 keeps */
    bool alerting;          /* alerts may come (not train-only): the conversation
                               detectors raise them during a warm-up too */
};

/* One scored vector (any side), before its alert. */
struct output_score {
    struct ip_addr ip;
    uint8_t prefix_len; /* 128 for an IP, else the prefix's length in the 128-bit form */
    const char *side;   /* "source", "destination", "prefix" */
    double score;       /* after learned limits */
    double threshold;   /* after per-subnet rules */
    bool over;          /* score >= threshold */
    bool alert;         /* raised an alert (rules and persistence applied) */
};

/* A model the analyzer scores with from now on (loaded, warm-up, retrained). */
struct output_model {
    const char *id;
    uint64_t created_us; /* wall clock */
    const char *path;    /* where it is saved, "" if nowhere */
    const char *trained_on;
    int n_features;   /* of the source side */
    double threshold; /* of the source side */
};

/* The run's totals, once at the end. */
struct output_run_totals {
    uint64_t packets, bytes; /* read or captured */
    uint64_t windows;        /* analysed */
    uint64_t alerts;         /* raised */
    int exit_status;         /* the process's */
};

/* What went wrong in one window's outputs. */
struct output_errors {
    uint64_t windows_lost; /* a durable sink did not keep the window (0 or 1) */
    uint64_t alerts_lost;  /* alert deliveries that failed (alert-log lines) */
};

/* A sink. Every callback is optional; self is the sink's own state. */
struct output_sink {
    const char *name; /* "store", "alert-log", ... (for messages) */
    void *self;
    bool durable;   /* sees alerts inside the window; window_end commits */
    store_t *store; /* the SQLite store a durable sink keeps, lent to sinks that query
                       it (the HTTP API), or NULL */
    /* On the analyzer's loop before the first window (listening sockets); errbuf. */
    int (*start)(void *self, struct event_base *base, char *errbuf);
    void (*window_begin)(void *self, const struct output_window *ow);
    /* A source host that was vectorised in a scoring window (score < 0: not scored). */
    void (*host)(void *self, const struct output_window *ow, const struct ip_addr *ip,
                 const struct geo_info *geo, double score);
    /* A source vector as built (unscaled), scored or not. */
    void (*source_vector)(void *self, const struct window *w, const struct ip_addr *ip,
                          const double *raw, int n);
    void (*scored)(void *self, const struct window *w, const struct output_score *s);
    /* An alert. A durable sink may set al->id. Returns 0, or -1 when it was not
     * delivered (counted in output_errors.alerts_lost). */
    int (*alert)(void *self, struct alert *al);
    /* After the window's alerts. A durable sink commits here; -1: window not kept. */
    int (*window_end)(void *self, const struct output_window *ow);
    void (*model)(void *self, const struct output_model *m);
    void (*reopen)(void *self); /* SIGHUP: reopen files logrotate moved */
    /* Its own /metrics lines (with # HELP and # TYPE), after the metric sources'. */
    void (*metrics)(void *self, struct evbuffer *out);
    void (*finish_run)(void *self, const struct output_run_totals *t);
    void (*destroy)(void *self);
};

typedef struct output output_t;

/* A sink constructor: fills *k (zeroed by the set, which keeps it) and returns 1; 0 when
 * its settings are absent; -1 with errbuf (a sentence) when they are wrong. o is the set
 * being built (output_store() lends the store to a sink created after it). */
typedef int (*output_sink_create_fn)(const struct output_config *c, output_t *o,
                                     struct output_sink *k, char *errbuf);

/* Creates every sink whose settings are given (opens the store, the alert log, ...).
 * NULL and errbuf (a sentence) on the first failure. */
output_t *output_create(const struct output_config *c, char *errbuf);
void output_destroy(output_t *o); /* sinks in reverse order; NULL is a no-op */
/* Starts the sinks that live on the analyzer's loop (borrows base). */
int output_start(output_t *o, struct event_base *base, char *errbuf);
/* The store of the first durable sink that keeps one, or NULL. */
store_t *output_store(const output_t *o);

/* Suppressions (docs/rules.md): whether the address or prefix ip/prefix_len (128-bit
 * form) overlaps a network suppressed at now_us (wall clock), by the store's suppressions
 * table (polled once a second on the analyzer's loop) or by the rules directory's static
 * `suppress` file (read at start and on SIGHUP). A suppressed alert is stored with status
 * 'suppressed' and never reaches a non-durable sink (alert log, notifications, live
 * blocklist); a sink that keeps state of its own (bans) asks this to lift it. Analyzer
 * thread only. */
bool output_suppressed(const output_t *o, const struct ip_addr *ip, uint8_t prefix_len,
                       uint64_t now_us);
/* The wall clock of the last poll (what output_alert passes as now_us). */
uint64_t output_suppress_now(const output_t *o);
/* Changes whenever the suppressions are read again (the table changed) or the static file
 * is reloaded: a sink lifting bans on suppression need look again only then (an expiry
 * only lifts a suppression, it never suppresses anything new). */
uint64_t output_suppress_generation(const output_t *o);

/* Per window, in this order: window_begin; host / source_vector / scored / alert as
 * the vectors go; window_end (which delivers the non-durable sinks' alerts). */
void output_window_begin(output_t *o, const struct output_window *ow);
bool output_wants_hosts(const output_t *o); /* some sink takes output_host */
void output_host(output_t *o, const struct output_window *ow, const struct ip_addr *ip,
                 const struct geo_info *geo, double score);
void output_source_vector(output_t *o, const struct window *w, const struct ip_addr *ip,
                          const double *raw, int n);
void output_scored(output_t *o, const struct window *w, const struct output_score *s);
/* Durable sinks now; a copy (with al->features) is kept for the others. */
void output_alert(output_t *o, struct alert *al);
void output_window_end(output_t *o, const struct output_window *ow, struct output_errors *err);
/* An alert that cannot wait for its window's end (the rate detector's floods), between
 * windows only: the durable sinks write and commit it in a transaction of its own (window
 * = al's window_start_us .. window_end_us), then every other sink gets it at once, so the
 * commit-before-log order still holds. Returns the deliveries that failed. */
uint64_t output_alert_now(output_t *o, struct alert *al);

void output_model(output_t *o, const struct output_model *m);
void output_reopen(output_t *o);
void output_finish_run(output_t *o, const struct output_run_totals *t);

/* /metrics: sources of lines (other threads' counters, the analyzer's), written in the
 * order added, then each sink's own. */
typedef void (*output_metrics_fn)(void *ctx, struct evbuffer *out);
int output_add_metrics(output_t *o, output_metrics_fn fn, void *ctx);
void output_write_metrics(void *o, struct evbuffer *out); /* an http_metrics_fn */
/* A sink's own state for its constructor: zeroed memory of size bytes (freed by the
 * sink's destroy), or NULL with errbuf saying so. */
void *output_sink_state(size_t size, char *errbuf);

/* A list of metrics written in order (each as output_metric does). */
struct output_series {
    const char *name, *type, *help; /* "tapir_..._total", "counter" or "gauge", a sentence */
    uint64_t value;
};
void output_series_write(struct evbuffer *out, const struct output_series *s, size_t n);

/* One Prometheus metric with its # HELP and # TYPE lines (output/metrics.c). */
void output_metric(struct evbuffer *out, const char *name, const char *type, const char *help,
                   uint64_t v);
/* The process_* series of the Prometheus client libraries: CPU seconds, resident and
 * virtual memory, open and maximum descriptors, start time (output/metrics.c). */
void output_process_metrics(struct evbuffer *out);

/* Every sink, in the order they are called: one line each. A new sink is a new
 * output/sink_NAME.c defining output_NAME_sink (an output_sink_create_fn) and one line
 * here; output.c builds its constructor table from this list. */
#define OUTPUT_SINKS(X)                                                                            \
    X(output_store_sink)     /* SQLite (sink_store.c): durable, first */                           \
    X(output_alert_log_sink) /* JSON lines (sink_alert_log.c), after the commit */                 \
    X(output_csv_sink)       /* --hosts-csv, --scores-csv, --vectors-csv (sink_csv.c) */           \
    X(output_print_sink)     /* ALERT lines on stdout (sink_print.c) */                            \
    X(output_http_sink)      /* API, /metrics, dashboard (sink_http.c); lent the store */          \
    X(output_notify_sink)    /* webhook, email, command, syslog (sink_notify.c) */                 \
    X(output_blocklist_sink) /* --blocklist: the live blocklist (sink_blocklist.c) */

#define OUTPUT_SINK_DECLARE(fn)                                                                    \
    int fn(const struct output_config *c, output_t *o, struct output_sink *k, char *errbuf);
OUTPUT_SINKS(OUTPUT_SINK_DECLARE)

#endif
