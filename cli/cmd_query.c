/*
 * cmd_query.c — `tapir alerts` and `tapir hosts`: the stored history for people at a
 * terminal (a table) and for scripts (--json: one JSON object per line, the same objects
 * the HTTP API returns).
 *
 * Listing opens the database read-only, so it works beside a running sensor (WAL) and
 * on a copy in a read-only place; ack and delete open it for writing and wait up to
 * STORE_BUSY_TIMEOUT_MS for the sensor's window transaction. Strings from the database
 * (as_org, feature names) are printed with control characters replaced, so a hostile
 * value cannot drive the terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "opts.h"
#include "parse.h"
#include "rules.h"
#include "store.h"

#define QUERY_DEFAULT_LIMIT 50
#define CMD_ALERTS          "tapir alerts"

/* Prints s with control bytes replaced by '?', padded to width (0: no padding). */
static void put_clean(FILE *f, const char *s, int width)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++, n++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
    for (; n < width; n++)
        fputc(' ', f);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* A row's text columns: the string field key of the object, padded to width. */
struct text_col {
    const char *key;
    int width;
};

/* Prints the text columns of o, each followed by a space, up to the one with a NULL key. */
static void put_text_cols(const json_t *o, const struct text_col *cols)
{
    for (; cols->key; cols++) {
        put_clean(stdout, jstr(o, cols->key), cols->width);
        putchar(' ');
    }
}

static void print_alert_header(void)
{
    printf("%-24s %6s %6s %-6s %-26s %-11s %-13s %-12s %6s %-2s %-10s %s\n", "TIME", "ID", "INC",
           "EVENT", "IP", "SIDE", "CATEGORY", "DETECTOR", "SCORE", "CC", "STATUS", "TOP FEATURES");
}

/* An alert's or incident's top_features as "name=value, ..." and the line's end. */
static void put_features(const json_t *o)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(o, "top_features"), i, f)
    {
        if (i)
            fputs(", ", stdout);
        put_clean(stdout, jstr(f, "name"), 0);
        printf("=%.6g", json_number_value(json_object_get(f, "value")));
    }
    putchar('\n');
}

static const struct text_col alert_cols[] = {{"event_type", 6}, {"ip", 26},       {"side", 11},
                                             {"category", 13},  {"detector", 12}, {NULL, 0}};

static void print_alert_row(const json_t *a)
{
    char num[32];
    put_clean(stdout, jstr(a, "timestamp"), 24);
    printf(" %6lld ", (long long)json_integer_value(json_object_get(a, "alert_id")));
    if (json_is_integer(json_object_get(a, "incident_id")))
        printf("%6lld ", (long long)json_integer_value(json_object_get(a, "incident_id")));
    else
        printf("%6s ", "-");
    put_text_cols(a, alert_cols);
    json_t *score = json_object_get(a, "score");
    if (json_is_number(score))
        snprintf(num, sizeof(num), "%6.3f", json_number_value(score));
    else
        snprintf(num, sizeof(num), "%6s", "-");
    printf("%s ", num);
    const char *cc = json_string_value(json_object_get(json_object_get(a, "geo"), "country"));
    put_clean(stdout, cc && cc[0] ? cc : "--", 2);
    putchar(' ');
    put_clean(stdout, jstr(a, "status"), 10);
    putchar(' ');
    put_features(a);
}

/* A detail's alerts, under a blank line and "title:"; nothing when there are none. */
static void print_alert_table(const char *title, const json_t *alerts)
{
    size_t i;
    json_t *a;
    if (!json_array_size(alerts))
        return;
    printf("\n%s:\n", title);
    print_alert_header();
    json_array_foreach(alerts, i, a) print_alert_row(a);
}

static int print_json_line(const json_t *o)
{
    char *s = json_dumps(o, ALERT_JSON_FLAGS);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* Prints the array as JSON lines, or as a table under its header; says `empty` on stderr
 * when a table would have no rows. */
static void print_list(const json_t *arr, bool json, void (*header)(void),
                       void (*row)(const json_t *), const char *empty)
{
    size_t i;
    const json_t *e;
    if (!json && json_array_size(arr))
        header();
    json_array_foreach(arr, i, e)
    {
        if (json)
            print_json_line(e);
        else
            row(e);
    }
    if (!json && !json_array_size(arr))
        fprintf(stderr, "%s\n", empty);
}

/* A decimal integer >= min into *n; 0, or -1. */
static int parse_int_min(const char *s, long long min, int64_t *n)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -1;
    *n = v;
    return 0;
}

