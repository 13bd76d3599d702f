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
 *
 * Suppressions are applied here, between the durable and the other sinks, for the same
 * reason: the store keeps a suppressed alert (marked 'suppressed', for the record) and
 * no other sink sees it, so the alert log, notifications and the live blocklist need no
 * code of their own. The store's suppressions table is read again once a second by a
 * timer on the analyzer's loop when anything was written since the last read (a
 * PRAGMA, about 20 us; the read, 0.44 ms for 100 suppressions: store_suppress.c), so a
 * suppression added by `tapir alerts suppress` or the API reaches a running sensor within
 * a second. Rejected: asking the database per alert (a query inside every window's
 * transaction, on the analyzer's critical path) and a notification channel from the
 * writers (SQLite has none across processes; the CLI is another process).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "output.h"
#include "rules.h"
#include "timeutil.h"

/* Every sink, in the order they are called (OUTPUT_SINKS in output.h). */
#define SINK_ENTRY(fn) fn,
static const output_sink_create_fn sink_table[] = {OUTPUT_SINKS(SINK_ENTRY)};
#define N_SINK_TYPES     (sizeof(sink_table) / sizeof(sink_table[0]))
#define MAX_METRICS      8       /* metric sources (threads' counters) */
#define MAX_SUPPRESSIONS 4096    /* database suppressions in force held; more are counted */
#define SUPPRESS_POLL_US 1000000 /* how often the suppressions table is read again */

struct suppression {
    struct ip_addr net;
    uint8_t len;         /* prefix length, 128-bit form */
    uint64_t expires_us; /* wall clock; 0: never */
};

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
    struct suppression *supp;   /* the database's, in force at the last poll */
    size_t n_supp;              /* entries of supp[] */
    uint64_t supp_over;         /* suppressions past MAX_SUPPRESSIONS at the last poll */
    uint64_t supp_now_us;       /* wall clock of the last poll */
    rules_t *supp_static;       /* the rules directory's suppress file, or NULL */
    char *supp_path;            /* its path, or NULL */
    struct event *supp_timer;   /* the poll, on the analyzer's loop */
    uint64_t alerts_suppressed; /* alerts kept from the non-durable sinks */
    uint64_t supp_poll_errors;  /* polls that failed (database busy, ...) */
    uint64_t supp_stamp;        /* store_change_stamp() at the last read */
    bool supp_read;             /* supp[] was read at least once */
    uint64_t supp_gen;          /* bumped whenever supp[] or supp_static is replaced */
};

/* Reads the static suppress file into a new rule set (missing file: empty). */
static rules_t *load_static(const char *path, char *errbuf)
{
    rules_t *r = rules_create();
    if (!r) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    if (rules_load_file(r, RULES_ALLOW, path, true, errbuf) < 0) {
        rules_destroy(r);
        return NULL;
    }
    return r;
}

static int keep_suppression(void *ctx, const struct ip_addr *net, unsigned len, uint64_t expires_us)
{
    output_t *o = ctx;
    if (o->n_supp == MAX_SUPPRESSIONS) {
        o->supp_over++;
        return 0;
    }
    o->supp[o->n_supp++] = (struct suppression){*net, (uint8_t)len, expires_us};
    return 0;
}

/* Reads the suppressions in force from the store. On failure the old set stays. */
static void poll_suppressions(output_t *o)
{
    store_t *s = output_store(o);
    o->supp_now_us = tapir_wall_us();
    if (!s || !o->supp)
        return;
    /* Expiry needs no read (output_suppressed compares with now); a write does. */
    uint64_t stamp = 0;
    if (store_change_stamp(s, &stamp) == 0 && o->supp_read && stamp == o->supp_stamp)
        return;
    size_t old_n = o->n_supp;
    o->supp_gen++; /* read again (even a failed read may have changed supp[]) */
    o->n_supp = 0;
    o->supp_over = 0;
    if (store_each_suppression(s, o->supp_now_us, keep_suppression, o) < 0) {
        if (o->supp_poll_errors++ == 0)
            log_warn("suppressions not read (old ones kept): %s", store_errmsg(s));
        /* Rows read before the failure replaced the first old entries: the set is a
         * mix of the two reads, each entry in force at one of them; the next poll
         * reads again (the stamp is not updated). */
        o->n_supp = old_n > o->n_supp ? old_n : o->n_supp;
        return;
    }
    o->supp_stamp = stamp;
    o->supp_read = true;
    if (o->supp_over && o->n_supp == MAX_SUPPRESSIONS)
        log_warn("%llu suppressions in force past the first %d are ignored",
                 (unsigned long long)o->supp_over, MAX_SUPPRESSIONS);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    poll_suppressions(arg);
}

