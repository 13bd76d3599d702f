/* Unit tests: the blocklist — contents (expiry, allowlist, folding, suppressed), the
 * three formats byte for byte, atomic replacement under a concurrent reader, and the
 * `tapir blocklist` command line. */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blocklist.h"
#include "check.h"
#include "cli.h"

static char tmpdir[64];
static char dbpath[128];

#define NOW    1700100000000000ULL /* 2023-11-16T02:00:00Z */
#define HOUR   3600000000ULL
#define ALLOWF "192.0.2.99\n2001:db8:a::1\n"

static void add(store_t *s, const char *ip, unsigned plen, uint64_t t_us, double score, int64_t *id)
{
    struct alert a = {0};
    a.timestamp_us = t_us;
    a.event_type = "anomaly";
    ip_addr_parse(ip, &a.ip);
    a.prefix_len = (uint8_t)plen;
    a.side = plen < 128 ? ALERT_SIDE_PREFIX : ALERT_SIDE_SOURCE;
    a.score = score;
    a.threshold = 0.6;
    a.window_start_us = t_us - 10000000;
    a.window_end_us = t_us;
    CHECK_EQ(store_alert_add(s, 0, &a), 0);
    if (id)
        *id = a.id;
}

static void make_db(void)
{
    char err[TAPIR_ERRBUF_SIZE];
    snprintf(dbpath, sizeof(dbpath), "%s/bl.db", tmpdir);
    store_t *s = store_open(dbpath, err);
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t sup;
    CHECK_EQ(store_window_begin(s), 0);
    add(s, "192.0.2.7", 128, NOW - 1 * HOUR, 0.8, NULL);      /* 23 h left */
    add(s, "192.0.2.7", 128, NOW - 3 * HOUR, 0.9, NULL);      /* older alert, same IP */
    add(s, "203.0.113.0", 120, NOW - 2 * HOUR, 0.7, NULL);    /* a /24 prefix ... */
    add(s, "203.0.113.9", 128, NOW - HOUR / 2, 0.85, NULL);   /* ... and a host inside */
    add(s, "198.51.100.1", 128, NOW - 25 * HOUR, 0.95, NULL); /* expired */
    add(s, "192.0.2.99", 128, NOW - HOUR, 0.99, NULL);        /* allowlisted host */
    add(s, "192.0.2.0", 120, NOW - HOUR, 0.99, NULL);         /* prefix holding it */
    add(s, "2001:db8:a::", 64, NOW - HOUR, 0.9, NULL);        /* holds allowlisted v6 */
    add(s, "2001:db8:b::7", 128, NOW - 2 * HOUR, 0.66, NULL); /* v6 host */
    add(s, "192.0.2.200", 128, NOW - HOUR, 0.61, NULL);       /* below --min-score 0.65 */
    add(s, "192.0.2.201", 128, NOW - HOUR, 0.9, &sup);        /* suppressed */
    CHECK_EQ(store_window_commit(s), 0);
    CHECK_EQ(store_alert_set_status(s, sup, "suppressed"), 0);
    store_close(s);
}

