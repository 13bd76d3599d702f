/*
 * synth_engine.c — the session engine: the session pool, the event heap that is the
 * generator's clock, and the one place packets leave (pcap and truth together).
 *
 * Every conversation in flight (a TCP connection, a DNS lookup, a ping, a scan, a flood,
 * a host deciding what to do next) is a small state machine in a fixed session pool, and
 * a binary heap keyed by (next packet time, creation order) picks the next one to emit a
 * packet. Output is therefore in time order by construction, and memory is bounded by the
 * number of concurrent sessions — a constant for a given --hosts — whatever --packets asks
 * for: ten million packets stream to disk in flat memory. The creation order breaks ties,
 * so equal times step in a fixed order and the output is deterministic.
 * (Rejected: generating each conversation whole and sorting packets at the end; memory
 * grows with the capture.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth_engine.h"

/* ---------------------------------------------------------------- pool */

int synth_engine_open(struct gen *g, char *errbuf, size_t errlen)
{
    g->pool = calloc(g->cap, sizeof(*g->pool));
    g->free_list = calloc(g->cap, sizeof(*g->free_list));
    g->heap = calloc(g->cap, sizeof(*g->heap));
    if (!g->pool || !g->free_list || !g->heap) {
        snprintf(errbuf, errlen, "out of memory for %u sessions", g->cap);
        return -1;
    }
    for (uint32_t i = 0; i < g->cap; i++)
        g->free_list[i] = g->cap - 1 - i;
    g->n_free = g->cap;
    return 0;
}

void synth_engine_close(struct gen *g)
{
    free(g->pool);
    free(g->free_list);
    free(g->heap);
}

/* ---------------------------------------------------------------- heap and pool */

static bool hless(const struct hent *a, const struct hent *b)
{
    return a->t < b->t || (a->t == b->t && a->order < b->order);
}

void synth_engine_push(struct gen *g, uint32_t s, uint64_t t)
{
    uint32_t i = g->n_heap++;
    struct hent e = {t, g->order++, s};
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!hless(&e, &g->heap[p]))
            break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = e;
}

struct hent synth_engine_pop(struct gen *g)
{
    struct hent top = g->heap[0], last = g->heap[--g->n_heap];
    uint32_t i = 0, n = g->n_heap;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hless(&g->heap[c + 1], &g->heap[c]))
            c++;
        if (!hless(&g->heap[c], &last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n)
        g->heap[i] = last;
    return top;
}

struct sess *synth_engine_start(struct gen *g, enum kind k, uint64_t t, int32_t owner)
{
    if (!g->n_free) {
        g->dropped++;
        return NULL;
    }
    uint32_t idx = g->free_list[--g->n_free];
    struct sess *s = &g->pool[idx];
    memset(s, 0, sizeof(*s));
    s->kind = (uint8_t)k;
    synth_rng_seed(&s->rng, synth_rng_next(&g->rng));
    s->salt = synth_rng_next(&s->rng);
    s->t0 = t;
    s->owner = owner;
    s->ipid_c = (uint16_t)synth_rng_next(&s->rng);
    s->ipid_s = (uint16_t)synth_rng_next(&s->rng);
    s->flow_label = (uint32_t)synth_rng_next(&s->rng) & 0xfffff;
    if (owner >= 0)
        g->pop.cli[owner].active++;
    synth_engine_push(g, idx, t);
    return s;
}

void synth_engine_end(struct gen *g, struct sess *s)
{
    if (s->owner >= 0)
        g->pop.cli[s->owner].active--;
    g->free_list[g->n_free++] = (uint32_t)(s - g->pool);
}

/* ---------------------------------------------------------------- emitting */

void synth_engine_emit(struct gen *g, uint64_t t, struct synth_hdr *h, const uint8_t *pl,
                       size_t plen, int label)
{
    size_t ip_len;
    size_t n = synth_frame(g->frame, sizeof(g->frame), h, pl, plen, &ip_len);
    if (!n) {
        g->failed = true; /* a builder bug: a frame that does not fit */
        g->stop = true;
        return;
    }
    struct pcap_pkthdr ph;
    ph.ts.tv_sec = (time_t)(t / SYNTH_US);
    ph.ts.tv_usec = (suseconds_t)(t % SYNTH_US);
    ph.caplen = ph.len = (bpf_u_int32)n;
    pcap_dump((u_char *)g->dump, &ph, g->frame);
    synth_truth_packet(g->truth, t, h->src, h->dst, h->sport, h->dport, h->proto, h->flags,
                       (uint32_t)ip_len, label);
    g->packets++;
    g->ip_bytes += ip_len;
    if (g->o.max_packets && g->packets >= g->o.max_packets)
        g->stop = true;
}

void synth_engine_hdr(struct sess *s, int dir, uint8_t proto, struct synth_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->proto = proto;
    h->flow_label = s->flow_label;
    const bool from_client = dir == 0;
    h->src = from_client ? &s->c : &s->s;
    h->dst = from_client ? &s->s : &s->c;
    h->sport = from_client ? s->cport : s->sport;
    h->dport = from_client ? s->sport : s->cport;
    h->ttl = from_client ? s->ttl_c : s->ttl_s;
    h->ip_id = from_client ? s->ipid_c++ : s->ipid_s++;
}

void synth_engine_udp(struct gen *g, struct sess *s, uint64_t t, int dir, const uint8_t *pl,
                      size_t plen)
{
    struct synth_hdr h;
    synth_engine_hdr(s, dir, 17, &h);
    synth_engine_emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}

void synth_engine_icmp(struct gen *g, struct sess *s, uint64_t t, int dir, enum icmp_msg m,
                       uint32_t rest, const uint8_t *pl, size_t plen)
{
    static const uint8_t types[3][3] = {{8, 0, 128}, {0, 0, 129}, {3, 3, 1}};
    static const uint8_t code6[3] = {0, 0, 4};
    struct synth_hdr h;
    bool v4 = ip_addr_is_v4(&s->c);
    synth_engine_hdr(s, dir, v4 ? 1 : 58, &h);
    h.icmp_type = v4 ? types[m][0] : types[m][2];
    h.icmp_code = v4 ? types[m][1] : code6[m];
    h.icmp_rest = rest;
    synth_engine_emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}
