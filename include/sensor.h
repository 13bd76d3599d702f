/*
 * sensor.h — the per-packet pipeline: decode -> flow table -> nDPI -> host window
 * accumulators -> window close by packet time -> hand-off to the analyzer.
 * Owner: the capture thread; with dpi_thread, nDPI and the hand-off of closed windows
 * run on a worker (dpi_worker.h), which writes only the L7 fields of host records.
 */
#ifndef TAPIR_SENSOR_H
#define TAPIR_SENSOR_H

#include <stdio.h>

#include "decode.h"
#include "wqueue.h"

struct sensor_config {
    uint32_t max_flows;           /* flow records (default 1,000,000) */
    uint32_t max_hosts;           /* IPs per window (default 65,536) */
    uint32_t dpi_pool;            /* concurrent flows under nDPI (default 65,536) */
    uint32_t max_flow_records;    /* flow records per window (default 131,072; the
                                     window buffers are sized by wqueue_add_flow_records) */
    uint32_t window_s;            /* window length, s (default 60) */
    bool dpi;                     /* run nDPI */
    bool dpi_thread;              /* ... on a thread of its own (not with flow_log) */
    bool replay;                  /* wait for the analyzer instead of dropping windows */
    uint64_t seed;                /* table hash seed */
    const char *const *geo_paths; /* .mmdb files */
    int n_geo;
    uint32_t geo_cache;  /* cached IPs (default 65,536) */
    FILE *flow_log;      /* CSV of ended flows, or NULL; borrowed */
    bool rate;           /* per-second flood counters (sensor/rate.c; default on) */
    uint32_t rate_hosts; /* IPs they track per second (default 16,384) */
};

void sensor_config_defaults(struct sensor_config *c);

typedef struct sensor sensor_t;

/* Borrows q (the analyzer side must outlive the sensor). */
sensor_t *sensor_create(const struct sensor_config *c, wqueue_t *q, char *errbuf);
void sensor_destroy(sensor_t *s);

/* One captured packet. ts_us is its timestamp. No allocation, no lock, no log. */
void sensor_packet(sensor_t *s, int linktype, uint64_t ts_us, const uint8_t *data, uint32_t cap_len,
                   uint32_t wire_len);

/* End of input: ends every flow, closes and hands off the open window, closes q. */
void sensor_finish(sensor_t *s);

/* After a batch of live packets: queued nDPI work starts now, not when more is queued. */
void sensor_flush(sensor_t *s);

/* Live capture with no packets: lets wall time (now_us) close a window that is due. */
void sensor_tick(sensor_t *s, uint64_t now_us);

struct sensor_stats {
    uint64_t pkts;                        /* packets seen */
    uint64_t wire_bytes;                  /* bytes on the wire */
    uint64_t ip_pkts;                     /* packets accounted to hosts */
    uint64_t ip_bytes;                    /* their IP-layer bytes */
    uint64_t decode[DECODE_RESULT_COUNT]; /* packets by decode result */
    uint64_t l4_other;                    /* packets of unparsed L4 protocols */
    uint64_t ts_backwards;                /* packets older than the newest seen */
    uint64_t ts_before_window;            /* ... and older than the open window */
    uint64_t ts_jumps;                    /* forward jumps past one empty window */
    uint64_t hosts_dropped;               /* host updates lost: window full of IPs */
    uint64_t hosts_replaced;              /* light records given to busier IPs: full */
    uint64_t flow_records;                /* flow records appended to windows */
    uint64_t flow_records_dropped;        /* flow records lost: a window's flows[] full */
    uint64_t windows;                     /* windows handed to the analyzer */
    uint64_t windows_dropped;             /* windows dropped: analyzer behind */
    uint64_t flows_active, flows_created, flows_evicted, flows_untracked;
    uint64_t dpi_detected, dpi_gave_up, dpi_pool_empty, dpi_in_use;
    uint64_t dpi_jobs, dpi_ring_full; /* nDPI thread: packets and ends queued, waits */
    uint64_t dpi_reclaimed;           /* nDPI thread: states found still held (a bug) */
    uint64_t geo_lookups, geo_hits, geo_errors;
    uint64_t rate_events;             /* flood events handed to the analyzer */
    uint64_t rate_events_dropped;     /* ... lost: ring full or over 64 a second */
    uint64_t rate_evicted;            /* IPs pushed out of the flood counters within a second */
    uint64_t rate_untracked;          /* packet sides the flood counters could not count */
    uint64_t first_ts_us, last_ts_us; /* packet-time span */
    /* Live capture's pcap_stats, read about once a second (sensor_set_kernel_stats). */
    uint64_t kernel_received; /* ps_recv: packets the kernel passed the filter */
    uint64_t kernel_dropped;  /* ps_drop: dropped by the kernel (buffer full) */
    uint64_t if_dropped;      /* ps_ifdrop: dropped by the interface */
};
void sensor_get_stats(sensor_t *s, struct sensor_stats *st);
/* The latest published copy of the counters, for another thread (metrics): published
 * every 65,536 packets, at every window close and at the end. Any thread. */
void sensor_stats_snapshot(sensor_t *s, struct sensor_stats *st);
/* Publishes the counters now, unless a reader holds the lock (never waits). Capture
 * thread; the live loop calls it after every batch. */
void sensor_publish_stats(sensor_t *s);
/* Publishes the capture's pcap_stats counters (live capture; the capture thread, about
 * once a second). Atomic stores: sensor_stats_snapshot reads them from any thread. */
void sensor_set_kernel_stats(sensor_t *s, uint64_t received, uint64_t dropped, uint64_t if_dropped);

/* Short name of an nDPI protocol id ("TLS"), or NULL without nDPI. Reads only nDPI's
 * protocol table, fixed after sensor_create: any thread (the analyzer names protocols in
 * alerts with it). sensor is a sensor_t *. */
const char *sensor_l7_name(void *sensor, uint16_t id);
/* nDPI's name ("SQL Injection") and severity ("Severe") of a risk id (the bits of
 * struct host_risk's seen), or NULL for none. Static tables: any thread. */
const char *sensor_risk_name(void *sensor, unsigned id, const char **severity);

#endif
