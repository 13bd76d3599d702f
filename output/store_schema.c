/*
 * store_schema.c — the store's tables and indexes, and the migrations that bring an
 * older file up to STORE_SCHEMA_VERSION (docs/schema.md).
 *
 * Times are stored twice: NAME TEXT as ISO-8601 UTC ("2026-11-22T04:17:10.123Z") for
 * people at the sqlite3 prompt, and NAME_us INTEGER (microseconds since the epoch) for
 * exact comparisons and indexes. Rejected: text only (sub-millisecond order lost, and
 * range scans depend on every writer formatting identically) and integers only
 * (unreadable in the shell without datetime(x/1e6,'unixepoch') on every query).
 *
 * Schema changes go through migrations[]: step i upgrades user_version i to i+1 inside
 * the opening transaction. Migrations only add tables and columns, so an older tapir
 * may still read (store_open_readonly) a newer file, but refuses to write it; a newer
 * tapir reads an older file it may not migrate (read-only) through store_alerts_from(),
 * which fills the missing columns as the migration would.
 */
#include <stdio.h>

#include "store.h"
#include "store_int.h"

static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " started TEXT NOT NULL, started_us INTEGER NOT NULL,"
    " ended TEXT, ended_us INTEGER,"
    " command_line TEXT NOT NULL, source TEXT NOT NULL,"
    " packets INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
    " windows INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0,"
    " exit_status INTEGER);"
    "CREATE TABLE hosts ("
    " ip TEXT PRIMARY KEY,"
    " first_seen TEXT NOT NULL, first_seen_us INTEGER NOT NULL,"
    " last_seen TEXT NOT NULL, last_seen_us INTEGER NOT NULL,"
    " country TEXT, asn INTEGER, as_org TEXT,"
    " last_score REAL, max_score REAL,"
    " windows_seen INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX hosts_max_score ON hosts(max_score DESC);"
    "CREATE TABLE windows ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    " window_start TEXT NOT NULL, window_start_us INTEGER NOT NULL,"
    " window_end TEXT NOT NULL, window_end_us INTEGER NOT NULL,"
    " ip TEXT NOT NULL, side TEXT NOT NULL,"
    " score REAL, threshold REAL,"
    " features TEXT NOT NULL);"
    "CREATE INDEX windows_end ON windows(window_end_us);"
    "CREATE INDEX windows_ip ON windows(ip, window_end_us);"
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    " timestamp TEXT NOT NULL, ts_us INTEGER NOT NULL,"
    " event_type TEXT NOT NULL, ip TEXT NOT NULL, prefix_len INTEGER NOT NULL,"
    " side TEXT NOT NULL, score REAL, threshold REAL,"
    " window_start TEXT NOT NULL, window_start_us INTEGER NOT NULL,"
    " window_end TEXT NOT NULL, window_end_us INTEGER NOT NULL,"
    " top_features TEXT NOT NULL,"
    " country TEXT, asn INTEGER, as_org TEXT, l7 TEXT, model_id TEXT,"
    " status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new','acked','suppressed')),"
    " acked_at TEXT, acked_at_us INTEGER);"
    "CREATE INDEX alerts_ts ON alerts(ts_us);"
    "CREATE INDEX alerts_ip ON alerts(ip, ts_us);"
    "CREATE INDEX alerts_status ON alerts(status, ts_us);"
    "CREATE TABLE models ("
    " id TEXT PRIMARY KEY,"
    " created TEXT NOT NULL, created_us INTEGER NOT NULL,"
    " path TEXT, trained_on TEXT, features INTEGER, threshold REAL);";

/* Version 2: which detector raised each alert and the kind of attack it looks like
 * (docs/detection.md); event_type becomes the incident's life cycle ("alert" for every
 * alert so far). Rows from version 1 keep what their event_type said: "threshold" was a
 * learned limit (or, rarely, the denylist, which version 1 did not tell apart), anything
 * else the forest; their category is unknown, so 'anomaly'. */
static const char schema_v2[] =
    "ALTER TABLE alerts ADD COLUMN detector TEXT NOT NULL DEFAULT 'forest';"
    "ALTER TABLE alerts ADD COLUMN category TEXT NOT NULL DEFAULT 'anomaly';"
    "UPDATE alerts SET detector = CASE event_type WHEN 'threshold' THEN 'limit' ELSE 'forest' END,"
    " event_type = 'alert';"
    "CREATE INDEX alerts_category ON alerts(category, ts_us);"
    "CREATE INDEX alerts_detector ON alerts(detector, ts_us);";

/* Version 3: incidents (issue 11; docs/schema.md). One row per incident (ip or prefix,
 * side, category), written at every event of it (alert, update, end), so a row is the
 * incident as it stands; alerts name their incident and carry direction, severity and
 * sensor. Alerts from before version 3 belong to no incident (incident_id NULL, direction
 * 'unknown', severity and sensor NULL): their windows were judged alone. */
