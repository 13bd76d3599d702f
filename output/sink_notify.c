/*
 * sink_notify.c — notifications to people and scripts (docs/notifications.md): a
 * webhook, email, a command hook and syslog, each on its own bounded queue and worker
 * thread (notify_queue.c), so none of them can hold up the analyzer or another.
 *
 * What is sent: an incident's opening (event_type "alert", or an alert from before
 * incidents existed, incident_id 0: each such alert is an opened incident), and its end
 * with --notify-end; never its updates, which come once a window while an attack goes
 * on and would bury the opening. The blocklist adds ban and unban through notify_event.
 * The sink is not durable: it sees a window's alerts after the database committed them.
 *
 * A replay (-r) sends nothing unless --notify-replay: an analyst re-reading last week's
 * capture does not want to page the on-call, and says so when they do. Counters per
 * transport (sent, failed, dropped, retries, queued) are in /metrics and in one line
 * per transport at exit.
 *
 * Rejected: calling the transports from the alert callback: a receiver that never
 * answers would hold every alert for the 10 s timeout, and the window queue behind the
 * analyzer would fill and drop windows. With the queues, a storm of 6,695 incidents
 * against a 1 s webhook, a dead SMTP server and a hanging hook (tests/e2e/notify_storm.sh)
 * raised the same alerts as a run without notifications and ended in 10 s, 5 of them
 * the exit drain.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "notify_int.h"
#include "output.h"
#include "sink_notify.h"

enum { T_WEBHOOK, T_EMAIL, T_EXEC, T_SYSLOG, T_COUNT };

struct notify_sink {
    notify_queue_t *q[T_COUNT]; /* NULL: not configured */
    bool notify_end;            /* --notify-end */
};

/* The one notification sink of the run, for notify_event (analyzer thread). */
static struct notify_sink *active_sink;

/* --- text helpers (notify_int.h) ----------------------------------------------------- */

void notify_format_real(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.4g", v);
}

void notify_format_why(const struct alert *a, const char *sep, char *buf, size_t len)
{
    size_t u = 0;
    buf[0] = '\0';
    int n = a->n_top < 0 ? 0 : a->n_top > ALERT_TOP_FEATURES ? ALERT_TOP_FEATURES : a->n_top;
    for (int i = 0; i < n && u < len; i++) {
        char v[32], b[32], name[sizeof(a->top[i].name) + 1];
        size_t k = 0;
        for (; k < sizeof(a->top[i].name) && a->top[i].name[k]; k++)
            name[k] = (unsigned char)a->top[i].name[k] < 0x20 ? ' ' : a->top[i].name[k];
        name[k] = '\0';
        notify_format_real(a->top[i].value, v, sizeof(v));
        notify_format_real(a->top[i].baseline, b, sizeof(b));
        int w = snprintf(buf + u, len - u, "%s%s %s (baseline %s)", i ? sep : "", name, v, b);
        if (w < 0)
            break;
        u += (size_t)w;
    }
}

