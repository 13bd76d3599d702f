#!/bin/sh
# A live SYN flood between two network namespaces (veth): hping3 sends 12,000 SYNs at
# ~5,000/s from 10.198.0.2 to a closed port of 10.198.0.1, where `tapir run -i` watches.
# The victim's synflood alert (detector rate) and the flooder's source-side one must come
# within 2 s of the flood's first packet, in packet time (the first SYN's time from the
# flow log). Bounded (hping3 -c); root and hping3 needed; normal pass only.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "${TAPIR_SAN:-0}" = 1 ] && skip "normal pass only"
need_cmd ip
need_cmd hping3
need_cmd python3
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
ns1=tapir_r1_$$ ns2=tapir_r2_$$
if ! ip netns add "$ns1" 2>/dev/null; then skip "this machine forbids network namespaces"; fi
ip netns add "$ns2" || { ip netns del "$ns1"; skip "cannot create a second namespace"; }
cleanup() {
  [ -n "${hp:-}" ] && kill "$hp" 2>/dev/null
  [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null
  ip netns del "$ns1" 2>/dev/null; ip netns del "$ns2" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip link add vra$$ type veth peer name vrb$$ || skip "cannot create a veth pair"
ip link set vra$$ netns "$ns1"
ip link set vrb$$ netns "$ns2"
ip -n "$ns1" addr add 10.198.0.1/24 dev vra$$
ip -n "$ns2" addr add 10.198.0.2/24 dev vrb$$
ip -n "$ns1" link set vra$$ up; ip -n "$ns1" link set lo up
ip -n "$ns2" link set vrb$$ up; ip -n "$ns2" link set lo up

ip netns exec "$ns1" "$TAPIR" run -i vra$$ --no-progress --no-dpi --alert-log "$tmp/a.json" \
  --flow-log "$tmp/flows.csv" --warmup 1000 'tcp' >"$tmp/out" 2>"$tmp/err" &
tp=$!
for i in $(seq 1 50); do grep -q "capturing on" "$tmp/err" && break; sleep 0.1; done
grep -q "capturing on" "$tmp/err" || { cat "$tmp/err"; fail "tapir did not start capturing"; }

ip netns exec "$ns2" timeout 30 hping3 -q -S -p 80 -i u200 -c 12000 10.198.0.1 >/dev/null 2>&1 &
hp=$!
wait "$hp"
hp=""
sleep 1
kill -TERM "$tp"
wait "$tp"; rc=$?
tp=""
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "tapir exited $rc after SIGTERM"; }
cat "$tmp/err"
python3 - "$tmp/a.json" "$tmp/flows.csv" <<'PY' || fail "no timely rate alert (above)"
import csv, datetime, json, sys
first = min(float(r["first_ts"]) for r in csv.DictReader(open(sys.argv[2]))
            if r["src"] == "10.198.0.2" and r["dport"] == "80")
ok = {"destination": None, "source": None}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["detector"] != "rate" or d["category"] != "synflood":
        continue
    ts = datetime.datetime.strptime(d["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    t = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
    want = "10.198.0.1" if d["side"] == "destination" else "10.198.0.2"
    print("%s %s %s: %.3f s after the first SYN, score %s" % (d["ip"], d["side"], d["category"], t - first, d["score"]))
    if d["ip"] == want and t - first <= 2.0:
        ok[d["side"]] = t - first
sys.exit(0 if all(v is not None for v in ok.values()) else 1)
PY
pass "live hping3 SYN flood alerted on the victim and the flooder within 2 s of its first packet (packet time)"
