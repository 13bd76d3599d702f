#!/bin/sh
# tools/make_pcaps.sh regenerates the shipped pcaps/ and their truth files bit for bit.
set -u
: "${TAPIR:?}" "${TAPIR_TOP:?}"
[ -f "$TAPIR_TOP/pcaps/mixed.pcap" ] || { echo "skip: pcaps/mixed.pcap not generated yet"; exit 77; }
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
sh "$TAPIR_TOP/tools/make_pcaps.sh" "$(dirname "$TAPIR")" "$d" 2>/dev/null ||
  { echo "make_pcaps.sh failed"; exit 1; }
for f in baseline mixed; do
  for x in pcap labels.csv truth-hosts.csv truth-flows.csv; do
    cmp "$d/$f.$x" "$TAPIR_TOP/pcaps/$f.$x" || { echo "FAIL: pcaps/$f.$x differs"; exit 1; }
  done
done
grep -q ',attack,' "$TAPIR_TOP/pcaps/baseline.labels.csv" && { echo "FAIL: attacks in baseline"; exit 1; }
total=$(cat "$TAPIR_TOP"/pcaps/*.pcap | wc -c)
[ "$total" -le 8000000 ] || { echo "FAIL: shipped pcaps are $total bytes (> 8 MB)"; exit 1; }
echo "ok: $total bytes of pcaps"
