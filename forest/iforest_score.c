/*
 * iforest_score.c — the scoring layouts and the walks over them: iforest_score,
 * iforest_score_many, iforest_path_length. The hot code of the forest: building a layout
 * and walking it live in one file so that float_key(), child() and the walks inline
 * together.
 *
 * The canonical node array (iforest_int.h) serves explain(), serialization and
 * diagnostics. Scoring reads a copy built at fit/load time (iforest_finalize), with each
 * threshold rounded down to a float (exact for float inputs, see struct hotnode), in one
 * of two layouts:
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
 *     (g[f * 16 + k]). In score_many the top 4 levels go in vector registers
 *     (walk_top: the 15 top slots compared for all 16 rows at once, the directions
 *     picked out level by level, an AVX2 clone where the CPU has one), the levels below
 *     8 rows at a time, whose index chains fit the registers.
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
 * Vector top levels (session 5): 100,000 rows through 100 trees, one thread, 605 M
 * instructions in the walk before (16 spilled chains, 7.5 a step), 497 M after
 * (callgrind); wall time on the shared VM did not separate the two (min of 30, 64-70 ms
 * each), so the walk there is bound by its load chains more than by instructions.
 * Rejected: a fifth vector level (16 more compares and 15 picks for 16 rows cost more
 * than 16 scalar steps); prefetching the next tree into L1 (no gain measured).
 * Session 6: the vector levels compare unsigned keys as they are (min + equal, the key
 * load folded in, the threshold broadcast from the slot: 5 instructions a slot for 16
 * rows instead of 10), walk_top is inlined into an AVX2 clone of the whole walk_group,
 * and a scalar step is 4 instructions in inline asm (GCC kept _addcarry_u64's result in
 * memory in the AVX2 clone: 7), the 4 scalar levels of psi 256 without a loop counter,
 * and the level masks made compare results so that a pick is one vpblendvb (not xor,
 * and, xor). 100,000 rows x 100 trees, one thread: 497 M -> 329 M instructions in the
 * walk (callgrind; 306 M with the path lengths added 4 rows an add and one call a tree);
 * `tapir forest score --threads 1` 123 -> 113 ms of CPU at 372 M
 * (min of 10, shared VM).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "iforest_int.h"

#if defined(__x86_64__) && !defined(IFOREST_PORTABLE) /* -DIFOREST_PORTABLE: test the C */
#define HAVE_ADDCARRY 1
#include <x86intrin.h>
#endif

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
int iforest_finalize(iforest_t *f)
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

#define TOP_LEVELS 4 /* levels walk_group takes for 16 rows at once in vector registers */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(IFOREST_PORTABLE)
/* target_clones (GCC; clang 14 refuses it with noinline): one build for every x86-64
 * (SSE2), and an AVX2 clone chosen at load time where the CPU has it (twice the lanes
 * an instruction). */
#define WALK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WALK_CLONES
#endif

#if defined(__GNUC__) && GROUP == 16
#define HAVE_VECTOR_TOP 1
typedef int32_t v8i __attribute__((vector_size(32))); /* 8 rows' keys or masks */
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef uint32_t v8u_u __attribute__((vector_size(32), aligned(4), may_alias));
struct v16 {
    v8i lo, hi; /* 16 rows */
};

/* -1 in the rows going left at slot j: whose key of j's feature (16 contiguous keys,
 * g is transposed) is at most j's threshold. An unsigned compare on the keys as they
 * are (AVX2: vpminud + vpcmpeqd, the key's load folded in, the threshold broadcast
 * from the slot), not the sign-flipped signed compare of before (2 xors and 4 scalar
 * instructions more a slot). */
__attribute__((always_inline)) static inline struct v16 go_left(const union cslot *c, size_t j,
                                                                const uint32_t *g)
{
    const uint32_t *k = g + c[j].node.fo;
    v8u t = (v8u){0} + c[j].node.thr;
    return (struct v16){(v8i)(*(const v8u_u *)k <= t), (v8i)(*(const v8u_u *)(k + 8) <= t)};
}

/* m ? a : b, lane by lane (m is -1 or 0). */
__attribute__((always_inline)) static inline struct v16 pick(struct v16 m, struct v16 a,
                                                             struct v16 b)
{
    return (struct v16){b.lo ^ ((a.lo ^ b.lo) & m.lo), b.hi ^ ((a.hi ^ b.hi) & m.hi)};
}

/* m as a compare's result, which GCC then picks with by one vpblendvb where it would
 * need xor, and, xor for a mask it cannot tell is all ones or zeros in each lane. */
__attribute__((always_inline)) static inline struct v16 as_mask(struct v16 m)
{
    return (struct v16){m.lo < 0, m.hi < 0};
}

