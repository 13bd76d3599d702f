#!/bin/sh
# e2e: `tapir serve` over a fixture database (build/tools/mkfixture_db): /health without a
# token; 401 without / with a wrong token; the alert filters; ack and delete reaching the
# database; hosts; /metrics parsed as Prometheus text; the dashboard's headers; hostile
# requests (garbage, huge headers and bodies, bad escapes, traversal, odd methods)
# answered with 4xx while the server stays up; the rate limit's 429; usage errors; port
# in use; IPv6 loopback; SIGTERM exiting 0. Loopback only, every loop bounded.
set -u
T=${TAPIR:?TAPIR must name the tapir binary}
[ -x "$T" ] || { echo "skip: $T not built"; exit 77; }
PY=/usr/bin/python3
[ -x $PY ] || { echo "skip: no /usr/bin/python3"; exit 77; }
MK=${TAPIR_BUILD:-$(dirname "$T")}/tools/mkfixture_db
[ -x "$MK" ] || { echo "skip: $MK not built (make test-build)"; exit 77; }
TOP=${TAPIR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
d=$(mktemp -d /tmp/tapir-e2e-http.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$d/serve.err" ] && sed 's/^/  serve: /' "$d/serve.err"; exit 1; }
expect() { # RC PATTERN CMD...
  want=$1 pat=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] || fail "$* -> exit $rc, wanted $want: $out"
  case "$out" in *"$pat"*) ;; *) fail "$* -> output lacks '$pat': $out" ;; esac
}
# start ERRFILE ARGS...: starts the server in the background, sets pid and port.
start() {
  errf=$1; shift
  : >"$errf"
  "$T" serve "$@" 2>"$errf" &
  pid=$!
  port=""
  i=0
  while [ $i -lt 100 ] && [ -z "$port" ]; do
    port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$errf")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited: $(cat "$errf")"
    sleep 0.1
    i=$((i + 1))
  done
  [ -n "$port" ] || fail "server did not start: $(cat "$errf")"
}
# stop: SIGTERM, and the exit status must be 0.
stop() {
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  pid=""
  [ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
}

db=$d/tapir.db
"$MK" "$db" 12 || fail "mkfixture_db"
tok=e2e-token-0123456789abcdef
printf '%s\n' "$tok" >"$d/token"
chmod 600 "$d/token"

# Usage and set-up errors.
expect 2 "cannot open $d/missing.db" "$T" serve --db "$d/missing.db" --listen 127.0.0.1:0
printf 'not a database at all, not at all, no' >"$d/junk.db"
expect 2 "not a database" "$T" serve --db "$d/junk.db" --listen 127.0.0.1:0
cp "$d/token" "$d/token.public"
chmod 644 "$d/token.public"
expect 2 "chmod 600" "$T" serve --db "$db" --listen 127.0.0.1:0 --token-file "$d/token.public"
expect 2 "without a token" env -u TAPIR_TOKEN "$T" serve --db "$db" --listen 0.0.0.0:0
expect 2 "bad listen address" "$T" serve --db "$db" --listen nonsense
expect 2 "bad listen address" "$T" serve --db "$db" --listen 127.0.0.1:70000
expect 2 "bad --rate" "$T" serve --db "$db" --rate -3
expect 0 "usage: tapir serve" "$T" serve --help

start "$d/serve.err" --db "$db" --listen 127.0.0.1:0 --token-file "$d/token" --rate 1000
grep -q "auth on" "$d/serve.err" || fail "auth not on: $(cat "$d/serve.err")"
expect 1 "cannot listen on 127.0.0.1:$port: address in use" \
  "$T" serve --db "$db" --listen "127.0.0.1:$port" --token-file "$d/token"

$PY - "$port" "$tok" "$db" <<'PYEOF' || fail "API checks"
import json, re, socket, sqlite3, sys, urllib.error, urllib.request
port, tok, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
base = "http://127.0.0.1:%d" % port

def req(path, method="GET", token=tok, data=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    r = urllib.request.Request(base + path, method=method, headers=h, data=data)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def jreq(path, method="GET", token=tok, want=200):
    code, hd, body = req(path, method, token)
    assert code == want, (path, method, code, body)
    assert hd["Content-Type"] == "application/json", (path, hd["Content-Type"])
    assert hd["X-Content-Type-Options"] == "nosniff" and hd["Cache-Control"] == "no-store"
    return json.loads(body), hd

def raw(data, read_all=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while read_all:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    except OSError:
        return b"RESET"
    finally:
        s.close()

def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return int(m.group(1)) if m else None

# /health needs no token; the API does.
h, hd = jreq("/health", token=None)
assert h["status"] == "ok" and h["version"], h
e, hd = jreq("/api/alerts", token=None, want=401)
assert hd["WWW-Authenticate"].startswith("Bearer"), hd
assert "error" in e
e, hd = jreq("/api/alerts", token="wrong-token", want=401)
assert "invalid_token" in hd["WWW-Authenticate"]
jreq("/api/alerts", token=tok + "x", want=401)
jreq("/api/alerts", token=tok[:-1], want=401)
jreq("/metrics", token=None, want=401)
code, hd, _ = req("/api/alerts", token=None, headers={"Authorization": "Basic " + tok})
assert code == 401, code

# Listing and filters.
allr, _ = jreq("/api/alerts")
al = allr["alerts"]
assert allr["total"] == 12 and len(al) == 12, allr["total"]
assert [a["alert_id"] for a in al] == list(range(12, 0, -1))
assert allr["limit"] == 100 and allr["offset"] == 0
r, _ = jreq("/api/alerts?ip=192.0.2.7")
assert r["total"] == sum(a["ip"] == "192.0.2.7" for a in al) > 0 and all(a["ip"] == "192.0.2.7" for a in r["alerts"])
r, _ = jreq("/api/alerts?ip=198.51.100.0/24")
# A prefix gives its own alerts and those of every address inside it (issue 12.15).
inside = [a for a in al if a["ip"] == "198.51.100.0/24" or a["ip"].startswith("198.51.100.")]
assert r["total"] == len(inside) and {a["ip"] for a in r["alerts"]} == {a["ip"] for a in inside}, r
assert len({a["ip"] for a in inside}) >= 2, inside
r, _ = jreq("/api/alerts?ip=198.51.100.0%2F24")
assert r["total"] >= 1
r, _ = jreq("/api/alerts?min_score=0.8")
assert r["total"] == sum(a["score"] >= 0.8 for a in al) > 0 and all(a["score"] >= 0.8 for a in r["alerts"])
r, _ = jreq("/api/alerts?since=2023-11-14T22:10:00Z")
assert r["total"] == sum(a["timestamp"] >= "2023-11-14T22:10:00" for a in al) > 0, r["total"]
r, _ = jreq("/api/alerts?since=1699999800")
assert r["total"] == sum(a["timestamp"] >= "2023-11-14T22:10:00" for a in al)
r, _ = jreq("/api/alerts?limit=2&offset=2")
assert [a["alert_id"] for a in r["alerts"]] == [10, 9] and r["total"] == 12
r, _ = jreq("/api/alerts?status=acked")
assert r["total"] == 0 and r["alerts"] == []
r, _ = jreq("/api/alerts?limit=1000&offset=1000000")
assert r["alerts"] == [] and r["total"] == 12

for bad in ["limit=-1", "limit=0", "limit=1001", "limit=99999999999999999999999", "limit=abc",
            "limit=", "offset=-5", "min_score=2", "min_score=nan", "status=bogus",
            "since=yesterday", "ip=not-an-ip", "ip=1.2.3.4/99", "unknown=1", "limit=%zz",
            "limit=1&limit=2", "limit", "ip=%00", "ip=1.2.3.4%"]:
    e, _ = jreq("/api/alerts?" + bad, want=400)
    assert isinstance(e.get("error"), str) and e["error"], (bad, e)
jreq("/api/hosts?limit=5000", want=400)

# One alert; ack; delete — and the database sees it.
a, _ = jreq("/api/alerts/1")
assert a["alert_id"] == 1 and a["status"] == "new"
for p in ["/api/alerts/99999", "/api/alerts/0", "/api/alerts/abc", "/api/alerts/-1",
          "/api/alerts/99999999999999999999999", "/api/alerts/1/nope", "/api/alerts/"]:
    jreq(p, want=404)
a, _ = jreq("/api/alerts/1/ack", method="POST")
assert a["status"] == "acked" and a["acked_at"], a
jreq("/api/alerts/99999/ack", method="POST", want=404)
con = sqlite3.connect(db)
assert con.execute("SELECT status FROM alerts WHERE id = 1").fetchone()[0] == "acked"
e, hd = jreq("/api/alerts/1/ack", want=405)
assert hd["Allow"] == "POST", hd["Allow"]
e, hd = jreq("/api/alerts/1", method="PUT", want=405)
assert "DELETE" in hd["Allow"] and "GET" in hd["Allow"]
e, hd = jreq("/api/alerts", method="POST", want=405)
e, hd = jreq("/health", method="DELETE", token=None, want=405)
r, _ = jreq("/api/alerts/2", method="DELETE")
assert r["deleted"] is True and r["alert_id"] == 2
assert con.execute("SELECT count(*) FROM alerts WHERE id = 2").fetchone()[0] == 0
jreq("/api/alerts/2", method="DELETE", want=404)
jreq("/api/alerts/2", want=404)
r, _ = jreq("/api/alerts?status=acked")
assert [x["alert_id"] for x in r["alerts"]] == [1]
con.close()
# A cross-site page may not change anything, even with the token; the same origin may.
code, _, body = req("/api/alerts/3/ack", method="POST", headers={"Origin": "http://evil.example"})
assert code == 403 and b"cross-origin" in body, (code, body)
code, _, _ = req("/api/alerts/3", method="DELETE", headers={"Origin": "null"})
assert code == 403, code
code, _, _ = req("/api/alerts/3/ack", method="POST", headers={"Origin": "http://127.0.0.1:%d" % port})
assert code == 200, code
code, hd, body = req("/api/alerts", method="HEAD")
assert code == 200 and body == b"", (code, body)

# Hosts.
r, _ = jreq("/api/hosts")
hosts = r["hosts"]
assert len(hosts) == 5 and hosts[0]["max_score"] >= hosts[-1]["max_score"], hosts
r, _ = jreq("/api/hosts?limit=2&offset=1")
assert [x["ip"] for x in r["hosts"]] == [x["ip"] for x in hosts[1:3]]
h, _ = jreq("/api/hosts/2001:db8::5")
assert h["ip"] == "2001:db8::5" and len(h["recent_alerts"]) >= 1 and "geo" in h
h, _ = jreq("/api/hosts/2001:0db8:0::5")
assert h["ip"] == "2001:db8::5"
h, _ = jreq("/api/hosts/198.51.100.23")
assert h["geo"]["as_org"].startswith("<img"), h["geo"]
jreq("/api/hosts/192.0.2.99", want=404)
jreq("/api/hosts/nonsense", want=400)
jreq("/api/hosts/1.2.3.4/5", want=404)

# Metrics: Prometheus text 0.0.4, every sample after its family's HELP and TYPE.
code, hd, body = req("/metrics")
assert code == 200 and hd["Content-Type"].startswith("text/plain; version=0.0.4"), hd
text = body.decode("utf-8")
assert text.endswith("\n")
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
helps, types, samples = {}, {}, {}
for line in text.split("\n")[:-1]:
    if line.startswith("# HELP "):
        m = re.fullmatch(r"# HELP (%s) (.+)" % NAME, line)
        assert m and m.group(1) not in helps, line
        helps[m.group(1)] = m.group(2)
    elif line.startswith("# TYPE "):
        m = re.fullmatch(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)" % NAME, line)
        assert m and m.group(1) not in types and m.group(1) in helps, line
        types[m.group(1)] = m.group(2)
    else:
        m = re.fullmatch(r'(%s)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)' % NAME, line)
        assert m, "bad sample line: " + repr(line)
        name = m.group(1)
        assert name in types and name in helps, "sample before HELP/TYPE: " + line
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), "not snake_case: " + name
        if types[name] == "counter":
            assert name.endswith("_total"), name
        float(m.group(3))
        samples[name + (m.group(2) or "")] = float(m.group(3))
need = ['tapir_build_info{version="%s"}' % jreq("/health", token=None)[0]["version"],
        'tapir_http_requests_total{code="200"}', 'tapir_http_requests_total{code="401"}',
        "tapir_http_rate_limited_total", 'tapir_alerts_stored{status="new"}',
        'tapir_alerts_stored{status="acked"}', 'tapir_alerts_stored{status="suppressed"}']
for n in need:
    assert n in samples, (n, sorted(samples))
assert samples['tapir_alerts_stored{status="new"}'] == 9
assert samples['tapir_alerts_stored{status="acked"}'] == 2
assert samples["tapir_http_rate_limited_total"] == 0
# The process_* series (issue 12, point 17), with sane values.
import os, time
assert 1 << 20 < samples["process_resident_memory_bytes"] < 8 << 30, samples
assert samples["process_virtual_memory_bytes"] >= samples["process_resident_memory_bytes"]
assert 3 <= samples["process_open_fds"] <= samples["process_max_fds"], samples
assert 0 < samples["process_cpu_seconds_total"] < 600, samples
assert time.time() - 300 < samples["process_start_time_seconds"] <= time.time() + 1, samples
assert samples["tapir_http_connections"] >= 1 and samples["tapir_http_connections_max"] >= 4

# The dashboard: no token needed, no data in it, a strict CSP.
code, hd, body = req("/", token=None)
assert code == 200 and hd["Content-Type"].startswith("text/html"), (code, hd)
csp = hd["Content-Security-Policy"]
assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp, csp
assert b"<canvas" in body and b"/dashboard.js" in body and b"192.0.2" not in body
assert req("/dashboard", token=None)[0] == 200
code, hd, js = req("/dashboard.js", token=None)
assert code == 200 and "javascript" in hd["Content-Type"] and b"Authorization" in js
assert b"innerHTML" not in js
code, hd, _ = req("/dashboard.css", token=None)
assert code == 200 and hd["Content-Type"].startswith("text/css")

# Hostile requests: 4xx (or the connection closed), never a crash.
for p in ["/nope", "/api", "/api/", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
          "/api/alerts/..%2f1", "//health", "/health/", "/dashboard.js/../../x"]:
    assert req(p)[0] == 404, p
for p in ["/health%zz", "/%00", "/health%", "/api/alerts%2"]:
    assert req(p)[0] == 400, p
resps = {
    "garbage": raw(b"\x00\xff\x13garbage \x01\x02\r\n\r\n"),
    "no version": raw(b"GET /health\r\n\r\n"),
    "bad method": raw(b"FROB /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    "huge header": raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"),
    "many headers": raw(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"),
    "huge uri": raw(b"GET /" + b"a" * 50000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    "huge body": raw(b"POST /api/alerts/3/ack HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000),
    "bad length": raw(b"POST /api/alerts/3/ack HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    "bad chunk": raw(b"POST /api/alerts/3/ack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    "traversal": raw(b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
    "absolute": raw(b"GET http://evil.example/../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
    "trace": raw(b"TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    "bearer only": raw(("GET /api/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n").encode()),
    "long token": raw(("GET /api/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + "t" * 6000 + "\r\n\r\n").encode()),
    "half request": raw(b"GET /health HTT"),
}
# An unknown method is libevent's 501 (RFC 9110 9.1: "unrecognized ... SHOULD respond
# with 501"); every other answer is a 4xx or a closed connection.
assert status_of(resps.pop("bad method")) in (400, 501)
for name, resp in resps.items():
    st = status_of(resp)
    assert resp in (b"", b"RESET") or (st is not None and 400 <= st < 500), (name, resp[:200])
# Past a size limit the server answers and closes; data it never read would make the
# kernel reset the connection and drop the answer. So these send no more than is read:
# headers just past the limit with no end, and a too-large Content-Length with no body.
for name, data in [("huge header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8300),
                   ("huge body", b"POST /api/alerts/3/ack HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n")]:
    for i in range(3):
        st = status_of(raw(data))
        assert st is not None and 400 <= st < 500, (name, i, st)
for name in ["garbage", "traversal", "trace", "bearer only", "long token"]:
    st = status_of(resps[name])
    assert st is not None and 400 <= st < 500, (name, resps[name][:200])
assert status_of(resps["trace"]) == 405
# Many connections dropped at once, then the server still answers.
for i in range(50):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /api/alerts?limit=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() + b"\r\n\r\n")
    s.close()
h, _ = jreq("/health", token=None)
assert h["status"] == "ok"
r, _ = jreq("/api/alerts?limit=1")
assert r["total"] == 11
print("API checks passed")
PYEOF
stop

# The rate limit: 1/s, burst 2 (slow enough that even a loaded sanitizer build hits it).
start "$d/serve2.err" --db "$db" --listen 127.0.0.1:0 --rate 1
$PY - "$port" <<'PYEOF' || fail "rate limit checks"
import json, sys, time, urllib.error, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
codes, retry = [], None
for i in range(40):
    try:
        with urllib.request.urlopen(base + "/health", timeout=10) as r:
            codes.append(r.status)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
        if e.code == 429:
            retry = e.headers["Retry-After"]
            assert json.loads(e.read())["error"]
ok = codes.count(200)
assert 2 <= ok < 40 and codes.count(429) >= 1, codes
assert codes[:2] == [200] * 2, codes
assert retry is not None and int(retry) >= 1, retry
time.sleep(1.5)
with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
    text = r.read().decode()
line = [l for l in text.split("\n") if l.startswith("tapir_http_rate_limited_total ")][0]
assert float(line.split()[1]) == codes.count(429), (line, codes)
print("rate limit: %d ok, %d limited" % (ok, codes.count(429)))
PYEOF
stop

# IPv6 loopback, auth off (allowed on loopback), from TAPIR_TOKEN when set.
if $PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  start "$d/serve3.err" --db "$db" --listen '[::1]:0'
  grep -q "auth off" "$d/serve3.err" || fail "auth not off: $(cat "$d/serve3.err")"
  $PY - "$port" <<'PYEOF' || fail "IPv6 checks"
import json, sys, urllib.request
import urllib.error
base = "http://[::1]:%s" % sys.argv[1]
with urllib.request.urlopen(base + "/api/alerts?limit=1", timeout=10) as r:
    assert json.loads(r.read())["total"] == 11
# Auth is off: a foreign Host (a DNS-rebound browser) is refused.
for host in ["evil.example", "evil.example:80", "192.0.2.1", "[2001:db8::1]:80"]:
    try:
        urllib.request.urlopen(urllib.request.Request(base + "/api/alerts", headers={"Host": host}), timeout=10)
        raise SystemExit("foreign Host %s accepted" % host)
    except urllib.error.HTTPError as e:
        assert e.code == 403, (host, e.code)
for host in ["localhost", "LOCALHOST:8080", "[::1]", "127.0.0.1:1"]:
    r = urllib.request.urlopen(urllib.request.Request(base + "/api/alerts?limit=1", headers={"Host": host}), timeout=10)
    assert r.status == 200, host
PYEOF
  stop
fi
TAPIR_TOKEN=from-env-0123456789abcdef start "$d/serve4.err" --db "$db" --listen 127.0.0.1:0
$PY - "$port" <<'PYEOF' || fail "TAPIR_TOKEN checks"
import sys, urllib.error, urllib.request
base = "http://127.0.0.1:%s/api/alerts" % sys.argv[1]
try:
    urllib.request.urlopen(base, timeout=10)
    raise SystemExit("no 401 without the token")
except urllib.error.HTTPError as e:
    assert e.code == 401
r = urllib.request.Request(base, headers={"Authorization": "bearer from-env-0123456789abcdef"})
assert urllib.request.urlopen(r, timeout=10).status == 200
PYEOF
kill -INT "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGINT"
echo "http_serve: all checks passed"
