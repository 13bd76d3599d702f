/*
 * rate.c — per-second flood counters, kept by the capture thread, checked at each
 * packet-time second boundary; what is over its limit goes to the analyzer at once as a
 * rate event (wqueue.h), so a flood is alerted on within two seconds of its first packet
 * instead of at the end of its 60 s window.
 *
 * Table: one bounded open-addressing hash of IPs (a power of two >= --rate-hosts, 16,384
 * by default), probed with the seeded IP hashes the sensor already computed for its host
 * table (no extra hashing), 8 slots at most; the host record of the window remembers its
 * IP's slot (host_window.rate_hint), so most packets find both entries without probing
 * (lookups were 46 of the 208 instructions a packet rate_packet cost on a 1 M-packet
 * synthetic replay; the previous packet's two slots, still checked after the hints, caught
 * 70% of them). An entry counts one second only: it carries
 * the second's number (epoch), and a first touch in a new second zeroes it, so nothing
 * walks the table to reset it; the IPs touched in a second are listed, and the boundary
 * check walks that list only. A slot of an earlier second is free; when the 8 probed slots
 * all belong to IPs of this second, the one with the fewest packets is evicted (counted):
 * a spoofed flood's sources churn among themselves while its victim, the busiest entry,
 * stays. Keys (tags) and epochs live in arrays of their own, so a probe reads one or two
 * cache lines of them and then the entry. Memory: 16,384 x (312-byte entry + 8-byte tag +
 * 4-byte epoch + 4-byte touched index) = 5.2 MiB, touched as used.
 *
 * Per IP and second: as a destination, packets, bytes, SYNs, UDP and ICMP on flows the
 * sender started, UDP from reflector ports nobody asked for (amplification), SYN-ACKs it
 * sent back, new flows, and the distinct sources (HLL) and destination ports (64-bit
 * linear counting bitmap, saturating at ~266) of those new flows; and the same as a
 * source. A SYN counts as
 * unanswered when the receiver's SYN-ACKs that second do not match it (SYNs - SYN-ACKs).
 * A destination also keeps its 8 heaviest sources (Misra-Gries, k = 8: exact when 8 or
 * fewer sources send, each count under by at most N/9 otherwise): when those carry >= 90%
 * of its flood, the flood comes from few real sources and each carrying >= 5% gets a
 * source-side event too; a spoofed flood's thousands of sources leave the counters near
 * zero, so they never do.
 *
 * Rejected: count-min sketches per feature (fixed memory, no evictions) — they answer "how
 * much did X get" but cannot list which IPs went over at the boundary without a candidate
 * list, which is the table again; and a walk of the whole table each second, which costs
 * 16,384 entry reads per packet-second in a replay that runs at millions of packets/s.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rate.h"

#define RATE_PROBE             8  /* slots probed per lookup */
#define RATE_EVENTS_PER_SECOND 64 /* events emitted per second at most (the rest counted) */
#define RATE_SRC_SHARE_PCT     90 /* heavy sources must carry this much of a flood */
#define RATE_SRC_MIN_PCT       5  /* ... and each at least this much to be named */
#define RATE_SCAN_PORT_BITS                                                                        \
    48 /* SYNs to more ports than this many bits of 64 (about 90                                   \
          ports) are a scan, not a flood: left to the window's                                     \
          portscan detectors */

struct rate_entry {
    /* as a destination: what it received that second */
    uint32_t in_pkts;
    uint32_t in_kind[RATE_KINDS]; /* packets of each kind (SYN: SYNs received) */
    uint32_t in_done;             /* TCP handshakes completed towards it (the client's ACK) */
    uint32_t in_flows;            /* flows started towards it */
    uint32_t in_hh_total;         /* packets fed to the heavy-source counters */
    uint64_t in_bytes;            /* IP bytes */
    uint64_t port_bits;           /* destination ports hit (linear counting) */
    /* as a source: what it sent that second */
    uint32_t out_pkts;
    uint32_t out_kind[RATE_KINDS];     /* (SYN: SYNs sent) */
    uint32_t out_done;                 /* TCP handshakes it completed (its ACKs) */
    uint32_t out_flows;                /* flows it started */
    uint64_t out_bytes;                /* IP bytes */
    uint64_t dst_bits;                 /* destinations it sent to (linear counting) */
    uint64_t out_port_bits;            /* destination ports it sent to (linear counting) */
    struct hll srcs;                   /* distinct sources that sent to it */
    uint32_t hh_n[RATE_EVENT_SOURCES]; /* heavy sources: Misra-Gries counts, packets
                                          (0: a free slot) */
    /* --- not reset with the second: valid while hh_n[] says so, or the key --- */
    uint64_t hh_tag[RATE_EVENT_SOURCES]; /* ... their tags */
    uint32_t hh_idx[RATE_EVENT_SOURCES]; /* ... their slots in the table */
    struct ip_addr ip;
};

