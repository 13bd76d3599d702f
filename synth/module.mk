# synth/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
# Bottom up: each file includes only its own header and those of files above it.
SYNTH_SRCS := \
    synth/synth_rng.c \
    synth/synth_proto.c \
    synth/synth_truth.c \
    synth/synth_population.c \
    synth/synth_engine.c \
    synth/synth_conv.c \
    synth/synth_hosts.c \
    synth/synth_attacks.c \
    synth/synth.c \
    synth/synth_cli.c
