/*
 * store_int.h — private to the store's files (store.c, store_schema.c, store_write.c,
 * store_query.c): the handle's struct and the helpers they share. Nothing outside
 * output/store*.c includes it; the contract is include/store.h.
 */
#ifndef TAPIR_STORE_INT_H
#define TAPIR_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STORE_APPLICATION_ID 0x54415052 /* "TAPR", PRAGMA application_id */

/* The write statements prepared at open (store_write.c holds their SQL). */
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
    ST_INCIDENT,
    ST_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool in_tx;                 /* between store_window_begin and commit/rollback */
    bool tx_failed;             /* a write inside the window failed: commit will roll back */
    int busy_ms;                /* lock wait, milliseconds */
    int64_t version;            /* schema version of the file (after migration) */
    sqlite3_stmt *st[ST_COUNT]; /* NULL for a read-only handle */
    char err[512];
};

/* ---- store.c ---------------------------------------------------------------------- */

/* Sets the message store_errmsg() returns. */
void store_set_err(store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the connection's last error as "PATH: what (while doing)", marks an open
 * window failed, and returns -1. */
int store_db_fail(store_t *s, const char *doing);
/* The end of a walk over st's rows that calls back per row: finalizes st and returns the
 * callback's last value ret when not 0, else 0 when the last step (rc) was SQLITE_DONE, or
 * store_db_fail's -1 (doing). */
int store_each_end(store_t *s, sqlite3_stmt *st, int rc, int ret, const char *doing);
/* Runs text SQL that returns no rows we need. Returns 0 or store_db_fail's -1. */
int store_exec_sql(store_t *s, const char *sql, const char *doing);
/* One integer from a single-row query, e.g. a PRAGMA. Returns 0 or -1. */
int store_query_int(store_t *s, const char *sql, int64_t *out);
/* Turns the connection's error at open into the sentences of store.h, in errbuf
 * (TAPIR_ERRBUF_SIZE). */
void store_open_error(store_t *s, char *errbuf, const char *doing);

/* ---- store_schema.c --------------------------------------------------------------- */

/* Creates (version 0) or migrates the schema to STORE_SCHEMA_VERSION inside the
 * caller's write transaction. Returns 0, or -1 with errbuf filled. */
int store_schema_migrate(store_t *s, int64_t version, char *errbuf);
/* What queries read alerts FROM: the table, or for an older file opened read-only a
 * subquery with the columns it lacks filled in as the migration would fill them. */
const char *store_alerts_from(const store_t *s);
/* False for an older file opened read-only (no incidents table: nothing to list). */
bool store_has_incidents(const store_t *s);

/* ---- store_query.c ---------------------------------------------------------------- */

/* Registers the SQL function tapir_in_net(ip_text, net_text): 1 when the address or
 * prefix ip_text ("192.0.2.7", "198.51.100.0/24") lies inside the network net_text, 0
 * when not, NULL when either does not parse. Idempotent; returns 0 or -1. */
int store_net_function(store_t *s);

/* ---- store_write.c ---------------------------------------------------------------- */

/* Prepares the write statements into s->st. Returns 0, or -1 (see the connection's
 * error; store_close finalizes what was prepared). */
int store_write_prepare(store_t *s);

/* Stamps one row of a writable handle: sql is an UPDATE that binds ?1 = id, ?2 = now_us
 * as ISO-8601 text and ?3 = now_us. 0; STORE_ENOTFOUND ("no NOUN with id N") when it
 * changed no row; or -1 (doing: "acknowledging an alert"). */
int store_stamp_row(store_t *s, const char *sql, int64_t id, uint64_t now_us, const char *noun,
                    const char *doing);

#endif
