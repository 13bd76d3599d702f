/*
 * test_category.c — analyzer/category.c's table: every feature it names exists on its
 * side, every category but the reserved webattack has a row, and alerts shaped like each
 * attack (values taken from the demo replay and from real tools) get their name, while
 * a host flagged for doing *less* than usual gets `anomaly`.
 */
#include <stdlib.h>
#include <string.h>

#include "behaviour.h"
#include "category.h"
#include "check.h"

/* An alert on side with the named raw values (others 0) and top features, strongest
 * first; "name=value" pairs end with NULL, then the top names end with NULL. */
static double raw[BEHAVIOUR_MAX_FEATURES];
static const char *names[BEHAVIOUR_MAX_FEATURES];

static int feature_index(enum feature_side side, const char *name)
{
    int n;
    const struct feature_def *d = behaviour_defs(side, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(d[i].name, name))
            return i;
    return -1;
}

static enum alert_category cat(enum alert_side side, const char *values, const char *top)
{
    enum feature_side fs = side == ALERT_SIDE_SOURCE        ? SIDE_SOURCE
                           : side == ALERT_SIDE_DESTINATION ? SIDE_DESTINATION
                                                            : SIDE_PREFIX;
    int n;
    const struct feature_def *d = behaviour_defs(fs, &n);
    memset(raw, 0, sizeof(raw));
    for (int i = 0; i < n; i++)
        names[i] = d[i].name;
    struct alert al;
    memset(&al, 0, sizeof(al));
    al.side = side;
    al.n_features = n;
    al.features = raw;
    al.feature_names = names;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", values);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        int i = feature_index(fs, tok);
        if (i < 0)
            printf("  no feature %s on that side\n", tok);
        CHECK(i >= 0);
        if (i >= 0)
            raw[i] = strtod(eq + 1, NULL);
    }
    snprintf(buf, sizeof(buf), "%s", top);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok && al.n_top < ALERT_TOP_FEATURES;
         tok = strtok_r(NULL, " ", &save))
        snprintf(al.top[al.n_top++].name, sizeof(al.top[0].name), "%s", tok);
    return category_of(&al);
}

#define CHECK_CAT(side, values, top, want)                                                         \
    do {                                                                                           \
        enum alert_category got_ = cat(side, values, top);                                         \
        if (got_ != (want))                                                                        \
            printf("  %s [%s] -> %s, want %s\n", values, top, alert_category_name(got_),           \
                   alert_category_name(want));                                                     \
        CHECK_EQ(got_, want);                                                                      \
    } while (0)

#define SRC ALERT_SIDE_SOURCE
#define DST ALERT_SIDE_DESTINATION
#define PFX ALERT_SIDE_PREFIX

/* The names analyzer/score.c gives a conversation alert's top features (after the peer,
 * "beacon to 192.0.2.1:443/tcp"): not behaviour features, but what that detector fired. */
static const char *const conv_features[] = {"beacon_interval_s",
                                            "beacon_size_spread",
                                            "bruteforce_span_s",
                                            "bruteforce_median_dur_s",
                                            "bruteforce_median_dur_s_l7",
                                            "exfil_limit_bytes",
                                            "exfil_span_s",
                                            "tunnel_pkt_size",
                                            "tunnel_size_ratio"};

static bool on_side(unsigned sides, const char *name)
{
    for (size_t i = 0; i < sizeof(conv_features) / sizeof(conv_features[0]); i++)
        if (!strcmp(name, conv_features[i]))
            return sides == CATEGORY_SIDE_SOURCE;
    /* A SRC row may name source-only features (baseline deviations, upload): they never
     * fire on a prefix, which simply does not match them. */
    bool ok = true;
    if (sides & (CATEGORY_SIDE_SOURCE | CATEGORY_SIDE_PREFIX))
        ok &= feature_index(SIDE_SOURCE, name) >= 0;
    if (sides & CATEGORY_SIDE_DESTINATION)
        ok &= feature_index(SIDE_DESTINATION, name) >= 0;
    if (!ok)
        printf("  the table names '%s', which that side does not have\n", name);
    return ok;
}

