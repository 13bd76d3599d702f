/*
 * blocklist_live.c — the live blocklist's table: which alerts ban whom, for how long, and
 * the file it becomes (the sink around it: sink_blocklist.c).
 *
 * Attackers only. An alert bans its IP (or prefix) when it is about that IP's own
 * behaviour: the source side (it sent the traffic) or the prefix side (source vectors
 * summed per /24 or /64). A destination-side alert is about a victim and never lists
 * anything, which is also what keeps the thousands of spoofed sources of a flood and an
 * amplification's reflectors out: none of them has a source-side alert of its own (each
 * sends a few packets), the victim's incident describes them. Never listed either: the
 * allowlist, 0.0.0.0, broadcast, multicast and loopback, Tapir's own addresses
 * (getifaddrs) and the default routes' gateways (/proc/net/route, /proc/net/ipv6_route),
 * or a prefix holding one of them; the home net goes to the quarantine sets when asked
 * (--blocklist-quarantine), else nowhere. Nothing broader than a /24 or a /48.
 *
 * Bounded: at most --blocklist-max entries (bans + quarantine; the denylist's networks
 * come on top and are always present), at most --blocklist-rate new bans a second (a
 * token bucket on the list's clock, one second deep), and whatever does not fit is
 * counted by reason (the verdicts, in /metrics). A ban lasts --blocklist-ttl seconds from
 * the attacker's latest alert or update: the incident's updates refresh it while the
 * attack goes on; its end does not. The clock is the caller's: packet time in a replay
 * (so a replay gives the same file on every machine), wall time live.
 *
 * The entries are a dense array (the file and the expiry pass walk it) with a seeded
 * open-addressing index on (address, length) beside it, so an alert costs one probe, not a
 * scan. Rejected: the array alone, searched linearly — with the default 10,000 entries
 * full, 198 µs per alert against 2 µs with the index, measured side by side on this
 * 2-core box under a parallel build (0.08 µs idle); a flood's rate alerts, thousands a
 * second, would have saturated the analyzer thread. Writing 10,000 entries (both files,
 * sorted) takes 98 ms idle, 24 of them fsync. The index is sized once (a power
 * of two, at least twice the maximum: 32,768 slots of 4 bytes at the default), never grows, and a
 * removal moves the last entry into the hole (the file is sorted when written anyway).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "blocklist.h"
#include "log.h"
#include "timeutil.h"

struct live_entry {
    struct blocklist_entry e;     /* ip, prefix_len, expires_us, score, kind */
    uint64_t first_us;            /* when it was banned (list clock) */
    enum alert_category category; /* of the alert that banned it, for the unban event */
};

struct pardon {
    struct ip_addr ip;
    unsigned prefix_len;
    uint64_t until_us; /* not banned again before this (list clock) */
};

#define MAX_PARDONS 256 /* recent unbans remembered; the oldest is forgotten first */

struct blocklist_live {
    const struct blocklist_config *c; /* borrowed */
    const rules_t *home_net;          /* borrowed */
    rules_t *rules;                   /* allowlist + denylist, owned */
    char table[32];                   /* nft table, ipset prefix */
    struct live_entry *v;             /* bans and quarantine, n of max_entries */
    size_t n;
    uint32_t *slot; /* index: entry number + 1, 0 empty; n_slot a power of two */
    size_t n_slot;
    uint64_t seed; /* of the index's hash (random: the attacker picks the addresses) */
    struct blocklist_entry *deny; /* the denylist's networks, n_deny */
    size_t n_deny;
    struct ip_addr protect[BLOCKLIST_MAX_PROTECTED]; /* own addresses, gateways */
    size_t n_protect;
    struct pardon pardons[MAX_PARDONS];
    size_t n_pardons;
    double tokens;      /* new bans allowed now (token bucket) */
    uint64_t tokens_at; /* list clock of the last refill, µs */
    bool dirty;         /* changed since the last write */
    uint64_t supp_gen;  /* c->suppress_generation at the last suppression pass */
    bool supp_checked;  /* a suppression pass was made (supp_gen holds) */
    uint64_t ttl_us;    /* c->ttl_s in µs */
    uint64_t verdicts[BLOCKLIST_V_COUNT];
    struct blocklist out; /* scratch for writing: entries copied and folded */
};

#define VERDICT_NAME_(id, name) name,
static const char *const verdict_names[] = {BLOCKLIST_VERDICTS(VERDICT_NAME_)};
#undef VERDICT_NAME_

