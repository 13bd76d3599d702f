#!/bin/sh
# SIGHUP and the options it cannot reload (issue 12, point 14): a changed `window` in
# the config file was ignored without a word. Now each option that needs a restart and
# changed in the file since start gets one line "NAME changed in FILE: needs a restart"
# (or added / removed); reloadable ones are applied, options given on the command line
# win silently, unchanged ones say nothing. Live on the loopback of a private network
# namespace.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_hupr_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
conf="$tmp/tapir.conf"
printf '[sensor]\nwindow = 60\nmax-hosts = 4096\nmax-flows = 4096\n[analyzer]\npersist = 2/3\n' >"$conf"
ip netns exec "$ns" "$TAPIR" run -i lo --no-progress --config "$conf" --max-flows 4096 \
  2>"$tmp/err" >/dev/null &
tp=$!
for i in $(seq 1 100); do grep -q "capturing on" "$tmp/err" && break; sleep 0.1; done
grep -q "capturing on" "$tmp/err" || { cat "$tmp/err"; fail "did not start"; }
reloads() { grep -c "reloaded: persist" "$tmp/err"; }
hup_wait() { n=$(reloads); kill -HUP "$tp"
  for i in $(seq 1 50); do [ "$(reloads)" -gt "$n" ] && return 0; sleep 0.1; done
  cat "$tmp/err"; fail "no reload after SIGHUP ($1)"; }

hup_wait "unchanged file"
grep -q "needs a restart" "$tmp/err" && { cat "$tmp/err"; fail "a restart asked for with nothing changed"; }

printf '[sensor]\nwindow = 30\nmax-hosts = 4096\nmax-flows = 8192\nno-dpi = true\n[analyzer]\npersist = 3/4\n' >"$conf"
hup_wait "window changed"
grep -q "reloaded: persist 3/4" "$tmp/err" || { cat "$tmp/err"; fail "persist not reloaded"; }
[ "$(grep -c "window changed in $conf: needs a restart" "$tmp/err")" -eq 1 ] ||
  { cat "$tmp/err"; fail "expected one 'window changed in FILE: needs a restart'"; }
[ "$(grep -c "no-dpi added in $conf: needs a restart" "$tmp/err")" -eq 1 ] ||
  { cat "$tmp/err"; fail "expected one 'no-dpi added in FILE: needs a restart'"; }
[ "$(grep -c "needs a restart" "$tmp/err")" -eq 2 ] ||
  { cat "$tmp/err"; fail "restart lines for options not changed, reloadable or on the command line"; }

printf '[sensor]\nwindow = 60\nmax-hosts = 4096\n[analyzer]\npersist = 3/4\n' >"$conf"
hup_wait "back as at start"
[ "$(grep -c "needs a restart" "$tmp/err")" -eq 2 ] ||
  { cat "$tmp/err"; fail "restart asked for a file back as at start (max-flows is on the command line)"; }
kill -TERM "$tp"; wait "$tp"; rc=$?; tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "exit $rc after SIGTERM"; }
pass "SIGHUP names each changed option that needs a restart, once"
