/* test_conv.c — analyzer/conv.c: the timing and size maths on known inputs, eviction and
 * idle expiry counted, and the four detectors on hand-made flow records. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conv.h"

#define S_US 1000000ULL
#define T0   (1700000000ULL * S_US)
#define WIN  (60 * S_US)

static struct flow_record recs[4096];

struct findings {
    int n[CONV_KINDS];
    struct conv_finding last[CONV_KINDS];
};

static void on_finding(void *ctx, const struct conv_finding *f)
{
    struct findings *fs = ctx;
    fs->n[f->kind]++;
    fs->last[f->kind] = *f;
}

static struct flow_record rec(const char *src, const char *dst, uint16_t port, uint8_t proto,
                              uint64_t start_us, double dur_s, uint64_t out, uint64_t in)
{
    struct flow_record r;
    memset(&r, 0, sizeof(r));
    CHECK_EQ(ip_addr_parse(src, &r.init), 0);
    CHECK_EQ(ip_addr_parse(dst, &r.resp), 0);
    r.resp_port = port;
    r.proto = proto;
    r.flags = FLOW_REC_FIRST | FLOW_REC_END | (proto == 6 ? FLOW_REC_SYN | FLOW_REC_SYNACK : 0);
    r.pkts[0] = 5;
    r.pkts[1] = in ? 5 : 0;
    r.bytes[0] = out;
    r.bytes[1] = in;
    r.first_us = start_us;
    r.last_us = start_us + (uint64_t)(dur_s * S_US);
    return r;
}

/* Feeds records (sorted by start) through consecutive 60 s windows from T0. */
static void feed(conv_t *c, const struct flow_record *rs, int n, uint64_t *seq, struct findings *fs)
{
    int i = 0;
    uint64_t start = T0 + *seq * WIN;
    while (i < n) {
        struct window w;
        memset(&w, 0, sizeof(w));
        w.start_us = start;
        w.end_us = start + WIN;
        w.seq = (*seq)++;
        w.flows = recs + 2048; /* scratch beside the input */
        while (i < n && rs[i].first_us < w.end_us)
            w.flows[w.n_flows++] = rs[i++];
        w.cap_flows = w.n_flows;
        conv_window(c, &w, on_finding, fs);
        start += WIN;
    }
}

TEST(timing_regular)
{
    double s[] = {40, 0, 10, 30, 20}; /* any order */
    struct conv_timing t;
    CHECK_EQ(conv_timing(s, 5, &t), 0);
    CHECK_NEAR(t.median, 10, 1e-12);
    CHECK_NEAR(t.bowley, 0, 1e-12);
    CHECK_NEAR(t.mad, 0, 1e-12);
    CHECK_NEAR(t.score, 1, 1e-12);
    CHECK_EQ(conv_timing(s, 2, &t), -1);
    /* Millisecond noise on a metronome: a tiny interquartile range says nothing about
     * skew, so Bowley is taken as 0 (not whatever the noise makes it). */
    double m[] = {0, 10.001, 20.0, 30.002, 40.0, 50.001, 60.003};
    CHECK_EQ(conv_timing(m, 7, &t), 0);
    CHECK_NEAR(t.bowley, 0, 1e-12);
    CHECK_GE(t.score, 0.99);
}

TEST(timing_known)
{
    /* Intervals 1,2,3,4,5: quartiles 2,3,4, Bowley 0, MAD 1, count 6 / (15/3 + 1). */
    double a[] = {0, 1, 3, 6, 10, 15};
    struct conv_timing t;
    CHECK_EQ(conv_timing(a, 6, &t), 0);
    CHECK_NEAR(t.q1, 2, 1e-12);
    CHECK_NEAR(t.median, 3, 1e-12);
    CHECK_NEAR(t.q3, 4, 1e-12);
    CHECK_NEAR(t.bowley, 0, 1e-12);
    CHECK_NEAR(t.mad, 1, 1e-12);
    CHECK_NEAR(t.mad_score, 2.0 / 3, 1e-12);
    CHECK_NEAR(t.count_score, 1, 1e-12);
    CHECK_NEAR(t.score, (1 + 2.0 / 3 + 1) / 3, 1e-12);
    /* Intervals 1,2,3,9,10: quartiles 2,3,9: Bowley (9 + 2 - 6) / 7; MAD median(2,1,0,6,7) */
    double b[] = {0, 1, 3, 6, 15, 25};
    CHECK_EQ(conv_timing(b, 6, &t), 0);
    CHECK_NEAR(t.bowley, 5.0 / 7, 1e-12);
    CHECK_NEAR(t.skew_score, 2.0 / 7, 1e-12);
    CHECK_NEAR(t.mad, 2, 1e-12);
    CHECK_NEAR(t.count_score, 6 / (25.0 / 3 + 1), 1e-12);
}

