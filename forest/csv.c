/*
 * csv.c — the numeric CSV reader behind `tapir forest` (csv.h has the contract).
 *
 * Lines come from a fixed buffer of CSV_MAX_LINE plus 64 KiB refilled with fread: memory
 * stays bounded whatever the input (a multi-gigabyte line without a newline is an error
 * at 1 MiB, not an allocation), and there is no per-character stdio call. Rejected:
 * getline(), which grows its buffer to the longest line the file holds.
 *
 * Dialect: comma separated; optional CR before LF; optional UTF-8 byte-order mark; blank
 * lines skipped; a cell may be wrapped in double quotes (without embedded commas or
 * quotes). Numbers are parsed as doubles and rounded to float, as numpy's
 * astype(float32) does with Python floats, so a value here is the value scikit-learn saw.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "tapir.h"

#define READ_CHUNK (64 * 1024)

struct line_reader {
    FILE *fp;
    char *buf;
    size_t cap;   /* CSV_MAX_LINE + READ_CHUNK + 1 */
    size_t start; /* next unread byte */
    size_t end;   /* bytes held */
    int eof;
    int error; /* errno of a read error */
};

enum { LINE_OK = 1, LINE_EOF = 0, LINE_TOO_LONG = -1, LINE_IO = -2 };

/* Next line, NUL-terminated in place without its LF. */
static int next_line(struct line_reader *r, char **line, size_t *len)
{
    for (;;) {
        char *p = r->buf + r->start;
        size_t have = r->end - r->start;
        char *nl = memchr(p, '\n', have);
        if (nl) {
            *len = (size_t)(nl - p);
            if (*len > CSV_MAX_LINE)
                return LINE_TOO_LONG;
            *nl = '\0';
            *line = p;
            r->start += *len + 1;
            return LINE_OK;
        }
        if (have > CSV_MAX_LINE)
            return LINE_TOO_LONG;
        if (r->eof) {
            if (have == 0)
                return LINE_EOF;
            p[have] = '\0'; /* cap leaves one byte past end */
            *line = p;
            *len = have;
            r->start = r->end;
            return LINE_OK;
        }
        memmove(r->buf, p, have);
        r->start = 0;
        r->end = have;
        size_t got = fread(r->buf + r->end, 1, r->cap - 1 - r->end, r->fp);
        r->end += got;
        if (got == 0) {
            if (ferror(r->fp)) {
                r->error = errno ? errno : EIO;
                return LINE_IO;
            }
            r->eof = 1;
        }
    }
}

/* Trims blanks and one pair of surrounding double quotes, in place. */
static char *trim_cell(char *s, char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - s >= 2 && *s == '"' && e[-1] == '"')
        s++, e--;
    *e = '\0';
    return s;
}

/* Splits line into at most max cells (pointers into line). Returns the cell count, which
 * may exceed max (cells past max are counted, not stored). */
static size_t split_cells(char *line, size_t len, char **cells, size_t max)
{
    size_t n = 0;
    char *s = line, *end = line + len;
    for (;;) {
        char *c = memchr(s, ',', (size_t)(end - s));
        char *e = c ? c : end;
        char *cell = trim_cell(s, e);
        if (n < max)
            cells[n] = cell;
        n++;
        if (!c)
            return n;
        s = c + 1;
    }
}

static const char *shown(const char *cell, char *buf, size_t len)
{
    snprintf(buf, len, "%s", cell);
    if (strlen(cell) >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return buf;
}

void csv_free(struct csv_table *t)
{
    if (!t)
        return;
    if (t->names)
        for (size_t i = 0; i < t->n_cols; i++)
            free(t->names[i]);
    free(t->names);
    free(t->values);
    memset(t, 0, sizeof(*t));
}

static int parse_header(const char *path, size_t lineno, char **cells, size_t n,
                        struct csv_table *t, char *errbuf)
{
    t->names = calloc(n, sizeof(*t->names));
    if (!t->names) {
        tapir_errf(errbuf, "%s: out of memory", path);
        return -1;
    }
    t->n_cols = n;
    char sb[48];
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cells[i]);
        if (l == 0) {
            tapir_errf(errbuf,
                       "%s:%zu: column %zu has no name (the first line must name every column)",
                       path, lineno, i + 1);
            return -1;
        }
        if (l > CSV_MAX_NAME) {
            tapir_errf(errbuf, "%s:%zu: column %zu name '%s' is longer than %d bytes", path, lineno,
                       i + 1, shown(cells[i], sb, sizeof(sb)), CSV_MAX_NAME);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(t->names[k], cells[i])) {
                tapir_errf(errbuf, "%s:%zu: column %zu name '%s' repeats column %zu", path, lineno,
                           i + 1, cells[i], k + 1);
                return -1;
            }
        }
        t->names[i] = strdup(cells[i]);
        if (!t->names[i]) {
            tapir_errf(errbuf, "%s: out of memory", path);
            return -1;
        }
    }
    return 0;
}

