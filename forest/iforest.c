/*
 * iforest.c — Isolation Forest: fit, score, explain, serialize.
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
 * n_threads; it cannot reproduce sklearn's trees bit for bit, and need not.
 *
 * Layout: every tree's nodes sit in one flat array of 16-byte nodes, preorder, with a
 * node's two children in adjacent slots (right = left + 1); a leaf points at itself with
 * threshold +inf. That array serves explain(), serialization and diagnostics. Scoring
 * reads a copy built at fit/load time, with each threshold rounded down to a float
 * (exact for float inputs, see struct hotnode), in one of two layouts:
 *   - complete (the usual one): each tree padded to the complete binary tree of depth D,
 *     D the forest's deepest leaf, in 2^(D+1) 8-byte slots (union cslot), breadth-first
 *     from slot 1 so the top levels share cache lines; slot j's children are 2j and
 *     2j + 1, so a step loads no child index: `j = 2j + (x[f] > thr)`, compared as
 *     unsigned keys ordered as the floats (float_key) so that on x86-64 the comparison's
 *     carry feeds the doubling directly (cmp + adc, see child()). Below a leaf the
 *     padding goes left (+inf) and the bottom slots hold that leaf's path length, the
 *     double computed as before, so scores do not change by a bit. iforest_score walks
 *     8 trees at once; iforest_score_many takes 128 rows through one tree at a time,
 *     keyed and transposed so that 16 rows walk together off one pointer
 *     (g[f * 16 + k]).
 *   - linked (12-byte nodes with a child index, walked height_limit steps), kept for
 *     forests the padding would blow up: more than 4 slots per real node (plus 131,072)
 *     or D > 16. A small hostile file (many one-leaf trees and one deep one) thus cannot
 *     make the loader allocate more than ~1.5 times its own size plus 1 MiB.
 * Measured (100 trees, psi 256, 24 features, 2-CPU EPYC VM, shared; min of 30 runs):
 * score_many 0.37 us per row (0.43 with float compares and setcc; linked: 0.92, a
 * child-index load per step and 8 row pointers that spill), one vector 0.9 us (linked
 * 1.0). Rejected: AVX-512 gathers (16 rows a level, 3 gathers: 0.63 us per row); a
 * pointer tree (scattered allocations, slower still); walking one tree to its leaf at a
 * time (a mispredicted branch per leaf: 2.1 us a vector); peeling the root level (no
 * gain measured); 8, 12 or 24 rows walking together instead of 16 (8 and 12: 15-40%
 * slower, too few loads in flight; 24: spills more).
 *
 * Explanation (iforest_explain): a subtree on n training rows has expected remaining
 * path length c(n). Following x's path, the split at a node on n rows sending x to a
 * child on n' rows turns that into 1 + c(n'); the gain g = c(n) - 1 - c(n') is how much
 * this split shortened x's path against expectation. Each split's feature is credited
 * max(g, 0) (a split that keeps x with most rows lengthened its path: no credit), summed
 * over all trees and normalised to sum 1. A feature that separates x early from many rows
 * earns most; one never split on, or that never helped, earns 0.
 *
 * Serialized forest (little-endian, untrusted on read; see iforest_deserialize):
 *   u32 n_features, u32 n_trees, u32 sample_size, u32 zero, u64 seed,
 *   per tree: u32 n_nodes, then n_nodes x 24 bytes:
 *     i32 left, i32 right (-1 for a leaf), i32 feature (-1 leaf), u32 n_samples,
 *     f64 threshold (0 for a leaf).
 * Storing both children (not our implicit right = left + 1) lets one validating builder
 * (add_tree) serve sklearn imports and files alike; the cost is 4 bytes per node.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iforest.h"
#include "tapir.h"

#if defined(__x86_64__) && !defined(IFOREST_PORTABLE) /* -DIFOREST_PORTABLE: test the C */
#define HAVE_ADDCARRY 1
#include <x86intrin.h>
#endif

#define LEAF              UINT32_MAX
#define FEATURE_THRESHOLD 1e-7 /* sklearn's: a feature spanning no more is constant */
#define EULER_GAMMA       0.5772156649015329
#define NODE_BYTES        24 /* serialized node */
#define HEADER_BYTES      24 /* serialized forest header */

