/* Unit tests: flow table (both directions, timeouts, eviction, churn), host table
 * (epoch reset, capacity), window queue (drop oldest, wait). */
#include <stdlib.h>

#include "check.h"
#include "flow_table.h"
#include "host_table.h"
#include "wqueue.h"

struct ended {
    int n;
    int reasons[4];
    uint32_t last_pkts;
};

static void on_end(void *ctx, struct flow *f, enum flow_end_reason why)
{
    struct ended *e = ctx;
    e->n++;
    e->reasons[why]++;
    e->last_pkts = f->pkts[0] + f->pkts[1];
}

static void pkt(struct pkt_info *p, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
                uint8_t proto, uint64_t ts)
{
    memset(p, 0, sizeof(*p));
    uint8_t a[4] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src};
    uint8_t b[4] = {(uint8_t)(dst >> 24), (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst};
    ip_addr_from_v4(&p->src, a);
    ip_addr_from_v4(&p->dst, b);
    p->sport = sp;
    p->dport = dp;
    p->proto = proto;
    p->ts_us = ts;
}

TEST(flow_both_directions)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct ended e = {0};
    flow_table_t *ft = flow_table_create(64, 1, on_end, &e, err);
    CHECK(ft != NULL);
    struct pkt_info p;
    int dir, created;
    pkt(&p, 0x0a000001, 1000, 0x08080808, 53, 17, 1000000);
    struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
    CHECK(f && created && dir == 0);
    f->pkts[dir]++;
    flow_table_touch(ft, f, p.ts_us);
    pkt(&p, 0x08080808, 53, 0x0a000001, 1000, 17, 1100000);
    struct flow *g = flow_table_lookup(ft, &p, &dir, &created);
    CHECK(g == f && !created && dir == 1);
    /* Same ports, other protocol: another flow. */
    pkt(&p, 0x0a000001, 1000, 0x08080808, 53, 6, 1100000);
    g = flow_table_lookup(ft, &p, &dir, &created);
    CHECK(g != f && created);
    flow_table_touch(ft, g, p.ts_us);
    struct flow_table_stats st;
    flow_table_stats(ft, &st);
    CHECK_EQ(st.active, 2);
    /* UDP idles out after 60 s; TCP (no answer) after 30 s. */
    CHECK_EQ(flow_table_expire(ft, 1100000 + 29000000, 100), 0);
    CHECK_EQ(flow_table_expire(ft, 1100000 + 31000000, 100), 1);
    CHECK_EQ(flow_table_expire(ft, 1100000 + 61000000, 100), 1);
    CHECK_EQ(e.reasons[FLOW_END_IDLE], 2);
    flow_table_destroy(ft);
}

TEST(flow_eviction_and_churn)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct ended e = {0};
    flow_table_t *ft = flow_table_create(1000, 7, on_end, &e, err);
    struct pkt_info p;
    int dir, created;
    /* 100,000 distinct flows through 1,000 records: every one is tracked, the oldest
     * evicted, the index never loses a live flow (backward-shift deletion). */
    for (uint32_t i = 0; i < 100000; i++) {
        pkt(&p, 0x0a000000 + i, (uint16_t)(i * 7), 0x08080808, 80, 6, 1000000 + i);
        struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
        CHECK(f != NULL);
        if (!f)
            break;
        CHECK(created);
        flow_table_touch(ft, f, p.ts_us);
        if (i >= 10) { /* the flow 10 back is still there */
            pkt(&p, 0x0a000000 + i - 10, (uint16_t)((i - 10) * 7), 0x08080808, 80, 6, 1000000 + i);
            f = flow_table_lookup(ft, &p, &dir, &created);
            CHECK(f && !created);
        }
    }
    struct flow_table_stats st;
    flow_table_stats(ft, &st);
    CHECK_EQ(st.active, 1000);
    CHECK_EQ(st.evicted, 99000);
    CHECK_EQ(st.untracked, 0);
    flow_table_flush(ft);
    flow_table_stats(ft, &st);
    CHECK_EQ(st.active, 0);
    CHECK_EQ(e.n, 100000);
    flow_table_destroy(ft);
}

TEST(tcp_close_lingers)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct ended e = {0};
    flow_table_t *ft = flow_table_create(64, 3, on_end, &e, err);
    struct pkt_info p;
    int dir, created;
    pkt(&p, 0x0a000001, 40000, 0x08080808, 443, 6, 5000000);
    struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
    f->state |= FLOW_F_SYN | FLOW_F_SYNACK | FLOW_F_FIN_A | FLOW_F_FIN_B;
    flow_table_touch(ft, f, p.ts_us);
    CHECK_EQ(f->tclass, FLOW_CLASS_CLOSING);
    CHECK_EQ(flow_table_expire(ft, 5000000 + 9000000, 10), 0);
    CHECK_EQ(flow_table_expire(ft, 5000000 + 11000000, 10), 1);
    CHECK_EQ(e.reasons[FLOW_END_CLOSED], 1);
    flow_table_destroy(ft);
}

