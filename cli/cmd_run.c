/*
 * cmd_run.c — `tapir run` and `tapir train`: the composition of the whole program. From
 * the options (config.c) it builds the capture, the sensor and the analyzer, wires the
 * queue between them, the outputs and the signals, runs the capture on this thread until
 * the input ends or SIGTERM, and prints the end-of-run summary.
 *
 * `tapir train` is the same run with the analyzer collecting instead of scoring, and a
 * model written at the end: one entry point with a flag. Rejected: a cmd_train.c of its
 * own, which would need this composition exported with a hook between joining and
 * destroying the analyzer (where the model is saved), or a copy of it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/capability.h>
#include <unistd.h>

#include "analyzer.h"
#include "capture.h"
#include "cli.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "rules.h"

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

/* /metrics: the sensor's published snapshot (written on the analyzer thread). */
static void sensor_metrics(void *ctx, struct evbuffer *out)
{
    sensor_t *sen = ctx;
    struct sensor_stats ss;
    sensor_stats_snapshot(sen, &ss);
    const struct output_series head[] = {
        {"tapir_packets_total", "counter", "Packets captured or read.", ss.pkts},
        {"tapir_bytes_total", "counter", "Bytes on the wire captured or read.", ss.wire_bytes},
    };
    output_series_write(out, head, sizeof(head) / sizeof(head[0]));
    evbuffer_add_printf(out, "# HELP tapir_packets_dropped_total Packets not accounted, "
                             "by reason.\n# TYPE tapir_packets_dropped_total counter\n");
    for (int i = DECODE_NOT_IP; i < DECODE_RESULT_COUNT; i++)
        evbuffer_add_printf(out, "tapir_packets_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                            decode_result_name((enum decode_result)i), ss.decode[i]);
    const struct output_series tail[] = {
        {"tapir_flows_active", "gauge", "Flows in the flow table.", ss.flows_active},
        {"tapir_flows_created_total", "counter", "Flows created.", ss.flows_created},
        {"tapir_flows_evicted_total", "counter",
         "Flows ended early because the flow table was full.", ss.flows_evicted},
        {"tapir_host_updates_dropped_total", "counter",
         "Per-IP updates lost because a window held --max-hosts IPs.", ss.hosts_dropped},
        {"tapir_host_records_replaced_total", "counter",
         "Light per-IP records given to a busier IP because a window was full.", ss.hosts_replaced},
        {"tapir_flow_records_total", "counter", "Flow records handed to the conversation table.",
         ss.flow_records},
        {"tapir_flow_records_dropped_total", "counter",
         "Flow records lost because a window held --max-flow-records.", ss.flow_records_dropped},
        {"tapir_windows_total", "counter", "Windows handed to the analyzer.", ss.windows},
        {"tapir_windows_dropped_total", "counter",
         "Windows dropped because the analyzer fell behind.", ss.windows_dropped},
        {"tapir_rate_events_total", "counter",
         "Flood events the per-second counters handed to the analyzer.", ss.rate_events},
        {"tapir_rate_events_dropped_total", "counter",
         "Flood events lost: ring full or over 64 in one second.", ss.rate_events_dropped},
        {"tapir_rate_evicted_total", "counter",
         "IPs pushed out of the flood counters within their second (table full).", ss.rate_evicted},
        {"tapir_dpi_detected_total", "counter", "Flows nDPI classified.", ss.dpi_detected},
        {"tapir_dpi_pool_empty_total", "counter",
         "Flows left unclassified because the DPI pool was empty.", ss.dpi_pool_empty},
        {"tapir_dpi_ring_full_total", "counter",
         "Times the capture thread waited for the nDPI thread (ring full).", ss.dpi_ring_full},
        {"tapir_clock_backwards_total", "counter", "Packets older than the newest seen.",
         ss.ts_backwards},
        {"tapir_packet_time_seconds", "gauge", "Newest packet time seen.", ss.last_ts_us / 1000000},
        {"tapir_kernel_received_total", "counter",
         "Packets the kernel passed to the capture (live; read about once a second).",
         ss.kernel_received},
        {"tapir_kernel_dropped_total", "counter",
         "Packets the kernel dropped because the capture buffer was full (live).",
         ss.kernel_dropped},
        {"tapir_interface_dropped_total", "counter",
         "Packets the interface dropped (live; as the driver reports them).", ss.if_dropped},
    };
    output_series_write(out, tail, sizeof(tail) / sizeof(tail[0]));
}

static void print_summary(const struct config *c, const struct capture_stats *cs,
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
    if (ss->decode[DECODE_NOT_IP])
        fprintf(stderr,
                "tapir: summary: %" PRIu64
                " non-IP frames (ARP, LLDP, ...): counted, not analysed\n",
                ss->decode[DECODE_NOT_IP]);
    fprintf(stderr, "tapir: summary: drops:");
    int any = 0;
    for (int i = DECODE_NOT_IP + 1; i < DECODE_RESULT_COUNT; i++)
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
    if (ss->flow_records_dropped) {
        fprintf(stderr, " flow_records_full=%" PRIu64, ss->flow_records_dropped);
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
            " vectors scored, %" PRIu64 " below --min-pkts, %" PRIu64
            " not scored for their address (0.0.0.0, ::, broadcast, multicast), %" PRIu64
            " alerts%s\n",
            ss->windows, ss->windows_dropped, as->scored, as->below_min, as->unscorable, as->alerts,
            c->train ? "" : "");
    if (as->conv_alerts || as->conv_evicted)
        fprintf(stderr,
                "tapir: summary: conversations: %" PRIu64 " alerts, %" PRIu64
                " in the table, %" PRIu64 " evicted\n",
                as->conv_alerts, as->conv_active, as->conv_evicted);
    if (as->store_errors || as->log_errors)
        fprintf(stderr,
                "tapir: summary: output errors: %" PRIu64 " windows not stored, %" PRIu64
                " alert log lines not written\n",
                as->store_errors, as->log_errors);
    if (c->out.db_path)
        fprintf(stderr, "tapir: summary: database %s\n", c->out.db_path);
    if (c->out.alert_log_path)
        fprintf(stderr, "tapir: summary: alert log %s\n", c->out.alert_log_path);
}

/* --- privileges (--user) ---------------------------------------------------------------
 *
 * A root run with --user gives up root once everything root must open is open: the
 * capture (live handle, or every file's descriptor), database, alert log, CSVs, model,
 * the HTTP socket. In two steps, because capabilities, the bounding set and
 * no-new-privileges belong to each thread while the uid change reaches them all:
 *
 *   privileges_prepare(), before the first thread starts (the DPI worker, the analyzer):
 *     no-new-privileges and an empty bounding set, which every thread inherits. Root
 *     keeps its effective capabilities until the drop (it still binds the HTTP port and
 *     activates the capture); the two only bar gaining privileges through execve, so a
 *     privileged helper that must exec a program with capabilities (nft) is forked
 *     BEFORE this call.
 *   privileges_drop(), once all is open (threads running): supplementary groups, gid,
 *     uid through glibc, which makes every thread change (so each loses its
 *     capabilities), then a check of every thread in /proc/self/task: uid, gid, no
 *     groups, no effective, permitted or ambient capability, an empty bounding set,
 *     no-new-privileges. A thread that kept anything stops the run.
 *
 * Rejected: one drop before any thread (the HTTP port below 1024 and root-only GeoIP
 * files would then be opened as the user), and the old drop in the capture thread of a
 * live capture only (a replay parsed untrusted packets through nDPI as root, every thread
 * with full capabilities and bounding set). */
struct privileges {
    const char *user;
    uid_t uid;
    gid_t gid;
    bool switch_user; /* root becoming user; false: already user (not root), nothing to do */
};

/* Looks the user up (an unknown one is bad input, found before anything is opened). */
static int privileges_lookup(const char *user, struct privileges *pv, char *errbuf)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--user: no such user '%.100s'%s%s", user,
                 errno ? ": " : "", errno ? strerror(errno) : "");
        return -2;
    }
    if (pw->pw_uid == 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--user %.100s: that is root, which drops nothing (name an unprivileged user)",
                 user);
        return -2;
    }
    *pv = (struct privileges){user, pw->pw_uid, pw->pw_gid, geteuid() == 0};
    if (!pv->switch_user && pw->pw_uid != geteuid()) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--user %.100s: only root can switch users (running as uid %u)", user,
                 (unsigned)geteuid());
        return -2;
    }
    return 0;
}

