/*
 * metrics.c — the Prometheus text format's one shape for a counter or gauge, written by
 * every part that has /metrics lines (the analyzer, the sensor's snapshot in cmd_run).
 *
 * Rejected: a metrics registry with labels and types kept as data: Tapir's lines are a
 * fixed list written at scrape time from counters each thread already keeps, so a
 * printf per metric is all there is to share.
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