TEST(table_names_real_features)
{
    int n;
    const struct category_rule *r = category_rules(&n);
    CHECK_GT(n, 10);
    bool has[ALERT_CATEGORY_COUNT] = {false};
    for (int i = 0; i < n; i++) {
        CHECK(r[i].sides != 0);
        CHECK(r[i].category != ALERT_CATEGORY_ANOMALY); /* the fallback needs no row */
        has[r[i].category] = true;
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", r[i].fired);
        for (char *save, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save))
            CHECK(on_side(r[i].sides, t));
        for (int k = 0; k < CATEGORY_MAX_CONDS && r[i].cond[k].feature; k++) {
            CHECK(on_side(r[i].sides, r[i].cond[k].feature));
            CHECK(r[i].cond[k].op == '>' || r[i].cond[k].op == '<');
            if (r[i].cond[k].per)
                CHECK(on_side(r[i].sides, r[i].cond[k].per));
        }
    }
    for (int c = 0; c < ALERT_CATEGORY_COUNT; c++)
        if (c != ALERT_CATEGORY_ANOMALY && c != ALERT_CATEGORY_WEBATTACK && !has[c]) {
            printf("  no row names %s\n", alert_category_name((enum alert_category)c));
            CHECK(has[c]);
        }
}

TEST(source_side)
{
    /* The demo's vertical scanner (limit: dst_ports, flows_started). */
    CHECK_CAT(SRC, "pkts_sent=470 flows_started=466 dst_ports=430 dst_ips=1 mean_pkt_size=44",
              "dst_ports flows_started", ALERT_CATEGORY_PORTSCAN);
    /* The demo's horizontal scanner. */
    CHECK_CAT(SRC, "pkts_sent=250 flows_started=243 dst_ips=285 dst_ports=1",
              "dst_ips flows_started", ALERT_CATEGORY_HOSTSCAN);
    /* Many ports, but 10,000 packets on 40 ports is no scan: a flood (hping3 --flood -S). */
    CHECK_CAT(SRC,
              "pkts_sent=10000 flows_started=9000 dst_ports=40 dst_ips=1 mean_pkt_size=40 "
              "tcp_unanswered_share=0.9",
              "dst_ports pkts_sent", ALERT_CATEGORY_SYNFLOOD);
    CHECK_CAT(SRC,
              "pkts_sent=20000 bytes_sent=800000 flows_started=20000 dst_ports=1 dst_ips=1 "
              "mean_pkt_size=40",
              "pkts_sent bytes_sent", ALERT_CATEGORY_SYNFLOOD);
    /* The SYN flood's victim answering SYN-ACKs started nothing: not a flood of its own. */
    CHECK_CAT(SRC, "pkts_sent=1486 bytes_sent=65380 mean_pkt_size=44",
              "pkts_sent mean_pkt_size bytes_sent", ALERT_CATEGORY_ANOMALY);
    CHECK_CAT(SRC,
              "pkts_sent=5000 bytes_sent=2500000 flows_started=50 dst_ips=1 dst_ports=1 "
              "udp_share=1 upload_ratio=1 mean_pkt_size=500",
              "bytes_sent pkts_sent", ALERT_CATEGORY_UDPFLOOD);
    CHECK_CAT(SRC,
              "pkts_sent=1500 bytes_sent=126000 flows_started=1 dst_ips=1 icmp_share=1 "
              "mean_pkt_size=84",
              "pkts_sent", ALERT_CATEGORY_ICMPFLOOD);
    /* ICMP with big payloads to one peer at a low rate: a ping tunnel. */
    CHECK_CAT(SRC, "pkts_sent=120 bytes_sent=120000 dst_ips=1 icmp_share=1 mean_pkt_size=1000",
              "bytes_sent icmp_share", ALERT_CATEGORY_TUNNEL);
    /* The demo's DNS tunnel, then ordinary DNS names. */
    CHECK_CAT(SRC, "dns_queries=28 dns_qname_mean=97.5 flows_started=28 udp_share=1",
              "dns_qname_mean flows_started dns_queries", ALERT_CATEGORY_TUNNEL);
    CHECK_CAT(SRC, "dns_queries=28 dns_qname_mean=22 flows_started=28 udp_share=1",
              "dns_qname_mean dns_queries", ALERT_CATEGORY_ANOMALY);
    CHECK_CAT(SRC, "dns_queries=2000 dns_qname_mean=22", "dns_queries", ALERT_CATEGORY_TUNNEL);
    /* Slow exfiltration to a public address; a 400 kB upload to an internal one. */
    CHECK_CAT(SRC, "upload_public_acc=38990 bytes_sent=20000", "upload_public_acc",
              ALERT_CATEGORY_EXFIL);
    CHECK_CAT(SRC,
              "bytes_sent=400000 pkts_sent=280 upload_ratio=0.99 mean_pkt_size=1428 "
              "flows_started=1 dst_ips=1 dst_ports=1",
              "bytes_sent", ALERT_CATEGORY_EXFIL);
    /* The same volume in check-ins every 10 s (chrissanders_ratinfected): a beacon. */
    CHECK_CAT(SRC,
              "bytes_sent=448964 pkts_sent=452 upload_ratio=0.98 mean_pkt_size=993 "
              "flows_started=5 dst_ips=1 dst_ports=1 beacon_regularity=0.9994",
              "bytes_sent", ALERT_CATEGORY_BEACON);
    /* The demo's beacon: its regularity fired first; its small upload does not make it
     * an exfiltration. With an irregular window, it is an anomaly. */
    CHECK_CAT(SRC, "beacon_regularity=0.988 upload_public_acc=5088 flows_started=6 dst_ips=1",
              "beacon_regularity upload_public_acc flows_started", ALERT_CATEGORY_BEACON);
    CHECK_CAT(SRC, "beacon_regularity=0.69 upload_public_acc=6130 dns_qname_mean=22",
              "upload_public_acc beacon_regularity dns_qname_mean", ALERT_CATEGORY_ANOMALY);
    /* SSH brute force: a dozen answered sessions to one port of one server. */
    CHECK_CAT(SRC,
              "flows_started=12 dst_ips=1 dst_ports=1 pkts_sent=300 bytes_sent=30000 "
              "beacon_regularity=0.8",
              "flows_started beacon_regularity", ALERT_CATEGORY_BRUTEFORCE);
    /* Doing less than usual names no attack (issue 10: dev_* at -0.9, tiny counts). */
    CHECK_CAT(SRC,
              "flow_duration_mean=71 dev_dst_ports=-2 dev_dst_ips=-2 dst_ports=1 dst_ips=1 "
              "flows_started=1",
              "flow_duration_mean dev_dst_ports dev_dst_ips", ALERT_CATEGORY_ANOMALY);
    CHECK_CAT(SRC, "dst_ports=1 dst_ips=1 flows_started=2", "dst_ports dst_ips flows_started",
              ALERT_CATEGORY_ANOMALY);
    CHECK_CAT(SRC, "", "", ALERT_CATEGORY_ANOMALY); /* no top features at all */
}

