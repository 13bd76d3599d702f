#!/bin/sh
# The systemd notify protocol, against a listening socket of our own: a live capture
# sends READY=1 once open, WATCHDOG=1 at a third of WATCHDOG_USEC, RELOADING=1 then
# READY=1 around SIGHUP, STOPPING=1 on SIGTERM (exit 0); no pings when WATCHDOG_PID names
# another process; an abstract socket ("@name") works; a replay says READY=1 too.
# Live on the loopback of a private network namespace.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
ns=tapir_notify_$$
ip netns add "$ns" 2>/dev/null || skip "this machine forbids network namespaces"
cleanup() {
  [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null
  [ -n "${lp:-}" ] && kill "$lp" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip -n "$ns" link set lo up

# listen ADDR LOG [NETNS]: collects datagrams ("<seconds> <text with \n as |>") for 30 s
# at most (abstract addresses belong to a network namespace: give the one tapir runs in).
listen() {
  in_ns=
  [ $# -ge 3 ] && in_ns="ip netns exec $3"
  $in_ns /usr/bin/python3 - "$1" "$2" <<'PY' &
import socket, sys, time
addr, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.5)
t0 = time.time()
with open(log, "w", buffering=1) as f:
    f.write("listening\n")
    while time.time() - t0 < 30:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            continue
        f.write("%.3f %s\n" % (time.time() - t0, m.replace("\n", "|")))
        if m.startswith("STOPPING=1"):
            break
PY
  lp=$!
  for i in $(seq 1 50); do grep -q listening "$2" 2>/dev/null && return; sleep 0.1; done
  fail "the test's notify listener did not start"
}
wait_for() { # PATTERN FILE
  for i in $(seq 1 100); do grep -q "$1" "$2" && return 0; sleep 0.1; done
  return 1
}

listen "$tmp/notify.sock" "$tmp/n1"
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=450000 ip netns exec "$ns" "$TAPIR" run -i lo \
  --no-progress 2>"$tmp/err" >/dev/null &
tp=$!
wait_for "READY=1|STATUS=capturing on lo" "$tmp/n1" || { cat "$tmp/err" "$tmp/n1"; fail "no READY=1"; }
sleep 2
pings=$(grep -c "WATCHDOG=1" "$tmp/n1")
[ "$pings" -ge 5 ] || { cat "$tmp/n1"; fail "$pings watchdog pings in 2 s with WATCHDOG_USEC=450000"; }
kill -HUP "$tp"
wait_for "RELOADING=1|MONOTONIC_USEC=" "$tmp/n1" || { cat "$tmp/n1"; fail "no RELOADING=1 on SIGHUP"; }
wait_for "^[0-9.]* READY=1$" "$tmp/n1" || { cat "$tmp/n1"; fail "no READY=1 after the reload"; }
kill -TERM "$tp"
wait "$tp"
rc=$?
tp=
[ $rc -eq 0 ] || fail "exit $rc after SIGTERM"
wait_for "STOPPING=1" "$tmp/n1" || { cat "$tmp/n1"; fail "no STOPPING=1 on SIGTERM"; }
wait "$lp" 2>/dev/null
lp=

# WATCHDOG_PID of another process: the pings are not ours to send. Abstract address.
listen "@tapir-notify-$$" "$tmp/n2" "$ns"
NOTIFY_SOCKET=@tapir-notify-$$ WATCHDOG_USEC=300000 WATCHDOG_PID=1 ip netns exec "$ns" \
  "$TAPIR" run -i lo --no-progress 2>"$tmp/err2" >/dev/null &
tp=$!
wait_for "READY=1" "$tmp/n2" || { cat "$tmp/err2" "$tmp/n2"; fail "no READY=1 on an abstract socket"; }
sleep 1
kill -TERM "$tp"
wait "$tp"
tp=
wait_for "STOPPING=1" "$tmp/n2" || { cat "$tmp/n2"; fail "no STOPPING=1 on an abstract socket"; }
grep -q "WATCHDOG=1" "$tmp/n2" && fail "pinged the watchdog although WATCHDOG_PID names PID 1"
wait "$lp" 2>/dev/null
lp=

# A replay: READY=1 once the files are checked.
listen "$tmp/notify3.sock" "$tmp/n3"
NOTIFY_SOCKET=$tmp/notify3.sock "$TAPIR" run -r "$TAPIR_TOP/pcaps/baseline.pcap" -q --no-progress \
  >/dev/null 2>&1 || fail "replay failed"
wait_for "READY=1" "$tmp/n3" || { cat "$tmp/n3"; fail "no READY=1 for a replay"; }
kill "$lp" 2>/dev/null
lp=
pass "READY, $pings watchdog pings in 2 s, RELOADING/READY on SIGHUP, STOPPING on SIGTERM"
