#!/bin/sh
# e2e: a suppression reaches a running `tapir run` within a second, and its expiry too.
# A live capture on the loopback of a private network namespace with 1-second windows
# and 127.0.0.1 on the denylist, so every window with traffic raises an alert; a bounded
# ping is the traffic. `tapir alerts suppress --ip 127.0.0.1 --for 3s` while it runs:
# from 1.2 s later no alert reaches the alert log (they are still stored, as
# 'suppressed'), and once the suppression expired they reach it again.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "$TAPIR_SAN" = 1 ] && skip "normal pass only (timing)"
need_pcaps
need_cmd sqlite3
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_supp_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
tp="" pp=""
cleanup() {
  [ -n "$pp" ] && kill "$pp" 2>/dev/null
  [ -n "$tp" ] && kill "$tp" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip -n "$ns" link set lo up
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress \
  2>/dev/null || fail "train failed"
mkdir -p "$tmp/rules"
echo "127.0.0.1  # every window with traffic alerts" >"$tmp/rules/denylist"
ip netns exec "$ns" "$TAPIR" run -i lo --window 1 --model "$tmp/model.tapir" \
  --rules "$tmp/rules" -q --no-progress --db "$tmp/l.db" --alert-log "$tmp/l.json" \
  2>"$tmp/err" &
tp=$!
for i in $(seq 1 50); do [ -f "$tmp/l.db" ] && break; sleep 0.1; done
ip netns exec "$ns" ping -q -c 240 -i 0.05 127.0.0.1 >/dev/null 2>&1 &
pp=$!
lines() { wc -l <"$tmp/l.json" 2>/dev/null || echo 0; }
for i in $(seq 1 50); do [ "$(lines)" -ge 2 ] && break; sleep 0.1; done
[ "$(lines)" -ge 2 ] || { cat "$tmp/err"; fail "no alerts before the suppression"; }
"$TAPIR" alerts suppress --ip 127.0.0.1 --for 3s --reason "e2e live" --db "$tmp/l.db" \
  >/dev/null || fail "suppress failed"
t0=$(date +%s%N)
sleep 1.2
n1=$(lines)
sleep 1.5 # still inside the 3 s
n2=$(lines)
[ "$n2" = "$n1" ] || fail "alerts reached the log 1.2 s after the suppression ($n1 -> $n2)"
s=$(sqlite3 "$tmp/l.db" "select count(*) from alerts where status = 'suppressed'
  and ts_us > $t0 / 1000")
[ "$s" -ge 1 ] || fail "no suppressed alert stored while suppressed"
sleep 2.5 # the suppression expired 3 s after t0; the next poll drops it
n3=$(lines)
[ "$n3" -gt "$n2" ] || fail "no alerts after the suppression expired ($n2 -> $n3)"
wait "$pp"; pp=""
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "exit $rc after SIGTERM"; }
pass "a new suppression silenced the running sensor within 1.2 s ($s alerts stored as suppressed), and its expiry was honoured"
