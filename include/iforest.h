/*
 * iforest.h — Isolation Forest (Liu, Ting & Zhou 2008), scored like scikit-learn 1.2's
 * IsolationForest.score_samples (negated): s = 2^(-E[h]/c(psi)) in (0,1], higher is more
 * anomalous. The design is in the headers of forest/iforest.c (core, explain), iforest_fit.c,
 * iforest_score.c (the scoring layouts) and iforest_io.c (import, the serialized layout).
 *
 * An iforest_t is immutable after fit/import/deserialize: any number of threads may score
 * with one forest at the same time.
 */
#ifndef TAPIR_IFOREST_H
#define TAPIR_IFOREST_H

#include <stddef.h>
#include <stdint.h>

typedef struct iforest iforest_t;

#define IFOREST_DEFAULT_TREES   100
#define IFOREST_DEFAULT_SAMPLES 256
#define IFOREST_MAX_TREES       100000   /* a bound for hostile files, not a tuning knob */
#define IFOREST_MAX_FEATURES    65536    /* idem */
#define IFOREST_MAX_SAMPLES     16777216 /* idem: psi, 2^24 */

struct iforest_params {
    uint32_t n_trees;     /* t; 0 means IFOREST_DEFAULT_TREES */
    uint32_t sample_size; /* psi, rows per tree; 0 means 256; capped at n_rows */
    uint64_t seed;        /* same seed, same data: same forest, whatever n_threads */
    int n_threads;        /* fit threads; 0 or 1 means the calling thread only */
};

/* Fits a forest on X (n_rows x n_features, row-major, borrowed for the call). Returns NULL
 * with errbuf (TAPIR_ERRBUF_SIZE) filled on bad arguments or out of memory. */
iforest_t *iforest_fit(const float *X, size_t n_rows, size_t n_features,
                       const struct iforest_params *p, char *errbuf);

/* Anomaly score of one vector x (n_features floats): 2^(-E[h]/c(psi)), in (0,1].
 * Allocation-free; any thread. */
double iforest_score(const iforest_t *f, const float *x);

/* Scores n row-major vectors into out[n]; out[i] == iforest_score(f, X + i * nf). */
void iforest_score_many(const iforest_t *f, const float *X, size_t n, double *out);

/* Mean path length E[h](x) over the trees (the exponent's numerator, per tree). */
double iforest_path_length(const iforest_t *f, const float *x);

/* Per-feature share of x's isolation, contrib[n_features], summing to 1 (or all 0 when no
 * split on x's paths shortened them). Definition in iforest.c's header. */
void iforest_explain(const iforest_t *f, const float *x, double *contrib);

size_t iforest_n_features(const iforest_t *f);
uint32_t iforest_n_trees(const iforest_t *f);
uint32_t iforest_sample_size(const iforest_t *f);
uint64_t iforest_seed(const iforest_t *f);
/* ceil(log2(max(psi, 2))): no leaf is deeper than this. */
uint32_t iforest_height_limit(const iforest_t *f);
/* The in-memory layout scoring walks, for tests and the benchmark: "complete" (implicit
 * children, the fast one) or "linked" (when the complete one would take too much memory;
 * see iforest_score.c). Both give the same scores to the bit. */
const char *iforest_layout(const iforest_t *f);

/* The score at the (1 - contamination) quantile of train_scores (numpy's "linear"
 * percentile, so it equals -IsolationForest.offset_). contamination in [0, 1]; n > 0.
 * Does not modify train_scores. Returns NAN if n == 0 or out of memory. */
double iforest_threshold_for_contamination(const double *train_scores, size_t n,
                                           double contamination);

/* c(n): average path length of an unsuccessful search in a BST of n nodes, scikit-learn's
 * _average_path_length: 0 for n <= 1, 1 for n == 2, else 2(ln(n-1)+gamma) - 2(n-1)/n. */
double iforest_c(double n);

void iforest_destroy(iforest_t *f); /* NULL ok */

/* ---- Trees from elsewhere (scikit-learn export, tests) ---------------------------- */

/* One tree in scikit-learn's layout (tree_.children_left/right, feature, threshold,
 * n_node_samples). A leaf has left == right == -1. Arrays borrowed for the call. */
struct iforest_tree_def {
    uint32_t n_nodes;
    const int32_t *left;
    const int32_t *right;
    const int32_t *feature;
    const double *threshold;
    const int32_t *n_samples;
};

/* Builds a forest from trees; validates everything a hostile source could get wrong:
 * child indices in range, each node reached once from the root (no cycles, no shared or
 * unreachable nodes), features < n_features, finite thresholds, child sample counts
 * summing to the parent's, the root holding sample_size rows, depth <= the height
 * limit. Returns NULL with errbuf filled on the first problem. */
iforest_t *iforest_import(size_t n_features, uint32_t sample_size, uint64_t seed, uint32_t n_trees,
                          const struct iforest_tree_def *trees, char *errbuf);

/* Leaf facts for structure tests and diagnostics: calls fn(arg, tree, depth, n_samples)
 * for every leaf, trees in order. */
void iforest_visit_leaves(const iforest_t *f,
                          void (*fn)(void *arg, uint32_t tree, uint32_t depth, uint32_t n_samples),
                          void *arg);

/* ---- Serialization (used by model.c) ---------------------------------------------- */

/* Bytes iforest_serialize writes. Little-endian layout in iforest_io.c's header. */
size_t iforest_serialized_size(const iforest_t *f);
/* Writes exactly iforest_serialized_size(f) bytes to buf. */
void iforest_serialize(const iforest_t *f, uint8_t *buf);
/* Reads a forest from buf[0..len) (untrusted); *used gets the bytes consumed. Returns
 * NULL with errbuf filled ("truncated forest", "tree 3 node 17: child index 900 out of
 * range", ...) on any inconsistency; never reads outside buf. */
iforest_t *iforest_deserialize(const uint8_t *buf, size_t len, size_t *used, char *errbuf);

#endif
