/*
 * cmd_run.c — `tapir run` and `tapir train`: options (command line and config file),
 * set-up of the capture, sensor and analyzer, signals, and the end-of-run summary.
 *
 * Options are named once (the long option name) and applied by one function, whether
 * they come from the command line or from the config file (INI, parsed by inih: the same
 * names as keys), so the two can never drift apart. Command-line options win.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <getopt.h>
#include <ini.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "analyzer.h"
#include "http.h"
#include "capture.h"
#include "cli.h"
#include "log.h"
#include "notify.h"

#define MAX_FILES 1024
#define MAX_GEO   8

struct run_opts {
    struct capture_config cap;
    struct sensor_config sen;
    struct analyzer_config ana;
    struct output_config out;
    const char *files[MAX_FILES];
    int n_files;
    const char *geo[MAX_GEO];
    int n_geo;
    char bpf[4096];
    const char *flow_log;
    int dpi_thread; /* -1 auto, 0 off, 1 on */
    const char *hosts_csv;
    const char *scores_csv;
    const char *vectors_csv;
    const char *output; /* train: model path */
    const char *http_token_file;
    char http_token[320];
    bool seed_set;
    bool quiet;
    bool train;
    char *strings[256]; /* config-file values we own */
    int n_strings;
    const char *config_path;   /* --config, for SIGHUP */
    const char *cli_names[96]; /* options given on the command line: they win on reload too */
    int n_cli;
};

static volatile sig_atomic_t stop_flag;

/* The service watchdog: WATCHDOG=1 from the capture loop (so a hung capture stops the
 * pings) every third of the interval, but only while the analyzer's loop has run within
 * the interval (so a hung analysis stops them too). */
struct watchdog {
    uint64_t interval_us, last_us;
    analyzer_t *an;
    bool starving; /* pings withheld: said once in the log */
};

static void watchdog_tick(void *ctx)
{
    struct watchdog *wd = ctx;
    uint64_t now = notify_monotonic_us();
    if (now - wd->last_us < wd->interval_us / 3)
        return;
    uint64_t beat = analyzer_heartbeat(wd->an);
    if (now > beat && now - beat > wd->interval_us) {
        if (!wd->starving)
            log_error("watchdog: the analyzer has not run for %.1f s; not telling systemd we "
                      "are alive",
                      (double)(now - beat) / 1e6);
        wd->starving = true;
        return;
    }
    if (wd->starving)
        log_info("watchdog: the analyzer runs again");
    wd->starving = false;
    notify_send("WATCHDOG=1");
    wd->last_us = now;
}

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max || v[0] == '-')
        return -1;
    *out = (uint32_t)x;
    return 0;
}

static int parse_double(const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= min && x <= max))
        return -1;
    *out = x;
    return 0;
}

