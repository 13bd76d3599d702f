/*
 * iforest_int.h — the forest's private structure, shared by the four files that make one
 * iforest_t: iforest.c (the node array, accessors, explain), iforest_fit.c (fitting),
 * iforest_score.c (the scoring layouts and the walks over them) and iforest_io.c (import
 * from explicit trees, serialization). Only forest/ sees it; everyone else has the opaque
 * handle of iforest.h.
 *
 * Every builder (fit, import, deserialize) fills the node array the same way: leaves
 * carry feature LEAF and their path length in value; iforest_finalize() then turns them
 * into self-loops and makes the scoring copy. None of this runs per packet.
 */
#ifndef TAPIR_IFOREST_INT_H
#define TAPIR_IFOREST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "iforest.h"

#define LEAF UINT32_MAX /* a builder's leaf marker in ifnode.feature, until finalize */

/* The canonical tree: what explain(), serialization and diagnostics read. */
struct ifnode {
    double value;     /* threshold: x <= value goes left; +inf in a leaf */
    uint32_t feature; /* split feature; 0 in a leaf */
    uint32_t left;    /* index of the left child (right = left + 1); a leaf's own index */
};

struct hotnode; /* the linked scoring layout's node, in iforest_score.c */
union cslot;    /* the complete scoring layout's slot, in iforest_score.c */

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

/* ceil(log2(max(psi, 2))): the height limit of trees on psi rows. */
static inline uint32_t iforest_height_limit_for(uint32_t psi)
{
    uint32_t h = 0;
    uint64_t m = psi < 2 ? 2 : psi;
    while (((uint64_t)1 << h) < m)
        h++;
    return h;
}

/* Path length of a leaf at depth holding n training rows. */
static inline double iforest_leaf_value(uint32_t depth, uint32_t n)
{
    /* sklearn: node_indicator.sum (depth + 1 nodes) + c(n) - 1.0, in this order */
    return ((double)(depth + 1) + iforest_c((double)n)) - 1.0;
}

/* After finalize: node i is a leaf (it loops on itself). */
static inline int iforest_is_leaf(const iforest_t *f, uint32_t i)
{
    return f->nodes[i].left == i;
}

/* A forest of n_nodes nodes with no trees in it yet (root[0] = 0; the builder fills
 * nodes, n_samples and root[1..n_trees], then calls iforest_finalize). NULL out of
 * memory. iforest.c. */
struct iforest *iforest_alloc(size_t n_features, uint32_t n_trees, uint32_t psi, uint64_t seed,
                              size_t n_nodes);

/* 0 if the shape is within IFOREST_MAX_*; else -1 with errbuf filled. iforest.c. */
int iforest_check_shape(size_t n_features, uint32_t psi, uint32_t n_trees, char *errbuf);

/* Turns the builder's leaves into self-loops and makes the scoring copy. 0, or -1 out of
 * memory (f is then only fit for iforest_destroy). iforest_score.c. */
int iforest_finalize(iforest_t *f);

#endif
