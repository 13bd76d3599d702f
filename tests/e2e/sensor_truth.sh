#!/bin/sh
# The sensor against the generator's ground truth, on both shipped captures:
# per-IP packets/bytes sent and received and flows started, summed over windows, and
# every flow's packets and bytes both ways, must match exactly; DNS, HTTP, TLS and SSH
# flows must be labelled by nDPI.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
for name in baseline mixed; do
  pcap="$TAPIR_TOP/pcaps/$name.pcap"
  "$TAPIR" run -r "$pcap" -q --no-progress --warmup 100000 --hosts-csv "$tmp/$name.hosts.csv" \
    --flow-log "$tmp/$name.flows.csv" || fail "tapir run on $name.pcap exited $?"
  /usr/bin/python3 - "$tmp/$name.hosts.csv" "$TAPIR_TOP/pcaps/$name.truth-hosts.csv" \
    "$tmp/$name.flows.csv" "$TAPIR_TOP/pcaps/$name.truth-flows.csv" "$name" <<'PY' || exit 1
import csv, sys
from collections import defaultdict
hosts, truth_hosts, flows, truth_flows, name = sys.argv[1:6]
got = defaultdict(lambda: [0, 0, 0, 0, 0])
for r in csv.DictReader(open(hosts)):
    g = got[r["ip"]]
    for i, k in enumerate(["pkts_sent", "bytes_sent", "pkts_recv", "bytes_recv", "flows_started"]):
        g[i] += int(r[k])
bad = 0
n = 0
for r in csv.DictReader(open(truth_hosts)):
    n += 1
    want = [int(r[k]) for k in ["pkts_sent", "bytes_sent", "pkts_recv", "bytes_recv", "flows_started"]]
    if got.get(r["ip"]) != want:
        bad += 1
        if bad <= 5:
            print(f"{name}: host {r['ip']}: truth {want}, tapir {got.get(r['ip'])}")
extra = set(got) - {r["ip"] for r in csv.DictReader(open(truth_hosts))}
if extra:
    print(f"{name}: hosts tapir saw that the truth lacks: {sorted(extra)[:5]}")
    bad += len(extra)
def key(r):
    return (r["src"], r["sport"], r["dst"], r["dport"], r["proto"], r["first_ts"])
tf = {key(r): r for r in csv.DictReader(open(truth_flows))}
gf = {key(r): r for r in csv.DictReader(open(flows))}
fbad = 0
for k, r in tf.items():
    g = gf.get(k)
    want = [r[c] for c in ["pkts_fwd", "bytes_fwd", "pkts_rev", "bytes_rev"]]
    have = [g[c] for c in ["pkts_fwd", "bytes_fwd", "pkts_rev", "bytes_rev"]] if g else None
    if have != want:
        fbad += 1
        if fbad <= 5:
            print(f"{name}: flow {k}: truth {want}, tapir {have}")
fbad += len(set(gf) - set(tf))
print(f"{name}: {n} hosts, {len(tf)} flows; mismatched hosts {bad}, flows {fbad}")
# L7: every flow to port 53/80/443/22 of a benign client carries its protocol's name.
l7 = defaultdict(lambda: [0, 0])
want_proto = {("53", "17"): "DNS", ("80", "6"): "HTTP", ("443", "6"): "TLS", ("22", "6"): "SSH"}
for g in gf.values():
    p = want_proto.get((g["dport"], g["proto"]))
    if not p or int(g["pkts_rev"]) == 0 or int(g["bytes_fwd"]) <= 44 * int(g["pkts_fwd"]) + 8:
        continue  # unanswered or payload-free (scans, floods)
    l7[p][0] += 1
    if g["l7"].split(".")[0] == p or p in g["l7"].split("."):
        l7[p][1] += 1
for p, (tot, ok) in sorted(l7.items()):
    print(f"{name}: {p}: {ok}/{tot} flows labelled")
missing = [p for p in ["DNS", "HTTP", "TLS", "SSH"] if l7[p][0] == 0 or l7[p][1] < 0.95 * l7[p][0]]
sys.exit(1 if bad or fbad or missing else 0)
PY
done
pass "per-IP and per-flow counts match the ground truth exactly; DNS/HTTP/TLS/SSH labelled"
