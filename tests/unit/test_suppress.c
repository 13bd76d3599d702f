/* Unit tests: suppressions — durations, the suppressions table (add, expiry, listing,
 * refusals), the CIDR alert query (a prefix returns the alerts inside it), and the
 * output set's filter (database suppressions after a poll, the static file, overlap,
 * expiry). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "output.h"
#include "rules.h"
#include "store.h"

#define T0   1700000000000000ULL
#define HOUR 3600000000ULL

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static void add_alert(store_t *s, const char *cidr)
{
    struct alert a;
    unsigned len;
    memset(&a, 0, sizeof(a));
    CHECK_EQ(rules_parse_cidr(cidr, &a.ip, &len), 0);
    a.prefix_len = (uint8_t)len;
    a.side = len == 128 ? ALERT_SIDE_SOURCE : ALERT_SIDE_PREFIX;
    a.event_type = "alert";
    a.timestamp_us = T0;
    a.window_start_us = T0 - 60000000;
    a.window_end_us = T0;
    a.score = 0.9;
    a.threshold = 0.6;
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
}

static int64_t count_ip(store_t *s, const char *ip)
{
    struct store_alert_filter f = {.ip = ip};
    int64_t n = -1;
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    return n;
}

TEST(durations)
{
    uint64_t us;
    CHECK_EQ(store_parse_duration("90s", &us), 0);
    CHECK_EQ(us, 90000000ULL);
    CHECK_EQ(store_parse_duration("15m", &us), 0);
    CHECK_EQ(us, 900000000ULL);
    CHECK_EQ(store_parse_duration("8h", &us), 0);
    CHECK_EQ(us, 8 * HOUR);
    CHECK_EQ(store_parse_duration("7d", &us), 0);
    CHECK_EQ(us, 7 * 24 * HOUR);
    CHECK_EQ(store_parse_duration("2w", &us), 0);
    CHECK_EQ(us, 14 * 24 * HOUR);
    CHECK_EQ(store_parse_duration("3600", &us), 0);
    CHECK_EQ(us, HOUR);
    const char *bad[] = {"",       "0", "0s",  "-1h", "1y",
                         "1hh",    "h", " 1h", "1h ", "99999999999999999999",
                         "10000w", NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_EQ(store_parse_duration(bad[i], &us), -1);
}

TEST(table_and_cidr_query)
{
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(tmp_path("s.db"), err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ(store_window_begin(s), 0);
    add_alert(s, "192.0.2.7");
    add_alert(s, "192.0.2.200");
    add_alert(s, "192.0.2.0/24");
    add_alert(s, "198.51.100.1");
    add_alert(s, "2001:db8::5");
    CHECK_EQ(store_window_commit(s), 0);
    /* A prefix: itself and everything inside it; a bare IP: exactly that one. */
    CHECK_EQ(count_ip(s, "192.0.2.0/24"), 3);
    CHECK_EQ(count_ip(s, "192.0.2.0/25"), 1); /* the /24 is not inside the /25 */
    CHECK_EQ(count_ip(s, "192.0.0.0/16"), 3);
    CHECK_EQ(count_ip(s, "0.0.0.0/0"), 4);
    CHECK_EQ(count_ip(s, "2001:db8::/32"), 1);
    CHECK_EQ(count_ip(s, "192.0.2.7"), 1);

    int64_t id, marked;
    /* Refusals. */
    CHECK_EQ(store_suppress_add(s, "192.0.2.300", "r", T0, 0, "t", &id, &marked), -1);
    CHECK_EQ(store_suppress_add(s, "192.0.2.7", "", T0, 0, "t", &id, &marked), -1);
    CHECK_EQ(store_suppress_add(s, "192.0.2.7", "r", T0, T0, "t", &id, &marked), -1);
    char longr[STORE_MAX_REASON + 2];
    memset(longr, 'x', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    CHECK_EQ(store_suppress_add(s, "192.0.2.7", longr, T0, 0, "t", &id, &marked), -1);
    /* A network: host bits cleared, the stored alerts inside marked. */
    CHECK_EQ(store_suppress_add(s, "192.0.2.77/24", "lab", T0, T0 + HOUR, "t", &id, &marked), 0);
    CHECK_EQ(id, 1);
    CHECK_EQ(marked, 3);
    struct store_alert_filter f = {.status = "suppressed"};
    int64_t n;
    CHECK_EQ(store_alerts_count(s, &f, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(store_suppress_add(s, "2001:db8::5", "forever", T0, 0, "t", &id, &marked), 0);
    CHECK_EQ(marked, 1);
    json_t *arr;
    CHECK_EQ(store_suppressions_list(s, false, T0 + 2 * HOUR, &arr), 0);
    CHECK_EQ(json_array_size(arr), 1); /* the /24 expired */
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "network")), "2001:db8::5");
    CHECK(json_is_null(json_object_get(json_array_get(arr, 0), "expires")));
    json_decref(arr);
    /* Ending one: gone from the ones in force, kept as history; twice is not found. */
    CHECK_EQ(store_suppression_end(s, 2, T0 + HOUR), 0);
    CHECK_EQ(store_suppression_end(s, 2, T0 + HOUR), STORE_ENOTFOUND);
    CHECK_EQ(store_suppression_end(s, 9, T0 + HOUR), STORE_ENOTFOUND);
    CHECK_EQ(store_suppressions_list(s, false, T0 + 2 * HOUR, &arr), 0);
    CHECK_EQ(json_array_size(arr), 0);
    json_decref(arr);
    CHECK_EQ(store_suppressions_list(s, true, T0 + 2 * HOUR, &arr), 0);
    CHECK_EQ(json_array_size(arr), 2);
    CHECK(json_is_false(json_object_get(json_array_get(arr, 1), "active")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 1), "network")),
              "192.0.2.0/24");
    json_decref(arr);
    store_close(s);
    /* Read-only: listing works, adding is refused. */
    s = store_open_readonly(tmp_path("s.db"), err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ(store_suppress_add(s, "192.0.2.8", "r", T0, 0, "t", &id, &marked), -1);
    CHECK_EQ(store_suppressions_list(s, false, T0, &arr), 0);
    CHECK_EQ(json_array_size(arr), 2);
    json_decref(arr);
    CHECK_EQ(store_suppression_end(s, 1, T0), -1);
    store_close(s);
}

