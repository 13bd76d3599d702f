/*
 * rate_alert.c — flood alerts from the capture thread's per-second counters
 * (sensor/rate.c), raised the moment their event arrives, not at the window's end; and
 * the limits the capture thread checks (model maxima x factor, floors, host groups).
 *
 * An event says: this IP, on this side, went over its limit for this kind of flood in
 * this packet-time second. A flood sends one a second for as long as it lasts, so each
 * (ip, side, kind) keeps an episode: its first second over the limit, its latest, and the
 * analysis window it last raised in. It raises at most once per window (the incident
 * tracker merges those further); a gap of more than RATE_EPISODE_GAP_US without an event
 * starts a new episode. Episodes live in a fixed table of 4,096 (open addressing, 8
 * probes, the stalest evicted and counted): more floods at once than that is an outage
 * alerts cannot help with. Rejected: raising on every event (one alert a second per
 * flood, 3,600 an hour) and waiting for the window (up to 60 s late, the problem).
 *
 * Limits: per side and kind, max(floor, RATE_LIMIT_FACTOR x the model's per-second
 * maximum); without a model (warm-up) the floors; the thresholds file's host groups
 * override per network. Published to the capture thread through the window queue at
 * start, on SIGHUP and whenever a model is bound.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_int.h"
#include "log.h"

#define RATE_EPISODES       4096 /* (ip, side, kind) tracked at once */
#define RATE_EPISODE_PROBE  8
#define RATE_EPISODE_GAP_US 2000000 /* quiet this long (packet time): a new episode */

struct rate_episode {
    struct ip_addr ip;
    uint8_t side, kind, used;
    uint64_t first_us;      /* start of its first second over the limit */
    uint64_t last_us;       /* end of its latest second over the limit */
    uint64_t raised_window; /* window_us it last raised in; UINT64_MAX none */
};

struct rate_alerts {
    struct rate_episode ep[RATE_EPISODES];
    uint64_t seed;
    uint64_t events;                        /* events received */
    uint64_t alerts;                        /* alerts raised */
    uint64_t evicted;                       /* episodes forgotten early: table full */
    double max_pps[RATE_SIDES][RATE_KINDS]; /* per-second maxima of the windows seen */
    uint32_t seconds;                       /* seconds those cover */
};

static const enum alert_category kind_category[RATE_KINDS] = {
    [RATE_SYN] = ALERT_CATEGORY_SYNFLOOD,
    [RATE_UDP] = ALERT_CATEGORY_UDPFLOOD,
    [RATE_ICMP] = ALERT_CATEGORY_ICMPFLOOD,
    [RATE_AMP] = ALERT_CATEGORY_AMPLIFICATION,
};
static const char *const kind_feature[RATE_KINDS] = {
    [RATE_SYN] = "syn_unanswered_pps",
    [RATE_UDP] = "udp_pps",
    [RATE_ICMP] = "icmp_pps",
    [RATE_AMP] = "amplification_pps",
};

static void write_metrics(void *ctx, struct evbuffer *out)
{
    analyzer_t *a = ctx;
    struct rate_alerts *r = a->rate;
    const struct output_series series[] = {
        {"tapir_rate_events_received_total", "counter",
         "Flood events the analyzer received from the per-second counters.", r->events},
        {"tapir_rate_alerts_total", "counter", "Flood alerts raised by the rate detector.",
         r->alerts},
        {"tapir_rate_episodes_evicted_total", "counter",
         "Flood episodes forgotten early because 4,096 were open.", r->evicted},
        {"tapir_rate_ring_dropped_total", "counter",
         "Flood events lost because the capture-to-analyzer ring was full.",
         wqueue_rate_dropped(a->q)},
    };
    output_series_write(out, series, sizeof(series) / sizeof(series[0]));
}

int analyzer_rate_start(analyzer_t *a, char *errbuf)
{
    if (!(a->rate = calloc(1, sizeof(*a->rate)))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory for the flood episodes");
        return -1;
    }
    a->rate->seed = a->cfg.seed ^ 0x72617465ULL;
    output_add_metrics(a->out, write_metrics, a);
    analyzer_rate_publish(a);
    return 0;
}

void analyzer_rate_destroy(analyzer_t *a)
{
    free(a->rate);
    a->rate = NULL;
}

void analyzer_rate_limits(const struct model *m, bool have_model, const rules_t *rules,
                          struct rate_config *c)
{
    rate_config_floors(c);
    if (have_model && m->rate.present)
        for (int s = 0; s < RATE_SIDES; s++)
            for (int k = 0; k < RATE_KINDS; k++) {
                double learned = RATE_LIMIT_FACTOR * m->rate.max_pps[s][k];
                if (learned > c->pps[s][k])
                    c->pps[s][k] = learned;
            }
    const struct rules_rate_group *g;
    size_t n = rules ? rules_rate_groups(rules, &g) : 0;
    for (size_t i = 0; i < n && c->n_groups < RATE_MAX_GROUPS; i++) {
        struct rate_group *o = &c->groups[c->n_groups++];
        o->net = g[i].net;
        o->prefix_len = g[i].prefix_len;
        for (int k = 0; k < RATE_KINDS; k++)
            o->pps[k] = g[i].pps[k];
    }
}

