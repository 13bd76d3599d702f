/*
 * blocklist.c — the firewall blocklist from stored alerts (its command: cli/cmd_blocklist.c).
 *
 * The store, not the running analyzer, is the source: the list can be rebuilt at any
 * time (cron, a systemd timer, after a restart) and always says the same thing for the
 * same database and clock. Each flagged IP or prefix stays listed until expire seconds
 * after its latest alert; the nft and ipset outputs carry the time left as a per-element
 * timeout, so the kernel drops an entry on time even if the list is not rebuilt.
 * Both scripts flush their sets before adding, in the same load, so a rebuilt list also
 * removes what was acknowledged as 'suppressed' or what the allowlist now covers.
 *
 * Allowlisted networks are never listed: a flagged prefix that merely contains one
 * allowlisted host is left out whole rather than split (splitting a /24 around one host
 * takes up to 8 CIDRs, and an operator who allowlists inside a prefix means "careful
 * here"). Addresses inside a flagged prefix are folded into it: nft interval sets
 * refuse overlapping elements.
 *
 * The file is replaced atomically (temporary file in the same directory, fsync, rename,
 * fsync of the directory), so `nft -f` or `ipset restore` never reads half a list.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "store_int.h"

#define BLOCKLIST_NFT_CHUNK  500     /* elements per `add element` statement */
#define BLOCKLIST_IPSET_MAXT 2147483 /* ipset's largest timeout, seconds */

int blocklist_parse_format(const char *s, enum blocklist_format *f)
{
    if (!strcmp(s, "nft") || !strcmp(s, "nftables"))
        *f = BLOCKLIST_NFT;
    else if (!strcmp(s, "ipset"))
        *f = BLOCKLIST_IPSET;
    else if (!strcmp(s, "plain"))
        *f = BLOCKLIST_PLAIN;
    else
        return -1;
    return 0;
}

void blocklist_free(struct blocklist *b)
{
    free(b->v);
    memset(b, 0, sizeof(*b));
}

struct build_ctx {
    struct blocklist *b;
    const rules_t *allow;
    uint64_t expire_us, now_us;
    bool oom;
};

static int on_flagged(void *arg, const char *ipstr, uint64_t last_alert_us, double max_score)
{
    struct build_ctx *c = arg;
    struct ip_addr ip;
    unsigned plen;
    if (rules_parse_cidr(ipstr, &ip, &plen) < 0)
        return 0; /* not an address (edited by hand?): never list what we cannot read */
    uint64_t expires = last_alert_us + c->expire_us;
    if (expires <= c->now_us)
        return 0;
    if (rules_overlaps(c->allow, RULES_ALLOW, &ip, plen)) {
        c->b->dropped_allowlisted++;
        return 0;
    }
    struct blocklist *b = c->b;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct blocklist_entry *v = realloc(b->v, cap * sizeof(*v));
        if (!v) {
            c->oom = true;
            return -1;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = (struct blocklist_entry){ip, plen, expires, max_score, BLOCKLIST_BAN};
    return 0;
}

/* BAN and DENY entries share the blocklist sets; QUARANTINE has its own. */
static int entry_group(const struct blocklist_entry *e)
{
    return e->kind == BLOCKLIST_QUARANTINE;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct blocklist_entry *a = pa, *b = pb;
    if (entry_group(a) != entry_group(b))
        return entry_group(a) - entry_group(b);
    int c = memcmp(a->ip.b, b->ip.b, 16);
    if (c)
        return c;
    return (a->prefix_len > b->prefix_len) - (a->prefix_len < b->prefix_len);
}

/* Sorted by (set, address, length), a prefix comes right before everything it holds. */
void blocklist_fold(struct blocklist *b)
{
    if (b->n > 1)
        qsort(b->v, b->n, sizeof(b->v[0]), entry_cmp);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (w) {
            struct blocklist_entry *cover = &b->v[w - 1];
            struct ip_addr m = b->v[i].ip;
            ip_addr_mask(&m, cover->prefix_len);
            if (entry_group(cover) == entry_group(&b->v[i]) && !memcmp(m.b, cover->ip.b, 16)) {
                if (b->v[i].expires_us > cover->expires_us)
                    cover->expires_us = b->v[i].expires_us;
                if (b->v[i].score > cover->score)
                    cover->score = b->v[i].score;
                if (b->v[i].kind == BLOCKLIST_DENY)
                    cover->kind = BLOCKLIST_DENY; /* a denied network never times out */
                b->merged++;
                continue;
            }
        }
        b->v[w++] = b->v[i];
    }
    b->n = w;
}

