/*
 * wqueue.c — closed-window queue and buffer pool.
 *
 * A mutex guards two small rings of pointers. It is taken once per window close (once a
 * minute by default), never per packet, and held for a few pointer moves, so the capture
 * thread never waits on it in practice. A mutex rather than a lock-free SPSC ring
 * because dropping the OLDEST queued window when the analyzer falls behind means the
 * producer must take from the consumer's end, which an SPSC ring does not allow.
 *
 * Flood events (rate_*) take the other choice: a lock-free SPSC ring of 256 events, since
 * a live flood's events must never wait behind the analyzer holding the mutex; a full
 * ring drops the newest event (counted), and the next second's event for the same flood
 * comes a second later. The limits go the other way (analyzer -> capture) under the
 * mutex, read with a trylock once per packet-time second when their generation moved.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "wqueue.h"

struct wqueue {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    struct window *bufs;       /* all buffers */
    struct host_window *hosts; /* n_bufs x max_hosts: each buffer's hosts[], in turn */
    uint32_t n_bufs;
    struct window **full; /* ring of closed windows, oldest at full_head */
    uint32_t full_head, full_n;
    struct window **free_; /* stack of empty buffers */
    uint32_t free_n;
    uint32_t depth;
    bool closed;
    _Atomic uint64_t dropped; /* written by the producer under mu; read lock-free */
    void (*notify)(void *);
    void *notify_arg;
    /* flood events: SPSC ring, head written by the consumer, tail by the producer */
    struct rate_event rate_ring[WQUEUE_RATE_RING];
    _Atomic uint32_t rate_head, rate_tail; /* free-running counters */
    _Atomic uint64_t rate_dropped;         /* events lost: ring full */
    struct rate_config rate_cfg;           /* guarded by mu */
    _Atomic uint64_t rate_gen;             /* bumped by each set_config */
};

wqueue_t *wqueue_create(uint32_t depth, uint32_t max_hosts, char *errbuf)
{
    if (tapir_check_range(depth, 1, 1024, "window queue depth", errbuf) < 0)
        return NULL;
    uint32_t n_bufs = depth + 2; /* one filling, depth queued, one being analyzed */
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(wqueue_t, bufs, n_bufs),
        TAPIR_ARRAY(wqueue_t, full, n_bufs),
        TAPIR_ARRAY(wqueue_t, free_, n_bufs),
        /* pages are touched only as hosts are added */
        TAPIR_ARRAY(wqueue_t, hosts, (size_t)n_bufs * max_hosts),
    };
    wqueue_t *q = tapir_table_alloc(sizeof(*q), arrays, TAPIR_NELEM(arrays), errbuf,
                                    "%u window buffers of %u hosts", n_bufs, max_hosts);
    if (!q)
        return NULL;
    q->depth = depth;
    q->n_bufs = n_bufs;
    for (uint32_t i = 0; i < q->n_bufs; i++) {
        q->bufs[i].hosts = q->hosts + (size_t)i * max_hosts;
        q->bufs[i].cap_hosts = max_hosts;
        q->free_[q->free_n++] = &q->bufs[i];
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->freed, NULL);
    rate_config_floors(&q->rate_cfg);
    return q;
}

int wqueue_add_flow_records(wqueue_t *q, uint32_t per_window, char *errbuf)
{
    for (uint32_t i = 0; i < q->n_bufs; i++) {
        struct window *w = &q->bufs[i];
        if (w->flows || !per_window)
            continue;
        /* calloc: pages are touched only as records are appended. */
        w->flows = calloc(per_window, sizeof(*w->flows));
        if (!w->flows) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot allocate %u flow records per window",
                     per_window);
            return -1;
        }
        w->cap_flows = per_window;
    }
    return 0;
}

void wqueue_destroy(wqueue_t *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->n_bufs; i++)
        free(q->bufs[i].flows);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->freed);
    free(q); /* and its buffers, rings and hosts: one block */
}

void wqueue_set_notify(wqueue_t *q, void (*fn)(void *), void *arg)
{
    q->notify = fn;
    q->notify_arg = arg;
}

struct window *wqueue_get_free(wqueue_t *q, bool wait)
{
    struct window *w = NULL;
    bool dropped = false;
    pthread_mutex_lock(&q->mu);
    /* Without wait, still wait when nothing is queued either: every buffer is then with
     * the DPI worker, which hands windows on soon (wqueue_push wakes us). */
    while (!q->free_n && (wait || !q->full_n))
        pthread_cond_wait(&q->freed, &q->mu);
    if (q->free_n) {
        w = q->free_[--q->free_n];
    } else if (q->full_n) {
        w = q->full[q->full_head];
        q->full_head = (q->full_head + 1) % q->n_bufs;
        q->full_n--;
        q->dropped++;
        dropped = true;
    }
    pthread_mutex_unlock(&q->mu);
    if (dropped)
        log_warn("analyzer behind: dropped the window starting at %llu s (%llu dropped)",
                 (unsigned long long)(w->start_us / 1000000),
                 (unsigned long long)atomic_load(&q->dropped));
    return w;
}

