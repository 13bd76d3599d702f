/*
 * flow_table.c — fixed-size bidirectional flow table.
 *
 * Records live in one array allocated at start; the index is an open-addressing table of
 * up to 2 x max_flows slots (load <= 0.5) holding record numbers and full hashes, probed
 * linearly for at most FLOW_MAX_PROBE slots and cleaned by backward-shift deletion, so no
 * tombstones accumulate under churn. The hash is seeded and symmetric in the endpoints,
 * so both directions find the same record.
 *
 * The index is allocated at full size but only its first part is used, sized to the live
 * flows (load 1/8 .. 1/2, at least FLOW_INDEX_MIN slots): it doubles as flows arrive and
 * is shrunk by flow_table_compact() after a burst. A few thousand live flows then probe
 * a 32 KiB index that stays in cache, not a random line of 16 MiB per packet (the fixed
 * full-size index made flow_table_lookup the top symbol of the capture thread). The cost:
 * a doubling re-indexes every live flow on the packet that crosses the load (about 10 ms
 * for the last step to 2 M slots, measured), amortised O(1) per flow; a network whose
 * flows burst every window pays one grow and one shrink per window.
 *
 * Idle expiry: records sit on one of four doubly-linked lists by timeout class, each in
 * order of last packet (a packet moves its flow to the tail). Expiry pops list heads while
 * they are idle past their class's timeout: O(1) per ended flow, no scan of the table.
 * When the table is full, the head with the oldest last packet is ended ("evicted").
 * Rejected: a timer wheel (more memory per flow, no gain at these timeouts) and scanning
 * slices of the table per tick (cost proportional to the table, not to the work).
 *
 * Memory: sizeof(struct flow) (160 bytes, of which 24 remember what the last flow record
 * reported) + 2 x 8 bytes of index per flow: about 176 MB for the default 1,000,000
 * flows, touched only as flows are created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"

#define FLOW_MAX_PROBE 64
#define FLOW_INDEX_MIN 4096 /* smallest index in use, slots */

struct slot {
    uint32_t rec;  /* record index + 1, 0 = empty */
    uint32_t hash; /* full 32-bit hash of the key */
};

struct flow_list {
    uint32_t head, tail; /* record index + 1 */
};

struct flow_table {
    struct flow *recs;
    uint32_t cap;       /* records */
    struct slot *slots; /* max_mask + 1 allocated, mask + 1 in use */
    uint32_t mask;      /* slots in use - 1 */
    uint32_t max_mask;  /* slots allocated - 1 */
    uint32_t free_head; /* ended records, linked through next (LIFO) */
    uint32_t n_fresh;   /* records ever handed out: recs[n_fresh..cap-1] never touched */
    uint64_t seed;
    struct flow_list lists[FLOW_CLASS_COUNT];
    flow_end_fn on_end;
    void *ctx;
    struct flow_table_stats st;
};

static const uint64_t class_timeout[FLOW_CLASS_COUNT] = {
    [FLOW_CLASS_TCP_NEW] = FLOW_TIMEOUT_TCP_NEW_US,
    [FLOW_CLASS_TCP_EST] = FLOW_TIMEOUT_TCP_EST_US,
    [FLOW_CLASS_CLOSING] = FLOW_TIMEOUT_TCP_CLOSING_US,
    [FLOW_CLASS_OTHER] = FLOW_TIMEOUT_OTHER_US,
};

flow_table_t *flow_table_create(uint32_t max_flows, uint64_t seed, flow_end_fn on_end, void *ctx,
                                char *errbuf)
{
    if (tapir_check_range(max_flows, 16, 1u << 28, "max flows", errbuf) < 0)
        return NULL;
    uint32_t nslots = (uint32_t)tapir_pow2_size(2ull * max_flows, 1, 1u << 29);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(flow_table_t, recs, max_flows),
        TAPIR_ARRAY(flow_table_t, slots, nslots),
    };
    flow_table_t *ft = tapir_table_alloc(sizeof(*ft), arrays, TAPIR_NELEM(arrays), errbuf,
                                         "a flow table of %u flows", max_flows);
    if (!ft)
        return NULL;
    ft->cap = max_flows;
    ft->max_mask = nslots - 1;
    ft->mask = (nslots < FLOW_INDEX_MIN ? nslots : FLOW_INDEX_MIN) - 1;
    ft->seed = seed;
    ft->on_end = on_end;
    ft->ctx = ctx;
    ft->st.capacity = max_flows;
    ft->st.index_slots = (uint64_t)ft->mask + 1;
    /* No free list is built here: writing a link into every record would page in the
     * whole array (136 MB at a million flows) before the first packet. Records are
     * handed out in index order from n_fresh, ended ones first (see take_record). */
    return ft;
}

