/*
 * sink_alert_log.c — the JSON alert log (alert_log.h) as a sink: one line per alert,
 * after the store's commit, and one error line per window (not per alert) when lines
 * could not be written. SIGHUP reopens the file logrotate moved.
 *
 * Rejected: writing each line as the alert is raised, inside the window: a crash
 * between the line and the commit would leave a logged alert the database never had.
 */
#include <stdlib.h>

#include "alert_log.h"
#include "log.h"
#include "output.h"

struct log_sink {
    alert_log_t *log;
    size_t tried, failed; /* this window's lines */
};

static int log_sink_alert(void *self, struct alert *al)
{
    struct log_sink *s = self;
    s->tried++;
    if (alert_log_write(s->log, al) < 0) {
        s->failed++;
        return -1;
    }
    return 0;
}

static int log_sink_window_end(void *self, const struct output_window *ow)
{
    (void)ow;
    struct log_sink *s = self;
    if (s->failed)
        log_error("alert log: %zu of %zu lines not written: %s", s->failed, s->tried,
                  alert_log_errmsg(s->log));
    s->tried = s->failed = 0;
    return 0;
}

static void log_sink_reopen(void *self)
{
    struct log_sink *s = self;
    if (alert_log_reopen(s->log) < 0)
        log_error("alert log: %s", alert_log_errmsg(s->log));
}

static void log_sink_destroy(void *self)
{
    struct log_sink *s = self;
    alert_log_close(s->log);
    free(s);
}

int output_alert_log_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                          char *errbuf)
{
    (void)o;
    if (!c->alert_log_path)
        return 0;
    struct log_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s)
        return -1;
    if (!(s->log = alert_log_open(c->alert_log_path, errbuf))) {
        free(s);
        return -1;
    }
    *k = (struct output_sink){
        .name = "alert-log",
        .self = s,
        .alert = log_sink_alert,
        .window_end = log_sink_window_end,
        .reopen = log_sink_reopen,
        .destroy = log_sink_destroy,
    };
    return 1;
}