/* The slot each of the 16 rows reaches after the top 4 levels, j = 16 + 8b0 + 4b1 +
 * 2b2 + b3 (b_d = 1 when the row went right at level d), into j[16]: every one of the
 * 15 top slots compared for all 16 rows at once (no load waits for the one before), and
 * each row's directions picked out of them, level by level (l_d: -1 when it went left).
 * The same slots as 4 scalar steps, so the same leaves and sums. */
__attribute__((always_inline)) static inline void walk_top(const union cslot *c, const uint32_t *g,
                                                           uint32_t *j)
{
    struct v16 l0 = go_left(c, 1, g);
    struct v16 l1 = as_mask(pick(l0, go_left(c, 2, g), go_left(c, 3, g)));
    struct v16 q0 = pick(l1, go_left(c, 4, g), go_left(c, 5, g));
    struct v16 q1 = pick(l1, go_left(c, 6, g), go_left(c, 7, g));
    struct v16 l2 = as_mask(pick(l0, q0, q1));
    struct v16 p0 = pick(l2, go_left(c, 8, g), go_left(c, 9, g));
    struct v16 p1 = pick(l2, go_left(c, 10, g), go_left(c, 11, g));
    struct v16 p2 = pick(l2, go_left(c, 12, g), go_left(c, 13, g));
    struct v16 p3 = pick(l2, go_left(c, 14, g), go_left(c, 15, g));
    struct v16 l3 = pick(l0, pick(l1, p0, p1), pick(l1, p2, p3));
    /* 16 + 8(1 + l0) + 4(1 + l1) + 2(1 + l2) + (1 + l3), l_d = -1 or 0 */
    v8i lo = 31 + (l0.lo << 3) + (l1.lo << 2) + (l2.lo << 1) + l3.lo;
    v8i hi = 31 + (l0.hi << 3) + (l1.hi << 2) + (l2.hi << 1) + l3.hi;
    memcpy(j, &lo, sizeof(lo));
    memcpy(j + 8, &hi, sizeof(hi));
}
#endif

#if defined(HAVE_ADDCARRY) && defined(__GNUC__)
/* WALK_STEP's offsets: a slot is 8 bytes, thr at 0 and fo at 4; a key is 4 bytes. */
_Static_assert(sizeof(union cslot) == 8 && offsetof(union cslot, node.thr) == 0 &&
                   offsetof(union cslot, node.fo) == 4,
               "WALK_STEP reads slots as {thr, fo}");
/* One step of row K (a literal 0..7) of walk8, in 4 instructions: slot i's feature
 * offset, the row's key at it (gh[fo + K]), the compare of the slot's threshold in
 * memory against the key (carry: thr < key), and i = 2i + carry. In C, GCC keeps
 * _addcarry_u64's result in memory inside the AVX2 clone (7 instructions a step) and
 * computes each slot's address apart (6 in the default one). Reads memory only. */
