/*
 * analyzer.c — the analyzer thread: one closed window at a time, in order.
 *
 * Per window: build the source, destination and prefix vectors (behaviour.c), add the
 * source side's deviations from each IP's baseline, score each side with its own forest,
 * apply the rules (allowlist, persistence k of n), then write: SQLite first (one
 * transaction per window), the alert log only after the commit. That order means a line
 * in the alert log is always in the database too, whatever moment a crash picks; the
 * gap it leaves is the other way round (committed, not yet logged), and is stated.
 *
 * A scoring pass goes in chunks of SCORE_BATCH vectors: build them (baselines, vectors
 * CSV), score them with one iforest_score_many call (0.37 us a row against 0.9 one at a
 * time; the forest walk was half of this thread's CPU, which went from 0.49 s to
 * 0.37-0.45 s on the 5 M-packet replay), then take each through limits, rules,
 * persistence and output in the original order, so the results are those of scoring
 * one at a time. Rejected: a whole pass in one call, which holds ~1.5 KiB per vector
 * (150 MB for a 100,000-host window) for no faster walk: iforest_score_many works
 * through 128-row blocks anyway.
 *
 * The thread runs a libevent loop; the capture thread wakes it with event_active() when
 * a window is queued. Without a model, the first windows are a warm-up: their vectors
 * train the forests, then scoring starts. With retraining on, a reservoir of recent
 * unflagged vectors is refitted every R windows.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "alert_log.h"
#include "analyzer.h"
#include "baseline.h"
#include "geo.h"
#include "http.h"
#include "iforest.h"
#include "log.h"
#include "model.h"
#include "notify.h"
#include "rules.h"
#include "store.h"

#define RESERVOIR_MAX  16384 /* vectors kept per side for training */
#define LIMIT_FACTOR   3.0   /* learned-limit rule: this many times the training maximum */
#define TRAIN_MIN_ROWS 64    /* fewer vectors make a forest that flags whatever it sees */
#define LIMIT_MIN_ROWS 200   /* fewer make a maximum too noisy to serve as a limit */
#define SCORE_BATCH    256   /* vectors per iforest_score_many call (it walks 128 at once) */

struct side_train {
    float *x;      /* rows x n_features */
    size_t rows;   /* rows held */
    size_t cap;    /* rows allocated */
    uint64_t seen; /* rows offered (reservoir sampling) */
};

struct prefix_acc {
    struct host_window acc;
    uint32_t members;
};

struct analyzer {
    struct analyzer_config cfg;
    wqueue_t *q;
    pthread_t thread;
    bool started;
    struct event_base *base;
    struct event *wake;
    struct event *beat;         /* heartbeat timer, or NULL */
    _Atomic uint64_t heartbeat; /* notify_monotonic_us of the loop's last run */

    store_t *store;
    int64_t run_id;
    alert_log_t *log;
    rules_t *rules;
    geo_t *geo;
    analyzer_l7_name_fn l7_name; /* protocol names (the sensor's nDPI), or NULL */
    void *l7_ctx;
    baseline_t *baseline;

    struct model model;
    bool have_model;
    const struct model_section *sec[SIDE_COUNT];
    int n_feat[SIDE_COUNT];
    const struct feature_def *defs[SIDE_COUNT];
    const char *names_tab[SIDE_COUNT][BEHAVIOUR_MAX_FEATURES];

    struct side_train train[SIDE_COUNT];
    uint64_t windows_seen;
    uint64_t rng;

    struct prefix_acc *prefixes; /* per-window prefix accumulators */
    uint32_t prefix_cap;
    uint32_t n_prefixes;
    uint32_t *prefix_idx; /* open-addressing index into prefixes */
    uint32_t prefix_mask;

    struct scored *batch;            /* a scoring pass's vectors, batch_cap of them */
    struct baseline_entry *batch_be; /* their baseline entries as each was built */
    float *batch_x;                  /* their scaled vectors, rows of n_feat[side] floats */
    double *batch_score;             /* their forest scores */
    size_t batch_cap;                /* vectors, at most SCORE_BATCH */

    struct analyzer_stats st;
    pthread_mutex_t st_mu;

    http_t *http;
    analyzer_metrics_fn more_metrics; /* /metrics lines of the other threads, or NULL */
    void *more_metrics_ctx;
    struct event *hup; /* SIGHUP, delivered through the loop (libevent's signal pipe) */
};

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
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Binds the loaded model's sections to the sides, refusing one made for other features. */
static int bind_model(analyzer_t *a, char *errbuf)
{
    for (int s = 0; s < SIDE_COUNT; s++) {
        a->sec[s] = model_find(&a->model, behaviour_side_name((enum feature_side)s));
        if (!a->sec[s]) {
            if (s == SIDE_SOURCE) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                         "model has no 'source' section: not a model for 'tapir run' "
                         "(made by 'tapir forest fit'?)");
                return -1;
            }
            continue;
        }
        if (model_check_features(a->sec[s], a->names_tab[s], (uint32_t)a->n_feat[s], errbuf) < 0)
            return -1;
    }
    a->have_model = true;
    return 0;
}