static rules_t *allow_rules(void)
{
    rules_t *r = rules_create();
    CHECK_EQ(rules_add(r, RULES_ALLOW, "192.0.2.99", 0), 0);
    CHECK_EQ(rules_add(r, RULES_ALLOW, "2001:db8:a::1", 0), 0);
    return r;
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

TEST(contents)
{
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open_readonly(dbpath, err);
    CHECK(s != NULL);
    if (!s)
        return;
    rules_t *r = allow_rules();
    struct blocklist b = {0};
    CHECK_EQ(blocklist_build(&b, s, r, 0.65, 86400, NOW, err), 0);
    char buf[64];
    const char *want[] = {"192.0.2.7", "203.0.113.0/24", "2001:db8:b::7"};
    CHECK_EQ(b.n, 3);
    for (size_t i = 0; i < b.n && i < 3; i++)
        CHECK_STR(rules_cidr_str(&b.v[i].ip, b.v[i].prefix_len, buf, sizeof(buf)), want[i]);
    CHECK_EQ(b.dropped_allowlisted, 3);
    CHECK_EQ(b.merged, 1);
    if (b.n == 3) {
        CHECK_EQ(b.v[0].expires_us, NOW - HOUR + 86400000000ULL);
        CHECK_EQ(b.v[1].expires_us, NOW - HOUR / 2 + 86400000000ULL); /* the host's, later */
        CHECK_NEAR(b.v[1].score, 0.85, 1e-12);
        /* No entry ever overlaps the allowlist. */
        for (size_t i = 0; i < b.n; i++)
            CHECK(!rules_overlaps(r, RULES_ALLOW, &b.v[i].ip, b.v[i].prefix_len));
    }
    blocklist_free(&b);

    /* A shorter expiry drops the older entries; without an allowlist they come back. */
    memset(&b, 0, sizeof(b));
    CHECK_EQ(blocklist_build(&b, s, NULL, 0, 5400, NOW, err), 0);
    CHECK_EQ(b.n, 3); /* 192.0.2.7, 192.0.2.0/24 (holding .99, .200), 2001:db8:a::/64 */
    if (b.n == 3) {
        CHECK_STR(rules_cidr_str(&b.v[0].ip, b.v[0].prefix_len, buf, sizeof(buf)), "192.0.2.0/24");
        CHECK_STR(rules_cidr_str(&b.v[1].ip, b.v[1].prefix_len, buf, sizeof(buf)), "203.0.113.9");
        CHECK_STR(rules_cidr_str(&b.v[2].ip, b.v[2].prefix_len, buf, sizeof(buf)),
                  "2001:db8:a::/64");
    }
    blocklist_free(&b);
    rules_destroy(r);
    store_close(s);
}

TEST(formats)
{
    char err[TAPIR_ERRBUF_SIZE];
    store_t *s = store_open_readonly(dbpath, err);
    rules_t *r = allow_rules();
    struct blocklist b = {0};
    CHECK_EQ(blocklist_build(&b, s, r, 0.65, 86400, NOW, err), 0);
    char path[160];
    snprintf(path, sizeof(path), "%s/out.nft", tmpdir);
    CHECK_EQ(blocklist_write(&b, BLOCKLIST_NFT, path, NOW, 86400, err), 0);
    CHECK_STR(slurp(path),
              "#!/usr/sbin/nft -f\n"
              "# Tapir blocklist, 3 entries, written 2023-11-16T02:00:00.000Z. Load with: nft -f "
              "FILE\n"
              "# Reference the sets from a chain in this table, e.g.:\n"
              "#   table inet tapir { chain input { type filter hook input priority -10;\n"
              "#     ip saddr @blocklist4 drop; ip6 saddr @blocklist6 drop; } }\n"
              "table inet tapir {\n"
              "\tset blocklist4 { type ipv4_addr; flags interval, timeout; }\n"
              "\tset blocklist6 { type ipv6_addr; flags interval, timeout; }\n"
              "}\n"
              "flush set inet tapir blocklist4\n"
              "flush set inet tapir blocklist6\n"
              "add element inet tapir blocklist4 { 192.0.2.7 timeout 82800s, 203.0.113.0/24 "
              "timeout 84600s }\n"
              "add element inet tapir blocklist6 { 2001:db8:b::7 timeout 79200s }\n");
    if (access("/usr/sbin/nft", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "/usr/sbin/nft -c -f %s", path);
        CHECK_EQ(system(cmd), 0);
        /* Without the allowlist, nested entries are folded: nft refuses overlaps. */
        struct blocklist all = {0};
        CHECK_EQ(blocklist_build(&all, s, NULL, 0, 7 * 86400, NOW, err), 0);
        CHECK_EQ(all.merged, 4);
        CHECK_EQ(blocklist_write(&all, BLOCKLIST_NFT, path, NOW, 86400, err), 0);
        CHECK_EQ(system(cmd), 0);
        blocklist_free(&all);
    } else {
        printf("  skipped nft -c: nft is not installed\n");
    }
    snprintf(path, sizeof(path), "%s/out.ipset", tmpdir);
    CHECK_EQ(blocklist_write(&b, BLOCKLIST_IPSET, path, NOW, 86400, err), 0);
    CHECK_STR(slurp(path), "create tapir4 hash:net family inet timeout 86400 -exist\n"
                           "create tapir6 hash:net family inet6 timeout 86400 -exist\n"
                           "flush tapir4\n"
                           "flush tapir6\n"
                           "add tapir4 192.0.2.7 timeout 82800 -exist\n"
                           "add tapir4 203.0.113.0/24 timeout 84600 -exist\n"
                           "add tapir6 2001:db8:b::7 timeout 79200 -exist\n");
    snprintf(path, sizeof(path), "%s/out.txt", tmpdir);
    CHECK_EQ(blocklist_write(&b, BLOCKLIST_PLAIN, path, NOW, 86400, err), 0);
    CHECK_STR(slurp(path), "192.0.2.7/32\n203.0.113.0/24\n2001:db8:b::7/128\n");
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0644);

    /* An empty list is still a valid script (no empty element block). */
    struct blocklist empty = {0};
    snprintf(path, sizeof(path), "%s/empty.nft", tmpdir);
    CHECK_EQ(blocklist_write(&empty, BLOCKLIST_NFT, path, NOW, 86400, err), 0);
    CHECK(strstr(slurp(path), "add element") == NULL);
    /* A directory that does not exist: clear error. */
    CHECK_EQ(blocklist_write(&b, BLOCKLIST_NFT, "/nonexistent-dir/bl.nft", NOW, 86400, err), -1);
    CHECK(strstr(err, "/nonexistent-dir/bl.nft") != NULL);
    blocklist_free(&b);
    rules_destroy(r);
    store_close(s);
}

/* A reader that opens the file over and over while it is rewritten must always see one
 * whole version, never a prefix of one; and no temporary file is left behind. */
