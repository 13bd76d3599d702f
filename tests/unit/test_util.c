/* Unit tests: addresses, hash, time format, HLL sketch, table allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sketch.h"
#include "tapir.h"

TEST(addr_roundtrip)
{
    struct ip_addr a;
    char buf[64];
    CHECK_EQ(ip_addr_parse("192.0.2.7", &a), 0);
    CHECK(ip_addr_is_v4(&a));
    CHECK_STR(ip_addr_str(&a, buf, sizeof(buf)), "192.0.2.7");
    CHECK_EQ(ip_addr_parse("2001:db8::1", &a), 0);
    CHECK(!ip_addr_is_v4(&a));
    CHECK_STR(ip_addr_str(&a, buf, sizeof(buf)), "2001:db8::1");
    CHECK_EQ(ip_addr_parse("300.1.1.1", &a), -1);
}

TEST(addr_mask_and_reserved)
{
    struct ip_addr a;
    char buf[64];
    ip_addr_parse("198.51.100.77", &a);
    ip_addr_mask(&a, 96 + 24);
    CHECK_STR(ip_addr_str(&a, buf, sizeof(buf)), "198.51.100.0");
    const char *reserved[] = {"10.1.2.3", "192.168.0.1",    "127.0.0.1", "fe80::1",
                              "::1",      "172.31.255.255", "224.0.0.5", "fd00::5"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++) {
        ip_addr_parse(reserved[i], &a);
        CHECK(ip_addr_is_reserved(&a));
    }
    const char *pub[] = {"8.8.8.8",      "81.2.69.142",    "172.32.0.1",
                         "2a00:1450::1", "100.63.255.255", "100.128.0.0",
                         "192.0.1.255",  "198.20.0.0",     "::2",
                         "fe00::1",      "2001:db9::1",    "9.255.255.255"};
    for (size_t i = 0; i < sizeof(pub) / sizeof(*pub); i++) {
        ip_addr_parse(pub[i], &a);
        CHECK(!ip_addr_is_reserved(&a));
        if (check_failed_)
            printf("  %s\n", pub[i]);
    }
    const char *edge[] = {"100.64.0.0",       "100.127.255.255", "198.19.255.255", "198.18.0.0",
                          "0.255.255.255",    "255.255.255.255", "fdff:ffff::1",   "febf::1",
                          "2001:db8:ffff::1", "ff02::1"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(*edge); i++) {
        ip_addr_parse(edge[i], &a);
        CHECK(ip_addr_is_reserved(&a));
        if (check_failed_)
            printf("  %s\n", edge[i]);
    }
}

TEST(hash_seeded)
{
    uint32_t k = 42;
    CHECK(tapir_hash(&k, 4, 1) != tapir_hash(&k, 4, 2));
    CHECK(tapir_hash(&k, 4, 1) == tapir_hash(&k, 4, 1));
}

TEST(iso8601)
{
    char buf[32];
    CHECK_STR(tapir_iso8601(1700000000123456ULL, buf, sizeof(buf)), "2023-11-14T22:13:20.123Z");
}

TEST(hll_estimates)
{
    struct hll h = {{0}};
    CHECK_NEAR(hll_count(&h), 0.0, 1e-9);
    for (uint32_t i = 0; i < 10; i++)
        hll_add(&h, tapir_hash(&i, 4, 7));
    CHECK_NEAR(hll_count(&h), 10.0, 1.5);
    for (uint32_t i = 0; i < 5000; i++)
        hll_add(&h, tapir_hash(&i, 4, 7));
    double c = hll_count(&h);
    CHECK(c > 5000 * 0.6 && c < 5000 * 1.4);
}

TEST(csv_field)
{
    char o[64];
    CHECK_STR(tapir_csv_field("example.com", o, sizeof(o)), "example.com");
    CHECK_STR(tapir_csv_field("", o, sizeof(o)), "");
    CHECK_STR(tapir_csv_field("a,b", o, sizeof(o)), "\"a,b\"");
    CHECK_STR(tapir_csv_field("say \"hi\"", o, sizeof(o)), "\"say \"\"hi\"\"\"");
    CHECK_STR(tapir_csv_field("a\r\nb", o, sizeof(o)), "\"a\r\nb\"");
    CHECK_STR(tapir_csv_field("=cmd|' /c calc'!a0", o, sizeof(o)), "'=cmd|' /c calc'!a0");
    CHECK_STR(tapir_csv_field("=1+2,3", o, sizeof(o)), "\"'=1+2,3\"");
    CHECK_STR(tapir_csv_field("+1", o, sizeof(o)), "'+1");
    CHECK_STR(tapir_csv_field("-1", o, sizeof(o)), "'-1");
    CHECK_STR(tapir_csv_field("@SUM(A1)", o, sizeof(o)), "'@SUM(A1)");
    CHECK_STR(tapir_csv_field("a-b.example", o, sizeof(o)), "a-b.example");
    /* too long: cut, still one quoted field */
    char small[8];
    CHECK_STR(tapir_csv_field("abc,defghij", small, sizeof(small)), "\"abc,d\"");
    CHECK_STR(tapir_csv_field("\"\"\"\"", small, sizeof(small)), "\"\"\"\"\"\"");
}

