#!/bin/sh
# Every real capture in ../shared/pcaps-public (many protocols, pcap and pcapng,
# nanosecond timestamps, clocks that jump years) runs through the whole pipeline
# (nDPI, geolocation with the world-wide country database when present, warm-up
# training and scoring) without a crash or a sanitizer report, and with L7 found.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_shared pcaps-public
geo=""
[ -f "$TAPIR_SHARED/mmdb/geo-whois-asn-country.mmdb" ] && geo="--geoip $TAPIR_SHARED/mmdb/geo-whois-asn-country.mmdb"
n=0
for f in "$TAPIR_SHARED"/pcaps-public/*; do
  # shellcheck disable=SC2086
  "$TAPIR" run -r "$f" --no-progress --warmup 2 --min-pkts 2 $geo --db "$tmp/t.db" \
    --alert-log "$tmp/alerts.json" --flow-log "$tmp/flows.csv" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 0 ] || { tail -5 "$tmp/err"; fail "$(basename "$f"): exit $rc"; }
  flows=$(($(wc -l <"$tmp/flows.csv") - 1))
  known=$(awk -F, 'NR > 1 && $12 != "Unknown"' "$tmp/flows.csv" | wc -l)
  [ "$flows" -gt 0 ] || fail "$(basename "$f"): no flows"
  [ "$known" -gt 0 ] || fail "$(basename "$f"): no flow with an L7 protocol"
  echo "$(basename "$f"): $flows flows, $known with L7, $(grep -c ALERT "$tmp/out") alerts"
  n=$((n + 1))
done
sqlite3 "$tmp/t.db" 'PRAGMA integrity_check' | grep -qx ok || fail "database integrity"
# Benign real traffic with default settings (warm-up on each capture): few or no alerts.
total=0
for f in "$TAPIR_SHARED"/pcaps-public/*; do
  a=$("$TAPIR" run -r "$f" --no-progress 2>/dev/null | grep -c '^ALERT')
  total=$((total + a))
done
echo "default settings: $total alerts over the $n benign public captures"
[ "$total" -le 3 ] || fail "$total alerts on benign public captures (expected few or none)"
pass "$n public captures processed, $total alerts with default settings"
