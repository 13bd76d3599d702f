/*
 * test_csv.c — the numeric CSV reader: the dialect it accepts, and a clear error with a
 * line number (never a crash) for everything else, including random bytes.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "csv.h"
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
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("cannot remove %s\n", dir);
    return CHECK_DONE();
}
