#!/bin/sh
# e2e: incidents (issue 11) on the demo replay (train on pcaps/baseline.pcap, replay
# pcaps/mixed.pcap): the alert log's format 2 (every field, alert/update/end per
# incident, at most one event per incident and window, values at their precision), the
# stdout INCIDENT lines, SQLite (alerts and incidents agree with the log), ids going on
# in a second run, a version-2 database (tests/fixtures/store/v2.db) migrated in place by
# `tapir run`, `tapir incidents` (filters, one incident, errors) and /api/incidents.
# Loopback only; every wait bounded.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd sqlite3
PY=/usr/bin/python3
[ -x $PY ] || skip "no /usr/bin/python3"
T=$TAPIR
cd "$TAPIR_TOP" || fail "cd"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

"$T" train -r pcaps/baseline.pcap -o "$tmp/model.tapir" --no-progress >/dev/null 2>&1 ||
  fail "train"
db=$tmp/tapir.db
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --db "$db" --alert-log "$tmp/a.json" \
  --no-progress --sensor e2e-sensor >"$tmp/run.out" 2>"$tmp/run.err" || fail "run: $(cat "$tmp/run.err")"

# ---- the alert log -------------------------------------------------------------------
$PY - "$tmp/a.json" "$db" <<'EOF' || fail "alert log checks"
import json, re, sqlite3, sys
from collections import defaultdict
lines = [json.loads(l) for l in open(sys.argv[1])]
need = {"format", "timestamp", "event_type", "alert_id", "incident_id", "category",
        "detector", "severity", "ip", "side", "direction", "sensor", "score", "threshold",
        "window_start", "window_end", "top_features", "geo", "l7", "model", "incident"}
by_inc = defaultdict(list)
for o in lines:
    missing = need - set(o)
    assert not missing, (missing, o)
    assert o["format"] == 2
    assert o["event_type"] in ("alert", "update", "end"), o["event_type"]
    assert o["direction"] in ("inbound", "outbound", "internal", "external"), o
    assert o["severity"] in (1, 2, 3), o
    assert o["sensor"] == "e2e-sensor"
    assert isinstance(o["incident_id"], int) and o["incident_id"] > 0
    inc = o["incident"]
    assert set(inc) == {"start", "last_seen", "end", "duration_s", "windows", "alert_count",
                        "peak_score", "detectors"}, inc
    assert (inc["end"] is None) == (o["event_type"] != "end"), o
    assert (o["alert_id"] is None) == (o["event_type"] == "end"), o
    assert inc["windows"] >= 1 and inc["alert_count"] >= inc["windows"]
    assert inc["last_seen"] >= inc["start"]
    by_inc[o["incident_id"]].append(o)
# precision: no value printed with more than 9 significant digits
def sig(x):
    t = repr(float(x)).lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return len(t.rstrip("0")) if "." in repr(float(x)) else len(t)
for o in lines:
    vals = [o["score"], o["threshold"], o["incident"]["peak_score"]]
    for f in o["top_features"]:
        vals += [f["value"], f["baseline"], f["contribution"]]
    for v in vals:
        if v is not None and v != int(v):
            assert sig(v) <= 9, (v, o)
raw = open(sys.argv[1]).read()
assert "1.20000004768372" not in raw
# every incident: one alert first, updates, one end last; one event a window at most
for i, evs in by_inc.items():
    kinds = [e["event_type"] for e in evs]
    assert kinds[0] == "alert" and kinds[-1] == "end", (i, kinds)
    assert kinds.count("alert") == 1 and kinds.count("end") == 1, (i, kinds)
    wins = [e["window_end"] for e in evs if e["event_type"] != "end"]
    assert len(wins) == len(set(wins)), (i, wins)
    keys = {(e["ip"], e["side"], e["category"]) for e in evs}
    assert len(keys) == 1, (i, keys)
    end = evs[-1]
    assert end["incident"]["windows"] >= len(wins)
