/*
 * test_incident.c — analyzer/incident.c (open, update at most once a window while the
 * incident grows, end after quiet windows, ids going on, a full table evicting the least
 * recently seen), analyzer/direction.c (peers' majority, the fallback, a window's flow
 * records) and category.c's severity table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "category.h"
#include "check.h"
#include "incident.h"

#define W  60000000ULL         /* a window, us */
#define T0 1767225600000000ULL /* 2026-01-01T00:00:00Z */

static struct alert ended[64];
static int n_ended;

static void on_end(void *ctx, struct alert *al)
{
    (void)ctx;
    if (n_ended < 64)
        ended[n_ended++] = *al;
}

/* An alert in window k (0-based from T0) on ip. */
static void mk(struct alert *al, const char *ip, int k, enum alert_category c,
               enum alert_detector d, double score)
{
    memset(al, 0, sizeof(*al));
    ip_addr_parse(ip, &al->ip);
    al->prefix_len = 128;
    al->side = ALERT_SIDE_SOURCE;
    al->category = c;
    al->detector = d;
    al->score = score;
    al->window_start_us = T0 + (uint64_t)k * W;
    al->window_end_us = al->window_start_us + W;
    al->timestamp_us = al->window_end_us;
}

static rules_t *home(void)
{
    char err[TAPIR_ERRBUF_SIZE];
    rules_t *r = rules_netset("10.0.0.0/8,fd00::/8", "home", err);
    if (!r)
        printf("  %s\n", err);
    return r;
}

