/*
 * output.c — the set of sinks a run writes to, and the one place that orders them.
 *
 * The analyzer reports each window's events once, to the set; the set hands each to
 * every sink that has the callback, in the order of the constructor table below. The
 * order that matters is between durable and other sinks: a durable sink (SQLite) gets
 * the alerts as they are raised, inside the window's transaction; the others get a copy
 * kept here, only after the durable sinks' window_end committed (or failed: the lines
 * are still written, as before the interface existed). So a line in the alert log is
 * always in the database too, and no sink has to know about another.
 *
 * Rejected: a sink list the analyzer walks itself, or each sink kept in its own field
 * of the analyzer (how it was): every new sink then edits the middle of the pipeline,
 * and the commit-before-log rule would be written again at every call site.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "output.h"

/* Every sink, in the order they are called (OUTPUT_SINKS in output.h). */
#define SINK_ENTRY(fn) fn,
static const output_sink_create_fn sink_table[] = {OUTPUT_SINKS(SINK_ENTRY)};
#define N_SINK_TYPES (sizeof(sink_table) / sizeof(sink_table[0]))
#define MAX_METRICS  8 /* metric sources (threads' counters) */

struct metrics_src {
    output_metrics_fn fn;
    void *ctx;
};

struct output {
    struct output_sink sinks[N_SINK_TYPES];
    size_t n;
    bool hosts;               /* some sink has host */
    bool deferred;            /* some non-durable sink has alert */
    struct alert *pend;       /* the window's alerts for the non-durable sinks */
    size_t *pend_off;         /* where each one's features start in pend_raw */
    size_t pend_n, pend_cap;  /* alerts */
    double *pend_raw;         /* their vectors, copied (al->features is borrowed) */
    size_t raw_used, raw_cap; /* doubles */
    struct metrics_src met[MAX_METRICS];
    int n_met;
};

void *output_sink_state(size_t size, char *errbuf)
{
    void *p = calloc(1, size);
    if (!p)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory: %zu bytes for a sink", size);
    return p;
}

output_t *output_create(const struct output_config *c, char *errbuf)
{
    output_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < N_SINK_TYPES; i++) {
        struct output_sink *s = &o->sinks[o->n];
        int made = sink_table[i](c, o, s, errbuf);
        if (made < 0)
            goto fail;
        if (made == 0) {
            memset(s, 0, sizeof(*s));
            continue;
        }
        o->n++;
        if (s->host)
            o->hosts = true;
        if (s->alert && !s->durable)
            o->deferred = true;
    }
    return o;
fail:
    output_destroy(o);
    return NULL;
}

void output_destroy(output_t *o)
{
    if (!o)
        return;
    for (size_t i = o->n; i-- > 0;) {
        if (o->sinks[i].destroy)
            o->sinks[i].destroy(o->sinks[i].self);
    }
    free(o->pend);
    free(o->pend_off);
    free(o->pend_raw);
    free(o);
}

int output_start(output_t *o, struct event_base *base, char *errbuf)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].start && o->sinks[i].start(o->sinks[i].self, base, errbuf) < 0)
            return -1;
    return 0;
}

store_t *output_store(const output_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].durable && o->sinks[i].store)
            return o->sinks[i].store;
    return NULL;
}

void output_window_begin(output_t *o, const struct output_window *ow)
{
    o->pend_n = 0;
    o->raw_used = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].window_begin)
            o->sinks[i].window_begin(o->sinks[i].self, ow);
}

bool output_wants_hosts(const output_t *o)
{
    return o->hosts;
}

void output_host(output_t *o, const struct output_window *ow, const struct ip_addr *ip,
                 const struct geo_info *geo, double score)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].host)
            o->sinks[i].host(o->sinks[i].self, ow, ip, geo, score);
}

void output_source_vector(output_t *o, const struct window *w, const struct ip_addr *ip,
                          const double *raw, int n)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].source_vector)
            o->sinks[i].source_vector(o->sinks[i].self, w, ip, raw, n);
}

void output_scored(output_t *o, const struct window *w, const struct output_score *s)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].scored)
            o->sinks[i].scored(o->sinks[i].self, w, s);
}

/* Keeps a copy of al and its vector for delivery after the commit. Out of memory, the
 * alert is not delivered to the non-durable sinks (it was counted and stored). */
