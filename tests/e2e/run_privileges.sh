#!/bin/sh
# Privileges on a replay: (0) root `run -r - --user nobody`, fed through a FIFO kept open so
# it stays alive, runs every thread as nobody with no capability, an empty bounding set and
# no-new-privileges, reads the capture from standard input to the end, and its database,
# WAL and shared memory are 0640 at most under umask 000; an unknown user is exit 2.
# Privileges on a live capture. (1) An unprivileged process given CAP_NET_RAW and
# CAP_NET_ADMIN (as the systemd unit does) holds no capability once the capture is open,
# and still counts the traffic. (2) With --user, the database and alert log that root
# opened become the user's, so a SIGHUP after log rotation reopens the log without an
# error. Live on the loopback of a private network namespace.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
need_cmd setpriv
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
pcap="$TAPIR_TOP/pcaps/mixed.pcap"
need_pcaps

ngroup=$(id -gn nobody)

# (0) a replay with --user, reading standard input
"$TAPIR" run -r "$pcap" -q --user no-such-user-here 2>"$tmp/err0"; rc=$?
[ $rc -eq 2 ] && grep -q "no such user 'no-such-user-here'" "$tmp/err0" ||
  { cat "$tmp/err0"; fail "unknown --user: exit $rc (want 2 and 'no such user')"; }
mkdir "$tmp/r" && chmod 777 "$tmp/r"
mkfifo "$tmp/fifo"
(umask 000; exec "$TAPIR" run -r - --user nobody --no-progress --db "$tmp/r/t.db" \
  --alert-log "$tmp/r/a.json" <"$tmp/fifo" >/dev/null 2>"$tmp/err0") &
