# analyzer/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
ANALYZER_SRCS := \
    analyzer/analyzer.c \
    analyzer/baseline.c \
    analyzer/conv.c \
    analyzer/conv_learn.c \
    analyzer/behaviour.c \
    analyzer/category.c \
    analyzer/direction.c \
    analyzer/explain.c \
    analyzer/flowidx.c \
    analyzer/incident.c \
    analyzer/judge.c \
    analyzer/rate_alert.c \
    analyzer/score.c \
    analyzer/train.c