#define WALK_STEP(K)                                                                               \
    __asm__("movl 4(%[c],%[i],8), %k[t]\n\t"                                                       \
            "movl " #K "*4(%[g],%q[t],4), %k[t]\n\t"                                               \
            "cmpl %k[t], (%[c],%[i],8)\n\t"                                                        \
            "adcq %[i], %[i]"                                                                      \
            : [i] "+r"(i##K), [t] "=&r"(t)                                                         \
            : [c] "r"(c), [g] "r"(gh)                                                              \
            : "cc", "memory")
#else
#define WALK_STEP(K) (i##K = 2 * i##K + (gh[(size_t)c[i##K].node.fo + K] > c[i##K].node.thr))
#endif

/* 8 rows (keys gh[fo + k], k < 8) from slots j[k] down the levels d..D-1, adding each
 * row's path length to sum[k]: 8 index chains and the pointers fit the registers (16
 * would spill). */
__attribute__((always_inline)) static inline void walk8(const union cslot *c, uint32_t d,
                                                        uint32_t D, const uint32_t *gh,
                                                        const uint32_t *j, double *sum)
{
    uint64_t i0 = j[0], i1 = j[1], i2 = j[2], i3 = j[3], i4 = j[4], i5 = j[5], i6 = j[6], i7 = j[7];
    uint32_t t;
    (void)t;
#define WALK_LEVEL()                                                                               \
    do {                                                                                           \
        WALK_STEP(0);                                                                              \
        WALK_STEP(1);                                                                              \
        WALK_STEP(2);                                                                              \
        WALK_STEP(3);                                                                              \
        WALK_STEP(4);                                                                              \
        WALK_STEP(5);                                                                              \
        WALK_STEP(6);                                                                              \
        WALK_STEP(7);                                                                              \
    } while (0)
    if (D - d == 4) { /* psi 256 below the vector levels: no loop counter */
        WALK_LEVEL();
        WALK_LEVEL();
        WALK_LEVEL();
        WALK_LEVEL();
    } else {
        for (uint32_t e = d; e < D; e++)
            WALK_LEVEL();
    }
#undef WALK_LEVEL
    /* the 8 adds as two 4-lane adds: each lane the same IEEE double add as alone, so
     * the same sums (14 instructions for 8 rows against 24) */
    typedef double v4d __attribute__((vector_size(32)));
    v4d s0, s1;
    memcpy(&s0, sum, sizeof(s0));
    memcpy(&s1, sum + 4, sizeof(s1));
    s0 += (v4d){c[i0].pathlen, c[i1].pathlen, c[i2].pathlen, c[i3].pathlen};
    s1 += (v4d){c[i4].pathlen, c[i5].pathlen, c[i6].pathlen, c[i7].pathlen};
    memcpy(sum, &s0, sizeof(s0));
    memcpy(sum + 4, &s1, sizeof(s1));
}

/* `groups` groups of GROUP rows (transposed keys: g[feature * GROUP + k] is row k's
 * feature; the next group's at g + stride) through one tree of the complete layout,
 * adding each row's path length to sum[k] (the next group's at sum + GROUP). Not
 * inlined, so that g stays a plain pointer and each row's load is g + fo + a constant;
 * one call a tree, not a group (12 M instructions of calls on 100,000 rows). The top 4
 * levels (when the tree has them) go 16 rows at once in vector registers (walk_top): 4
 * of 8 scalar steps at psi 256. Cloned whole for AVX2 (walk_top inlined into each
 * clone: no call, and its 16 slots stay 32-bit). */
WALK_CLONES __attribute__((noinline)) static void walk_group(const union cslot *c, uint32_t D,
                                                             const uint32_t *g, size_t stride,
                                                             size_t groups, double *sum)
{
    for (size_t r = 0; r < groups; r++, g += stride, sum += GROUP) {
        uint32_t j[GROUP];
        uint32_t d = 0;
#ifdef HAVE_VECTOR_TOP
        if (D >= TOP_LEVELS) {
            walk_top(c, g, j);
            d = TOP_LEVELS;
        } else
#endif
        {
            for (int k = 0; k < GROUP; k++)
                j[k] = 1;
        }
        /* the levels left, 8 rows at a time: 8 index chains and the pointers fit the
         * registers */
        walk8(c, d, D, g, j, sum);
        walk8(c, d, D, g + 8, j + 8, sum + 8);
    }
}

/* float_key of x[0..n) into k: 8 at a time without a branch (the scalar one's branches
 * cost 26 instructions a value; transposing a block was 5% of `tapir forest score`). */
WALK_CLONES static void keys_of(const float *x, size_t n, uint32_t *k)
{
    size_t i = 0;
#ifdef HAVE_VECTOR_TOP
    for (; i + 8 <= n; i += 8) {
        v8u b;
        memcpy(&b, x + i, sizeof(b));
        b &= ~(v8u)(b == 0x80000000u);                   /* -0 as +0 */
        v8u r = b ^ ((v8u)((v8i)b >> 31) | 0x80000000u); /* as float_key */
        r &= ~(v8u)((b & 0x7fffffffu) > 0x7f800000u);    /* NaN: 0 */
        memcpy(k + i, &r, sizeof(r));
    }
#endif
    for (; i < n; i++)
        k[i] = float_key(x[i]);
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
    _Alignas(64) uint32_t xt[XT_FLOATS];
    uint32_t keys[XT_FLOATS]; /* the block's keys, row-major, before transposing */
    double sum[COMPLETE_BLOCK];
    for (size_t b = 0; b < n; b += block) {
        size_t m = n - b < block ? n - b : block, mg = (m + GROUP - 1) / GROUP * GROUP;
        const float *xb = X + b * nf;
        keys_of(xb, m * nf, keys);
        memset(keys + m * nf, 0, (mg - m) * nf * sizeof(*keys)); /* walked and ignored */
        for (size_t r = 0; r < mg; r += GROUP) { /* 2 instructions a key (14 with a test) */
            uint32_t *g = xt + r * nf;
            const uint32_t *kr = keys + r * nf;
            for (size_t i = 0; i < nf; i++, g += GROUP)
#pragma GCC unroll 16
                for (size_t k = 0; k < GROUP; k++)
                    g[k] = kr[k * nf + i];
        }
        for (size_t r = 0; r < mg; r++)
            sum[r] = 0;
        for (uint32_t t = 0; t < f->n_trees; t++) /* a call a tree: its groups in a loop */
            walk_group(f->complete + t * stride, f->depth, xt, nf * GROUP, mg / GROUP, sum);
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