/* A count option's value (>= 0) into *n; 0, or -1 having said so on stderr. */
static int opt_count(const char *cmd, const char *option, const char *value, int64_t *n)
{
    if (parse_int_min(value, 0, n) < 0) {
        fprintf(stderr, "%s: bad %s '%s'\n", cmd, option, value);
        return -1;
    }
    return 0;
}

/* What `tapir alerts` and `tapir incidents` read from their options: the database, --json,
 * the filter, and the normalised --ip the filter points into. */
struct filter_args {
    const char *db;
    bool json;
    struct store_alert_filter f;
    char ipnorm[64];
};

/* The defaults: the default database, a table, QUERY_DEFAULT_LIMIT rows. */
static void filter_args_init(struct filter_args *a)
{
    *a = (struct filter_args){.db = STORE_DEFAULT_PATH, .f = {.limit = QUERY_DEFAULT_LIMIT}};
}

/* The filter options `tapir alerts` and `tapir incidents` share (--since, --ip, --min-score,
 * --status, --category, --detector, --limit, --offset), by their getopt letter c with its
 * value in optarg: -1 when c was one (into a's filter), else the exit status to return:
 * TAPIR_EXIT_USAGE after saying what was wrong, or what parse_opt_other says of another
 * letter (usage: the command's). */
static int filter_opt(const char *cmd, int c, char **argv, struct filter_args *a,
                      void (*usage)(FILE *))
{
    const char *arg = optarg;
    struct store_alert_filter *f = &a->f;
    switch (c) {
    case 's':
        if (tapir_parse_time(arg, &f->since_us) < 0)
            return parse_opt_bad(cmd, "--since", arg, "ISO-8601 or unix seconds");
        return -1;
    case 'i': {
        struct ip_addr ip;
        unsigned plen;
        if (rules_parse_cidr(arg, &ip, &plen) < 0) {
            fprintf(stderr, "%s: bad --ip '%s'\n", cmd, arg);
            return TAPIR_EXIT_USAGE;
        }
        f->ip = rules_cidr_str(&ip, plen, a->ipnorm, sizeof(a->ipnorm));
        return -1;
    }
    case 'm':
        if (parse_f64(arg, &f->min_score) < 0 || !(f->min_score >= 0 && f->min_score <= 1))
            return parse_opt_bad(cmd, "--min-score", arg, "0 to 1");
        return -1;
    case 't':
        if (strcmp(arg, "new") && strcmp(arg, "acked") && strcmp(arg, "suppressed"))
            return parse_opt_bad(cmd, "--status", arg, "new, acked or suppressed");
        f->status = arg;
        return -1;
    case 'c':
        if (alert_category_parse(arg) < 0)
            return parse_opt_bad(cmd, "--category", arg, alert_category_list());
        f->category = arg;
        return -1;
    case 'D':
        if (alert_detector_parse(arg) < 0)
            return parse_opt_bad(cmd, "--detector", arg, alert_detector_list());
        f->detector = arg;
        return -1;
    case 'l':
        return opt_count(cmd, "--limit", arg, &f->limit) < 0 ? TAPIR_EXIT_USAGE : -1;
    case 'O':
        return opt_count(cmd, "--offset", arg, &f->offset) < 0 ? TAPIR_EXIT_USAGE : -1;
    }
    return parse_opt_other(c, cmd, argv, usage);
}

/* The filter options filter_opt reads (its letters), for the option tables. */
// clang-format off
#define FILTER_OPTIONS                                                                             \
    {"since", required_argument, NULL, 's'},                                                       \
    {"ip", required_argument, NULL, 'i'},                                                          \
    {"min-score", required_argument, NULL, 'm'},                                                   \
    {"limit", required_argument, NULL, 'l'},                                                       \
    {"offset", required_argument, NULL, 'O'},                                                      \
    {"category", required_argument, NULL, 'c'},                                                    \
    {"detector", required_argument, NULL, 'D'}
