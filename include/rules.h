/*
 * rules.h — operator rules: allowlist, denylist and per-subnet thresholds (docs/rules.md).
 *
 * A rules_t holds three lists of networks. Each list is kept as one sorted array of
 * masked addresses per prefix length present, so a lookup is one binary search per
 * distinct length (typically a handful), whatever the number of entries.
 * A rules_t is built once (load), then only read: lookups may run on any thread as long
 * as nobody loads into it at the same time. To reload, build a new one and swap.
 */
#ifndef TAPIR_RULES_H
#define TAPIR_RULES_H

#include <stdbool.h>

#include "tapir.h"

typedef struct rules rules_t;

enum rules_list { RULES_ALLOW = 0, RULES_DENY = 1, RULES_THRESHOLD = 2 };

/* An empty rule set (nothing allowed, nothing denied). NULL only when out of memory. */
rules_t *rules_create(void);
void rules_destroy(rules_t *r); /* NULL is a no-op */

/* Reads one rules file into the given list. Allowlist and denylist lines hold one CIDR or
 * bare IP; threshold lines are "threshold CIDR SCORE". '#' starts a comment; blank lines
 * are skipped. On a bad line returns -1 and fills errbuf with "FILE:LINE: what is wrong".
 * A missing file is an error unless missing_ok. */
int rules_load_file(rules_t *r, enum rules_list which, const char *path, bool missing_ok,
                    char *errbuf);
/* Loads DIR/allowlist, DIR/denylist and DIR/thresholds, each optional. */
int rules_load_dir(rules_t *r, const char *dir, char *errbuf);
/* Adds one network ("10.0.0.0/8", "2001:db8::1"); threshold is used for RULES_THRESHOLD
 * only. Returns 0, or -1 if cidr does not parse. */
int rules_add(rules_t *r, enum rules_list which, const char *cidr, double threshold);

/* Whether ip lies in a network of the allowlist / denylist. */
bool rules_allowed(const rules_t *r, const struct ip_addr *ip);
bool rules_denied(const rules_t *r, const struct ip_addr *ip);
/* Whether the network ip/prefix_len (128-bit form) overlaps any network of the list:
 * contains one of its entries or lies inside one. The blocklist uses this so that a
 * flagged /24 holding one allowlisted host is not listed. */
bool rules_overlaps(const rules_t *r, enum rules_list which, const struct ip_addr *ip,
                    unsigned prefix_len);
/* Longest-prefix match in the thresholds list: true and *threshold set, or false. */
bool rules_threshold(const rules_t *r, const struct ip_addr *ip, double *threshold);
/* A network set (--home-net): a rules_t whose allow list holds the networks of a
 * comma-separated list ("10.0.0.0/8,fc00::/7"); rules_allowed() asks membership. NULL
 * with errbuf ("--home-net: 'x' is not a network") on a bad entry or an empty list. */
rules_t *rules_netset(const char *list, const char *what, char *errbuf);
/* Suricata's HOME_NET default: RFC 1918, RFC 4193 and link-local. */
#define RULES_HOME_NET_DEFAULT                                                                     \
    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,169.254.0.0/16,fe80::/10"

/* Host groups (the thresholds file's "rate CIDR KEY PPS..." lines, docs/rules.md): flood
 * limits of their own for a network, as FastNetMon's hostgroups. pps[] follows window.h's
 * enum rate_kind (syn, udp, icmp, amp); 0: the default limit. */
#define RULES_RATE_GROUPS_MAX 64
#define RULES_RATE_KINDS      4
struct rules_rate_group {
    struct ip_addr net;           /* masked network */
    uint8_t prefix_len;           /* in the 128-bit form */
    double pps[RULES_RATE_KINDS]; /* packets per second, 0: not set */
};
/* The groups in file order; *out borrowed from r. */
size_t rules_rate_groups(const rules_t *r, const struct rules_rate_group **out);

/* Entries in a list. */
size_t rules_count(const rules_t *r, enum rules_list which);

/* Parses "192.0.2.0/24", "2001:db8::/32" or a bare IP. *prefix_len is in the 128-bit form
 * (an IPv4 /24 gives 120); host bits past the prefix are cleared. Returns 0 or -1. */
int rules_parse_cidr(const char *s, struct ip_addr *ip, unsigned *prefix_len);
/* The text form of a network: a bare IP when prefix_len is 128, else "a.b.c.d/N" or
 * "x::/N" with N counted in the address's own family. buf needs 50 bytes. Returns buf. */
const char *rules_cidr_str(const struct ip_addr *ip, unsigned prefix_len, char *buf, size_t len);

#endif