TEST(spread_known)
{
    double same[] = {100, 100, 100, 100};
    CHECK_NEAR(conv_spread(same, 4), 0, 1e-12);
    double x[] = {50, 10, 30, 20, 40}; /* median 30, MAD 10, mean 30 */
    CHECK_NEAR(conv_spread(x, 5), 1.0 / 3, 1e-12);
    double zero[] = {0, 0};
    CHECK_NEAR(conv_spread(zero, 2), 0, 1e-12);
}

TEST(eviction_counted)
{
    char err[TAPIR_ERRBUF_SIZE];
    CHECK(conv_create(8, 3600 * S_US, 1, err) == NULL); /* below the minimum */
    conv_t *c = conv_create(16, 3600 * S_US, 1, err);
    CHECK(c != NULL);
    struct flow_record in[60];
    int n = 0;
    char dst[32];
    /* One conversation with 10 connections, then 40 one-connection ones. */
    for (int i = 0; i < 10; i++)
        in[n++] = rec("10.0.0.1", "10.9.9.9", 443, 6, T0 + (uint64_t)i * S_US, 1, 500, 500);
    for (int i = 0; i < 40; i++) {
        snprintf(dst, sizeof(dst), "10.1.%d.%d", i / 200, i % 200 + 1);
        in[n++] = rec("10.0.0.2", dst, 80, 6, T0 + 20 * S_US + (uint64_t)i * S_US, 1, 500, 500);
    }
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    struct conv_stats st;
    conv_get_stats(c, &st);
    CHECK_EQ(st.active, 16);
    CHECK_EQ(st.created, 41);
    CHECK_EQ(st.evicted, 25);
    CHECK_EQ(st.records, 50);
    /* The busy one survived: ten more of its connections make no new entry. */
    for (int i = 0; i < 10; i++)
        in[i] =
            rec("10.0.0.1", "10.9.9.9", 443, 6, T0 + seq * WIN + (uint64_t)i * S_US, 1, 500, 500);
    feed(c, in, 10, &seq, &fs);
    conv_get_stats(c, &st);
    CHECK_EQ(st.created, 41);
    conv_destroy(c);
    conv_destroy(NULL);
}

TEST(unanswered_makes_no_entry)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(16, 3600 * S_US, 1, err);
    CHECK(c != NULL);
    struct flow_record in[2];
    in[0] = rec("10.0.0.1", "10.9.9.9", 80, 6, T0 + S_US, 0, 60, 0); /* a SYN, no answer */
    in[0].flags &= (uint8_t)~FLOW_REC_SYNACK;
    in[1] = rec("10.0.0.1", "10.9.9.8", 80, 6, T0 + 2 * S_US, 1, 60, 60);
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, 2, &seq, &fs);
    struct conv_stats st;
    conv_get_stats(c, &st);
    CHECK_EQ(st.active, 1);
    CHECK_EQ(st.unanswered, 1);
    conv_destroy(c);
}

/* A spoofed SYN flood answered with SYN-ACKs (and a closed-port scan answered with
 * RSTs) never sends a second packet: no entry. A TCP flow picked up without its SYN
 * (keepalives of a long-lived connection after the idle timeout) adds bytes, not
 * connections, so 40 keepalives every 130 s are no beacon. */
TEST(handshake_and_midstream)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(64, 7200 * S_US, 3, err);
    CHECK(c != NULL);
    struct flow_record in[64];
    int n = 0;
    in[n] = rec("198.51.100.9", "10.0.0.80", 443, 6, T0 + S_US, 3, 60, 180);
    in[n++].pkts[0] = 1; /* the SYN only; the victim sent 3 SYN-ACKs */
    for (int i = 0; i < 40; i++) {
        in[n] = rec("10.0.0.5", "10.0.0.143", 993, 6, T0 + 2 * S_US + (uint64_t)i * 130 * S_US, 0.1,
                    100, 100);
        in[n++].flags &= (uint8_t) ~(FLOW_REC_SYN | FLOW_REC_SYNACK);
    }
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    struct conv_stats st;
    conv_get_stats(c, &st);
    CHECK_EQ(st.unanswered, 1);
    CHECK_EQ(fs.n[CONV_BEACON], 0);
    conv_destroy(c);
}

