/*
 * store_write.c — the store's writes: runs, the window transaction (hosts, flagged
 * windows, alerts), models, retention, and the status changes the CLI and the API ask
 * for (ack, set status, delete).
 *
 * One transaction per window: at a few hundred flagged rows per window, one fsync per
 * window instead of one per row keeps a 10-second window's writes to about a
 * millisecond. The analyzer's write statements are prepared once, at open, and kept for
 * the handle's life (SQLITE_PREPARE_PERSISTENT); the CLI's and the API's occasional
 * changes are prepared per call. Rejected: preparing every statement per call, which
 * parses the same SQL hundreds of times per window.
 *
 * Text that came from the wire or a geolocation database is made valid UTF-8 before it
 * is bound (json.h), so every row can be read back into JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "json.h"
#include "store.h"
#include "store_int.h"

/* Keeps max_score the highest non-NULL of the old and new value. */
#define SQL_MAX_SCORE                                                                              \
    "max_score = CASE WHEN excluded.max_score IS NULL THEN max_score"                              \
    " WHEN max_score IS NULL OR excluded.max_score > max_score THEN excluded.max_score"            \
    " ELSE max_score END"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HOST_SEEN] =
        "INSERT INTO hosts (ip, first_seen, first_seen_us, last_seen, last_seen_us, country,"
        " asn, as_org, last_score, max_score, windows_seen, alerts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1, 0)"
        " ON CONFLICT (ip) DO UPDATE SET"
        " first_seen = CASE WHEN excluded.first_seen_us < first_seen_us"
        "   THEN excluded.first_seen ELSE first_seen END,"
        " first_seen_us = min(first_seen_us, excluded.first_seen_us),"
        " last_seen = CASE WHEN excluded.last_seen_us > last_seen_us"
        "   THEN excluded.last_seen ELSE last_seen END,"
        " last_seen_us = max(last_seen_us, excluded.last_seen_us),"
        " country = coalesce(excluded.country, country),"
        " asn = coalesce(excluded.asn, asn),"
        " as_org = coalesce(excluded.as_org, as_org),"
        " last_score = coalesce(excluded.last_score, last_score), " SQL_MAX_SCORE ","
        " windows_seen = windows_seen + 1",
    [ST_HOST_ALERT] =
        "INSERT INTO hosts (ip, first_seen, first_seen_us, last_seen, last_seen_us, country,"
        " asn, as_org, last_score, max_score, windows_seen, alerts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0, 1)"
        " ON CONFLICT (ip) DO UPDATE SET alerts = alerts + 1,"
        " country = coalesce(excluded.country, country),"
        " asn = coalesce(excluded.asn, asn),"
        " as_org = coalesce(excluded.as_org, as_org), " SQL_MAX_SCORE,
    [ST_WINDOW] = "INSERT INTO windows (run_id, window_start, window_start_us, window_end,"
                  " window_end_us, ip, side, score, threshold, features)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_ALERT] = "INSERT INTO alerts (run_id, timestamp, ts_us, event_type, ip, prefix_len,"
                 " side, score, threshold, window_start, window_start_us, window_end,"
                 " window_end_us, top_features, country, asn, as_org, l7, model_id, detector,"
                 " category, incident_id, direction, severity, sensor)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                 " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    /* The incident as its latest event says; the first event's run keeps the row. */
    [ST_INCIDENT] =
        "INSERT INTO incidents (id, run_id, ip, prefix_len, side, category, direction, severity,"
        " sensor, started, started_us, last_seen, last_seen_us, ended, ended_us, windows, alerts,"
        " peak_score, detectors, top_features)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20)"
        " ON CONFLICT (id) DO UPDATE SET direction = excluded.direction,"
        " severity = excluded.severity, last_seen = excluded.last_seen,"
        " last_seen_us = excluded.last_seen_us, ended = excluded.ended,"
        " ended_us = excluded.ended_us, windows = excluded.windows, alerts = excluded.alerts,"
        " peak_score = excluded.peak_score, detectors = excluded.detectors,"
        " top_features = excluded.top_features",
    [ST_RUN_BEGIN] = "INSERT INTO runs (started, started_us, command_line, source)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [ST_RUN_END] = "UPDATE runs SET ended = ?2, ended_us = ?3, packets = ?4, bytes = ?5,"
                   " windows = ?6, alerts = ?7, exit_status = ?8 WHERE id = ?1",
    [ST_MODEL] = "INSERT OR REPLACE INTO models (id, created, created_us, path, trained_on,"
                 " features, threshold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

int store_write_prepare(store_t *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK)
            return -1;
    return 0;
}

