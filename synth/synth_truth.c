/*
 * synth_truth.c — the ground truth `tapir synth` writes beside its pcap.
 *
 * Hosts: one fixed open-addressing table sized at start from the population (the set of
 * IPs synth can emit is known in advance), so memory is flat whatever --packets says.
 * Flows: the truth must match what the sensor will count, so the flow identity is the
 * sensor's (bidirectional 5-tuple, ports 0 for ICMP) and so are its idle timeouts, taken
 * from sensor/flow_table.h (TCP 120 s, 30 s before the handshake completes, 10 s after a
 * RST or FINs both ways; UDP and other 60 s). A packet whose 5-tuple matches an expired
 * flow starts a new one, exactly as in the sensor. Active flows live in a chained hash
 * over a node pool with an LRU list; flows idle for longer than the longest timeout are
 * written out and freed, so the table holds only the last two minutes' flows. Rows
 * therefore come out in order of expiry.
 * (Rejected: keeping every flow and sorting at the end — memory grows with --packets.)
 *
 * The attack class names live here too: they are the vocabulary of the labels CSV.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "ilist.h"
#include "synth.h"
#include "synth_proto.h"
#include "synth_truth.h"

/* The longest of the sensor's idle timeouts: a flow idle longer can never continue. */
#define MAX_IDLE_US FLOW_TIMEOUT_TCP_EST_US
_Static_assert(FLOW_TIMEOUT_TCP_EST_US >= FLOW_TIMEOUT_TCP_NEW_US &&
                   FLOW_TIMEOUT_TCP_EST_US >= FLOW_TIMEOUT_TCP_CLOSING_US &&
                   FLOW_TIMEOUT_TCP_EST_US >= FLOW_TIMEOUT_OTHER_US,
               "MAX_IDLE_US must be the longest flow timeout");

#define FLOW_BUCKETS (1u << 16)
#define NIL          ILIST_NIL

static const char *const attack_names[SYNTH_N_ATTACKS] = {"portscan_vertical",
                                                          "portscan_horizontal",
                                                          "udpscan",
                                                          "synflood",
                                                          "icmpflood",
                                                          "bruteforce",
                                                          "exfil",
                                                          "beacon",
                                                          "dnstunnel",
                                                          "slowscan",
                                                          "slowexfil"};

const char *synth_attack_name(int cls)
{
    return cls >= 0 && cls < SYNTH_N_ATTACKS ? attack_names[cls] : NULL;
}

/* ---------------------------------------------------------------- tables */

struct thost {
    struct ip_addr ip;
    uint8_t used;
    uint8_t label; /* label of the first packet it sent */
    uint8_t sent_any;
    uint8_t conflict;               /* sent packets under two labels */
    uint64_t pkts_sent, bytes_sent; /* packets, IP bytes */
    uint64_t pkts_recv, bytes_recv; /* packets, IP bytes */
    uint64_t flows_started;
    uint64_t first_us, last_us; /* first and last packet it sent, us */
};

struct tflow {
    struct ip_addr a, b; /* initiator, responder */
    uint16_t aport, bport;
    uint8_t proto;
    uint8_t synack;      /* responder answered the SYN */
    uint8_t established; /* initiator ACKed after the SYN-ACK */
    uint8_t fin_a, fin_b, rst;
    uint64_t first_us, last_us, close_us; /* close_us: when RST or the 2nd FIN was seen */
    uint64_t pkts_fwd, bytes_fwd, pkts_rev, bytes_rev;
    uint32_t hnext;        /* next node in the bucket chain */
    struct ilist_link lru; /* LRU list, oldest first */
};

struct synth_truth {
    struct thost *hosts;
    uint32_t host_mask;
    uint32_t hosts_used, hosts_max;
    bool host_overflow;
    uint64_t seed;
    FILE *flows_out;
    struct tflow *nodes;
    uint32_t n_nodes, cap_nodes, free_head;
    uint32_t *bucket;
    struct ilist lru; /* over nodes (moved with it when it grows), oldest first */
    uint64_t flows_done;
    bool write_error;
};