TEST(open_update_end)
{
    char err[TAPIR_ERRBUF_SIZE];
    rules_t *h = home();
    n_ended = 0;
    incident_t *t = incident_create(64, 1, 41, h, "gw1", on_end, NULL, err);
    CHECK(t != NULL);
    struct alert a;
    /* window 0: opens */
    mk(&a, "198.51.100.7", 0, ALERT_CATEGORY_PORTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    CHECK_STR(a.event_type, "alert");
    CHECK_EQ(a.incident_id, 41);
    CHECK_STR(a.sensor, "gw1");
    CHECK_EQ(a.direction, ALERT_DIRECTION_INBOUND); /* away, source side: into the home net */
    CHECK_EQ(a.severity, 2);
    CHECK_EQ(a.incident.windows, 1);
    /* the same window again, even with a new detector: merged (one event a window) */
    mk(&a, "198.51.100.7", 0, ALERT_CATEGORY_PORTSCAN, ALERT_DETECTOR_FOREST, 0.95);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_MERGED);
    CHECK_EQ(a.incident_id, 41);
    /* another category: another incident */
    mk(&a, "198.51.100.7", 0, ALERT_CATEGORY_SYNFLOOD, ALERT_DETECTOR_LIMIT, 0.9);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    CHECK_EQ(a.incident_id, 42);
    incident_window_close(t, T0 + W, 2);
    /* window 1: the portscan grows (new window): an update */
    mk(&a, "198.51.100.7", 1, ALERT_CATEGORY_PORTSCAN, ALERT_DETECTOR_LIMIT, 0.8);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    CHECK_STR(a.event_type, "update");
    CHECK_EQ(a.incident.windows, 2);
    CHECK_EQ(a.incident.alerts, 3);
    CHECK_EQ(a.incident.detectors, (1u << ALERT_DETECTOR_LIMIT) | (1u << ALERT_DETECTOR_FOREST));
    CHECK_NEAR(a.incident.peak_score, 0.95, 1e-12);
    CHECK_EQ(a.incident.start_us, T0);
    CHECK_EQ(a.incident.last_us, T0 + 2 * W);
    incident_window_close(t, T0 + 2 * W, 2);
    CHECK_EQ(n_ended, 0); /* the synflood: one quiet window so far */
    incident_window_close(t, T0 + 3 * W, 2);
    CHECK_EQ(n_ended, 1); /* the synflood: two quiet windows */
    CHECK_STR(ended[0].event_type, "end");
    CHECK_EQ(ended[0].incident_id, 42);
    CHECK_EQ(ended[0].incident.end_us, T0 + 3 * W);
    CHECK_EQ(ended[0].category, ALERT_CATEGORY_SYNFLOOD);
    CHECK_EQ(incident_active(t), 1);
    incident_window_close(t, T0 + 4 * W, 2);
    CHECK_EQ(n_ended, 2);
    CHECK_EQ(ended[1].incident_id, 41);
    CHECK_EQ(ended[1].incident.windows, 2);
    CHECK_NEAR(ended[1].score, 0.8, 1e-12); /* its last alert */
    /* after the end, the same key opens a new incident with the next id */
    mk(&a, "198.51.100.7", 5, ALERT_CATEGORY_PORTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    CHECK_STR(a.event_type, "alert");
    CHECK_EQ(a.incident_id, 43);
    struct incident_stats st;
    incident_get_stats(t, &st);
    CHECK_EQ(st.opened, 3);
    CHECK_EQ(st.updates, 1);
    CHECK_EQ(st.merged, 1);
    CHECK_EQ(st.ended, 2);
    CHECK_EQ(st.active, 1);
    incident_flush(t, T0 + 6 * W);
    CHECK_EQ(n_ended, 3);
    CHECK_EQ(incident_active(t), 0);
    incident_destroy(t);
    rules_destroy(h);
}

/* Mid-window (a per-second rate alert): an update only when it grows, once a window. */
TEST(mid_window_and_growth)
{
    char err[TAPIR_ERRBUF_SIZE];
    n_ended = 0;
    incident_t *t = incident_create(16, 2, 1, NULL, "", on_end, NULL, err);
    struct alert a;
    mk(&a, "10.0.0.5", 0, ALERT_CATEGORY_SYNFLOOD, ALERT_DETECTOR_RATE, 0.5);
    a.side = ALERT_SIDE_DESTINATION;
    CHECK_EQ(incident_observe(t, &a, T0 + 2000000), INCIDENT_EMIT);
    for (int s = 3; s < 10; s++) {
        a.score = 0.5 + s / 100.0;
        CHECK_EQ(incident_observe(t, &a, T0 + (uint64_t)s * 1000000), INCIDENT_MERGED);
    }
    incident_window_close(t, T0 + W, 2);
    /* next window: same score, same detector: still grows (a new window) */
    a.score = 0.5;
    CHECK_EQ(incident_observe(t, &a, T0 + W + 1000000), INCIDENT_EMIT);
    CHECK_STR(a.event_type, "update");
    /* no peers, no home net: the victim is away, so its senders count as home: outbound */
    CHECK_EQ(a.direction, ALERT_DIRECTION_OUTBOUND);
    incident_destroy(t);
    incident_destroy(NULL);
}

/* A full table ends the least recently seen incident to make room, and counts it. */
TEST(capacity_evicts_oldest)
{
    char err[TAPIR_ERRBUF_SIZE];
    n_ended = 0;
    incident_t *t = incident_create(16, 3, 1, NULL, "", on_end, NULL, err);
    struct alert a;
    char ip[32];
    for (int i = 0; i < 16; i++) {
        snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
        mk(&a, ip, i, ALERT_CATEGORY_HOSTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
        CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    }
    CHECK_EQ(incident_active(t), 16);
    /* 192.0.2.1 seen again: now 192.0.2.2 is the least recently seen */
    incident_window_close(t, T0 + 16 * W, 100);
    mk(&a, "192.0.2.1", 16, ALERT_CATEGORY_HOSTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    mk(&a, "192.0.2.200", 16, ALERT_CATEGORY_HOSTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
    CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
    CHECK_EQ(a.incident_id, 17);
    CHECK_EQ(n_ended, 1);
    char got[64];
    ip_addr_str(&ended[0].ip, got, sizeof(got));
    CHECK_STR(got, "192.0.2.2");
    struct incident_stats st;
    incident_get_stats(t, &st);
    CHECK_EQ(st.evicted, 1);
    CHECK_EQ(st.active, 16);
    /* every open one is still found after the deletions (backward shift) */
    incident_window_close(t, T0 + 17 * W, 100);
    for (int i = 0; i < 16; i++) {
        if (i == 1)
            continue;
        snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
        mk(&a, ip, 17, ALERT_CATEGORY_HOSTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
        CHECK_EQ(incident_observe(t, &a, a.window_end_us), INCIDENT_EMIT);
        CHECK_STR(a.event_type, "update");
    }
    incident_get_stats(t, &st);
    CHECK_EQ(st.evicted, 1);
    /* many come and go: the table never loses one */
    for (int round = 0; round < 50; round++) {
        incident_window_close(t, T0 + (uint64_t)(18 + round) * W, 1);
        for (int i = 0; i < 10; i++) {
            snprintf(ip, sizeof(ip), "198.51.100.%d", (round * 7 + i) % 250 + 1);
            mk(&a, ip, 18 + round, ALERT_CATEGORY_HOSTSCAN, ALERT_DETECTOR_LIMIT, 0.9);
            incident_observe(t, &a, a.window_end_us);
        }
        CHECK_LE(incident_active(t), 16);
    }
    incident_destroy(t);
}

TEST(direction)
{
    /* peers decide */
    CHECK_EQ(incident_direction(true, ALERT_SIDE_SOURCE, 9, 1), ALERT_DIRECTION_INTERNAL);
    CHECK_EQ(incident_direction(true, ALERT_SIDE_SOURCE, 1, 9), ALERT_DIRECTION_OUTBOUND);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_SOURCE, 5, 0), ALERT_DIRECTION_INBOUND);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_SOURCE, 0, 5), ALERT_DIRECTION_EXTERNAL);
    CHECK_EQ(incident_direction(true, ALERT_SIDE_DESTINATION, 0, 300), ALERT_DIRECTION_INBOUND);
    CHECK_EQ(incident_direction(true, ALERT_SIDE_DESTINATION, 3, 0), ALERT_DIRECTION_INTERNAL);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_DESTINATION, 3, 1), ALERT_DIRECTION_OUTBOUND);
    CHECK_EQ(incident_direction(true, ALERT_SIDE_PREFIX, 2, 1), ALERT_DIRECTION_INTERNAL);
    /* no peers (or a tie): crossing the edge */
    CHECK_EQ(incident_direction(true, ALERT_SIDE_SOURCE, 0, 0), ALERT_DIRECTION_OUTBOUND);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_SOURCE, 2, 2), ALERT_DIRECTION_INBOUND);
    CHECK_EQ(incident_direction(true, ALERT_SIDE_DESTINATION, 0, 0), ALERT_DIRECTION_INBOUND);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_DESTINATION, 0, 0), ALERT_DIRECTION_OUTBOUND);
}

