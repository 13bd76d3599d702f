/*
 * csv.c — the numeric CSV reader behind `tapir forest` (csv.h has the contract), and the
 * %.17g printer its scores go out with.
 *
 * Lines come from a fixed buffer of CSV_MAX_LINE plus 1 MiB refilled with fread: memory
 * stays bounded whatever the input (a multi-gigabyte line without a newline is an error
 * at 1 MiB, not an allocation), and there is no per-character stdio call. Rejected:
 * getline(), which grows its buffer to the longest line the file holds.
 *
 * Dialect: comma separated; optional CR before LF; optional UTF-8 byte-order mark; blank
 * lines skipped; a cell may be wrapped in double quotes (without embedded commas or
 * quotes). Numbers are parsed as doubles and rounded to float, as numpy's
 * astype(float32) does with Python floats, so a value here is the value scikit-learn saw.
 *
 * Speed: the rows are read in batches (every whole line the buffer holds), cut at line
 * ends into one part per thread (csv_options.n_threads); each part parses into its own
 * rows of the table, and the first bad line in file order is the one reported, with the
 * same message and line number at any thread count. A line is first read in one pass
 * by fast_line, before its end is known (no memchr, strspn or NUL scan of its own):
 * numbers as Clinger's fast path takes them (at most 19 digits, a mantissa <= 2^53 and
 * a power of ten <= 10^22 are exact doubles, so one IEEE multiply or divide is the
 * correctly rounded value, the same bits as strtod), 8 digits a load (SWAR: the digits
 * around a %.6g number's point in one eight-digit step), the sign without a branch, and
 * the division by 10^k replaced by a multiply that gives the same float unless it lands
 * next to a float midpoint (wide_float). Any line the fast pass does not take whole (a
 * hex, inf or long number, a quote, a wrong field count, a bad cell, a NUL) is read
 * again by the general path: split, trim, strtod, and the error message it always gave.
 * 100,000 rows x 24 features (%.6g, 22 MB) on one thread: 366 M instructions (callgrind)
 * instead of 440 M for the byte-at-a-time fast path before, 45-50 ms of CPU instead of
 * 50-57 (min of 15 reads, shared 2-CPU VM at load ~6), and 361-380 ms with strtod.
 * Session 6: 318 M -> 276 M (digit_run one mask fewer, no keep[] test when no column
 * is skipped, an x86-64-v3 clone of fast_line: BMI's tzcnt and shifts), and 1 MiB
 * batches instead of 4 (the batch still in L2 when parsed: 3-4 ms less CPU a read).
 * Session 7: on x86-64-v3 CPUs a number of up to 16 digits and a point is read by one
 * 16-byte SSE load, compare, shuffle and three multiply-adds (wide_float_v3), falling
 * back to wide_float for the rest: 274 M -> 242 M, 4-5 ms less CPU a read (min of 20).
 * Rejected: a full correctly rounded parser (Eisel-Lemire, ~400 lines of tables) for
 * the rare long number strtod handles; mmap of the whole file, which reads neither
 * stdin nor pipes, drops the memory bound, and raises SIGBUS when the file shrinks
 * under it; measured too (MAP_PRIVATE | MAP_POPULATE, session 6): 5-7 ms more CPU on
 * 22 MB than fread into the 1 MiB batch.
 *
 * The number kernels the fast pass inlines are in csv_num.h; the %.17g score printer is
 * csv_g17.c.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "csv.h"
#include "csv_num.h"
#include "tapir.h"
#include "workers.h"

/* Bytes read per batch: the batch is still in L2 (512 KiB a core here) when its parts
 * are parsed. 4 MiB batches (read to fill the buffer): 3-4 ms more CPU per 22 MB read
 * than 1 MiB (the copy's lines evicted before the parse reads them); 256 KiB: the same
 * CPU as 1 MiB but one parse thread a batch. */
#define READ_CHUNK (1024 * 1024)

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

/* Fills t's names from the header's cells, leaving out the columns o skips; keep[i] says
 * whether header cell i is read. */