struct synth_truth *synth_truth_create(uint32_t max_hosts, FILE *flows, char *errbuf, size_t errlen)
{
    struct synth_truth *t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    uint32_t cap = (uint32_t)tapir_pow2_size(2ULL * max_hosts, 1024, 1u << 30);
    t->hosts = calloc(cap, sizeof(*t->hosts));
    t->bucket = malloc(FLOW_BUCKETS * sizeof(*t->bucket));
    if (!t->hosts || !t->bucket)
        goto fail;
    memset(t->bucket, 0xff, FLOW_BUCKETS * sizeof(*t->bucket));
    t->host_mask = cap - 1;
    t->hosts_max = cap - cap / 8;
    t->flows_out = flows;
    t->free_head = NIL;
    ilist_init(&t->lru, NULL, sizeof(struct tflow), offsetof(struct tflow, lru));
    t->seed = 0x5eed7a91;
    return t;
fail:
    snprintf(errbuf, errlen, "out of memory for the truth tables");
    synth_truth_destroy(t);
    return NULL;
}

void synth_truth_destroy(struct synth_truth *t)
{
    if (!t)
        return;
    free(t->hosts);
    free(t->nodes);
    free(t->bucket);
    free(t);
}

static struct thost *host_get(struct synth_truth *t, const struct ip_addr *ip, bool add)
{
    uint32_t i = (uint32_t)tapir_hash(ip->b, 16, t->seed) & t->host_mask;
    for (;;) {
        struct thost *h = &t->hosts[i];
        if (!h->used) {
            if (!add)
                return NULL;
            if (t->hosts_used >= t->hosts_max) {
                t->host_overflow = true;
                return NULL;
            }
            h->used = 1;
            h->ip = *ip;
            t->hosts_used++;
            return h;
        }
        if (!memcmp(h->ip.b, ip->b, 16))
            return h;
        i = (i + 1) & t->host_mask;
    }
}

bool synth_truth_known(const struct synth_truth *t, const struct ip_addr *ip)
{
    return host_get((struct synth_truth *)t, ip, false) != NULL;
}

/* ---------------------------------------------------------------- flows */

static uint32_t flow_bucket(const struct synth_truth *t, const struct ip_addr *x,
                            const struct ip_addr *y, uint16_t xp, uint16_t yp, uint8_t proto)
{
    /* Order-independent: hash the lower endpoint first. */
    uint8_t k[37];
    int c = ip_addr_cmp(x, y);
    if (c > 0 || (c == 0 && xp > yp)) {
        const struct ip_addr *ti = x;
        x = y;
        y = ti;
        uint16_t tp = xp;
        xp = yp;
        yp = tp;
    }
    memcpy(k, x->b, 16);
    memcpy(k + 16, y->b, 16);
    k[32] = (uint8_t)(xp >> 8);
    k[33] = (uint8_t)xp;
    k[34] = (uint8_t)(yp >> 8);
    k[35] = (uint8_t)yp;
    k[36] = proto;
    return (uint32_t)tapir_hash(k, sizeof(k), t->seed) & (FLOW_BUCKETS - 1);
}

static bool flow_expired(const struct tflow *f, uint64_t now)
{
    if (f->proto == 6) {
        if (f->rst || (f->fin_a && f->fin_b))
            return now > f->close_us + FLOW_TIMEOUT_TCP_CLOSING_US;
        return now >
               f->last_us + (f->established ? FLOW_TIMEOUT_TCP_EST_US : FLOW_TIMEOUT_TCP_NEW_US);
    }
    return now > f->last_us + FLOW_TIMEOUT_OTHER_US; /* UDP, ICMP and the rest */
}

