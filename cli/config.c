/*
 * config.c — the options of `tapir run` / `tapir train` (config.h): one table, read by
 * the command line (getopt_long), the INI file (inih, the same names as keys) and the
 * SIGHUP re-read, so the three can never drift apart and a new option is one row.
 *
 * A row says the option's name, kind (text, whole number in a range, real in a range,
 * flag, or a parser of its own for the few with a shape of their own: K/N, a list, an
 * enumeration), the field it sets (offset and size in struct config), whether SIGHUP
 * re-reads it, and its help line; the usage text, the getopt_long array and the file's
 * keys are all derived from the rows. Rejected: a chain of strcmp branches with a
 * separate getopt array, list of reloadable names and usage text (what this replaced:
 * four lists to keep in step, and an error range printed from the C literal, "1 ..
 * 1000000000u"); and generated setter functions per option (X-macros), which hide the
 * table from grep and from a reader.
 *
 * Row order is also getopt_long's: an abbreviation that several options without a short
 * letter share goes to the first row (--al is --alert-log, --ret --retrain, --sc
 * --scaling, --max --max-flows), as it always has; the help groups rows by section.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "behaviour.h"
#include "config.h"
#include "log.h"
#include "parse.h"
#include "tapir.h"

enum opt_kind {
    OPT_TEXT,   /* const char *: the value as given */
    OPT_NUMBER, /* a whole number in min .. max, into a 4- or 8-byte field */
    OPT_REAL,   /* a double in lo .. hi; `what` names it in the error */
    OPT_ON,     /* flag: sets a bool true */
    OPT_OFF,    /* flag: sets a bool false (--no-dpi) */
    OPT_PARSE,  /* its own parser */
    OPT_CONFIG, /* --config: read before the others (config_parse_args); not a file key */
    OPT_HELP,   /* --help; not a file key */
};

enum opt_section { SEC_CAPTURE, SEC_SENSOR, SEC_ANALYZER, SEC_OUTPUTS, SEC_COUNT };
static const char *const section_names[SEC_COUNT] = {"capture", "sensor", "analyzer", "outputs"};

struct option_def;
typedef int (*option_parse_fn)(struct config *c, const struct option_def *d, const char *v,
                               char *errbuf);

struct option_def {
    const char *name; /* long option and config-file key */
    char letter;      /* short option, or 0 */
    enum opt_kind kind;
    enum opt_section section; /* where the help lists it */
    size_t at, size;          /* the field in struct config (OPT_PARSE: none) */
    uint32_t min, max;        /* OPT_NUMBER */
    double lo, hi;            /* OPT_REAL */
    const char *what;         /* OPT_REAL: "a share in (0, 0.5)" */
    option_parse_fn parse;    /* OPT_PARSE */
    bool reload;              /* SIGHUP re-reads it (the judgement, not the capture, the
                                 tables or where outputs go: those need a restart) */
    const char *arg;          /* help: the value's name, NULL for a flag */
    const char *help;         /* help: what it does (a "\n" continues under it), or NULL
                                 to leave the option out of the help */
};