int blocklist_build(struct blocklist *b, store_t *s, const rules_t *allow, double min_score,
                    uint64_t expire_s, uint64_t now_us, char *errbuf)
{
    struct build_ctx c = {b, allow, expire_s * 1000000u, now_us, false};
    uint64_t since = now_us > c.expire_us ? now_us - c.expire_us : 0;
    int rc = store_each_flagged(s, min_score, since, on_flagged, &c);
    if (c.oom) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "building the blocklist: out of memory");
        return -1;
    }
    if (rc < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s", store_errmsg(s));
        return -1;
    }
    blocklist_fold(b);
    return 0;
}

/* Seconds left until e expires, at least 1. */
static uint64_t left_s(const struct blocklist_entry *e, uint64_t now_us)
{
    uint64_t left = e->expires_us > now_us ? e->expires_us - now_us : 0;
    left = (left + 999999) / 1000000;
    return left ? left : 1;
}

static bool entry_v4(const struct blocklist_entry *e)
{
    return ip_addr_is_v4(&e->ip) && e->prefix_len >= 96;
}

struct write_ctx {
    const struct blocklist *b;
    enum blocklist_format fmt;
    uint64_t now_us, expire_s;
    const struct blocklist_style *st;
};

static const char *const set_names[2][2] = {{"blocklist4", "blocklist6"},
                                            {"quarantine4", "quarantine6"}};

static void nft_set_decl(FILE *f, const char *name, int fam, uint32_t size)
{
    fprintf(f, "\tset %s { type ipv%d_addr; flags interval, timeout;", name, fam);
    if (size)
        fprintf(f, " size %u;", (unsigned)size);
    fputs(" }\n", f);
}

static void write_nft(FILE *f, const struct write_ctx *w)
{
    const struct blocklist *b = w->b;
    const struct blocklist_style *st = w->st;
    const char *t = st->table;
    char iso[32];
    fprintf(f,
            "#!/usr/sbin/nft -f\n"
            "# Tapir blocklist, %zu entries, written %s. Load with: nft -f FILE\n",
            b->n, tapir_iso8601(w->now_us, iso, sizeof(iso)));
    if (!st->chain)
        fprintf(f,
                "# Reference the sets from a chain in this table, e.g.:\n"
                "#   table inet %s { chain input { type filter hook input priority -10;\n"
                "#     ip saddr @blocklist4 drop; ip6 saddr @blocklist6 drop; } }\n",
                t);
    fprintf(f, "table inet %s {\n", t);
    int groups = st->quarantine ? 2 : 1;
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < 2; k++)
            nft_set_decl(f, set_names[g][k], k ? 6 : 4, st->size);
    static const char *const hooks[2] = {"input", "forward"};
    if (st->chain)
        for (int h = 0; h < 2; h++)
            fprintf(f, "\tchain %s { type filter hook %s priority -10; policy accept; }\n",
                    hooks[h], hooks[h]);
    fputs("}\n", f);
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < 2; k++)
            fprintf(f, "flush set inet %s %s\n", t, set_names[g][k]);
    if (st->chain) /* flushed and filled again: loading twice leaves one rule each */
        for (int h = 0; h < 2; h++)
            fprintf(f,
                    "flush chain inet %s %s\n"
                    "add rule inet %s %s ip saddr @blocklist4 drop\n"
                    "add rule inet %s %s ip6 saddr @blocklist6 drop\n",
                    t, hooks[h], t, hooks[h], t, hooks[h]);
    for (int g = 0; g < groups; g++)
        for (int fam = 4; fam <= 6; fam += 2) {
            size_t in_stmt = 0;
            for (size_t i = 0; i < b->n; i++) {
                const struct blocklist_entry *e = &b->v[i];
                if (entry_v4(e) != (fam == 4) || entry_group(e) != g)
                    continue;
                char cidr[64];
                rules_cidr_str(&e->ip, e->prefix_len, cidr, sizeof(cidr));
                if (in_stmt == 0)
                    fprintf(f, "add element inet %s %s { ", t, set_names[g][fam == 6]);
                else
                    fputs(", ", f);
                if (e->kind == BLOCKLIST_DENY)
                    fputs(cidr, f); /* no timeout: the set keeps it */
                else
                    fprintf(f, "%s timeout %llus", cidr, (unsigned long long)left_s(e, w->now_us));
                if (++in_stmt == BLOCKLIST_NFT_CHUNK) {
                    fputs(" }\n", f);
                    in_stmt = 0;
                }
            }
            if (in_stmt)
                fputs(" }\n", f);
        }
}