struct ifnode {
    double value;     /* threshold: x <= value goes left; +inf in a leaf */
    uint32_t feature; /* split feature; 0 in a leaf */
    uint32_t left;    /* index of the left child (right = left + 1); a leaf's own index */
};

/* What the linked layout scores with (12 bytes), and the complete one is built from.
 * For a float x and a double t, x > t exactly when x > t', t' the largest float <= t; so
 * a float threshold loses nothing and saves the float-to-double conversion and bytes. */
struct hotnode {
    float thr;        /* largest float <= the node's double threshold; +inf in a leaf */
    uint32_t feature; /* 0 in a leaf */
    uint32_t left;    /* as struct ifnode */
};

/* One 8-byte slot of a tree in the complete layout: an inner node or a bottom slot. */
union cslot {
    struct {
        uint32_t thr; /* float_key of hotnode's thr; +inf's at and below a leaf */
        uint32_t fo;  /* split feature x GROUP: its offset in score_many's transposed rows */
    } node;
    double pathlen; /* bottom slot: path length of the leaf above it (or at it) */
};

struct iforest {
    size_t n_features;
    uint32_t n_trees;
    uint32_t psi;          /* rows per tree (sample_size after capping) */
    uint32_t height_limit; /* levels; no leaf deeper */
    uint64_t seed;
    double denom;         /* n_trees * c(psi); 0 when psi == 1 */
    uint32_t *root;       /* n_trees + 1: tree t's nodes are [root[t], root[t + 1]) */
    struct ifnode *nodes; /* root[n_trees] nodes, all trees */
    /* The scoring copy: complete, or (NULL complete) linked, never both after finalize. */
    union cslot *complete; /* n_trees x 2^(depth + 1) slots, tree after tree */
    uint32_t depth;        /* complete: steps of every walk (the deepest leaf's depth) */
    struct hotnode *hot;   /* linked: nodes with float thresholds, same indices */
    double *pathlen;       /* linked: per node, a leaf's path length d + c(n); 0 elsewhere */
    uint32_t *n_samples;   /* training rows per node, parallel to nodes */
};