/* Whether pv's user may create and rename files in the directory of file (what it
 * writes after the drop: a model saved by train -o or --save-model, the live blocklist
 * rewritten by rename). By the directory's mode bits for its owner, group and others;
 * ACLs are not read. 0, or -1 with errbuf. */
static int dir_writable_by(const struct privileges *pv, const char *file, const char *option,
                           char *errbuf)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) < 0) {
        tapir_errf(errbuf, "%s %.200s: %.200s: %s", option, file, dir, strerror(errno));
        return -1;
    }
    bool w = (sb.st_uid == pv->uid && (sb.st_mode & S_IWUSR)) ||
             (sb.st_gid == pv->gid && (sb.st_mode & S_IWGRP)) || (sb.st_mode & S_IWOTH);
    if (!w) {
        tapir_errf(errbuf,
                   "%s %.200s: --user %.64s cannot write in %.200s, where it is written after the "
                   "privileges are dropped",
                   option, file, pv->user, dir);
        return -1;
    }
    return 0;
}

/* The highest capability the kernel knows (it may know more than our headers). */
static int cap_last(void)
{
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) {
        if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
            last = CAP_LAST_CAP;
        fclose(f);
    }
    return last;
}

/* No-new-privileges and an empty bounding set for the calling thread and every thread
 * it starts later. */
