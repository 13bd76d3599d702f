/*
 * capture.c — the capture thread's loop over libpcap.
 *
 * Files are read with pcap_next_ex, one after another, as one stream of packets (their
 * timestamps drive the windows). Live capture uses pcap_dispatch with a 100 ms timeout
 * so the stop flag and the wall-clock window tick are seen even when no packet comes.
 * Progress on a terminal is checked every 65,536 packets, never per packet.
 *
 * Opening is a step of its own (capture_open), at the start of a run and before
 * privileges are dropped: the interface is activated, every file opened and checked,
 * standard input ("-", as tcpdump -r -) read up to its header. Then the run needs no
 * privilege, and a start-up error stops the program before any thread starts. Rejected:
 * opening inside the run (as before), which left the drop to the capture thread of a
 * live capture only, after the other threads had started as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <grp.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "capture.h"
#include "log.h"
#include "notify.h"

static int apply_bpf(pcap_t *p, const char *bpf, const char *what, char *errbuf)
{
    if (!bpf || !*bpf)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "bad filter '%s': %s", bpf, pcap_geterr(p));
        return -2;
    }
    int r = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (r < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot set filter on %s: %s", what, pcap_geterr(p));
        return -1;
    }
    return 0;
}

/* gzip-compressed captures: libpcap reads from a FILE *, so a stdio cookie stream
 * decompresses with zlib's gzread underneath. (zlib rather than a pipe to gzip: no
 * child process, and errors come back as read errors libpcap reports.) */
static ssize_t gz_cookie_read(void *cookie, char *buf, size_t size)
{
    int n = gzread((gzFile)cookie, buf, size > INT32_MAX ? INT32_MAX : (unsigned)size);
    return n < 0 ? -1 : n;
}

static int gz_cookie_close(void *cookie)
{
    return gzclose((gzFile)cookie) == Z_OK ? 0 : EOF;
}

/* The first two bytes of the file at fd, without moving its offset. */
static bool is_gzip(int fd)
{
    unsigned char m[2] = {0, 0};
    return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* A gzip stream through zlib; fd becomes the stream's. zlib reads input that is not
 * gzip as it is, so a pipe (which cannot be peeked at) goes this way whatever it holds. */
static pcap_t *open_gzip(int fd, char *perr)
{
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno ? errno : ENOMEM));
        close(fd);
        return NULL;
    }
    gzbuffer(gz, 256 * 1024);
    cookie_io_functions_t io = {.read = gz_cookie_read, .close = gz_cookie_close};
    FILE *f = fopencookie(gz, "r", io);
    if (!f) {
        gzclose(gz);
        snprintf(perr, PCAP_ERRBUF_SIZE, "cannot open a decompressing stream");
        return NULL;
    }
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!p)
        fclose(f); /* closes gz too */
    return p;
}

/* A plain file through a stdio stream of our own: libpcap reads each record with two
 * fread calls; a 64 KiB buffer of ours (stdio ignores the size given with a NULL buffer
 * and keeps st_blksize, 4 KiB) makes 16 times fewer read system calls and still fits in
 * L2. The buffer must outlive the stream: close_file frees it after pcap_close. fd
 * becomes the stream's. */
#define READ_BUFFER (1u << 16)

static pcap_t *open_plain(int fd, char *perr, char **buf)
{
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
        close(fd);
        return NULL;
    }
    *buf = malloc(READ_BUFFER);
    if (*buf)
        setvbuf(f, *buf, _IOFBF, READ_BUFFER); /* without it, stdio's own */
    __fsetlocking(f, FSETLOCKING_BYCALLER);    /* one thread reads it: no lock per fread */
    posix_fadvise(fileno(f), 0, 0, POSIX_FADV_SEQUENTIAL);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!p) {
        fclose(f);
        free(*buf);
        *buf = NULL;
    }
    return p;
}

/* "-" is standard input, as for tcpdump -r -. */
static const char *file_name(const char *path)
{
    return strcmp(path, "-") ? path : "standard input";
}

/* A capture (pcap, pcapng, gzip-compressed) from fd, which becomes the handle's; *buf
 * is what close_file frees. */
