# common/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
COMMON_SRCS := \
    common/geo.c \
    common/log.c \
    common/notify.c \
    common/parse.c \
    common/rules.c \
    common/sketch.c \
    common/table.c \
    common/timeutil.c \
    common/util.c