static void keep_alert(output_t *o, const struct alert *al)
{
    size_t nf = al->n_features > 0 ? (size_t)al->n_features : 0;
    if (o->pend_n == o->pend_cap) {
        size_t nc = o->pend_cap ? o->pend_cap * 2 : 16;
        struct alert *np = realloc(o->pend, nc * sizeof(*np));
        if (np)
            o->pend = np;
        size_t *noff = realloc(o->pend_off, nc * sizeof(*noff));
        if (noff)
            o->pend_off = noff;
        if (!np || !noff)
            return;
        o->pend_cap = nc;
    }
    if (o->raw_used + nf > o->raw_cap) {
        size_t nc = o->raw_cap ? o->raw_cap : 1024;
        while (nc < o->raw_used + nf)
            nc *= 2;
        double *nr = realloc(o->pend_raw, nc * sizeof(*nr));
        if (!nr)
            return;
        o->pend_raw = nr;
        o->raw_cap = nc;
    }
    if (nf)
        memcpy(o->pend_raw + o->raw_used, al->features, nf * sizeof(double));
    o->pend[o->pend_n] = *al;
    o->pend_off[o->pend_n] = o->raw_used;
    o->pend_n++;
    o->raw_used += nf;
}

void output_alert(output_t *o, struct alert *al)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].durable && o->sinks[i].alert)
            o->sinks[i].alert(o->sinks[i].self, al);
    if (o->deferred)
        keep_alert(o, al);
}

void output_window_end(output_t *o, const struct output_window *ow, struct output_errors *err)
{
    memset(err, 0, sizeof(*err));
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].durable && o->sinks[i].window_end &&
            o->sinks[i].window_end(o->sinks[i].self, ow) < 0)
            err->windows_lost = 1;
    for (size_t k = 0; k < o->pend_n; k++) {
        struct alert *al = &o->pend[k];
        al->features = o->pend_raw + o->pend_off[k];
        for (size_t i = 0; i < o->n; i++)
            if (!o->sinks[i].durable && o->sinks[i].alert &&
                o->sinks[i].alert(o->sinks[i].self, al) < 0)
                err->alerts_lost++;
    }
    for (size_t i = 0; i < o->n; i++)
        if (!o->sinks[i].durable && o->sinks[i].window_end)
            o->sinks[i].window_end(o->sinks[i].self, ow);
    o->pend_n = 0;
    o->raw_used = 0;
}

uint64_t output_alert_now(output_t *o, struct alert *al)
{
    /* A window of its own for the durable sinks' transaction: no hosts, no scores, no
     * retention (seq 1 skips it), only this alert. */
    struct window w;
    memset(&w, 0, sizeof(w));
    w.start_us = al->window_start_us;
    w.end_us = al->window_end_us;
    w.seq = 1;
    struct output_window ow = {&w, false, 0, true};
    uint64_t lost = 0;
    for (size_t i = 0; i < o->n; i++) {
        struct output_sink *s = &o->sinks[i];
        if (!s->durable || !s->alert)
            continue;
        if (s->window_begin)
            s->window_begin(s->self, &ow);
        s->alert(s->self, al);
        if (s->window_end && s->window_end(s->self, &ow) < 0)
            lost++;
    }
    for (size_t i = 0; i < o->n; i++)
        if (!o->sinks[i].durable && o->sinks[i].alert &&
            o->sinks[i].alert(o->sinks[i].self, al) < 0)
            lost++;
    return lost;
}

void output_model(output_t *o, const struct output_model *m)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].model)
            o->sinks[i].model(o->sinks[i].self, m);
}

void output_reopen(output_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].reopen)
            o->sinks[i].reopen(o->sinks[i].self);
}

void output_finish_run(output_t *o, const struct output_run_totals *t)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].finish_run)
            o->sinks[i].finish_run(o->sinks[i].self, t);
}

int output_add_metrics(output_t *o, output_metrics_fn fn, void *ctx)
{
    if (o->n_met >= MAX_METRICS)
        return -1;
    o->met[o->n_met].fn = fn;
    o->met[o->n_met].ctx = ctx;
    o->n_met++;
    return 0;
}

void output_write_metrics(void *ctx, struct evbuffer *out)
{
    output_t *o = ctx;
    for (int i = 0; i < o->n_met; i++)
        o->met[i].fn(o->met[i].ctx, out);
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].metrics)
            o->sinks[i].metrics(o->sinks[i].self, out);
}
