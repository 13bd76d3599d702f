/*
 * iforest.c — Isolation Forest: the node array every part shares, the accessors, and
 * explanation. The algorithm and its scikit-learn details are in iforest_fit.c's header,
 * the scoring layouts in iforest_score.c's, the file layout and import checks in
 * iforest_io.c's; the struct is in iforest_int.h.
 *
 * Node array: every tree's nodes sit in one flat array of 16-byte nodes (struct ifnode),
 * preorder, with a node's two children in adjacent slots (right = left + 1); a leaf points
 * at itself with threshold +inf. That array serves explain(), serialization and
 * diagnostics; scoring reads a copy in a faster layout (iforest_score.c).
 *
 * Explanation (iforest_explain): a subtree on n training rows has expected remaining
 * path length c(n). Following x's path, the split at a node on n rows sending x to a
 * child on n' rows turns that into 1 + c(n'); the gain g = c(n) - 1 - c(n') is how much
 * this split shortened x's path against expectation. Each split's feature is credited
 * max(g, 0) (a split that keeps x with most rows lengthened its path: no credit), summed
 * over all trees and normalised to sum 1. A feature that separates x early from many rows
 * earns most; one never split on, or that never helped, earns 0.
 *
 * Four files, one struct: fitting, scoring, and reading or writing a forest are separate
 * concerns of one data structure, so they share iforest_int.h rather than talk through
 * accessors. Rejected: one 1,235-line file (every change to the hot walk sat next to the
 * fitter and the loader), and separate modules with public getters for the node arrays
 * (an opaque boundary in the middle of the scoring loop). What is hot together stays in
 * one file: iforest_score.c builds the layouts and walks them, so the walks inline as
 * before.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iforest_int.h"
#include "tapir.h"

#define EULER_GAMMA 0.5772156649015329

double iforest_c(double n)
{
    if (n <= 1)
        return 0.0;
    if (n == 2)
        return 1.0;
    return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

struct iforest *iforest_alloc(size_t n_features, uint32_t n_trees, uint32_t psi, uint64_t seed,
                              size_t n_nodes)
{
    size_t n = n_nodes ? n_nodes : 1;
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(struct iforest, root, (size_t)n_trees + 1),
        TAPIR_ARRAY(struct iforest, nodes, n),
        TAPIR_ARRAY(struct iforest, n_samples, n),
    };
    struct iforest *f = tapir_table_alloc(sizeof(*f), arrays, TAPIR_NELEM(arrays), NULL,
                                          "a forest of %zu nodes", n);
    if (!f)
        return NULL;
    f->n_features = n_features;
    f->n_trees = n_trees;
    f->psi = psi;
    f->height_limit = iforest_height_limit_for(psi);
    f->seed = seed;
    f->denom = (double)n_trees * iforest_c((double)psi);
    /* apart: iforest_finalize frees it once the complete layout holds the path lengths */
    f->pathlen = calloc(n, sizeof(*f->pathlen));
    if (!f->pathlen) {
        free(f);
        return NULL;
    }
    return f;
}

void iforest_destroy(iforest_t *f)
{
    if (!f)
        return;
    free(f->pathlen);
    free(f->hot);
    free(f->complete);
    free(f); /* and root, nodes and n_samples: one block */
}

size_t iforest_n_features(const iforest_t *f)
{
    return f->n_features;
}

uint32_t iforest_n_trees(const iforest_t *f)
{
    return f->n_trees;
}

uint32_t iforest_sample_size(const iforest_t *f)
{
    return f->psi;
}

uint64_t iforest_seed(const iforest_t *f)
{
    return f->seed;
}

uint32_t iforest_height_limit(const iforest_t *f)
{
    return f->height_limit;
}

const char *iforest_layout(const iforest_t *f)
{
    return f->complete ? "complete" : "linked";
}

int iforest_check_shape(size_t n_features, uint32_t psi, uint32_t n_trees, char *errbuf)
{
    if (n_features < 1 || n_features > IFOREST_MAX_FEATURES) {
        tapir_errf(errbuf, "%zu features: expected 1 to %d", n_features, IFOREST_MAX_FEATURES);
        return -1;
    }
    if (psi < 1 || psi > IFOREST_MAX_SAMPLES) {
        tapir_errf(errbuf, "sample size %u: expected 1 to %d", psi, IFOREST_MAX_SAMPLES);
        return -1;
    }
    if (n_trees < 1 || n_trees > IFOREST_MAX_TREES) {
        tapir_errf(errbuf, "%u trees: expected 1 to %d", n_trees, IFOREST_MAX_TREES);
        return -1;
    }
    return 0;
}

