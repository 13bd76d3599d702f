/* Unit tests: the live blocklist's selection (blocklist_live.c) — a victim is never
 * listed, home-net attackers go to quarantine (or nowhere), special, own and allowlisted
 * addresses never, the bounds (maximum, rate, /24 and /48), the TTL by the caller's
 * clock (packet time) refreshed by updates and not by an end, unban with its pardon,
 * the ban/unban hook, the file and its state, and the helper's line check. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocklist.h"
#include "check.h"

#define T0  1767225600000000ULL /* 2026-01-01T00:00:00Z, packet time */
#define SEC 1000000ULL

static char tmpdir[64];

static struct alert mk(const char *ip, unsigned plen, enum alert_side side, const char *ev)
{
    struct alert a = {0};
    ip_addr_parse(ip, &a.ip);
    a.prefix_len = (uint8_t)plen;
    a.side = side;
    a.event_type = ev;
    a.score = 0.9;
    return a;
}

static enum blocklist_verdict src(blocklist_live_t *l, const char *ip, uint64_t t)
{
    struct alert a = mk(ip, 128, ALERT_SIDE_SOURCE, "alert");
    return blocklist_live_alert(l, &a, t);
}

static struct blocklist_config base_config(void)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/bl.nft", tmpdir);
    return (struct blocklist_config){.path = path,
                                     .format = BLOCKLIST_NFT,
                                     .ttl_s = 10,
                                     .max_entries = 100,
                                     .rate = 100,
                                     .replay = true,
                                     .apply_fd = -1,
                                     .apply_result_fd = -1};
}

static rules_t *home(void)
{
    char err[TAPIR_ERRBUF_SIZE];
    rules_t *h = rules_netset(RULES_HOME_NET_DEFAULT, "--home-net", err);
    CHECK(h != NULL);
    return h;
}

TEST(attackers_only)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct blocklist_config c = base_config();
    rules_t *h = home();
    blocklist_live_t *l = blocklist_live_create(&c, h, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    struct ip_addr gw;
    ip_addr_parse("198.51.100.1", &gw);
    blocklist_live_protect(l, &gw);

    struct alert victim = mk("203.0.113.80", 128, ALERT_SIDE_DESTINATION, "alert");
    CHECK_EQ(blocklist_live_alert(l, &victim, T0), BLOCKLIST_V_VICTIM);
    CHECK_EQ(src(l, "192.0.2.7", T0), BLOCKLIST_V_BANNED);
    CHECK_EQ(src(l, "10.0.0.5", T0), BLOCKLIST_V_HOME_NET); /* quarantine off */
    CHECK_EQ(src(l, "fd00::5", T0), BLOCKLIST_V_HOME_NET);
    CHECK_EQ(src(l, "0.0.0.0", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "255.255.255.255", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "224.0.0.251", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "127.0.0.1", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "ff02::1", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "::1", T0), BLOCKLIST_V_SPECIAL);
    CHECK_EQ(src(l, "198.51.100.1", T0), BLOCKLIST_V_OWN);
    struct alert gwnet = mk("198.51.100.0", 120, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &gwnet, T0), BLOCKLIST_V_OWN); /* holds the gateway */
    /* Nothing broader than a /24 or a /48. */
    struct alert p16 = mk("198.18.0.0", 112, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &p16, T0), BLOCKLIST_V_TOO_BROAD);
    struct alert p24 = mk("198.18.7.0", 120, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &p24, T0), BLOCKLIST_V_BANNED);
    struct alert p32v6 = mk("2001:db8::", 32, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &p32v6, T0), BLOCKLIST_V_TOO_BROAD);
    struct alert p64v6 = mk("2001:db8:1:2::", 64, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &p64v6, T0), BLOCKLIST_V_BANNED);
    CHECK_EQ(blocklist_live_count(l), 3);
    for (size_t i = 0; i < blocklist_live_count(l); i++) {
        char buf[64];
        const struct blocklist_entry *e = blocklist_live_entry(l, i);
        rules_cidr_str(&e->ip, e->prefix_len, buf, sizeof(buf));
        CHECK(strcmp(buf, "203.0.113.80") != 0);
        CHECK_EQ(e->kind, BLOCKLIST_BAN);
    }
    CHECK_EQ(blocklist_live_verdicts(l, BLOCKLIST_V_VICTIM), 1);
    blocklist_live_destroy(l);

    /* --blocklist-quarantine: the home net goes to its own sets. */
    c.quarantine = true;
    l = blocklist_live_create(&c, h, false, err);
    CHECK_EQ(src(l, "10.0.0.5", T0), BLOCKLIST_V_QUARANTINED);
    CHECK_EQ(blocklist_live_entry(l, 0)->kind, BLOCKLIST_QUARANTINE);
    struct alert v = mk("10.0.0.80", 128, ALERT_SIDE_DESTINATION, "alert");
    CHECK_EQ(blocklist_live_alert(l, &v, T0), BLOCKLIST_V_VICTIM); /* never, even there */
    blocklist_live_destroy(l);
    rules_destroy(h);
}

