/*
 * test_model.c — the model file: round trip, and every way a file can be wrong (truncated
 * at each length, bit flips, wrong version, crafted payloads with a valid checksum, other
 * features). Runs under ASan in `make test`: "no crash" includes no out-of-bounds read.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "tapir.h"

static char dir[64];

static const char *tmp(const char *name)
{
    static char path[2][256];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
    return path[k];
}

static float X[200 * 4];

/* A model with two sections; the second has training statistics. */
static void make_model(struct model *m, uint32_t n_trees)
{
    char err[TAPIR_ERRBUF_SIZE];
    for (int i = 0; i < 200 * 4; i++)
        X[i] = (float)((i * 7919) % 211) / 7.0f;
    memset(m, 0, sizeof(*m));
    m->created_us = 1763784000123456ULL;
    snprintf(m->trained_on, sizeof(m->trained_on), "unit test, 200 rows");
    snprintf(m->notes, sizeof(m->notes), "destination side: 40 vectors, fewer than 64");
    m->rate.present = 1;
    m->rate.seconds = 3600;
    for (int s = 0; s < MODEL_RATE_SIDES; s++)
        for (int k = 0; k < MODEL_RATE_KINDS; k++)
            m->rate.max_pps[s][k] = 10.5 * (s + 1) + k;
    m->n_sections = 2;
    m->sections = calloc(2, sizeof(*m->sections));
    const char *names[4] = {"pkts", "bytes", "dst_ports", "syn_share"};
    for (int k = 0; k < 2; k++) {
        struct model_section *s = &m->sections[k];
        snprintf(s->name, sizeof(s->name), "%s", k ? "destination" : "source");
        model_section_alloc(s, 4);
        for (int j = 0; j < 4; j++) {
            snprintf(s->feature_names[j], sizeof(s->feature_names[j]), "%s", names[j]);
            s->scaling[j] = (uint8_t)(j % 3);
        }
        struct iforest_params p = {.n_trees = n_trees, .sample_size = 64, .seed = 7 + k};
        s->forest = iforest_fit(X, 200, 4, &p, err);
        s->threshold = 0.61 + k / 100.0;
        s->contamination = 0.01;
        if (k) {
            s->train_mean = malloc(4 * sizeof(double));
            s->train_std = malloc(4 * sizeof(double));
            s->train_median = malloc(4 * sizeof(double));
            for (int j = 0; j < 4; j++)
                s->train_mean[j] = j * 1.5, s->train_std[j] = 0.25 + j, s->train_median[j] = j;
            s->train_rows = 200;
            s->pooled_rows = 150;
            s->limit_factor = 10;
        }
    }
    model_assign_id(m);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc(*len ? *len : 1);
    if (fread(p, 1, *len, fp) != *len)
        *len = 0;
    fclose(fp);
    return p;
}

static void spill(const char *path, const uint8_t *p, size_t len)
{
    FILE *fp = fopen(path, "wb");
    fwrite(p, 1, len, fp);
    fclose(fp);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n) /* bitwise, independent of model.c */
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void fix_crc(uint8_t *p, size_t len)
{
    uint32_t c = crc32_ref(p + 32, len - 32);
    for (int i = 0; i < 4; i++)
        p[24 + i] = (uint8_t)(c >> (8 * i));
}

TEST(round_trip)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    make_model(&m, 30);
    CHECK_EQ(strlen(m.id), 16);
    CHECK_EQ(model_save(&m, tmp("a.model"), err), 0);
    int rc = model_load(tmp("a.model"), &l, err);
    CHECK_EQ(rc, 0);
    if (rc) {
        printf("  %s\n", err);
        model_free(&m);
        return;
    }
    CHECK_STR(l.id, m.id);
    CHECK_EQ(l.created_us, m.created_us);
    CHECK_STR(l.trained_on, m.trained_on);
    CHECK_STR(l.notes, m.notes);
    CHECK_EQ(l.n_sections, 2);
    for (int k = 0; k < 2; k++) {
        const struct model_section *a = &m.sections[k], *b = model_find(&l, a->name);
        CHECK(b == &l.sections[k]);
        CHECK_EQ(b->n_features, 4);
        CHECK(b->threshold == a->threshold);
        CHECK(b->contamination == a->contamination);
        for (int j = 0; j < 4; j++) {
            CHECK_STR(b->feature_names[j], a->feature_names[j]);
            CHECK_EQ(b->scaling[j], a->scaling[j]);
        }
        CHECK_EQ(!!b->train_mean, k);
        for (int j = 0; k && j < 4; j++)
            CHECK(b->train_mean[j] == a->train_mean[j] && b->train_std[j] == a->train_std[j] &&
                  b->train_median[j] == a->train_median[j]);
        CHECK_EQ(b->train_rows, a->train_rows);
        CHECK_EQ(b->pooled_rows, a->pooled_rows);
        CHECK(b->limit_factor == a->limit_factor);
        for (int i = 0; i < 200; i++) {
            double x = iforest_score(a->forest, X + 4 * i), y = iforest_score(b->forest, X + 4 * i);
            CHECK(memcmp(&x, &y, sizeof(x)) == 0);
        }
    }
    CHECK(model_find(&l, "prefix") == NULL);
    /* saving what was loaded gives the same bytes */
    CHECK_EQ(model_save(&l, tmp("b.model"), err), 0);
    size_t la, lb;
    uint8_t *pa = slurp(tmp("a.model"), &la), *pb = slurp(tmp("b.model"), &lb);
    CHECK(pa && pb && la == lb && !memcmp(pa, pb, la));
    CHECK(!memcmp(pa, "TAPIRMDL\x04\0\0\0", 12));
    /* the rate section round-trips */
    CHECK_EQ(l.rate.present, m.rate.present);
    CHECK_EQ(l.rate.seconds, m.rate.seconds);
    CHECK(!memcmp(l.rate.max_pps, m.rate.max_pps, sizeof(l.rate.max_pps)));
    free(pa), free(pb);
    /* no temporary left behind */
    char t[300];
    snprintf(t, sizeof(t), "%s.tmp.%ld", tmp("a.model"), (long)getpid());
    CHECK(access(t, F_OK) != 0);
    model_free(&l);
    model_free(&m);
    model_free(&m); /* twice is fine */
    model_free(NULL);
}

