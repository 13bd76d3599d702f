#!/bin/sh
# Crash safety: `tapir run` is killed with SIGKILL at random moments while it writes
# alerts (a replay with one-second windows and alerts in most of them), restarted on the
# same database and alert log, killed again, and so on; a last run goes to the end.
# After every kill: PRAGMA integrity_check is "ok", every line of the alert log is whole
# JSON, and every alert in the log is in SQLite with the same id, ip, side and window
# (every incident's "end" event: its incident row, ended at the same time)
# (the analyzer commits a window to SQLite before it writes the window's log lines).
# Env: TAPIR, TAPIR_BUILD, TAPIR_SAN. Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR:?}" "${TAPIR_BUILD:?}"
[ -x "$TAPIR" ] || { echo "no tapir binary at $TAPIR"; exit 77; }
gen="$TAPIR_BUILD/tools/flood_pcap"
[ -x "$gen" ] || { echo "no $gen (make test-build builds it)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 shell needed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 needed to read the alert log"; exit 77; }
tmp=$(mktemp -d /tmp/tapir-e2e-crash.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

iters=${CRASH_ITERATIONS:-8}
flood=300000
[ "${TAPIR_SAN:-0}" = 1 ] && flood=60000
"$gen" -t -s 40 -o "$tmp/train.pcap" -S 3 2>/dev/null || fail "generator"
"$gen" -s 240 -n $flood -o "$tmp/run.pcap" -S 3 2>/dev/null || fail "generator"
"$TAPIR" train -r "$tmp/train.pcap" -o "$tmp/model" --window 1 --threshold 0.55 \
  --no-progress 2>"$tmp/err" || { cat "$tmp/err"; fail "train"; }

check() { # after a kill or the last run
  ic=$(sqlite3 "$tmp/db" 'pragma integrity_check' 2>&1)
  [ "$ic" = ok ] || fail "$1: integrity_check: $ic"
  # killed before the schema's transaction committed: no tables, and nothing logged
  if [ "$(sqlite3 "$tmp/db" "select count(*) from sqlite_master where name = 'alerts'")" = 0 ]; then
    [ -s "$tmp/alerts.json" ] && fail "$1: alerts logged, yet no schema"
    echo "$1: killed before the schema was created"
    return 0
  fi
  sqlite3 -separator '|' "$tmp/db" 'select id, ip, side, window_start from alerts' >"$tmp/db.txt" ||
    fail "$1: cannot query the database"
  # an incident's "end" event has no alert row: its incident row is ended instead
  sqlite3 -separator '|' "$tmp/db" 'select -id, ip, side, ended from incidents
    where ended_us is not null' >>"$tmp/db.txt" || fail "$1: cannot query the incidents"
  python3 - "$tmp/alerts.json" "$tmp/db.txt" "$1" <<'PY' || exit 1
import json, sys
log, db, what = sys.argv[1:4]
stored = set()
for line in open(db):
    i, ip, side, ws = line.rstrip("\n").split("|")
    stored.add((int(i), ip, side, ws))
n = 0
try:
    lines = open(log).read().split("\n")
except FileNotFoundError:
    lines = []
if lines and lines[-1] == "":
    lines.pop()
for k, line in enumerate(lines):
    try:
        a = json.loads(line)
    except ValueError:
        print("FAIL: %s: alert log line %d is not whole JSON: %r" % (what, k + 1, line[:80]))
        sys.exit(1)
    key = (a["alert_id"], a["ip"], a["side"], a["window_start"])
    if a.get("event_type") == "end":
        key = (-a["incident_id"], a["ip"], a["side"], a["incident"]["end"])
    if key not in stored:
        print("FAIL: %s: alert %r is in the log but not in SQLite" % (what, key))
        sys.exit(1)
    n += 1
print("%s: integrity ok, %d logged alerts all in SQLite (%d stored)" % (what, n, len(stored)))
PY
}

# Random kill points: 0.1 .. 1.5 s into the run (the whole replay takes a few seconds).
i=0
while [ $i -lt "$iters" ]; do
  i=$((i + 1))
  delay=$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%.2f", 0.1 + rand() * 1.4 }')
  "$TAPIR" run -r "$tmp/run.pcap" --model "$tmp/model" --window 1 --db "$tmp/db" \
    --alert-log "$tmp/alerts.json" -q --no-progress >/dev/null 2>>"$tmp/runs.err" &
  pid=$!
  sleep "$delay"
  if kill -9 $pid 2>/dev/null; then how="killed after ${delay}s"; else how="ended before ${delay}s"; fi
  wait $pid 2>/dev/null
  check "run $i ($how)"
done
"$TAPIR" run -r "$tmp/run.pcap" --model "$tmp/model" --window 1 --db "$tmp/db" \
  --alert-log "$tmp/alerts.json" -q --no-progress >/dev/null 2>>"$tmp/runs.err" ||
  { tail "$tmp/runs.err"; fail "the run after the kills failed"; }
check "final run"
runs=$(sqlite3 "$tmp/db" 'select count(*) from runs')
echo "$runs runs recorded in one database"
