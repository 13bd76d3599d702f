/*
 * blocklist.h — the firewall blocklist, two ways (docs/blocklist.md):
 * - from stored alerts (`tapir blocklist`): every IP or prefix with an alert in the last
 *   expire seconds, minus anything that overlaps the allowlist;
 * - live (`tapir run --blocklist FILE`, output/sink_blocklist.c over the table of
 *   output/blocklist_live.c): attackers only, with a TTL refreshed while the attack goes
 *   on, bounded, rewritten atomically whenever it changes;
 * both written as an nftables script, an ipset restore file or plain CIDRs.
 */
#ifndef TAPIR_BLOCKLIST_H
#define TAPIR_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alert.h"

#include "rules.h"
#include "store.h"

enum blocklist_format { BLOCKLIST_NFT = 0, BLOCKLIST_IPSET = 1, BLOCKLIST_PLAIN = 2 };

#define BLOCKLIST_DEFAULT_EXPIRE_S  86400
#define BLOCKLIST_DEFAULT_ALLOWLIST "/etc/tapir/rules/allowlist"

/* Which set an entry goes to. */
enum blocklist_kind {
    BLOCKLIST_BAN = 0,        /* an attacker: the blocklist sets, with a timeout */
    BLOCKLIST_QUARANTINE = 1, /* a home-net attacker: the quarantine sets (off by default) */
    BLOCKLIST_DENY = 2,       /* a network of the rules' denylist: blocklist sets, no timeout */
};

