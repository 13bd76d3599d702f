#!/bin/sh
# e2e: suppressions (issue 11 point 5) and the CIDR query (issue 12 point 15) over a
# replayed database: `tapir alerts --ip CIDR` and the API's ?ip= return the prefix's alerts
# and those of the addresses inside it; `tapir alerts suppress` by alert id and by network
# (reason required, --for expiry, exit statuses), `tapir suppressions` listing the
# database's and the rules directory's static `suppress` file; POST
# /api/alerts/ID/suppress (token, body checks, 404) and GET /api/suppressions; a replay
# with a static suppress file and with a database suppression stores those alerts as
# 'suppressed' and keeps them out of the alert log.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd sqlite3
need_cmd curl
T=$TAPIR
expect() { # RC PATTERN CMD...
  want=$1 pat=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] || fail "$* -> exit $rc, wanted $want: $out"
  case "$out" in *"$pat"*) ;; *) fail "$* -> output lacks '$pat': $out" ;; esac
}
q() { sqlite3 "$1" "$2"; }
"$T" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
run() { # DB LOG [ARGS...]
  db=$1 log=$2; shift 2
  "$T" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" -q --no-progress \
    --db "$db" --alert-log "$log" "$@" || fail "run exited $?"
}
run "$tmp/a.db" "$tmp/a.json"
[ "$(q "$tmp/a.db" 'PRAGMA user_version')" -ge 3 ] || fail "schema not migrated"

# --- #12.15: a CIDR gives the prefix's alerts and those of every address inside it.
want=$(q "$tmp/a.db" "select count(*) from alerts where ip like '10.0.1.%'")
[ "$want" -gt 7 ] || fail "fixture: only $want alerts in 10.0.1.0/24"
got=$("$T" alerts --db "$tmp/a.db" --ip 10.0.1.0/24 --limit 0 --json | wc -l)
[ "$got" = "$want" ] || fail "alerts --ip 10.0.1.0/24: $got alerts, the database holds $want"
"$T" alerts --db "$tmp/a.db" --ip 10.0.1.0/24 --limit 0 --json | grep -q '"ip":"10.0.1.0/24"' ||
  fail "the prefix alert itself is missing"
got=$("$T" alerts --db "$tmp/a.db" --ip 10.0.1.243 --limit 0 --json | wc -l)
[ "$got" = "$(q "$tmp/a.db" "select count(*) from alerts where ip = '10.0.1.243'")" ] ||
  fail "a bare IP must stay an exact match ($got)"
got=$("$T" alerts --db "$tmp/a.db" --ip 10.0.0.0/8 --limit 0 --json | grep -c '"ip":"10\.')
[ "$got" = "$(q "$tmp/a.db" "select count(*) from alerts where ip like '10.%'")" ] || fail "/8: $got"
got=$("$T" alerts --db "$tmp/a.db" --ip fd00::/8 --limit 0 --json | wc -l)
[ "$got" = "$(q "$tmp/a.db" "select count(*) from alerts where ip like 'fd%'")" ] || fail "v6 /8: $got"

# --- suppress from the command line.
cp "$tmp/a.db" "$tmp/b.db"
expect 2 "needs --reason" "$T" alerts suppress 1 --db "$tmp/b.db"
expect 2 "one of ID, --ip CIDR or --incident ID" "$T" alerts suppress --reason x --db "$tmp/b.db"
expect 2 "one of ID" "$T" alerts suppress 1 --ip 10.0.0.1 --reason x --db "$tmp/b.db"
expect 2 "bad --for" "$T" alerts suppress 1 --for 3x --reason x --db "$tmp/b.db"
expect 2 "go with suppress" "$T" alerts --reason x --db "$tmp/b.db"
expect 1 "no alert with id 99999" "$T" alerts suppress 99999 --reason x --db "$tmp/b.db"
expect 1 "no incident with id 99999" "$T" alerts suppress --incident 99999 --reason x --db "$tmp/b.db"
expect 2 "bad --ip" "$T" alerts suppress --ip 10.0.0.0/99 --reason x --db "$tmp/b.db"
expect 2 "cannot open" "$T" alerts suppress 1 --reason x --db "$tmp/missing.db"
n=$(q "$tmp/b.db" "select count(*) from alerts where ip like '10.0.1.%'")
expect 0 "$n stored alerts marked suppressed" "$T" alerts suppress --ip 10.0.1.0/24 --for 2h \
  --reason "lab network, change 4711" --db "$tmp/b.db"
