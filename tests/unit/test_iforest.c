/*
 * test_iforest.c — the Isolation Forest against scikit-learn 1.2 (committed fixtures from
 * tools/sklearn_fixtures.py), its structure, determinism, serialization and hostile input.
 */
#include <float.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "csv.h"
#include "iforest.h"
#include "tapir.h"

static char fixture_dir[512];

static const char *fx(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
    return path;
}

/* Loads a forest from tools/sklearn_fixtures.py's text export; NULL (and a message) on
 * error. */
static iforest_t *load_export(const char *name)
{
    FILE *fp = fopen(fx(name), "r");
    if (!fp) {
        printf("  cannot open %s\n", fx(name));
        return NULL;
    }
    unsigned ver, nf, nt, psi;
    iforest_t *f = NULL;
    struct iforest_tree_def *defs = NULL;
    if (fscanf(fp, "tapir-iforest-export %u %u %u %u", &ver, &nf, &nt, &psi) != 4 || ver != 1)
        goto out;
    defs = calloc(nt, sizeof(*defs));
    for (unsigned t = 0; t < nt; t++) {
        unsigned n;
        if (fscanf(fp, " tree %u", &n) != 1)
            goto out;
        int32_t *ia = malloc(4 * (size_t)n * sizeof(*ia));
        double *thr = malloc(n * sizeof(*thr));
        defs[t] = (struct iforest_tree_def){.n_nodes = n,
                                            .left = ia,
                                            .right = ia + n,
                                            .feature = ia + 2 * n,
                                            .n_samples = ia + 3 * n,
                                            .threshold = thr};
        for (unsigned i = 0; i < n; i++)
            if (fscanf(fp, "%d %d %d %lf %d", &ia[i], &ia[n + i], &ia[2 * n + i], &thr[i],
                       &ia[3 * n + i]) != 5)
                goto out;
    }
    char err[TAPIR_ERRBUF_SIZE];
    f = iforest_import(nf, psi, 0, nt, defs, err);
    if (!f)
        printf("  import %s: %s\n", name, err);
out:
    if (!f)
        printf("  cannot parse %s\n", fx(name));
    if (defs)
        for (unsigned t = 0; t < nt; t++) {
            free((void *)defs[t].left);
            free((void *)defs[t].threshold);
        }
    free(defs);
    fclose(fp);
    return f;
}

