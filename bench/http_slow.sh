#!/bin/sh
# bench/http_slow.sh — the slow-client check of issue 12 (point 2) at the size it was
# found: `tapir serve` and `tapir run --http` with 64 descriptors under 250 clients that
# send one byte every 5 s for 35 s, probing /health every second. Prints, per server,
# the slowest /health answer, the server's CPU (share of one core, from /proc/PID/stat)
# and how many lines its log grew by. Loopback only (run --http inside a private network
# namespace; skipped without root). Usage: sh bench/http_slow.sh [BUILD_DIR]
# Before the fix (main at e1c1dee): /health unanswered, 47% of a core, 1.6 M log lines
# in 12 s; see docs/http.md for the numbers after.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
T=$top/$build/tapir
SLOW="/usr/bin/python3 $top/tests/e2e/slow_clients.py"
CLIENTS=${CLIENTS:-250} SECONDS_RUN=${SECONDS_RUN:-35} INTERVAL=${INTERVAL:-5}
d=$(mktemp -d /tmp/tapir-bench-slow.XXXXXX)
pid="" ns=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
"$top/$build/tools/mkfixture_db" "$d/t.db" 5 >/dev/null || exit 1

(ulimit -n 64 && exec "$T" serve --db "$d/t.db" --listen 127.0.0.1:0) 2>"$d/serve.err" &
pid=$!
sleep 0.5
port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$d/serve.err")
echo "tapir serve, ulimit -n 64:"
$SLOW --port "$port" --pid "$pid" --log "$d/serve.err" --clients "$CLIENTS" \
  --seconds "$SECONDS_RUN" --interval "$INTERVAL" --max-health 1 --max-cpu 0.10 --max-log 10
kill "$pid"; wait "$pid"; pid=""

[ "$(id -u)" = 0 ] || { echo "tapir run --http: skipped (needs root for a network namespace)"; exit 0; }
ns=tapir_bench_slow_$$
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1
ip netns exec "$ns" sh -c 'ulimit -n 64 && exec "$0" "$@"' "$T" run -i lo --no-progress \
  --db "$d/run.db" --http 127.0.0.1:0 2>"$d/run.err" &
pid=$!
for _ in $(seq 1 50); do grep -q "listening on port" "$d/run.err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$d/run.err")
echo "tapir run --http, ulimit -n 64:"
ip netns exec "$ns" $SLOW --port "$port" --pid "$pid" --log "$d/run.err" --clients "$CLIENTS" \
  --seconds "$SECONDS_RUN" --interval "$INTERVAL" --max-health 1 --max-cpu 0.10 --max-log 10
