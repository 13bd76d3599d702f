/*
 * mkfixture_db.c — writes a small Tapir database through the store API, for the HTTP
 * end-to-end test and for looking at the dashboard: `mkfixture_db DB [N]` stores N
 * alerts (default 12) over N windows of 60 s from 2023-11-14T22:00:00Z, on a handful of
 * hosts, every side, several countries, and one hostile as_org string (markup and an
 * escape sequence) that the dashboard must show as text. Deterministic: same N, same
 * database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "store.h"

#define FIXTURE_T0_US  1699999200000000ull /* 2023-11-14T22:00:00Z */
#define FIXTURE_WIN_US 60000000ull

struct fixture_host {
    const char *ip;
    const char *country;
    uint32_t asn;
    const char *as_org;
};

static const struct fixture_host hosts[] = {
    {"192.0.2.7", "NL", 64500, "Example Transit B.V."},
    {"198.51.100.23", "US", 64501, "<img src=x onerror=alert(1)>\x1b[31m Hostile \"Org\""},
    {"203.0.113.9", "DE", 64502, "Documentation Networks GmbH"},
    {"10.1.2.3", "", 0, ""},
    {"2001:db8::5", "FR", 64503, "IPv6 Example SA"},
};
#define N_HOSTS (sizeof(hosts) / sizeof(hosts[0]))

static const char *const feature_names[] = {"dst_ports",   "syn_unanswered_share", "flows",
                                            "dst_ips",     "bytes_sent",           "dns_queries",
                                            "beacon_score"};
#define N_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: mkfixture_db DB [N]\n");
        return 2;
    }
    int n = argc == 3 ? atoi(argv[2]) : 12;
    if (n < 0 || n > 100000) {
        fprintf(stderr, "mkfixture_db: bad N\n");
        return 2;
    }
    char errbuf[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open(argv[1], errbuf);
    if (!s) {
        fprintf(stderr, "mkfixture_db: %s\n", errbuf);
        return 1;
    }
    int64_t run_id;
    if (store_run_begin(s, "mkfixture_db", "fixture", FIXTURE_T0_US, &run_id) < 0)
        goto fail;
    if (store_model_add(s, "fixture-model", FIXTURE_T0_US, NULL, "fixture", (int)N_FEATURES, 0.6) <
        0)
        goto fail;
    double vec[N_FEATURES];
    for (int i = 0; i < n; i++) {
        const struct fixture_host *fh = &hosts[(i * 7 + i / 3) % N_HOSTS];
        uint64_t start = FIXTURE_T0_US + (uint64_t)i * FIXTURE_WIN_US;
        struct alert a = {0};
        a.timestamp_us = start + FIXTURE_WIN_US;
        a.window_start_us = start;
        a.window_end_us = a.timestamp_us;
        a.event_type = "alert";
        a.detector = i % 5 == 4 ? ALERT_DETECTOR_LIMIT : ALERT_DETECTOR_FOREST;
        a.category =
            (enum alert_category)(i % 3 ? ALERT_CATEGORY_ANOMALY : i % ALERT_CATEGORY_COUNT);
        a.side = i % 4 == 3 ? ALERT_SIDE_DESTINATION : ALERT_SIDE_SOURCE;
        if (ip_addr_parse(fh->ip, &a.ip) < 0)
            goto fail;
        a.prefix_len = 128;
        if (i % 6 == 5) { /* a prefix alert on the host's /24 (v4) or /64 (v6) */
            a.side = ALERT_SIDE_PREFIX;
            a.prefix_len = ip_addr_is_v4(&a.ip) ? 120 : 64;
            ip_addr_mask(&a.ip, a.prefix_len);
        }
        a.score = 0.60 + 0.035 * ((i * 5) % 11);
        a.threshold = 0.6;
        snprintf(a.geo.country, sizeof(a.geo.country), "%s", fh->country);
        a.geo.asn = fh->asn;
        snprintf(a.geo.as_org, sizeof(a.geo.as_org), "%s", fh->as_org);
        snprintf(a.l7, sizeof(a.l7), "%s", i % 2 ? "TLS,DNS" : "HTTP");
        snprintf(a.model_id, sizeof(a.model_id), "fixture-model");
        a.n_top = ALERT_TOP_FEATURES;
        for (int k = 0; k < a.n_top; k++) {
            int fi = (i + k * 2) % (int)N_FEATURES;
            snprintf(a.top[k].name, sizeof(a.top[k].name), "%s", feature_names[fi]);
            a.top[k].value = 10.0 * (i + 1) * (k + 1);
            a.top[k].baseline = 1.5 * (k + 1);
            a.top[k].contribution = 0.5 / (k + 1);
        }
        for (size_t k = 0; k < N_FEATURES; k++)
            vec[k] = (double)(i + k);
        a.n_features = (int)N_FEATURES;
        a.features = vec;
        a.feature_names = feature_names;
        if (store_window_begin(s) < 0)
            goto fail;
        for (size_t k = 0; k < N_HOSTS; k++) {
            struct ip_addr hip;
            struct geo_info g = {0};
            ip_addr_parse(hosts[k].ip, &hip);
            snprintf(g.country, sizeof(g.country), "%s", hosts[k].country);
            g.asn = hosts[k].asn;
            snprintf(g.as_org, sizeof(g.as_org), "%s", hosts[k].as_org);
            double score = &hosts[k] == fh ? a.score : 0.35 + 0.02 * (double)k;
            if (store_host_seen(s, &hip, start, a.window_end_us, &g, score) < 0)
                goto fail;
        }
        if (store_window_add(s, run_id, &a) < 0 || store_alert_add(s, run_id, &a) < 0 ||
            store_window_commit(s) < 0)
            goto fail;
    }
    if (store_run_end(s, run_id, FIXTURE_T0_US + (uint64_t)n * FIXTURE_WIN_US, 1000, 100000,
                      (uint64_t)n, (uint64_t)n, 0) < 0)
        goto fail;
    store_close(s);
    return 0;
fail:
    fprintf(stderr, "mkfixture_db: %s\n", store_errmsg(s));
    store_close(s);
    return 1;
}
