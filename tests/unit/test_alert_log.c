/* Unit tests: the JSON alert log — exact fields, escaping of hostile strings, one line
 * per write, reopen after rotation, and clear errors. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert_log.h"
#include "check.h"
#include "json.h"

static char tmpdir[64];

static void make_alert(struct alert *a)
{
    memset(a, 0, sizeof(*a));
    a->id = 42;
    a->timestamp_us = 1700000010123000ULL;
    a->event_type = "alert";
    a->detector = ALERT_DETECTOR_LIMIT;
    a->category = ALERT_CATEGORY_PORTSCAN;
    ip_addr_parse("192.0.2.7", &a->ip);
    a->prefix_len = 128;
    a->side = ALERT_SIDE_SOURCE;
    a->score = 0.73;
    a->threshold = 0.62;
    a->window_start_us = 1700000000000000ULL;
    a->window_end_us = 1700000010000000ULL;
    a->n_top = 1;
    snprintf(a->top[0].name, sizeof(a->top[0].name), "dst_ports");
    a->top[0].value = 1021;
    a->top[0].baseline = 3.5;
    a->top[0].contribution = 0.58;
    memcpy(a->geo.country, "DE", 3);
    a->geo.asn = 64496;
    snprintf(a->geo.as_org, sizeof(a->geo.as_org), "Example AS");
    snprintf(a->l7, sizeof(a->l7), "TLS,DNS");
    snprintf(a->model_id, sizeof(a->model_id), "2023-11-14-a1b2");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* An incident's event: its fields, the incident object, and values at the precision they
 * mean (a float baseline 1.2f as 1.2, an estimate to 6 digits, whole counts exact). */
TEST(incident_event_line)
{
    struct alert a;
    make_alert(&a);
    a.event_type = "update";
    a.incident_id = 5;
    a.severity = 2;
    a.direction = ALERT_DIRECTION_INBOUND;
    snprintf(a.sensor, sizeof(a.sensor), "gw-1");
    a.score = 0.987244800171501;
    a.top[0].value = 430.196694207105;
    a.top[0].baseline = (double)1.2f;
    a.top[0].contribution = 0.544375647769138;
    a.incident = (struct alert_incident){.id = 5,
                                         .start_us = 1699999940000000ULL,
                                         .last_us = 1700000010000000ULL,
                                         .windows = 2,
                                         .alerts = 3,
                                         .detectors = (1u << ALERT_DETECTOR_FOREST) |
                                                      (1u << ALERT_DETECTOR_LIMIT),
                                         .severity = 2,
                                         .peak_score = 0.987244800171501,
                                         .direction = ALERT_DIRECTION_INBOUND};
    char *s = alert_to_json(&a);
    CHECK(strstr(s, "\"event_type\":\"update\",\"alert_id\":42,\"incident_id\":5,") != NULL);
    CHECK(strstr(s, "\"severity\":2,") != NULL);
    CHECK(strstr(s, "\"direction\":\"inbound\",\"sensor\":\"gw-1\",\"score\":0.987245,") != NULL);
    CHECK(strstr(s, "{\"name\":\"dst_ports\",\"value\":430.197,\"baseline\":1.2,"
                    "\"contribution\":0.544376}") != NULL);
    CHECK(
        strstr(s,
               "\"incident\":{\"start\":\"2023-11-14T22:12:20.000Z\",\"last_seen\":"
               "\"2023-11-14T22:13:30.000Z\",\"end\":null,\"duration_s\":70,\"windows\":2,"
               "\"alert_count\":3,\"peak_score\":0.987245,\"detectors\":[\"forest\",\"limit\"]}") !=
        NULL);
    if (!strstr(s, "\"incident\":{"))
        printf("  %s\n", s);
    free(s);
}

TEST(exact_line)
{
    struct alert a;
    make_alert(&a);
    char *s = alert_to_json(&a);
    CHECK_STR(s, "{\"format\":2,\"timestamp\":\"2023-11-14T22:13:30.123Z\",\"event_type\":"
                 "\"alert\",\"alert_id\":42,\"incident_id\":null,\"category\":\"portscan\","
                 "\"detector\":\"limit\",\"severity\":null,\"ip\":\"192.0.2.7\",\"side\":"
                 "\"source\",\"direction\":\"unknown\",\"sensor\":null,\"score\":0.73,"
                 "\"threshold\":0.62,\"window_start\":\"2023-11-14T22:13:20.000Z\","
                 "\"window_end\":\"2023-11-14T22:13:30.000Z\",\"top_features\":[{\"name\":"
                 "\"dst_ports\",\"value\":1021.0,\"baseline\":3.5,\"contribution\":0.58}],"
                 "\"geo\":{\"country\":\"DE\",\"asn\":64496,\"as_org\":\"Example AS\"},"
                 "\"l7\":[\"TLS\",\"DNS\"],\"model\":{\"id\":\"2023-11-14-a1b2\"}}");
    free(s);
}

/* Every detector and category has a name, the name parses back to it, and a bad value
 * never prints garbage. */
