/*
 * store.c — the SQLite store's handle: opening (checks, pragmas, the schema through
 * store_schema.c, the write statements through store_write.c), closing and the errors
 * every part of the store reports (schema in docs/schema.md).
 *
 * WAL mode: the analyzer writes while `sqlite3`, `tapir alerts` and the HTTP API read,
 * and neither blocks the other; synchronous=NORMAL, so a power cut may lose the last
 * windows but never corrupts the file. Opening read-write takes the write lock and
 * writes one row at once, so a locked or unwritable file is refused at start, not at
 * the first window.
 *
 * The store is four files around one private struct (store_int.h): this handle, the
 * schema and its migrations (store_schema.c), the writes (store_write.c) and the
 * queries (store_query.c). Rejected: one 1,100-line store.c, where a change to a query
 * for the API meant reading past the migration rules and the window transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"

void store_set_err(store_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

/* Records the connection's last error as "PATH: what (while doing)" and returns -1. */
int store_db_fail(store_t *s, const char *doing)
{
    int code = sqlite3_extended_errcode(s->db);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        store_set_err(s, "%s: database is locked by another writer (gave up after %d ms) while %s",
                      s->path, s->busy_ms, doing);
    else
        store_set_err(s, "%s: %s (while %s)", s->path, sqlite3_errmsg(s->db), doing);
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
int store_each_end(store_t *s, sqlite3_stmt *st, int rc, int ret, const char *doing)
{
    sqlite3_finalize(st);
    if (!ret && rc != SQLITE_DONE)
        return store_db_fail(s, doing);
    return ret;
}

int store_exec_sql(store_t *s, const char *sql, const char *doing)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return store_db_fail(s, doing);
    }
    return 0;
}

/* One integer from a single-row query, e.g. a PRAGMA. */
int store_query_int(store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_fail(s, sql);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_db_fail(s, sql);
    return 0;
}

/* Turns the connection's first error at open into the sentences of store.h. */
void store_open_error(store_t *s, char *errbuf, const char *doing)
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
    /* Writing follows no link: not the database's (SQLITE_OPEN_NOFOLLOW), nor its WAL's
     * or shared memory's, which SQLite creates beside it and would follow. A link planted
     * in a directory another user can write would have root overwrite its target. */
    bool created = false;
    if (!readonly) {
        const char *const ext[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[4096];
            snprintf(p, sizeof(p), "%s%s", path, ext[i]);
            if (lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode)) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%.200s is a symbolic link; refusing", p);
                goto fail;
            }
        }
        created = lstat(path, &sb) < 0 && errno == ENOENT;
        /* SQLite creates a database 0644 less the umask, and its WAL and shared memory
         * with the database's mode: a new one is created here, empty (SQLite's new
         * database), 0640 at most, before the WAL exists. By descriptor: a chmod by
         * name after SQLite's create could follow a link swapped in meanwhile. */
        if (created && strcmp(path, ":memory:")) {
            int fd =
                open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TAPIR_FILE_MODE);
            if (fd < 0 && errno != EEXIST) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create %s: %s", path, strerror(errno));
                goto fail;
            }
            if (fd >= 0 && fchmod(fd, TAPIR_FILE_MODE & ~tapir_umask()) < 0) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot set the mode of %s: %s", path,
                         strerror(errno));
                close(fd);
                goto fail;
            }
            if (fd >= 0)
                close(fd);
        }
    }
    int flags = readonly ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW;
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
    if (store_query_int(s, "PRAGMA user_version", &version) < 0 ||
        store_query_int(s, "PRAGMA application_id", &app_id) < 0) {
        store_open_error(s, errbuf, "reading the header");
        goto fail;
    }
    if (app_id != 0 && app_id != STORE_APPLICATION_ID) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: not a tapir database (application_id %#llx)", path,
                 (unsigned long long)app_id);
        goto fail;
    }
    s->version = version;
    if (readonly) {
        if (version == 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: not a tapir database (no schema)", path);
            goto fail;
        }
        /* Check the schema pages are readable now rather than on the first query. */
        int64_t n;
        if (store_query_int(s, "SELECT count(*) FROM sqlite_master", &n) < 0) {
            store_open_error(s, errbuf, "reading the schema");
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
    if (store_query_int(s, "PRAGMA journal_mode = WAL", &ignored) < 0 ||
        store_exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                       "setting pragmas") < 0) {
        store_open_error(s, errbuf, "switching to WAL mode");
        goto fail;
    }
    /* Take the write lock, create or migrate the schema and write one row: proves now,
     * not at the first window, that no other writer holds the file and that we can write. */
    if (store_exec_sql(s, "BEGIN IMMEDIATE", "locking") < 0) {
        store_open_error(s, errbuf, "locking");
        goto fail;
    }
    if (store_query_int(s, "PRAGMA user_version", &version) < 0) {
        store_open_error(s, errbuf, "reading the schema version");
        goto fail_rollback;
    }
    if (store_schema_migrate(s, version, errbuf) < 0)
        goto fail_rollback;
    s->version = STORE_SCHEMA_VERSION;
    if (store_exec_sql(s, "COMMIT", "committing the schema") < 0) {
        store_open_error(s, errbuf, "committing the schema");
        goto fail_rollback;
    }
    if (store_write_prepare(s) < 0) {
        store_open_error(s, errbuf, "preparing statements");
        goto fail;
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