static int load_model(analyzer_t *a, const char *path, char *errbuf)
{
    struct model m;
    memset(&m, 0, sizeof(m));
    if (model_load(path, &m, errbuf) < 0)
        return -1;
    struct model old = a->model;
    bool had = a->have_model;
    a->model = m;
    if (bind_model(a, errbuf) < 0) {
        model_free(&a->model);
        a->model = old;
        a->have_model = had;
        if (had) {
            char e2[TAPIR_ERRBUF_SIZE];
            bind_model(a, e2);
        }
        return -1;
    }
    if (had)
        model_free(&old);
    return 0;
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

analyzer_t *analyzer_create(const struct analyzer_config *c, wqueue_t *q, char *errbuf)
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
    if (c->model_path && load_model(a, c->model_path, errbuf) < 0)
        goto fail;
    if (c->db_path) {
        if (!(a->store = store_open(c->db_path, errbuf)))
            goto fail;
        if (store_run_begin(a->store, c->cmdline ? c->cmdline : "", c->source ? c->source : "",
                            tapir_wall_us(), &a->run_id) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s", store_errmsg(a->store));
            goto fail;
        }
        if (a->have_model)
            store_model_add(a->store, a->model.id, a->model.created_us, c->model_path,
                            a->model.trained_on, a->n_feat[SIDE_SOURCE],
                            a->sec[SIDE_SOURCE]->threshold);
    }
    if (c->alert_log_path && !(a->log = alert_log_open(c->alert_log_path, errbuf)))
        goto fail;
    return a;
fail:
    analyzer_destroy(a);
    return NULL;
}

void analyzer_destroy(analyzer_t *a)
{
    if (!a)
        return;
    http_destroy(a->http);
    if (a->hup)
        event_free(a->hup);
    if (a->wake)
        event_free(a->wake);
    if (a->beat)
        event_free(a->beat);
    if (a->base)
        event_base_free(a->base);
    store_close(a->store);
    alert_log_close(a->log);
    rules_destroy(a->rules);
    geo_destroy(a->geo);
    baseline_destroy(a->baseline);
    if (a->have_model)
        model_free(&a->model);
    for (int s = 0; s < SIDE_COUNT; s++)
        free(a->train[s].x);
    free(a->prefixes);
    free(a->prefix_idx);
    free(a->batch);
    free(a->batch_be);
    free(a->batch_x);
    free(a->batch_score);
    pthread_mutex_destroy(&a->st_mu);
    free(a);
}

/* Offers a scaled vector to a side's training reservoir. */
static void train_offer(analyzer_t *a, int side, const float *x, bool keep_all)
{
    struct side_train *t = &a->train[side];
    size_t nf = (size_t)a->n_feat[side];
    t->seen++;
    size_t limit = keep_all ? SIZE_MAX : RESERVOIR_MAX;
    size_t row;
    if (t->rows < limit) {
        if (t->rows == t->cap) {
            size_t ncap = t->cap ? t->cap * 2 : 1024;
            float *nx = realloc(t->x, ncap * nf * sizeof(float));
            if (!nx)
                return; /* keep what we have */
            t->x = nx;
            t->cap = ncap;
        }
        row = t->rows++;
    } else {
        uint64_t j = rng_next(&a->rng) % t->seen;
        if (j >= t->rows)
            return;
        row = (size_t)j;
    }
    memcpy(t->x + row * nf, x, nf * sizeof(float));
}

/* Fits every side with enough rows into a fresh model. */
static int fit_model(analyzer_t *a, struct model *m, const char *trained_on, char *errbuf)
{
    memset(m, 0, sizeof(*m));
    m->sections = calloc(SIDE_COUNT, sizeof(*m->sections));
    if (!m->sections) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    m->created_us = tapir_wall_us();
    snprintf(m->trained_on, sizeof(m->trained_on), "%s", trained_on);
    for (int s = 0; s < SIDE_COUNT; s++) {
        struct side_train *t = &a->train[s];
        if (t->rows < TRAIN_MIN_ROWS) {
            if (s == SIDE_SOURCE) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                         "only %zu source vectors to train on (need at least %d): use a longer "
                         "capture or a lower --min-pkts",
                         t->rows, TRAIN_MIN_ROWS);
                model_free(m);
                return -1;
            }
            continue;
        }
        size_t nf = (size_t)a->n_feat[s];
        struct iforest_params p = {a->cfg.trees, a->cfg.samples, a->cfg.seed + (uint64_t)s, 1};
        iforest_t *f = iforest_fit(t->x, t->rows, nf, &p, errbuf);
        if (!f) {
            model_free(m);
            return -1;
        }
        double *scores = malloc(t->rows * sizeof(double));
        struct model_section *sec = &m->sections[m->n_sections];
        sec->feature_names = calloc(nf, sizeof(*sec->feature_names));
        sec->scaling = calloc(nf, 1);
        sec->train_mean = calloc(nf, sizeof(double));
        sec->train_std = calloc(nf, sizeof(double));
        sec->train_max = calloc(nf, sizeof(double));
        if (!scores || !sec->feature_names || !sec->scaling || !sec->train_mean ||
            !sec->train_std || !sec->train_max) {
            free(scores);
            iforest_destroy(f);
            model_free(m);
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
            return -1;
        }
        m->n_sections++;
        snprintf(sec->name, sizeof(sec->name), "%s", behaviour_side_name((enum feature_side)s));
        sec->forest = f;
        sec->n_features = (uint32_t)nf;
        for (size_t i = 0; i < nf; i++) {
            snprintf(sec->feature_names[i], sizeof(sec->feature_names[i]), "%s",
                     a->defs[s][i].name);
            sec->scaling[i] = a->cfg.scaling >= 0 ? (uint8_t)a->cfg.scaling : a->defs[s][i].scaling;
            double sum = 0, sq = 0, mx = 0;
            for (size_t r = 0; r < t->rows; r++) {
                double v = t->x[r * nf + i];
                sum += v;
                sq += v * v;
                if (r == 0 || v > mx)
                    mx = v;
            }
            sec->train_max[i] = mx;
            sec->train_mean[i] = sum / (double)t->rows;
            double var = sq / (double)t->rows - sec->train_mean[i] * sec->train_mean[i];
            sec->train_std[i] = var > 0 ? sqrt(var) : 0;
        }
        if (t->rows < LIMIT_MIN_ROWS) { /* no learned limits from a small sample */
            free(sec->train_max);
            sec->train_max = NULL;
        }
        iforest_score_many(f, t->x, t->rows, scores);
        sec->contamination = a->cfg.contamination;
        sec->threshold =
            a->cfg.fixed_threshold > 0
                ? a->cfg.fixed_threshold
                : iforest_threshold_for_contamination(scores, t->rows, a->cfg.contamination);
        free(scores);
    }
    model_assign_id(m);
    return 0;
}

