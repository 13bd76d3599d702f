/*
 * dpi_worker.c — nDPI on its own thread: a single-producer, single-consumer byte ring of
 * jobs from the capture thread, and the worker that runs them in order.
 *
 * Ring: a power-of-two buffer, head and tail as 64-bit byte counts (head written by the
 * capture thread, tail by the worker, each published with release and read with
 * acquire). A job is a header plus the packet's bytes, rounded to 8; a job that would
 * cross the end is preceded by a wrap marker and starts again at offset 0. Each side
 * spins briefly, then sleeps on a condition variable with a "sleeping" flag the other
 * side checks after publishing, behind a full fence (the flag is set, and the position
 * re-read, under the mutex the waker takes, so no wake-up is lost).
 *
 * Ids: the capture thread names a flow by its flow-table record (1 .. max_flows), unique
 * among live flows; a record's previous flow always sent its end (or its last packet)
 * before the record's next flow sends its first, and the ring keeps that order, so a
 * direct array maps ids to pool slots: no probing, nothing to aim at.
 *
 * Credits: a verdict is not written into the window at once (the capture thread is still
 * filling it, and may give a light record to another IP). The worker keeps its own copy
 * of each initiator record's L7 fields, tagged with the record's generation (a verdict
 * for a newer generation starts the copy afresh, one for an older one is stale); at the
 * window's end each copy replaces the record's fields if the generation still matches:
 * what nDPI on the capture thread would have left. Memory: one copy per record slot.
 * A flow's risks come at the end of its detection, which may be some packets after its
 * verdict (dpi.h): the copy takes them then, from the job that ended it, as the capture
 * thread would.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpi_worker.h"
#include "log.h"
#include "tapir.h"

enum job_type { JOB_PACKET = 1, JOB_END, JOB_WINDOW, JOB_WRAP, JOB_STOP };

struct job {
    uint32_t type;
    uint32_t id;
    uint32_t flags;
    uint32_t rec;
    uint32_t len; /* packet bytes after the header */
    uint32_t gen; /* the record's generation when queued */
    uint64_t ts_us;
    struct window *w;
};

/* The worker's copy of one record's L7 and risk fields in the window being filled. */
struct l7_copy {
    uint32_t gen;
    uint32_t used; /* set for records listed in touched[] */
    struct host_l7 l7;
    struct host_risk risk;
};

#define SPIN_ROUNDS 256
/* The producer wakes a sleeping worker only once this much is queued (a wake-up is a
 * system call on both sides), or at a window hand-off, a flush or a wait. */
#define WAKE_BYTES (64u << 10)

struct dpi_worker {
    dpi_t *dpi;
    wqueue_t *q;
    dpi_credit_fn credit;
    void *ctx;

    uint8_t *ring;
    uint64_t size, mask;
    _Alignas(64) _Atomic uint64_t head; /* bytes written (capture thread) */
    _Alignas(64) _Atomic uint64_t tail; /* bytes consumed (worker) */
    _Alignas(64) uint64_t local_head;   /* producer's copy */
    uint64_t woken_at;                  /* local_head when the producer last woke the worker */

    pthread_mutex_t mu;
    pthread_cond_t cons_cv, prod_cv;
    _Atomic int cons_sleeping, prod_sleeping;

    uint32_t *slot_of; /* flow id -> pool slot (0 none), max_flows + 1 entries */
    uint32_t max_id;
    struct l7_copy *copies; /* per record of the window in progress (max_hosts of them) */
    uint32_t *touched;      /* records with a copy, in first-verdict order */
    uint32_t n_touched, cap_copies;

    pthread_t thread;
    bool started;

    _Atomic uint64_t detected, gave_up, pool_empty, in_use, slots_reclaimed;
    uint64_t jobs, producer_waits; /* capture thread */
    _Atomic uint64_t jobs_pub, waits_pub;
};

/* ---- worker ---------------------------------------------------------------------- */

static void publish_stats(dpi_worker_t *k)
{
    struct dpi_stats d;
    dpi_stats(k->dpi, &d);
    atomic_store_explicit(&k->detected, d.detected, memory_order_relaxed);
    atomic_store_explicit(&k->gave_up, d.gave_up, memory_order_relaxed);
    atomic_store_explicit(&k->pool_empty, d.pool_empty, memory_order_relaxed);
    atomic_store_explicit(&k->in_use, d.in_use, memory_order_relaxed);
}

