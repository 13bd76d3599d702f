/*
 * geo_check — runs geo_create/geo_lookup/geo_counters on given databases and addresses
 * and prints what they answer, for tests/e2e/geo_*.sh to compare with expectations.
 *
 * Usage: geo_check [--cache N] [DB.mmdb...] -- IP...
 * One line per IP, in argument order (an IP given twice is looked up twice):
 *   IP CC ASN lookups=L hits=H errors=E org=AS_ORG
 * with "-" for an empty country, ASN 0 or empty organisation, and the counters as they
 * stand after that lookup, so a test sees which lookups reached the databases.
 * geo_create failing prints "geo_create: <errbuf>" on stderr and exits 2.
 * Rejected: expectations as arguments (the test scripts keep them as text, and diff
 * shows the whole picture when one is wrong).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo.h"

static int usage(void)
{
    fprintf(stderr, "usage: geo_check [--cache N] [DB.mmdb...] -- IP...\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint32_t cache = 1024;
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "--cache")) {
        char *end;
        unsigned long v = strtoul(argv[i + 1], &end, 10);
        if (*end || v == 0 || v > (1ul << 24))
            return usage();
        cache = (uint32_t)v;
        i += 2;
    }
    int first_db = i;
    while (i < argc && strcmp(argv[i], "--"))
        i++;
    if (i == argc)
        return usage();
    int n_dbs = i - first_db;
    int first_ip = i + 1;

    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    geo_t *g = geo_create((const char *const *)argv + first_db, n_dbs, cache, errbuf);
    if (!g) {
        fprintf(stderr, "geo_create: %s\n", errbuf);
        return 2;
    }
    int rc = 0;
    for (i = first_ip; i < argc; i++) {
        struct ip_addr ip;
        if (ip_addr_parse(argv[i], &ip) < 0) {
            fprintf(stderr, "geo_check: not an IP address: %s\n", argv[i]);
            rc = 2;
            break;
        }
        struct geo_info gi;
        memset(&gi, 0x5a, sizeof(gi)); /* geo_lookup must fill every field */
        geo_lookup(g, &ip, &gi);
        if (!memchr(gi.country, '\0', sizeof(gi.country)) ||
            !memchr(gi.as_org, '\0', sizeof(gi.as_org))) {
            printf("%s unterminated string in geo_info\n", argv[i]);
            rc = 1;
            continue;
        }
        uint64_t lookups, hits, errors;
        geo_counters(g, &lookups, &hits, &errors);
        char asn[16] = "-";
        if (gi.asn)
            snprintf(asn, sizeof(asn), "%u", gi.asn);
        printf("%s %s %s lookups=%llu hits=%llu errors=%llu org=%s\n", argv[i],
               gi.country[0] ? gi.country : "-", asn, (unsigned long long)lookups,
               (unsigned long long)hits, (unsigned long long)errors,
               gi.as_org[0] ? gi.as_org : "-");
    }
    geo_destroy(g);
    return rc;
}
