/* Unit tests: the SQLite store — schema, one transaction per window, queries, and the
 * failures a user meets: a corrupt file, another writer's lock, a full disk. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    } else {
        printf("  sql_int(%s): %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return v;
}

static char *sql_text(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *v = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            v = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static const char *const names[4] = {"packets_sent", "bytes_sent", "dst_ips", "syn_ratio"};
static const double values[4] = {1200, 3.5e6, 913, 0.97};

static void make_alert(struct alert *a, const char *ip, uint64_t t_us, double score)
{
    memset(a, 0, sizeof(*a));
    a->timestamp_us = t_us;
    a->event_type = "alert";
    ip_addr_parse(ip, &a->ip);
    a->prefix_len = 128;
    a->side = ALERT_SIDE_SOURCE;
    a->score = score;
    a->threshold = 0.6;
    a->window_start_us = t_us - 10000000;
    a->window_end_us = t_us;
    a->n_top = 2;
    snprintf(a->top[0].name, sizeof(a->top[0].name), "dst_ips");
    a->top[0].value = 913;
    a->top[0].baseline = 4.2;
    a->top[0].contribution = 0.61;
    snprintf(a->top[1].name, sizeof(a->top[1].name), "syn_ratio");
    a->top[1].value = 0.97;
    a->top[1].baseline = 0.01;
    a->top[1].contribution = 0.22;
    memcpy(a->geo.country, "NL", 3);
    a->geo.asn = 64500;
    snprintf(a->geo.as_org, sizeof(a->geo.as_org), "Example Net");
    snprintf(a->l7, sizeof(a->l7), "TLS,DNS");
    snprintf(a->model_id, sizeof(a->model_id), "m-1");
    a->n_features = 4;
    a->features = values;
    a->feature_names = names;
}

/* One window: the host, its flagged vector and its alert. */
static int store_one(store_t *s, int64_t run, const char *ip, uint64_t t_us, double score,
                     int64_t *id)
{
    struct alert a;
    make_alert(&a, ip, t_us, score);
    if (store_window_begin(s) < 0 ||
        store_host_seen(s, &a.ip, a.window_start_us, a.window_end_us, &a.geo, score) < 0 ||
        store_window_add(s, run, &a) < 0 || store_alert_add(s, run, &a) < 0)
        return store_window_commit(s) < 0 ? -1 : -2;
    if (id)
        *id = a.id;
    return store_window_commit(s);
}

#define T0 1700000000000000ULL

TEST(schema_create_and_reopen)
{
    const char *p = tmp_path("schema.db");
    char err[TAPIR_ERRBUF_SIZE] = "";
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    store_close(s);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CHECK_EQ(sql_int(p, "PRAGMA application_id"), 0x54415052);
    char *jm = sql_text(p, "PRAGMA journal_mode");
    CHECK_STR(jm, "wal");
    free(jm);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
                        " ('meta','runs','hosts','windows','alerts','models')"),
             6);
    char *v = sql_text(p, "SELECT value FROM meta WHERE key='schema_version'");
    char want[16];
    snprintf(want, sizeof(want), "%d", STORE_SCHEMA_VERSION);
    CHECK_STR(v, want);
    free(v);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                        " name='incidents'"),
             1);
    /* Reopen: no second schema, same version. */
    s = store_open(p, err);
    CHECK(s != NULL);
    int64_t run;
    CHECK_EQ(store_run_begin(s, "tapir run -r a.pcap", "a.pcap", T0, &run), 0);
    CHECK_EQ(store_run_end(s, run, T0 + 5000000, 100, 6400, 3, 1, 0), 0);
    CHECK_EQ(store_run_end(s, 999, T0, 0, 0, 0, 0, 0), STORE_ENOTFOUND);
    CHECK_EQ(store_model_add(s, "m-1", T0, "/var/lib/tapir/model", "a.pcap", 24, 0.62), 0);
    store_close(s);
    CHECK_EQ(sql_int(p, "SELECT packets FROM runs WHERE id=1"), 100);
    CHECK_EQ(sql_int(p, "SELECT exit_status FROM runs WHERE id=1"), 0);
    char *st = sql_text(p, "SELECT started FROM runs WHERE id=1");
    CHECK_STR(st, "2023-11-14T22:13:20.000Z");
    free(st);
    CHECK_EQ(sql_int(p, "SELECT features FROM models WHERE id='m-1'"), 24);
    /* A newer schema is refused for writing but readable. */
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    s = store_open(p, err);
    CHECK(s == NULL);
    CHECK(strstr(err, "newer") != NULL);
    s = store_open_readonly(p, err);
    CHECK(s != NULL);
    store_close(s);
}

