/* Unit tests: behaviour vectors from raw window counts, scaling, prefix sums, baselines. */
#include <math.h>
#include <stdlib.h>

#include "baseline.h"
#include "behaviour.h"
#include "check.h"
#include "decode.h"
#include "flowidx.h"

static int idx(enum feature_side side, const char *name)
{
    int n;
    const struct feature_def *d = behaviour_defs(side, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(d[i].name, name))
            return i;
    return -1;
}

TEST(feature_tables_are_sane)
{
    for (int side = 0; side < SIDE_COUNT; side++) {
        int n;
        const struct feature_def *d = behaviour_defs((enum feature_side)side, &n);
        CHECK(n > 5 && n <= BEHAVIOUR_MAX_FEATURES);
        for (int i = 0; i < n; i++) {
            CHECK(d[i].name && d[i].unit && d[i].why && strlen(d[i].name) < 40);
            for (int j = 0; j < i; j++)
                CHECK(strcmp(d[i].name, d[j].name) != 0);
        }
    }
    int dev_n, first = behaviour_source_dev_first(&dev_n);
    int n;
    behaviour_defs(SIDE_SOURCE, &n);
    CHECK_EQ(first + dev_n, behaviour_source_upload_index());
    CHECK_EQ(behaviour_source_upload_index() + 1, behaviour_source_risk_index());
    CHECK_EQ(behaviour_source_risk_index() + 1, n);
    for (int k = 0; k < dev_n; k++)
        CHECK(!strncmp(behaviour_defs(SIDE_SOURCE, &n)[first + k].name, "dev_", 4));
    CHECK_STR(behaviour_defs(SIDE_SOURCE, &n)[behaviour_source_upload_index()].name,
              "upload_public_acc");
}

TEST(upload_accumulates_and_decays)
{
    char err[TAPIR_ERRBUF_SIZE];
    baseline_t *b = baseline_create(64, 0.1, 9, err);
    struct ip_addr ip;
    ip_addr_parse("10.0.1.5", &ip);
    struct baseline_entry *e = baseline_get(b, &ip, 0);
    /* 10 kB every window for 16 windows: a steady trickle adds up to ~12 windows' worth. */
    double acc = 0;
    for (uint64_t w = 0; w < 16; w++)
        acc = baseline_upload(e, w, 10000);
    double steady = 10000 / (1 - exp2(-1.0 / BASELINE_UPLOAD_HALF_LIFE));
    CHECK(acc > 0.7 * steady && acc < steady);
    /* Half-life: after 8 quiet windows (not scored: nothing added), half is left. */
    double later = baseline_upload(e, 15 + BASELINE_UPLOAD_HALF_LIFE, 0);
    CHECK_NEAR(later, acc / 2, 1e-6 * acc);
    /* The same window twice adds twice but does not decay; an older window adds
     * nothing (windows only move forward). */
    double a1 = baseline_upload(e, 30, 100), a2 = baseline_upload(e, 30, 100);
    CHECK_NEAR(a2 - a1, 100, 1e-9);
    CHECK_NEAR(baseline_upload(e, 29, 5000), a2, 1e-9);
    /* Negative input is not an upload. */
    CHECK_NEAR(baseline_upload(e, 30, -50), a2, 1e-9);
    baseline_destroy(b);
}