TEST(ttl_expiry)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(64, 3600 * S_US, 1, err);
    CHECK(c != NULL);
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    uint64_t seq = 0;
    struct flow_record r = rec("10.0.0.1", "10.9.9.9", 443, 6, T0 + S_US, 1, 500, 500);
    feed(c, &r, 1, &seq, &fs);
    seq += 58; /* quiet windows: at the next one's end, not yet an hour idle */
    r = rec("10.0.0.3", "10.9.9.9", 443, 6, T0 + seq * WIN + S_US, 1, 500, 500);
    feed(c, &r, 1, &seq, &fs);
    struct conv_stats st;
    conv_get_stats(c, &st);
    CHECK_EQ(st.expired, 0);
    CHECK_EQ(st.active, 2);
    seq += 2; /* now the first is over an hour idle */
    r = rec("10.0.0.4", "10.9.9.9", 443, 6, T0 + seq * WIN + S_US, 1, 500, 500);
    feed(c, &r, 1, &seq, &fs);
    conv_get_stats(c, &st);
    CHECK_EQ(st.expired, 1);
    CHECK_EQ(st.active, 2);
    conv_set_ttl(c, 60 * S_US); /* settable: everything idle a minute goes */
    seq += 3;
    r = rec("10.0.0.5", "10.9.9.9", 443, 6, T0 + seq * WIN + S_US, 1, 500, 500);
    feed(c, &r, 1, &seq, &fs);
    conv_get_stats(c, &st);
    CHECK_EQ(st.expired, 3);
    CHECK_EQ(st.active, 1);
    conv_destroy(c);
}

TEST(detectors)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(1024, 7200 * S_US, 7, err);
    CHECK(c != NULL);
    struct flow_record in[400];
    int n = 0;
    /* A beacon every 15 s (+-1 s) for 8 minutes; NTP every 64 s for 20 minutes; 20 short
     * SSH sessions 5 s apart; a download, then an 8 MiB upload. Sorted by start below. */
    uint32_t lcg = 12345;
    for (int i = 0; i < 32; i++) {
        lcg = lcg * 1103515245u + 12345u;
        uint64_t jitter = (lcg >> 8) % 2000000; /* 0 .. 2 s */
        in[n++] = rec("10.0.0.5", "198.51.100.7", 8080, 6,
                      T0 + 30 * S_US + (uint64_t)i * 15 * S_US + jitter, 0.2, 400, 300);
    }
    for (int i = 0; i < 19; i++)
        in[n++] =
            rec("10.0.0.9", "192.0.2.123", 123, 17, T0 + (uint64_t)i * 64 * S_US, 0.02, 76, 76);
    for (int i = 0; i < 20; i++)
        in[n++] = rec("203.0.113.50", "10.0.0.22", 22, 6, T0 + 200 * S_US + (uint64_t)i * 5 * S_US,
                      2.5, 2000 + (i % 4) * 30, 2600);
    in[n++] = rec("10.0.0.7", "10.0.0.200", 445, 6, T0 + 100 * S_US, 20, 200000, 30000000);
    in[n++] = rec("10.0.0.7", "10.0.0.201", 9000, 6, T0 + 900 * S_US, 50, 8u << 20, 10000);
    for (int i = 1; i < n; i++) /* insertion sort by start */
        for (int j = i; j > 0 && in[j].first_us < in[j - 1].first_us; j--) {
            struct flow_record t = in[j];
            in[j] = in[j - 1];
            in[j - 1] = t;
        }
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    CHECK_EQ(fs.n[CONV_BEACON], 1);
    CHECK_EQ(fs.last[CONV_BEACON].port, 8080);
    CHECK_NEAR(fs.last[CONV_BEACON].interval_s, 15, 1.0);
    CHECK_GE(fs.last[CONV_BEACON].regularity, 0.8);
    CHECK_EQ(fs.n[CONV_BRUTEFORCE], 1);
    CHECK_EQ(fs.last[CONV_BRUTEFORCE].port, 22);
    CHECK_GE(fs.last[CONV_BRUTEFORCE].recent, 10);
    CHECK_EQ(fs.n[CONV_EXFIL], 1);
    CHECK_EQ(fs.last[CONV_EXFIL].port, 9000);
    CHECK_NEAR(fs.last[CONV_EXFIL].limit, 1024 * 1024, 1);
    conv_destroy(c);
}

/* One long ICMP echo flow from src to dst over `windows` windows, one record per window
 * (the sensor's per-window delta), pkts packets each way of size[k % 2] bytes. */