static int parse_header(const char *path, size_t lineno, char **cells, size_t n,
                        const struct csv_options *o, unsigned char *keep, struct csv_table *t,
                        char *errbuf)
{
    t->names = calloc(n, sizeof(*t->names));
    if (!t->names) {
        tapir_errf(errbuf, "%s: out of memory", path);
        return -1;
    }
    char sb[48];
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cells[i]);
        if (l == 0) {
            tapir_errf(errbuf,
                       "%s:%zu: column %zu has no name (the first line must name every column)",
                       path, lineno, i + 1);
            return -1;
        }
        keep[i] = 1;
        for (size_t k = 0; o && k < o->n_skip; k++)
            if (!strcmp(cells[i], o->skip[k]))
                keep[i] = 0;
        if (!keep[i]) {
            t->n_skipped++;
            continue;
        }
        if (l > CSV_MAX_NAME) {
            tapir_errf(errbuf, "%s:%zu: column %zu name '%s' is longer than %d bytes", path, lineno,
                       i + 1, shown(cells[i], sb, sizeof(sb)), CSV_MAX_NAME);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (keep[k] && !strcmp(cells[k], cells[i])) {
                tapir_errf(errbuf, "%s:%zu: column %zu name '%s' repeats column %zu", path, lineno,
                           i + 1, cells[i], k + 1);
                return -1;
            }
        }
        t->names[t->n_cols] = strdup(cells[i]);
        if (!t->names[t->n_cols]) {
            tapir_errf(errbuf, "%s: out of memory", path);
            return -1;
        }
        t->n_cols++;
    }
    for (size_t k = 0; o && o->skip_must_exist && k < o->n_skip; k++) {
        size_t i = 0;
        while (i < n && strcmp(cells[i], o->skip[k]))
            i++;
        if (i == n) {
            tapir_errf(errbuf, "%s:%zu: no column '%s' to skip", path, lineno, o->skip[k]);
            return -1;
        }
    }
    if (t->n_cols == 0) {
        tapir_errf(errbuf, "%s:%zu: no columns left to read after skipping %zu", path, lineno,
                   t->n_skipped);
        return -1;
    }
    return 0;
}

/* The general path: n header cells (cells[i] kept when keep[i]) into out. */
static int parse_row(const char *path, size_t lineno, char **cells, const unsigned char *keep,
                     size_t n, float *out, char *errbuf)
{
    char sb[48];
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
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
        *out++ = (float)d;
    }
    return 0;
}

const char *csv_fast_double(const char *s, double *out)
{
    return fast_double(s, out);
}

#ifdef HAVE_SWAR

const char *csv_fast_float(const char *s, float *out)
{
#ifdef HAVE_V3_NUMBER
    if (__builtin_cpu_supports("x86-64-v3"))
        return fast_float_v3(s, out);
#endif
    return wide_float(s, out);
}
#else
const char *csv_fast_float(const char *s, float *out)
{
    double d;
    s = fast_double(s, &d);
    if (s && !(fabs(d) <= FLT_MAX))
        return NULL;
    if (s)
        *out = (float)d;
    return s;
}
#endif

static inline const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The fast pass over one data row of n header cells: 0 with out filled when every kept
 * cell is a plain decimal that fits a float and the row has exactly n cells; -1 leaves
 * the row to the general path (which reads it again from the start). */
static int fast_row(const char *p, const char *end, const unsigned char *keep, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const char *q;
        if (!keep[i]) {
            q = memchr(p, ',', (size_t)(end - p));
            if (!q)
                q = end;
        } else {
            double d;
            q = fast_double(skip_blanks(p, end), &d);
            if (!q || !(fabs(d) <= FLT_MAX))
                return -1;
            q = skip_blanks(q, end);
            *out++ = (float)d;
        }
        if (i + 1 == n)
            return q == end ? 0 : -1;
        if (q == end || *q != ',')
            return -1;
        p = q + 1;
    }
    return -1;
}

/* ' ' or '\t'; one compare for the usual byte (a digit, a sign, a comma, above ' '). */
static inline int is_blank(char c)
{
    return (unsigned char)c <= ' ' && (c == ' ' || c == '\t');
}

/* The fast pass over the line at p, before its end is known: one pass, no write to the
 * buffer, the line's length found as a by-product. Takes a line of n cells, each
 * [blanks] number [blanks] (a kept one, as fast_double takes it) or anything but a
 * comma, a newline or a NUL (a skipped one), ending in LF, CRLF, or (the input's last
 * line) the NUL at lim. Returns the line's end (its LF, or lim) with out filled, or NULL
 * for the general path: it reads only below lim, and a number with WIDE_READ bytes
 * before lim 8 bytes at a time. */
