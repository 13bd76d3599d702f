/*
 * baseline.c — per-IP EWMA baselines in a fixed table.
 *
 * Open addressing with a bounded probe; when the probe finds no free slot, the entry
 * least recently seen among the probed ones is forgotten. So memory is fixed (capacity x
 * ~380 bytes) and a flood of one-off spoofed IPs can only push out IPs idle longer than
 * they are. The variance is the exponentially weighted one (West 1979), on log1p values,
 * so a host's deviation is in "orders of magnitude it usually varies by".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"

#define BASELINE_PROBE 16

struct baseline {
    struct baseline_entry *e;
    uint8_t *used;
    uint32_t mask;
    double alpha;
    uint64_t seed;
};

baseline_t *baseline_create(uint32_t capacity, double alpha, uint64_t seed, char *errbuf)
{
    uint32_t n = (uint32_t)tapir_pow2_size(capacity, 64, 1u << 26);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(baseline_t, e, n),
        TAPIR_ARRAY(baseline_t, used, n),
    };
    baseline_t *b = tapir_table_alloc(sizeof(*b), arrays, TAPIR_NELEM(arrays), errbuf,
                                      "baselines for %u IPs", n);
    if (!b)
        return NULL;
    b->mask = n - 1;
    b->alpha = alpha;
    b->seed = seed;
    return b;
}

void baseline_destroy(baseline_t *b)
{
    free(b); /* the struct and its arrays: one block */
}

struct baseline_entry *baseline_get(baseline_t *b, const struct ip_addr *ip, uint64_t seq)
{
    uint32_t i = (uint32_t)tapir_hash(ip->b, 16, b->seed) & b->mask;
    uint32_t victim = i;
    for (uint32_t n = 0; n < BASELINE_PROBE; n++, i = (i + 1) & b->mask) {
        if (!b->used[i]) {
            victim = i;
            break;
        }
        if (!memcmp(b->e[i].ip.b, ip->b, 16)) {
            b->e[i].last_seq = seq;
            return &b->e[i];
        }
        if (b->e[i].last_seq < b->e[victim].last_seq)
            victim = i;
    }
    struct baseline_entry *e = &b->e[victim];
    memset(e, 0, sizeof(*e));
    e->ip = *ip;
    e->last_seq = seq;
    b->used[victim] = 1;
    return e;
}

double baseline_upload(struct baseline_entry *e, uint64_t seq, double bytes)
{
    uint64_t s1 = seq + 1; /* up_seq 0: never */
    if (e->up_seq && s1 > e->up_seq)
        e->up_acc *= exp2(-(double)(s1 - e->up_seq) / BASELINE_UPLOAD_HALF_LIFE);
    if (s1 >= e->up_seq) {
        e->up_acc += bytes > 0 ? bytes : 0;
        e->up_seq = s1;
    }
    return e->up_acc;
}

struct baseline_entry *baseline_find(baseline_t *b, const struct ip_addr *ip)
{
    uint32_t i = (uint32_t)tapir_hash(ip->b, 16, b->seed) & b->mask;
    for (uint32_t n = 0; n < BASELINE_PROBE; n++, i = (i + 1) & b->mask) {
        if (!b->used[i])
            return NULL;
        if (!memcmp(b->e[i].ip.b, ip->b, 16))
            return &b->e[i];
    }
    return NULL;
}

void baseline_update(baseline_t *b, struct baseline_entry *e, int first, const double *raw, int n)
{
    /* The first windows weigh more, so a new host's baseline forms quickly. */
    double a = e->n < 1 / b->alpha ? 1.0 / (e->n + 1) : b->alpha;
    for (int i = 0; i < n && first + i < BASELINE_FEATURES; i++) {
        int k = first + i;
        double x = isfinite(raw[i]) ? raw[i] : 0;
        double lx = log1p(x > 0 ? x : 0);
        if (e->n == 0) {
            e->mean[k] = (float)x;
            e->lmean[k] = (float)lx;
            e->lvar[k] = 0;
            continue;
        }
        double d = lx - e->lmean[k];
        e->mean[k] = (float)(e->mean[k] + a * (x - e->mean[k]));
        e->lmean[k] = (float)(e->lmean[k] + a * d);
        e->lvar[k] = (float)((1 - a) * (e->lvar[k] + a * d * d));
    }
}

double baseline_deviation(const struct baseline_entry *e, int i, double x)
{
    if (e->n < 3 || i < 0 || i >= BASELINE_FEATURES)
        return 0;
    double lx = log1p(x > 0 ? x : 0);
    /* A floor of 0.5 on the sd: a host that never varied is not infinitely surprised. */
    double sd = sqrt(e->lvar[i] + 0.25);
    double z = (lx - e->lmean[i]) / sd;
    return z > 8 ? 8 : z < -8 ? -8 : z;
}

int baseline_persist(struct baseline_entry *e, int side, uint64_t seq, bool over, int n)
{
    (void)seq;
    e->over[side] = (uint16_t)((e->over[side] << 1) | (over ? 1 : 0));
    if (over && e->over_run[side] < UINT16_MAX)
        e->over_run[side]++;
    else if (!over && (e->over[side] & 7) == 0)
        e->over_run[side] = 0; /* three windows in a row under: the stretch is over */
    uint8_t bit = (uint8_t)(1u << side);
    if (e->over_run[side] >= BASELINE_ACCEPT_WINDOWS)
        e->accepted |= bit;
    else if (!e->over[side])
        e->accepted &= (uint8_t)~bit; /* 16 windows under: the new normal is learned */
    if (n > 16)
        n = 16;
    uint16_t mask = (uint16_t)(n >= 16 ? 0xffff : (1u << n) - 1);
    return __builtin_popcount(e->over[side] & mask);
}

bool baseline_learnable(const struct baseline_entry *e, int side, uint64_t seq)
{
    if (!e)
        return true;
    if (e->taint_seq && seq + 1 - e->taint_seq < 16)
        return false;
    return !e->over[side] || (e->accepted & (1u << side));
}

bool baseline_flagged(const struct baseline_entry *e, int side, uint64_t seq)
{
    if (!e)
        return false;
    if (e->taint_seq && seq + 1 - e->taint_seq < 16)
        return true;
    return !(e->accepted & (1u << side)) && __builtin_popcount(e->over[side] & 7u) >= 2;
}

void baseline_taint(struct baseline_entry *e, uint64_t seq)
{
    if (!e)
        return;
    e->taint_seq = seq + 1;
    e->accepted = 0;
    for (int s = 0; s < SIDE_COUNT; s++)
        e->over_run[s] = 0;
}