TEST(one_transaction_per_window)
{
    const char *p = tmp_path("tx.db");
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t id = 0;
    CHECK_EQ(store_one(s, 0, "192.0.2.7", T0, 0.8, &id), 0);
    CHECK_GT(id, 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 1);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM windows"), 1);
    CHECK_EQ(sql_int(p, "SELECT alerts FROM hosts WHERE ip='192.0.2.7'"), 1);
    char *feat = sql_text(p, "SELECT features FROM windows");
    CHECK_STR(feat, "{\"packets_sent\":1200.0,\"bytes_sent\":3500000.0,\"dst_ips\":913.0,"
                    "\"syn_ratio\":0.97}");
    free(feat);

    /* Uncommitted writes are invisible to another connection, then all appear at once. */
    struct alert a;
    make_alert(&a, "192.0.2.8", T0 + 10000000, 0.7);
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_window_begin(s), -1); /* nested: refused */
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_add(s, 0, &a), 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 1);
    CHECK_EQ(store_window_commit(s), 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 2);

    /* Rollback drops the whole window. */
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_rollback(s), 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 2);

    /* A failing write inside the window: the commit rolls back everything in it. */
    sqlite3 *db;
    sqlite3_open(p, &db);
    CHECK_EQ(sqlite3_exec(db,
                          "CREATE TRIGGER fail_one BEFORE INSERT ON alerts"
                          " WHEN NEW.ip = '203.0.113.66' BEGIN SELECT RAISE(ABORT, 'test');"
                          " END",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    store_close(s); /* the trigger changes the schema: prepared statements re-prepare */
    s = store_open(p, err);
    struct alert bad;
    make_alert(&a, "192.0.2.9", T0 + 20000000, 0.9);
    make_alert(&bad, "203.0.113.66", T0 + 20000000, 0.9);
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_host_seen(s, &a.ip, a.window_start_us, a.window_end_us, &a.geo, 0.9), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_alert_add(s, 0, &bad), -1);
    CHECK_EQ(store_alert_add(s, 0, &a), -1); /* refused after a failure */
    CHECK_EQ(store_window_commit(s), -1);
    CHECK(strstr(store_errmsg(s), "window not stored") != NULL);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 2);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM hosts WHERE ip='192.0.2.9'"), 0);
    /* And the next window works again. */
    CHECK_EQ(store_one(s, 0, "192.0.2.10", T0 + 30000000, 0.75, NULL), 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 3);
    store_close(s);
}

TEST(alert_roundtrip_ack_delete)
{
    const char *p = tmp_path("rt.db");
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t id = 0;
    CHECK_EQ(store_one(s, 0, "2001:db8::5", T0, 0.81, &id), 0);
    json_t *o = NULL;
    CHECK_EQ(store_alert_get(s, id, &o), 0);
    CHECK_STR(json_string_value(json_object_get(o, "ip")), "2001:db8::5");
    CHECK_STR(json_string_value(json_object_get(o, "timestamp")), "2023-11-14T22:13:20.000Z");
    CHECK_STR(json_string_value(json_object_get(o, "window_start")), "2023-11-14T22:13:10.000Z");
    CHECK_STR(json_string_value(json_object_get(o, "status")), "new");
    CHECK_STR(json_string_value(json_object_get(o, "side")), "source");
    CHECK_NEAR(json_real_value(json_object_get(o, "score")), 0.81, 1e-12);
    CHECK_EQ(json_integer_value(json_object_get(o, "alert_id")), id);
    json_t *top = json_object_get(o, "top_features");
    CHECK_EQ(json_array_size(top), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(top, 0), "name")), "dst_ips");
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(top, 0), "baseline")), 4.2, 1e-12);
    json_t *geo = json_object_get(o, "geo");
    CHECK_STR(json_string_value(json_object_get(geo, "country")), "NL");
    CHECK_EQ(json_integer_value(json_object_get(geo, "asn")), 64500);
    CHECK_EQ(json_array_size(json_object_get(o, "l7")), 2);
    CHECK_STR(json_string_value(json_array_get(json_object_get(o, "l7"), 1)), "DNS");
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "model"), "id")), "m-1");
    CHECK(json_is_null(json_object_get(o, "acked_at")));
    json_decref(o);

    CHECK_EQ(store_alert_ack(s, id, T0 + 3600000000ULL), 0);
    CHECK_EQ(store_alert_get(s, id, &o), 0);
    CHECK_STR(json_string_value(json_object_get(o, "status")), "acked");
    CHECK_STR(json_string_value(json_object_get(o, "acked_at")), "2023-11-14T23:13:20.000Z");
    json_decref(o);
    CHECK_EQ(store_alert_ack(s, 7777, T0), STORE_ENOTFOUND);
    CHECK_STR(store_errmsg(s), "no alert with id 7777");
    CHECK_EQ(store_alert_set_status(s, id, "suppressed"), 0);
    CHECK_EQ(store_alert_set_status(s, id, "bogus"), -1);
    CHECK_EQ(store_alert_delete(s, id), 0);
    CHECK_EQ(store_alert_delete(s, id), STORE_ENOTFOUND);
    CHECK_EQ(store_alert_get(s, id, &o), STORE_ENOTFOUND);
    store_close(s);
}

