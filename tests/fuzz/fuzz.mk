# fuzz.mk — builds the libFuzzer targets into build-fuzz/ (driven by tests/fuzz/run.sh).
# Every product source except cli/main.c is compiled once with coverage and ASan+UBSan;
# tests/fuzz/run.sh archives the objects that compiled, and each target fuzz_NAME.c links
# against that archive, taking only the objects it needs. A source file another engineer
# is half-way through breaks only the targets that need it.
FUZZ_CC ?= clang
B       := build-fuzz
PKGS    := libpcap libndpi libmaxminddb sqlite3 libevent libevent_pthreads jansson inih zlib \
           libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The product's source lists, one per folder (the Makefile reads the same files).
LAYERS  := common sensor forest output analyzer synth cli
include $(LAYERS:%=%/module.mk)
INC     := $(LAYERS:%=-I%) -Iinclude
FLAGS   := -std=c11 -D_GNU_SOURCE -O1 -g $(SAN) -Wall -Wextra -Wno-unused-function \
           $(INC) $(PKG_CFLAGS) -MMD -MP
SRCS    := $(filter-out cli/main.c,$(COMMON_SRCS) $(SENSOR_SRCS) $(FOREST_SRCS) $(OUTPUT_SRCS) \
             $(ANALYZER_SRCS) $(SYNTH_SRCS) $(CLI_SRCS))
OBJS    := $(SRCS:%.c=$(B)/obj/%.o)
TARGETS := $(patsubst tests/fuzz/%.c,$(B)/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

.PHONY: objs targets srcs
objs: $(OBJS)
srcs:
	@echo $(SRCS)
targets: $(TARGETS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(B)/libtapir-fuzz.a
	$(FUZZ_CC) $(FLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(B)/libtapir-fuzz.a \
	    $(PKG_LIBS) -lpthread -lm

-include $(shell find $(B) -name '*.d' 2>/dev/null)
