/*
 * test_csv.c — the numeric CSV reader: the dialect it accepts, and a clear error with a
 * line number (never a crash) for everything else, including random bytes.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "csv.h"
#include "workers.h"
#include "tapir.h"

static char dir[64];
static char path[256];

static const char *put(const char *content, size_t len)
{
    snprintf(path, sizeof(path), "%s/t.csv", dir);
    FILE *fp = fopen(path, "wb");
    fwrite(content, 1, len, fp);
    fclose(fp);
    return path;
}

#define PUT(s) put((s), sizeof(s) - 1)

/* Reads content expecting failure with an error containing want. */
static void expect_error(const char *content, size_t len, const char *want)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    int rc = csv_read(put(content, len), &t, err);
    CHECK_EQ(rc, -1);
    if (rc == 0) {
        csv_free(&t);
        return;
    }
    if (!strstr(err, want))
        printf("  error \"%s\" lacks \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(t.n_rows == 0 && t.names == NULL && t.values == NULL);
}

#define EXPECT_ERROR(s, want) expect_error((s), sizeof(s) - 1, (want))

TEST(good)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    const char *p = PUT("\xEF\xBB\xBF"
                        "a, \"b\" ,c\r\n1,2.5,-3e2\r\n\r\n  4 ,\"5\",6\n0x10,1e-3,+7");
    CHECK_EQ(csv_read(p, &t, err), 0);
    CHECK_EQ(t.n_cols, 3);
    CHECK_EQ(t.n_rows, 3);
    CHECK_STR(t.names[0], "a");
    CHECK_STR(t.names[1], "b");
    CHECK_STR(t.names[2], "c");
    float want[9] = {1, 2.5f, -300, 4, 5, 6, 16, 1e-3f, 7};
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(t.values[i], want[i], 0);
    csv_free(&t);
    csv_free(&t); /* twice is fine */
    csv_free(NULL);

    /* header only: zero rows, not an error */
    CHECK_EQ(csv_read(PUT("x,y\n"), &t, err), 0);
    CHECK_EQ(t.n_rows, 0);
    CHECK_EQ(t.n_cols, 2);
    csv_free(&t);

    /* values round as numpy's astype(float32) of a Python float: 0.1 -> 0.1f */
    CHECK_EQ(csv_read(PUT("x\n0.1\n16777217\n"), &t, err), 0);
    CHECK(t.values[0] == 0.1f);
    CHECK(t.values[1] == 16777216.0f);
    csv_free(&t);
}

TEST(many_rows)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/big.csv", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "i,sq\n");
    for (int i = 0; i < 50000; i++)
        fprintf(fp, "%d,%d\n", i, (i % 1000) * (i % 1000));
    fclose(fp);
    CHECK_EQ(csv_read(path, &t, err), 0);
    CHECK_EQ(t.n_rows, 50000);
    CHECK_NEAR(t.values[2 * 49999], 49999, 0);
    CHECK_NEAR(t.values[2 * 49999 + 1], 999 * 999, 0);
    csv_free(&t);
}

TEST(errors)
{
    EXPECT_ERROR("", "empty file, expected a header row");
    EXPECT_ERROR("\n\r\n  \n", "empty file");
    EXPECT_ERROR("a,b,c\n1,2,3\n1,2\n", "t.csv:3: 2 fields, the header has 3");
    EXPECT_ERROR("a,b\n1,2,3\n", "t.csv:2: 3 fields, the header has 2");
    EXPECT_ERROR("a,b\n1,abc\n", "t.csv:2: field 2 ('abc') is not a number");
    EXPECT_ERROR("a,b\n1,2x\n", "field 2 ('2x') is not a number");
    EXPECT_ERROR("a,b\n1,\n", "t.csv:2: field 2 is empty");
    EXPECT_ERROR("a,b\n1,nan\n", "field 2 ('nan') is not a finite float32 number");
    EXPECT_ERROR("a,b\ninf,1\n", "field 1 ('inf') is not a finite");
    EXPECT_ERROR("a,b\n1e40,1\n", "field 1 ('1e40') is not a finite float32");
    EXPECT_ERROR("a,,c\n1,2,3\n", "t.csv:1: column 2 has no name");
    EXPECT_ERROR("a,b,a\n1,2,3\n", "column 3 name 'a' repeats column 1");
    EXPECT_ERROR("a,b\n1,2\0\n", "t.csv:2: contains a NUL byte");
    EXPECT_ERROR("this_name_is_much_longer_than_forty_bytes_ok\n1\n", "longer than 39 bytes");

    /* a 2 MiB line, with and without a newline */
    size_t n = 2u << 20;
    char *big = malloc(n + 16);
    memcpy(big, "a\n", 2);
    memset(big + 2, '1', n);
    expect_error(big, n + 2, "t.csv:2: line longer than 1048576 bytes");
    big[n + 2] = '\n';
    expect_error(big, n + 3, "t.csv:2: line longer than 1048576 bytes");
    free(big);

    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/missing.csv", dir);
    CHECK_EQ(csv_read(path, &t, err), -1);
    CHECK(strstr(err, "cannot open") && strstr(err, "No such file"));
    CHECK_EQ(csv_read(dir, &t, err), -1);
    printf("  a directory: %s\n", err);
}