// clang-format on

/* The exit status once a command's output is written: rc, or TAPIR_EXIT_FAIL having said
 * that stdout failed. */
static int output_status(const char *cmd, int rc)
{
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write output: %s\n", cmd, strerror(errno));
        return TAPIR_EXIT_FAIL;
    }
    return rc;
}

/* One object of a detail command: a JSON line, or through detail. */
static void print_one(const json_t *o, bool json, void (*detail)(const json_t *))
{
    if (json)
        print_json_line(o);
    else
        detail(o);
}

static void alerts_usage(FILE *f)
{
    fprintf(f,
            "usage: tapir alerts [--db FILE] [--since TIME] [--ip IP] [--min-score S]\n"
            "                    [--status new|acked|suppressed] [--category C]\n"
            "                    [--detector D] [--limit N] [--offset N] [--json]\n"
            "       tapir alerts ack ID [--db FILE]\n"
            "       tapir alerts delete ID [--db FILE]\n"
            "       tapir alerts suppress ID | --ip CIDR | --incident ID [--for DURATION]\n"
            "                    --reason TEXT [--db FILE]\n\n"
            "Lists stored alerts, newest first (default limit %d; --limit 0 for all), as a\n"
            "table or, with --json, one JSON object per line. TIME is ISO-8601\n"
            "(2026-11-22T04:17:10Z) or unix seconds. --ip CIDR lists the prefix's alerts\n"
            "and those of every address inside it. suppress silences an alert's address,\n"
            "a network or an incident's address (stored alerts marked 'suppressed'; new\n"
            "ones stored so, and kept from the alert log, notifications and the blocklist)\n"
            "for DURATION (90s, 15m, 8h, 7d, 2w; default forever); a running sensor\n"
            "applies it within a second. --db defaults to %s.\n"
            "C is one of: %s.\n"
            "D is one of: %s.\n",
            QUERY_DEFAULT_LIMIT, STORE_DEFAULT_PATH, alert_category_list(), alert_detector_list());
}

static int alerts_change(const char *db, const char *action, const char *id_text)
{
    int64_t id;
    if (parse_int_min(id_text, 1, &id) < 0) {
        fprintf(stderr, "tapir alerts: bad alert id '%s'\n", id_text);
        return TAPIR_EXIT_USAGE;
    }
    int status;
    store_t *s = opts_store_open(CMD_ALERTS, db, true, &status);
    if (!s)
        return status;
    int rc = !strcmp(action, "ack") ? store_alert_ack(s, id, tapir_wall_us())
                                    : store_alert_delete(s, id);
    if (rc < 0)
        fprintf(stderr, "tapir alerts: %s\n", store_errmsg(s));
    else
        printf("alert %lld %s\n", (long long)id,
               !strcmp(action, "ack") ? "acknowledged" : "deleted");
    store_close(s);
    return rc < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK;
}

/* Who adds a suppression from the command line: "cli:USER". */
static void cli_user(char *buf, size_t len)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *sudo = getenv("SUDO_USER");
    snprintf(buf, len, "cli:%s", sudo && *sudo ? sudo : pw ? pw->pw_name : "?");
}

