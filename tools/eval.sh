#!/bin/sh
# make eval: detection quality in three parts (docs/detection-eval.md says how each counts).
# 1. synthetic: train on a baseline capture, replay a labeled capture with that model and
#    print detection quality per attack class (tools/eval.py);
# 2. lab: pcaps/lab/ (make lab), and 3. third-party: ../shared/pcaps-attacks with
#    ../shared/pcaps-public as benign traffic (tools/eval_real.py); each says so and skips
#    when its data is absent.
# Usage: tools/eval.sh BUILD_DIR PCAP LABELS   (BASELINE=... to train on another file;
# BASELINE=none trains on the first windows of PCAP instead; EXTRA="..." adds run options
# to the synthetic replay; PARTS="synthetic lab thirdparty" picks parts; LAB_DIR=... and
# TAPIR_SHARED=... point at other lab captures or another ../shared)
set -eu
build=$1 pcap=$2 labels=$3
baseline=${BASELINE:-pcaps/baseline.pcap}
out=${OUT:-$build/eval}
parts=${PARTS:-synthetic lab thirdparty}
mkdir -p "$out"
rm -f "$out/synthetic.txt"
start=$(date +%s)
case " $parts " in *" synthetic "*)
  [ -f "$pcap" ] || { echo "eval: no such capture: $pcap"; exit 2; }
  [ -f "$labels" ] || { echo "eval: no such labels file: $labels"; exit 2; }
  if [ "$baseline" != none ]; then
    "$build/tapir" train -r "$baseline" -o "$out/model.tapir" --no-progress ${TRAIN_EXTRA:-}
    model="--model $out/model.tapir"
  else
    model=""
  fi
  # A fresh database and alert log each time (the alert log appends).
  rm -f "$out/eval.db" "$out/eval.db-wal" "$out/eval.db-shm" "$out/alerts.json"
  # shellcheck disable=SC2086
  "$build/tapir" run -r "$pcap" $model -q --no-progress --scores-csv "$out/scores.csv" \
    --flow-log "$out/flows.csv" --db "$out/eval.db" --alert-log "$out/alerts.json" ${EXTRA:-}
  rm -f "$out/eval.db-wal" "$out/eval.db-shm"
  echo "== synthetic: $pcap (model trained on $baseline)"
  /usr/bin/python3 tools/eval.py "$out/scores.csv" "$out/flows.csv" "$labels" \
    --alerts "$out/alerts.json" >"$out/synthetic.txt"
  cat "$out/synthetic.txt"
  ;;
esac
real=$(echo "$parts" | tr ' ' '\n' | grep -E '^(lab|thirdparty)$' | tr '\n' ',' || true)
if [ -n "$real" ]; then
  tp_baseline=$baseline
  [ "$baseline" = none ] && tp_baseline=pcaps/baseline.pcap
  /usr/bin/python3 tools/eval_real.py "$build" --parts "$real" --baseline "$tp_baseline" \
    --out "$out/real" --synthetic "$out/synthetic.txt"
fi
echo "(eval took $(($(date +%s) - start)) s; outputs in $out/)"