bool output_suppressed(const output_t *o, const struct ip_addr *ip, uint8_t prefix_len,
                       uint64_t now_us)
{
    if (o->supp_static &&
        (prefix_len == 128 ? rules_allowed(o->supp_static, ip)
                           : rules_overlaps(o->supp_static, RULES_ALLOW, ip, prefix_len)))
        return true;
    for (size_t i = 0; i < o->n_supp; i++) {
        const struct suppression *s = &o->supp[i];
        if (s->expires_us && s->expires_us <= now_us)
            continue;
        /* Overlap: one network holds the other, so both masked to the shorter agree. */
        struct ip_addr a = *ip, b = s->net;
        unsigned len = prefix_len < s->len ? prefix_len : s->len;
        ip_addr_mask(&a, len);
        ip_addr_mask(&b, len);
        if (!ip_addr_cmp(&a, &b))
            return true;
    }
    return false;
}

uint64_t output_suppress_now(const output_t *o)
{
    return o->supp_now_us;
}

uint64_t output_suppress_generation(const output_t *o)
{
    return o->supp_gen;
}

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
    /* The static suppress file first: a bad line refuses the run before any sink
     * opens (no run row begun in the database for a run that never starts). */
    if (c->rules_dir) {
        size_t n = strlen(c->rules_dir) + sizeof("/suppress");
        if (!(o->supp_path = malloc(n))) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
            goto fail;
        }
        snprintf(o->supp_path, n, "%s/suppress", c->rules_dir);
        if (!(o->supp_static = load_static(o->supp_path, errbuf)))
            goto fail;
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
    if (output_store(o) && !(o->supp = calloc(MAX_SUPPRESSIONS, sizeof(*o->supp)))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory for the suppressions");
        goto fail;
    }
    poll_suppressions(o);
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
    if (o->supp_timer)
        event_free(o->supp_timer);
    free(o->supp);
    free(o->supp_path);
    rules_destroy(o->supp_static);
    free(o);
}

int output_start(output_t *o, struct event_base *base, char *errbuf)
{
    if (o->supp) {
        struct timeval tv = {SUPPRESS_POLL_US / 1000000, SUPPRESS_POLL_US % 1000000};
        o->supp_timer = event_new(base, -1, EV_PERSIST, on_poll, o);
        if (!o->supp_timer || event_add(o->supp_timer, &tv) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create the suppressions timer");
            return -1;
        }
    }
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

/* After the durable sinks took al: true when a suppression covers it (its stored row is
 * marked and it is counted), so that no other sink sees it. */
static bool suppress_stored(output_t *o, const struct alert *al)
{
    if (!output_suppressed(o, &al->ip, al->prefix_len, o->supp_now_us))
        return false;
    store_t *s = output_store(o);
    if (s && al->id > 0 && store_alert_set_status(s, al->id, "suppressed") < 0)
        log_error("store: %s", store_errmsg(s));
    o->alerts_suppressed++;
    return true;
}

void output_alert(output_t *o, struct alert *al)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].durable && o->sinks[i].alert)
            o->sinks[i].alert(o->sinks[i].self, al);
    if (suppress_stored(o, al))
        return;
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
    /* A suppressed alert is stored (marked) and goes no further, as in output_alert. */
    if (suppress_stored(o, al))
        return lost;
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
    if (o->supp_path) {
        char errbuf[TAPIR_ERRBUF_SIZE];
        rules_t *r = load_static(o->supp_path, errbuf);
        if (r) {
            rules_destroy(o->supp_static);
            o->supp_static = r;
            o->supp_gen++;
        } else {
            log_error("suppress file not reloaded (old one kept): %s", errbuf);
        }
    }
    poll_suppressions(o);
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
    const struct output_series series[] = {
        {"tapir_alerts_suppressed_total", "counter",
         "Alerts stored as suppressed and kept from the other outputs.", o->alerts_suppressed},
        {"tapir_suppressions_active", "gauge",
         "Database suppressions in force at the last poll (the static file not counted).",
         o->n_supp},
        {"tapir_suppressions_ignored", "gauge",
         "Database suppressions in force past the bound, ignored.", o->supp_over},
        {"tapir_suppression_poll_errors_total", "counter",
         "Reads of the suppressions table that failed.", o->supp_poll_errors},
    };
    output_series_write(out, series, sizeof(series) / sizeof(series[0]));
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].metrics)
            o->sinks[i].metrics(o->sinks[i].self, out);
}
