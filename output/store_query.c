/*
 * store_query.c — the store's queries for the CLI (tapir alerts / hosts), the HTTP API
 * and the blocklist: alerts by filter, one alert, hosts, one host with its recent
 * alerts, and the flagged addresses.
 *
 * Statements are prepared per call: their WHERE clause depends on the filter and they
 * run at human speed. The filter's optional clauses are appended as text, but every
 * value is bound as a named parameter, never formatted into the SQL. Rows come back as
 * the alert log's JSON objects (json.h), so `tapir alerts --json`, the API and the log
 * agree field for field. Rejected: one fixed statement with "(:ip IS NULL OR ip = :ip)"
 * for each optional clause, an OR the planner cannot match to the (ip, ts_us) index.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "json.h"
#include "rules.h"
#include "store.h"
#include "store_int.h"

#define ALERT_COLS                                                                                 \
    "id, run_id, timestamp, event_type, ip, side, score, threshold, window_start,"                 \
    " window_end, top_features, country, asn, as_org, l7, model_id, status, acked_at, category,"   \
    " detector, incident_id, direction, severity, sensor"

static json_t *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return json_null();
    return alert_json_string((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

static json_t *col_real(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return alert_json_real(sqlite3_column_double(st, i));
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, i));
}

/* A measured value at the precision it means (json.h), as the alert log prints it. */
static json_t *col_value(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return alert_json_value(sqlite3_column_double(st, i));
}

/* A column holding a JSON array (top_features) as that array; [] for NULL or text that
 * is not one. */
static json_t *col_array(sqlite3_stmt *st, int i)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_array(a))
        return a;
    json_decref(a);
    return json_array();
}

/* The geo object from the columns country, asn, as_org at i, i + 1, i + 2. */
static json_t *col_geo(sqlite3_stmt *st, int i)
{
    json_t *geo = json_object();
    json_object_set_new(geo, "country", col_text(st, i));
    json_object_set_new(geo, "asn", col_int(st, i + 1));
    json_object_set_new(geo, "as_org", col_text(st, i + 2));
    return geo;
}

/* One row of ALERT_COLS as the alert log's object plus status, acked_at, run_id. */
static json_t *alert_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "format", json_integer(ALERT_JSON_FORMAT));
    json_object_set_new(o, "timestamp", col_text(st, 2));
    json_object_set_new(o, "event_type", col_text(st, 3));
    json_object_set_new(o, "alert_id", col_int(st, 0));
    json_object_set_new(o, "incident_id", col_int(st, 20));
    json_object_set_new(o, "category", col_text(st, 18));
    json_object_set_new(o, "detector", col_text(st, 19));
    json_object_set_new(o, "severity", col_int(st, 22));
    json_object_set_new(o, "ip", col_text(st, 4));
    json_object_set_new(o, "side", col_text(st, 5));
    json_object_set_new(o, "direction", col_text(st, 21));
    json_object_set_new(o, "sensor", col_text(st, 23));
    json_object_set_new(o, "score", col_value(st, 6));
    json_object_set_new(o, "threshold", col_value(st, 7));
    json_object_set_new(o, "window_start", col_text(st, 8));
    json_object_set_new(o, "window_end", col_text(st, 9));
    json_object_set_new(o, "top_features", col_array(st, 10));
    json_object_set_new(o, "geo", col_geo(st, 11));
    const char *l7 = (const char *)sqlite3_column_text(st, 14);
    json_object_set_new(o, "l7", alert_l7_json(l7 ? l7 : "", (size_t)sqlite3_column_bytes(st, 14)));
    json_t *model = json_object();
    json_object_set_new(model, "id", col_text(st, 15));
    json_object_set_new(o, "model", model);
    json_object_set_new(o, "status", col_text(st, 16));
    json_object_set_new(o, "acked_at", col_text(st, 17));
    json_object_set_new(o, "run_id", col_int(st, 1));
    return o;
}

/* Steps st to the end, appending one object per row made by fn. */
static int collect_rows(store_t *s, sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *), json_t *arr,
                        const char *doing)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = fn(st);
        if (!o || json_array_append_new(arr, o) < 0) {
            store_set_err(s, "%s: out of memory while %s", s->path, doing);
            return -1;
        }
    }
    if (rc != SQLITE_DONE)
        return store_db_fail(s, doing);
    return 0;
}