TEST(bounds)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct blocklist_config c = base_config();
    c.max_entries = 3;
    c.rate = 2;
    blocklist_live_t *l = blocklist_live_create(&c, NULL, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    CHECK_EQ(src(l, "192.0.2.1", T0), BLOCKLIST_V_BANNED);
    CHECK_EQ(src(l, "192.0.2.2", T0), BLOCKLIST_V_BANNED);
    CHECK_EQ(src(l, "192.0.2.3", T0), BLOCKLIST_V_RATE_LIMITED); /* 2 a second */
    CHECK_EQ(src(l, "192.0.2.1", T0), BLOCKLIST_V_REFRESHED);    /* no new ban: no token */
    CHECK_EQ(src(l, "192.0.2.3", T0 + SEC), BLOCKLIST_V_BANNED);
    CHECK_EQ(src(l, "192.0.2.4", T0 + 5 * SEC), BLOCKLIST_V_FULL); /* --blocklist-max 3 */
    CHECK_EQ(blocklist_live_count(l), 3);
    CHECK_EQ(blocklist_live_verdicts(l, BLOCKLIST_V_FULL), 1);
    CHECK_EQ(blocklist_live_verdicts(l, BLOCKLIST_V_RATE_LIMITED), 1);
    blocklist_live_destroy(l);
}

/* The index under removals: every other entry expires (removal moves the last entry into
 * the hole, the index shifts runs back); each survivor is still found (refreshed), each
 * removed one banned anew. */
TEST(index)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct blocklist_config c = base_config();
    c.max_entries = 2000;
    c.rate = 1000000;
    blocklist_live_t *l = blocklist_live_create(&c, NULL, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    char ip[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 256, i % 256);
        CHECK_EQ(src(l, ip, T0 + (uint64_t)(i % 2) * 5 * SEC), BLOCKLIST_V_BANNED);
    }
    CHECK_EQ(src(l, "198.19.0.1", T0 + 5 * SEC), BLOCKLIST_V_FULL);
    CHECK_EQ(blocklist_live_expire(l, T0 + 10 * SEC), 1000); /* the even ones */
    int refreshed = 0, banned = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 256, i % 256);
        enum blocklist_verdict v = src(l, ip, T0 + 11 * SEC);
        refreshed += v == BLOCKLIST_V_REFRESHED && i % 2 == 1;
        banned += v == BLOCKLIST_V_BANNED && i % 2 == 0;
    }
    CHECK_EQ(refreshed, 1000);
    CHECK_EQ(banned, 1000);
    CHECK_EQ(blocklist_live_count(l), 2000);
    blocklist_live_destroy(l);
}

static int n_ban, n_unban;
static struct blocklist_event last_ev;
static void on_event(void *ctx, const struct blocklist_event *e)
{
    (void)ctx;
    if (!strcmp(e->action, "ban"))
        n_ban++;
    else if (!strcmp(e->action, "unban"))
        n_unban++;
    last_ev = *e;
}