double iforest_c(double n)
{
    if (n <= 1)
        return 0.0;
    if (n == 2)
        return 1.0;
    return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

static uint32_t height_limit_for(uint32_t psi)
{
    uint32_t h = 0;
    uint64_t m = psi < 2 ? 2 : psi;
    while (((uint64_t)1 << h) < m)
        h++;
    return h;
}

static struct iforest *forest_alloc(size_t n_features, uint32_t n_trees, uint32_t psi,
                                    uint64_t seed, size_t n_nodes)
{
    struct iforest *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->n_features = n_features;
    f->n_trees = n_trees;
    f->psi = psi;
    f->height_limit = height_limit_for(psi);
    f->seed = seed;
    f->denom = (double)n_trees * iforest_c((double)psi);
    f->root = calloc((size_t)n_trees + 1, sizeof(*f->root));
    f->nodes = malloc((n_nodes ? n_nodes : 1) * sizeof(*f->nodes));
    f->n_samples = malloc((n_nodes ? n_nodes : 1) * sizeof(*f->n_samples));
    f->pathlen = calloc(n_nodes ? n_nodes : 1, sizeof(*f->pathlen));
    if (!f->root || !f->nodes || !f->n_samples || !f->pathlen) {
        iforest_destroy(f);
        return NULL;
    }
    return f;
}

void iforest_destroy(iforest_t *f)
{
    if (!f)
        return;
    free(f->root);
    free(f->nodes);
    free(f->n_samples);
    free(f->pathlen);
    free(f->hot);
    free(f->complete);
    free(f);
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

static double leaf_value(uint32_t depth, uint32_t n)
{
    /* sklearn: node_indicator.sum (depth + 1 nodes) + c(n) - 1.0, in this order */
    return ((double)(depth + 1) + iforest_c((double)n)) - 1.0;
}

/* ---- Scoring layouts ------------------------------------------------------------ */

static inline int is_leaf(const iforest_t *f, uint32_t i)
{
    return f->nodes[i].left == i;
}

#define GROUP              16 /* rows walked together through one tree by score_many */
#define COMPLETE_MAX_DEPTH 16 /* deeper forests keep the linked layout */
/* Slots the complete layout may take for a forest of n nodes: a file of 24-byte nodes
 * cannot make the loader allocate more than ~1.5 times its size (plus 1 MiB). A forest
 * fitted on varied data needs ~1.3 slots per node (psi 256: 512 slots, ~390 nodes); one
 * fitted on few rows is sparser (psi 143, 100 trees of depth 8: 51,200 slots for 9,338
 * nodes), which the constant term admits. */
#define COMPLETE_MAX_SLOTS(n) (4 * (uint64_t)(n) + 131072)

/* An unsigned key ordered as the floats are: for floats a, b, not NaN, a > b exactly
 * when float_key(a) > float_key(b). -0 is taken as +0 (they compare equal as floats);
 * NaN maps to 0, below every threshold's key (-inf's is 0x007fffff), so it goes left. */
static inline uint32_t float_key(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof(b));
    if (b == 0x80000000u)
        b = 0;
    if ((b & 0x7fffffffu) > 0x7f800000u)
        return 0;
    return b >> 31 ? ~b : b | 0x80000000u; /* negatives reversed, below the positives */
}

/* One step down the complete layout: slot j's child 2j + (key > thr), thr the slot's key.
 * On x86-64 the comparison's carry goes straight into the doubling (cmp + adc), a third
 * fewer instructions than setcc + zero-extend + lea: the walk is bound by instruction
 * throughput, not by load latency (16 walks in flight), so this is 12-15% of score_many. */
static inline uint64_t child(uint64_t j, uint32_t thr, uint32_t key)
{
#ifdef HAVE_ADDCARRY
    unsigned long long r;
    _addcarry_u64(thr < key, j, j, &r);
    return r;
#else
    return 2 * j + (key > thr);
#endif
}

/* Builds f->complete from f->hot when the bounds allow, then frees the linked scoring
 * copy; 0, or -1 when out of memory. When refused, f->complete stays NULL and scoring
 * walks f->hot. */
static int build_complete(iforest_t *f)
{
    uint32_t n = f->root[f->n_trees], D = 0;
    uint8_t *depth = malloc(n ? n : 1);
    if (!depth)
        return -1;
    for (uint32_t t = 0; t < f->n_trees; t++) {
        depth[f->root[t]] = 0; /* preorder: a parent comes before its children */
        for (uint32_t i = f->root[t]; i < f->root[t + 1]; i++) {
            const struct hotnode *h = &f->hot[i];
            if (h->left == i)
                D = depth[i] > D ? depth[i] : D;
            else
                depth[h->left] = depth[h->left + 1] = (uint8_t)(depth[i] + 1);
        }
    }
    free(depth);
    if (D > COMPLETE_MAX_DEPTH || ((uint64_t)f->n_trees << (D + 1)) > COMPLETE_MAX_SLOTS(n))
        return 0;
    const size_t stride = (size_t)2 << D, bottom = (size_t)1 << D;
    uint32_t *src = malloc(stride * sizeof(*src)); /* slot -> node of f->hot */
    union cslot *c = calloc(f->n_trees * stride, sizeof(*c));
    if (!src || !c) {
        free(src), free(c);
        return -1;
    }
    for (uint32_t t = 0; t < f->n_trees; t++) {
        union cslot *tc = c + t * stride;
        src[1] = f->root[t];
        for (size_t j = 1; j < bottom; j++) {
            const struct hotnode *h = &f->hot[src[j]];
            int leaf = h->left == src[j];
            tc[j].node.thr = float_key(h->thr);
            tc[j].node.fo = h->feature * GROUP;
            src[2 * j] = h->left;
            src[2 * j + 1] = h->left + !leaf;
        }
        for (size_t j = bottom; j < stride; j++)
            tc[j].pathlen = f->pathlen[src[j]];
    }
    free(src);
    f->depth = D;
    f->complete = c;
    free(f->hot), free(f->pathlen);
    f->hot = NULL, f->pathlen = NULL;
    return 0;
}

/* Builders mark leaves with feature LEAF and their path length in value; this turns
 * them into self-loops (left = self, threshold +inf, feature 0), so that a walk can take
 * height_limit steps without testing for a leaf: x[0] > +inf is false, even for NaN.
 * Then it makes the scoring copy. Returns 0 or -1 (out of memory). */
static int finalize(iforest_t *f)
{
    uint32_t n = f->root[f->n_trees];
    f->hot = malloc((n ? n : 1) * sizeof(*f->hot));
    if (!f->hot)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        struct ifnode *nd = &f->nodes[i];
        if (nd->feature == LEAF) {
            f->pathlen[i] = nd->value;
            nd->value = INFINITY;
            nd->feature = 0;
            nd->left = i;
        }
        float t = (float)nd->value;
        if ((double)t > nd->value)
            t = nextafterf(t, -INFINITY);
        f->hot[i] = (struct hotnode){.thr = t, .feature = nd->feature, .left = nd->left};
    }
    return build_complete(f);
}

