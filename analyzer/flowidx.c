/*
 * flowidx.c — a window's flow records by initiator: each source's records in one chain.
 *
 * Three checks read the records a source started in the window: what it exchanged both
 * ways (behaviour_exchange, for the limits on destinations and bytes sent), the DNS over
 * HTTPS rule (behaviour_rule_check) and the beacon name (conv_window_beacon). Each used to
 * walk every record of the window for every source it was asked about: O(sources x
 * records), at the defaults up to 65,536 x 131,072 per window on the analyzer thread,
 * with many hosts over a limit or many TLS clients without SNI. This index is built once
 * per window, on the first question (nothing when no check asks): one pass over the
 * records into a seeded open-addressing table keyed by the initiator's address, each slot
 * holding the first and last record of that IP and each record the next one of the same
 * IP, so a chain keeps the records' order (conv_window_beacon keeps the first 128). Then a
 * question costs a probe and the source's own records.
 *
 * Memory: the table grows to the largest window seen (slots a power of two >= 2 x the
 * records, 24 bytes each, plus 4 bytes a record: 7.3 MB at 131,072 records), allocated
 * on the analyzer thread, never per packet. When an allocation fails the questions fall
 * back to walking every record (slower, same answers).
 *
 * Rejected: sorting the records by initiator (O(n log n) each window, and the order the
 * beacon name depends on would need a stable sort); building the index in the sensor as
 * records are added (a hash per flow end on the capture thread, and a multi-worker sensor
 * would build several); hashing into chains by slot only (a host that collides with a
 * busy scanner's slot would walk the scanner's records).
 */
#include <stdlib.h>
#include <string.h>

#include "flowidx.h"

#define FLOWIDX_MAX_SLOTS (1u << 28)

struct flowidx_slot {
    struct ip_addr ip; /* all zero: empty */
    uint32_t first;    /* record index + 1 */
    uint32_t last;     /* record index + 1 */
};

struct flow_index {
    struct flowidx_slot *slot;
    uint32_t *next;    /* per record: next record of the same initiator, index + 1 (0: end) */
    uint32_t slots;    /* allocated slots, a power of two */
    uint32_t recs;     /* allocated entries of next */
    uint32_t mask;     /* slots used for the indexed window - 1 */
    bool ok;           /* the indexed window is complete (else: walk every record) */
    uint64_t seq;      /* the window indexed: seq + 1 (0: none) */
    uint64_t start_us; /* ... and its start, so a new run's seq 0 is not taken for it */
    const struct window *w;
    uint64_t seed;
};

flow_index_t *flow_index_create(uint64_t seed)
{
    flow_index_t *x = calloc(1, sizeof(*x));
    if (x)
        x->seed = seed;
    return x;
}

void flow_index_destroy(flow_index_t *x)
{
    if (!x)
        return;
    free(x->slot);
    free(x->next);
    free(x);
}

static bool ip_zero(const struct ip_addr *a)
{
    static const uint8_t z[16];
    return !memcmp(a->b, z, 16);
}

/* The slot of ip: its own, or the empty one where it would go; NULL when the table is
 * full (cannot happen at half load, kept for safety). */
static struct flowidx_slot *find(const flow_index_t *x, const struct ip_addr *ip)
{
    uint32_t i = (uint32_t)tapir_ip_hash(ip, x->seed) & x->mask;
    for (uint32_t probes = 0; probes <= x->mask; probes++) {
        struct flowidx_slot *s = &x->slot[i];
        if (!memcmp(s->ip.b, ip->b, 16) || ip_zero(&s->ip))
            return s;
        i = (i + 1) & x->mask;
    }
    return NULL;
}

static bool grow(flow_index_t *x, uint32_t n)
{
    uint64_t want = 16;
    while (want < 2ull * n && want < FLOWIDX_MAX_SLOTS)
        want *= 2;
    if (want > x->slots) {
        struct flowidx_slot *ns = malloc(want * sizeof(*ns));
        if (!ns)
            return false;
        free(x->slot);
        x->slot = ns;
        x->slots = (uint32_t)want;
    }
    if (n > x->recs) {
        uint32_t *nn = malloc((size_t)n * sizeof(*nn));
        if (!nn)
            return false;
        free(x->next);
        x->next = nn;
        x->recs = n;
    }
    x->mask = (uint32_t)want - 1;
    return true;
}

/* Indexes w once (a window is indexed again only when another one is asked about). */
static void build(flow_index_t *x, const struct window *w)
{
    if (x->w == w && x->seq == w->seq + 1 && x->start_us == w->start_us)
        return;
    x->w = w;
    x->seq = w->seq + 1;
    x->start_us = w->start_us;
    x->ok = false;
    if (!w->n_flows || !grow(x, w->n_flows))
        return;
    memset(x->slot, 0, ((size_t)x->mask + 1) * sizeof(*x->slot));
    for (uint32_t i = 0; i < w->n_flows; i++) {
        const struct ip_addr *ip = &w->flows[i].init;
        x->next[i] = 0;
        if (ip_zero(ip))
            continue; /* :: starts nothing worth asking about; an empty slot's key */
        struct flowidx_slot *s = find(x, ip);
        if (!s)
            return; /* full: ok stays false, questions walk the records */
        if (!s->first) {
            s->ip = *ip;
            s->first = i + 1;
        } else {
            x->next[s->last - 1] = i + 1;
        }
        s->last = i + 1;
    }
    x->ok = true;
}

/* Without an index: the next record of ip at or after index from, + 1 (0: none). */
static uint32_t walk(const struct window *w, const struct ip_addr *ip, uint32_t from)
{
    for (uint32_t i = from; i < w->n_flows; i++)
        if (!memcmp(w->flows[i].init.b, ip->b, 16))
            return i + 1;
    return 0;
}

uint32_t flow_index_next(flow_index_t *x, const struct window *w, const struct ip_addr *ip,
                         uint32_t prev)
{
    if (!w || !w->flows || !w->n_flows)
        return 0;
    if (x && !prev)
        build(x, w);
    if (!x || !x->ok || x->w != w || ip_zero(ip)) /* :: is not indexed */
        return walk(w, ip, prev);
    if (prev)
        return x->next[prev - 1];
    const struct flowidx_slot *s = find(x, ip);
    return s ? s->first : 0;
}