/* c(n) by table for the row counts explain() meets: a node holds at most psi rows (256 by
 * default), and c() is a function of n alone, so one table serves every forest and gives
 * the same doubles as iforest_c(). Two logs a step made an explanation cost about 86,000
 * instructions; the quiet-side rule and the alerts ask for 2,740 of them on a 1 M-packet
 * synthetic replay (238 instructions a packet, cachegrind). Filled once, on first use
 * (32 KiB); rows beyond it are computed. Rejected: a per-node array built with the forest,
 * which needs every builder (fit, import, load) to fill it for the same result. */
#define C_TABLE_ROWS 4096
static double c_table[C_TABLE_ROWS];
static pthread_once_t c_table_once = PTHREAD_ONCE_INIT;

static void c_table_fill(void)
{
    for (uint32_t n = 0; n < C_TABLE_ROWS; n++)
        c_table[n] = iforest_c((double)n);
}

static inline double c_rows(uint32_t n)
{
    return n < C_TABLE_ROWS ? c_table[n] : iforest_c((double)n);
}

void iforest_explain(const iforest_t *f, const float *x, double *contrib)
{
    pthread_once(&c_table_once, c_table_fill);
    for (size_t j = 0; j < f->n_features; j++)
        contrib[j] = 0;
    for (uint32_t t = 0; t < f->n_trees; t++) {
        uint32_t i = f->root[t];
        double ci = c_rows(f->n_samples[i]); /* c() of the node x is at */
        while (!iforest_is_leaf(f, i)) {
            const struct ifnode *nd = &f->nodes[i];
            uint32_t child = nd->left + ((double)x[nd->feature] > nd->value);
            double cc = c_rows(f->n_samples[child]);
            double g = ci - 1.0 - cc;
            if (g > 0)
                contrib[nd->feature] += g;
            i = child;
            ci = cc;
        }
    }
    double total = 0;
    for (size_t j = 0; j < f->n_features; j++)
        total += contrib[j];
    if (total > 0)
        for (size_t j = 0; j < f->n_features; j++)
            contrib[j] /= total;
}

static void visit(const iforest_t *f, uint32_t t, uint32_t i, uint32_t depth,
                  void (*fn)(void *, uint32_t, uint32_t, uint32_t), void *arg)
{
    /* depth <= height_limit <= 24: recursion is bounded */
    if (iforest_is_leaf(f, i)) {
        fn(arg, t, depth, f->n_samples[i]);
        return;
    }
    visit(f, t, f->nodes[i].left, depth + 1, fn, arg);
    visit(f, t, f->nodes[i].left + 1, depth + 1, fn, arg);
}

void iforest_visit_leaves(const iforest_t *f,
                          void (*fn)(void *arg, uint32_t tree, uint32_t depth, uint32_t n_samples),
                          void *arg)
{
    for (uint32_t t = 0; t < f->n_trees; t++)
        visit(f, t, f->root[t], 0, fn, arg);
}

/* Moves the k-th smallest of v[0..n) to v[k], smaller ones before it, larger after
 * (Hoare's quickselect, median of three; scores are never NaN). O(n) on average: a
 * 100,000-row `tapir forest fit` spent 6% of its CPU in qsort for two order statistics. */
static void select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double a = v[lo], b = v[mid], c = v[hi];
        double p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p)
                i++;
            while (v[j] > p)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j], v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

double iforest_threshold_for_contamination(const double *train_scores, size_t n,
                                           double contamination)
{
    if (n == 0 || !(contamination >= 0 && contamination <= 1))
        return NAN;
    double *v = malloc(n * sizeof(*v));
    if (!v)
        return NAN;
    memcpy(v, train_scores, n * sizeof(*v));
    /* the two order statistics a sort would give at lo and lo + 1 */
    double pos = (1.0 - contamination) * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) {
        select_kth(v, n, n - 1);
        double r = v[n - 1];
        free(v);
        return r;
    }
    select_kth(v, n, lo);
    double up = v[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        up = v[i] < up ? v[i] : up;
    v[lo + 1] = up;
    /* numpy's linear interpolation, including its lerp from the nearer end */
    double frac = pos - (double)lo, a = v[lo], b = v[lo + 1], d = b - a;
    double r = frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
    free(v);
    return r;
}