tp=$!
exec 3>"$tmp/fifo"
cat "$pcap" >&3
for i in $(seq 1 100); do grep -q "running as nobody" "$tmp/err0" && break; sleep 0.1; done
grep -q "running as nobody" "$tmp/err0" || { cat "$tmp/err0"; fail "replay with --user nobody: no 'running as nobody'"; }
sleep 0.5 # the packets written so far are read; the process waits for more
n_threads=0
for st in /proc/$tp/task/*/status; do
  name=$(awk '$1 == "Name:" { print $2 }' "$st")
  for f in Uid Gid; do
    v=$(awk -v k="$f:" '$1 == k { print $2 $3 $4 $5 }' "$st")
    [ "$v" = 65534655346553465534 ] || [ "$f" = Gid ] || fail "replay thread $name: $f is $v (want 65534 x 4)"
  done
  g=$(awk '$1 == "Groups:" { print $2 }' "$st")
  [ -z "$g" ] || fail "replay thread $name: supplementary groups $g"
  for f in CapEff CapPrm CapAmb CapInh CapBnd; do
    v=$(awk -v k="$f:" '$1 == k { print $2 }' "$st")
    [ "$v" = 0000000000000000 ] || fail "replay thread $name: $f is $v (want none)"
  done
  v=$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")
  [ "$v" = 1 ] || fail "replay thread $name: NoNewPrivs is $v (want 1)"
  n_threads=$((n_threads + 1))
done
[ "$n_threads" -ge 2 ] || fail "replay: only $n_threads threads checked"
for f in t.db t.db-wal t.db-shm a.json; do
  [ -e "$tmp/r/$f" ] || fail "replay: no $f while running"
  m=$(stat -c %a "$tmp/r/$f")
  [ $((0$m & 0137)) -eq 0 ] || fail "$f has mode $m under umask 000 (want 0640 or less)"
done
exec 3>&-
wait "$tp" || { cat "$tmp/err0"; fail "replay from standard input: exit $?"; }
tp=
n0=$(sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p' "$tmp/err0")
want=$("$TAPIR" run -r "$pcap" --no-dpi 2>&1 | sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p')
[ "$n0" = "$want" ] || fail "replay from standard input counted $n0 packets (want $want)"
# Already the user (as under the systemd unit, with ambient capabilities): --user of the
# same user runs, with no-new-privileges; another user is refused (exit 2).
setpriv --reuid=nobody --regid="$ngroup" --clear-groups --inh-caps=+net_raw,+net_admin \
  --ambient-caps=+net_raw,+net_admin "$TAPIR" run -r "$pcap" --user nobody -q 2>"$tmp/err0b" ||
  { cat "$tmp/err0b"; fail "unprivileged --user nobody as nobody: exit $?"; }
setpriv --reuid=nobody --regid="$ngroup" --clear-groups "$TAPIR" run -r "$pcap" --user root -q \
  2>"$tmp/err0b"; rc=$?
[ $rc -eq 2 ] && grep -q "that is root, which drops nothing" "$tmp/err0b" ||
  { cat "$tmp/err0b"; fail "unprivileged --user root: exit $rc (want 2)"; }
# A user other than one's own, unprivileged: refused (only root switches users).
setpriv --reuid=nobody --regid="$ngroup" --clear-groups "$TAPIR" run -r "$pcap" --user daemon -q \
  2>"$tmp/err0c"; rc=$?
[ $rc -eq 2 ] && grep -q "only root can switch users" "$tmp/err0c" ||
  { cat "$tmp/err0c"; fail "unprivileged --user daemon: exit $rc (want 2)"; }
# Root naming root: refused at once, not after the whole start (review of 2026-12-03).
"$TAPIR" run -r "$pcap" --user root -q 2>"$tmp/err0d"; rc=$?
[ $rc -eq 2 ] && grep -q "drops nothing" "$tmp/err0d" || { cat "$tmp/err0d"; fail "--user root as root: exit $rc"; }
# What is written after the drop (train -o, --save-model, --blocklist) must be writable by
# the user: refused before the run, not after it (review of 2026-12-03).
mkdir -p "$tmp/rootdir" && chmod 755 "$tmp/rootdir"
"$TAPIR" train -r "$pcap" -o "$tmp/rootdir/m.tapir" --user nobody -q 2>"$tmp/err0f"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot write in" "$tmp/err0f" || { cat "$tmp/err0f"; fail "train -o in a root-only directory with --user: exit $rc"; }
"$TAPIR" run -r "$pcap" --user nobody -q --blocklist "$tmp/rootdir/bl" 2>"$tmp/err0g"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot write in" "$tmp/err0g" || { cat "$tmp/err0g"; fail "--blocklist in a root-only directory with --user: exit $rc"; }
# Notification workers are threads too: --user with --notify-exec runs, and the hook
# holds no capability (the workers drop theirs).
mkdir -p "$tmp/hk" && chmod 777 "$tmp/hk" && chmod a+x "$tmp"
printf '#!/bin/sh\ngrep -E "^Cap(Eff|Amb)" /proc/self/status > %s/hk/hookcaps\n' "$tmp" >"$tmp/hk/hook.sh"
chmod 755 "$tmp/hk/hook.sh"
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --user nobody -q --notify-exec "$tmp/hk/hook.sh" \
  --notify-replay 2>"$tmp/err0e" || { cat "$tmp/err0e"; fail "--user nobody with --notify-exec: exit $?"; }
[ -s "$tmp/hk/hookcaps" ] || { cat "$tmp/err0e"; fail "the hook did not run"; }
grep -q "0000000000000000" "$tmp/hk/hookcaps" && ! grep -v "0000000000000000" "$tmp/hk/hookcaps" | grep -q Cap ||
  { cat "$tmp/hk/hookcaps"; fail "the notification hook holds capabilities"; }
replay="replay as nobody: $n_threads threads with no capability, empty bounding set, no-new-privileges; $n0 packets from standard input"

ns=tapir_priv_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip -n "$ns" link set lo up
chmod 755 "$tmp"
started() { # ERRFILE
  for i in $(seq 1 100); do grep -q "capturing on" "$1" && return 0; sleep 0.1; done
  cat "$1"
  return 1
}

# (1) ambient capabilities, then none
ip netns exec "$ns" setpriv --reuid=nobody --regid="$ngroup" --clear-groups \
  --inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
  "$TAPIR" run -i lo --no-progress 2>"$tmp/err1" >/dev/null &
tp=$!
started "$tmp/err1" || fail "unprivileged tapir with CAP_NET_RAW did not start"
grep -q "capabilities dropped" "$tmp/err1" || fail "no 'capabilities dropped' in the log"
# Capabilities are per thread: every thread (capture, DPI worker, analyzer) is checked.
n_threads=0
for st in /proc/$tp/task/*/status; do
  name=$(awk '$1 == "Name:" { print $2 }' "$st")
  for f in CapEff CapPrm CapAmb CapInh; do
    v=$(awk -v k="$f:" '$1 == k { print $2 }' "$st")
    [ "$v" = 0000000000000000 ] || fail "thread $name: $f is $v after the capture opened (want none)"
  done
  n_threads=$((n_threads + 1))