TEST(atomic_replace)
{
    char err[TAPIR_ERRBUF_SIZE], path[160];
    snprintf(path, sizeof(path), "%s/atomic.txt", tmpdir);
    struct blocklist big = {0}, small = {0};
    big.n = big.cap = 3000;
    big.v = calloc(big.n, sizeof(*big.v));
    for (size_t i = 0; i < big.n; i++) {
        uint8_t v4[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
        ip_addr_from_v4(&big.v[i].ip, v4);
        big.v[i].prefix_len = 128;
        big.v[i].expires_us = NOW + HOUR;
    }
    small.n = small.cap = 1;
    small.v = calloc(1, sizeof(*small.v));
    small.v[0] = big.v[0];
    CHECK_EQ(blocklist_write(&small, BLOCKLIST_PLAIN, path, NOW, 86400, err), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        for (int i = 0; i < 3000; i++) {
            char *t = slurp(path);
            size_t n = t ? strlen(t) : 0, lines = 0;
            for (size_t k = 0; k < n; k++)
                lines += t[k] == '\n';
            if ((lines != 1 && lines != 3000) || n == 0 || t[n - 1] != '\n')
                bad++;
        }
        _exit(bad ? 1 : 0);
    }
    for (int i = 0; i < 200; i++)
        CHECK_EQ(blocklist_write(i % 2 ? &small : &big, BLOCKLIST_PLAIN, path, NOW, 86400, err), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", tmpdir);
    CHECK(system(cmd) != 0);
    blocklist_free(&big);
    blocklist_free(&small);
}

/* Runs cmd_blocklist with stdout and stderr into files; returns its exit status. */
static int run_cmd(const char *const *args, char *out_text, size_t out_len)
{
    char **argv = calloc(32, sizeof(char *));
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = strdup(args[argc]);
    char out[160];
    snprintf(out, sizeof(out), "%s/cmd.out", tmpdir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    FILE *f = fopen(out, "w");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    int rc = cmd_blocklist(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    fclose(f);
    snprintf(out_text, out_len, "%s", slurp(out));
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return rc;
}

TEST(command_line)
{
    char out[4096], allow[160], o[160];
    snprintf(allow, sizeof(allow), "%s/allowlist", tmpdir);
    FILE *f = fopen(allow, "w");
    fputs("# test\n" ALLOWF, f);
    fclose(f);
    snprintf(o, sizeof(o), "%s/cmd.txt", tmpdir);
    const char *ok[] = {"blocklist",
                        "--db",
                        dbpath,
                        "--format",
                        "plain",
                        "-o",
                        o,
                        "--allowlist",
                        allow,
                        "--now",
                        "2023-11-16T02:00:00Z",
                        "--min-score",
                        "0.65",
                        NULL};
    CHECK_EQ(run_cmd(ok, out, sizeof(out)), 0);
    CHECK(strstr(out, "wrote 3 entries") != NULL);
    CHECK_STR(slurp(o), "192.0.2.7/32\n203.0.113.0/24\n2001:db8:b::7/128\n");
    const char *stdout_ok[] = {"blocklist",  "--db",     dbpath, "--format",    "ipset", "--now",
                               "1700100000", "--expire", "5400", "--allowlist", allow,   NULL};
    CHECK_EQ(run_cmd(stdout_ok, out, sizeof(out)), 0);
    CHECK(strstr(out, "add tapir4 203.0.113.9 timeout 3600 -exist\n") != NULL);
    CHECK(strstr(out, "192.0.2.0/24") == NULL); /* holds allowlisted 192.0.2.99 */
    CHECK(strstr(out, "add tapir4 192.0.2.7 timeout 1800 -exist\n") != NULL);
    CHECK(strstr(out, "add tapir4 192.0.2.200 timeout 1800 -exist\n") != NULL);
    CHECK(strstr(out, "192.0.2.201") == NULL); /* suppressed */
    CHECK(strstr(out, "2001:db8") == NULL);    /* expired, or holding an allowlisted IP */
    const char *bad_fmt[] = {"blocklist", "--db", dbpath, "--format", "pf", NULL};
    CHECK_EQ(run_cmd(bad_fmt, out, sizeof(out)), 2);
    CHECK(strstr(out, "bad --format 'pf'") != NULL);
    f = fopen(allow, "w");
    fputs("10.0.0.0/8\n10.0.0.0/99\n", f);
    fclose(f);
    const char *bad_allow[] = {"blocklist", "--db", dbpath, "--allowlist", allow, NULL};
    CHECK_EQ(run_cmd(bad_allow, out, sizeof(out)), 2);
    CHECK(strstr(out, "allowlist:2: '10.0.0.0/99'") != NULL);
    const char *no_db[] = {"blocklist", "--db", "/nonexistent/tapir.db", NULL};
    CHECK_EQ(run_cmd(no_db, out, sizeof(out)), 2); /* bad input, as for tapir alerts */
    CHECK(strstr(out, "cannot open /nonexistent/tapir.db") != NULL);
}

int main(void)
{
    umask(022);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-blocklist.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    make_db();
    RUN(contents);
    RUN(formats);
    RUN(atomic_replace);
    RUN(command_line);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
