/*
 * cmd_blocklist.c — `tapir blocklist`: the command line over output/blocklist.c (build
 * the list from a database, write it), and over the live blocklist of a running
 * `tapir run --blocklist FILE`: `list` reads FILE.state (the bans the sensor holds),
 * `unban IP` appends IP to FILE.unban, which the sensor takes within a second, and
 * waits (up to 3 s) to see it gone from FILE.state. Kept out of the blocklist module so
 * the sink does not depend on the command layer.
 *
 * Without --now, the list from a database is built at the wall clock, unless the newest
 * run stored was a replay: then at the end of the stored data (a replay's alerts are
 * older than the wall clock's 24 h, and the list came out empty with no hint). Either
 * way the time used goes to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "cli.h"
#include "opts.h"
#include "parse.h"

#define CMD "tapir blocklist"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tapir blocklist [--db FILE] [--format nft|ipset|plain] [-o FILE]\n"
            "                       [--min-score S] [--expire SECONDS] [--allowlist FILE]\n"
            "                       [--now TIME]\n"
            "       tapir blocklist list [--file FILE]\n"
            "       tapir blocklist unban IP[/LEN] [--file FILE]\n\n"
            "Writes every IP or prefix alerted on in the last SECONDS (default %d) as a\n"
            "blocklist, never listing a network of the allowlist (default %s,\n"
            "if present). -o replaces FILE atomically; without it the list goes to stdout.\n"
            "--db defaults to %s. TIME is ISO-8601 or unix seconds (default: now, or\n"
            "the end of the stored data when the newest run was a replay).\n\n"
            "list: the live blocklist's active bans (tapir run --blocklist FILE; default\n"
            "%s). unban: lifts a ban in the running sensor within a second\n"
            "(it is not banned again for one --blocklist-ttl).\n",
            BLOCKLIST_DEFAULT_EXPIRE_S, BLOCKLIST_DEFAULT_ALLOWLIST, STORE_DEFAULT_PATH,
            BLOCKLIST_DEFAULT_LIVE);
}

/* FILE.state's entries: "KIND CIDR EXPIRES_US FIRST_US SCORE" after a header that gives
 * the clock. Calls fn for each; returns the count, or -1 (said on stderr). */
struct state_line {
    char kind[16], cidr[64];
    uint64_t expires_us, first_us;
    double score;
};

static int read_state(const char *file, char clock[16], uint64_t *state_now,
                      int (*fn)(void *ctx, const struct state_line *e), void *ctx)
{
    char path[4096], line[256];
    snprintf(path, sizeof(path), "%s%s", file, BLOCKLIST_STATE_SUFFIX);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, CMD ": cannot read %s: %s (is tapir run --blocklist %s running?)\n", path,
                strerror(errno), file);
        return -1;
    }
    int n = 0;
    snprintf(clock, 16, "wall");
    *state_now = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#') {
            char ck[16];
            uint64_t t;
            if (sscanf(line, "# tapir blocklist state v1 table %*s clock %15s now_us %" SCNu64, ck,
                       &t) == 2) {
                snprintf(clock, 16, "%s", ck);
                *state_now = t;
            }
            continue;
        }
        struct state_line e;
        if (sscanf(line, "%15s %63s %" SCNu64 " %" SCNu64 " %lf", e.kind, e.cidr, &e.expires_us,
                   &e.first_us, &e.score) != 5)
            continue;
        n++;
        if (fn && fn(ctx, &e) < 0)
            break;
    }
    fclose(f);
    return n;
}

struct list_ctx {
    uint64_t now_us;
};

static int print_entry(void *ctx, const struct state_line *e)
{
    const struct list_ctx *c = ctx;
    char since[32], until[32];
    if (!strcmp(e->kind, "deny")) {
        printf("%-40s %-10s %-24s %-24s %s\n", e->cidr, e->kind, "-", "never", "-");
        return 0;
    }
    uint64_t left = e->expires_us > c->now_us ? (e->expires_us - c->now_us + 999999) / 1000000 : 0;
    printf("%-40s %-10s %-24s %-24s %" PRIu64 "\n", e->cidr, e->kind,
           tapir_iso8601(e->first_us, since, sizeof(since)),
           tapir_iso8601(e->expires_us, until, sizeof(until)), left);
    return 0;
}

