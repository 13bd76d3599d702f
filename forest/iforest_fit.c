/*
 * iforest_fit.c — fitting an Isolation Forest on a matrix of float vectors.
 *
 * Algorithm (Liu, Ting & Zhou 2008) with scikit-learn 1.2's details, so that trees exported
 * from sklearn score here to within rounding of IsolationForest.score_samples (negated),
 * and our own fits agree with sklearn's in distribution:
 *   - each tree sees psi = min(sample_size, n_rows) rows drawn without replacement
 *     (Floyd's algorithm: O(psi) work and memory, not O(n_rows) as a shuffle would be);
 *   - height limit ceil(log2(max(psi, 2))); a node is a leaf at the limit, with fewer than
 *     2 rows, or when every feature is constant on its rows (so duplicate rows end up in
 *     one leaf);
 *   - at a node, a feature is drawn uniformly among those not yet found constant there;
 *     "constant" is sklearn's max <= min + 1e-7 (FEATURE_THRESHOLD); constant ones are
 *     dropped and the draw repeated, which is uniform over the non-constant features, as
 *     sklearn's RandomSplitter with max_features=1 is;
 *   - the threshold is a double drawn uniformly in [min, max) of the node's float32
 *     values (min if rounding lands on max); `x <= threshold` goes left;
 *   - a leaf holding n training rows at depth d adds h = d + c(n), c as in iforest_c();
 *     we store ((d + 1) + c(n)) - 1 in the leaf, the exact float expression sklearn
 *     evaluates, and sum the trees in order, so exported trees match to the last bits;
 *   - s(x) = 2^(-sum_h / (t * c(psi))), 1 when c(psi) == 0 (psi == 1), as sklearn.
 * Our random numbers are our own (xoshiro256**, per-tree state from splitmix64 over the
 * seed and the tree index), so a forest depends on the seed and the data only, not on
 * n_threads; it cannot reproduce sklearn's trees bit for bit, and need not. Rejected:
 * reproducing sklearn's random streams draw for draw, which would tie the fitter to
 * sklearn's internals; the scores of exported trees (test_iforest's fixtures) already pin
 * the arithmetic, and our own fits are compared with sklearn's in distribution.
 *
 * Each tree is built into per-thread scratch (its sample copied column-major, so the
 * min/max scans at a node read one contiguous column), then copied into the forest's one
 * node array (iforest_int.h) and finalized into the scoring layout (iforest_score.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iforest_int.h"
#include "tapir.h"

#define FEATURE_THRESHOLD 1e-7 /* sklearn's: a feature spanning no more is constant */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ splitmix64(&stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r) /* xoshiro256** */
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return out;
}

static uint64_t rng_below(struct rng *r, uint64_t k) /* [0, k), k >= 1 */
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * k) >> 64);
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

struct fit_job {
    const float *X;
    size_t n_rows, nf;
    uint32_t psi, hlim, n_trees;
    uint64_t seed;
    int n_threads, failed;
    struct ifnode **tree_nodes; /* per tree, malloc'd by the worker */
    uint32_t **tree_ns;
    uint32_t *tree_len;
};

struct fit_work {
    size_t *rows; /* psi sampled row indices */
    size_t *set;  /* Floyd's hash set, set_mask + 1 slots */
    size_t set_mask;
    float *cols;          /* psi x nf, column-major: the tree's sample */
    uint32_t *idx;        /* psi: permutation of sample rows, partitioned per node */
    uint32_t *cand;       /* nf: features not found constant at the current node */
    uint32_t *stack;      /* 4 * psi: (start, end, depth, slot) */
    struct ifnode *nodes; /* 2 * psi - 1 */
    uint32_t *ns;
};

static void work_free(struct fit_work *w)
{
    free(w->rows), free(w->set), free(w->cols), free(w->idx), free(w->cand);
    free(w->stack), free(w->nodes), free(w->ns);
}

static int work_alloc(struct fit_work *w, uint32_t psi, size_t nf)
{
    memset(w, 0, sizeof(*w));
    size_t slots = 1;
    while (slots < 2 * (size_t)psi)
        slots <<= 1;
    w->set_mask = slots - 1;
    w->rows = malloc(psi * sizeof(*w->rows));
    w->set = malloc(slots * sizeof(*w->set));
    w->cols = malloc((size_t)psi * nf * sizeof(*w->cols));
    w->idx = malloc(psi * sizeof(*w->idx));
    w->cand = malloc(nf * sizeof(*w->cand));
    w->stack = malloc(4 * (size_t)psi * sizeof(*w->stack));
    w->nodes = malloc((2 * (size_t)psi) * sizeof(*w->nodes));
    w->ns = malloc((2 * (size_t)psi) * sizeof(*w->ns));
    if (!w->rows || !w->set || !w->cols || !w->idx || !w->cand || !w->stack || !w->nodes ||
        !w->ns) {
        work_free(w);
        return -1;
    }
    return 0;
}

