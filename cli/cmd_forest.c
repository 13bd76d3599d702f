/*
 * cmd_forest.c — `tapir forest fit|score`: the Isolation Forest alone, on a numeric CSV
 * with a header row. fit writes a model with one section "forest" (feature names from
 * the header, raw scaling, threshold at the contamination quantile of the training
 * scores); score prints one score per input row, in input order, with %.17g so the
 * numbers round-trip (and compare with scikit-learn's to the last bit).
 *
 * Both read `tapir run --vectors-csv` files as they are: the columns window_start and ip
 * are left out unless --skip-columns names others. Scoring splits the rows across
 * --threads threads (default: every CPU), each running iforest_score_many on its own
 * slice of rows into its own slice of out[]: the forest is read-only, a row's score does
 * not depend on which thread or slice scored it, so the output is the same bytes for
 * any thread count. Each thread then prints its slice's scores (csv_format_g17: %.17g,
 * byte for byte) into a buffer of its own, written out in slice order: the same bytes
 * again, the formatting on every CPU (rejected: one 64 KiB buffer filled by this thread
 * after the scoring, 2.5-3 ms of wall time on 100,000 rows). On 100,000 rows x 24
 * features, 2 CPUs: see bench/iforest.sh.
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
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "workers.h"
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
            "  --threads N           threads (default: every CPU); the model does not\n"
            "                        depend on it\n"
            "  --skip-columns LIST   comma-separated columns that are not features\n"
            "                        (default window_start,ip, as 'tapir run --vectors-csv'\n"
            "                        writes them, when present)\n",
            IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLES);
}

static void usage_score(FILE *f)
{
    fprintf(f, "usage: tapir forest score --model MODEL --csv IN.csv\n\n"
               "Prints the anomaly score (in (0,1], higher is more anomalous) of every row of\n"
               "IN.csv, one per line, in input order. IN.csv's header must name the model's\n"
               "features, in the same order.\n\n"
               "  --model MODEL         model from 'tapir forest fit'\n"
               "  --csv FILE            rows to score ('-' for stdin)\n"
               "  --section NAME        model section to use (default 'forest', or the only one)\n"
               "  --threads N           scoring threads (default: every CPU); same scores\n"
               "  --skip-columns LIST   comma-separated columns that are not features\n"
               "                        (default window_start,ip when present)\n");
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

/* --threads' default: the CPUs online (1 if unknown), at most 256. */
static uint64_t default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (uint64_t)n;
}

#define MAX_SKIP 64 /* --skip-columns names */

/* Columns that are not features: --skip-columns LIST, or `tapir run --vectors-csv`'s. */
struct skip_list {
    char buf[1024];
    const char *names[MAX_SKIP];
    struct csv_options o;
};

static void skip_default(struct skip_list *s)
{
    static const char *const vectors_csv[] = {"window_start", "ip"};
    s->o = (struct csv_options){.skip = vectors_csv, .n_skip = 2, .skip_must_exist = false};
}

/* Splits LIST on commas; "" skips nothing. 0, or -1 having said why. */
static int skip_parse(struct skip_list *s, const char *list)
{
    if (snprintf(s->buf, sizeof(s->buf), "%s", list) >= (int)sizeof(s->buf)) {
        fprintf(stderr, "tapir forest: --skip-columns: list longer than %zu bytes\n",
                sizeof(s->buf) - 1);
        return -1;
    }
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s->buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_SKIP) {
            fprintf(stderr, "tapir forest: --skip-columns: at most %d names\n", MAX_SKIP);
            return -1;
        }
        s->names[n++] = t;
    }
    s->o = (struct csv_options){.skip = s->names, .n_skip = n, .skip_must_exist = true};
    return 0;
}

/* Fewer rows a thread: its start (~25-50 us) costs more than it saves. score's batches
 * of ~1 MiB of text hold ~4,600 rows of 24 features, so that both CPUs take a batch. */
#define ROWS_PER_THREAD_MIN 1024
#define LINE_MAX_BYTES      CSV_G17_MAX /* a score's line: its digits (no NUL) and '\n' */

struct score_slice {
    const iforest_t *f;
    const float *X; /* rows of this slice */
    size_t n;       /* rows */
    double *out;    /* their scores */
    char *text;     /* NULL, or room for n lines: the slice's scores printed */
    size_t len;     /* bytes of text written */
};