/* Steps st to its end into a new array at *out, and finalizes st. 0, or -1 (no array). */
static int collect_array(store_t *s, sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *),
                         const char *doing, json_t **out)
{
    json_t *arr = json_array();
    int rc = arr ? collect_rows(s, st, fn, arr, doing) : -1;
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

/* A parsed network kept by SQLite between rows (sqlite3_set_auxdata on the constant). */
struct net_arg {
    struct ip_addr ip;
    unsigned len; /* prefix length, 128-bit form */
};

static void in_net(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct net_arg n, *net = sqlite3_get_auxdata(ctx, 1);
    if (!net) {
        const char *net_text = (const char *)sqlite3_value_text(argv[1]);
        if (!net_text || rules_parse_cidr(net_text, &n.ip, &n.len) < 0) {
            sqlite3_result_null(ctx);
            return;
        }
        net = &n;
        struct net_arg *keep = sqlite3_malloc(sizeof(*keep));
        if (keep) {
            *keep = n;
            sqlite3_set_auxdata(ctx, 1, keep, sqlite3_free); /* frees keep if it cannot */
        }
    }
    const char *ip_text = (const char *)sqlite3_value_text(argv[0]);
    struct ip_addr ip;
    unsigned len;
    if (!ip_text || rules_parse_cidr(ip_text, &ip, &len) < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    ip_addr_mask(&ip, net->len);
    sqlite3_result_int(ctx, len >= net->len && !ip_addr_cmp(&ip, &net->ip));
}

int store_net_function(store_t *s)
{
    if (sqlite3_create_function(s->db, "tapir_in_net", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                in_net, NULL, NULL) != SQLITE_OK)
        return store_db_fail(s, "registering tapir_in_net");
    return 0;
}

/* Binds a filter's values to st's named parameters (:since, :ip, :min_score, :status,
 * :category, :detector, :limit, :offset); one st does not have is index 0, which SQLite
 * refuses (SQLITE_RANGE) and changes nothing. */
static void bind_filter(sqlite3_stmt *st, const struct store_alert_filter *f)
{
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), (int64_t)f->since_us);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":ip"), f->ip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":min_score"), f->min_score);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":status"), f->status, -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":category"), f->category, -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":detector"), f->detector, -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                       f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"),
                       f->offset > 0 ? f->offset : 0);
}

/* Builds "SELECT what FROM alerts WHERE ... " for a filter and binds it. An ip with a
 * prefix length matches the alerts of every address and prefix inside it: a scan of the
 * alerts in the other clauses' range through tapir_in_net (the text column cannot be
 * range-searched by network), at human speed; a bare IP stays an indexed equality. */
static sqlite3_stmt *alert_filter_stmt(store_t *s, const char *what,
                                       const struct store_alert_filter *f, bool paged)
{
    char sql[1024];
    int n = snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE 1", what, store_alerts_from(s));
    if (f->since_us)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND ts_us >= :since");
    bool net = f->ip && strchr(f->ip, '/');
    if (net && store_net_function(s) < 0)
        return NULL;
    if (f->ip)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n,
                      net ? " AND tapir_in_net(ip, :ip)" : " AND ip = :ip");
    if (f->min_score > 0)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND score >= :min_score");
    if (f->status)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND status = :status");
    if (f->category)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND category = :category");
    if (f->detector)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND detector = :detector");
    if (paged)
        snprintf(sql + n, sizeof(sql) - (size_t)n,
                 " ORDER BY ts_us DESC, id DESC LIMIT :limit OFFSET :offset");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_db_fail(s, "listing alerts");
        return NULL;
    }
    bind_filter(st, f);
    return st;
}

int store_alerts_list(store_t *s, const struct store_alert_filter *f, json_t **out)
{
    static const struct store_alert_filter none = {0};
    sqlite3_stmt *st = alert_filter_stmt(s, ALERT_COLS, f ? f : &none, true);
    if (!st)
        return -1;
    return collect_array(s, st, alert_row_json, "listing alerts", out);
}