TEST(ttl_packet_time)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct blocklist_config c = base_config();
    c.event = on_event;
    blocklist_live_t *l = blocklist_live_create(&c, NULL, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    /* The ban's event carries the alert's category and the list's clock (packet time). */
    struct alert syn = mk("192.0.2.7", 128, ALERT_SIDE_SOURCE, "alert");
    syn.category = ALERT_CATEGORY_SYNFLOOD;
    CHECK_EQ(blocklist_live_alert(l, &syn, T0), BLOCKLIST_V_BANNED); /* ttl 10 s */
    CHECK_STR(last_ev.action, "ban");
    CHECK_EQ(last_ev.category, ALERT_CATEGORY_SYNFLOOD);
    CHECK_EQ(last_ev.time_us, T0);
    CHECK(last_ev.cause == &syn);
    CHECK_EQ(blocklist_live_entry(l, 0)->expires_us, T0 + 10 * SEC);
    CHECK_EQ(blocklist_live_expire(l, T0 + 9 * SEC), 0);
    /* An update refreshes it while the attack goes on; an end does not. */
    struct alert upd = mk("192.0.2.7", 128, ALERT_SIDE_SOURCE, "update");
    CHECK_EQ(blocklist_live_alert(l, &upd, T0 + 5 * SEC), BLOCKLIST_V_REFRESHED);
    struct alert end = mk("192.0.2.7", 128, ALERT_SIDE_SOURCE, "end");
    CHECK_EQ(blocklist_live_alert(l, &end, T0 + 8 * SEC), BLOCKLIST_V_ENDED);
    CHECK_EQ(blocklist_live_entry(l, 0)->expires_us, T0 + 15 * SEC);
    CHECK_EQ(blocklist_live_expire(l, T0 + 14 * SEC), 0);
    CHECK_EQ(blocklist_live_expire(l, T0 + 15 * SEC), 1);
    CHECK_STR(last_ev.action, "unban");
    CHECK_EQ(last_ev.category, ALERT_CATEGORY_SYNFLOOD); /* the ban's, kept */
    CHECK_EQ(last_ev.time_us, T0 + 15 * SEC);
    CHECK(last_ev.cause == NULL);
    CHECK_EQ(blocklist_live_count(l), 0);
    CHECK_EQ(n_ban, 1);
    CHECK_EQ(n_unban, 1);

    /* Unban by hand: lifted, and not banned again for one TTL. */
    CHECK_EQ(src(l, "198.18.0.9", T0 + 20 * SEC), BLOCKLIST_V_BANNED);
    struct ip_addr ip;
    ip_addr_parse("198.18.0.9", &ip);
    CHECK_EQ(blocklist_live_unban(l, &ip, 128, T0 + 21 * SEC), 1);
    CHECK_EQ(blocklist_live_count(l), 0);
    CHECK_EQ(src(l, "198.18.0.9", T0 + 22 * SEC), BLOCKLIST_V_PARDONED);
    CHECK_EQ(src(l, "198.18.0.9", T0 + 32 * SEC), BLOCKLIST_V_BANNED);
    /* Unbanning one address inside a banned /24 lifts the /24. */
    struct alert p24 = mk("198.18.5.0", 120, ALERT_SIDE_PREFIX, "alert");
    CHECK_EQ(blocklist_live_alert(l, &p24, T0 + 33 * SEC), BLOCKLIST_V_BANNED);
    ip_addr_parse("198.18.5.77", &ip);
    CHECK_EQ(blocklist_live_unban(l, &ip, 128, T0 + 34 * SEC), 1);
    CHECK_EQ(blocklist_live_count(l), 1);
    blocklist_live_destroy(l);
}

/* Suppressions: a hook counting its calls, a generation the test bumps. */
static int n_supp_calls;
static uint64_t supp_gen = 1;
static struct ip_addr supp_net;
static unsigned supp_len; /* 0: nothing suppressed */
static bool count_suppressed(void *ctx, const struct ip_addr *ip, unsigned plen)
{
    (void)ctx;
    n_supp_calls++;
    if (!supp_len)
        return false;
    struct ip_addr a = *ip, b = supp_net;
    unsigned len = plen < supp_len ? plen : supp_len;
    ip_addr_mask(&a, len);
    ip_addr_mask(&b, len);
    return !memcmp(a.b, b.b, 16);
}
static uint64_t gen_of(void *ctx)
{
    (void)ctx;
    return supp_gen;
}

TEST(suppress_only_on_change)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct blocklist_config c = base_config();
    c.max_entries = 1000;
    c.rate = 1000;
    c.ttl_s = 3600;
    c.suppressed = count_suppressed;
    c.suppress_generation = gen_of;
    blocklist_live_t *l = blocklist_live_create(&c, NULL, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    char ip[32];
    for (int i = 0; i < 500; i++) {
        snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 256, i % 256);
        CHECK_EQ(src(l, ip, T0), BLOCKLIST_V_BANNED);
    }
    n_supp_calls = 0;
    CHECK_EQ(blocklist_live_expire(l, T0 + SEC), 0); /* the first pass looks */
    CHECK_EQ(n_supp_calls, 500);
    /* Unchanged suppressions: the passes of the next seconds do not look at all. */
    n_supp_calls = 0;
    for (int t = 2; t < 60; t++)
        CHECK_EQ(blocklist_live_expire(l, T0 + (uint64_t)t * SEC), 0);
    CHECK_EQ(n_supp_calls, 0);
    /* A new suppression (the generation moves): one pass lifts what it covers. */
    ip_addr_parse("198.18.1.0", &supp_net);
    supp_len = 120;
    supp_gen++;
    CHECK_EQ(blocklist_live_expire(l, T0 + 60 * SEC), 244); /* 198.18.1.0 .. 198.18.1.243 */
    CHECK_EQ(n_supp_calls, 500);
    CHECK_EQ(blocklist_live_count(l), 256);
    n_supp_calls = 0;
    CHECK_EQ(blocklist_live_expire(l, T0 + 61 * SEC), 0);
    CHECK_EQ(n_supp_calls, 0);
    /* Without the generation hook every pass looks (the old behaviour). */
    c.suppress_generation = NULL;
    CHECK_EQ(blocklist_live_expire(l, T0 + 62 * SEC), 0);
    CHECK_EQ(n_supp_calls, 256);
    supp_len = 0;
    blocklist_live_destroy(l);
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