/* Scores the slice's rows and, when it has a text buffer, prints them into it, one
 * "%.17g\n" line each (csv_format_g17: the same bytes as printf). */
static void *score_slice_run(void *arg)
{
    struct score_slice *s = arg;
    iforest_score_many(s->f, s->X, s->n, s->out);
    if (s->text) {
        char *p = s->text;
        for (size_t i = 0; i < s->n; i++) {
            p += csv_format_g17(s->out[i], p);
            *p++ = '\n';
        }
        s->len = (size_t)(p - s->text);
    }
    return NULL;
}

/* iforest_score_many over X's n rows of nf floats on up to `threads` threads, each on
 * its own slice of rows into its own slice of out[] (a thread that cannot be started
 * has its slice scored on this one). With text (room for n * LINE_MAX_BYTES), each
 * thread also prints its slice's lines into its own part of text, and the parts are
 * closed up in slice order: the same bytes as printing the scores in order on one
 * thread, the formatting split across the threads (100,000 scores: 26 M instructions,
 * 2.5-3 ms of one CPU). The threads are w's (NULL: started for the call). Returns the
 * bytes of text written. */
static size_t score_rows(const iforest_t *f, const float *X, size_t n, size_t nf, double *out,
                         uint64_t threads, struct workers *w, char *text)
{
    uint64_t most = n / ROWS_PER_THREAD_MIN;
    if (threads > most)
        threads = most;
    if (threads < 1)
        threads = 1;
    struct score_slice s[TAPIR_PARALLEL_MAX];
    size_t per = (n + threads - 1) / threads;
    for (uint64_t k = 0; k < threads; k++) {
        size_t a = (size_t)k * per, b = a + per < n ? a + per : n;
        size_t m = b > a ? b - a : 0;
        s[k] = (struct score_slice){
            f, X + a * nf, m, out + a, text ? text + a * LINE_MAX_BYTES : NULL, 0};
    }
    if (threads < 2)
        score_slice_run(&s[0]);
    else
        workers_run(w, score_slice_run, s, sizeof(s[0]), (unsigned)threads);
    size_t len = 0;
    for (uint64_t k = 0; text && k < threads; k++) {
        memmove(text + len, s[k].text, s[k].len); /* down, in order: no overlap lost */
        len += s[k].len;
    }
    return len;
}

/* `tapir forest score` reads its CSV a batch at a time (csv_options.batch): each batch
 * is scored and printed into one growing text as it comes, and the text goes to stdout
 * once the whole file has been read, so a bad line anywhere still leaves stdout empty
 * with the same message as before. Rejected: reading the whole table first (the way
 * it was), which touched 12 MB more memory for 100,000 x 24 (table and scores, ~2,500
 * page faults, each paid again at exit) and scored rows that had long left the cache. */
struct score_stream {
    const struct model_section *s;
    uint64_t threads;
    struct workers *workers;
    int checked; /* 0: not yet; 1: the header has the model's features; -1: it has not */
    int oom;
    char err[TAPIR_ERRBUF_SIZE]; /* checked -1: why */
    double *scores;              /* room for cap_rows scores, reused batch after batch */
    size_t cap_rows;
    char *text; /* every line printed so far: len bytes of cap */
    size_t len, cap;
};

/* Checks the header once; then scores and prints the batch. A header without the
 * model's features reads on without scoring: a bad line later is still the error
 * reported, as when the file was read whole before the check. */
static int score_batch(void *ctx, const struct csv_table *t, char *errbuf)
{
    struct score_stream *st = ctx;
    if (!st->checked)
        st->checked = model_check_features(st->s, (const char *const *)t->names,
                                           (uint32_t)t->n_cols, st->err) < 0
                          ? -1
                          : 1;
    if (st->checked < 0)
        return 0;
    if (t->n_rows > st->cap_rows) {
        double *v = realloc(st->scores, t->n_rows * sizeof(*v));
        if (!v)
            goto oom;
        st->scores = v, st->cap_rows = t->n_rows;
    }
    if (t->n_rows > (SIZE_MAX - st->len) / LINE_MAX_BYTES)
        goto oom;
    if (st->len + t->n_rows * LINE_MAX_BYTES > st->cap) {
        size_t cap = st->cap ? st->cap : 1 << 20;
        while (cap < st->len + t->n_rows * LINE_MAX_BYTES)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        char *v = realloc(st->text, cap);
        if (!v)
            goto oom;
        st->text = v, st->cap = cap;
    }
    st->len += score_rows(st->s->forest, t->values, t->n_rows, t->n_cols, st->scores, st->threads,
                          st->workers, st->text + st->len);
    return 0;
oom:
    st->oom = 1;
    tapir_errf(errbuf, "out of memory");
    return -1;
}

