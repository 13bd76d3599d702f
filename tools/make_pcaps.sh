#!/bin/sh
# Regenerates the shipped captures and their ground truth, bit for bit:
#   pcaps/baseline.*  traffic seed 1, no attacks       (training)
#   pcaps/mixed.*     traffic seed 2, every attack class (testing)
# Both use the default population seed, so they show the same 50 internal hosts (same
# addresses, same habits) on two different "days": a model trained on baseline meets
# the same benign hosts in mixed, plus the attackers.
# Usage: sh tools/make_pcaps.sh BUILD_DIR [OUT_DIR]   (OUT_DIR defaults to pcaps/)
set -eu
build=${1:?usage: make_pcaps.sh BUILD_DIR [OUT_DIR]}
top=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$top/pcaps}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
tapir="$build/tapir"
[ -x "$tapir" ] || { echo "make_pcaps: $tapir not built (run make)" >&2; exit 1; }
mkdir -p "$out"

common="--hosts 50 --duration 30m --start 1767225600"
gen() { # name seed extra-options...
  name=$1 seed=$2; shift 2
  # shellcheck disable=SC2086
  "$tapir" synth --seed "$seed" $common "$@" \
    --out "$out/$name.pcap" --labels "$out/$name.labels.csv" \
    --truth-hosts "$out/$name.truth-hosts.csv" --truth-flows "$out/$name.truth-flows.csv"
}
gen baseline 1 --no-attacks
gen mixed 2
