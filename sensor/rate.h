/*
 * rate.h — per-second flood counters per IP (as destination and as source), checked
 * against limits at every packet-time second boundary; findings go to the analyzer as
 * rate events over the window queue (wqueue.h). Owner: the capture thread.
 */
#ifndef TAPIR_RATE_H
#define TAPIR_RATE_H

#include "decode.h"
#include "wqueue.h"

typedef struct rate rate_t;

struct rate_stats {
    uint64_t seconds;        /* packet-time seconds finished */
    uint64_t events;         /* flood events handed to the analyzer */
    uint64_t events_dropped; /* ... lost: ring full, or over the per-second cap */
    uint64_t evicted;        /* IPs pushed out of the table within their second */
    uint64_t untracked;      /* packet sides not counted: table full of busier IPs */
};

/* capacity: IPs tracked per second (a power of two is taken above it); window_len_us: the
 * analysis window (events name the window their second falls in); q: where events go
 * (borrowed); wait: replay (wait for ring room). NULL and errbuf when out of memory. */
rate_t *rate_create(uint32_t capacity, uint64_t window_len_us, wqueue_t *q, bool wait,
                    char *errbuf);
void rate_destroy(rate_t *r); /* NULL ok */

/* What the sensor's flow table knows of a packet, for rate_packet's `what`. */
#define RATE_PKT_CREATED 1u /* it started a flow */
#define RATE_PKT_COMPLETED                                                                         \
    2u /* the initiator's ACK that completes a TCP handshake (its                                  \
          first packet after the SYN, the SYN-ACK seen) */

/* One packet (decoded, ts_us its time). src_h/dst_h: the seeded IP hashes the sensor
 * computed. dir: 0 when the packet goes the way its flow started (or has no flow), 1 for
 * a reply; what: RATE_PKT_* bits. src_hint/dst_hint: where the caller keeps each IP's
 * slot between packets (its host record), any value at first, or NULL: a hint is only
 * ever checked, so a stale or wrong one costs a lookup, never a wrong count. No
 * allocation, no lock, no log, no clock. */
void rate_packet(rate_t *r, const struct pkt_info *p, uint64_t src_h, uint64_t dst_h, int dir,
                 unsigned what, uint32_t *src_hint, uint32_t *dst_hint);

/* End of input: the open second is checked now (now_us: the last packet's time). */
void rate_finish(rate_t *r, uint64_t now_us);

/* Window close: the window's per-second maxima into *wr, and a fresh start for the next. */
void rate_window(rate_t *r, struct window_rate *wr);

void rate_stats(const rate_t *r, struct rate_stats *st);

#endif