/* `tapir alerts suppress`: exactly one of id_text, cidr, incident_text. */
static int alerts_suppress(const char *db, const char *id_text, const char *cidr,
                           const char *incident_text, const char *for_text, const char *reason)
{
    int given = !!id_text + !!cidr + !!incident_text;
    if (given != 1) {
        fprintf(stderr, "tapir alerts: suppress takes one of ID, --ip CIDR or --incident ID\n");
        return TAPIR_EXIT_USAGE;
    }
    if (!reason || !*reason) {
        fprintf(stderr, "tapir alerts: suppress needs --reason TEXT\n");
        return TAPIR_EXIT_USAGE;
    }
    if (strlen(reason) > STORE_MAX_REASON)
        return parse_opt_bad(CMD_ALERTS, "--reason", "...", "at most 512 bytes");
    uint64_t dur = 0;
    if (for_text && store_parse_duration(for_text, &dur) < 0)
        return parse_opt_bad(CMD_ALERTS, "--for", for_text, "90s, 15m, 8h, 7d or 2w");
    int64_t id = 0;
    if ((id_text && parse_int_min(id_text, 1, &id) < 0) ||
        (incident_text && parse_int_min(incident_text, 1, &id) < 0)) {
        fprintf(stderr, "tapir alerts: bad %s id '%s'\n", id_text ? "alert" : "incident",
                id_text ? id_text : incident_text);
        return TAPIR_EXIT_USAGE;
    }
    char net[64], who[96];
    int status;
    store_t *s = opts_store_open(CMD_ALERTS, db, true, &status);
    if (!s)
        return status;
    int rc = 0;
    if (cidr) {
        snprintf(net, sizeof(net), "%s", cidr);
    } else if (incident_text) {
        rc = store_incident_network(s, id, net, sizeof(net));
    } else {
        json_t *a = NULL;
        if ((rc = store_alert_get(s, id, &a)) == 0)
            snprintf(net, sizeof(net), "%s", jstr(a, "ip"));
        json_decref(a);
    }
    uint64_t now = tapir_wall_us();
    int64_t sid = 0, marked = 0;
    cli_user(who, sizeof(who));
    if (rc == 0)
        rc = store_suppress_add(s, net, reason, now, dur ? now + dur : 0, who, &sid, &marked);
    if (rc < 0) {
        fprintf(stderr, "tapir alerts: %s\n", store_errmsg(s));
    } else {
        char until[32];
        printf("suppression %lld: %s %s%s, %lld stored alert%s marked suppressed\n", (long long)sid,
               net, dur ? "until " : "forever",
               dur ? tapir_iso8601(now + dur, until, sizeof(until)) : "", (long long)marked,
               marked == 1 ? "" : "s");
    }
    store_close(s);
    return rc < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK;
}

int cmd_alerts(int argc, char **argv)
{
    static const struct option opts[] = {OPTS_DB,
                                         FILTER_OPTIONS,
                                         {"status", required_argument, NULL, 't'},
                                         OPTS_JSON,
                                         {"for", required_argument, NULL, 'F'},
                                         {"reason", required_argument, NULL, 'R'},
                                         {"incident", required_argument, NULL, 'I'},
                                         OPTS_HELP_END};
    struct filter_args a;
    filter_args_init(&a);
    const char *for_text = NULL, *reason = NULL, *incident = NULL;
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "h", opts, &a.db, &a.json)) != -1) {
        switch (c) {
        case 'F':
            for_text = optarg;
            break;
        case 'R':
            reason = optarg;
            break;
        case 'I':
            incident = optarg;
            break;
        default: {
            int r = filter_opt(CMD_ALERTS, c, argv, &a, alerts_usage);
            if (r >= 0)
                return r;
        }
        }
    }
    int npos = argc - optind;
    if (npos > 0 && !strcmp(argv[optind], "suppress") && npos <= 2)
        return alerts_suppress(a.db, npos == 2 ? argv[optind + 1] : NULL, a.f.ip, incident,
                               for_text, reason);
    if (for_text || reason || incident) {
        fprintf(stderr, "tapir alerts: --for, --reason and --incident go with suppress\n");
        return TAPIR_EXIT_USAGE;
    }
    if (npos > 0) {
        const char *action = argv[optind];
        if ((strcmp(action, "ack") && strcmp(action, "delete")) || npos != 2) {
            fprintf(stderr,
                    "tapir alerts: expected 'ack ID', 'delete ID' or 'suppress', got '%s'%s\n",
                    action, npos > 2 ? " and more" : "");
            alerts_usage(stderr);
            return TAPIR_EXIT_USAGE;
        }
        return alerts_change(a.db, action, argv[optind + 1]);
    }

    int status;
    store_t *s = opts_store_open(CMD_ALERTS, a.db, false, &status);
    if (!s)
        return status;
    json_t *arr;
    if (store_alerts_list(s, &a.f, &arr) < 0) {
        fprintf(stderr, "tapir alerts: %s\n", store_errmsg(s));
        store_close(s);
        return TAPIR_EXIT_FAIL;
    }
    print_list(arr, a.json, print_alert_header, print_alert_row, "tapir alerts: no alerts match");
    json_decref(arr);
    store_close(s);
    return output_status(CMD_ALERTS, TAPIR_EXIT_OK);
}