TEST(flow_index_grows_and_shrinks)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct ended e = {0};
    flow_table_t *ft = flow_table_create(100000, 11, on_end, &e, err);
    struct pkt_info p;
    int dir, created;
    struct flow_table_stats st;
    flow_table_stats(ft, &st);
    CHECK_EQ(st.index_slots, 4096); /* starts small */
    /* 20,000 live flows: the index doubles as they come, every one stays findable from
     * both directions through each rebuild. */
    for (uint32_t i = 0; i < 20000; i++) {
        pkt(&p, 0x0a000000 + i, 1024, 0x08080808, 53, 17, 1000000);
        struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
        CHECK(f && created);
        if (f)
            flow_table_touch(ft, f, p.ts_us);
    }
    flow_table_stats(ft, &st);
    CHECK(st.index_slots >= 40000 && st.index_slots <= 65536);
    CHECK(st.index_resizes >= 3);
    for (uint32_t i = 0; i < 20000; i++) {
        pkt(&p, 0x08080808, 53, 0x0a000000 + i, 1024, 17, 2000000);
        struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
        CHECK(f && !created && dir == 1);
        if (!f || created)
            break;
        if (i < 100)
            flow_table_touch(ft, f, 50000000); /* these 100 stay active */
    }
    /* All but those 100 idle out; compacting goes back to the smallest index. */
    CHECK_EQ(flow_table_expire(ft, 63000000, UINT32_MAX), 19900);
    flow_table_compact(ft);
    flow_table_stats(ft, &st);
    CHECK_EQ(st.active, 100);
    CHECK_EQ(st.index_slots, 4096);
    for (uint32_t i = 0; i < 100; i++) {
        pkt(&p, 0x0a000000 + i, 1024, 0x08080808, 53, 17, 60000000);
        struct flow *f = flow_table_lookup(ft, &p, &dir, &created);
        CHECK(f && !created && dir == 0);
    }
    CHECK_EQ(st.untracked, 0);
    flow_table_destroy(ft);
}

TEST(host_index_grows_within_a_window)
{
    char err[TAPIR_ERRBUF_SIZE];
    enum { N = 5000 };
    host_table_t *ht = host_table_create(8192, 5, err);
    struct window w = {0};
    w.hosts = calloc(8192, sizeof(*w.hosts));
    w.cap_hosts = 8192;
    for (int round = 0; round < 3; round++) {
        host_table_attach(ht, &w);
        uint32_t n = round == 1 ? 3 : N; /* a quiet window between two busy ones */
        struct ip_addr ip;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
            ip_addr_from_v4(&ip, a);
            struct host_window *h = host_table_get(ht, &ip);
            CHECK(h == &w.hosts[i]);
            if (h)
                h->pkts_sent = i + 1;
        }
        CHECK_EQ(w.n_hosts, n);
        for (uint32_t i = 0; i < n; i++) { /* found again after the re-indexing */
            uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
            ip_addr_from_v4(&ip, a);
            struct host_window *h = host_table_get(ht, &ip);
            CHECK(h == &w.hosts[i] && h->pkts_sent == i + 1);
            if (check_failed_)
                break;
        }
        CHECK_EQ(w.n_hosts, n);
    }
    free(w.hosts);
    host_table_destroy(ht);
}

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct ip_addr ip;
    uint8_t x[4] = {a, b, c, d};
    ip_addr_from_v4(&ip, x);
    return ip;
}

