/*
 * sink_blocklist.c — `tapir run --blocklist FILE`: the live blocklist (blocklist_live.c)
 * as a sink, kept up to date on the analyzer's libevent loop.
 *
 * Every alert goes to the table as it reaches the sink (window alerts after the store's
 * commit; per-second rate alerts as soon as they are raised). The file is rewritten, at
 * most once a second, whenever its content changed: at once when the last write is a
 * second old, else by a one-shot timer when it will be. A flood's first source-side
 * alert is therefore in the file at once, unless another ban was written less than a
 * second before. Measured by bench/blocklist.sh live on a veth, 7 runs each, from the
 * first SYN (median / max): when the file waited for the one-second tick, the flooder was
 * in the file at 1.087 / 2.059 s and dropped by the kernel set at 1.114 / 2.076 s; now
 * 0.588 / 1.004 s and 0.614 / 1.027 s, 0.01-0.03 s after its alert (0.501 / 0.997 s). The same tick
 * expires bans (wall clock live; packet time in a replay, advanced by the alerts and the windows),
 * reads `tapir blocklist unban`'s requests (FILE.unban, taken by rename, one CIDR a line) and
 * collects the privileged helper's answers. FILE.state beside the file lists the active bans for
 * `tapir blocklist list`.
 *
 * With --blocklist-apply each write is followed by one byte to the helper
 * (blocklist_apply.c), a separate process forked before the capabilities were dropped,
 * which loads the file; the pipe is non-blocking both ways, so a slow or hung nft never
 * holds the analyzer up (requests merge while one load runs).
 *
 * Rejected: unban requests through the SQLite database (the sink would poll a table
 * every second, and a sensor without --db could not be told); an unban directory with a
 * file per request (one file is enough: the CLI appends a line, the sink renames the
 * file before reading, so a request written meanwhile goes into a new file, and the CLI
 * checks FILE.state to confirm).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocklist.h"
#include "log.h"
#include "output.h"
#include "sink_notify.h"
#include "timeutil.h"

#define TICK_US         1000000  /* rewrite, expire and unban cadence */
#define LOG_EVERY_US    10000000 /* refusals are logged at most this often */
#define UNBAN_MAX_BYTES 65536    /* of one FILE.unban */

struct bl_sink {
    const struct blocklist_config *c; /* &cfg */
    struct blocklist_config cfg;      /* the run's settings, with the hooks below set */
    blocklist_live_t *l;
    struct event *tick;
    struct event *later;    /* one-shot: the write held back by the once-a-second bound */
    uint64_t pkt_now_us;    /* replay: newest packet time seen */
    uint64_t last_write_us; /* monotonic */
    uint64_t writes, write_errors;
    uint64_t applies, apply_errors, apply_pending;
    uint64_t unban_requests;
    uint64_t last_log_us;               /* monotonic, refusals */
    uint64_t logged[BLOCKLIST_V_COUNT]; /* verdict counts at the last log */
    size_t last_n;                      /* entries at the last write */
    bool write_failing;                 /* said once until it works again */
    int apply_fd;                       /* requests to the helper, -1: none; owned */
    int result_fd;                      /* its answers, -1: none; owned */
};

static uint64_t now_of(const struct bl_sink *s)
{
    return s->c->replay ? s->pkt_now_us : tapir_wall_us();
}

/* The helper's answers: one byte per load, 0 loaded, else failed (it logged why). */
static void read_results(struct bl_sink *s)
{
    if (s->result_fd < 0)
        return;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(s->result_fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++) {
            s->applies++;
            if (buf[i]) {
                s->apply_errors++;
                log_error("blocklist: loading %s into the kernel failed (%" PRIu64 " failures)",
                          s->c->path, s->apply_errors);
            }
            if (s->apply_pending)
                s->apply_pending--;
        }
    if (n == 0) { /* the helper is gone */
        log_error("blocklist: the helper that loads %s exited; the kernel set is no longer "
                  "updated",
                  s->c->path);
        close(s->result_fd);
        s->result_fd = -1;
    }
}

