#!/bin/sh
# Files tapir writes as a possibly privileged process (issue 12, points 3 to 5):
# (3) no symbolic link is followed: alert log, CSVs, database (and its WAL), and the
#     model's temporary file; each refusal names the link, and the link's target, a file
#     this test made, is untouched;
# (4) everything is created 0640 at most even under umask 000;
# (5) names from packets are CSV fields: a Host with a comma or quote stays in its column,
#     and a leading = is defused.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd python3
p="$TAPIR_TOP/pcaps/mixed.pcap"
expect() { # expected-exit expected-text command...
  want=$1 text=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq "$want" ] || { cat "$tmp/err"; fail "exit $rc (want $want): $*"; }
  grep -qi -- "$text" "$tmp/err" || { cat "$tmp/err"; fail "no '$text' in the message: $*"; }
  echo "ok ($rc): $(head -1 "$tmp/err")"
}
echo "secret" >"$tmp/target"
chmod 600 "$tmp/target"
untouched() { [ "$(cat "$tmp/target")" = secret ] || fail "$1: the link's target was written"; }

# (3) symbolic links
mkdir "$tmp/d"
ln -s "$tmp/target" "$tmp/d/alerts.json"
expect 2 "alerts.json is a symbolic link; refusing" "$TAPIR" run -r "$p" -q --alert-log "$tmp/d/alerts.json"
untouched "alert log"
for opt in --flow-log --hosts-csv --scores-csv --vectors-csv; do
  ln -sf "$tmp/target" "$tmp/d/out.csv"
  expect 2 "out.csv is a symbolic link; refusing" "$TAPIR" run -r "$p" -q $opt "$tmp/d/out.csv"
  untouched "$opt"
done
ln -sf "$tmp/target" "$tmp/d/t.db"
expect 2 "t.db is a symbolic link; refusing" "$TAPIR" run -r "$p" -q --db "$tmp/d/t.db"
untouched "database"
rm "$tmp/d/t.db"
ln -s "$tmp/target" "$tmp/d/t.db-wal"
expect 2 "t.db-wal is a symbolic link; refusing" "$TAPIR" run -r "$p" -q --db "$tmp/d/t.db"
untouched "database WAL"
rm -f "$tmp/d/t.db-wal" "$tmp/d/t.db"
# The model's temporary file: the old name was MODEL.tmp.PID; links for the next 300
# process ids catch it whichever it gets.
printf 'a,b\n1,2\n3,4\n5,6\n7,8\n' >"$tmp/x.csv"
last=$(cat /proc/sys/kernel/ns_last_pid 2>/dev/null || echo 0)
i=1
while [ $i -le 300 ]; do ln -s "$tmp/target" "$tmp/d/m.tapir.tmp.$((last + i))"; i=$((i + 1)); done
"$TAPIR" forest fit --csv "$tmp/x.csv" -o "$tmp/d/m.tapir" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "forest fit"; }
untouched "model temporary file"
[ -f "$tmp/d/m.tapir" ] && [ ! -L "$tmp/d/m.tapir" ] || fail "no model written"
ls "$tmp/d" | grep -v '^m\.tapir\.tmp\.[0-9]*$' | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls "$tmp/d")"

# (4) modes under umask 000
mkdir "$tmp/m"
(umask 000; "$TAPIR" run -r "$p" -q --no-progress --db "$tmp/m/t.db" --alert-log "$tmp/m/a.json" \
  --flow-log "$tmp/m/f.csv" --hosts-csv "$tmp/m/h.csv" --scores-csv "$tmp/m/s.csv" \
  --vectors-csv "$tmp/m/v.csv" >/dev/null 2>"$tmp/err") || { cat "$tmp/err"; fail "run under umask 000"; }
(umask 000; "$TAPIR" forest fit --csv "$tmp/x.csv" -o "$tmp/m/forest.model" >/dev/null 2>&1) || fail "fit under umask 000"
n=0
for f in "$tmp"/m/*; do
  m=$(stat -c %a "$f")
  [ $((0$m & 0137)) -eq 0 ] || fail "$(basename "$f") created with mode $m under umask 000 (want 0640 or less)"
  n=$((n + 1))
done
[ $n -ge 7 ] || fail "only $n files written: $(ls "$tmp/m")"

# (5) names from packets as CSV fields
python3 "$TAPIR_TOP/tools/host_header_pcap.py" "$tmp/h.pcap" "=cmd|' /c calc'!a0" \
  'a,b"c.example' '+1,2' 'plain.example' || fail "cannot write the pcap"
"$TAPIR" run -r "$tmp/h.pcap" -q --no-progress --flow-log "$tmp/f.csv" 2>"$tmp/err" || { cat "$tmp/err"; fail "flow-log run"; }
python3 - "$tmp/f.csv" <<'PY' || fail "flow log is not well-formed CSV"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
head, body = rows[0], rows[1:]
bad = [r for r in body if len(r) != len(head)]
assert not bad, "rows with the wrong field count: %r" % bad
names = sorted(r[head.index('name')] for r in body)
want = sorted(["'=cmd|' /c calc'!a0", 'a,b"c.example', "'+1,2", 'plain.example'])
assert names == want, "names %r, want %r" % (names, want)
print("ok: %d rows, names %r" % (len(body), names))
PY
pass "links refused (alert log, 4 CSVs, database, WAL, model temp file); $n files 0640 or less under umask 000; crafted Host names quoted and defused"
