/*
 * opts.c — the start of the option loop that `tapir alerts`, `hosts`, `incidents`,
 * `suppressions`, `serve` and `blocklist` share: each takes --db, most take --json, and
 * each had the same two cases at the top of its own getopt_long switch. Here they are
 * taken before the command sees the letter, so a command's switch holds only its own
 * options. opts_store_open then opens the database for all of them, so that each says
 * the same of a missing one (bad input, 2) or one locked by a writer (a failure, 1).
 *
 * Rejected: one table-driven parser for every command (option kinds, ranges and messages
 * as table rows, as cli/config.c does for `tapir run`): the query commands have a handful
 * of options each, mostly checked by other modules' parsers, and a switch per command
 * stays the shortest readable form.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "opts.h"
#include "tapir.h"

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

store_t *opts_store_open(const char *cmd, const char *db, bool write, int *status)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    struct stat sb;
    store_t *s = NULL;
    /* For writing, only a database that exists: ack on a mistyped path must not create an
     * empty one. */
    if (write && stat(db, &sb) < 0)
        tapir_errf(errbuf, "cannot open %s: %s", db, strerror(errno));
    else
        s = write ? store_open(db, errbuf) : store_open_readonly(db, errbuf);
    if (!s) {
        fprintf(stderr, "%s: %s\n", cmd, errbuf);
        /* A missing file or one that is not a database is bad input; another writer
         * holding the lock past the busy timeout is a runtime failure a retry may cure. */
        *status = strstr(errbuf, "locked by another writer") ? TAPIR_EXIT_FAIL : TAPIR_EXIT_USAGE;
    }
    return s;
}
