#!/bin/sh
# --syslog: one key=value line per incident through syslog(3), received by a unix
# datagram listener of our own. syslog(3) always writes to /dev/log, so tapir runs in a
# private mount namespace (unshare -m) where /dev is a fresh tmpfs holding the few
# devices a run needs and the test's socket bound over /dev/log: the host's /dev/log (a
# journald or rsyslog, or none in a container) is never touched. Root only.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
py=/usr/bin/python3
[ -x "$py" ] || skip "python3 is not installed"
[ "$(id -u)" = 0 ] || skip "needs root for a mount namespace"
need_cmd unshare
unshare -m true 2>/dev/null || skip "this machine forbids mount namespaces"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
"$py" "$TAPIR_TOP/tests/e2e/notify_recv.py" syslog "$tmp/log.sock" "$tmp/syslog.txt" & pids="$pids $!"
for i in $(seq 1 100); do [ -s "$tmp/syslog.txt.ready" ] && break; sleep 0.1; done
[ -S "$tmp/log.sock" ] || fail "the syslog listener did not start"

cat >"$tmp/ns.sh" <<EOF
set -e
mount --make-rprivate /
mkdir "$tmp/olddev"
mount --rbind /dev "$tmp/olddev"
mount -t tmpfs -o mode=755 tapir-dev /dev
for d in null zero urandom random; do
  touch "/dev/\$d"; mount --bind "$tmp/olddev/\$d" "/dev/\$d"
done
umount -l "$tmp/olddev"
touch /dev/log
mount --bind "$tmp/log.sock" /dev/log
exec "$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress \
  --alert-log "$tmp/alerts.json" --notify-replay --syslog --syslog-facility local3 \
  --sensor e2e-sensor
EOF
unshare -m sh "$tmp/ns.sh" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "run exited $?"; }
n=$(grep -c '"event_type":"alert"' "$tmp/alerts.json")
grep -q "notify: syslog: $n sent" "$tmp/err" || { grep notify "$tmp/err"; fail "syslog did not send $n"; }
for i in $(seq 1 50); do [ "$(wc -l <"$tmp/syslog.txt")" -ge "$n" ] && break; sleep 0.1; done
"$py" - "$tmp" "$n" <<'PY' || fail "syslog lines do not match the alert log"
import json, re, shlex, sys
tmp, n = sys.argv[1], int(sys.argv[2])
lines = open(tmp + "/syslog.txt").read().splitlines()
assert len(lines) == n, (len(lines), n)
alerts = sorted((a["ip"], a["side"], a["category"], a["detector"])
                for a in map(json.loads, open(tmp + "/alerts.json")) if a["event_type"] == "alert")
got = []
for l in lines:
    # <PRI>Mon DD HH:MM:SS tapir[PID]: key=value ...
    m = re.match(r"<(\d+)>.{15} tapir\[\d+\]: (.*)$", l)
    assert m, l
    pri = int(m.group(1))
    assert pri >> 3 == 19, ("facility local3 is 19", pri)  # LOG_LOCAL3
    kv = dict(w.split("=", 1) for w in shlex.split(m.group(2)))
    assert kv["event"] == "alert" and kv["sensor"] == "e2e-sensor", kv
    for k in ("incident", "direction", "severity", "score", "threshold", "time"):
        assert k in kv, (k, kv)
    got.append((kv["ip"], kv["side"], kv["category"], kv["detector"]))
assert sorted(got) == alerts, "syslog fields differ from the alert log"
PY
pass "$n incidents: $n syslog lines (local3, key=value) on a test /dev/log"
