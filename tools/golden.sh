#!/bin/sh
# make golden: the one command that writes tests/golden/, the expected output that
# tests/e2e/golden.sh compares a build against. It runs the demo flow (tools/demo.sh
# without geolocation databases): train on pcaps/baseline.pcap, replay pcaps/mixed.pcap
# with that model into SQLite and the JSON alert log, then reads the results back with
# `tapir model info`, `tapir alerts`, `tapir hosts` and `tapir blocklist`.
#
# Only what two identical runs agree on is kept; what varies is normalised or left out
# below, each with its reason. Never edit tests/golden/ by hand to make the test pass:
# regenerate it, and only when the change of behaviour is intended (say so in the commit).
#
# Usage: sh tools/golden.sh [BUILD_DIR | TAPIR_BINARY]          rewrite tests/golden/
#        sh tools/golden.sh -o DIR [BUILD_DIR | TAPIR_BINARY]   write to DIR instead
# Exits 77 when sqlite3 is missing or the pcaps are not generated (make pcaps).
set -eu
export LC_ALL=C TZ=UTC
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/tests/golden
if [ "${1:-}" = -o ]; then
  out=${2:?-o needs a directory}
  shift 2
fi
build=${1:-build}
if [ -d "$build" ]; then tapir=$build/tapir; else tapir=$build; fi
case "$tapir" in /*) ;; *) tapir=$PWD/$tapir ;; esac
[ -x "$tapir" ] || { echo "golden: $tapir is not an executable (make first)" >&2; exit 1; }
command -v sqlite3 >/dev/null 2>&1 || { echo "golden: sqlite3 is not installed" >&2; exit 77; }
[ -f "$top/pcaps/mixed.pcap" ] || { echo "golden: pcaps/ not generated (make pcaps)" >&2; exit 77; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tapir-golden.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The pcaps are named relative to the top, as tools/demo.sh does: the model stores the
# path it was trained on, and the runs table the source, as given.
cd "$top"
"$tapir" train -r pcaps/baseline.pcap -o "$work/model.tapir" --no-progress \
  >"$work/train.out" 2>"$work/train.err"
# --sensor: alerts carry the sensor's name, by default the host name, which differs on
# every machine.
"$tapir" run -r pcaps/mixed.pcap --model "$work/model.tapir" --db "$work/tapir.db" \
  --alert-log "$work/alerts.json" --no-progress --sensor golden >"$work/run.out" \
  2>"$work/run.err"

# The model id is made from the training's wall-clock time, so it differs on every
# training: the exact id (read from the model) becomes MODEL_ID wherever it appears,
# which still shows that every alert names the model that scored it. The scratch
# directory (model and database paths) becomes WORK.
id=$(sqlite3 "$work/tapir.db" 'SELECT id FROM models')
[ -n "$id" ] || { echo "golden: no model stored in the replay's database" >&2; exit 1; }
work_re=$(printf '%s' "$work" | sed 's/[].[\*^$|]/\\&/g')
norm() { sed -e "s|$work_re|WORK|g" -e "s/$id/MODEL_ID/g"; }

# 1. The console of the demo: the ALERT lines of the replay, and the summaries. Left
# out: the elapsed time and packet rate (wall clock), and the "nDPI thread" line, which
# only exists when --dpi-thread auto finds 2+ CPUs and counts waits that depend on timing.
{
  echo "== tapir train -r pcaps/baseline.pcap -o WORK/model.tapir"
  cat "$work/train.out" "$work/train.err"
  echo "== tapir run -r pcaps/mixed.pcap --model WORK/model.tapir ..."
  cat "$work/run.out" "$work/run.err"
} | grep -v '^tapir: summary: nDPI thread:' |
  sed 's/ in [0-9.]* s ([0-9]* packets\/s)$/ in S s (R packets\/s)/' | norm >"$out/console.txt"

# 2. The JSON alert log, line by line.
norm <"$work/alerts.json" >"$out/alerts.json"

# 3. tapir model info. "created" is the training's wall-clock time.
"$tapir" model info "$work/model.tapir" >"$work/model-info.txt"
sed 's/^created .*/created CREATED/' "$work/model-info.txt" | norm >"$out/model-info.txt"

# 4. The SQLite rows of the replay, each table ordered by a unique key. Left out: the
# wall-clock columns (runs.started/ended, models.created, meta.created) and
# runs.command_line (scratch paths and the binary's path). Every other column is kept,
# new ones included. REAL columns are printed with printf('%.17g'), which gives back the
# exact stored double, instead of the shell's own rendering, which changes between
# sqlite3 versions.
# cols TABLE 'EXCLUDED', ...: the select list of TABLE, in column order
cols() {
  sqlite3 "$work/tapir.db" "SELECT group_concat(c, ', ') FROM (SELECT CASE WHEN type = 'REAL'
    THEN printf('CASE WHEN %s IS NULL THEN NULL ELSE printf(''%%.17g'', %s) END AS %s',
                name, name, name) ELSE name END AS c
    FROM pragma_table_info('$1') WHERE name NOT IN (${2:-''}) ORDER BY cid)"
}
q() { # TABLE ORDER-BY EXCLUDED
  sqlite3 -header -csv "$work/tapir.db" "SELECT $(cols "$1" "${3:-}") FROM $1 ORDER BY $2" \
    >"$work/q.csv" && norm <"$work/q.csv"
}
q alerts id >"$out/db-alerts.csv"
q windows id >"$out/db-windows.csv"
q hosts ip >"$out/db-hosts.csv"
q incidents id >"$out/db-incidents.csv"
{
  q runs id "'started', 'started_us', 'ended', 'ended_us', 'command_line'"
  q models id "'created', 'created_us'"
  q meta key >"$work/meta.csv" # meta is key/value: the row 'created' goes, not a column
  grep -v '^created,' "$work/meta.csv"
} >"$out/db-runs.csv"

# 5. The same results read back by the command line. tapir hosts lists only the top 15:
# further down, hosts tie on (max_score, last_seen_us), the whole sort key, and their
# order would be SQLite's storage order. blocklist gets a fixed --now (else the wall
# clock sets the timeouts) and an empty allowlist (else /etc/tapir/rules/allowlist, if
# this machine has one, would decide).
: >"$work/allowlist.empty"
{
  echo "== tapir alerts --limit 0"
  "$tapir" alerts --db "$work/tapir.db" --limit 0
  echo "== tapir alerts --limit 0 --json"
  "$tapir" alerts --db "$work/tapir.db" --limit 0 --json
  echo "== tapir incidents --limit 0"
  "$tapir" incidents --db "$work/tapir.db" --limit 0
  echo "== tapir incidents --limit 0 --json"
  "$tapir" incidents --db "$work/tapir.db" --limit 0 --json
  echo "== tapir incidents 1"
  "$tapir" incidents --db "$work/tapir.db" 1
  echo "== tapir hosts --limit 15"
  "$tapir" hosts --db "$work/tapir.db" --limit 15
  for ip in 10.0.0.80 fd00::a:1:f4; do
    echo "== tapir hosts $ip"
    "$tapir" hosts --db "$work/tapir.db" "$ip"
  done
  for f in nft ipset plain; do
    echo "== tapir blocklist --format $f --now 2026-01-01T00:30:00Z"
    "$tapir" blocklist --db "$work/tapir.db" --format "$f" --now 2026-01-01T00:30:00Z \
      --allowlist "$work/allowlist.empty"
  done
} >"$work/cli.txt"
norm <"$work/cli.txt" >"$out/cli.txt"
echo "golden: wrote $out with $tapir"
