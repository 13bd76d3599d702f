/*
 * bench_iforest.c — times the Isolation Forest in-process, the way bench/iforest.sh
 * times scikit-learn: fit (best of R runs), iforest_score_many over every row (best of
 * R), and the latency of one iforest_score call (mean over many calls, and the 99th
 * percentile of batches of 64 calls, which hides the clock's own cost).
 *
 * usage: build/tools/bench_iforest DATA.csv [TREES [PSI [REPEATS]]]
 * Prints "key value" lines for the script to read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "csv.h"
#include "iforest.h"
#include "tapir.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA.csv [TREES [PSI [REPEATS]]]\n", argv[0]);
        return 2;
    }
    char err[TAPIR_ERRBUF_SIZE];
    struct csv_table t;
    double t0 = now();
    if (csv_read(argv[1], &t, err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    double t_csv = now() - t0;
    struct iforest_params p = {.n_trees = argc > 2 ? (uint32_t)atoi(argv[2]) : 100,
                               .sample_size = argc > 3 ? (uint32_t)atoi(argv[3]) : 256,
                               .seed = 1};
    int reps = argc > 4 ? atoi(argv[4]) : 5;
    double best_fit = 1e9, best_score = 1e9;
    iforest_t *f = NULL;
    double *s = malloc(t.n_rows * sizeof(*s));
    for (int r = 0; r < reps; r++) {
        iforest_destroy(f);
        t0 = now();
        f = iforest_fit(t.values, t.n_rows, t.n_cols, &p, err);
        double dt = now() - t0;
        if (!f) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        best_fit = dt < best_fit ? dt : best_fit;
        t0 = now();
        iforest_score_many(f, t.values, t.n_rows, s);
        dt = now() - t0;
        best_score = dt < best_score ? dt : best_score;
    }
    /* single-vector latency: calls cycle through the rows, as windows' vectors would */
    size_t calls = 200000, batch = 64, nb = calls / batch;
    double *lat = malloc(nb * sizeof(*lat)), sink = 0;
    t0 = now();
    for (size_t b = 0; b < nb; b++) {
        double tb = now();
        for (size_t i = 0; i < batch; i++)
            sink += iforest_score(f, t.values + ((b * batch + i) % t.n_rows) * t.n_cols);
        lat[b] = (now() - tb) / (double)batch;
    }
    double mean_one = (now() - t0) / (double)(nb * batch);
    qsort(lat, nb, sizeof(*lat), cmp_double);
    printf("rows %zu\nfeatures %zu\ntrees %u\npsi %u\nlayout %s\n", t.n_rows, t.n_cols,
           iforest_n_trees(f), iforest_sample_size(f), iforest_layout(f));
    printf("csv_read_s %.6f\nfit_s %.6f\nscore_all_s %.6f\nscore_per_row_us %.4f\n", t_csv,
           best_fit, best_score, best_score / (double)t.n_rows * 1e6);
    printf("single_mean_us %.4f\nsingle_p99_us %.4f\nchecksum %.6f\n", mean_one * 1e6,
           lat[nb * 99 / 100] * 1e6, sink / (double)(nb * batch));
    free(lat), free(s);
    iforest_destroy(f);
    csv_free(&t);
    return 0;
}
