/*
 * test_notify.c — the notification sink's parts without a network: the bounded queue's
 * accounting (sent + failed + dropped = offered), its retries, the secret files it
 * refuses (directory, FIFO without hanging, readable by others, empty), the settings it
 * refuses, and the sink itself with a command hook: /metrics lines, notify_event.
 * The real receivers are in tests/e2e/notifications.sh and notify_storm.sh.
 */
#include <event2/buffer.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "notify_int.h"
#include "output.h"
#include "sink_notify.h"

static char tmpdir[64];

/* A transport that takes 20 ms per send and fails the first `fail_first` sends. */
struct slow {
    atomic_int sends;
    int fail_first;
};

static enum notify_result slow_send(void *ctx, const struct notify_job *j, char *err, size_t errlen)
{
    (void)j;
    struct slow *s = ctx;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    int n = atomic_fetch_add(&s->sends, 1);
    if (n < s->fail_first) {
        snprintf(err, errlen, "test failure %d", n);
        return NOTIFY_RETRY;
    }
    return NOTIFY_SENT;
}

static struct alert test_alert(void)
{
    struct alert a;
    memset(&a, 0, sizeof(a));
    a.ip.b[15] = 7; /* ::7, whatever: the hook gets its text */
    a.prefix_len = 128;
    a.side = ALERT_SIDE_SOURCE;
    a.category = ALERT_CATEGORY_PORTSCAN;
    a.event_type = "alert";
    a.n_top = 1;
    snprintf(a.top[0].name, sizeof(a.top[0].name), "dst_ports");
    a.top[0].value = 430.196694207105;
    a.top[0].baseline = 1.20000004768372;
    return a;
}

TEST(queue_accounts_every_notification)
{
    struct slow s = {0};
    struct notify_transport t = {.name = "slow", .ctx = &s, .send = slow_send};
    char errbuf[TAPIR_ERRBUF_SIZE];
    notify_queue_t *q = notify_queue_create(&t, 4, 1, errbuf);
    CHECK(q != NULL);
    if (!q)
        return;
    struct alert a = test_alert();
    int refused = 0;
    for (int i = 0; i < 40; i++)
        refused += notify_queue_push(q, NOTIFY_ALERT, &a) < 0;
    CHECK_GE(refused, 30); /* 4 slots, 20 ms a send: most of a burst is dropped */
    struct notify_stats st;
    notify_queue_destroy(q, &st);
    CHECK_EQ(st.dropped, (uint64_t)refused);
    CHECK_EQ(st.sent + st.failed + st.dropped, 40);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.sent, (uint64_t)atomic_load(&s.sends));
}

TEST(queue_retries_with_backoff)
{
    struct slow s = {.fail_first = 1};
    struct notify_transport t = {.name = "flaky", .ctx = &s, .send = slow_send};
    char errbuf[TAPIR_ERRBUF_SIZE];
    notify_queue_t *q = notify_queue_create(&t, 4, 3, errbuf);
    CHECK(q != NULL);
    if (!q)
        return;
    struct alert a = test_alert();
    CHECK_EQ(notify_queue_push(q, NOTIFY_ALERT, &a), 0);
    struct notify_stats st;
    for (int i = 0; i < 300; i++) { /* the retry comes after 1 s */
        notify_queue_stats(q, &st);
        if (st.sent)
            break;
        usleep(10000);
    }
    notify_queue_destroy(q, &st);
    CHECK_EQ(st.sent, 1);
    CHECK_EQ(st.retries, 1);
    CHECK_EQ(st.failed, 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

TEST(secret_files)
{
    char path[128], buf[64], errbuf[TAPIR_ERRBUF_SIZE];
    /* A good one: the first line, trailing blanks cut. */
    snprintf(path, sizeof(path), "%s/good", tmpdir);
    write_file(path, "s3cret \t\nsecond line\n", 0600);
    CHECK_EQ(notify_read_secret(path, "--x", buf, sizeof(buf), errbuf), 0);
    CHECK_STR(buf, "s3cret");
    /* Readable by every user. */
    snprintf(path, sizeof(path), "%s/open", tmpdir);
    write_file(path, "s3cret\n", 0644);
    CHECK_EQ(notify_read_secret(path, "--x", buf, sizeof(buf), errbuf), -1);
    CHECK(strstr(errbuf, "every user") != NULL);
    /* Empty. */
    snprintf(path, sizeof(path), "%s/empty", tmpdir);
    write_file(path, "\n", 0600);
    CHECK_EQ(notify_read_secret(path, "--x", buf, sizeof(buf), errbuf), -1);
    CHECK(strstr(errbuf, "empty") != NULL);
    /* A directory. */
    CHECK_EQ(notify_read_secret(tmpdir, "--x", buf, sizeof(buf), errbuf), -1);
    CHECK(strstr(errbuf, "not a regular file") != NULL);
    /* A FIFO nobody writes to: refused at once, no hang. */
    snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    CHECK_EQ(notify_read_secret(path, "--x", buf, sizeof(buf), errbuf), -1);
    CHECK(strstr(errbuf, "not a regular file") != NULL);
    /* Missing. */
    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    CHECK_EQ(notify_read_secret(path, "--x", buf, sizeof(buf), errbuf), -1);
    CHECK(strstr(errbuf, "cannot open") != NULL);
}

TEST(settings_refused)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    struct output_sink k;
    struct output_config c;
    memset(&c, 0, sizeof(c));
    c.notify_email = "a@example.org";
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), -1);
    CHECK(strstr(errbuf, "--smtp-url") != NULL);
    memset(&c, 0, sizeof(c));
    c.notify_webhook = "ftp://example.org/";
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), -1);
    CHECK(strstr(errbuf, "http://") != NULL);
    memset(&c, 0, sizeof(c));
    c.syslog = true;
    c.syslog_facility = "kern";
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), -1);
    CHECK(strstr(errbuf, "local0") != NULL);
    memset(&c, 0, sizeof(c));
    c.notify_exec = "notify.sh";
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), -1);
    CHECK(strstr(errbuf, "absolute") != NULL);
    memset(&c, 0, sizeof(c));
    c.smtp_from = "a@example.org"; /* without a transport */
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), -1);
    /* A replay without --notify-replay: no sink, no error. */
    memset(&c, 0, sizeof(c));
    c.notify_exec = "/bin/true";
    c.replay = true;
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), 0);
    memset(&c, 0, sizeof(c));
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), 0);
}