TEST(list_filters_and_hosts)
{
    const char *p = tmp_path("list.db");
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t run;
    CHECK_EQ(store_run_begin(s, "tapir run", "eth0", T0, &run), 0);
    const char *ips[] = {"192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3", "192.0.2.1"};
    const double scores[] = {0.65, 0.9, 0.7, 0.62, 0.95};
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        CHECK_EQ(store_one(s, run, ips[i], T0 + (uint64_t)i * 10000000u, scores[i], &ids[i]), 0);
    /* A prefix alert is stored but is not a host. */
    struct alert pa;
    make_alert(&pa, "198.51.100.0", T0 + 50000000, 0.88);
    pa.side = ALERT_SIDE_PREFIX;
    pa.prefix_len = 120;
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, run, &pa), 0);
    CHECK_EQ(store_window_commit(s), 0);
    CHECK_EQ(sql_int(p, "SELECT prefix_len FROM alerts WHERE ip='198.51.100.0/24'"), 24);

    json_t *arr;
    struct store_alert_filter f = {0};
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 6);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "ip")), "198.51.100.0/24");
    json_decref(arr);
    f.ip = "192.0.2.1";
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 3);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(arr, 0), "alert_id")), ids[4]);
    json_decref(arr);
    f.min_score = 0.69;
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 2);
    json_decref(arr);
    f = (struct store_alert_filter){.since_us = T0 + 20000000};
    int64_t n;
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 4);
    f.limit = 2;
    f.offset = 1;
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(arr, 0), "alert_id")), ids[4]);
    json_decref(arr);
    CHECK_EQ(store_alert_ack(s, ids[1], T0), 0);
    f = (struct store_alert_filter){.status = "acked"};
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 1);
    /* By category and detector: stored as given, filtered exactly. */
    struct alert ca;
    make_alert(&ca, "203.0.113.0", T0 + 60000000, 0.99);
    ca.side = ALERT_SIDE_PREFIX; /* not a host: the host checks below stay as they are */
    ca.prefix_len = 120;
    ca.detector = ALERT_DETECTOR_LIMIT;
    ca.category = ALERT_CATEGORY_SYNFLOOD;
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, run, &ca), 0);
    CHECK_EQ(store_window_commit(s), 0);
    f = (struct store_alert_filter){.category = "synflood"};
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "category")), "synflood");
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "detector")), "limit");
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "event_type")), "alert");
    json_decref(arr);
    f = (struct store_alert_filter){.detector = "forest"};
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 6);
    f.category = "anomaly";
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 6);
    f = (struct store_alert_filter){.detector = "limit", .category = "anomaly"};
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 0);
    json_t *one;
    CHECK_EQ(store_alert_get(s, ca.id, &one), 0);
    CHECK_STR(json_string_value(json_object_get(one, "category")), "synflood");
    json_decref(one);
    CHECK_EQ(store_alert_delete(s, ca.id), 0);

    /* Hosts: upserted per window, ordered by max score. */
    CHECK_EQ(store_hosts_list(s, 0, 0, &arr), 0);
    CHECK_EQ(json_array_size(arr), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "ip")), "192.0.2.1");
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 1), "ip")), "192.0.2.2");
    json_decref(arr);
    json_t *h;
    CHECK_EQ(store_host_get(s, "192.0.2.1", 2, &h), 0);
    CHECK_EQ(json_integer_value(json_object_get(h, "windows_seen")), 3);
    CHECK_EQ(json_integer_value(json_object_get(h, "alerts")), 3);
    CHECK_NEAR(json_real_value(json_object_get(h, "max_score")), 0.95, 1e-12);
    CHECK_NEAR(json_real_value(json_object_get(h, "last_score")), 0.95, 1e-12);
    CHECK_STR(json_string_value(json_object_get(h, "first_seen")), "2023-11-14T22:13:10.000Z");
    CHECK_STR(json_string_value(json_object_get(h, "last_seen")), "2023-11-14T22:14:00.000Z");
    CHECK_EQ(json_array_size(json_object_get(h, "recent_alerts")), 2);
    json_decref(h);
    CHECK_EQ(store_host_get(s, "192.0.2.99", 2, &h), STORE_ENOTFOUND);

    /* Not scored (-1) keeps last_score; unknown geo keeps what was stored. */
    struct ip_addr ip;
    struct geo_info nogeo = {0};
    ip_addr_parse("192.0.2.1", &ip);
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_host_seen(s, &ip, T0 + 90000000, T0 + 100000000, &nogeo, -1), 0);
    CHECK_EQ(store_window_commit(s), 0);
    CHECK_EQ(store_host_get(s, "192.0.2.1", 0, &h), 0);
    CHECK_NEAR(json_real_value(json_object_get(h, "last_score")), 0.95, 1e-12);
    CHECK_STR(json_string_value(json_object_get(json_object_get(h, "geo"), "country")), "NL");
    CHECK_EQ(json_integer_value(json_object_get(h, "windows_seen")), 4);
    json_decref(h);

    /* Retention drops old windows and alerts. */
    CHECK_EQ(store_retention(s, T0 + 25000000), 0);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 3);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM windows"), 2);
    store_close(s);
}

