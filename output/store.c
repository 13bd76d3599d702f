/*
 * store.c — the SQLite store (schema in docs/schema.md).
 *
 * WAL mode: the analyzer writes while `sqlite3`, `tapir alerts` and the HTTP API read,
 * and neither blocks the other; synchronous=NORMAL, so a power cut may lose the last
 * windows but never corrupts the file. One transaction per window: at a few hundred
 * flagged rows per window, one fsync per window instead of one per row keeps a
 * 10-second window's writes to about a millisecond. The write statements are prepared
 * once and kept for the handle's life; query statements are prepared per call, since
 * their WHERE clause depends on the filter and they run at human speed.
 *
 * Times are stored twice: NAME TEXT as ISO-8601 UTC ("2026-11-22T04:17:10.123Z") for
 * people at the sqlite3 prompt, and NAME_us INTEGER (microseconds since the epoch) for
 * exact comparisons and indexes. Rejected: text only (sub-millisecond order lost, and
 * range scans depend on every writer formatting identically) and integers only
 * (unreadable in the shell without datetime(x/1e6,'unixepoch') on every query).
 *
 * Schema changes go through migrations[]: entry i upgrades user_version i to i+1 inside
 * the opening transaction. Migrations only add tables and columns, so an older tapir
 * may still read (store_open_readonly) a newer file, but refuses to write it.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "alert_log.h"
#include "rules.h"
#include "store.h"

#define STORE_APPLICATION_ID 0x54415052 /* "TAPR", PRAGMA application_id */

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

/* migrations[i] upgrades user_version i to i + 1. Append; never edit a shipped entry. */
static const char *const migrations[] = {schema_v1};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HOST_SEEN,
    ST_HOST_ALERT,
    ST_WINDOW,
    ST_ALERT,
    ST_RUN_BEGIN,
    ST_RUN_END,
    ST_MODEL,
    ST_COUNT
};

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
                 " window_end_us, top_features, country, asn, as_org, l7, model_id)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                 " ?15, ?16, ?17, ?18, ?19)",
    [ST_RUN_BEGIN] = "INSERT INTO runs (started, started_us, command_line, source)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [ST_RUN_END] = "UPDATE runs SET ended = ?2, ended_us = ?3, packets = ?4, bytes = ?5,"
                   " windows = ?6, alerts = ?7, exit_status = ?8 WHERE id = ?1",
    [ST_MODEL] = "INSERT OR REPLACE INTO models (id, created, created_us, path, trained_on,"
                 " features, threshold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

struct store {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool in_tx;     /* between store_window_begin and commit/rollback */
    bool tx_failed; /* a write inside the window failed: commit will roll back */
    int busy_ms;
    sqlite3_stmt *st[ST_COUNT]; /* NULL for a read-only handle */
    char err[512];
};

static void set_err(store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(store_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

/* Records the connection's last error as "PATH: what (while doing)" and returns -1. */
static int db_fail(store_t *s, const char *doing)
{
    int code = sqlite3_extended_errcode(s->db);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        set_err(s, "%s: database is locked by another writer (gave up after %d ms) while %s",
                s->path, s->busy_ms, doing);
    else
        set_err(s, "%s: %s (while %s)", s->path, sqlite3_errmsg(s->db), doing);
    if (s->in_tx)
        s->tx_failed = true;
    return -1;
}

const char *store_errmsg(const store_t *s)
{
    return s->err[0] ? s->err : "no error";
}

const char *store_path(const store_t *s)
{
    return s->path;
}

/* Runs one statement of text SQL that returns no rows we need. */
static int exec_sql(store_t *s, const char *sql, const char *doing)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return db_fail(s, doing);
    }
    return 0;
}

/* One integer from a single-row query, e.g. a PRAGMA. */
static int query_int(store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, sql);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, sql);
    return 0;
}

/* Turns the connection's first error at open into the sentences of store.h. */
static void open_error(store_t *s, char *errbuf, const char *doing)
{
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    if (code == SQLITE_NOTADB)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: not a database (%s)", s->path,
                 sqlite3_errmsg(s->db));
    else if (code == SQLITE_CORRUPT)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: database is corrupt (%s)", s->path,
                 sqlite3_errmsg(s->db));
    else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "%s: database is locked by another writer (gave up after %d ms)", s->path,
                 s->busy_ms);
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: cannot write (%s)", s->path,
                 sqlite3_errmsg(s->db));
    else
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: %s (while %s)", s->path, sqlite3_errmsg(s->db),
                 doing);
}

