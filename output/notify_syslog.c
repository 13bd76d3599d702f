/*
 * notify_syslog.c — --syslog: one line per incident event through syslog(3), which on
 * a systemd host is the journal, elsewhere rsyslog or whatever listens on /dev/log.
 * The line is key=value pairs (logfmt: a value with a space or a quote is quoted), so
 * a SIEM or `journalctl -t tapir | grep category=synflood` reads it without a parser of
 * its own:
 *
 *   event=alert incident=12 ip=192.0.2.7 side=source category=synflood detector=rate
 *   direction=inbound severity=1 score=4.2 threshold=1 sensor=gw1
 *   time=2026-01-01T00:07:00.000Z why="syn_out 45120 (baseline 3.2)"
 *
 * Priority: LOG_CRIT for severity 1, LOG_ERR for 2, LOG_WARNING otherwise; LOG_NOTICE
 * for end, ban and unban. On its own queue and thread like the others, since syslog(3)
 * blocks when the socket's reader stalls. Rejected: writing RFC 5424 datagrams to
 * /dev/log ourselves (the C library already reconnects after a journald restart).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "json.h"
#include "notify_int.h"
#include "timeutil.h"

struct facility_name {
    const char *name;
    int facility;
};

static const struct facility_name facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

struct slog {
    int facility;
    const char *sensor; /* --sensor or the host name, when the alert has none; borrowed */
};

/* key=value, quoted when the value has a space, a quote, '=' or nothing. */
static void kv(char *buf, size_t len, size_t *u, const char *key, const char *v)
{
    if (*u >= len)
        return;
    bool quote = !*v || strpbrk(v, " \"=\\");
    int w = snprintf(buf + *u, len - *u, "%s%s=%s", *u ? " " : "", key, quote ? "\"" : "");
    *u += w > 0 ? (size_t)w : 0;
    for (; *v && *u + 3 < len; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == '"' || ch == '\\')
            buf[(*u)++] = '\\';
        buf[(*u)++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    if (quote && *u + 1 < len)
        buf[(*u)++] = '"';
    buf[*u < len ? *u : len - 1] = '\0';
}

static enum notify_result syslog_send(void *ctx, const struct notify_job *j, char *err,
                                      size_t errlen)
{
    (void)err;
    (void)errlen;
    struct slog *s = ctx;
    const struct alert *a = &j->al;
    char line[1536], v[64], why[1024];
    size_t u = 0;
    line[0] = '\0';
    kv(line, sizeof(line), &u, "event", notify_action_name(j->action));
    snprintf(v, sizeof(v), "%lld", (long long)a->incident_id);
    kv(line, sizeof(line), &u, "incident", v);
    kv(line, sizeof(line), &u, "ip", alert_ip_str(a, v, sizeof(v)));
    kv(line, sizeof(line), &u, "side", alert_side_name(a->side));
    kv(line, sizeof(line), &u, "category", alert_category_name(a->category));
    kv(line, sizeof(line), &u, "detector", alert_detector_name(a->detector));
    kv(line, sizeof(line), &u, "direction", alert_direction_name(a->direction));
    snprintf(v, sizeof(v), "%d", a->severity);
    kv(line, sizeof(line), &u, "severity", v);
    notify_format_real(a->score, v, sizeof(v));
    kv(line, sizeof(line), &u, "score", v);
    notify_format_real(a->threshold, v, sizeof(v));
    kv(line, sizeof(line), &u, "threshold", v);
    if (a->sensor[0] || (s->sensor && s->sensor[0]))
        kv(line, sizeof(line), &u, "sensor", a->sensor[0] ? a->sensor : s->sensor);
    kv(line, sizeof(line), &u, "time", tapir_iso8601(a->timestamp_us, v, sizeof(v)));
    notify_format_why(a, ", ", why, sizeof(why));
    if (why[0])
        kv(line, sizeof(line), &u, "why", why);
    int prio = j->action != NOTIFY_ALERT ? LOG_NOTICE
               : a->severity == 1        ? LOG_CRIT
               : a->severity == 2        ? LOG_ERR
                                         : LOG_WARNING;
    syslog(s->facility | prio, "%s", line);
    return NOTIFY_SENT;
}

static void syslog_destroy(void *ctx)
{
    closelog();
    free(ctx);
}

int notify_syslog_create(const struct output_config *c, struct notify_transport *t, char *errbuf)
{
    if (!c->syslog) {
        if (c->syslog_facility) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--syslog-facility needs --syslog");
            return -1;
        }
        return 0;
    }
    int facility = -1;
    const char *name = c->syslog_facility ? c->syslog_facility : "daemon";
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (!strcmp(facilities[i].name, name))
            facility = facilities[i].facility;
    if (facility < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--syslog-facility: '%.40s' is not daemon, user or local0 .. local7", name);
        return -1;
    }
    struct slog *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    s->facility = facility;
    s->sensor = c->sensor_name;
    openlog("tapir", LOG_PID | LOG_NDELAY, facility);
    *t = (struct notify_transport){
        .name = "syslog", .ctx = s, .send = syslog_send, .destroy = syslog_destroy};
    return 1;
}
