/* Unit tests: rules files — parsing, errors with FILE:LINE, lookups against a linear
 * reference on thousands of entries, overlaps and longest-prefix thresholds. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rules.h"

static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
    FILE *f = fopen(path[k], "w");
    fputs(text, f);
    fclose(f);
    return path[k];
}

static bool allowed(const rules_t *r, const char *ip)
{
    struct ip_addr a;
    if (ip_addr_parse(ip, &a) < 0)
        return false;
    return rules_allowed(r, &a);
}

TEST(parse_and_lookup)
{
    const char *p = write_file("allow", "# comment line\n"
                                        "\n"
                                        "   \t\n"
                                        "192.0.2.53\n"
                                        "198.51.100.0/24   # trailing comment\n"
                                        "  10.0.0.0/8\n"
                                        "2001:db8:10::/48#tight comment\n"
                                        "2001:db8::1\n"
                                        "172.16.5.77/16\n" /* host bits: masked */
                                        "0.0.0.0/0\r\n"    /* CRLF tolerated */
                                        "192.0.2.53\n");   /* duplicate: merged */
    char err[TAPIR_ERRBUF_SIZE] = "";
    rules_t *r = rules_create();
    CHECK_EQ(rules_load_file(r, RULES_ALLOW, p, false, err), 0);
    if (err[0])
        printf("  %s\n", err);
    CHECK_EQ(rules_count(r, RULES_ALLOW), 7);
    rules_destroy(r);

    p = write_file("allow2", "192.0.2.53\n198.51.100.0/24 # x\n10.0.0.0/8\n"
                             "2001:db8:10::/48\n2001:db8::1\n172.16.5.77/16\n");
    r = rules_create();
    CHECK_EQ(rules_load_file(r, RULES_ALLOW, p, false, err), 0);
    CHECK(allowed(r, "192.0.2.53"));
    CHECK(!allowed(r, "192.0.2.54"));
    CHECK(allowed(r, "198.51.100.255"));
    CHECK(!allowed(r, "198.51.101.0"));
    CHECK(allowed(r, "10.255.1.2"));
    CHECK(allowed(r, "172.16.200.1"));
    CHECK(!allowed(r, "172.17.0.1"));
    CHECK(allowed(r, "2001:db8:10:ffff::1"));
    CHECK(!allowed(r, "2001:db8:11::1"));
    CHECK(allowed(r, "2001:db8::1"));
    CHECK(!allowed(r, "2001:db8::2"));
    struct ip_addr a;
    ip_addr_parse("10.1.1.1", &a);
    CHECK(!rules_denied(r, &a));
    rules_destroy(r);
    CHECK(!rules_allowed(NULL, &a));
}

static void expect_error(const char *name, const char *text, enum rules_list which,
                         const char *want)
{
    const char *p = write_file(name, text);
    char err[TAPIR_ERRBUF_SIZE] = "";
    char full[TAPIR_ERRBUF_SIZE];
    rules_t *r = rules_create();
    CHECK_EQ(rules_load_file(r, which, p, false, err), -1);
    snprintf(full, sizeof(full), "%s:%s", p, want);
    CHECK_STR(err, full);
    rules_destroy(r);
}