/* ---- Scoring -------------------------------------------------------------------- */

#define WALK 8 /* trees walked together for one vector: independent load chains */

/* Sum of x's path lengths over the trees, added in tree order (as numpy does). Every
 * walk takes the same number of steps (leaves loop on themselves, or sit above bottom
 * slots holding their value), WALK trees at a time with no data-dependent branch, rather
 * than one tree to its leaf at a time, which mispredicts at every leaf. `x > thr` goes
 * right: the same as sklearn's `x <= thr` goes left for every number; NaN goes left. */
static double sum_paths_linked(const iforest_t *f, const float *x)
{
    const struct hotnode *nodes = f->hot;
    const uint32_t T = f->n_trees, H = f->height_limit;
    double sum = 0;
    uint32_t t = 0;
    for (; t + WALK <= T; t += WALK) {
        uint32_t i[WALK];
        for (int k = 0; k < WALK; k++)
            i[k] = f->root[t + (uint32_t)k];
        for (uint32_t d = 0; d < H; d++) {
            for (int k = 0; k < WALK; k++) {
                const struct hotnode *nd = &nodes[i[k]];
                i[k] = nd->left + (x[nd->feature] > nd->thr);
            }
        }
        for (int k = 0; k < WALK; k++)
            sum += f->pathlen[i[k]];
    }
    for (; t < T; t++) {
        uint32_t i = f->root[t];
        for (uint32_t d = 0; d < H; d++)
            i = nodes[i].left + (x[nodes[i].feature] > nodes[i].thr);
        sum += f->pathlen[i];
    }
    return sum;
}

#define KEYS_ON_STACK 512 /* iforest_score keys x up front up to this many features */

/* sum_paths on the complete layout. key(i) is x[i]'s float_key, from xk when given. */
static double sum_paths_complete(const iforest_t *f, const float *x)
{
    const uint32_t T = f->n_trees, D = f->depth;
    const size_t stride = (size_t)2 << D;
    uint32_t xk[KEYS_ON_STACK];
    int keyed = f->n_features <= KEYS_ON_STACK;
    if (keyed)
        for (size_t i = 0; i < f->n_features; i++)
            xk[i] = float_key(x[i]);
#define KEY(fo) (keyed ? xk[(fo) / GROUP] : float_key(x[(fo) / GROUP]))
    double sum = 0;
    uint32_t t = 0;
    for (; t + WALK <= T; t += WALK) {
        const union cslot *c = f->complete + t * stride;
        uint64_t j[WALK];
        for (int k = 0; k < WALK; k++)
            j[k] = 1;
        for (uint32_t d = 0; d < D; d++)
#pragma GCC unroll 8
            for (int k = 0; k < WALK; k++) {
                const union cslot *s = &c[(size_t)k * stride + j[k]];
                j[k] = child(j[k], s->node.thr, KEY(s->node.fo));
            }
        for (int k = 0; k < WALK; k++)
            sum += c[(size_t)k * stride + j[k]].pathlen;
    }
    for (; t < T; t++) {
        const union cslot *c = f->complete + t * stride;
        uint64_t j = 1;
        for (uint32_t d = 0; d < D; d++)
            j = child(j, c[j].node.thr, KEY(c[j].node.fo));
        sum += c[j].pathlen;
    }
#undef KEY
    return sum;
}

static double sum_paths(const iforest_t *f, const float *x)
{
    return f->complete ? sum_paths_complete(f, x) : sum_paths_linked(f, x);
}

static double score_from_sum(const iforest_t *f, double sum)
{
    if (f->denom == 0)
        return 1.0;
    return pow(2.0, -(sum / f->denom));
}

double iforest_path_length(const iforest_t *f, const float *x)
{
    return f->n_trees ? sum_paths(f, x) / f->n_trees : 0;
}

double iforest_score(const iforest_t *f, const float *x)
{
    return score_from_sum(f, sum_paths(f, x));
}

#define SCORE_BLOCK 64 /* rows that pass through one tree while it sits in L1 */