/* A step of a flow's detection (st: DPI_VERDICT, DPI_FINAL): the verdict and, at the
 * end, the risks into the worker's copy of its initiator's record; at the end the state
 * goes back to the pool. */
static void done(dpi_worker_t *k, uint32_t slot, const struct job *j, int st,
                 const struct dpi_result *r)
{
    if (j->rec < k->cap_copies) {
        struct l7_copy *c = &k->copies[j->rec];
        if (!c->used) {
            c->used = 1;
            c->gen = j->gen;
            memset(&c->l7, 0, sizeof(c->l7));
            memset(&c->risk, 0, sizeof(c->risk));
            k->touched[k->n_touched++] = j->rec;
        } else if (j->gen != c->gen) {
            /* The record changed hands: the new owner starts afresh. (Generations only
             * grow in ring order, so a verdict never comes for an older owner.) */
            c->gen = j->gen;
            memset(&c->l7, 0, sizeof(c->l7));
            memset(&c->risk, 0, sizeof(c->risk));
        }
        if (st & DPI_VERDICT)
            k->credit(k->ctx, &c->l7, r->master ? r->master : r->app);
        if (st & DPI_FINAL)
            dpi_risk_credit(&c->risk, r->risk);
    }
    if (st & DPI_FINAL) {
        dpi_release(k->dpi, slot);
        k->slot_of[j->id] = 0;
    }
}

/* The window's end: the copies go to the records still held by the same owner, then the
 * window goes to the analyzer. The capture thread no longer writes to it. */
static void end_window(dpi_worker_t *k, struct window *w)
{
    for (uint32_t i = 0; i < k->n_touched; i++) {
        uint32_t rec = k->touched[i];
        struct l7_copy *c = &k->copies[rec];
        if (rec < w->n_hosts && w->hosts[rec].gen == c->gen) {
            w->hosts[rec].l7 = c->l7;
            w->hosts[rec].risk = c->risk;
        }
        c->used = 0;
    }
    k->n_touched = 0;
    wqueue_push(k->q, w);
}

static void run_packet(dpi_worker_t *k, const struct job *j, const uint8_t *data)
{
    if (j->id == 0 || j->id > k->max_id)
        return; /* cannot happen: ids are flow records */
    uint32_t slot;
    if (j->flags & DPI_JOB_FIRST) {
        if (k->slot_of[j->id]) { /* the ordering rule broke: do not leak the state */
            dpi_release(k->dpi, k->slot_of[j->id]);
            k->slot_of[j->id] = 0;
            atomic_fetch_add_explicit(&k->slots_reclaimed, 1, memory_order_relaxed);
        }
        slot = dpi_acquire(k->dpi);
        if (!slot)
            return; /* pool empty (counted): this flow stays unclassified */
        k->slot_of[j->id] = slot;
    } else if (!(slot = k->slot_of[j->id])) {
        return; /* finished already, or never had a state */
    }
    struct dpi_result r;
    memset(&r, 0, sizeof(r));
    int st = dpi_process(k->dpi, slot, data, j->len, j->ts_us, &r);
    if (!(st & DPI_FINAL) && (j->flags & DPI_JOB_FINAL))
        st |= dpi_giveup(k->dpi, slot, &r);
    if (st)
        done(k, slot, j, st, &r);
}

static void run_end(dpi_worker_t *k, const struct job *j)
{
    if (j->id == 0 || j->id > k->max_id)
        return;
    uint32_t slot = k->slot_of[j->id];
    if (!slot)
        return;
    struct dpi_result r;
    memset(&r, 0, sizeof(r));
    done(k, slot, j, dpi_giveup(k->dpi, slot, &r), &r);
}

static void wake(dpi_worker_t *k, _Atomic int *sleeping, pthread_cond_t *cv)
{
    /* The caller has just published head or tail (the worker's tail store is a release
     * store). Without a full fence that store and this load may pass each other (the
     * store-buffer case): each side would miss the other's write and both would sleep. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(sleeping)) {
        pthread_mutex_lock(&k->mu);
        pthread_cond_signal(cv);
        pthread_mutex_unlock(&k->mu);
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Worker: waits until head moves past t; returns the new head. */
static uint64_t wait_for_jobs(dpi_worker_t *k, uint64_t t)
{
    uint64_t h;
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if ((h = atomic_load_explicit(&k->head, memory_order_acquire)) != t)
            return h;
        cpu_relax();
    }
    pthread_mutex_lock(&k->mu);
    atomic_store(&k->cons_sleeping, 1);
    while ((h = atomic_load(&k->head)) == t)
        pthread_cond_wait(&k->cons_cv, &k->mu);
    atomic_store(&k->cons_sleeping, 0);
    pthread_mutex_unlock(&k->mu);
    return h;
}

