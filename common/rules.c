/*
 * rules.c — allowlist, denylist and per-subnet thresholds.
 *
 * Each list keeps, per prefix length (0..128 in the 128-bit form), one sorted array of
 * masked network addresses. A lookup masks the IP to each length present and binary
 * searches that array: with k distinct lengths and n entries that is k * log2(n)
 * 16-byte compares — for 10 000 entries over 5 lengths, about 70 compares, well under a
 * microsecond. Longest-prefix match (thresholds) walks the lengths from the longest.
 * Rejected: a bit-per-level binary trie, which costs up to 128 dependent pointer loads
 * per lookup and one node per bit of every entry (≈ 1.3 M nodes for 10 000 IPv6 /128s);
 * and a linear scan, fine for ten entries but not for a threat feed's thousands.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

#define RULES_LENGTHS 129 /* prefix lengths 0..128 */

struct rules_net {
    struct ip_addr ip; /* masked to the level's length */
    double threshold;  /* score, RULES_THRESHOLD only */
};

struct rules_level {
    struct rules_net *v;
    size_t n, cap;
};

struct rules_set {
    struct rules_level level[RULES_LENGTHS];
    unsigned lens[RULES_LENGTHS]; /* lengths present, longest first */
    int n_lens;
    size_t n; /* entries over all lengths */
};

struct rules {
    struct rules_set list[3];
    struct rules_rate_group rate[RULES_RATE_GROUPS_MAX]; /* "rate" lines, in file order */
    size_t n_rate;
};

rules_t *rules_create(void)
{
    return calloc(1, sizeof(rules_t));
}

void rules_destroy(rules_t *r)
{
    if (!r)
        return;
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < RULES_LENGTHS; i++)
            free(r->list[l].level[i].v);
    free(r);
}

static int net_cmp(const void *a, const void *b)
{
    return memcmp(((const struct rules_net *)a)->ip.b, ((const struct rules_net *)b)->ip.b, 16);
}

/* Sorts every level, merges duplicates (a network listed twice in the thresholds keeps
 * the lower, stricter score) and recomputes the lengths present, longest first. */
static void set_finish(struct rules_set *s)
{
    s->n_lens = 0;
    s->n = 0;
    for (int len = RULES_LENGTHS - 1; len >= 0; len--) {
        struct rules_level *lv = &s->level[len];
        if (!lv->n)
            continue;
        qsort(lv->v, lv->n, sizeof(lv->v[0]), net_cmp);
        size_t w = 0;
        for (size_t i = 0; i < lv->n; i++) {
            if (w && !memcmp(lv->v[w - 1].ip.b, lv->v[i].ip.b, 16)) {
                if (lv->v[i].threshold < lv->v[w - 1].threshold)
                    lv->v[w - 1].threshold = lv->v[i].threshold;
                continue;
            }
            lv->v[w++] = lv->v[i];
        }
        lv->n = w;
        s->lens[s->n_lens++] = (unsigned)len;
        s->n += w;
    }
}

static int set_append(struct rules_set *s, const struct ip_addr *ip, unsigned len, double th)
{
    struct rules_level *lv = &s->level[len];
    if (lv->n == lv->cap) {
        size_t cap = lv->cap ? lv->cap * 2 : 16;
        struct rules_net *v = realloc(lv->v, cap * sizeof(*v));
        if (!v)
            return -1;
        lv->v = v;
        lv->cap = cap;
    }
    lv->v[lv->n].ip = *ip;
    lv->v[lv->n].threshold = th;
    lv->n++;
    return 0;
}

/* Index of the first entry >= key in a sorted level. */
static size_t level_lower_bound(const struct rules_level *lv, const struct ip_addr *key)
{
    size_t lo = 0, hi = lv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(lv->v[mid].ip.b, key->b, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct rules_net *set_match(const struct rules_set *s, const struct ip_addr *ip)
{
    for (int i = 0; i < s->n_lens; i++) {
        const struct rules_level *lv = &s->level[s->lens[i]];
        struct ip_addr m = *ip;
        ip_addr_mask(&m, s->lens[i]);
        size_t k = level_lower_bound(lv, &m);
        if (k < lv->n && !memcmp(lv->v[k].ip.b, m.b, 16))
            return &lv->v[k];
    }
    return NULL;
}

int rules_parse_cidr(const char *s, struct ip_addr *ip, unsigned *prefix_len)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (ip_addr_parse(addr, ip) < 0)
        return -1;
    bool v6_text = strchr(addr, ':') != NULL;
    unsigned max = v6_text ? 128 : 32;
    unsigned len = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -1;
        len = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return -1;
            len = len * 10 + (unsigned)(*p - '0');
        }
        if (len > max)
            return -1;
    }
    *prefix_len = v6_text ? len : 96 + len;
    ip_addr_mask(ip, *prefix_len);
    return 0;
}