/* Writes the flow's row, unlinks it from its bucket and the LRU list, frees the node. */
static void flow_end(struct synth_truth *t, uint32_t i)
{
    struct tflow *f = &t->nodes[i];
    if (t->flows_out) {
        char a[48], b[48];
        int r =
            fprintf(t->flows_out,
                    "%" PRIu64 ".%06" PRIu64 ",%s,%u,%s,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 "\n",
                    f->first_us / 1000000, f->first_us % 1000000, ip_addr_str(&f->a, a, sizeof(a)),
                    f->aport, ip_addr_str(&f->b, b, sizeof(b)), f->bport, f->proto, f->pkts_fwd,
                    f->bytes_fwd, f->pkts_rev, f->bytes_rev);
        if (r < 0)
            t->write_error = true;
    }
    t->flows_done++;
    uint32_t bk = flow_bucket(t, &f->a, &f->b, f->aport, f->bport, f->proto);
    uint32_t *pp = &t->bucket[bk];
    while (*pp != i)
        pp = &t->nodes[*pp].hnext;
    *pp = f->hnext;
    ilist_unlink(&t->lru, i);
    f->hnext = t->free_head;
    t->free_head = i;
}

static uint32_t flow_alloc(struct synth_truth *t)
{
    if (t->free_head != NIL) {
        uint32_t i = t->free_head;
        t->free_head = t->nodes[i].hnext;
        return i;
    }
    if (t->n_nodes == t->cap_nodes) {
        /* Grows with the number of flows alive in the last two minutes, not with the
         * capture: that count is bounded by the traffic rates. */
        uint32_t nc = t->cap_nodes ? t->cap_nodes * 2 : 4096;
        struct tflow *n = realloc(t->nodes, (size_t)nc * sizeof(*n));
        if (!n)
            return NIL;
        t->nodes = n;
        t->lru.nodes = (char *)n;
        t->cap_nodes = nc;
    }
    return t->n_nodes++;
}

void synth_truth_packet(struct synth_truth *t, uint64_t ts_us, const struct ip_addr *src,
                        const struct ip_addr *dst, uint16_t sport, uint16_t dport, uint8_t proto,
                        uint8_t tcp_flags, uint32_t ip_len, int label)
{
    if (proto != 6 && proto != 17)
        sport = dport = 0;

    /* Flows idle past every timeout can never continue: write them out. */
    while (t->lru.first != NIL && ts_us > t->nodes[t->lru.first].last_us + MAX_IDLE_US + 1000000)
        flow_end(t, t->lru.first);

    struct thost *hs = host_get(t, src, true), *hd = host_get(t, dst, true);
    if (hs) {
        if (!hs->sent_any) {
            hs->sent_any = 1;
            hs->label = (uint8_t)label;
            hs->first_us = ts_us;
        } else if (hs->label != label) {
            hs->conflict = 1;
        }
        hs->last_us = ts_us;
        hs->pkts_sent++;
        hs->bytes_sent += ip_len;
    }
    if (hd) {
        hd->pkts_recv++;
        hd->bytes_recv += ip_len;
    }

    uint32_t bk = flow_bucket(t, src, dst, sport, dport, proto), i = t->bucket[bk];
    struct tflow *f = NULL;
    bool fwd = true;
    while (i != NIL) {
        f = &t->nodes[i];
        if (f->proto == proto) {
            if (f->aport == sport && f->bport == dport && !memcmp(f->a.b, src->b, 16) &&
                !memcmp(f->b.b, dst->b, 16)) {
                fwd = true;
                break;
            }
            if (f->aport == dport && f->bport == sport && !memcmp(f->a.b, dst->b, 16) &&
                !memcmp(f->b.b, src->b, 16)) {
                fwd = false;
                break;
            }
        }
        i = f->hnext;
    }
    if (i != NIL && flow_expired(f, ts_us)) {
        flow_end(t, i);
        i = NIL;
    }
    if (i == NIL) {
        i = flow_alloc(t);
        if (i == NIL) {
            t->write_error = true;
            return;
        }
        f = &t->nodes[i];
        memset(f, 0, sizeof(*f));
        f->a = *src;
        f->b = *dst;
        f->aport = sport;
        f->bport = dport;
        f->proto = proto;
        f->first_us = ts_us;
        f->hnext = t->bucket[bk];
        t->bucket[bk] = i;
        fwd = true;
        if (hs)
            hs->flows_started++;
    } else {
        ilist_unlink(&t->lru, i);
    }
    ilist_push_last(&t->lru, i);
    f->last_us = ts_us;
    if (fwd) {
        f->pkts_fwd++;
        f->bytes_fwd += ip_len;
    } else {
        f->pkts_rev++;
        f->bytes_rev += ip_len;
    }
    if (proto == 6) {
        bool was_closed = f->rst || (f->fin_a && f->fin_b);
        if (!fwd &&
            (tcp_flags & (SYNTH_TCP_SYN | SYNTH_TCP_ACK)) == (SYNTH_TCP_SYN | SYNTH_TCP_ACK))
            f->synack = 1;
        else if (fwd && f->synack && (tcp_flags & SYNTH_TCP_ACK) && !(tcp_flags & SYNTH_TCP_SYN))
            f->established = 1;
        if (tcp_flags & SYNTH_TCP_FIN) {
            if (fwd)
                f->fin_a = 1;
            else
                f->fin_b = 1;
        }
        if (tcp_flags & SYNTH_TCP_RST)
            f->rst = 1;
        if (!was_closed && (f->rst || (f->fin_a && f->fin_b)))
            f->close_us = ts_us;
    }
}