/* What a new second zeroes: the counters, not the heavy sources' tags or the key. */
#define RATE_RESET_BYTES offsetof(struct rate_entry, hh_tag)

struct rate {
    uint32_t mask;        /* slots - 1 */
    uint64_t *tags;       /* IP hash | 1 per slot; 0: never used */
    uint32_t *epochs;     /* second the slot's counters are for; 0: none */
    struct rate_entry *e; /* slots */
    uint32_t *touched;    /* slots first used in this second */
    uint32_t n_touched;
    uint32_t recent[2]; /* the previous packet's two slots: a flow's next packet (either
                           way) finds its IPs there without probing */
    uint32_t epoch;     /* this second's number (from 1) */
    bool started;
    uint64_t sec_start_us, sec_end_us; /* the second being counted, packet time */
    uint64_t window_len_us;            /* analysis window length */
    wqueue_t *q;
    bool wait;
    struct rate_config cfg;                 /* limits in force */
    uint64_t cfg_gen;                       /* wqueue's generation of cfg */
    double min_pps[RATE_SIDES][RATE_KINDS]; /* lowest limit of any group: quick reject */
    uint32_t quick;          /* an IP with no more packets than this on either side can neither
                                pass a limit nor move one (maxima under floor / factor): skipped */
    struct window_rate wmax; /* maxima since the last window close */
    struct rate_stats st;
};

static void config_changed(rate_t *r)
{
    for (int s = 0; s < RATE_SIDES; s++)
        for (int k = 0; k < RATE_KINDS; k++) {
            double m = r->cfg.pps[s][k];
            for (uint32_t g = 0; g < r->cfg.n_groups; g++)
                if (r->cfg.groups[g].pps[k] > 0 && r->cfg.groups[g].pps[k] < m)
                    m = r->cfg.groups[g].pps[k];
            r->min_pps[s][k] = m;
        }
    /* The smallest floor over the factor: a maximum below it cannot raise a limit. */
    double q = RATE_FLOOR_SYN_PPS / RATE_LIMIT_FACTOR;
    for (int s = 0; s < RATE_SIDES; s++)
        for (int k = 0; k < RATE_KINDS; k++)
            if (r->min_pps[s][k] < q)
                q = r->min_pps[s][k];
    r->quick = (uint32_t)q;
}

rate_t *rate_create(uint32_t capacity, uint64_t window_len_us, wqueue_t *q, bool wait, char *errbuf)
{
    uint32_t n = (uint32_t)tapir_pow2_size(capacity, 1024, 1u << 24);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(rate_t, tags, n),
        TAPIR_ARRAY(rate_t, epochs, n),
        TAPIR_ARRAY(rate_t, e, n),
        TAPIR_ARRAY(rate_t, touched, n),
    };
    rate_t *r = tapir_table_alloc(sizeof(*r), arrays, TAPIR_NELEM(arrays), errbuf,
                                  "the flood counters for %u IPs", n);
    if (!r)
        return NULL;
    r->mask = n - 1;
    r->q = q;
    r->wait = wait;
    r->window_len_us = window_len_us ? window_len_us : 60000000;
    rate_config_floors(&r->cfg);
    config_changed(r);
    return r;
}

void rate_destroy(rate_t *r)
{
    free(r); /* the struct and its arrays: one block */
}

static inline uint32_t entry_pkts(const struct rate_entry *e)
{
    return e->in_pkts + e->out_pkts;
}