static void icmp_flow(conv_t *c, const char *src, const char *dst, int windows, uint32_t pkts,
                      const uint64_t size[2], uint64_t *seq, struct findings *fs)
{
    for (int k = 0; k < windows; k++) {
        struct flow_record r;
        memset(&r, 0, sizeof(r));
        CHECK_EQ(ip_addr_parse(src, &r.init), 0);
        CHECK_EQ(ip_addr_parse(dst, &r.resp), 0);
        r.proto = 1;
        r.flags = (k == 0 ? FLOW_REC_FIRST : 0) | (k == windows - 1 ? FLOW_REC_END : 0);
        r.pkts[0] = r.pkts[1] = pkts;
        r.bytes[0] = r.bytes[1] = pkts * size[k % 2];
        r.first_us = T0;
        r.last_us = T0 + (uint64_t)k * WIN + 59 * S_US;
        struct window w;
        memset(&w, 0, sizeof(w));
        w.start_us = T0 + (uint64_t)k * WIN;
        w.end_us = w.start_us + WIN;
        w.seq = (*seq)++;
        w.flows = &r;
        w.n_flows = w.cap_flows = 1;
        conv_window(c, &w, on_finding, fs);
    }
}

TEST(icmp_tunnel)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(1024, 7200 * S_US, 7, err);
    CHECK(c != NULL);
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    /* A monitoring ping (84 B) and an MTU probe (1400 B, one size) for 10 minutes: no. */
    const uint64_t ping[2] = {84, 84}, mtu[2] = {1400, 1400}, data[2] = {140, 420};
    icmp_flow(c, "10.0.0.3", "10.0.0.1", 10, 60, ping, &seq, &fs);
    icmp_flow(c, "10.0.0.4", "10.0.0.1", 10, 60, mtu, &seq, &fs);
    CHECK_EQ(fs.n[CONV_TUNNEL], 0);
    /* Too short (4 windows): no; then data of changing sizes for 10 minutes: once. */
    icmp_flow(c, "10.0.0.5", "192.0.2.9", 4, 60, data, &seq, &fs);
    CHECK_EQ(fs.n[CONV_TUNNEL], 0);
    icmp_flow(c, "10.0.0.6", "192.0.2.9", 10, 60, data, &seq, &fs);
    CHECK_EQ(fs.n[CONV_TUNNEL], 1);
    CHECK_NEAR(fs.last[CONV_TUNNEL].pkt_size, 280, 1);
    CHECK_NEAR(fs.last[CONV_TUNNEL].size_ratio, 3, 0.01);
    conv_destroy(c);
}

/* n connections from src to dst:port every step_s from t0, sorted; returns n. */
static int series(struct flow_record *out, const char *src, const char *dst, uint16_t port,
                  uint64_t t0, int n, double step_s)
{
    for (int i = 0; i < n; i++)
        out[i] = rec(src, dst, port, 6, t0 + (uint64_t)(i * step_s * S_US), 0.2, 400, 300);
    return n;
}

TEST(learned_set)
{
    char err[TAPIR_ERRBUF_SIZE];
    conv_t *c = conv_create(1024, 7200 * S_US, 7, err);
    CHECK(c != NULL);
    CHECK_EQ(conv_set_learning(c, true), 0);
    /* Training: a poller every 60 s for 20 minutes, then an 8 MiB backup upload. */
    struct flow_record in[400];
    int n = series(in, "10.0.0.5", "10.0.0.10", 80, T0, 20, 60);
    in[n++] = rec("10.0.0.7", "10.0.0.201", 9000, 6, T0 + 1230 * S_US, 50, 8u << 20, 10000);
    uint64_t seq = 0;
    struct findings fs;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    feed(c, in, 0, &seq, &fs);
    CHECK_EQ(fs.n[CONV_BEACON] + fs.n[CONV_EXFIL], 0); /* learning: nothing reported */
    struct model_conv mc;
    CHECK_EQ(conv_learned_export(c, &mc), 0);
    CHECK_EQ(mc.present, 1);
    CHECK_EQ(mc.n_known, 3); /* the poll, its service, the bulk upload */
    CHECK_EQ(mc.up_net[0], (8u << 20) - 10000);
    conv_destroy(c);

    /* A run with that model (another seed): the same habits are quiet. */
    c = conv_create(1024, 7200 * S_US, 99, err);
    CHECK(c != NULL);
    CHECK_EQ(conv_learned_import(c, &mc), 0);
    n = series(in, "10.0.0.5", "10.0.0.10", 80, T0, 20, 60);
    in[n++] = rec("10.0.0.7", "10.0.0.201", 9000, 6, T0 + 1230 * S_US, 50, 9u << 20, 10000);
    seq = 0;
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    feed(c, in, 0, &seq, &fs);
    CHECK_EQ(fs.n[CONV_BEACON], 0);
    CHECK_EQ(fs.n[CONV_EXFIL], 0);
    struct conv_stats st;
    conv_get_stats(c, &st);
    CHECK_GE(st.known_quiet, 1);
    /* Six times faster and 4.5x the upload: both alerted. */
    uint64_t t1 = T0 + seq * WIN;
    n = series(in, "10.0.0.5", "10.0.0.10", 80, t1, 40, 10);
    in[n++] = rec("10.0.0.7", "10.0.0.201", 9000, 6, t1 + 1 * S_US, 50, 36u << 20, 10000);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && in[j].first_us < in[j - 1].first_us; j--) {
            struct flow_record t = in[j];
            in[j] = in[j - 1];
            in[j - 1] = t;
        }
    memset(&fs, 0, sizeof(fs));
    feed(c, in, n, &seq, &fs);
    CHECK_EQ(fs.n[CONV_BEACON], 1);
    CHECK_NEAR(fs.last[CONV_BEACON].interval_s, 10, 1.0);
    CHECK_EQ(fs.n[CONV_EXFIL], 1);
    CHECK_NEAR(fs.last[CONV_EXFIL].limit, 4.0 * ((8u << 20) - 10000), 1);
    free(mc.known);
    free(mc.hosts);
    conv_destroy(c);
}

