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
    const char *bpf;                /* filter expression, or NULL */
    int snaplen;                    /* bytes kept per packet (default 262144) */
    bool promisc;                   /* promiscuous mode (default on) */
    int buffer_mb;                  /* kernel buffer, MiB (default 64) */
    uint64_t max_packets;           /* stop after this many (-c), 0 = no limit */
    bool progress;                  /* progress line on stderr (a TTY) */
    const char *drop_user;          /* setuid to this user once the handle is open, or NULL */
    const char *const *owned_paths; /* files already open (database, alert log) that become
                                       drop_user's, so it can reopen them (SIGHUP) */
    int n_owned;
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

/* Reads until the input ends, *stop becomes non-zero, or max_packets. Returns 0, or a
 * negative value with errbuf set when the source could not be opened (bad file: -2,
 * other failure: -1). A file that turns out truncated or corrupt mid-way is reported in
 * errbuf's log line and counted, and the next file is read. */
int capture_run(const struct capture_config *c, sensor_t *s, volatile sig_atomic_t *stop,
                struct capture_stats *st, char *errbuf);

/* Checks every file opens as a capture, before anything starts. */
int capture_check_files(const struct capture_config *c, char *errbuf);

#endif