/* The entry of ip for this second, zeroed on its first touch; NULL when the probed slots
 * all hold busier IPs of this second. keep: a slot not to evict (the packet's other IP). */
static struct rate_entry *lookup(rate_t *r, const struct ip_addr *ip, uint64_t h, uint32_t keep,
                                 uint32_t *slot)
{
    uint64_t tag = h | 1;
    uint32_t i0 = (uint32_t)(h >> 20), cand = UINT32_MAX, victim = UINT32_MAX;
    uint32_t victim_pkts = UINT32_MAX;
    for (uint32_t k = 0; k < RATE_PROBE; k++) {
        uint32_t i = (i0 + k) & r->mask;
        uint64_t t = r->tags[i];
        if (t == 0) {
            if (cand == UINT32_MAX)
                cand = i;
            break; /* never used: ip cannot be further on */
        }
        bool live = r->epochs[i] == r->epoch;
        if (t == tag && !memcmp(r->e[i].ip.b, ip->b, 16)) {
            if (!live) {
                memset(&r->e[i], 0, RATE_RESET_BYTES);
                r->epochs[i] = r->epoch;
                r->touched[r->n_touched++] = i;
            }
            *slot = i;
            return &r->e[i];
        }
        if (!live) {
            if (cand == UINT32_MAX)
                cand = i;
        } else if (i != keep && entry_pkts(&r->e[i]) < victim_pkts) {
            victim = i;
            victim_pkts = entry_pkts(&r->e[i]);
        }
    }
    if (cand == UINT32_MAX) {
        if (victim == UINT32_MAX) {
            r->st.untracked++;
            return NULL;
        }
        r->st.evicted++;
        cand = victim; /* already in touched[] */
    } else {
        r->epochs[cand] = r->epoch;
        r->touched[r->n_touched++] = cand;
    }
    r->tags[cand] = tag;
    memset(&r->e[cand], 0, RATE_RESET_BYTES);
    r->e[cand].ip = *ip;
    *slot = cand;
    return &r->e[cand];
}

/* Whether slot i holds ip: its tag, then its address (two 8-byte compares; a memcmp call
 * here was most of a probe's cost). */
static inline bool holds(const rate_t *r, uint32_t i, const struct ip_addr *ip, uint64_t tag)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, r->e[i].ip.b, 8), memcpy(&a1, r->e[i].ip.b + 8, 8);
    memcpy(&b0, ip->b, 8), memcpy(&b1, ip->b + 8, 8);
    return r->tags[i] == tag && ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* find's slow path: the hint's slot when it holds ip but for an earlier second (zeroed and
 * listed, as lookup would), the previous packet's two slots, then lookup; the hint is set
 * to the slot found. An IP is in one slot at most (lookup inserts only after probing its
 * whole run, and tags never go back to 0), so a slot that holds it is the slot lookup
 * would find, and the counts are the same with or without hints (tests/unit/test_rate.c
 * runs every test both ways). */
static __attribute__((noinline)) struct rate_entry *find_slow(rate_t *r, const struct ip_addr *ip,
                                                              uint64_t h, uint32_t keep,
                                                              uint32_t *hint, uint32_t *slot)
{
    uint64_t tag = h | 1;
    if (hint && holds(r, *hint & r->mask, ip, tag)) {
        uint32_t i = *hint & r->mask;
        if (r->epochs[i] != r->epoch) {
            memset(&r->e[i], 0, RATE_RESET_BYTES);
            r->epochs[i] = r->epoch;
            r->touched[r->n_touched++] = i;
        }
        *slot = i;
        return &r->e[i];
    }
    struct rate_entry *e = NULL;
    for (int c = 0; c < 2 && !e; c++) {
        uint32_t i = r->recent[c];
        if (r->epochs[i] == r->epoch && holds(r, i, ip, tag)) {
            e = &r->e[i];
            *slot = i;
        }
    }
    if (!e)
        e = lookup(r, ip, h, keep, slot);
    if (e && hint)
        *hint = *slot;
    return e;
}

/* The entry of ip for this second: at its hint (the slot its host record remembers) when
 * that slot holds it already this second, which is most packets; else find_slow. */