static void hosts_usage(FILE *f)
{
    fprintf(f,
            "usage: tapir hosts [--db FILE] [--limit N] [--json] [IP]\n\n"
            "Without IP, the hosts with the highest scores (default limit %d). With IP, that\n"
            "host in detail with its recent alerts. --db defaults to %s.\n",
            QUERY_DEFAULT_LIMIT, STORE_DEFAULT_PATH);
}

static void print_score(const char *label, const json_t *v)
{
    if (json_is_number(v))
        printf("%s%.3f", label, json_number_value(v));
    else
        printf("%s-", label);
}

static void print_host_detail(const json_t *h)
{
    const json_t *geo = json_object_get(h, "geo");
    printf("host          ");
    put_clean(stdout, jstr(h, "ip"), 0);
    printf("\nfirst seen    %s\nlast seen     %s\n", jstr(h, "first_seen"), jstr(h, "last_seen"));
    printf("country       ");
    put_clean(stdout, jstr(geo, "country")[0] ? jstr(geo, "country") : "-", 0);
    printf("\nasn           ");
    if (json_integer_value(json_object_get(geo, "asn")))
        printf("AS%lld ", (long long)json_integer_value(json_object_get(geo, "asn")));
    put_clean(stdout, jstr(geo, "as_org"), 0);
    print_score("\nscore         last ", json_object_get(h, "last_score"));
    print_score(", max ", json_object_get(h, "max_score"));
    printf("\nwindows seen  %lld\nalerts        %lld\n",
           (long long)json_integer_value(json_object_get(h, "windows_seen")),
           (long long)json_integer_value(json_object_get(h, "alerts")));
    print_alert_table("recent alerts", json_object_get(h, "recent_alerts"));
}

static void print_host_header(void)
{
    printf("%-26s %6s %6s %7s %7s %-2s %-24s %s\n", "IP", "MAX", "LAST", "WINDOWS", "ALERTS", "CC",
           "LAST SEEN", "AS ORG");
}

static void print_host_row(const json_t *h)
{
    const json_t *geo = json_object_get(h, "geo");
    put_clean(stdout, jstr(h, "ip"), 26);
    json_t *ms = json_object_get(h, "max_score"), *ls = json_object_get(h, "last_score");
    if (json_is_number(ms))
        printf(" %6.3f", json_number_value(ms));
    else
        printf(" %6s", "-");
    if (json_is_number(ls))
        printf(" %6.3f ", json_number_value(ls));
    else
        printf(" %6s ", "-");
    printf("%7lld %7lld ", (long long)json_integer_value(json_object_get(h, "windows_seen")),
           (long long)json_integer_value(json_object_get(h, "alerts")));
    put_clean(stdout, jstr(geo, "country")[0] ? jstr(geo, "country") : "--", 2);
    printf(" %-24s ", jstr(h, "last_seen"));
    put_clean(stdout, jstr(geo, "as_org"), 0);
    putchar('\n');
}