static int live_list(const char *file)
{
    char clock[16];
    uint64_t state_now;
    struct list_ctx c = {tapir_wall_us()};
    if (read_state(file, clock, &state_now, NULL, NULL) < 0)
        return TAPIR_EXIT_FAIL;
    if (!strcmp(clock, "packet")) { /* a replay's file: its own end, not the wall clock */
        c.now_us = state_now;
        char iso[32];
        fprintf(stderr, CMD ": %s was written by a replay; times are packet times, now = %s\n",
                file, tapir_iso8601(state_now, iso, sizeof(iso)));
    }
    printf("%-40s %-10s %-24s %-24s %s\n", "network", "kind", "banned", "until", "seconds_left");
    int n = read_state(file, clock, &state_now, print_entry, &c);
    return n < 0 ? TAPIR_EXIT_FAIL : TAPIR_EXIT_OK;
}

struct find_ctx {
    const char *cidr;
    bool found;
};

static int find_entry(void *ctx, const struct state_line *e)
{
    struct find_ctx *c = ctx;
    if (strcmp(e->kind, "deny") != 0 && !strcmp(e->cidr, c->cidr))
        c->found = true;
    return 0;
}

static int live_unban(const char *file, const char *what)
{
    struct ip_addr ip;
    unsigned plen;
    if (rules_parse_cidr(what, &ip, &plen) < 0)
        return parse_opt_bad(CMD " unban", "IP", what, "an address or CIDR");
    char cidr[64], path[4096];
    rules_cidr_str(&ip, plen, cidr, sizeof(cidr));
    snprintf(path, sizeof(path), "%s%s", file, BLOCKLIST_UNBAN_SUFFIX);
    /* 0644: the sensor's user reads a request root wrote (an address is no secret). */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    char line[80];
    int len = snprintf(line, sizeof(line), "%s\n", cidr);
    if (fd < 0 || write(fd, line, (size_t)len) != len) {
        fprintf(stderr, CMD ": cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return TAPIR_EXIT_FAIL;
    }
    close(fd);
    /* The sensor takes it within a second; confirm from FILE.state. */
    char clock[16];
    uint64_t state_now;
    struct find_ctx before = {cidr, false};
    read_state(file, clock, &state_now, find_entry, &before);
    for (int i = 0; i < 30; i++) {
        struct find_ctx c = {cidr, false};
        usleep(100000);
        if (access(path, F_OK) == 0)
            continue; /* not taken yet */
        if (read_state(file, clock, &state_now, find_entry, &c) >= 0 && !c.found) {
            fprintf(stderr, CMD ": %s %s\n", cidr,
                    before.found ? "unbanned"
                                 : "was not banned; the sensor will not ban it for one TTL");
            return TAPIR_EXIT_OK;
        }
    }
    fprintf(stderr,
            CMD ": asked to unban %s (%s); no running sensor confirmed it within 3 s (is tapir "
                "run --blocklist %s running?)\n",
            cidr, path, file);
    return TAPIR_EXIT_FAIL;
}

/* list / unban: the running sensor's live blocklist. */
static int live_command(int argc, char **argv)
{
    static const struct option opts[] = {{"file", required_argument, NULL, 'f'}, OPTS_HELP_END};
    const char *file = BLOCKLIST_DEFAULT_LIVE;
    bool unban = !strcmp(argv[1], "unban");
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            file = optarg;
        else
            return parse_opt_other(c, CMD, argv, usage);
    }
    if (unban) {
        if (optind + 1 != argc) {
            fprintf(stderr, CMD ": unban takes one IP or CIDR\n");
            usage(stderr);
            return TAPIR_EXIT_USAGE;
        }
        return live_unban(file, argv[optind]);
    }
    if (optind != argc) {
        fprintf(stderr, CMD ": list takes no operand\n");
        return TAPIR_EXIT_USAGE;
    }
    return live_list(file);
}