const char *blocklist_verdict_name(enum blocklist_verdict v)
{
    return (unsigned)v < BLOCKLIST_V_COUNT ? verdict_names[v] : "unknown";
}

void blocklist_live_protect(blocklist_live_t *l, const struct ip_addr *ip)
{
    for (size_t i = 0; i < l->n_protect; i++)
        if (!memcmp(l->protect[i].b, ip->b, 16))
            return;
    if (l->n_protect < BLOCKLIST_MAX_PROTECTED)
        l->protect[l->n_protect++] = *ip;
}

/* Tapir's own addresses. */
static void protect_own(blocklist_live_t *l)
{
    struct ifaddrs *ifa0;
    if (getifaddrs(&ifa0) < 0) {
        log_warn("blocklist: cannot list this host's addresses (%s): they are not protected",
                 strerror(errno));
        return;
    }
    for (struct ifaddrs *ifa = ifa0; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr)
            continue;
        struct ip_addr a;
        if (ifa->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)ifa->ifa_addr;
            ip_addr_from_v4(&a, (const uint8_t *)&sin->sin_addr);
        } else if (ifa->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ifa->ifa_addr;
            ip_addr_from_v6(&a, sin6->sin6_addr.s6_addr);
        } else {
            continue;
        }
        blocklist_live_protect(l, &a);
    }
    freeifaddrs(ifa0);
}

/* The default routes' gateways: /proc/net/route holds "IFACE DEST GATEWAY ..." in hex,
 * host byte order (little-endian here); ipv6_route "DEST PLEN SRC PLEN NEXTHOP ...". */
static void protect_gateways(blocklist_live_t *l)
{
    char line[512];
    FILE *f = fopen("/proc/net/route", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            char ifname[64];
            unsigned dest, gw;
            if (sscanf(line, "%63s %x %x", ifname, &dest, &gw) == 3 && dest == 0 && gw != 0) {
                struct ip_addr a;
                uint8_t b[4];
                memcpy(b, &gw, 4); /* the kernel's in_addr, as stored */
                ip_addr_from_v4(&a, b);
                blocklist_live_protect(l, &a);
            }
        }
        fclose(f);
    }
    f = fopen("/proc/net/ipv6_route", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            char dest[40], src[40], hop[40];
            unsigned dplen, splen;
            if (sscanf(line, "%32s %x %32s %x %32s", dest, &dplen, src, &splen, hop) != 5)
                continue;
            if (dplen != 0 || strspn(dest, "0") != 32 || strspn(hop, "0") == 32)
                continue;
            struct ip_addr a;
            for (int i = 0; i < 16; i++) {
                unsigned x;
                sscanf(hop + 2 * i, "%2x", &x);
                a.b[i] = (uint8_t)x;
            }
            blocklist_live_protect(l, &a);
        }
        fclose(f);
    }
}

static int load_rules(blocklist_live_t *l, char *errbuf)
{
    const struct blocklist_config *c = l->c;
    rules_t *r = rules_create();
    if (!r) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    if ((c->rules_dir && rules_load_dir(r, c->rules_dir, errbuf) < 0) ||
        (c->allowlist_path &&
         rules_load_file(r, RULES_ALLOW, c->allowlist_path, false, errbuf) < 0)) {
        rules_destroy(r);
        return -1;
    }
    /* The denylist's networks: read again from the file, as rules_t keeps them for
     * lookups only. */
    struct blocklist_entry *deny = NULL;
    size_t n_deny = 0, cap = 0;
    if (c->rules_dir) {
        char path[4096], line[512];
        snprintf(path, sizeof(path), "%s/denylist", c->rules_dir);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f)) {
            char *hash = strchr(line, '#');
            if (hash)
                *hash = '\0';
            char word[128];
            struct blocklist_entry e = {0};
            if (sscanf(line, "%127s", word) != 1 ||
                rules_parse_cidr(word, &e.ip, &e.prefix_len) < 0)
                continue; /* rules_load_dir refused a bad line already */
            e.kind = BLOCKLIST_DENY;
            if (n_deny == cap) {
                cap = cap ? cap * 2 : 16;
                struct blocklist_entry *nd = realloc(deny, cap * sizeof(*nd));
                if (!nd) {
                    fclose(f);
                    free(deny);
                    rules_destroy(r);
                    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
                    return -1;
                }
                deny = nd;
            }
            deny[n_deny++] = e;
        }
        if (f)
            fclose(f);
    }
    rules_destroy(l->rules);
    l->rules = r;
    free(l->deny);
    l->deny = deny;
    l->n_deny = n_deny;
    l->dirty = true;
    return 0;
}