static int forest_fit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", required_argument, NULL, 'c'},     {"output", required_argument, NULL, 'o'},
        {"trees", required_argument, NULL, 't'},   {"samples", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},    {"contamination", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 'j'}, {"skip-columns", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *csv = NULL, *out = NULL;
    struct skip_list skip;
    skip_default(&skip);
    uint64_t trees = IFOREST_DEFAULT_TREES, samples = IFOREST_DEFAULT_SAMPLES, seed = 1,
             threads = default_threads();
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
        case 'k':
            bad = skip_parse(&skip, optarg);
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
    struct workers *workers = workers_new((unsigned)threads); /* NULL: threads per part */
    skip.o.n_threads = (int)threads;
    skip.o.workers = workers;
    if (csv_read_opt(csv, &skip.o, &t, err) < 0) {
        fprintf(stderr, "tapir forest fit: %s\n", err);
        workers_free(workers);
        return TAPIR_EXIT_USAGE;
    }
    if (t.n_rows == 0) {
        fprintf(stderr, "tapir forest fit: %s: no data rows after the header\n", csv);
        csv_free(&t);
        workers_free(workers);
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
    score_rows(f, t.values, t.n_rows, t.n_cols, scores, threads, workers, NULL);
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
    char skipped[48] = "";
    if (t.n_skipped)
        snprintf(skipped, sizeof(skipped), " (%zu other column%s skipped)", t.n_skipped,
                 t.n_skipped == 1 ? "" : "s");
    printf("tapir forest fit: %u trees, psi %u, on %zu rows x %zu features%s in %.1f ms "
           "(+%.1f ms scoring); threshold %.6f at contamination %g; model %s written to %s\n",
           iforest_n_trees(f), iforest_sample_size(f), t.n_rows, t.n_cols, skipped, (t1 - t0) * 1e3,
           (t2 - t1) * 1e3, s->threshold, contamination, m.id, out);
    rc = TAPIR_EXIT_OK;
out:
    free(scores);
    model_free(&m);
    csv_free(&t);
    workers_free(workers);
    return rc;
}

static int forest_score(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", required_argument, NULL, 'c'},
        {"model", required_argument, NULL, 'm'},
        {"section", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'j'},
        {"skip-columns", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *csv = NULL, *path = NULL, *section = NULL;
    uint64_t threads = default_threads();
    struct skip_list skip;
    skip_default(&skip);
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
        case 'j':
            if (opt_u64("--threads", optarg, 1, 256, &threads) < 0)
                return TAPIR_EXIT_USAGE;
            break;
        case 'k':
            if (skip_parse(&skip, optarg) < 0)
                return TAPIR_EXIT_USAGE;
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
    struct score_stream st = {
        .s = s, .threads = threads, .workers = workers_new((unsigned)threads)};
    skip.o.n_threads = (int)threads;
    skip.o.workers = st.workers;
    skip.o.batch = score_batch;
    skip.o.batch_ctx = &st;
    int rc = TAPIR_EXIT_USAGE;
    if (csv_read_opt(csv, &skip.o, &t, err) < 0) {
        if (st.oom) {
            fprintf(stderr, "tapir forest score: out of memory\n");
            rc = TAPIR_EXIT_FAIL;
        } else {
            fprintf(stderr, "tapir forest score: %s\n", err);
        }
        goto out_read;
    }
    if (!st.checked) /* a header and no rows */
        st.checked =
            model_check_features(s, (const char *const *)t.names, (uint32_t)t.n_cols, st.err) < 0
                ? -1
                : 1;
    if (st.checked < 0) {
        fprintf(stderr, "tapir forest score: %s: %s\n", csv, st.err);
        goto out;
    }
    rc = TAPIR_EXIT_FAIL;
    if ((st.len && fwrite(st.text, 1, st.len, stdout) != st.len) || fflush(stdout) != 0 ||
        ferror(stdout)) {
        fprintf(stderr, "tapir forest score: cannot write the scores: %s\n", strerror(errno));
        goto out;
    }
    rc = TAPIR_EXIT_OK;
out:
    csv_free(&t);
out_read:
    workers_free(st.workers);
    free(st.scores);
    free(st.text);
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