struct tbl {
    uint32_t mask;
    uint64_t *tags;
    struct ip_addr *ips;
    uint8_t *used;
};

TEST(table_alloc)
{
    char err[TAPIR_ERRBUF_SIZE] = "";
    const struct tapir_array a[] = {
        TAPIR_ARRAY(struct tbl, tags, 5),
        TAPIR_ARRAY(struct tbl, ips, 3),
        TAPIR_ARRAY(struct tbl, used, 0),
    };
    struct tbl *t = tapir_table_alloc(sizeof(*t), a, TAPIR_NELEM(a), err, "a test of %d", 1);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_STR(err, "");
    CHECK_EQ(t->mask, 0);
    const unsigned char *base = (const unsigned char *)t;
    const unsigned char *tags = (const unsigned char *)t->tags;
    const unsigned char *ips = (const unsigned char *)t->ips;
    /* in order after the struct, each on a 64-byte boundary (an address, not only an
     * offset from the block: calloc aligns to 16), none overlapping */
    CHECK((uintptr_t)(tags - base) >= sizeof(*t) && (uintptr_t)(tags - base) < 128);
    CHECK_EQ((uintptr_t)tags % 64, 0);
    CHECK_EQ((uintptr_t)(ips - tags), 64);
    CHECK_EQ((uintptr_t)((const unsigned char *)t->used - ips), 64);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(t->tags[i], 0); /* zeroed */
    static const uint8_t zero[16];
    CHECK(!memcmp(t->ips[2].b, zero, 16));
    t->tags[4] = 7;
    t->ips[2].b[15] = 1; /* the last bytes are the block's (ASan checks) */
    free(t);

    /* sizes that overflow: refused with a message, nothing allocated */
    const struct tapir_array big[] = {TAPIR_ARRAY(struct tbl, tags, SIZE_MAX / 4)};
    CHECK(tapir_table_alloc(sizeof(struct tbl), big, 1, err, "%u tags", 7u) == NULL);
    CHECK_STR(err, "cannot allocate 7 tags: its size overflows");
    const struct tapir_array sum[] = {TAPIR_ARRAY(struct tbl, used, SIZE_MAX - 10)};
    CHECK(tapir_table_alloc(sizeof(struct tbl), sum, 1, err, "x") == NULL);
    CHECK_STR(err, "cannot allocate x: its size overflows");
#ifndef __SANITIZE_ADDRESS__ /* ASan aborts on a request this size instead of failing it */
    /* too large for memory: the size in the message */
    const struct tapir_array huge[] = {TAPIR_ARRAY(struct tbl, used, SIZE_MAX / 2)};
    CHECK(tapir_table_alloc(sizeof(struct tbl), huge, 1, NULL, "x") == NULL);
    CHECK(tapir_table_alloc(sizeof(struct tbl), huge, 1, err, "%s", "a huge table") == NULL);
    char want[TAPIR_ERRBUF_SIZE];
    snprintf(want, sizeof(want), "cannot allocate a huge table (%zu bytes)",
             (size_t)64 + SIZE_MAX / 2);
    CHECK_STR(err, want);
#endif
}

TEST(check_range)
{
    char err[TAPIR_ERRBUF_SIZE] = "";
    CHECK_EQ(tapir_check_range(16, 16, 1u << 28, "max flows", err), 0);
    CHECK_EQ(tapir_check_range(1u << 28, 16, 1u << 28, "max flows", err), 0);
    CHECK_STR(err, "");
    CHECK_EQ(tapir_check_range(15, 16, 1u << 28, "max flows", err), -1);
    CHECK_STR(err, "max flows 15 out of range (16 .. 268435456)");
    CHECK_EQ(tapir_check_range(1025, 1, 1024, "window queue depth", NULL), -1);
}

int main(void)
{
    RUN(addr_roundtrip);
    RUN(addr_mask_and_reserved);
    RUN(hash_seeded);
    RUN(iso8601);
    RUN(hll_estimates);
    RUN(csv_field);
    RUN(table_alloc);
    RUN(check_range);
    return CHECK_DONE();
}