int store_alerts_count(store_t *s, const struct store_alert_filter *f, int64_t *count)
{
    static const struct store_alert_filter none = {0};
    sqlite3_stmt *st = alert_filter_stmt(s, "count(*)", f ? f : &none, false);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store_db_fail(s, "counting alerts");
}

/* One row by id (sql binds it as ?1) through row: 0 and *out, STORE_ENOTFOUND ("no NOUN
 * with id N"), or -1 (what: "reading an alert"). */
static int get_by_id(store_t *s, const char *sql, int64_t id, json_t *(*row)(sqlite3_stmt *),
                     const char *noun, const char *what, json_t **out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_fail(s, what);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? row(st) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        store_set_err(s, "no %s with id %lld", noun, (long long)id);
        return STORE_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_db_fail(s, what);
    if (!o) {
        store_set_err(s, "%s: out of memory", s->path);
        return -1;
    }
    *out = o;
    return 0;
}

int store_alert_get(store_t *s, int64_t id, json_t **out)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT " ALERT_COLS " FROM %s WHERE id = ?1", store_alerts_from(s));
    return get_by_id(s, sql, id, alert_row_json, "alert", "reading an alert", out);
}

/* ---- incidents -------------------------------------------------------------------- */

#define INCIDENT_COLS                                                                              \
    "id, run_id, ip, side, category, direction, severity, sensor, started, last_seen, ended,"      \
    " windows, alerts, peak_score, detectors, top_features, started_us, last_seen_us"

/* One row of INCIDENT_COLS as the API's incident object (docs/http.md). */
static json_t *incident_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "incident_id", col_int(st, 0));
    json_object_set_new(o, "ip", col_text(st, 2));
    json_object_set_new(o, "side", col_text(st, 3));
    json_object_set_new(o, "category", col_text(st, 4));
    json_object_set_new(o, "direction", col_text(st, 5));
    json_object_set_new(o, "severity", col_int(st, 6));
    json_object_set_new(o, "sensor", col_text(st, 7));
    json_object_set_new(o, "start", col_text(st, 8));
    json_object_set_new(o, "last_seen", col_text(st, 9));
    json_object_set_new(o, "end", col_text(st, 10));
    json_object_set_new(o, "status",
                        json_string(sqlite3_column_type(st, 10) == SQLITE_NULL ? "open" : "ended"));
    int64_t start = sqlite3_column_int64(st, 16), last = sqlite3_column_int64(st, 17);
    json_object_set_new(o, "duration_s", json_integer(last > start ? (last - start) / 1000000 : 0));
    json_object_set_new(o, "windows", col_int(st, 11));
    json_object_set_new(o, "alert_count", col_int(st, 12));
    json_object_set_new(o, "peak_score", col_value(st, 13));
    const char *d = (const char *)sqlite3_column_text(st, 14); /* "forest,limit" */
    json_object_set_new(o, "detectors",
                        alert_l7_json(d ? d : "", d ? (size_t)sqlite3_column_bytes(st, 14) : 0));
    json_object_set_new(o, "top_features", col_array(st, 15));
    json_object_set_new(o, "run_id", col_int(st, 1));
    return o;
}

int store_incidents_list(store_t *s, const struct store_alert_filter *f, json_t **out)
{
    static const struct store_alert_filter none = {0};
    if (!f)
        f = &none;
    if (!store_has_incidents(s)) {
        *out = json_array();
        return *out ? 0 : -1;
    }
    char sql[1024];
    int n = snprintf(sql, sizeof(sql), "SELECT " INCIDENT_COLS " FROM incidents WHERE 1");
    if (f->since_us)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND last_seen_us >= :since");
    if (f->ip)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND ip = :ip");
    if (f->min_score > 0)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND peak_score >= :min_score");
    if (f->category)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND category = :category");
    if (f->detector) /* a name in the comma-separated list */
        n += snprintf(sql + n, sizeof(sql) - (size_t)n,
                      " AND ',' || detectors || ',' LIKE '%%,' || :detector || ',%%'");
    snprintf(sql + n, sizeof(sql) - (size_t)n,
             " ORDER BY started_us DESC, id DESC LIMIT :limit OFFSET :offset");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_fail(s, "listing incidents");
    bind_filter(st, f);
    return collect_array(s, st, incident_row_json, "listing incidents", out);
}