static int parse_read(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_geoip(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_bpf(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_dpi_thread(struct config *c, const struct option_def *d, const char *v,
                            char *errbuf);
static int parse_persist(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_scaling(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_seed(struct config *c, const struct option_def *d, const char *v, char *errbuf);
static int parse_retention(struct config *c, const struct option_def *d, const char *v,
                           char *errbuf);
static int parse_blocklist_format(struct config *c, const struct option_def *d, const char *v,
                                  char *errbuf);

#define AT(m)                    .at = offsetof(struct config, m), .size = sizeof(((struct config *)0)->m)
#define TEXT(m)                  .kind = OPT_TEXT, AT(m)
#define NUMBER(m, lo_, hi_)      .kind = OPT_NUMBER, AT(m), .min = lo_, .max = hi_
#define REAL(m, lo_, hi_, what_) .kind = OPT_REAL, AT(m), .lo = lo_, .hi = hi_, .what = what_
#define ON(m)                    .kind = OPT_ON, AT(m)
#define OFF(m)                   .kind = OPT_OFF, AT(m)
#define PARSE(fn)                .kind = OPT_PARSE, .parse = fn

static const struct option_def options[] = {
    /* capture */
    {"interface", 'i', TEXT(cap.iface), .section = SEC_CAPTURE, .arg = "IFACE",
     .help = "live capture (promiscuous unless -p)"},
    {"read", 'r', PARSE(parse_read), .section = SEC_CAPTURE, .arg = "FILE",
     .help = "pcap or pcapng file (or .gz); repeat for several, in order"},
    {"bpf", 0, PARSE(parse_bpf), .section = SEC_CAPTURE, .arg = "EXPR",
     .help = "filter (or give it after the options, as tcpdump)"},
    {"count", 'c', NUMBER(cap.max_packets, 1, 4000000000u), .section = SEC_CAPTURE, .arg = "N",
     .help = "stop after N packets"},
    {"snaplen", 's', NUMBER(cap.snaplen, 64, 262144), .section = SEC_CAPTURE, .arg = "N",
     .help = "bytes kept per packet (default 262144)"},
    {"buffer-size", 'B', NUMBER(cap.buffer_mb, 1, 4096), .section = SEC_CAPTURE, .arg = "MIB",
     .help = "kernel capture buffer (default 64)"},
    {"no-promisc", 'p', OFF(cap.promisc), .section = SEC_CAPTURE,
     .help = "do not put the interface in promiscuous mode"},
    {"help", 'h', .kind = OPT_HELP, .section = SEC_CAPTURE}, /* not in the help */
    {"user", 0, TEXT(cap.drop_user), .section = SEC_CAPTURE, .arg = "USER",
     .help = "drop privileges to USER once the capture is open"},
    /* sensor */
    {"window", 0, NUMBER(sen.window_s, 1, 86400), .section = SEC_SENSOR, .arg = "SECONDS",
     .help = "window length (default 60)"},
    {"max-flows", 0, NUMBER(sen.max_flows, 16, 268435456u), .section = SEC_SENSOR, .arg = "N",
     .help = "flow table size (default 1000000)"},
    {"max-hosts", 0, NUMBER(sen.max_hosts, 16, 67108864u), .section = SEC_SENSOR, .arg = "N",
     .help = "IPs per window (default 65536)"},
    {"max-flow-records", 0, NUMBER(sen.max_flow_records, 0, 67108864u), .section = SEC_SENSOR,
     .arg = "N", .help = "flow records per window for conversations (default 131072)"},
    {"dpi-flows", 0, NUMBER(sen.dpi_pool, 1, 16777216u), .section = SEC_SENSOR, .arg = "N",
     .help = "flows under nDPI at once (default 65536)"},
    {"no-dpi", 0, OFF(sen.dpi), .section = SEC_SENSOR, .help = "no L7 detection"},
    {"dpi-thread", 0, PARSE(parse_dpi_thread), .section = SEC_SENSOR, .arg = "W",
     .help = "nDPI on a thread of its own: auto (with 2+ CPUs and no\n"
             "--flow-log; default), on, off"},
    /* flood counters (issue 11: floods in two seconds; sensor/rate.c) */
    {"no-rate", 0, OFF(sen.rate), .section = SEC_SENSOR,
     .help = "no per-second flood counters (no rate alerts)"},
    {"rate-hosts", 0, NUMBER(sen.rate_hosts, 1024, 16777216u), .section = SEC_SENSOR, .arg = "N",
     .help = "IPs the flood counters track per second (default 16384)"},
    {"geoip", 0, PARSE(parse_geoip), .section = SEC_SENSOR, .arg = "FILE.mmdb",
     .help = "MaxMind-format database; repeat for country + ASN"},
    /* outputs, first part (here for the abbreviations: see the top) */
    {"db", 0, TEXT(out.db_path), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "SQLite database (alerts, hosts, windows, models, runs)"},
    {"alert-log", 0, TEXT(out.alert_log_path), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "JSON lines, one alert per line"},
    /* analyzer */
    {"model", 0, TEXT(ana.model_path), .section = SEC_ANALYZER, .reload = true, .arg = "FILE",
     .help = "trained model (else warm up on the first windows)"},
    {"warmup", 0, NUMBER(ana.warmup_windows, 1, 100000), .section = SEC_ANALYZER, .arg = "N",
     .help = "windows to train on without --model (default 10)"},
    {"save-model", 0, TEXT(ana.model_out), .section = SEC_ANALYZER, .arg = "FILE",
     .help = "save the warm-up / retrained model"},
    {"retrain", 0, NUMBER(ana.retrain_every, 0, 1000000), .section = SEC_ANALYZER, .reload = true,
     .arg = "N", .help = "retrain every N windows on recent unflagged ones"},
    {"contamination", 0, REAL(ana.contamination, 1e-6, 0.49, "a share in (0, 0.5)"),
     .section = SEC_ANALYZER, .reload = true, .arg = "F",
     .help = "share of training vectors above threshold (default 0.01)"},
    {"threshold", 0, REAL(ana.fixed_threshold, 1e-9, 1.0, "a score in (0, 1]"),
     .section = SEC_ANALYZER, .reload = true, .arg = "S", .help = "fixed score threshold instead"},
    {"min-pkts", 0, NUMBER(ana.min_pkts, 1, 1000000000u), .section = SEC_ANALYZER, .reload = true,
     .arg = "N", .help = "minimum packets for an IP to be scored (default 5)"},
    {"persist", 0, PARSE(parse_persist), .section = SEC_ANALYZER, .reload = true, .arg = "K/N",
     .help = "anomaly alert after K of an IP's last N windows (default 2/3)"},
    {"allowlist", 0, TEXT(ana.allowlist_path), .section = SEC_ANALYZER, .reload = true,
     .arg = "FILE", .help = "CIDRs never flagged (rules/allowlist format)"},
    {"rules", 0, TEXT(ana.rules_dir), .section = SEC_ANALYZER, .reload = true, .arg = "DIR",
     .help = "DIR/allowlist, DIR/denylist, DIR/thresholds (docs/rules.md)"},
    {"home-net", 0, TEXT(home_net), .section = SEC_ANALYZER, .arg = "CIDR,...",
     .help = "our networks, for alert direction and the blocklist\n"
             "(default RFC 1918, RFC 4193, link-local)"},
    /* Incidents (issue 11, analyzer/incident.c). */
    {"incident-quiet", 0, NUMBER(ana.incident_quiet, 1, 10000), .section = SEC_ANALYZER,
     .reload = true, .arg = "N",
     .help = "an incident ends after N windows without an alert (default 2)"},
    /* Session 5 (issue 11): the incident table's size; the SMTP server's CA. */
    {"max-incidents", 0, NUMBER(ana.max_incidents, 16, 1048576), .section = SEC_ANALYZER,
     .arg = "N", .help = "open incidents held (default 4096); when full the oldest ends"},
    {"smtp-ca", 0, TEXT(out.smtp_ca), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "trust the CA certificates in FILE (PEM) for SMTP TLS, and require TLS"},
    {"max-conversations", 0, NUMBER(ana.max_conversations, 16, 67108864u), .section = SEC_ANALYZER,
     .arg = "N", .help = "conversation table entries (default 65536)"},
    {"conversation-ttl", 0, REAL(ana.conversation_ttl_h, 0.01, 720, "hours in [0.01, 720]"),
     .section = SEC_ANALYZER, .arg = "HOURS",
     .help = "forget a conversation idle this long (default 2)"},
    {"no-conversations", 0, OFF(ana.conversations), .section = SEC_ANALYZER,
     .help = "no beacon, brute-force or exfiltration detectors"},
    /* One help line for both prefix lengths, and one for both forest sizes. */
    {"prefix4", 0, NUMBER(ana.prefix4, 8, 32), .section = SEC_ANALYZER, .arg = "N, --prefix6 N",
     .help = "prefix side lengths (default 24, 64)"},
    {"prefix6", 0, NUMBER(ana.prefix6, 16, 128), .section = SEC_ANALYZER},
    {"trees", 0, NUMBER(ana.trees, 1, 10000), .section = SEC_ANALYZER, .arg = "N, --samples N",
     .help = "forest size (default 100, 256)"},
    {"scaling", 0, PARSE(parse_scaling), .section = SEC_ANALYZER, .arg = "S",
     .help = "(train) default | raw | log for every feature"},
    {"samples", 0, NUMBER(ana.samples, 2, 65536), .section = SEC_ANALYZER},
    {"seed", 0, PARSE(parse_seed), .section = SEC_ANALYZER, .arg = "N",
     .help = "seed for tables and training (default: random for\n"
             "the tables, 1 for training)"},
    /* outputs */
    {"retention", 0, PARSE(parse_retention), .section = SEC_OUTPUTS, .reload = true, .arg = "DAYS",
     .help = "delete stored windows and alerts older than DAYS"},
    {"flow-log", 0, TEXT(flow_log), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "CSV of every ended flow"},
    {"hosts-csv", 0, TEXT(hosts_csv), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "CSV of every IP's raw counts per window"},
    {"scores-csv", 0, TEXT(scores_csv), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "CSV of every score"},
    {"vectors-csv", 0, TEXT(vectors_csv), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "CSV of every source-side behaviour vector (unscaled)"},
    {"output", 'o', TEXT(output), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "(train) where to write the model"},
    {"config", 0, .kind = OPT_CONFIG, .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "INI file with the same option names as keys"},
    {"sensor", 0, TEXT(sensor_name), .section = SEC_OUTPUTS, .arg = "NAME",
     .help = "this sensor's name in alerts (default: the host name)"},
    {"quiet", 'q', ON(quiet), .section = SEC_OUTPUTS, .help = "no alert lines, no summary"},
    {"no-progress", 0, OFF(cap.progress), .section = SEC_OUTPUTS,
     .help = "no progress line on a terminal"},
    /* notifications (docs/notifications.md); none is re-read on SIGHUP */
    {"notify-webhook", 0, TEXT(out.notify_webhook), .section = SEC_OUTPUTS, .arg = "URL",
     .help = "POST each new incident's JSON to URL"},
    {"notify-webhook-secret-file", 0, TEXT(out.notify_webhook_secret), .section = SEC_OUTPUTS,
     .arg = "FILE", .help = "sign the POST: X-Tapir-Signature: sha256=HMAC"},
    {"notify-email", 0, TEXT(out.notify_email), .section = SEC_OUTPUTS, .arg = "ADDR[,ADDR]",
     .help = "mail each new incident (with --smtp-url, --smtp-from)"},
    {"smtp-url", 0, TEXT(out.smtp_url), .section = SEC_OUTPUTS, .arg = "URL",
     .help = "smtp://HOST[:PORT] (STARTTLS if offered) or smtps://"},
    {"smtp-from", 0, TEXT(out.smtp_from), .section = SEC_OUTPUTS, .arg = "ADDR",
     .help = "the mails' sender"},
    {"smtp-credentials-file", 0, TEXT(out.smtp_credentials), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "SMTP login, one line user:password (mode 600)"},
    {"notify-digest", 0, NUMBER(out.notify_digest, 1, 100000), .section = SEC_OUTPUTS, .arg = "N",
     .help = "over N incidents a minute: one digest mail (default 10)"},
    {"notify-exec", 0, TEXT(out.notify_exec), .section = SEC_OUTPUTS, .arg = "PROGRAM",
     .help = "run PROGRAM ACTION IP SIDE CATEGORY, JSON on stdin"},
    {"notify-exec-timeout", 0, NUMBER(out.notify_exec_timeout_s, 1, 3600), .section = SEC_OUTPUTS,
     .arg = "S", .help = "kill the program after S seconds (default 10)"},
    {"syslog", 0, ON(out.syslog), .section = SEC_OUTPUTS,
     .help = "one key=value line per incident event to syslog"},
    {"syslog-facility", 0, TEXT(out.syslog_facility), .section = SEC_OUTPUTS, .arg = "F",
     .help = "daemon (default), user, local0 .. local7"},
    {"notify-end", 0, ON(out.notify_end), .section = SEC_OUTPUTS,
     .help = "notify when an incident ends too"},
    {"notify-replay", 0, ON(out.notify_replay), .section = SEC_OUTPUTS,
     .help = "notify during a replay (-r) too"},
    {"notify-queue", 0, NUMBER(out.notify_queue, 1, 1000000), .section = SEC_OUTPUTS, .arg = "N",
     .help = "notifications waiting per transport (default 1024)"},
    {"notify-attempts", 0, NUMBER(out.notify_attempts, 1, 10), .section = SEC_OUTPUTS, .arg = "N",
     .help = "sends per notification, with backoff (default 3)"},
    /* the live blocklist (docs/blocklist.md) */
    {"blocklist", 0, TEXT(bl.path), .section = SEC_OUTPUTS, .arg = "FILE",
     .help = "live blocklist of attackers, rewritten as it changes"},
    {"blocklist-format", 0, PARSE(parse_blocklist_format), .section = SEC_OUTPUTS, .arg = "F",
     .help = "nft (default), ipset or plain"},
    {"blocklist-ttl", 0, NUMBER(bl.ttl_s, 1, 31536000), .section = SEC_OUTPUTS, .arg = "SECONDS",
     .help = "a ban lasts this long after the last alert (default 3600)"},
    {"blocklist-max", 0, NUMBER(bl.max_entries, 1, 16777216), .section = SEC_OUTPUTS, .arg = "N",
     .help = "entries at most (default 10000)"},
    {"blocklist-rate", 0, NUMBER(bl.rate, 1, 1000000), .section = SEC_OUTPUTS, .arg = "N",
     .help = "new bans per second at most (default 100)"},
    {"blocklist-table", 0, TEXT(bl.table), .section = SEC_OUTPUTS, .arg = "NAME",
     .help = "nft table / ipset prefix (default tapir_IFACE, or tapir)"},
    {"blocklist-chain", 0, ON(bl.chain), .section = SEC_OUTPUTS,
     .help = "nft: a drop chain on the input and forward hooks"},
    {"blocklist-quarantine", 0, ON(bl.quarantine), .section = SEC_OUTPUTS,
     .help = "home-net attackers into quarantine sets (default: none)"},
    {"blocklist-apply", 0, ON(bl.apply), .section = SEC_OUTPUTS,
     .help = "load it into the kernel (a privileged helper; not with -r)"},
    /* HTTP (docs/http.md; not in the help) */
    {"http", 0, TEXT(http_listen), .section = SEC_OUTPUTS},
    {"http-token-file", 0, TEXT(http_token_file), .section = SEC_OUTPUTS},
    {"http-rate", 0, REAL(http_rate, 0.1, 100000, "a rate in requests/s"), .section = SEC_OUTPUTS},
};

#undef AT
#undef TEXT
#undef NUMBER
#undef REAL
#undef ON
#undef OFF
#undef PARSE

#define N_OPTIONS ((int)(sizeof(options) / sizeof(options[0])))
_Static_assert(sizeof(options) / sizeof(options[0]) <= CONFIG_MAX_OPTIONS,
               "struct config's on_cli[] needs a slot per option");

static const struct option_def *find_option(const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (!strcmp(options[i].name, name))
            return &options[i];
    return NULL;
}

/* getopt_long's val: the short letter; --config keeps the 'C' it always had (it is not in
 * the short options), which makes --con ambiguous with --contamination rather than one
 * of the two. */
static int getopt_val(const struct option_def *d)
{
    return d->kind == OPT_CONFIG ? 'C' : d->letter;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t x;
    if (parse_u64(v, 10, &x) < 0 || x < min || x > max)
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

/* "--NAME: 'VALUE' is not WHAT". Returns -1. */
static int refuse(char *errbuf, const struct option_def *d, const char *v, const char *what)
{
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--%s: '%s' is not %s", d->name, v, what);
    return -1;
}

static int parse_read(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    if (c->n_files >= CONFIG_MAX_FILES) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--%s: too many files (at '%s')", d->name, v);
        return -1;
    }
    c->files[c->n_files++] = v;
    return 0;
}

static int parse_geoip(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    if (c->n_geo >= CONFIG_MAX_GEO) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--%s: at most %d databases (at '%s')", d->name,
                 CONFIG_MAX_GEO, v);
        return -1;
    }
    c->geo[c->n_geo++] = v;
    return 0;
}

static int parse_bpf(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    if (snprintf(c->bpf, sizeof(c->bpf), "%s", v) >= (int)sizeof(c->bpf))
        return refuse(errbuf, d, "...", "a filter of at most 4095 characters");
    return 0;
}

static int parse_dpi_thread(struct config *c, const struct option_def *d, const char *v,
                            char *errbuf)
{
    if (!strcmp(v, "auto"))
        c->dpi_thread = -1;
    else if (!strcmp(v, "on"))
        c->dpi_thread = 1;
    else if (!strcmp(v, "off"))
        c->dpi_thread = 0;
    else
        return refuse(errbuf, d, v, "auto, on or off");
    return 0;
}

static int parse_persist(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    unsigned k, n;
    char tail;
    if (sscanf(v, "%u/%u%c", &k, &n, &tail) != 2 || k < 1 || n < k || n > 16)
        return refuse(errbuf, d, v, "K/N with 1 <= K <= N <= 16");
    c->ana.persist_k = k;
    c->ana.persist_n = n;
    return 0;
}

static int parse_scaling(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    if (!strcmp(v, "raw"))
        c->ana.scaling = MODEL_SCALE_RAW;
    else if (!strcmp(v, "log"))
        c->ana.scaling = MODEL_SCALE_LOG1P;
    else if (!strcmp(v, "default"))
        c->ana.scaling = -1;
    else
        return refuse(errbuf, d, v, "raw, log or default");
    return 0;
}

/* One seed for the tables and for training. */
static int parse_seed(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    uint64_t s; /* "-1" used to wrap to 2^64 - 1 */
    if (parse_u64(v, 10, &s) < 0)
        return refuse(errbuf, d, v, "a whole number");
    c->ana.seed = s;
    c->sen.seed = s;
    c->seed_set = true;
    return 0;
}

static int parse_retention(struct config *c, const struct option_def *d, const char *v,
                           char *errbuf)
{
    uint32_t days;
    if (parse_u32(v, 1, 36500, &days) < 0)
        return refuse(errbuf, d, v, "a whole number in 1 .. 36500");
    c->ana.retention_us = (uint64_t)days * 86400 * 1000000;
    return 0;
}

static int parse_blocklist_format(struct config *c, const struct option_def *d, const char *v,
                                  char *errbuf)
{
    if (blocklist_parse_format(v, &c->bl.format) < 0)
        return refuse(errbuf, d, v, "nft, ipset or plain");
    return 0;
}

/* Applies one option to c. Returns 0, or -1 with errbuf set. */
static int apply(struct config *c, const struct option_def *d, const char *v, char *errbuf)
{
    char *field = (char *)c + d->at;
    switch (d->kind) {
    case OPT_TEXT:
        memcpy(field, &v, sizeof(v));
        return 0;
    case OPT_NUMBER: {
        uint32_t u;
        if (parse_u32(v, d->min, d->max, &u) < 0) {
            char what[64];
            snprintf(what, sizeof(what), "a whole number in %u .. %u", (unsigned)d->min,
                     (unsigned)d->max);
            return refuse(errbuf, d, v, what);
        }
        if (d->size == sizeof(uint64_t)) {
            uint64_t w = u;
            memcpy(field, &w, sizeof(w));
        } else { /* uint32_t or int: the same bytes for 0 .. INT_MAX */
            memcpy(field, &u, sizeof(u));
        }
        return 0;
    }
    case OPT_REAL: {
        double x;
        if (parse_double(v, d->lo, d->hi, &x) < 0)
            return refuse(errbuf, d, v, d->what);
        memcpy(field, &x, sizeof(x));
        return 0;
    }
    case OPT_ON:
    case OPT_OFF: {
        bool b = d->kind == OPT_ON;
        memcpy(field, &b, sizeof(b));
        return 0;
    }
    case OPT_PARSE:
        return d->parse(c, d, v, errbuf);
    case OPT_CONFIG:
    case OPT_HELP:
        break;
    }
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "unknown option '%s'", d->name);
    return -1;
}

/* --- usage ------------------------------------------------------------------------- */

#define HELP_COLUMN      26 /* where the descriptions start */
#define HELP_COLUMN_WIDE 32 /* ... after a long left side (two options on one line) */

static void usage(FILE *f, bool train)
{
    if (train)
        fprintf(f, "usage: tapir train -r FILE [-r FILE ...] -o MODEL [OPTIONS] [BPF EXPRESSION]\n"
                   "Fit the source, destination and prefix forests on a baseline capture.\n\n");
    else
        fprintf(f,
                "usage: tapir run (-i IFACE | -r FILE [-r FILE ...]) [OPTIONS] [BPF EXPRESSION]\n"
                "Capture or replay (-r - reads standard input), score every IP per window,\n"
                "report anomalies.\n\n");
    for (int s = 0; s < SEC_COUNT; s++) {
        fprintf(f, "%s:\n", section_names[s]);
        for (int i = 0; i < N_OPTIONS; i++) {
            const struct option_def *d = &options[i];
            if ((int)d->section != s || !d->help)
                continue;
            char left[64];
            if (d->letter)
                snprintf(left, sizeof(left), "  -%c, --%s%s%s", d->letter, d->name,
                         d->arg ? " " : "", d->arg ? d->arg : "");
            else
                snprintf(left, sizeof(left), "      --%s%s%s", d->name, d->arg ? " " : "",
                         d->arg ? d->arg : "");
            int col = strlen(left) < HELP_COLUMN ? HELP_COLUMN : HELP_COLUMN_WIDE;
            fprintf(f, "%-*s", col, left);
            for (const char *p = d->help; *p; p++) {
                fputc(*p, f);
                if (*p == '\n')
                    fprintf(f, "%*s", HELP_COLUMN, "");
            }
            fputc('\n', f);
        }
    }
}

/* --- the config file ----------------------------------------------------------------- */

struct ini_ctx {
    struct config *c;
    char *errbuf;
    int failed;
    const struct config *reload_of; /* on SIGHUP: the running config, else NULL */
};

/* Adds v to what the file said for option row i ('\n' between a repeated key's values).
 * 0, or -1 out of memory. */
static int note_file_value(struct config *c, int i, const char *v)
{
    char *old = c->file_value[i];
    size_t a = old ? strlen(old) + 1 : 0, b = strlen(v);
    char *n = realloc(old, a + b + 1);
    if (!n)
        return -1;
    if (a)
        n[a - 1] = '\n';
    memcpy(n + a, v, b + 1);
    c->file_value[i] = n;
    return 0;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    struct ini_ctx *x = user;
    if (x->failed)
        return 0;
    const struct option_def *d = find_option(name);
    if (d && note_file_value(x->c, (int)(d - options), value ? value : "") < 0) {
        snprintf(x->errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        x->failed = 1;
        return 0;
    }
    if (x->reload_of && (!d || !d->reload || x->reload_of->on_cli[d - options]))
        return 1; /* needs a restart, or the command line still wins */
    struct config *c = x->c;
    if (c->n_strings >= CONFIG_MAX_STRINGS) {
        snprintf(x->errbuf, TAPIR_ERRBUF_SIZE, "too many settings");
        x->failed = 1;
        return 0;
    }
    char *v = strdup(value ? value : "");
    if (!v) {
        x->failed = 1;
        return 0;
    }
    c->strings[c->n_strings++] = v;
    /* Flags in a config file take true/false. */
    if (d && (d->kind == OPT_ON || d->kind == OPT_OFF) &&
        (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")))
        return 1;
    char eb[TAPIR_ERRBUF_SIZE];
    int r;
    if (d)
        r = apply(c, d, v, eb);
    else {
        snprintf(eb, sizeof(eb), "unknown option '%s'", name);
        r = -1;
    }
    if (r < 0) {
        snprintf(x->errbuf, TAPIR_ERRBUF_SIZE, "%s", eb);
        x->failed = 1;
        return 0;
    }
    return 1;
}

/* The largest config file read: ours are 2 KiB; /dev/zero is infinite. */
#define CONFIG_MAX_BYTES (1u << 20)

/* The whole file into a string for inih, or NULL with errbuf set. Opened without
 * blocking (a FIFO with no writer would hang open()), and only a regular file of at most
 * CONFIG_MAX_BYTES without a NUL byte is taken: a directory used to read as an empty
 * file (a run on defaults, exit 0), /dev/zero never ended, and inih's fgets cut a line
 * at a NUL silently. A symbolic link is followed: /etc/tapir/tapir.conf may be one. */
static char *read_config(const char *path, char *errbuf)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read config %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    char *buf = NULL;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "config %s is not a regular file", path);
        goto out;
    }
    if (sb.st_size > CONFIG_MAX_BYTES) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "config %s is too large (%lld bytes; at most %u)", path,
                 (long long)sb.st_size, CONFIG_MAX_BYTES);
        goto out;
    }
    if (!(buf = malloc(CONFIG_MAX_BYTES + 1))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read config %s: out of memory", path);
        goto out;
    }
    size_t n = 0;
    for (;;) { /* to the end, even if the file grew since fstat */
        ssize_t r = read(fd, buf + n, CONFIG_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read config %s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CONFIG_MAX_BYTES) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE, "config %s is too large (at most %u bytes)", path,
                     CONFIG_MAX_BYTES);
            goto fail;
        }
    }
    const char *nul = memchr(buf, '\0', n);
    if (nul) {
        unsigned line = 1;
        for (const char *q = buf; q < nul; q++)
            line += *q == '\n';
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s:%u: a NUL byte in the line", path, line);
        goto fail;
    }
    buf[n] = '\0';
    goto out;
