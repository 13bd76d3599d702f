#!/bin/sh
# tests/fuzz/run.sh SECONDS [TARGET...] — builds every libFuzzer target (tests/fuzz/fuzz_*.c)
# with clang into build-fuzz/, fuzzes each for SECONDS (two at a time on two cores), then
# replays every regression input (tests/fuzz/regress/NAME/*) and seed (corpus/NAME/*) once.
# SECONDS=0 only builds and replays. Exit 0 when nothing crashed, 1 otherwise; crashing
# inputs are left in build-fuzz/crashes/NAME/ — copy them to tests/fuzz/regress/NAME/ once
# the bug is fixed. One summary line per target: runs, runs/s, coverage, new corpus units.
#
# Adding a target (the HTTP request handlers are next): write tests/fuzz/fuzz_NAME.c with
# LLVMFuzzerTestOneInput, put a few seed inputs in tests/fuzz/corpus/NAME/, optionally a
# dictionary tests/fuzz/NAME.dict and a max input length below. Nothing else to register.
set -u
secs=${1:-60}
shift 2>/dev/null
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=build-fuzz
jobs=${FUZZ_JOBS:-2}
# Logs of this invocation only: `make check` may run the smoke test while a long `make
# fuzz` is going on. Kept when something failed, removed otherwise.
L="$B/logs/run-$$"
mkdir -p "$L"

command -v clang >/dev/null 2>&1 || { echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev)"; exit 77; }

# --- build -----------------------------------------------------------------------------
mkdir -p "$B"
make -s -k -f tests/fuzz/fuzz.mk -j2 objs >"$B/build.log" 2>&1 ||
  echo "fuzz: some sources did not compile (see $B/build.log); targets that need them will fail"
: >"$B/objs.list.new"
for src in $(make -s -f tests/fuzz/fuzz.mk srcs); do
  obj="$B/obj/${src%.c}.o"
  [ -f "$obj" ] && [ "$obj" -nt "$src" ] && echo "$obj" >>"$B/objs.list.new"
done
rebuild=0
[ -f "$B/libtapir-fuzz.a" ] || rebuild=1
cmp -s "$B/objs.list.new" "$B/objs.list" 2>/dev/null || rebuild=1
for o in $(cat "$B/objs.list.new"); do [ "$o" -nt "$B/libtapir-fuzz.a" ] && rebuild=1; done
if [ $rebuild = 1 ]; then
  rm -f "$B/libtapir-fuzz.a"
  # shellcheck disable=SC2046
  ar rcs "$B/libtapir-fuzz.a" $(cat "$B/objs.list.new")
  mv "$B/objs.list.new" "$B/objs.list"
fi
make -s -k -f tests/fuzz/fuzz.mk -j2 targets >>"$B/build.log" 2>&1

if [ $# -gt 0 ]; then names="$*"; else
  names=$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')
fi

maxlen() {
  case "$1" in
    decode) echo 4096 ;; rules | config) echo 8192 ;; *) echo 65536 ;;
  esac
}

# --- fuzz ------------------------------------------------------------------------------
fuzz_one() { # name
  n=$1 bin="$B/fuzz_$1" log="$L/$1.log"
  work="$B/corpus/$n"
  mkdir -p "$work" "$B/crashes/$n" "tests/fuzz/corpus/$n"
  dict=""
  [ -f "tests/fuzz/$n.dict" ] && dict="-dict=tests/fuzz/$n.dict"
  # New units go to the work corpus (build-fuzz/), seeds are read from the committed one.
  # shellcheck disable=SC2086
  timeout $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(maxlen "$n")" -print_final_stats=1 $dict \
    -artifact_prefix="$B/crashes/$n/" "$work" "tests/fuzz/corpus/$n" >"$log" 2>&1
  echo $? >"$L/$n.rc"
}

status=0
if [ "$secs" -gt 0 ]; then
  running=0
  for n in $names; do
    if [ ! -x "$B/fuzz_$n" ]; then
      echo "FAIL  fuzz_$n: did not build (see $B/build.log)"; status=1; continue
    fi
    fuzz_one "$n" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then wait; running=0; fi
  done
  wait
  for n in $names; do
    [ -f "$L/$n.rc" ] || continue
    rc=$(cat "$L/$n.rc")
    log="$L/$n.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
      echo "ok    fuzz_$n: ${runs:-?} runs in ${secs}s (${rate:-?}/s), coverage ${cov:-?} edges, ${new:-0} new units"
    else
      echo "FAIL  fuzz_$n: exit $rc after ${runs:-?} runs; crash input in $B/crashes/$n/; last lines of $log:"
      grep -a -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$log" | head -n 12 | sed 's/^/      /'
      status=1
    fi
  done
fi

# --- replay ----------------------------------------------------------------------------
for n in $names; do
  [ -x "$B/fuzz_$n" ] || { [ "$secs" -gt 0 ] || { echo "FAIL  fuzz_$n: did not build"; status=1; }; continue; }
  for dir in "tests/fuzz/regress/$n" "tests/fuzz/corpus/$n"; do
    [ -d "$dir" ] || continue
    files=$(find "$dir" -type f | sort)
    [ -n "$files" ] || continue
    cnt=$(echo "$files" | wc -l)
    # shellcheck disable=SC2086
    if "$B/fuzz_$n" -runs=1 $files >"$L/$n.replay.log" 2>&1; then
      echo "ok    fuzz_$n: $cnt inputs of $dir replayed"
    else
      echo "FAIL  fuzz_$n: replaying $dir; last lines of $L/$n.replay.log:"
      tail -n 15 "$L/$n.replay.log" | sed 's/^/      /'
      status=1
    fi
  done
done
[ $status -eq 0 ] && rm -rf "$L"
exit $status
