/*
 * cli.h — the subcommands of build/tapir. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit status:
 * 0 success, 1 runtime failure, 2 bad usage or bad input (TAPIR_EXIT_*).
 * `tapir synth` lives with its generator: cmd_synth in synth/synth.h.
 */
#ifndef TAPIR_CLI_H
#define TAPIR_CLI_H

int cmd_run(int argc, char **argv);       /* cli/cmd_run.c */
int cmd_train(int argc, char **argv);     /* cli/cmd_run.c */
int cmd_forest(int argc, char **argv);    /* cli/cmd_forest.c */
int cmd_serve(int argc, char **argv);     /* cli/cmd_serve.c */
int cmd_alerts(int argc, char **argv);    /* cli/cmd_query.c */
int cmd_hosts(int argc, char **argv);     /* cli/cmd_query.c */
int cmd_incidents(int argc, char **argv); /* cli/cmd_query.c */
int cmd_blocklist(int argc, char **argv); /* cli/cmd_blocklist.c */
int cmd_model(int argc, char **argv);     /* cli/cmd_model.c */

/* cli/cmd_query.c (issue 11) */
int cmd_suppressions(int argc, char **argv);
int cmd_suppressions(int argc, char **argv); /* cli/cmd_query.c (issue 11) */

#endif
