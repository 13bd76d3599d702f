/*
 * ilist.h — a doubly linked list threaded through a fixed array by index: the LRU and
 * age orders of the bounded tables (HTTP connections, the HTTP rate limiter's clients,
 * synth's ground-truth flows). Each node holds a struct ilist_link; the list knows the
 * array (its base, the nodes' size and the link's offset in a node), so the operations
 * are one call where each table had its own copy of the same four-way pointer update.
 *
 * Indexes, not pointers: the nodes live in one calloc'd array (bounded, no allocation per
 * node) and 32-bit links halve the per-node cost. Static inline: a few instructions per
 * call, on paths that already did a hash lookup. Rejected: a macro that names the fields
 * (generic over any struct, but an unreadable body), and a callback to reach a node's
 * link (a call per step).
 */
#ifndef TAPIR_ILIST_H
#define TAPIR_ILIST_H

#include <stddef.h>
#include <stdint.h>

#define ILIST_NIL UINT32_MAX

struct ilist_link {
    uint32_t prev; /* towards first, ILIST_NIL at the first node */
    uint32_t next; /* towards last, ILIST_NIL at the last node */
};

struct ilist {
    uint32_t first, last; /* ILIST_NIL when empty */
    char *nodes;          /* the array the nodes are in */
    size_t size;          /* bytes per node */
    size_t off;           /* of the struct ilist_link in a node */
};

/* An empty list over the array nodes (size bytes each, the link at off). */
static inline void ilist_init(struct ilist *l, void *nodes, size_t size, size_t off)
{
    *l = (struct ilist){ILIST_NIL, ILIST_NIL, nodes, size, off};
}

static inline struct ilist_link *ilist_at(const struct ilist *l, uint32_t i)
{
    return (struct ilist_link *)(l->nodes + (size_t)i * l->size + l->off);
}

/* Takes node i (in the list) out of it. */
static inline void ilist_unlink(struct ilist *l, uint32_t i)
{
    struct ilist_link *k = ilist_at(l, i);
    if (k->prev != ILIST_NIL)
        ilist_at(l, k->prev)->next = k->next;
    else
        l->first = k->next;
    if (k->next != ILIST_NIL)
        ilist_at(l, k->next)->prev = k->prev;
    else
        l->last = k->prev;
}

/* Puts node i (not in the list) at its end. */
static inline void ilist_push_last(struct ilist *l, uint32_t i)
{
    struct ilist_link *k = ilist_at(l, i);
    k->prev = l->last;
    k->next = ILIST_NIL;
    if (l->last != ILIST_NIL)
        ilist_at(l, l->last)->next = i;
    else
        l->first = i;
    l->last = i;
}

/* Puts node i (not in the list) at its start. */
static inline void ilist_push_first(struct ilist *l, uint32_t i)
{
    struct ilist_link *k = ilist_at(l, i);
    k->prev = ILIST_NIL;
    k->next = l->first;
    if (l->first != ILIST_NIL)
        ilist_at(l, l->first)->prev = i;
    else
        l->last = i;
    l->first = i;
}

#endif
