#!/bin/sh
# Conversations on real captures (../shared): no beacon, brute-force or exfiltration alert
# on the benign captures of pcaps-public replayed together; the real C2 captures of
# pcaps-attacks replay cleanly (they are 67 s and 118 s long, under the beacon rule's
# three windows: docs/conversations.md says what a shorter rule would cost).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_shared pcaps-public
set --
for f in "$TAPIR_SHARED"/pcaps-public/*.pcap "$TAPIR_SHARED"/pcaps-public/*.pcapng; do
  [ -f "$f" ] && set -- "$@" -r "$f"
done
"$TAPIR" run "$@" -q --no-progress --alert-log "$tmp/pub.json" 2>"$tmp/err" ||
  fail "public captures: exit $?: $(tail -2 "$tmp/err")"
if grep -E '"(beacon|bruteforce|exfil) to ' "$tmp/pub.json" >"$tmp/hits"; then
  fail "conversation alerts on benign captures: $(head -3 "$tmp/hits")"
fi
n=0
for f in slips_test-cc-capture-2.pcap chrissanders_ratinfected.pcapng; do
  p=$TAPIR_SHARED/pcaps-attacks/$f
  [ -f "$p" ] || continue
  "$TAPIR" run -r "$p" -q --no-progress --alert-log "$tmp/c2.json" 2>"$tmp/err" ||
    fail "$f: exit $?: $(tail -2 "$tmp/err")"
  n=$((n + 1))
done
pass "no conversation alert on pcaps-public ($# options); $n C2 captures replayed"
