/*
 * direction.c — which way the traffic that fired went, against --home-net: inbound,
 * outbound, internal or external, as an alert's `direction` (and the severity table's
 * "is the victim ours").
 *
 * The flagged IP alone cannot say it: a home server flagged on its destination side
 * was attacked from outside (inbound) or by a neighbour (internal). So the peers of the
 * traffic decide, the majority winning: for a source (or a prefix) the responders of
 * the flows it started in the window, for a destination the initiators of the flows
 * towards it, each flow record counted once. The window's flow records (window.h, the
 * same feed the conversation detectors read) are tallied once per window, on the first
 * alert that asks, into a seeded open-addressing table keyed by IP: one pass over the
 * records, a home-net lookup per IP when its tally is made (was two per record: 4% of a
 * synthetic replay's instructions; nothing when a window raises no alert), then a probe
 * per alert. A prefix's peers are summed
 * by one scan of the records for that prefix (prefix alerts are a handful per window).
 *
 * Limit: the sensor records answered flows only (sensor/sensor.c: a spoofed flood's
 * millions of one-way flows would fill the records), so traffic that got no answer at
 * all (a scan of filtered ports, a flood on a closed port) has no peers here and takes
 * the side's rule: an internal scan of silent hosts reads "outbound". A per-host count
 * of home and away peers kept by the sensor would close that gap (not done: it needs
 * --home-net in the capture thread).
 *
 * Rejected: the flagged IP's membership alone (Suricata's rule-side HOME_NET test),
 * which calls every flood on a home victim "inbound" even when a compromised neighbour
 * sends it, and every scan by a home host "outbound" when it sweeps the home net. Also
 * rejected: asking the conversation table, which only holds conversations with
 * repeated connections (it would know a beacon's peer, not a scan's hundreds).
 */
#include <stdlib.h>
#include <string.h>

#include "incident.h"

struct peer_tally {
    struct ip_addr ip;
    uint32_t n[2][2]; /* [0: as initiator, 1: as responder][0: peers away, 1: home], flow
                         records */
    uint8_t home;     /* 1: ip is in the home net (looked up once, when the tally is made) */
};

/* Home-net flags remembered for the scans (below): a lookup is about 420 instructions and
 * alerts in consecutive windows count the same peers (on the synthetic replay, 147,000
 * lookups for 1,718 alerts were 74 instructions a packet). 512 x 18 bytes. */
#define PEERS_HOME_MEMO 512

struct peers {
    struct peer_tally *t; /* slots; ip all zero = empty (:: is never a flow's endpoint
                             worth tallying: judge.c does not score it) */
    uint32_t slots;       /* allocated, a power of two */
    uint32_t used;        /* slots in use this window */
    uint32_t mask;        /* slots used for this window - 1 (sized from its flows) */
    uint64_t seed;
    uint64_t seq;      /* the window tallied (seq + 1; 0: none) */
    uint64_t start_us; /* ... and its start, so a new run's seq 0 is not taken for it */
    uint64_t overflow; /* flow-record ends not tallied: table full */
    uint64_t scan_seq, scan_start_us; /* the window the scans below were for (seq + 1) */
    uint32_t scans;                   /* alerts counted by a pass over its records */
    const rules_t *memo_for;          /* the home net memo[] holds flags of */
    struct home_memo {
        struct ip_addr ip;
        uint8_t used, home;
    } memo[PEERS_HOME_MEMO]; /* home flags of peers, direct-mapped by address, kept across
                                windows (the home net is fixed for a run) */
};

/* A window's first alerts count their IP's peers by one pass over its records (a probe
 * each, a home-net lookup per peer); from this many on, its records are tallied once and
 * each alert probes the tally. On the synthetic replay (2.3 alerts a window) the tally was
 * 203 instructions a packet, 65 of them clearing it; the passes are about 45. The tally
 * bounds the cost of a window with many alerts. */
#define PEERS_SCAN_ALERTS 8

enum alert_direction incident_direction(bool ip_home, enum alert_side side, uint64_t peers_home,
                                        uint64_t peers_away)
{
    bool peer_home;
    if (peers_home > peers_away)
        peer_home = true;
    else if (peers_away > peers_home)
        peer_home = false;
    else /* no peers, or a tie: the usual case, traffic crossing the home net's edge */
        peer_home = !ip_home;
    /* the traffic's source and destination ends */
    bool from_home = side == ALERT_SIDE_DESTINATION ? peer_home : ip_home;
    bool to_home = side == ALERT_SIDE_DESTINATION ? ip_home : peer_home;
    if (from_home && to_home)
        return ALERT_DIRECTION_INTERNAL;
    if (from_home)
        return ALERT_DIRECTION_OUTBOUND;
    if (to_home)
        return ALERT_DIRECTION_INBOUND;
    return ALERT_DIRECTION_EXTERNAL;
}

peers_t *peers_create(uint64_t seed)
{
    peers_t *p = calloc(1, sizeof(*p));
    if (p)
        p->seed = seed;
    return p;
}

void peers_destroy(peers_t *p)
{
    if (!p)
        return;
    free(p->t);
    free(p);
}

uint64_t peers_overflow(const peers_t *p)
{
    return p->overflow;
}