/* Applies one named option. Returns 0, or -1 with errbuf set. */
static int apply_option(struct run_opts *o, const char *name, const char *v, char *errbuf)
{
    uint32_t u;
    double d;
#define BAD(fmt)                                                                                   \
    do {                                                                                           \
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--%s: " fmt, name, v);                                \
        return -1;                                                                                 \
    } while (0)
#define U32(field, lo, hi)                                                                         \
    do {                                                                                           \
        if (parse_u32(v, lo, hi, &u) < 0)                                                          \
            BAD("'%s' is not a whole number in " #lo " .. " #hi);                                  \
        field = u;                                                                                 \
    } while (0)
    if (!strcmp(name, "interface")) {
        o->cap.iface = v;
    } else if (!strcmp(name, "read")) {
        if (o->n_files >= MAX_FILES)
            BAD("too many files (at '%s')");
        o->files[o->n_files++] = v;
    } else if (!strcmp(name, "bpf")) {
        snprintf(o->bpf, sizeof(o->bpf), "%s", v);
    } else if (!strcmp(name, "count")) {
        U32(o->cap.max_packets, 1, 4000000000u);
    } else if (!strcmp(name, "snaplen")) {
        U32(o->cap.snaplen, 64, 262144);
    } else if (!strcmp(name, "buffer-size")) {
        U32(o->cap.buffer_mb, 1, 4096);
    } else if (!strcmp(name, "no-promisc")) {
        o->cap.promisc = false;
    } else if (!strcmp(name, "user")) {
        o->cap.drop_user = v;
    } else if (!strcmp(name, "window")) {
        U32(o->sen.window_s, 1, 86400);
    } else if (!strcmp(name, "max-flows")) {
        U32(o->sen.max_flows, 16, 268435456u);
    } else if (!strcmp(name, "max-hosts")) {
        U32(o->sen.max_hosts, 16, 67108864u);
    } else if (!strcmp(name, "dpi-flows")) {
        U32(o->sen.dpi_pool, 1, 16777216u);
    } else if (!strcmp(name, "dpi-thread")) {
        if (!strcmp(v, "auto"))
            o->dpi_thread = -1;
        else if (!strcmp(v, "on"))
            o->dpi_thread = 1;
        else if (!strcmp(v, "off"))
            o->dpi_thread = 0;
        else
            BAD("'%s' is not auto, on or off");
    } else if (!strcmp(name, "no-dpi")) {
        o->sen.dpi = false;
    } else if (!strcmp(name, "geoip")) {
        if (o->n_geo >= MAX_GEO)
            BAD("at most 8 databases (at '%s')");
        o->geo[o->n_geo++] = v;
    } else if (!strcmp(name, "db")) {
        o->out.db_path = v;
    } else if (!strcmp(name, "alert-log")) {
        o->out.alert_log_path = v;
    } else if (!strcmp(name, "model")) {
        o->ana.model_path = v;
    } else if (!strcmp(name, "save-model")) {
        o->ana.model_out = v;
    } else if (!strcmp(name, "allowlist")) {
        o->ana.allowlist_path = v;
    } else if (!strcmp(name, "rules")) {
        o->ana.rules_dir = v;
    } else if (!strcmp(name, "warmup")) {
        U32(o->ana.warmup_windows, 1, 100000);
    } else if (!strcmp(name, "retrain")) {
        U32(o->ana.retrain_every, 0, 1000000);
    } else if (!strcmp(name, "contamination")) {
        if (parse_double(v, 1e-6, 0.49, &d) < 0)
            BAD("'%s' is not a share in (0, 0.5)");
        o->ana.contamination = d;
    } else if (!strcmp(name, "threshold")) {
        if (parse_double(v, 1e-9, 1.0, &d) < 0)
            BAD("'%s' is not a score in (0, 1]");
        o->ana.fixed_threshold = d;
    } else if (!strcmp(name, "min-pkts")) {
        U32(o->ana.min_pkts, 1, 1000000000u);
    } else if (!strcmp(name, "persist")) {
        unsigned k, n;
        char tail;
        if (sscanf(v, "%u/%u%c", &k, &n, &tail) != 2 || k < 1 || n < k || n > 16)
            BAD("'%s' is not K/N with 1 <= K <= N <= 16");
        o->ana.persist_k = k;
        o->ana.persist_n = n;
    } else if (!strcmp(name, "prefix4")) {
        U32(o->ana.prefix4, 8, 32);
    } else if (!strcmp(name, "prefix6")) {
        U32(o->ana.prefix6, 16, 128);
    } else if (!strcmp(name, "scaling")) {
        if (!strcmp(v, "raw"))
            o->ana.scaling = SCALE_RAW;
        else if (!strcmp(v, "log"))
            o->ana.scaling = SCALE_LOG;
        else if (!strcmp(v, "default"))
            o->ana.scaling = -1;
        else
            BAD("'%s' is not raw, log or default");
    } else if (!strcmp(name, "trees")) {
        U32(o->ana.trees, 1, 10000);
    } else if (!strcmp(name, "samples")) {
        U32(o->ana.samples, 2, 65536);
    } else if (!strcmp(name, "seed")) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || end == v || *end)
            BAD("'%s' is not a whole number");
        o->ana.seed = s;
        o->sen.seed = s;
        o->seed_set = true;
    } else if (!strcmp(name, "flow-log")) {
        o->flow_log = v;
    } else if (!strcmp(name, "hosts-csv")) {
        o->hosts_csv = v;
    } else if (!strcmp(name, "scores-csv")) {
        o->scores_csv = v;
    } else if (!strcmp(name, "vectors-csv")) {
        o->vectors_csv = v;
    } else if (!strcmp(name, "output")) {
        o->output = v;
    } else if (!strcmp(name, "retention")) {
        U32(u, 1, 36500);
        o->ana.retention_us = (uint64_t)u * 86400 * 1000000;
    } else if (!strcmp(name, "http")) {
        o->out.http_listen = v;
    } else if (!strcmp(name, "http-token-file")) {
        o->http_token_file = v;
    } else if (!strcmp(name, "http-rate")) {
        if (parse_double(v, 0.1, 100000, &d) < 0)
            BAD("'%s' is not a rate in requests/s");
        o->out.http_rate = d;
    } else if (!strcmp(name, "quiet")) {
        o->quiet = true;
    } else if (!strcmp(name, "no-progress")) {
        o->cap.progress = false;
    } else {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "unknown option '%s'", name);
        return -1;
    }
    return 0;
#undef U32
#undef BAD
}

struct ini_ctx {
    struct run_opts *o;
    const char *path;
    char *errbuf;
    int failed;
    const struct run_opts *reload_of; /* on SIGHUP: the running options, else NULL */
};

