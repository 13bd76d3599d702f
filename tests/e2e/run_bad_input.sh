#!/bin/sh
# Bad input to `tapir run` / `tapir train` is refused at start with a sentence and exit 2
# (1 for runtime failures), before any capture: corrupt or foreign model, corrupt or
# locked database, unwritable alert log, missing or non-capture files, bad filter, bad
# options (one line and a pointer at --help), bad config (a directory, /dev/zero, a NUL
# byte), a FIFO as token file; a start-up error prints no summary.
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
# Usage errors: one line saying what is wrong, one pointing at --help (not 50 lines).
usage_error() { # text command...
  text=$1; shift
  expect 2 "$text" "$@"
  [ "$(wc -l <"$tmp/err")" -eq 2 ] && grep -q "^try 'tapir [a-z]* --help'$" "$tmp/err" ||
    { cat "$tmp/err"; fail "not one line and a pointer at --help: $*"; }
}
usage_error "give -i IFACE or -r FILE$" "$TAPIR" run -q
usage_error "give -i IFACE or -r FILE, not both" "$TAPIR" run -i lo -r "$p" -q
usage_error "unknown option '--no-such-option'" "$TAPIR" run -r "$p" --no-such-option
usage_error "tapir run: -r needs a value" "$TAPIR" run -r
usage_error "tapir train: --window needs a value" "$TAPIR" train -r "$p" -o "$tmp/x" --window
usage_error "unexpected argument" "$TAPIR" serve --db "$tmp/x.db" extra
# Ranges print as numbers (no C suffix), on the command line and in a config file.
expect 2 "not a whole number in 1 .. 1000000000$" "$TAPIR" run -r "$p" --min-pkts 0 -q
printf 'min-pkts = 0\n' >"$tmp/u.conf"
expect 2 "not a whole number in 1 .. 1000000000$" "$TAPIR" run -r "$p" --config "$tmp/u.conf" -q
# A run that never started prints no summary (it used to print one of zeros).
expect 2 "cannot capture on nosuchif0" "$TAPIR" run -i nosuchif0
grep -q "summary" "$tmp/err" && { cat "$tmp/err"; fail "a summary after a start-up error"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  expect 1 "run as root or grant CAP_NET_RAW" setpriv --reuid=nobody --regid="$(id -g nobody)" \
    --clear-groups "$TAPIR" run -i lo
  grep -q "summary" "$tmp/err" && { cat "$tmp/err"; fail "a summary after a start-up error (not root)"; }
fi
# Config and token files that are not regular files, too large, or hold a NUL byte.
expect 2 "config /tmp is not a regular file" "$TAPIR" run -r "$p" --config /tmp -q
expect 2 "config /dev/zero is not a regular file" timeout 10 "$TAPIR" run -r "$p" --config /dev/zero -q
head -c 1100000 /dev/zero | tr '\0' '#' >"$tmp/big.conf"
expect 2 "too large" "$TAPIR" run -r "$p" --config "$tmp/big.conf" -q
printf 'window = 60\nmin-pkts = 5\000 garbage\n' >"$tmp/nul.conf"
expect 2 "nul.conf:2: a NUL byte" "$TAPIR" run -r "$p" --config "$tmp/nul.conf" -q
mkfifo "$tmp/token.fifo"
expect 2 "token.fifo is not a regular file" timeout 10 "$TAPIR" run -r "$p" -q --http 127.0.0.1:0 \
  --http-token-file "$tmp/token.fifo"
expect 2 "token.fifo is not a regular file" timeout 10 "$TAPIR" serve --db "$tmp/x.db" \
  --token-file "$tmp/token.fifo"
# A time with an impossible UTC offset.
"$TAPIR" run -r "$p" -q --db "$tmp/s.db" >/dev/null 2>&1
expect 2 "bad --since" "$TAPIR" alerts --db "$tmp/s.db" --since 2026-01-01T00:00:00+99:99
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