int notify_read_secret(const char *path, const char *option, char *buf, size_t len, char *errbuf)
{
    /* O_NONBLOCK: a FIFO must not hang the start until someone writes to it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: cannot open %.200s: %s", option, path,
                 strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: %.200s is not a regular file", option, path);
        close(fd);
        return -1;
    }
    if (sb.st_mode & (S_IROTH | S_IWOTH)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "%s: %.80s is readable or writable by every user (mode %04o); run: "
                 "chmod 600 %.80s",
                 option, path, (unsigned)(sb.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    char extra;
    bool longer = n == (ssize_t)(len - 1) && read(fd, &extra, 1) == 1;
    close(fd);
    if (n < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: cannot read %.200s: %s", option, path,
                 strerror(e));
        return -1;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    size_t l = strlen(buf);
    while (l && (buf[l - 1] == ' ' || buf[l - 1] == '\t'))
        buf[--l] = '\0';
    if (!l || (longer && strlen(buf) == (size_t)n)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: %.200s %s", option, path,
                 l ? "holds a secret that is too long" : "is empty");
        memset(buf, 0, len);
        return -1;
    }
    return 0;
}

/* --- the sink ------------------------------------------------------------------------ */

static int enqueue(struct notify_sink *s, enum notify_action action, const struct alert *a,
                   bool all)
{
    int r = 1;
    for (int i = 0; i < T_COUNT; i++) {
        if (!s->q[i] || (!all && i != T_EXEC && i != T_SYSLOG))
            continue;
        if (notify_queue_push(s->q[i], action, a) < 0)
            r = -1;
        else if (r == 1)
            r = 0;
    }
    return r;
}

static int notify_sink_alert(void *self, struct alert *al)
{
    struct notify_sink *s = self;
    const char *ev = al->event_type ? al->event_type : "alert";
    if (!strcmp(ev, "alert"))
        enqueue(s, NOTIFY_ALERT, al, true);
    else if (!strcmp(ev, "end") && s->notify_end)
        enqueue(s, NOTIFY_END, al, true);
    return 0; /* a drop is the sink's own count, not a lost alert of the run */
}

int notify_event(const char *action, const struct alert *a)
{
    struct notify_sink *s = active_sink;
    enum notify_action act;
    if (!strcmp(action, "ban"))
        act = NOTIFY_BAN;
    else if (!strcmp(action, "unban"))
        act = NOTIFY_UNBAN;
    else if (!strcmp(action, "alert"))
        act = NOTIFY_ALERT;
    else if (!strcmp(action, "end"))
        act = NOTIFY_END;
    else
        return -1;
    if (!s)
        return 1;
    return enqueue(s, act, a, false);
}

static void notify_sink_metrics(void *self, struct evbuffer *out)
{
    struct notify_sink *s = self;
    struct notify_stats st[T_COUNT];
    for (int i = 0; i < T_COUNT; i++)
        if (s->q[i])
            notify_queue_stats(s->q[i], &st[i]);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } series[] = {
        {"tapir_notify_sent_total", "counter", "Notifications delivered, by transport.",
         offsetof(struct notify_stats, sent)},
        {"tapir_notify_failed_total", "counter",
         "Notifications given up after their attempts, by transport.",
         offsetof(struct notify_stats, failed)},
        {"tapir_notify_dropped_total", "counter",
         "Notifications dropped because their queue was full (or at exit), by transport.",
         offsetof(struct notify_stats, dropped)},
        {"tapir_notify_retries_total", "counter", "Attempts after a failed one, by transport.",
         offsetof(struct notify_stats, retries)},
        {"tapir_notify_queued", "gauge", "Notifications waiting in the queue, by transport.",
         offsetof(struct notify_stats, queued)},
    };
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", series[k].name, series[k].help,
                            series[k].name, series[k].type);
        for (int i = 0; i < T_COUNT; i++) {
            if (!s->q[i])
                continue;
            uint64_t v;
            memcpy(&v, (const char *)&st[i] + series[k].off, sizeof(v));
            evbuffer_add_printf(out, "%s{transport=\"%s\"} %" PRIu64 "\n", series[k].name,
                                notify_queue_name(s->q[i]), v);
        }
    }
}

static void notify_sink_destroy(void *self)
{
    struct notify_sink *s = self;
    if (active_sink == s)
        active_sink = NULL;
    for (int i = 0; i < T_COUNT; i++) {
        if (!s->q[i])
            continue;
        char name[16];
        snprintf(name, sizeof(name), "%s", notify_queue_name(s->q[i]));
        struct notify_stats st;
        notify_queue_destroy(s->q[i], &st); /* drains first */
        s->q[i] = NULL;
        log_info("notify: %s: %" PRIu64 " sent, %" PRIu64 " failed, %" PRIu64 " dropped, %" PRIu64
                 " retries",
                 name, st.sent, st.failed, st.dropped, st.retries);
    }
    curl_global_cleanup();
    free(s);
}

static bool any_option(const struct output_config *c)
{
    return c->notify_webhook || c->notify_email || c->notify_exec || c->syslog;
}

int output_notify_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                       char *errbuf)
{
    (void)o;
    if (!any_option(c)) {
        if (c->notify_webhook_secret || c->smtp_url || c->smtp_from || c->smtp_credentials ||
            c->syslog_facility) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "--notify-webhook-secret-file, --smtp-* and --syslog-facility need "
                     "--notify-webhook, --notify-email or --syslog");
            return -1;
        }
        return 0;
    }
    if (c->replay && !c->notify_replay) {
        log_warn("notify: a replay (-r) sends no notifications; add --notify-replay to send "
                 "them");
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "notify: cannot start libcurl: %s", tapir_curl_error());
        return -1;
    }
    struct notify_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s) {
        curl_global_cleanup();
        return -1;
    }
    s->notify_end = c->notify_end;
    int (*const make[T_COUNT])(const struct output_config *, struct notify_transport *, char *) = {
        notify_webhook_create, notify_smtp_create, notify_exec_create, notify_syslog_create};
    uint32_t cap = c->notify_queue ? c->notify_queue : 1024;
    uint32_t attempts = c->notify_attempts ? c->notify_attempts : 3;
    for (int i = 0; i < T_COUNT; i++) {
        struct notify_transport t;
        int r = make[i](c, &t, errbuf);
        if (r < 0)
            goto fail;
        if (r == 0)
            continue;
        /* syslog(3) does not fail in a way it reports: one attempt. */
        if (!(s->q[i] = notify_queue_create(&t, cap, i == T_SYSLOG ? 1 : attempts, errbuf)))
            goto fail;
    }
    active_sink = s;
    *k = (struct output_sink){
        .name = "notify",
        .self = s,
        .alert = notify_sink_alert,
        .metrics = notify_sink_metrics,
        .destroy = notify_sink_destroy,
    };
    return 1;
fail:
    notify_sink_destroy(s);
    return -1;
}