static int privileges_prepare(const struct privileges *pv, char *errbuf)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot set no-new-privileges: %s", strerror(errno));
        return -1;
    }
    if (!pv->switch_user)
        return 0; /* without CAP_SETPCAP the bounding set stays; nothing to gain anyway */
    for (int c = 0, last = cap_last(); c <= last; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot clear the capability bounding set: %s",
                     strerror(errno));
            return -1;
        }
    return 0;
}

/* One thread's /proc status against what a dropped thread has. Returns 0, or -1 with
 * the first difference in errbuf. Already the user (not root, as under the systemd unit
 * with ambient CAP_NET_RAW): the capabilities are not checked here; each thread gives up
 * its own (the capture thread once the run starts, the others as they start). */
static int check_thread(const char *path, const char *tid, const struct privileges *pv,
                        char *errbuf)
{
    FILE *f = fopen(path, "re");
    if (!f && errno == ENOENT)
        return 0; /* a thread that just ended */
    if (!f) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read %.100s: %s", path, strerror(errno));
        return -1;
    }
    char line[512], bad[128] = "";
    unsigned long long caps;
    unsigned id[4];
    int nnp = -1, seen = 0;
    while (fgets(line, sizeof(line), f) && !bad[0]) {
        char key[32];
        if (sscanf(line, "%31[^:]:", key) != 1)
            continue;
        if (!strcmp(key, "Uid") || !strcmp(key, "Gid")) {
            unsigned want = key[0] == 'U' ? (unsigned)pv->uid : (unsigned)pv->gid;
            if (sscanf(line + 4, "%u %u %u %u", &id[0], &id[1], &id[2], &id[3]) != 4 ||
                id[0] != want || id[1] != want || id[2] != want || id[3] != want)
                snprintf(bad, sizeof(bad), "%s is %.40s", key, line + 5);
            seen++;
        } else if (!strcmp(key, "Groups")) {
            const char *g = line + 7;
            while (*g == ' ' || *g == '\t')
                g++;
            /* Every group listed must be the user's own (setgroups(0) leaves none; an
             * initgroups-style list of one is the gid): all of them, not the first. */
            for (char *end; *g && *g != '\n'; g = end) {
                unsigned long id1 = strtoul(g, &end, 10);
                if (end == g || id1 != (unsigned long)pv->gid) {
                    snprintf(bad, sizeof(bad), "supplementary groups %.60s", line + 7);
                    break;
                }
                while (*end == ' ' || *end == '\t')
                    end++;
            }
            seen++;
        } else if (pv->switch_user && (!strcmp(key, "CapEff") || !strcmp(key, "CapPrm") ||
                                       !strcmp(key, "CapAmb") || !strcmp(key, "CapBnd"))) {
            if (sscanf(line + strlen(key) + 1, "%llx", &caps) != 1 || caps)
                snprintf(bad, sizeof(bad), "%s is %.40s", key, line + strlen(key) + 2);
            seen++;
        } else if (!strcmp(key, "NoNewPrivs")) {
            nnp = atoi(line + 11);
        }
    }
    fclose(f);
    if (!bad[0] && nnp != 1)
        snprintf(bad, sizeof(bad), "no-new-privileges is not set");
    if (!bad[0] && seen < (pv->switch_user ? 7 : 3))
        snprintf(bad, sizeof(bad), "its status lacks uid, gid or capability lines");
    if (!bad[0])
        return 0;
    for (char *e = bad + strlen(bad); e > bad && (e[-1] == '\n' || e[-1] == ' '); e--)
        e[-1] = '\0';
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "privileges not dropped to %.32s in thread %.16s: %s",
             pv->user, tid, bad);
    return -1;
}