static bool supp(const output_t *o, const char *cidr, uint64_t now)
{
    struct ip_addr ip;
    unsigned len;
    CHECK_EQ(rules_parse_cidr(cidr, &ip, &len), 0);
    return output_suppressed(o, &ip, (uint8_t)len, now);
}

TEST(output_filter)
{
    char err[TAPIR_ERRBUF_SIZE];
    const char *dir = tmp_path("rules");
    char path[160];
    CHECK_EQ(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/suppress", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("198.51.100.0/24  # partner scanner\n", fp);
    fclose(fp);
    struct output_config c = {.db_path = tmp_path("o.db"), .rules_dir = dir};
    output_t *o = output_create(&c, err);
    CHECK(o != NULL);
    if (!o) {
        printf("  %s\n", err);
        return;
    }
    uint64_t now = output_suppress_now(o);
    CHECK(now > 0);
    /* The static file: an address inside, and a prefix holding one of its hosts. */
    CHECK(supp(o, "198.51.100.9", now));
    CHECK(supp(o, "198.51.100.0/24", now));
    CHECK(supp(o, "198.51.0.0/16", now)); /* overlaps */
    CHECK(!supp(o, "198.51.101.1", now));
    /* A database suppression counts once polled (reopen polls at once, as SIGHUP). */
    int64_t id, marked;
    CHECK_EQ(store_suppress_add(output_store(o), "203.0.113.7", "vendor", now, now + HOUR, "t", &id,
                                &marked),
             0);
    CHECK(!supp(o, "203.0.113.7", now));
    uint64_t gen = output_suppress_generation(o);
    output_reopen(o);
    CHECK(output_suppress_generation(o) != gen); /* read again: the blocklist looks */
    now = output_suppress_now(o);
    CHECK(supp(o, "203.0.113.7", now));
    CHECK(supp(o, "203.0.113.0/24", now)); /* a prefix holding it */
    CHECK(!supp(o, "203.0.113.8", now));
    CHECK(!supp(o, "203.0.113.7", now + HOUR)); /* expired */
    /* SIGHUP (output_reopen) reads the static file again; a bad one keeps the old. */
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs("2001:db8::/32\n", fp);
        fclose(fp);
    }
    output_reopen(o);
    CHECK(supp(o, "2001:db8::1", now));
    CHECK(!supp(o, "198.51.100.9", now));
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs("garbage\n", fp);
        fclose(fp);
    }
    output_reopen(o);
    CHECK(supp(o, "2001:db8::1", now));
    output_destroy(o);
    /* A bad static file is refused at start with the file and line. */
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("# ok\nnot-a-network\n", fp);
    fclose(fp);
    err[0] = '\0';
    CHECK(output_create(&c, err) == NULL);
    CHECK(strstr(err, "suppress:2") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-suppress.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(durations);
    RUN(table_and_cidr_query);
    RUN(output_filter);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
