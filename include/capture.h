/*
 * capture.h — libpcap sources: a live interface or a list of capture files (pcap,
 * pcapng, optionally gzip-compressed), fed packet by packet to the sensor.
 */
#ifndef TAPIR_CAPTURE_H
#define TAPIR_CAPTURE_H

#include <signal.h>

#include "sensor.h"

struct capture_config {
    const char *iface;        /* live interface, or NULL */
    const char *const *files; /* capture files, in order */
    int n_files;
    const char *bpf;         /* filter expression, or NULL */
    int snaplen;             /* bytes kept per packet (default 262144) */
    bool promisc;            /* promiscuous mode (default on) */
    int buffer_mb;           /* kernel buffer, MiB (default 64) */
    uint64_t max_packets;    /* stop after this many (-c), 0 = no limit */
    bool progress;           /* progress line on stderr (a TTY) */
    const char *drop_user;   /* --user: cmd_run.c drops privileges to it once all is open */
    void (*tick)(void *ctx); /* live: called after every batch and idle poll (<= 100 ms) */
    void *tick_ctx;
};

struct capture_stats {
    uint64_t packets;         /* packets read */
    uint64_t kernel_received; /* pcap_stats ps_recv (live) */
    uint64_t kernel_dropped;  /* ps_drop: dropped by the kernel (buffer full) */
    uint64_t if_dropped;      /* ps_ifdrop: dropped by the interface */
    uint64_t files_done;      /* files read to the end */
    uint64_t files_bad;       /* files that could not be opened or were cut short */
};

/* An open source: the interface activated and filtered, or every file opened and
 * checked. Opaque; capture_open and capture_close on the thread that runs it. */
typedef struct capture capture_t;

/* Opens what c names (c is borrowed until capture_close), as the caller is: the start of
 * a run, before privileges are dropped. Everything that can be wrong with the input is
 * found here: a missing or non-capture file, an unsupported link type, a bad filter, no
 * such interface. "-" is standard input (once). keep_open: plain files keep their
 * descriptors until their turn, so privileges can be dropped before the run (else each is
 * reopened by name then, and no descriptor per file is held). NULL with errbuf set and
 * *err -2 (bad input) or -1 (other failure). */
capture_t *capture_open(const struct capture_config *c, bool keep_open, char *errbuf, int *err);

/* Reads until the input ends, *stop becomes non-zero, or max_packets. Returns 0, or a
 * negative value with errbuf set when a source failed (bad file: -2, other failure: -1).
 * A file that turns out truncated or corrupt mid-way is reported in the log and counted,
 * and the next file is read. Once per handle. */
int capture_run(capture_t *cap, sensor_t *s, volatile sig_atomic_t *stop, struct capture_stats *st,
                char *errbuf);

/* Closes what is still open; NULL is a no-op. */
void capture_close(capture_t *cap);

#endif
