/*
 * csv.h — numeric CSV with a header row of column names, for `tapir forest` and tests.
 * Every cell must be a finite number that fits a float (the forest works in float32),
 * except in the columns the caller asks to skip (by name: `tapir run --vectors-csv`'s
 * window_start and ip), which are not read at all.
 * Any problem — empty file, ragged row, non-numeric cell, over-long line, NUL byte — is
 * one sentence with file and line ("data.csv:17: field 3 ('abc') is not a number").
 */
#ifndef TAPIR_CSV_H
#define TAPIR_CSV_H

#include <stdbool.h>
#include <stddef.h>

struct workers;

#define CSV_MAX_LINE    (1 << 20) /* bytes per line, terminator excluded */
#define CSV_MAX_COLUMNS 65536
#define CSV_MAX_NAME    39 /* bytes per column name (model feature names hold 40) */
#define CSV_G17_MAX     32 /* bytes csv_format_g17 may write, NUL included */

struct csv_table {
    size_t n_rows;
    size_t n_cols;    /* columns kept (the header's, less the skipped ones) */
    size_t n_skipped; /* header columns left out by csv_options.skip */
    char **names;     /* n_cols column names, trimmed, surrounding quotes removed */
    float *values;    /* n_rows x n_cols, row-major */
};

struct csv_options {
    const char *const *skip; /* names of columns not to read (any text in them), or NULL */
    size_t n_skip;
    bool skip_must_exist; /* a name of skip missing from the header is an error */
    int n_threads;        /* parsing threads; 0 or 1: the calling thread only */
    /* NULL: the table gets every row. Set: each batch of rows read (a run of lines, up to
     * ~1 MiB of text) goes to batch as soon as it is parsed, as the rows of the table it
     * is given (names set, n_rows >= 1), in file order, and the table holds one batch at
     * a time: memory bounded by the batch, not the file. 0 to go on, -1 to stop:
     * csv_read_opt then fails with errbuf as batch left it. On success *out has the
     * names and n_rows 0. */
    int (*batch)(void *ctx, const struct csv_table *rows, char *errbuf);
    void *batch_ctx;
    struct workers *workers; /* threads to parse on (workers.h), or NULL: one per part */
};

/* Reads path ("-" for stdin) into *out. Returns 0, or -1 with errbuf
 * (TAPIR_ERRBUF_SIZE) filled and *out empty. A header with no rows is not an error. */
int csv_read(const char *path, struct csv_table *out, char *errbuf);

/* csv_read, skipping the columns o names (o NULL: none). */
int csv_read_opt(const char *path, const struct csv_options *o, struct csv_table *out,
                 char *errbuf);

/* Frees what csv_read allocated; *t becomes empty. NULL ok. */
void csv_free(struct csv_table *t);

/* The reader's fast path, for tests: parses a plain decimal ([+-]digits[.digits][e[+-]N])
 * at the start of the NUL-terminated s into *out, bit-identical to strtod, and returns
 * the end of the number; or returns NULL for anything it leaves to strtod (more than 19
 * digits, a value needing a power of ten beyond 10^22, hex, inf, nan, no digits). */
const char *csv_fast_double(const char *s, double *out);

/* What the reader uses where the buffer allows: csv_fast_double reading 8 digits at a
 * time, rounded on to float. It takes the same numbers and gives (float)strtod's bits.
 * s must have 64 readable bytes. */
const char *csv_fast_float(const char *s, float *out);

/* Writes x as printf("%.17g") does, byte for byte, into buf (CSV_G17_MAX bytes) and
 * returns the length. Scores in [1e-4, 1) take an exact integer path (5-10x faster than
 * snprintf); anything else goes to snprintf. */
size_t csv_format_g17(double x, char *buf);

#endif