/* Gets a prepared write statement ready, or fails if this handle may not write now. */
static sqlite3_stmt *write_stmt(store_t *s, int which)
{
    if (s->readonly) {
        store_set_err(s, "%s: opened read-only", s->path);
        return NULL;
    }
    if (s->in_tx && s->tx_failed)
        return NULL; /* keep the first error; the window will roll back */
    if (s->in_tx && sqlite3_get_autocommit(s->db)) {
        /* SQLite rolled the transaction back itself (disk full, I/O error): a write now
         * would autocommit half a window. */
        s->tx_failed = true;
        store_set_err(s, "%s: the window's transaction was rolled back after an error", s->path);
        return NULL;
    }
    sqlite3_stmt *st = s->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static int step_done(store_t *s, sqlite3_stmt *st, const char *doing)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_db_fail(s, doing);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static void bind_time(sqlite3_stmt *st, int iso_idx, int us_idx, uint64_t us)
{
    char iso[32];
    tapir_iso8601(us, iso, sizeof(iso));
    sqlite3_bind_text(st, iso_idx, iso, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, us_idx, (int64_t)us);
}

static void bind_real(sqlite3_stmt *st, int idx, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, idx, v);
    else
        sqlite3_bind_null(st, idx);
}

/* Text that may be hostile, made valid UTF-8, or NULL when empty. */
static void bind_text_clean(sqlite3_stmt *st, int idx, const char *v, size_t maxlen)
{
    if (!v || !v[0]) {
        sqlite3_bind_null(st, idx);
        return;
    }
    json_t *j = alert_json_string(v, maxlen);
    if (!j) {
        sqlite3_bind_null(st, idx);
        return;
    }
    sqlite3_bind_text(st, idx, json_string_value(j), (int)json_string_length(j), SQLITE_TRANSIENT);
    json_decref(j);
}

static void bind_run(sqlite3_stmt *st, int idx, int64_t run_id)
{
    if (run_id > 0)
        sqlite3_bind_int64(st, idx, run_id);
    else
        sqlite3_bind_null(st, idx);
}

static void bind_geo(sqlite3_stmt *st, int idx, const struct geo_info *geo)
{
    bind_text_clean(st, idx, geo ? geo->country : NULL, sizeof(geo->country));
    if (geo && geo->asn)
        sqlite3_bind_int64(st, idx + 1, geo->asn);
    else
        sqlite3_bind_null(st, idx + 1);
    bind_text_clean(st, idx + 2, geo ? geo->as_org : NULL, sizeof(geo->as_org));
}