int blocklist_live_reload(blocklist_live_t *l, char *errbuf)
{
    return load_rules(l, errbuf);
}

int blocklist_table_name(const struct blocklist_config *c, char out[32], char *errbuf)
{
    if (c->table) {
        size_t n = strlen(c->table);
        if (n == 0 || n > 26 ||
            strspn(c->table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789_") != n) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "--blocklist-table: '%.64s' is not 1 to 26 letters, digits or '_'", c->table);
            return -1;
        }
        snprintf(out, 32, "%s", c->table);
        return 0;
    }
    if (!c->iface) {
        snprintf(out, 32, "tapir");
        return 0;
    }
    /* tapir_IFACE, anything but a letter or digit made '_' (ipset names end in q4). */
    int w = snprintf(out, 32, "tapir_%.20s", c->iface);
    for (int i = 6; i < w; i++) {
        char ch = out[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            out[i] = '_';
    }
    return 0;
}

blocklist_live_t *blocklist_live_create(const struct blocklist_config *c, const rules_t *home_net,
                                        bool protect_host, char *errbuf)
{
    size_t max = c->max_entries ? c->max_entries : BLOCKLIST_DEFAULT_MAX;
    size_t n_slot = tapir_pow2_size(2ull * max, 16, 1ull << 33); /* any uint32_t max */
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(blocklist_live_t, v, max),
        TAPIR_ARRAY(blocklist_live_t, slot, n_slot),
    };
    blocklist_live_t *l = tapir_table_alloc(sizeof(*l), arrays, TAPIR_NELEM(arrays), errbuf,
                                            "%zu blocklist entries", max);
    if (!l)
        return NULL;
    l->n_slot = n_slot;
    l->c = c;
    l->home_net = home_net;
    l->ttl_us = (uint64_t)(c->ttl_s ? c->ttl_s : BLOCKLIST_DEFAULT_TTL_S) * 1000000u;
    if (blocklist_table_name(c, l->table, errbuf) < 0)
        goto fail;
    if (getrandom(&l->seed, sizeof(l->seed), 0) != (ssize_t)sizeof(l->seed))
        l->seed = tapir_monotonic_us() * 0x9e3779b97f4a7c15ULL;
    if (load_rules(l, errbuf) < 0)
        goto fail;
    if (protect_host) {
        protect_own(l);
        protect_gateways(l);
    }
    l->tokens = c->rate ? c->rate : BLOCKLIST_DEFAULT_RATE;
    l->dirty = true; /* the first write says "nothing banned" (and the deny networks) */
    return l;
fail:
    blocklist_live_destroy(l);
    return NULL;
}

void blocklist_live_destroy(blocklist_live_t *l)
{
    if (!l)
        return;
    rules_destroy(l->rules);
    free(l->deny); /* v and slot are in l's block */
    blocklist_free(&l->out);
    free(l);
}

/* Whether ip/plen holds (or is) one of the protected addresses. */
static bool holds_protected(const blocklist_live_t *l, const struct ip_addr *ip, unsigned plen)
{
    for (size_t i = 0; i < l->n_protect; i++) {
        struct ip_addr m = l->protect[i];
        ip_addr_mask(&m, plen);
        if (!memcmp(m.b, ip->b, 16))
            return true;
    }
    return false;
}

/* Whether a (the network ip/plen) lies inside b's network. */
static bool inside(const struct ip_addr *ip, unsigned plen, const struct ip_addr *net,
                   unsigned net_plen)
{
    if (plen < net_plen)
        return false;
    struct ip_addr m = *ip;
    ip_addr_mask(&m, net_plen);
    return !memcmp(m.b, net->b, 16);
}

/* 0.0.0.0/8, loopback, multicast, 240/4 and the broadcast address, ::, ::1, ff00::/8 (a
 * network starting there too). Not ip_addr_is_reserved: that one holds the private and
 * documentation ranges as well, which can attack. */
static bool special(const struct ip_addr *ip)
{
    static const struct ip_addr v6_any = {{0}}, v6_loopback = {{[15] = 1}};
    if (ip_addr_is_v4(ip)) {
        uint8_t a = ip->b[12];
        return a == 0 || a == 127 || a >= 224;
    }
    return !memcmp(ip->b, v6_any.b, 16) || !memcmp(ip->b, v6_loopback.b, 16) || ip->b[0] == 0xff;
}

static size_t home_slot(const blocklist_live_t *l, const struct ip_addr *ip, unsigned plen)
{
    return (size_t)(tapir_ip_hash(ip, l->seed ^ plen) & (l->n_slot - 1));
}

static bool same(const struct blocklist_entry *e, const struct ip_addr *ip, unsigned plen)
{
    return e->prefix_len == plen && !memcmp(e->ip.b, ip->b, 16);
}

/* The index slot holding ip/plen, or the empty slot where it would go. The index is at
 * most half full, so a probe always ends. */
static size_t find_slot(const blocklist_live_t *l, const struct ip_addr *ip, unsigned plen)
{
    size_t i = home_slot(l, ip, plen);
    while (l->slot[i] && !same(&l->v[l->slot[i] - 1].e, ip, plen))
        i = (i + 1) & (l->n_slot - 1);
    return i;
}

static struct live_entry *find(blocklist_live_t *l, const struct ip_addr *ip, unsigned plen)
{
    uint32_t k = l->slot[find_slot(l, ip, plen)];
    return k ? &l->v[k - 1] : NULL;
}

/* Empties index slot i, moving later entries of its run back (no tombstones). */
static void unslot(blocklist_live_t *l, size_t i)
{
    size_t mask = l->n_slot - 1, j = i;
    l->slot[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!l->slot[j])
            return;
        const struct blocklist_entry *e = &l->v[l->slot[j] - 1].e;
        size_t h = home_slot(l, &e->ip, e->prefix_len);
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
            l->slot[i] = l->slot[j];
            l->slot[j] = 0;
            i = j;
        }
    }
}