TEST(truncated_every_length)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    make_model(&m, 2);
    model_save(&m, tmp("t.model"), err);
    size_t len;
    uint8_t *p = slurp(tmp("t.model"), &len);
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        spill(tmp("cut.model"), p, n);
        if (model_load(tmp("cut.model"), &l, err) == 0) {
            bad++;
            model_free(&l);
        } else if (n > 0 && !strstr(err, "truncated")) {
            printf("  at %zu: %s\n", n, err);
            bad++;
        }
        if (n == len / 2)
            printf("  e.g. %s\n", err);
    }
    CHECK_EQ(bad, 0);
    printf("  %zu truncations of a %zu-byte model: all refused\n", len, len);
    /* one byte too many */
    uint8_t *q = malloc(len + 1);
    memcpy(q, p, len);
    q[len] = 0;
    spill(tmp("long.model"), q, len + 1);
    CHECK_EQ(model_load(tmp("long.model"), &l, err), -1);
    printf("  %s\n", err);
    free(q), free(p);
    model_free(&m);
}

TEST(bit_flips)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    make_model(&m, 3);
    model_save(&m, tmp("f.model"), err);
    size_t len;
    uint8_t *p = slurp(tmp("f.model"), &len);
    uint64_t s = 99;
    int accepted = 0, crc = 0;
    for (int k = 0; k < 3000; k++) {
        uint8_t *c = malloc(len);
        memcpy(c, p, len);
        for (int j = 0; j <= k % 3; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            c[(s >> 33) % len] ^= (uint8_t)(1u << ((s >> 20) & 7));
        }
        if (!memcmp(c, p, len)) { /* flips cancelled out */
            free(c);
            continue;
        }
        spill(tmp("flip.model"), c, len);
        if (model_load(tmp("flip.model"), &l, err) == 0) {
            accepted++;
            model_free(&l);
        } else if (strstr(err, "checksum mismatch: corrupt file")) {
            crc++;
        }
        free(c);
    }
    CHECK_EQ(accepted, 0);
    printf("  3000 flipped copies: all refused, %d by the checksum\n", crc);
    free(p);
    model_free(&m);
}

TEST(crafted_payloads)
{
    /* A valid checksum over a broken payload: the parser and iforest_deserialize must
     * still refuse it. Flip bytes, then fix the CRC. */
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    make_model(&m, 2);
    model_save(&m, tmp("c.model"), err);
    size_t len;
    uint8_t *p = slurp(tmp("c.model"), &len);
    uint64_t s = 7;
    int accepted = 0, refused = 0;
    for (int k = 0; k < 10000; k++) {
        uint8_t *c = malloc(len);
        memcpy(c, p, len);
        for (int j = 0; j <= k % 4; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = 32 + (s >> 33) % (len - 32);
            c[at] = (k & 1) ? (uint8_t)(s >> 13) : (uint8_t)(c[at] ^ (1u << ((s >> 20) & 7)));
        }
        fix_crc(c, len);
        spill(tmp("craft.model"), c, len);
        if (model_load(tmp("craft.model"), &l, err) == 0) {
            /* e.g. a changed threshold or name: still a consistent model; must score */
            accepted++;
            for (uint32_t k2 = 0; k2 < l.n_sections; k2++) {
                double v = iforest_score(l.sections[k2].forest, X);
                CHECK(v > 0 && v <= 1);
            }
            model_free(&l);
        } else {
            refused++;
            CHECK(strstr(err, "malformed model") != NULL);
        }
        free(c);
    }
    printf("  10000 crafted payloads: %d refused as malformed, %d still consistent\n", refused,
           accepted);
    CHECK_GT(refused, 0);
    free(p);
    model_free(&m);
}

