/*
 * sink_print.c — one ALERT line per alert on stdout, for the person watching a replay:
 * side, IP or prefix, category and the detector that fired ("portscan by limit"), score
 * and threshold, country, and the top features with their usual values. Flushed per
 * line, so a pipe sees alerts as they come.
 *
 * Rejected: the alert log's JSON on stdout: that is what --alert-log - is for; this
 * line is for reading.
 */
#include <stdio.h>

#include "output.h"

static int print_sink_alert(void *self, struct alert *al)
{
    (void)self;
    char ip[64];
    ip_addr_str(&al->ip, ip, sizeof(ip));
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "ALERT %s %s", alert_side_name(al->side), ip);
    if (al->side == ALERT_SIDE_PREFIX)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%u",
                      ip_addr_is_v4(&al->ip) ? al->prefix_len - 96u : al->prefix_len);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %s by %s score %.3f (threshold %.3f)",
                  alert_category_name(al->category), alert_detector_name(al->detector), al->score,
                  al->threshold);
    if (al->geo.country[0])
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %s", al->geo.country);
    for (int i = 0; i < al->n_top && n < (int)sizeof(buf) - 64; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s %s=%.4g (usual %.4g)",
                      i ? "," : " why:", al->top[i].name, al->top[i].value, al->top[i].baseline);
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