static bool pardoned(const blocklist_live_t *l, const struct ip_addr *ip, unsigned plen,
                     uint64_t now_us)
{
    for (size_t i = 0; i < l->n_pardons; i++) {
        const struct pardon *p = &l->pardons[i];
        if (p->until_us > now_us && inside(ip, plen, &p->ip, p->prefix_len))
            return true;
    }
    return false;
}

static void emit(blocklist_live_t *l, const char *action, const struct live_entry *le,
                 const char *why, uint64_t now_us, const struct alert *cause)
{
    if (!l->c->event)
        return;
    const struct blocklist_entry *e = &le->e;
    struct blocklist_event ev = {action, e->ip,        e->prefix_len, e->kind, e->expires_us,
                                 why,    le->category, now_us,        cause};
    l->c->event(l->c->event_ctx, &ev);
}

static void refill(blocklist_live_t *l, uint64_t now_us)
{
    double rate = l->c->rate ? l->c->rate : BLOCKLIST_DEFAULT_RATE;
    if (now_us > l->tokens_at) {
        l->tokens += rate * (double)(now_us - l->tokens_at) / 1e6;
        if (l->tokens > rate)
            l->tokens = rate; /* one second deep */
        l->tokens_at = now_us;
    }
}

static enum blocklist_verdict judge(blocklist_live_t *l, const struct alert *al, uint64_t now_us)
{
    if (al->side == ALERT_SIDE_DESTINATION)
        return BLOCKLIST_V_VICTIM;
    if (al->event_type && !strcmp(al->event_type, "end"))
        return BLOCKLIST_V_ENDED;
    struct ip_addr ip = al->ip;
    unsigned plen = al->prefix_len ? al->prefix_len : 128;
    if (plen > 128)
        plen = 128;
    ip_addr_mask(&ip, plen);
    bool v4 = ip_addr_is_v4(&ip);
    if ((v4 && plen < BLOCKLIST_MIN_PREFIX4) || (!v4 && plen < BLOCKLIST_MIN_PREFIX6))
        return BLOCKLIST_V_TOO_BROAD;
    if (special(&ip))
        return BLOCKLIST_V_SPECIAL;
    if (holds_protected(l, &ip, plen))
        return BLOCKLIST_V_OWN;
    if (rules_overlaps(l->rules, RULES_ALLOW, &ip, plen))
        return BLOCKLIST_V_ALLOWLISTED;
    bool home = l->home_net && rules_overlaps(l->home_net, RULES_ALLOW, &ip, plen);
    if (home && !l->c->quarantine)
        return BLOCKLIST_V_HOME_NET;
    if (l->c->suppressed && l->c->suppressed(l->c->suppressed_ctx, &ip, plen))
        return BLOCKLIST_V_SUPPRESSED;
    struct live_entry *e = find(l, &ip, plen);
    if (e) {
        uint64_t exp = now_us + l->ttl_us;
        if (exp > e->e.expires_us) {
            e->e.expires_us = exp;
            l->dirty = true;
        }
        if (al->score > e->e.score)
            e->e.score = al->score;
        return BLOCKLIST_V_REFRESHED;
    }
    if (pardoned(l, &ip, plen, now_us))
        return BLOCKLIST_V_PARDONED;
    size_t max = l->c->max_entries ? l->c->max_entries : BLOCKLIST_DEFAULT_MAX;
    if (l->n >= max)
        return BLOCKLIST_V_FULL;
    refill(l, now_us);
    if (l->tokens < 1)
        return BLOCKLIST_V_RATE_LIMITED;
    l->tokens -= 1;
    l->slot[find_slot(l, &ip, plen)] = (uint32_t)(l->n + 1);
    e = &l->v[l->n++];
    e->e = (struct blocklist_entry){ip, plen, now_us + l->ttl_us, al->score,
                                    home ? BLOCKLIST_QUARANTINE : BLOCKLIST_BAN};
    e->first_us = now_us;
    e->category = al->category;
    l->dirty = true;
    emit(l, "ban", e, NULL, now_us, al);
    return home ? BLOCKLIST_V_QUARANTINED : BLOCKLIST_V_BANNED;
}