__attribute__((always_inline)) static inline const char *
fast_line_as(const char *p, const char *lim, const unsigned char *keep, size_t n, float *out,
             const bool all_kept, const char *(*const number)(const char *, float *))
{
    const char *line = p;
#ifndef HAVE_SWAR
    (void)number;
#else
    /* a number starting at or below reads 8 bytes at a time (as an address: lim - 64
     * may lie before the buffer) */
    const uintptr_t wide_lim = (uintptr_t)lim - WIDE_READ;
#endif
    for (size_t i = 0;; i++) {
        while (is_blank(*p))
            p++;
        if (all_kept || keep[i]) {
#ifdef HAVE_SWAR
            if ((uintptr_t)p <= wide_lim) {
                if (!(p = number(p, out++)))
                    return NULL;
            } else
#endif
            {
                double d;
                if (!(p = fast_double(p, &d)) || !(fabs(d) <= FLT_MAX))
                    return NULL;
                *out++ = (float)d;
            }
            while (is_blank(*p))
                p++;
        } else {
            while (*p != ',' && *p != '\n' && *p != '\0')
                p++;
        }
        if (i + 1 == n)
            break;
        if (*p != ',')
            return NULL;
        p++;
    }
    if (*p == '\r')
        p++;
    if (!(*p == '\n' || (p == lim && *p == '\0')) || p - line > CSV_MAX_LINE)
        return NULL;
    /* a skipped last cell took the CR as its own: harmless, the general path drops it */
    return p;
}

#ifdef HAVE_SWAR
#define NUMBER wide_float
#else
#define NUMBER NULL /* fast_line_as does not call it */
#endif

/* fast_line_as for a header with columns skipped, and (all_kept) for one without: no
 * keep[] load and test per cell (7 M instructions on 100,000 x 24). */
static const char *fast_line(const char *p, const char *lim, const unsigned char *keep, size_t n,
                             float *out, bool all_kept)
{
    return all_kept ? fast_line_as(p, lim, keep, n, out, true, NUMBER)
                    : fast_line_as(p, lim, keep, n, out, false, NUMBER);
}

#ifdef HAVE_V3_NUMBER
/* fast_line for x86-64-v3 CPUs (chosen at run time, parse_part): wide_float_v3's SSE
 * numbers, and the rest of the line with tzcnt defined at 0 and BMI2's shifts by any
 * register (see the top). */
__attribute__((target("arch=x86-64-v3"))) static const char *
fast_line_v3(const char *p, const char *lim, const unsigned char *keep, size_t n, float *out,
             bool all_kept)
{
    return all_kept ? fast_line_as(p, lim, keep, n, out, true, wide_float_v3)
                    : fast_line_as(p, lim, keep, n, out, false, wide_float_v3);
}
#endif

/* What every part of a batch shares: the header's shape. */
struct shape {
    const char *name;          /* file name for messages */
    const unsigned char *keep; /* n_head: header cell i is read */
    size_t n_head;             /* cells per row */
    size_t n_cols;             /* floats per row (kept cells) */
};

/* A run of whole lines of the buffer, parsed by one thread into rows of its own. */
struct part {
    const struct shape *sh;
    char *p, *end;  /* lines; each ends in '\n', the last may end at end (a NUL there) */
    size_t lineno0; /* line number before the first line */
    size_t lines;   /* lines in [p, end): the most rows it can give */
    float *out;     /* room for `lines` rows */
    size_t rows;    /* rows written (lines less the blank ones) */
    int failed;
    char err[TAPIR_ERRBUF_SIZE];
};

/* Parses one part: the fast pass per row, the general path where it declines. Stops at
 * the first bad line with part->failed and part->err set. */

static void *parse_part(void *arg)
{
    struct part *pt = arg;
    const struct shape *sh = pt->sh;
    char **cells = NULL; /* the general path's, when a row needs it: 512 KiB */
    const char *(*fast)(const char *, const char *, const unsigned char *, size_t, float *, bool) =
        fast_line;
#ifdef HAVE_V3_NUMBER
    if (__builtin_cpu_supports("x86-64-v3"))
        fast = fast_line_v3;
#endif
    size_t lineno = pt->lineno0;
    for (char *p = pt->p; p < pt->end;) {
        float *row = pt->out + pt->rows * sh->n_cols;
        const char *fe = fast(p, pt->end, sh->keep, sh->n_head, row, sh->n_cols == sh->n_head);
        if (fe) {
            lineno++;
            pt->rows++;
            p += fe - p + 1;
            continue;
        }
        char *nl = memchr(p, '\n', (size_t)(pt->end - p));
        char *le = nl ? nl : pt->end;
        size_t len = (size_t)(le - p);
        lineno++;
        if (len > CSV_MAX_LINE) {
            tapir_errf(pt->err, "%s:%zu: line longer than %d bytes", sh->name, lineno,
                       CSV_MAX_LINE);
            goto fail;
        }
        *le = '\0';
        if (len > 0 && p[len - 1] == '\r')
            p[--len] = '\0';
        if (memchr(p, '\0', len)) {
            tapir_errf(pt->err, "%s:%zu: contains a NUL byte: not a text CSV file", sh->name,
                       lineno);
            goto fail;
        }
        if (strspn(p, " \t") < len) { /* else blank */
            if (fast_row(p, p + len, sh->keep, sh->n_head, row) < 0) {
                if (!cells && !(cells = malloc(CSV_MAX_COLUMNS * sizeof(*cells)))) {
                    tapir_errf(pt->err, "%s: out of memory", sh->name);
                    goto fail;
                }
                size_t n = split_cells(p, len, cells, CSV_MAX_COLUMNS);
                if (n != sh->n_head) {
                    tapir_errf(pt->err, "%s:%zu: %zu fields, the header has %zu", sh->name, lineno,
                               n, sh->n_head);
                    goto fail;
                }
                if (parse_row(sh->name, lineno, cells, sh->keep, n, row, pt->err) < 0)
                    goto fail;
            }
            pt->rows++;
        }
        p = le + 1;
    }
    free(cells);
    return NULL;
fail:
    pt->failed = 1;
    free(cells);
    return NULL;
}