/* The peers of a window's flow records, per IP and per prefix. */
TEST(peers_of_a_window)
{
    rules_t *h = home();
    struct flow_record fr[6];
    memset(fr, 0, sizeof(fr));
    const char *pairs[6][2] = {
        {"203.0.113.9", "10.0.0.1"},     {"203.0.113.9", "10.0.0.2"}, {"203.0.113.9", "10.0.0.3"},
        {"203.0.113.9", "198.51.100.1"}, {"10.0.0.1", "203.0.113.9"}, {"10.0.0.7", "10.0.0.1"},
    };
    for (int i = 0; i < 6; i++) {
        ip_addr_parse(pairs[i][0], &fr[i].init);
        ip_addr_parse(pairs[i][1], &fr[i].resp);
    }
    struct window w = {.start_us = T0, .end_us = T0 + W, .seq = 0, .n_flows = 6, .flows = fr};
    peers_t *p = peers_create(7);
    uint64_t nh, na;
    struct ip_addr ip;
    ip_addr_parse("203.0.113.9", &ip);
    peers_count(p, &w, h, &ip, 128, ALERT_SIDE_SOURCE, &nh, &na);
    CHECK_EQ(nh, 3);
    CHECK_EQ(na, 1);
    CHECK_EQ(incident_direction(false, ALERT_SIDE_SOURCE, nh, na), ALERT_DIRECTION_INBOUND);
    ip_addr_parse("10.0.0.1", &ip);
    peers_count(p, &w, h, &ip, 128, ALERT_SIDE_DESTINATION, &nh, &na);
    CHECK_EQ(nh, 1); /* 10.0.0.7 */
    CHECK_EQ(na, 1); /* 203.0.113.9 */
    peers_count(p, &w, h, &ip, 128, ALERT_SIDE_SOURCE, &nh, &na);
    CHECK_EQ(nh, 0);
    CHECK_EQ(na, 1);
    ip_addr_parse("192.0.2.1", &ip); /* not in the window */
    peers_count(p, &w, h, &ip, 128, ALERT_SIDE_SOURCE, &nh, &na);
    CHECK_EQ(nh + na, 0);
    ip_addr_parse("203.0.113.0", &ip);
    peers_count(p, &w, h, &ip, 120, ALERT_SIDE_PREFIX, &nh, &na); /* a /24 */
    CHECK_EQ(nh, 3);
    CHECK_EQ(na, 1);
    /* a window's first alerts scan its records, later ones probe its tally: same counts */
    for (int k = 0; k < 12; k++) {
        ip_addr_parse(k % 2 ? "10.0.0.1" : "203.0.113.9", &ip);
        peers_count(p, &w, h, &ip, 128, k % 2 ? ALERT_SIDE_DESTINATION : ALERT_SIDE_SOURCE, &nh,
                    &na);
        CHECK_EQ(nh, k % 2 ? 1 : 3);
        CHECK_EQ(na, 1);
    }
    /* a new window is tallied anew */
    w.seq = 1;
    w.n_flows = 1;
    ip_addr_parse("203.0.113.9", &ip);
    peers_count(p, &w, h, &ip, 128, ALERT_SIDE_SOURCE, &nh, &na);
    CHECK_EQ(nh, 1);
    CHECK_EQ(na, 0);
    CHECK_EQ(peers_overflow(p), 0);
    peers_destroy(p);
    peers_destroy(NULL);
    rules_destroy(h);
}

