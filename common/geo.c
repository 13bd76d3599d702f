/*
 * geo.c — libmaxminddb lookups behind a direct-mapped cache.
 *
 * A lookup walks the database's search tree and decodes a map: microseconds, too slow to
 * repeat per flow. The cache (power-of-two entries, one per slot, newest wins) answers
 * repeats in one hash probe with bounded memory; a collision only costs a re-lookup.
 * Rejected: an LRU list (two more pointers per entry for little gain on skewed traffic).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geo.h"

#define GEO_MAX_DBS 8

struct geo_slot {
    struct ip_addr ip;
    uint8_t valid;
    struct geo_info info;
};

struct geo {
    MMDB_s dbs[GEO_MAX_DBS];
    int n_dbs;
    struct geo_slot *cache;
    uint32_t mask;
    uint64_t seed;
    uint64_t lookups, hits, errors;
};

/* libmaxminddb's own messages give neither the system's reason for an open failure
 * ("Error opening the specified MaxMind DB file") nor what is wrong with an empty file or
 * a directory (mmap's "Invalid argument", "No such device"). */
static void open_error(const char *path, int st, int err, char *errbuf)
{
    const char *why = MMDB_strerror(st);
    struct stat sb;
    if (st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR) {
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            why = "is a directory";
        else if (stat(path, &sb) == 0 && sb.st_size == 0)
            why = "empty file, not a MaxMind DB file";
        else
            why = strerror(err);
    } else if (st == MMDB_INVALID_METADATA_ERROR) {
        why = "not a MaxMind DB file (no valid metadata section)";
    }
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: %s", path, why);
}

geo_t *geo_create(const char *const *paths, int n, uint32_t cache_entries, char *errbuf)
{
    if (n < 0 || n > GEO_MAX_DBS) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "at most %d geolocation databases", GEO_MAX_DBS);
        return NULL;
    }
    uint32_t sz = (uint32_t)tapir_pow2_size(cache_entries, 1, 1u << 24);
    const struct tapir_array arrays[] = {TAPIR_ARRAY(geo_t, cache, sz)};
    geo_t *g = tapir_table_alloc(sizeof(*g), arrays, TAPIR_NELEM(arrays), errbuf,
                                 "a geolocation cache of %u", sz);
    if (!g)
        return NULL;
    g->mask = sz - 1;
    g->seed = 0x67656f6c6f63ULL;
    for (int i = 0; i < n; i++) {
        int st = MMDB_open(paths[i], MMDB_MODE_MMAP, &g->dbs[i]);
        if (st != MMDB_SUCCESS) {
            open_error(paths[i], st, errno, errbuf);
            goto fail;
        }
        g->n_dbs++;
    }
    return g;
fail:
    geo_destroy(g);
    return NULL;
}

void geo_destroy(geo_t *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_dbs; i++)
        MMDB_close(&g->dbs[i]);
    free(g); /* and its cache: one block */
}

static void get_string(MMDB_entry_s *e, char *dst, size_t cap, const char *const *path)
{
    if (dst[0])
        return; /* an earlier database answered */
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return;
    const unsigned char *u = (const unsigned char *)d.utf8_string;
    size_t n = d.data_size < cap - 1 ? d.data_size : cap - 1;
    if (n < d.data_size) /* cut before a character, not inside one */
        while (n > 0 && (u[n] & 0xc0) == 0x80)
            n--;
    /* Control characters become '?'; bytes >= 0x80 are UTF-8 and stay ("Telefónica"). */
    for (size_t i = 0; i < n; i++)
        dst[i] = (u[i] >= 0x20 && u[i] != 0x7f) ? (char)u[i] : '?';
    dst[n] = '\0';
}

static void lookup_db(geo_t *g, MMDB_s *db, const struct ip_addr *ip, struct geo_info *out)
{
    if (!ip_addr_is_v4(ip) && db->metadata.ip_version == 4)
        return; /* an IPv4-only tree holds no IPv6 address: not found, not an error */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (ip_addr_is_v4(ip)) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip->b + 12, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip->b, 16);
    }
    int err = 0;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, (struct sockaddr *)&ss, &err);
    if (err != MMDB_SUCCESS) {
        g->errors++;
        return;
    }
    if (!r.found_entry)
        return;
    static const char *const p_country[] = {"country", "iso_code", NULL};
    static const char *const p_reg_country[] = {"registered_country", "iso_code", NULL};
    static const char *const p_cc[] = {"country_code", NULL};
    static const char *const p_asorg[] = {"autonomous_system_organization", NULL};
    static const char *const p_asn[] = {"autonomous_system_number", NULL};
    char cc[8] = "";
    get_string(&r.entry, cc, sizeof(cc), p_country);
    get_string(&r.entry, cc, sizeof(cc), p_reg_country);
    get_string(&r.entry, cc, sizeof(cc), p_cc);
    if (!out->country[0] && strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' &&
        cc[1] <= 'Z')
        memcpy(out->country, cc, 3);
    get_string(&r.entry, out->as_org, sizeof(out->as_org), p_asorg);
    if (!out->asn) {
        MMDB_entry_data_s d;
        if (MMDB_aget_value(&r.entry, &d, p_asn) == MMDB_SUCCESS && d.has_data) {
            if (d.type == MMDB_DATA_TYPE_UINT32)
                out->asn = d.uint32;
            else if (d.type == MMDB_DATA_TYPE_UINT16)
                out->asn = d.uint16;
            else if (d.type == MMDB_DATA_TYPE_UINT64)
                out->asn = (uint32_t)d.uint64;
        }
    }
}

void geo_lookup(geo_t *g, const struct ip_addr *ip, struct geo_info *out)
{
    memset(out, 0, sizeof(*out));
    if (g->n_dbs == 0 || ip_addr_is_reserved(ip))
        return;
    struct geo_slot *s = &g->cache[tapir_ip_hash(ip, g->seed) & g->mask];
    if (s->valid && !memcmp(s->ip.b, ip->b, 16)) {
        g->hits++;
        *out = s->info;
        return;
    }
    g->lookups++;
    for (int i = 0; i < g->n_dbs; i++)
        lookup_db(g, &g->dbs[i], ip, out);
    s->ip = *ip;
    s->info = *out;
    s->valid = 1;
}

void geo_counters(const geo_t *g, uint64_t *lookups, uint64_t *hits, uint64_t *errors)
{
    *lookups = g->lookups;
    *hits = g->hits;
    *errors = g->errors;
}
