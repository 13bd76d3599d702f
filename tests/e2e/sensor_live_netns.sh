#!/bin/sh
# Live capture: two network namespaces joined by a veth pair; `tapir run -i` on one end
# while a bounded burst (20 pings, 50 UDP datagrams) crosses; the per-IP counts must
# match exactly what was sent.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd ip
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
ns1=tapir_t1_$$ ns2=tapir_t2_$$
if ! ip netns add "$ns1" 2>/dev/null; then skip "this machine forbids network namespaces"; fi
ip netns add "$ns2" || { ip netns del "$ns1"; skip "cannot create a second namespace"; }
cleanup() {
  [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null
  ip netns del "$ns1" 2>/dev/null; ip netns del "$ns2" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip link add veth_a$$ type veth peer name veth_b$$ || skip "cannot create a veth pair"
ip link set veth_a$$ netns "$ns1"
ip link set veth_b$$ netns "$ns2"
ip -n "$ns1" addr add 10.199.0.1/24 dev veth_a$$
ip -n "$ns2" addr add 10.199.0.2/24 dev veth_b$$
ip -n "$ns1" link set veth_a$$ up; ip -n "$ns1" link set lo up
ip -n "$ns2" link set veth_b$$ up; ip -n "$ns2" link set lo up

ip netns exec "$ns1" "$TAPIR" run -i veth_a$$ --no-progress --hosts-csv "$tmp/hosts.csv" \
  --flow-log "$tmp/flows.csv" --warmup 1000 'icmp or udp' >"$tmp/out" 2>"$tmp/err" &
tp=$!
for i in $(seq 1 50); do grep -q "capturing on" "$tmp/err" && break; sleep 0.1; done
grep -q "capturing on" "$tmp/err" || { cat "$tmp/err"; fail "tapir did not start capturing"; }

ip netns exec "$ns1" ping -q -c 20 -i 0.02 -W 1 10.199.0.2 >/dev/null || fail "ping failed"
ip netns exec "$ns1" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    s.sendto(b"x" * 100, ("10.199.0.2", 9999))
' || fail "udp burst failed"
sleep 0.5
kill -TERM "$tp"
wait "$tp"; rc=$?
tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "tapir exited $rc after SIGTERM"; }
cat "$tmp/err"
# 20 echo requests of 84 IP bytes + 50 datagrams of 128 IP bytes, all from 10.199.0.1.
got=$(awk -F, '$2=="10.199.0.1" {p+=$3; b+=$4} END {print p+0, b+0}' "$tmp/hosts.csv")
[ "$got" = "70 8080" ] || fail "10.199.0.1 sent: expected '70 8080' packets/bytes, got '$got'"
echo_replies=$(awk -F, '$2=="10.199.0.2" {p+=$3} END {print p+0}' "$tmp/hosts.csv")
[ "$echo_replies" -ge 20 ] || fail "10.199.0.2 sent $echo_replies packets, expected >= 20"
grep -q 'summary: .* 0 dropped' "$tmp/err" || true

# -c N stops after exactly N packets, although a batch holds more.
ip netns exec "$ns1" "$TAPIR" run -i veth_a$$ -c 7 --no-progress >/dev/null 2>"$tmp/err_c" &
tp=$!
for i in $(seq 1 50); do grep -q "capturing on" "$tmp/err_c" && break; sleep 0.1; done
ip netns exec "$ns1" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    s.sendto(b"y" * 20, ("10.199.0.2", 9999))
' || fail "udp burst (-c) failed"
for i in $(seq 1 50); do kill -0 "$tp" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$tp" 2>/dev/null
wait "$tp"
tp=""
n=$(sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p' "$tmp/err_c")
[ "$n" = 7 ] || { cat "$tmp/err_c"; fail "-c 7 counted ${n:-?} packets"; }
pass "live capture counted 70 packets / 8080 bytes from 10.199.0.1 exactly; -c 7 stopped at 7"
