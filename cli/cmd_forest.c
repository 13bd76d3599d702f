/*
 * cmd_forest.c — `tapir forest fit|score`: the Isolation Forest alone, on a numeric CSV
 * with a header row. fit writes a model with one section "forest" (feature names from
 * the header, raw scaling, threshold at the contamination quantile of the training
 * scores); score prints one score per input row, in input order, with %.17g so the
 * numbers round-trip (and compare with scikit-learn's to the last bit).
 *
 * Exit status: 0 ok; 1 runtime failure (cannot write the model, out of memory); 2 bad
 * usage or bad input (unreadable or malformed CSV, corrupt model, other features).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "iforest.h"
#include "model.h"
#include "parse.h"
#include "tapir.h"

#define SECTION "forest"

static void usage_fit(FILE *f)
{
    fprintf(f,
            "usage: tapir forest fit --csv IN.csv -o MODEL [options]\n\n"
            "Fits an Isolation Forest on the rows of IN.csv (a header row naming the\n"
            "features, then numeric rows) and writes MODEL.\n\n"
            "  --csv FILE            training data ('-' for stdin)\n"
            "  -o, --output MODEL    model file to write (atomically)\n"
            "  --trees N             number of trees (default %d)\n"
            "  --samples N           rows per tree, psi (default %d; capped at the rows)\n"
            "  --seed N              random seed (default 1); same seed, same model\n"
            "  --contamination F     share of training rows above the threshold, in (0, 0.5]\n"
            "                        (default 0.01)\n"
            "  --threads N           fit threads (default 1); the model does not depend on it\n",
            IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLES);
}

static void usage_score(FILE *f)
{
    fprintf(f,
            "usage: tapir forest score --model MODEL --csv IN.csv\n\n"
            "Prints the anomaly score (in (0,1], higher is more anomalous) of every row of\n"
            "IN.csv, one per line, in input order. IN.csv's header must name the model's\n"
            "features, in the same order.\n\n"
            "  --model MODEL         model from 'tapir forest fit'\n"
            "  --csv FILE            rows to score ('-' for stdin)\n"
            "  --section NAME        model section to use (default 'forest', or the only one)\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tapir forest fit --csv IN.csv -o MODEL [options]\n"
               "       tapir forest score --model MODEL --csv IN.csv\n\n"
               "'tapir forest fit --help' and 'tapir forest score --help' for the options.\n");
}

/* An unsigned integer option in [lo, hi]; the whole string must be the number. */
static int opt_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v;
    if (*s == ' ' || parse_u64(s, 10, &v) < 0) {
        fprintf(stderr, "tapir forest: %s '%s': expected a whole number\n", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "tapir forest: %s %llu: expected %llu to %llu\n", opt,
                (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* After a subcommand's option loop: no operand left, and no required option missing
 * (missing names the first one, or is NULL). 0, or -1 having said why. */
static int args_done(int argc, char **argv, const char *cmd, const char *missing,
                     void (*usage_of)(FILE *))
{
    if (parse_opt_no_operands(argc, argv, cmd, NULL) < 0)
        return -1;
    if (missing) {
        fprintf(stderr, "%s: %s is required\n", cmd, missing);
        usage_of(stderr);
        return -1;
    }
    return 0;
}

static int forest_fit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"trees", required_argument, NULL, 't'},
        {"samples", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        {"contamination", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *csv = NULL, *out = NULL;
    uint64_t trees = IFOREST_DEFAULT_TREES, samples = IFOREST_DEFAULT_SAMPLES, seed = 1,
             threads = 1;
    double contamination = 0.01;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            csv = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 't':
            bad = opt_u64("--trees", optarg, 1, IFOREST_MAX_TREES, &trees);
            break;
        case 's':
            bad = opt_u64("--samples", optarg, 1, IFOREST_MAX_SAMPLES, &samples);
            break;
        case 'S':
            bad = opt_u64("--seed", optarg, 0, UINT64_MAX, &seed);
            break;
        case 'j':
            bad = opt_u64("--threads", optarg, 1, 256, &threads);
            break;
        case 'C':
            if (parse_f64(optarg, &contamination) < 0 ||
                !(contamination > 0 && contamination <= 0.5)) {
                fprintf(stderr,
                        "tapir forest: --contamination '%s': expected a number in "
                        "(0, 0.5]\n",
                        optarg);
                bad = -1;
            }
            break;
        default:
            return parse_opt_other(c, "tapir forest fit", argv, usage_fit);
        }
        if (bad)
            return TAPIR_EXIT_USAGE;
    }
    const char *missing = !csv ? "--csv" : !out ? "-o MODEL" : NULL;
    if (args_done(argc, argv, "tapir forest fit", missing, usage_fit) < 0)
        return TAPIR_EXIT_USAGE;

    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    if (csv_read(csv, &t, err) < 0) {
        fprintf(stderr, "tapir forest fit: %s\n", err);
        return TAPIR_EXIT_USAGE;
    }
    if (t.n_rows == 0) {
        fprintf(stderr, "tapir forest fit: %s: no data rows after the header\n", csv);
        csv_free(&t);
        return TAPIR_EXIT_USAGE;
    }
    int rc = TAPIR_EXIT_FAIL;
    struct model m = {0};
    double *scores = NULL;
    double t0 = ((double)tapir_monotonic_us() / 1e6);
    struct iforest_params p = {.n_trees = (uint32_t)trees,
                               .sample_size = (uint32_t)samples,
                               .seed = seed,
                               .n_threads = (int)threads};
    iforest_t *f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
    if (!f) {
        fprintf(stderr, "tapir forest fit: %s\n", err);
        goto out;
    }
    double t1 = ((double)tapir_monotonic_us() / 1e6);
    scores = malloc(t.n_rows * sizeof(*scores));
    m.sections = calloc(1, sizeof(*m.sections));
    if (!scores || !m.sections) {
        fprintf(stderr, "tapir forest fit: out of memory\n");
        iforest_destroy(f);
        goto out;
    }
    m.n_sections = 1;
    struct model_section *s = &m.sections[0];
    snprintf(s->name, sizeof(s->name), SECTION);
    s->forest = f;
    if (model_section_alloc(s, (uint32_t)t.n_cols) < 0) {
        fprintf(stderr, "tapir forest fit: out of memory\n");
        goto out;
    }
    for (size_t j = 0; j < t.n_cols; j++)
        snprintf(s->feature_names[j], sizeof(s->feature_names[j]), "%s", t.names[j]);
    iforest_score_many(f, t.values, t.n_rows, scores);
    s->threshold = iforest_threshold_for_contamination(scores, t.n_rows, contamination);
    s->contamination = contamination;
    double t2 = ((double)tapir_monotonic_us() / 1e6);
    m.created_us = tapir_wall_us();
    snprintf(m.trained_on, sizeof(m.trained_on), "tapir forest fit --csv %s (%zu rows)", csv,
             t.n_rows);
    if (model_assign_id(&m) < 0 || model_save(&m, out, err) < 0) {
        fprintf(stderr, "tapir forest fit: %s\n", err);
        goto out;
    }
    printf("tapir forest fit: %u trees, psi %u, on %zu rows x %zu features in %.1f ms "
           "(+%.1f ms scoring); threshold %.6f at contamination %g; model %s written to %s\n",
           iforest_n_trees(f), iforest_sample_size(f), t.n_rows, t.n_cols, (t1 - t0) * 1e3,
           (t2 - t1) * 1e3, s->threshold, contamination, m.id, out);
    rc = TAPIR_EXIT_OK;
out:
    free(scores);
    model_free(&m);
    csv_free(&t);
    return rc;
}

static int forest_score(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", required_argument, NULL, 'c'},
        {"model", required_argument, NULL, 'm'},
        {"section", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *csv = NULL, *path = NULL, *section = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            csv = optarg;
            break;
        case 'm':
            path = optarg;
            break;
        case 'S':
            section = optarg;
            break;
        default:
            return parse_opt_other(c, "tapir forest score", argv, usage_score);
        }
    }
    const char *missing = !path ? "--model" : !csv ? "--csv" : NULL;
    if (args_done(argc, argv, "tapir forest score", missing, usage_score) < 0)
        return TAPIR_EXIT_USAGE;
    char err[TAPIR_ERRBUF_SIZE];
    struct model m;
    if (model_load(path, &m, err) < 0) {
        fprintf(stderr, "tapir forest score: %s\n", err);
        return TAPIR_EXIT_USAGE;
    }
    const struct model_section *s = model_find(&m, section ? section : SECTION);
    if (!s && !section && m.n_sections == 1)
        s = &m.sections[0];
    if (!s) {
        fprintf(stderr, "tapir forest score: %s: no section '%s' (it has:", path,
                section ? section : SECTION);
        for (uint32_t k = 0; k < m.n_sections; k++)
            fprintf(stderr, " '%s'", m.sections[k].name);
        fprintf(stderr, "); choose one with --section\n");
        model_free(&m);
        return TAPIR_EXIT_USAGE;
    }
    struct csv_table t;
    if (csv_read(csv, &t, err) < 0) {
        fprintf(stderr, "tapir forest score: %s\n", err);
        model_free(&m);
        return TAPIR_EXIT_USAGE;
    }
    int rc = TAPIR_EXIT_USAGE;
    double *scores = NULL;
    if (model_check_features(s, (const char *const *)t.names, (uint32_t)t.n_cols, err) < 0) {
        fprintf(stderr, "tapir forest score: %s: %s\n", csv, err);
        goto out;
    }
    rc = TAPIR_EXIT_FAIL;
    scores = malloc((t.n_rows ? t.n_rows : 1) * sizeof(*scores));
    if (!scores) {
        fprintf(stderr, "tapir forest score: out of memory\n");
        goto out;
    }
    iforest_score_many(s->forest, t.values, t.n_rows, scores);
    for (size_t i = 0; i < t.n_rows; i++)
        printf("%.17g\n", scores[i]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tapir forest score: cannot write the scores: %s\n", strerror(errno));
        goto out;
    }
    rc = TAPIR_EXIT_OK;
out:
    free(scores);
    csv_free(&t);
    model_free(&m);
    return rc;
}

int cmd_forest(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TAPIR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return TAPIR_EXIT_OK;
    }
    if (!strcmp(argv[1], "fit"))
        return forest_fit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "score"))
        return forest_score(argc - 1, argv + 1);
    fprintf(stderr, "tapir forest: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return TAPIR_EXIT_USAGE;
}
