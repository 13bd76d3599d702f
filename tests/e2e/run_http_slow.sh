#!/bin/sh
# e2e: `tapir run --http` under slow HTTP clients (issue 12, point 2), live on the
# loopback of a private network namespace: with 64 descriptors and 120 clients sending
# one byte every 2 s, /health answers within 1 s, the process uses under 10% of a core
# and the log grows by a few lines (before: the analyzer's loop spun on accept errors).
# Then /metrics shows the connection series. Loopback only, bounded (slow_clients.py).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "${TAPIR_SAN:-0}" = 1 ] && skip "normal pass only"
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
PY=/usr/bin/python3
[ -x $PY ] || skip "no /usr/bin/python3"
ns=tapir_slow_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" sh -c 'ulimit -n 64 && exec "$0" "$@"' "$TAPIR" run -i lo --no-progress \
  --db "$tmp/t.db" --http 127.0.0.1:0 2>"$tmp/err" &
tp=$!
for _ in $(seq 1 100); do grep -q "listening on port" "$tmp/err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/err")
[ -n "$port" ] || { cat "$tmp/err"; fail "no HTTP port announced"; }
ip netns exec "$ns" $PY "$TAPIR_TOP/tests/e2e/slow_clients.py" --port "$port" --pid "$tp" \
  --log "$tmp/err" --clients 120 --seconds 12 --interval 2 --max-health 1 --max-cpu 0.10 \
  --max-log 5 || { head -5 "$tmp/err"; fail "120 slow clients at 64 descriptors"; }
ip netns exec "$ns" $PY - "$port" <<'PYEOF' || fail "connection metrics"
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
vals = {l.split()[0]: float(l.split()[1]) for l in body.splitlines() if l and not l.startswith("#")}
assert vals["tapir_http_connections_max"] < 64, vals["tapir_http_connections_max"]
assert vals["tapir_http_connections_evicted_total"] > 0, vals
PYEOF
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { tail -5 "$tmp/err"; fail "exit $rc after SIGTERM"; }
pass "run --http: /health within 1 s under 120 slow clients at 64 descriptors, CPU and log bounded"