static void score_many_linked(const iforest_t *f, const float *X, size_t n, double *out)
{
    /* Trees outer, a block of rows inner, WALK rows walked together. Each row's sum
     * still adds the trees in order, so out[i] is bit-identical to iforest_score. */
    const struct hotnode *nodes = f->hot;
    const size_t nf = f->n_features;
    const uint32_t H = f->height_limit;
    double sum[SCORE_BLOCK];
    for (size_t b = 0; b < n; b += SCORE_BLOCK) {
        size_t m = n - b < SCORE_BLOCK ? n - b : SCORE_BLOCK;
        const float *xb = X + b * nf;
        for (size_t r = 0; r < m; r++)
            sum[r] = 0;
        for (uint32_t t = 0; t < f->n_trees; t++) {
            const uint32_t root = f->root[t];
            size_t r = 0;
            for (; r + WALK <= m; r += WALK) {
                uint32_t i[WALK];
                const float *x[WALK];
                for (int k = 0; k < WALK; k++)
                    i[k] = root, x[k] = xb + (r + (size_t)k) * nf;
                for (uint32_t d = 0; d < H; d++) {
                    for (int k = 0; k < WALK; k++) {
                        const struct hotnode *nd = &nodes[i[k]];
                        i[k] = nd->left + (x[k][nd->feature] > nd->thr);
                    }
                }
                for (int k = 0; k < WALK; k++)
                    sum[r + (size_t)k] += f->pathlen[i[k]];
            }
            for (; r < m; r++) {
                uint32_t i = root;
                const float *x = xb + r * nf;
                for (uint32_t d = 0; d < H; d++)
                    i = nodes[i].left + (x[nodes[i].feature] > nodes[i].thr);
                sum[r] += f->pathlen[i];
            }
        }
        for (size_t r = 0; r < m; r++)
            out[b + r] = score_from_sum(f, sum[r]);
    }
}

/* GROUP rows (transposed keys: g[feature * GROUP + k] is row k's feature) through one tree of
 * the complete layout, adding each row's path length to sum[k]. Not inlined, so that g
 * stays a plain pointer and each row's load is g + fo + a constant. */
__attribute__((noinline)) static void walk_group(const union cslot *c, uint32_t D,
                                                 const uint32_t *g, double *sum)
{
    uint64_t j[GROUP];
    for (int k = 0; k < GROUP; k++)
        j[k] = 1;
    for (uint32_t d = 0; d < D; d++)
#pragma GCC unroll 16
        for (int k = 0; k < GROUP; k++) {
            const union cslot *s = &c[j[k]];
            j[k] = child(j[k], s->node.thr, g[(size_t)s->node.fo + (size_t)k]);
        }
#pragma GCC unroll 16
    for (int k = 0; k < GROUP; k++)
        sum[k] += c[j[k]].pathlen;
}

#define XT_FLOATS      8192 /* score_many's transposed rows: 32 KiB of stack at most */
#define COMPLETE_BLOCK 128  /* rows through one tree at a time; a multiple of GROUP */

static void score_many_complete(const iforest_t *f, const float *X, size_t n, double *out)
{
    /* Trees outer, a block of rows inner, GROUP rows walked together; the rows are
     * transposed so that a walk's loads need no per-row pointer. Each row's sum still
     * adds the trees in order, so out[i] is bit-identical to iforest_score. */
    const size_t nf = f->n_features, stride = (size_t)2 << f->depth;
    size_t block = XT_FLOATS / (nf * GROUP) * GROUP;
    if (block == 0) { /* over 512 features: one row at a time */
        for (size_t i = 0; i < n; i++)
            out[i] = iforest_score(f, X + i * nf);
        return;
    }
    if (block > COMPLETE_BLOCK)
        block = COMPLETE_BLOCK;
    uint32_t xt[XT_FLOATS];
    double sum[COMPLETE_BLOCK];
    for (size_t b = 0; b < n; b += block) {
        size_t m = n - b < block ? n - b : block, mg = (m + GROUP - 1) / GROUP * GROUP;
        const float *xb = X + b * nf;
        for (size_t r = 0; r < mg; r++) { /* rows past m: zeros, walked and ignored */
            uint32_t *g = xt + (r / GROUP) * nf * GROUP + r % GROUP;
            for (size_t i = 0; i < nf; i++)
                g[i * GROUP] = r < m ? float_key(xb[r * nf + i]) : 0;
            sum[r] = 0;
        }
        for (uint32_t t = 0; t < f->n_trees; t++)
            for (size_t r = 0; r < mg; r += GROUP)
                walk_group(f->complete + t * stride, f->depth, xt + r * nf, sum + r);
        for (size_t r = 0; r < m; r++)
            out[b + r] = score_from_sum(f, sum[r]);
    }
}

