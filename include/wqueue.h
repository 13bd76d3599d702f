/*
 * wqueue.h — the bounded hand-off of closed windows from the capture thread to the
 * analyzer thread, with a pool of pre-allocated window buffers.
 *
 * Producer: the capture thread (wqueue_get_free, wqueue_push, wqueue_close); with nDPI on
 * its own thread, that worker makes the pushes (dpi_worker.h).
 * Consumer: the analyzer thread (wqueue_pop, wqueue_release).
 */
#ifndef TAPIR_WQUEUE_H
#define TAPIR_WQUEUE_H

#include <stdbool.h>

#include "window.h"

typedef struct wqueue wqueue_t;

/* depth: closed windows that may wait for the analyzer; buffers of max_hosts records
 * each are allocated at create (depth + 2 of them). */
wqueue_t *wqueue_create(uint32_t depth, uint32_t max_hosts, char *errbuf);
void wqueue_destroy(wqueue_t *q);
/* Gives every window buffer room for per_window flow records (struct window's flows[]);
 * before the first wqueue_get_free. Without it windows carry no flow records. */
int wqueue_add_flow_records(wqueue_t *q, uint32_t per_window, char *errbuf);

/* Called (from the producer's thread) after every push and at close, so the consumer
 * can wake up; must be thread-safe and must not block. */
void wqueue_set_notify(wqueue_t *q, void (*fn)(void *), void *arg);

/* An empty buffer for the next window. If none is free: with wait, blocks until the
 * analyzer returns one (replay: no loss, deterministic); without, drops the oldest
 * queued window (counted, logged) and reuses it (live: the capture does not wait for the
 * analyzer; it waits only while every buffer is still with the DPI worker). */
struct window *wqueue_get_free(wqueue_t *q, bool wait);
void wqueue_push(wqueue_t *q, struct window *w);
/* No more windows will come. */
void wqueue_close(wqueue_t *q);

/* The oldest closed window, or NULL if none is waiting. *closed is set when the queue
 * is closed and empty (the consumer is done). */
struct window *wqueue_pop(wqueue_t *q, bool *closed);
void wqueue_release(wqueue_t *q, struct window *w);

uint64_t wqueue_dropped(wqueue_t *q);

#endif