const char *rules_cidr_str(const struct ip_addr *ip, unsigned prefix_len, char *buf, size_t len)
{
    char a[48];
    ip_addr_str(ip, a, sizeof(a));
    if (prefix_len >= 128)
        snprintf(buf, len, "%s", a);
    else if (ip_addr_is_v4(ip) && prefix_len >= 96)
        snprintf(buf, len, "%s/%u", a, prefix_len - 96);
    else
        snprintf(buf, len, "%s/%u", a, prefix_len);
    return buf;
}

int rules_add(rules_t *r, enum rules_list which, const char *cidr, double threshold)
{
    struct ip_addr ip;
    unsigned len;
    if (rules_parse_cidr(cidr, &ip, &len) < 0)
        return -1;
    if (set_append(&r->list[which], &ip, len, threshold) < 0)
        return -1;
    set_finish(&r->list[which]);
    return 0;
}

bool rules_allowed(const rules_t *r, const struct ip_addr *ip)
{
    return r && set_match(&r->list[RULES_ALLOW], ip) != NULL;
}

bool rules_denied(const rules_t *r, const struct ip_addr *ip)
{
    return r && set_match(&r->list[RULES_DENY], ip) != NULL;
}

bool rules_threshold(const rules_t *r, const struct ip_addr *ip, double *threshold)
{
    if (!r)
        return false;
    const struct rules_net *n = set_match(&r->list[RULES_THRESHOLD], ip);
    if (!n)
        return false;
    *threshold = n->threshold;
    return true;
}

bool rules_overlaps(const rules_t *r, enum rules_list which, const struct ip_addr *ip,
                    unsigned prefix_len)
{
    if (!r)
        return false;
    const struct rules_set *s = &r->list[which];
    struct ip_addr net = *ip;
    ip_addr_mask(&net, prefix_len);
    for (int i = 0; i < s->n_lens; i++) {
        unsigned len = s->lens[i];
        const struct rules_level *lv = &s->level[len];
        if (len <= prefix_len) { /* an entry as wide or wider: does it hold the network? */
            struct ip_addr m = net;
            ip_addr_mask(&m, len);
            size_t k = level_lower_bound(lv, &m);
            if (k < lv->n && !memcmp(lv->v[k].ip.b, m.b, 16))
                return true;
        } else { /* narrower entries: is the first one at or after net still inside it? */
            size_t k = level_lower_bound(lv, &net);
            if (k < lv->n) {
                struct ip_addr m = lv->v[k].ip;
                ip_addr_mask(&m, prefix_len);
                if (!memcmp(m.b, net.b, 16))
                    return true;
            }
        }
    }
    return false;
}

size_t rules_count(const rules_t *r, enum rules_list which)
{
    return r ? r->list[which].n : 0;
}

/* Splits a line into at most 4 whitespace-separated tokens after cutting its comment.
 * Returns the number of tokens (4 means "too many"). */
#define MAX_TOKENS 12

static int tokenize(char *line, char *tok[MAX_TOKENS])
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    int n = 0;
    char *p = line;
    while (*p && n < MAX_TOKENS) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int parse_score(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* A host group: "rate CIDR KEY PPS [KEY PPS]...", keys syn_pps, udp_pps, icmp_pps,
 * amp_pps (enum rate_kind's order), PPS a whole number of packets per second >= 1. */
static int parse_rate(rules_t *r, char *tok[], int n, const char *path, unsigned lineno,
                      char *errbuf)
{
    static const char *const keys[RULES_RATE_KINDS] = {"syn_pps", "udp_pps", "icmp_pps", "amp_pps"};
    if (n < 4 || n % 2 || n > 2 + 2 * RULES_RATE_KINDS) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "%s:%u: expected 'rate CIDR KEY PPS [KEY PPS]...', e.g. "
                 "'rate 10.0.0.0/8 syn_pps 5000 udp_pps 20000'",
                 path, lineno);
        return -1;
    }
    if (r->n_rate >= RULES_RATE_GROUPS_MAX) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: more than %d rate groups", path, lineno,
                 RULES_RATE_GROUPS_MAX);
        return -1;
    }
    struct rules_rate_group g;
    memset(&g, 0, sizeof(g));
    unsigned len;
    if (rules_parse_cidr(tok[1], &g.net, &len) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: '%.60s' is not an IP address or CIDR network",
                 path, lineno, tok[1]);
        return -1;
    }
    g.prefix_len = (uint8_t)len;
    for (int i = 2; i < n; i += 2) {
        int k = -1;
        for (int j = 0; j < RULES_RATE_KINDS; j++)
            if (!strcmp(tok[i], keys[j]))
                k = j;
        char *end;
        errno = 0;
        double v = strtod(tok[i + 1], &end);
        if (k < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "%s:%u: unknown rate key '%.40s' (syn_pps, udp_pps, icmp_pps, amp_pps)", path,
                     lineno, tok[i]);
            return -1;
        }
        if (errno || end == tok[i + 1] || *end || !(v >= 1.0 && v <= 1e12)) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "%s:%u: bad %s '%.40s' (packets per second, 1 or more)", path, lineno, keys[k],
                     tok[i + 1]);
            return -1;
        }
        g.pps[k] = v;
    }
    r->rate[r->n_rate++] = g;
    return 0;
}