TEST(file_and_rules)
{
    char err[TAPIR_ERRBUF_SIZE], rdir[128], p[192];
    snprintf(rdir, sizeof(rdir), "%s/rules", tmpdir);
    mkdir(rdir, 0755);
    snprintf(p, sizeof(p), "%s/allowlist", rdir);
    FILE *f = fopen(p, "w");
    fputs("192.0.2.99\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/denylist", rdir);
    f = fopen(p, "w");
    fputs("# known bad\n198.18.0.0/16\n", f);
    fclose(f);
    struct blocklist_config c = base_config();
    c.rules_dir = rdir;
    c.chain = true;
    c.table = "tapir_t";
    blocklist_live_t *l = blocklist_live_create(&c, NULL, false, err);
    CHECK(l != NULL);
    if (!l)
        return;
    CHECK_EQ(src(l, "192.0.2.99", T0), BLOCKLIST_V_ALLOWLISTED);
    CHECK_EQ(src(l, "192.0.2.7", T0), BLOCKLIST_V_BANNED);
    CHECK_EQ(src(l, "198.18.3.4", T0), BLOCKLIST_V_BANNED); /* inside the denied /16 */
    CHECK(blocklist_live_dirty(l));
    CHECK_EQ(blocklist_live_write(l, T0 + 4 * SEC, err), 0);
    CHECK(!blocklist_live_dirty(l));
    const char *nft = slurp(c.path);
    CHECK(nft && strstr(nft, "table inet tapir_t {\n"));
    CHECK(nft && strstr(nft, "add element inet tapir_t blocklist4 { 192.0.2.7 timeout 6s, "
                             "198.18.0.0/16 }\n")); /* folded into the /16, no timeout */
    CHECK(nft && strstr(nft, "add rule inet tapir_t input ip saddr @blocklist4 drop\n"));
    CHECK(nft && strstr(nft, "size 101;")); /* max + the denied network */
    struct stat st;
    CHECK_EQ(stat(c.path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);
    if (access("/usr/sbin/nft", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "/usr/sbin/nft -c -f %s", c.path);
        CHECK_EQ(system(cmd), 0);
    }
    char state[192];
    snprintf(state, sizeof(state), "%s.state", c.path);
    const char *s = slurp(state);
    CHECK(s && strstr(s, "clock packet now_us 1767225604000000\n"));
    CHECK(s && strstr(s, "deny 198.18.0.0/16 0 0 0\n"));
    CHECK(s && strstr(s, "ban 192.0.2.7 1767225610000000 1767225600000000 0.9000\n"));
    blocklist_live_destroy(l);

    /* The helper's check: a line the writer never produces is refused before nft runs. */
    if (access("/usr/sbin/nft", X_OK) == 0) {
        char bad[192];
        snprintf(bad, sizeof(bad), "%s/bad.nft", tmpdir);
        f = fopen(bad, "w");
        fputs("table inet tapir_t {\n}\nflush ruleset\n", f);
        fclose(f);
        CHECK_EQ(blocklist_apply_load(bad, BLOCKLIST_NFT, "tapir_t", err), -1);
        CHECK(strstr(err, "line 3") != NULL);
        f = fopen(bad, "w");
        fputs("table inet tapir_t {\n}\nadd element inet tapir_t blocklist4 { 1.2.3.4 }; "
              "flush ruleset\n",
              f);
        fclose(f);
        CHECK_EQ(blocklist_apply_load(bad, BLOCKLIST_NFT, "tapir_t", err), -1);
        f = fopen(bad, "w");
        fputs("table inet other {\n}\n", f);
        fclose(f);
        CHECK_EQ(blocklist_apply_load(bad, BLOCKLIST_NFT, "tapir_t", err), -1);
    }
    /* The real file passes the check (nft itself runs only as root in the netns test). */
    if (access("/usr/sbin/nft", X_OK) == 0 && geteuid() != 0) {
        CHECK_EQ(blocklist_apply_load(c.path, BLOCKLIST_NFT, "tapir_t", err), -1);
        CHECK(strstr(err, "exited") != NULL); /* checked, then nft refused: no rights */
    }
    /* A table name that nft or ipset could misread is refused. */
    c.table = "x; flush ruleset";
    CHECK(blocklist_live_create(&c, NULL, false, err) == NULL);
    CHECK(strstr(err, "--blocklist-table") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-bllive.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(attackers_only);
    RUN(bounds);
    RUN(index);
    RUN(ttl_packet_time);
    RUN(suppress_only_on_change);
    RUN(file_and_rules);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return CHECK_DONE();
}