[ "$(q "$tmp/b.db" "select count(*) from alerts where status='suppressed'")" = "$n" ] ||
  fail "stored alerts of 10.0.1.0/24 not marked suppressed"
id=$(q "$tmp/b.db" "select min(id) from alerts where ip = 'fd00::a:1:f4'")
expect 0 "suppression 2: fd00::a:1:f4 forever" "$T" alerts suppress "$id" --reason "backup host" \
  --db "$tmp/b.db"
# Already expired one (written as an older sensor would see it): listed only with --all.
q "$tmp/b.db" "insert into suppressions (network, prefix_len, reason, created, created_us,
  expires, expires_us, created_by) values ('192.0.2.9', 128, 'old', 'x', 1, 'y', 2, 'test')"
mkdir -p "$tmp/rules"
printf '# static suppressions\n198.51.100.0/24   # partner scanner\n2001:db8::7\n' \
  >"$tmp/rules/suppress"
out=$("$T" suppressions --db "$tmp/b.db" --rules "$tmp/rules") || fail "suppressions: $out"
for s in "10.0.1.0/24" "lab network, change 4711" "fd00::a:1:f4" "backup host" \
  "198.51.100.0/24" "partner scanner" "2001:db8::7" "rules file" "cli:"; do
  case "$out" in *"$s"*) ;; *) fail "suppressions lacks '$s': $out" ;; esac
done
case "$out" in *192.0.2.9*) fail "an expired suppression is listed: $out" ;; esac
"$T" suppressions --db "$tmp/b.db" --rules "$tmp/rules" --all | grep -q "192.0.2.9.*(expired)" ||
  fail "--all does not show the expired one"
[ "$("$T" suppressions --db "$tmp/b.db" --rules "$tmp/rules" --json | wc -l)" = 4 ] ||
  fail "--json: want 4 lines"
printf 'not-a-network\n' >"$tmp/rules/bad" && mkdir -p "$tmp/badrules" &&
  cp "$tmp/rules/bad" "$tmp/badrules/suppress"
expect 2 "suppress:1: 'not-a-network'" "$T" suppressions --db "$tmp/b.db" --rules "$tmp/badrules"
# Ending one early: it stays as history (--all), the others stay in force.
cp "$tmp/b.db" "$tmp/e.db"
expect 0 "suppression 2 ended" "$T" suppressions end 2 --db "$tmp/e.db"
expect 1 "no suppression in force with id 2" "$T" suppressions end 2 --db "$tmp/e.db"
expect 1 "no suppression in force with id 99" "$T" suppressions end 99 --db "$tmp/e.db"
expect 2 "bad suppression id" "$T" suppressions end x --db "$tmp/e.db"
out=$("$T" suppressions --db "$tmp/e.db" --rules "$tmp/rules")
case "$out" in *fd00::a:1:f4*) fail "an ended suppression is listed: $out" ;; esac
case "$out" in *10.0.1.0/24*) ;; *) fail "ending one ended another: $out" ;; esac
"$T" suppressions --db "$tmp/e.db" --all | grep -q "fd00::a:1:f4.*(expired)" ||
  fail "an ended suppression is not kept as history"
expect 2 "cannot open" "$T" suppressions --db "$tmp/missing.db"
expect 2 "cannot open" "$T" suppressions end 1 --db "$tmp/missing.db"

# --- a replay honours the static file and the database's suppressions.
cp "$tmp/b.db" "$tmp/c.db"
q "$tmp/c.db" "delete from alerts; delete from hosts; delete from windows"
printf '89.160.20.0/24  # static\n' >"$tmp/rules/suppress"
run "$tmp/c.db" "$tmp/c.json" --rules "$tmp/rules"
total=$(q "$tmp/c.db" "select count(*) from alerts")
[ "$total" = "$(q "$tmp/a.db" "select count(*) from alerts")" ] ||
  fail "suppressed alerts must still be stored ($total)"
for ip in '10.0.1.' 'fd00::a:1:f4' '89.160.20.'; do
  grep -q "\"ip\":\"$ip" "$tmp/c.json" && fail "$ip reached the alert log though suppressed"