TEST(source_features)
{
    struct host_window h;
    memset(&h, 0, sizeof(h));
    h.pkts_sent = 100;
    h.bytes_sent = 6000;
    h.resp_bytes = 2000;
    h.flows_started = 10;
    h.tcp_started = 8;
    h.tcp_answered = 2;
    h.tcp_reset = 4;
    h.icmp_pkts_sent = 25;
    h.l7_known = 3;
    h.l7_unknown = 1;
    h.l7_flows[0] = 2, h.l7_proto[0] = 5;
    h.l7_flows[1] = 1, h.l7_proto[1] = 7;
    h.flows_ended = 4;
    h.dur_sum_ms = 8000;
    h.dur_max_ms = 5000;
    h.dns_queries = 2;
    h.dns_qname_sum = 30;
    h.udp_started = 2;
    h.port_hist[0] = 5, h.port_hist[1] = 5; /* two ports, equally: 1 bit */
    /* Flow starts every 10 s exactly: perfectly regular. */
    h.gap_n = 5, h.gap_mean_s = 10, h.gap_m2 = 0;
    double v[BEHAVIOUR_MAX_FEATURES];
    behaviour_source(&h, v);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "tcp_unanswered_share")], 0.75, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "tcp_reset_share")], 0.5, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "icmp_share")], 0.25, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "mean_pkt_size")], 60, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "l7_unknown_share")], 0.25, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "l7_protocols")], 2, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "flow_duration_mean")], 2.0, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "flow_duration_max")], 5.0, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "dst_port_entropy")], 1.0, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "dns_qname_mean")], 15, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "beacon_regularity")], 1.0, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "upload_ratio")], 0.75, 1e-12);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "udp_share")], 0.2, 1e-12);
    /* Jittery starts: regularity falls. */
    h.gap_m2 = 5 * 100.0; /* sd = 10 s = the mean: 1 / (1 + 1) */
    behaviour_source(&h, v);
    CHECK_NEAR(v[idx(SIDE_SOURCE, "beacon_regularity")], 0.5, 1e-12);
    /* An empty host gives zeros, never NaN. */
    memset(&h, 0, sizeof(h));
    behaviour_source(&h, v);
    int n;
    behaviour_defs(SIDE_SOURCE, &n);
    for (int i = 0; i < n; i++)
        CHECK(isfinite(v[i]) && v[i] == 0);
}

TEST(destination_features)
{
    struct host_window h;
    memset(&h, 0, sizeof(h));
    h.pkts_recv = 1000;
    h.bytes_recv = 40000;
    h.flows_in = 500;
    h.syn_in = 500;
    h.synack_out = 50;
    for (uint32_t i = 0; i < 20; i++)
        hll_add(&h.src_ips, tapir_hash(&i, 4, 3));
    double v[BEHAVIOUR_MAX_FEATURES];
    behaviour_destination(&h, v);
    CHECK_NEAR(v[idx(SIDE_DESTINATION, "syn_unanswered_share")], 0.9, 1e-12);
    CHECK_NEAR(v[idx(SIDE_DESTINATION, "mean_pkt_size_in")], 40, 1e-12);
    CHECK_NEAR(v[idx(SIDE_DESTINATION, "src_ips")], 20, 3);
}

TEST(scaling_and_prefix_sum)
{
    double raw[3] = {0, 99, NAN};
    uint8_t sc[3] = {MODEL_SCALE_LOG1P, MODEL_SCALE_LOG1P, MODEL_SCALE_RAW};
    float out[3];
    behaviour_scale(raw, sc, 3, out);
    CHECK_NEAR(out[0], 0, 1e-7);
    CHECK_NEAR(out[1], log(100), 1e-5);
    CHECK_NEAR(out[2], 0, 1e-7); /* not finite: 0, never NaN into the forest */
    struct host_window acc, a, b;
    memset(&acc, 0, sizeof(acc));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.pkts_sent = 3, a.flows_started = 2, a.l7_flows[0] = 1, a.l7_proto[0] = 5;
    b.pkts_sent = 4, b.flows_started = UINT32_MAX, b.l7_flows[0] = 2, b.l7_proto[0] = 5;
    behaviour_prefix_add(&acc, &a);
    behaviour_prefix_add(&acc, &b);
    CHECK_EQ(acc.pkts_sent, 7);
    CHECK_EQ(acc.flows_started, UINT32_MAX); /* saturates, never wraps */
    CHECK_EQ(acc.l7_flows[0], 3);
}