static void store_free(store_t *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

/* Creates or migrates the schema inside the caller's write transaction. */
static int migrate(store_t *s, int64_t version, char *errbuf)
{
    if (version == 0) {
        int64_t n = 0;
        if (query_int(s, "SELECT count(*) FROM sqlite_master", &n) < 0) {
            open_error(s, errbuf, "reading the schema");
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
        if (exec_sql(s, migrations[v], "creating the schema") < 0) {
            open_error(s, errbuf, "creating the schema");
            return -1;
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)(v + 1));
        if (exec_sql(s, sql, "setting the schema version") < 0) {
            open_error(s, errbuf, "setting the schema version");
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
        if (exec_sql(s, sql, "writing meta") < 0) {
            open_error(s, errbuf, "writing meta");
            return -1;
        }
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta VALUES ('schema_version', '%d')",
             STORE_SCHEMA_VERSION);
    if (exec_sql(s, sql, "writing meta") < 0) {
        open_error(s, errbuf, "writing meta");
        return -1;
    }
    return 0;
}

static store_t *open_common(const char *path, bool readonly, int busy_ms, char *errbuf)
{
    store_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: out of memory", path);
        free(s);
        return NULL;
    }
    s->readonly = readonly;
    s->busy_ms = busy_ms;
    struct stat sb;
    if (readonly && stat(path, &sb) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: not a regular file", path);
        goto fail;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        if (!s->db) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: out of memory", path);
            goto fail;
        }
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, busy_ms);

    int64_t version = 0, app_id = 0;
    /* The first read of the header: a file of random bytes fails here with NOTADB. */
    if (query_int(s, "PRAGMA user_version", &version) < 0 ||
        query_int(s, "PRAGMA application_id", &app_id) < 0) {
        open_error(s, errbuf, "reading the header");
        goto fail;
    }
    if (app_id != 0 && app_id != STORE_APPLICATION_ID) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: not a tapir database (application_id %#llx)", path,
                 (unsigned long long)app_id);
        goto fail;
    }
    if (readonly) {
        if (version == 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: not a tapir database (no schema)", path);
            goto fail;
        }
        /* Check the schema pages are readable now rather than on the first query. */
        int64_t n;
        if (query_int(s, "SELECT count(*) FROM sqlite_master", &n) < 0) {
            open_error(s, errbuf, "reading the schema");
            goto fail;
        }
        return s;
    }
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "%s: schema version %lld is newer than this tapir's (%d); upgrade tapir, "
                 "or open it read-only",
                 path, (long long)version, STORE_SCHEMA_VERSION);
        goto fail;
    }
    int64_t ignored;
    if (query_int(s, "PRAGMA journal_mode = WAL", &ignored) < 0 ||
        exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", "setting pragmas") <
            0) {
        open_error(s, errbuf, "switching to WAL mode");
        goto fail;
    }
    /* Take the write lock, create or migrate the schema and write one row: proves now,
     * not at the first window, that no other writer holds the file and that we can write. */
    if (exec_sql(s, "BEGIN IMMEDIATE", "locking") < 0) {
        open_error(s, errbuf, "locking");
        goto fail;
    }
    if (query_int(s, "PRAGMA user_version", &version) < 0) {
        open_error(s, errbuf, "reading the schema version");
        goto fail_rollback;
    }
    if (migrate(s, version, errbuf) < 0)
        goto fail_rollback;
    if (exec_sql(s, "COMMIT", "committing the schema") < 0) {
        open_error(s, errbuf, "committing the schema");
        goto fail_rollback;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            open_error(s, errbuf, "preparing statements");
            goto fail;
        }
    }
    s->err[0] = '\0';
    return s;

fail_rollback:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
    store_free(s);
    return NULL;
}

store_t *store_open_timeout(const char *path, int busy_timeout_ms, char *errbuf)
{
    return open_common(path, false, busy_timeout_ms, errbuf);
}

store_t *store_open(const char *path, char *errbuf)
{
    return open_common(path, false, STORE_BUSY_TIMEOUT_MS, errbuf);
}

