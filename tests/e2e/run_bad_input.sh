#!/bin/sh
# Bad input to `tapir run` / `tapir train` is refused at start with a sentence and exit 2
# (1 for runtime failures), before any capture: corrupt or foreign model, corrupt or
# locked database, unwritable alert log, missing or non-capture files, bad filter, bad
# options, bad config.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
p="$TAPIR_TOP/pcaps/mixed.pcap"
expect() { # expected-exit expected-text command...
  want=$1 text=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq "$want" ] || { cat "$tmp/err"; fail "exit $rc (want $want): $*"; }
  grep -qi -- "$text" "$tmp/err" || { cat "$tmp/err"; fail "no '$text' in the message: $*"; }
  echo "ok ($rc): $(head -1 "$tmp/err")"
}
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null
head -c 2000 "$tmp/model.tapir" >"$tmp/cut.tapir"
expect 2 "truncated" "$TAPIR" run -r "$p" --model "$tmp/cut.tapir" -q
printf 'a,b\n1,2\n3,4\n5,6\n7,8\n' >"$tmp/x.csv"
"$TAPIR" forest fit --csv "$tmp/x.csv" -o "$tmp/forest.model" >/dev/null 2>&1
expect 2 "source" "$TAPIR" run -r "$p" --model "$tmp/forest.model" -q
head -c 4096 /dev/urandom >"$tmp/junk.db"
expect 2 "not a database" "$TAPIR" run -r "$p" --db "$tmp/junk.db" -q
expect 2 "alert" "$TAPIR" run -r "$p" --alert-log /proc/version/x.json -q
expect 2 "no such file" "$TAPIR" run -r "$tmp/none.pcap" -q
cp /etc/hostname "$tmp/text.pcap" 2>/dev/null || echo hello >"$tmp/text.pcap"
expect 2 "cannot read" "$TAPIR" run -r "$tmp/text.pcap" -q
expect 2 "bad filter" "$TAPIR" run -r "$p" -q 'tcp and and'
expect 2 "persist" "$TAPIR" run -r "$p" --persist 4/2 -q
expect 2 "window" "$TAPIR" run -r "$p" --window 0 -q
expect 2 "either" "$TAPIR" run -q
printf 'window = 60\nno-such-key = 1\n' >"$tmp/bad.conf"
expect 2 "bad.conf:2" "$TAPIR" run -r "$p" --config "$tmp/bad.conf" -q
expect 2 "-o MODEL" "$TAPIR" train -r "$p"
# A database locked by another writer: refused after the busy timeout, not a hang.
if command -v sqlite3 >/dev/null; then
  "$TAPIR" run -r "$p" --db "$tmp/t.db" -q --model "$tmp/model.tapir" >/dev/null 2>&1
  (printf 'BEGIN EXCLUSIVE;\nselect 1;\n'; sleep 8) | sqlite3 "$tmp/t.db" >/dev/null &
  lp=$!
  sleep 0.5
  expect 2 "lock" timeout 30 "$TAPIR" run -r "$p" --db "$tmp/t.db" -q
  kill $lp 2>/dev/null; wait $lp 2>/dev/null
fi
pass "every bad input refused with a message and exit 2"