TEST(hostile_strings_stored_clean)
{
    const char *p = tmp_path("hostile.db");
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s)
        return;
    struct alert a;
    make_alert(&a, "192.0.2.50", T0, 0.9);
    snprintf(a.geo.as_org, sizeof(a.geo.as_org), "Evil \"Org\"\n\x01\xff\xfe end");
    snprintf(a.l7, sizeof(a.l7), "TLS,\xc3(bad,\"q\"");
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    json_t *o;
    CHECK_EQ(store_alert_get(s, a.id, &o), 0);
    char *txt = json_dumps(o, 0);
    CHECK(txt != NULL);
    json_t *back = txt ? json_loads(txt, 0, NULL) : NULL;
    CHECK(back != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "geo"), "as_org")),
              "Evil \"Org\"\n\x01\xef\xbf\xbd\xef\xbf\xbd end");
    CHECK_EQ(json_array_size(json_object_get(o, "l7")), 3);
    free(txt);
    json_decref(back);
    json_decref(o);
    store_close(s);
}

TEST(corrupt_and_foreign_files_refused)
{
    char err[TAPIR_ERRBUF_SIZE] = "";
    const char *p = tmp_path("random.db");
    FILE *f = fopen(p, "wb");
    uint32_t x = 12345;
    for (int i = 0; i < 8192; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    fclose(f);
    store_t *s = store_open(p, err);
    CHECK(s == NULL);
    char want[256];
    snprintf(want, sizeof(want), "%s: not a database (file is not a database)", p);
    CHECK_STR(err, want);
    s = store_open_readonly(p, err);
    CHECK(s == NULL);
    CHECK(strstr(err, "not a database") != NULL);

    /* A valid header over garbage pages: corrupt, also refused cleanly. */
    const char *q = tmp_path("corrupt.db");
    s = store_open(q, err);
    CHECK(s != NULL);
    store_close(s);
    int fd = open(q, O_WRONLY);
    char junk[2048];
    memset(junk, 0xa5, sizeof(junk));
    CHECK_EQ(pwrite(fd, junk, sizeof(junk), 100), (long)sizeof(junk));
    close(fd);
    unlink(tmp_path("corrupt.db-wal"));
    unlink(tmp_path("corrupt.db-shm"));
    s = store_open(q, err);
    CHECK(s == NULL);
    CHECK(strstr(err, "corrupt") != NULL || strstr(err, "not a database") != NULL);
    printf("  corrupt: %s\n", err);

    /* Another application's database. */
    const char *o = tmp_path("other.db");
    sqlite3 *db;
    sqlite3_open(o, &db);
    sqlite3_exec(db, "CREATE TABLE songs (title TEXT)", NULL, NULL, NULL);
    sqlite3_close(db);
    s = store_open(o, err);
    CHECK(s == NULL);
    CHECK(strstr(err, "not a tapir database") != NULL);

    /* Read-only on a missing file: no file created. */
    s = store_open_readonly(tmp_path("missing.db"), err);
    CHECK(s == NULL);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK(access(tmp_path("missing.db"), F_OK) != 0);
    /* A directory. */
    s = store_open(tmpdir, err);
    CHECK(s == NULL);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(locked_by_another_writer)
{
    const char *p = tmp_path("locked.db");
    char err[TAPIR_ERRBUF_SIZE] = "";
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    store_close(s);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(p, &db), SQLITE_OK);
    CHECK_EQ(
        sqlite3_exec(db, "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('x', 'y');", NULL, NULL, NULL),
        SQLITE_OK);
    double t = mono_s();
    s = store_open_timeout(p, 300, err);
    double took = mono_s() - t;
    CHECK(s == NULL);
    CHECK(strstr(err, "locked by another writer") != NULL);
    CHECK(took >= 0.25 && took < 3.0);
    printf("  after %.2f s: %s\n", took, err);
    /* Readers are not blocked (WAL). */
    store_t *r = store_open_readonly(p, err);
    CHECK(r != NULL);
    json_t *arr;
    CHECK_EQ(r ? store_hosts_list(r, 0, 0, &arr) : -1, 0);
    if (r)
        json_decref(arr);
    store_close(r);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    s = store_open_timeout(p, 300, err);
    CHECK(s != NULL);

    /* A writer holding the lock while a window commits: clean failure, not a hang. */
    CHECK_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE; DELETE FROM meta WHERE key='x';", NULL, NULL, NULL),
             SQLITE_OK);
    t = mono_s();
    int rc = store_window_begin(s);
    CHECK_EQ(rc, -1);
    CHECK(mono_s() - t < 3.0);
    CHECK(strstr(store_errmsg(s), "locked") != NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(store_one(s, 0, "192.0.2.1", T0, 0.9, NULL), 0);
    store_close(s);

    /* A fresh (rollback-journal) file locked from the start. */
    const char *q = tmp_path("locked2.db");
    sqlite3_open(q, &db);
    sqlite3_exec(db, "BEGIN EXCLUSIVE; CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);", NULL,
                 NULL, NULL);
    s = store_open_timeout(q, 300, err);
    CHECK(s == NULL);
    CHECK(strstr(err, "locked by another writer") != NULL);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

TEST(readonly_refuses_writes)
{
    const char *p = tmp_path("ro.db");
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    store_close(s);
    s = store_open_readonly(p, err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ(store_window_begin(s), -1);
    CHECK(strstr(store_errmsg(s), "read-only") != NULL);
    CHECK_EQ(store_alert_delete(s, 1), -1);
    int64_t run;
    CHECK_EQ(store_run_begin(s, "x", "y", T0, &run), -1);
    store_close(s);
}

/* A version-1 database written by the build before detector and category existed
 * (tests/fixtures/store/README.md): read as it is without a write, then migrated in
 * place with every row kept, old alerts' detector taken from their event_type. */
static char fixture_v1[256];

TEST(migrate_v1)
{
    const char *p = tmp_path("v1.db");
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture_v1, p);
    CHECK_EQ(system(cmd), 0);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), 1);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 12);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE event_type='threshold'"), 2);
    int64_t windows = sql_int(p, "SELECT count(*) FROM windows");
    int64_t hosts = sql_int(p, "SELECT count(*) FROM hosts");
    CHECK(windows > 0 && hosts > 0);
    char err[TAPIR_ERRBUF_SIZE] = "";

    /* Read-only (a `tapir alerts` before the sensor has run): the file is not changed,
     * the missing columns read as the migration will write them. */
    store_t *s = store_open_readonly(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    json_t *arr;
    struct store_alert_filter f = {.detector = "limit"};
    CHECK_EQ(store_alerts_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "category")), "anomaly");
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "event_type")), "alert");
    json_decref(arr);
    json_t *one;
    CHECK_EQ(store_alert_get(s, 1, &one), 0);
    CHECK_STR(json_string_value(json_object_get(one, "detector")), "forest");
    json_decref(one);
    store_close(s);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), 1);

    /* Read-write: migrated in place. */
    s = store_open(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    f = (struct store_alert_filter){.detector = "forest", .category = "anomaly"};
    int64_t n;
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 10);
    /* New alerts go in beside the old ones. */
    struct alert a;
    make_alert(&a, "192.0.2.7", T0, 0.9); /* a host the fixture has */
    a.category = ALERT_CATEGORY_TUNNEL;
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    store_close(s);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    char *v = sql_text(p, "SELECT value FROM meta WHERE key='schema_version'");
    char want[16];
    snprintf(want, sizeof(want), "%d", STORE_SCHEMA_VERSION);
    CHECK_STR(v, want);
    free(v);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 13);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE detector='limit' AND id IN (5, 10)"), 2);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE detector='forest' AND id <= 12"), 10);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE event_type='alert'"), 13);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE category='anomaly'"), 12);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE category='tunnel'"), 1);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM windows"), windows);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM hosts"), hosts);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name IN"
                        " ('alerts_category', 'alerts_detector')"),
             2);
    /* Opening again migrates nothing more. */
    s = store_open(p, err);
    CHECK(s != NULL);
    store_close(s);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), 13);
}