TEST(sink_hook_and_metrics)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    struct output_sink k;
    memset(&k, 0, sizeof(k));
    struct output_config c;
    memset(&c, 0, sizeof(c));
    c.notify_exec = "/bin/true";
    struct alert a = test_alert();
    CHECK_EQ(notify_event("ban", &a), 1); /* no sink yet */
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), 1);
    CHECK_EQ(k.alert(k.self, &a), 0);
    a.event_type = "update"; /* never sent */
    CHECK_EQ(k.alert(k.self, &a), 0);
    a.event_type = "end"; /* not without --notify-end */
    CHECK_EQ(k.alert(k.self, &a), 0);
    CHECK_EQ(notify_event("ban", &a), 0);
    CHECK_EQ(notify_event("unban", &a), 0);
    CHECK_EQ(notify_event("reboot", &a), -1);
    struct evbuffer *out = evbuffer_new();
    char *text = NULL;
    for (int i = 0; i < 500; i++) {
        evbuffer_drain(out, evbuffer_get_length(out));
        k.metrics(k.self, out);
        free(text);
        size_t len = evbuffer_get_length(out);
        text = calloc(1, len + 1);
        evbuffer_copyout(out, text, len);
        if (strstr(text, "tapir_notify_sent_total{transport=\"exec\"} 3\n"))
            break;
        usleep(10000);
    }
    CHECK(text && strstr(text, "tapir_notify_sent_total{transport=\"exec\"} 3\n") != NULL);
    CHECK(text && strstr(text, "# TYPE tapir_notify_dropped_total counter\n") != NULL);
    CHECK(text && strstr(text, "tapir_notify_queued{transport=\"exec\"} 0\n") != NULL);
    free(text);
    evbuffer_free(out);
    k.destroy(k.self);
    CHECK_EQ(notify_event("ban", &a), 1); /* gone */
}

TEST(sink_end_with_notify_end)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    struct output_sink k;
    memset(&k, 0, sizeof(k));
    struct output_config c;
    memset(&c, 0, sizeof(c));
    c.notify_exec = "/bin/true";
    c.notify_end = true;
    CHECK_EQ(output_notify_sink(&c, NULL, &k, errbuf), 1);
    struct alert a = test_alert();
    a.event_type = "end";
    CHECK_EQ(k.alert(k.self, &a), 0);
    a.event_type = "update";
    CHECK_EQ(k.alert(k.self, &a), 0);
    struct evbuffer *out = evbuffer_new();
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        evbuffer_drain(out, evbuffer_get_length(out));
        k.metrics(k.self, out);
        evbuffer_add(out, "", 1);
        seen = strstr((const char *)evbuffer_pullup(out, -1),
                      "tapir_notify_sent_total{transport=\"exec\"} 1\n") != NULL;
        if (!seen)
            usleep(10000);
    }
    CHECK(seen); /* the end, not the update */
    evbuffer_free(out);
    k.destroy(k.self);
}

TEST(formats)
{
    char buf[256];
    notify_format_real(1.20000004768372, buf, sizeof(buf));
    CHECK_STR(buf, "1.2");
    notify_format_real(4512, buf, sizeof(buf));
    CHECK_STR(buf, "4512");
    notify_format_real(0.987244800171501, buf, sizeof(buf));
    CHECK_STR(buf, "0.9872");
    struct alert a = test_alert();
    notify_format_why(&a, ", ", buf, sizeof(buf));
    CHECK_STR(buf, "dst_ports 430.2 (baseline 1.2)");
}

int main(void)
{
    umask(022);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-notify.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(queue_accounts_every_notification);
    RUN(queue_retries_with_backoff);
    RUN(secret_files);
    RUN(settings_refused);
    RUN(sink_hook_and_metrics);
    RUN(sink_end_with_notify_end);
    RUN(formats);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return CHECK_DONE();
}
