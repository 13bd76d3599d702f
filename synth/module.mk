# synth/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
SYNTH_SRCS := \
    synth/synth.c \
    synth/synth_proto.c \
    synth/synth_truth.c