TEST(random_bytes_never_crash)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    uint64_t s = 2026;
    static const char alphabet[] = "0123456789,.,\n\r-+eE\"\t x,\n";
    int ok = 0;
    for (int k = 0; k < 3000; k++) {
        char buf[600];
        size_t len = 1 + k % (sizeof(buf) - 1);
        for (size_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            /* mostly CSV-like characters, sometimes any byte */
            buf[i] = (s >> 60) ? alphabet[(s >> 33) % (sizeof(alphabet) - 1)] : (char)(s >> 40);
        }
        if (csv_read(put(buf, len), &t, err) == 0) {
            ok++;
            CHECK(t.n_cols >= 1);
            for (size_t i = 0; i < t.n_rows * t.n_cols; i++)
                CHECK(isfinite(t.values[i]));
            csv_free(&t);
        } else {
            CHECK(err[0] != '\0');
        }
    }
    printf("  3000 random inputs: %d parsed, the rest refused with a message\n", ok);
}

static uint64_t rng_s = 20261203;
static uint64_t rnd(void)
{
    rng_s = rng_s * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_s >> 11;
}

/* v printed in one of ten ways (literal formats, for -Wformat-nonliteral) */
static void print_as(char *s, size_t n, int how, double v)
{
    switch (how) {
    case 0:
        snprintf(s, n, "%.6g", v);
        break;
    case 1:
        snprintf(s, n, "%.9g", v);
        break;
    case 2:
        snprintf(s, n, "%.17g", v);
        break;
    case 3:
        snprintf(s, n, "%g", v);
        break;
    case 4:
        snprintf(s, n, "%.3f", v);
        break;
    case 5:
        snprintf(s, n, "%.10e", v);
        break;
    case 6:
        snprintf(s, n, "%.1e", v);
        break;
    case 7:
        snprintf(s, n, "%.15g", v);
        break;
    case 8:
        snprintf(s, n, "%.20f", v);
        break;
    default:
        snprintf(s, n, "%.0f", v);
        break;
    }
}

/* csv_fast_float on s (copied into a padded buffer: it reads 64 bytes) takes what
 * csv_fast_double takes, and gives (float)strtod's bits. Returns 1 when they differ. */
static int float_differs(const char *s, const char *fast_end)
{
    char pad[600];
    size_t n = strlen(s);
    if (n + 64 > sizeof(pad))
        return 0;
    memset(pad, 0, sizeof(pad));
    memcpy(pad, s, n);
    float f = 0, want = (float)strtod(s, NULL);
    const char *e = csv_fast_float(pad, &f);
    if ((e == NULL) != (fast_end == NULL) || (e && e - pad != fast_end - s) ||
        (e && memcmp(&f, &want, sizeof(f)) != 0)) {
        printf("  '%s': float path %s %.9g, strtod %.9g\n", s, e ? "took" : "declined", (double)f,
               (double)want);
        return 1;
    }
    return 0;
}

/* The fast path gives strtod's bits for every number it takes, and takes plain
 * decimals: random values printed in many ways, random digit strings, edge cases. */