static void flush(struct bl_sink *s)
{
    if (!blocklist_live_dirty(s->l))
        return;
    char errbuf[TAPIR_ERRBUF_SIZE];
    uint64_t now = now_of(s);
    s->last_write_us = tapir_monotonic_us();
    if (blocklist_live_write(s->l, now, errbuf) < 0) {
        s->write_errors++;
        if (!s->write_failing)
            log_error("blocklist: %s (retried every second)", errbuf);
        s->write_failing = true;
        return;
    }
    if (s->write_failing)
        log_info("blocklist: %s written again", s->c->path);
    s->write_failing = false;
    s->writes++;
    size_t n = blocklist_live_count(s->l);
    if (n != s->last_n)
        log_info("blocklist: %zu entries in %s", n, s->c->path);
    s->last_n = n;
    if (s->apply_fd >= 0) {
        if (write(s->apply_fd, "L", 1) == 1)
            s->apply_pending++;
        /* EAGAIN: requests already waiting; the helper loads the newest file anyway */
    }
}

/* Writes the file now if the last write is a second old, else when it will be. */
static void flush_soon(struct bl_sink *s)
{
    if (!blocklist_live_dirty(s->l))
        return;
    uint64_t since = tapir_monotonic_us() - s->last_write_us;
    if (since >= TICK_US) {
        flush(s);
        return;
    }
    if (!evtimer_pending(s->later, NULL)) {
        uint64_t wait = TICK_US - since;
        struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
        evtimer_add(s->later, &tv);
    }
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush(arg);
}

/* FILE.unban: taken by rename (a request written meanwhile starts a new file), read,
 * removed. */
static void take_unbans(struct bl_sink *s)
{
    char path[4096], taken[4200];
    snprintf(path, sizeof(path), "%s%s", s->c->path, BLOCKLIST_UNBAN_SUFFIX);
    snprintf(taken, sizeof(taken), "%s.taken", path);
    if (rename(path, taken) < 0)
        return; /* ENOENT: nothing asked */
    int fd = open(taken, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char buf[UNBAN_MAX_BYTES + 1];
    ssize_t n = fd >= 0 ? read(fd, buf, UNBAN_MAX_BYTES) : -1;
    if (fd >= 0)
        close(fd);
    unlink(taken);
    if (n <= 0)
        return;
    buf[n] = '\0';
    uint64_t now = now_of(s);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        struct ip_addr ip;
        unsigned plen;
        if (rules_parse_cidr(line, &ip, &plen) < 0) {
            log_warn("blocklist: unban request '%.60s' is not an address; ignored", line);
            continue;
        }
        s->unban_requests++;
        size_t k = blocklist_live_unban(s->l, &ip, plen, now);
        log_info("blocklist: unban %s by hand: %zu entries lifted, not banned again for %u s", line,
                 k, s->c->ttl_s);
    }
}

static void log_refusals(struct bl_sink *s)
{
    uint64_t mono = tapir_monotonic_us();
    if (mono - s->last_log_us < LOG_EVERY_US)
        return;
    static const enum blocklist_verdict shown[] = {BLOCKLIST_V_FULL, BLOCKLIST_V_RATE_LIMITED,
                                                   BLOCKLIST_V_TOO_BROAD};
    char line[256] = "";
    size_t u = 0;
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        uint64_t now_v = blocklist_live_verdicts(s->l, shown[i]);
        if (now_v != s->logged[shown[i]])
            u += (size_t)snprintf(line + u, sizeof(line) - u, " %s=%" PRIu64,
                                  blocklist_verdict_name(shown[i]), now_v - s->logged[shown[i]]);
        s->logged[shown[i]] = now_v;
    }
    if (u) {
        log_warn("blocklist: attackers not listed since the last report:%s (--blocklist-max, "
                 "--blocklist-rate, /24 and /48 at most)",
                 line);
        s->last_log_us = mono;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct bl_sink *s = arg;
    read_results(s);
    take_unbans(s);
    blocklist_live_expire(s->l, now_of(s));
    flush_soon(s);
    log_refusals(s);
}

