# Tapir — one non-recursive Makefile. `make` builds build/tapir; `make SAN=1` builds
# build-san/tapir with AddressSanitizer + UndefinedBehaviorSanitizer.
# The folders are the pipeline (docs/architecture.md): common/ <- sensor/, forest/,
# output/ <- analyzer/ <- cli/, and synth/ beside the sensor. Each folder lists its sources
# in FOLDER/module.mk and is compiled with the include paths of what it may use, so a
# file cannot reach another layer's private headers; tools/check_layers.sh checks the
# shared contracts in include/ the same way (part of `make test`).
# tests/unit/test_*.c each become one test binary linked against the same objects.

CC      ?= gcc
PREFIX  ?= /usr/local
# Not under PREFIX: the unit reads /etc/tapir/tapir.conf.
SYSCONFDIR ?= /etc
PKGS    := libpcap libndpi libmaxminddb sqlite3 libevent libevent_pthreads jansson inih zlib \
           libcurl libcrypto

ifeq ($(SAN),1)
BUILD   := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1
else
BUILD   := build
SANFLAGS :=
OPT     := -O2
endif

# nDPI's headers are not warning-clean under our flags: include them as system headers.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
# libcurl is opened with dlopen by the notifiers when one starts (output/curl_dl.c), not
# linked: it and the 27 libraries it needs cost every tapir process ~5 ms at start.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wvla -Werror
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm

LAYERS    := common sensor forest output analyzer synth cli
include $(LAYERS:%=%/module.mk)
# What each folder may include (its own folder first). Tests and tools see everything.
INC_common   := -Icommon -Iinclude
INC_sensor   := -Isensor -Icommon -Iinclude
INC_forest   := -Iforest -Icommon -Iinclude
INC_output   := -Ioutput -Icommon -Iinclude
INC_analyzer := -Ianalyzer -Ioutput -Iforest -Icommon -Iinclude
INC_synth    := -Isynth -Isensor -Icommon -Iinclude
INC_cli      := -Icli -Ianalyzer -Ioutput -Iforest -Isynth -Isensor -Icommon -Iinclude
INC_ALL      := $(INC_cli)

SRCS      := $(COMMON_SRCS) $(SENSOR_SRCS) $(FOREST_SRCS) $(OUTPUT_SRCS) $(ANALYZER_SRCS) \
             $(SYNTH_SRCS) $(CLI_SRCS)
MAIN_SRC  := cli/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(sort $(wildcard tools/*.c))
TOOL_BINS := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)

.PHONY: all setup setup-test demo test test-build check eval pcaps bench fuzz install \
        clean format golden lab

all: $(BUILD)/tapir

$(BUILD)/tapir: $(MAIN_OBJ) $(LIB_OBJS)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libtapir.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(foreach l,$(LAYERS),$(eval $(BUILD)/obj/$(l)/%.o: LAYER_INC := $(INC_$(l))))
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LAYER_INC) -c -o $@ $<

# The dashboard's files and Chart.js (Debian's libjs-chart.js) are copied into the
# binary by the assembler's .incbin (output/dashboard.c): the object depends on them.
CHARTJS ?= /usr/share/javascript/chart.js/chart.min.js
$(BUILD)/obj/output/dashboard.o: ALL_CFLAGS += -DTAPIR_CHARTJS='"$(CHARTJS)"' \
	-DTAPIR_STATIC_DIR='"$(CURDIR)/output/static"'
$(BUILD)/obj/output/dashboard.o: $(CHARTJS) $(wildcard output/static/*)
$(CHARTJS):
	@echo "$@ is missing: install Debian's libjs-chart.js (make setup)" >&2; exit 1

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtapir.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) -Itests/unit -o $@ $< $(BUILD)/libtapir.a $(LDLIBS)

$(BUILD)/tools/%: tools/%.c $(BUILD)/libtapir.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) -o $@ $< $(BUILD)/libtapir.a $(LDLIBS)

test-build: $(BUILD)/tapir $(TEST_BINS) $(TOOL_BINS)

setup:
	@sh tools/setup.sh build

setup-test:
	@sh tools/setup.sh test

# Every test, normally and under ASan+UBSan. One summary line per pass.
test: setup-test
	$(MAKE) test-build
	sh tests/run.sh build
	$(MAKE) SAN=1 test-build
	sh tests/run.sh build-san

# Only the normal build's tests (quick loop while developing).
check: test-build
	sh tests/run.sh $(BUILD)

demo: setup
	$(MAKE) all
	sh tools/demo.sh $(BUILD)

# Rewrite tests/golden/ (what tests/e2e/golden.sh expects) with this build; only for an
# intended change of behaviour, committed with the reason.
golden: setup
	$(MAKE) all
	sh tools/golden.sh $(BUILD)

# The real-tools lab (root): regenerates pcaps/lab/ (lab/README.md).
lab: setup
	$(MAKE) all
	sh lab/run.sh pcaps/lab

PCAP   ?= pcaps/mixed.pcap
LABELS ?= pcaps/mixed.labels.csv
eval: setup
	$(MAKE) all
	sh tools/eval.sh $(BUILD) $(PCAP) $(LABELS)

pcaps: setup
	$(MAKE) all
	sh tools/make_pcaps.sh $(BUILD)

bench: setup-test
	$(MAKE) all
	sh bench/replay.sh
	sh bench/iforest.sh

fuzz: setup-test
	sh tests/fuzz/run.sh $(or $(FUZZ_SECONDS),300)

install: all
	install -D -m 0755 $(BUILD)/tapir $(DESTDIR)$(PREFIX)/bin/tapir
	install -D -m 0644 docs/tapir.1 $(DESTDIR)$(PREFIX)/share/man/man1/tapir.1
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|^ExecStart=/usr/bin/tapir |ExecStart=$(PREFIX)/bin/tapir |' systemd/tapir@.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/tapir@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/tapir@.service
	install -m 0644 systemd/tapir-blocklist@.path systemd/tapir-blocklist@.service \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -d $(DESTDIR)$(PREFIX)/share/tapir/rules
	install -m 0644 rules/* $(DESTDIR)$(PREFIX)/share/tapir/rules/
	install -d $(DESTDIR)$(SYSCONFDIR)/tapir/rules
	for f in rules/*; do t=$(DESTDIR)$(SYSCONFDIR)/tapir/rules/$${f##*/}; \
	    test -e "$$t" || install -m 0644 "$$f" "$$t" || exit 1; done
	install -D -m 0644 etc/tapir.conf $(DESTDIR)$(PREFIX)/share/tapir/tapir.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/tapir/tapir.conf || \
	    install -D -m 0644 etc/tapir.conf $(DESTDIR)$(SYSCONFDIR)/tapir/tapir.conf

format:
	clang-format -i $(SRCS) $(wildcard include/*.h $(LAYERS:%=%/*.h)) $(TEST_SRCS) $(TOOL_SRCS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san -name '*.d' 2>/dev/null)
