#!/bin/sh
# A storm of incidents against receivers that are slow, absent or hang: the queues stay
# bounded (--notify-queue 8), what does not fit is dropped and counted, the analysis
# never waits (the replay raises the same alerts as without notifications) and the run
# ends in bounded time (each queue gets 5 s at exit). Every notification is accounted
# for: sent + failed + dropped = incidents, per transport. A hook that hangs is killed
# with its children after --notify-exec-timeout, and none is left behind.
# The storm: the mixed capture in 1 s windows, warmed up on its first windows with a
# fixed threshold of 0.01 (nearly every scored IP alerts: about 6,700 incidents).
# Normal pass only (slow).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "${TAPIR_SAN:-0}" = 1 ] && skip "normal pass only"
need_pcaps
py=/usr/bin/python3
[ -x "$py" ] || skip "python3 is not installed"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

storm="-r $TAPIR_TOP/pcaps/mixed.pcap --no-progress --window 1 --warmup 5 --threshold 0.01
  --persist 1/1 --min-pkts 1"
# shellcheck disable=SC2086
"$TAPIR" run $storm -q --alert-log "$tmp/quiet.json" 2>/dev/null ||
  fail "run without notifications exited $?"

mkdir "$tmp/web"
"$py" "$TAPIR_TOP/tests/e2e/notify_recv.py" http "$tmp/web" "$tmp/web.port" 1 & pids="$pids $!"
for i in $(seq 1 100); do [ -s "$tmp/web.port" ] && break; sleep 0.1; done
[ -s "$tmp/web.port" ] || fail "the webhook receiver did not start"
# A port nothing listens on: bind one, then close it.
closed=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/hang.sh" <<'EOF'
#!/bin/sh
sleep 31.4159 &
wait
EOF
chmod 755 "$tmp/hang.sh"

start=$(date +%s)
# shellcheck disable=SC2086
timeout 120 "$TAPIR" run $storm --alert-log "$tmp/storm.json" --notify-replay \
  --notify-queue 8 --notify-attempts 2 \
  --notify-webhook "http://127.0.0.1:$(cat "$tmp/web.port")/slow" \
  --notify-email oncall@example.org --smtp-url "smtp://127.0.0.1:$closed" \
  --smtp-from tapir@example.org \
  --notify-exec "$tmp/hang.sh" --notify-exec-timeout 1 >/dev/null 2>"$tmp/err"
rc=$?
secs=$(( $(date +%s) - start ))
[ $rc -eq 0 ] || { tail -20 "$tmp/err"; fail "storm run exited $rc after ${secs}s"; }
[ "$secs" -le 40 ] || fail "storm run took ${secs}s (bounded: 5 s drain per queue at exit)"
cmp -s "$tmp/storm.json" "$tmp/quiet.json" 2>/dev/null ||
  [ "$(wc -l <"$tmp/storm.json")" -eq "$(wc -l <"$tmp/quiet.json")" ] ||
  fail "the storm changed the alert log: $(wc -l <"$tmp/storm.json") vs $(wc -l <"$tmp/quiet.json") lines"
n=$(grep -c '"event_type":"alert"' "$tmp/storm.json") # incidents opened: what is notified
[ "$n" -ge 2000 ] || fail "only $n incidents: not a storm"
grep -q 'notify: webhook: queue full (8 waiting)' "$tmp/err" || fail "no queue-full message"
[ "$(grep -c 'queue full' "$tmp/err")" -le 6 ] || fail "queue-full messages are not rate-limited"
for t in webhook email exec; do
  line=$(grep "notify: $t: .* sent" "$tmp/err") || { cat "$tmp/err"; fail "no summary for $t"; }
  set -- $(echo "$line" | sed 's/.*: \([0-9]*\) sent, \([0-9]*\) failed, \([0-9]*\) dropped.*/\1 \2 \3/')
  [ $(($1 + $2 + $3)) -eq "$n" ] || fail "$t: $1 sent + $2 failed + $3 dropped != $n incidents"
  [ "$3" -gt 0 ] || fail "$t: nothing dropped in a storm"
  eval "${t}_line=\"\$line\""
done
echo "$webhook_line" | grep -q ' 0 sent' && fail "the slow webhook received nothing"
echo "$email_line" | grep -q ' 0 failed' && fail "the absent SMTP server failed nothing"
sleep 0.2
pgrep -f 'sleep 31.4159' >/dev/null && fail "a timed-out hook's child is still running"
ps -eo stat,args | grep -v grep | grep -q '^Z.*hang.sh' && fail "a zombie hook"
pass "$n incidents in ${secs}s, queues of 8: $(echo "$webhook_line" | sed 's/.*notify: //'); $(echo "$email_line" | sed 's/.*notify: //'); $(echo "$exec_line" | sed 's/.*notify: //')"