TEST(errors_name_file_and_line)
{
    expect_error("e1", "# ok\n10.0.0.0/8\nnot-an-ip\n", RULES_ALLOW,
                 "3: 'not-an-ip' is not an IP address or CIDR network");
    expect_error("e2", "10.0.0.0/33\n", RULES_DENY,
                 "1: '10.0.0.0/33' is not an IP address or CIDR network");
    expect_error("e3", "\n\n2001:db8::/129\n", RULES_ALLOW,
                 "3: '2001:db8::/129' is not an IP address or CIDR network");
    expect_error("e4", "10.0.0.1 10.0.0.2\n", RULES_ALLOW,
                 "1: unexpected '10.0.0.2' after the address (one CIDR per line)");
    expect_error("e5", "10.0.0.0/\n", RULES_ALLOW,
                 "1: '10.0.0.0/' is not an IP address or CIDR network");
    expect_error("e6", "10.0.0.0/8x\n", RULES_ALLOW,
                 "1: '10.0.0.0/8x' is not an IP address or CIDR network");
    expect_error("t1", "threshold 10.0.0.0/8 1.5\n", RULES_THRESHOLD,
                 "1: bad score '1.5' (a number in (0, 1])");
    expect_error("t2", "# c\nthreshold 10.0.0.0/8\n", RULES_THRESHOLD,
                 "2: expected 'threshold CIDR SCORE', e.g. 'threshold 10.0.0.0/8 0.7'");
    expect_error("t3", "10.0.0.0/8 0.7\n", RULES_THRESHOLD,
                 "1: expected 'threshold CIDR SCORE', e.g. 'threshold 10.0.0.0/8 0.7'");
    char err[TAPIR_ERRBUF_SIZE] = "";
    rules_t *r = rules_create();
    CHECK_EQ(rules_load_file(r, RULES_ALLOW, "/nonexistent/allowlist", false, err), -1);
    CHECK_STR(err, "cannot open allowlist /nonexistent/allowlist: No such file or directory");
    CHECK_EQ(rules_load_file(r, RULES_ALLOW, "/nonexistent/allowlist", true, err), 0);
    rules_destroy(r);
}

TEST(thresholds_longest_prefix)
{
    const char *p = write_file("thresholds", "threshold 10.20.0.0/16 0.75\n"
                                             "threshold 10.20.5.0/24 0.6 # finance\n"
                                             "threshold 2001:db8:20::/48 0.7\n");
    char err[TAPIR_ERRBUF_SIZE];
    rules_t *r = rules_create();
    CHECK_EQ(rules_load_file(r, RULES_THRESHOLD, p, false, err), 0);
    struct ip_addr a;
    double th = 0;
    ip_addr_parse("10.20.5.9", &a);
    CHECK(rules_threshold(r, &a, &th));
    CHECK_NEAR(th, 0.6, 1e-12);
    ip_addr_parse("10.20.6.9", &a);
    CHECK(rules_threshold(r, &a, &th));
    CHECK_NEAR(th, 0.75, 1e-12);
    ip_addr_parse("2001:db8:20:1::9", &a);
    CHECK(rules_threshold(r, &a, &th));
    CHECK_NEAR(th, 0.7, 1e-12);
    ip_addr_parse("10.21.0.1", &a);
    CHECK(!rules_threshold(r, &a, &th));
    rules_destroy(r);
}

TEST(overlaps)
{
    rules_t *r = rules_create();
    CHECK_EQ(rules_add(r, RULES_ALLOW, "198.51.100.9", 0), 0);
    CHECK_EQ(rules_add(r, RULES_ALLOW, "10.0.0.0/8", 0), 0);
    CHECK_EQ(rules_add(r, RULES_ALLOW, "2001:db8::1", 0), 0);
    CHECK_EQ(rules_add(r, RULES_ALLOW, "junk", 0), -1);
    struct ip_addr a;
    unsigned len;
    CHECK_EQ(rules_parse_cidr("198.51.100.0/24", &a, &len), 0);
    CHECK_EQ(len, 120);
    CHECK(rules_overlaps(r, RULES_ALLOW, &a, len)); /* holds an allowlisted host */
    CHECK_EQ(rules_parse_cidr("198.51.101.0/24", &a, &len), 0);
    CHECK(!rules_overlaps(r, RULES_ALLOW, &a, len));
    CHECK_EQ(rules_parse_cidr("10.9.9.0/24", &a, &len), 0);
    CHECK(rules_overlaps(r, RULES_ALLOW, &a, len)); /* inside an allowlisted /8 */
    CHECK_EQ(rules_parse_cidr("2001:db8::/64", &a, &len), 0);
    CHECK(rules_overlaps(r, RULES_ALLOW, &a, len));
    CHECK_EQ(rules_parse_cidr("2001:db8:0:1::/64", &a, &len), 0);
    CHECK(!rules_overlaps(r, RULES_ALLOW, &a, len));
    CHECK_EQ(rules_parse_cidr("198.51.100.8", &a, &len), 0);
    CHECK(!rules_overlaps(r, RULES_ALLOW, &a, len));
    rules_destroy(r);

    char buf[64];
    CHECK_EQ(rules_parse_cidr("198.51.100.77/24", &a, &len), 0);
    CHECK_STR(rules_cidr_str(&a, len, buf, sizeof(buf)), "198.51.100.0/24");
    CHECK_EQ(rules_parse_cidr("2001:db8::1", &a, &len), 0);
    CHECK_STR(rules_cidr_str(&a, len, buf, sizeof(buf)), "2001:db8::1");
    CHECK_EQ(rules_parse_cidr("2001:db8:ffff::/33", &a, &len), 0);
    CHECK_STR(rules_cidr_str(&a, len, buf, sizeof(buf)), "2001:db8:8000::/33");
}

