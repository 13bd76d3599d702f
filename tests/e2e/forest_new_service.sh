#!/bin/sh
# A benign change stops alerting once retraining has seen enough of it: 4 hours of
# generated benign traffic where, from the first hour on, 10.0.0.250 starts a new service
# (12 clients, 10 sessions a minute on TCP 9443). Replayed with warm-up and a retraining
# every 20 windows, the forest alone (TAPIR_DEBUG_NO_LIMITS) flags it on the destination
# side at first; after BASELINE_ACCEPT_WINDOWS (60) windows over threshold on end its
# windows are learned, and in the last hour it is no longer flagged.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
"$TAPIR" synth --seed 6 --hosts 40 --duration 4h --no-attacks --out "$tmp/b.pcap" \
  --labels "$tmp/b.csv" >/dev/null 2>&1 || fail "synth"
/usr/bin/python3 - "$tmp/b.pcap" "$tmp/svc.pcap" <<'PY' || fail "cannot add the service"
import struct, sys
data = open(sys.argv[1], 'rb').read()
hdr, off, recs = data[:24], 24, []
while off + 16 <= len(data):
    ts, us, cl, ol = struct.unpack_from('<IIII', data, off)
    recs.append((ts + us / 1e6, data[off + 16: off + 16 + cl])); off += 16 + cl
t0, t1 = recs[0][0], recs[-1][0]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff)
    return (~(s + (s >> 16))) & 0xffff
def ip4(a): return bytes(int(x) for x in a.split('.'))
def pkt(s, d, sp, dp, flags, seq, ack, payload=b''):
    tcp = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip4(s), ip4(d))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00' + ip + tcp
srv, t, k = '10.0.0.250', t0 + 3600, 0
while t < t1:
    c = '10.0.0.%d' % (200 + k % 12); sp = 40000 + k % 20000; k += 1
    seq = [(0, c, srv, sp, 9443, 0x02, 1000, 0), (0.001, srv, c, 9443, sp, 0x12, 5000, 1001),
           (0.002, c, srv, sp, 9443, 0x10, 1001, 5001),
           (0.003, c, srv, sp, 9443, 0x18, 1001, 5001, b'G' * 200)]
    seq += [(0.01 + j / 1000, srv, c, 9443, sp, 0x18, 5001 + j * 1400, 1201, b'R' * 1400)
            for j in range(3)]
    seq += [(0.02, c, srv, sp, 9443, 0x11, 1201, 9201), (0.021, srv, c, 9443, sp, 0x11, 9201, 1202),
            (0.022, c, srv, sp, 9443, 0x10, 1202, 9202)]
    recs += [(t + e[0], pkt(*e[1:])) for e in seq]
    t += 6.0
recs.sort(key=lambda r: r[0])
with open(sys.argv[2], 'wb') as f:
    f.write(hdr)
    for ts, b in recs:
        us = int(round((ts - int(ts)) * 1e6))
        s = int(ts) + us // 1000000
        f.write(struct.pack('<IIII', s, us % 1000000, len(b), len(b)) + b)
PY
TAPIR_DEBUG_NO_LIMITS=1 "$TAPIR" run -r "$tmp/svc.pcap" --warmup 10 --retrain 20 --no-progress \
  --alert-log "$tmp/a.json" >/dev/null 2>"$tmp/err" || fail "run"
/usr/bin/python3 - "$tmp/a.json" <<'PY' || fail "see above"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
svc = [r for r in rows if r["ip"] == "10.0.0.250"]
hours = [int(r["window_end"][11:13]) for r in svc]
per = [hours.count(h) for h in range(4)]
print(f"alerts on 10.0.0.250 per hour: {per}")
if per[1] == 0:
    print("FAIL: the new service was never flagged: the test shows nothing"); sys.exit(1)
if per[3] > 0:
    print("FAIL: still flagged in the last hour"); sys.exit(1)
PY
pass "a new service stops alerting once retraining has seen an hour of it"