static void install_model(analyzer_t *a, struct model *m, const char *why)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    if (a->have_model)
        model_free(&a->model);
    a->model = *m;
    a->have_model = false;
    if (bind_model(a, errbuf) < 0) {
        log_error("cannot use the %s model: %s", why, errbuf);
        model_free(&a->model);
        return;
    }
    pthread_mutex_lock(&a->st_mu);
    a->st.trainings++;
    pthread_mutex_unlock(&a->st_mu);
    log_info("%s model %s: source threshold %.4f on %zu vectors", why, a->model.id,
             a->sec[SIDE_SOURCE]->threshold, a->train[SIDE_SOURCE].rows);
    if (a->cfg.model_out) {
        if (model_save(&a->model, a->cfg.model_out, errbuf) < 0)
            log_error("cannot save the model: %s", errbuf);
    }
    if (a->store)
        store_model_add(a->store, a->model.id, a->model.created_us,
                        a->cfg.model_out ? a->cfg.model_out : "", a->model.trained_on,
                        a->n_feat[SIDE_SOURCE], a->sec[SIDE_SOURCE]->threshold);
}

/* ---- per window ------------------------------------------------------------------ */

struct scored {
    int side;
    const struct host_window *h; /* host (or prefix accumulator) */
    struct ip_addr ip;
    uint8_t prefix_len;
    double raw[BEHAVIOUR_MAX_FEATURES];
    float x[BEHAVIOUR_MAX_FEATURES];
    double score;
    double threshold;
    bool over;
    bool alert;
    bool limit_hit;                        /* a learned limit was passed: "threshold" event */
    bool denied;                           /* on the denylist: "threshold" event */
    double excess[BEHAVIOUR_MAX_FEATURES]; /* log-excess over the training maximum */
    struct baseline_entry *be;
};

static void prefix_reset(analyzer_t *a, uint32_t need)
{
    if (need > a->prefix_cap) {
        uint32_t cap = 1024;
        while (cap < need)
            cap *= 2;
        struct prefix_acc *np = realloc(a->prefixes, cap * sizeof(*np));
        uint32_t *ni = realloc(a->prefix_idx, cap * 2 * sizeof(*ni));
        if (np)
            a->prefixes = np;
        if (ni)
            a->prefix_idx = ni;
        if (np && ni) {
            a->prefix_cap = cap;
            a->prefix_mask = cap * 2 - 1;
        }
    }
    a->n_prefixes = 0;
    if (a->prefix_idx)
        memset(a->prefix_idx, 0, ((size_t)a->prefix_mask + 1) * sizeof(uint32_t));
}

static void prefix_add(analyzer_t *a, const struct host_window *h)
{
    if (!a->prefix_cap)
        return;
    struct ip_addr p = h->ip;
    unsigned len = ip_addr_is_v4(&p) ? 96 + a->cfg.prefix4 : a->cfg.prefix6;
    ip_addr_mask(&p, len);
    uint32_t i = (uint32_t)tapir_hash(p.b, 16, a->cfg.seed) & a->prefix_mask;
    for (;;) {
        uint32_t r = a->prefix_idx[i];
        if (!r)
            break;
        struct prefix_acc *pa = &a->prefixes[r - 1];
        if (!memcmp(pa->acc.ip.b, p.b, 16)) {
            behaviour_prefix_add(&pa->acc, h);
            pa->members++;
            return;
        }
        i = (i + 1) & a->prefix_mask;
    }
    if (a->n_prefixes >= a->prefix_cap)
        return;
    struct prefix_acc *pa = &a->prefixes[a->n_prefixes++];
    memset(pa, 0, sizeof(*pa));
    pa->acc.ip = p;
    behaviour_prefix_add(&pa->acc, h);
    pa->members = 1;
    a->prefix_idx[i] = a->n_prefixes;
}

