/*
 * blocklist.h — the firewall blocklist built from stored alerts (docs/rules.md,
 * "Blocklist"): every IP or prefix with an alert in the last expire seconds, each with
 * the time left until it expires, minus anything that overlaps the allowlist, written
 * atomically as an nftables script, an ipset restore file or plain CIDRs.
 */
#ifndef TAPIR_BLOCKLIST_H
#define TAPIR_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "store.h"

enum blocklist_format { BLOCKLIST_NFT = 0, BLOCKLIST_IPSET = 1, BLOCKLIST_PLAIN = 2 };

#define BLOCKLIST_DEFAULT_EXPIRE_S  86400
#define BLOCKLIST_DEFAULT_ALLOWLIST "/etc/tapir/rules/allowlist"

struct blocklist_entry {
    struct ip_addr ip;   /* network address, masked */
    unsigned prefix_len; /* in the 128-bit form */
    uint64_t expires_us; /* last alert + expire */
    double score;        /* highest score among its alerts */
};

struct blocklist {
    struct blocklist_entry *v;
    size_t n, cap;
    size_t dropped_allowlisted; /* entries left out because they overlap the allowlist */
    size_t merged;              /* entries folded into a wider flagged prefix */
};

/* "nft", "ipset" or "plain". Returns 0 or -1. */
int blocklist_parse_format(const char *s, enum blocklist_format *f);

/* Fills b (zeroed by the caller) from the alerts in s with score >= min_score whose
 * expiry (last alert + expire_s) is after now_us, leaving out what overlaps allow's
 * allowlist (allow may be NULL), folding addresses inside a flagged prefix into it.
 * Sorted by address. Returns 0 or -1 with errbuf filled. */
int blocklist_build(struct blocklist *b, store_t *s, const rules_t *allow, double min_score,
                    uint64_t expire_s, uint64_t now_us, char *errbuf);
void blocklist_free(struct blocklist *b);

/* Writes the list in format f to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. path "-" writes to stdout. Timeouts
 * are the time left from now_us; expire_s is the ipset sets' default timeout. */
int blocklist_write(const struct blocklist *b, enum blocklist_format f, const char *path,
                    uint64_t now_us, uint64_t expire_s, char *errbuf);

#endif