static void *worker_main(void *arg)
{
    dpi_worker_t *k = arg;
    tapir_drop_capabilities(); /* never needs any (they are per thread) */
    uint64_t t = atomic_load_explicit(&k->tail, memory_order_relaxed);
    for (;;) {
        uint64_t h = wait_for_jobs(k, t);
        while (t != h) {
            const struct job *j = (const struct job *)(k->ring + (t & k->mask));
            uint64_t step;
            if (j->type == JOB_WRAP) {
                step = k->size - (t & k->mask);
            } else {
                step = (sizeof(*j) + j->len + 7) & ~(uint64_t)7;
                switch (j->type) {
                case JOB_PACKET:
                    run_packet(k, j, (const uint8_t *)(j + 1));
                    break;
                case JOB_END:
                    run_end(k, j);
                    break;
                case JOB_WINDOW:
                    end_window(k, j->w);
                    break;
                case JOB_STOP:
                    publish_stats(k);
                    atomic_store_explicit(&k->tail, t + step, memory_order_release);
                    wake(k, &k->prod_sleeping, &k->prod_cv);
                    return NULL;
                }
                if (j->type != JOB_WINDOW)
                    publish_stats(k);
            }
            t += step;
            atomic_store_explicit(&k->tail, t, memory_order_release);
            wake(k, &k->prod_sleeping, &k->prod_cv);
        }
    }
}

/* ---- capture thread ---------------------------------------------------------------- */

static void wake_worker(dpi_worker_t *k)
{
    k->woken_at = k->local_head;
    wake(k, &k->cons_sleeping, &k->cons_cv);
}

/* Waits until the worker has consumed up to `until` (a byte count). */
static void wait_for_tail(dpi_worker_t *k, uint64_t until)
{
    wake_worker(k);
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&k->tail, memory_order_acquire) >= until)
            return;
        cpu_relax();
    }
    k->producer_waits++;
    pthread_mutex_lock(&k->mu);
    atomic_store(&k->prod_sleeping, 1);
    while (atomic_load(&k->tail) < until)
        pthread_cond_wait(&k->prod_cv, &k->mu);
    atomic_store(&k->prod_sleeping, 0);
    pthread_mutex_unlock(&k->mu);
}

/* Room for a job of len packet bytes; returns where to write it. */
static struct job *reserve(dpi_worker_t *k, uint32_t len, uint64_t *step)
{
    *step = (sizeof(struct job) + len + 7) & ~(uint64_t)7;
    uint64_t h = k->local_head, pos = h & k->mask, room = k->size - pos;
    if (*step > room) {
        /* Mark the end as skipped and start again at 0. */
        wait_for_tail(k, h + room + *step - k->size);
        ((struct job *)(k->ring + pos))->type = JOB_WRAP;
        h += room;
        k->local_head = h;
        atomic_store(&k->head, h);
    } else if (atomic_load_explicit(&k->tail, memory_order_acquire) + k->size < h + *step) {
        wait_for_tail(k, h + *step - k->size);
    }
    return (struct job *)(k->ring + (h & k->mask));
}

static void publish(dpi_worker_t *k, uint64_t step, bool urgent)
{
    k->local_head += step;
    k->jobs++;
    atomic_store(&k->head, k->local_head);
    if (urgent || k->local_head - k->woken_at >= WAKE_BYTES)
        wake_worker(k);
    if ((k->jobs & 1023) == 0) {
        atomic_store_explicit(&k->jobs_pub, k->jobs, memory_order_relaxed);
        atomic_store_explicit(&k->waits_pub, k->producer_waits, memory_order_relaxed);
    }
}

static void submit(dpi_worker_t *k, uint32_t type, uint32_t id, unsigned flags, struct window *w,
                   uint32_t rec, uint32_t gen, const uint8_t *data, uint32_t len, uint64_t ts_us)
{
    uint64_t step;
    struct job *j = reserve(k, len, &step);
    j->type = type;
    j->id = id;
    j->flags = flags;
    j->rec = rec;
    j->len = len;
    j->gen = gen;
    j->ts_us = ts_us;
    j->w = w;
    if (len)
        memcpy(j + 1, data, len);
    publish(k, step, type == JOB_WINDOW || type == JOB_STOP);
}