TEST(fast_double_is_strtod)
{
    char s[512];
    long taken = 0, total = 0, differ = 0;
    for (int k = 0; k < 400000; k++) {
        double v;
        int kind = (int)(rnd() % 4);
        if (kind == 0) { /* a score-like or vector-like value */
            v = (double)rnd() / (double)(1ULL << 53) * 4 - 2;
        } else if (kind == 1) { /* any finite double */
            uint64_t b = rnd() << 11 | (rnd() & 0x7ff);
            memcpy(&v, &b, sizeof(v));
            if (!isfinite(v))
                v = 1.5;
        } else if (kind == 2) { /* wide range of magnitudes */
            v = ldexp((double)rnd() / (double)(1ULL << 53), (int)(rnd() % 160) - 80);
        } else { /* short integers and halves */
            v = (double)(int64_t)(rnd() % 2000001 - 1000000) / (double)(1 << (rnd() % 20));
        }
        if (kind == 1 && fabs(v) > 1e300)
            continue; /* %.20f of those is long; covered by the %e forms */
        print_as(s, sizeof(s), (int)(rnd() % 10), v);
        double a = 0, b = strtod(s, NULL);
        const char *e = csv_fast_double(s, &a);
        total++;
        differ += float_differs(s, e);
        if (e) {
            taken++;
            if (*e != '\0' || memcmp(&a, &b, sizeof(a)) != 0) {
                if (differ++ < 5)
                    printf("  '%s': fast %.17g, strtod %.17g\n", s, a, b);
            }
        }
    }
    /* random digit strings: up to 25 digits, a point anywhere, an exponent sometimes */
    for (int k = 0; k < 400000; k++) {
        char *p = s;
        if (rnd() % 3 == 0)
            *p++ = rnd() % 2 ? '-' : '+';
        int nd = 1 + (int)(rnd() % 25), dot = (int)(rnd() % (nd + 2)) - 1;
        for (int i = 0; i < nd; i++) {
            if (i == dot)
                *p++ = '.';
            *p++ = (char)('0' + rnd() % (rnd() % 4 ? 10 : 2));
        }
        if (rnd() % 3 == 0)
            p += sprintf(p, "e%d", (int)(rnd() % 70) - 35);
        *p = '\0';
        double a = 0, b = strtod(s, NULL);
        const char *e = csv_fast_double(s, &a);
        total++;
        differ += float_differs(s, e);
        if (e) {
            taken++;
            if (*e != '\0' || memcmp(&a, &b, sizeof(a)) != 0) {
                if (differ++ < 5)
                    printf("  '%s': fast %.17g, strtod %.17g\n", s, a, b);
            }
        }
    }
    /* near and at float midpoints, where the float path's multiply must give way to the
     * division: exact midpoints with a point (167772170e-1 is 2^24 + 1), and doubles
     * around random midpoints printed with 9 to 19 digits */
    static const char *const mid[] = {"16777217.0",         "167772170e-1", "33554434.0",
                                      "-16777219.0",        "0.16777217e8", "8388608.5",
                                      "1.00000005960464477"};
    for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++) {
        double a;
        differ += float_differs(mid[i], csv_fast_double(mid[i], &a));
    }
    for (int k = 0; k < 200000; k++) {
        float f =
            ldexpf(1.0f + (float)(rnd() % (1u << 23)) / (float)(1u << 23), (int)(rnd() % 60) - 30);
        double m = (double)f + ldexp(1.0, ilogb(f) - 24);          /* the midpoint above f */
        m += ldexp((double)((int)(rnd() % 9) - 4), ilogb(f) - 52); /* a few ulps off */
        snprintf(s, sizeof(s), "%.*g", 9 + (int)(rnd() % 11), m);
        double a;
        const char *e = csv_fast_double(s, &a);
        differ += float_differs(s, e);
        total++;
        taken += e != NULL;
    }
    CHECK_EQ(differ, 0);
    printf("  %ld numbers, %ld on the fast path, all bit-identical to strtod\n", total, taken);
    CHECK(taken > total / 2);

    static const char *const edge[] = {
        "0",     "-0",    "+0.0",       "0e5",          ".5",
        "5.",    "-.5e1", "1e22",       "1e-22",        "9007199254740992",
        "1E+05", "7e0",   "00001.2500", "0.00123456789"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        double a = 0, b = strtod(edge[i], NULL);
        const char *e = csv_fast_double(edge[i], &a);
        CHECK(e != NULL && *e == '\0');
        if (memcmp(&a, &b, sizeof(a)) != 0)
            printf("  edge '%s': fast %.17g, strtod %.17g\n", edge[i], a, b);
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
    /* left to strtod: no digits, hex, inf, nan, too many digits, far exponents */
    static const char *const declined[] = {"",
                                           "-",
                                           ".",
                                           "e5",
                                           "0x10",
                                           "inf",
                                           "nan",
                                           "1e23",
                                           "1e-23",
                                           "12345678901234567890",
                                           "9007199254740993",
                                           "1e",
                                           "123456789012345678e-5",    /* mantissa > 2^53 */
                                           "0.000000000000000000001"}; /* 22 digits */
    for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        double a;
        const char *e = csv_fast_double(declined[i], &a);
        /* "0x10" parses its "0" and stops at 'x': the row pass then sees no comma */
        CHECK(e == NULL || *e != '\0');
    }
}

