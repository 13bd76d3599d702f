/*
 * main.c — `tapir SUBCOMMAND ...`: dispatch to the subcommands in cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "synth.h"
#include "tapir.h"

/* Subcommands not built yet answer with a clear error. The real definitions, in their
 * own files, override these weak ones (build/tapir links objects, not an archive). */
#define PENDING(fn, name)                                                                          \
    __attribute__((weak)) int fn(int argc, char **argv)                                            \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fprintf(stderr, "tapir: %s: not available in this build\n", name);                         \
        return TAPIR_EXIT_FAIL;                                                                    \
    }
PENDING(cmd_run, "run")
PENDING(cmd_train, "train")
PENDING(cmd_forest, "forest")
PENDING(cmd_synth, "synth")
PENDING(cmd_serve, "serve")
PENDING(cmd_alerts, "alerts")
PENDING(cmd_hosts, "hosts")
PENDING(cmd_incidents, "incidents")
PENDING(cmd_suppressions, "suppressions")
PENDING(cmd_blocklist, "blocklist")
PENDING(cmd_model, "model")

struct subcommand {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
};

static const struct subcommand commands[] = {
    {"run", cmd_run, "capture (-i IFACE) or replay (-r FILE...), score and report"},
    {"train", cmd_train, "fit a model on a baseline capture (-r FILE... -o MODEL)"},
    {"forest", cmd_forest, "the Isolation Forest alone on a CSV: forest fit | forest score"},
    {"synth", cmd_synth, "write labeled synthetic traffic (pcap + labels CSV)"},
    {"serve", cmd_serve, "HTTP API and dashboard over a stored database"},
    {"alerts", cmd_alerts, "list, acknowledge, suppress or delete stored alerts"},
    {"hosts", cmd_hosts, "show what is stored about hosts"},
    {"incidents", cmd_incidents, "list stored incidents, or one with its alerts"},
    {"suppressions", cmd_suppressions, "list suppressions (database and rules file)"},
    {"blocklist", cmd_blocklist, "write the blocklist (nft, ipset or plain)"},
    {"model", cmd_model, "model info | model reset"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tapir COMMAND [OPTIONS]\n\n"
               "Tapir " TAPIR_VERSION " — network traffic anomaly sensor.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'tapir COMMAND --help' for a command's options; 'man tapir' for more.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TAPIR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return TAPIR_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("tapir " TAPIR_VERSION "\n");
        return TAPIR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tapir: unknown command '%s'\n", name);
    usage(stderr);
    return TAPIR_EXIT_USAGE;
}