done
sup=$(q "$tmp/c.db" "select count(*) from alerts where status='suppressed'")
want=$(q "$tmp/a.db" "select count(*) from alerts where ip like '10.0.1.%' or ip = 'fd00::a:1:f4'
  or ip like '89.160.20.%'")
[ "$sup" = "$want" ] || fail "$sup alerts stored as suppressed, want $want"
# Every stored alert that was not suppressed is one "alert" or "update" line (an
# incident's "end" line has no row of its own).
logged=$(grep -vc '"event_type":"end"' "$tmp/c.json")
[ "$logged" = $((total - sup)) ] || fail "alert log: $logged alert and update lines, want $((total - sup))"

# --- the API: POST /api/alerts/ID/suppress, GET /api/suppressions, ?ip=CIDR.
printf 'e2e-token-0123456789abcdef\n' >"$tmp/token"
chmod 600 "$tmp/token"
"$T" serve --db "$tmp/a.db" --listen 127.0.0.1:0 --token-file "$tmp/token" 2>"$tmp/serve.err" &
sp=$!
trap 'kill $sp 2>/dev/null; rm -rf "$tmp"' EXIT
port=""
for i in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$tmp/serve.err")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "serve did not start: $(cat "$tmp/serve.err")"
/usr/bin/python3 - "$port" "$tmp/a.db" <<'PY' || fail "API checks failed"
import json, sqlite3, sys, urllib.request, urllib.error
port, db = sys.argv[1], sys.argv[2]
TOK = "e2e-token-0123456789abcdef"
def req(path, method="GET", body=None, token=TOK):
    r = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), method=method,
                               data=body)
    if token:
        r.add_header("Authorization", "Bearer " + token)
    if body is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r) as f:
            return f.status, json.loads(f.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
c = sqlite3.connect(db)
n = c.execute("select count(*) from alerts where ip like '10.0.1.%'").fetchone()[0]
code, r = req("/api/alerts?ip=10.0.1.0/24&limit=1000")
assert code == 200 and r["total"] == n and len(r["alerts"]) == n, (code, r.get("total"), n)
code, r = req("/api/alerts?ip=10.0.1.0%2F24&limit=1000")
assert code == 200 and r["total"] == n, (code, r)
aid, ip = c.execute("select id, ip from alerts where ip like '89.160.20.%' and ip not like '%/%'"
                    " order by id limit 1").fetchone()
sup = json.dumps({"reason": "vendor test", "for": "1h"}).encode()
assert req("/api/alerts/%d/suppress" % aid, "POST", sup, token=None)[0] == 401
assert req("/api/alerts/%d/suppress" % aid, "GET")[0] == 405
assert req("/api/alerts/999999/suppress" % (), "POST", sup)[0] == 404
for bad in (b"", b"[]", b"{}", b'{"reason": ""}', b'{"reason": 5}', b'{"reason":"x","for":"1y"}',
            b'{"reason":"x","for":3}', b"not json"):
    code, r = req("/api/alerts/%d/suppress" % aid, "POST", bad)
    assert code == 400 and "error" in r, (bad, code, r)
code, r = req("/api/alerts/%d/suppress" % aid, "POST", sup)
assert code == 200, (code, r)
assert r["network"] == ip and r["reason"] == "vendor test" and r["expires"], r
assert r["alerts_marked"] == c.execute("select count(*) from alerts where ip = ?", (ip,)).fetchone()[0], r
code, r = req("/api/alerts/%d" % aid)
assert r["status"] == "suppressed", r
code, r = req("/api/suppressions")
assert code == 200 and [s["network"] for s in r["suppressions"]] == [ip], r
assert r["suppressions"][0]["created_by"] == "api", r
code, r = req("/api/alerts/%d/suppress" % aid, "POST", json.dumps({"reason": "forever"}).encode())
assert code == 200 and r["expires"] is None, r
code, r = req("/api/hosts?flagged=1&limit=1000")
assert code == 200 and all(h["alerts"] > 0 for h in r["hosts"]) and r["hosts"], r
assert req("/api/hosts?flagged=2")[0] == 400
sid = req("/api/suppressions")[1]["suppressions"][0]["id"]
assert req("/api/suppressions/%d" % sid, "GET")[0] == 405
assert req("/api/suppressions/%d" % sid, "DELETE", token=None)[0] == 401
for bad in ("0", "x", "1x", "99999999999999999999"):
    assert req("/api/suppressions/" + bad, "DELETE")[0] == 404, bad
code, r = req("/api/suppressions/%d" % sid, "DELETE")
assert code == 200 and r == {"id": sid, "ended": True}, (code, r)
assert req("/api/suppressions/%d" % sid, "DELETE")[0] == 404
assert all(s["id"] != sid for s in req("/api/suppressions")[1]["suppressions"])
PY
kill "$sp"
pass "CIDR queries, suppress (CLI, API), suppressions listing, static file and replay honoured"
