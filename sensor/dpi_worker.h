/*
 * dpi_worker.h — nDPI on a thread of its own, fed by the capture thread.
 *
 * nDPI is most of the capture thread's time (TLS hello parsing, host-name matching), so
 * with a second CPU the capture thread only copies the packets nDPI must see into a ring
 * and goes on; the worker runs detection and credits the result to the initiator's
 * record of the window the packet belonged to, then forwards each closed window to the
 * analyzer after every packet of that window. Everything the worker decides follows the
 * order of the ring, never thread timing, so a replay gives the same windows as nDPI on
 * the capture thread (tests/e2e/sensor_dpi_thread.sh compares the two).
 *
 * Flows are named by their flow-table record (1 .. max_id), unique among live flows. The
 * capture thread sends a flow's first DPI_MAX_PACKETS payload packets (it does not learn
 * when detection ends; the worker ignores packets of a flow it has finished) and an end
 * when the flow ends. Each verdict (and, when detection ends, the flow's risks) is
 * credited when its window's end comes through the ring, only if the initiator's record
 * still has the generation it had when the packet was queued (host_table.c may give a light record
 * to another IP meanwhile). Owner of dpi_t, once created: the worker.
 */
#ifndef TAPIR_DPI_WORKER_H
#define TAPIR_DPI_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "dpi.h"
#include "window.h"
#include "wqueue.h"

typedef struct dpi_worker dpi_worker_t;

/* Called on the worker thread with each verdict, for the worker's own copy of the
 * initiator's L7 fields (its risk fields are counted by dpi_risk_credit) (l7: master or app
 * protocol id, 0 when nDPI gave up without one). At the window's end the copy replaces the record's
 * fields if the record still has the generation of the verdicts' packets; the capture thread no
 * longer writes to it then. */
typedef void (*dpi_credit_fn)(void *ctx, struct host_l7 *acc, uint16_t l7);

/* Packet flags. */
#define DPI_JOB_FIRST 1 /* the flow's first packet for nDPI: take a state */
#define DPI_JOB_FINAL 2 /* the flow's last chance: give up after it if still undecided */

/* Starts the worker thread. max_id: the largest flow id (the flow table's capacity);
 * max_hosts: records per window (the windows' cap_hosts); ring_bytes: room for queued
 * packets (copied whole). Everything is allocated here; NULL + errbuf on failure. */
dpi_worker_t *dpi_worker_create(dpi_t *d, wqueue_t *q, uint32_t max_id, uint32_t max_hosts,
                                size_t ring_bytes, dpi_credit_fn credit, void *ctx, char *errbuf);
/* Stops the thread after the queued work (see dpi_worker_finish) and frees. */
void dpi_worker_destroy(dpi_worker_t *k);

/* Queues one packet of flow id (capture thread); rec/gen: the initiator's record in w
 * (UINT32_MAX: none) and its generation. Waits while the ring is full. */
void dpi_worker_packet(dpi_worker_t *k, uint32_t id, unsigned flags, struct window *w, uint32_t rec,
                       uint16_t gen, const uint8_t *l3, uint32_t len, uint64_t ts_us);
/* Flow id ended: give up on it if still undecided, crediting w->hosts[rec]. */
void dpi_worker_end(dpi_worker_t *k, uint32_t id, struct window *w, uint32_t rec, uint32_t gen);
/* w is closed: push it to the analyzer queue once the work queued before it is done. */
void dpi_worker_window(dpi_worker_t *k, struct window *w);
/* Makes sure the worker is awake for what is queued (a sleeping worker is woken once
 * 64 KiB are queued, or by this): the live loop calls it after every batch. */
void dpi_worker_flush(dpi_worker_t *k);
/* Waits until everything queued so far is done. */
void dpi_worker_finish(dpi_worker_t *k);

struct dpi_worker_stats {
    uint64_t detected, gave_up, pool_empty, in_use; /* as struct dpi_stats */
    uint64_t slots_reclaimed; /* a first packet found its id's state still held (a bug) */
    uint64_t jobs;            /* packets and ends queued */
    uint64_t producer_waits;  /* times the ring was full */
};
/* Any thread. */
void dpi_worker_stats(dpi_worker_t *k, struct dpi_worker_stats *st);

#endif
