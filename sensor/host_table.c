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
 * slot is rejected without reading that IP's 616-byte record (a cache miss each on a
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
};

host_table_t *host_table_create(uint32_t max_hosts, uint64_t seed, char *errbuf)
{
    if (max_hosts < 16 || max_hosts > (1u << 26)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "max hosts %u out of range (16 .. 67108864)",
                 max_hosts);
        return NULL;
    }
    host_table_t *ht = calloc(1, sizeof(*ht));
    uint32_t n = 1;
    while (n < 2 * max_hosts)
        n <<= 1;
    if (ht)
        ht->slots = calloc(n, sizeof(*ht->slots));
    if (!ht || !ht->slots) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot allocate a host table of %u hosts", max_hosts);
        host_table_destroy(ht);
        return NULL;
    }
    ht->max_mask = n - 1;
    ht->mask = (n < HOST_INDEX_MIN ? n : HOST_INDEX_MIN) - 1;
    ht->epoch = 1;
    ht->max_hosts = max_hosts;
    ht->seed = seed;
    return ht;
}

void host_table_destroy(host_table_t *ht)
{
    if (!ht)
        return;
    free(ht->slots);
    free(ht);
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

struct host_window *host_table_get_h(host_table_t *ht, const struct ip_addr *ip, uint64_t ip_h)
{
    struct window *w = ht->w;
    uint32_t hash = (uint32_t)ip_h;
    uint32_t i = hash & ht->mask;
    for (uint32_t n = 0; n < HOST_MAX_PROBE; n++, i = (i + 1) & ht->mask) {
        struct hslot *s = &ht->slots[i];
        if (s->epoch != ht->epoch) {
            if (w->n_hosts >= ht->max_hosts || w->n_hosts >= w->cap_hosts)
                return NULL;
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
            return h;
        }
        if (s->hash != hash)
            continue;
        struct host_window *h = &w->hosts[s->rec];
        if (!memcmp(h->ip.b, ip->b, 16))
            return h;
    }
    return NULL;
}