static double *load_doubles(const char *name, size_t *n)
{
    FILE *fp = fopen(fx(name), "r");
    size_t cap = 1024;
    double *v = malloc(cap * sizeof(*v));
    *n = 0;
    if (!fp)
        return v;
    while (fscanf(fp, "%lf", &v[*n]) == 1)
        if (++*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
    fclose(fp);
    return v;
}

static int load_csv(const char *name, struct csv_table *t)
{
    char err[TAPIR_ERRBUF_SIZE];
    if (csv_read(fx(name), t, err) < 0) {
        printf("  %s\n", err);
        return -1;
    }
    return 0;
}

/* ROC AUC of scores against 0/1 labels (positive = 1 = outlier, higher score = more
 * anomalous), ties counted half, as sklearn's roc_auc_score. */
static double auc(const double *s, const double *label, size_t n)
{
    double wins = 0, pos = 0, neg = 0;
    for (size_t i = 0; i < n; i++)
        *(label[i] > 0.5 ? &pos : &neg) += 1;
    for (size_t i = 0; i < n; i++) {
        if (label[i] < 0.5)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (label[j] > 0.5)
                continue;
            wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    }
    return wins / (pos * neg);
}

TEST(c_matches_sklearn)
{
    CHECK_NEAR(iforest_c(0), 0, 0);
    CHECK_NEAR(iforest_c(1), 0, 0);
    CHECK_NEAR(iforest_c(2), 1, 0);
    CHECK_NEAR(iforest_c(3), 2 * (log(2) + 0.5772156649015329) - 4.0 / 3, 1e-15);
    CHECK_NEAR(iforest_c(256), 10.244770920119917, 1e-13); /* sklearn's value */
}

static void check_exact(const char *trees, const char *const *csvs, size_t n_csv,
                        const char *scores, size_t expect_rows)
{
    iforest_t *f = load_export(trees);
    size_t n_ref;
    double *ref = load_doubles(scores, &n_ref);
    CHECK(f != NULL);
    CHECK_EQ(n_ref, expect_rows);
    if (!f || n_ref != expect_rows)
        goto out;
    size_t k = 0;
    double maxdiff = 0;
    for (size_t c = 0; c < n_csv; c++) {
        struct csv_table t;
        if (load_csv(csvs[c], &t) < 0) {
            CHECK(0);
            goto out;
        }
        CHECK_EQ(t.n_cols, iforest_n_features(f));
        double *s = malloc(t.n_rows * sizeof(*s));
        iforest_score_many(f, t.values, t.n_rows, s);
        for (size_t i = 0; i < t.n_rows && k < n_ref; i++, k++) {
            double d = fabs(s[i] - ref[k]);
            maxdiff = d > maxdiff ? d : maxdiff;
            CHECK_NEAR(s[i], ref[k], 1e-12);
            if (check_failed_)
                break;
        }
        free(s);
        csv_free(&t);
    }
    CHECK_EQ(k, n_ref);
    printf("  %s: %zu rows, max |tapir - sklearn| = %.3g\n", trees, k, maxdiff);
out:
    free(ref);
    iforest_destroy(f);
}

TEST(sklearn_exact)
{
    const char *csvs[] = {"data.csv", "test.csv"};
    check_exact("exact_trees.txt", csvs, 2, "exact_scores.txt", 2540);
}

TEST(sklearn_exact_duplicates)
{
    const char *csvs[] = {"dup.csv"};
    check_exact("dup_trees.txt", csvs, 1, "dup_scores.txt", 60);
}

TEST(sklearn_distribution)
{
    struct csv_table t;
    size_t n_ref, n_lab;
    double *ref = load_doubles("dist_scores.txt", &n_ref);
    double *lab = load_doubles("labels.txt", &n_lab);
    FILE *fp = fopen(fx("dist_meta.txt"), "r");
    double sk_auc = -1;
    CHECK(fp && fscanf(fp, "auc %lf", &sk_auc) == 1);
    if (fp)
        fclose(fp);
    if (load_csv("data.csv", &t) < 0) {
        CHECK(0);
        free(ref), free(lab);
        return;
    }
    CHECK_EQ(n_ref, t.n_rows);
    CHECK_EQ(n_lab, t.n_rows);
    char err[TAPIR_ERRBUF_SIZE];
    double *s = malloc(t.n_rows * sizeof(*s));
    double worst_mean = 0, worst_auc = 0;
    /* three seeds: the bound must hold for our forests, not for one lucky seed */
    for (uint64_t seed = 1; seed <= 3 && n_ref == t.n_rows && n_lab == t.n_rows; seed++) {
        struct iforest_params p = {
            .n_trees = 1000, .sample_size = 256, .seed = seed, .n_threads = 2};
        iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
        CHECK(f != NULL);
        if (!f)
            break;
        iforest_score_many(f, t.values, t.n_rows, s);
        double sum = 0, bias = 0;
        for (size_t i = 0; i < t.n_rows; i++)
            sum += fabs(s[i] - ref[i]), bias += s[i] - ref[i];
        double mean = sum / t.n_rows, a = auc(s, lab, t.n_rows);
        printf("  seed %llu: mean |tapir - sklearn| = %.5f (mean diff %+.5f), AUC tapir %.6f "
               "sklearn %.6f\n",
               (unsigned long long)seed, mean, bias / t.n_rows, a, sk_auc);
        CHECK(mean <= 0.006);
        CHECK_NEAR(a, sk_auc, 0.005);
        worst_mean = mean > worst_mean ? mean : worst_mean;
        worst_auc = fabs(a - sk_auc) > worst_auc ? fabs(a - sk_auc) : worst_auc;
        iforest_destroy(f);
    }
    printf("  worst: mean |diff| %.5f, |AUC diff| %.6f\n", worst_mean, worst_auc);
    free(s), free(ref), free(lab);
    csv_free(&t);
}

struct leaf_stats {
    uint32_t n_trees, hlim, max_depth, bad_depth;
    uint64_t *sum; /* per tree */
    uint32_t *leaves;
};

static void on_leaf(void *arg, uint32_t tree, uint32_t depth, uint32_t n)
{
    struct leaf_stats *st = arg;
    st->sum[tree] += n;
    st->leaves[tree]++;
    if (depth > st->max_depth)
        st->max_depth = depth;
    if (depth > st->hlim)
        st->bad_depth++;
}

static void leaf_stats(const iforest_t *f, struct leaf_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->n_trees = iforest_n_trees(f);
    st->hlim = iforest_height_limit(f);
    st->sum = calloc(st->n_trees, sizeof(*st->sum));
    st->leaves = calloc(st->n_trees, sizeof(*st->leaves));
    iforest_visit_leaves(f, on_leaf, st);
}

TEST(structure)
{
    struct csv_table t;
    if (load_csv("data.csv", &t) < 0) {
        CHECK(0);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE];
    uint32_t sizes[] = {256, 100, 7, 2, 1};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct iforest_params p = {.n_trees = 50, .sample_size = sizes[k], .seed = 9};
        iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
        CHECK(f != NULL);
        if (!f)
            continue;
        struct leaf_stats st;
        leaf_stats(f, &st);
        uint32_t want_h = 0;
        while ((1u << want_h) < (sizes[k] < 2 ? 2 : sizes[k]))
            want_h++;
        CHECK_EQ(st.hlim, want_h);
        CHECK_EQ(st.bad_depth, 0);
        CHECK_LE(st.max_depth, want_h);
        for (uint32_t i = 0; i < st.n_trees; i++)
            CHECK_EQ(st.sum[i], sizes[k]);
        free(st.sum), free(st.leaves);
        iforest_destroy(f);
    }
    csv_free(&t);
}

