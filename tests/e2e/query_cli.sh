#!/bin/sh
# e2e: `tapir alerts`, `tapir hosts` and `tapir blocklist` on a database written through
# the sqlite3 shell (the documented schema is an interface): listing, filters, JSON lines,
# ack/delete, exit statuses, hostile strings, a corrupt file, and a writer lock held by
# the sqlite3 shell (a clear error after the busy timeout, not a hang).
set -u
T=${TAPIR:?TAPIR must name the tapir binary}
[ -x "$T" ] || { echo "skip: $T not built"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skip: no sqlite3 shell"; exit 77; }
PY=/usr/bin/python3
[ -x $PY ] || { echo "skip: no /usr/bin/python3"; exit 77; }
d=$(mktemp -d /tmp/tapir-e2e-query.XXXXXX)
lockpid=""
cleanup() { [ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
db=$d/tapir.db
fail() { echo "FAIL: $*"; exit 1; }
# expect RC PATTERN CMD...: runs CMD, checks the exit status and that PATTERN is in its output
expect() {
  want=$1 pat=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] || fail "$* -> exit $rc, wanted $want: $out"
  case "$out" in *"$pat"*) ;; *) fail "$* -> output lacks '$pat': $out" ;; esac
}

# A database that is missing or not a database is bad input: exit 2, as for `tapir serve`.
expect 2 "cannot open $d/missing.db" "$T" alerts --db "$d/missing.db"
expect 2 "cannot open $d/missing.db" "$T" alerts ack 1 --db "$d/missing.db"
expect 2 "cannot open $d/missing.db" "$T" hosts --db "$d/missing.db"
expect 2 "tapir incidents: cannot open $d/missing.db" "$T" incidents --db "$d/missing.db"
expect 2 "tapir suppressions: cannot open $d/missing.db" "$T" suppressions --db "$d/missing.db"
expect 2 "tapir blocklist: cannot open $d/missing.db" "$T" blocklist --db "$d/missing.db"
head -c 8192 /dev/urandom >"$d/random.db"
expect 2 "$d/random.db: not a database (file is not a database)" "$T" alerts --db "$d/random.db"
expect 2 "not a database" "$T" alerts ack 1 --db "$d/random.db"
expect 2 "not a database" "$T" hosts --db "$d/random.db"
expect 2 "not a database" "$T" incidents --db "$d/random.db"
expect 2 "not a database" "$T" suppressions --db "$d/random.db"

# An empty file becomes a tapir database on the first write; an unknown id is exit 1.
: >"$db"
expect 1 "no alert with id 7" "$T" alerts ack 7 --db "$db"
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = 3 ] || fail "no schema created"

sqlite3 "$db" <<'EOF' || fail "sqlite3 insert"
INSERT INTO alerts (timestamp, ts_us, event_type, ip, prefix_len, side, score, threshold,
  window_start, window_start_us, window_end, window_end_us, top_features, country, asn,
  as_org, l7, model_id) VALUES
 ('2023-11-14T22:13:20.000Z', 1700000000000000, 'anomaly', '192.0.2.7', 32, 'source', 0.81,
  0.6, '2023-11-14T22:13:10.000Z', 1699999990000000, '2023-11-14T22:13:20.000Z',
  1700000000000000, '[{"name":"dst_ports","value":1021.0,"baseline":3.5,"contribution":0.6}]',
  'NL', 64500, 'Evil' || char(27) || '[31m "Org"' || char(10), 'TLS,DNS', 'm-1'),
 ('2023-11-14T22:13:30.000Z', 1700000010000000, 'anomaly', '198.51.100.0/24', 24, 'prefix',
  0.7, 0.6, '2023-11-14T22:13:20.000Z', 1700000000000000, '2023-11-14T22:13:30.000Z',
  1700000010000000, '[]', NULL, NULL, NULL, NULL, 'm-1'),
 ('2023-11-14T22:13:40.000Z', 1700000020000000, 'threshold', '2001:db8::5', 128, 'source',
  0.65, 0.6, '2023-11-14T22:13:30.000Z', 1700000010000000, '2023-11-14T22:13:40.000Z',
  1700000020000000, '[]', NULL, NULL, NULL, 'HTTP', 'm-1');
INSERT INTO hosts (ip, first_seen, first_seen_us, last_seen, last_seen_us, country, asn,
  as_org, last_score, max_score, windows_seen, alerts) VALUES
 ('192.0.2.7', '2023-11-14T22:13:10.000Z', 1699999990000000, '2023-11-14T22:13:20.000Z',
  1700000000000000, 'NL', 64500, 'Evil' || char(27) || '[31m "Org"', 0.81, 0.81, 1, 1);
EOF

expect 0 "192.0.2.7" "$T" alerts --db "$db"
out=$("$T" alerts --db "$db")
printf '%s' "$out" | grep -q "$(printf '\033')" && fail "escape sequence reached the terminal"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 4 ] || fail "table: $out"