/* An incident's events: the alert and update rows name it, its row follows the latest
 * event, the end writes the row only; ids go on from the largest. */
TEST(incident_rows)
{
    const char *p = tmp_path("inc.db");
    char err[TAPIR_ERRBUF_SIZE] = "";
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    int64_t max = -1;
    CHECK_EQ(store_incident_max_id(s, &max), 0);
    CHECK_EQ(max, 0);
    struct alert a;
    make_alert(&a, "192.0.2.7", T0, 0.8);
    a.category = ALERT_CATEGORY_PORTSCAN;
    a.direction = ALERT_DIRECTION_INBOUND;
    a.severity = 2;
    snprintf(a.sensor, sizeof(a.sensor), "gw1");
    a.incident_id = 7;
    a.incident = (struct alert_incident){.id = 7,
                                         .start_us = T0 - 10000000,
                                         .last_us = T0,
                                         .windows = 1,
                                         .alerts = 1,
                                         .detectors = 1u << 1,
                                         .severity = 2,
                                         .peak_score = 0.8,
                                         .direction = ALERT_DIRECTION_INBOUND};
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_window_add(s, 0, &a), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    a.event_type = "update";
    a.timestamp_us = a.window_end_us = T0 + 10000000;
    a.window_start_us = T0;
    a.score = 0.9;
    a.incident.last_us = T0 + 10000000;
    a.incident.windows = 2;
    a.incident.alerts = 3;
    a.incident.detectors |= 1u << 0;
    a.incident.peak_score = 0.9;
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_window_add(s, 0, &a), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    json_t *arr = NULL;
    struct store_alert_filter f = {.category = "portscan"};
    CHECK_EQ(store_incidents_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 1);
    json_t *o = json_array_get(arr, 0);
    CHECK_EQ(json_integer_value(json_object_get(o, "incident_id")), 7);
    CHECK_STR(json_string_value(json_object_get(o, "status")), "open");
    CHECK_STR(json_string_value(json_object_get(o, "direction")), "inbound");
    CHECK_STR(json_string_value(json_object_get(o, "sensor")), "gw1");
    CHECK_EQ(json_integer_value(json_object_get(o, "windows")), 2);
    CHECK_EQ(json_integer_value(json_object_get(o, "duration_s")), 20);
    CHECK_EQ(json_array_size(json_object_get(o, "detectors")), 2);
    json_decref(arr);
    /* The end: no alert row, no flagged window; the incident row closes. */
    a.event_type = "end";
    a.incident.end_us = T0 + 30000000;
    a.id = 0;
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_window_add(s, 0, &a), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    CHECK_EQ(a.id, 0);
    CHECK_EQ(store_incident_get(s, 7, 0, &o), 0);
    CHECK_STR(json_string_value(json_object_get(o, "status")), "ended");
    CHECK_EQ(json_array_size(json_object_get(o, "alerts")), 2);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(o, "alerts"), 1), "event_type")),
              "update");
    json_decref(o);
    CHECK_EQ(store_incident_get(s, 8, 0, &o), STORE_ENOTFOUND);
    f = (struct store_alert_filter){.ip = "192.0.2.8"};
    CHECK_EQ(store_incidents_list(s, &f, &arr), 0);
    CHECK_EQ(json_array_size(arr), 0);
    json_decref(arr);
    CHECK_EQ(store_incident_max_id(s, &max), 0);
    CHECK_EQ(max, 7);
    store_close(s);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE incident_id = 7"), 2);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM windows"), 2);
    CHECK_EQ(sql_int(p, "SELECT ended_us FROM incidents WHERE id = 7"), (int64_t)(T0 + 30000000));
    CHECK_EQ(sql_int(p, "SELECT alerts FROM incidents WHERE id = 7"), 3);
}

