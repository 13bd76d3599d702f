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

/* --- Flood events: the per-second counters' findings (sensor/rate.c), delivered to the
 * analyzer at once instead of at the window's end. A lock-free single-producer (capture
 * thread) / single-consumer (analyzer) ring of WQUEUE_RATE_RING events; the producer
 * never waits on a live capture (a full ring drops the event, counted); in a replay it
 * waits for room, so a replay's alerts do not depend on thread timing. */
#define WQUEUE_RATE_RING   256 /* events in flight */
#define RATE_EVENT_SOURCES 8   /* heavy sources kept per destination (Misra-Gries) */
#define RATE_MAX_GROUPS    64  /* host groups (rules "rate" lines) */

/* Default floors, packets per second: below them nothing is a flood, whatever training
 * saw (a quiet lab network's maxima times the factor would be a few packets). */
#define RATE_FLOOR_SYN_PPS  1000.0
#define RATE_FLOOR_UDP_PPS  20000.0
#define RATE_FLOOR_ICMP_PPS 2000.0
#define RATE_FLOOR_AMP_PPS  2000.0
#define RATE_LIMIT_FACTOR   4.0 /* learned limit: this many times the training maximum */

struct rate_event {
    struct ip_addr ip;  /* the victim (destination side) or a flooding source */
    uint8_t side;       /* enum rate_side */
    uint8_t kind;       /* enum rate_kind */
    uint16_t n_sources; /* few real sources carry >= 90% of the flood: those named (each
                           >= 5% of it); 0: many (spoofed, reflected) */
    uint32_t pkts;      /* packets of the kind in the second */
    uint64_t second_us; /* start of the second over the limit, packet time */
    uint64_t raised_us; /* packet time of the packet that closed that second */
    uint64_t window_us; /* start of the analysis window the second belongs to */
    uint64_t bytes;     /* IP bytes of all the IP's packets on that side, that second */
    double limit;       /* packets/s it was checked against */
    double sources;     /* distinct sources (destination side) or destinations
                           (source side), estimated */
    double ports;       /* distinct destination ports, estimated */
    uint32_t new_flows; /* flows started towards it (or by it) that second */
};

/* The limits the capture thread checks, published by the analyzer (model and rules). A
 * group's 0 means "the default's". */
struct rate_group {
    struct ip_addr net;     /* masked network */
    uint8_t prefix_len;     /* in the 128-bit form */
    double pps[RATE_KINDS]; /* packets/s, 0: inherit */
};
struct rate_config {
    double pps[RATE_SIDES][RATE_KINDS]; /* default limits, packets/s (> 0) */
    uint32_t n_groups;
    struct rate_group groups[RATE_MAX_GROUPS];
};
/* The floors as a configuration (no model, no groups). */
void rate_config_floors(struct rate_config *c);

/* Capture thread. Returns 0, or -1 when the ring was full (dropped, counted). wait: a
 * replay waits for room instead. Does not wake the consumer: wqueue_rate_notify does,
 * once per batch. */
int wqueue_rate_push(wqueue_t *q, const struct rate_event *ev, bool wait);
void wqueue_rate_notify(wqueue_t *q);
/* Analyzer thread: the oldest event into *ev; 0, or -1 when none is waiting. */
int wqueue_rate_pop(wqueue_t *q, struct rate_event *ev);
/* The same without taking it (the next pop returns it). */
int wqueue_rate_peek(wqueue_t *q, struct rate_event *ev);
uint64_t wqueue_rate_dropped(wqueue_t *q); /* any thread */

/* Analyzer thread: new limits for the capture thread (copied). */
void wqueue_rate_set_config(wqueue_t *q, const struct rate_config *c);
/* Capture thread: copies the latest limits into *c when they changed since *gen (then
 * updates *gen) and returns 1; 0 when unchanged or the lock is busy (never waits). */
int wqueue_rate_get_config(wqueue_t *q, struct rate_config *c, uint64_t *gen);

#endif
