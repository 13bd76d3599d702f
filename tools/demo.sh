#!/bin/sh
# make demo: train on the shipped attack-free capture, replay the shipped mixed capture
# with that model, and show what was found. Usage: tools/demo.sh BUILD_DIR
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
echo "== 3. what is stored (tapir alerts --db $out/tapir.db)"
"$tapir" alerts --db "$out/tapir.db" --limit 15
echo
n=$(wc -l <"$out/alerts.json")
echo "== $n alerts. Files written:"
echo "   database:  $out/tapir.db    (sqlite3 $out/tapir.db 'select ip, side, score from alerts')"
echo "   alert log: $out/alerts.json (one JSON object per line)"
echo "   model:     $out/model.tapir (tapir model info $out/model.tapir)"
echo "   ground truth of the capture: pcaps/mixed.labels.csv; 'make eval' scores it."
echo "   dashboard: TAPIR_TOKEN=secret $tapir serve --db $out/tapir.db, then http://127.0.0.1:8080/"