/* Becomes the user in every thread (the files in owned, opened as root, become the
 * user's first, as tcpdump -Z does with its output: a SIGHUP reopen or a retention run
 * must still work), then checks every thread. Returns 0, or -1 with errbuf set. */
static int privileges_drop(const struct privileges *pv, const char *const *owned, int n_owned,
                           char *errbuf)
{
    if (pv->switch_user) {
        /* By descriptor, of a regular file with one link only: a symbolic link is not
         * followed, and a hard link planted in a shared directory (or a file renamed in
         * between) cannot hand over another file such as /etc/shadow (review). */
        for (int i = 0; i < n_owned; i++) {
            int fd = open(owned[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            struct stat sb;
            const char *why = NULL;
            if (fd < 0)
                why = errno == ENOENT ? NULL : strerror(errno);
            else if (fstat(fd, &sb) < 0)
                why = strerror(errno);
            else if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1)
                why = "not a regular file with one link";
            else if (fchown(fd, pv->uid, pv->gid) < 0)
                why = strerror(errno);
            if (fd >= 0)
                close(fd);
            if (why)
                log_warn("cannot hand %s to %s: %s", owned[i], pv->user, why);
        }
        /* glibc runs each of these in every thread of the process (POSIX semantics). */
        if (setgroups(0, NULL) < 0 || setgid(pv->gid) < 0 || setuid(pv->uid) < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot drop privileges to %s: %s", pv->user,
                     strerror(errno));
            return -1;
        }
        if (setuid(0) == 0) { /* the saved uid must be gone too */
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "privileges not dropped: setuid(0) succeeded");
            return -1;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot set no-new-privileges: %s", strerror(errno));
        return -1;
    }
    if (getuid() != pv->uid || geteuid() != pv->uid || getgid() != pv->gid ||
        getegid() != pv->gid) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "privileges not dropped to %s: uid %u/%u gid %u/%u",
                 pv->user, (unsigned)getuid(), (unsigned)geteuid(), (unsigned)getgid(),
                 (unsigned)getegid());
        return -1;
    }
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot check the threads' privileges: %s",
                 strerror(errno));
        return -1;
    }
    int n = 0, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
        rc = check_thread(path, e->d_name, pv, errbuf);
        n++;
    }
    closedir(d);
    if (rc == 0 && pv->switch_user)
        log_info("running as %s (uid %u): no capabilities, no new privileges, in all %d threads",
                 pv->user, (unsigned)pv->uid, n);
    else if (rc == 0)
        log_info("already running as %s (uid %u): no new privileges in all %d threads", pv->user,
                 (unsigned)pv->uid, n);
    return rc;
}

