# cli/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
CLI_SRCS := \
    cli/cmd_blocklist.c \
    cli/cmd_forest.c \
    cli/cmd_model.c \
    cli/cmd_query.c \
    cli/cmd_run.c \
    cli/cmd_serve.c \
    cli/config.c \
    cli/main.c \
    cli/opts.c