/* peers_count against a plain count (ip_addr_mask and rules_allowed per record) for
 * prefixes of every length class (under, at and over 64 bits, v4 and v6) and host alerts
 * on both sides, over two windows: the 64-bit prefix masks and the home-flag memo (more
 * peers than its slots, so they collide) change no count. */
TEST(peers_match_a_plain_count)
{
    rules_t *h = home();
    enum { N = 1500 };
    struct flow_record *fr = calloc(N, sizeof(*fr));
    CHECK(fr != NULL);
    if (!fr)
        return;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char a[64], b[64];
        if (i % 3 == 2) {
            snprintf(a, sizeof(a), "fd00:%x::%x", (unsigned)(x & 3), (unsigned)((x >> 8) & 0xff));
            snprintf(b, sizeof(b), "%s:%x::%x", (x >> 20) & 1 ? "fd00" : "2001",
                     (unsigned)((x >> 24) & 3), (unsigned)((x >> 28) & 0x3ff));
        } else {
            snprintf(a, sizeof(a), "10.0.%u.%u", (unsigned)(x & 1), (unsigned)((x >> 4) & 7));
            snprintf(b, sizeof(b), "%s.%u.%u", (x >> 20) & 1 ? "10.1" : "203.0",
                     (unsigned)((x >> 24) & 7), (unsigned)((x >> 32) & 0xff));
        }
        ip_addr_parse(a, &fr[i].init);
        ip_addr_parse(b, &fr[i].resp);
    }
    struct window w = {.start_us = T0, .end_us = T0 + W, .seq = 0, .n_flows = N, .flows = fr};
    peers_t *p = peers_create(7);
    const unsigned lens[] = {8, 16, 40, 63, 64, 65, 96, 104, 118, 120, 127};
    for (int win = 0; win < 2; win++) {
        w.seq = (uint64_t)win;
        w.start_us = T0 + (uint64_t)win * W;
        for (int q = 0; q < N; q += 97) {
            for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
                struct ip_addr net = fr[q].init;
                ip_addr_mask(&net, lens[l]);
                uint64_t rh = 0, ra = 0, nh, na;
                for (int i = 0; i < N; i++) {
                    struct ip_addr m = fr[i].init;
                    ip_addr_mask(&m, lens[l]);
                    if (!memcmp(m.b, net.b, 16))
                        (*(rules_allowed(h, &fr[i].resp) ? &rh : &ra))++;
                }
                peers_count(p, &w, h, &fr[q].init, (uint8_t)lens[l], ALERT_SIDE_PREFIX, &nh, &na);
                CHECK_EQ(nh, rh);
                CHECK_EQ(na, ra);
            }
            for (int role = 0; role < 2; role++) {
                const struct ip_addr *ip = role ? &fr[q].resp : &fr[q].init;
                uint64_t rh = 0, ra = 0, nh, na;
                for (int i = 0; i < N; i++)
                    if (!memcmp((role ? &fr[i].resp : &fr[i].init)->b, ip->b, 16))
                        (*(rules_allowed(h, role ? &fr[i].init : &fr[i].resp) ? &rh : &ra))++;
                peers_count(p, &w, h, ip, 128, role ? ALERT_SIDE_DESTINATION : ALERT_SIDE_SOURCE,
                            &nh, &na);
                CHECK_EQ(nh, rh);
                CHECK_EQ(na, ra);
            }
        }
    }
    peers_destroy(p);
    free(fr);
    rules_destroy(h);
}

