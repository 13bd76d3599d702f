/*
 * train.c — the analyzer's models: a reservoir of scaled vectors per side, fitting a
 * forest per side from it, and installing the result (bound to the sides, saved, told
 * to the outputs). Three ways in: `tapir train` keeps every vector of the baseline
 * capture; a run without --model keeps the first windows' vectors (warm-up), then
 * fits; with --retrain R a reservoir of recent unflagged vectors is refitted every R
 * windows.
 *
 * The reservoir is Vitter's algorithm R over at most RESERVOIR_MAX rows a side, so a
 * rolling retrain costs the same after a day as after an hour. Rejected: the last N
 * windows' vectors in a ring, which forgets a quiet night as soon as the morning comes.
 * A side with fewer than TRAIN_MIN_ROWS rows gets no forest (it is not scored); learned
 * limits need LIMIT_MIN_ROWS, since the maximum of a small sample is mostly noise.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_int.h"
#include "iforest.h"
#include "log.h"
#include "timeutil.h"

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

int analyzer_load_model(analyzer_t *a, const char *path, char *errbuf)
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
    if (a->conv && conv_learned_import(a->conv, &a->model.conv) < 0)
        log_warn("out of memory loading the learned conversations: floors only");
    return 0;
}

void analyzer_train_offer(analyzer_t *a, int side, const float *x, bool keep_all)
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
    if (a->conv && conv_learned_export(a->conv, &m->conv) < 0)
        log_warn("out of memory saving the learned conversations: left out of the model");
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
    struct output_model om;
    analyzer_model_info(a, a->cfg.model_out ? a->cfg.model_out : "", &om);
    output_model(a->out, &om);
}

void analyzer_model_info(const analyzer_t *a, const char *path, struct output_model *om)
{
    *om = (struct output_model){
        a->model.id,         a->model.created_us,    path,
        a->model.trained_on, a->n_feat[SIDE_SOURCE], a->sec[SIDE_SOURCE]->threshold};
}

/* After a window: the warm-up's first fit, or a rolling retrain when one is due. */
void analyzer_train_after_window(analyzer_t *a, bool warmup, bool scoring)
{
    if (warmup && a->windows_seen >= a->cfg.warmup_windows) {
        struct model m;
        char errbuf[TAPIR_ERRBUF_SIZE];
        char on[128];
        snprintf(on, sizeof(on), "warm-up: first %" PRIu64 " windows", a->windows_seen);
        if (a->conv) /* the conversation detectors learn for the warm-up, fitted or not */
            conv_set_learning(a->conv, false);
        if (fit_model(a, &m, on, errbuf) == 0)
            install_model(a, &m, "warm-up");
        else
            log_warn("warm-up training postponed: %s", errbuf);
        if (a->have_model && !a->cfg.retrain_every)
            for (int s = 0; s < SIDE_COUNT; s++) {
                free(a->train[s].x);
                memset(&a->train[s], 0, sizeof(a->train[s]));
            }
    } else if (scoring && a->cfg.retrain_every && a->windows_seen % a->cfg.retrain_every == 0) {
        struct model m;
        char errbuf[TAPIR_ERRBUF_SIZE];
        if (fit_model(a, &m, "rolling retrain on recent unflagged windows", errbuf) == 0)
            install_model(a, &m, "retrained");
        else
            log_warn("retraining skipped: %s", errbuf);
    }
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
