#!/bin/sh
# Runs every test against one build directory: the unit binaries (BUILD/tests/test_*),
# then the end-to-end scripts (tests/e2e/*.sh). An e2e script exits 0 to pass, 77 to
# skip (saying why), anything else to fail. Ends with "N passed, N failed, N skipped".
# Usage: tests/run.sh BUILD_DIR [PATTERN]
set -u
build=${1:-build}
pattern=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export TAPIR="$top/$build/tapir"
export TAPIR_BUILD="$top/$build"
export TAPIR_TOP="$top"
if [ -d "$top/../shared" ]; then export TAPIR_SHARED="$top/../shared"; else export TAPIR_SHARED=""; fi
case "$build" in *san*) export TAPIR_SAN=1 ;; *) export TAPIR_SAN=0 ;; esac
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

pass=0 fail=0 skip=0 failed=""
logdir="$top/$build/test-logs"
mkdir -p "$logdir"

run_one() { # name command...
  name=$1; shift
  case "$name" in *"$pattern"*) ;; *) return ;; esac
  log="$logdir/$(echo "$name" | tr / _).log"
  start=$(date +%s)
  timeout 600 "$@" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "PASS  $name (${secs}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$log")"
  else
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL  $name (exit $rc, ${secs}s); last lines of $log:"
    tail -n 25 "$log" | sed 's/^/      /'
  fi
}

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  run_one "unit/$(basename "$t")" "$t"
done
for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  [ "$(basename "$t")" = lib.sh ] && continue # helpers the scripts source
  run_one "e2e/$(basename "$t" .sh)" sh "$t"
done

[ -n "$failed" ] && echo "failed:$failed"
echo "$build: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
