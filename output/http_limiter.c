/*
 * http_limiter.c — the HTTP server's per-client rate limit: a token bucket per client
 * IP in a fixed table (http.h).
 *
 * The table holds at most max_clients entries, allocated at creation, in a seeded hash
 * (the client picks its source address) with chaining through the entries and an LRU
 * list: when it is full the least recently seen client is forgotten and gets a full
 * bucket if it comes back. A spoofing flood of new addresses therefore evicts old
 * entries but never grows memory. Rejected: a table that grows with the clients seen,
 * which an attacker can make as large as the addresses it can spoof.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "ilist.h"

#define LIMITER_NIL ILIST_NIL

struct limiter_entry {
    struct ip_addr ip;
    double tokens;         /* requests available now (fractional) */
    double last_s;         /* when tokens was last refilled, monotonic seconds */
    uint32_t chain_next;   /* next entry in the same hash bucket */
    struct ilist_link lru; /* most recently seen first */
};

struct http_limiter {
    double rate;  /* tokens per second */
    double burst; /* bucket size, tokens */
    uint32_t cap; /* entries */
    uint32_t used;
    uint32_t mask; /* buckets - 1 */
    uint64_t seed;
    uint32_t *buckets; /* first entry per bucket, LIMITER_NIL when empty */
    struct limiter_entry *e;
    struct ilist lru; /* first: the most recently seen; last: the least */
};

http_limiter_t *http_limiter_create(double rate_per_s, double burst, uint32_t max_clients)
{
    if (!(rate_per_s > 0) || !(burst >= 1) || max_clients == 0 || max_clients > (1u << 24))
        return NULL;
    uint32_t nb = (uint32_t)tapir_pow2_size(2ull * max_clients, 1, 1u << 31);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(http_limiter_t, buckets, nb),
        TAPIR_ARRAY(http_limiter_t, e, max_clients),
    };
    http_limiter_t *l = tapir_table_alloc(sizeof(*l), arrays, TAPIR_NELEM(arrays), NULL,
                                          "the HTTP limiter of %u clients", max_clients);
    if (!l)
        return NULL;
    l->rate = rate_per_s;
    l->burst = burst;
    l->cap = max_clients;
    l->mask = nb - 1;
    memset(l->buckets, 0xff, nb * sizeof(*l->buckets));
    ilist_init(&l->lru, l->e, sizeof(l->e[0]), offsetof(struct limiter_entry, lru));
    if (getrandom(&l->seed, sizeof(l->seed), GRND_NONBLOCK) != (ssize_t)sizeof(l->seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        l->seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    }
    return l;
}

void http_limiter_destroy(http_limiter_t *l)
{
    free(l); /* the struct and its arrays: one block */
}

uint32_t http_limiter_tracked(const http_limiter_t *l)
{
    return l ? l->used : 0;
}

static uint32_t limiter_bucket(const http_limiter_t *l, const struct ip_addr *ip)
{
    return (uint32_t)tapir_hash(ip->b, sizeof(ip->b), l->seed) & l->mask;
}

/* Removes entry i from its hash chain. */
static void chain_unlink(http_limiter_t *l, uint32_t i)
{
    uint32_t *p = &l->buckets[limiter_bucket(l, &l->e[i].ip)];
    while (*p != LIMITER_NIL && *p != i)
        p = &l->e[*p].chain_next;
    if (*p == i)
        *p = l->e[i].chain_next;
}

bool http_limiter_allow(http_limiter_t *l, const struct ip_addr *ip, double now_s,
                        uint32_t *retry_after_s)
{
    uint32_t b = limiter_bucket(l, ip), i = l->buckets[b];
    while (i != LIMITER_NIL && memcmp(l->e[i].ip.b, ip->b, sizeof(ip->b)))
        i = l->e[i].chain_next;
    if (i == LIMITER_NIL) {
        if (l->used < l->cap) {
            i = l->used++;
        } else { /* full: forget the least recently seen client */
            i = l->lru.last;
            ilist_unlink(&l->lru, i);
            chain_unlink(l, i);
        }
        struct limiter_entry *e = &l->e[i];
        e->ip = *ip;
        e->tokens = l->burst;
        e->last_s = now_s;
        e->chain_next = l->buckets[b];
        l->buckets[b] = i;
    } else {
        ilist_unlink(&l->lru, i);
    }
    ilist_push_first(&l->lru, i);
    struct limiter_entry *e = &l->e[i];
    if (now_s > e->last_s) {
        e->tokens += (now_s - e->last_s) * l->rate;
        if (e->tokens > l->burst)
            e->tokens = l->burst;
    }
    e->last_s = now_s > e->last_s ? now_s : e->last_s;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        return true;
    }
    double wait = ceil((1.0 - e->tokens) / l->rate);
    *retry_after_s = wait < 1 ? 1 : wait > 3600 ? 3600 : (uint32_t)wait;
    return false;
}