static const char schema_v3_incidents[] =
    "ALTER TABLE alerts ADD COLUMN incident_id INTEGER;"
    "ALTER TABLE alerts ADD COLUMN direction TEXT NOT NULL DEFAULT 'unknown';"
    "ALTER TABLE alerts ADD COLUMN severity INTEGER;"
    "ALTER TABLE alerts ADD COLUMN sensor TEXT;"
    "CREATE INDEX alerts_incident ON alerts(incident_id, ts_us);"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    " ip TEXT NOT NULL, prefix_len INTEGER NOT NULL, side TEXT NOT NULL,"
    " category TEXT NOT NULL, direction TEXT NOT NULL, severity INTEGER NOT NULL,"
    " sensor TEXT,"
    " started TEXT NOT NULL, started_us INTEGER NOT NULL,"
    " last_seen TEXT NOT NULL, last_seen_us INTEGER NOT NULL,"
    " ended TEXT, ended_us INTEGER,"
    " windows INTEGER NOT NULL, alerts INTEGER NOT NULL, peak_score REAL,"
    " detectors TEXT NOT NULL, top_features TEXT NOT NULL);"
    "CREATE INDEX incidents_started ON incidents(started_us);"
    "CREATE INDEX incidents_ip ON incidents(ip, started_us);"
    "CREATE INDEX incidents_category ON incidents(category, started_us);";

/* Version 3 too: suppressions (tapir alerts suppress, POST /api/alerts/ID/suppress): a
 * network silenced with a reason until it expires (expires_us NULL: forever). "IF NOT
 * EXISTS": a database made by a development build that had only this table at version 3
 * still migrates. */
static const char schema_suppressions[] =
    "CREATE TABLE IF NOT EXISTS suppressions ("
    " id INTEGER PRIMARY KEY,"
    " network TEXT NOT NULL, prefix_len INTEGER NOT NULL,"
    " reason TEXT NOT NULL,"
    " created TEXT NOT NULL, created_us INTEGER NOT NULL,"
    " expires TEXT, expires_us INTEGER,"
    " created_by TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS suppressions_expires ON suppressions(expires_us);";

/* migrations[i] upgrades user_version i to i + 1: its statements, run in order in the
 * opening transaction. Append a step for a new version; never edit a shipped one. Changes
 * that ship together share a version: each is one string of its step (issue 11's
 * suppressions go beside the incidents in step 3). */
static const char *const step_v1[] = {schema_v1, NULL};
static const char *const step_v2[] = {schema_v2, NULL};
static const char *const step_v3[] = {schema_v3_incidents, schema_suppressions, NULL};
static const char *const *const migrations[] = {step_v1, step_v2, step_v3};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* The columns version 3 added to alerts, as its migration fills them for older rows. */
#define V3_ALERT_COLS                                                                              \
    " NULL AS incident_id, 'unknown' AS direction, NULL AS severity, NULL AS sensor"

const char *store_alerts_from(const store_t *s)
{
    if (s->version >= 3)
        return "alerts";
    if (s->version == 2)
        return "(SELECT *," V3_ALERT_COLS " FROM alerts)";
    return "(SELECT id, run_id, timestamp, ts_us, 'alert' AS event_type, ip, prefix_len, side,"
           " score, threshold, window_start, window_start_us, window_end, window_end_us,"
           " top_features, country, asn, as_org, l7, model_id, status, acked_at, acked_at_us,"
           " CASE event_type WHEN 'threshold' THEN 'limit' ELSE 'forest' END AS detector,"
           " 'anomaly' AS category," V3_ALERT_COLS " FROM alerts)";
}

bool store_has_incidents(const store_t *s)
{
    return s->version >= 3;
}

/* Creates or migrates the schema inside the caller's write transaction. */
int store_schema_migrate(store_t *s, int64_t version, char *errbuf)
{
    if (version == 0) {
        int64_t n = 0;
        if (store_query_int(s, "SELECT count(*) FROM sqlite_master", &n) < 0) {
            store_open_error(s, errbuf, "reading the schema");
            return -1;
        }
        if (n > 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "%s: not a tapir database (it holds another application's tables)", s->path);
            return -1;
        }
    }
    for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
        char sql[128];
        for (const char *const *stmt = migrations[v]; *stmt; stmt++)
            if (store_exec_sql(s, *stmt, "creating the schema") < 0) {
                store_open_error(s, errbuf, "creating the schema");
                return -1;
            }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)(v + 1));
        if (store_exec_sql(s, sql, "setting the schema version") < 0) {
            store_open_error(s, errbuf, "setting the schema version");
            return -1;
        }
    }
    if (version == 0) {
        char sql[256], iso[32];
        tapir_iso8601(tapir_wall_us(), iso, sizeof(iso));
        snprintf(sql, sizeof(sql),
                 "PRAGMA application_id = %d;"
                 "INSERT INTO meta VALUES ('created', '%s'), ('created_by', 'tapir %s');",
                 STORE_APPLICATION_ID, iso, TAPIR_VERSION);
        if (store_exec_sql(s, sql, "writing meta") < 0) {
            store_open_error(s, errbuf, "writing meta");
            return -1;
        }
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta VALUES ('schema_version', '%d')",
             STORE_SCHEMA_VERSION);
    if (store_exec_sql(s, sql, "writing meta") < 0) {
        store_open_error(s, errbuf, "writing meta");
        return -1;
    }
    return 0;
}