TEST(detector_and_category_names)
{
    for (int d = 0; d < ALERT_DETECTOR_COUNT; d++) {
        const char *n = alert_detector_name((enum alert_detector)d);
        CHECK(n && n[0]);
        CHECK_EQ(alert_detector_parse(n), d);
        CHECK(strstr(alert_detector_list(), n) != NULL);
    }
    for (int c = 0; c < ALERT_CATEGORY_COUNT; c++) {
        const char *n = alert_category_name((enum alert_category)c);
        CHECK(n && n[0]);
        CHECK_EQ(alert_category_parse(n), c);
        CHECK(strstr(alert_category_list(), n) != NULL);
    }
    CHECK_STR(alert_detector_name(ALERT_DETECTOR_FOREST), "forest");
    CHECK_STR(alert_detector_name(ALERT_DETECTOR_LIMIT), "limit");
    CHECK_STR(alert_detector_name(ALERT_DETECTOR_DENYLIST), "denylist");
    CHECK_STR(alert_detector_name(ALERT_DETECTOR_RATE), "rate");
    CHECK_STR(alert_category_name(ALERT_CATEGORY_ANOMALY), "anomaly");
    CHECK_STR(alert_category_name(ALERT_CATEGORY_AMPLIFICATION), "amplification");
    CHECK_STR(alert_detector_list(), "forest, limit, denylist, conversation, risk, rate");
    CHECK_EQ(ALERT_CATEGORY_COUNT, 12);
    CHECK_EQ(alert_detector_parse("Forest"), -1);
    CHECK_EQ(alert_category_parse(""), -1);
    CHECK_EQ(alert_category_parse(NULL), -1);
    CHECK_STR(alert_category_name((enum alert_category)99), "anomaly");
    /* A zeroed alert (memset) is the forest's anomaly. */
    struct alert z;
    memset(&z, 0, sizeof(z));
    json_t *o = alert_to_json_obj(&z);
    CHECK_STR(json_string_value(json_object_get(o, "category")), "anomaly");
    CHECK_STR(json_string_value(json_object_get(o, "detector")), "forest");
    CHECK_STR(json_string_value(json_object_get(o, "event_type")), "alert");
    json_decref(o);
}

TEST(unknowns_and_prefixes)
{
    struct alert a;
    make_alert(&a);
    a.id = 0;
    memset(&a.geo, 0, sizeof(a.geo));
    a.l7[0] = '\0';
    a.model_id[0] = '\0';
    a.score = NAN;
    a.side = ALERT_SIDE_PREFIX;
    ip_addr_parse("198.51.100.0", &a.ip);
    a.prefix_len = 96 + 24;
    json_t *o = alert_to_json_obj(&a);
    CHECK_STR(json_string_value(json_object_get(o, "ip")), "198.51.100.0/24");
    CHECK_STR(json_string_value(json_object_get(o, "side")), "prefix");
    CHECK(json_is_null(json_object_get(o, "alert_id")));
    CHECK(json_is_null(json_object_get(o, "score")));
    json_t *geo = json_object_get(o, "geo");
    CHECK(json_is_null(json_object_get(geo, "country")));
    CHECK(json_is_null(json_object_get(geo, "asn")));
    CHECK(json_is_null(json_object_get(geo, "as_org")));
    CHECK_EQ(json_array_size(json_object_get(o, "l7")), 0);
    CHECK(json_is_null(json_object_get(json_object_get(o, "model"), "id")));
    json_decref(o);
    ip_addr_parse("2001:db8:1:2::", &a.ip);
    a.prefix_len = 64;
    char buf[64];
    CHECK_STR(alert_ip_str(&a, buf, sizeof(buf)), "2001:db8:1:2::/64");
}

TEST(hostile_strings)
{
    struct alert a;
    make_alert(&a);
    snprintf(a.geo.as_org, sizeof(a.geo.as_org), "A \"B\" \\ C\nD\r\t\x01\x1f\x7f \xff\xc3 E");
    snprintf(a.l7, sizeof(a.l7), "HTTP,\xe2\x82,\"}],x\n,\xf0\x9f\x90\xbe");
    snprintf(a.top[0].name, sizeof(a.top[0].name), "n\"\xed\xa0\x80");
    char *s = alert_to_json(&a);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(strchr(s, '\n') == NULL);
    CHECK(strchr(s, '\r') == NULL);
    for (const char *p = s; *p; p++)
        CHECK((unsigned char)*p >= 0x20);
    json_error_t e;
    json_t *o = json_loads(s, 0, &e);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "geo"), "as_org")),
              "A \"B\" \\ C\nD\r\t\x01\x1f\x7f \xef\xbf\xbd\xef\xbf\xbd E");
    json_t *l7 = json_object_get(o, "l7");
    CHECK_EQ(json_array_size(l7), 5);
    CHECK_STR(json_string_value(json_array_get(l7, 1)), "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_STR(json_string_value(json_array_get(l7, 2)), "\"}]");
    CHECK_STR(json_string_value(json_array_get(l7, 3)), "x\n");
    CHECK_STR(json_string_value(json_array_get(l7, 4)), "\xf0\x9f\x90\xbe");
    json_decref(o);
    free(s);
}

