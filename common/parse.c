/*
 * parse.c — the numbers a user types on the command line, and the error handling every
 * command's getopt_long loop shares.
 *
 * The checks are strict and in one place: "--hosts 10x", "" and "-1" are errors, not a
 * prefix parse or strtoull's wrap-around of a negative number. Ranges and messages stay
 * with each command, which knows what its option means; the number parsing had been
 * written five times (tapir forest, synth, blocklist, serve, config), each a little
 * differently. (Rejected: one function taking the range and printing the message —
 * the commands word their messages differently, and the transcripts of today's commands
 * are part of their interface, checked byte for byte by the end-to-end tests.)
 *
 * A usage error is one line saying what is wrong and one pointing at --help, not the
 * whole help (50 lines for `tapir run`, which buried the one that mattered).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "parse.h"
#include "tapir.h"

int parse_u64(const char *s, int base, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

int parse_f64(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_opt_other(int c, const char *cmd, char *const argv[], void (*usage)(FILE *))
{
    if (c == 'h') {
        usage(stdout);
        return TAPIR_EXIT_OK;
    }
    if (c == ':') {
        fprintf(stderr, "%s: %s needs a value\n", cmd, argv[optind - 1]);
        return TAPIR_EXIT_USAGE;
    }
    if (!opterr)
        fprintf(stderr, "%s: unknown option '%s'\n", cmd, argv[optind - 1]);
    parse_opt_try_help(cmd);
    return TAPIR_EXIT_USAGE;
}

void parse_opt_try_help(const char *cmd)
{
    fprintf(stderr, "try '%s --help'\n", cmd);
}

int parse_opt_bad(const char *cmd, const char *option, const char *value, const char *what)
{
    fprintf(stderr, "%s: bad %s '%s' (%s)\n", cmd, option, value, what);
    return TAPIR_EXIT_USAGE;
}

int parse_opt_no_operands(int argc, char *const argv[], const char *cmd, void (*usage)(FILE *))
{
    if (optind >= argc)
        return 0;
    fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
    if (usage)
        parse_opt_try_help(cmd);
    return -1;
}
