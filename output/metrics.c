/*
 * metrics.c — the Prometheus text format's one shape for a counter or gauge, written by
 * every part that has /metrics lines (the analyzer, the sensor's snapshot in cmd_run).
 *
 * Each part lists its series as a table of (name, type, help, value) filled at scrape
 * time from counters its thread already keeps. Rejected: a metrics registry with
 * labels kept across scrapes: Tapir's lines are a fixed list, so a table per scrape is
 * all there is to share.
 */
#include <event2/buffer.h>
#include <inttypes.h>

#include "output.h"

void output_metric(struct evbuffer *out, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
                        name, v);
}

void output_series_write(struct evbuffer *out, const struct output_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        output_metric(out, s[i].name, s[i].type, s[i].help, s[i].value);
}
