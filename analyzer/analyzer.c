/*
 * analyzer.c — the analyzer thread: one closed window at a time, in order, on a libevent
 * loop; and its lifecycle (create, start, join, destroy), SIGHUP and the heartbeat.
 *
 * The thread runs a libevent loop; the capture thread wakes it with event_active() when
 * a window is queued. The same loop carries the HTTP server (an output sink), SIGHUP
 * (libevent's signal pipe, so nothing runs in a signal handler) and the watchdog's
 * heartbeat timer, so everything the analyzer owns — the model, the baselines, SQLite
 * and every output — is touched by this one thread and needs no lock. Rejected: a
 * condition variable on the window queue, which would need a second thread (and a lock
 * on the store) for HTTP.
 *
 * What happens to a window is in score.c (vectors, scoring pass), judge.c (limits,
 * rules, persistence), explain.c (the alert) and train.c (warm-up, retraining); every
 * alert then goes through analyzer_emit_alert (here): its direction (direction.c) and
 * its incident (incident.c), which decides whether the outputs see it. Where the
 * results go is output.h's business.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer_int.h"
#include "log.h"
#include "notify.h"
#include "timeutil.h"

void analyzer_config_defaults(struct analyzer_config *c)
{
    memset(c, 0, sizeof(*c));
    c->warmup_windows = 10;
    c->contamination = 0.01;
    c->min_pkts = BEHAVIOUR_MIN_PKTS_DEFAULT;
    c->persist_k = 2; /* chosen by make eval: see docs/scaling.md */
    c->persist_n = 3;
    c->scaling = -1;
    c->prefix4 = 24;
    c->prefix6 = 64;
    c->trees = 100;
    c->samples = 256;
    c->seed = 1;
    c->conversations = true;
    c->max_conversations = 65536;
    c->conversation_ttl_h = 2;
    c->incident_quiet = 2;
    c->max_incidents = INCIDENT_TABLE_DEFAULT;
}

/* The rule set from --rules DIR (allowlist, denylist, thresholds) and --allowlist FILE.
 * NULL and errbuf on the first bad line. */
static rules_t *load_rules(const struct analyzer_config *c, char *errbuf)
{
    rules_t *r = rules_create();
    if (!r) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    if ((c->rules_dir && rules_load_dir(r, c->rules_dir, errbuf) < 0) ||
        (c->allowlist_path &&
         rules_load_file(r, RULES_ALLOW, c->allowlist_path, false, errbuf) < 0)) {
        rules_destroy(r);
        return NULL;
    }
    return r;
}

/* An incident ended (quiet windows, eviction, end of the run): its "end" event. */
static void on_incident_end(void *ctx, struct alert *al)
{
    analyzer_t *a = ctx;
    /* An incident evicted by a rate alert between windows: no window's transaction is
     * open to take its end, so it is stored and delivered at once. */
    if (a->between_windows)
        output_alert_now(a->out, al);
    else
        output_alert(a->out, al);
}

bool analyzer_emit_alert(analyzer_t *a, const struct window *w, struct alert *al, uint64_t now_us)
{
    if (al->direction == ALERT_DIRECTION_UNKNOWN && w) {
        uint64_t home, away;
        peers_count(a->peers, w, a->cfg.home_net, &al->ip, al->prefix_len, al->side, &home, &away);
        al->direction =
            incident_direction(rules_allowed(a->cfg.home_net, &al->ip), al->side, home, away);
    }
    if (incident_observe(a->incidents, al, now_us) != INCIDENT_EMIT)
        return false;
    output_alert(a->out, al);
    return true;
}

bool analyzer_emit_alert_now(analyzer_t *a, struct alert *al, uint64_t now_us)
{
    a->between_windows = true;
    enum incident_emit e = incident_observe(a->incidents, al, now_us);
    a->between_windows = false;
    if (e != INCIDENT_EMIT)
        return false;
    output_alert_now(a->out, al);
    return true;
}

/* The run is over: every open incident ends, in a last transaction of its own (the
 * store writes events inside a window). */