TEST(baseline_deviation_and_persistence)
{
    char err[TAPIR_ERRBUF_SIZE];
    baseline_t *b = baseline_create(64, 0.1, 9, err);
    struct ip_addr ip;
    ip_addr_parse("192.0.2.1", &ip);
    struct baseline_entry *e = baseline_get(b, &ip, 1);
    CHECK_EQ(e->n, 0);
    CHECK_NEAR(baseline_deviation(e, 0, 1e6), 0, 1e-12); /* no history: no opinion */
    for (int i = 0; i < 10; i++) {
        double x = 100;
        baseline_update(b, e, 0, &x, 1);
        e->n++;
    }
    CHECK_NEAR(e->mean[0], 100, 1e-3);
    CHECK(baseline_deviation(e, 0, 100000) > 5);
    CHECK(fabs(baseline_deviation(e, 0, 100)) < 0.1);
    CHECK(baseline_deviation(e, 0, 1e12) <= 8); /* clipped */
    CHECK_EQ(baseline_persist(e, 0, 1, true, 3), 1);
    CHECK_EQ(baseline_persist(e, 0, 2, false, 3), 1);
    CHECK_EQ(baseline_persist(e, 0, 3, true, 3), 2);
    CHECK_EQ(baseline_persist(e, 0, 4, false, 3), 1);
    CHECK(baseline_get(b, &ip, 5) == e);
    baseline_destroy(b);
}

/* What retraining may learn (baseline_learnable): nothing within 16 windows of another
 * detector's alert; a side over threshold only once accepted (60 windows over on end,
 * forest alone), and then until 16 windows in a row are under, hovering included. */
TEST(learnable_new_normal_and_taint)
{
    char err[TAPIR_ERRBUF_SIZE];
    baseline_t *b = baseline_create(64, 0.1, 1, err);
    CHECK(b != NULL);
    struct ip_addr ip;
    ip_addr_parse("192.0.2.2", &ip);
    struct baseline_entry *e = baseline_get(b, &ip, 1);
    uint64_t seq = 1;
    CHECK(baseline_learnable(e, 1, seq));
    baseline_persist(e, 1, seq++, true, 3);
    CHECK(!baseline_learnable(e, 1, seq));
    CHECK(baseline_learnable(e, 0, seq)); /* the other side is clean */
    for (int i = 1; i < BASELINE_ACCEPT_WINDOWS; i++) {
        CHECK(!baseline_learnable(e, 1, seq));
        baseline_persist(e, 1, seq++, true, 3);
    }
    CHECK(baseline_learnable(e, 1, seq)); /* accepted: the new normal */
    /* Half learned, it hovers around the threshold: still accepted. */
    for (int i = 0; i < 20; i++) {
        baseline_persist(e, 1, seq++, i % 4 == 0, 3);
        CHECK(baseline_learnable(e, 1, seq));
    }
    /* Learned: 16 windows under end the acceptance; a new window over is not learned. */
    for (int i = 0; i < 16; i++)
        baseline_persist(e, 1, seq++, false, 3);
    CHECK(baseline_learnable(e, 1, seq));
    baseline_persist(e, 1, seq++, true, 3);
    CHECK(!baseline_learnable(e, 1, seq));
    /* Another detector's alert: nothing for 16 windows, and no acceptance from it. */
    struct baseline_entry *t = baseline_get(b, &ip, seq);
    baseline_taint(t, seq);
    CHECK(!baseline_learnable(t, 0, seq));
    for (int i = 0; i < BASELINE_ACCEPT_WINDOWS + 10; i++)
        baseline_persist(t, 1, seq + (uint64_t)i, true, 3);
    CHECK(baseline_learnable(t, 1, seq + 100)); /* accepted again, 60 windows after */
    baseline_taint(t, seq + 100);
    CHECK(!baseline_learnable(t, 1, seq + 115));
    CHECK(!baseline_learnable(t, 1, seq + 116)); /* over, no longer accepted */
    /* Flagged now (a retrain leaves its rows out): tainted, or 2 of the last 3 over. */
    CHECK(baseline_flagged(t, 0, seq + 115));
    CHECK(!baseline_flagged(NULL, 0, seq));
    struct ip_addr ip2;
    ip_addr_parse("192.0.2.3", &ip2);
    struct baseline_entry *f = baseline_get(b, &ip2, 1);
    baseline_persist(f, 0, 1, true, 3);
    CHECK(!baseline_flagged(f, 0, 1)); /* one window over: not yet */
    baseline_persist(f, 0, 2, true, 3);
    CHECK(baseline_flagged(f, 0, 2));
    CHECK(!baseline_flagged(f, 1, 2)); /* per side */
    for (uint64_t k = 3; k < 3 + BASELINE_ACCEPT_WINDOWS; k++)
        baseline_persist(f, 0, k, true, 3);
    CHECK(!baseline_flagged(f, 0, 3 + BASELINE_ACCEPT_WINDOWS)); /* accepted */
    baseline_destroy(b);
}