static inline struct rate_entry *find(rate_t *r, const struct ip_addr *ip, uint64_t h,
                                      uint32_t keep, uint32_t *hint, uint32_t *slot)
{
    if (hint) {
        uint32_t i = *hint & r->mask;
        if (r->epochs[i] == r->epoch && holds(r, i, ip, h | 1)) {
            *slot = i;
            return &r->e[i];
        }
    }
    return find_slow(r, ip, h, keep, hint, slot);
}

/* Misra-Gries: one packet from the source at slot idx (tag its hash | 1). */
static void heavy_add(struct rate_entry *d, uint64_t tag, uint32_t idx)
{
    d->in_hh_total++;
    int free_slot = -1;
    for (int i = 0; i < RATE_EVENT_SOURCES; i++) {
        if (d->hh_tag[i] == tag && d->hh_n[i]) {
            d->hh_n[i]++;
            return;
        }
        if (!d->hh_n[i] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        d->hh_tag[free_slot] = tag;
        d->hh_idx[free_slot] = idx;
        d->hh_n[free_slot] = 1;
        return;
    }
    for (int i = 0; i < RATE_EVENT_SOURCES; i++)
        d->hh_n[i]--;
}

/* UDP source ports of services that answer small requests with big replies. */
static inline bool reflector_port(uint16_t p)
{
    switch (p) {
    case 19:    /* chargen */
    case 53:    /* DNS */
    case 123:   /* NTP */
    case 161:   /* SNMP */
    case 389:   /* CLDAP */
    case 1900:  /* SSDP */
    case 11211: /* memcached */
        return true;
    default:
        return false;
    }
}

static double bits_count(uint64_t bits)
{
    return linear_count(64u - (unsigned)__builtin_popcountll(bits), 64);
}

/* Packets of kind k the entry counts on side s this second (SYN: unanswered). */
static uint32_t count_of(const struct rate_entry *e, int s, int k)
{
    if (s == RATE_SIDE_DESTINATION) {
        if (k == RATE_SYN)
            return e->in_kind[k] > e->in_done ? e->in_kind[k] - e->in_done : 0;
        return e->in_kind[k];
    }
    if (k == RATE_SYN)
        return e->out_kind[k] > e->out_done ? e->out_kind[k] - e->out_done : 0;
    return e->out_kind[k];
}

/* The limit for ip on side s: the most specific group that sets it, else the default. */
static double limit_of(const rate_t *r, const struct ip_addr *ip, int s, int k)
{
    double lim = r->cfg.pps[s][k];
    int best = -1;
    for (uint32_t g = 0; g < r->cfg.n_groups; g++) {
        const struct rate_group *gr = &r->cfg.groups[g];
        if (gr->pps[k] <= 0 || (int)gr->prefix_len <= best)
            continue;
        bool in = true;
        for (unsigned b = 0; b < gr->prefix_len && in; b += 8) {
            unsigned nb = gr->prefix_len - b >= 8 ? 8 : gr->prefix_len - b;
            uint8_t m = (uint8_t)(0xff00u >> nb);
            in = (ip->b[b / 8] & m) == gr->net.b[b / 8];
        }
        if (in) {
            best = gr->prefix_len;
            lim = gr->pps[k];
        }
    }
    return lim;
}

static void emit(rate_t *r, const struct rate_event *ev, unsigned *n)
{
    if (*n >= RATE_EVENTS_PER_SECOND || wqueue_rate_push(r->q, ev, r->wait) < 0) {
        r->st.events_dropped++;
        return;
    }
    (*n)++;
    r->st.events++;
}

/* The destination side of e is over lim for kind k: its event, and the heavy sources'
 * when they carry the flood (not for amplification: those sources are reflectors). */
static void flood_at_destination(rate_t *r, const struct rate_entry *e, int k, uint32_t c,
                                 double lim, struct rate_event *ev, unsigned *n)
{
    ev->side = RATE_SIDE_DESTINATION;
    ev->ip = e->ip;
    ev->bytes = e->in_bytes;
    ev->sources = hll_count(&e->srcs);
    ev->ports = bits_count(e->port_bits);
    ev->new_flows = e->in_flows;
    ev->n_sources = 0;
    uint64_t heavy = 0;
    uint16_t n_heavy = 0;
    for (int i = 0; i < RATE_EVENT_SOURCES; i++) {
        const struct rate_entry *s = &r->e[e->hh_idx[i]];
        if (e->hh_n[i] && r->tags[e->hh_idx[i]] == e->hh_tag[i] &&
            r->epochs[e->hh_idx[i]] == r->epoch && s != e) {
            heavy += e->hh_n[i];
            if ((uint64_t)e->hh_n[i] * 100 >= (uint64_t)e->in_hh_total * RATE_SRC_MIN_PCT)
                n_heavy++; /* a source that will be named */
        }
    }
    bool few = k != RATE_AMP && e->in_hh_total &&
               heavy * 100 >= (uint64_t)e->in_hh_total * RATE_SRC_SHARE_PCT;
    if (few)
        ev->n_sources = n_heavy;
    emit(r, ev, n);
    if (!few)
        return;
    for (int i = 0; i < RATE_EVENT_SOURCES; i++) {
        uint32_t idx = e->hh_idx[i];
        const struct rate_entry *s = &r->e[idx];
        if (!e->hh_n[i] || r->tags[idx] != e->hh_tag[i] || r->epochs[idx] != r->epoch || s == e ||
            (uint64_t)e->hh_n[i] * 100 < (uint64_t)e->in_hh_total * RATE_SRC_MIN_PCT)
            continue;
        struct rate_event se = *ev;
        se.side = RATE_SIDE_SOURCE;
        se.ip = s->ip;
        se.n_sources = n_heavy;
        /* Its share of the flood, against its share of the limit: the score is the
         * flood's, rate over limit, for each of the sources that carry it. */
        double share = (double)e->hh_n[i] / (double)e->in_hh_total;
        se.pkts = (uint32_t)(c * share + 0.5);
        se.limit = lim * share;
        se.bytes = s->out_bytes;
        se.sources = bits_count(s->dst_bits);
        se.ports = 0;
        se.new_flows = s->out_flows;
        emit(r, &se, n);
    }
}

/* The second that ends now (ts: the packet that ends it) against the limits. */
static void finish_second(rate_t *r, uint64_t ts)
{
    if (wqueue_rate_get_config(r->q, &r->cfg, &r->cfg_gen))
        config_changed(r);
    unsigned n_ev = 0;
    struct rate_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.second_us = r->sec_start_us;
    ev.raised_us = ts;
    ev.window_us = r->sec_start_us - r->sec_start_us % r->window_len_us;
    for (uint32_t t = 0; t < r->n_touched; t++) {
        const struct rate_entry *e = &r->e[r->touched[t]];
        if (e->in_pkts <= r->quick && e->out_pkts <= r->quick)
            continue; /* most IPs, most seconds: one compare */
        for (int s = 0; s < RATE_SIDES; s++) {
            bool amp_fired = false;
            for (int k = RATE_KINDS - 1; k >= 0; k--) { /* AMP first: it is UDP too */
                uint32_t c = count_of(e, s, k);
                if ((float)c > r->wmax.pps_max[s][k])
                    r->wmax.pps_max[s][k] = (float)c;
                if ((double)c <= r->min_pps[s][k] || (k == RATE_UDP && amp_fired))
                    continue;
                if (k == RATE_SYN &&
                    __builtin_popcountll(s == RATE_SIDE_DESTINATION
                                             ? e->port_bits
                                             : e->out_port_bits) > RATE_SCAN_PORT_BITS)
                    continue; /* a fast port scan: thousands of ports, one SYN each */
                double lim = limit_of(r, &e->ip, s, k);
                if ((double)c <= lim)
                    continue;
                amp_fired |= k == RATE_AMP;
                ev.kind = (uint8_t)k;
                ev.pkts = c;
                ev.limit = lim;
                if (s == RATE_SIDE_DESTINATION) {
                    flood_at_destination(r, e, k, c, lim, &ev, &n_ev);
                } else {
                    ev.side = RATE_SIDE_SOURCE;
                    ev.ip = e->ip;
                    ev.n_sources = 1;
                    ev.bytes = e->out_bytes;
                    ev.sources = bits_count(e->dst_bits);
                    ev.ports = 0;
                    ev.new_flows = e->out_flows;
                    emit(r, &ev, &n_ev);
                }
            }
        }
    }
    if (n_ev)
        wqueue_rate_notify(r->q);
    r->wmax.seconds++;
    r->st.seconds++;
}

static void next_second(rate_t *r, uint64_t ts)
{
    if (r->started)
        finish_second(r, ts);
    r->started = true;
    if (++r->epoch == 0) { /* wrapped (136 years of seconds): forget every slot */
        memset(r->epochs, 0, ((size_t)r->mask + 1) * sizeof(*r->epochs));
        r->epoch = 1;
    }
    r->n_touched = 0;
    r->sec_start_us = ts - ts % 1000000;
    r->sec_end_us = r->sec_start_us + 1000000;
}

void rate_packet(rate_t *r, const struct pkt_info *p, uint64_t src_h, uint64_t dst_h, int dir,
                 unsigned what, uint32_t *src_hint, uint32_t *dst_hint)
{
    bool created = what & RATE_PKT_CREATED;
    /* Answered means a completed handshake, not a SYN-ACK: a listening victim (or SYN
     * cookies) answers every SYN of a flood with a SYN-ACK that is never ACKed. */
    bool done = what & RATE_PKT_COMPLETED;
    if (p->ts_us >= r->sec_end_us)
        next_second(r, p->ts_us);
    int kind = -1;
    bool amp = false;
    if (p->proto == IPPROTO_NUM_TCP) {
        uint8_t syn_ack = p->tcp_flags & (TCP_SYN | TCP_ACK);
        if (syn_ack == TCP_SYN)
            kind = RATE_SYN;
    } else if (dir == 0 && p->proto == IPPROTO_NUM_UDP) {
        kind = RATE_UDP;
        amp = reflector_port(p->sport);
    } else if (dir == 0 && (p->proto == IPPROTO_NUM_ICMP || p->proto == IPPROTO_NUM_ICMPV6)) {
        kind = RATE_ICMP;
    }
    uint32_t si = UINT32_MAX, di = UINT32_MAX;
    struct rate_entry *s = find(r, &p->src, src_h, UINT32_MAX, src_hint, &si);
    struct rate_entry *d = find(r, &p->dst, dst_h, si, dst_hint, &di);
    r->recent[0] = si & r->mask; /* UINT32_MAX (none) masked: any slot, checked anyway */
    r->recent[1] = di & r->mask;
    if (s && s == d) /* a packet to itself (LAND): count it once, as a destination */
        s = NULL;
    if (s) {
        s->out_pkts++;
        s->out_bytes += p->ip_len;
        if (created) {
            s->out_flows++;
            s->dst_bits |= 1ull << (dst_h >> 58);
            s->out_port_bits |= 1ull << (((uint32_t)p->dport * 0x9E3779B1u) >> 26);
        }
        if (kind >= 0)
            s->out_kind[kind]++;
        if (amp)
            s->out_kind[RATE_AMP]++;
        if (done)
            s->out_done++;
    }
    if (d) {
        d->in_pkts++;
        d->in_bytes += p->ip_len;
        if (created) { /* distinct sources and ports of new flows: once per flow */
            d->in_flows++;
            hll_add(&d->srcs, src_h);
            d->port_bits |= 1ull << (((uint32_t)p->dport * 0x9E3779B1u) >> 26);
        }
        if (kind >= 0) {
            d->in_kind[kind]++;
            if (s)
                heavy_add(d, src_h | 1, si);
            else
                d->in_hh_total++;
        }
        if (amp)
            d->in_kind[RATE_AMP]++;
        if (done)
            d->in_done++;
    }
}

void rate_finish(rate_t *r, uint64_t now_us)
{
    if (!r->started)
        return;
    finish_second(r, now_us);
    r->started = false;
    r->sec_end_us = 0;
}

void rate_window(rate_t *r, struct window_rate *wr)
{
    *wr = r->wmax;
    memset(&r->wmax, 0, sizeof(r->wmax));
}

void rate_stats(const rate_t *r, struct rate_stats *st)
{
    *st = r->st;
}
