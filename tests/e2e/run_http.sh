#!/bin/sh
# `tapir run --http`: the API, /metrics with the sensor's live counters, and the bearer
# token, served while capturing (live on the loopback of a private network namespace, so
# the test is bounded and touches no real interface), then a clean exit on SIGTERM.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd curl
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_http_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
printf 'e2e-token-0123456789abcdef\n' >"$tmp/token"
chmod 600 "$tmp/token"
ip netns exec "$ns" "$TAPIR" run -i lo --no-progress --db "$tmp/t.db" --http 127.0.0.1:0 \
  --http-token-file "$tmp/token" 2>"$tmp/err" &
tp=$!
for i in $(seq 1 100); do grep -q "listening on port" "$tmp/err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/err")
[ -n "$port" ] || { cat "$tmp/err"; fail "no HTTP port announced"; }
url="http://127.0.0.1:$port"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ping -q -c 5 -i 0.05 127.0.0.1 >/dev/null 2>&1 || true
sleep 1.3 # the capture thread publishes pcap_stats about once a second
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' "$url/health")
[ "$code" = 200 ] || fail "/health answered $code"
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' "$url/metrics")
[ "$code" = 401 ] || fail "/metrics without the token answered $code, expected 401"
in_ns curl -s -H "Authorization: Bearer e2e-token-0123456789abcdef" "$url/metrics" >"$tmp/metrics"
grep -q '^tapir_packets_total [1-9]' "$tmp/metrics" || { head -30 "$tmp/metrics"; fail "no live packet counter"; }
grep -q '^# TYPE tapir_alerts_total counter' "$tmp/metrics" || fail "no alert counter"
# Kernel drops while running (not only at exit), and the process_* series with sane values.
/usr/bin/python3 - "$tmp/metrics" "$tp" <<'PYEOF' || { head -50 "$tmp/metrics"; fail "live kernel or process metrics"; }
import os, sys, time
vals = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        name, v = line.rsplit(None, 1)
        vals[name] = float(v)
pid = sys.argv[2]
assert vals["tapir_kernel_received_total"] >= 1, vals.get("tapir_kernel_received_total")
assert vals["tapir_kernel_dropped_total"] == 0 and "tapir_interface_dropped_total" in vals
rss = vals["process_resident_memory_bytes"]
assert 1 << 20 < rss < 8 << 30, rss
assert vals["process_virtual_memory_bytes"] >= rss
assert 3 <= vals["process_open_fds"] <= vals["process_max_fds"], vals["process_open_fds"]
assert 0 < vals["process_cpu_seconds_total"] < 600, vals["process_cpu_seconds_total"]
start = vals["process_start_time_seconds"]
assert time.time() - 300 < start <= time.time() + 1, (start, time.time())
PYEOF
code=$(in_ns curl -s -o "$tmp/alerts" -w '%{http_code}' -H "Authorization: Bearer e2e-token-0123456789abcdef" "$url/api/alerts")
[ "$code" = 200 ] || fail "/api/alerts answered $code"
grep -q '"alerts"' "$tmp/alerts" || fail "/api/alerts body: $(cat "$tmp/alerts")"
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "exit $rc after SIGTERM"; }
pass "run --http served /health, /metrics (live counters, token) and /api/alerts"