TEST(log_file_lines_parse)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/alerts.json", tmpdir);
    char err[TAPIR_ERRBUF_SIZE];
    alert_log_t *l = alert_log_open(path, err);
    CHECK(l != NULL);
    if (!l)
        return;
    struct alert a;
    make_alert(&a);
    CHECK_EQ(alert_log_write(l, &a), 0);
    snprintf(a.geo.as_org, sizeof(a.geo.as_org), "evil\n{\"fake\":1}\xff");
    snprintf(a.l7, sizeof(a.l7), "\x01\xc0\xaf");
    a.event_type = "update";
    a.detector = ALERT_DETECTOR_DENYLIST;
    a.category = ALERT_CATEGORY_ANOMALY;
    CHECK_EQ(alert_log_write(l, &a), 0);
    uint64_t lines, errors;
    alert_log_counters(l, &lines, &errors);
    CHECK_EQ(lines, 2);
    CHECK_EQ(errors, 0);
    alert_log_close(l);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);
    char *txt = slurp(path);
    int nl = 0;
    for (char *p = txt; p && *p; p++)
        nl += *p == '\n';
    CHECK_EQ(nl, 2);
    /* Python's json module is the reference parser; every required field must be there. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import json,sys\n"
             "need={\"timestamp\",\"event_type\",\"ip\",\"side\",\"score\",\"threshold\","
             "\"window_start\",\"window_end\",\"top_features\",\"geo\",\"l7\",\"model\","
             "\"alert_id\",\"category\",\"detector\",\"format\",\"incident_id\",\"severity\","
             "\"direction\",\"sensor\"}\n"
             "n=0\n"
             "for line in open(sys.argv[1],encoding=\"utf-8\"):\n"
             "  o=json.loads(line); n+=1\n"
             "  assert set(o)==need, set(o)^need\n"
             "  assert (o[\"category\"],o[\"detector\"]) in "
             "((\"portscan\",\"limit\"),(\"anomaly\",\"denylist\"))\n"
             "  assert set(o[\"geo\"])=={\"country\",\"asn\",\"as_org\"}\n"
             "  assert all(set(f)=={\"name\",\"value\",\"baseline\",\"contribution\"} for f in "
             "o[\"top_features\"])\n"
             "assert n==2\n' %s",
             path);
    if (access("/usr/bin/python3", X_OK) == 0)
        CHECK_EQ(system(cmd), 0);
    else
        printf("  skipped the python check: no /usr/bin/python3\n");
}

TEST(reopen_after_rotation)
{
    char path[128], rotated[140];
    snprintf(path, sizeof(path), "%s/rot.json", tmpdir);
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    char err[TAPIR_ERRBUF_SIZE];
    alert_log_t *l = alert_log_open(path, err);
    CHECK(l != NULL);
    if (!l)
        return;
    struct alert a;
    make_alert(&a);
    CHECK_EQ(alert_log_write(l, &a), 0);
    CHECK_EQ(rename(path, rotated), 0);
    CHECK_EQ(alert_log_write(l, &a), 0); /* still into the rotated file */
    CHECK_EQ(alert_log_reopen(l), 0);
    CHECK_EQ(alert_log_write(l, &a), 0);
    alert_log_close(l);
    char *t = slurp(rotated);
    CHECK_EQ(t ? (long)(strchr(t, '\n') - t) + 1 : 0, (long)(strlen(t ? t : "") / 2));
    t = slurp(path);
    CHECK(t && strchr(t, '\n') == t + strlen(t) - 1);
}

TEST(unwritable_paths)
{
    char err[TAPIR_ERRBUF_SIZE] = "";
    alert_log_t *l = alert_log_open("/nonexistent-tapir-dir/alerts.json", err);
    CHECK(l == NULL);
    CHECK_STR(err, "cannot open alert log /nonexistent-tapir-dir/alerts.json: No such file or "
                   "directory");
    l = alert_log_open(tmpdir, err);
    CHECK(l == NULL);
    CHECK(strstr(err, "Is a directory") != NULL);
    /* A full disk: the write fails, is counted, and says why. */
    l = alert_log_open("/dev/full", err);
    if (!l) {
        printf("  skipped /dev/full: %s\n", err);
        return;
    }
    struct alert a;
    make_alert(&a);
    CHECK_EQ(alert_log_write(l, &a), -1);
    uint64_t lines, errors;
    alert_log_counters(l, &lines, &errors);
    CHECK_EQ(lines, 0);
    CHECK_EQ(errors, 1);
    CHECK(strstr(alert_log_errmsg(l), "No space left") != NULL);
    alert_log_close(l);
    alert_log_close(NULL);
}

int main(void)
{
    umask(022);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-alertlog.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(exact_line);
    RUN(incident_event_line);
    RUN(detector_and_category_names);
    RUN(unknowns_and_prefixes);
    RUN(hostile_strings);
    RUN(log_file_lines_parse);
    RUN(reopen_after_rotation);
    RUN(unwritable_paths);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
