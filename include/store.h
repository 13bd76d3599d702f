/*
 * store.h — the SQLite store: runs, hosts, flagged windows, alerts and models.
 * Schema, units and example queries: docs/schema.md.
 *
 * A store_t is one SQLite connection; it belongs to one thread (the analyzer thread, or
 * a CLI / HTTP handler that opened its own). Every function returns 0 on success and a
 * negative value on failure (STORE_ENOTFOUND when an id or IP is not stored), and keeps
 * the failure as a sentence in store_errmsg().
 *
 * Writes from the analyzer are grouped one transaction per window:
 *     store_window_begin(); store_host_seen()...; store_window_add()...;
 *     store_alert_add()...; store_window_commit();
 * If any write inside fails, the rest of the window is refused and the commit rolls
 * the whole window back: either all of a window is stored or none of it.
 */
#ifndef TAPIR_STORE_H
#define TAPIR_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "geo.h"
#include "tapir.h"

typedef struct store store_t;

#define STORE_SCHEMA_VERSION  3
#define STORE_BUSY_TIMEOUT_MS 5000 /* how long to wait for another writer's lock */
#define STORE_DEFAULT_PATH    "/var/lib/tapir/tapir.db"
#define STORE_ENOTFOUND       (-2) /* no row with that id / ip */

/* Opens path read-write, creating the file and the schema (or migrating an older one).
 * Refuses, filling errbuf: a file that is not SQLite or is corrupt ("X: not a database
 * (file is not a database)"), another application's database, a schema newer than this
 * build, a database another writer keeps locked for longer than STORE_BUSY_TIMEOUT_MS,
 * a file it cannot write. */
store_t *store_open(const char *path, char *errbuf);
/* The same with another lock wait (milliseconds). */
store_t *store_open_timeout(const char *path, int busy_timeout_ms, char *errbuf);
/* Opens an existing store for queries only; write functions then fail. */
store_t *store_open_readonly(const char *path, char *errbuf);
/* Rolls back an open window transaction, frees the handle. NULL is a no-op. */
void store_close(store_t *s);
const char *store_errmsg(const store_t *s);
const char *store_path(const store_t *s);

/* Runs: one row per `tapir run` process. run_id 0 elsewhere means "no run". */
int store_run_begin(store_t *s, const char *cmdline, const char *source, uint64_t started_us,
                    int64_t *run_id);
int store_run_end(store_t *s, int64_t run_id, uint64_t ended_us, uint64_t packets, uint64_t bytes,
                  uint64_t windows, uint64_t alerts, int exit_status);

/* One window's writes (see above). */
int store_window_begin(store_t *s);
/* Upserts the host: first/last seen, geo (unknown fields keep what was stored), score
 * (score < 0: not scored in this window), windows_seen + 1. */
int store_host_seen(store_t *s, const struct ip_addr *ip, uint64_t window_start_us,
                    uint64_t window_end_us, const struct geo_info *geo, double score);
/* Stores a flagged window with its full vector (a->features, a->feature_names,
 * a->n_features; borrowed). An "end" event (an incident closing) is no flagged window:
 * nothing is stored. */
int store_window_add(store_t *s, int64_t run_id, const struct alert *a);
/* Stores the alert (status 'new'), sets a->id, and counts it on its host (not for a
 * prefix); then writes its incident's row as a->incident says (when a->incident_id is
 * set). An "end" event writes the incident's row only (no alert row, a->id unchanged). */
int store_alert_add(store_t *s, int64_t run_id, struct alert *a);
/* COMMIT; if a write failed inside the window or COMMIT fails (disk full, I/O error),
 * rolls back and returns -1: what was stored before stays intact. */
int store_window_commit(store_t *s);
/* Abandons the window's writes. */
int store_window_rollback(store_t *s);

/* The largest incident id stored (0 when none), so that a new run's ids go on from it. */
int store_incident_max_id(store_t *s, int64_t *max_id);

/* Records a model (replacing a row with the same id). */
int store_model_add(store_t *s, const char *id, uint64_t created_us, const char *path,
                    const char *trained_on, int n_features, double threshold);
/* Deletes windows and alerts that ended before older_than_us, and incidents that ended
 * before it. */
int store_retention(store_t *s, uint64_t older_than_us);

/* Queries. JSON results are new jansson references the caller json_decref()s; they
 * are what the HTTP API returns. An alert object has the alert log's fields
 * (alert_log.h) plus "status", "acked_at" and "run_id". */