/* The scan rules (behaviour_rule_check) and the flag test they count with. */
TEST(scan_rules)
{
    /* Flags no stack sends, and flags every stack sends. */
    CHECK(decode_tcp_flags_odd(0));                                  /* NULL */
    CHECK(decode_tcp_flags_odd(TCP_FIN));                            /* FIN scan */
    CHECK(decode_tcp_flags_odd(TCP_FIN | TCP_PSH | 0x20));           /* XMAS */
    CHECK(decode_tcp_flags_odd(TCP_SYN | TCP_FIN | TCP_PSH | 0x20)); /* nmap -O T3 */
    CHECK(decode_tcp_flags_odd(TCP_SYN | TCP_RST));
    CHECK(!decode_tcp_flags_odd(TCP_SYN));
    CHECK(!decode_tcp_flags_odd(TCP_SYN | 0xc0)); /* ECN setup (ECE, CWR) */
    CHECK(!decode_tcp_flags_odd(TCP_SYN | TCP_ACK));
    CHECK(!decode_tcp_flags_odd(TCP_ACK));
    CHECK(!decode_tcp_flags_odd(TCP_FIN | TCP_ACK));
    CHECK(!decode_tcp_flags_odd(TCP_RST));
    CHECK(!decode_tcp_flags_odd(TCP_RST | TCP_ACK));
    CHECK(!decode_tcp_flags_odd(TCP_PSH | TCP_ACK));

    struct host_window h;
    struct behaviour_rule_hit hit;
    memset(&h, 0, sizeof(h));
    /* nmap -O (chrissanders_activeosfingerprinting): 12 odd probes. */
    h.tcp_odd_flags = 12;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_ODD_FLAGS);
    CHECK_EQ(hit.category, ALERT_CATEGORY_PORTSCAN);
    CHECK_STR(hit.feature, "tcp_odd_flags");
    h.tcp_odd_flags = 2;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);

    /* ndpi_tcp_scan: 4 SYNs to 4 ports of one host, 2 refused, 2 answered and reset. */
    memset(&h, 0, sizeof(h));
    uint16_t ports[] = {80, 443, 445, 3389};
    for (int i = 0; i < 4; i++)
        hll_add(&h.dst_ports, tapir_hash(&ports[i], sizeof(ports[i]), 7));
    hll_add(&h.dst_ips, tapir_hash("a", 1, 7));
    h.flows_started = h.tcp_started = 4;
    h.tcp_answered = 2;
    h.tcp_probe_reset = 2;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_PROBES);
    CHECK_EQ(hit.category, ALERT_CATEGORY_PORTSCAN);
    CHECK_NEAR(hit.value, 4, 1e-12);
    /* The same four connections carrying data: a client, no scan. */
    h.tcp_probe_reset = 0;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);
    /* Three probes (the benign maximum measured was 2): too few. */
    h.tcp_answered = 0;
    h.tcp_started = 3;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);
    /* Unanswered SYNs to 8 hosts, one port: a small sweep. */
    memset(&h, 0, sizeof(h));
    for (uint64_t i = 1; i <= 8; i++)
        hll_add(&h.dst_ips, tapir_hash(&i, sizeof(i), 7));
    hll_add(&h.dst_ports, tapir_hash(ports, sizeof(ports[0]), 7));
    h.flows_started = h.tcp_started = 8;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_PROBES);
    CHECK_EQ(hit.category, ALERT_CATEGORY_HOSTSCAN);
    /* ... but not when most of its TCP carried data. */
    h.tcp_started = 20;
    h.tcp_answered = 12;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);

    /* Spam: 20 mail servers from a host that is no mail server; two are a mail client;
     * a relay that also receives mail is a mail server. */
    memset(&h, 0, sizeof(h));
    for (uint64_t i = 1; i <= 2; i++)
        h.smtp_dst_bits |= 1ULL << (tapir_hash(&i, sizeof(i), 7) >> 58);
    h.smtp_started = 2;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);
    for (uint64_t i = 3; i <= 20; i++)
        h.smtp_dst_bits |= 1ULL << (tapir_hash(&i, sizeof(i), 7) >> 58);
    h.smtp_started = 20;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_SPAM);
    CHECK_STR(hit.feature, "smtp_servers");
    CHECK(hit.value > 12 && hit.value < 30);
    h.smtp_in = 3;
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE);
}

