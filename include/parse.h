/*
 * parse.h — the command line's numbers and getopt_long's leftovers (common/parse.c).
 * Any thread; nothing here allocates.
 */
#ifndef TAPIR_PARSE_H
#define TAPIR_PARSE_H

#include <stdint.h>
#include <stdio.h>

/* s as an unsigned number in base (10, or 0 for C's 0x/0 prefixes): all of s, not empty,
 * not starting with '-', no overflow. 0 with *out set, or -1. Ranges are the caller's. */
int parse_u64(const char *s, int base, uint64_t *out);

/* s as a floating-point number (strtod's syntax): all of s, not empty. 0 with *out set,
 * or -1. Ranges are the caller's: overflow gives +-HUGE_VAL, underflow the nearest
 * value, and NaN passes, so a caller checks with !(lo < x && x <= hi)-style tests. */
int parse_f64(const char *s, double *out);

/* What a getopt_long loop does with a value it has no case for: 'h' prints usage to
 * stdout (exit 0); ':' (optstring starting with ':') says "CMD: OPTION needs a value";
 * anything else says "CMD: unknown option 'OPTION'" unless opterr is set (getopt_long has
 * said it already), then "try 'CMD --help'". Returns the exit status. */
int parse_opt_other(int c, const char *cmd, char *const argv[], void (*usage)(FILE *));

/* "try 'CMD --help'" on stderr: what follows a one-line usage error. */
void parse_opt_try_help(const char *cmd);

/* "CMD: bad OPTION 'VALUE' (WHAT)" on stderr; returns TAPIR_EXIT_USAGE. */
int parse_opt_bad(const char *cmd, const char *option, const char *value, const char *what);

/* After the loop: an operand left over is "CMD: unexpected argument 'ARG'" (then "try
 * 'CMD --help'", if usage is not NULL) and -1; none, 0. */
int parse_opt_no_operands(int argc, char *const argv[], const char *cmd, void (*usage)(FILE *));

#endif
