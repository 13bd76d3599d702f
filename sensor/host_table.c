/*
 * host_table.c — IP -> record index for the window being filled.
 *
 * Open addressing over up to 2 x max_hosts slots, each tagged with the epoch that wrote
 * it: attaching a new window bumps the epoch and every slot becomes empty at once, so a
 * window close costs nothing proportional to the table. Only the first part of the index
 * is used, sized to the IPs per window (load <= 1/2, at least HOST_INDEX_MIN slots): it
 * doubles within a window as IPs arrive (a new epoch, the window's records re-indexed)
 * and shrinks at the next window when under 1/8 full, so a quiet network probes a few
 * KiB, not 1.5 MiB. Records are appended densely to
 * the window's hosts[], which the analyzer then walks without gaps.
 * Rejected: one table of hosts living across windows with per-window reset (a reset
 * walks every record, and the analyzer would need a copy anyway).
 *
 * Each slot keeps the IP's hash beside the record index, so a probe past another IP's
 * slot is rejected without reading that IP's 704-byte record (a cache miss each on a
 * full window: a spoofed flood made host_table_get 29% of the capture thread).
 *
 * Memory: 12 bytes of index per slot, 24 per host, plus sizeof(struct host_window) per
 * host in each window buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_table.h"

#define HOST_MAX_PROBE 128
#define HOST_INDEX_MIN 1024 /* smallest index in use, slots */

/* Admission when the window is full: a count-min sketch (conservative update, saturating
 * 8-bit counters) of packets from IPs refused, blocked so that an update costs one cache
 * line: the IP's hash picks a 64-byte block and CM_ROWS counters in it. Only one refused
 * packet in CM_SAMPLE is counted (a random draw, reseeded per window): a flood refuses
 * millions of packets per window and each count is a cache miss (counting all of them
 * made the flood benchmark 20% slower). 49,152 blocks = 3 MiB, touched only once a window
 * fills, cleared at the next window. A 2.4 M one-packet flood loads a counter ~0.6, so a
 * spoofed source almost never reaches PROMOTE_AT; a real sender does after about
 * PROMOTE_AT x CM_SAMPLE = 12 refused packets. */
#define CM_ROWS        3
#define CM_BLOCKS      49152u
#define CM_BYTES       ((size_t)CM_BLOCKS * 64)
#define CM_SAMPLE      4 /* one refused packet in this many is counted */
#define PROMOTE_AT     3 /* counted refusals before an IP may take a light record */
#define VICTIM_SAMPLE  8 /* records looked at for a light one */
#define VICTIM_MAX_PKT 2 /* a record this light (sent + received) may be given away */

struct hslot {
    uint32_t epoch; /* slot valid only when equal to the table's epoch */
    uint32_t rec;   /* index into the window's hosts[] */
    uint32_t hash;  /* the IP's index hash (low 32 bits) */
};

struct host_table {
    struct hslot *slots; /* max_mask + 1 allocated, mask + 1 in use */
    uint32_t mask;
    uint32_t max_mask;
    uint32_t count; /* records in the attached window (its n_hosts, which belongs to the
                       analyzer once the window is pushed) */
    uint32_t epoch;
    uint32_t max_hosts;
    uint64_t seed;
    struct window *w;
    uint8_t *cm;   /* CM_BYTES of counters */
    bool cm_dirty; /* cm holds counts of the attached window */
    uint64_t rng;  /* victim sampling; reseeded per window, so replays repeat */
    uint64_t windows;
    uint64_t replaced;
};

host_table_t *host_table_create(uint32_t max_hosts, uint64_t seed, char *errbuf)
{
    if (tapir_check_range(max_hosts, 16, 1u << 26, "max hosts", errbuf) < 0)
        return NULL;
    uint32_t n = (uint32_t)tapir_pow2_size(2ull * max_hosts, 1, 1u << 27);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(host_table_t, slots, n),
        TAPIR_ARRAY(host_table_t, cm, CM_BYTES), /* pages untouched until a window fills */
    };
    host_table_t *ht = tapir_table_alloc(sizeof(*ht), arrays, TAPIR_NELEM(arrays), errbuf,
                                         "a host table of %u hosts", max_hosts);
    if (!ht)
        return NULL;
    ht->max_mask = n - 1;
    ht->mask = (n < HOST_INDEX_MIN ? n : HOST_INDEX_MIN) - 1;
    ht->epoch = 1;
    ht->max_hosts = max_hosts;
    ht->seed = seed;
    return ht;
}