TEST(host_admission_when_full)
{
    char err[TAPIR_ERRBUF_SIZE];
    host_table_t *ht = host_table_create(16, 5, err);
    struct window w = {0};
    w.hosts = calloc(16, sizeof(*w.hosts));
    w.cap_hosts = 16;
    host_table_attach(ht, &w);
    /* 16 heavy IPs: nothing may be given away. */
    for (uint8_t i = 0; i < 16; i++) {
        struct ip_addr ip = v4(10, 0, 0, i);
        struct host_window *h = host_table_get(ht, &ip);
        h->pkts_sent = 100;
    }
    struct ip_addr late = v4(203, 0, 113, 66);
    for (int k = 0; k < 200; k++)
        CHECK(host_table_admit_h(ht, &late, tapir_ip_hash(&late, 5), NULL) == NULL);
    CHECK_EQ(host_table_replaced(ht), 0);
    /* Next window: 16 light IPs, one kept. The late IP is refused until enough of its
     * refusals were counted (one in 4 is, 3 needed), then takes a light record other than
     * the kept one, with its generation bumped; the old owner is gone from the index. */
    host_table_attach(ht, &w);
    for (uint8_t i = 0; i < 16; i++) {
        struct ip_addr ip = v4(10, 0, 0, i);
        struct host_window *h = host_table_get(ht, &ip);
        h->pkts_sent = 1;
    }
    const struct host_window *keep = &w.hosts[1];
    struct host_window *got = NULL;
    int tries = 0;
    while (!got && tries < 200) {
        got = host_table_admit_h(ht, &late, tapir_ip_hash(&late, 5), keep);
        tries++;
    }
    CHECK(tries >= 3 && tries < 200);
    CHECK(got != NULL && got != keep);
    if (!got)
        goto out;
    CHECK(!memcmp(got->ip.b, late.b, 16));
    CHECK_EQ(got->pkts_sent, 0);
    CHECK_EQ(got->gen, 1);
    CHECK_EQ(w.n_hosts, 16);
    CHECK_EQ(host_table_replaced(ht), 1);
    CHECK_EQ(w.stats.hosts_replaced, 1);
    CHECK(host_table_get(ht, &late) == got); /* found again */
    int present = 0;
    for (uint8_t i = 0; i < 16; i++) {
        struct ip_addr ip = v4(10, 0, 0, i);
        struct host_window *h = host_table_get_h(ht, &ip, tapir_ip_hash(&ip, 5));
        if (h) {
            present++;
            CHECK(!memcmp(h->ip.b, ip.b, 16));
        }
    }
    CHECK_EQ(present, 15); /* the victim only */
out:
    free(w.hosts);
    host_table_destroy(ht);
}

TEST(host_table_epochs)
{
    char err[TAPIR_ERRBUF_SIZE];
    host_table_t *ht = host_table_create(16, 5, err);
    struct window w = {0};
    w.hosts = calloc(16, sizeof(*w.hosts));
    w.cap_hosts = 16;
    host_table_attach(ht, &w);
    struct ip_addr ip;
    uint8_t a[4] = {10, 0, 0, 0};
    for (int i = 0; i < 16; i++) {
        a[3] = (uint8_t)i;
        ip_addr_from_v4(&ip, a);
        struct host_window *h = host_table_get(ht, &ip);
        CHECK(h != NULL);
        if (h)
            h->pkts_sent++;
    }
    a[3] = 200;
    ip_addr_from_v4(&ip, a);
    CHECK(host_table_get(ht, &ip) == NULL); /* full */
    a[3] = 3;
    ip_addr_from_v4(&ip, a);
    CHECK(host_table_get(ht, &ip) == &w.hosts[3]);
    CHECK_EQ(w.n_hosts, 16);
    host_table_attach(ht, &w); /* next window: empty at once */
    CHECK_EQ(w.n_hosts, 0);
    struct host_window *h = host_table_get(ht, &ip);
    CHECK(h == &w.hosts[0]);
    CHECK_EQ(h->pkts_sent, 0);
    free(w.hosts);
    host_table_destroy(ht);
}

TEST(wqueue_drop_oldest)
{
    char err[TAPIR_ERRBUF_SIZE];
    wqueue_t *q = wqueue_create(2, 16, err);
    CHECK(q != NULL);
    struct window *w = wqueue_get_free(q, false);
    for (int i = 0; i < 6; i++) {
        w->seq = (uint64_t)i;
        wqueue_push(q, w);
        w = wqueue_get_free(q, false); /* never NULL, never waits */
        CHECK(w != NULL);
    }
    /* 4 buffers: one held by us, 3 queued at most; the oldest were dropped. */
    CHECK_EQ(wqueue_dropped(q), 3);
    bool closed;
    struct window *o = wqueue_pop(q, &closed);
    CHECK(o && o->seq == 3);
    wqueue_release(q, o);
    wqueue_close(q);
    int left = 0;
    while ((o = wqueue_pop(q, &closed)) != NULL) {
        left++;
        wqueue_release(q, o);
    }
    CHECK_EQ(left, 2);
    CHECK(closed);
    wqueue_destroy(q);
}

int main(void)
{
    RUN(flow_both_directions);
    RUN(flow_eviction_and_churn);
    RUN(tcp_close_lingers);
    RUN(flow_index_grows_and_shrinks);
    RUN(host_index_grows_within_a_window);
    RUN(host_admission_when_full);
    RUN(host_table_epochs);
    RUN(wqueue_drop_oldest);
    return CHECK_DONE();
}
