/*
 * sink_print.c — one INCIDENT line per incident on stdout, when it ends, for the person
 * watching a replay: its id and severity, what (category) and who (IP or prefix, side,
 * direction, country), when and for how long, which detectors, and why (the two top
 * features of its latest alert with their usual values), in about 150 characters:
 *   INCIDENT 5 sev 1 synflood 10.0.0.80 (destination, inbound) 2026-01-01T00:10:00Z for
 *   2m (2 windows) by limit; why: syn_in=1486 (usual 1.2), flows_in=1486 (usual 1.2) Flushed per
 * line, so a pipe sees incidents as they end. A replay's open incidents end with the run, so every
 * incident has its line.
 *
 * The demo replay printed 74 ALERT lines, one per IP per window, the same IP up to 13
 * times; it now prints one line per incident. Rejected: a line when an incident opens
 * and another when it ends (twice the lines, and the first says nothing of the
 * duration); and a line per event, which is the alert log (--alert-log -, JSON).
 */
#include <stdio.h>
#include <string.h>

#include "output.h"

/* "45s", "4m", "1h12m": a duration for people. */
static void duration_str(uint64_t us, char *buf, size_t len)
{
    uint64_t s = us / 1000000;
    if (s < 60)
        snprintf(buf, len, "%us", (unsigned)s);
    else if (s < 3600)
        snprintf(buf, len, "%um", (unsigned)(s / 60));
    else
        snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
}

static int print_sink_alert(void *self, struct alert *al)
{
    (void)self;
    if (!al->event_type || strcmp(al->event_type, "end") != 0)
        return 0;
    const struct alert_incident *in = &al->incident;
    char ip[64], start[32], dur[32], det[128];
    ip_addr_str(&al->ip, ip, sizeof(ip));
    char buf[640];
    int n = snprintf(buf, sizeof(buf), "INCIDENT %lld sev %d %s %s", (long long)al->incident_id,
                     in->severity, alert_category_name(al->category), ip);
    if (al->side == ALERT_SIDE_PREFIX)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%u",
                      ip_addr_is_v4(&al->ip) ? al->prefix_len - 96u : al->prefix_len);
    tapir_iso8601(in->start_us, start, sizeof(start));
    char *ms = strstr(start, ".000Z"); /* whole seconds: windows are */
    if (ms)
        memcpy(ms, "Z", 2);
    /* From its first window's start to its last alert (not to the quiet windows after). */
    duration_str(in->last_us > in->start_us ? in->last_us - in->start_us : 0, dur, sizeof(dur));
    n +=
        snprintf(buf + n, sizeof(buf) - (size_t)n, " (%s, %s%s%s) %s for %s (%u window%s) by %s",
                 alert_side_name(al->side),
                 alert_direction_name(in->direction ? in->direction : al->direction),
                 al->geo.country[0] ? ", " : "", al->geo.country, start, dur, in->windows,
                 in->windows == 1 ? "" : "s", alert_detectors_str(in->detectors, det, sizeof(det)));
    /* Its two strongest reasons: the rest is in the alert log and `tapir incidents ID`. */
    for (int i = 0; i < al->n_top && i < 2 && n < (int)sizeof(buf) - 96; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s %s=%.4g (usual %.3g)",
                      i ? "," : "; why:", al->top[i].name, al->top[i].value, al->top[i].baseline);
    printf("%s\n", buf);
    fflush(stdout);
    return 0;
}

int output_print_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                      char *errbuf)
{
    (void)o;
    (void)errbuf;
    if (!c->print_alerts)
        return 0;
    *k = (struct output_sink){.name = "print", .alert = print_sink_alert};
    return 1;
}