void host_table_destroy(host_table_t *ht)
{
    free(ht); /* the struct, its index and its sketch: one block */
}

/* Empties every slot at once. */
static void next_epoch(host_table_t *ht)
{
    if (++ht->epoch == 0) { /* wrapped after 4 billion uses: clear for real */
        memset(ht->slots, 0, ((size_t)ht->max_mask + 1) * sizeof(*ht->slots));
        ht->epoch = 1;
    }
}

void host_table_attach(host_table_t *ht, struct window *w)
{
    /* The index in use follows the hosts per window: shrink when the last window
     * filled under 1/8 of it. */
    uint64_t size = (uint64_t)ht->mask + 1;
    uint64_t last = ht->count;
    while (size > HOST_INDEX_MIN && last * 8 < size)
        size /= 2;
    ht->mask = (uint32_t)(size - 1);
    ht->w = w;
    w->n_hosts = 0;
    ht->count = 0;
    next_epoch(ht);
    if (ht->cm_dirty) {
        memset(ht->cm, 0, CM_BYTES);
        ht->cm_dirty = false;
    }
    ht->rng = ++ht->windows * 0x9e3779b97f4a7c15ULL ^ 0x686f7374ULL;
}

static struct hslot *free_slot(host_table_t *ht, uint32_t hash)
{
    uint32_t i = hash & ht->mask;
    while (ht->slots[i].epoch == ht->epoch)
        i = (i + 1) & ht->mask;
    return &ht->slots[i];
}

/* Doubles the index in use and re-indexes the window's records. */
static void grow(host_table_t *ht)
{
    ht->mask = ht->mask * 2 + 1;
    next_epoch(ht);
    struct window *w = ht->w;
    for (uint32_t r = 0; r < w->n_hosts; r++) {
        uint32_t hash = (uint32_t)tapir_ip_hash(&w->hosts[r].ip, ht->seed);
        struct hslot *s = free_slot(ht, hash);
        s->epoch = ht->epoch;
        s->hash = hash;
        s->rec = r;
    }
}

struct host_window *host_table_get(host_table_t *ht, const struct ip_addr *ip)
{
    return host_table_get_h(ht, ip, tapir_ip_hash(ip, ht->seed));
}

enum lookup { FOUND, ADDED, FULL, NO_SLOT };

static enum lookup lookup(host_table_t *ht, const struct ip_addr *ip, uint32_t hash,
                          struct host_window **out)
{
    struct window *w = ht->w;
    uint32_t i = hash & ht->mask;
    for (uint32_t n = 0; n < HOST_MAX_PROBE; n++, i = (i + 1) & ht->mask) {
        struct hslot *s = &ht->slots[i];
        if (s->epoch != ht->epoch) {
            if (w->n_hosts >= ht->max_hosts || w->n_hosts >= w->cap_hosts)
                return FULL;
            if (((uint64_t)w->n_hosts + 1) * 2 > (uint64_t)ht->mask + 1 &&
                ht->mask < ht->max_mask) {
                grow(ht);
                s = free_slot(ht, hash);
            }
            s->epoch = ht->epoch;
            s->hash = hash;
            s->rec = w->n_hosts++;
            ht->count = w->n_hosts;
            struct host_window *h = &w->hosts[s->rec];
            memset(h, 0, sizeof(*h));
            h->ip = *ip;
            *out = h;
            return ADDED;
        }
        if (s->hash != hash)
            continue;
        struct host_window *h = &w->hosts[s->rec];
        if (!memcmp(h->ip.b, ip->b, 16)) {
            *out = h;
            return FOUND;
        }
    }
    return NO_SLOT;
}

struct host_window *host_table_get_h(host_table_t *ht, const struct ip_addr *ip, uint64_t ip_h)
{
    struct host_window *h = NULL;
    enum lookup r = lookup(ht, ip, (uint32_t)ip_h, &h);
    return r == FOUND || r == ADDED ? h : NULL;
}