static void check_g17(double x, long *differ)
{
    char a[CSV_G17_MAX], b[64];
    size_t n = csv_format_g17(x, a);
    snprintf(b, sizeof(b), "%.17g", x);
    if (strcmp(a, b) != 0 || n != strlen(b)) {
        if ((*differ)++ < 5)
            printf("  %a: '%s', printf '%s'\n", x, a, b);
    }
}

/* csv_format_g17 writes what printf("%.17g") writes, exact ties included. */
/* The x86-64-v3 reader takes numbers of up to 16 digits and a point in one 16-byte
 * load: numbers of 1 to 20 characters with what may follow one in a line (or garbage)
 * after them, across the 16-byte edge, still take and give exactly what strtod does. */
TEST(fast_float_suffixes)
{
    static const char *const suffix[] = {"",  ",", "\n", " ",   "\t", ".",  "..",   "x",  "-",
                                         "+", "e", "E5", "e-3", ",1", ".5", "\r\n", "0.", "/"};
    char s[64];
    long differ = 0, taken = 0, total = 0;
    for (int k = 0; k < 300000; k++) {
        char *p = s;
        if (rnd() % 3 == 0)
            *p++ = rnd() % 2 ? '-' : '+';
        int nd = (int)(rnd() % 20), dot = (int)(rnd() % (nd + 2)) - 1;
        for (int i = 0; i < nd; i++) {
            if (i == dot)
                *p++ = '.';
            *p++ = (char)('0' + rnd() % 10);
        }
        if (dot == nd)
            *p++ = '.';
        strcpy(p, suffix[rnd() % (sizeof(suffix) / sizeof(suffix[0]))]);
        double a;
        const char *e = csv_fast_double(s, &a);
        differ += float_differs(s, e);
        taken += e != NULL;
        total++;
    }
    CHECK_EQ(differ, 0);
    CHECK(taken > total / 2);
}

TEST(format_g17_is_printf)
{
    long differ = 0;
    for (int k = 0; k < 1000000; k++) /* uniform in [0, 1) */
        check_g17((double)rnd() / (double)(1ULL << 53), &differ);
    for (int k = 0; k < 300000; k++) /* every exponent of [1e-5, 1] */
        check_g17(ldexp(1 + (double)rnd() / (double)(1ULL << 53), -(int)(rnd() % 18)), &differ);
    /* n / 2^18 in [0.1, 1) has 18 decimals ending in 5: a tie at 17 digits */
    for (uint64_t n = 26215; n < (1u << 18); n += 7)
        check_g17((double)n / (1u << 18), &differ);
    for (uint64_t n = 1; n < 100000; n += 3) /* ties with other exponents */
        check_g17((double)n / (1u << 20), &differ);
    static const double edge[] = {0,
                                  1,
                                  -1,
                                  1e-4,
                                  0.0001000000000000001,
                                  9.9999999999999995e-05,
                                  0.99999999999999989,
                                  0.5,
                                  0.1,
                                  0.3,
                                  NAN,
                                  INFINITY,
                                  2.5,
                                  1e-300,
                                  123456789.0};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
        check_g17(edge[i], &differ);
    for (double x = 1e-4; x < 1; x = nextafter(x * 1.001, 2)) /* walk upwards */
        check_g17(x, &differ);
    CHECK_EQ(differ, 0);
}

