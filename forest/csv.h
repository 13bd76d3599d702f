/*
 * csv.h — numeric CSV with a header row of column names, for `tapir forest` and tests.
 * Every cell must be a finite number that fits a float (the forest works in float32).
 * Any problem — empty file, ragged row, non-numeric cell, over-long line, NUL byte — is
 * one sentence with file and line ("data.csv:17: field 3 ('abc') is not a number").
 */
#ifndef TAPIR_CSV_H
#define TAPIR_CSV_H

#include <stddef.h>

#define CSV_MAX_LINE    (1 << 20) /* bytes per line, terminator excluded */
#define CSV_MAX_COLUMNS 65536
#define CSV_MAX_NAME    39 /* bytes per column name (model feature names hold 40) */

struct csv_table {
    size_t n_rows;
    size_t n_cols;
    char **names;  /* n_cols column names, trimmed, surrounding quotes removed */
    float *values; /* n_rows x n_cols, row-major */
};

/* Reads path ("-" for stdin) into *out. Returns 0, or -1 with errbuf
 * (TAPIR_ERRBUF_SIZE) filled and *out empty. A header with no rows is not an error. */
int csv_read(const char *path, struct csv_table *out, char *errbuf);

/* Frees what csv_read allocated; *t becomes empty. NULL ok. */
void csv_free(struct csv_table *t);

#endif