static pcap_t *open_fd(int fd, bool seekable, const char *path, char *errbuf, char **buf)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    *buf = NULL;
    pcap_t *p = !seekable || is_gzip(fd) ? open_gzip(fd, perr) : open_plain(fd, perr, buf);
    if (!p && !strncmp(perr, path, strlen(path))) /* libpcap names the file itself */
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.200s", perr);
    else if (!p)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.80s: %.160s", file_name(path), perr);
    return p;
}

static void close_file(pcap_t *p, char *buf)
{
    pcap_close(p); /* closes the stream, which used buf */
    free(buf);
}

/* An open source. Files: every one is opened and checked here; a pipe (or "-") keeps
 * the handle the check read its header with (it cannot be read twice), a plain file
 * keeps its descriptor, rewound, when keep_open (privileges are dropped before the run:
 * root-only captures stay readable) and is otherwise reopened by name at its turn (no
 * descriptor per file held through a replay of thousands). */
struct capture {
    const struct capture_config *c; /* borrowed */
    pcap_t *live;                   /* -i: activated and filtered */
    int live_fd;                    /* its selectable descriptor */
    int *fds;                       /* per file: kept descriptor, or -1 */
    pcap_t **kept;                  /* per file: handle kept from the check (pipes), or NULL */
    char **kept_buf;                /* ... and its stdio buffer */
};

void capture_close(capture_t *cap)
{
    if (!cap)
        return;
    if (cap->live)
        pcap_close(cap->live);
    for (int i = 0; i < cap->c->n_files; i++) {
        if (cap->fds && cap->fds[i] >= 0)
            close(cap->fds[i]);
        if (cap->kept && cap->kept[i])
            close_file(cap->kept[i], cap->kept_buf[i]);
    }
    free(cap->fds);
    free(cap->kept);
    free(cap->kept_buf);
    free(cap);
}

static int check_linktype(pcap_t *p, const char *what, char *errbuf)
{
    if (decode_linktype_supported(pcap_datalink(p)))
        return 0;
    const char *name = pcap_datalink_val_to_name(pcap_datalink(p));
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: link type %s is not supported", what,
             name ? name : "unknown");
    return -2;
}

/* Opens and checks file i (-2: bad input, -1: other). */
/* "cannot read FILE: REASON" for an open or dup that failed with e; -1 when out of
 * descriptors (not the input's fault), else -2. */
static int open_error(const char *path, int e, bool keep_open, char *errbuf)
{
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.120s: %s%s", file_name(path), strerror(e),
             e == EMFILE && keep_open
                 ? " (with --user every capture file is opened at start: raise ulimit -n)"
                 : "");
    return e == EMFILE || e == ENFILE ? -1 : -2;
}

static int open_one(capture_t *cap, int i, bool keep_open, char *errbuf)
{
    const char *path = cap->c->files[i];
    bool std_in = !strcmp(path, "-");
    int fd = std_in ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return open_error(path, errno, keep_open, errbuf);
    struct stat sb;
    bool seekable = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (!seekable && !std_in && S_ISDIR(sb.st_mode)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.200s: %s", path, strerror(EISDIR));
        close(fd);
        return -2;
    }
    /* The check reads through a duplicate (same offset), then rewinds the original. */
    int dup_fd = seekable ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : fd;
    if (dup_fd < 0) {
        int e = errno;
        close(fd);
        return open_error(path, e, keep_open, errbuf);
    }
    char *buf;
    pcap_t *p = open_fd(dup_fd, seekable, path, errbuf, &buf);
    int r = p ? check_linktype(p, file_name(path), errbuf) : -2;
    if (r == 0)
        r = apply_bpf(p, cap->c->bpf, file_name(path), errbuf);
    if (r < 0 || seekable) {
        if (p)
            close_file(p, buf);
        if (seekable && (r < 0 || !keep_open || lseek(fd, 0, SEEK_SET) != 0))
            close(fd);
        else if (seekable)
            cap->fds[i] = fd;
        return r;
    }
    cap->kept[i] = p; /* a pipe: the run goes on from the header already read */
    cap->kept_buf[i] = buf;
    return 0;
}

