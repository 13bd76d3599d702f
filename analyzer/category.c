/*
 * category.c — from what fired to a named attack: one table, tried in order, first
 * match wins. docs/detection.md prints the same table for people; a change here is a
 * change there.
 *
 * Input is what the alert already shows the analyst: its side and its top features
 * (the learned limits crossed, or the forest's isolating features, strongest first),
 * plus the raw values of the whole vector for the conditions. Each top feature is tried
 * in turn, so the category follows what fired most: a beacon whose second feature is its
 * (small) upload is a beacon, an upload whose timing happens to be regular is an
 * exfiltration. The conditions check magnitude and shape on the raw values ("dst_ports
 * >= 16 and fewer than 16 packets per port"), so a feature in the top three because it
 * is unusually *low* (a quiet host's dst_ports) never names an attack: it falls through
 * to `anomaly`.
 *
 * On the demo replay (pcaps/mixed.pcap, tests/golden/alerts.json) it names 51 of 75
 * alerts; 33 of the 35 alerts on an attacker's own address carry its attack's name (the
 * other two: the beacon's irregular windows, `anomaly`), and the victims of the scan,
 * the floods and both brute forces are named for what hit them.
 *
 * Rejected: a category chosen by the detector that fired (each detector knowing its
 * attacks): the forest knows none, the limits cross on shared volume features (a flood
 * and an upload both cross bytes_sent), and it would scatter the definition of "a SYN
 * flood" over every detector. Rejected as well: scoring every category and taking the
 * best, which cannot be explained as "row 7 matched".
 */
#include <string.h>

#include "category.h"

#define SRC (CATEGORY_SIDE_SOURCE | CATEGORY_SIDE_PREFIX)
#define DST CATEGORY_SIDE_DESTINATION

