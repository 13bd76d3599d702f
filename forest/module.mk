# forest/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
FOREST_SRCS := \
    forest/csv.c \
    forest/csv_g17.c \
    forest/iforest.c \
    forest/iforest_fit.c \
    forest/iforest_io.c \
    forest/iforest_score.c \
    forest/model.c \
    forest/workers.c
