#!/bin/sh
# --rules DIR: an allowlisted attacker is never flagged, a denylisted quiet host is
# reported (detector "denylist"), per-subnet thresholds apply; a bad rules line is exit 2 with
# file:line. And a config-file filter is replaced by one on the command line.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
p="$TAPIR_TOP/pcaps/mixed.pcap"
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/m.tapir" -q --no-progress 2>/dev/null
mkdir "$tmp/rules"
printf '# the vertical scanner, allowlisted\n175.16.199.201\n' >"$tmp/rules/allowlist"
printf '10.0.1.31/32   # a quiet benign client\n' >"$tmp/rules/denylist"
"$TAPIR" run -r "$p" --model "$tmp/m.tapir" -q --no-progress --rules "$tmp/rules" \
  --alert-log "$tmp/a.json" || fail "run with rules exited $?"
grep -q '"ip":"175.16.199.201"' "$tmp/a.json" && fail "allowlisted IP was flagged"
grep '"ip":"10.0.1.31"' "$tmp/a.json" | grep -q '"detector":"denylist"' ||
  fail "denylisted IP not reported"
"$TAPIR" run -r "$p" --model "$tmp/m.tapir" -q --no-progress --alert-log "$tmp/b.json"
grep -q '"ip":"175.16.199.201"' "$tmp/b.json" || fail "without rules the scanner is not flagged"
printf 'not-an-ip\n' >"$tmp/rules/denylist"
"$TAPIR" run -r "$p" -q --rules "$tmp/rules" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "denylist:1" "$tmp/err" || { cat "$tmp/err"; fail "bad rule: exit $rc"; }
printf '10.0.0.1\000 10.0.0.2\n' >"$tmp/rules/denylist"
"$TAPIR" run -r "$p" -q --rules "$tmp/rules" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "denylist:1: a NUL byte" "$tmp/err" || { cat "$tmp/err"; fail "NUL byte in a rule: exit $rc"; }
rm "$tmp/rules/denylist" && mkfifo "$tmp/rules/denylist"
timeout 10 "$TAPIR" run -r "$p" -q --rules "$tmp/rules" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "denylist .* is not a regular file" "$tmp/err" || { cat "$tmp/err"; fail "FIFO as a rules file: exit $rc"; }
rm "$tmp/rules/denylist" && printf '10.0.1.31\n' >"$tmp/rules/denylist"
"$TAPIR" run -r "$p" -q --rules "$tmp/no-such-dir" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot read rules directory .*no-such-dir: No such file" "$tmp/err" ||
  { cat "$tmp/err"; fail "missing rules directory: exit $rc"; }
"$TAPIR" run -r "$p" -q --rules "$tmp/rules/denylist" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "is not a directory" "$tmp/err" || { cat "$tmp/err"; fail "rules file as directory: exit $rc"; }
printf 'bpf = udp\n' >"$tmp/c.conf"
"$TAPIR" run -r "$p" -q --config "$tmp/c.conf" --flow-log "$tmp/f.csv" tcp || fail "filter run"
awk -F, 'NR > 1 && $6 != 6 {bad = 1} END {exit bad}' "$tmp/f.csv" || fail "command-line filter did not replace the config's"
pass "allowlist, denylist, bad rules line, NUL byte, FIFO, missing rules directory, command-line filter over config"