static int open_live(capture_t *cap, char *errbuf);

capture_t *capture_open(const struct capture_config *c, bool keep_open, char *errbuf, int *err)
{
    *err = -1;
    capture_t *cap = calloc(1, sizeof(*cap));
    if (!cap) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    cap->c = c;
    cap->live_fd = -1;
    if (c->iface) {
        if ((*err = open_live(cap, errbuf)) < 0)
            goto fail;
        return cap;
    }
    int n_stdin = 0;
    for (int i = 0; i < c->n_files; i++)
        n_stdin += !strcmp(c->files[i], "-");
    if (n_stdin > 1) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "-r - (standard input) can be given once");
        *err = -2;
        goto fail;
    }
    cap->fds = malloc((size_t)(c->n_files ? c->n_files : 1) * sizeof(*cap->fds));
    cap->kept = calloc((size_t)(c->n_files ? c->n_files : 1), sizeof(*cap->kept));
    cap->kept_buf = calloc((size_t)(c->n_files ? c->n_files : 1), sizeof(*cap->kept_buf));
    if (!cap->fds || !cap->kept || !cap->kept_buf) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        goto fail;
    }
    for (int i = 0; i < c->n_files; i++)
        cap->fds[i] = -1;
    for (int i = 0; i < c->n_files; i++)
        if ((*err = open_one(cap, i, keep_open, errbuf)) < 0)
            goto fail;
    *err = 0;
    return cap;
fail:
    capture_close(cap);
    return NULL;
}

struct progress {
    uint64_t total_bytes; /* sum of file sizes */
    uint64_t done_bytes;  /* bytes of files already finished */
    uint64_t start_us;
    uint64_t last_us;
    bool shown;
};

static void progress_show(struct progress *pg, pcap_t *p, uint64_t packets, bool final)
{
    uint64_t now = tapir_monotonic_us();
    if (!final && now - pg->last_us < 500000)
        return;
    pg->last_us = now;
    long pos = 0;
    FILE *f = p ? pcap_file(p) : NULL;
    if (f)
        pos = ftell(f);
    uint64_t done = pg->done_bytes + (pos > 0 ? (uint64_t)pos : 0);
    double secs = (double)(now - pg->start_us) / 1e6;
    double pps = secs > 0 ? (double)packets / secs : 0;
    double frac = pg->total_bytes ? (double)done / (double)pg->total_bytes : 0;
    if (frac > 1)
        frac = 1;
    double eta = frac > 0.001 ? secs * (1 - frac) / frac : 0;
    fprintf(stderr, "\rtapir: %5.1f%%  %.1f of %.1f MB  %.2f Mpkt/s  ETA %.0f s   ", frac * 100,
            (double)done / 1e6, (double)pg->total_bytes / 1e6, pps / 1e6, eta);
    pg->shown = true;
}

/* File i's handle: kept from the check (a pipe), from its kept descriptor, or reopened
 * by name. NULL with errbuf set. */
