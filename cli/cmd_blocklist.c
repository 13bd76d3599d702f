/*
 * cmd_blocklist.c — `tapir blocklist`: the command line over output/blocklist.c (build
 * the list from a database, write it). Kept out of the blocklist module so the sink does
 * not depend on the command layer; the live blocklist of `tapir run` uses the same
 * module without this file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocklist.h"
#include "cli.h"
#include "parse.h"

#define CMD "tapir blocklist"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tapir blocklist [--db FILE] [--format nft|ipset|plain] [-o FILE]\n"
            "                       [--min-score S] [--expire SECONDS] [--allowlist FILE]\n"
            "                       [--now TIME]\n\n"
            "Writes every IP or prefix alerted on in the last SECONDS (default %d) as a\n"
            "blocklist, never listing a network of the allowlist (default %s,\n"
            "if present). -o replaces FILE atomically; without it the list goes to stdout.\n"
            "--db defaults to %s. TIME is ISO-8601 or unix seconds (default: now).\n",
            BLOCKLIST_DEFAULT_EXPIRE_S, BLOCKLIST_DEFAULT_ALLOWLIST, STORE_DEFAULT_PATH);
}

int cmd_blocklist(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"min-score", required_argument, NULL, 's'},
                                         {"expire", required_argument, NULL, 'e'},
                                         {"allowlist", required_argument, NULL, 'a'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *db = STORE_DEFAULT_PATH, *out = "-", *allow_path = NULL;
    enum blocklist_format fmt = BLOCKLIST_NFT;
    double min_score = 0;
    uint64_t expire_s = BLOCKLIST_DEFAULT_EXPIRE_S, now_us = tapir_wall_us();
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
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
    store_t *s = store_open_readonly(db, errbuf);
    if (!s) {
        fprintf(stderr, "tapir blocklist: %s\n", errbuf);
        rules_destroy(rules);
        return TAPIR_EXIT_FAIL;
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
