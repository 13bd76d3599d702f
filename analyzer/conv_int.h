/*
 * conv_int.h — what conv.c and conv_learn.c share: the conversation table's entries and
 * its state, the detectors' constants, and the learned set's functions the detectors
 * call. Private to analyzer/conv*.c.
 */
#ifndef TAPIR_CONV_INT_H
#define TAPIR_CONV_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "conv.h"

/* IP protocol numbers (decode.h is the sensor's). */
#define P_ICMP   1
#define P_TCP    6
#define P_UDP    17
#define P_ICMPV6 58

#define CONV_MAX_PROBE  64
#define CONV_EVICT_SCAN 8           /* least recently active entries looked at for a victim */
#define CONV_OPEN       UINT32_MAX  /* ring dur_ms: the connection has not ended */
#define CONV_REPLIED    0x80000000u /* ring bytes: the responder answered */
#define CONV_BYTES_MAX  0x7fffffffu

/* Beacon: regular connections to one peer over several windows. */
#define BEACON_MIN_CONNS    12   /* connections in the ring */
#define BEACON_MIN_WINDOWS  3    /* windows with activity */
#define BEACON_MIN_SPAN_S   180  /* first to last start in the ring */
#define BEACON_MIN_INTERVAL 2.0  /* s: faster is a burst, not a check-in */
#define BEACON_MIN_SCORE    0.8  /* timing score */
#define BEACON_MAX_SPREAD   0.25 /* size MAD / mean of the ended connections */
#define BEACON_MIN_ENDED    6    /* ended connections to judge sizes */

/* Brute force: many short, similar, answered sessions to one authentication service. */
#define BF_SPAN_S        300 /* sessions counted over this much time, s */
#define BF_MIN_SESSIONS  10
#define BF_MAX_DUR_S     30.0
#define BF_MAX_SPREAD    0.5
#define WEB_SPAN_S       120 /* HTTP(S) login forms: stricter, browsers open bursts too */
#define WEB_MIN_SESSIONS 30
#define WEB_MAX_DUR_S    5.0
#define WEB_MAX_SPREAD   0.15

/* Exfiltration: an upload episode far over the largest one seen before. */
/* ICMP tunnel: an ICMP conversation to one peer for minutes, packets larger than any
 * ping's default (84 B IPv4, 104 B IPv6) on average, and of changing sizes (a monitoring
 * ping, even a large MTU probe, repeats one size). */
#define TUNNEL_MIN_WINDOWS 5
#define TUNNEL_MIN_SPAN_S  300
#define TUNNEL_MIN_PKTS    100
#define TUNNEL_MIN_SIZE    120.0 /* mean IP packet size sent, bytes */
#define TUNNEL_SIZE_RATIO  1.5   /* largest / smallest per-record mean size */
#define EXFIL_MIN_BYTES    (1.0 * 1024 * 1024)
#define EXFIL_FACTOR       4.0

/* Learned set: a known periodic or login-like conversation is alerted only this many
 * times faster than training's fastest pace; a service (any source) counts as known
 * only when at least KNOWN_SERVICE_SOURCES sources used it that way. */
#define KNOWN_RATE_FACTOR     4.0
#define KNOWN_SERVICE_SOURCES 2

struct conv_conn {
    uint32_t start_ms; /* connection start - entry base, ms */
    uint32_t bytes;    /* both ways, saturating at CONV_BYTES_MAX; | CONV_REPLIED */
    uint32_t dur_ms;   /* CONV_OPEN until it ends */
};

struct conv_entry {
    struct ip_addr src, dst;
    uint16_t port;
    uint8_t proto;
    uint8_t alerted;              /* 1 << enum conv_kind already reported */
    uint32_t hash;                /* index hash */
    uint32_t prev, next;          /* LRU links (index + 1; head = most recent) */
    uint32_t conns;               /* connections started */
    uint32_t windows;             /* windows with activity */
    uint32_t ring_n;              /* used slots */
    uint32_t ring_head;           /* next slot written */
    uint64_t seq;                 /* last window that touched it */
    uint64_t base_us;             /* origin of the ring's start_ms */
    uint64_t first_us, last_us;   /* first and latest packet, packet time */
    uint64_t bytes_out, bytes_in; /* while in the table */
    uint64_t ep_out, ep_in;       /* this episode (activity with no quiet window) */
    uint32_t pkts_out, pkts_in;   /* packets while in the table (saturating) */
    uint16_t sz_min, sz_max;      /* smallest / largest mean packet size sent of a record
                                     with packets, bytes (0: none yet) */
    struct conv_conn ring[CONV_RING];
};

struct cslot {
    uint32_t rec; /* entry index + 1, 0 empty */
    uint32_t hash;
};

struct conv {
    struct conv_entry *e;
    uint32_t cap, n_fresh, free_head; /* free entries linked through next */
    struct cslot *slots;
    uint32_t mask;
    uint64_t seed;
    uint64_t ttl_us;
    uint32_t lru_head, lru_tail;
    uint32_t *touched, n_touched;   /* entries the current window touched */
    uint32_t *prev_touched, n_prev; /* ... and the previous window */
    uint64_t learned[2];
    conv_l7_name_fn l7_name;
    void *l7_ctx;
    uint8_t auth_l7[1024]; /* per nDPI id: 0 not asked yet, 1 no, 2 an auth protocol */
    uint32_t *host_idx;    /* window hosts index for the L7 hint, host_mask + 1 slots */
    uint32_t host_mask;
    uint64_t host_idx_seq;   /* window it indexes + 1, 0 none */
    struct model_conv known; /* learned set: arrays at their caps once allocated */
    uint32_t *kidx, *hidx;   /* its index (entry + 1, 0 empty), KNOWN_SLOTS each */
    bool learning;
    struct conv_stats st;
};

#define KNOWN_SLOTS                                                                                \
    (2u *                                                                                          \
     (MODEL_CONV_MAX_KNOWN > MODEL_CONV_MAX_HOSTS ? MODEL_CONV_MAX_KNOWN : MODEL_CONV_MAX_HOSTS))

/* The learned set (conv_learn.c). */
/* Whether training saw this conversation (or a service several sources used) being
 * `kind` at a pace not KNOWN_RATE_FACTOR times slower than interval_s. */
bool conv_known_covers(conv_t *c, const struct conv_entry *e, uint8_t kind, double interval_s);
/* The learned entry of a host, added when add and there is room; NULL otherwise. */
struct model_conv_host *conv_known_host(conv_t *c, const struct ip_addr *ip, bool add);
/* While learning: e was seen being `kind` (MODEL_CONV_PERIODIC or _LOGIN) at interval_s. */
void conv_learn_kind(conv_t *c, const struct conv_entry *e, uint8_t kind, double interval_s);
/* While learning: e's upload episode, for the per-host and network maxima. */
void conv_learn_upload(conv_t *c, const struct conv_entry *e);

#endif
