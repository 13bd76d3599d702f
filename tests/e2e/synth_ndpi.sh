#!/bin/sh
# nDPI (ndpiReader) recognises DNS, HTTP, TLS and SSH in tapir synth output by payload.
set -u
: "${TAPIR:?}"
command -v ndpiReader >/dev/null 2>&1 || { echo "skip: ndpiReader (libndpi-bin) not installed"; exit 77; }
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
"$TAPIR" synth --seed 7 --duration 10m --out "$d/x.pcap" --labels "$d/x.csv" 2>/dev/null ||
  { echo "synth failed"; exit 1; }
# -d: no guessing by port, payload inspection only
ndpiReader -d -i "$d/x.pcap" >"$d/ndpi" 2>&1 || { echo "ndpiReader failed"; tail "$d/ndpi"; exit 1; }
sed -n '/Detected protocols/,/^$/p' "$d/ndpi" >"$d/proto"
for p in DNS HTTP TLS SSH NTP SMTP IMAP FTP_CONTROL; do
  n=$(awk -v p="$p" '$1 == p { for (i = 1; i <= NF; i++) if ($i == "flows:") print $(i+1) }' "$d/proto")
  [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "FAIL: nDPI found no $p flow"; cat "$d/proto"; exit 1; }
  echo "$p: $n flows"
done
echo "ok"