static pcap_t *file_handle(capture_t *cap, int i, char *errbuf, char **buf)
{
    if (cap->kept[i]) {
        pcap_t *p = cap->kept[i];
        *buf = cap->kept_buf[i];
        cap->kept[i] = NULL;
        return p;
    }
    int fd = cap->fds[i];
    cap->fds[i] = -1;
    if (fd < 0 && (fd = open(cap->c->files[i], O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.200s: %s", cap->c->files[i],
                 strerror(errno));
        return NULL;
    }
    return open_fd(fd, true, cap->c->files[i], errbuf, buf);
}

static int run_files(capture_t *cap, sensor_t *s, volatile sig_atomic_t *stop,
                     struct capture_stats *st, char *errbuf)
{
    const struct capture_config *c = cap->c;
    struct progress pg = {0};
    bool progress = c->progress && isatty(STDERR_FILENO);
    if (progress) {
        for (int i = 0; i < c->n_files; i++) {
            struct stat sb;
            if (strcmp(c->files[i], "-") && stat(c->files[i], &sb) == 0)
                pg.total_bytes += (uint64_t)sb.st_size;
        }
        pg.start_us = tapir_monotonic_us();
    }
    for (int i = 0; i < c->n_files && !*stop; i++) {
        const char *name = file_name(c->files[i]);
        char *buf;
        pcap_t *p = file_handle(cap, i, errbuf, &buf);
        if (!p)
            return -2;
        int lt = pcap_datalink(p);
        int r = apply_bpf(p, c->bpf, name, errbuf);
        if (r < 0) {
            close_file(p, buf);
            return r;
        }
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = 0;
        while (!*stop && (rc = pcap_next_ex(p, &h, &data)) == 1) {
            uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
            if (h->ts.tv_sec < 0)
                ts = 0;
            sensor_packet(s, lt, ts, data, h->caplen, h->len);
            st->packets++;
            if (c->max_packets && st->packets >= c->max_packets)
                *stop = 1;
            if (progress && (st->packets & 0xffff) == 0)
                progress_show(&pg, p, st->packets, false);
        }
        if (!*stop && rc == PCAP_ERROR) {
            log_warn("%s: %s (packets before it were kept)", name, pcap_geterr(p));
            st->files_bad++;
        } else if (!*stop) {
            st->files_done++;
        }
        if (progress) {
            struct stat sb;
            if (strcmp(c->files[i], "-") && stat(c->files[i], &sb) == 0)
                pg.done_bytes += (uint64_t)sb.st_size;
        }
        close_file(p, buf);
    }
    if (progress && pg.shown) {
        progress_show(&pg, NULL, st->packets, true);
        fputc('\n', stderr);
    }
    return 0;
}

/* An unprivileged process that was given capabilities to open the capture (the systemd
 * unit's ambient CAP_NET_RAW and CAP_NET_ADMIN, or file capabilities) gives them all up
 * once the socket is open and filtered: nothing later needs them (reading, pcap_stats,
 * closing). Capabilities belong to threads: the DPI worker and the analyzer dropped
 * theirs when they started (tapir_drop_capabilities); this is the capture thread's. */
static void drop_capabilities(void)
{
    int r = tapir_drop_capabilities();
    if (r < 0)
        log_warn("cannot drop capabilities: %s", strerror(errno));
    else if (r > 0)
        log_info("capabilities dropped: the capture is open");
}

struct live_ctx {
    sensor_t *s;
    int lt;
    struct capture_stats *st;
    const struct capture_config *c;
    volatile sig_atomic_t *stop;
};

static void live_cb(u_char *arg, const struct pcap_pkthdr *h, const u_char *data)
{
    struct live_ctx *lc = (struct live_ctx *)arg;
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
    sensor_packet(lc->s, lc->lt, ts, data, h->caplen, h->len);
    lc->st->packets++;
    if (lc->c->max_packets && lc->st->packets >= lc->c->max_packets)
        *lc->stop = 1;
}

/* Packets to ask pcap_dispatch for: a batch, never past -c. */
static int batch(const struct capture_config *c, const struct capture_stats *st)
{
    if (c->max_packets && c->max_packets - st->packets < 1024)
        return (int)(c->max_packets - st->packets);
    return 1024;
}

/* Activates the interface as the caller is (root or CAP_NET_RAW), before privileges
 * are dropped (-2: bad input, such as no such interface; -1: other). */
static int open_live(capture_t *cap, char *errbuf)
{
    const struct capture_config *c = cap->c;
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(c->iface, perr);
    if (!p) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot capture on %.40s: %.160s", c->iface, perr);
        return -1;
    }
    pcap_set_snaplen(p, c->snaplen > 0 ? c->snaplen : 262144);
    pcap_set_promisc(p, c->promisc ? 1 : 0);
    pcap_set_timeout(p, 100);
    pcap_set_buffer_size(p, (c->buffer_mb > 0 ? c->buffer_mb : 64) * 1024 * 1024);
    int r = pcap_activate(p);
    if (r < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot capture on %s: %s%s", c->iface,
                 pcap_statustostr(r),
                 r == PCAP_ERROR_PERM_DENIED ? " (run as root or grant CAP_NET_RAW)" : "");
        pcap_close(p);
        return r == PCAP_ERROR_NO_SUCH_DEVICE ? -2 : -1;
    }
    if (r > 0)
        log_warn("%s: %s", c->iface, pcap_statustostr(r));
    cap->live = p; /* capture_close closes it from here on */
    if ((r = check_linktype(p, c->iface, errbuf)) < 0 ||
        (r = apply_bpf(p, c->bpf, c->iface, errbuf)) < 0)
        return r;
    /* Non-blocking reads and our own poll: on Linux the read timeout does not fire while
     * no packet arrives, and a quiet link must still see SIGTERM and close windows. */
    cap->live_fd = pcap_get_selectable_fd(p);
    if (cap->live_fd < 0 || pcap_setnonblock(p, 1, perr) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot poll the capture on %s", c->iface);
        return -1;
    }
    return 0;
}