void wqueue_push(wqueue_t *q, struct window *w)
{
    pthread_mutex_lock(&q->mu);
    q->full[(q->full_head + q->full_n) % q->n_bufs] = w;
    q->full_n++;
    pthread_cond_broadcast(&q->freed); /* a producer may wait for anything to drop */
    pthread_mutex_unlock(&q->mu);
    if (q->notify)
        q->notify(q->notify_arg);
}

void wqueue_close(wqueue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_mutex_unlock(&q->mu);
    if (q->notify)
        q->notify(q->notify_arg);
}

struct window *wqueue_pop(wqueue_t *q, bool *closed)
{
    struct window *w = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->full_n) {
        w = q->full[q->full_head];
        q->full_head = (q->full_head + 1) % q->n_bufs;
        q->full_n--;
    }
    *closed = q->closed && !w && q->full_n == 0;
    pthread_mutex_unlock(&q->mu);
    return w;
}

void wqueue_release(wqueue_t *q, struct window *w)
{
    pthread_mutex_lock(&q->mu);
    q->free_[q->free_n++] = w;
    pthread_cond_signal(&q->freed);
    pthread_mutex_unlock(&q->mu);
}

uint64_t wqueue_dropped(wqueue_t *q)
{
    /* Lock-free: the capture thread reads it when publishing its counters. */
    return atomic_load(&q->dropped);
}

void rate_config_floors(struct rate_config *c)
{
    memset(c, 0, sizeof(*c));
    for (int side = 0; side < RATE_SIDES; side++) {
        c->pps[side][RATE_SYN] = RATE_FLOOR_SYN_PPS;
        c->pps[side][RATE_UDP] = RATE_FLOOR_UDP_PPS;
        c->pps[side][RATE_ICMP] = RATE_FLOOR_ICMP_PPS;
        c->pps[side][RATE_AMP] = RATE_FLOOR_AMP_PPS;
    }
}

int wqueue_rate_push(wqueue_t *q, const struct rate_event *ev, bool wait)
{
    uint32_t tail = atomic_load_explicit(&q->rate_tail, memory_order_relaxed);
    while (tail - atomic_load_explicit(&q->rate_head, memory_order_acquire) >= WQUEUE_RATE_RING) {
        if (!wait) {
            atomic_fetch_add(&q->rate_dropped, 1);
            return -1;
        }
        /* Replay: the analyzer is busy (a window); wake it and give it 100 us. */
        wqueue_rate_notify(q);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    q->rate_ring[tail % WQUEUE_RATE_RING] = *ev;
    atomic_store_explicit(&q->rate_tail, tail + 1, memory_order_release);
    return 0;
}

void wqueue_rate_notify(wqueue_t *q)
{
    if (q->notify)
        q->notify(q->notify_arg);
}

int wqueue_rate_pop(wqueue_t *q, struct rate_event *ev)
{
    uint32_t head = atomic_load_explicit(&q->rate_head, memory_order_relaxed);
    if (head == atomic_load_explicit(&q->rate_tail, memory_order_acquire))
        return -1;
    *ev = q->rate_ring[head % WQUEUE_RATE_RING];
    atomic_store_explicit(&q->rate_head, head + 1, memory_order_release);
    return 0;
}

int wqueue_rate_peek(wqueue_t *q, struct rate_event *ev)
{
    uint32_t head = atomic_load_explicit(&q->rate_head, memory_order_relaxed);
    if (head == atomic_load_explicit(&q->rate_tail, memory_order_acquire))
        return -1;
    *ev = q->rate_ring[head % WQUEUE_RATE_RING];
    return 0;
}

uint64_t wqueue_rate_dropped(wqueue_t *q)
{
    return atomic_load(&q->rate_dropped);
}

void wqueue_rate_set_config(wqueue_t *q, const struct rate_config *c)
{
    pthread_mutex_lock(&q->mu);
    q->rate_cfg = *c;
    atomic_fetch_add(&q->rate_gen, 1);
    pthread_mutex_unlock(&q->mu);
}

int wqueue_rate_get_config(wqueue_t *q, struct rate_config *c, uint64_t *gen)
{
    uint64_t g = atomic_load(&q->rate_gen);
    if (g == *gen || pthread_mutex_trylock(&q->mu) != 0)
        return 0;
    *c = q->rate_cfg;
    *gen = atomic_load(&q->rate_gen);
    pthread_mutex_unlock(&q->mu);
    return 1;
}