/* Naming an alert: the busiest TCP conversation of one window checks in like a beacon
 * (slips_test-cc: every ~3 s among DNS), a brute force or an irregular client does not. */
TEST(window_beacon_names)
{
    struct flow_record r[64];
    struct window w;
    memset(&w, 0, sizeof(w));
    w.flows = r;
    int n = 0;
    const double gaps[] = {3.1, 3.8, 3.5, 2.45, 3.1, 2.9, 3.5, 2.3, 3.7, 3.0, 2.7, 3.0, 2.3, 2.7};
    double t = 0;
    for (int i = 0; i <= 14; i++) {
        r[n++] = rec("147.32.80.37", "141.193.213.20", 443, 6, T0 + (uint64_t)(t * S_US), 0.2,
                     1577 + 20 * (i % 3), 6583 + 30 * (i % 4));
        r[n++] = rec("147.32.80.37", "147.32.80.9", 53, 17, T0 + (uint64_t)(t * S_US) + 1000, 0, 70,
                     120); /* its lookups: UDP, not the conversation */
        if (i < 14)
            t += gaps[i];
    }
    w.n_flows = (uint32_t)n;
    struct ip_addr src, other;
    CHECK_EQ(ip_addr_parse("147.32.80.37", &src), 0);
    CHECK_EQ(ip_addr_parse("147.32.80.38", &other), 0);
    struct conv_timing tm;
    CHECK(conv_window_beacon(&w, NULL, &src, &tm));
    CHECK(tm.median > 2.9 && tm.median < 3.2);
    CHECK(!conv_window_beacon(&w, NULL, &other, NULL));
    CHECK(!conv_window_beacon(NULL, NULL, &src, NULL));
    /* Five check-ins: too few to name. */
    w.n_flows = 10;
    CHECK(!conv_window_beacon(&w, NULL, &src, NULL));
    w.n_flows = (uint32_t)n;
    /* The same rhythm to SSH is a brute force's, never a beacon's. */
    for (int i = 0; i < n; i += 2)
        r[i].resp_port = 22;
    CHECK(!conv_window_beacon(&w, NULL, &src, NULL));
    /* Sizes all over the place: a client, not a check-in. */
    for (int i = 0; i < n; i += 2) {
        r[i].resp_port = 443;
        r[i].bytes[1] = (uint64_t)(1000 + 4000 * (i % 5));
    }
    CHECK(!conv_window_beacon(&w, NULL, &src, NULL));
    /* Faster than one every 2 s: a burst. */
    for (int i = 0; i < n; i += 2) {
        r[i].bytes[1] = 6583;
        r[i].first_us = T0 + (uint64_t)(i / 2) * 500000;
    }
    CHECK(!conv_window_beacon(&w, NULL, &src, NULL));
}

int main(void)
{
    RUN(window_beacon_names);
    RUN(timing_regular);
    RUN(timing_known);
    RUN(spread_known);
    RUN(eviction_counted);
    RUN(unanswered_makes_no_entry);
    RUN(handshake_and_midstream);
    RUN(ttl_expiry);
    RUN(detectors);
    RUN(icmp_tunnel);
    RUN(learned_set);
    return CHECK_DONE();
}
