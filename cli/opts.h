/*
 * opts.h — the option-parsing pieces the commands that read the store share (cli/opts.c).
 */
#ifndef TAPIR_CLI_OPTS_H
#define TAPIR_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "store.h"

/* The option-table rows whose letters opts_store_getopt ('d', 'j') and parse_opt_other
 * ('h') take: --db, --json, and --help with the table's terminating row. */
// clang-format off
#define OPTS_DB       {"db", required_argument, NULL, 'd'}
#define OPTS_JSON     {"json", no_argument, NULL, 'j'}
#define OPTS_HELP_END {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
// clang-format on

/* getopt_long over opts for a command that reads the store, taking the options those all
 * have: --db ('d', into *db) and, when json is not NULL, --json ('j', into *json). Returns
 * the next other option's letter (its value in optarg), or -1 at the end. The caller sets
 * optind = 0 before the first call, as for getopt_long. */
int opts_store_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                      const char **db, bool *json);

/* Opens db for cmd ("tapir alerts"): read-only, or (write) for writing when the file
 * exists. NULL after saying why on stderr as "CMD: REASON", *status then the exit status:
 * TAPIR_EXIT_USAGE for a missing file or one that is not a database, TAPIR_EXIT_FAIL for
 * one locked by another writer. */
store_t *opts_store_open(const char *cmd, const char *db, bool write, int *status);

#endif