static void flush_incidents(analyzer_t *a)
{
    if (!a->incidents || !incident_active(a->incidents))
        return;
    struct window w = {
        .start_us = a->last_end_us, .end_us = a->last_end_us, .seq = a->last_seq + 1};
    struct output_window ow = {&w, false, 0, true};
    struct output_errors oe;
    output_window_begin(a->out, &ow);
    incident_flush(a->incidents, a->last_end_us);
    output_window_end(a->out, &ow, &oe);
    struct incident_stats is;
    incident_get_stats(a->incidents, &is);
    pthread_mutex_lock(&a->st_mu);
    a->st.store_errors += oe.windows_lost;
    a->st.log_errors += oe.alerts_lost;
    a->st.incidents_ended = is.ended;
    a->st.incidents_active = is.active;
    pthread_mutex_unlock(&a->st_mu);
    if (is.evicted)
        log_warn("incidents: %llu closed early because the table of %u was full "
                 "(--max-incidents; tapir_incidents_evicted_total)",
                 (unsigned long long)is.evicted, incident_capacity(a->incidents));
}

analyzer_t *analyzer_create(const struct analyzer_config *c, const struct output_config *oc,
                            wqueue_t *q, char *errbuf)
{
    analyzer_t *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    a->cfg = *c;
    a->q = q;
    a->rng = c->seed ^ 0x616e616cULL;
    pthread_mutex_init(&a->st_mu, NULL);
    for (int s = 0; s < SIDE_COUNT; s++) {
        a->defs[s] = behaviour_defs((enum feature_side)s, &a->n_feat[s]);
        for (int i = 0; i < a->n_feat[s]; i++)
            a->names_tab[s][i] = a->defs[s][i].name;
    }
    if (c->contamination <= 0 || c->contamination >= 0.5) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "contamination %g out of range (0 .. 0.5)",
                 c->contamination);
        goto fail;
    }
    if (c->persist_k < 1 || c->persist_n < c->persist_k || c->persist_n > 16) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "persistence %u of %u windows is not valid (1 <= k <= n <= 16)", c->persist_k,
                 c->persist_n);
        goto fail;
    }
    if (!(a->rules = load_rules(&a->cfg, errbuf)))
        goto fail;
    if (!(a->baseline = baseline_create(131072, 0.1, c->seed, errbuf)))
        goto fail;
    if (!(a->geo = geo_create(c->geo_paths, c->n_geo, 16384, errbuf)))
        goto fail;
    if (c->conversations &&
        !(a->conv = conv_create(c->max_conversations, (uint64_t)(c->conversation_ttl_h * 3600e6),
                                c->seed ^ 0x636f6e76ULL, errbuf)))
        goto fail;
    /* Training and a warm-up teach the conversation detectors what is normal (train.c). */
    if (a->conv && (c->train_only || !c->model_path) && conv_set_learning(a->conv, true) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory for the learned conversations");
        goto fail;
    }
    if (c->model_path && analyzer_load_model(a, c->model_path, errbuf) < 0)
        goto fail;
    struct output_config ocfg = *oc;
    struct output_model om;
    if (a->have_model) {
        analyzer_model_info(a, c->model_path, &om);
        ocfg.model = &om; /* recorded with the run, before the alert log is opened */
    }
    if (!(a->out = output_create(&ocfg, errbuf)))
        goto fail;
    /* Incident ids go on from the store's largest, so they stay unique in a database. */
    int64_t max_id = 0;
    store_t *st = output_store(a->out);
    if (st && store_incident_max_id(st, &max_id) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s", store_errmsg(st));
        goto fail;
    }
    if (!(a->incidents = incident_create(
              c->max_incidents ? c->max_incidents : INCIDENT_TABLE_DEFAULT, c->seed ^ 0x696e6364ULL,
              max_id + 1, c->home_net, c->sensor_name, on_incident_end, a, errbuf)))
        goto fail;
    if (!(a->peers = peers_create(c->seed ^ 0x70656572ULL)) ||
        !(a->flowidx = flow_index_create(c->seed ^ 0x666c6f77ULL))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        goto fail;
    }
    return a;
fail:
    analyzer_destroy(a);
    return NULL;
}

void analyzer_destroy(analyzer_t *a)
{
    if (!a)
        return;
    output_destroy(a->out); /* first: the HTTP server lives on the loop */
    analyzer_rate_destroy(a);
    if (a->hup)
        event_free(a->hup);
    if (a->wake)
        event_free(a->wake);
    if (a->beat)
        event_free(a->beat);
    if (a->base)
        event_base_free(a->base);
    rules_destroy(a->rules);
    geo_destroy(a->geo);
    baseline_destroy(a->baseline);
    conv_destroy(a->conv);
    incident_destroy(a->incidents);
    peers_destroy(a->peers);
    flow_index_destroy(a->flowidx);
    if (a->have_model)
        model_free(&a->model);
    for (int s = 0; s < SIDE_COUNT; s++) {
        free(a->train[s].x);
        free(a->train[s].ip);
    }
    free(a->prefixes);
    free(a->prefix_keys);
    free(a->prefix_of);
    free(a->prefix_idx);
    free(a->batch);
    free(a->batch_be);
    free(a->batch_x);
    free(a->batch_score);
    pthread_mutex_destroy(&a->st_mu);
    free(a);
}