size_t rules_rate_groups(const rules_t *r, const struct rules_rate_group **out)
{
    *out = r->rate;
    return r->n_rate;
}

static const char *list_name(enum rules_list which)
{
    return which == RULES_ALLOW ? "allowlist" : which == RULES_DENY ? "denylist" : "thresholds";
}

int rules_load_file(rules_t *r, enum rules_list which, const char *path, bool missing_ok,
                    char *errbuf)
{
    /* O_NONBLOCK and a regular file only: a FIFO would block open() for ever, a device
     * (/dev/zero) would never end. */
    struct stat sb;
    int fd = tapir_open_input(path, O_NONBLOCK | O_NOCTTY, list_name(which), &sb, errbuf);
    if (fd < 0)
        return errno == ENOENT && missing_ok ? 0 : -1;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s %s is not a regular file", list_name(which), path);
        close(fd);
        return -1;
    }
    struct rules_set *s = &r->list[which];
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (strlen(line) != (size_t)got) { /* the rest of the line would be ignored */
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: a NUL byte in the line", path, lineno);
            rc = -1;
            break;
        }
        char *tok[MAX_TOKENS];
        int n = tokenize(line, tok);
        if (n == 0)
            continue;
        if (which == RULES_THRESHOLD && !strcmp(tok[0], "rate")) {
            if ((rc = parse_rate(r, tok, n, path, lineno, errbuf)) < 0)
                break;
            continue;
        }
        struct ip_addr ip;
        unsigned len;
        double th = 0;
        const char *cidr;
        if (which == RULES_THRESHOLD) {
            if (strcmp(tok[0], "threshold") != 0 || n != 3) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                         "%s:%u: expected 'threshold CIDR SCORE', e.g. "
                         "'threshold 10.0.0.0/8 0.7'",
                         path, lineno);
                rc = -1;
                break;
            }
            cidr = tok[1];
            if (parse_score(tok[2], &th) < 0) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: bad score '%.40s' (a number in (0, 1])",
                         path, lineno, tok[2]);
                rc = -1;
                break;
            }
        } else {
            if (n != 1) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                         "%s:%u: unexpected '%.40s' after the address (one CIDR per line)", path,
                         lineno, tok[1]);
                rc = -1;
                break;
            }
            cidr = tok[0];
        }
        if (rules_parse_cidr(cidr, &ip, &len) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "%s:%u: '%.60s' is not an IP address or CIDR network", path, lineno, cidr);
            rc = -1;
            break;
        }
        if (set_append(s, &ip, len, th) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: out of memory", path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    set_finish(s); /* keep the set searchable even after a failed load */
    return rc;
}

int rules_load_dir(rules_t *r, const char *dir, char *errbuf)
{
    static const struct {
        const char *name;
        enum rules_list which;
    } files[] = {
        {"allowlist", RULES_ALLOW}, {"denylist", RULES_DENY}, {"thresholds", RULES_THRESHOLD}};
    /* Each file may be absent, the directory may not: a mistyped --rules used to run
     * with no rules and exit 0. */
    struct stat sb;
    if (stat(dir, &sb) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read rules directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "rules %s is not a directory (--rules takes one "
                 "holding allowlist, denylist, thresholds)",
                 dir);
        return -1;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if (rules_load_file(r, files[i].which, path, true, errbuf) < 0)
            return -1;
    }
    return 0;
}

rules_t *rules_netset(const char *list, const char *what, char *errbuf)
{
    rules_t *r = rules_create();
    if (!r) {
        tapir_errf(errbuf, "%s: out of memory", what);
        return NULL;
    }
    const char *p = list ? list : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char one[64];
        while (n && isspace((unsigned char)*p))
            p++, n--;
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (n >= sizeof(one) ||
            (n && (memcpy(one, p, n), one[n] = 0, rules_add(r, RULES_ALLOW, one, 0) < 0))) {
            tapir_errf(errbuf, "%s: '%.*s' is not a network (CIDR or IP)", what,
                       (int)(n < 60 ? n : 60), p);
            rules_destroy(r);
            return NULL;
        }
        p += n;
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
    }
    if (!rules_count(r, RULES_ALLOW)) {
        tapir_errf(errbuf, "%s: no network given", what);
        rules_destroy(r);
        return NULL;
    }
    return r;
}