/* Thresholds are per window (60 s by default) and in the README's units. */
static const struct category_rule rules[] = {
    /* ---- source and prefix: what the IP (or /24, /64) sent ---- */
    /* Long DNS names, or very many queries: data carried in DNS. */
    {SRC, "dns_qname_mean|dns_queries", ALERT_CATEGORY_TUNNEL, {{"dns_qname_mean", '>', 40, NULL}}},
    {SRC, "dns_queries", ALERT_CATEGORY_TUNNEL, {{"dns_queries", '>', 300, NULL}}},
    /* Net upload to public addresses over the limit, at least 10 kB. */
    {SRC, "upload_public_acc", ALERT_CATEGORY_EXFIL, {{"upload_public_acc", '>', 1e4, NULL}}},
    /* Many ports on few addresses, a few packets per port. */
    {SRC,
     "dst_ports|dev_dst_ports|dst_port_entropy|flows_started|dev_flows_started|"
     "tcp_unanswered_share|tcp_reset_share|udp_share|pkts_sent|mean_pkt_size",
     ALERT_CATEGORY_PORTSCAN,
     {{"dst_ports", '>', 16, NULL},
      {"dst_ips", '<', 16, NULL},
      {"pkts_sent", '<', 16, "dst_ports"}}},
    /* Many addresses, a few packets each (ping sweeps included). */
    {SRC,
     "dst_ips|dev_dst_ips|dst_asns|dst_countries|flows_started|dev_flows_started|"
     "tcp_unanswered_share|tcp_reset_share|icmp_share|udp_share|pkts_sent|mean_pkt_size|"
     "dst_ports|dev_dst_ports|dst_port_entropy",
     ALERT_CATEGORY_HOSTSCAN,
     {{"dst_ips", '>', 16, NULL}, {"pkts_sent", '<', 16, "dst_ips"}}},
    /* Hundreds of small TCP flows started towards few places, nothing but TCP. */
    {SRC,
     "pkts_sent|bytes_sent|flows_started|dev_flows_started|dev_bytes_sent|tcp_unanswered_share|"
     "tcp_reset_share|mean_pkt_size",
     ALERT_CATEGORY_SYNFLOOD,
     {{"pkts_sent", '>', 500, NULL},
      {"flows_started", '>', 100, NULL},
      {"mean_pkt_size", '<', 100, NULL},
      {"udp_share", '<', 0.5, NULL},
      {"icmp_share", '<', 0.5, NULL},
      {"dst_ips", '<', 16, NULL}}},
    /* A volume of UDP towards few places, little coming back. */
    {SRC,
     "pkts_sent|bytes_sent|flows_started|dev_flows_started|dev_bytes_sent|udp_share|"
     "mean_pkt_size|upload_ratio",
     ALERT_CATEGORY_UDPFLOOD,
     {{"pkts_sent", '>', 500, NULL},
      {"udp_share", '>', 0.5, NULL},
      {"upload_ratio", '>', 0.8, NULL},
      {"dst_ips", '<', 16, NULL}}},
    /* A volume of ICMP towards few places. */
    {SRC,
     "pkts_sent|bytes_sent|dev_bytes_sent|icmp_share|mean_pkt_size",
     ALERT_CATEGORY_ICMPFLOOD,
     {{"pkts_sent", '>', 500, NULL}, {"icmp_share", '>', 0.5, NULL}, {"dst_ips", '<', 16, NULL}}},
    /* ICMP to one or two peers, large packets, no flood rate: data carried in pings. */
    {SRC,
     "icmp_share|mean_pkt_size|bytes_sent|dev_bytes_sent|flow_duration_max",
     ALERT_CATEGORY_TUNNEL,
     {{"icmp_share", '>', 0.5, NULL},
      {"mean_pkt_size", '>', 200, NULL},
      {"dst_ips", '<', 3, NULL}}},
    /* Its volume passed a limit, but in connections started like a metronome (at least 5
     * in the window, 1/(1+CV) of the gaps 0.95 or more) to one or two places: a C2
     * check-in that carries data (a RAT's screenshots), not a one-off upload. Measured:
     * chrissanders_ratinfected (a check-in every 10 s, 90 kB each) scored 0.9994 and was
     * named exfil; the lab's and the synthetic exfiltrations are one or two long flows
     * (regularity 0). */
    {SRC,
     "bytes_sent|dev_bytes_sent|upload_ratio|pkts_sent|flows_started|dev_flows_started",
     ALERT_CATEGORY_BEACON,
     {{"beacon_regularity", '>', 0.95, NULL},
      {"flows_started", '>', 5, NULL},
      {"dst_ips", '<', 3, NULL}}},
    /* Large data-carrying upload over TCP: at least 100 kB in the window, mostly out. */
    {SRC,
     "bytes_sent|dev_bytes_sent|upload_ratio|flow_duration_max|flow_duration_mean",
     ALERT_CATEGORY_EXFIL,
     {{"bytes_sent", '>', 1e5, NULL},
      {"upload_ratio", '>', 0.8, NULL},
      {"mean_pkt_size", '>', 200, NULL},
      {"udp_share", '<', 0.5, NULL}}},
    /* Check-ins at a steady rhythm (1/(1+CV) of the gaps between flow starts). */
    {SRC, "beacon_regularity", ALERT_CATEGORY_BEACON, {{"beacon_regularity", '>', 0.9, NULL}}},
    /* Repeated answered TCP sessions to one service. */
    {SRC,
     "flows_started|dev_flows_started|tcp_reset_share|flow_duration_mean|bytes_recv|pkts_sent|"
     "beacon_regularity",
     ALERT_CATEGORY_BRUTEFORCE,
     {{"flows_started", '>', 8, NULL},
      {"dst_ips", '<', 3, NULL},
      {"dst_ports", '<', 3, NULL},
      {"tcp_unanswered_share", '<', 0.5, NULL},
      {"udp_share", '<', 0.5, NULL}}},

    /* ---- destination: what the IP received ---- */
    /* SYNs to many ports from one or two sources using a fixed source port (nmap): the
     * victim of a port scan; the scanner's own alert says portscan too. */
    {DST,
     "syn_in|flows_in|pkts_recv|src_ports|pkts_per_src|syn_unanswered_share",
     ALERT_CATEGORY_PORTSCAN,
     {{"syn_in", '>', 100, NULL},
      {"syn_in", '>', 0.5, "flows_in"},
      {"src_ips", '<', 3, NULL},
      {"src_ports", '<', 16, NULL}}},
    /* SYNs are most of what it receives, answered (SYN cookies) or not. */
    {DST,
     "syn_in|flows_in|pkts_recv|bytes_recv|src_ips|src_ports|pkts_per_src|syn_unanswered_share|"
     "mean_pkt_size_in",
     ALERT_CATEGORY_SYNFLOOD,
     {{"syn_in", '>', 20, NULL}, {"syn_in", '>', 0.5, "pkts_recv"}}},
    /* Most SYNs unanswered. */
    {DST,
     "syn_in|flows_in|pkts_recv|bytes_recv|src_ips|src_ports|pkts_per_src|syn_unanswered_share",
     ALERT_CATEGORY_SYNFLOOD,
     {{"syn_in", '>', 20, NULL}, {"syn_unanswered_share", '>', 0.5, NULL}}},
    /* UDP "responses" it never asked for, from many sources: reflection. */
    {DST,
     "bytes_recv|pkts_recv|flows_in|src_ips|src_ports|pkts_per_src|udp_unsolicited_share|"
     "mean_pkt_size_in",
     ALERT_CATEGORY_AMPLIFICATION,
     {{"udp_unsolicited_share", '>', 0.5, NULL},
      {"src_ips", '>', 4, NULL},
      {"pkts_recv", '>', 100, NULL}}},
    /* Reflection of any protocol (TCP SYN-ACKs, UDP on a high service port such as
     * 37810): flows others started, hundreds of sources sending a packet or a few each,
     * all from a few source ports (the reflected service's), no SYN among them. A spoofed
     * flood draws a new source port per packet (src_ports near src_ips), and a busy
     * server's clients use ephemeral ports. Measured: both stopddos reflections
     * (../shared/pcaps-attacks) were named udpflood before this row. */
    {DST,
     "bytes_recv|pkts_recv|flows_in|src_ips|src_ports|pkts_per_src|mean_pkt_size_in",
     ALERT_CATEGORY_AMPLIFICATION,
     {{"pkts_recv", '>', 500, NULL},
      {"src_ips", '>', 100, NULL},
      {"src_ports", '<', 0.1, "src_ips"},
      {"pkts_per_src", '<', 10, NULL},
      {"syn_in", '<', 0.1, "flows_in"},
      {"icmp_share_in", '<', 0.5, NULL}}},
    /* A volume of ICMP. */
    {DST,
     "pkts_recv|bytes_recv|icmp_share_in|pkts_per_src|src_ips|mean_pkt_size_in|icmp_pkts_in",
     ALERT_CATEGORY_ICMPFLOOD,
     {{"pkts_recv", '>', 500, NULL}, {"icmp_share_in", '>', 0.5, NULL}}},
    /* A volume on flows others started, almost no SYN among them, not ICMP. */
    {DST,
     "pkts_recv|bytes_recv|flows_in|src_ips|src_ports|pkts_per_src|mean_pkt_size_in",
     ALERT_CATEGORY_UDPFLOOD,
     {{"pkts_recv", '>', 500, NULL},
      {"syn_in", '<', 0.1, "flows_in"},
      {"icmp_share_in", '<', 0.5, NULL}}},
    /* Repeated answered sessions from one or two sources, several packets each. */
    {DST,
     "flows_in|syn_in|src_ports|pkts_recv|bytes_recv",
     ALERT_CATEGORY_BRUTEFORCE,
     {{"flows_in", '>', 8, NULL},
      {"src_ips", '<', 3, NULL},
      {"syn_unanswered_share", '<', 0.5, NULL},
      {"syn_in", '<', 0.3, "pkts_recv"}}},

    /* ---- the conversation detectors' alerts (conv.c): named by the rule that fired ---- */
    {CATEGORY_SIDE_SOURCE, "beacon_interval_s|beacon_size_spread", ALERT_CATEGORY_BEACON, {{0}}},
    {CATEGORY_SIDE_SOURCE,
     "bruteforce_span_s|bruteforce_median_dur_s|bruteforce_median_dur_s_l7",
     ALERT_CATEGORY_BRUTEFORCE,
     {{0}}},
    {CATEGORY_SIDE_SOURCE, "exfil_limit_bytes|exfil_span_s", ALERT_CATEGORY_EXFIL, {{0}}},
    {CATEGORY_SIDE_SOURCE, "tunnel_pkt_size|tunnel_size_ratio", ALERT_CATEGORY_TUNNEL, {{0}}},
};