static void l7_summary(analyzer_t *a, const struct host_window *h, char *out, size_t cap)
{
    /* Top protocols by flows, most first. */
    int order[HOST_L7_SLOTS];
    int n = 0;
    for (int i = 0; i < HOST_L7_SLOTS; i++)
        if (h->l7_flows[i])
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && h->l7_flows[order[j]] > h->l7_flows[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n && i < 3; i++) {
        const char *name = a->l7_name ? a->l7_name(a->l7_ctx, h->l7_proto[order[i]]) : NULL;
        int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", name ? name : "?");
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

static void fill_alert(analyzer_t *a, const struct window *w, struct scored *sc, struct alert *al,
                       double *contrib)
{
    memset(al, 0, sizeof(*al));
    al->timestamp_us = w->end_us;
    al->event_type = "anomaly";
    al->ip = sc->ip;
    al->prefix_len = sc->prefix_len;
    al->side = sc->side == SIDE_SOURCE        ? ALERT_SIDE_SOURCE
               : sc->side == SIDE_DESTINATION ? ALERT_SIDE_DESTINATION
                                              : ALERT_SIDE_PREFIX;
    al->score = sc->score;
    al->threshold = sc->threshold;
    al->window_start_us = w->start_us;
    al->window_end_us = w->end_us;
    int nf = a->n_feat[sc->side];
    if (sc->limit_hit) {
        /* Explained by the limits passed, as shares of the summed excess. */
        al->event_type = "threshold";
        double total = 0;
        for (int i = 0; i < nf; i++)
            total += sc->excess[i];
        for (int i = 0; i < nf; i++)
            contrib[i] = total > 0 ? sc->excess[i] / total : 0;
    } else {
        iforest_explain(a->sec[sc->side]->forest, sc->x, contrib);
        if (sc->denied && !sc->over)
            al->event_type = "threshold"; /* reported for the denylist, not the score */
    }
    bool used[BEHAVIOUR_MAX_FEATURES] = {false};
    for (int k = 0; k < ALERT_TOP_FEATURES; k++) {
        int best = -1;
        for (int i = 0; i < nf; i++)
            if (!used[i] && contrib[i] > 0 && (best < 0 || contrib[i] > contrib[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        struct alert_feature *af = &al->top[al->n_top++];
        snprintf(af->name, sizeof(af->name), "%s", a->defs[sc->side][best].name);
        af->value = sc->raw[best];
        af->contribution = contrib[best];
        int bidx = sc->side == SIDE_DESTINATION ? a->n_feat[SIDE_SOURCE] + best : best;
        const struct model_section *sec = a->sec[sc->side];
        bool own = sc->side == SIDE_DESTINATION || best < behaviour_source_upload_index();
        if (sc->side != SIDE_PREFIX && own && sc->be && sc->be->n && bidx < BASELINE_FEATURES)
            af->baseline = sc->be->mean[bidx]; /* the host's own usual */
        else if (sec->train_mean)              /* a new host, or a prefix: the network's usual */
            af->baseline = sec->scaling[best] == SCALE_LOG ? expm1(sec->train_mean[best])
                                                           : sec->train_mean[best];
    }
    geo_lookup(a->geo, &sc->ip, &al->geo);
    if (sc->side != SIDE_DESTINATION)
        l7_summary(a, sc->h, al->l7, sizeof(al->l7));
    snprintf(al->model_id, sizeof(al->model_id), "%s", a->model.id);
    al->n_features = nf;
    al->features = sc->raw;
    al->feature_names = a->names_tab[sc->side];
}

static void print_alert(const struct alert *al)
{
    char ip[64];
    ip_addr_str(&al->ip, ip, sizeof(ip));
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "ALERT %s %s", alert_side_name(al->side), ip);
    if (al->side == ALERT_SIDE_PREFIX)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%u",
                      ip_addr_is_v4(&al->ip) ? al->prefix_len - 96u : al->prefix_len);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, " score %.3f (threshold %.3f)", al->score,
                  al->threshold);
    if (al->geo.country[0])
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %s", al->geo.country);
    for (int i = 0; i < al->n_top && n < (int)sizeof(buf) - 64; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s %s=%.4g (usual %.4g)",
                      i ? "," : " why:", al->top[i].name, al->top[i].value, al->top[i].baseline);
    printf("%s\n", buf);
    fflush(stdout);
}

/* The forest's score is in sc->score (for sc->x, scaled by the model): learned limits,
 * rules, persistence and the scores CSV row. */
static void judge_score(analyzer_t *a, const struct window *w, struct scored *sc)
{
    const struct model_section *sec = a->sec[sc->side];
    int nf = a->n_feat[sc->side];
    sc->threshold = sec->threshold;
    /* Learned limits: the forest cannot score a value beyond anything in its training
     * sample higher than the most extreme training point (it lands in the same leaf), so
     * "several times more than the whole network ever did" is judged here. The excess is
     * in natural-log units over the training maximum; it maps to a score that reaches
     * LIMIT_SCORE at LIMIT_FACTOR times the maximum. */
    if (sec->train_max) {
        double worst = 0;
        for (int i = 0; i < nf; i++) {
            sc->excess[i] = 0;
            if (!a->defs[sc->side][i].limit)
                continue;
            double lx = log1p(sc->raw[i] > 0 ? sc->raw[i] : 0);
            double lmax = sec->scaling[i] == SCALE_LOG
                              ? sec->train_max[i]
                              : log1p(sec->train_max[i] > 0 ? sec->train_max[i] : 0);
            double ex = lx - lmax;
            if (ex > 0) {
                sc->excess[i] = ex;
                if (ex > worst)
                    worst = ex;
            }
        }
        if (worst > 0) {
            double s_lim = 1.0 - 0.5 * exp(-worst);
            if (s_lim > sc->score)
                sc->score = s_lim;
        }
        sc->limit_hit = worst >= log(LIMIT_FACTOR);
    }
    double t;
    if (rules_threshold(a->rules, &sc->ip, &t))
        sc->threshold = t;
    sc->over = sc->score >= sc->threshold;
    int hits = baseline_persist(sc->be, sc->side, w->seq, sc->over, (int)a->cfg.persist_n);
    sc->alert = sc->limit_hit || (sc->over && hits >= (int)a->cfg.persist_k);
    /* A denylisted IP is reported whenever it is active enough to be scored. */
    sc->denied = sc->side != SIDE_PREFIX && rules_denied(a->rules, &sc->ip) &&
                 !rules_allowed(a->rules, &sc->ip);
    if (sc->denied)
        sc->alert = true;
    if (sc->alert && rules_allowed(a->rules, &sc->ip))
        sc->alert = false;
    if (a->cfg.scores_csv) {
        char ip[64];
        ip_addr_str(&sc->ip, ip, sizeof(ip));
        if (sc->prefix_len < 128) {
            size_t u = strlen(ip);
            snprintf(ip + u, sizeof(ip) - u, "/%u",
                     ip_addr_is_v4(&sc->ip) ? sc->prefix_len - 96u : sc->prefix_len);
        }
        fprintf(a->cfg.scores_csv, "%" PRIu64 ",%" PRIu64 ",%s,%s,%.6f,%.6f,%d,%d\n",
                w->start_us / 1000000, w->end_us / 1000000, ip,
                behaviour_side_name((enum feature_side)sc->side), sc->score, sc->threshold,
                sc->over, sc->alert);
    }
}

static void score_one(analyzer_t *a, const struct window *w, struct scored *sc)
{
    const struct model_section *sec = a->sec[sc->side];
    behaviour_scale(sc->raw, sec->scaling, a->n_feat[sc->side], sc->x);
    sc->score = iforest_score(sec->forest, sc->x);
    judge_score(a, w, sc);
}

static void write_hosts_csv(analyzer_t *a, const struct window *w)
{
    FILE *f = a->cfg.hosts_csv;
    for (uint32_t i = 0; i < w->n_hosts; i++) {
        const struct host_window *h = &w->hosts[i];
        char ip[64];
        ip_addr_str(&h->ip, ip, sizeof(ip));
        fprintf(f,
                "%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%u,%u,%u,%u,"
                "%u,%u\n",
                w->start_us / 1000000, ip, h->pkts_sent, h->bytes_sent, h->pkts_recv, h->bytes_recv,
                h->flows_started, h->flows_in, h->tcp_started, h->tcp_answered, h->l7_known,
                h->l7_unknown, h->dns_queries);
    }
}

/* One window's analysis, shared by the steps each vector goes through. */
struct window_run {
    const struct window *w;
    bool scoring;         /* a model, and not train-only */
    bool warmup;          /* the vectors train the first model */
    bool in_tx;           /* inside the window's SQLite transaction */
    int dev_first, dev_n; /* the source side's baseline-deviation features */
    size_t n_scored, n_alerts, below, n_vectors, n_suppressed; /* summed into a->st once */
    struct alert al;
    double contrib[BEHAVIOUR_MAX_FEATURES];
    struct alert *pend; /* alerts of this window, logged after the commit */
    double *pend_raw;   /* their raw vectors, BEHAVIOUR_MAX_FEATURES doubles apart */
    size_t pend_n, pend_cap;
};

/* Host (passes 0 and 1) or prefix (pass 2) i of the window into sc: its raw vector and
 * baseline entry, and its vectors CSV row. False when it is not scored (too little
 * traffic on that side, a prefix of one host). */
static bool build_vector(analyzer_t *a, struct window_run *r, int pass, uint32_t i,
                         struct scored *sc)
{
    const struct window *w = r->w;
    int side = pass;
    const struct host_window *h;
    memset(sc, 0, sizeof(*sc));
    if (pass < 2) {
        h = &w->hosts[i];
        sc->ip = h->ip;
        sc->prefix_len = 128;
    } else {
        if (a->prefixes[i].members < 2)
            return false;
        h = &a->prefixes[i].acc;
        sc->ip = h->ip;
        sc->prefix_len = (uint8_t)(ip_addr_is_v4(&h->ip) ? 96 + a->cfg.prefix4 : a->cfg.prefix6);
    }
    sc->side = side;
    sc->h = h;
    if (side == SIDE_SOURCE) {
        if (h->pkts_sent == 0)
            return false;
        prefix_add(a, h);
        if (h->pkts_sent < a->cfg.min_pkts) {
            r->below++;
            return false;
        }
        /* Baselines only for IPs active enough to be scored: one-packet spoofed
         * sources would otherwise fill the table. */
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_source(h, sc->raw);
        for (int k = 0; k < r->dev_n; k++) {
            int b = behaviour_source_dev_base(k);
            sc->raw[r->dev_first + k] = baseline_deviation(sc->be, b, sc->raw[b]);
        }
        sc->raw[behaviour_source_upload_index()] =
            baseline_upload(sc->be, w->seq, (double)h->up_public_net);
        if (a->cfg.vectors_csv) {
            char ip[64];
            ip_addr_str(&h->ip, ip, sizeof(ip));
            fprintf(a->cfg.vectors_csv, "%" PRIu64 ",%s", w->start_us / 1000000, ip);
            for (int k = 0; k < a->n_feat[SIDE_SOURCE]; k++)
                fprintf(a->cfg.vectors_csv, ",%.6g", sc->raw[k]);
            fputc('\n', a->cfg.vectors_csv);
        }
    } else if (side == SIDE_DESTINATION) {
        if (h->pkts_recv < a->cfg.min_pkts || h->flows_in == 0)
            return false;
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_destination(h, sc->raw);
    } else {
        if (h->pkts_sent < a->cfg.min_pkts)
            return false;
        /* Prefix persistence is kept under the prefix's base address. */
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_source(h, sc->raw); /* prefix: the first N_PREFIX features */
    }
    r->n_vectors++;
    return true;
}

/* After judge_score: the counters, the retraining reservoir and the vector's alert. */
static void vector_scored(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side;
    r->n_scored++;
    if (sc->over && !sc->alert)
        r->n_suppressed++;
    /* Retraining learns only from IPs with no window over threshold among their last 16:
     * a persistent attacker that is not flagged every window must not become "normal"
     * through its quieter windows. */
    if (!sc->over && a->cfg.retrain_every && !(sc->be && sc->be->over[side]))
        train_offer(a, side, sc->x, false);
    if (!sc->alert)
        return;
    fill_alert(a, r->w, sc, &r->al, r->contrib);
    if (a->store && r->in_tx) {
        store_window_add(a->store, a->run_id, &r->al);
        if (store_alert_add(a->store, a->run_id, &r->al) < 0)
            log_error("store: %s", store_errmsg(a->store));
    }
    if (r->pend_n == r->pend_cap) {
        size_t nc = r->pend_cap ? r->pend_cap * 2 : 16;
        struct alert *np = realloc(r->pend, nc * sizeof(*np));
        double *nr = realloc(r->pend_raw, nc * BEHAVIOUR_MAX_FEATURES * sizeof(double));
        if (np)
            r->pend = np;
        if (nr)
            r->pend_raw = nr;
        if (np && nr)
            r->pend_cap = nc;
    }
    if (r->pend_n < r->pend_cap) {
        double *raw = r->pend_raw + r->pend_n * BEHAVIOUR_MAX_FEATURES;
        memcpy(raw, sc->raw, sizeof(sc->raw));
        r->pend[r->pend_n] = r->al;
        r->pend[r->pend_n].features = raw;
        r->pend_n++;
    }
    r->n_alerts++;
}

/* Every vector's last steps, scored or not: the host's SQLite row and its baseline. */
static void vector_done(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side;
    if (a->store && r->in_tx && side == SIDE_SOURCE) {
        struct geo_info gi;
        geo_lookup(a->geo, &sc->ip, &gi);
        store_host_seen(a->store, &sc->ip, r->w->start_us, r->w->end_us, &gi,
                        r->scoring && a->sec[side] ? sc->score : -1);
    }
    /* Baselines learn from windows that were not over threshold. */
    if (side != SIDE_PREFIX && !sc->over)
        baseline_update(a->baseline, sc->be, side == SIDE_SOURCE ? 0 : a->n_feat[SIDE_SOURCE],
                        sc->raw, side == SIDE_SOURCE ? r->dev_first : a->n_feat[side]);
}

/* One vector, start to end: offered for training when its side has no forest yet,
 * otherwise scored on its own. */
static void vector_one(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side, nf = a->n_feat[side];
    if (!r->scoring || !a->sec[side]) {
        if (a->cfg.train_only || r->warmup || a->cfg.retrain_every) {
            uint8_t scl[BEHAVIOUR_MAX_FEATURES];
            for (int k = 0; k < nf; k++)
                scl[k] = a->cfg.scaling >= 0 ? (uint8_t)a->cfg.scaling : a->defs[side][k].scaling;
            behaviour_scale(sc->raw, scl, nf, sc->x);
            train_offer(a, side, sc->x, a->cfg.train_only || r->warmup);
        }
    } else {
        score_one(a, r->w, sc);
        vector_scored(a, r, sc);
    }
    vector_done(a, r, sc);
}

/* Room in the batch buffers for min(n, SCORE_BATCH) vectors; they are kept across
 * windows. Returns the room there is: less after a failed allocation, 0 meaning score
 * one at a time. */
static size_t batch_reserve(analyzer_t *a, size_t n)
{
    size_t need = n < SCORE_BATCH ? n : SCORE_BATCH;
    if (need <= a->batch_cap)
        return a->batch_cap;
    size_t cap = 64;
    while (cap < need)
        cap *= 2;
    if (cap > SCORE_BATCH)
        cap = SCORE_BATCH;
    struct scored *ns = realloc(a->batch, cap * sizeof(*ns));
    if (ns)
        a->batch = ns;
    struct baseline_entry *nb = realloc(a->batch_be, cap * sizeof(*nb));
    if (nb)
        a->batch_be = nb;
    float *nx = realloc(a->batch_x, cap * BEHAVIOUR_MAX_FEATURES * sizeof(*nx));
    if (nx)
        a->batch_x = nx;
    double *nsc = realloc(a->batch_score, cap * sizeof(*nsc));
    if (nsc)
        a->batch_score = nsc;
    if (ns && nb && nx && nsc)
        a->batch_cap = cap;
    return a->batch_cap;
}

/* A scoring pass, a chunk of up to batch_cap vectors at a time: build the chunk's
 * vectors, score them with one iforest_score_many, then take each through the rest in
 * order. Every step but the forest walk runs in the same order as one at a time, so
 * the results are the same. */
static void score_pass_batched(analyzer_t *a, struct window_run *r, int pass, uint32_t n)
{
    const struct model_section *sec = a->sec[pass];
    size_t nf = (size_t)a->n_feat[pass];
    uint32_t i = 0;
    while (i < n) {
        size_t m = 0;
        for (; i < n && m < a->batch_cap; i++) {
            struct scored *sc = &a->batch[m];
            if (!build_vector(a, r, pass, i, sc))
                continue;
            a->batch_be[m] = *sc->be;
            behaviour_scale(sc->raw, sec->scaling, (int)nf, sc->x);
            memcpy(a->batch_x + m * nf, sc->x, nf * sizeof(float));
            m++;
        }
        if (m == 0)
            break;
        iforest_score_many(sec->forest, a->batch_x, m, a->batch_score);
        for (size_t j = 0; j < m; j++) {
            struct scored *sc = &a->batch[j];
            /* When its probe is full, baseline_get gives the least recently seen entry
             * to the new IP: a later vector of this chunk may have taken this one's.
             * One at a time, this vector would have used its entry (persistence,
             * update) and then lost it: so it uses the copy taken when it was built,
             * and what it writes there is lost the same way. */
            if (memcmp(sc->be->ip.b, sc->ip.b, sizeof(sc->ip.b)) != 0)
                sc->be = &a->batch_be[j];
            sc->score = a->batch_score[j];
            judge_score(a, r->w, sc);
            vector_scored(a, r, sc);
            vector_done(a, r, sc);
        }
    }
}

static void process_window(analyzer_t *a, struct window *w)
{
    struct window_run r;
    memset(&r, 0, sizeof(r));
    r.w = w;
    r.scoring = a->have_model && !a->cfg.train_only;
    r.warmup = !a->cfg.train_only && !a->have_model && !a->cfg.model_path;
    if (a->cfg.hosts_csv)
        write_hosts_csv(a, w);

    r.dev_first = behaviour_source_dev_first(&r.dev_n);
    struct scored *sc = malloc(sizeof(*sc));
    if (!sc) {
        log_error("out of memory analysing a window");
        return;
    }
    if (a->store && r.scoring) {
        if (store_window_begin(a->store) < 0)
            log_error("store: %s", store_errmsg(a->store));
        else
            r.in_tx = true;
    }

    prefix_reset(a, w->n_hosts);
    for (int pass = 0; pass < 3; pass++) {
        uint32_t n = pass < 2 ? w->n_hosts : a->n_prefixes;
        if (r.scoring && a->sec[pass] && batch_reserve(a, n) > 0)
            score_pass_batched(a, &r, pass, n);
        else
            for (uint32_t i = 0; i < n; i++)
                if (build_vector(a, &r, pass, i, sc))
                    vector_one(a, &r, sc);
        if (pass == 1) /* one more window in the baselines this window touched */
            for (uint32_t i = 0; i < w->n_hosts; i++) {
                struct baseline_entry *e = baseline_find(a->baseline, &w->hosts[i].ip);
                if (e && e->last_seq == w->seq)
                    e->n++;
            }
    }
    bool store_failed = r.in_tx && store_window_commit(a->store) < 0;
    if (store_failed)
        log_error("store: window not saved: %s", store_errmsg(a->store));
    size_t log_failed = 0;
    /* Retention by packet time, every 16 windows, in its own transaction. */
    if (r.in_tx && a->cfg.retention_us && w->seq % 16 == 0 && w->end_us > a->cfg.retention_us &&
        store_retention(a->store, w->end_us - a->cfg.retention_us) < 0)
        log_error("store: retention: %s", store_errmsg(a->store));
    for (size_t i = 0; i < r.pend_n; i++) {
        if (a->log && alert_log_write(a->log, &r.pend[i]) < 0)
            log_failed++;
        if (a->cfg.print_alerts)
            print_alert(&r.pend[i]);
    }
    if (log_failed) /* one line per window, not per alert */
        log_error("alert log: %zu of %zu lines not written: %s", log_failed, r.pend_n,
                  alert_log_errmsg(a->log));
    free(r.pend);
    free(r.pend_raw);
    free(sc);
    a->windows_seen++;
    pthread_mutex_lock(&a->st_mu);
    a->st.windows++;
    a->st.scored += r.n_scored;
    a->st.alerts += r.n_alerts;
    a->st.below_min += r.below;
    a->st.vectors += r.n_vectors;
    a->st.suppressed += r.n_suppressed;
    a->st.store_errors += store_failed;
    a->st.log_errors += log_failed;
    pthread_mutex_unlock(&a->st_mu);

    if (r.warmup && a->windows_seen >= a->cfg.warmup_windows) {
        struct model m;
        char errbuf[TAPIR_ERRBUF_SIZE];
        char on[128];
        snprintf(on, sizeof(on), "warm-up: first %" PRIu64 " windows", a->windows_seen);
        if (fit_model(a, &m, on, errbuf) == 0)
            install_model(a, &m, "warm-up");
        else
            log_warn("warm-up training postponed: %s", errbuf);
        if (a->have_model && !a->cfg.retrain_every)
            for (int s = 0; s < SIDE_COUNT; s++) {
                free(a->train[s].x);
                memset(&a->train[s], 0, sizeof(a->train[s]));
            }
    } else if (r.scoring && a->cfg.retrain_every && a->windows_seen % a->cfg.retrain_every == 0) {
        struct model m;
        char errbuf[TAPIR_ERRBUF_SIZE];
        if (fit_model(a, &m, "rolling retrain on recent unflagged windows", errbuf) == 0)
            install_model(a, &m, "retrained");
        else
            log_warn("retraining skipped: %s", errbuf);
    }
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
    if (a->log && alert_log_reopen(a->log) < 0)
        log_error("alert log: %s", alert_log_errmsg(a->log));
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
        if (load_model(a, a->cfg.model_path, errbuf) < 0)
            log_error("model not reloaded (old model kept): %s", errbuf);
    }
    log_info("reloaded: persist %u/%u, min-pkts %u, threshold %s", a->cfg.persist_k,
             a->cfg.persist_n, a->cfg.min_pkts,
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
        if (!w) {
            if (closed)
                event_base_loopbreak(a->base);
            return;
        }
        process_window(a, w);
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
}

void analyzer_set_metrics(analyzer_t *a, analyzer_metrics_fn fn, void *ctx)
{
    a->more_metrics = fn;
    a->more_metrics_ctx = ctx;
}

static void metric(struct evbuffer *out, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
                        name, v);
}

/* Live counters for /metrics: the sensor's published snapshot and our own. */
static void write_metrics(void *ctx, struct evbuffer *out)
{
    analyzer_t *a = ctx;
    struct analyzer_stats as;
    analyzer_get_stats(a, &as);
    if (a->more_metrics)
        a->more_metrics(a->more_metrics_ctx, out);
    metric(out, "tapir_windows_analyzed_total", "counter", "Windows analysed.", as.windows);
    metric(out, "tapir_vectors_scored_total", "counter", "Behaviour vectors scored.", as.scored);
    metric(out, "tapir_alerts_total", "counter", "Alerts raised.", as.alerts);
    metric(out, "tapir_store_errors_total", "counter", "Failed window transactions.",
           as.store_errors);
    metric(out, "tapir_alert_log_errors_total", "counter", "Failed alert-log writes.",
           as.log_errors);
    metric(out, "tapir_trainings_total", "counter", "Models fitted (warm-up, retrain).",
           as.trainings);
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
    if (a->cfg.http_listen) {
        struct http_config hc = {a->cfg.http_listen, a->cfg.http_token, a->cfg.http_rate, 0};
        a->http = http_create(a->base, &hc, a->store, write_metrics, a, errbuf);
        if (!a->http)
            return -1;
        log_info("http: listening on port %u (%s)", http_port(a->http), a->cfg.http_listen);
    }
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

int analyzer_train_save(analyzer_t *a, const char *path, char *errbuf)
{
    struct model m;
    char on[128];
    snprintf(on, sizeof(on), "%s", a->cfg.source ? a->cfg.source : "baseline capture");
    if (fit_model(a, &m, on, errbuf) < 0)
        return -1;
    int r = model_save(&m, path, errbuf);
    if (r == 0)
        log_info("model %s: %zu source, %zu destination, %zu prefix vectors; source threshold "
                 "%.4f",
                 m.id, a->train[SIDE_SOURCE].rows, a->train[SIDE_DESTINATION].rows,
                 a->train[SIDE_PREFIX].rows, m.sections[0].threshold);
    model_free(&m);
    return r;
}

void analyzer_finish_run(analyzer_t *a, uint64_t packets, uint64_t bytes, int exit_status)
{
    if (!a->store)
        return;
    if (store_run_end(a->store, a->run_id, tapir_wall_us(), packets, bytes, a->st.windows,
                      a->st.alerts, exit_status) < 0)
        log_error("store: %s", store_errmsg(a->store));
}