struct blocklist_entry {
    struct ip_addr ip;   /* network address, masked */
    unsigned prefix_len; /* in the 128-bit form */
    uint64_t expires_us; /* last alert + expire (µs, the list's clock); DENY: unused */
    double score;        /* highest score among its alerts */
    enum blocklist_kind kind;
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

/* How the sets are named and declared. blocklist_write uses {"tapir", 0, false, false,
 * 0644}. */
struct blocklist_style {
    const char *table; /* nft `table inet NAME`; ipset sets NAME4, NAME6 (NAMEq4, NAMEq6) */
    uint32_t size;     /* nft set `size`, ipset `maxelem` (entries); 0: not written */
    bool chain;        /* nft: a drop chain on the input and forward hooks */
    bool quarantine;   /* quarantine sets for home-net attackers */
    unsigned mode;     /* file mode, e.g. 0644 */
};

/* As blocklist_write, with the style's names, sizes and chain. Entries of one set that lie
 * inside another of that set must have been folded (blocklist_fold). */
int blocklist_write_style(const struct blocklist *b, enum blocklist_format f, const char *path,
                          uint64_t now_us, uint64_t expire_s, const struct blocklist_style *st,
                          char *errbuf);
/* Sorts b by (set, address, length) and folds entries lying inside a wider one of the same
 * set into it (the later expiry wins; a denied network stays without a timeout); counts
 * them in b->merged. nft interval sets refuse overlapping elements. */
void blocklist_fold(struct blocklist *b);

/* Replaces path with what fn writes, atomically: a temporary file made with mkostemp in
 * the same directory (O_EXCL: never follows a planted link), fchmod mode, fsync, rename
 * (which replaces a link at path rather than following it), fsync of the directory. */
int blocklist_write_atomic(const char *path, unsigned mode, void (*fn)(FILE *f, void *ctx),
                           void *ctx, char *errbuf);

/* The end of the stored data (newest window end or alert, packet time) and whether the
 * newest run was a replay (its source is not "interface ..."). 0 and -1 with errbuf. */
int blocklist_data_end(store_t *s, uint64_t *end_us, bool *replay, char *errbuf);

/* --- the live blocklist (tapir run --blocklist) ------------------------------------- */

#define BLOCKLIST_DEFAULT_TTL_S 3600
#define BLOCKLIST_DEFAULT_MAX   10000
#define BLOCKLIST_DEFAULT_RATE  100 /* new bans per second */
#define BLOCKLIST_DEFAULT_LIVE  "/var/lib/tapir/blocklist.nft"
#define BLOCKLIST_MIN_PREFIX4   (96 + 24) /* nothing broader than a /24 ... */
#define BLOCKLIST_MIN_PREFIX6   48        /* ... or a /48 */
#define BLOCKLIST_STATE_SUFFIX  ".state"  /* FILE.state: the active bans, for `list` */
#define BLOCKLIST_UNBAN_SUFFIX  ".unban"  /* FILE.unban: `unban` requests, one IP a line */
#define BLOCKLIST_MAX_PROTECTED 64        /* own addresses + gateways kept */

/* A ban or unban, for a hook (notifications' `ban` / `unban` actions). */
struct blocklist_event {
    const char *action; /* "ban" or "unban" */
    struct ip_addr ip;
    unsigned prefix_len; /* 128-bit form */
    enum blocklist_kind kind;
    uint64_t expires_us;          /* ban: when it ends (list clock) */
    const char *why;              /* unban: "expired", "lifted", "suppressed" */
    enum alert_category category; /* of the alert that banned it (unban: the same) */
    uint64_t time_us;             /* when, list clock: packet time in a replay, wall live */
    const struct alert *cause;    /* ban: the alert that banned it; NULL for an unban */
};

/* The settings of `tapir run --blocklist` (cli/config.c fills them; the sink borrows). */
struct blocklist_config {
    const char *path;             /* --blocklist FILE, NULL: no live blocklist */
    enum blocklist_format format; /* --blocklist-format */
    uint32_t ttl_s;               /* --blocklist-ttl: a ban lasts this long after the
                                     attacker's latest alert */
    uint32_t max_entries;         /* --blocklist-max: bans + quarantined */
    uint32_t rate;                /* --blocklist-rate: new bans per second at most */
    const char *table;            /* --blocklist-table, NULL: tapir_IFACE or tapir */
    bool chain;                   /* --blocklist-chain */
    bool apply;                   /* --blocklist-apply: load through the helper */
    bool quarantine;              /* --blocklist-quarantine: home-net attackers listed in
                                     quarantine sets */
    /* Filled by cmd_run.c. */
    const char *iface;          /* -i, for the default table name, or NULL (replay) */
    bool replay;                /* expiry by packet time */
    const char *allowlist_path; /* --allowlist, or NULL */
    const char *rules_dir;      /* --rules DIR (allowlist, denylist), or NULL */
    int apply_fd;               /* the helper's request pipe (-1: none); the sink owns it */
    int apply_result_fd;        /* the helper's answers (-1: none); the sink owns it */
    /* Hooks, optional (the lead wires suppressions and notifications): */
    bool (*suppressed)(void *ctx, const struct ip_addr *ip, unsigned prefix_len);
    void *suppressed_ctx;
    /* The suppressions' version (same ctx), or NULL: the active bans are checked against
     * the suppressions only when it changed (NULL: at every expiry pass). */
    uint64_t (*suppress_generation)(void *ctx);
    void (*event)(void *ctx, const struct blocklist_event *e); /* on the analyzer thread */
    void *event_ctx;
};

/* Why an alert did or did not change the list (counted per reason in /metrics). */
#define BLOCKLIST_VERDICTS(X)                                                                      \
    X(BANNED, "banned")             /* a new ban */                                                \
    X(QUARANTINED, "quarantined")   /* a new quarantine entry */                                   \
    X(REFRESHED, "refreshed")       /* an active ban's TTL restarted */                            \
    X(VICTIM, "victim")             /* a destination-side alert: never listed */                   \
    X(ENDED, "ended")               /* an incident's end: nothing to refresh */                    \
    X(TOO_BROAD, "too_broad")       /* a prefix broader than /24 or /48 */                         \
    X(SPECIAL, "special_address")   /* 0.0.0.0, broadcast, multicast, loopback */                  \
    X(OWN, "own_or_gateway")        /* Tapir's own address or the gateway (or holds one) */        \
    X(ALLOWLISTED, "allowlisted")   /* overlaps the allowlist */                                   \
    X(HOME_NET, "home_net")         /* a home-net attacker, quarantine off */                      \
    X(SUPPRESSED, "suppressed")     /* a suppression covers it */                                  \
    X(PARDONED, "pardoned")         /* unbanned by hand less than a TTL ago */                     \
    X(FULL, "full")                 /* --blocklist-max reached */                                  \
    X(RATE_LIMITED, "rate_limited") /* over --blocklist-rate new bans a second */

#define BLOCKLIST_VERDICT_ENUM_(id, name) BLOCKLIST_V_##id,
enum blocklist_verdict { BLOCKLIST_VERDICTS(BLOCKLIST_VERDICT_ENUM_) BLOCKLIST_V_COUNT };
#undef BLOCKLIST_VERDICT_ENUM_
const char *blocklist_verdict_name(enum blocklist_verdict v);

typedef struct blocklist_live blocklist_live_t;

/* The live table: borrows c and home_net (must outlive it); loads the allowlist and the
 * denylist from c's rules; protects Tapir's own addresses and the gateways unless
 * protect_host is false (unit tests add theirs with blocklist_live_protect). NULL with
 * errbuf. Analyzer thread only, like every call below. */
blocklist_live_t *blocklist_live_create(const struct blocklist_config *c, const rules_t *home_net,
                                        bool protect_host, char *errbuf);
void blocklist_live_destroy(blocklist_live_t *l); /* NULL is a no-op */
/* Re-reads the allowlist and denylist (SIGHUP); the old ones stay on an error. */
int blocklist_live_reload(blocklist_live_t *l, char *errbuf);
void blocklist_live_protect(blocklist_live_t *l, const struct ip_addr *ip);
/* An alert at now_us (the list's clock: packet time in a replay, wall time live). */
enum blocklist_verdict blocklist_live_alert(blocklist_live_t *l, const struct alert *al,
                                            uint64_t now_us);
/* Removes what expired at now_us, and what a suppression now covers (looked at only when
 * c->suppress_generation changed since the last pass). Returns how many. */
size_t blocklist_live_expire(blocklist_live_t *l, uint64_t now_us);
/* Lifts the entries equal to or inside ip/prefix_len; they are not banned again for one
 * TTL (pardon). Returns how many were lifted. */
size_t blocklist_live_unban(blocklist_live_t *l, const struct ip_addr *ip, unsigned prefix_len,
                            uint64_t now_us);
/* Whether the content changed since the last blocklist_live_write. */
bool blocklist_live_dirty(const blocklist_live_t *l);
/* Writes FILE (and FILE.state) at now_us. */
int blocklist_live_write(blocklist_live_t *l, uint64_t now_us, char *errbuf);
/* Active entries (bans + quarantine, not deny), and a copy of entry i (0 .. n-1). */
size_t blocklist_live_count(const blocklist_live_t *l);
const struct blocklist_entry *blocklist_live_entry(const blocklist_live_t *l, size_t i);
const char *blocklist_live_table(const blocklist_live_t *l);
/* Alerts counted per verdict since creation. */
uint64_t blocklist_live_verdicts(const blocklist_live_t *l, enum blocklist_verdict v);

/* The privileged helper (output/blocklist_apply.c): forked by cmd_run.c before the
 * capabilities are dropped and before any thread starts; it keeps them, and does nothing
 * but load c->path (nft -f, ipset restore) each time a byte arrives on its pipe, answering
 * one byte (0 loaded, 1 failed). Fills c->apply_fd and c->apply_result_fd. Returns 0, or -1
 * with errbuf. */
int blocklist_apply_fork(struct blocklist_config *c, char *errbuf);
/* Loads path in format f now (the helper's work; also for tests), after checking that
 * every line is one the writer produces for table: 0 or -1 with errbuf. */
int blocklist_apply_load(const char *path, enum blocklist_format f, const char *table,
                         char *errbuf);
/* The table (nft) or set prefix (ipset): --blocklist-table, else tapir_IFACE, else
 * tapir. -1 with errbuf when --blocklist-table is not 1 to 26 letters, digits, '_'. */
int blocklist_table_name(const struct blocklist_config *c, char out[32], char *errbuf);

/* Writes the list in format f to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. path "-" writes to stdout. Timeouts
 * are the time left from now_us; expire_s is the ipset sets' default timeout. */
int blocklist_write(const struct blocklist *b, enum blocklist_format f, const char *path,
                    uint64_t now_us, uint64_t expire_s, char *errbuf);

#endif