"$T" alerts --db "$db" --json >"$d/alerts.jsonl" || fail "alerts --json"
$PY - "$d/alerts.jsonl" <<'EOF' || fail "JSON lines"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [r["alert_id"] for r in rows] == [3, 2, 1], rows
need = {"timestamp", "event_type", "ip", "side", "score", "threshold", "window_start",
        "window_end", "top_features", "geo", "l7", "model", "alert_id", "status",
        "acked_at", "run_id", "category", "detector", "format", "incident_id", "severity",
        "direction", "sensor"}
for r in rows:
    assert set(r) == need, set(r) ^ need
assert rows[2]["geo"]["as_org"] == 'Evil\x1b[31m "Org"\n'
assert rows[2]["l7"] == ["TLS", "DNS"] and rows[2]["top_features"][0]["name"] == "dst_ports"
assert rows[1]["ip"] == "198.51.100.0/24" and rows[1]["geo"]["country"] is None
EOF

[ "$("$T" alerts --db "$db" --json --ip 192.0.2.7 | wc -l)" -eq 1 ] || fail "--ip"
[ "$("$T" alerts --db "$db" --json --min-score 0.7 | wc -l)" -eq 2 ] || fail "--min-score"
[ "$("$T" alerts --db "$db" --json --since 2023-11-14T22:13:30Z | wc -l)" -eq 2 ] || fail "--since"
[ "$("$T" alerts --db "$db" --json --since 1700000020 | wc -l)" -eq 1 ] || fail "--since unix"
[ "$("$T" alerts --db "$db" --json --limit 1 | wc -l)" -eq 1 ] || fail "--limit"
# Rows written without detector and category get the columns' defaults.
[ "$("$T" alerts --db "$db" --json --detector forest --category anomaly | wc -l)" -eq 3 ] ||
  fail "--detector/--category"
[ "$("$T" alerts --db "$db" --json --category portscan | wc -l)" -eq 0 ] || fail "--category portscan"
"$T" alerts --db "$db" | head -1 | grep -q "CATEGORY *DETECTOR" || fail "table has no category/detector columns"
expect 2 "bad --category 'scan' (anomaly, portscan," "$T" alerts --db "$db" --category scan
expect 2 "bad --detector 'threshold' (forest, limit," "$T" alerts --db "$db" --detector threshold

expect 0 "alert 1 acknowledged" "$T" alerts ack 1 --db "$db"
[ "$("$T" alerts --db "$db" --json --status acked | wc -l)" -eq 1 ] || fail "--status acked"
[ "$(sqlite3 "$db" "SELECT status FROM alerts WHERE id = 1")" = acked ] || fail "ack stored"
expect 0 "alert 2 deleted" "$T" alerts delete 2 --db "$db"
expect 1 "no alert with id 2" "$T" alerts delete 2 --db "$db"
expect 2 "bad alert id 'x'" "$T" alerts ack x --db "$db"
expect 2 "bad --status" "$T" alerts --db "$db" --status bogus
expect 2 "bad --since" "$T" alerts --db "$db" --since yesterday
expect 2 "expected 'ack ID'" "$T" alerts frobnicate 1 --db "$db"

expect 0 "192.0.2.7" "$T" hosts --db "$db"
expect 0 "recent alerts:" "$T" hosts --db "$db" 192.0.2.7
out=$("$T" hosts --db "$db" 192.0.2.7)
printf '%s' "$out" | grep -q "$(printf '\033')" && fail "escape sequence reached the terminal"
expect 1 "no host 192.0.2.8 stored" "$T" hosts --db "$db" 192.0.2.8
expect 2 "not an IP address" "$T" hosts --db "$db" nonsense

expect 0 "192.0.2.7/32" "$T" blocklist --db "$db" --format plain --now 1700000100 \
  --allowlist "$TAPIR_TOP/rules/allowlist"
printf '192.0.2.0/24\n' >"$d/allow"
out=$("$T" blocklist --db "$db" --format plain --now 1700000100 --allowlist "$d/allow") ||
  fail "blocklist"
[ "$out" = "2001:db8::5/128" ] || fail "allowlisted network listed: $out"

# A writer lock held by the sqlite3 shell: ack fails after the busy timeout, reads go on.
mkfifo "$d/fifo"
sqlite3 "$db" <"$d/fifo" >/dev/null 2>&1 &
lockpid=$!
exec 3>"$d/fifo"
echo "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('lock', 'held');" >&3
sleep 1
start=$(date +%s)
expect 1 "database is locked by another writer" "$T" alerts ack 3 --db "$db"
took=$(( $(date +%s) - start ))
[ "$took" -le 15 ] || fail "ack waited $took s"
expect 0 "2001:db8::5" "$T" alerts --db "$db"
echo "ROLLBACK;" >&3
exec 3>&-
wait "$lockpid"
lockpid=""
expect 0 "alert 3 acknowledged" "$T" alerts ack 3 --db "$db"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
echo "query_cli: all checks passed"