/* A limit factor of 1 or less makes every vector a limit hit (log(f) <= 0): refused. */
TEST(limit_factor_range)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    const double bad[] = {1.0, 0.5, -1.0, 2e6};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        make_model(&m, 2);
        m.sections[0].limit_factor = bad[k];
        CHECK_EQ(model_save(&m, tmp("lf.model"), err), 0);
        CHECK_EQ(model_load(tmp("lf.model"), &l, err), -1);
        CHECK(strstr(err, "limit factor") != NULL);
        model_free(&m);
    }
    make_model(&m, 2);
    m.sections[0].limit_factor = 0;
    CHECK_EQ(model_save(&m, tmp("lf.model"), err), 0);
    CHECK_EQ(model_load(tmp("lf.model"), &l, err), 0);
    model_free(&l);
    model_free(&m);
}

TEST(wrong_version_and_not_a_model)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m, l;
    make_model(&m, 2);
    model_save(&m, tmp("v.model"), err);
    size_t len;
    uint8_t *p = slurp(tmp("v.model"), &len);
    p[8] = 7;
    spill(tmp("v7.model"), p, len);
    CHECK_EQ(model_load(tmp("v7.model"), &l, err), -1);
    char want[300];
    snprintf(want, sizeof(want),
             "%s: model format version 7, this tapir reads 4: retrain it ('tapir train', or "
             "remove it and let 'tapir run' warm up)",
             tmp("v7.model"));
    CHECK_STR(err, want);
    /* a version 1 model (before row counts, medians and notes) is refused the same way */
    p[8] = 1;
    spill(tmp("v1.model"), p, len);
    CHECK_EQ(model_load(tmp("v1.model"), &l, err), -1);
    CHECK(strstr(err, "version 1, this tapir reads 4: retrain it") != NULL);
    /* and a version 2 model (before the conversations section) */
    p[8] = 2;
    spill(tmp("v2.model"), p, len);
    CHECK_EQ(model_load(tmp("v2.model"), &l, err), -1);
    CHECK(strstr(err, "version 2, this tapir reads 4: retrain it") != NULL);
    /* and a version 3 model (before the per-second rate maxima) */
    p[8] = 3;
    spill(tmp("v3.model"), p, len);
    CHECK_EQ(model_load(tmp("v3.model"), &l, err), -1);
    CHECK(strstr(err, "version 3, this tapir reads 4: retrain it") != NULL);

    spill(tmp("text.model"), (const uint8_t *)"a,b,c\n1,2,3\n", 12);
    CHECK_EQ(model_load(tmp("text.model"), &l, err), -1);
    snprintf(want, sizeof(want), "%s: not a Tapir model file", tmp("text.model"));
    CHECK_STR(err, want);
    spill(tmp("empty.model"), p, 0);
    CHECK_EQ(model_load(tmp("empty.model"), &l, err), -1);
    snprintf(want, sizeof(want), "%s: not a Tapir model file", tmp("empty.model"));
    CHECK_STR(err, want);
    CHECK_EQ(model_load(tmp("missing.model"), &l, err), -1);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK_EQ(model_load(dir, &l, err), -1);
    printf("  %s\n", err);

    p[8] = MODEL_FORMAT_VERSION;
    p[40] ^= 0x20;
    spill(tmp("crc.model"), p, len);
    CHECK_EQ(model_load(tmp("crc.model"), &l, err), -1);
    snprintf(want, sizeof(want), "%s: checksum mismatch: corrupt file", tmp("crc.model"));
    CHECK_STR(err, want);

    spill(tmp("short.model"), p, 100);
    CHECK_EQ(model_load(tmp("short.model"), &l, err), -1);
    snprintf(want, sizeof(want), "%s: truncated (100 of %zu bytes)", tmp("short.model"), len);
    CHECK_STR(err, want);

    CHECK_EQ(model_save(&m, "/nonexistent-dir/x.model", err), -1);
    printf("  %s\n", err);
    free(p);
    model_free(&m);
}

TEST(feature_check)
{
    char err[TAPIR_ERRBUF_SIZE];
    struct model m;
    make_model(&m, 2);
    const struct model_section *s = model_find(&m, "source");
    const char *same[] = {"pkts", "bytes", "dst_ports", "syn_share"};
    const char *other[] = {"pkts", "bytes", "src_ports", "syn_share"};
    const char *more[] = {"pkts", "bytes", "dst_ports", "syn_share", "rst_share"};
    CHECK_EQ(model_check_features(s, same, 4, err), 0);
    CHECK_EQ(model_check_features(s, other, 4, err), -1);
    CHECK_STR(err, "model section 'source' was trained on other features: feature 3 is "
                   "'dst_ports' in the model, 'src_ports' in the input");
    CHECK_EQ(model_check_features(s, more, 5, err), -1);
    CHECK(strstr(err, "'rst_share' only in the input") != NULL);
    printf("  %s\n", err);
    CHECK_EQ(model_check_features(s, same, 3, err), -1);
    CHECK(strstr(err, "'syn_share' missing from the input") != NULL);
    model_free(&m);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tapir-test-model-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(round_trip);
    RUN(truncated_every_length);
    RUN(bit_flips);
    RUN(crafted_payloads);
    RUN(limit_factor_range);
    RUN(wrong_version_and_not_a_model);
    RUN(feature_check);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("cannot remove %s\n", dir);
    return CHECK_DONE();
}
