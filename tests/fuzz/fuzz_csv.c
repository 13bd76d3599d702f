/*
 * fuzz_csv.c — the numeric CSV reader behind `tapir forest fit|score` (analyzer/csv.c).
 * The input is the whole file. Checks the contract beyond "no crash": a refusal names
 * the problem and leaves the table empty; a success gives finite values and names no
 * longer than CSV_MAX_NAME.
 */
#include <math.h>
#include <stdlib.h>

#include "csv.h"
#include "fuzz_common.h"
#include "tapir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(fuzz_remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("csv", data, size);
    struct csv_table t;
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    if (csv_read(path, &t, errbuf) < 0) {
        if (!errbuf[0] || t.names || t.values || t.n_rows || t.n_cols)
            abort();
        return 0;
    }
    if (t.n_cols == 0 || t.n_cols > CSV_MAX_COLUMNS)
        abort();
    for (size_t j = 0; j < t.n_cols; j++)
        if (strlen(t.names[j]) > CSV_MAX_NAME)
            abort();
    for (size_t i = 0; i < t.n_rows * t.n_cols; i++)
        if (!isfinite(t.values[i]))
            abort();
    csv_free(&t);
    return 0;
}