/* A version-2 database written by main at e1c1dee (tests/fixtures/store/README.md):
 * read as it is, then migrated in place to version 3 with every row kept. */
static char fixture_v2[256];

TEST(migrate_v2)
{
    const char *p = tmp_path("v2.db");
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture_v2, p);
    CHECK_EQ(system(cmd), 0);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), 2);
    int64_t alerts = sql_int(p, "SELECT count(*) FROM alerts");
    int64_t windows = sql_int(p, "SELECT count(*) FROM windows");
    CHECK_EQ(alerts, 12);
    char err[TAPIR_ERRBUF_SIZE] = "";
    store_t *s = store_open_readonly(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    json_t *arr;
    CHECK_EQ(store_alerts_list(s, NULL, &arr), 0);
    CHECK_EQ(json_array_size(arr), 12);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "direction")), "unknown");
    CHECK(json_is_null(json_object_get(json_array_get(arr, 0), "incident_id")));
    json_decref(arr);
    CHECK_EQ(store_incidents_list(s, NULL, &arr), 0);
    CHECK_EQ(json_array_size(arr), 0);
    json_decref(arr);
    store_close(s);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), 2);

    s = store_open(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    int64_t max = -1;
    CHECK_EQ(store_incident_max_id(s, &max), 0);
    CHECK_EQ(max, 0);
    struct alert a;
    make_alert(&a, "192.0.2.7", T0, 0.9);
    a.incident_id = 1;
    a.incident = (struct alert_incident){.id = 1,
                                         .start_us = T0 - 10000000,
                                         .last_us = T0,
                                         .windows = 1,
                                         .alerts = 1,
                                         .severity = 3,
                                         .peak_score = 0.9};
    CHECK_EQ(store_window_begin(s), 0);
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    CHECK_EQ(store_window_commit(s), 0);
    store_close(s);
    CHECK_EQ(sql_int(p, "PRAGMA user_version"), 3);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts"), alerts + 1);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM windows"), windows);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM alerts WHERE incident_id IS NULL AND"
                        " direction = 'unknown'"),
             alerts);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM incidents"), 1);
    CHECK_EQ(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name IN"
                        " ('alerts_incident', 'incidents_started', 'incidents_ip')"),
             3);
}