void flow_table_destroy(flow_table_t *ft)
{
    free(ft); /* the struct, its records and its index: one block */
}

static inline struct flow *rec(flow_table_t *ft, uint32_t idx1)
{
    return &ft->recs[idx1 - 1];
}

static inline uint32_t rec_idx1(flow_table_t *ft, const struct flow *f)
{
    return (uint32_t)(f - ft->recs) + 1;
}

static void list_unlink(flow_table_t *ft, struct flow *f)
{
    struct flow_list *l = &ft->lists[f->tclass];
    if (f->prev)
        rec(ft, f->prev)->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        rec(ft, f->next)->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = 0;
}

static void list_append(flow_table_t *ft, struct flow *f)
{
    struct flow_list *l = &ft->lists[f->tclass];
    uint32_t i = rec_idx1(ft, f);
    f->next = 0;
    f->prev = l->tail;
    if (l->tail)
        rec(ft, l->tail)->next = i;
    else
        l->head = i;
    l->tail = i;
}

/* The index hash of a flow from its endpoints' address hashes: the endpoint with the
 * smaller (hash, port) goes first, so both directions hash alike; the ports, VLAN and
 * protocol are folded in. Two mixes per packet instead of hashing a 40-byte key. */
static uint32_t key_hash(uint64_t hs, uint16_t sp, uint64_t hd, uint16_t dp, uint16_t vlan,
                         uint8_t proto)
{
    if (hs > hd || (hs == hd && sp > dp)) {
        uint64_t th = hs;
        hs = hd;
        hd = th;
        uint16_t tp = sp;
        sp = dp;
        dp = tp;
    }
    uint64_t rest = ((uint64_t)sp << 48) | ((uint64_t)dp << 32) | ((uint64_t)vlan << 8) | proto;
    return (uint32_t)tapir_mix64(tapir_mix64(hs ^ rest) + hd);
}

/* 0: same direction, 1: reverse, -1: different flow. */
static int key_match(const struct flow *f, const struct pkt_info *p, uint16_t sp, uint16_t dp)
{
    if (f->proto != p->proto || f->vlan != p->vlan)
        return -1;
    if (f->a_port == sp && f->b_port == dp && !memcmp(f->a.b, p->src.b, 16) &&
        !memcmp(f->b.b, p->dst.b, 16))
        return 0;
    if (f->a_port == dp && f->b_port == sp && !memcmp(f->a.b, p->dst.b, 16) &&
        !memcmp(f->b.b, p->src.b, 16))
        return 1;
    return -1;
}

static void index_remove(flow_table_t *ft, struct flow *f)
{
    uint32_t idx1 = rec_idx1(ft, f);
    uint32_t i = f->hash & ft->mask;
    for (uint32_t n = 0; n <= ft->mask; n++, i = (i + 1) & ft->mask) {
        if (ft->slots[i].rec == idx1)
            break;
        if (ft->slots[i].rec == 0)
            return; /* not indexed (cannot happen) */
    }
    /* Backward-shift deletion: pull later members of the cluster into the hole when
     * their home slot does not lie cyclically in (hole, j]. */
    uint32_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & ft->mask;
        if (ft->slots[j].rec == 0)
            break;
        uint32_t home = ft->slots[j].hash & ft->mask;
        uint32_t dist_home = (j - home) & ft->mask;
        uint32_t dist_hole = (j - hole) & ft->mask;
        if (dist_home >= dist_hole) {
            ft->slots[hole] = ft->slots[j];
            hole = j;
        }
    }
    ft->slots[hole].rec = 0;
    ft->slots[hole].hash = 0;
}

