#!/bin/sh
# SIGHUP while capturing: the alert log is reopened (logrotate moved it), rules and
# model reloaded; a corrupt model on reload is refused and the old one kept; SIGTERM
# then exits 0. Live on the loopback of a private network namespace.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_hup_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress ||
  fail "train failed"
printf '# test allowlist\n192.0.2.0/24\n' >"$tmp/allow"
printf '[analyzer]\npersist = 2/3\nmin-pkts = 5\n' >"$tmp/tapir.conf"
ip netns exec "$ns" "$TAPIR" run -i lo --no-progress --model "$tmp/model.tapir" \
  --config "$tmp/tapir.conf" --allowlist "$tmp/allow" --alert-log "$tmp/alerts.json" 2>"$tmp/err" &
tp=$!
for i in $(seq 1 100); do grep -q "capturing on" "$tmp/err" && break; sleep 0.1; done
grep -q "capturing on" "$tmp/err" || { cat "$tmp/err"; fail "did not start"; }
mv "$tmp/alerts.json" "$tmp/alerts.json.1"
kill -HUP "$tp"
for i in $(seq 1 50); do grep -q "reloaded" "$tmp/err" && break; sleep 0.1; done
grep -q "reloaded" "$tmp/err" || { cat "$tmp/err"; fail "no reload after SIGHUP"; }
# The config file is read again: a new persistence applies, a bad value is refused.
printf '[analyzer]\npersist = 3/4\nmin-pkts = 9\nincident-quiet = 4\n' >"$tmp/tapir.conf"
kill -HUP "$tp"
for i in $(seq 1 50); do grep -q "persist 3/4, min-pkts 9" "$tmp/err" && break; sleep 0.1; done
grep -q "persist 3/4, min-pkts 9" "$tmp/err" || { cat "$tmp/err"; fail "config not re-read on SIGHUP"; }
grep -q "persist 3/4, min-pkts 9, incident-quiet 4," "$tmp/err" ||
  { cat "$tmp/err"; fail "incident-quiet not re-read on SIGHUP"; }
# A key set by one reload and gone from the next keeps its value: the second reload
# must not free the strings the running settings still use (it did: use after free).
reloads() { grep -c "reloaded: persist" "$tmp/err"; }
hup_wait() { n=$(reloads); kill -HUP "$tp"
  for i in $(seq 1 50); do [ "$(reloads)" -gt "$n" ] && return 0; sleep 0.1; done
  cat "$tmp/err"; fail "no reload after SIGHUP ($1)"; }
mkdir -p "$tmp/rules"; printf '192.0.2.0/24\n' >"$tmp/rules/allowlist"
printf '[analyzer]\npersist = 3/4\nrules = %s\nallowlist = %s\n' "$tmp/rules" "$tmp/allow" \
  >"$tmp/tapir.conf"
hup_wait "rules set"
printf '[analyzer]\npersist = 3/4\n' >"$tmp/tapir.conf"
hup_wait "rules removed"
hup_wait "again"
kill -0 "$tp" || fail "tapir died after a key left the config file"
printf '[analyzer]\npersist = 9/4\n' >"$tmp/tapir.conf"
kill -HUP "$tp"
for i in $(seq 1 50); do grep -q "config not reloaded" "$tmp/err" && break; sleep 0.1; done
grep -q "config not reloaded (old settings kept)" "$tmp/err" || { cat "$tmp/err"; fail "bad config on SIGHUP not reported"; }
kill -0 "$tp" || fail "tapir died on a bad config reload"
[ -f "$tmp/alerts.json" ] || fail "alert log not reopened at its path after SIGHUP"
kill -0 "$tp" || fail "tapir died on SIGHUP"
head -c 100 "$tmp/model.tapir" >"$tmp/m2" && mv "$tmp/m2" "$tmp/model.tapir"
kill -HUP "$tp"
for i in $(seq 1 50); do grep -q "model not reloaded" "$tmp/err" && break; sleep 0.1; done
grep -q "model not reloaded (old model kept)" "$tmp/err" || { cat "$tmp/err"; fail "corrupt model on reload not reported"; }
kill -0 "$tp" || fail "tapir died on a corrupt model reload"
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "exit $rc after SIGTERM"; }
pass "SIGHUP reopened the log, reloaded rules and model, refused a corrupt model, kept running"
