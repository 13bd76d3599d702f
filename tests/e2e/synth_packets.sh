#!/bin/sh
# tapir synth --packets N: exactly N packets, traffic and attacks going on past
# --duration, and memory that does not grow with N (peak RSS compared at two sizes).
set -u
: "${TAPIR:?}"
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
rss() { # packets -> peak RSS in kB on stdout (empty if /usr/bin/time is missing)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$d/rss" "$TAPIR" synth --seed 3 --duration 5m --packets "$1" \
      --out "$d/p$1.pcap" --labels "$d/p$1.csv" --truth-flows "$d/f$1.csv" 2>/dev/null || return 1
    tail -n 1 "$d/rss"
  else
    "$TAPIR" synth --seed 3 --duration 5m --packets "$1" --out "$d/p$1.pcap" \
      --labels "$d/p$1.csv" --truth-flows "$d/f$1.csv" 2>/dev/null || return 1
  fi
}
small=$(rss 20000) || { echo "synth --packets 20000 failed"; exit 1; }
big=$(rss 200000) || { echo "synth --packets 200000 failed"; exit 1; }
# exactly N packets: 24-byte file header, then 16-byte record headers (walk them)
/usr/bin/python3 - "$d/p200000.pcap" <<'PY' || exit 1
import struct, sys
f = open(sys.argv[1], 'rb'); f.read(24); n = 0; last = (0, 0)
while True:
    h = f.read(16)
    if not h: break
    s, u, cap, ln = struct.unpack('<IIII', h); f.seek(cap, 1); n += 1
    if (s, u) < last: print('FAIL: time goes back at packet', n); sys.exit(1)
    last = (s, u)
if n != 200000: print('FAIL: %d packets, want 200000' % n); sys.exit(1)
print('200000 packets, last at', last[0])
PY
# past --duration (5 min) the attacks repeat: attack IPs send after the first 5 minutes
start=1767225600
late=$(awk -F, -v s=$start 'NR > 1 && $2 == "attack" && $5 > s + 600' "$d/p200000.csv" | wc -l)
[ "$late" -gt 5 ] || { echo "FAIL: no attack traffic after the first epochs"; exit 1; }
if [ -n "$small" ] && [ -n "$big" ]; then
  echo "peak RSS: ${small} kB at 20k packets, ${big} kB at 200k packets"
  [ "$TAPIR_SAN" = 1 ] || [ "$big" -lt $((small * 3 / 2 + 4096)) ] ||
    { echo "FAIL: memory grows with --packets"; exit 1; }
fi
echo "ok"
