/*
 * capture.c — the capture thread's loop over libpcap.
 *
 * Files are read with pcap_next_ex, one after another, as one stream of packets (their
 * timestamps drive the windows). Live capture uses pcap_dispatch with a 100 ms timeout
 * so the stop flag and the wall-clock window tick are seen even when no packet comes.
 * Progress on a terminal is checked every 65,536 packets, never per packet.
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

static bool is_gzip(const char *path)
{
    unsigned char m[2] = {0, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(m, 1, 2, f);
    fclose(f);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

static pcap_t *open_gzip(const char *path, char *perr)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno ? errno : ENOMEM));
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
 * L2. The buffer must outlive the stream: close_file frees it after pcap_close. */
#define READ_BUFFER (1u << 16)

static pcap_t *open_plain(const char *path, char *perr, char **buf)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
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

/* Opens a capture file (pcap, pcapng, gzip-compressed); *buf is what close_file frees. */
static pcap_t *open_file(const char *path, char *errbuf, char **buf)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    *buf = NULL;
    pcap_t *p = is_gzip(path) ? open_gzip(path, perr) : open_plain(path, perr, buf);
    if (!p && !strncmp(perr, path, strlen(path))) /* libpcap names the file itself */
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.200s", perr);
    else if (!p)
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.80s: %.160s", path, perr);
    return p;
}

static void close_file(pcap_t *p, char *buf)
{
    pcap_close(p); /* closes the stream, which used buf */
    free(buf);
}

int capture_check_files(const struct capture_config *c, char *errbuf)
{
    for (int i = 0; i < c->n_files; i++) {
        char *buf;
        pcap_t *p = open_file(c->files[i], errbuf, &buf);
        if (!p)
            return -2;
        if (!decode_linktype_supported(pcap_datalink(p))) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: link type %s is not supported", c->files[i],
                     pcap_datalink_val_to_name(pcap_datalink(p))
                         ? pcap_datalink_val_to_name(pcap_datalink(p))
                         : "unknown");
            close_file(p, buf);
            return -2;
        }
        int r = apply_bpf(p, c->bpf, c->files[i], errbuf);
        close_file(p, buf);
        if (r < 0)
            return r;
    }
    return 0;
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

static int run_files(const struct capture_config *c, sensor_t *s, volatile sig_atomic_t *stop,
                     struct capture_stats *st, char *errbuf)
{
    struct progress pg = {0};
    bool progress = c->progress && isatty(STDERR_FILENO);
    if (progress) {
        for (int i = 0; i < c->n_files; i++) {
            struct stat sb;
            if (stat(c->files[i], &sb) == 0)
                pg.total_bytes += (uint64_t)sb.st_size;
        }
        pg.start_us = tapir_monotonic_us();
    }
    for (int i = 0; i < c->n_files && !*stop; i++) {
        char *buf;
        pcap_t *p = open_file(c->files[i], errbuf, &buf);
        if (!p)
            return -2;
        int lt = pcap_datalink(p);
        int r = apply_bpf(p, c->bpf, c->files[i], errbuf);
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
            log_warn("%s: %s (packets before it were kept)", c->files[i], pcap_geterr(p));
            st->files_bad++;
        } else if (!*stop) {
            st->files_done++;
        }
        if (progress) {
            struct stat sb;
            if (stat(c->files[i], &sb) == 0)
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

static int drop_privileges(const struct capture_config *c, char *errbuf)
{
    const char *user = c->drop_user;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "no such user '%s' to drop privileges to", user);
        return -2;
    }
    /* What we already created as root (the database and its WAL files, the alert log)
     * becomes the user's, as tcpdump -Z does with its output: a SIGHUP reopen or a
     * retention run must still work. A symbolic link is not followed (its own owner
     * changes), so a link planted in a shared directory cannot hand over another file. */
    for (int i = 0; i < c->n_owned; i++)
        if (fchownat(AT_FDCWD, c->owned_paths[i], pw->pw_uid, pw->pw_gid, AT_SYMLINK_NOFOLLOW) <
                0 &&
            errno != ENOENT)
            log_warn("cannot hand %s to %s: %s", c->owned_paths[i], user, strerror(errno));
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot drop privileges to %s: %s", user,
                 strerror(errno));
        return -1;
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

static int run_live(const struct capture_config *c, sensor_t *s, volatile sig_atomic_t *stop,
                    struct capture_stats *st, char *errbuf)
{
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
    int lt = pcap_datalink(p);
    if (!decode_linktype_supported(lt)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s: link type %s is not supported", c->iface,
                 pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "unknown");
        pcap_close(p);
        return -2;
    }
    if ((r = apply_bpf(p, c->bpf, c->iface, errbuf)) < 0) {
        pcap_close(p);
        return r;
    }
    if (c->drop_user && (r = drop_privileges(c, errbuf)) < 0) {
        pcap_close(p);
        return r;
    }
    drop_capabilities();
    log_info("capturing on %s (link type %s, snaplen %d)", c->iface,
             pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "?", pcap_snapshot(p));
    char status[128];
    snprintf(status, sizeof(status), "capturing on %s", c->iface);
    notify_ready(status);
    /* Non-blocking reads and our own poll: on Linux the read timeout does not fire while
     * no packet arrives, and a quiet link must still see SIGTERM and close windows. */
    int fd = pcap_get_selectable_fd(p);
    if (fd < 0 || pcap_setnonblock(p, 1, perr) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot poll the capture on %s", c->iface);
        pcap_close(p);
        return -1;
    }
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
    pcap_close(p);
    return rc;
}

int capture_run(const struct capture_config *c, sensor_t *s, volatile sig_atomic_t *stop,
                struct capture_stats *st, char *errbuf)
{
    memset(st, 0, sizeof(*st));
    if (c->iface)
        return run_live(c, s, stop, st, errbuf);
    drop_capabilities(); /* reading files needs none */
    return run_files(c, s, stop, st, errbuf);
}
