#!/bin/sh
# make eval: train on a baseline capture, replay a labeled capture with that model and
# print detection quality per attack class (tools/eval.py says how it is counted).
# Usage: tools/eval.sh BUILD_DIR PCAP LABELS   (BASELINE=... to train on another file;
# BASELINE=none trains on the first windows of PCAP instead; EXTRA="..." adds run options)
set -eu
build=$1 pcap=$2 labels=$3
baseline=${BASELINE:-pcaps/baseline.pcap}
out=${OUT:-$build/eval}
mkdir -p "$out"
[ -f "$pcap" ] || { echo "eval: no such capture: $pcap"; exit 2; }
[ -f "$labels" ] || { echo "eval: no such labels file: $labels"; exit 2; }
start=$(date +%s)
if [ "$baseline" != none ]; then
  "$build/tapir" train -r "$baseline" -o "$out/model.tapir" --no-progress ${TRAIN_EXTRA:-}
  model="--model $out/model.tapir"
else
  model=""
fi
# shellcheck disable=SC2086
"$build/tapir" run -r "$pcap" $model -q --no-progress --scores-csv "$out/scores.csv" \
  --flow-log "$out/flows.csv" --db "$out/eval.db" --alert-log "$out/alerts.json" ${EXTRA:-}
rm -f "$out/eval.db-wal" "$out/eval.db-shm"
echo "== detection quality: $pcap (model trained on $baseline)"
/usr/bin/python3 tools/eval.py "$out/scores.csv" "$out/flows.csv" "$labels"
echo "(eval took $(($(date +%s) - start)) s; outputs in $out/)"