/* ---------------------------------------------------------------- CSVs */

static int cmp_host(const void *x, const void *y)
{
    const struct thost *a = *(const struct thost *const *)x, *b = *(const struct thost *const *)y;
    return ip_addr_cmp(&a->ip, &b->ip);
}

int synth_truth_finish(struct synth_truth *t, FILE *labels, FILE *hosts, struct synth_stats *st,
                       char *errbuf, size_t errlen)
{
    while (t->lru.first != NIL)
        flow_end(t, t->lru.first);
    if (t->host_overflow) {
        snprintf(errbuf, errlen, "internal error: the truth host table overflowed");
        return -1;
    }
    struct thost **v = malloc((t->hosts_used + 1) * sizeof(*v));
    if (!v) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i <= t->host_mask; i++)
        if (t->hosts[i].used)
            v[n++] = &t->hosts[i];
    qsort(v, n, sizeof(*v), cmp_host);

    int r = 0;
    uint64_t senders = 0, conflicts = 0;
    if (fprintf(labels, "ip,label,attack_type,first_ts,last_ts\n") < 0)
        r = -1;
    if (hosts && fprintf(hosts, "ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,flows_started\n") < 0)
        r = -1;
    for (uint32_t i = 0; i < n; i++) {
        const struct thost *h = v[i];
        char ip[48];
        ip_addr_str(&h->ip, ip, sizeof(ip));
        if (h->sent_any) {
            const char *cls = h->label ? synth_attack_name(h->label - 1) : "";
            senders++;
            conflicts += h->conflict;
            if (fprintf(labels, "%s,%s,%s,%" PRIu64 ".%06" PRIu64 ",%" PRIu64 ".%06" PRIu64 "\n",
                        ip, h->label ? "attack" : "benign", cls ? cls : "", h->first_us / 1000000,
                        h->first_us % 1000000, h->last_us / 1000000, h->last_us % 1000000) < 0)
                r = -1;
        }
        if (hosts &&
            fprintf(hosts, "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", ip,
                    h->pkts_sent, h->bytes_sent, h->pkts_recv, h->bytes_recv, h->flows_started) < 0)
            r = -1;
    }
    free(v);
    if (st) {
        st->flows = t->flows_done;
        st->hosts = senders;
        st->label_conflicts = conflicts;
    }
    if (r < 0 || t->write_error) {
        snprintf(errbuf, errlen, "cannot write the truth files (disk full?)");
        return -1;
    }
    return 0;
}