TEST(duplicates_one_leaf)
{
    char err[TAPIR_ERRBUF_SIZE];
    /* 300 identical rows: every tree is one leaf holding psi rows */
    float *X = malloc(300 * 5 * sizeof(*X));
    for (int i = 0; i < 300 * 5; i++)
        X[i] = (float)(i % 5) * 1.5f;
    struct iforest_params p = {.n_trees = 20, .seed = 4};
    iforest_t *f = iforest_fit(X, 300, 5, &p, err);
    CHECK(f != NULL);
    struct leaf_stats st;
    leaf_stats(f, &st);
    for (uint32_t i = 0; i < st.n_trees; i++) {
        CHECK_EQ(st.leaves[i], 1);
        CHECK_EQ(st.sum[i], 256);
    }
    CHECK_EQ(st.max_depth, 0);
    /* depth 0 + c(256) on every tree: the score is exactly 2^-1 */
    CHECK_NEAR(iforest_score(f, X), 0.5, 1e-15);
    free(st.sum), free(st.leaves);
    iforest_destroy(f);

    /* 3 distinct rows, 100 copies each: at most 3 leaves per tree, one per distinct row */
    for (int i = 0; i < 300; i++)
        for (int j = 0; j < 5; j++)
            X[i * 5 + j] = (float)((i % 3) * (j + 1));
    f = iforest_fit(X, 300, 5, &p, err);
    CHECK(f != NULL);
    leaf_stats(f, &st);
    for (uint32_t i = 0; i < st.n_trees; i++) {
        CHECK_LE(st.leaves[i], 3);
        CHECK_EQ(st.sum[i], 256);
    }
    free(st.sum), free(st.leaves);
    iforest_destroy(f);
    free(X);
}

TEST(constant_features_redrawn)
{
    /* Only feature 2 varies: every split must be on it, and scores must order by it. */
    char err[TAPIR_ERRBUF_SIZE];
    float X[400 * 4];
    for (int i = 0; i < 400; i++) {
        X[i * 4] = 1, X[i * 4 + 1] = 2, X[i * 4 + 3] = -7;
        X[i * 4 + 2] = (float)(i % 50) / 50.0f;
    }
    X[399 * 4 + 2] = 40; /* one outlier */
    struct iforest_params p = {.n_trees = 100, .seed = 5};
    iforest_t *f = iforest_fit(X, 400, 4, &p, err);
    CHECK(f != NULL);
    double c[4];
    iforest_explain(f, &X[399 * 4], c);
    CHECK_NEAR(c[2], 1.0, 1e-12);
    CHECK_NEAR(c[0] + c[1] + c[3], 0.0, 0);
    CHECK(iforest_score(f, &X[399 * 4]) > iforest_score(f, &X[0]) + 0.1);
    iforest_destroy(f);
}

TEST(explain)
{
    struct csv_table t;
    if (load_csv("data.csv", &t) < 0) {
        CHECK(0);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE];
    struct iforest_params p = {.n_trees = 200, .seed = 2};
    iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
    CHECK(f != NULL);
    double c[8], sum = 0;
    float x[8];
    memcpy(x, t.values, sizeof(x)); /* an inlier, then push its "heavy" feature far out */
    x[3] = 500;
    iforest_explain(f, x, c);
    int best = 0;
    for (int j = 0; j < 8; j++) {
        sum += c[j];
        CHECK(c[j] >= 0);
        if (c[j] > c[best])
            best = j;
    }
    CHECK_NEAR(sum, 1.0, 1e-12);
    CHECK_EQ(best, 3);
    CHECK_NEAR(c[5], 0, 0); /* the constant column is never split on */
    printf("  heavy=500: contribution of 'heavy' %.3f\n", c[3]);
    iforest_destroy(f);
    csv_free(&t);
}