static int bl_start(void *self, struct event_base *base, char *errbuf)
{
    struct bl_sink *s = self;
    struct timeval tv = {TICK_US / 1000000, TICK_US % 1000000};
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    s->later = evtimer_new(base, on_later, s);
    if (!s->tick || !s->later || event_add(s->tick, &tv) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "blocklist: cannot create its timer");
        return -1;
    }
    /* The file exists from the start (the denylist's networks, nothing banned yet). */
    if (blocklist_live_write(s->l, now_of(s), errbuf) < 0)
        return -1;
    s->writes++;
    s->last_write_us = tapir_monotonic_us();
    if (s->apply_fd >= 0 && write(s->apply_fd, "L", 1) == 1)
        s->apply_pending++;
    log_info("blocklist: %s (%s, table %s, ttl %u s, at most %u entries%s)", s->c->path,
             s->c->format == BLOCKLIST_NFT     ? "nft"
             : s->c->format == BLOCKLIST_IPSET ? "ipset"
                                               : "plain",
             blocklist_live_table(s->l), s->c->ttl_s, s->c->max_entries,
             s->apply_fd >= 0 ? ", applied by the helper" : "");
    return 0;
}

static int bl_alert(void *self, struct alert *al)
{
    struct bl_sink *s = self;
    if (s->c->replay && al->timestamp_us > s->pkt_now_us)
        s->pkt_now_us = al->timestamp_us;
    enum blocklist_verdict v = blocklist_live_alert(s->l, al, now_of(s));
    if (s->later && (v == BLOCKLIST_V_BANNED || v == BLOCKLIST_V_QUARANTINED))
        flush_soon(s); /* a new ban: into the file (and the kernel) now */
    return 0;
}

static int bl_window_end(void *self, const struct output_window *ow)
{
    struct bl_sink *s = self;
    if (s->c->replay && ow->w && ow->w->end_us > s->pkt_now_us)
        s->pkt_now_us = ow->w->end_us;
    blocklist_live_expire(s->l, now_of(s));
    if (s->later)
        flush_soon(s);
    return 0;
}

static void bl_reopen(void *self)
{
    struct bl_sink *s = self;
    char errbuf[TAPIR_ERRBUF_SIZE];
    if (blocklist_live_reload(s->l, errbuf) < 0)
        log_error("blocklist: allowlist and denylist not reloaded (old ones kept): %s", errbuf);
}

static void bl_finish_run(void *self, const struct output_run_totals *t)
{
    (void)t;
    struct bl_sink *s = self;
    take_unbans(s);
    blocklist_live_expire(s->l, now_of(s));
    /* Written once more even if unchanged: the timeouts count from the end (a replay's
     * file is then the same on every run, whenever the timer fired during it). */
    char errbuf[TAPIR_ERRBUF_SIZE];
    if (blocklist_live_write(s->l, now_of(s), errbuf) < 0) {
        s->write_errors++;
        log_error("blocklist: %s", errbuf);
    } else {
        s->writes++;
        if (s->apply_fd >= 0 && write(s->apply_fd, "L", 1) == 1)
            s->apply_pending++;
    }
    char line[512] = "";
    size_t u = 0;
    for (int v = 0; v < BLOCKLIST_V_COUNT && u < sizeof(line); v++) {
        uint64_t n = blocklist_live_verdicts(s->l, (enum blocklist_verdict)v);
        if (n)
            u += (size_t)snprintf(line + u, sizeof(line) - u, " %s=%" PRIu64,
                                  blocklist_verdict_name((enum blocklist_verdict)v), n);
    }
    log_info("blocklist: %zu entries in %s; alerts:%s", blocklist_live_count(s->l), s->c->path,
             u ? line : " none");
}