void iforest_score_many(const iforest_t *f, const float *X, size_t n, double *out)
{
    if (f->complete)
        score_many_complete(f, X, n, out);
    else
        score_many_linked(f, X, n, out);
}

void iforest_explain(const iforest_t *f, const float *x, double *contrib)
{
    for (size_t j = 0; j < f->n_features; j++)
        contrib[j] = 0;
    for (uint32_t t = 0; t < f->n_trees; t++) {
        uint32_t i = f->root[t];
        while (!is_leaf(f, i)) {
            const struct ifnode *nd = &f->nodes[i];
            uint32_t child = nd->left + ((double)x[nd->feature] > nd->value);
            double g = iforest_c(f->n_samples[i]) - 1.0 - iforest_c(f->n_samples[child]);
            if (g > 0)
                contrib[nd->feature] += g;
            i = child;
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
    if (is_leaf(f, i)) {
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    qsort(v, n, sizeof(*v), cmp_double);
    /* numpy's linear interpolation, including its lerp from the nearer end */
    double pos = (1.0 - contamination) * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) {
        double r = v[n - 1];
        free(v);
        return r;
    }
    double frac = pos - (double)lo, a = v[lo], b = v[lo + 1], d = b - a;
    double r = frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
    free(v);
    return r;
}

/* ---- Building from explicit trees (import, deserialize) ------------------------- */

/* Appends tree t, given in sklearn's layout, at f->root[t]; sets f->root[t + 1].
 * scratch: 4 * n_nodes uint32 (seen flags + stack). Validates everything. */
static int add_tree(struct iforest *f, uint32_t t, const struct iforest_tree_def *d,
                    uint32_t *scratch, char *errbuf)
{
    uint32_t n = d->n_nodes, base = f->root[t];
    if (n == 0) {
        tapir_errf(errbuf, "tree %u has no nodes", t);
        return -1;
    }
    if ((uint64_t)n > 2 * (uint64_t)f->psi - 1) {
        tapir_errf(errbuf, "tree %u: %u nodes, more than a tree on %u rows can have", t, n, f->psi);
        return -1;
    }
    if (d->n_samples[0] != (int32_t)f->psi) {
        tapir_errf(errbuf, "tree %u: root holds %d rows, expected the sample size %u", t,
                   d->n_samples[0], f->psi);
        return -1;
    }
    uint32_t *seen = scratch;      /* n */
    uint32_t *stack = scratch + n; /* 3 * n: (source, slot, depth) */
    memset(seen, 0, n * sizeof(*seen));
    uint32_t sp = 0, next = 1;
    stack[0] = 0, stack[1] = 0, stack[2] = 0, sp = 1;
    seen[0] = 1;
    while (sp > 0) {
        sp--;
        uint32_t s = stack[3 * sp], slot = stack[3 * sp + 1], depth = stack[3 * sp + 2];
        int32_t l = d->left[s], r = d->right[s], ns = d->n_samples[s];
        struct ifnode *nd = &f->nodes[base + slot];
        if (ns < 1) {
            tapir_errf(errbuf, "tree %u node %u: %d training rows", t, s, ns);
            return -1;
        }
        f->n_samples[base + slot] = (uint32_t)ns;
        if (l == -1 && r == -1) {
            nd->feature = LEAF;
            nd->left = 0;
            nd->value = leaf_value(depth, (uint32_t)ns);
            continue;
        }
        if (l < 0 || r < 0 || (uint32_t)l >= n || (uint32_t)r >= n) {
            tapir_errf(errbuf, "tree %u node %u: child index %d out of range (%u nodes)", t, s,
                       (l < 0 || (uint32_t)l >= n) ? l : r, n);
            return -1;
        }
        if (l == r || seen[l] || seen[r]) {
            tapir_errf(errbuf, "tree %u node %u: a child reached twice (cycle or shared node)", t,
                       s);
            return -1;
        }
        if (depth + 1 > f->height_limit) {
            tapir_errf(errbuf, "tree %u node %u: deeper than the height limit %u", t, s,
                       f->height_limit);
            return -1;
        }
        int32_t feat = d->feature[s];
        if (feat < 0 || (size_t)feat >= f->n_features) {
            tapir_errf(errbuf, "tree %u node %u: feature %d out of range (%zu features)", t, s,
                       feat, f->n_features);
            return -1;
        }
        if (!isfinite(d->threshold[s])) {
            tapir_errf(errbuf, "tree %u node %u: threshold is not a finite number", t, s);
            return -1;
        }
        if ((int64_t)d->n_samples[l] + d->n_samples[r] != ns) {
            tapir_errf(errbuf, "tree %u node %u: children hold %d + %d rows, parent %d", t, s,
                       d->n_samples[l], d->n_samples[r], ns);
            return -1;
        }
        seen[l] = seen[r] = 1;
        nd->feature = (uint32_t)feat;
        nd->value = d->threshold[s];
        nd->left = base + next;
        /* right first, so the left subtree is laid out first (preorder) */
        stack[3 * sp] = (uint32_t)r, stack[3 * sp + 1] = next + 1, stack[3 * sp + 2] = depth + 1;
        sp++;
        stack[3 * sp] = (uint32_t)l, stack[3 * sp + 1] = next, stack[3 * sp + 2] = depth + 1;
        sp++;
        next += 2;
    }
    if (next != n) {
        tapir_errf(errbuf, "tree %u: %u of its %u nodes unreachable from the root", t, n - next, n);
        return -1;
    }
    f->root[t + 1] = base + n;
    return 0;
}

static int check_shape(size_t n_features, uint32_t psi, uint32_t n_trees, char *errbuf)
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

iforest_t *iforest_import(size_t n_features, uint32_t sample_size, uint64_t seed, uint32_t n_trees,
                          const struct iforest_tree_def *trees, char *errbuf)
{
    if (check_shape(n_features, sample_size, n_trees, errbuf) < 0)
        return NULL;
    size_t total = 0;
    uint32_t max_nodes = 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        total += trees[t].n_nodes;
        if (trees[t].n_nodes > max_nodes)
            max_nodes = trees[t].n_nodes;
    }
    struct iforest *f = forest_alloc(n_features, n_trees, sample_size, seed, total);
    uint32_t *scratch = malloc(4 * ((size_t)max_nodes + 1) * sizeof(*scratch));
    if (!f || !scratch) {
        tapir_errf(errbuf, "out of memory importing %u trees", n_trees);
        goto fail;
    }
    for (uint32_t t = 0; t < n_trees; t++)
        if (add_tree(f, t, &trees[t], scratch, errbuf) < 0)
            goto fail;
    if (finalize(f) < 0) {
        tapir_errf(errbuf, "out of memory importing %u trees", n_trees);
        goto fail;
    }
    free(scratch);
    return f;
fail:
    free(scratch);
    iforest_destroy(f);
    return NULL;
}

/* ---- Fitting -------------------------------------------------------------------- */

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
        nd->value = leaf_value(depth, n);
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
    if (check_shape(n_features, psi, n_trees, errbuf) < 0)
        return NULL;
    if ((uint32_t)n_threads > n_trees)
        n_threads = (int)n_trees;
    if (n_threads > 256)
        n_threads = 256;

    struct fit_job job = {.X = X,
                          .n_rows = n_rows,
                          .nf = n_features,
                          .psi = psi,
                          .hlim = height_limit_for(psi),
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
    f = forest_alloc(n_features, n_trees, psi, job.seed, total);
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
    if (finalize(f) < 0)
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

/* ---- Serialization -------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

size_t iforest_serialized_size(const iforest_t *f)
{
    return HEADER_BYTES + 4 * (size_t)f->n_trees + NODE_BYTES * (size_t)f->root[f->n_trees];
}

void iforest_serialize(const iforest_t *f, uint8_t *buf)
{
    uint8_t *p = buf;
    put_u32(p, (uint32_t)f->n_features), put_u32(p + 4, f->n_trees);
    put_u32(p + 8, f->psi), put_u32(p + 12, 0), put_u64(p + 16, f->seed);
    p += HEADER_BYTES;
    for (uint32_t t = 0; t < f->n_trees; t++) {
        uint32_t base = f->root[t], n = f->root[t + 1] - base;
        put_u32(p, n);
        p += 4;
        for (uint32_t i = base; i < base + n; i++, p += NODE_BYTES) {
            const struct ifnode *nd = &f->nodes[i];
            int leaf = is_leaf(f, i);
            double thr = leaf ? 0.0 : nd->value;
            uint64_t bits;
            memcpy(&bits, &thr, sizeof(bits));
            put_u32(p, leaf ? UINT32_MAX : nd->left - base);
            put_u32(p + 4, leaf ? UINT32_MAX : nd->left + 1 - base);
            put_u32(p + 8, leaf ? UINT32_MAX : nd->feature);
            put_u32(p + 12, f->n_samples[i]);
            put_u64(p + 16, bits);
        }
    }
}

iforest_t *iforest_deserialize(const uint8_t *buf, size_t len, size_t *used, char *errbuf)
{
    if (len < HEADER_BYTES) {
        tapir_errf(errbuf, "truncated forest (%zu of at least %d bytes)", len, HEADER_BYTES);
        return NULL;
    }
    uint32_t nf = get_u32(buf), n_trees = get_u32(buf + 4), psi = get_u32(buf + 8);
    uint64_t seed = get_u64(buf + 16);
    if (get_u32(buf + 12) != 0) {
        tapir_errf(errbuf, "forest header: reserved field is not zero");
        return NULL;
    }
    if (check_shape(nf, psi, n_trees, errbuf) < 0)
        return NULL;
    /* First pass: tree sizes, bounded by the buffer, before allocating anything. */
    size_t off = HEADER_BYTES, total = 0;
    uint32_t max_nodes = 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        if (len - off < 4) {
            tapir_errf(errbuf, "truncated forest: tree %u of %u missing", t, n_trees);
            return NULL;
        }
        uint32_t n = get_u32(buf + off);
        off += 4;
        if (n == 0 || (uint64_t)n > 2 * (uint64_t)psi - 1) {
            tapir_errf(errbuf, "tree %u: %u nodes, impossible for a tree on %u rows", t, n, psi);
            return NULL;
        }
        if ((len - off) / NODE_BYTES < n) {
            tapir_errf(errbuf, "truncated forest: tree %u needs %u nodes", t, n);
            return NULL;
        }
        off += (size_t)n * NODE_BYTES;
        total += n;
        max_nodes = n > max_nodes ? n : max_nodes;
    }
    struct iforest *f = forest_alloc(nf, n_trees, psi, seed, total);
    uint32_t *scratch = malloc(4 * ((size_t)max_nodes + 1) * sizeof(*scratch));
    int32_t *ia = malloc(4 * (size_t)max_nodes * sizeof(*ia));
    double *thr = malloc((size_t)max_nodes * sizeof(*thr));
    if (!f || !scratch || !ia || !thr) {
        tapir_errf(errbuf, "out of memory loading a forest of %zu nodes", total);
        goto fail;
    }
    off = HEADER_BYTES;
    for (uint32_t t = 0; t < n_trees; t++) {
        uint32_t n = get_u32(buf + off);
        off += 4;
        struct iforest_tree_def d = {.n_nodes = n,
                                     .left = ia,
                                     .right = ia + n,
                                     .feature = ia + 2 * n,
                                     .n_samples = ia + 3 * n,
                                     .threshold = thr};
        for (uint32_t i = 0; i < n; i++, off += NODE_BYTES) {
            const uint8_t *p = buf + off;
            uint64_t bits = get_u64(p + 16);
            ia[i] = (int32_t)get_u32(p);
            ia[n + i] = (int32_t)get_u32(p + 4);
            ia[2 * n + i] = (int32_t)get_u32(p + 8);
            uint32_t ns = get_u32(p + 12);
            ia[3 * n + i] = ns > INT32_MAX ? -1 : (int32_t)ns;
            memcpy(&thr[i], &bits, sizeof(bits));
        }
        if (add_tree(f, t, &d, scratch, errbuf) < 0)
            goto fail;
    }
    if (finalize(f) < 0) {
        tapir_errf(errbuf, "out of memory loading a forest of %zu nodes", total);
        goto fail;
    }
    free(scratch), free(ia), free(thr);
    if (used)
        *used = off;
    return f;
fail:
    free(scratch), free(ia), free(thr);
    iforest_destroy(f);
    return NULL;
}