TEST(score_many_equals_score)
{
    struct csv_table t;
    if (load_csv("test.csv", &t) < 0) {
        CHECK(0);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE];
    struct iforest_params p = {.n_trees = 77, .sample_size = 100, .seed = 11};
    iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
    CHECK(f != NULL);
    double *s = malloc(t.n_rows * sizeof(*s));
    iforest_score_many(f, t.values, t.n_rows, s);
    for (size_t i = 0; i < t.n_rows; i++) {
        double one = iforest_score(f, t.values + i * t.n_cols);
        CHECK(memcmp(&one, &s[i], sizeof(one)) == 0);
        CHECK(s[i] > 0 && s[i] <= 1);
        CHECK_NEAR(s[i], pow(2, -iforest_path_length(f, t.values + i * t.n_cols) / iforest_c(100)),
                   1e-12);
    }
    free(s);
    iforest_destroy(f);
    csv_free(&t);
}

static uint8_t *ser(const iforest_t *f, size_t *len)
{
    *len = iforest_serialized_size(f);
    uint8_t *b = malloc(*len);
    iforest_serialize(f, b);
    return b;
}

TEST(same_seed_same_forest_any_threads)
{
    struct csv_table t;
    if (load_csv("data.csv", &t) < 0) {
        CHECK(0);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE];
    uint8_t *ref = NULL;
    size_t ref_len = 0;
    int threads[] = {1, 2, 4, 0, 3};
    for (size_t k = 0; k < 5; k++) {
        struct iforest_params p = {.n_trees = 101, .seed = 42, .n_threads = threads[k]};
        iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
        CHECK(f != NULL);
        size_t len;
        uint8_t *b = ser(f, &len);
        if (!ref) {
            ref = b, ref_len = len;
        } else {
            CHECK_EQ(len, ref_len);
            CHECK(len == ref_len && memcmp(b, ref, len) == 0);
            free(b);
        }
        iforest_destroy(f);
    }
    /* and a different seed gives a different forest */
    struct iforest_params p = {.n_trees = 101, .seed = 43};
    iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
    size_t len;
    uint8_t *b = ser(f, &len);
    CHECK(len != ref_len || memcmp(b, ref, len) != 0);
    free(b), free(ref);
    iforest_destroy(f);
    csv_free(&t);
}

