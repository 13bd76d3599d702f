/*
 * metrics.c — the Prometheus text format's one shape for a counter or gauge, written by
 * every part that has /metrics lines (the analyzer, the sensor's snapshot in cmd_run).
 *
 * Each part lists its series as a table of (name, type, help, value) filled at scrape
 * time from counters its thread already keeps. output_process_metrics adds the process_*
 * series every Prometheus client library exports, under the same names, read from
 * /proc/self and getrusage at each scrape (about 30 us; nothing is kept). Rejected: a metrics
 * registry with labels kept across scrapes: Tapir's lines are a fixed list, so a table per scrape
 * is all there is to share.
 */
#include <dirent.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "output.h"

void output_metric(struct evbuffer *out, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
                        name, v);
}

void output_series_write(struct evbuffer *out, const struct output_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        output_metric(out, s[i].name, s[i].type, s[i].help, s[i].value);
}

/* Seconds since the epoch when this process started: field 22 of /proc/self/stat (clock
 * ticks after boot) plus btime from /proc/stat. -1 when either cannot be read. */
static double process_start_s(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long start_ticks = 0, btime = 0;
    /* After ')': state (field 3) ... starttime (field 22), the 20th token. */
    if (!p || sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                     "%*d %*d %*d %llu",
                     &start_ticks) != 1)
        return -1;
    f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return btime && hz > 0 ? (double)btime + (double)start_ticks / (double)hz : -1;
}

void output_process_metrics(struct evbuffer *out)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        evbuffer_add_printf(out,
                            "# HELP process_cpu_seconds_total Total user and system CPU time "
                            "spent in seconds.\n# TYPE process_cpu_seconds_total counter\n"
                            "process_cpu_seconds_total %.3f\n",
                            cpu);
    }
    unsigned long long vsz_pages, rss_pages;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f && fscanf(f, "%llu %llu", &vsz_pages, &rss_pages) == 2) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        output_metric(out, "process_resident_memory_bytes", "gauge",
                      "Resident memory size in bytes.", rss_pages * page);
        output_metric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                      vsz_pages * page);
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        uint64_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            n += e->d_name[0] != '.';
        closedir(d);
        output_metric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                      n - 1); /* less the directory's own */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        output_metric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                      (uint64_t)rl.rlim_cur);
    double start = process_start_s();
    if (start > 0)
        evbuffer_add_printf(out,
                            "# HELP process_start_time_seconds Start time of the process since "
                            "unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                            "process_start_time_seconds %.2f\n",
                            start);
}