static void end_flow(flow_table_t *ft, struct flow *f, enum flow_end_reason why)
{
    if (ft->on_end)
        ft->on_end(ft->ctx, f, why);
    switch (why) {
    case FLOW_END_IDLE:
        ft->st.ended_idle++;
        break;
    case FLOW_END_CLOSED:
        ft->st.ended_closed++;
        break;
    case FLOW_END_EVICTED:
        ft->st.evicted++;
        break;
    case FLOW_END_SHUTDOWN:
        break;
    }
    list_unlink(ft, f);
    index_remove(ft, f);
    memset(f, 0, sizeof(*f));
    f->next = ft->free_head;
    ft->free_head = rec_idx1(ft, f);
    ft->st.active--;
}

static enum flow_class class_of(const struct flow *f)
{
    if (f->proto != IPPROTO_NUM_TCP)
        return FLOW_CLASS_OTHER;
    if ((f->state & FLOW_F_RST) || ((f->state & FLOW_F_FIN_A) && (f->state & FLOW_F_FIN_B)))
        return FLOW_CLASS_CLOSING;
    if ((f->state & FLOW_F_SYNACK) || (f->state & FLOW_F_REPLY))
        return FLOW_CLASS_TCP_EST;
    return FLOW_CLASS_TCP_NEW;
}

static inline bool have_record(const flow_table_t *ft)
{
    return ft->free_head || ft->n_fresh < ft->cap;
}

/* A free record's index + 1: the last one ended, else the next never used. */
static uint32_t take_record(flow_table_t *ft)
{
    if (ft->free_head) {
        uint32_t idx1 = ft->free_head;
        ft->free_head = rec(ft, idx1)->next;
        /* The next new flow takes that record: start loading it now (streaming the
         * capture through the cache evicts ended records before they are reused). */
        if (ft->free_head)
            __builtin_prefetch(rec(ft, ft->free_head), 1);
        return idx1;
    }
    return ++ft->n_fresh;
}

/* Ends the flow whose last packet is oldest, to make room. */
static void evict_oldest(flow_table_t *ft)
{
    struct flow *victim = NULL;
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        if (!ft->lists[c].head)
            continue;
        struct flow *h = rec(ft, ft->lists[c].head);
        if (!victim ||
            h->last_us + class_timeout[h->tclass] < victim->last_us + class_timeout[victim->tclass])
            victim = h;
    }
    if (victim)
        end_flow(ft, victim, FLOW_END_EVICTED);
}

/* Re-indexes every live flow into the first new_mask + 1 slots. */
static void index_rebuild(flow_table_t *ft, uint32_t new_mask)
{
    memset(ft->slots, 0, ((size_t)new_mask + 1) * sizeof(*ft->slots));
    ft->mask = new_mask;
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        for (uint32_t r = ft->lists[c].head; r; r = rec(ft, r)->next) {
            uint32_t h = rec(ft, r)->hash;
            uint32_t i = h & new_mask;
            while (ft->slots[i].rec)
                i = (i + 1) & new_mask;
            ft->slots[i].rec = r;
            ft->slots[i].hash = h;
        }
    ft->st.index_slots = (uint64_t)new_mask + 1;
    ft->st.index_resizes++;
}

void flow_table_compact(flow_table_t *ft)
{
    uint64_t size = (uint64_t)ft->mask + 1;
    if (size <= FLOW_INDEX_MIN || ft->st.active * 8 >= size)
        return;
    while (size > FLOW_INDEX_MIN && ft->st.active * 4 <= size / 2)
        size /= 2;
    index_rebuild(ft, (uint32_t)(size - 1));
}

struct flow *flow_table_lookup(flow_table_t *ft, const struct pkt_info *p, int *dir, int *created)
{
    return flow_table_lookup_h(ft, p, tapir_ip_hash(&p->src, ft->seed),
                               tapir_ip_hash(&p->dst, ft->seed), dir, created);
}

