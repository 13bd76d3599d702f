/*
 * model.c — the model file (contract in model.h).
 *
 * Layout, all integers little-endian, doubles as their IEEE-754 bits:
 *
 *   header, 32 bytes:
 *     0   8  magic "TAPIRMDL"
 *     8   4  u32 format version (MODEL_FORMAT_VERSION)
 *     12  4  u32 zero (reserved)
 *     16  8  u64 payload length in bytes (the file is exactly 32 + this)
 *     24  4  u32 CRC-32 (IEEE 802.3, as zlib/gzip) of the payload
 *     28  4  u32 zero (reserved)
 *   payload:
 *     str id, u64 created_us, str trained_on, str notes, u32 n_sections, then per section:
 *       str name, u32 n_features, f64 threshold, f64 contamination,
 *       u64 train_rows, u64 pooled_rows, f64 limit_factor,
 *       n_features x (str feature name, u8 scaling),
 *       u8 has_stats, if 1: n_features x (f64 mean, f64 std, f64 median),
 *                     if 2: n_features x (f64 mean, f64 std, f64 median, f64 max),
 *       u64 forest length, forest bytes (iforest_serialize; layout in iforest_io.c)
 *     then the conversations section (version 3; model.h's struct model_conv):
 *       u8 present, u64 up_net[2], u64 known_dropped, u64 hosts_dropped,
 *       u32 n_known, n_known x (16 src, 16 dst, u16 port, u8 proto, u8 kinds, u32 sources,
 *                               f64 periodic_s, f64 login_s, f64 bulk_bytes),
 *       u32 n_hosts, n_hosts x (16 ip, u64 up_src[2])
 *     then the rate section (version 4; model.h's struct model_rate):
 *       u8 present, u32 seconds, 2 x 4 f64 max_pps (side-major: source then destination)
 *   Version 2 added notes, the row counts, the limit factor and the medians (a small
 *   network's sides train on fewer rows, with wider limits); a version 1 file is refused
 *   with a message to retrain, as the analyzer needs what it lacks; version 3 added the
 *   conversations section (a version 2 file is refused the same way); version 4 added the
 *   per-second flood maxima (a version 3 file is refused: its floods would be judged on
 *   the floors alone, silently).
 *   str = u16 length + bytes, no NUL.
 *
 * Why this shape: the checksum and exact length are checked before any field is parsed,
 * so a truncated or bit-flipped file fails with a sentence that says so, rather than
 * somewhere in a tree; the parser still bounds-checks every read (a file can be crafted
 * with a valid checksum), and iforest_deserialize validates the trees themselves.
 * CRC-32 over FNV-64: it is what `python3 -c 'import zlib'` and gzip tools compute, so a
 * file can be checked without Tapir. zlib's crc32_z (zlib is linked for gzip-compressed
 * captures), not a table of our own: ~1 ns/byte or less on a 1 MB model is nothing at
 * load time.
 * Rejected: a text format (JSON) — 10x bigger for 100 trees and needs float round-trip
 * care for the thresholds; SQLite blobs — the CLI tool must work without a database.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "model.h"
#include "tapir.h"

#define MAGIC        "TAPIRMDL"
#define HEADER_BYTES 32

/* zlib's CRC-32 (the IEEE polynomial gzip uses), over any length: crc32_z takes a size_t,
 * where crc32() would truncate lengths past 4 GiB. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n);
}

/* ---- Writing -------------------------------------------------------------------- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
};

static uint8_t *wb_reserve(struct wbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->p = p, b->cap = cap;
    }
    uint8_t *r = b->p + b->len;
    b->len += n;
    return r;
}

static void wb_uint(struct wbuf *b, uint64_t v, int bytes)
{
    uint8_t *p = wb_reserve(b, (size_t)bytes);
    if (p)
        for (int i = 0; i < bytes; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

static void wb_f64(struct wbuf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    wb_uint(b, v, 8);
}

static void wb_str(struct wbuf *b, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    wb_uint(b, n, 2);
    uint8_t *p = wb_reserve(b, n);
    if (p)
        memcpy(p, s, n);
}

static void wb_bytes(struct wbuf *b, const void *src, size_t n)
{
    uint8_t *p = wb_reserve(b, n);
    if (p)
        memcpy(p, src, n);
}

static void write_conv(struct wbuf *b, const struct model_conv *c)
{
    wb_uint(b, c->present, 1);
    wb_uint(b, c->up_net[0], 8);
    wb_uint(b, c->up_net[1], 8);
    wb_uint(b, c->known_dropped, 8);
    wb_uint(b, c->hosts_dropped, 8);
    wb_uint(b, c->n_known, 4);
    for (uint32_t i = 0; i < c->n_known; i++) {
        const struct model_conv_known *k = &c->known[i];
        wb_bytes(b, k->src.b, 16);
        wb_bytes(b, k->dst.b, 16);
        wb_uint(b, k->port, 2);
        wb_uint(b, k->proto, 1);
        wb_uint(b, k->kinds, 1);
        wb_uint(b, k->sources, 4);
        wb_f64(b, k->periodic_s);
        wb_f64(b, k->login_s);
        wb_f64(b, k->bulk_bytes);
    }
    wb_uint(b, c->n_hosts, 4);
    for (uint32_t i = 0; i < c->n_hosts; i++) {
        const struct model_conv_host *h = &c->hosts[i];
        wb_bytes(b, h->ip.b, 16);
        wb_uint(b, h->up_src[0], 8);
        wb_uint(b, h->up_src[1], 8);
    }
}

static void write_payload(struct wbuf *b, const struct model *m, const char *id)
{
    wb_str(b, id, MODEL_ID_LEN - 1);
    wb_uint(b, m->created_us, 8);
    wb_str(b, m->trained_on, MODEL_TRAINED_ON_LEN - 1);
    wb_str(b, m->notes, MODEL_NOTES_LEN - 1);
    wb_uint(b, m->n_sections, 4);
    for (uint32_t k = 0; k < m->n_sections; k++) {
        const struct model_section *s = &m->sections[k];
        wb_str(b, s->name, MODEL_NAME_LEN - 1);
        wb_uint(b, s->n_features, 4);
        wb_f64(b, s->threshold);
        wb_f64(b, s->contamination);
        wb_uint(b, s->train_rows, 8);
        wb_uint(b, s->pooled_rows, 8);
        wb_f64(b, s->limit_factor);
        for (uint32_t j = 0; j < s->n_features; j++) {
            wb_str(b, s->feature_names[j], MODEL_FEATURE_LEN - 1);
            wb_uint(b, s->scaling ? s->scaling[j] : 0, 1);
        }
        int stats = s->train_mean && s->train_std ? (s->train_max ? 2 : 1) : 0;
        wb_uint(b, (uint64_t)stats, 1);
        for (uint32_t j = 0; stats && j < s->n_features; j++) {
            wb_f64(b, s->train_mean[j]);
            wb_f64(b, s->train_std[j]);
            wb_f64(b, s->train_median ? s->train_median[j] : s->train_mean[j]);
            if (stats == 2)
                wb_f64(b, s->train_max[j]);
        }
        size_t n = iforest_serialized_size(s->forest);
        wb_uint(b, n, 8);
        uint8_t *p = wb_reserve(b, n);
        if (p)
            iforest_serialize(s->forest, p);
    }
    write_conv(b, &m->conv);
    wb_uint(b, m->rate.present, 1);
    wb_uint(b, m->rate.seconds, 4);
    for (int side = 0; side < MODEL_RATE_SIDES; side++)
        for (int k = 0; k < MODEL_RATE_KINDS; k++)
            wb_f64(b, m->rate.max_pps[side][k]);
}

static int check_model(const struct model *m, char *errbuf)
{
    if (m->n_sections < 1 || m->n_sections > MODEL_MAX_SECTIONS) {
        tapir_errf(errbuf, "a model holds 1 to %d sections, not %u", MODEL_MAX_SECTIONS,
                   m->n_sections);
        return -1;
    }
    for (uint32_t k = 0; k < m->n_sections; k++) {
        const struct model_section *s = &m->sections[k];
        if (!s->forest || iforest_n_features(s->forest) != s->n_features) {
            tapir_errf(errbuf, "section '%.15s': forest missing or not for %u features", s->name,
                       s->n_features);
            return -1;
        }
    }
    return 0;
}

int model_assign_id(struct model *m)
{
    struct wbuf b = {0};
    write_payload(&b, m, "");
    if (b.oom) {
        free(b.p);
        return -1;
    }
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (size_t i = 0; i < b.len; i++)
        h = (h ^ b.p[i]) * 0x100000001b3ULL;
    free(b.p);
    snprintf(m->id, sizeof(m->id), "%016llx", (unsigned long long)h);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

int model_save(const struct model *m, const char *path, char *errbuf)
{
    if (check_model(m, errbuf) < 0)
        return -1;
    struct wbuf b = {0};
    wb_reserve(&b, HEADER_BYTES);
    write_payload(&b, m, m->id);
    if (b.oom) {
        free(b.p);
        tapir_errf(errbuf, "cannot write %s: out of memory", path);
        return -1;
    }
    size_t plen = b.len - HEADER_BYTES;
    memcpy(b.p, MAGIC, 8);
    uint8_t *h = b.p + 8;
    for (int i = 0; i < 4; i++)
        h[i] = (uint8_t)(MODEL_FORMAT_VERSION >> (8 * i)), h[4 + i] = 0;
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)((uint64_t)plen >> (8 * i));
    uint32_t crc = crc32_ieee(b.p + HEADER_BYTES, plen);
    for (int i = 0; i < 4; i++)
        h[16 + i] = (uint8_t)(crc >> (8 * i)), h[20 + i] = 0;

    char tmp[4096];
    int fd = -1;
    /* A temporary name no one can guess, created exclusively (mkostemp: O_EXCL, 0600)
     * in the model's directory so the rename stays atomic. The old PATH.tmp.PID, opened
     * without O_EXCL, followed a link planted under that name. Then 0640 less the umask. */
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
        tapir_errf(errbuf, "cannot write %s: path too long", path);
        goto fail;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        tapir_errf(errbuf, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, TAPIR_FILE_MODE & ~tapir_umask()) < 0) {
        tapir_errf(errbuf, "cannot write %s: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (write_all(fd, b.p, b.len) < 0 || fsync(fd) < 0) {
        tapir_errf(errbuf, "cannot write %s: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (close(fd) < 0) {
        fd = -1;
        tapir_errf(errbuf, "cannot write %s: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        tapir_errf(errbuf, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail_unlink;
    }
    /* make the rename itself durable */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(b.p);
    return 0;
fail_unlink:
    unlink(tmp);
fail:
    if (fd >= 0)
        close(fd);
    free(b.p);
    return -1;
}

/* ---- Reading -------------------------------------------------------------------- */

struct rbuf {
    const uint8_t *p;
    size_t len, off;
    const char *err; /* first problem, static text */
};

static int rb_need(struct rbuf *r, size_t n)
{
    if (r->err)
        return 0;
    if (r->len - r->off < n) {
        r->err = "a field runs past the end of the payload";
        return 0;
    }
    return 1;
}

static uint64_t rb_uint(struct rbuf *r, int bytes)
{
    if (!rb_need(r, (size_t)bytes))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)bytes;
    return v;
}

static double rb_f64(struct rbuf *r)
{
    uint64_t v = rb_uint(r, 8);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

/* Reads a str into out[cap] (NUL-terminated); too long or containing NUL is an error. */
static void rb_str(struct rbuf *r, char *out, size_t cap, const char *what)
{
    size_t n = (size_t)rb_uint(r, 2);
    out[0] = '\0';
    if (r->err)
        return;
    if (n >= cap) {
        r->err = what;
        return;
    }
    if (!rb_need(r, n))
        return;
    memcpy(out, r->p + r->off, n);
    out[n] = '\0';
    if (memchr(out, '\0', n))
        r->err = what;
    r->off += n;
}

static int parse_section(struct rbuf *r, struct model_section *s, char *detail)
{
    rb_str(r, s->name, sizeof(s->name), "section name too long or not text");
    uint32_t nf = (uint32_t)rb_uint(r, 4);
    s->threshold = rb_f64(r);
    s->contamination = rb_f64(r);
    s->train_rows = rb_uint(r, 8);
    s->pooled_rows = rb_uint(r, 8);
    s->limit_factor = rb_f64(r);
    if (r->err)
        return -1;
    /* 0: no limits; a factor of 1 or less would make every vector a limit hit. */
    if (s->pooled_rows > s->train_rows ||
        !(s->limit_factor == 0 || (s->limit_factor > 1 && s->limit_factor < 1e6))) {
        r->err = "training row counts or limit factor out of range";
        return -1;
    }
    if (!s->name[0]) {
        r->err = "a section has no name";
        return -1;
    }
    /* each feature takes at least 3 bytes: a count beyond the payload is a lie */
    if (nf < 1 || nf > IFOREST_MAX_FEATURES || (r->len - r->off) / 3 < nf) {
        r->err = "impossible feature count";
        return -1;
    }
    if (!isfinite(s->threshold) || !(s->contamination >= 0 && s->contamination <= 1)) {
        r->err = "threshold or contamination out of range";
        return -1;
    }
    if (model_section_alloc(s, nf) < 0) {
        r->err = "out of memory";
        return -1;
    }
    for (uint32_t j = 0; j < nf && !r->err; j++) {
        rb_str(r, s->feature_names[j], MODEL_FEATURE_LEN, "feature name too long or not text");
        s->scaling[j] = (uint8_t)rb_uint(r, 1);
        if (!r->err && (!s->feature_names[j][0] || s->scaling[j] > MODEL_SCALE_RATIO))
            r->err = "empty feature name or unknown scaling code";
    }
    uint64_t stats = rb_uint(r, 1);
    if (!r->err && stats > 2)
        r->err = "bad statistics flag";
    if (!r->err && stats) {
        if ((r->len - r->off) / (8 * (stats + 2)) < nf) {
            r->err = "a field runs past the end of the payload";
            return -1;
        }
        s->train_mean = malloc(nf * sizeof(double));
        s->train_std = malloc(nf * sizeof(double));
        s->train_median = malloc(nf * sizeof(double));
        if (stats == 2)
            s->train_max = malloc(nf * sizeof(double));
        if (!s->train_mean || !s->train_std || !s->train_median || (stats == 2 && !s->train_max)) {
            r->err = "out of memory";
            return -1;
        }
        for (uint32_t j = 0; j < nf; j++) {
            s->train_mean[j] = rb_f64(r);
            s->train_std[j] = rb_f64(r);
            s->train_median[j] = rb_f64(r);
            if (!isfinite(s->train_mean[j]) || !isfinite(s->train_std[j]) ||
                !isfinite(s->train_median[j]))
                r->err = "training mean, stddev or median not finite";
            if (stats == 2) {
                s->train_max[j] = rb_f64(r);
                if (!isfinite(s->train_max[j]))
                    r->err = "training maximum not finite";
            }
        }
    }
    uint64_t flen = rb_uint(r, 8);
    if (r->err)
        return -1;
    if (flen > r->len - r->off) {
        r->err = "forest runs past the end of the payload";
        return -1;
    }
    size_t used = 0;
    s->forest = iforest_deserialize(r->p + r->off, (size_t)flen, &used, detail);
    if (!s->forest)
        return -1;
    if (used != flen) {
        r->err = "forest length does not match its content";
        return -1;
    }
    if (iforest_n_features(s->forest) != nf) {
        r->err = "forest and feature list disagree on the feature count";
        return -1;
    }
    r->off += (size_t)flen;
    return 0;
}

#define CONV_KNOWN_BYTES 64 /* one model_conv_known in the file */
#define CONV_HOST_BYTES  32

static void rb_bytes(struct rbuf *r, void *out, size_t n)
{
    if (!rb_need(r, n))
        return;
    memcpy(out, r->p + r->off, n);
    r->off += n;
}

/* A conversations-section array: its 4-byte count (at most max, each entry file_bytes in
 * the file; bad: the section is impossible anyway), then that many zeroed entries of size
 * bytes. The count goes to *n, 0 on r->err or when the array is empty (then NULL). */
static void *rb_conv_array(struct rbuf *r, bool bad, uint32_t max, size_t file_bytes, size_t size,
                           uint32_t *n)
{
    *n = 0;
    uint32_t count = (uint32_t)rb_uint(r, 4);
    if (r->err)
        return NULL;
    if (bad || count > max || (r->len - r->off) / file_bytes < count) {
        r->err = "impossible conversations section";
        return NULL;
    }
    if (count == 0)
        return NULL;
    void *p = calloc(count, size);
    if (!p)
        r->err = "out of memory";
    else
        *n = count;
    return p;
}

static void parse_conv(struct rbuf *r, struct model_conv *c)
{
    c->present = (uint8_t)rb_uint(r, 1);
    c->up_net[0] = rb_uint(r, 8);
    c->up_net[1] = rb_uint(r, 8);
    c->known_dropped = rb_uint(r, 8);
    c->hosts_dropped = rb_uint(r, 8);
    c->known = rb_conv_array(r, c->present > 1, MODEL_CONV_MAX_KNOWN, CONV_KNOWN_BYTES,
                             sizeof(*c->known), &c->n_known);
    for (uint32_t i = 0; i < c->n_known && !r->err; i++) {
        struct model_conv_known *k = &c->known[i];
        rb_bytes(r, k->src.b, 16);
        rb_bytes(r, k->dst.b, 16);
        k->port = (uint16_t)rb_uint(r, 2);
        k->proto = (uint8_t)rb_uint(r, 1);
        k->kinds = (uint8_t)rb_uint(r, 1);
        k->sources = (uint32_t)rb_uint(r, 4);
        k->periodic_s = rb_f64(r);
        k->login_s = rb_f64(r);
        k->bulk_bytes = rb_f64(r);
        if (!r->err && (!(k->periodic_s >= 0) || !(k->login_s >= 0) || !(k->bulk_bytes >= 0) ||
                        !isfinite(k->periodic_s + k->login_s + k->bulk_bytes) || k->kinds > 7))
            r->err = "a learned conversation out of range";
    }
    c->hosts = rb_conv_array(r, false, MODEL_CONV_MAX_HOSTS, CONV_HOST_BYTES, sizeof(*c->hosts),
                             &c->n_hosts);
    for (uint32_t i = 0; i < c->n_hosts && !r->err; i++) {
        struct model_conv_host *h = &c->hosts[i];
        rb_bytes(r, h->ip.b, 16);
        h->up_src[0] = rb_uint(r, 8);
        h->up_src[1] = rb_uint(r, 8);
    }
}

static void parse_rate(struct rbuf *r, struct model_rate *m)
{
    m->present = (uint8_t)rb_uint(r, 1);
    m->seconds = (uint32_t)rb_uint(r, 4);
    for (int side = 0; side < MODEL_RATE_SIDES; side++)
        for (int k = 0; k < MODEL_RATE_KINDS; k++) {
            double v = rb_f64(r);
            if (!r->err && !(v >= 0 && v < 1e12)) /* NaN, negative, absurd: refused */
                r->err = "a per-second rate maximum out of range";
            m->max_pps[side][k] = v;
        }
    if (!r->err && m->present > 1)
        r->err = "impossible rate section";
}

static int read_file(const char *path, uint8_t **data, size_t *len, char *errbuf)
{
    *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tapir_errf(errbuf, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        tapir_errf(errbuf, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > MODEL_MAX_BYTES) {
        tapir_errf(errbuf, "%s: %lld bytes, larger than any model (%u): not a Tapir model file",
                   path, (long long)st.st_size, MODEL_MAX_BYTES);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        tapir_errf(errbuf, "%s: out of memory reading %zu bytes", path, n);
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tapir_errf(errbuf, "cannot read %s: %s", path, strerror(errno));
            free(p);
            close(fd);
            return -1;
        }
        if (r == 0)
            break; /* shrank under us: judge what we have */
        got += (size_t)r;
    }
    close(fd);
    *data = p;
    *len = got;
    return 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)le64((const uint8_t[8]){p[0], p[1], p[2], p[3], 0, 0, 0, 0});
}

int model_load(const char *path, struct model *out, char *errbuf)
{
    memset(out, 0, sizeof(*out));
    uint8_t *d;
    size_t len;
    if (read_file(path, &d, &len, errbuf) < 0)
        return -1;
    size_t m = len < 8 ? len : 8;
    if (memcmp(d, MAGIC, m) != 0 || len == 0) {
        tapir_errf(errbuf, "%s: not a Tapir model file", path);
        goto fail;
    }
    if (len < HEADER_BYTES) {
        tapir_errf(errbuf, "%s: truncated (%zu of at least %d bytes)", path, len, HEADER_BYTES);
        goto fail;
    }
    uint32_t version = le32(d + 8);
    if (version != MODEL_FORMAT_VERSION) {
        tapir_errf(errbuf,
                   "%s: model format version %u, this tapir reads %d: retrain it ('tapir train', "
                   "or remove it and let 'tapir run' warm up)",
                   path, version, MODEL_FORMAT_VERSION);
        goto fail;
    }
    uint64_t plen = le64(d + 16);
    if (plen > MODEL_MAX_BYTES || le32(d + 12) || le32(d + 28)) {
        tapir_errf(errbuf, "%s: corrupt header: not a Tapir model file", path);
        goto fail;
    }
    if (len < HEADER_BYTES + plen) {
        tapir_errf(errbuf, "%s: truncated (%zu of %llu bytes)", path, len,
                   (unsigned long long)(HEADER_BYTES + plen));
        goto fail;
    }
    if (len > HEADER_BYTES + plen) {
        tapir_errf(errbuf, "%s: %zu bytes past the model's end (%llu bytes): corrupt file", path,
                   len - HEADER_BYTES - (size_t)plen, (unsigned long long)(HEADER_BYTES + plen));
        goto fail;
    }
    if (crc32_ieee(d + HEADER_BYTES, (size_t)plen) != le32(d + 24)) {
        tapir_errf(errbuf, "%s: checksum mismatch: corrupt file", path);
        goto fail;
    }

    struct rbuf r = {.p = d + HEADER_BYTES, .len = (size_t)plen};
    char detail[TAPIR_ERRBUF_SIZE] = "";
    rb_str(&r, out->id, sizeof(out->id), "model id too long or not text");
    out->created_us = rb_uint(&r, 8);
    rb_str(&r, out->trained_on, sizeof(out->trained_on), "trained_on too long or not text");
    rb_str(&r, out->notes, sizeof(out->notes), "notes too long or not text");
    uint32_t ns = (uint32_t)rb_uint(&r, 4);
    if (!r.err && (ns < 1 || ns > MODEL_MAX_SECTIONS))
        r.err = "impossible section count";
    if (!r.err) {
        out->sections = calloc(ns, sizeof(*out->sections));
        if (!out->sections)
            r.err = "out of memory";
    }
    for (uint32_t k = 0; k < ns && !r.err && !detail[0]; k++) {
        out->n_sections = k + 1; /* so model_free releases what is parsed so far */
        if (parse_section(&r, &out->sections[k], detail) < 0)
            break;
        for (uint32_t j = 0; j < k; j++)
            if (!strcmp(out->sections[j].name, out->sections[k].name))
                r.err = "two sections with the same name";
    }
    if (!r.err && !detail[0])
        parse_conv(&r, &out->conv);
    if (!r.err && !detail[0])
        parse_rate(&r, &out->rate);
    if (!r.err && !detail[0] && r.off != r.len)
        r.err = "bytes left over after the last section";
    if (r.err || detail[0]) {
        tapir_errf(errbuf, "%s: malformed model: %s", path, r.err ? r.err : detail);
        goto fail;
    }
    free(d);
    return 0;
fail:
    free(d);
    model_free(out);
    return -1;
}

/* ---- The rest ------------------------------------------------------------------- */

const struct model_section *model_find(const struct model *m, const char *name)
{
    for (uint32_t k = 0; k < m->n_sections; k++)
        if (!strcmp(m->sections[k].name, name))
            return &m->sections[k];
    return NULL;
}

int model_check_features(const struct model_section *s, const char *const *names, uint32_t n,
                         char *errbuf)
{
    uint32_t common = n < s->n_features ? n : s->n_features;
    for (uint32_t j = 0; j < common; j++) {
        if (strcmp(s->feature_names[j], names[j]) != 0) {
            tapir_errf(errbuf,
                       "model section '%s' was trained on other features: feature %u is '%s' in "
                       "the model, '%.40s' in the input",
                       s->name, j + 1, s->feature_names[j], names[j]);
            return -1;
        }
    }
    if (n != s->n_features) {
        tapir_errf(errbuf,
                   "model section '%s' was trained on %u features, the input has %u (first "
                   "difference: feature %u, '%.40s' %s)",
                   s->name, s->n_features, n, common + 1,
                   n > common ? names[common] : s->feature_names[common],
                   n > common ? "only in the input" : "missing from the input");
        return -1;
    }
    return 0;
}

int model_section_alloc(struct model_section *s, uint32_t n_features)
{
    s->n_features = n_features;
    s->feature_names = calloc(n_features, sizeof(*s->feature_names));
    s->scaling = calloc(n_features, sizeof(*s->scaling));
    return s->feature_names && s->scaling ? 0 : -1;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (uint32_t k = 0; m->sections && k < m->n_sections; k++) {
        struct model_section *s = &m->sections[k];
        iforest_destroy(s->forest);
        free(s->feature_names);
        free(s->scaling);
        free(s->train_mean);
        free(s->train_std);
        free(s->train_max);
        free(s->train_median);
    }
    free(m->sections);
    free(m->conv.known);
    free(m->conv.hosts);
    memset(m, 0, sizeof(*m));
}