fail:
    free(buf);
    buf = NULL;
out:
    close(fd);
    return buf;
}

static int load_file(struct config *c, const char *path, const struct config *reload_of,
                     char *errbuf)
{
    struct ini_ctx x = {c, errbuf, 0, reload_of};
    char *text = read_config(path, errbuf);
    if (!text)
        return -1;
    int r = ini_parse_string(text, ini_cb, &x);
    free(text);
    if (r == -1) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    if (x.failed) {
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

int config_load_file(struct config *c, const char *path, char *errbuf)
{
    return load_file(c, path, NULL, errbuf);
}

static void free_strings(struct config *c)
{
    for (int i = 0; i < c->n_strings; i++)
        free(c->strings[i]);
    c->n_strings = 0;
    for (int i = 0; i < N_OPTIONS; i++) {
        free(c->file_value[i]);
        c->file_value[i] = NULL;
    }
}

/* SIGHUP: one line for each option the file changed since start that only a restart
 * applies (not reloadable, not overridden on the command line). */
static void say_needs_restart(const struct config *running, const struct config *n)
{
    for (int i = 0; i < N_OPTIONS; i++) {
        const struct option_def *d = &options[i];
        if (d->reload || running->on_cli[i] || d->kind == OPT_CONFIG || d->kind == OPT_HELP)
            continue;
        const char *was = running->file_value[i], *now = n->file_value[i];
        if (was == now || (was && now && !strcmp(was, now)))
            continue;
        log_warn("%s %s in %s: needs a restart", d->name,
                 !now   ? "removed"
                 : !was ? "added"
                        : "changed",
                 running->config_path);
    }
}

int config_reload(void *ctx, struct analyzer_config *fresh, char *errbuf)
{
    struct config *running = ctx;
    struct config *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    n->ana = *fresh;
    if (load_file(n, running->config_path, running, errbuf) < 0) {
        free_strings(n);
        free(n);
        return -1;
    }
    say_needs_restart(running, n);
    *fresh = n->ana;
    /* Every generation's strings stay until config_free: a key the new file no longer
     * sets keeps its value from an earlier reload (the copy in *fresh points into that
     * reload's strings), so freeing the previous generation here was a use after free
     * on the second SIGHUP. Each reload keeps a few hundred bytes. */
    n->reloaded = running->reloaded;
    running->reloaded = n;
    return 0;
}

void config_free(struct config *c)
{
    free_strings(c);
    while (c->reloaded) {
        struct config *r = c->reloaded;
        c->reloaded = r->reloaded;
        free_strings(r);
        free(r);
    }
}

/* --- the command line ---------------------------------------------------------------- */

void config_init(struct config *c, bool train)
{
    memset(c, 0, sizeof(*c));
    c->cap.promisc = true;
    c->cap.progress = true;
    c->cap.snaplen = 262144;
    c->cap.buffer_mb = 64;
    c->dpi_thread = -1;
    sensor_config_defaults(&c->sen);
    analyzer_config_defaults(&c->ana);
    c->bl = (struct blocklist_config){.ttl_s = BLOCKLIST_DEFAULT_TTL_S,
                                      .max_entries = BLOCKLIST_DEFAULT_MAX,
                                      .rate = BLOCKLIST_DEFAULT_RATE,
                                      .apply_fd = -1,
                                      .apply_result_fd = -1};
    c->train = train;
}

/* The words after the options, a BPF expression as tcpdump takes it. It replaces a
 * filter from the config file (the command line wins); with --bpf too, both must hold. */
static int filter_words(struct config *c, int argc, char **argv, int first)
{
    char tail[sizeof(c->bpf)] = "";
    size_t used = 0;
    for (int i = first; i < argc; i++) {
        int w = snprintf(tail + used, sizeof(tail) - used, "%s%s", used ? " " : "", argv[i]);
        if (w < 0 || (size_t)w >= sizeof(tail) - used)
            return -1;
        used += (size_t)w;
    }
    if (c->on_cli[find_option("bpf") - options] && c->bpf[0]) {
        char both[sizeof(c->bpf)];
        int w = snprintf(both, sizeof(both), "(%s) and (%s)", c->bpf, tail);
        if (w < 0 || (size_t)w >= sizeof(both))
            return -1;
        memcpy(c->bpf, both, (size_t)w + 1);
    } else {
        memcpy(c->bpf, tail, used + 1);
    }
    return 0;
}

int config_parse_args(struct config *c, int argc, char **argv)
{
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    /* The config file first, so the command line overrides it. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path)
            c->config_path = path;
        if (path && config_load_file(c, path, errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            return -1;
        }
    }

    const char *cmd = c->train ? "tapir train" : "tapir run";
    struct option longopts[N_OPTIONS + 1];
    char shorts[2 * N_OPTIONS + 3] = "+:"; /* ':': a missing value is reported as such */
    for (int i = 0; i < N_OPTIONS; i++) {
        const struct option_def *d = &options[i];
        bool flag = d->kind == OPT_ON || d->kind == OPT_OFF || d->kind == OPT_HELP;
        longopts[i] =
            (struct option){d->name, flag ? no_argument : required_argument, NULL, getopt_val(d)};
        if (d->letter) {
            size_t u = strlen(shorts);
            shorts[u++] = d->letter;
            if (!flag)
                shorts[u++] = ':';
            shorts[u] = '\0';
        }
    }
    longopts[N_OPTIONS] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0; /* our messages, "tapir run: ...", not getopt's "run: ..." */
    int ch, li;
    while ((ch = getopt_long(argc, argv, shorts, longopts, &li)) != -1) {
        if (ch == '?' || ch == ':') {
            char opt[3] = {'-', (char)optopt, '\0'};
            const char *o = optopt ? opt : argv[optind - 1];
            if (ch == ':')
                fprintf(stderr, "%s: %s needs a value\n", cmd, o);
            else
                fprintf(stderr, "%s: unknown option '%s'\n", cmd, o);
            parse_opt_try_help(cmd);
            return -1;
        }
        const struct option_def *d = NULL;
        if (ch == 0)
            d = &options[li];
        else
            for (int i = 0; i < N_OPTIONS && !d; i++)
                if (getopt_val(&options[i]) == ch)
                    d = &options[i];
        if (!d || d->kind == OPT_CONFIG)
            continue; /* --config was read above */
        if (d->kind == OPT_HELP) {
            usage(stdout, c->train);
            return 1;
        }
        c->on_cli[d - options] = true;
        if (apply(c, d, optarg ? optarg : "", errbuf) < 0) {
            fprintf(stderr, "tapir: %s\n", errbuf);
            return -1;
        }
    }
    if (optind < argc && filter_words(c, argc, argv, optind) < 0) {
        fprintf(stderr, "tapir: filter expression too long\n");
        return -1;
    }
    if (c->train && (!c->output || c->cap.iface)) {
        fprintf(stderr, "tapir: train needs -r FILE... and -o MODEL\n");
        parse_opt_try_help(cmd);
        return -1;
    }
    if (!!c->cap.iface == !!c->n_files) {
        fprintf(stderr, "tapir: give -i IFACE or -r FILE%s\n", c->cap.iface ? ", not both" : "");
        parse_opt_try_help(cmd);
        return -1;
    }
    if (!c->seed_set) {
        /* Table seeds: random, so no one can aim collisions at our tables. Training seed
         * stays fixed (1) for reproducible models unless --seed is given. */
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) == (ssize_t)sizeof(r))
            c->sen.seed = r;
    }
    return 0;
}