TEST(severity_table)
{
    int n;
    const struct category_severity *t = category_severities(&n);
    CHECK_EQ(n, ALERT_CATEGORY_COUNT);
    for (int i = 0; i < n; i++) {
        CHECK(t[i].sev_ours >= 1 && t[i].sev_ours <= 3);
        CHECK(t[i].sev_other >= t[i].sev_ours && t[i].sev_other <= 3);
    }
    /* attacks on a home victim */
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_SYNFLOOD, ALERT_DETECTOR_LIMIT, ALERT_DIRECTION_INBOUND),
        1);
    CHECK_EQ(category_severity(ALERT_CATEGORY_AMPLIFICATION, ALERT_DETECTOR_RATE,
                               ALERT_DIRECTION_INTERNAL),
             1);
    CHECK_EQ(category_severity(ALERT_CATEGORY_BRUTEFORCE, ALERT_DETECTOR_CONVERSATION,
                               ALERT_DIRECTION_OUTBOUND),
             2); /* our host attacking someone else */
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_WEBATTACK, ALERT_DETECTOR_RISK, ALERT_DIRECTION_INBOUND),
        1);
    /* a home host doing the harm */
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_EXFIL, ALERT_DETECTOR_LIMIT, ALERT_DIRECTION_OUTBOUND), 1);
    CHECK_EQ(category_severity(ALERT_CATEGORY_EXFIL, ALERT_DETECTOR_LIMIT, ALERT_DIRECTION_INBOUND),
             2);
    CHECK_EQ(category_severity(ALERT_CATEGORY_BEACON, ALERT_DETECTOR_CONVERSATION,
                               ALERT_DIRECTION_OUTBOUND),
             2);
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_PORTSCAN, ALERT_DETECTOR_LIMIT, ALERT_DIRECTION_INBOUND),
        2);
    /* anomalies: the forest alone 3, anything stronger 2 */
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_ANOMALY, ALERT_DETECTOR_FOREST, ALERT_DIRECTION_INBOUND),
        3);
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_ANOMALY, ALERT_DETECTOR_LIMIT, ALERT_DIRECTION_EXTERNAL),
        2);
    CHECK_EQ(
        category_severity(ALERT_CATEGORY_ANOMALY, ALERT_DETECTOR_DENYLIST, ALERT_DIRECTION_UNKNOWN),
        2);
}

int main(void)
{
    RUN(open_update_end);
    RUN(mid_window_and_growth);
    RUN(capacity_evicts_oldest);
    RUN(direction);
    RUN(peers_of_a_window);
    RUN(peers_match_a_plain_count);
    RUN(severity_table);
    return CHECK_DONE();
}
