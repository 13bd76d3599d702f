#!/bin/sh
# The scan and spam rules (analyzer/behaviour.c, docs/detection.md "Rules beside the
# forest") end to end, sensor counts included, on a written pcap replayed against the
# demo's baseline model. Attackers, each in one 60 s window:
#   10.9.0.10  nmap -O's odd probes to 10.9.0.20: NULL, SYN|FIN|PSH|URG, FIN|PSH|URG, x4
#   10.9.0.11  4 SYNs to 4 ports of 10.9.0.21 (ndpi_tcp_scan's shape): 80 and 443
#              answered and reset at once, 445 and 3389 refused
#   10.9.0.12  SMTP sessions to 20 public mail servers (a spambot)
# Controls, whose alerts (a model may find them unusual) must not name a rule:
#   10.9.0.13  SMTP to 2 mail servers (a mail client)
#   10.9.0.14  4 ports of 10.9.0.24, each connection carrying data both ways
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/m.tapir" -q --no-progress 2>/dev/null ||
  fail "train"
/usr/bin/python3 - "$tmp/rules.pcap" <<'PY' || fail "writing the pcap"
import struct, sys
out = sys.argv[1]
FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32
def ip4(a): return bytes(int(x) for x in a.split('.'))
def tcp(src, dst, sport, dport, flags, payload=b''):
    t = struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(t), 1, 0, 64, 6, 0, ip4(src), ip4(dst))
    return b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00' + h + t
pkts = []
t = 1767225600.0 + 5  # 2026-01-01T00:00:05Z
def add(p):
    global t
    pkts.append((t, p))
    t += 0.01
for r in range(4):  # nmap -O's T2, T3, T7
    add(tcp('10.9.0.10', '10.9.0.20', 40000 + r, 135, 0))
    add(tcp('10.9.0.10', '10.9.0.20', 40100 + r, 135, SYN | FIN | PSH | URG))
    add(tcp('10.9.0.10', '10.9.0.20', 40200 + r, 41296, FIN | PSH | URG))
for i, port in enumerate((80, 443)):  # open: answered, then reset
    sp = 50000 + i
    add(tcp('10.9.0.11', '10.9.0.21', sp, port, SYN))
    add(tcp('10.9.0.21', '10.9.0.11', port, sp, SYN | ACK))
    add(tcp('10.9.0.11', '10.9.0.21', sp, port, ACK))
    add(tcp('10.9.0.11', '10.9.0.21', sp, port, RST | ACK))
for i, port in enumerate((445, 3389)):  # closed: refused
    sp = 50010 + i
    add(tcp('10.9.0.11', '10.9.0.21', sp, port, SYN))
    add(tcp('10.9.0.21', '10.9.0.11', port, sp, RST | ACK))
def session(src, dst, sp, dport, data):
    add(tcp(src, dst, sp, dport, SYN))
    add(tcp(dst, src, dport, sp, SYN | ACK))
    add(tcp(src, dst, sp, dport, ACK))
    add(tcp(dst, src, dport, sp, PSH | ACK, data))
    add(tcp(src, dst, sp, dport, PSH | ACK, data))
    add(tcp(src, dst, sp, dport, FIN | ACK))
    add(tcp(dst, src, dport, sp, FIN | ACK))
for i in range(20):
    session('10.9.0.12', '81.2.%d.25' % (10 + i), 51000 + i, 25, b'EHLO x\r\n' * 8)
for i in range(2):
    session('10.9.0.13', '81.3.%d.25' % (10 + i), 52000 + i, 587, b'EHLO x\r\n' * 8)
for i, port in enumerate((80, 443, 8080, 8443)):
    session('10.9.0.14', '10.9.0.24', 53000 + i, port, b'GET / HTTP/1.1\r\n' * 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for ts, p in pkts:
        f.write(struct.pack('<IIII', int(ts), int(round((ts % 1) * 1e6)) % 1000000, len(p), len(p)) + p)
PY
"$TAPIR" run -r "$tmp/rules.pcap" --model "$tmp/m.tapir" --no-progress -q \
  --alert-log "$tmp/a.json" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "run exited $?"; }
/usr/bin/python3 - "$tmp/a.json" <<'PY' || { cat "$tmp/a.json"; fail "the rules did not fire as expected"; }
import json, sys
got = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a.get("side") != "source":
        continue
    names = [f["name"] for f in a["top_features"]]
    got.setdefault(a["ip"], []).append((a["detector"], a["category"], names))
want = {"10.9.0.10": ("tcp_odd_flags", "portscan"), "10.9.0.11": ("tcp_probes", "portscan"),
        "10.9.0.12": ("smtp_servers", "anomaly")}
bad = []
for ip, (feat, cat) in want.items():
    hits = [g for g in got.get(ip, []) if g[2] and g[2][0] == feat]
    if not hits:
        bad.append(f"{ip}: no alert naming {feat} first ({got.get(ip)})")
    elif hits[0][0] != "limit" or hits[0][1] != cat:
        bad.append(f"{ip}: {hits[0][0]}/{hits[0][1]}, want limit/{cat}")
for ip in ("10.9.0.13", "10.9.0.14"):
    for g in got.get(ip, []):
        if set(g[2]) & {"tcp_odd_flags", "tcp_probes", "smtp_servers"}:
            bad.append(f"control {ip} named a rule: {g}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
pass "odd flags, probes and spam raise their rules; a mail client and data-carrying connections do not"