int store_run_begin(store_t *s, const char *cmdline, const char *source, uint64_t started_us,
                    int64_t *run_id)
{
    sqlite3_stmt *st = write_stmt(s, ST_RUN_BEGIN);
    if (!st)
        return -1;
    bind_time(st, 1, 2, started_us);
    bind_text_clean(st, 3, cmdline ? cmdline : "", 4096);
    bind_text_clean(st, 4, source ? source : "", 4096);
    if (!cmdline || !cmdline[0])
        sqlite3_bind_text(st, 3, "", 0, SQLITE_STATIC);
    if (!source || !source[0])
        sqlite3_bind_text(st, 4, "", 0, SQLITE_STATIC);
    if (step_done(s, st, "recording the run") < 0)
        return -1;
    *run_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_run_end(store_t *s, int64_t run_id, uint64_t ended_us, uint64_t packets, uint64_t bytes,
                  uint64_t windows, uint64_t alerts, int exit_status)
{
    sqlite3_stmt *st = write_stmt(s, ST_RUN_END);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    bind_time(st, 2, 3, ended_us);
    sqlite3_bind_int64(st, 4, (int64_t)packets);
    sqlite3_bind_int64(st, 5, (int64_t)bytes);
    sqlite3_bind_int64(st, 6, (int64_t)windows);
    sqlite3_bind_int64(st, 7, (int64_t)alerts);
    sqlite3_bind_int(st, 8, exit_status);
    if (step_done(s, st, "recording the end of the run") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0) {
        store_set_err(s, "%s: no run with id %lld", s->path, (long long)run_id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

int store_window_begin(store_t *s)
{
    if (s->in_tx) {
        store_set_err(s, "%s: a window is already open", s->path);
        return -1;
    }
    sqlite3_stmt *st = write_stmt(s, ST_BEGIN);
    if (!st)
        return -1;
    if (step_done(s, st, "starting the window's transaction") < 0)
        return -1;
    s->in_tx = true;
    s->tx_failed = false;
    return 0;
}

int store_window_rollback(store_t *s)
{
    if (!s->in_tx)
        return 0;
    s->in_tx = false;
    s->tx_failed = false;
    if (sqlite3_get_autocommit(s->db))
        return 0; /* SQLite already rolled it back */
    sqlite3_stmt *st = s->st[ST_ROLLBACK];
    sqlite3_reset(st);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        /* The statement may fail while reads are pending; the plain call does not. */
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_reset(st);
    return 0;
}

int store_window_commit(store_t *s)
{
    if (!s->in_tx) {
        store_set_err(s, "%s: no window is open", s->path);
        return -1;
    }
    if (s->tx_failed || sqlite3_get_autocommit(s->db)) {
        char why[sizeof(s->err)];
        snprintf(why, sizeof(why), "%s", store_errmsg(s));
        store_window_rollback(s);
        store_set_err(s, "window not stored: %s", why);
        return -1;
    }
    sqlite3_stmt *st = s->st[ST_COMMIT];
    sqlite3_reset(st);
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_db_fail(s, "committing the window");
        sqlite3_reset(st);
        char why[sizeof(s->err)];
        snprintf(why, sizeof(why), "%s", s->err);
        store_window_rollback(s);
        store_set_err(s, "window not stored: %s", why);
        return -1;
    }
    sqlite3_reset(st);
    s->in_tx = false;
    s->tx_failed = false;
    return 0;
}

int store_host_seen(store_t *s, const struct ip_addr *ip, uint64_t window_start_us,
                    uint64_t window_end_us, const struct geo_info *geo, double score)
{
    sqlite3_stmt *st = write_stmt(s, ST_HOST_SEEN);
    if (!st)
        return -1;
    char ipbuf[64];
    ip_addr_str(ip, ipbuf, sizeof(ipbuf));
    sqlite3_bind_text(st, 1, ipbuf, -1, SQLITE_TRANSIENT);
    bind_time(st, 2, 3, window_start_us);
    bind_time(st, 4, 5, window_end_us);
    bind_geo(st, 6, geo);
    if (score >= 0)
        bind_real(st, 9, score);
    else
        sqlite3_bind_null(st, 9);
    return step_done(s, st, "storing a host");
}

/* The window's vector as a JSON object {name: value}. */
static char *features_json(const struct alert *a)
{
    json_t *o = json_object();
    for (int i = 0; o && a->features && i < a->n_features; i++) {
        char fallback[24];
        const char *name = a->feature_names ? a->feature_names[i] : NULL;
        if (!name) {
            snprintf(fallback, sizeof(fallback), "feature_%d", i);
            name = fallback;
        }
        json_t *k = alert_json_string(name, 128);
        if (k)
            json_object_set_new(o, json_string_value(k), alert_json_real(a->features[i]));
        json_decref(k);
    }
    char *txt = o ? json_dumps(o, ALERT_JSON_FLAGS) : NULL;
    json_decref(o);
    return txt;
}

/* Out of memory while writing: the error, and a transaction that must not commit. -1. */
static int out_of_memory(store_t *s)
{
    store_set_err(s, "%s: out of memory", s->path);
    if (s->in_tx)
        s->tx_failed = true;
    return -1;
}

/* Binds a's top features, as the JSON text the alerts and incidents tables hold, to
 * column idx; 0, or -1 having said out of memory. */
static int bind_top_features(store_t *s, sqlite3_stmt *st, int idx, const struct alert *a)
{
    json_t *top = alert_top_features_json(a);
    char *txt = top ? json_dumps(top, ALERT_JSON_FLAGS) : NULL;
    json_decref(top);
    if (!txt)
        return out_of_memory(s);
    sqlite3_bind_text(st, idx, txt, -1, free);
    return 0;
}

static bool is_end(const struct alert *a)
{
    return a->event_type && !strcmp(a->event_type, "end");
}

int store_window_add(store_t *s, int64_t run_id, const struct alert *a)
{
    if (is_end(a))
        return 0;
    sqlite3_stmt *st = write_stmt(s, ST_WINDOW);
    if (!st)
        return -1;
    char *feat = features_json(a);
    if (!feat)
        return out_of_memory(s);
    char ip[64];
    bind_run(st, 1, run_id);
    bind_time(st, 2, 3, a->window_start_us);
    bind_time(st, 4, 5, a->window_end_us);
    sqlite3_bind_text(st, 6, alert_ip_str(a, ip, sizeof(ip)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, alert_side_name(a->side), -1, SQLITE_STATIC);
    bind_real(st, 8, a->score);
    bind_real(st, 9, a->threshold);
    sqlite3_bind_text(st, 10, feat, -1, free);
    return step_done(s, st, "storing a window");
}

/* The incident row for the event a (a->incident). */
static int incident_put(store_t *s, int64_t run_id, const struct alert *a, const char *ip,
                        unsigned fam_len)
{
    const struct alert_incident *in = &a->incident;
    if (!a->incident_id)
        return 0;
    sqlite3_stmt *st = write_stmt(s, ST_INCIDENT);
    if (!st)
        return -1;
    char det[128];
    sqlite3_bind_int64(st, 1, a->incident_id);
    bind_run(st, 2, run_id);
    sqlite3_bind_text(st, 3, ip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, (int)fam_len);
    sqlite3_bind_text(st, 5, alert_side_name(a->side), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, alert_category_name(a->category), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, alert_direction_name(in->direction ? in->direction : a->direction), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 8, in->severity ? in->severity : a->severity ? a->severity : 3);
    bind_text_clean(st, 9, a->sensor, sizeof(a->sensor));
    bind_time(st, 10, 11, in->start_us);
    bind_time(st, 12, 13, in->last_us);
    if (in->end_us)
        bind_time(st, 14, 15, in->end_us);
    sqlite3_bind_int64(st, 16, in->windows);
    sqlite3_bind_int64(st, 17, in->alerts);
    bind_real(st, 18, in->peak_score);
    sqlite3_bind_text(st, 19, alert_detectors_str(in->detectors, det, sizeof(det)), -1,
                      SQLITE_TRANSIENT);
    if (bind_top_features(s, st, 20, a) < 0)
        return -1;
    return step_done(s, st, "storing an incident");
}

int store_alert_add(store_t *s, int64_t run_id, struct alert *a)
{
    unsigned plen = a->prefix_len ? a->prefix_len : 128;
    unsigned fam_len = ip_addr_is_v4(&a->ip) && plen >= 96 ? plen - 96 : plen;
    char ip[64];
    alert_ip_str(a, ip, sizeof(ip));
    if (is_end(a))
        return incident_put(s, run_id, a, ip, fam_len);
    sqlite3_stmt *st = write_stmt(s, ST_ALERT);
    if (!st)
        return -1;
    bind_run(st, 1, run_id);
    bind_time(st, 2, 3, a->timestamp_us);
    bind_text_clean(st, 4, a->event_type ? a->event_type : "alert", 32);
    sqlite3_bind_text(st, 5, ip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, (int)fam_len);
    sqlite3_bind_text(st, 7, alert_side_name(a->side), -1, SQLITE_STATIC);
    bind_real(st, 8, a->score);
    bind_real(st, 9, a->threshold);
    bind_time(st, 10, 11, a->window_start_us);
    bind_time(st, 12, 13, a->window_end_us);
    if (bind_top_features(s, st, 14, a) < 0)
        return -1;
    bind_geo(st, 15, &a->geo);
    bind_text_clean(st, 18, a->l7, sizeof(a->l7));
    bind_text_clean(st, 19, a->model_id, sizeof(a->model_id));
    sqlite3_bind_text(st, 20, alert_detector_name(a->detector), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 21, alert_category_name(a->category), -1, SQLITE_STATIC);
    if (a->incident_id)
        sqlite3_bind_int64(st, 22, a->incident_id);
    sqlite3_bind_text(st, 23, alert_direction_name(a->direction), -1, SQLITE_STATIC);
    if (a->severity)
        sqlite3_bind_int(st, 24, a->severity);
    bind_text_clean(st, 25, a->sensor, sizeof(a->sensor));
    if (step_done(s, st, "storing an alert") < 0)
        return -1;
    a->id = sqlite3_last_insert_rowid(s->db);
    if (incident_put(s, run_id, a, ip, fam_len) < 0)
        return -1;
    if (plen < 128)
        return 0; /* prefixes are not hosts */
    st = write_stmt(s, ST_HOST_ALERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT);
    bind_time(st, 2, 3, a->window_start_us);
    bind_time(st, 4, 5, a->window_end_us);
    bind_geo(st, 6, &a->geo);
    bind_real(st, 9, a->score);
    return step_done(s, st, "counting the alert on its host");
}

int store_model_add(store_t *s, const char *id, uint64_t created_us, const char *path,
                    const char *trained_on, int n_features, double threshold)
{
    sqlite3_stmt *st = write_stmt(s, ST_MODEL);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    bind_time(st, 2, 3, created_us);
    bind_text_clean(st, 4, path, 4096);
    bind_text_clean(st, 5, trained_on, 4096);
    sqlite3_bind_int(st, 6, n_features);
    bind_real(st, 7, threshold);
    return step_done(s, st, "storing a model");
}

int store_incident_max_id(store_t *s, int64_t *max_id)
{
    *max_id = 0;
    if (!store_has_incidents(s))
        return 0;
    return store_query_int(s, "SELECT coalesce(max(id), 0) FROM incidents", max_id);
}

/* A data-changing statement outside the window's statements: prepared on a writable
 * handle, or NULL having said why. */
static sqlite3_stmt *change_prepare(store_t *s, const char *sql, const char *doing)
{
    if (s->readonly) {
        store_set_err(s, "%s: opened read-only", s->path);
        return NULL;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_db_fail(s, doing);
        return NULL;
    }
    return st;
}

/* Runs and finalizes change_prepare's bound statement: the rows it changed, or -1. */
static int64_t change_run(store_t *s, sqlite3_stmt *st, const char *doing)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_db_fail(s, doing);
    return sqlite3_changes64(s->db);
}

/* Runs one data-changing statement with up to two int64 parameters. Returns the number of
 * rows changed, or -1. */
static int64_t exec_change(store_t *s, const char *sql, int nparams, int64_t p1, int64_t p2,
                           const char *doing)
{
    sqlite3_stmt *st = change_prepare(s, sql, doing);
    if (!st)
        return -1;
    if (nparams >= 1)
        sqlite3_bind_int64(st, 1, p1);
    if (nparams >= 2)
        sqlite3_bind_int64(st, 2, p2);
    return change_run(s, st, doing);
}

/* The result of a change to the NOUN with this id: n rows changed, or -1. */
static int one_row_changed(store_t *s, int64_t n, const char *noun, int64_t id)
{
    if (n < 0)
        return -1;
    if (n == 0) {
        store_set_err(s, "no %s with id %lld", noun, (long long)id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

int store_retention(store_t *s, uint64_t older_than_us)
{
    if (s->in_tx) {
        store_set_err(s, "%s: retention inside an open window", s->path);
        return -1;
    }
    if (store_exec_sql(s, "BEGIN IMMEDIATE", "starting retention") < 0)
        return -1;
    if (exec_change(s, "DELETE FROM windows WHERE window_end_us < ?1", 1, (int64_t)older_than_us, 0,
                    "deleting old windows") < 0 ||
        exec_change(s, "DELETE FROM alerts WHERE window_end_us < ?1", 1, (int64_t)older_than_us, 0,
                    "deleting old alerts") < 0 ||
        exec_change(s, "DELETE FROM incidents WHERE ended_us < ?1", 1, (int64_t)older_than_us, 0,
                    "deleting old incidents") < 0 ||
        store_exec_sql(s, "COMMIT", "committing retention") < 0) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int store_stamp_row(store_t *s, const char *sql, int64_t id, uint64_t now_us, const char *noun,
                    const char *doing)
{
    char iso[32];
    sqlite3_stmt *st = change_prepare(s, sql, doing);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, tapir_iso8601(now_us, iso, sizeof(iso)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (int64_t)now_us);
    return one_row_changed(s, change_run(s, st, doing), noun, id);
}

int store_alert_ack(store_t *s, int64_t id, uint64_t now_us)
{
    return store_stamp_row(s,
                           "UPDATE alerts SET status = 'acked', acked_at = ?2, acked_at_us = ?3"
                           " WHERE id = ?1",
                           id, now_us, "alert", "acknowledging an alert");
}

int store_alert_set_status(store_t *s, int64_t id, const char *status)
{
    int64_t code = !strcmp(status, "new")          ? 0
                   : !strcmp(status, "acked")      ? 1
                   : !strcmp(status, "suppressed") ? 2
                                                   : -1;
    if (code < 0) {
        store_set_err(s, "bad status '%s' (new, acked or suppressed)", status);
        return -1;
    }
    int64_t n = exec_change(s,
                            "UPDATE alerts SET status = CASE ?2 WHEN 0 THEN 'new'"
                            " WHEN 1 THEN 'acked' ELSE 'suppressed' END WHERE id = ?1",
                            2, id, code, "changing an alert's status");
    return one_row_changed(s, n, "alert", id);
}

int store_alert_delete(store_t *s, int64_t id)
{
    int64_t n = exec_change(s, "DELETE FROM alerts WHERE id = ?1", 1, id, 0, "deleting an alert");
    return one_row_changed(s, n, "alert", id);
}