int cmd_hosts(int argc, char **argv)
{
    static const struct option opts[] = {
        OPTS_DB, {"limit", required_argument, NULL, 'l'}, OPTS_JSON, OPTS_HELP_END};
    const char *db = STORE_DEFAULT_PATH;
    int64_t limit = QUERY_DEFAULT_LIMIT;
    bool json = false;
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "h", opts, &db, &json)) != -1) {
        if (c != 'l')
            return parse_opt_other(c, "tapir hosts", argv, hosts_usage);
        if (opt_count("tapir hosts", "--limit", optarg, &limit) < 0)
            return TAPIR_EXIT_USAGE;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "tapir hosts: one IP at most\n");
        return TAPIR_EXIT_USAGE;
    }
    char ipnorm[64];
    const char *ip = NULL;
    if (optind < argc) {
        struct ip_addr a;
        if (ip_addr_parse(argv[optind], &a) < 0) {
            fprintf(stderr, "tapir hosts: '%s' is not an IP address\n", argv[optind]);
            return TAPIR_EXIT_USAGE;
        }
        ip = ip_addr_str(&a, ipnorm, sizeof(ipnorm));
    }
    int status;
    store_t *s = opts_store_open("tapir hosts", db, false, &status);
    if (!s)
        return status;
    json_t *res = NULL;
    int got = ip ? store_host_get(s, ip, 10, &res) : store_hosts_list(s, limit, 0, &res);
    if (got < 0)
        fprintf(stderr, "tapir hosts: %s\n", store_errmsg(s));
    else if (ip)
        print_one(res, json, print_host_detail);
    else
        print_list(res, json, print_host_header, print_host_row, "tapir hosts: no hosts stored");
    json_decref(res);
    store_close(s);
    return got < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK;
}

/* ---- tapir incidents ------------------------------------------------------------------
 * One line per incident (issue 11): what an operator asks first (who, what, which way,
 * since when, for how long, how bad, is it over), then `tapir incidents ID` for one with
 * its alerts. Its own command, as `tapir alerts` and `tapir hosts` are, rather than
 * `tapir alerts --incidents`: the rows are another thing, with other columns. */

#define CMD_INCIDENTS "tapir incidents"

static void incidents_usage(FILE *f)
{
    fprintf(f,
            "usage: tapir incidents [--db FILE] [--since TIME] [--ip IP] [--category C]\n"
            "                       [--detector D] [--min-score S] [--limit N] [--offset N]\n"
            "                       [--json]\n"
            "       tapir incidents [--db FILE] [--json] ID\n\n"
            "Lists stored incidents (one per IP or prefix, side and category: opened by an\n"
            "alert, ended after --incident-quiet windows without one), newest first (default\n"
            "limit %d; --limit 0 for all), as a table or, with --json, one JSON object per\n"
            "line. With ID, that incident and its alerts. --since matches incidents last\n"
            "seen at or after TIME (ISO-8601 or unix seconds). --db defaults to %s.\n"
            "C is one of: %s.\n"
            "D is one of: %s.\n",
            QUERY_DEFAULT_LIMIT, STORE_DEFAULT_PATH, alert_category_list(), alert_detector_list());
}

static void print_incident_header(void)
{
    printf("%6s %-24s %8s %3s %-26s %-11s %-9s %-13s %-6s %4s %6s %-20s %s\n", "ID", "START",
           "DURATION", "SEV", "IP", "SIDE", "DIRECTION", "CATEGORY", "STATUS", "WIN", "PEAK",
           "DETECTORS", "WHY");
}

/* The detectors array as "forest,limit". */
static void put_list(const json_t *arr, int width)
{
    char buf[128] = "";
    size_t used = 0, i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        int w = snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? "," : "",
                         json_string_value(e) ? json_string_value(e) : "?");
        if (w < 0 || (size_t)w >= sizeof(buf) - used)
            break;
        used += (size_t)w;
    }
    put_clean(stdout, buf, width);
}

static const struct text_col incident_cols[] = {{"ip", 26},       {"side", 11},  {"direction", 9},
                                                {"category", 13}, {"status", 6}, {NULL, 0}};

static void print_incident_row(const json_t *o)
{
    char dur[32];
    long long d = (long long)json_integer_value(json_object_get(o, "duration_s"));
    if (d < 3600)
        snprintf(dur, sizeof(dur), "%lldm%02llds", d / 60, d % 60);
    else
        snprintf(dur, sizeof(dur), "%lldh%02lldm", d / 3600, d % 3600 / 60);
    printf("%6lld ", (long long)json_integer_value(json_object_get(o, "incident_id")));
    put_clean(stdout, jstr(o, "start"), 24);
    printf(" %8s %3lld ", dur, (long long)json_integer_value(json_object_get(o, "severity")));
    put_text_cols(o, incident_cols);
    printf("%4lld", (long long)json_integer_value(json_object_get(o, "windows")));
    json_t *peak = json_object_get(o, "peak_score");
    if (json_is_number(peak))
        printf(" %6.3f ", json_number_value(peak));
    else
        printf(" %6s ", "-");
    put_list(json_object_get(o, "detectors"), 20);
    putchar(' ');
    put_features(o);
}