/* Adds v to the set unless present; returns 1 if added. */
static int set_add(struct fit_work *w, size_t v)
{
    size_t h = (size_t)((v * 0x9E3779B97F4A7C15ULL) >> 17) & w->set_mask;
    while (w->set[h] != SIZE_MAX) {
        if (w->set[h] == v)
            return 0;
        h = (h + 1) & w->set_mask;
    }
    w->set[h] = v;
    return 1;
}

static void sample_rows(struct fit_work *w, struct rng *r, size_t n_rows, uint32_t psi)
{
    if (psi == n_rows) {
        for (size_t i = 0; i < n_rows; i++)
            w->rows[i] = i;
        return;
    }
    /* Floyd: for j in [n - psi, n), draw t in [0, j]; take t, or j if t was taken. */
    for (size_t i = 0; i <= w->set_mask; i++)
        w->set[i] = SIZE_MAX;
    size_t k = 0;
    for (size_t j = n_rows - psi; j < n_rows; j++) {
        size_t t = (size_t)rng_below(r, (uint64_t)j + 1);
        w->rows[k++] = set_add(w, t) ? t : (set_add(w, j), j);
    }
}

/* Builds tree t into w->nodes / w->ns (slots relative to the tree); returns its size. */
static uint32_t build_tree(const struct fit_job *job, struct fit_work *w, uint32_t t)
{
    const uint32_t psi = job->psi;
    const size_t nf = job->nf;
    struct rng r;
    rng_seed(&r, job->seed, t);
    sample_rows(w, &r, job->n_rows, psi);
    for (uint32_t i = 0; i < psi; i++) {
        const float *row = job->X + w->rows[i] * nf;
        for (size_t j = 0; j < nf; j++)
            w->cols[j * psi + i] = row[j];
        w->idx[i] = i;
    }
    uint32_t *st = w->stack, sp = 0, next = 1;
    st[0] = 0, st[1] = psi, st[2] = 0, st[3] = 0, sp = 1;
    while (sp > 0) {
        sp--;
        uint32_t start = st[4 * sp], end = st[4 * sp + 1], depth = st[4 * sp + 2],
                 slot = st[4 * sp + 3], n = end - start;
        struct ifnode *nd = &w->nodes[slot];
        w->ns[slot] = n;
        if (n >= 2 && depth < job->hlim) {
            uint32_t ncand = (uint32_t)nf;
            for (uint32_t j = 0; j < ncand; j++)
                w->cand[j] = j;
            while (ncand > 0) {
                uint32_t k = (uint32_t)rng_below(&r, ncand), feat = w->cand[k];
                const float *col = w->cols + (size_t)feat * psi;
                float mn = col[w->idx[start]], mx = mn;
                for (uint32_t i = start + 1; i < end; i++) {
                    float v = col[w->idx[i]];
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                }
                if ((double)mx <= (double)mn + FEATURE_THRESHOLD) {
                    w->cand[k] = w->cand[--ncand]; /* constant here: draw again */
                    continue;
                }
                double thr = (double)mn + ((double)mx - (double)mn) * rng_unit(&r);
                if (thr >= (double)mx)
                    thr = mn;
                uint32_t lo = start, hi = end; /* partition: [start, lo) go left */
                while (lo < hi) {
                    if ((double)col[w->idx[lo]] <= thr) {
                        lo++;
                    } else {
                        uint32_t tmp = w->idx[lo];
                        w->idx[lo] = w->idx[--hi];
                        w->idx[hi] = tmp;
                    }
                }
                nd->feature = feat;
                nd->value = thr;
                nd->left = next;
                st[4 * sp] = lo, st[4 * sp + 1] = end, st[4 * sp + 2] = depth + 1;
                st[4 * sp + 3] = next + 1, sp++;
                st[4 * sp] = start, st[4 * sp + 1] = lo, st[4 * sp + 2] = depth + 1;
                st[4 * sp + 3] = next, sp++;
                next += 2;
                break;
            }
            if (ncand > 0)
                continue;
        }
        nd->feature = LEAF;
        nd->left = 0;
        nd->value = iforest_leaf_value(depth, n);
    }
    return next;
}

struct fit_thread {
    struct fit_job *job;
    int id;
    pthread_t tid;
};