enum blocklist_verdict blocklist_live_alert(blocklist_live_t *l, const struct alert *al,
                                            uint64_t now_us)
{
    if (!l->tokens_at)
        l->tokens_at = now_us;
    enum blocklist_verdict v = judge(l, al, now_us);
    l->verdicts[v]++;
    return v;
}

/* Removes entry i: the last entry takes its place (in the array and the index). */
static void remove_at(blocklist_live_t *l, size_t i, const char *why, uint64_t now_us)
{
    struct live_entry gone = l->v[i];
    unslot(l, find_slot(l, &gone.e.ip, gone.e.prefix_len));
    size_t last = l->n - 1;
    if (i != last) {
        l->v[i] = l->v[last];
        l->slot[find_slot(l, &l->v[i].e.ip, l->v[i].e.prefix_len)] = (uint32_t)(i + 1);
    }
    l->n--;
    l->dirty = true;
    emit(l, "unban", &gone, why, now_us, NULL);
}

/* Whether this pass must look at the suppressions: only when they changed. A ban is
 * never made while a suppression covers it (judge), and a suppression's expiry covers
 * nothing new, so between two changes there is nothing to lift: the pass costs the bans
 * times the suppressions (10,000 x 4,096 at the bounds) once per change, not each second. */
static bool suppressions_changed(blocklist_live_t *l)
{
    if (!l->c->suppressed)
        return false;
    if (!l->c->suppress_generation)
        return true;
    uint64_t g = l->c->suppress_generation(l->c->suppressed_ctx);
    if (l->supp_checked && g == l->supp_gen)
        return false;
    l->supp_gen = g;
    l->supp_checked = true;
    return true;
}

size_t blocklist_live_expire(blocklist_live_t *l, uint64_t now_us)
{
    size_t gone = 0;
    bool check = suppressions_changed(l);
    for (size_t i = 0; i < l->n;) {
        const struct blocklist_entry *e = &l->v[i].e;
        if (e->expires_us <= now_us) {
            remove_at(l, i, "expired", now_us);
            gone++;
        } else if (check && l->c->suppressed(l->c->suppressed_ctx, &e->ip, e->prefix_len)) {
            remove_at(l, i, "suppressed", now_us);
            gone++;
        } else {
            i++;
        }
    }
    return gone;
}