/* Adds one refused packet of the IP; returns its estimated refused packets. */
static uint32_t cm_add(host_table_t *ht, const struct ip_addr *ip)
{
    /* A fixed seed, not the run's: which IPs share counters changes admissions, and a
     * replay must admit the same IPs on every run. (Sharing counters only ever helps an
     * IP in: nothing to gain by aiming at them.) */
    uint64_t x = tapir_ip_hash(ip, 0x636d736b65746368ULL);
    uint8_t *block = ht->cm + ((x >> 32) * CM_BLOCKS >> 32) * 64;
    uint8_t *c[CM_ROWS];
    uint8_t min = 255;
    for (uint32_t r = 0; r < CM_ROWS; r++) {
        c[r] = &block[(x >> (6 * r)) & 63];
        if (*c[r] < min)
            min = *c[r];
    }
    if (min < 255)
        for (uint32_t r = 0; r < CM_ROWS; r++)
            if (*c[r] == min)
                (*c[r])++;
    ht->cm_dirty = true;
    return (uint32_t)min + (min < 255);
}

static uint64_t next_rng(host_table_t *ht)
{
    ht->rng ^= ht->rng << 13;
    ht->rng ^= ht->rng >> 7;
    ht->rng ^= ht->rng << 17;
    return ht->rng;
}

/* Empties the slot that indexes record rec (the IP's hash given), backward-shifting the
 * rest of its cluster so that no probe sequence breaks. */
static void index_delete(host_table_t *ht, uint32_t rec, uint32_t hash)
{
    uint32_t i = hash & ht->mask;
    for (uint32_t n = 0;; n++, i = (i + 1) & ht->mask) {
        if (n > ht->mask || ht->slots[i].epoch != ht->epoch)
            return; /* not indexed (cannot happen) */
        if (ht->slots[i].rec == rec)
            break;
    }
    uint32_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & ht->mask;
        if (ht->slots[j].epoch != ht->epoch)
            break;
        uint32_t home = ht->slots[j].hash & ht->mask;
        if (((j - home) & ht->mask) >= ((j - hole) & ht->mask)) {
            ht->slots[hole] = ht->slots[j];
            hole = j;
        }
    }
    ht->slots[hole].epoch = 0; /* never a live epoch */
}

struct host_window *host_table_admit_h(host_table_t *ht, const struct ip_addr *ip, uint64_t ip_h,
                                       const struct host_window *keep)
{
    struct host_window *h = NULL;
    enum lookup r = lookup(ht, ip, (uint32_t)ip_h, &h);
    if (r == FOUND || r == ADDED)
        return h;
    if (r != FULL || next_rng(ht) % CM_SAMPLE != 0 || cm_add(ht, ip) < PROMOTE_AT)
        return NULL;
    struct window *w = ht->w;
    struct host_window *victim = NULL;
    uint64_t light = UINT64_MAX;
    for (int k = 0; k < VICTIM_SAMPLE && w->n_hosts; k++) {
        struct host_window *c = &w->hosts[next_rng(ht) % w->n_hosts];
        uint64_t a = c->pkts_sent + c->pkts_recv;
        if (c != keep && a <= VICTIM_MAX_PKT && a < light) {
            victim = c;
            light = a;
        }
    }
    if (!victim)
        return NULL;
    uint32_t rec = (uint32_t)(victim - w->hosts);
    index_delete(ht, rec, (uint32_t)tapir_ip_hash(&victim->ip, ht->seed));
    struct hslot *s = free_slot(ht, (uint32_t)ip_h);
    s->epoch = ht->epoch;
    s->hash = (uint32_t)ip_h;
    s->rec = rec;
    uint16_t gen = (uint16_t)(victim->gen + 1);
    memset(victim, 0, sizeof(*victim));
    victim->ip = *ip;
    victim->gen = gen;
    ht->replaced++;
    w->stats.hosts_replaced++;
    return victim;
}

void host_credit_smtp(struct host_window *src, struct host_window *dst, uint16_t dport,
                      uint64_t dst_hash)
{
    if (dport != 25 && dport != 465 && dport != 587)
        return;
    if (src) {
        src->smtp_started++;
        src->smtp_dst_bits |= 1ULL << (dst_hash >> 58);
    }
    if (dst)
        dst->smtp_in++;
}

uint64_t host_table_replaced(const host_table_t *ht)
{
    return ht->replaced;
}