static int parse_row(const char *path, size_t lineno, char **cells, float *out, size_t n,
                     char *errbuf)
{
    char sb[48];
    for (size_t i = 0; i < n; i++) {
        const char *c = cells[i];
        if (!*c) {
            tapir_errf(errbuf, "%s:%zu: field %zu is empty", path, lineno, i + 1);
            return -1;
        }
        char *end;
        errno = 0;
        double d = strtod(c, &end);
        if (end == c || *end) {
            tapir_errf(errbuf, "%s:%zu: field %zu ('%s') is not a number", path, lineno, i + 1,
                       shown(c, sb, sizeof(sb)));
            return -1;
        }
        if (!isfinite(d) || fabs(d) > FLT_MAX) {
            tapir_errf(errbuf, "%s:%zu: field %zu ('%s') is not a finite float32 number", path,
                       lineno, i + 1, shown(c, sb, sizeof(sb)));
            return -1;
        }
        out[i] = (float)d;
    }
    return 0;
}

int csv_read(const char *path, struct csv_table *out, char *errbuf)
{
    memset(out, 0, sizeof(*out));
    struct line_reader r = {.cap = CSV_MAX_LINE + READ_CHUNK + 1};
    int is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "(stdin)" : path;
    char **cells = NULL;
    size_t cap_rows = 0, lineno = 0;
    r.fp = is_stdin ? stdin : fopen(path, "rb");
    if (!r.fp) {
        tapir_errf(errbuf, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    r.buf = malloc(r.cap);
    cells = malloc(CSV_MAX_COLUMNS * sizeof(*cells));
    if (!r.buf || !cells) {
        tapir_errf(errbuf, "%s: out of memory", name);
        goto fail;
    }
    int header = 1;
    for (;;) {
        char *line;
        size_t len;
        int rc = next_line(&r, &line, &len);
        if (rc == LINE_EOF)
            break;
        lineno++;
        if (rc == LINE_TOO_LONG) {
            tapir_errf(errbuf, "%s:%zu: line longer than %d bytes", name, lineno, CSV_MAX_LINE);
            goto fail;
        }
        if (rc == LINE_IO) {
            tapir_errf(errbuf, "cannot read %s: %s", name, strerror(r.error));
            goto fail;
        }
        if (lineno == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
            line += 3, len -= 3;
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (memchr(line, '\0', len)) {
            tapir_errf(errbuf, "%s:%zu: contains a NUL byte: not a text CSV file", name, lineno);
            goto fail;
        }
        if (strspn(line, " \t") == len)
            continue; /* blank */
        size_t n = split_cells(line, len, cells, CSV_MAX_COLUMNS);
        if (header) {
            if (n > CSV_MAX_COLUMNS) {
                tapir_errf(errbuf, "%s:%zu: %zu columns, at most %d", name, lineno, n,
                           CSV_MAX_COLUMNS);
                goto fail;
            }
            if (parse_header(name, lineno, cells, n, out, errbuf) < 0)
                goto fail;
            header = 0;
            continue;
        }
        if (n != out->n_cols) {
            tapir_errf(errbuf, "%s:%zu: %zu fields, the header has %zu", name, lineno, n,
                       out->n_cols);
            goto fail;
        }
        if (out->n_rows == cap_rows) {
            size_t nc = cap_rows ? 2 * cap_rows : 1024;
            if (nc > SIZE_MAX / sizeof(float) / out->n_cols) {
                tapir_errf(errbuf, "%s: too many rows", name);
                goto fail;
            }
            float *v = realloc(out->values, nc * out->n_cols * sizeof(float));
            if (!v) {
                tapir_errf(errbuf, "%s: out of memory at line %zu", name, lineno);
                goto fail;
            }
            out->values = v;
            cap_rows = nc;
        }
        if (parse_row(name, lineno, cells, out->values + out->n_rows * out->n_cols, n, errbuf) < 0)
            goto fail;
        out->n_rows++;
    }
    if (header) {
        tapir_errf(errbuf, "%s: empty file, expected a header row of column names", name);
        goto fail;
    }
    if (!is_stdin)
        fclose(r.fp);
    free(r.buf);
    free(cells);
    return 0;
fail:
    if (!is_stdin)
        fclose(r.fp);
    free(r.buf);
    free(cells);
    csv_free(out);
    return -1;
}