static void print_incident_detail(const json_t *o)
{
    print_incident_header();
    print_incident_row(o);
    printf("\nlast seen %s, ended %s, %lld alerts taken in\n", jstr(o, "last_seen"),
           jstr(o, "end")[0] ? jstr(o, "end") : "(open)",
           (long long)json_integer_value(json_object_get(o, "alert_count")));
    print_alert_table("alerts", json_object_get(o, "alerts"));
}

int cmd_incidents(int argc, char **argv)
{
    static const struct option opts[] = {OPTS_DB, FILTER_OPTIONS, OPTS_JSON, OPTS_HELP_END};
    struct filter_args a;
    filter_args_init(&a);
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "h", opts, &a.db, &a.json)) != -1) {
        int r = filter_opt(CMD_INCIDENTS, c, argv, &a, incidents_usage);
        if (r >= 0)
            return r;
    }
    int64_t id = 0;
    if (argc - optind > 1) {
        fprintf(stderr, "tapir incidents: one ID at most\n");
        return TAPIR_EXIT_USAGE;
    }
    if (optind < argc && parse_int_min(argv[optind], 1, &id) < 0) {
        fprintf(stderr, "tapir incidents: bad incident id '%s'\n", argv[optind]);
        return TAPIR_EXIT_USAGE;
    }
    int status;
    store_t *s = opts_store_open(CMD_INCIDENTS, a.db, false, &status);
    if (!s)
        return status;
    json_t *res = NULL;
    int got = id ? store_incident_get(s, id, 0, &res) : store_incidents_list(s, &a.f, &res);
    if (got < 0)
        fprintf(stderr, "tapir incidents: %s\n", store_errmsg(s));
    else if (id)
        print_one(res, a.json, print_incident_detail);
    else
        print_list(res, a.json, print_incident_header, print_incident_row,
                   "tapir incidents: no incidents match");
    json_decref(res);
    store_close(s);
    return output_status(CMD_INCIDENTS, got < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK);
}

#define RULES_DEFAULT_DIR "/etc/tapir/rules"

static void suppressions_usage(FILE *f)
{
    fprintf(f,
            "usage: tapir suppressions [--db FILE] [--rules DIR] [--all] [--json]\n"
            "       tapir suppressions end ID [--db FILE]\n\n"
            "The suppressions in force: the database's (tapir alerts suppress, the API,\n"
            "the dashboard) and the rules directory's static `suppress` file. --all adds\n"
            "the database's expired ones. end ID ends a database suppression now (a\n"
            "running sensor sees it within a second). --db defaults to %s (skipped\n"
            "when it does not exist), --rules to %s.\n",
            STORE_DEFAULT_PATH, RULES_DEFAULT_DIR);
}

/* Appends the static file's entries to arr: {"source":"static", "file", "line",
 * "network", "reason" (its comment), "expires": null, "active": true}. A missing file
 * adds nothing; a bad line is an error (as the sensor would refuse it). */
static int static_suppressions(const char *dir, json_t *arr, char *errbuf)
{
    char path[4096], line[1024];
    snprintf(path, sizeof(path), "%s/suppress", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : (tapir_errf(errbuf, "%s: %s", path, strerror(errno)), -1);
    int n = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        n++;
        char *hash = strchr(line, '#'), *comment = "";
        if (hash) {
            *hash = '\0';
            comment = hash + 1;
            comment += strspn(comment, " \t");
            comment[strcspn(comment, "\r\n")] = '\0';
        }
        char *p = line + strspn(line, " \t\r\n");
        p[strcspn(p, " \t\r\n")] = '\0';
        if (!*p)
            continue;
        struct ip_addr ip;
        unsigned plen;
        char norm[64];
        if (rules_parse_cidr(p, &ip, &plen) < 0) {
            tapir_errf(errbuf, "%s:%d: '%s' is not an IP address or CIDR network", path, n, p);
            rc = -1;
            break;
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:s,s:s,s:n,s:b}", "source", "static",
                                             "file", path, "line", n, "network",
                                             rules_cidr_str(&ip, plen, norm, sizeof(norm)),
                                             "reason", comment, "expires", "active", 1));
    }
    fclose(f);
    return rc;
}

