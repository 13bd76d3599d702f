/*
 * iforest_io.c — forests from outside: trees in scikit-learn's layout (iforest_import)
 * and the serialized forest of a model file (iforest_serialize / iforest_deserialize).
 *
 * Both roads go through one validating builder, add_tree(), which trusts nothing: child
 * indices in range, each node reached once from the root, features and thresholds sane,
 * sample counts consistent, depth within the height limit. A forest that passes it has
 * the same shape as one fitted here, so the scoring walks need no checks of their own.
 *
 * Serialized forest (little-endian, untrusted on read; see iforest_deserialize):
 *   u32 n_features, u32 n_trees, u32 sample_size, u32 zero, u64 seed,
 *   per tree: u32 n_nodes, then n_nodes x 24 bytes:
 *     i32 left, i32 right (-1 for a leaf), i32 feature (-1 leaf), u32 n_samples,
 *     f64 threshold (0 for a leaf).
 * Storing both children lets one validating builder (add_tree) serve sklearn imports and
 * files alike; the cost is 4 bytes per node. Rejected: writing the in-memory array with
 * its implicit right = left + 1, which would need a second reader with checks of its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iforest_int.h"
#include "tapir.h"

#define NODE_BYTES   24 /* serialized node */
#define HEADER_BYTES 24 /* serialized forest header */

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
            nd->value = iforest_leaf_value(depth, (uint32_t)ns);
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

iforest_t *iforest_import(size_t n_features, uint32_t sample_size, uint64_t seed, uint32_t n_trees,
                          const struct iforest_tree_def *trees, char *errbuf)
{
    if (iforest_check_shape(n_features, sample_size, n_trees, errbuf) < 0)
        return NULL;
    size_t total = 0;
    uint32_t max_nodes = 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        total += trees[t].n_nodes;
        if (trees[t].n_nodes > max_nodes)
            max_nodes = trees[t].n_nodes;
    }
    struct iforest *f = iforest_alloc(n_features, n_trees, sample_size, seed, total);
    uint32_t *scratch = malloc(4 * ((size_t)max_nodes + 1) * sizeof(*scratch));
    if (!f || !scratch) {
        tapir_errf(errbuf, "out of memory importing %u trees", n_trees);
        goto fail;
    }
    for (uint32_t t = 0; t < n_trees; t++)
        if (add_tree(f, t, &trees[t], scratch, errbuf) < 0)
            goto fail;
    if (iforest_finalize(f) < 0) {
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
            int leaf = iforest_is_leaf(f, i);
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
    if (iforest_check_shape(nf, psi, n_trees, errbuf) < 0)
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
    struct iforest *f = iforest_alloc(nf, n_trees, psi, seed, total);
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
    if (iforest_finalize(f) < 0) {
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