static int run_live(capture_t *cap, sensor_t *s, volatile sig_atomic_t *stop,
                    struct capture_stats *st, char *errbuf)
{
    const struct capture_config *c = cap->c;
    pcap_t *p = cap->live;
    int fd = cap->live_fd;
    int lt = pcap_datalink(p);
    drop_capabilities();
    log_info("capturing on %s (link type %s, snaplen %d)", c->iface,
             pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "?", pcap_snapshot(p));
    char status[128];
    snprintf(status, sizeof(status), "capturing on %s", c->iface);
    notify_ready(status);
    struct live_ctx lc = {s, lt, st, c, stop};
    int rc = 0;
    uint64_t kstats_us = 0; /* monotonic, when pcap_stats was last published */
    while (!*stop) {
        int n = pcap_dispatch(p, batch(c, st), live_cb, (u_char *)&lc);
        sensor_flush(s); /* the DPI worker runs what this batch queued */
        if (n == 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            poll(&pfd, 1, 100);
        }
        sensor_publish_stats(s);
        /* Kernel drops for /metrics while running, about once a second: per batch, not
         * per packet (libpcap adds the kernel's counters up at each call). */
        uint64_t now_us = tapir_monotonic_us();
        struct pcap_stat ks;
        if (now_us - kstats_us >= 1000000 && pcap_stats(p, &ks) == 0) {
            kstats_us = now_us;
            sensor_set_kernel_stats(s, ks.ps_recv, ks.ps_drop, ks.ps_ifdrop);
        }
        if (n == PCAP_ERROR) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "capture on %s failed: %s", c->iface,
                     pcap_geterr(p));
            rc = -1;
            break;
        }
        if (n == PCAP_ERROR_BREAK)
            break;
        if (n == 0)
            sensor_tick(s, tapir_wall_us());
        if (c->tick)
            c->tick(c->tick_ctx);
    }
    /* Stopped by a signal: what the kernel already holds is counted too, including the
     * ring block it retires at the read timeout (one wait of up to 150 ms; at most 64
     * batches, for a link that never goes quiet). */
    bool waited = false;
    for (int i = 0; rc == 0 && i < 64 && (!c->max_packets || st->packets < c->max_packets); i++) {
        int n = pcap_dispatch(p, batch(c, st), live_cb, (u_char *)&lc);
        if (n > 0)
            continue;
        if (n < 0 || waited)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, 1, 150);
        waited = true;
    }
    struct pcap_stat ps;
    if (pcap_stats(p, &ps) == 0) {
        st->kernel_received = ps.ps_recv;
        st->kernel_dropped = ps.ps_drop;
        st->if_dropped = ps.ps_ifdrop;
        sensor_set_kernel_stats(s, ps.ps_recv, ps.ps_drop, ps.ps_ifdrop);
    }
    return rc;
}

int capture_run(capture_t *cap, sensor_t *s, volatile sig_atomic_t *stop, struct capture_stats *st,
                char *errbuf)
{
    memset(st, 0, sizeof(*st));
    if (cap->live)
        return run_live(cap, s, stop, st, errbuf);
    drop_capabilities(); /* reading files needs none */
    return run_files(cap, s, stop, st, errbuf);
}