static void do_reload_now(analyzer_t *a);

/* SIGHUP, told to the service manager: RELOADING=1 (with the time, as systemd 253's
 * Type=notify-reload wants), the reload, READY=1. */
static void do_reload(analyzer_t *a)
{
    notify_reloading();
    do_reload_now(a);
    notify_reloaded();
}

static void do_reload_now(analyzer_t *a)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    output_reopen(a->out);
    if (a->cfg.reload_config) {
        struct analyzer_config fresh = a->cfg;
        if (a->cfg.reload_config(a->cfg.reload_ctx, &fresh, errbuf) < 0)
            log_error("config not reloaded (old settings kept): %s", errbuf);
        else if (fresh.persist_k < 1 || fresh.persist_n < fresh.persist_k || fresh.persist_n > 16 ||
                 fresh.contamination <= 0 || fresh.contamination >= 0.5)
            log_error("config not reloaded (old settings kept): persistence or contamination "
                      "out of range");
        else
            a->cfg = fresh;
    }
    if (a->cfg.allowlist_path || a->cfg.rules_dir) {
        rules_t *r = load_rules(&a->cfg, errbuf);
        if (r) {
            rules_destroy(a->rules);
            a->rules = r;
        } else {
            log_error("rules not reloaded (old rules kept): %s", errbuf);
        }
    }
    if (a->cfg.model_path) {
        if (analyzer_load_model(a, a->cfg.model_path, errbuf) < 0)
            log_error("model not reloaded (old model kept): %s", errbuf);
    }
    analyzer_rate_publish(a); /* flood limits of the (re)loaded model and rules */
    log_info("reloaded: persist %u/%u, min-pkts %u, incident-quiet %u, threshold %s",
             a->cfg.persist_k, a->cfg.persist_n, a->cfg.min_pkts, a->cfg.incident_quiet,
             a->cfg.fixed_threshold > 0 ? "fixed" : "from the model");
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    analyzer_t *a = arg;
    atomic_store(&a->heartbeat, notify_monotonic_us());
}

uint64_t analyzer_heartbeat(analyzer_t *a)
{
    return atomic_load(&a->heartbeat);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    analyzer_t *a = arg;
    for (;;) {
        atomic_store(&a->heartbeat, notify_monotonic_us());
        bool closed = false;
        struct window *w = wqueue_pop(a->q, &closed);
        /* Floods at once, but in packet-time order with the windows: those of a queued
         * window's seconds before it closes, the later ones after it. */
        analyzer_rate_drain(a, w ? w->end_us : UINT64_MAX);
        if (!w) {
            if (closed) {
                analyzer_rate_drain(a, UINT64_MAX);
                flush_incidents(a);
                event_base_loopbreak(a->base);
            }
            return;
        }
        analyzer_rate_window(a, w);
        analyzer_process_window(a, w);
        wqueue_release(a->q, w);
    }
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    do_reload(arg);
}

static void notify(void *arg)
{
    analyzer_t *a = arg;
    event_active(a->wake, EV_READ, 0);
}

static void *thread_main(void *arg)
{
    analyzer_t *a = arg;
    /* The capture's capabilities are not for the thread that parses HTTP requests,
     * SQLite and reloaded files (they are per thread; its fit workers inherit none). */
    tapir_drop_capabilities();
    event_base_dispatch(a->base);
    return NULL;
}

void analyzer_set_l7_names(analyzer_t *a, analyzer_l7_name_fn fn, void *ctx)
{
    a->l7_name = fn;
    a->l7_ctx = ctx;
    if (a->conv)
        conv_set_l7_names(a->conv, fn, ctx);
}

void analyzer_set_risk_names(analyzer_t *a, analyzer_risk_name_fn fn, void *ctx)
{
    a->risk_name = fn;
    a->risk_ctx = ctx;
}

void analyzer_set_metrics(analyzer_t *a, analyzer_metrics_fn fn, void *ctx)
{
    a->more_metrics = fn;
    a->more_metrics_ctx = ctx;
}