static size_t count_lines(const char *p, const char *end)
{
    size_t n = 0;
    for (const char *q; p < end && (q = memchr(p, '\n', (size_t)(end - p))); p = q + 1)
        n++;
    return n;
}

#ifdef MADV_POPULATE_WRITE
/* Maps the pages of [p, p + len) the batch is about to write, in one call instead of a
 * page fault each (Linux 5.14; older kernels refuse it and the faults happen as
 * before). Pages already there are left as they are; the rounding out to whole pages
 * stays inside the allocation's mapping or the heap's, whose bytes it does not change. */
static void populate(void *p, size_t len)
{
    if (len < (64 << 10))
        return;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095, b = ((uintptr_t)p + len) & ~(uintptr_t)4095;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
}
#endif

#define PARSE_THREADS_MAX    64
#define BYTES_PER_THREAD_MIN (256 * 1024) /* fewer: a thread costs more than it saves */

/* Parses the whole lines [p, p + len) (a NUL at p[len]) into out's rows after
 * *lineno, on up to n_threads threads; *lineno moves past them. 0, or -1 with errbuf. */
static int parse_batch(const struct shape *sh, char *p, size_t len, int n_threads,
                       struct workers *workers, size_t *lineno, struct csv_table *out,
                       size_t *cap_rows, char *errbuf)
{
    char *end = p + len;
    int T = n_threads < 1 ? 1 : n_threads > PARSE_THREADS_MAX ? PARSE_THREADS_MAX : n_threads;
    if ((size_t)T > len / BYTES_PER_THREAD_MIN)
        T = len / BYTES_PER_THREAD_MIN > 1 ? (int)(len / BYTES_PER_THREAD_MIN) : 1;
    struct part pt[PARSE_THREADS_MAX];
    size_t ln = *lineno, lines = 0;
    char *a = p;
    for (int k = 0; k < T; k++) { /* cut at line ends near k/T of the bytes */
        char *b = end;
        if (k + 1 < T) {
            char *from = p + len / (size_t)T * (size_t)(k + 1);
            if (from < a)
                from = a;
            char *nl = memchr(from, '\n', (size_t)(end - from));
            b = nl ? nl + 1 : end;
        }
        size_t n = count_lines(a, b) + (b == end && a < b && end[-1] != '\n');
        pt[k] = (struct part){.sh = sh, .p = a, .end = b, .lineno0 = ln, .lines = n};
        ln += n;
        lines += n;
        a = b;
    }
    if (out->n_rows + lines > *cap_rows) {
        size_t nc = *cap_rows ? *cap_rows : 1024;
        while (nc < out->n_rows + lines)
            nc *= 2;
        if (nc > SIZE_MAX / sizeof(float) / out->n_cols) {
            tapir_errf(errbuf, "%s: too many rows", sh->name);
            return -1;
        }
        float *v = realloc(out->values, nc * out->n_cols * sizeof(float));
        if (!v) {
            tapir_errf(errbuf, "%s: out of memory at line %zu", sh->name, *lineno + 1);
            return -1;
        }
        out->values = v;
        *cap_rows = nc;
    }
#ifdef MADV_POPULATE_WRITE
    populate(out->values + out->n_rows * out->n_cols, lines * out->n_cols * sizeof(float));
#endif
    size_t room = out->n_rows;
    for (int k = 0; k < T; k++) {
        pt[k].out = out->values + room * out->n_cols;
        room += pt[k].lines;
    }
    workers_run(workers, parse_part, pt, sizeof(pt[0]), (unsigned)T);
    for (int k = 0; k < T; k++) { /* the first bad line in file order wins */
        if (pt[k].failed) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s", pt[k].err);
            return -1;
        }
        float *to = out->values + out->n_rows * out->n_cols;
        if (to != pt[k].out) /* blank lines before: close the gap */
            memmove(to, pt[k].out, pt[k].rows * out->n_cols * sizeof(float));
        out->n_rows += pt[k].rows;
    }
    *lineno = ln;
    return 0;
}

