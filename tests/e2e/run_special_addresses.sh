#!/bin/sh
# Addresses that name no one host are never scored nor alerted on: a DHCP flood from
# 0.0.0.0 to 255.255.255.255 and an mDNS storm to 224.0.0.251 (after the demo's
# baseline), counted in the summary and /metrics' counter; ARP frames are counted as
# non-IP frames, in words. The same traffic from an ordinary source is flagged, so the
# silence is the rule's doing, not the traffic's.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/m.tapir" -q --no-progress 2>/dev/null ||
  fail "train"
# pcap: 3 windows of 60 s; each second 40 DHCP DISCOVERs from 0.0.0.0:68 to
# 255.255.255.255:67 (random MACs), 40 mDNS queries from SRC to 224.0.0.251:5353, and 5 ARP
# requests (900 non-IP frames in all). The mDNS source is 0.0.0.0, or 10.9.9.9 for the control.
mk() { # file mdns_src
  /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys, random
out, msrc = sys.argv[1], sys.argv[2]
rnd = random.Random(7)
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip4(a): return bytes(int(x) for x in a.split('.'))
def udp(src, dst, sport, dport, payload, smac, dmac):
    u = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(u), rnd.randrange(65536), 0, 64, 17, 0, ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return dmac + smac + b'\x08\x00' + h + u
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t0 = 1767225600  # 2026-01-01T00:00:00Z
    for sec in range(180):
        for k in range(85):
            ts = t0 + sec + k / 100.0
            mac = bytes([2] + [rnd.randrange(256) for _ in range(5)])
            if k < 40:
                pkt = udp('0.0.0.0', '255.255.255.255', 68, 67, b'\x01\x01\x06\x00' + bytes(236) + b'\x63\x82\x53\x63\x35\x01\x01\xff', mac, b'\xff' * 6)
            elif k < 80:
                pkt = udp(msrc, '224.0.0.251', 5353, 5353, bytes(12) + b'\x05local\x00\x00\x0c\x00\x01', b'\x02\x00\x00\x00\x00\x09', b'\x01\x00\x5e\x00\x00\xfb')
            else:
                pkt = b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip4('10.9.9.%d' % k), bytes(6), ip4('10.9.9.1'))
            f.write(struct.pack('<IIII', int(ts), int((ts % 1) * 1e6), len(pkt), len(pkt)) + pkt)
PY
}
mk "$tmp/special.pcap" 0.0.0.0 || fail "writing the pcap"
"$TAPIR" run -r "$tmp/special.pcap" --model "$tmp/m.tapir" --no-progress \
  --alert-log "$tmp/a.json" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "run exited $?"; }
cat "$tmp/err"
grep -q '^ALERT' "$tmp/out" && { cat "$tmp/out"; fail "an alert on 0.0.0.0, broadcast or multicast"; }
[ -s "$tmp/a.json" ] && fail "the alert log is not empty"
grep -Eq 'summary: .* [1-9][0-9]* not scored for their address' "$tmp/err" ||
  fail "the summary does not count the unscorable addresses"
grep -q 'summary: 900 non-IP frames' "$tmp/err" || fail "the summary does not say 900 non-IP frames"
grep -q 'drops:.*not_ip' "$tmp/err" && fail "non-IP frames are listed as drops"
# Control: the same mDNS storm from an ordinary address is flagged.
mk "$tmp/control.pcap" 10.9.9.9 || fail "writing the control pcap"
"$TAPIR" run -r "$tmp/control.pcap" --model "$tmp/m.tapir" --no-progress -q \
  --alert-log "$tmp/c.json" 2>/dev/null || fail "control run exited $?"
grep -q '"ip":"10.9.9.9"' "$tmp/c.json" || fail "the control (10.9.9.9) was not flagged"
grep -Eq '"ip":"(0\.0\.0\.0|255\.255\.255\.255|224\.0\.0\.251)"' "$tmp/c.json" &&
  fail "an alert on 0.0.0.0, broadcast or multicast in the control"
pass "0.0.0.0, 255.255.255.255 and 224.0.0.251 counted, never alerted; ARP counted as non-IP"