static void *fit_worker(void *arg)
{
    struct fit_thread *th = arg;
    struct fit_job *job = th->job;
    struct fit_work w;
    if (work_alloc(&w, job->psi, job->nf) < 0) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (uint32_t t = (uint32_t)th->id; t < job->n_trees; t += (uint32_t)job->n_threads) {
        if (__atomic_load_n(&job->failed, __ATOMIC_RELAXED))
            break;
        uint32_t len = build_tree(job, &w, t);
        job->tree_nodes[t] = malloc(len * sizeof(struct ifnode));
        job->tree_ns[t] = malloc(len * sizeof(uint32_t));
        if (!job->tree_nodes[t] || !job->tree_ns[t]) {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            break;
        }
        memcpy(job->tree_nodes[t], w.nodes, len * sizeof(struct ifnode));
        memcpy(job->tree_ns[t], w.ns, len * sizeof(uint32_t));
        job->tree_len[t] = len;
    }
    work_free(&w);
    return NULL;
}

iforest_t *iforest_fit(const float *X, size_t n_rows, size_t n_features,
                       const struct iforest_params *p, char *errbuf)
{
    uint32_t n_trees = p && p->n_trees ? p->n_trees : IFOREST_DEFAULT_TREES;
    uint32_t psi = p && p->sample_size ? p->sample_size : IFOREST_DEFAULT_SAMPLES;
    int n_threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (n_rows == 0) {
        tapir_errf(errbuf, "no rows to fit a forest on");
        return NULL;
    }
    if (psi > n_rows)
        psi = (uint32_t)n_rows;
    if (iforest_check_shape(n_features, psi, n_trees, errbuf) < 0)
        return NULL;
    if ((uint32_t)n_threads > n_trees)
        n_threads = (int)n_trees;
    if (n_threads > 256)
        n_threads = 256;

    struct fit_job job = {.X = X,
                          .n_rows = n_rows,
                          .nf = n_features,
                          .psi = psi,
                          .hlim = iforest_height_limit_for(psi),
                          .n_trees = n_trees,
                          .seed = p ? p->seed : 0,
                          .n_threads = n_threads};
    struct fit_thread *th = calloc((size_t)n_threads, sizeof(*th));
    job.tree_nodes = calloc(n_trees, sizeof(*job.tree_nodes));
    job.tree_ns = calloc(n_trees, sizeof(*job.tree_ns));
    job.tree_len = calloc(n_trees, sizeof(*job.tree_len));
    struct iforest *f = NULL;
    if (!th || !job.tree_nodes || !job.tree_ns || !job.tree_len)
        goto oom;
    int started = 0;
    for (int i = 0; i < n_threads; i++) {
        th[i].job = &job;
        th[i].id = i;
    }
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&th[i].tid, NULL, fit_worker, &th[i]) != 0)
            break;
        started = i;
    }
    if (started < n_threads - 1) {
        __atomic_store_n(&job.failed, 1, __ATOMIC_RELAXED);
        for (int i = 1; i <= started; i++)
            pthread_join(th[i].tid, NULL);
        tapir_errf(errbuf, "cannot start %d fit threads", n_threads);
        goto fail;
    }
    fit_worker(&th[0]);
    for (int i = 1; i < n_threads; i++)
        pthread_join(th[i].tid, NULL);
    if (job.failed)
        goto oom;

    size_t total = 0;
    for (uint32_t t = 0; t < n_trees; t++)
        total += job.tree_len[t];
    f = iforest_alloc(n_features, n_trees, psi, job.seed, total);
    if (!f)
        goto oom;
    for (uint32_t t = 0; t < n_trees; t++) {
        uint32_t base = f->root[t], len = job.tree_len[t];
        for (uint32_t i = 0; i < len; i++) {
            f->nodes[base + i] = job.tree_nodes[t][i];
            if (f->nodes[base + i].feature != LEAF)
                f->nodes[base + i].left += base;
        }
        memcpy(f->n_samples + base, job.tree_ns[t], len * sizeof(uint32_t));
        f->root[t + 1] = base + len;
    }
    if (iforest_finalize(f) < 0)
        goto oom;
    goto done;
oom:
    tapir_errf(errbuf, "out of memory fitting %u trees on %u rows", n_trees, psi);
fail:
    iforest_destroy(f);
    f = NULL;
done:
    if (job.tree_nodes)
        for (uint32_t t = 0; t < n_trees; t++)
            free(job.tree_nodes[t]);
    if (job.tree_ns)
        for (uint32_t t = 0; t < n_trees; t++)
            free(job.tree_ns[t]);
    free(job.tree_nodes);
    free(job.tree_ns);
    free(job.tree_len);
    free(th);
    return f;
}
