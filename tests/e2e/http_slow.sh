#!/bin/sh
# e2e: `tapir serve` under slow HTTP clients (issue 12, point 2). With 64 descriptors
# (ulimit -n 64) and 120 clients that send one byte every 2 s and reconnect when cut,
# /health answers 200 within 1 s, the server uses under 10% of a core and its log grows
# by a few lines (before: /health unanswered, a core busy, 1.6 M lines of "Error from
# accept() call" in 12 s). Then 20 such clients with descriptors to spare: each is cut
# at the 10 s request deadline, not before (before: never). A request with two
# Content-Length headers, or one beside Transfer-Encoding, gets 400. Loopback only; the
# clients are bounded in count and time (tests/e2e/slow_clients.py). About 30 s.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x $PY ] || skip "no /usr/bin/python3"
MK=$TAPIR_BUILD/tools/mkfixture_db
[ -x "$MK" ] || skip "$MK not built (make test-build)"
SLOW="$PY $TAPIR_TOP/tests/e2e/slow_clients.py"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$MK" "$tmp/t.db" 5 >/dev/null || fail "mkfixture_db"
# start NOFILE: serves on a free loopback port with that descriptor limit; sets pid, port.
start() {
  : >"$tmp/err"
  (ulimit -n "$1" && exec "$TAPIR" serve --db "$tmp/t.db" --listen 127.0.0.1:0) 2>"$tmp/err" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$tmp/err")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$tmp/err")"
    sleep 0.1
  done
  [ -n "$port" ] || fail "serve did not start: $(cat "$tmp/err")"
}
stop() { kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""; [ $rc -eq 0 ] || fail "serve exited $rc"; }

# Under ASan the server does the same work several times slower.
cpu=0.10
[ "${TAPIR_SAN:-0}" = 1 ] && cpu=0.30

start 64
$SLOW --port "$port" --pid "$pid" --log "$tmp/err" --clients 120 --seconds 12 --interval 2 \
  --max-health 1 --max-cpu $cpu --max-log 5 || { cat "$tmp/err" | head -5; fail "120 slow clients at 64 descriptors"; }
kill -0 "$pid" || fail "serve died"

# Framing: Content-Length twice, or with Transfer-Encoding, is a 400 (evhttp alone
# read the first Content-Length and left the rest for a "next request").
$PY - "$port" <<'PYEOF' || fail "ambiguous Content-Length"
import socket, sys
port = int(sys.argv[1])
def status(req):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(req)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n", 1)[0]
h = b"Host: 127.0.0.1\r\n"
for req in (b"POST /api/alerts/1/ack HTTP/1.1\r\n" + h + b"Content-Length: 0\r\nContent-Length: 6\r\n\r\nGET / ",
            b"POST /api/alerts/1/ack HTTP/1.1\r\n" + h + b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /health HTTP/1.1\r\n" + h + b"Content-Length: 0\r\ncontent-length: 0\r\n\r\n"):
    line = status(req)
    assert line.startswith(b"HTTP/1.1 400"), (req, line)
# One Content-Length is fine.
line = status(b"GET /health HTTP/1.1\r\n" + h + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
assert line.startswith(b"HTTP/1.1 200"), line
PYEOF
stop

# The request deadline: few clients, no eviction; each is cut at 10 s.
start 1024
$SLOW --port "$port" --pid "$pid" --clients 20 --seconds 13 --interval 1 --probe 2 \
  --max-health 1 --deadline 10 --deadline-exact || fail "request deadline"
stop
pass "slow clients: /health within 1 s at 64 descriptors, CPU and log bounded; deadline 10 s; two Content-Length -> 400"
