/*
 * opts.c — the start of the option loop that `tapir alerts`, `hosts`, `incidents`,
 * `suppressions`, `serve` and `blocklist` share: each takes --db, most take --json, and
 * each had the same two cases at the top of its own getopt_long switch. Here they are
 * taken before the command sees the letter, so a command's switch holds only its own
 * options.
 *
 * Rejected: one table-driven parser for every command (option kinds, ranges and messages
 * as table rows, as cli/config.c does for `tapir run`): the query commands have a handful
 * of options each, mostly checked by other modules' parsers, and a switch per command
 * stays the shortest readable form.
 */
#include <stddef.h>

#include "opts.h"

int opts_store_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                      const char **db, bool *json)
{
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) == 'd' || (c == 'j' && json)) {
        if (c == 'd')
            *db = optarg;
        else
            *json = true;
    }
    return c;
}