/* Moves the unread bytes to the front and reads READ_CHUNK more (or until the input
 * ends). 0, or -1 with r->error set. */
static int refill(struct line_reader *r)
{
    size_t have = r->end - r->start;
    memmove(r->buf, r->buf + r->start, have);
    r->start = 0;
    r->end = have;
    size_t want = have + READ_CHUNK < r->cap - 1 ? have + READ_CHUNK : r->cap - 1;
    while (!r->eof && r->end < want) {
        size_t got = fread(r->buf + r->end, 1, want - r->end, r->fp);
        r->end += got;
        if (got == 0) {
            if (ferror(r->fp)) {
                r->error = errno ? errno : EIO;
                return -1;
            }
            r->eof = 1;
        }
    }
    return 0;
}

int csv_read(const char *path, struct csv_table *out, char *errbuf)
{
    return csv_read_opt(path, NULL, out, errbuf);
}

int csv_read_opt(const char *path, const struct csv_options *o, struct csv_table *out, char *errbuf)
{
    memset(out, 0, sizeof(*out));
    struct line_reader r = {.cap = CSV_MAX_LINE + READ_CHUNK + 1};
    int is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "(stdin)" : path;
    char **cells = NULL;
    unsigned char *keep = NULL;
    size_t cap_rows = 0, lineno = 0, n_head = 0;
    r.fp = is_stdin ? stdin : fopen(path, "rb");
    if (!r.fp) {
        tapir_errf(errbuf, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    r.buf = malloc(r.cap);
    cells = malloc(CSV_MAX_COLUMNS * sizeof(*cells));
    keep = malloc(CSV_MAX_COLUMNS);
    if (!r.buf || !cells || !keep) {
        tapir_errf(errbuf, "%s: out of memory", name);
        goto fail;
    }
    for (;;) { /* the header: the first line that is not blank */
        char *line;
        size_t len;
        int rc = next_line(&r, &line, &len);
        if (rc == LINE_EOF) {
            tapir_errf(errbuf, "%s: empty file, expected a header row of column names", name);
            goto fail;
        }
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
        if (n > CSV_MAX_COLUMNS) {
            tapir_errf(errbuf, "%s:%zu: %zu columns, at most %d", name, lineno, n, CSV_MAX_COLUMNS);
            goto fail;
        }
        if (parse_header(name, lineno, cells, n, o, keep, out, errbuf) < 0)
            goto fail;
        n_head = n;
        break;
    }
    free(cells);
    cells = NULL;
    /* The rows: every whole line the buffer holds, a batch at a time. */
    const struct shape sh = {name, keep, n_head, out->n_cols};
    int threads = o ? o->n_threads : 1;
    for (;;) {
        char *p = r.buf + r.start;
        size_t have = r.end - r.start, take = have;
        if (!r.eof) {
            char *last = have ? memrchr(p, '\n', have) : NULL;
            if (!last || r.start > 0) { /* a partial line, or room to read more first */
                if (!last && have > CSV_MAX_LINE) {
                    tapir_errf(errbuf, "%s:%zu: line longer than %d bytes", name, lineno + 1,
                               CSV_MAX_LINE);
                    goto fail;
                }
                if (refill(&r) < 0) {
                    tapir_errf(errbuf, "cannot read %s: %s", name, strerror(r.error));
                    goto fail;
                }
                continue;
            }
            take = (size_t)(last - p) + 1;
        }
        if (take == 0)
            break;
        if (r.eof)
            p[take] = '\0'; /* cap leaves one byte past end */
        if (parse_batch(&sh, p, take, threads, o ? o->workers : NULL, &lineno, out, &cap_rows,
                        errbuf) < 0)
            goto fail;
        r.start += take;
        if (o && o->batch && out->n_rows) {
            if (o->batch(o->batch_ctx, out, errbuf) < 0)
                goto fail;
            out->n_rows = 0; /* the next batch reuses the rows */
        }
    }
    if (!is_stdin)
        fclose(r.fp);
    free(r.buf);
    free(keep);
    return 0;
fail:
    if (!is_stdin)
        fclose(r.fp);
    free(r.buf);
    free(cells);
    free(keep);
    csv_free(out);
    return -1;
}