/* What a source exchanged (behaviour_exchange) and the limit values it changes: a
 * sweep's contacts are no data peers, a client's servers are; an upload's bytes stay,
 * the part its flows got back does not. */
TEST(exchange_peers_and_matched_bytes)
{
    struct flow_record fl[40];
    struct window w;
    memset(&w, 0, sizeof(w));
    memset(fl, 0, sizeof(fl));
    w.flows = fl;
    struct ip_addr src, other;
    uint8_t s4[4] = {192, 168, 1, 117}, o4[4] = {192, 168, 1, 9};
    ip_addr_from_v4(&src, s4);
    ip_addr_from_v4(&other, o4);
    /* 10 ICMP echoes and 10 SYN-answered-RST probes: no peers, nothing matched beyond. */
    for (int i = 0; i < 20; i++) {
        struct flow_record *f = &fl[w.n_flows++];
        uint8_t d[4] = {10, 0, 0, (uint8_t)(i + 1)};
        f->init = src;
        ip_addr_from_v4(&f->resp, d);
        f->proto = i < 10 ? 1 : 6;
        f->flags = i < 10 ? 0 : FLOW_REC_SYN | FLOW_REC_SYNACK | FLOW_REC_RST;
        f->pkts[0] = i < 10 ? 1 : 2;
        f->pkts[1] = 1;
        f->bytes[0] = i < 10 ? 84 : 100;
        f->bytes[1] = i < 10 ? 84 : 44;
    }
    struct behaviour_exchange x;
    behaviour_exchange(&w, NULL, &src, &x);
    CHECK_NEAR(x.peers, 0, 1e-12);
    CHECK_NEAR(x.matched_bytes, 10 * 84 + 10 * 44, 1e-9);
    /* 12 TLS servers with data both ways, one of them twice; another host's flow. */
    for (int i = 0; i < 14; i++) {
        struct flow_record *f = &fl[w.n_flows++];
        uint8_t d[4] = {52, 0, 0, (uint8_t)(i < 13 ? i + 1 : 1)};
        f->init = i == 12 ? other : src;
        ip_addr_from_v4(&f->resp, d);
        f->proto = 6;
        f->flags = FLOW_REC_SYN | FLOW_REC_SYNACK | FLOW_REC_FIN;
        f->pkts[0] = 10;
        f->pkts[1] = 8;
        f->bytes[0] = 2000;
        f->bytes[1] = 6000;
    }
    behaviour_exchange(&w, NULL, &src, &x);
    CHECK(x.peers > 11.5 && x.peers < 12.5);
    CHECK_NEAR(x.matched_bytes, 10 * 84 + 10 * 44 + 13 * 2000, 1e-9);
    /* 5 SYNs refused by a RST (no SYN-ACK): a refusal is no exchange, nothing matched
     * (bench/soak.sh's SYN scanner, answered by RSTs, kept its bytes_sent). */
    for (int i = 0; i < 5; i++) {
        struct flow_record *f = &fl[w.n_flows++];
        uint8_t d[4] = {10, 0, 1, (uint8_t)(i + 1)};
        f->init = src;
        ip_addr_from_v4(&f->resp, d);
        f->proto = 6;
        f->flags = FLOW_REC_SYN | FLOW_REC_RST;
        f->pkts[0] = 1;
        f->pkts[1] = 1;
        f->bytes[0] = 60;
        f->bytes[1] = 40;
    }
    behaviour_exchange(&w, NULL, &src, &x);
    CHECK(x.peers > 11.5 && x.peers < 12.5);
    CHECK_NEAR(x.matched_bytes, 10 * 84 + 10 * 44 + 13 * 2000, 1e-9);
    w.n_flows -= 5;
    int di = idx(SIDE_SOURCE, "dst_ips"), bi = idx(SIDE_SOURCE, "bytes_sent");
    CHECK(behaviour_exchange_feature(SIDE_SOURCE, di));
    CHECK(behaviour_exchange_feature(SIDE_SOURCE, bi));
    CHECK(!behaviour_exchange_feature(SIDE_PREFIX, di));
    CHECK(!behaviour_exchange_feature(SIDE_SOURCE, idx(SIDE_SOURCE, "flows_started")));
    struct host_window h;
    memset(&h, 0, sizeof(h));
    h.started_bytes = 40000;
    CHECK_NEAR(behaviour_limit_value(SIDE_SOURCE, di, &h, 32, &x), 32 - x.peers, 1e-9);
    CHECK_NEAR(behaviour_limit_value(SIDE_SOURCE, di, &h, 32, NULL), 32, 1e-12);
    CHECK_NEAR(behaviour_limit_value(SIDE_SOURCE, bi, &h, 50000, &x), 40000 - 27280, 1e-9);
    CHECK_NEAR(behaviour_limit_value(SIDE_SOURCE, bi, &h, 50000, NULL), 40000, 1e-12);
    h.started_bytes = 1000; /* never below 0 */
    CHECK_NEAR(behaviour_limit_value(SIDE_SOURCE, bi, &h, 50000, &x), 0, 1e-12);
    /* No flow records (--no-conversations): nothing known. */
    w.flows = NULL;
    behaviour_exchange(&w, NULL, &src, &x);
    CHECK_NEAR(x.peers + x.matched_bytes, 0, 1e-12);
}