TEST(destination_side)
{
    /* The demo's scan victim: SYNs from one source port of one source. */
    CHECK_CAT(DST, "syn_in=466 flows_in=466 pkts_recv=468 src_ips=1 src_ports=1",
              "syn_in flows_in pkts_recv", ALERT_CATEGORY_PORTSCAN);
    /* The demo's SYN-flood victim, answering every SYN (so none unanswered). */
    CHECK_CAT(DST,
              "syn_in=897 flows_in=897 pkts_recv=1000 src_ips=150 src_ports=913 "
              "syn_unanswered_share=0",
              "syn_in flows_in src_ports", ALERT_CATEGORY_SYNFLOOD);
    /* A victim that stopped answering, among its normal traffic. */
    CHECK_CAT(DST,
              "syn_in=3000 flows_in=3100 pkts_recv=9000 src_ips=3000 src_ports=3000 "
              "syn_unanswered_share=0.95",
              "src_ips syn_in", ALERT_CATEGORY_SYNFLOOD);
    CHECK_CAT(DST,
              "pkts_recv=6000 bytes_recv=8000000 flows_in=60 src_ips=60 udp_unsolicited_share=0.95 "
              "mean_pkt_size_in=1333",
              "bytes_recv pkts_recv", ALERT_CATEGORY_AMPLIFICATION);
    /* TCP SYN-ACK reflection (stopddos): thousands of reflectors, a few service ports,
     * no SYN; a spoofed flood from random source ports stays a flood. */
    CHECK_CAT(DST,
              "pkts_recv=7996 flows_in=7832 src_ips=7056 src_ports=12 pkts_per_src=1.1 syn_in=0",
              "src_ips flows_in pkts_recv", ALERT_CATEGORY_AMPLIFICATION);
    CHECK_CAT(DST,
              "pkts_recv=7996 flows_in=7832 src_ips=7056 src_ports=7000 pkts_per_src=1.1 "
              "syn_in=0",
              "src_ips flows_in pkts_recv", ALERT_CATEGORY_UDPFLOOD);
    /* Unsolicited UDP from one source is no reflection. */
    CHECK_CAT(DST, "pkts_recv=200 flows_in=1 src_ips=1 udp_unsolicited_share=1", "pkts_recv",
              ALERT_CATEGORY_ANOMALY);
    CHECK_CAT(DST, "pkts_recv=743 icmp_share_in=0.98 src_ips=1 flows_in=1", "pkts_recv",
              ALERT_CATEGORY_ICMPFLOOD);
    CHECK_CAT(DST, "pkts_recv=20000 bytes_recv=20000000 flows_in=1 src_ips=1 syn_in=0",
              "pkts_recv bytes_recv", ALERT_CATEGORY_UDPFLOOD);
    /* The demo's brute-force victim: a dozen sessions from one client. */
    CHECK_CAT(DST,
              "flows_in=12 syn_in=12 src_ips=1 src_ports=12 pkts_recv=206 bytes_recv=24310 "
              "mean_pkt_size_in=118",
              "pkts_per_src pkts_recv bytes_recv", ALERT_CATEGORY_BRUTEFORCE);
    /* The demo's beacon server: six short check-ins a window is not a brute force. */
    CHECK_CAT(DST,
              "syn_in=6 flows_in=6 src_ips=1 pkts_recv=48 bytes_recv=6392 mean_pkt_size_in=133",
              "syn_in pkts_recv bytes_recv", ALERT_CATEGORY_ANOMALY);
    /* Source-side names on a destination alert never match a source row. */
    CHECK_CAT(DST, "pkts_recv=100", "dst_ports", ALERT_CATEGORY_ANOMALY);
}