void dpi_worker_packet(dpi_worker_t *k, uint32_t id, unsigned flags, struct window *w, uint32_t rec,
                       uint16_t gen, const uint8_t *l3, uint32_t len, uint64_t ts_us)
{
    if (len > 0xffff)
        len = 0xffff; /* what nDPI takes (dpi_process clamps the same way) */
    submit(k, JOB_PACKET, id, flags, w, rec, gen, l3, len, ts_us);
}

void dpi_worker_end(dpi_worker_t *k, uint32_t id, struct window *w, uint32_t rec, uint32_t gen)
{
    submit(k, JOB_END, id, 0, w, rec, gen, NULL, 0, 0);
}

void dpi_worker_window(dpi_worker_t *k, struct window *w)
{
    submit(k, JOB_WINDOW, 0, 0, w, 0, 0, NULL, 0, 0);
}

void dpi_worker_flush(dpi_worker_t *k)
{
    if (k->local_head != k->woken_at)
        wake_worker(k);
}

void dpi_worker_finish(dpi_worker_t *k)
{
    atomic_store_explicit(&k->jobs_pub, k->jobs, memory_order_relaxed);
    atomic_store_explicit(&k->waits_pub, k->producer_waits, memory_order_relaxed);
    wait_for_tail(k, k->local_head);
}

dpi_worker_t *dpi_worker_create(dpi_t *d, wqueue_t *q, uint32_t max_id, uint32_t max_hosts,
                                size_t ring_bytes, dpi_credit_fn credit, void *ctx, char *errbuf)
{
    /* The ring must hold two of the largest jobs. */
    uint64_t size = 1;
    while (size < ring_bytes || size < 4 * (sizeof(struct job) + 0x10000))
        size <<= 1;
    dpi_worker_t *k = calloc(1, sizeof(*k));
    if (!k)
        goto nomem;
    k->dpi = d;
    k->q = q;
    k->credit = credit;
    k->ctx = ctx;
    k->size = size;
    k->mask = size - 1;
    k->max_id = max_id;
    k->ring = malloc(size);
    k->slot_of = calloc((size_t)max_id + 1, sizeof(*k->slot_of)); /* touched as used */
    k->cap_copies = max_hosts;
    k->copies = calloc(max_hosts, sizeof(*k->copies)); /* touched as used */
    k->touched = malloc((size_t)max_hosts * sizeof(*k->touched));
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cons_cv, NULL);
    pthread_cond_init(&k->prod_cv, NULL);
    if (!k->ring || !k->slot_of || !k->copies || !k->touched)
        goto nomem;
    int rc = pthread_create(&k->thread, NULL, worker_main, k);
    if (rc) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot start the DPI thread: %s", strerror(rc));
        dpi_worker_destroy(k); /* not started: frees what was made */
        return NULL;
    }
    pthread_setname_np(k->thread, "tapir-dpi"); /* top -H, perf; best effort */
    k->started = true;
    return k;
nomem:
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot allocate the DPI thread's ring (%llu bytes)",
             (unsigned long long)size);
    dpi_worker_destroy(k); /* not started: frees what was made */
    return NULL;
}

void dpi_worker_destroy(dpi_worker_t *k)
{
    if (!k)
        return;
    if (k->started) {
        submit(k, JOB_STOP, 0, 0, NULL, 0, 0, NULL, 0, 0);
        pthread_join(k->thread, NULL);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cons_cv);
    pthread_cond_destroy(&k->prod_cv);
    free(k->ring);
    free(k->slot_of);
    free(k->copies);
    free(k->touched);
    free(k);
}

void dpi_worker_stats(dpi_worker_t *k, struct dpi_worker_stats *st)
{
    st->detected = atomic_load_explicit(&k->detected, memory_order_relaxed);
    st->gave_up = atomic_load_explicit(&k->gave_up, memory_order_relaxed);
    st->pool_empty = atomic_load_explicit(&k->pool_empty, memory_order_relaxed);
    st->in_use = atomic_load_explicit(&k->in_use, memory_order_relaxed);
    st->slots_reclaimed = atomic_load_explicit(&k->slots_reclaimed, memory_order_relaxed);
    st->jobs = atomic_load_explicit(&k->jobs_pub, memory_order_relaxed);
    st->producer_waits = atomic_load_explicit(&k->waits_pub, memory_order_relaxed);
}
