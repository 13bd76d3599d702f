#!/bin/sh
# make demo: train on the shipped attack-free capture, replay the shipped mixed capture
# with that model, and show what was found: one INCIDENT line per incident as it ends
# (output/sink_print.c), then the stored incidents. Usage: tools/demo.sh BUILD_DIR
set -eu
build=${1:-build}
tapir="$build/tapir"
out="$build/demo"
rm -rf "$out"
mkdir -p "$out"
geo=""
shared="$(dirname "$0")/../../shared/mmdb"
if [ -f "$shared/GeoIP2-City-Test.mmdb" ]; then
  geo="--geoip $shared/GeoIP2-City-Test.mmdb --geoip $shared/GeoLite2-ASN-Test.mmdb"
fi
echo "== 1. training on pcaps/baseline.pcap (30 minutes of ordinary traffic, no attacks)"
# shellcheck disable=SC2086
"$tapir" train -r pcaps/baseline.pcap -o "$out/model.tapir" --no-progress $geo
echo
echo "== 2. replaying pcaps/mixed.pcap (the same network on another day, with attacks)"
# shellcheck disable=SC2086
"$tapir" run -r pcaps/mixed.pcap --model "$out/model.tapir" --db "$out/tapir.db" \
  --alert-log "$out/alerts.json" --no-progress $geo
echo
echo "== 3. the incidents stored (tapir incidents --db $out/tapir.db; one with its alerts:"
echo "   tapir incidents --db $out/tapir.db ID)"
"$tapir" incidents --db "$out/tapir.db" --limit 15
echo
n=$(sqlite3 "$out/tapir.db" 'SELECT count(*) FROM incidents' 2>/dev/null || echo "?")
e=$(wc -l <"$out/alerts.json")
echo "== $n incidents, $e alert events. Files written:"
echo "   database:  $out/tapir.db    (sqlite3 $out/tapir.db 'select ip, side, score from alerts')"
echo "   alert log: $out/alerts.json (one JSON object per line)"
echo "   model:     $out/model.tapir (tapir model info $out/model.tapir)"
echo "   ground truth of the capture: pcaps/mixed.labels.csv; 'make eval' scores it."
echo "   dashboard: TAPIR_TOKEN=secret $tapir serve --db $out/tapir.db, then http://127.0.0.1:8080/"
