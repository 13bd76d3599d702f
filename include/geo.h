/*
 * geo.h — geolocation through libmaxminddb, cached per IP.
 *
 * Several databases may be open at once (a country/city one and an ASN one); each lookup
 * asks all and merges what they know. Layouts read: GeoLite2/GeoIP2 `country.iso_code`,
 * `registered_country.iso_code`, `autonomous_system_number`,
 * `autonomous_system_organization`, and ip-location-db's top-level `country_code`.
 * Reserved addresses (ip_addr_is_reserved) are never looked up.
 */
#ifndef TAPIR_GEO_H
#define TAPIR_GEO_H

#include "tapir.h"

struct geo_info {
    char country[3]; /* ISO 3166 alpha-2, "" when unknown */
    uint32_t asn;    /* 0 when unknown */
    char as_org[48]; /* "" when unknown */
};

typedef struct geo geo_t;

/* Opens the given .mmdb files (n may be 0: every lookup then answers empty) and sizes a
 * cache of cache_entries IPs (rounded up to a power of two). Returns NULL and fills
 * errbuf on failure ("cannot open X.mmdb: not a MaxMind DB file"). */
geo_t *geo_create(const char *const *paths, int n, uint32_t cache_entries, char *errbuf);
void geo_destroy(geo_t *g);
/* Looks up (cached) ip. Never allocates after create. Owner thread only. */
void geo_lookup(geo_t *g, const struct ip_addr *ip, struct geo_info *out);
/* Lookups that reached the databases, that hit the cache, that failed. */
void geo_counters(const geo_t *g, uint64_t *lookups, uint64_t *hits, uint64_t *errors);

#endif