/* ---- severity: 1 most severe .. 3 (as Suricata's priority). docs/detection.md prints
 * the same table. "Ours" is the home net's side of the traffic (direction.c): the victim
 * for an attack on a victim (the traffic goes to the home net: inbound or internal), the
 * sender for a home host doing the harm (exfiltration, tunnels, beacons: outbound or
 * internal). A scan is reconnaissance, not harm yet; a forest-only anomaly names no
 * attack. Unknown direction counts as ours (the more severe). */
static const struct category_severity severities[] = {
    {ALERT_CATEGORY_SYNFLOOD, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_UDPFLOOD, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_ICMPFLOOD, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_AMPLIFICATION, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_WEBATTACK, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_BRUTEFORCE, CATEGORY_OURS_RECEIVER, 1, 2},
    {ALERT_CATEGORY_EXFIL, CATEGORY_OURS_SENDER, 1, 2},
    {ALERT_CATEGORY_TUNNEL, CATEGORY_OURS_SENDER, 2, 2},
    {ALERT_CATEGORY_BEACON, CATEGORY_OURS_SENDER, 2, 2},
    {ALERT_CATEGORY_PORTSCAN, CATEGORY_OURS_RECEIVER, 2, 2},
    {ALERT_CATEGORY_HOSTSCAN, CATEGORY_OURS_RECEIVER, 2, 2},
    /* anomaly: 3 from the forest alone; 2 when a learned limit, the denylist or a rate
     * fired (category_severity) */
    {ALERT_CATEGORY_ANOMALY, CATEGORY_OURS_RECEIVER, 3, 3},
};
_Static_assert(sizeof(severities) / sizeof(severities[0]) == ALERT_CATEGORY_COUNT,
               "one severity row per category");