/* The conversation detectors' alerts, shaped as analyzer/score.c makes them: no vector,
 * the peer first (a name no row knows), then what the rule measured. */
TEST(conversation_alerts)
{
    CHECK_CAT(SRC, "", "beacon_to_192.0.2.1:443/tcp beacon_interval_s beacon_size_spread",
              ALERT_CATEGORY_BEACON);
    CHECK_CAT(SRC, "", "bruteforce_to_192.0.2.1:22/tcp bruteforce_span_s bruteforce_median_dur_s",
              ALERT_CATEGORY_BRUTEFORCE);
    CHECK_CAT(SRC, "", "exfil_to_192.0.2.1:443/tcp exfil_limit_bytes exfil_span_s",
              ALERT_CATEGORY_EXFIL);
    CHECK_CAT(DST, "", "beacon_interval_s", ALERT_CATEGORY_ANOMALY); /* source side only */
}

TEST(prefix_side)
{
    /* The demo's scanner's /24 (forest: tcp_reset_share, dst_ports, mean_pkt_size). */
    CHECK_CAT(PFX,
              "tcp_reset_share=1 dst_ports=687 dst_ips=1 mean_pkt_size=47.8 pkts_sent=700 "
              "flows_started=634",
              "tcp_reset_share dst_ports mean_pkt_size", ALERT_CATEGORY_PORTSCAN);
    /* The demo's fd00::/64: some ICMP, a few hundred bytes: nothing specific. */
    CHECK_CAT(PFX, "icmp_share=0.625 bytes_sent=648 dst_port_entropy=1 pkts_sent=8",
              "icmp_share bytes_sent dst_port_entropy", ALERT_CATEGORY_ANOMALY);
    /* Destination rows do not apply to a prefix. */
    CHECK_CAT(PFX, "pkts_sent=100", "syn_in", ALERT_CATEGORY_ANOMALY);
}