int store_incident_get(store_t *s, int64_t id, int64_t max_alerts, json_t **out)
{
    if (!store_has_incidents(s)) {
        store_set_err(s, "no incident with id %lld (the database predates incidents)",
                      (long long)id);
        return STORE_ENOTFOUND;
    }
    json_t *o;
    int rc = get_by_id(s, "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?1", id,
                       incident_row_json, "incident", "reading an incident", &o);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " ALERT_COLS " FROM alerts WHERE incident_id = ?1"
                           " ORDER BY ts_us, id LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(o);
        return store_db_fail(s, "reading an incident's alerts");
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, max_alerts > 0 ? max_alerts : -1);
    json_t *arr;
    if (collect_array(s, st, alert_row_json, "reading an incident's alerts", &arr) < 0) {
        json_decref(o);
        return -1;
    }
    json_object_set_new(o, "alerts", arr);
    *out = o;
    return 0;
}

#define HOST_COLS                                                                                  \
    "ip, first_seen, last_seen, country, asn, as_org, last_score, max_score, windows_seen,"        \
    " alerts"

static json_t *host_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "ip", col_text(st, 0));
    json_object_set_new(o, "first_seen", col_text(st, 1));
    json_object_set_new(o, "last_seen", col_text(st, 2));
    json_object_set_new(o, "geo", col_geo(st, 3));
    json_object_set_new(o, "last_score", col_real(st, 6));
    json_object_set_new(o, "max_score", col_real(st, 7));
    json_object_set_new(o, "windows_seen", col_int(st, 8));
    json_object_set_new(o, "alerts", col_int(st, 9));
    return o;
}

int store_host_get(store_t *s, const char *ip, int n_recent, json_t **out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " HOST_COLS " FROM hosts WHERE ip = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return store_db_fail(s, "reading a host");
    sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? host_row_json(st) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        store_set_err(s, "no host %s stored", ip);
        return STORE_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_db_fail(s, "reading a host");
    if (!o) {
        store_set_err(s, "%s: out of memory", s->path);
        return -1;
    }
    struct store_alert_filter f = {.ip = ip, .limit = n_recent > 0 ? n_recent : 10};
    json_t *recent;
    if (store_alerts_list(s, &f, &recent) < 0) {
        json_decref(o);
        return -1;
    }
    json_object_set_new(o, "recent_alerts", recent);
    *out = o;
    return 0;
}

static int hosts_list(store_t *s, int64_t limit, int64_t offset, bool flagged, json_t **out)
{
    sqlite3_stmt *st;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " HOST_COLS " FROM hosts%s ORDER BY max_score DESC NULLS LAST,"
             " last_seen_us DESC LIMIT ?1 OFFSET ?2",
             flagged ? " WHERE alerts > 0" : "");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_fail(s, "listing hosts");
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    sqlite3_bind_int64(st, 2, offset > 0 ? offset : 0);
    return collect_array(s, st, host_row_json, "listing hosts", out);
}

int store_hosts_list(store_t *s, int64_t limit, int64_t offset, json_t **out)
{
    return hosts_list(s, limit, offset, false, out);
}

int store_hosts_flagged(store_t *s, int64_t limit, int64_t offset, json_t **out)
{
    return hosts_list(s, limit, offset, true, out);
}

int store_each_flagged(store_t *s, double min_score, uint64_t since_us, store_flagged_fn fn,
                       void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT ip, max(ts_us), max(score) FROM alerts"
                           " WHERE status != 'suppressed' AND score >= ?1 AND ts_us >= ?2"
                           " AND side != 'destination'" /* a victim, never an attacker */
                           " GROUP BY ip ORDER BY ip",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_fail(s, "reading flagged addresses");
    sqlite3_bind_double(st, 1, min_score);
    sqlite3_bind_int64(st, 2, (int64_t)since_us);
    int rc = SQLITE_DONE, ret = 0;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        ret = fn(ctx, ip ? ip : "", (uint64_t)sqlite3_column_int64(st, 1),
                 sqlite3_column_double(st, 2));
    }
    return store_each_end(s, st, rc, ret, "reading flagged addresses");
}
