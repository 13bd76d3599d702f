#!/bin/sh
# tapir synth output parses in tshark with no malformed packet and no error or warning
# beyond the RSTs the scans and floods send on purpose; time order is strict.
set -u
: "${TAPIR:?}"
command -v tshark >/dev/null 2>&1 || { echo "skip: tshark not installed"; exit 77; }
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
"$TAPIR" synth --seed 7 --ipv6-share 0.5 --out "$d/x.pcap" --labels "$d/x.csv" 2>/dev/null ||
  { echo "synth failed"; exit 1; }
tshark -r "$d/x.pcap" -q -z expert >"$d/expert" 2>/dev/null || { echo "tshark failed"; exit 1; }
if grep -q '^Errors' "$d/expert"; then
  echo "FAIL: tshark reports errors"; sed -n '/^Errors/,/^$/p' "$d/expert" | head -30; exit 1
fi
# every warning group must be an expected one
sed -n '/^Warns/,/^$/p' "$d/expert" | awk 'NR>3 && NF' | grep -v 'Connection reset (RST)' >"$d/warn"
if [ -s "$d/warn" ]; then echo "FAIL: unexpected tshark warnings:"; cat "$d/warn"; exit 1; fi
tshark -r "$d/x.pcap" -Y 'frame.len < 14 or _ws.malformed or _ws.expert.severity >= "error"' \
  -T fields -e frame.number 2>/dev/null | head -5 >"$d/bad"
[ -s "$d/bad" ] && { echo "FAIL: malformed frames: $(cat "$d/bad" | tr '\n' ' ')"; exit 1; }
# checksums verified too (tshark does not check them by default)
tshark -r "$d/x.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
  -o udp.check_checksum:TRUE -Y 'ip.checksum.status == "Bad" or tcp.checksum.status == "Bad" or udp.checksum.status == "Bad" or icmp.checksum.status == "Bad" or icmpv6.checksum.status == "Bad"' \
  -T fields -e frame.number 2>/dev/null | head -5 >"$d/csum"
[ -s "$d/csum" ] && { echo "FAIL: bad checksums in frames $(tr '\n' ' ' <"$d/csum")"; exit 1; }
if command -v capinfos >/dev/null 2>&1; then
  capinfos -o "$d/x.pcap" | grep -q 'Strict time order:.*True' ||
    { echo "FAIL: packets not in time order"; exit 1; }
  capinfos -E "$d/x.pcap" | grep -q 'Ethernet' || { echo "FAIL: not Ethernet"; exit 1; }
fi
echo "ok"
