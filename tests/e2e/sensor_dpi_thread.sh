#!/bin/sh
# nDPI on its own thread (--dpi-thread on) gives the same windows as nDPI on the capture
# thread: identical feature vectors (L7 counts included), scores, alerts and summary
# counts, with the default pool and with a pool so small that flows find it empty, and
# with 10 s windows (many hand-offs through the worker); then the same per-host counts
# on the real captures of ../shared/pcaps-public (when present). --flow-log with the
# thread forced on is refused (exit 2).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
mixed=$TAPIR_TOP/pcaps/mixed.pcap
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
for opts in "" "--dpi-flows 1" "--window 10" "--window 10 --max-hosts 64"; do
  for t in on off; do
    # shellcheck disable=SC2086 # opts is a list of options
    "$TAPIR" run -r "$mixed" --model "$tmp/model.tapir" --no-progress --dpi-thread $t $opts \
      --vectors-csv "$tmp/v.$t" --scores-csv "$tmp/s.$t" >"$tmp/out.$t" 2>"$tmp/err.$t" ||
      fail "run --dpi-thread $t $opts exited $?: $(tail -2 "$tmp/err.$t")"
    # the summary's counts, without its timing
    grep 'summary:' "$tmp/err.$t" | grep -v 'nDPI thread:' |
      sed 's/ in [0-9.]* s ([0-9]* packets\/s)//' >"$tmp/sum.$t"
  done
  grep -q 'nDPI thread:' "$tmp/err.on" || fail "--dpi-thread on ran without the thread ('$opts')"
  grep -q 'nDPI thread:' "$tmp/err.off" && fail "--dpi-thread off ran the thread ('$opts')"
  for f in v s out sum; do
    cmp -s "$tmp/$f.on" "$tmp/$f.off" ||
      fail "--dpi-thread on and off differ ($f, options '$opts'): $(diff "$tmp/$f.on" "$tmp/$f.off" | head -4)"
  done
  detected=$(sed -n 's/.* \([0-9]*\) L7 detected.*/\1/p' "$tmp/sum.on")
  [ "${detected:-0}" -gt 1000 ] || fail "only ${detected:-0} flows classified with '$opts'"
  if [ "$opts" = "--dpi-flows 1" ]; then
    grep -q 'dpi_pool_empty=' "$tmp/sum.on" || fail "a pool of 1 never ran empty"
  fi
done
"$TAPIR" run -r "$mixed" -q --no-progress --dpi-thread on --flow-log "$tmp/f.csv" 2>"$tmp/err" &&
  fail "--dpi-thread on with --flow-log was accepted"
[ $? -eq 2 ] || fail "--dpi-thread on with --flow-log: exit $? (want 2)"
grep -q 'flow-log' "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
pub=${TAPIR_SHARED:-}/pcaps-public
n_pub=0
if [ -n "${TAPIR_SHARED:-}" ] && [ -d "$pub" ]; then
  set --
  for f in "$pub"/*.pcap "$pub"/*.pcapng; do
    [ -f "$f" ] && set -- "$@" -r "$f" && n_pub=$((n_pub + 1))
  done
  for t in on off; do
    "$TAPIR" run "$@" -q --no-progress --dpi-thread $t --hosts-csv "$tmp/h.$t" \
      --vectors-csv "$tmp/v.$t" 2>"$tmp/err.$t" >/dev/null || fail "public pcaps, --dpi-thread $t: exit $?"
    grep 'summary:' "$tmp/err.$t" | grep -v 'nDPI thread:' |
      sed 's/ in [0-9.]* s ([0-9]* packets\/s)//' >"$tmp/sum.$t"
  done
  for f in h v sum; do
    cmp -s "$tmp/$f.on" "$tmp/$f.off" ||
      fail "public pcaps: --dpi-thread on and off differ ($f): $(diff "$tmp/$f.on" "$tmp/$f.off" | head -4)"
  done
fi
pass "same vectors, scores, alerts and counts with nDPI on its own thread ($detected flows classified; $n_pub public captures)"