/* The DoH rule: DNS-sized TLS to a public resolver's address from a host that sent a
 * ClientHello without SNI (ndpi_dns2tcp_tunnel). */
TEST(doh_without_a_name)
{
    struct host_window h;
    struct behaviour_rule_hit hit;
    struct flow_record f;
    struct window w;
    memset(&h, 0, sizeof(h));
    memset(&f, 0, sizeof(f));
    memset(&w, 0, sizeof(w));
    uint8_t s4[4] = {192, 168, 20, 211}, d4[4] = {1, 1, 1, 1}, web[4] = {93, 184, 216, 34};
    ip_addr_from_v4(&h.ip, s4);
    f.init = h.ip;
    ip_addr_from_v4(&f.resp, d4);
    f.resp_port = 443;
    f.proto = 6;
    f.flags = FLOW_REC_SYN | FLOW_REC_SYNACK;
    f.pkts[0] = 22;
    f.bytes[0] = 2243;
    f.pkts[1] = 28;
    f.bytes[1] = 5845;
    w.flows = &f;
    w.n_flows = 1;
    h.risk.seen = 1ULL << HOST_RISK_ID_TLS_MISSING_SNI;
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_DOH);
    CHECK_EQ(hit.category, ALERT_CATEGORY_TUNNEL);
    CHECK_STR(hit.feature, "doh_unnamed_pkts");
    CHECK_NEAR(hit.value, 50, 1e-12);
    CHECK_EQ(behaviour_rule_check(&h, NULL, NULL, &hit), BEHAVIOUR_RULE_NONE); /* no records */
    h.risk.seen = 0; /* the client named its server (Windows' DoH: cloudflare-dns.com) */
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_NONE);
    h.risk.seen = 1ULL << HOST_RISK_ID_TLS_MISSING_SNI;
    f.bytes[1] = 28 * 1400; /* a web page's packets, not DNS messages */
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_NONE);
    f.bytes[1] = 5845;
    f.pkts[1] = 3; /* the handshake alone */
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_NONE);
    f.pkts[1] = 28;
    ip_addr_from_v4(&f.resp, web); /* not a resolver */
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_NONE);
    uint8_t g6[16] = {0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88};
    ip_addr_from_v6(&f.resp, g6);
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_DOH);
    f.resp_port = 853; /* DoT: a client of the network's policy, not this rule's */
    CHECK_EQ(behaviour_rule_check(&h, &w, NULL, &hit), BEHAVIOUR_RULE_NONE);
}

