/*
 * config.h — the options of `tapir run` and `tapir train`: one table in config.c names
 * each option once (long name = config-file key, kind, range, the field it sets, whether
 * SIGHUP re-reads it, its help line), and the command line (getopt_long), the INI file
 * (--config, parsed by inih) and the SIGHUP re-read all go through it. Command-line
 * options win over the file, on start and on every reload.
 *
 * A struct config is a plain value owned by the caller (cmd_run.c keeps it on its
 * stack for the whole run); the functions here run on the main thread, except
 * config_reload, which the analyzer thread calls.
 */
#ifndef TAPIR_CONFIG_H
#define TAPIR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "analyzer.h"
#include "blocklist.h"
#include "capture.h"
#include "sensor.h"

#define CONFIG_MAX_FILES   1024 /* -r FILE given */
#define CONFIG_MAX_GEO     8    /* --geoip databases */
#define CONFIG_MAX_STRINGS 256  /* settings of one config file */
#define CONFIG_MAX_OPTIONS 128  /* rows of the option table (config.c checks it) */

struct config {
    /* What the options set in the three parts' own configs. Filled further by cmd_run.c
     * (files, filter, geolocation, outputs) before they are handed over. */
    struct capture_config cap;
    struct sensor_config sen;
    struct analyzer_config ana;
    struct output_config out;   /* where results go (output.h) */
    struct blocklist_config bl; /* --blocklist* (output/blocklist.h); out.blocklist points here */
    /* Options that are not a field of those. */
    const char *files[CONFIG_MAX_FILES]; /* -r, in order; borrowed from argv or strings[] */
    int n_files;
    const char *geo[CONFIG_MAX_GEO]; /* --geoip .mmdb paths */
    int n_geo;
    char bpf[4096];              /* --bpf and the words after the options, "" for none */
    const char *flow_log;        /* --flow-log CSV path, or NULL */
    int dpi_thread;              /* --dpi-thread: -1 auto, 0 off, 1 on */
    const char *hosts_csv;       /* --hosts-csv path, or NULL */
    const char *scores_csv;      /* --scores-csv path, or NULL */
    const char *vectors_csv;     /* --vectors-csv path, or NULL */
    const char *output;          /* train -o: where the model goes */
    const char *http_listen;     /* --http ADDR:PORT, or NULL */
    double http_rate;            /* --http-rate, requests/s per client (0: the server's default) */
    const char *http_token_file; /* --http-token-file, or NULL */
    char http_token[320];        /* the token read from it (cmd_run.c) */
    const char *home_net;        /* --home-net list, or NULL: RULES_HOME_NET_DEFAULT */
    const char *sensor_name;     /* --sensor NAME, or NULL: the host name */
    bool seed_set;               /* --seed given: else the table seed is random */
    bool quiet;                  /* -q */
    bool train;                  /* `tapir train` (its usage line and checks) */
    /* Book-keeping. */
    char *strings[CONFIG_MAX_STRINGS]; /* config-file values, owned: config_free */
    int n_strings;
    const char *config_path;         /* --config, re-read on SIGHUP */
    bool on_cli[CONFIG_MAX_OPTIONS]; /* by table row: given on the command line, so the
                                        file does not override it, on reload either */
    struct config *reloaded;         /* the SIGHUPs' settings, newest first, each owned
                                        with its strings until config_free (they back
                                        the analyzer's running settings) */
    /* By table row: what the config file said (a repeated key's values joined by '\n'),
     * owned, NULL when absent. SIGHUP compares the options it cannot reload with these. */
    char *file_value[CONFIG_MAX_OPTIONS];
};

/* Defaults: the capture's (promiscuous, 262144-byte snaplen, 64 MiB buffer, progress
 * line), the sensor's and the analyzer's own, nDPI thread auto. */
void config_init(struct config *c, bool train);

/* The command line (argv[0] is the subcommand): the --config file first, then the
 * options, then the words after them as a BPF expression (tcpdump's way); checks that
 * there is one source (and for train an output); draws a random table seed unless
 * --seed. Returns 0 to go on, 1 when --help was printed (exit 0), -1 when something was
 * wrong, already said on stderr with the usage where it helps (exit 2). Strings from
 * argv are borrowed: argv must outlive c. */
int config_parse_args(struct config *c, int argc, char **argv);

/* Applies an INI file's `key = value` lines (keys are the long option names; flags take
 * true/false). Returns 0, or -1 with errbuf ("FILE:LINE: ...") set. */
int config_load_file(struct config *c, const char *path, char *errbuf);

/* SIGHUP, on the analyzer thread (struct analyzer_config's reload_config; ctx is the
 * running struct config): re-reads the config file onto *fresh, a copy of the running
 * analyzer settings, changing only what may change while running (the judgement: model,
 * rules, threshold...) and was not given on the command line. Each other option (not
 * on the command line) whose value in the file differs from the one read at start gets
 * one warning line, "window changed in FILE: needs a restart". Returns 0, or -1 with
 * errbuf set and *fresh untouched. Every reload's strings stay until config_free. */
int config_reload(void *ctx, struct analyzer_config *fresh, char *errbuf);

/* Frees what the config file and SIGHUP left (not c itself); c's strings die with it. */
void config_free(struct config *c);

#endif