const struct category_severity *category_severities(int *n)
{
    *n = (int)(sizeof(severities) / sizeof(severities[0]));
    return severities;
}

int category_severity(enum alert_category c, enum alert_detector d, enum alert_direction dir)
{
    for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++) {
        const struct category_severity *r = &severities[i];
        if (r->category != c)
            continue;
        bool ours = dir == ALERT_DIRECTION_UNKNOWN || dir == ALERT_DIRECTION_INTERNAL ||
                    (r->ours == CATEGORY_OURS_RECEIVER ? dir == ALERT_DIRECTION_INBOUND
                                                       : dir == ALERT_DIRECTION_OUTBOUND);
        int sev = ours ? r->sev_ours : r->sev_other;
        if (c == ALERT_CATEGORY_ANOMALY && d != ALERT_DETECTOR_FOREST)
            sev = 2;
        return sev;
    }
    return 3;
}

const struct category_rule *category_rules(int *n)
{
    *n = (int)(sizeof(rules) / sizeof(rules[0]));
    return rules;
}

/* True when name is one of the '|'-separated names of list. */
static bool in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !memcmp(p, name, n))
            return true;
        p += n + (bar ? 1 : 0);
    }
    return false;
}

static bool raw_value(const struct alert *al, const char *name, double *v)
{
    for (int i = 0; al->features && al->feature_names && i < al->n_features; i++)
        if (al->feature_names[i] && !strcmp(al->feature_names[i], name)) {
            *v = al->features[i];
            return true;
        }
    return false;
}

static bool conds_hold(const struct alert *al, const struct category_rule *r)
{
    for (int k = 0; k < CATEGORY_MAX_CONDS && r->cond[k].feature; k++) {
        const struct category_cond *c = &r->cond[k];
        double v, bound = c->value, per;
        if (!raw_value(al, c->feature, &v))
            return false;
        if (c->per) {
            if (!raw_value(al, c->per, &per))
                return false;
            bound *= per;
        }
        if (c->op == '>' ? !(v >= bound) : !(v < bound))
            return false;
    }
    return true;
}

enum alert_category category_of(const struct alert *al)
{
    unsigned side = 1u << al->side;
    int n = al->n_top < ALERT_TOP_FEATURES ? al->n_top : ALERT_TOP_FEATURES;
    for (int t = 0; t < n; t++)
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
            const struct category_rule *r = &rules[i];
            if ((r->sides & side) && in_list(r->fired, al->top[t].name) && conds_hold(al, r))
                return r->category;
        }
    return ALERT_CATEGORY_ANOMALY;
}