/* docs/detection.md prints the table between its category-table markers, one row per
 * entry in order: "| N | sides | fired | conditions | category | why |". The first five
 * cells must be what the code says; a mismatch prints the row the code wants. */
static const char *doc_path;

static void row_text(int i, const struct category_rule *r, char *out, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n, "%d|%s|", i + 1,
                          r->sides & CATEGORY_SIDE_DESTINATION ? "destination"
                          : r->sides & CATEGORY_SIDE_PREFIX    ? "source, prefix"
                                                               : "source");
    for (const char *p = r->fired; *p && n + 2 < cap; p++)
        n += (size_t)snprintf(out + n, cap - n, "%s", *p == '|' ? ", " : (char[2]){*p, 0});
    n += (size_t)snprintf(out + n, cap - n, "|");
    for (int k = 0; k < CATEGORY_MAX_CONDS && r->cond[k].feature; k++) {
        const struct category_cond *c = &r->cond[k];
        n += (size_t)snprintf(out + n, cap - n, "%s%s %s %g", k ? ", " : "", c->feature,
                              c->op == '>' ? ">=" : "<", c->value);
        if (c->per)
            n += (size_t)snprintf(out + n, cap - n, " x %s", c->per);
    }
    snprintf(out + n, cap - n, "%s|%s", r->cond[0].feature ? "" : "(none)",
             alert_category_name(r->category));
}

/* The first five cells of a markdown row, trimmed, joined by '|'. */
static void doc_cells(const char *line, char *out, size_t cap)
{
    size_t n = 0;
    int cell = 0;
    const char *p = strchr(line, '|');
    while (p && cell < 5) {
        const char *q = strchr(p + 1, '|');
        if (!q)
            break;
        const char *b = p + 1, *e = q;
        while (b < e && *b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            e--;
        for (; b < e && n + 1 < cap; b++)
            if (*b != '`')
                out[n++] = *b;
        if (++cell < 5 && n + 1 < cap)
            out[n++] = '|';
        p = q;
    }
    out[n] = '\0';
}

TEST(docs_print_the_same_table)
{
    FILE *f = fopen(doc_path, "r");
    CHECK(f != NULL);
    if (!f) {
        printf("  cannot open %s\n", doc_path);
        return;
    }
    int n, row = 0;
    const struct category_rule *r = category_rules(&n);
    char line[1024], want[1024], got[1024];
    bool in = false;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "<!-- category-table -->")) {
            in = true;
            continue;
        }
        if (strstr(line, "<!-- /category-table -->"))
            break;
        if (!in || line[0] != '|' || line[1] == '-' || strstr(line, "| # |"))
            continue;
        doc_cells(line, got, sizeof(got));
        if (row < n) {
            row_text(row, &r[row], want, sizeof(want));
            if (strcmp(got, want))
                printf("  docs row %d: %s\n  code wants: %s\n", row + 1, got, want);
            CHECK_STR(got, want);
        }
        row++;
    }
    fclose(f);
    CHECK_EQ(row, n);
}

int main(void)
{
    const char *top = getenv("TAPIR_TOP");
    static char path[512];
    snprintf(path, sizeof(path), "%s/docs/detection.md", top ? top : ".");
    doc_path = path;
    RUN(table_names_real_features);
    RUN(source_side);
    RUN(destination_side);
    RUN(prefix_side);
    RUN(conversation_alerts);
    RUN(docs_print_the_same_table);
    return CHECK_DONE();
}