store_t *store_open_readonly(const char *path, char *errbuf)
{
    return open_common(path, true, STORE_BUSY_TIMEOUT_MS, errbuf);
}

void store_close(store_t *s)
{
    if (!s)
        return;
    if (s->in_tx && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    store_free(s);
}

/* ---- writes -------------------------------------------------------------------- */

/* Gets a prepared write statement ready, or fails if this handle may not write now. */
static sqlite3_stmt *write_stmt(store_t *s, int which)
{
    if (s->readonly) {
        set_err(s, "%s: opened read-only", s->path);
        return NULL;
    }
    if (s->in_tx && s->tx_failed)
        return NULL; /* keep the first error; the window will roll back */
    if (s->in_tx && sqlite3_get_autocommit(s->db)) {
        /* SQLite rolled the transaction back itself (disk full, I/O error): a write now
         * would autocommit half a window. */
        s->tx_failed = true;
        set_err(s, "%s: the window's transaction was rolled back after an error", s->path);
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
        db_fail(s, doing);
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
        set_err(s, "%s: no run with id %lld", s->path, (long long)run_id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

int store_window_begin(store_t *s)
{
    if (s->in_tx) {
        set_err(s, "%s: a window is already open", s->path);
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
        set_err(s, "%s: no window is open", s->path);
        return -1;
    }
    if (s->tx_failed || sqlite3_get_autocommit(s->db)) {
        char why[sizeof(s->err)];
        snprintf(why, sizeof(why), "%s", store_errmsg(s));
        store_window_rollback(s);
        set_err(s, "window not stored: %s", why);
        return -1;
    }
    sqlite3_stmt *st = s->st[ST_COMMIT];
    sqlite3_reset(st);
    if (sqlite3_step(st) != SQLITE_DONE) {
        db_fail(s, "committing the window");
        sqlite3_reset(st);
        char why[sizeof(s->err)];
        snprintf(why, sizeof(why), "%s", s->err);
        store_window_rollback(s);
        set_err(s, "window not stored: %s", why);
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

int store_window_add(store_t *s, int64_t run_id, const struct alert *a)
{
    sqlite3_stmt *st = write_stmt(s, ST_WINDOW);
    if (!st)
        return -1;
    char *feat = features_json(a);
    if (!feat) {
        set_err(s, "%s: out of memory", s->path);
        if (s->in_tx)
            s->tx_failed = true;
        return -1;
    }
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

int store_alert_add(store_t *s, int64_t run_id, struct alert *a)
{
    sqlite3_stmt *st = write_stmt(s, ST_ALERT);
    if (!st)
        return -1;
    json_t *top = alert_top_features_json(a);
    char *top_txt = top ? json_dumps(top, ALERT_JSON_FLAGS) : NULL;
    json_decref(top);
    if (!top_txt) {
        set_err(s, "%s: out of memory", s->path);
        if (s->in_tx)
            s->tx_failed = true;
        return -1;
    }
    unsigned plen = a->prefix_len ? a->prefix_len : 128;
    unsigned fam_len = ip_addr_is_v4(&a->ip) && plen >= 96 ? plen - 96 : plen;
    char ip[64];
    alert_ip_str(a, ip, sizeof(ip));
    bind_run(st, 1, run_id);
    bind_time(st, 2, 3, a->timestamp_us);
    bind_text_clean(st, 4, a->event_type ? a->event_type : "anomaly", 32);
    sqlite3_bind_text(st, 5, ip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, (int)fam_len);
    sqlite3_bind_text(st, 7, alert_side_name(a->side), -1, SQLITE_STATIC);
    bind_real(st, 8, a->score);
    bind_real(st, 9, a->threshold);
    bind_time(st, 10, 11, a->window_start_us);
    bind_time(st, 12, 13, a->window_end_us);
    sqlite3_bind_text(st, 14, top_txt, -1, free);
    bind_geo(st, 15, &a->geo);
    bind_text_clean(st, 18, a->l7, sizeof(a->l7));
    bind_text_clean(st, 19, a->model_id, sizeof(a->model_id));
    if (step_done(s, st, "storing an alert") < 0)
        return -1;
    a->id = sqlite3_last_insert_rowid(s->db);
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

/* Runs one data-changing statement with up to two int64 parameters. Returns the number of
 * rows changed, or -1. */
static int64_t exec_change(store_t *s, const char *sql, int nparams, int64_t p1, int64_t p2,
                           const char *doing)
{
    if (s->readonly) {
        set_err(s, "%s: opened read-only", s->path);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, doing);
    if (nparams >= 1)
        sqlite3_bind_int64(st, 1, p1);
    if (nparams >= 2)
        sqlite3_bind_int64(st, 2, p2);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(s, doing);
    return sqlite3_changes64(s->db);
}

int store_retention(store_t *s, uint64_t older_than_us)
{
    if (s->in_tx) {
        set_err(s, "%s: retention inside an open window", s->path);
        return -1;
    }
    if (exec_sql(s, "BEGIN IMMEDIATE", "starting retention") < 0)
        return -1;
    if (exec_change(s, "DELETE FROM windows WHERE window_end_us < ?1", 1, (int64_t)older_than_us, 0,
                    "deleting old windows") < 0 ||
        exec_change(s, "DELETE FROM alerts WHERE window_end_us < ?1", 1, (int64_t)older_than_us, 0,
                    "deleting old alerts") < 0 ||
        exec_sql(s, "COMMIT", "committing retention") < 0) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int store_alert_ack(store_t *s, int64_t id, uint64_t now_us)
{
    char iso[32];
    tapir_iso8601(now_us, iso, sizeof(iso));
    if (s->readonly) {
        set_err(s, "%s: opened read-only", s->path);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE alerts SET status = 'acked', acked_at = ?2, acked_at_us = ?3"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "acknowledging an alert");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (int64_t)now_us);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(s, "acknowledging an alert");
    if (sqlite3_changes(s->db) == 0) {
        set_err(s, "no alert with id %lld", (long long)id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

int store_alert_set_status(store_t *s, int64_t id, const char *status)
{
    int64_t code = !strcmp(status, "new")          ? 0
                   : !strcmp(status, "acked")      ? 1
                   : !strcmp(status, "suppressed") ? 2
                                                   : -1;
    if (code < 0) {
        set_err(s, "bad status '%s' (new, acked or suppressed)", status);
        return -1;
    }
    int64_t n = exec_change(s,
                            "UPDATE alerts SET status = CASE ?2 WHEN 0 THEN 'new'"
                            " WHEN 1 THEN 'acked' ELSE 'suppressed' END WHERE id = ?1",
                            2, id, code, "changing an alert's status");
    if (n < 0)
        return -1;
    if (n == 0) {
        set_err(s, "no alert with id %lld", (long long)id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

int store_alert_delete(store_t *s, int64_t id)
{
    int64_t n = exec_change(s, "DELETE FROM alerts WHERE id = ?1", 1, id, 0, "deleting an alert");
    if (n < 0)
        return -1;
    if (n == 0) {
        set_err(s, "no alert with id %lld", (long long)id);
        return STORE_ENOTFOUND;
    }
    return 0;
}

/* ---- queries ------------------------------------------------------------------- */

#define ALERT_COLS                                                                                 \
    "id, run_id, timestamp, event_type, ip, side, score, threshold, window_start,"                 \
    " window_end, top_features, country, asn, as_org, l7, model_id, status, acked_at"

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

/* One row of ALERT_COLS as the alert log's object plus status, acked_at, run_id. */
static json_t *alert_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "timestamp", col_text(st, 2));
    json_object_set_new(o, "event_type", col_text(st, 3));
    json_object_set_new(o, "alert_id", col_int(st, 0));
    json_object_set_new(o, "ip", col_text(st, 4));
    json_object_set_new(o, "side", col_text(st, 5));
    json_object_set_new(o, "score", col_real(st, 6));
    json_object_set_new(o, "threshold", col_real(st, 7));
    json_object_set_new(o, "window_start", col_text(st, 8));
    json_object_set_new(o, "window_end", col_text(st, 9));
    const char *top = (const char *)sqlite3_column_text(st, 10);
    json_t *topj = top ? json_loads(top, 0, NULL) : NULL;
    json_object_set_new(o, "top_features", json_is_array(topj) ? topj : json_array());
    if (topj && !json_is_array(topj))
        json_decref(topj);
    json_t *geo = json_object();
    json_object_set_new(geo, "country", col_text(st, 11));
    json_object_set_new(geo, "asn", col_int(st, 12));
    json_object_set_new(geo, "as_org", col_text(st, 13));
    json_object_set_new(o, "geo", geo);
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
            set_err(s, "%s: out of memory while %s", s->path, doing);
            return -1;
        }
    }
    if (rc != SQLITE_DONE)
        return db_fail(s, doing);
    return 0;
}

/* Builds "SELECT what FROM alerts WHERE ... " for a filter and binds it. */
static sqlite3_stmt *alert_filter_stmt(store_t *s, const char *what,
                                       const struct store_alert_filter *f, bool paged)
{
    char sql[512];
    int n = snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE 1", what);
    if (f->since_us)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND ts_us >= :since");
    if (f->ip)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND ip = :ip");
    if (f->min_score > 0)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND score >= :min_score");
    if (f->status)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND status = :status");
    if (paged)
        snprintf(sql + n, sizeof(sql) - (size_t)n,
                 " ORDER BY ts_us DESC, id DESC LIMIT :limit OFFSET :offset");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, "listing alerts");
        return NULL;
    }
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), (int64_t)f->since_us);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":ip"), f->ip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":min_score"), f->min_score);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":status"), f->status, -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                       f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"),
                       f->offset > 0 ? f->offset : 0);
    return st;
}

int store_alerts_list(store_t *s, const struct store_alert_filter *f, json_t **out)
{
    static const struct store_alert_filter none = {0};
    sqlite3_stmt *st = alert_filter_stmt(s, ALERT_COLS, f ? f : &none, true);
    if (!st)
        return -1;
    json_t *arr = json_array();
    int rc = arr ? collect_rows(s, st, alert_row_json, arr, "listing alerts") : -1;
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *out = arr;
    return 0;
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
    return rc == SQLITE_ROW ? 0 : db_fail(s, "counting alerts");
}

int store_alert_get(store_t *s, int64_t id, json_t **out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " ALERT_COLS " FROM alerts WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(s, "reading an alert");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? alert_row_json(st) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        set_err(s, "no alert with id %lld", (long long)id);
        return STORE_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return db_fail(s, "reading an alert");
    if (!o) {
        set_err(s, "%s: out of memory", s->path);
        return -1;
    }
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
    json_t *geo = json_object();
    json_object_set_new(geo, "country", col_text(st, 3));
    json_object_set_new(geo, "asn", col_int(st, 4));
    json_object_set_new(geo, "as_org", col_text(st, 5));
    json_object_set_new(o, "geo", geo);
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
        return db_fail(s, "reading a host");
    sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? host_row_json(st) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        set_err(s, "no host %s stored", ip);
        return STORE_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return db_fail(s, "reading a host");
    if (!o) {
        set_err(s, "%s: out of memory", s->path);
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

int store_hosts_list(store_t *s, int64_t limit, int64_t offset, json_t **out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " HOST_COLS " FROM hosts ORDER BY max_score DESC NULLS LAST,"
                           " last_seen_us DESC LIMIT ?1 OFFSET ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "listing hosts");
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    sqlite3_bind_int64(st, 2, offset > 0 ? offset : 0);
    json_t *arr = json_array();
    int rc = arr ? collect_rows(s, st, host_row_json, arr, "listing hosts") : -1;
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

int store_each_flagged(store_t *s, double min_score, uint64_t since_us, store_flagged_fn fn,
                       void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT ip, max(ts_us), max(score) FROM alerts"
                           " WHERE status != 'suppressed' AND score >= ?1 AND ts_us >= ?2"
                           " GROUP BY ip ORDER BY ip",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "reading flagged addresses");
    sqlite3_bind_double(st, 1, min_score);
    sqlite3_bind_int64(st, 2, (int64_t)since_us);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        ret = fn(ctx, ip ? ip : "", (uint64_t)sqlite3_column_int64(st, 1),
                 sqlite3_column_double(st, 2));
        if (ret)
            break;
    }
    sqlite3_finalize(st);
    if (!ret && rc != SQLITE_DONE)
        return db_fail(s, "reading flagged addresses");
    return ret;
}