done
[ "$n_threads" -ge 3 ] || fail "only $n_threads threads checked (capture, DPI worker, analyzer expected)"
[ "$(awk '$1 == "Uid:" { print $2 }' "/proc/$tp/status")" = "$(id -u nobody)" ] ||
  fail "not running as nobody"
ip netns exec "$ns" ping -c 5 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1 || fail "ping failed"
kill -TERM "$tp"
wait "$tp" || fail "exit $? after SIGTERM"
tp=
n=$(sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p' "$tmp/err1")
[ "${n:-0}" -ge 10 ] || { cat "$tmp/err1"; fail "${n:-0} packets counted after dropping capabilities (want >= 10)"; }

# (2) --user: files handed over, log reopened after rotation
mkdir "$tmp/out" && chown nobody "$tmp/out"
ip netns exec "$ns" "$TAPIR" run -i lo --no-progress --user nobody --db "$tmp/out/t.db" \
  --alert-log "$tmp/out/alerts.json" 2>"$tmp/err2" >/dev/null &
tp=$!
started "$tmp/err2" || fail "tapir --user nobody did not start"
for f in t.db alerts.json; do
  [ "$(stat -c %U "$tmp/out/$f")" = nobody ] || fail "$f is owned by $(stat -c %U "$tmp/out/$f"), not nobody"
done
grep -q "running as nobody" "$tmp/err2" || { cat "$tmp/err2"; fail "live --user: no 'running as nobody'"; }
for st in /proc/$tp/task/*/status; do
  name=$(awk '$1 == "Name:" { print $2 }' "$st")
  [ "$(awk '$1 == "Uid:" { print $2 $3 $4 $5 }' "$st")" = 65534655346553465534 ] ||
    fail "live --user: thread $name is not nobody"
  for f in CapEff CapPrm CapBnd; do
    v=$(awk -v k="$f:" '$1 == k { print $2 }' "$st")
    [ "$v" = 0000000000000000 ] || fail "live --user: thread $name: $f is $v"
  done
  [ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")" = 1 ] || fail "live --user: thread $name: NoNewPrivs not set"
done
mv "$tmp/out/alerts.json" "$tmp/out/alerts.json.1"
kill -HUP "$tp"
for i in $(seq 1 50); do [ -f "$tmp/out/alerts.json" ] && break; sleep 0.1; done
[ -f "$tmp/out/alerts.json" ] || { cat "$tmp/err2"; fail "alert log not reopened after SIGHUP"; }
grep -q "alert log:" "$tmp/err2" && { cat "$tmp/err2"; fail "the reopen reported an error"; }
kill -TERM "$tp"
wait "$tp" || fail "exit $? after SIGTERM (--user)"
tp=
pass "$replay; no capabilities left in any of $n_threads threads once capturing ($n packets counted); --user owns its database and log"