static void bl_metrics(void *self, struct evbuffer *out)
{
    struct bl_sink *s = self;
    read_results(s);
    const struct output_series series[] = {
        {"tapir_blocklist_entries", "gauge",
         "Attackers on the live blocklist (bans and quarantine).", blocklist_live_count(s->l)},
        {"tapir_blocklist_writes_total", "counter", "Times the blocklist file was rewritten.",
         s->writes},
        {"tapir_blocklist_write_errors_total", "counter",
         "Rewrites of the blocklist file that failed.", s->write_errors},
        {"tapir_blocklist_loads_total", "counter",
         "Loads of the file into the kernel by the helper (--blocklist-apply).", s->applies},
        {"tapir_blocklist_load_errors_total", "counter",
         "Loads of the file into the kernel that failed.", s->apply_errors},
        {"tapir_blocklist_unban_requests_total", "counter",
         "Unban requests taken from tapir blocklist unban.", s->unban_requests},
    };
    output_series_write(out, series, sizeof(series) / sizeof(series[0]));
    evbuffer_add_printf(out, "# HELP tapir_blocklist_alerts_total Alerts seen by the blocklist, by "
                             "what they did (banned, refreshed, or why not).\n"
                             "# TYPE tapir_blocklist_alerts_total counter\n");
    for (int v = 0; v < BLOCKLIST_V_COUNT; v++)
        evbuffer_add_printf(out, "tapir_blocklist_alerts_total{verdict=\"%s\"} %" PRIu64 "\n",
                            blocklist_verdict_name((enum blocklist_verdict)v),
                            blocklist_live_verdicts(s->l, (enum blocklist_verdict)v));
}

static void bl_destroy(void *self)
{
    struct bl_sink *s = self;
    if (s->tick)
        event_free(s->tick);
    if (s->later)
        event_free(s->later);
    if (s->apply_fd >= 0) /* EOF: the helper exits */
        close(s->apply_fd);
    if (s->result_fd >= 0)
        close(s->result_fd);
    blocklist_live_destroy(s->l);
    free(s);
}

/* Hooks: a suppression (database or static file, output.c) keeps an address off the
 * list and lifts its ban within a second; bans and unbans go to the notification sink's
 * command hook and syslog (`ban` / `unban`), as FastNetMon's notify script gets them. */
static bool bl_suppressed(void *ctx, const struct ip_addr *ip, unsigned prefix_len)
{
    const output_t *o = ctx;
    return output_suppressed(o, ip, (uint8_t)prefix_len, output_suppress_now(o));
}

static uint64_t bl_suppress_generation(void *ctx)
{
    return output_suppress_generation(ctx);
}

static void bl_event(void *ctx, const struct blocklist_event *e)
{
    (void)ctx;
    struct alert al;
    memset(&al, 0, sizeof(al));
    if (e->cause) { /* a ban: the alert's incident, detector, sensor, ... (not its vector) */
        al = *e->cause;
        al.n_features = 0;
        al.features = NULL;
        al.feature_names = NULL;
    }
    al.event_type = e->action;
    al.ip = e->ip;
    al.prefix_len = (uint8_t)e->prefix_len;
    if (!e->cause)
        al.side = e->prefix_len < 128 ? ALERT_SIDE_PREFIX : ALERT_SIDE_SOURCE;
    al.category = e->category;
    al.timestamp_us = e->time_us; /* the list's clock: packet time in a replay */
    notify_event(e->action, &al);
}

int output_blocklist_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                          char *errbuf)
{
    const struct blocklist_config *bc = c->blocklist;
    if (!bc || !bc->path)
        return 0;
    struct bl_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s)
        return -1;
    s->cfg = *bc;
    if (!s->cfg.suppressed) {
        s->cfg.suppressed = bl_suppressed;
        s->cfg.suppress_generation = bl_suppress_generation;
        s->cfg.suppressed_ctx = o;
    }
    if (!s->cfg.event)
        s->cfg.event = bl_event;
    s->c = &s->cfg;
    s->apply_fd = bc->apply_fd;
    s->result_fd = bc->apply_result_fd;
    if (!(s->l = blocklist_live_create(&s->cfg, c->home_net, true, errbuf))) {
        free(s);
        return -1;
    }
    *k = (struct output_sink){
        .name = "blocklist",
        .self = s,
        .start = bl_start,
        .alert = bl_alert,
        .window_end = bl_window_end,
        .reopen = bl_reopen,
        .metrics = bl_metrics,
        .finish_run = bl_finish_run,
        .destroy = bl_destroy,
    };
    return 1;
}