/* Many random entries, checked against a linear scan. */
TEST(many_entries_match_linear_scan)
{
    enum { N = 5000, Q = 20000 };
    static struct ip_addr nets[N];
    static unsigned lens[N];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    rules_t *r = rules_create();
    char path[128];
    snprintf(path, sizeof(path), "%s/big", tmpdir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint8_t v4[4] = {(uint8_t)(10 + (x & 3)), (uint8_t)(x >> 8), (uint8_t)(x >> 16),
                         (uint8_t)(x >> 24)};
        static const unsigned pick[] = {8, 16, 20, 24, 28, 32, 32, 32};
        unsigned l = pick[(x >> 32) & 7];
        if (l == 8)
            l = 32; /* a /8 would cover everything */
        ip_addr_from_v4(&nets[i], v4);
        lens[i] = 96 + l;
        ip_addr_mask(&nets[i], lens[i]);
        char buf[64];
        fprintf(f, "%s\n", rules_cidr_str(&nets[i], lens[i], buf, sizeof(buf)));
    }
    fclose(f);
    char err[TAPIR_ERRBUF_SIZE];
    CHECK_EQ(rules_load_file(r, RULES_DENY, path, false, err), 0);
    int mismatches = 0, hits = 0;
    clock_t t0 = clock();
    for (int q = 0; q < Q; q++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint8_t v4[4] = {(uint8_t)(10 + (x & 3)), (uint8_t)(x >> 8), (uint8_t)(x >> 16),
                         (uint8_t)(x >> 24)};
        struct ip_addr a;
        ip_addr_from_v4(&a, v4);
        if (q % 2) /* half the queries inside a known network */
            a = nets[(x >> 40) % N];
        bool want = false;
        for (int i = 0; i < N && !want; i++) {
            struct ip_addr m = a;
            ip_addr_mask(&m, lens[i]);
            want = !memcmp(m.b, nets[i].b, 16);
        }
        bool got = rules_denied(r, &a);
        mismatches += got != want;
        hits += got;
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_EQ(mismatches, 0);
    CHECK_GE(hits, Q / 2);
    printf("  %d entries, %d queries (with a linear reference) in %.2f s\n", N, Q, secs);
    rules_destroy(r);
}

TEST(shipped_examples_parse)
{
    const char *top = getenv("TAPIR_TOP");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/rules", top && *top ? top : ".");
    if (access(dir, F_OK) != 0) {
        printf("  skipped: no %s\n", dir);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE] = "";
    rules_t *r = rules_create();
    CHECK_EQ(rules_load_dir(r, dir, err), 0);
    if (err[0])
        printf("  %s\n", err);
    CHECK_EQ(rules_count(r, RULES_ALLOW), 0);
    CHECK_EQ(rules_count(r, RULES_DENY), 0);
    rules_destroy(r);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-rules.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(parse_and_lookup);
    RUN(errors_name_file_and_line);
    RUN(thresholds_longest_prefix);
    RUN(overlaps);
    RUN(many_entries_match_linear_scan);
    RUN(shipped_examples_parse);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