int cmd_blocklist(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "list") || !strcmp(argv[1], "unban")))
        return live_command(argc, argv);
    static const struct option opts[] = {OPTS_DB,
                                         {"format", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"min-score", required_argument, NULL, 's'},
                                         {"expire", required_argument, NULL, 'e'},
                                         {"allowlist", required_argument, NULL, 'a'},
                                         {"now", required_argument, NULL, 'n'},
                                         OPTS_HELP_END};
    const char *db = STORE_DEFAULT_PATH, *out = "-", *allow_path = NULL;
    enum blocklist_format fmt = BLOCKLIST_NFT;
    double min_score = 0;
    uint64_t expire_s = BLOCKLIST_DEFAULT_EXPIRE_S, now_us = tapir_wall_us();
    bool now_given = false;
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "o:h", opts, &db, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (blocklist_parse_format(optarg, &fmt) < 0)
                return parse_opt_bad(CMD, "--format", optarg, "nft, ipset or plain");
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            if (parse_f64(optarg, &min_score) < 0 || !(min_score >= 0 && min_score <= 1))
                return parse_opt_bad(CMD, "--min-score", optarg, "0 to 1");
            break;
        case 'e':
            if (parse_u64(optarg, 10, &expire_s) < 0 || expire_s == 0 ||
                expire_s > 100ull * 365 * 86400)
                return parse_opt_bad(CMD, "--expire", optarg, "seconds, > 0");
            break;
        case 'a':
            allow_path = optarg;
            break;
        case 'n':
            if (tapir_parse_time(optarg, &now_us) < 0)
                return parse_opt_bad(CMD, "--now", optarg, "ISO-8601 or unix seconds");
            now_given = true;
            break;
        default:
            return parse_opt_other(c, CMD, argv, usage);
        }
    }
    if (parse_opt_no_operands(argc, argv, CMD, usage) < 0)
        return TAPIR_EXIT_USAGE;

    char errbuf[TAPIR_ERRBUF_SIZE];
    rules_t *rules = rules_create();
    if (!rules) {
        fprintf(stderr, "tapir blocklist: out of memory\n");
        return TAPIR_EXIT_FAIL;
    }
    bool missing_ok = allow_path == NULL;
    if (rules_load_file(rules, RULES_ALLOW, allow_path ? allow_path : BLOCKLIST_DEFAULT_ALLOWLIST,
                        missing_ok, errbuf) < 0) {
        fprintf(stderr, "tapir blocklist: %s\n", errbuf);
        rules_destroy(rules);
        return TAPIR_EXIT_USAGE;
    }
    int status;
    store_t *s = opts_store_open("tapir blocklist", db, false, &status);
    if (!s) {
        rules_destroy(rules);
        return status;
    }
    if (!now_given) {
        uint64_t end_us = 0;
        bool replay = false;
        char iso[32];
        if (blocklist_data_end(s, &end_us, &replay, errbuf) < 0) {
            fprintf(stderr, "tapir blocklist: %s\n", errbuf);
        } else if (replay && end_us) {
            now_us = end_us;
            fprintf(stderr,
                    "tapir blocklist: the newest run was a replay: time %s, the end of the "
                    "stored data (--now to choose)\n",
                    tapir_iso8601(now_us, iso, sizeof(iso)));
        } else {
            fprintf(stderr, "tapir blocklist: time %s, the wall clock (--now to choose)\n",
                    tapir_iso8601(now_us, iso, sizeof(iso)));
        }
    }
    struct blocklist b = {0};
    int rc = TAPIR_EXIT_OK;
    if (blocklist_build(&b, s, rules, min_score, expire_s, now_us, errbuf) < 0 ||
        blocklist_write(&b, fmt, out, now_us, expire_s, errbuf) < 0) {
        fprintf(stderr, "tapir blocklist: %s\n", errbuf);
        rc = TAPIR_EXIT_FAIL;
    } else if (strcmp(out, "-") != 0) {
        fprintf(stderr,
                "tapir blocklist: wrote %zu entries to %s (%zu left out as allowlisted, %zu "
                "folded into a flagged prefix)\n",
                b.n, out, b.dropped_allowlisted, b.merged);
    }
    blocklist_free(&b);
    store_close(s);
    rules_destroy(rules);
    return rc;
}
