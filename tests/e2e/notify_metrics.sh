#!/bin/sh
# A live run (no --notify-replay needed) with notifications serves their counters on
# /metrics, per transport, and exits cleanly on SIGTERM with its exit line. Live on the
# loopback of a private network namespace, so nothing leaves the test.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd curl
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_nmet_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" "$TAPIR" run -i lo --no-progress --http 127.0.0.1:0 \
  --notify-exec /bin/true --notify-webhook http://127.0.0.1:9/none 2>"$tmp/err" &
tp=$!
for i in $(seq 1 100); do grep -q "listening on port" "$tmp/err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/err")
[ -n "$port" ] || { cat "$tmp/err"; fail "no HTTP port announced"; }
ip netns exec "$ns" curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
for t in exec webhook; do
  for s in sent_total failed_total dropped_total retries_total queued; do
    grep -q "^tapir_notify_${s}{transport=\"$t\"} 0$" "$tmp/metrics" ||
      { grep notify "$tmp/metrics"; fail "no tapir_notify_$s for $t"; }
  done
done
grep -q '^# TYPE tapir_notify_dropped_total counter$' "$tmp/metrics" || fail "no # TYPE line"
grep -q 'replay' "$tmp/err" && fail "a live run spoke of --notify-replay"
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "exit $rc after SIGTERM"; }
grep -q 'notify: exec: 0 sent, 0 failed, 0 dropped' "$tmp/err" || { cat "$tmp/err"; fail "no exit line"; }
pass "live run: tapir_notify_* on /metrics for exec and webhook, clean SIGTERM"