/* The analyzer's counters for /metrics (after the other threads' lines). */
static void write_metrics(void *ctx, struct evbuffer *out)
{
    analyzer_t *a = ctx;
    struct analyzer_stats as;
    analyzer_get_stats(a, &as);
    const struct output_series series[] = {
        {"tapir_windows_analyzed_total", "counter", "Windows analysed.", as.windows},
        {"tapir_vectors_scored_total", "counter", "Behaviour vectors scored.", as.scored},
        {"tapir_alerts_total", "counter", "Alerts raised.", as.alerts},
        {"tapir_vectors_unscorable_address_total", "counter",
         "Vectors not scored: the IP is 0.0.0.0, ::, broadcast or multicast.", as.unscorable},
        {"tapir_store_errors_total", "counter", "Failed window transactions.", as.store_errors},
        {"tapir_alert_log_errors_total", "counter", "Failed alert-log writes.", as.log_errors},
        {"tapir_trainings_total", "counter", "Models fitted (warm-up, retrain).", as.trainings},
        {"tapir_conversations_active", "gauge", "Conversations in the table.", as.conv_active},
        {"tapir_conversations_evicted_total", "counter",
         "Conversations evicted early because the table was full.", as.conv_evicted},
        {"tapir_conversations_expired_total", "counter",
         "Conversations forgotten after --conversation-ttl idle.", as.conv_expired},
        {"tapir_conversation_alerts_total", "counter",
         "Alerts raised by the beacon, brute-force and exfiltration detectors.", as.conv_alerts},
        {"tapir_incidents_opened_total", "counter", "Incidents opened (event alert).",
         as.incidents_opened},
        {"tapir_incidents_ended_total", "counter", "Incidents closed (event end).",
         as.incidents_ended},
        {"tapir_incidents_evicted_total", "counter",
         "Incidents closed early because the incident table was full.", as.incidents_evicted},
        {"tapir_incidents_active", "gauge", "Incidents open.", as.incidents_active},
        {"tapir_alerts_merged_total", "counter",
         "Alerts filed under an incident without an event of their own.", as.alerts_merged},
    };
    output_series_write(out, series, sizeof(series) / sizeof(series[0]));
}

int analyzer_start(analyzer_t *a, char *errbuf)
{
    static int threads_on;
    if (!threads_on) {
        evthread_use_pthreads();
        threads_on = 1;
    }
    a->base = event_base_new();
    if (!a->base) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create the event loop");
        return -1;
    }
    a->wake = event_new(a->base, -1, EV_PERSIST | EV_READ, on_wake, a);
    if (!a->wake || event_add(a->wake, NULL) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create the wake-up event");
        return -1;
    }
    atomic_store(&a->heartbeat, notify_monotonic_us());
    if (a->cfg.heartbeat_us) {
        struct timeval tv = {(time_t)(a->cfg.heartbeat_us / 1000000),
                             (suseconds_t)(a->cfg.heartbeat_us % 1000000)};
        a->beat = event_new(a->base, -1, EV_PERSIST, on_beat, a);
        if (!a->beat || event_add(a->beat, &tv) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create the heartbeat timer");
            return -1;
        }
    }
    if (a->more_metrics)
        output_add_metrics(a->out, a->more_metrics, a->more_metrics_ctx);
    output_add_metrics(a->out, write_metrics, a);
    if (analyzer_rate_start(a, errbuf) < 0)
        return -1;
    if (output_start(a->out, a->base, errbuf) < 0)
        return -1;
    /* SIGHUP: reopen the alert log, reload rules and model, in this thread, between
     * windows. libevent turns the signal into a loop event, so nothing runs in a signal
     * handler. */
    if (!a->cfg.train_only) {
        a->hup = evsignal_new(a->base, SIGHUP, on_hup, a);
        if (!a->hup || event_add(a->hup, NULL) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot watch SIGHUP");
            return -1;
        }
    }
    wqueue_set_notify(a->q, notify, a);
    if (pthread_create(&a->thread, NULL, thread_main, a) != 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot start the analyzer thread");
        return -1;
    }
    pthread_setname_np(a->thread, "tapir-analyzer"); /* top -H, perf; best effort */
    a->started = true;
    return 0;
}

void analyzer_join(analyzer_t *a)
{
    if (!a->started)
        return;
    pthread_join(a->thread, NULL);
    a->started = false;
}

void analyzer_get_stats(analyzer_t *a, struct analyzer_stats *st)
{
    pthread_mutex_lock(&a->st_mu);
    *st = a->st;
    pthread_mutex_unlock(&a->st_mu);
}

void analyzer_finish_run(analyzer_t *a, uint64_t packets, uint64_t bytes, int exit_status)
{
    struct output_run_totals t = {packets, bytes, a->st.windows, a->st.alerts, exit_status};
    output_finish_run(a->out, &t);
}