/* --vectors-csv files: window_start and ip skipped by name; any text in them. */
TEST(skip_columns)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    static const char *const sk[] = {"window_start", "ip"};
    struct csv_options o = {.skip = sk, .n_skip = 2};
    const char *p = PUT("window_start,ip,pkts,bytes\n1700000000,10.0.0.1,5,300\n"
                        "1700000060,2001:db8::1,7.5,\"1e3\"\n");
    CHECK_EQ(csv_read_opt(p, &o, &t, err), 0);
    CHECK_EQ(t.n_cols, 2);
    CHECK_EQ(t.n_skipped, 2);
    CHECK_EQ(t.n_rows, 2);
    CHECK_STR(t.names[0], "pkts");
    CHECK_STR(t.names[1], "bytes");
    CHECK_NEAR(t.values[0], 5, 0);
    CHECK_NEAR(t.values[3], 1000, 0);
    csv_free(&t);
    /* without skipping, the ip is an error, named with its field */
    CHECK_EQ(csv_read(p, &t, err), -1);
    CHECK(strstr(err, "t.csv:2: field 2 ('10.0.0.1') is not a number") != NULL);
    /* absent names are fine, unless they must exist */
    p = PUT("a,b\n1,2\n");
    CHECK_EQ(csv_read_opt(p, &o, &t, err), 0);
    CHECK_EQ(t.n_cols, 2);
    csv_free(&t);
    o.skip_must_exist = true;
    CHECK_EQ(csv_read_opt(p, &o, &t, err), -1);
    CHECK(strstr(err, "no column 'window_start' to skip") != NULL);
    static const char *const all[] = {"a", "b"};
    struct csv_options o2 = {.skip = all, .n_skip = 2};
    CHECK_EQ(csv_read_opt(p, &o2, &t, err), -1);
    CHECK(strstr(err, "no columns left") != NULL);
    /* field numbers in errors count the skipped columns */
    p = PUT("ip,a,b\nx,1,q\n");
    CHECK_EQ(csv_read_opt(p, &o, &t, err), -1); /* window_start must exist: o strict */
    o.skip_must_exist = false;
    CHECK_EQ(csv_read_opt(p, &o, &t, err), -1);
    CHECK(strstr(err, "t.csv:2: field 3 ('q') is not a number") != NULL);
}

/* Parsing on several threads gives the same table, and the same first error with its
 * line number, as on one: a file of several read batches, blank lines and CRLFs. */
/* csv_options.batch for threads_same_table: compares each batch with the whole
 * table's rows (want), in order. */
struct batches {
    const float *want;
    size_t n_cols, rows, calls, most, differ, stop_at;
};

static int take_batch(void *ctx, const struct csv_table *t, char *errbuf)
{
    struct batches *b = ctx;
    b->calls++;
    if (b->stop_at && b->calls == b->stop_at) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "stopped");
        return -1;
    }
    if (t->n_rows == 0 || t->n_cols != b->n_cols ||
        memcmp(t->values, b->want + b->rows * b->n_cols, t->n_rows * t->n_cols * sizeof(float)))
        b->differ++;
    b->rows += t->n_rows;
    b->most = t->n_rows > b->most ? t->n_rows : b->most;
    return 0;
}

static void *count_item(void *arg)
{
    int *c = arg;
    (*c)++;
    return NULL;
}

/* workers_run runs every item once, whether there are fewer items than threads, as
 * many, or more (the rest on the caller), run after run on the same threads. */
TEST(workers_run_each_item_once)
{
    struct workers *w = workers_new(3);
    CHECK(w != NULL);
    int c[16];
    for (unsigned run = 0; run < 500; run++) {
        unsigned n = run % 9;
        memset(c, 0, sizeof(c));
        workers_run(w, count_item, c, sizeof(c[0]), n);
        for (unsigned k = 0; k < 16; k++)
            if (c[k] != (k < n))
                CHECK_EQ(c[k], (int)(k < n));
    }
    workers_free(w);
    workers_free(NULL);
    memset(c, 0, sizeof(c));
    workers_run(NULL, count_item, c, sizeof(c[0]), 3);
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 0);
}