static void write_ipset(FILE *f, const struct write_ctx *w)
{
    const struct blocklist *b = w->b;
    const struct blocklist_style *st = w->st;
    unsigned long long def =
        w->expire_s > BLOCKLIST_IPSET_MAXT ? BLOCKLIST_IPSET_MAXT : w->expire_s;
    static const char *const sfx[2][2] = {{"4", "6"}, {"q4", "q6"}};
    int groups = st->quarantine ? 2 : 1;
    char maxelem[32] = "";
    if (st->size)
        snprintf(maxelem, sizeof(maxelem), " maxelem %u", (unsigned)st->size);
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < 2; k++)
            fprintf(f, "create %s%s hash:net family inet%s timeout %llu%s -exist\n", st->table,
                    sfx[g][k], k ? "6" : "", def, maxelem);
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < 2; k++)
            fprintf(f, "flush %s%s\n", st->table, sfx[g][k]);
    for (size_t i = 0; i < b->n; i++) {
        const struct blocklist_entry *e = &b->v[i];
        if ((entry_v4(e) && e->prefix_len == 96) || e->prefix_len == 0)
            continue; /* hash:net refuses /0 */
        if (entry_group(e) >= groups)
            continue;
        char cidr[64];
        rules_cidr_str(&e->ip, e->prefix_len, cidr, sizeof(cidr));
        uint64_t t = e->kind == BLOCKLIST_DENY ? 0 : left_s(e, w->now_us); /* 0: permanent */
        fprintf(f, "add %s%s %s timeout %llu -exist\n", st->table,
                sfx[entry_group(e)][!entry_v4(e)], cidr,
                (unsigned long long)(t > BLOCKLIST_IPSET_MAXT ? BLOCKLIST_IPSET_MAXT : t));
    }
}

/* Plain: one CIDR a line, the blocklist only (quarantine entries are not for a plain
 * consumer that drops everything it reads). */
static void write_plain(FILE *f, const struct blocklist *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct blocklist_entry *e = &b->v[i];
        if (e->kind == BLOCKLIST_QUARANTINE)
            continue;
        char a[48];
        ip_addr_str(&e->ip, a, sizeof(a));
        fprintf(f, "%s/%u\n", a, entry_v4(e) ? e->prefix_len - 96 : e->prefix_len);
    }
}

static void write_any(FILE *f, void *ctx)
{
    const struct write_ctx *w = ctx;
    switch (w->fmt) {
    case BLOCKLIST_NFT:
        write_nft(f, w);
        break;
    case BLOCKLIST_IPSET:
        write_ipset(f, w);
        break;
    case BLOCKLIST_PLAIN:
        write_plain(f, w->b);
        break;
    }
}

int blocklist_write_atomic(const char *path, unsigned mode, void (*fn)(FILE *f, void *ctx),
                           void *ctx, char *errbuf)
{
    char tmp[4096], dirbuf[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "blocklist path too long");
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL: a new file, never a planted link */
    if (fd < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create a temporary file next to %s: %s", path,
                 strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot write %.200s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    fn(f, ctx);
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? errno : EIO;
    if (!err && fchmod(fd, (mode_t)mode) < 0)
        err = errno;
    if (!err && fsync(fd) < 0)
        err = errno;
    if (fclose(f) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) < 0)
        err = errno;
    if (err) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot write the blocklist %s: %s", path,
                 strerror(err));
        unlink(tmp);
        return -1;
    }
    /* Make the rename itself durable. */
    snprintf(dirbuf, sizeof(dirbuf), "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int blocklist_write_style(const struct blocklist *b, enum blocklist_format fmt, const char *path,
                          uint64_t now_us, uint64_t expire_s, const struct blocklist_style *st,
                          char *errbuf)
{
    struct write_ctx w = {b, fmt, now_us, expire_s, st};
    if (!strcmp(path, "-")) {
        write_any(stdout, &w);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot write the blocklist to stdout: %s",
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    return blocklist_write_atomic(path, st->mode, write_any, &w, errbuf);
}

int blocklist_write(const struct blocklist *b, enum blocklist_format fmt, const char *path,
                    uint64_t now_us, uint64_t expire_s, char *errbuf)
{
    static const struct blocklist_style def = {"tapir", 0, false, false, 0644};
    return blocklist_write_style(b, fmt, path, now_us, expire_s, &def, errbuf);
}

int blocklist_data_end(store_t *s, uint64_t *end_us, bool *replay, char *errbuf)
{
    static const char sql[] = "SELECT max(coalesce((SELECT max(window_end_us) FROM windows), 0),"
                              "           coalesce((SELECT max(ts_us) FROM alerts), 0)),"
                              "       (SELECT source FROM runs ORDER BY id DESC LIMIT 1)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "reading the end of the stored data: %s",
                 sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return -1;
    }
    *end_us = (uint64_t)sqlite3_column_int64(st, 0);
    const char *src = (const char *)sqlite3_column_text(st, 1);
    *replay = src && strncmp(src, "interface ", 10) != 0;
    sqlite3_finalize(st);
    return 0;
}