static void print_supp_header(void)
{
    printf("%-8s %-26s %-24s %-16s %s\n", "ID", "NETWORK", "EXPIRES", "BY", "REASON");
}

static void print_supp_row(const json_t *o)
{
    char id[32];
    if (!strcmp(jstr(o, "source"), "static"))
        snprintf(id, sizeof(id), "file:%lld",
                 (long long)json_integer_value(json_object_get(o, "line")));
    else
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(o, "id")));
    printf("%-8s ", id);
    put_clean(stdout, jstr(o, "network"), 26);
    putchar(' ');
    const char *exp = jstr(o, "expires");
    put_clean(stdout, *exp ? exp : "forever", 24);
    if (json_is_false(json_object_get(o, "active")))
        fputs(" (expired)", stdout);
    putchar(' ');
    put_clean(stdout, !strcmp(jstr(o, "source"), "static") ? "rules file" : jstr(o, "created_by"),
              16);
    putchar(' ');
    put_clean(stdout, jstr(o, "reason"), 0);
    putchar('\n');
}

int cmd_suppressions(int argc, char **argv)
{
    static const struct option opts[] = {OPTS_DB,
                                         {"rules", required_argument, NULL, 'r'},
                                         {"all", no_argument, NULL, 'a'},
                                         OPTS_JSON,
                                         OPTS_HELP_END};
    const char *db = NULL, *dir = RULES_DEFAULT_DIR;
    bool json = false, all = false;
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "h", opts, &db, &json)) != -1) {
        if (c == 'r')
            dir = optarg;
        else if (c == 'a')
            all = true;
        else
            return parse_opt_other(c, "tapir suppressions", argv, suppressions_usage);
    }
    char errbuf[TAPIR_ERRBUF_SIZE];
    if (argc - optind == 2 && !strcmp(argv[optind], "end")) {
        int64_t id;
        if (parse_int_min(argv[optind + 1], 1, &id) < 0) {
            fprintf(stderr, "tapir suppressions: bad suppression id '%s'\n", argv[optind + 1]);
            return TAPIR_EXIT_USAGE;
        }
        int status;
        store_t *s =
            opts_store_open("tapir suppressions", db ? db : STORE_DEFAULT_PATH, true, &status);
        if (!s)
            return status;
        int rc = store_suppression_end(s, id, tapir_wall_us());
        if (rc < 0)
            fprintf(stderr, "tapir suppressions: %s\n", store_errmsg(s));
        else
            printf("suppression %lld ended\n", (long long)id);
        store_close(s);
        return rc < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK;
    }
    if (parse_opt_no_operands(argc, argv, "tapir suppressions", suppressions_usage) != 0)
        return TAPIR_EXIT_USAGE;
    json_t *arr = NULL;
    struct stat sb;
    /* An explicit --db must exist; the default is skipped when there is none. */
    if (db || stat(STORE_DEFAULT_PATH, &sb) == 0) {
        int status;
        store_t *s =
            opts_store_open("tapir suppressions", db ? db : STORE_DEFAULT_PATH, false, &status);
        if (!s)
            return status;
        if (store_suppressions_list(s, all, tapir_wall_us(), &arr) < 0) {
            fprintf(stderr, "tapir suppressions: %s\n", store_errmsg(s));
            store_close(s);
            return TAPIR_EXIT_FAIL;
        }
        store_close(s);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) json_object_set_new(o, "source", json_string("db"));
    } else {
        arr = json_array();
    }
    if (static_suppressions(dir, arr, errbuf) < 0) {
        fprintf(stderr, "tapir suppressions: %s\n", errbuf);
        json_decref(arr);
        return TAPIR_EXIT_USAGE;
    }
    print_list(arr, json, print_supp_header, print_supp_row,
               "tapir suppressions: no suppressions in force");
    json_decref(arr);
    return output_status("tapir suppressions", TAPIR_EXIT_OK);
}