TEST(threads_same_table)
{
    char err[TAPIR_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/mt.csv", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "x,y,z\n");
    size_t rows = 0, blank = 0;
    for (int i = 0; i < 400000; i++) {
        double v = (double)rnd() / (double)(1ULL << 53) * 200 - 100;
        if (i % 997 == 0)
            fprintf(fp, "\n"), blank++;
        if (i % 1013 == 0)
            fprintf(fp, "\"%d\", 0x1p-3 ,%.25f\r\n", i, v); /* the general path */
        else
            fprintf(fp, "%.6g,%d,%.9g\n", v, i, v * 1e-7);
        rows++;
    }
    fprintf(fp, "1,2,3"); /* no final newline */
    rows++;
    fclose(fp);
    struct csv_table t1, t4;
    struct csv_options o1 = {.n_threads = 1}, o4 = {.n_threads = 4};
    CHECK_EQ(csv_read_opt(path, &o1, &t1, err), 0);
    CHECK_EQ(csv_read_opt(path, &o4, &t4, err), 0);
    CHECK_EQ(t1.n_rows, rows);
    CHECK_EQ(t4.n_rows, rows);
    CHECK(t1.n_rows == t4.n_rows &&
          !memcmp(t1.values, t4.values, t1.n_rows * t1.n_cols * sizeof(float)));
    CHECK_NEAR(t4.values[3 * (rows - 1) + 2], 3, 0);
    CHECK_NEAR(t4.values[3 * 1013 + 1], 0.125, 0);
    /* in batches (csv_options.batch): the same rows in order, in more than one batch,
     * and the table holds no more than a batch */
    struct batches b = {.want = t1.values, .n_cols = t1.n_cols};
    struct csv_table tb;
    struct workers *w = workers_new(2);
    struct csv_options ob = {.n_threads = 2, .batch = take_batch, .batch_ctx = &b, .workers = w};
    CHECK_EQ(csv_read_opt(path, &ob, &tb, err), 0);
    CHECK_EQ(b.rows, rows);
    CHECK_EQ(b.differ, 0);
    CHECK(b.calls > 2);
    CHECK(b.most < rows / 2);
    CHECK_EQ(tb.n_rows, 0);
    CHECK_EQ(tb.n_cols, 3);
    csv_free(&tb);
    b = (struct batches){.want = t1.values, .n_cols = t1.n_cols, .stop_at = 2};
    CHECK_EQ(csv_read_opt(path, &ob, &tb, err), -1);
    CHECK_STR(err, "stopped");
    CHECK_EQ(b.calls, 2);
    workers_free(w);
    csv_free(&t1);
    csv_free(&t4);

    /* an error deep in the file: the same message (and line) at 1 and 4 threads */
    fp = fopen(path, "a");
    fprintf(fp, "\n4,5,6\n7,x8,9\n1,2,oops\n");
    fclose(fp);
    char e1[TAPIR_ERRBUF_SIZE], e4[TAPIR_ERRBUF_SIZE];
    CHECK_EQ(csv_read_opt(path, &o1, &t1, e1), -1);
    CHECK_EQ(csv_read_opt(path, &o4, &t4, e4), -1);
    CHECK_STR(e1, e4);
    char want[64];
    /* header, rows (the last one ended now), blank lines, "4,5,6", then the bad one */
    snprintf(want, sizeof(want), ":%zu: field 2 ('x8')", 1 + rows + blank + 2);
    if (!strstr(e4, want))
        printf("  '%s' lacks '%s'\n", e4, want);
    CHECK(strstr(e4, want) != NULL);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tapir-test-csv-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(good);
    RUN(many_rows);
    RUN(errors);
    RUN(random_bytes_never_crash);
    RUN(fast_double_is_strtod);
    RUN(fast_float_suffixes);
    RUN(format_g17_is_printf);
    RUN(skip_columns);
    RUN(workers_run_each_item_once);
    RUN(threads_same_table);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("cannot remove %s\n", dir);
    return CHECK_DONE();
}