TEST(serialize_round_trip)
{
    struct csv_table t;
    if (load_csv("data.csv", &t) < 0) {
        CHECK(0);
        return;
    }
    char err[TAPIR_ERRBUF_SIZE];
    struct iforest_params p = {.n_trees = 64, .seed = 8};
    iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
    size_t len, len2, used = 0;
    uint8_t *b = ser(f, &len);
    iforest_t *g = iforest_deserialize(b, len, &used, err);
    CHECK(g != NULL);
    if (!g) {
        printf("  %s\n", err);
        goto out;
    }
    CHECK_EQ(used, len);
    uint8_t *b2 = ser(g, &len2);
    CHECK(len == len2 && !memcmp(b, b2, len));
    free(b2);
    CHECK_EQ(iforest_seed(g), 8);
    CHECK_EQ(iforest_n_trees(g), 64);
    CHECK_EQ(iforest_sample_size(g), 256);
    CHECK_EQ(iforest_n_features(g), 8);
    for (size_t i = 0; i < t.n_rows; i++) {
        double a = iforest_score(f, t.values + i * 8), c = iforest_score(g, t.values + i * 8);
        CHECK(memcmp(&a, &c, sizeof(a)) == 0);
    }
    iforest_destroy(g);
out:
    free(b);
    iforest_destroy(f);
    csv_free(&t);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

TEST(deserialize_hostile)
{
    char err[TAPIR_ERRBUF_SIZE];
    float X[64 * 3];
    for (int i = 0; i < 64 * 3; i++)
        X[i] = (float)((i * 7919) % 101);
    struct iforest_params p = {.n_trees = 3, .sample_size = 16, .seed = 1};
    iforest_t *f = iforest_fit(X, 64, 3, &p, err);
    size_t len;
    uint8_t *b = ser(f, &len);
    /* every truncation fails */
    for (size_t l = 0; l < len; l++) {
        uint8_t *c = malloc(l ? l : 1); /* exact-size copy: ASan sees any overread */
        memcpy(c, b, l);
        iforest_t *g = iforest_deserialize(c, l, NULL, err);
        CHECK(g == NULL);
        iforest_destroy(g);
        free(c);
        if (check_failed_) {
            printf("  truncated at %zu accepted\n", l);
            break;
        }
    }
    /* random flips: an error or a valid forest (a flipped threshold is still a forest),
     * never a crash; a loaded one must score */
    uint64_t s = 12345;
    int rejected = 0;
    for (int k = 0; k < 20000; k++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        int flips = 1 + k % 4;
        for (int j = 0; j < flips; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            c[(s >> 33) % len] ^= (uint8_t)(1u << ((s >> 20) & 7));
        }
        iforest_t *g = iforest_deserialize(c, len, NULL, err);
        if (g && iforest_n_features(g) != 3) {
            /* a flipped feature count is a valid forest for other data: model.c refuses
             * it against its section's feature list */
        } else if (g) {
            double sc = iforest_score(g, X);
            CHECK(sc > 0 && sc <= 1);
            double ctr[3];
            iforest_explain(g, X, ctr);
        } else {
            rejected++;
        }
        iforest_destroy(g);
        free(c);
    }
    printf("  20000 flipped copies: %d rejected, none crashed\n", rejected);
    CHECK_GT(rejected, 0);

    /* crafted: a child pointing back at the root (a cycle) */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    put32(c + 24 + 4 + 0, 0); /* tree 0, node 0: left = 0 */
    iforest_t *g = iforest_deserialize(c, len, NULL, err);
    CHECK(g == NULL);
    printf("  cycle: %s\n", err);
    /* a huge node count */
    memcpy(c, b, len);
    put32(c + 24, 0xFFFFFFFFu);
    g = iforest_deserialize(c, len, NULL, err);
    CHECK(g == NULL);
    printf("  huge count: %s\n", err);
    /* a feature out of range */
    memcpy(c, b, len);
    put32(c + 24 + 4 + 8, 3);
    g = iforest_deserialize(c, len, NULL, err);
    CHECK(g == NULL);
    printf("  feature: %s\n", err);
    /* absurd tree count */
    memcpy(c, b, len);
    put32(c + 4, 0x7FFFFFFFu);
    g = iforest_deserialize(c, len, NULL, err);
    CHECK(g == NULL);
    printf("  trees: %s\n", err);
    free(c);
    free(b);
    iforest_destroy(f);
}

TEST(import_rejects_bad_trees)
{
    char err[TAPIR_ERRBUF_SIZE];
    /* a valid 3-node tree on 2 rows, then corruptions of it */
    int32_t left[3] = {1, -1, -1}, right[3] = {2, -1, -1}, feat[3] = {0, -2, -2}, ns[3] = {2, 1, 1};
    double thr[3] = {0.5, -2, -2};
    struct iforest_tree_def d = {3, left, right, feat, thr, ns};
    iforest_t *f = iforest_import(2, 2, 0, 1, &d, err);
    CHECK(f != NULL);
    float lo[2] = {0, 0}, hi[2] = {1, 0};
    CHECK_NEAR(iforest_score(f, lo), 0.5, 1e-15); /* depth 1 / c(2) = 1 */
    CHECK_NEAR(iforest_score(f, hi), 0.5, 1e-15);
    iforest_destroy(f);

    struct {
        int32_t *where;
        int32_t value;
        const char *what;
    } cases[] = {
        {&left[0], 3, "child out of range"}, {&left[0], 0, "cycle"},
        {&right[0], 1, "shared child"},      {&feat[0], 2, "feature out of range"},
        {&feat[0], -1, "negative feature"},  {&ns[1], 2, "counts do not add up"},
        {&ns[0], 3, "root count"},           {&left[1], 2, "one child"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int32_t saved = *cases[k].where;
        *cases[k].where = cases[k].value;
        f = iforest_import(2, 2, 0, 1, &d, err);
        CHECK(f == NULL);
        if (f)
            printf("  accepted: %s\n", cases[k].what);
        iforest_destroy(f);
        *cases[k].where = saved;
    }
    thr[0] = NAN;
    f = iforest_import(2, 2, 0, 1, &d, err);
    CHECK(f == NULL);
    thr[0] = 0.5;
    /* deeper than the height limit: psi 2 allows depth 1 only */
    int32_t l5[5] = {1, -1, 3, -1, -1}, r5[5] = {2, -1, 4, -1, -1}, f5[5] = {0, -2, 1, -2, -2},
            n5[5] = {2, 1, 1, 1, 0};
    double t5[5] = {0.5, -2, 0.5, -2, -2};
    struct iforest_tree_def d5 = {5, l5, r5, f5, t5, n5};
    f = iforest_import(2, 2, 0, 1, &d5, err);
    CHECK(f == NULL);
}

TEST(threshold_for_contamination)
{
    double s[100];
    for (int i = 0; i < 100; i++)
        s[i] = (double)((i * 37) % 100) / 100.0; /* a permutation of 0.00 .. 0.99 */
    CHECK_NEAR(iforest_threshold_for_contamination(s, 100, 0.01), 0.9801, 1e-12);
    CHECK_NEAR(iforest_threshold_for_contamination(s, 100, 0.1), 0.891, 1e-12);
    CHECK_NEAR(iforest_threshold_for_contamination(s, 100, 0.0), 0.99, 0);
    CHECK_NEAR(iforest_threshold_for_contamination(s, 100, 1.0), 0.0, 0);
    CHECK_NEAR(iforest_threshold_for_contamination(s, 1, 0.5), s[0], 0);
    CHECK(isnan(iforest_threshold_for_contamination(s, 0, 0.1)));
    CHECK_NEAR(s[0], 0.0, 0); /* input untouched */
    CHECK_NEAR(s[1], 0.37, 0);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The quickselect gives the bits a full sort gave: random sizes, many ties, sorted and
 * reversed inputs, every contamination. */
TEST(threshold_same_as_sort)
{
    uint64_t s = 77;
    int bad = 0;
    double *v = malloc(3000 * sizeof(*v)), *w = malloc(3000 * sizeof(*w));
    for (int k = 0; k < 3000; k++) {
        size_t n = 1 + (size_t)(k * 7919 % 2999);
        int shape = k % 4;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double x = (double)(s >> 11) / 9007199254740992.0;
            v[i] = shape == 0   ? x
                   : shape == 1 ? (double)((s >> 40) % 7) / 8  /* ties */
                   : shape == 2 ? (double)i / (double)n        /* sorted */
                                : (double)(n - i) / (double)n; /* reversed */
        }
        double c = (double)(k % 51) / 100.0; /* 0 .. 0.5 */
        double got = iforest_threshold_for_contamination(v, n, c);
        memcpy(w, v, n * sizeof(*w));
        qsort(w, n, sizeof(*w), cmp_dbl);
        double pos = (1.0 - c) * (double)(n - 1);
        size_t lo = (size_t)floor(pos);
        double want;
        if (lo >= n - 1) {
            want = w[n - 1];
        } else {
            double frac = pos - (double)lo, a = w[lo], b = w[lo + 1], d = b - a;
            want = frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
        }
        if (memcmp(&got, &want, sizeof(got)) != 0 && bad++ < 5)
            printf("  n %zu shape %d c %g: %.17g, sort gives %.17g\n", n, shape, c, got, want);
    }
    CHECK_EQ(bad, 0);
    free(v);
    free(w);
}

TEST(fit_edges)
{
    char err[TAPIR_ERRBUF_SIZE];
    float one[3] = {1, 2, 3};
    struct iforest_params p = {.n_trees = 5, .seed = 1};
    iforest_t *f = iforest_fit(one, 1, 3, &p, err);
    CHECK(f != NULL);
    CHECK_EQ(iforest_sample_size(f), 1);
    CHECK_NEAR(iforest_score(f, one), 1.0, 0); /* sklearn: 1 when c(psi) == 0 */
    iforest_destroy(f);
    CHECK(iforest_fit(one, 0, 3, &p, err) == NULL);
    printf("  no rows: %s\n", err);
    CHECK(iforest_fit(one, 1, 0, &p, err) == NULL);
    printf("  no features: %s\n", err);
    iforest_destroy(NULL);
}

/* ---- Both scoring layouts against a plain reference walk ------------------------ */

struct gen_forest {
    uint32_t n_trees, psi;
    size_t nf;
    struct iforest_tree_def *defs;
    int32_t *ia; /* per tree: left, right, feature, n_samples (4 * cap) */
    double *thr;
    uint32_t cap; /* nodes per tree at most */
};

static uint64_t gen_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Appends a random subtree on n rows at depth d to tree t; returns its node index.
 * shape 0: random splits; 1: a chain down the left side to `depth_max`; 2: one leaf. */
static int32_t gen_node(struct gen_forest *g, uint32_t t, uint32_t *used, int32_t n, uint32_t d,
                        uint32_t depth_max, int shape, uint64_t *s)
{
    int32_t *l = g->ia + (size_t)t * 4 * g->cap, *r = l + g->cap, *ft = r + g->cap,
            *ns = ft + g->cap;
    double *th = g->thr + (size_t)t * g->cap;
    int32_t i = (int32_t)(*used)++;
    ns[i] = n;
    int leaf =
        n < 2 || d >= depth_max || shape == 2 || (shape == 0 && d > 2 && gen_next(s) % 5 == 0);
    if (leaf) {
        l[i] = r[i] = -1, ft[i] = -2, th[i] = -2;
        return i;
    }
    int32_t nl = shape == 1 ? n - 1 : 1 + (int32_t)(gen_next(s) % (uint64_t)(n - 1));
    ft[i] = (int32_t)(gen_next(s) % g->nf);
    th[i] = ((double)(gen_next(s) % 2001) - 1000.0) / 997.0; /* not float-exact */
    if (gen_next(s) % 16 == 0) /* and some thresholds at the edges: +-0, subnormal */
        th[i] = (double[]){0.0, -0.0, 1e-45, -1e-45, 1e-300}[gen_next(s) % 5];
    int32_t a = gen_node(g, t, used, nl, d + 1, depth_max, shape, s);
    int32_t b = gen_node(g, t, used, n - nl, d + 1, depth_max, shape == 1 ? 2 : shape, s);
    l[i] = a, r[i] = b;
    return i;
}

/* shape_of(t): the shape of tree t, as gen_node's */
static void gen_forest(struct gen_forest *g, size_t nf, uint32_t psi, uint32_t n_trees,
                       int (*shape_of)(uint32_t), uint64_t seed)
{
    g->nf = nf, g->psi = psi, g->n_trees = n_trees, g->cap = 2 * psi;
    g->defs = calloc(n_trees, sizeof(*g->defs));
    g->ia = malloc((size_t)n_trees * 4 * g->cap * sizeof(*g->ia));
    g->thr = malloc((size_t)n_trees * g->cap * sizeof(*g->thr));
    uint32_t H = 0;
    while ((1u << H) < (psi < 2 ? 2 : psi))
        H++;
    for (uint32_t t = 0; t < n_trees; t++) {
        uint32_t used = 0;
        gen_node(g, t, &used, (int32_t)psi, 0, H, shape_of(t), &seed);
        int32_t *l = g->ia + (size_t)t * 4 * g->cap;
        g->defs[t] = (struct iforest_tree_def){.n_nodes = used,
                                               .left = l,
                                               .right = l + g->cap,
                                               .feature = l + 2 * g->cap,
                                               .n_samples = l + 3 * g->cap,
                                               .threshold = g->thr + (size_t)t * g->cap};
    }
}

static void gen_free(struct gen_forest *g)
{
    free(g->defs), free(g->ia), free(g->thr);
}

/* The score by the definition: walk each tree in sklearn's layout (x <= thr goes left,
 * so NaN goes right there; iforest sends NaN left: the reference follows iforest),
 * leaf value (d + 1 + c(n)) - 1, trees summed in order. */
static double ref_score(const struct gen_forest *g, const float *x)
{
    double sum = 0;
    for (uint32_t t = 0; t < g->n_trees; t++) {
        const struct iforest_tree_def *d = &g->defs[t];
        int32_t i = 0;
        uint32_t depth = 0;
        while (d->left[i] != -1) {
            i = (double)x[d->feature[i]] > d->threshold[i] ? d->right[i] : d->left[i];
            depth++;
        }
        sum += ((double)(depth + 1) + iforest_c(d->n_samples[i])) - 1.0;
    }
    double denom = g->n_trees * iforest_c(g->psi);
    return denom == 0 ? 1.0 : pow(2.0, -(sum / denom));
}

static int shape_random(uint32_t t)
{
    (void)t;
    return 0;
}

static int shape_one_chain(uint32_t t)
{
    return t == 7 ? 1 : 2;
}

static int shape_leaf(uint32_t t)
{
    (void)t;
    return 2;
}

static void check_layout(const struct gen_forest *g, const char *layout)
{
    char err[TAPIR_ERRBUF_SIZE];
    iforest_t *f = iforest_import(g->nf, g->psi, 0, g->n_trees, g->defs, err);
    CHECK(f != NULL);
    if (!f) {
        printf("  %s\n", err);
        return;
    }
    size_t len;
    uint8_t *b = ser(f, &len);
    iforest_t *f2 = iforest_deserialize(b, len, NULL, err);
    CHECK(f2 != NULL);
    CHECK(strcmp(iforest_layout(f), layout) == 0);
    CHECK(strcmp(iforest_layout(f2), layout) == 0);
    /* 300 rows: two full blocks of 128, then 44 (two groups of 16 and a part group) */
    size_t n = 300, nf = g->nf;
    float *X = malloc(n * nf * sizeof(*X));
    uint64_t s = 99;
    for (size_t i = 0; i < n * nf; i++)
        X[i] = (float)(((double)(gen_next(&s) % 2001) - 1000.0) / 997.0);
    /* rows 5 to 40: values where a float order key could go wrong */
    const float special[] = {NAN,     INFINITY, -INFINITY, -0.0f, 0.0f,           1e-45f,
                             -1e-45f, FLT_MAX,  -FLT_MAX,  -NAN,  1.17549435e-38f};
    size_t n_special = sizeof(special) / sizeof(special[0]);
    for (size_t i = 5; i <= 40; i++)
        for (size_t j = 0; j < nf; j++)
            if ((i + j) % 3 == 0)
                X[i * nf + j] = special[(i + 7 * j) % n_special];
    double *out = malloc(n * sizeof(*out)), *out2 = malloc(n * sizeof(*out2));
    iforest_t *fs[2] = {f, f2};
    for (int k = 0; k < 2; k++) {
        iforest_score_many(fs[k], X, n, out);
        for (size_t i = 0; i < n; i++) {
            double one = iforest_score(fs[k], X + i * nf), ref = ref_score(g, X + i * nf);
            CHECK(memcmp(&one, &out[i], sizeof(one)) == 0);
            CHECK(memcmp(&one, &ref, sizeof(one)) == 0);
            if (check_failed_) {
                printf("  %s row %zu: %.17g %.17g %.17g\n", layout, i, one, out[i], ref);
                break;
            }
        }
        /* any count and offset: each row's score depends on that row only */
        size_t parts[] = {1, 15, 16, 17, 127, 124}; /* 300 */
        for (size_t p = 0, at = 0; p < 6; at += parts[p], p++) {
            iforest_score_many(fs[k], X + at * nf, parts[p], out2);
            CHECK(memcmp(out2, out + at, parts[p] * sizeof(*out2)) == 0);
        }
    }
    free(X), free(out), free(out2), free(b);
    iforest_destroy(f);
    iforest_destroy(f2);
}

TEST(layouts_match_reference)
{
    struct gen_forest g;
    /* varied trees: the complete layout */
    gen_forest(&g, 5, 256, 37, shape_random, 1);
    check_layout(&g, "complete");
    gen_free(&g);
    /* one chain 10 deep among single leaves: 2^11 slots a tree, 204,800 in all for 120
     * nodes, too much to expand (a small hostile file must not allocate megabytes):
     * linked */
    gen_forest(&g, 3, 1024, 100, shape_one_chain, 2);
    check_layout(&g, "linked");
    gen_free(&g);
    /* every tree a single leaf: depth 0, no step */
    gen_forest(&g, 2, 64, 9, shape_leaf, 3);
    check_layout(&g, "complete");
    gen_free(&g);
    /* over 512 features: score_many scores one row at a time */
    gen_forest(&g, 600, 128, 11, shape_random, 4);
    check_layout(&g, "complete");
    gen_free(&g);
    /* psi 1: c(psi) = 0, every score 1 */
    gen_forest(&g, 4, 1, 3, shape_random, 5);
    check_layout(&g, "complete");
    gen_free(&g);
}

int main(void)
{
    const char *top = getenv("TAPIR_TOP");
    snprintf(fixture_dir, sizeof(fixture_dir), "%s/tests/fixtures/iforest", top ? top : ".");
    RUN(c_matches_sklearn);
    RUN(sklearn_exact);
    RUN(sklearn_exact_duplicates);
    RUN(sklearn_distribution);
    RUN(structure);
    RUN(duplicates_one_leaf);
    RUN(constant_features_redrawn);
    RUN(explain);
    RUN(score_many_equals_score);
    RUN(layouts_match_reference);
    RUN(same_seed_same_forest_any_threads);
    RUN(serialize_round_trip);
    RUN(deserialize_hostile);
    RUN(import_rejects_bad_trees);
    RUN(threshold_for_contamination);
    RUN(threshold_same_as_sort);
    RUN(fit_edges);
    return CHECK_DONE();
}
