#!/bin/sh
# Valgrind (memcheck) over a whole `tapir run`: warm-up training, scoring, SQLite, the
# alert log, flow log and scores CSV, on a small capture with a scanner and a spoofed
# flood, then on the hostile captures of tools/hostile_pcaps.py that
# reach the most code. No invalid access, no
# use of uninitialised memory, no definite leak (--errors-for-leak-kinds=definite).
# Normal build only: the sanitizer build cannot run under valgrind.
# Env: TAPIR, TAPIR_BUILD, TAPIR_TOP, TAPIR_SAN. Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR:?}" "${TAPIR_BUILD:?}" "${TAPIR_TOP:?}"
[ "${TAPIR_SAN:-0}" = 1 ] && { echo "ASan builds cannot run under valgrind: normal pass only"; exit 77; }
[ -x "$TAPIR" ] || { echo "no tapir binary at $TAPIR"; exit 77; }
command -v valgrind >/dev/null || { echo "valgrind not installed (tools/setup.sh test)"; exit 77; }
gen="$TAPIR_BUILD/tools/flood_pcap"
[ -x "$gen" ] || { echo "no $gen (make test-build builds it)"; exit 77; }
tmp=$(mktemp -d /tmp/tapir-e2e-valgrind.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

vg() { # log command...
  log=$1; shift
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --track-origins=yes --log-file="$log" "$@" >/dev/null 2>"$log.stderr"
  rc=$?
  [ $rc -ne 99 ] && [ ! -s "$log" ] && return $rc
  head -n 60 "$log"; fail "valgrind reports errors: $*"
}

"$gen" -s 24 -n 3000 -o "$tmp/demo.pcap" -S 5 2>/dev/null || fail "generator"
vg "$tmp/run.vg" "$TAPIR" run -r "$tmp/demo.pcap" --window 2 --warmup 4 --retrain 3 --trees 20 \
  --db "$tmp/db" --alert-log "$tmp/alerts.json" --flow-log "$tmp/flows.csv" \
  --scores-csv "$tmp/scores.csv" --save-model "$tmp/model" --no-progress
[ $rc -eq 0 ] || { cat "$tmp/run.vg.stderr"; fail "demo run exit $rc"; }
grep -q '^tapir: summary' "$tmp/run.vg.stderr" || fail "no summary"
echo "ok  demo run (warm-up, retrain, SQLite, logs): valgrind clean"
vg "$tmp/run2.vg" "$TAPIR" run -r "$tmp/demo.pcap" --window 2 --model "$tmp/model" --db "$tmp/db" \
  --alert-log "$tmp/alerts.json" --no-progress
[ $rc -eq 0 ] || { cat "$tmp/run2.vg.stderr"; fail "run with the saved model: exit $rc"; }
echo "ok  run with the saved model: valgrind clean"

python3 "$TAPIR_TOP/tools/hostile_pcaps.py" "$tmp/h" || fail "hostile generator"
for n in ipv4_length_lies ipv6_ext_loops overlapping_fragments absurd_timestamps zero_length \
  caplen_huge pcapng_block_len_lie truncated_record wrong_magic; do
  f="$tmp/h/$n.pcap"
  vg "$tmp/h.vg" "$TAPIR" run -r "$f" --no-dpi --no-progress --flow-log "$tmp/h.csv"
  [ $rc -le 2 ] || fail "$(basename "$f"): exit $rc"
done
echo "ok  hostile captures: valgrind clean"