TEST(disk_full_rolls_back)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/small", tmpdir);
    mkdir(dir, 0700);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0) {
        printf("  skipped: cannot mount a small tmpfs (%s)\n", strerror(errno));
        return;
    }
    char p[160];
    snprintf(p, sizeof(p), "%s/full.db", dir);
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(p, err);
    CHECK(s != NULL);
    if (!s) {
        printf("  %s\n", err);
        umount(dir);
        return;
    }
    /* 40-feature vectors, three per window, fill 1 MiB within a few dozen windows. */
    enum { NF = 40 };
    static char namebuf[NF][40];
    static const char *nm[NF];
    static double val[NF];
    for (int i = 0; i < NF; i++) {
        snprintf(namebuf[i], sizeof(namebuf[i]), "feature_with_a_long_name_%03d", i);
        nm[i] = namebuf[i];
        val[i] = i * 1.2345678901;
    }
    int committed = 0, failed = 0;
    for (int w = 0; w < 400 && !failed; w++) {
        struct alert a;
        char ip[32];
        snprintf(ip, sizeof(ip), "192.0.%d.%d", w / 250, w % 250 + 1);
        make_alert(&a, ip, T0 + (uint64_t)w * 10000000u, 0.9);
        a.n_features = NF;
        a.features = val;
        a.feature_names = nm;
        int rc = store_window_begin(s);
        for (int k = 0; rc == 0 && k < 3; k++)
            rc = store_window_add(s, 0, &a);
        if (rc == 0)
            rc = store_alert_add(s, 0, &a);
        if (store_window_commit(s) == 0 && rc == 0)
            committed++;
        else
            failed = 1;
    }
    CHECK(failed);
    CHECK_GT(committed, 0);
    printf("  %d windows committed, then: %s\n", committed, store_errmsg(s));
    store_close(s);
    /* What was committed is intact and complete. */
    sqlite3 *db;
    CHECK_EQ(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM windows)",
                       -1, &st, NULL);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), committed);
    CHECK_EQ(sqlite3_column_int(st, 1), committed * 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    s = store_open_readonly(p, err);
    CHECK(s != NULL);
    store_close(s);
    CHECK_EQ(umount(dir), 0);
}

