#!/bin/sh
# tapir synth's labels and truth files agree with the pcap as tshark reads it:
# every source IP labeled, per-IP packet/byte/flow counts, first/last send times, and
# the flow list recomputed independently with the sensor's flow rules.
set -u
: "${TAPIR:?}"
command -v tshark >/dev/null 2>&1 || { echo "skip: tshark not installed"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "skip: /usr/bin/python3 missing"; exit 77; }
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
"$TAPIR" synth --seed 11 --duration 8m --hosts 40 --ipv6-share 0.4 --out "$d/x.pcap" \
  --labels "$d/labels.csv" --truth-hosts "$d/hosts.csv" --truth-flows "$d/flows.csv" \
  2>/dev/null || { echo "synth failed"; exit 1; }
tshark -r "$d/x.pcap" -T fields -E occurrence=f -E separator=, \
  -e frame.time_epoch -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e ip.len -e ipv6.plen \
  -e ip.proto -e ipv6.nxt -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
  -e tcp.flags 2>/dev/null >"$d/pkts.csv" || { echo "tshark failed"; exit 1; }
/usr/bin/python3 - "$d" <<'PY'
import csv, sys, collections
from decimal import Decimal
d = sys.argv[1]
fail = []
labels = {r['ip']: r for r in csv.DictReader(open(d + '/labels.csv'))}
hosts = {r['ip']: r for r in csv.DictReader(open(d + '/hosts.csv'))}
truth_flows = list(csv.DictReader(open(d + '/flows.csv')))

sent = collections.Counter(); sbytes = collections.Counter()
recv = collections.Counter(); rbytes = collections.Counter()
first = {}; last = {}
pkts = []
for row in csv.reader(open(d + '/pkts.csv')):
    ts, s4, s6, d4, d6, l4, l6, p4, p6, tsp, tdp, usp, udp_, fl = row
    src, dst = s4 or s6, d4 or d6
    iplen = int(l4) if l4 else 40 + int(l6)
    proto = int(p4 or p6)
    sp = int(tsp or usp or 0) if proto in (6, 17) else 0
    dp = int(tdp or udp_ or 0) if proto in (6, 17) else 0
    us = int((Decimal(ts) * 1000000).to_integral_value())
    flags = int(fl, 16) if fl else 0
    pkts.append((us, src, dst, sp, dp, proto, flags, iplen))
    sent[src] += 1; sbytes[src] += iplen; recv[dst] += 1; rbytes[dst] += iplen
    first.setdefault(src, us); last[src] = us

def fmt(us): return '%d.%06d' % (us // 1000000, us % 1000000)

if set(sent) != set(labels):
    fail.append('labels vs pcap sources: missing %s, extra %s' %
                (sorted(set(sent) - set(labels))[:5], sorted(set(labels) - set(sent))[:5]))
for ip, r in labels.items():
    if ip in first and (r['first_ts'] != fmt(first[ip]) or r['last_ts'] != fmt(last[ip])):
        fail.append('%s first/last %s %s vs %s %s' % (ip, r['first_ts'], r['last_ts'],
                                                      fmt(first[ip]), fmt(last[ip])))
    if (r['label'] == 'benign') != (r['attack_type'] == '') or r['label'] not in ('benign', 'attack'):
        fail.append('bad label row %s' % r)
n = len(pkts)
if sum(int(h['pkts_sent']) for h in hosts.values()) != n: fail.append('sum pkts_sent != %d' % n)
if sum(int(h['pkts_recv']) for h in hosts.values()) != n: fail.append('sum pkts_recv != %d' % n)
tb = sum(p[7] for p in pkts)
if sum(int(h['bytes_sent']) for h in hosts.values()) != tb: fail.append('sum bytes_sent != %d' % tb)
for ip, h in hosts.items():
    got = (int(h['pkts_sent']), int(h['bytes_sent']), int(h['pkts_recv']), int(h['bytes_recv']))
    want = (sent[ip], sbytes[ip], recv[ip], rbytes[ip])
    if got != want: fail.append('%s truth %s vs pcap %s' % (ip, got, want))

# flows, recomputed with the sensor's rules
active = {}; done = []
def expired(f, now):
    if f['proto'] == 6:
        if f['close'] is not None: return now > f['close'] + 10000000
        return now > f['last'] + (120000000 if f['est'] else 30000000)
    return now > f['last'] + 60000000
for us, src, dst, sp, dp, proto, flags, iplen in pkts:
    k = (proto,) + tuple(sorted([(src, sp), (dst, dp)]))
    f = active.get(k)
    if f and expired(f, us):
        done.append(f); f = None
    if not f:
        f = dict(first=us, src=src, sport=sp, dst=dst, dport=dp, proto=proto, pf=0, bf=0,
                 pr=0, br=0, synack=False, est=False, fa=False, fb=False, rst=False,
                 close=None, last=us)
        active[k] = f
    fwd = (src, sp) == (f['src'], f['sport'])
    if fwd: f['pf'] += 1; f['bf'] += iplen
    else: f['pr'] += 1; f['br'] += iplen
    f['last'] = us
    if proto == 6:
        closed = f['rst'] or (f['fa'] and f['fb'])
        if not fwd and flags & 0x12 == 0x12: f['synack'] = True
        elif fwd and f['synack'] and flags & 0x10 and not flags & 0x02: f['est'] = True
        if flags & 1:
            if fwd: f['fa'] = True
            else: f['fb'] = True
        if flags & 4: f['rst'] = True
        if not closed and (f['rst'] or (f['fa'] and f['fb'])): f['close'] = us
done += active.values()
mine = collections.Counter((fmt(f['first']), f['src'], f['sport'], f['dst'], f['dport'],
                            f['proto'], f['pf'], f['bf'], f['pr'], f['br']) for f in done)
theirs = collections.Counter((r['first_ts'], r['src'], int(r['sport']), r['dst'],
                              int(r['dport']), int(r['proto']), int(r['pkts_fwd']),
                              int(r['bytes_fwd']), int(r['pkts_rev']), int(r['bytes_rev']))
                             for r in truth_flows)
if mine != theirs:
    fail.append('flows differ: %d recomputed, %d in truth; e.g. only recomputed %s, only truth %s'
                % (len(done), len(truth_flows), list((mine - theirs).items())[:2],
                   list((theirs - mine).items())[:2]))
started = collections.Counter(f['src'] for f in done)
for ip, h in hosts.items():
    if int(h['flows_started']) != started[ip]:
        fail.append('%s flows_started %s vs %d' % (ip, h['flows_started'], started[ip])); break

classes = set(r['attack_type'] for r in labels.values() if r['label'] == 'attack')
want = {'portscan_vertical', 'portscan_horizontal', 'udpscan', 'synflood', 'icmpflood',
        'bruteforce', 'exfil', 'beacon', 'dnstunnel', 'slowscan', 'slowexfil'}
if classes != want: fail.append('attack classes in labels: %s' % sorted(classes))
v6 = [ip for ip in labels if ':' in ip]
if not v6: fail.append('no IPv6 source')
print('%d packets, %d source IPs (%d IPv6), %d flows, %d attack IPs' %
      (n, len(labels), len(v6), len(truth_flows),
       sum(1 for r in labels.values() if r['label'] == 'attack')))
for f in fail[:10]: print('FAIL:', f)
sys.exit(1 if fail else 0)
PY