void analyzer_rate_publish(analyzer_t *a)
{
    struct rate_config c;
    analyzer_rate_limits(&a->model, a->have_model, a->rules, &c);
    wqueue_rate_set_config(a->q, &c);
}

void analyzer_rate_window(analyzer_t *a, const struct window *w)
{
    struct rate_alerts *r = a->rate;
    if (!r)
        return;
    for (int s = 0; s < RATE_SIDES; s++)
        for (int k = 0; k < RATE_KINDS; k++)
            if (w->rate.pps_max[s][k] > r->max_pps[s][k])
                r->max_pps[s][k] = w->rate.pps_max[s][k];
    r->seconds += w->rate.seconds;
}

void analyzer_rate_learned(const analyzer_t *a, struct model_rate *mr)
{
    memset(mr, 0, sizeof(*mr));
    if (!a->rate || !a->rate->seconds)
        return;
    mr->present = 1;
    mr->seconds = a->rate->seconds;
    memcpy(mr->max_pps, a->rate->max_pps, sizeof(mr->max_pps));
}

/* The episode of (ip, side, kind), found or made (evicting the stalest when full). */
static struct rate_episode *episode(struct rate_alerts *r, const struct rate_event *ev)
{
    uint64_t h = tapir_ip_hash(&ev->ip, r->seed) ^
                 ((uint64_t)ev->side << 8 | ev->kind) * 0x9E3779B97F4A7C15ULL;
    struct rate_episode *stale = NULL;
    for (uint32_t k = 0; k < RATE_EPISODE_PROBE; k++) {
        struct rate_episode *e = &r->ep[(h + k) & (RATE_EPISODES - 1)];
        if (!e->used) {
            stale = e;
            break;
        }
        if (e->side == ev->side && e->kind == ev->kind && !memcmp(e->ip.b, ev->ip.b, 16))
            return e;
        if (!stale || e->last_us < stale->last_us)
            stale = e;
    }
    if (stale->used)
        r->evicted++;
    memset(stale, 0, sizeof(*stale));
    stale->used = 1;
    stale->ip = ev->ip;
    stale->side = ev->side;
    stale->kind = ev->kind;
    stale->raised_window = UINT64_MAX;
    return stale;
}

static void put_feature(struct alert *al, const char *name, double value, double baseline)
{
    struct alert_feature *f = &al->top[al->n_top++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->value = value;
    f->baseline = baseline;
    f->contribution = 0;
}

static void raise_alert(analyzer_t *a, const struct rate_event *ev, const struct rate_episode *e)
{
    struct alert al;
    memset(&al, 0, sizeof(al));
    al.timestamp_us = ev->raised_us;
    al.event_type = "alert";
    al.detector = ALERT_DETECTOR_RATE;
    al.category = kind_category[ev->kind];
    al.ip = ev->ip;
    al.prefix_len = 128;
    al.side = ev->side == RATE_SIDE_DESTINATION ? ALERT_SIDE_DESTINATION : ALERT_SIDE_SOURCE;
    al.score = ev->limit > 0 ? (double)ev->pkts / ev->limit : 0;
    al.threshold = 1.0;
    al.window_start_us = e->first_us;
    al.window_end_us = e->last_us;
    put_feature(&al, kind_feature[ev->kind], ev->pkts, ev->limit);
    put_feature(&al, ev->side == RATE_SIDE_DESTINATION ? "sources" : "destinations", ev->sources,
                0);
    put_feature(&al, "bytes_per_s", (double)ev->bytes, 0);
    snprintf(al.sensor, sizeof(al.sensor), "%s", a->cfg.sensor_name ? a->cfg.sensor_name : "");
    snprintf(al.model_id, sizeof(al.model_id), "%s", a->have_model ? a->model.id : "");
    geo_lookup(a->geo, &al.ip, &al.geo);
    if (!analyzer_emit_alert_now(a, &al, al.timestamp_us))
        return; /* merged into its incident's event of this window */
    a->rate->alerts++;
    pthread_mutex_lock(&a->st_mu);
    a->st.alerts++;
    pthread_mutex_unlock(&a->st_mu);
}

void analyzer_rate_drain(analyzer_t *a, uint64_t before_us)
{
    struct rate_alerts *r = a->rate;
    struct rate_event ev;
    while (r && wqueue_rate_peek(a->q, &ev) == 0 && ev.second_us < before_us &&
           wqueue_rate_pop(a->q, &ev) == 0) {
        r->events++;
        if (a->cfg.train_only || ev.kind >= RATE_KINDS || ev.side >= RATE_SIDES ||
            rules_allowed(a->rules, &ev.ip) || analyzer_address_unscorable(a, &ev.ip))
            continue;
        struct rate_episode *e = episode(r, &ev);
        if (!e->first_us || ev.second_us > e->last_us + RATE_EPISODE_GAP_US) {
            e->first_us = ev.second_us; /* a new episode */
            e->raised_window = UINT64_MAX;
        }
        if (ev.second_us + 1000000 > e->last_us)
            e->last_us = ev.second_us + 1000000;
        if (e->raised_window == ev.window_us)
            continue;
        e->raised_window = ev.window_us;
        raise_alert(a, &ev, e);
    }
}
