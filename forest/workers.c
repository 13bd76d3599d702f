/*
 * workers.c — the threads `tapir forest` runs its parallel parts on, started once.
 *
 * The CSV reader parses ~1 MiB batches on every CPU, and `forest score` scores each
 * batch as it comes: 100,000 rows x 24 features are 22 batches, so starting a thread
 * per part (tapir_run_parallel) cost 44 thread starts and joins a score run at two
 * threads; on this 2-CPU VM a start and join is 45-150 us of CPU (a loop of 44:
 * 2-7 ms), which --threads 2 paid on top of --threads 1 (score 95 ms of CPU against
 * 88, min of 20). Here the threads are started at the first run that needs them and
 * wait on a condition variable between runs: a run is one broadcast and one wait.
 * Rejected: spinning workers (they would burn the CPU time this saves, and the other
 * engineers' jobs on a shared machine); a pool in common/ for every caller (the
 * sensor's threads live for the whole run and need none).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "tapir.h"
#include "workers.h"

struct worker {
    struct workers *w;
    unsigned k; /* the item it runs: 1.. */
    pthread_t tid;
};

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t go;   /* a run started (gen moved) or stop */
    pthread_cond_t done; /* pending reached 0 */
    uint64_t gen;        /* runs started */
    unsigned max;        /* threads wanted + 1 */
    unsigned n_threads;  /* threads running */
    bool tried;          /* the threads were started (or could not be) */
    bool stop;
    unsigned pending; /* threads not yet through the current run */
    void *(*fn)(void *);
    char *items;
    size_t size;
    unsigned n_items;
    struct worker th[TAPIR_PARALLEL_MAX];
};

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    struct workers *w = me->w;
    uint64_t seen = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->gen == seen)
            pthread_cond_wait(&w->go, &w->mu);
        if (w->stop)
            break;
        seen = w->gen;
        if (me->k < w->n_items) {
            void *(*fn)(void *) = w->fn;
            void *item = w->items + me->k * w->size;
            pthread_mutex_unlock(&w->mu);
            fn(item);
            pthread_mutex_lock(&w->mu);
        }
        if (--w->pending == 0)
            pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct workers *workers_new(unsigned max)
{
    struct workers *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->go, NULL);
    pthread_cond_init(&w->done, NULL);
    w->max = max > TAPIR_PARALLEL_MAX ? TAPIR_PARALLEL_MAX : max;
    return w;
}

/* Starts the threads (once): as many as can be, up to max - 1. */
static void start(struct workers *w)
{
    w->tried = true;
    for (unsigned k = 1; k < w->max; k++) {
        struct worker *t = &w->th[w->n_threads];
        *t = (struct worker){.w = w, .k = w->n_threads + 1};
        if (pthread_create(&t->tid, NULL, worker_main, t) != 0)
            break;
        w->n_threads++;
    }
}

void workers_run(struct workers *w, void *(*fn)(void *), void *items, size_t size, unsigned n)
{
    if (!w || n < 2) {
        tapir_run_parallel(fn, items, size, n);
        return;
    }
    if (!w->tried)
        start(w);
    char *item = items;
    pthread_mutex_lock(&w->mu);
    w->fn = fn, w->items = item, w->size = size, w->n_items = n;
    w->pending = w->n_threads;
    w->gen++;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    fn(item);
    for (unsigned k = w->n_threads + 1; k < n; k++) /* items beyond the threads */
        fn(item + k * size);
    pthread_mutex_lock(&w->mu);
    while (w->pending)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void workers_free(struct workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    for (unsigned k = 0; k < w->n_threads; k++)
        pthread_join(w->th[k].tid, NULL);
    pthread_cond_destroy(&w->go);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
