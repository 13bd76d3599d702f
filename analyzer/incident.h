/*
 * incident.h — the analyzer's incident tracker (incident.c) and the alert's direction
 * (direction.c): private to analyzer/, the contract other analyzer files (the scoring
 * pass, the conversation pass, the per-second rate detector) call. Analyzer thread only.
 *
 * Every alert goes through incident_observe() before output_alert(): it files the alert
 * under its incident (ip or prefix, side, category), sets the alert's incident fields,
 * and says whether the alert is emitted (event_type "alert" or "update") or merged into
 * an event already emitted this window. Ends ("end" events) come through the tracker's
 * end callback: from incident_window_close() (quiet windows), incident_flush() (end of
 * the run) and, when the table is full, from incident_observe() itself (an eviction).
 */
#ifndef TAPIR_INCIDENT_H
#define TAPIR_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "rules.h"
#include "window.h"

#define INCIDENT_TABLE_DEFAULT 4096 /* open incidents at most (~0.9 KiB each: 3.6 MiB) */

typedef struct incident_tracker incident_t;

/* An incident ended: al is its last alert with event_type "end", incident.end_us set;
 * al->features is NULL. The callback may call output_alert(al); al is the tracker's
 * scratch, valid during the call. */
typedef void (*incident_end_fn)(void *ctx, struct alert *al);

struct incident_stats {
    uint64_t opened;  /* incidents opened ("alert" events) */
    uint64_t updates; /* "update" events */
    uint64_t merged;  /* alerts filed under an incident without an event */
    uint64_t ended;   /* incidents closed ("end" events), evictions included */
    uint64_t evicted; /* closed early because the table was full */
    uint64_t active;  /* open now */
};

/* A tracker of at most capacity open incidents (rounded up to a power of two, at least
 * 16). first_id: the first incident_id it gives (the store's largest + 1, or 1). home:
 * --home-net for the fallback direction (borrowed, may be NULL: nothing is home).
 * sensor: the name stamped on every event (copied). NULL and errbuf when out of memory. */
incident_t *incident_create(uint32_t capacity, uint64_t seed, int64_t first_id, const rules_t *home,
                            const char *sensor, incident_end_fn end, void *end_ctx, char *errbuf);
void incident_destroy(incident_t *t); /* NULL is a no-op; ends nothing */

/* What incident_observe says to do with the alert. */
enum incident_emit {
    INCIDENT_MERGED = 0, /* do not output it: its incident already had an event this window,
                            or it did not grow */
    INCIDENT_EMIT = 1,   /* output it: event_type is "alert" (opened) or "update" */
};

/* Files al under its incident. al must have ip, prefix_len, side, category, detector,
 * score, window_start_us and window_end_us set, and direction if the caller knows the
 * peers (UNKNOWN: the tracker uses the fallback, incident_direction with no peers).
 * Sets al->event_type, incident_id, severity (the incident's, category_severity),
 * sensor and incident, on every call, emitted or not. An "update" is emitted at most
 * once per window (between two incident_window_close calls), and only when the incident
 * grew: its first alert in this window, a detector new to it, or a higher score. now_us
 * (packet time) is the alert's time; callable mid-window (a per-second rate alert). May
 * call the end callback first, for an incident evicted to make room. */
enum incident_emit incident_observe(incident_t *t, struct alert *al, uint64_t now_us);

/* After a window's alerts (window_end_us, packet time): every open incident without an
 * alert since the previous call counts one more quiet window; those quiet for `quiet`
 * windows (>= 1) end, through the callback, stamped window_end_us. */
void incident_window_close(incident_t *t, uint64_t window_end_us, uint32_t quiet);
/* Ends every open incident (the run is over), stamped end_us. */
void incident_flush(incident_t *t, uint64_t end_us);
uint32_t incident_active(const incident_t *t);
void incident_get_stats(const incident_t *t, struct incident_stats *st);
/* Open incidents held at most (the capacity asked for, rounded up to a power of two). */
uint32_t incident_capacity(const incident_t *t);

/* ---- direction.c ------------------------------------------------------------------- */

/* The direction of traffic from the flagged IP's membership of the home net, its side
 * and the peers of the traffic that fired, counted home or away: a source (or prefix)
 * sent to its peers, a destination received from them. The majority of the peers wins;
 * with no peers, or as many home as away, the side decides: a source at home sends
 * out (outbound), a source away sends in (inbound), a destination at home receives from
 * outside (inbound), a destination away from inside (outbound). */
enum alert_direction incident_direction(bool ip_home, enum alert_side side, uint64_t peers_home,
                                        uint64_t peers_away);

/* Counts of the peers of each IP in one window's flow records, home or away, built once
 * per window on the first question (a hashed table, sized from the window's flows, kept
 * across windows, at most PEERS_MAX_SLOTS slots; IPs beyond half of it get no peers,
 * counted). */
typedef struct peers peers_t;
#define PEERS_MAX_SLOTS (1u << 18) /* 262,144 slots of 36 bytes: 9 MiB at most */

peers_t *peers_create(uint64_t seed);
void peers_destroy(peers_t *p);
/* The peers of ip (or of the prefix ip/prefix_len, 128-bit form, when < 128) on side
 * (SOURCE and PREFIX: the responders of the flows it started; DESTINATION: the
 * initiators of the flows towards it) in window w, home or away by home (borrowed). */
void peers_count(peers_t *p, const struct window *w, const rules_t *home, const struct ip_addr *ip,
                 uint8_t prefix_len, enum alert_side side, uint64_t *n_home, uint64_t *n_away);
/* Flow-record ends left out of the tallies because the table was full, all windows. */
uint64_t peers_overflow(const peers_t *p);

#endif
