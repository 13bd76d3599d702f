#!/bin/sh
# Every libFuzzer target (tests/fuzz/fuzz_*.c) for a short bounded time, then every
# regression input and seed replayed: tests/fuzz/run.sh with FUZZ_SMOKE_SECONDS (12 s
# default) per target, two targets at a time. Runs in the normal pass only: the fuzz
# builds carry their own ASan+UBSan, so the sanitizer pass would repeat the same work.
# Env: TAPIR_TOP, TAPIR_SAN. Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR_TOP:?}"
if [ "${TAPIR_SAN:-0}" = 1 ]; then
  echo "fuzzers carry their own sanitizers: run in the normal pass only"; exit 77
fi
command -v clang >/dev/null 2>&1 || { echo "clang not installed (tools/setup.sh test)"; exit 77; }
# libFuzzer's runtime comes with libclang-rt-14-dev; without it the link fails.
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
  clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null ||
  { echo "clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)"; exit 77; }
sh "$TAPIR_TOP/tests/fuzz/run.sh" "${FUZZ_SMOKE_SECONDS:-12}"