/* What a SIGHUP may change while running: the analyzer's judgement, not the capture,
 * the tables or where outputs go (those need a restart). */
static const char *const reloadable[] = {"model",     "allowlist",     "rules",
                                         "threshold", "contamination", "persist",
                                         "min-pkts",  "retention",     "retrain"};

static bool skip_on_reload(const struct run_opts *running, const char *name)
{
    for (int i = 0; i < running->n_cli; i++)
        if (!strcmp(running->cli_names[i], name))
            return true; /* the command line still wins */
    for (size_t i = 0; i < sizeof(reloadable) / sizeof(reloadable[0]); i++)
        if (!strcmp(reloadable[i], name))
            return false;
    return true;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    struct ini_ctx *c = user;
    if (c->failed)
        return 0;
    if (c->reload_of && skip_on_reload(c->reload_of, name))
        return 1;
    if (c->o->n_strings >= (int)(sizeof(c->o->strings) / sizeof(c->o->strings[0]))) {
        snprintf(c->errbuf, TAPIR_ERRBUF_SIZE, "too many settings");
        c->failed = 1;
        return 0;
    }
    char *v = strdup(value ? value : "");
    if (!v) {
        c->failed = 1;
        return 0;
    }
    c->o->strings[c->o->n_strings++] = v;
    /* Flags in a config file take true/false. */
    static const char *const flags[] = {"no-promisc", "no-dpi", "quiet", "no-progress"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strcmp(name, flags[i]) && (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")))
            return 1;
    char eb[TAPIR_ERRBUF_SIZE];
    if (apply_option(c->o, name, v, eb) < 0) {
        snprintf(c->errbuf, TAPIR_ERRBUF_SIZE, "%s", eb);
        c->failed = 1;
        return 0;
    }
    return 1;
}

static int load_config_into(struct run_opts *o, const char *path, const struct run_opts *reload_of,
                            char *errbuf)
{
    struct ini_ctx c = {o, path, errbuf, 0, reload_of};
    int r = ini_parse(path, ini_cb, &c);
    if (r == -1) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    if (c.failed) {
        char eb[TAPIR_ERRBUF_SIZE];
        snprintf(eb, sizeof(eb), "%s", errbuf);
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%.100s:%d: %.140s", path, r, eb);
        return -1;
    }
    if (r > 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%d: not a 'key = value' line", path, r);
        return -1;
    }
    return 0;
}

static int load_config(struct run_opts *o, const char *path, char *errbuf)
{
    return load_config_into(o, path, NULL, errbuf);
}

/* SIGHUP, on the analyzer thread: re-reads the config file onto a copy of the running
 * analyzer settings. The strings of the previous reload are freed once the analyzer has
 * moved to the new ones (it calls us again only after applying our last answer). */
static struct run_opts *reload_prev;

static int reload_config(void *ctx, struct analyzer_config *fresh, char *errbuf)
{
    const struct run_opts *running = ctx;
    struct run_opts *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    n->ana = *fresh;
    if (load_config_into(n, running->config_path, running, errbuf) < 0) {
        for (int i = 0; i < n->n_strings; i++)
            free(n->strings[i]);
        free(n);
        return -1;
    }
    *fresh = n->ana;
    if (reload_prev) {
        for (int i = 0; i < reload_prev->n_strings; i++)
            free(reload_prev->strings[i]);
        free(reload_prev);
    }
    reload_prev = n;
    return 0;
}

/* /metrics: the sensor's published snapshot (written on the analyzer thread). */
static void sensor_metrics(void *ctx, struct evbuffer *out)
{
    sensor_t *sen = ctx;
    struct sensor_stats ss;
    sensor_stats_snapshot(sen, &ss);
    output_metric(out, "tapir_packets_total", "counter", "Packets captured or read.", ss.pkts);
    output_metric(out, "tapir_bytes_total", "counter", "Bytes on the wire captured or read.",
                  ss.wire_bytes);
    evbuffer_add_printf(out, "# HELP tapir_packets_dropped_total Packets not accounted, "
                             "by reason.\n# TYPE tapir_packets_dropped_total counter\n");
    for (int i = DECODE_NOT_IP; i < DECODE_RESULT_COUNT; i++)
        evbuffer_add_printf(out, "tapir_packets_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                            decode_result_name((enum decode_result)i), ss.decode[i]);
    output_metric(out, "tapir_flows_active", "gauge", "Flows in the flow table.", ss.flows_active);
    output_metric(out, "tapir_flows_created_total", "counter", "Flows created.", ss.flows_created);
    output_metric(out, "tapir_flows_evicted_total", "counter",
                  "Flows ended early because the flow table was full.", ss.flows_evicted);
    output_metric(out, "tapir_host_updates_dropped_total", "counter",
                  "Per-IP updates lost because a window held --max-hosts IPs.", ss.hosts_dropped);
    output_metric(out, "tapir_host_records_replaced_total", "counter",
                  "Light per-IP records given to a busier IP because a window was full.",
                  ss.hosts_replaced);
    output_metric(out, "tapir_windows_total", "counter", "Windows handed to the analyzer.",
                  ss.windows);
    output_metric(out, "tapir_windows_dropped_total", "counter",
                  "Windows dropped because the analyzer fell behind.", ss.windows_dropped);
    output_metric(out, "tapir_dpi_detected_total", "counter", "Flows nDPI classified.",
                  ss.dpi_detected);
    output_metric(out, "tapir_dpi_pool_empty_total", "counter",
                  "Flows left unclassified because the DPI pool was empty.", ss.dpi_pool_empty);
    output_metric(out, "tapir_dpi_ring_full_total", "counter",
                  "Times the capture thread waited for the nDPI thread (ring full).",
                  ss.dpi_ring_full);
    output_metric(out, "tapir_clock_backwards_total", "counter",
                  "Packets older than the newest seen.", ss.ts_backwards);
    output_metric(out, "tapir_packet_time_seconds", "gauge", "Newest packet time seen.",
                  ss.last_ts_us / 1000000);
}

static void usage(FILE *f, bool train)
{
    if (train)
        fprintf(f, "usage: tapir train -r FILE [-r FILE ...] -o MODEL [OPTIONS] [BPF EXPRESSION]\n"
                   "Fit the source, destination and prefix forests on a baseline capture.\n\n");
    else
        fprintf(f,
                "usage: tapir run (-i IFACE | -r FILE [-r FILE ...]) [OPTIONS] [BPF EXPRESSION]\n"
                "Capture or replay, score every IP per window, report anomalies.\n\n");
    fprintf(
        f,
        "capture:\n"
        "  -i, --interface IFACE   live capture (promiscuous unless -p)\n"
        "  -r, --read FILE         pcap or pcapng file (or .gz); repeat for several, in order\n"
        "      --bpf EXPR          filter (or give it after the options, as tcpdump)\n"
        "  -c, --count N           stop after N packets\n"
        "  -s, --snaplen N         bytes kept per packet (default 262144)\n"
        "  -B, --buffer-size MIB   kernel capture buffer (default 64)\n"
        "  -p, --no-promisc        do not put the interface in promiscuous mode\n"
        "      --user USER         drop privileges to USER once the capture is open\n"
        "sensor:\n"
        "      --window SECONDS    window length (default 60)\n"
        "      --max-flows N       flow table size (default 1000000)\n"
        "      --max-hosts N       IPs per window (default 65536)\n"
        "      --dpi-flows N       flows under nDPI at once (default 65536)\n"
        "      --no-dpi            no L7 detection\n"
        "      --dpi-thread W      nDPI on a thread of its own: auto (with 2+ CPUs and no\n"
        "                          --flow-log; default), on, off\n"
        "      --geoip FILE.mmdb   MaxMind-format database; repeat for country + ASN\n"
        "analyzer:\n"
        "      --model FILE        trained model (else warm up on the first windows)\n"
        "      --warmup N          windows to train on without --model (default 10)\n"
        "      --save-model FILE   save the warm-up / retrained model\n"
        "      --retrain N         retrain every N windows on recent unflagged ones\n"
        "      --contamination F   share of training vectors above threshold (default 0.01)\n"
        "      --threshold S       fixed score threshold instead\n"
        "      --min-pkts N        minimum packets for an IP to be scored (default 5)\n"
        "      --persist K/N       anomaly alert after K of an IP's last N windows (default 2/3)\n"
        "      --allowlist FILE    CIDRs never flagged (rules/allowlist format)\n"
        "      --rules DIR         DIR/allowlist, DIR/denylist, DIR/thresholds (docs/rules.md)\n"
        "      --prefix4 N, --prefix6 N  prefix side lengths (default 24, 64)\n"
        "      --trees N, --samples N    forest size (default 100, 256)\n"
        "      --scaling S         (train) default | raw | log for every feature\n"
        "      --seed N            seed for tables and training (default fixed)\n"
        "outputs:\n"
        "      --db FILE           SQLite database (alerts, hosts, windows, models, runs)\n"
        "      --alert-log FILE    JSON lines, one alert per line\n"
        "      --retention DAYS    delete stored windows and alerts older than DAYS\n"
        "      --flow-log FILE     CSV of every ended flow\n"
        "      --hosts-csv FILE    CSV of every IP's raw counts per window\n"
        "      --scores-csv FILE   CSV of every score\n"
        "      --vectors-csv FILE  CSV of every source-side behaviour vector (unscaled)\n"
        "  -o, --output FILE       (train) where to write the model\n"
        "      --config FILE       INI file with the same option names as keys\n"
        "  -q, --quiet             no alert lines, no summary\n"
        "      --no-progress       no progress line on a terminal\n");
}

static void print_summary(const struct run_opts *o, const struct capture_stats *cs,
                          const struct sensor_stats *ss, const struct analyzer_stats *as,
                          double secs)
{
    fprintf(stderr, "tapir: summary: %" PRIu64 " packets, %" PRIu64 " bytes in %.2f s", ss->pkts,
            ss->wire_bytes, secs);
    if (secs > 0)
        fprintf(stderr, " (%.0f packets/s)", (double)ss->pkts / secs);
    fprintf(stderr, "\n");
    fprintf(stderr,
            "tapir: summary: %" PRIu64 " flows (%" PRIu64 " evicted, %" PRIu64
            " untracked), %" PRIu64 " L7 detected, %" PRIu64 " given up\n",
            ss->flows_created, ss->flows_evicted, ss->flows_untracked, ss->dpi_detected,
            ss->dpi_gave_up);
    if (ss->dpi_jobs)
        fprintf(stderr,
                "tapir: summary: nDPI thread: %" PRIu64
                " packets queued; the capture waited for it %" PRIu64 " times\n",
                ss->dpi_jobs, ss->dpi_ring_full);
    fprintf(stderr, "tapir: summary: drops:");
    int any = 0;
    for (int i = DECODE_NOT_IP; i < DECODE_RESULT_COUNT; i++)
        if (ss->decode[i]) {
            fprintf(stderr, " %s=%" PRIu64, decode_result_name((enum decode_result)i),
                    ss->decode[i]);
            any = 1;
        }
    if (ss->hosts_dropped || ss->hosts_replaced) {
        fprintf(stderr, " host_table_full=%" PRIu64 " host_records_replaced=%" PRIu64,
                ss->hosts_dropped, ss->hosts_replaced);
        any = 1;
    }
    if (ss->dpi_reclaimed) {
        fprintf(stderr, " dpi_states_reclaimed=%" PRIu64, ss->dpi_reclaimed);
        any = 1;
    }
    if (ss->dpi_pool_empty) {
        fprintf(stderr, " dpi_pool_empty=%" PRIu64, ss->dpi_pool_empty);
        any = 1;
    }
    if (cs->kernel_dropped || cs->if_dropped) {
        fprintf(stderr, " kernel=%" PRIu64 " interface=%" PRIu64, cs->kernel_dropped,
                cs->if_dropped);
        any = 1;
    }
    fprintf(stderr, "%s\n", any ? "" : " none");
    if (ss->ts_backwards || ss->ts_jumps)
        fprintf(stderr,
                "tapir: summary: clock: %" PRIu64 " packets back in time (%" PRIu64
                " before their window), %" PRIu64 " jumps forward\n",
                ss->ts_backwards, ss->ts_before_window, ss->ts_jumps);
    fprintf(stderr,
            "tapir: summary: %" PRIu64 " windows (%" PRIu64 " dropped), %" PRIu64
            " vectors scored, %" PRIu64 " below --min-pkts, %" PRIu64 " alerts%s\n",
            ss->windows, ss->windows_dropped, as->scored, as->below_min, as->alerts,
            o->train ? "" : "");
    if (as->store_errors || as->log_errors)
        fprintf(stderr,
                "tapir: summary: output errors: %" PRIu64 " windows not stored, %" PRIu64
                " alert log lines not written\n",
                as->store_errors, as->log_errors);
    if (o->out.db_path)
        fprintf(stderr, "tapir: summary: database %s\n", o->out.db_path);
    if (o->out.alert_log_path)
        fprintf(stderr, "tapir: summary: alert log %s\n", o->out.alert_log_path);
}

static FILE *open_csv(const char *path, const char *header, char *errbuf)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "%s\n", header);
    return f;
}

static int run_main(int argc, char **argv, bool train)
{
    struct run_opts o;
    memset(&o, 0, sizeof(o));
    /* SIGHUP before the analyzer watches it (systemctl reload during start-up) must not
     * kill the sensor; the analyzer's loop takes it over once running. */
    signal(SIGHUP, SIG_IGN);
    o.cap.promisc = true;
    o.cap.progress = true;
    o.cap.snaplen = 262144;
    o.cap.buffer_mb = 64;
    o.dpi_thread = -1;
    sensor_config_defaults(&o.sen);
    analyzer_config_defaults(&o.ana);
    o.train = train;
    o.ana.train_only = train;
    o.out.print_alerts = true;
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    int rc = TAPIR_EXIT_USAGE;

    static const struct option longopts[] = {{"interface", required_argument, 0, 'i'},
                                             {"read", required_argument, 0, 'r'},
                                             {"count", required_argument, 0, 'c'},
                                             {"snaplen", required_argument, 0, 's'},
                                             {"buffer-size", required_argument, 0, 'B'},
                                             {"no-promisc", no_argument, 0, 'p'},
                                             {"output", required_argument, 0, 'o'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {"config", required_argument, 0, 'C'},
                                             {"bpf", required_argument, 0, 0},
                                             {"user", required_argument, 0, 0},
                                             {"window", required_argument, 0, 0},
                                             {"max-flows", required_argument, 0, 0},
                                             {"max-hosts", required_argument, 0, 0},
                                             {"dpi-flows", required_argument, 0, 0},
                                             {"no-dpi", no_argument, 0, 0},
                                             {"dpi-thread", required_argument, 0, 0},
                                             {"geoip", required_argument, 0, 0},
                                             {"db", required_argument, 0, 0},
                                             {"alert-log", required_argument, 0, 0},
                                             {"model", required_argument, 0, 0},
                                             {"save-model", required_argument, 0, 0},
                                             {"allowlist", required_argument, 0, 0},
                                             {"rules", required_argument, 0, 0},
                                             {"warmup", required_argument, 0, 0},
                                             {"retrain", required_argument, 0, 0},
                                             {"contamination", required_argument, 0, 0},
                                             {"threshold", required_argument, 0, 0},
                                             {"min-pkts", required_argument, 0, 0},
                                             {"persist", required_argument, 0, 0},
                                             {"prefix4", required_argument, 0, 0},
                                             {"prefix6", required_argument, 0, 0},
                                             {"trees", required_argument, 0, 0},
                                             {"scaling", required_argument, 0, 0},
                                             {"samples", required_argument, 0, 0},
                                             {"seed", required_argument, 0, 0},
                                             {"flow-log", required_argument, 0, 0},
                                             {"hosts-csv", required_argument, 0, 0},
                                             {"scores-csv", required_argument, 0, 0},
                                             {"vectors-csv", required_argument, 0, 0},
                                             {"no-progress", no_argument, 0, 0},
                                             {"http", required_argument, 0, 0},
                                             {"retention", required_argument, 0, 0},
                                             {"http-token-file", required_argument, 0, 0},
                                             {"http-rate", required_argument, 0, 0},
                                             {0, 0, 0, 0}};

    /* The config file first, so the command line overrides it. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path)
            o.config_path = path;
        if (path && load_config(&o, path, errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            goto out;
        }
    }
    optind = 1;
    int c, li;
    while ((c = getopt_long(argc, argv, "+i:r:c:s:B:po:qh", longopts, &li)) != -1) {
        const char *name = NULL;
        switch (c) {
        case 0:
            name = longopts[li].name;
            break;
        case 'C':
            continue;
        case 'h':
            usage(stdout, train);
            rc = TAPIR_EXIT_OK;
            goto out;
        case '?':
            usage(stderr, train);
            goto out;
        default:
            for (int k = 0; longopts[k].name; k++)
                if (longopts[k].val == c) {
                    name = longopts[k].name;
                    break;
                }
        }
        if (!name)
            continue;
        if (o.n_cli < (int)(sizeof(o.cli_names) / sizeof(o.cli_names[0])))
            o.cli_names[o.n_cli++] = name;
        if (apply_option(&o, name, optarg ? optarg : "", errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            goto out;
        }
    }
    /* Remaining words: a BPF expression, as tcpdump takes it. It replaces a filter from
     * the config file (the command line wins); with --bpf too, both must hold. */
    if (optind < argc) {
        char tail[sizeof(o.bpf)] = "";
        size_t used = 0;
        for (int i = optind; i < argc; i++) {
            int w = snprintf(tail + used, sizeof(tail) - used, "%s%s", used ? " " : "", argv[i]);
            if (w < 0 || (size_t)w >= sizeof(tail) - used) {
                fprintf(stderr, "tapir: filter expression too long\n");
                goto out;
            }
            used += (size_t)w;
        }
        bool cli_bpf = false;
        for (int i = 0; i < o.n_cli; i++)
            if (!strcmp(o.cli_names[i], "bpf"))
                cli_bpf = true;
        if (cli_bpf && o.bpf[0]) {
            char both[sizeof(o.bpf)];
            int w = snprintf(both, sizeof(both), "(%s) and (%s)", o.bpf, tail);
            if (w < 0 || (size_t)w >= sizeof(both)) {
                fprintf(stderr, "tapir: filter expression too long\n");
                goto out;
            }
            memcpy(o.bpf, both, (size_t)w + 1);
        } else {
            memcpy(o.bpf, tail, used + 1);
        }
    }
    if (!!o.cap.iface == !!o.n_files) {
        fprintf(stderr, "tapir: give either -i IFACE or -r FILE\n");
        usage(stderr, train);
        goto out;
    }
    if (train && (!o.output || o.cap.iface)) {
        fprintf(stderr, "tapir: train needs -r FILE... and -o MODEL\n");
        goto out;
    }
    if (!o.seed_set) {
        /* Table seeds: random, so no one can aim collisions at our tables. Training seed
         * stays fixed (1) for reproducible models unless --seed is given. */
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) == (ssize_t)sizeof(r))
            o.sen.seed = r;
    }
    o.cap.files = o.files;
    o.cap.n_files = o.n_files;
    o.cap.bpf = o.bpf[0] ? o.bpf : NULL;
    o.sen.geo_paths = o.geo;
    o.sen.n_geo = o.n_geo;
    o.sen.replay = o.n_files > 0;
    o.ana.geo_paths = o.geo;
    o.ana.n_geo = o.n_geo;
    o.out.print_alerts = !o.quiet && !train;
    if (o.quiet)
        log_set_level(LOG_WARN);

    /* Everything that can be wrong with the input is found before capture starts. */
    if (o.n_files && capture_check_files(&o.cap, errbuf) < 0) {
        fprintf(stderr, "tapir: %s\n", errbuf);
        goto out;
    }
    char source[512] = "";
    if (o.cap.iface)
        snprintf(source, sizeof(source), "interface %s", o.cap.iface);
    else
        for (int i = 0; i < o.n_files; i++) {
            size_t u = strlen(source);
            snprintf(source + u, sizeof(source) - u, "%s%s", i ? " " : "", o.files[i]);
        }
    char cmdline[1024] = "";
    for (int i = 0; i < argc; i++) {
        size_t u = strlen(cmdline);
        snprintf(cmdline + u, sizeof(cmdline) - u, "%s%s", i ? " " : "tapir ", argv[i]);
    }
    if (o.out.http_listen) {
        if (o.http_token_file) {
            if (serve_token_file(o.http_token_file, o.http_token, sizeof(o.http_token)) < 0)
                goto out;
            o.out.http_token = o.http_token;
        } else if (getenv("TAPIR_TOKEN") && *getenv("TAPIR_TOKEN")) {
            o.out.http_token = getenv("TAPIR_TOKEN");
        }
    }
    o.out.cmdline = cmdline;
    if (o.config_path && !train) {
        o.ana.reload_config = reload_config;
        o.ana.reload_ctx = &o;
    }
    o.ana.source = source;
    o.out.source = source;

    FILE *flow_log = NULL, *hosts_csv = NULL, *scores_csv = NULL, *vectors_csv = NULL;
    wqueue_t *q = NULL;
    analyzer_t *an = NULL;
    sensor_t *sen = NULL;
    if (o.flow_log &&
        !(flow_log = open_csv(o.flow_log,
                              "first_ts,src,sport,dst,dport,proto,pkts_fwd,bytes_fwd,pkts_rev,"
                              "bytes_rev,last_ts,l7,name,end",
                              errbuf)))
        goto fail_usage;
    if (o.hosts_csv &&
        !(hosts_csv = open_csv(o.hosts_csv,
                               "window_start,ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,"
                               "flows_started,flows_in,tcp_started,tcp_answered,l7_known,"
                               "l7_unknown,dns_queries",
                               errbuf)))
        goto fail_usage;
    if (o.scores_csv &&
        !(scores_csv = open_csv(
              o.scores_csv, "window_start,window_end,ip,side,score,threshold,over,alert", errbuf)))
        goto fail_usage;
    o.sen.flow_log = flow_log;
    if (o.dpi_thread == 1 && o.flow_log) {
        fprintf(stderr, "tapir: --dpi-thread on cannot be combined with --flow-log (a flow's "
                        "log line needs its L7 verdict when it ends)\n");
        goto fail_usage;
    }
    o.sen.dpi_thread = o.dpi_thread == 1 ||
                       (o.dpi_thread == -1 && !o.flow_log && sysconf(_SC_NPROCESSORS_ONLN) >= 2);
    o.out.hosts_csv = hosts_csv;
    if (o.vectors_csv) {
        char header[2048] = "window_start,ip";
        int nf;
        const struct feature_def *defs = behaviour_defs(SIDE_SOURCE, &nf);
        for (int i = 0; i < nf; i++) {
            size_t u = strlen(header);
            snprintf(header + u, sizeof(header) - u, ",%s", defs[i].name);
        }
        if (!(vectors_csv = open_csv(o.vectors_csv, header, errbuf)))
            goto fail_usage;
    }
    o.out.scores_csv = scores_csv;
    o.out.vectors_csv = vectors_csv;

    if (!(q = wqueue_create(o.n_files ? 2 : 4, o.sen.max_hosts, errbuf)))
        goto fail_runtime;
    if (o.cap.iface && notify_watchdog_us()) /* the analyzer shows it is alive 4x per interval */
        o.ana.heartbeat_us = notify_watchdog_us() / 4 > 10000 ? notify_watchdog_us() / 4 : 10000;
    if (!(an = analyzer_create(&o.ana, &o.out, q, errbuf)))
        goto fail_usage; /* bad model, db, log, rules: bad input */
    if (!(sen = sensor_create(&o.sen, q, errbuf)))
        goto fail_usage;
    analyzer_set_l7_names(an, sensor_l7_name, sen);
    analyzer_set_metrics(an, sensor_metrics, sen);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the sensor */
    if (analyzer_start(an, errbuf) < 0)
        goto fail_runtime;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* --user: the files opened as root become the user's (see capture.c). */
    char wal[4096], shm[4096];
    const char *owned[4];
    int n_owned = 0;
    if (o.out.db_path && strcmp(o.out.db_path, ":memory:")) {
        owned[n_owned++] = o.out.db_path;
        snprintf(wal, sizeof(wal), "%s-wal", o.out.db_path);
        snprintf(shm, sizeof(shm), "%s-shm", o.out.db_path);
        owned[n_owned++] = wal;
        owned[n_owned++] = shm;
    }
    if (o.out.alert_log_path && strcmp(o.out.alert_log_path, "-"))
        owned[n_owned++] = o.out.alert_log_path;
    o.cap.owned_paths = owned;
    o.cap.n_owned = n_owned;
    struct watchdog wd = {notify_watchdog_us(), 0, an, false};
    if (wd.interval_us && o.cap.iface) {
        o.cap.tick = watchdog_tick;
        o.cap.tick_ctx = &wd;
    }
    if (!o.cap.iface) /* files were checked; a live capture says so once it is open */
        notify_ready("reading capture files");
    uint64_t t0 = tapir_monotonic_us();
    struct capture_stats cs;
    int cr = capture_run(&o.cap, sen, &stop_flag, &cs, errbuf);
    if (stop_flag)
        notify_send("STOPPING=1\nSTATUS=stopping: scoring the open window");
    sensor_finish(sen);
    analyzer_join(an);
    double secs = (double)(tapir_monotonic_us() - t0) / 1e6;

    struct sensor_stats ss;
    struct analyzer_stats as;
    sensor_get_stats(sen, &ss);
    analyzer_get_stats(an, &as);
    if (cr < 0) {
        fprintf(stderr, "tapir: %s\n", errbuf);
        rc = cr == -2 ? TAPIR_EXIT_USAGE : TAPIR_EXIT_FAIL;
    } else {
        rc = TAPIR_EXIT_OK;
    }
    if (train && rc == TAPIR_EXIT_OK) {
        if (analyzer_train_save(an, o.output, errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            rc = TAPIR_EXIT_FAIL;
        } else {
            if (!o.quiet)
                fprintf(stderr, "tapir: model written to %s\n", o.output);
        }
    }
    if (rc == TAPIR_EXIT_OK && (as.store_errors || as.log_errors)) {
        /* Capture went on, but not everything found was written: say so in the status. */
        fprintf(stderr,
                "tapir: %" PRIu64 " windows could not be stored and %" PRIu64
                " alert-log writes failed (see the errors above)\n",
                as.store_errors, as.log_errors);
        rc = TAPIR_EXIT_FAIL;
    }
    analyzer_finish_run(an, ss.pkts, ss.wire_bytes, rc);
    if (!o.quiet)
        print_summary(&o, &cs, &ss, &as, secs);
    goto cleanup;

fail_runtime:
    fprintf(stderr, "tapir: %s\n", errbuf);
    rc = TAPIR_EXIT_FAIL;
    goto cleanup;
fail_usage:
    fprintf(stderr, "tapir: %s\n", errbuf);
    rc = TAPIR_EXIT_USAGE;
cleanup:
    sensor_destroy(sen);
    analyzer_destroy(an);
    wqueue_destroy(q);
    if (flow_log && fclose(flow_log) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (hosts_csv && fclose(hosts_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (scores_csv && fclose(scores_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (vectors_csv && fclose(vectors_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
out:
    for (int i = 0; i < o.n_strings; i++)
        free(o.strings[i]);
    if (reload_prev) {
        for (int i = 0; i < reload_prev->n_strings; i++)
            free(reload_prev->strings[i]);
        free(reload_prev);
        reload_prev = NULL;
    }
    return rc;
}

int cmd_run(int argc, char **argv)
{
    return run_main(argc, argv, false);
}

int cmd_train(int argc, char **argv)
{
    return run_main(argc, argv, true);
}