ids = sorted(by_inc)
assert ids == list(range(1, len(ids) + 1)), ids
# SQLite agrees: one alert row per alert/update event, one incident row per incident
db = sqlite3.connect(sys.argv[2])
n_ev = sum(1 for o in lines if o["event_type"] != "end")
assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == n_ev
assert db.execute("SELECT count(*) FROM incidents").fetchone()[0] == len(ids)
assert db.execute("SELECT count(*) FROM incidents WHERE ended_us IS NULL").fetchone()[0] == 0
for i, evs in by_inc.items():
    r = db.execute("SELECT ip, side, category, windows, alerts, detectors, severity, sensor"
                   " FROM incidents WHERE id = ?", (i,)).fetchone()
    e = evs[-1]
    assert r[:3] == (e["ip"], e["side"], e["category"]), (r, e)
    assert r[3] == e["incident"]["windows"] and r[4] == e["incident"]["alert_count"], (r, e)
    assert r[5].split(",") == e["incident"]["detectors"], (r, e)
    assert r[6] == e["severity"] and r[7] == "e2e-sensor"
    n = db.execute("SELECT count(*) FROM alerts WHERE incident_id = ?", (i,)).fetchone()[0]
    assert n == len(evs) - 1, (i, n, len(evs))
print("ok: %d events, %d incidents" % (len(lines), len(ids)))
EOF
echo "ok: the alert log (format 2) agrees with SQLite"

# ---- stdout: one INCIDENT line per incident, no ALERT lines ---------------------------
n_inc=$(sqlite3 "$db" 'SELECT count(*) FROM incidents')
n_lines=$(grep -c '^INCIDENT ' "$tmp/run.out")
[ "$n_lines" -eq "$n_inc" ] || fail "$n_lines INCIDENT lines for $n_inc incidents"
grep -q '^ALERT ' "$tmp/run.out" && fail "ALERT lines on stdout"
grep -q '^INCIDENT [0-9]* sev [123] [a-z]* .* (\(source\|destination\|prefix\), \(inbound\|outbound\|internal\|external\)\(, [A-Z][A-Z]\)\{0,1\}) 20[0-9-]*T[0-9:]*Z for [0-9hms]* ([0-9]* windows\{0,1\}) by [a-z,]*; why: ' \
  "$tmp/run.out" || fail "INCIDENT line format: $(head -2 "$tmp/run.out")"
echo "ok: $n_lines INCIDENT lines, one per incident"

# ---- the CLI -------------------------------------------------------------------------
"$T" incidents --db "$db" --limit 0 >"$tmp/list.txt" || fail "tapir incidents"
[ "$(($(wc -l <"$tmp/list.txt") - 1))" -eq "$n_inc" ] || fail "tapir incidents lists $(wc -l <"$tmp/list.txt") lines"
head -1 "$tmp/list.txt" | grep -q 'DIRECTION' || fail "no header: $(head -1 "$tmp/list.txt")"
"$T" incidents --db "$db" --category exfil --json >"$tmp/exfil.json" || fail "--category"
[ -s "$tmp/exfil.json" ] || fail "no exfil incident"
$PY -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert rows and all(r["category"]=="exfil" for r in rows), rows' "$tmp/exfil.json" || fail "exfil rows"
"$T" incidents --db "$db" --ip 10.0.0.80 --limit 0 --json >"$tmp/ip.json" || fail "--ip"
$PY -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows) >= 1 and all(r["ip"]=="10.0.0.80" for r in rows), rows' "$tmp/ip.json" || fail "ip rows"
"$T" incidents --db "$db" --since 2026-01-01T00:25:00Z --limit 0 --json >"$tmp/since.json" ||
  fail "--since"
$PY -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert rows and all(r["last_seen"]>="2026-01-01T00:25:00" for r in rows), rows' "$tmp/since.json" ||
  fail "since rows"
"$T" incidents --db "$db" 1 >"$tmp/one.txt" || fail "tapir incidents 1"
grep -q '^alerts:' "$tmp/one.txt" || fail "incident 1 without its alerts: $(cat "$tmp/one.txt")"
"$T" incidents --db "$db" --json 1 | $PY -c 'import json,sys
o=json.load(sys.stdin); assert o["incident_id"]==1 and o["alerts"] and all(a["incident_id"]==1 for a in o["alerts"])' ||
  fail "tapir incidents --json 1"
"$T" incidents --db "$db" 99999 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'no incident with id 99999' "$tmp/err" || fail "unknown id: exit $rc $(cat "$tmp/err")"
"$T" incidents --db "$db" x1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad id not a usage error"
"$T" incidents --db "$db" --category nope >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad category"
"$T" incidents --help | grep -q 'usage: tapir incidents' || fail "--help"
echo "ok: tapir incidents (list, filters, one incident, errors)"