/* a == b, inlined (memcmp of 16 bytes was a call per record) */
static inline bool ip_same(const struct ip_addr *a, const struct ip_addr *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a->b, 8), memcpy(&a1, a->b + 8, 8);
    memcpy(&b0, b->b, 8), memcpy(&b1, b->b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Big-endian 64-bit word at p (an address half, for prefix masks). */
static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static bool ip_zero(const struct ip_addr *a)
{
    static const uint8_t z[16];
    return !memcmp(a->b, z, 16);
}

/* ip in the home net, through the memo. */
static bool home_of(peers_t *p, const rules_t *home, const struct ip_addr *ip)
{
    if (p->memo_for != home) {
        memset(p->memo, 0, sizeof(p->memo));
        p->memo_for = home;
    }
    uint64_t h = (be64(ip->b) ^ be64(ip->b + 8)) * 0x9E3779B97F4A7C15ULL;
    struct home_memo *m = &p->memo[h >> 55]; /* 9 bits: PEERS_HOME_MEMO */
    if (!m->used || !ip_same(&m->ip, ip)) {
        m->ip = *ip;
        m->home = rules_allowed(home, ip) ? 1 : 0;
        m->used = 1;
    }
    return m->home;
}

/* The tally of ip, created when home is given (the home net, for its flag) and there is
 * room; NULL otherwise. */
static struct peer_tally *tally_get(peers_t *p, const struct ip_addr *ip, const rules_t **home)
{
    bool create = home != NULL;
    if (!p->t || ip_zero(ip))
        return NULL;
    uint32_t i = (uint32_t)tapir_hash(ip->b, 16, p->seed) & p->mask;
    for (uint32_t probe = 0; probe <= p->mask; probe++) {
        struct peer_tally *e = &p->t[i];
        if (ip_zero(&e->ip)) {
            if (!create)
                return NULL;
            if (p->used * 2 >= p->mask + 1) { /* keep the load at half at most */
                p->overflow++;
                return NULL;
            }
            e->ip = *ip;
            e->home = rules_allowed(*home, ip) ? 1 : 0;
            p->used++;
            return e;
        }
        if (!memcmp(e->ip.b, ip->b, 16))
            return e;
        i = (i + 1) & p->mask;
    }
    return NULL;
}

/* Tallies window w's flow records, once per window. */
static void tally_window(peers_t *p, const struct window *w, const rules_t *home)
{
    if (p->seq == w->seq + 1 && p->start_us == w->start_us)
        return;
    p->seq = w->seq + 1;
    p->start_us = w->start_us;
    uint64_t want = 16;
    while (want < (uint64_t)w->n_flows * 4 && want < PEERS_MAX_SLOTS)
        want *= 2;
    if (want > p->slots) {
        struct peer_tally *nt = malloc(want * sizeof(*nt));
        if (nt) {
            free(p->t);
            p->t = nt;
            p->slots = (uint32_t)want;
        } else {
            want = p->slots; /* keep the smaller table: more overflow, no failure */
        }
    }
    if (!p->t)
        return;
    p->mask = (uint32_t)want - 1;
    p->used = 0;
    memset(p->t, 0, want * sizeof(*p->t));
    /* Each end's home flag is looked up once per IP, when its tally is made (a window's
     * records name far fewer IPs than twice their number: on the synthetic replay the
     * home-net lookups per record were 4% of all instructions); an end without a tally
     * (table full, ::) is looked up per record. */
    for (uint32_t i = 0; i < w->n_flows; i++) {
        const struct flow_record *r = &w->flows[i];
        struct peer_tally *a = tally_get(p, &r->init, &home);
        struct peer_tally *b = tally_get(p, &r->resp, &home);
        int init_home = a ? a->home : rules_allowed(home, &r->init) ? 1 : 0;
        int resp_home = b ? b->home : rules_allowed(home, &r->resp) ? 1 : 0;
        if (a)
            a->n[0][resp_home]++;
        if (b)
            b->n[1][init_home]++;
    }
}

void peers_count(peers_t *p, const struct window *w, const rules_t *home, const struct ip_addr *ip,
                 uint8_t prefix_len, enum alert_side side, uint64_t *n_home, uint64_t *n_away)
{
    *n_home = *n_away = 0;
    if (!w || !w->n_flows)
        return;
    if (prefix_len && prefix_len < 128) {
        /* The prefix's records: init under the mask in two 64-bit words (ip_addr_mask per
         * record was a byte loop), each responder's home flag through the memo. */
        uint64_t m0 = prefix_len >= 64 ? ~0ULL : ~0ULL << (64 - prefix_len);
        uint64_t m1 = prefix_len <= 64 ? 0 : ~0ULL << (128 - prefix_len);
        uint64_t n0 = be64(ip->b) & m0, n1 = be64(ip->b + 8) & m1;
        for (uint32_t i = 0; i < w->n_flows; i++) {
            const struct flow_record *r = &w->flows[i];
            if ((be64(r->init.b) & m0) != n0 || (be64(r->init.b + 8) & m1) != n1)
                continue;
            if (home_of(p, home, &r->resp))
                (*n_home)++;
            else
                (*n_away)++;
        }
        return;
    }
    int role = side == ALERT_SIDE_DESTINATION ? 1 : 0;
    if (p->scan_seq != w->seq + 1 || p->scan_start_us != w->start_us) {
        p->scan_seq = w->seq + 1;
        p->scan_start_us = w->start_us;
        p->scans = 0;
    }
    if (p->scans < PEERS_SCAN_ALERTS) {
        p->scans++;
        if (ip_zero(ip)) /* as the tally: :: has none */
            return;
        /* the peers' home flags through the memo: a peer often has several records */
        for (uint32_t i = 0; i < w->n_flows; i++) {
            const struct flow_record *r = &w->flows[i];
            if (!ip_same(role ? &r->resp : &r->init, ip))
                continue;
            if (home_of(p, home, role ? &r->init : &r->resp))
                (*n_home)++;
            else
                (*n_away)++;
        }
        return;
    }
    tally_window(p, w, home);
    const struct peer_tally *e = tally_get(p, ip, NULL);
    if (!e)
        return;
    *n_away = e->n[role][0];
    *n_home = e->n[role][1];
}