TEST(parse_time)
{
    uint64_t us = 0;
    CHECK_EQ(tapir_parse_time("1700000000", &us), 0);
    CHECK_EQ(us, 1700000000000000ULL);
    CHECK_EQ(tapir_parse_time("1700000000.25", &us), 0);
    CHECK_EQ(us, 1700000000250000ULL);
    CHECK_EQ(tapir_parse_time("2023-11-14T22:13:20Z", &us), 0);
    CHECK_EQ(us, 1700000000000000ULL);
    CHECK_EQ(tapir_parse_time("2023-11-14T22:13:20.123Z", &us), 0);
    CHECK_EQ(us, 1700000000123000ULL);
    CHECK_EQ(tapir_parse_time("2023-11-14 23:13:20+01:00", &us), 0);
    CHECK_EQ(us, 1700000000000000ULL);
    CHECK_EQ(tapir_parse_time("2023-11-14", &us), 0);
    CHECK_EQ(us, 1699920000000000ULL);
    CHECK_EQ(tapir_parse_time("2023-13-14", &us), -1);
    CHECK_EQ(tapir_parse_time("2026-02-31", &us), -1);
    CHECK_EQ(tapir_parse_time("2026-04-31T10:00Z", &us), -1);
    CHECK_EQ(tapir_parse_time("2024-02-29", &us), 0);
    CHECK_EQ(tapir_parse_time("2023-11-14T22:13:20+99:99", &us), -1);
    CHECK_EQ(tapir_parse_time("2023-11-14T22:13:20+05:75", &us), -1);
    CHECK_EQ(tapir_parse_time("2016-12-31T23:59:60Z", &us), 0);
    CHECK_EQ(tapir_parse_time("yesterday", &us), -1);
    CHECK_EQ(tapir_parse_time("", &us), -1);
    CHECK_EQ(tapir_parse_time("2023-11-14T22:13:20Zjunk", &us), -1);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-store.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(schema_create_and_reopen);
    RUN(one_transaction_per_window);
    RUN(alert_roundtrip_ack_delete);
    RUN(list_filters_and_hosts);
    RUN(hostile_strings_stored_clean);
    RUN(corrupt_and_foreign_files_refused);
    RUN(locked_by_another_writer);
    RUN(readonly_refuses_writes);
    const char *top = getenv("TAPIR_TOP");
    snprintf(fixture_v1, sizeof(fixture_v1), "%s/tests/fixtures/store/v1.db", top ? top : ".");
    RUN(migrate_v1);
    snprintf(fixture_v2, sizeof(fixture_v2), "%s/tests/fixtures/store/v2.db", top ? top : ".");
    RUN(migrate_v2);
    RUN(incident_rows);
    RUN(disk_full_rolls_back);
    RUN(parse_time);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