struct store_alert_filter {
    uint64_t since_us;    /* alerts raised at or after; 0: any time */
    const char *ip;       /* "192.0.2.7": that IP's alerts; "198.51.100.0/24": the alerts
                             of that prefix and of every IP or prefix inside it; NULL: any */
    double min_score;     /* score at or above; 0: any */
    const char *status;   /* "new", "acked", "suppressed"; NULL: any */
    const char *category; /* alert_category_name() text; NULL: any */
    const char *detector; /* alert_detector_name() text; NULL: any */
    int64_t limit;        /* rows at most; <= 0: no limit */
    int64_t offset;       /* rows skipped (newest first) */
};
/* Alerts, newest first, as a JSON array. */
int store_alerts_list(store_t *s, const struct store_alert_filter *f, json_t **out);
/* How many alerts match the filter (limit and offset ignored). */
int store_alerts_count(store_t *s, const struct store_alert_filter *f, int64_t *count);
/* One alert as a JSON object, or STORE_ENOTFOUND. */
int store_alert_get(store_t *s, int64_t id, json_t **out);
/* Sets status 'acked' and acked_at; STORE_ENOTFOUND for an unknown id. */
int store_alert_ack(store_t *s, int64_t id, uint64_t now_us);
/* Sets a status ("new", "acked", "suppressed"). */
int store_alert_set_status(store_t *s, int64_t id, const char *status);
int store_alert_delete(store_t *s, int64_t id);
/* One host as a JSON object with its recent_alerts (at most n_recent, newest first). */
int store_host_get(store_t *s, const char *ip, int n_recent, json_t **out);
/* Hosts ordered by max_score (highest first), as a JSON array. */
int store_hosts_list(store_t *s, int64_t limit, int64_t offset, json_t **out);
/* The same, only hosts with at least one alert (the dashboard's "top flagged hosts"). */
int store_hosts_flagged(store_t *s, int64_t limit, int64_t offset, json_t **out);

/* Incidents, newest first (by start), as a JSON array of incident objects (docs/schema.md,
 * docs/http.md): since_us matches incidents last seen at or after it; ip, category as for
 * alerts; status "new", "acked", "suppressed" are ignored here. An older file opened
 * read-only has none (an empty array). */
int store_incidents_list(store_t *s, const struct store_alert_filter *f, json_t **out);
/* One incident as a JSON object with its stored alerts ("alerts", oldest first, at most
 * max_alerts, <= 0: all), or STORE_ENOTFOUND. */
int store_incident_get(store_t *s, int64_t id, int64_t max_alerts, json_t **out);

/* For the blocklist: calls fn once per distinct alerted ip text (bare IP or CIDR) over
 * the source- and prefix-side alerts (an attacker's; never a victim's) with score >= min_score
 * raised at or after since_us and not 'suppressed', with the time of its latest such alert and its
 * highest score. fn returning non-zero stops the walk and is returned. */
typedef int (*store_flagged_fn)(void *ctx, const char *ip, uint64_t last_alert_us,
                                double max_score);
int store_each_flagged(store_t *s, double min_score, uint64_t since_us, store_flagged_fn fn,
                       void *ctx);

/* Suppressions (docs/schema.md, table suppressions): a network whose alerts are stored
 * with status 'suppressed' and reach no other output (alert log, notifications,
 * blocklist) until the suppression expires. output.c polls them once a second. */
#define STORE_MAX_REASON 512 /* bytes of a suppression's reason */
/* Adds a suppression of cidr ("192.0.2.7", "198.51.100.0/24") from now_us (wall clock) to
 * expires_us (0: forever), and marks the stored alerts inside the network 'suppressed' so
 * that `tapir blocklist` drops them at once (*marked: how many; may be NULL). Sets *id. */
int store_suppress_add(store_t *s, const char *cidr, const char *reason, uint64_t now_us,
                       uint64_t expires_us, const char *created_by, int64_t *id, int64_t *marked);
/* Ends a suppression now (its expiry set to now_us; the row stays as history).
 * STORE_ENOTFOUND for an unknown id or one already over. */
int store_suppression_end(store_t *s, int64_t id, uint64_t now_us);
/* Suppressions as a JSON array (newest first): id, network, reason, created, expires
 * (null: forever), created_by, active. expired_too: also those that expired before
 * now_us. An older file without the table gives an empty array. */
int store_suppressions_list(store_t *s, bool expired_too, uint64_t now_us, json_t **out);
/* Calls fn once per suppression in force at now_us (network in the 128-bit form, expiry
 * 0 for forever). fn returning non-zero stops the walk and is returned. */
typedef int (*store_suppression_fn)(void *ctx, const struct ip_addr *net, unsigned prefix_len,
                                    uint64_t expires_us);
int store_each_suppression(store_t *s, uint64_t now_us, store_suppression_fn fn, void *ctx);
/* A number that changes whenever the file may have changed: a commit by another
 * connection (PRAGMA data_version) or a row written by this one. The poller re-reads the
 * suppressions only when it moved. 0, or -1. */
int store_change_stamp(store_t *s, uint64_t *stamp);
/* The address or prefix text of an incident's alerts into buf (64 bytes), for
 * `suppress --incident ID`: STORE_ENOTFOUND when no alert carries that incident_id, -1
 * (with the reason) when the file predates incidents. */
int store_incident_network(store_t *s, int64_t incident_id, char *buf, size_t len);
/* Parses a duration "90s", "15m", "8h", "7d", "2w" or bare seconds into microseconds
 * (at most 100 years). 0, or -1. */
int store_parse_duration(const char *text, uint64_t *us);

#endif