struct flow *flow_table_lookup_h(flow_table_t *ft, const struct pkt_info *p, uint64_t src_h,
                                 uint64_t dst_h, int *dir, int *created)
{
    uint16_t sp = p->sport, dp = p->dport;
    *created = 0;
    uint32_t h = key_hash(src_h, sp, dst_h, dp, p->vlan, p->proto);
    uint32_t i = h & ft->mask;
    uint32_t empty = UINT32_MAX;
    for (uint32_t n = 0; n < FLOW_MAX_PROBE; n++, i = (i + 1) & ft->mask) {
        struct slot *s = &ft->slots[i];
        if (s->rec == 0) {
            empty = i;
            break;
        }
        if (s->hash == h) {
            struct flow *f = rec(ft, s->rec);
            int d = key_match(f, p, sp, dp);
            if (d >= 0) {
                *dir = d;
                return f;
            }
        }
    }
    if (empty == UINT32_MAX) {
        ft->st.untracked++;
        return NULL;
    }
    if ((ft->st.active + 1) * 2 > (uint64_t)ft->mask + 1 && ft->mask < ft->max_mask) {
        /* Load would pass 1/2: double the index in use (amortised O(1) per flow). */
        index_rebuild(ft, ft->mask * 2 + 1);
        empty = UINT32_MAX;
        for (i = h & ft->mask;; i = (i + 1) & ft->mask)
            if (ft->slots[i].rec == 0) {
                empty = i;
                break;
            }
    }
    if (!have_record(ft)) {
        evict_oldest(ft);
        if (!have_record(ft)) {
            ft->st.untracked++;
            return NULL;
        }
        /* Eviction shifted the index: find the first empty slot again. */
        i = h & ft->mask;
        empty = UINT32_MAX;
        for (uint32_t n = 0; n < FLOW_MAX_PROBE; n++, i = (i + 1) & ft->mask)
            if (ft->slots[i].rec == 0) {
                empty = i;
                break;
            }
        if (empty == UINT32_MAX) {
            ft->st.untracked++;
            return NULL;
        }
    }
    uint32_t idx1 = take_record(ft);
    struct flow *f = rec(ft, idx1);
    memset(f, 0, sizeof(*f));
    f->a = p->src;
    f->b = p->dst;
    f->a_port = sp;
    f->b_port = dp;
    f->vlan = p->vlan;
    f->proto = p->proto;
    f->hash = h;
    f->first_us = f->last_us = p->ts_us;
    f->tclass = (uint8_t)class_of(f);
    ft->slots[empty].rec = idx1;
    ft->slots[empty].hash = h;
    list_append(ft, f);
    ft->st.active++;
    ft->st.created++;
    *dir = 0;
    *created = 1;
    return f;
}

uint32_t flow_table_id(const flow_table_t *ft, const struct flow *f)
{
    return (uint32_t)(f - ft->recs) + 1;
}

void flow_table_touch(flow_table_t *ft, struct flow *f, uint64_t now_us)
{
    if (now_us > f->last_us)
        f->last_us = now_us;
    uint8_t c = (uint8_t)class_of(f);
    if (c == f->tclass && ft->lists[c].tail == rec_idx1(ft, f))
        return; /* already last on its list: no neighbour to rewrite */
    list_unlink(ft, f);
    f->tclass = c;
    list_append(ft, f);
}

uint32_t flow_table_expire(flow_table_t *ft, uint64_t now_us, uint32_t budget)
{
    uint32_t done = 0;
    for (int c = 0; c < FLOW_CLASS_COUNT && done < budget; c++) {
        while (done < budget && ft->lists[c].head) {
            struct flow *f = rec(ft, ft->lists[c].head);
            if (f->last_us + class_timeout[c] > now_us)
                break;
            end_flow(ft, f, c == FLOW_CLASS_CLOSING ? FLOW_END_CLOSED : FLOW_END_IDLE);
            done++;
        }
    }
    return done;
}

void flow_table_foreach(flow_table_t *ft, void (*fn)(void *ctx, struct flow *f), void *ctx)
{
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        for (uint32_t r = ft->lists[c].head; r; r = rec(ft, r)->next)
            fn(ctx, rec(ft, r));
}

void flow_table_flush(flow_table_t *ft)
{
    /* Oldest first, class by class: deterministic order for the flow log. */
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        while (ft->lists[c].head)
            end_flow(ft, rec(ft, ft->lists[c].head), FLOW_END_SHUTDOWN);
}

void flow_table_stats(const flow_table_t *ft, struct flow_table_stats *st)
{
    *st = ft->st;
}