size_t blocklist_live_unban(blocklist_live_t *l, const struct ip_addr *ip, unsigned prefix_len,
                            uint64_t now_us)
{
    struct ip_addr net = *ip;
    ip_addr_mask(&net, prefix_len);
    size_t gone = 0;
    for (size_t i = 0; i < l->n;) {
        const struct blocklist_entry *e = &l->v[i].e;
        /* The entry inside the network asked for, or the network asked for inside it
         * (unban 192.0.2.7 lifts a ban of 192.0.2.0/24: the operator wants .7 through). */
        if (inside(&e->ip, e->prefix_len, &net, prefix_len) ||
            inside(&net, prefix_len, &e->ip, e->prefix_len)) {
            remove_at(l, i, "lifted", now_us);
            gone++;
        } else {
            i++;
        }
    }
    /* Not banned again by this attack's next updates for one TTL; a suppression or the
     * allowlist is the way to say "never". */
    size_t slot = l->n_pardons < MAX_PARDONS ? l->n_pardons++ : 0;
    if (slot == 0 && l->n_pardons == MAX_PARDONS) { /* full: forget the oldest */
        memmove(&l->pardons[0], &l->pardons[1], (MAX_PARDONS - 1) * sizeof(l->pardons[0]));
        slot = MAX_PARDONS - 1;
    }
    l->pardons[slot] = (struct pardon){net, prefix_len, now_us + l->ttl_us};
    return gone;
}

bool blocklist_live_dirty(const blocklist_live_t *l)
{
    return l->dirty;
}

size_t blocklist_live_count(const blocklist_live_t *l)
{
    return l->n;
}

const struct blocklist_entry *blocklist_live_entry(const blocklist_live_t *l, size_t i)
{
    return i < l->n ? &l->v[i].e : NULL;
}

const char *blocklist_live_table(const blocklist_live_t *l)
{
    return l->table;
}

uint64_t blocklist_live_verdicts(const blocklist_live_t *l, enum blocklist_verdict v)
{
    return (unsigned)v < BLOCKLIST_V_COUNT ? l->verdicts[v] : 0;
}

/* FILE.state: what `tapir blocklist list` shows. One header line with the clock, then
 * "KIND CIDR EXPIRES_US FIRST_US SCORE" per entry (times on the list's clock). */
struct state_ctx {
    const blocklist_live_t *l;
    uint64_t now_us;
};

static void write_state(FILE *f, void *ctx)
{
    const struct state_ctx *s = ctx;
    const blocklist_live_t *l = s->l;
    static const char *const kinds[] = {"ban", "quarantine", "deny"};
    fprintf(f, "# tapir blocklist state v1 table %s clock %s now_us %" PRIu64 "\n", l->table,
            l->c->replay ? "packet" : "wall", s->now_us);
    for (size_t i = 0; i < l->n_deny; i++) {
        char cidr[64];
        rules_cidr_str(&l->deny[i].ip, l->deny[i].prefix_len, cidr, sizeof(cidr));
        fprintf(f, "deny %s 0 0 0\n", cidr);
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct live_entry *e = &l->v[i];
        char cidr[64];
        rules_cidr_str(&e->e.ip, e->e.prefix_len, cidr, sizeof(cidr));
        fprintf(f, "%s %s %" PRIu64 " %" PRIu64 " %.4f\n", kinds[e->e.kind], cidr, e->e.expires_us,
                e->first_us, e->e.score);
    }
}

int blocklist_live_write(blocklist_live_t *l, uint64_t now_us, char *errbuf)
{
    struct blocklist *b = &l->out;
    size_t need = l->n + l->n_deny;
    if (need > b->cap) {
        struct blocklist_entry *v = realloc(b->v, need * sizeof(*v));
        if (!v) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "writing the blocklist: out of memory");
            return -1;
        }
        b->v = v;
        b->cap = need;
    }
    b->n = 0;
    b->merged = 0;
    for (size_t i = 0; i < l->n_deny; i++)
        b->v[b->n++] = l->deny[i];
    for (size_t i = 0; i < l->n; i++)
        b->v[b->n++] = l->v[i].e;
    blocklist_fold(b);
    size_t max = l->c->max_entries ? l->c->max_entries : BLOCKLIST_DEFAULT_MAX;
    struct blocklist_style st = {l->table, (uint32_t)(max + l->n_deny), l->c->chain,
                                 l->c->quarantine, 0640};
    uint64_t ttl_s = l->ttl_us / 1000000u;
    if (blocklist_write_style(b, l->c->format, l->c->path, now_us, ttl_s, &st, errbuf) < 0)
        return -1;
    char state[4096];
    if (snprintf(state, sizeof(state), "%s%s", l->c->path, BLOCKLIST_STATE_SUFFIX) >=
        (int)sizeof(state)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "blocklist path too long");
        return -1;
    }
    struct state_ctx sc = {l, now_us};
    if (blocklist_write_atomic(state, 0640, write_state, &sc, errbuf) < 0)
        return -1;
    l->dirty = false;
    return 0;
}