/* The index of a window's records by initiator gives each IP's records in the window's
 * order, as a walk of every record does: across windows of other sizes in one buffer
 * (reused, as the window queue's are), with :: initiators, and the same answers when
 * asked through behaviour_exchange with and without it. */
TEST(flow_index_matches_a_walk)
{
    flow_index_t *fx = flow_index_create(42);
    CHECK(fx != NULL);
    enum { CAP = 3000 };
    struct flow_record *recs = calloc(CAP, sizeof(*recs));
    CHECK(recs != NULL);
    struct window w;
    memset(&w, 0, sizeof(w));
    w.flows = recs;
    w.cap_flows = CAP;
    uint64_t rng = 7;
    const uint32_t sizes[] = {0, 1, 40, CAP, 17, 2500};
    for (int round = 0; round < 6; round++) {
        w.seq = (uint64_t)round;
        w.start_us = 1000000ULL * (uint64_t)round;
        w.n_flows = sizes[round];
        uint32_t hosts = 1 + (uint32_t)round * 13;
        for (uint32_t i = 0; i < w.n_flows; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t hpick = (uint32_t)(rng >> 33) % (hosts + 1);
            uint8_t a[4] = {10, 0, (uint8_t)(hpick >> 8), (uint8_t)hpick};
            memset(&recs[i], 0, sizeof(recs[i]));
            if (hpick) /* 0: the :: initiator */
                ip_addr_from_v4(&recs[i].init, a);
            uint8_t b[4] = {192, 0, 2, (uint8_t)(rng >> 20)};
            ip_addr_from_v4(&recs[i].resp, b);
            recs[i].proto = (rng >> 40) & 1 ? 6 : 17;
            recs[i].flags = FLOW_REC_SYN;
            recs[i].pkts[0] = (uint32_t)(rng >> 44) % 6;
            recs[i].pkts[1] = (uint32_t)(rng >> 48) % 6;
            recs[i].bytes[0] = (rng >> 24) % 5000;
            recs[i].bytes[1] = (rng >> 12) % 5000;
        }
        for (uint32_t hpick = 0; hpick <= hosts + 1; hpick++) {
            struct ip_addr ip;
            uint8_t a[4] = {10, 0, (uint8_t)(hpick >> 8), (uint8_t)hpick};
            memset(&ip, 0, sizeof(ip));
            if (hpick)
                ip_addr_from_v4(&ip, a);
            uint32_t want = 0, got = 0, n = 0;
            do {
                want = flow_index_next(NULL, &w, &ip, want);
                got = flow_index_next(fx, &w, &ip, got);
                CHECK_EQ(got, want);
                n++;
            } while (want && n <= CAP + 1);
            struct behaviour_exchange x1, x2;
            behaviour_exchange(&w, NULL, &ip, &x1);
            behaviour_exchange(&w, fx, &ip, &x2);
            CHECK_NEAR(x1.peers, x2.peers, 0);
            CHECK_NEAR(x1.matched_bytes, x2.matched_bytes, 0);
        }
    }
    free(recs);
    flow_index_destroy(fx);
    flow_index_destroy(NULL);
}

int main(void)
{
    RUN(doh_without_a_name);
    RUN(flow_index_matches_a_walk);
    RUN(scan_rules);
    RUN(exchange_peers_and_matched_bytes);
    RUN(feature_tables_are_sane);
    RUN(source_features);
    RUN(destination_features);
    RUN(scaling_and_prefix_sum);
    RUN(baseline_deviation_and_persistence);
    RUN(upload_accumulates_and_decays);
    RUN(learnable_new_normal_and_taint);
    return CHECK_DONE();
}
