/*
 * sink_store.c — the SQLite store (store.h) as the durable sink: one run row, one
 * transaction per scoring window (hosts, flagged windows, alerts), the models scored
 * with, and retention by packet time.
 *
 * It is the only durable sink: output.c gives it the alerts inside the window and the
 * others only after its commit. Retention runs after the commit, every 16 windows, in
 * its own transaction, so a slow delete never holds a window's rows back. Rejected:
 * retention on a wall-clock timer, which would make a replay's database depend on how
 * fast it ran.
 */
#include <stdlib.h>

#include "log.h"
#include "output.h"
#include "timeutil.h"

struct store_sink {
    store_t *store;
    int64_t run_id; /* this process's row in runs */
    bool in_tx;     /* inside the window's transaction */
    bool lost;      /* the window's transaction could not begin: report it lost */
};

static void store_sink_window_begin(void *self, const struct output_window *ow)
{
    struct store_sink *s = self;
    s->in_tx = false;
    s->lost = false;
    if (!ow->scoring && !ow->alerting)
        return;
    if (store_window_begin(s->store) < 0) {
        log_error("store: %s", store_errmsg(s->store));
        s->lost = true;
    } else {
        s->in_tx = true;
    }
}

static void store_sink_host(void *self, const struct output_window *ow, const struct ip_addr *ip,
                            const struct geo_info *geo, double score)
{
    struct store_sink *s = self;
    if (s->in_tx)
        store_host_seen(s->store, ip, ow->w->start_us, ow->w->end_us, geo, score);
}

static int store_sink_alert(void *self, struct alert *al)
{
    struct store_sink *s = self;
    if (!s->in_tx)
        return 0;
    store_window_add(s->store, s->run_id, al);
    if (store_alert_add(s->store, s->run_id, al) < 0)
        log_error("store: %s", store_errmsg(s->store));
    return 0;
}

static int store_sink_window_end(void *self, const struct output_window *ow)
{
    struct store_sink *s = self;
    if (!s->in_tx)
        return s->lost ? -1 : 0;
    s->in_tx = false;
    int r = 0;
    if (store_window_commit(s->store) < 0) {
        log_error("store: window not saved: %s", store_errmsg(s->store));
        r = -1;
    }
    const struct window *w = ow->w;
    if (ow->retention_us && w->seq % 16 == 0 && w->end_us > ow->retention_us &&
        store_retention(s->store, w->end_us - ow->retention_us) < 0)
        log_error("store: retention: %s", store_errmsg(s->store));
    return r;
}

static void store_sink_model(void *self, const struct output_model *m)
{
    struct store_sink *s = self;
    store_model_add(s->store, m->id, m->created_us, m->path, m->trained_on, m->n_features,
                    m->threshold);
}

static void store_sink_finish_run(void *self, const struct output_run_totals *t)
{
    struct store_sink *s = self;
    if (store_run_end(s->store, s->run_id, tapir_wall_us(), t->packets, t->bytes, t->windows,
                      t->alerts, t->exit_status) < 0)
        log_error("store: %s", store_errmsg(s->store));
}

static void store_sink_destroy(void *self)
{
    struct store_sink *s = self;
    store_close(s->store);
    free(s);
}

int output_store_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                      char *errbuf)
{
    (void)o;
    if (!c->db_path)
        return 0;
    struct store_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s)
        return -1;
    if (!(s->store = store_open(c->db_path, errbuf)))
        goto fail;
    if (store_run_begin(s->store, c->cmdline ? c->cmdline : "", c->source ? c->source : "",
                        tapir_wall_us(), &s->run_id) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s", store_errmsg(s->store));
        goto fail;
    }
    if (c->model)
        store_sink_model(s, c->model);
    *k = (struct output_sink){
        .name = "store",
        .self = s,
        .durable = true,
        .store = s->store,
        .window_begin = store_sink_window_begin,
        .host = store_sink_host,
        .alert = store_sink_alert,
        .window_end = store_sink_window_end,
        .model = store_sink_model,
        .finish_run = store_sink_finish_run,
        .destroy = store_sink_destroy,
    };
    return 1;
fail:
    store_close(s->store);
    free(s);
    return -1;
}