# ---- a second run into the same database: ids go on -----------------------------------
max=$(sqlite3 "$db" 'SELECT max(id) FROM incidents')
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --db "$db" --alert-log "$tmp/b.json" \
  --no-progress -q >/dev/null 2>&1 || fail "second run"
first=$(head -1 "$tmp/b.json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["incident_id"])')
[ "$first" -eq $((max + 1)) ] || fail "second run's first incident is $first, wanted $((max + 1))"
[ "$(sqlite3 "$db" 'SELECT count(DISTINCT id) FROM incidents')" -eq $((2 * n_inc)) ] ||
  fail "second run: $(sqlite3 "$db" 'SELECT count(*) FROM incidents') incidents"
echo "ok: a second run's incident ids start at $first"

# ---- --incident-quiet -----------------------------------------------------------------
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --db "$tmp/q1.db" --no-progress -q \
  --incident-quiet 1 >/dev/null 2>&1 || fail "--incident-quiet 1"
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --db "$tmp/q9.db" --no-progress -q \
  --incident-quiet 9 >/dev/null 2>&1 || fail "--incident-quiet 9"
q1=$(sqlite3 "$tmp/q1.db" 'SELECT count(*) FROM incidents')
q9=$(sqlite3 "$tmp/q9.db" 'SELECT count(*) FROM incidents')
[ "$q1" -ge "$n_inc" ] && [ "$n_inc" -ge "$q9" ] && [ "$q1" -gt "$q9" ] ||
  fail "--incident-quiet 1/2/9 gave $q1/$n_inc/$q9 incidents"
"$T" run -r pcaps/mixed.pcap --incident-quiet 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--incident-quiet 0 accepted"
echo "ok: --incident-quiet 1, 2, 9: $q1, $n_inc, $q9 incidents"

# ---- --home-net decides the direction -------------------------------------------------
# A home net holding none of the capture's hosts: traffic with known peers went from away
# to away (external), and none can be internal; traffic that got no answer has no flow
# records, so no peers: the side's rule (docs/detection.md). The scanner's own /24 as the
# home net: its scan goes out.
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --alert-log "$tmp/h1.json" --no-progress \
  -q --home-net 192.0.2.0/24 >/dev/null 2>&1 || fail "--home-net 192.0.2.0/24"
grep -q '"direction":"internal"' "$tmp/h1.json" && fail "internal with no home host"
grep -q '"direction":"external"' "$tmp/h1.json" || fail "nothing external with no home host"
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --alert-log "$tmp/h2.json" --no-progress \
  -q --home-net 175.16.199.0/24 >/dev/null 2>&1 || fail "--home-net 175.16.199.0/24"
grep '"ip":"175.16.199.201","side":"source"' "$tmp/h2.json" | grep -q '"direction":"outbound"' ||
  fail "the scanner at home does not scan outbound: $(grep 175.16.199.201 "$tmp/h2.json" | head -1)"
# The scanned host itself is not flagged (analyzer/judge.c: a port scan's target).
grep '"ip":"10.0.0.80","side":"destination"' "$tmp/h2.json" | grep -q '"category":"portscan"' &&
  fail "the scan's target is flagged as a destination"
echo "ok: --home-net sets the direction (external, outbound)"

# ---- --max-incidents bounds the open incidents ------------------------------------------
# With incidents that never go quiet, all N stay open to the end of the run; with a table
# of 16, N - 16 end early (evicted: their end events come before the run's end), the run
# says so, and none is lost (as many ends as openings). N comes from the default run.
for m in 4096 16; do
  "$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --alert-log "$tmp/m$m.json" --no-progress \
    -q --incident-quiet 10000 --max-incidents $m >/dev/null 2>"$tmp/m$m.err" || fail "--max-incidents $m"
done
nopen=$(grep -c '"event_type":"alert"' "$tmp/m4096.json")
[ "$nopen" -gt 16 ] || fail "only $nopen incidents: too few to fill a table of 16"
grep -q "incidents: $((nopen - 16)) closed early because the table of 16 was full" "$tmp/m16.err" ||
  { cat "$tmp/m16.err"; fail "no eviction message with --max-incidents 16 ($nopen open)"; }
grep -q "closed early" "$tmp/m4096.err" && fail "evictions with the default table"
python3 - "$tmp/m4096.json" "$tmp/m16.json" "$nopen" <<'PY' || fail "--max-incidents: wrong ends (above)"
import json, sys
n = int(sys.argv[3])
for path, early in ((sys.argv[1], 0), (sys.argv[2], n - 16)):
    ev = [json.loads(l) for l in open(path)]
    ends = [e["timestamp"] for e in ev if e["event_type"] == "end"]
    opened = sum(e["event_type"] == "alert" for e in ev)
    assert len(ends) == opened == n, (path, len(ends), opened)
    assert sum(t < max(ends) for t in ends) == early, (path, sorted(ends))
PY
"$T" run -r pcaps/mixed.pcap --max-incidents 8 2>&1 | grep -q "not a whole number in 16 .. 1048576" ||
  fail "--max-incidents 8 not refused"
echo "ok: --max-incidents 16 evicts $((nopen - 16)) of $nopen open incidents, counted and said"

# ---- a version-2 database, migrated in place by tapir run -----------------------------
cp "$TAPIR_TOP/tests/fixtures/store/v2.db" "$tmp/v2.db"
[ "$(sqlite3 "$tmp/v2.db" 'PRAGMA user_version')" -eq 2 ] || fail "fixture is not version 2"
"$T" incidents --db "$tmp/v2.db" 2>&1 | grep -q 'no incidents match' || fail "v2 read-only listing"
[ "$(sqlite3 "$tmp/v2.db" 'PRAGMA user_version')" -eq 2 ] || fail "listing migrated the file"
"$T" run -r pcaps/mixed.pcap --model "$tmp/model.tapir" --db "$tmp/v2.db" --no-progress -q \
  >/dev/null 2>&1 || fail "run on a version-2 database"
[ "$(sqlite3 "$tmp/v2.db" 'PRAGMA user_version')" -eq 3 ] || fail "not migrated"
[ "$(sqlite3 "$tmp/v2.db" "SELECT count(*) FROM alerts WHERE incident_id IS NULL AND direction = 'unknown'")" -eq 12 ] ||
  fail "the 12 old alerts are not kept as they were"
[ "$(sqlite3 "$tmp/v2.db" 'SELECT count(*) FROM incidents')" -eq "$n_inc" ] || fail "incidents after migration"
[ "$(sqlite3 "$tmp/v2.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity"
echo "ok: a version-2 database migrated in place, its 12 alerts kept"

# ---- the API -------------------------------------------------------------------------
printf 'e2e-token-0123456789abcdef\n' >"$tmp/token"
chmod 600 "$tmp/token"
"$T" serve --db "$db" --listen 127.0.0.1:0 --token-file "$tmp/token" --rate 1000 2>"$tmp/serve.err" &
pid=$!
port=""
i=0
while [ $i -lt 100 ] && [ -z "$port" ]; do
  port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$tmp/serve.err")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$tmp/serve.err")"
  sleep 0.1
  i=$((i + 1))
done
[ -n "$port" ] || fail "serve did not start"
$PY - "$port" <<'EOF' || fail "API checks"
import json, sys, urllib.error, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
def get(path, want=200):
    r = urllib.request.Request(base + path,
                               headers={"Authorization": "Bearer e2e-token-0123456789abcdef"})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            code, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        code, body = e.code, e.read()
    assert code == want, (path, code, body)
    return json.loads(body)
l = get("/api/incidents?limit=1000")
assert len(l["incidents"]) > 0 and l["limit"] == 1000
assert all(set(("incident_id", "status", "direction", "severity", "duration_s")) <= set(o)
           for o in l["incidents"])
one = l["incidents"][-1]
d = get("/api/incidents/%d" % one["incident_id"])
assert d["incident_id"] == one["incident_id"] and d["alerts"], d
assert all(a["incident_id"] == one["incident_id"] for a in d["alerts"])
c = get("/api/incidents?category=synflood")
assert c["incidents"] and all(o["category"] == "synflood" for o in c["incidents"])
det = get("/api/incidents?detector=conversation")
assert det["incidents"] and all("conversation" in o["detectors"] for o in det["incidents"])
get("/api/incidents/999999", 404)
get("/api/incidents/abc", 404)
get("/api/incidents?category=nope", 400)
get("/api/incidents?status=new", 400)
a = get("/api/alerts?limit=1")
assert a["alerts"][0]["incident_id"] and a["alerts"][0]["format"] == 2
print("ok: API")
EOF
kill -TERM "$pid"
wait "$pid" || fail "serve exit status"
pid=""
pass "/api/incidents and /api/incidents/ID"
