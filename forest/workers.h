/*
 * workers.h — a few threads kept for the length of one `tapir forest` command, to run
 * the CSV reader's batches and the scoring slices on (workers.c has the design).
 */
#ifndef TAPIR_WORKERS_H
#define TAPIR_WORKERS_H

#include <stddef.h>

struct workers;

/* A pool of at most max - 1 threads (the caller is the max-th), started on first use.
 * NULL when out of memory: workers_run then runs as tapir_run_parallel. */
struct workers *workers_new(unsigned max);

/* Runs fn(items + k * size) for each of the n items, as tapir_run_parallel does: item 0
 * on the calling thread, item k on worker k - 1 where there is one, the rest on the
 * calling thread after item 0; returns when all are done. w NULL: tapir_run_parallel. */
void workers_run(struct workers *w, void *(*fn)(void *), void *items, size_t size, unsigned n);

/* Ends and joins the threads and frees w. NULL ok. */
void workers_free(struct workers *w);

#endif
