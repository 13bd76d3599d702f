#!/bin/sh
# The warm-up's "training postponed" warning is said once, not at every window (issue
# 12, point 12: a replay printed it 178 times,
# another 6 with its count going from 6 to 63), and again only after an hour or when the
# reason changes; a reason whose numbers grow ("only 6 source vectors", then 56) is the
# same reason.
# Env: TAPIR (binary), TAPIR_TOP (repo root). Exit 0 pass, 77 skip, else fail.
. "$(dirname "$0")/lib.sh"
: "${TAPIR:?}" "${TAPIR_TOP:?}"
need_pcaps
pcap="$TAPIR_TOP/pcaps/baseline.pcap"

# never enough vectors: one warning for the whole run
"$TAPIR" run -r "$pcap" --window 10 --warmup 2 --min-pkts 1000000 -q --no-progress \
  >"$tmp/out1" 2>"$tmp/err1" || { cat "$tmp/err1"; fail "run 1 exit $?"; }
n=$(grep -c "training postponed" "$tmp/err1")
[ "$n" -eq 1 ] || { head -5 "$tmp/err1"; fail "run 1: $n postponed warnings, expected 1"; }
grep -q "only 0 source vectors.*said again hourly" "$tmp/err1" ||
  { cat "$tmp/err1"; fail "run 1: the warning lacks its reason or when it repeats"; }

# growing counts, then the model is fitted: still one warning, then the fit
"$TAPIR" run -r "$pcap" --window 10 --warmup 2 --min-pkts 1 --no-progress \
  >"$tmp/out2" 2>"$tmp/err2" || { cat "$tmp/err2"; fail "run 2 exit $?"; }
n=$(grep -c "training postponed" "$tmp/err2")
[ "$n" -eq 1 ] || { grep postponed "$tmp/err2" | head -5; fail "run 2: $n postponed warnings, expected 1"; }
grep -q "warm-up model" "$tmp/err2" || { cat "$tmp/err2"; fail "run 2: no warm-up model after the wait"; }
pass "one postponed warning per reason"
