#!/bin/sh
# A scanner that starts after a spoofed flood has filled the window's host table is still
# seen: flood_pcap -l sends its 1,000 SYNs per 10 s window only in the window's second
# half, when --max-hosts 4096 has long been taken by one-packet spoofed sources. Refused
# IPs are counted in a small sketch (one refusal in 4) and, after about 12 refused
# packets, take the record of a light IP: the scanner's per-window count must be within
# 40 of the truth, it must be
# flagged, and spoofed sources must rarely win a record (replacements < 1% of refusals).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
gen="$TAPIR_BUILD/tools/flood_pcap"
[ -x "$gen" ] || skip "no $gen (make test-build builds it)"
limits="--window 10 --max-hosts 4096 --max-flows 65536"
"$gen" -t -s 40 -o "$tmp/train.pcap" -S 7 2>/dev/null || fail "generator (train)"
"$gen" -l -s 40 -n 300000 -o "$tmp/late.pcap" -S 7 2>/dev/null || fail "generator (late scanner)"
# shellcheck disable=SC2086
"$TAPIR" train -r "$tmp/train.pcap" -o "$tmp/model" $limits -q --no-progress ||
  fail "train failed"
# shellcheck disable=SC2086
"$TAPIR" run -r "$tmp/late.pcap" --model "$tmp/model" $limits --no-progress \
  --hosts-csv "$tmp/hosts.csv" >"$tmp/out" 2>"$tmp/err" || { tail "$tmp/err"; fail "run exited $?"; }
refused=$(sed -n 's/.*host_table_full=\([0-9]*\).*/\1/p' "$tmp/err")
replaced=$(sed -n 's/.*host_records_replaced=\([0-9]*\).*/\1/p' "$tmp/err")
[ "${refused:-0}" -gt 100000 ] || fail "the flood did not fill the table (${refused:-0} refused)"
[ "${replaced:-0}" -gt 0 ] || fail "no record was ever given to a busier IP"
[ $((replaced * 100)) -lt "$refused" ] || fail "$replaced replacements for $refused refusals (spoofed sources win records)"
for wstart in 1700000020 1700000030; do
  n=$(awk -F, -v w=$wstart '$1 == w && $2 == "203.0.113.66" { print $3 }' "$tmp/hosts.csv")
  [ -n "$n" ] || fail "the late scanner is missing from window $wstart"
  [ "$n" -ge 960 ] && [ "$n" -le 1000 ] || fail "window $wstart: scanner sent $n packets counted (truth 1000)"
done
grep -q "^INCIDENT [0-9]* sev [0-9] [a-z]* 203.0.113.66 (source," "$tmp/out" || { cat "$tmp/out"; fail "the late scanner was not flagged"; }
pass "late scanner counted ($n of 1000 in the last window) and flagged; $replaced records replaced for $refused refused updates"