static FILE *open_csv(const char *path, const char *header, char *errbuf)
{
    /* Not fopen "w": it follows a link planted at the name and creates the file 0666
     * less the umask. */
    int fd = tapir_open_output(path, O_CREAT | O_TRUNC, "CSV", errbuf);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    fprintf(f, "%s\n", header);
    return f;
}

static int run_main(int argc, char **argv, bool train)
{
    struct config cfg;
    config_init(&cfg, train);
    /* SIGHUP before the analyzer watches it (systemctl reload during start-up) must not
     * kill the sensor; the analyzer's loop takes it over once running. */
    signal(SIGHUP, SIG_IGN);
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    int rc = TAPIR_EXIT_USAGE;
    int pr = config_parse_args(&cfg, argc, argv);
    if (pr != 0) {
        rc = pr > 0 ? TAPIR_EXIT_OK : TAPIR_EXIT_USAGE;
        goto out;
    }
    cfg.cap.files = cfg.files;
    cfg.cap.n_files = cfg.n_files;
    cfg.cap.bpf = cfg.bpf[0] ? cfg.bpf : NULL;
    cfg.sen.geo_paths = cfg.geo;
    cfg.sen.n_geo = cfg.n_geo;
    cfg.sen.replay = cfg.n_files > 0;
    if (cfg.quiet)
        log_set_level(LOG_WARN);

    /* Files are created 0640 at most whatever the umask: what open() is given, and what
     * others create (SQLite's WAL and shared memory take the database's mode). */
    umask(umask(0) | 027);
    struct privileges pv = {0};
    if (cfg.cap.drop_user && privileges_lookup(cfg.cap.drop_user, &pv, errbuf) < 0) {
        fprintf(stderr, "tapir: %s\n", errbuf);
        goto out;
    }
    if (pv.switch_user) {
        const char *const later[][2] = {{train ? cfg.output : NULL, "-o"},
                                        {cfg.ana.model_out, "--save-model"},
                                        {train ? NULL : cfg.bl.path, "--blocklist"}};
        for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
            if (later[i][0] && dir_writable_by(&pv, later[i][0], later[i][1], errbuf) < 0) {
                fprintf(stderr, "tapir: %s\n", errbuf);
                goto out;
            }
    }
    /* --blocklist: what the sink needs from the run, and --blocklist-apply's privileged
     * helper, forked now: before any thread and before the capture drops the
     * capabilities (output/blocklist_apply.c). */
    if (cfg.bl.path && !train) {
        cfg.bl.iface = cfg.cap.iface;
        cfg.bl.replay = cfg.n_files > 0;
        cfg.bl.allowlist_path = cfg.ana.allowlist_path;
        cfg.bl.rules_dir = cfg.ana.rules_dir;
        if (cfg.bl.apply && blocklist_apply_fork(&cfg.bl, errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            goto out;
        }
        cfg.out.blocklist = &cfg.bl;
    } else if (cfg.bl.apply) {
        fprintf(stderr, "tapir: --blocklist-apply needs --blocklist FILE\n");
        goto out;
    }
    char source[512] = "";
    if (cfg.cap.iface)
        snprintf(source, sizeof(source), "interface %s", cfg.cap.iface);
    else
        for (int i = 0; i < cfg.n_files; i++) {
            size_t u = strlen(source);
            snprintf(source + u, sizeof(source) - u, "%s%s", i ? " " : "", cfg.files[i]);
        }
    char cmdline[1024] = "";
    for (int i = 0; i < argc; i++) {
        size_t u = strlen(cmdline);
        snprintf(cmdline + u, sizeof(cmdline) - u, "%s%s", i ? " " : "tapir ", argv[i]);
    }
    const char *http_token = NULL; /* NULL: auth off, loopback only */
    if (cfg.http_listen) {
        if (cfg.http_token_file) {
            if (serve_token_file(cfg.http_token_file, cfg.http_token, sizeof(cfg.http_token)) < 0)
                goto out;
            http_token = cfg.http_token;
        } else if (getenv("TAPIR_TOKEN") && *getenv("TAPIR_TOKEN")) {
            http_token = getenv("TAPIR_TOKEN");
        }
    }

    /* Everything that can be wrong with the input is found before capture starts; the
     * capture is open before privileges are dropped. A run that never started prints
     * no summary. */
    int err;
    capture_t *cap = capture_open(&cfg.cap, cfg.cap.drop_user != NULL, errbuf, &err);
    if (!cap) {
        fprintf(stderr, "tapir: %s\n", errbuf);
        rc = err == -2 ? TAPIR_EXIT_USAGE : TAPIR_EXIT_FAIL;
        goto out;
    }
    FILE *flow_log = NULL, *hosts_csv = NULL, *scores_csv = NULL, *vectors_csv = NULL;
    wqueue_t *q = NULL;
    analyzer_t *an = NULL;
    sensor_t *sen = NULL;
    rules_t *home_net = NULL;
    char sensor_name[64] = "";
    if (cfg.flow_log &&
        !(flow_log = open_csv(cfg.flow_log,
                              "first_ts,src,sport,dst,dport,proto,pkts_fwd,bytes_fwd,pkts_rev,"
                              "bytes_rev,last_ts,l7,name,end",
                              errbuf)))
        goto fail_usage;
    if (cfg.hosts_csv &&
        !(hosts_csv = open_csv(cfg.hosts_csv,
                               "window_start,ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,"
                               "flows_started,flows_in,tcp_started,tcp_answered,l7_known,"
                               "l7_unknown,dns_queries",
                               errbuf)))
        goto fail_usage;
    if (cfg.scores_csv &&
        !(scores_csv =
              open_csv(cfg.scores_csv, "window_start,window_end,ip,side,score,threshold,over,alert",
                       errbuf)))
        goto fail_usage;
    cfg.sen.flow_log = flow_log;
    if (cfg.dpi_thread == 1 && cfg.flow_log) {
        fprintf(stderr, "tapir: --dpi-thread on cannot be combined with --flow-log (a flow's "
                        "log line needs its L7 verdict when it ends)\n");
        goto fail_usage;
    }
    cfg.sen.dpi_thread = cfg.dpi_thread == 1 || (cfg.dpi_thread == -1 && !cfg.flow_log &&
                                                 sysconf(_SC_NPROCESSORS_ONLN) >= 2);
    if (cfg.vectors_csv) {
        char header[2048] = "window_start,ip";
        int nf;
        const struct feature_def *defs = behaviour_defs(SIDE_SOURCE, &nf);
        for (int i = 0; i < nf; i++) {
            size_t u = strlen(header);
            snprintf(header + u, sizeof(header) - u, ",%s", defs[i].name);
        }
        if (!(vectors_csv = open_csv(cfg.vectors_csv, header, errbuf)))
            goto fail_usage;
    }

    if (!(q = wqueue_create(cfg.n_files ? 2 : 4, cfg.sen.max_hosts, errbuf)))
        goto fail_runtime;
    if (cfg.ana.conversations && /* training teaches the conversation detectors too */
        wqueue_add_flow_records(q, cfg.sen.max_flow_records, errbuf) < 0)
        goto fail_runtime;

    /* The analyzer and its outputs: what the options did not set in cfg.ana and cfg.out
     * (config.c), then create it. */
    cfg.ana.train_only = train;
    cfg.ana.geo_paths = cfg.geo;
    cfg.ana.n_geo = cfg.n_geo;
    cfg.ana.source = source;
    cfg.out.print_alerts = !cfg.quiet && !train;
    cfg.out.cmdline = cmdline;
    cfg.out.source = source;
    cfg.out.hosts_csv = hosts_csv;
    cfg.out.scores_csv = scores_csv;
    cfg.out.vectors_csv = vectors_csv;
    cfg.out.http_listen = cfg.http_listen;
    cfg.out.http_token = http_token;
    cfg.out.http_rate = cfg.http_rate;
    cfg.out.replay = cfg.n_files > 0; /* notifications only with --notify-replay */
    if (!(home_net = rules_netset(cfg.home_net ? cfg.home_net : RULES_HOME_NET_DEFAULT,
                                  "--home-net", errbuf)))
        goto fail_usage;
    cfg.ana.home_net = cfg.out.home_net = home_net;
    cfg.out.rules_dir = cfg.ana.rules_dir; /* its static suppress file */
    if (!cfg.sensor_name) {
        if (gethostname(sensor_name, sizeof(sensor_name) - 1) < 0 || !sensor_name[0])
            snprintf(sensor_name, sizeof(sensor_name), "tapir");
        cfg.sensor_name = sensor_name;
    }
    cfg.ana.sensor_name = cfg.out.sensor_name = cfg.sensor_name;
    if (cfg.config_path && !train) {
        cfg.ana.reload_config = config_reload;
        cfg.ana.reload_ctx = &cfg;
    }
    if (cfg.cap.iface && notify_watchdog_us()) /* the analyzer shows it is alive 4x per interval */
        cfg.ana.heartbeat_us = notify_watchdog_us() / 4 > 10000 ? notify_watchdog_us() / 4 : 10000;
    /* Before the first thread (the outputs' notification workers, the sensor's DPI
     * worker, then the analyzer's). A helper that must exec a program with capabilities
     * is forked before this line. */
    if (cfg.cap.drop_user && privileges_prepare(&pv, errbuf) < 0)
        goto fail_runtime;
    if (!(an = analyzer_create(&cfg.ana, &cfg.out, q, errbuf)))
        goto fail_usage; /* bad model, db, log, rules: bad input */
    if (!(sen = sensor_create(&cfg.sen, q, errbuf)))
        goto fail_usage;
    analyzer_set_l7_names(an, sensor_l7_name, sen);
    analyzer_set_risk_names(an, sensor_risk_name, sen);
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
    if (cfg.out.db_path && strcmp(cfg.out.db_path, ":memory:")) {
        owned[n_owned++] = cfg.out.db_path;
        snprintf(wal, sizeof(wal), "%s-wal", cfg.out.db_path);
        snprintf(shm, sizeof(shm), "%s-shm", cfg.out.db_path);
        owned[n_owned++] = wal;
        owned[n_owned++] = shm;
    }
    if (cfg.out.alert_log_path && strcmp(cfg.out.alert_log_path, "-"))
        owned[n_owned++] = cfg.out.alert_log_path;
    struct watchdog wd = {notify_watchdog_us(), 0, an, false};
    if (wd.interval_us && cfg.cap.iface) {
        cfg.cap.tick = watchdog_tick;
        cfg.cap.tick_ctx = &wd;
    }
    if (!cfg.cap.iface) /* files were checked; a live capture says so once it is open */
        notify_ready("reading capture files");
    uint64_t t0 = tapir_monotonic_us();
    struct capture_stats cs;
    memset(&cs, 0, sizeof(cs));
    /* --user: everything is open; the threads run but have read no packet yet. */
    bool started = !cfg.cap.drop_user || privileges_drop(&pv, owned, n_owned, errbuf) == 0;
    int cr = started ? capture_run(cap, sen, &stop_flag, &cs, errbuf) : -1;
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
        if (analyzer_train_save(an, cfg.output, errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            rc = TAPIR_EXIT_FAIL;
        } else {
            if (!cfg.quiet)
                fprintf(stderr, "tapir: model written to %s\n", cfg.output);
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
    if (!cfg.quiet && started)
        print_summary(&cfg, &cs, &ss, &as, secs);
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
    rules_destroy(home_net);
    capture_close(cap);
    if (flow_log && fclose(flow_log) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (hosts_csv && fclose(hosts_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (scores_csv && fclose(scores_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
    if (vectors_csv && fclose(vectors_csv) != 0 && rc == 0)
        rc = TAPIR_EXIT_FAIL;
out:
    config_free(&cfg);
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
