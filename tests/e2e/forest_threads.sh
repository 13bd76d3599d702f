#!/bin/sh
# `tapir forest score` on 100,000 rows: the same bytes at any --threads, from a file or a
# pipe (issue 12, point 19: parsing, scoring and printing on every core, each thread
# printing its slice into its own buffer; 7 threads make uneven slices, scores printed by
# csv_format_g17 instead of printf). The bytes match printf's "%.17g" (the unit test
# test_csv checks the printer against printf and the parser against strtod); here the
# whole path, threads and read batches included. Fit's threshold does not move with
# --threads either.
# Env: TAPIR (binary), TAPIR_TOP (repo root). Exit 0 pass, 77 skip, else fail.
. "$(dirname "$0")/lib.sh"
: "${TAPIR:?}"
[ -x "$TAPIR" ] || skip "no tapir binary at $TAPIR"
need_cmd awk

awk -v n=100000 -v d=24 'BEGIN {
  srand(20261203)
  for (j = 0; j < d; j++) printf "%sf%d", (j ? "," : ""), j; printf "\n"
  for (i = 0; i < n; i++) {
    for (j = 0; j < d; j++) printf "%s%.6g", (j ? "," : ""), rand() + rand() + rand() + rand() - 2
    printf "\n"
  }
}' >"$tmp/data.csv" || fail "awk"

thr() { sed -n 's/.*\(threshold [0-9.]*\).*/\1/p' "$1"; }
"$TAPIR" forest fit --csv "$tmp/data.csv" -o "$tmp/m" --threads 1 >"$tmp/fit1" || fail "fit 1"
"$TAPIR" forest fit --csv "$tmp/data.csv" -o "$tmp/m3" --threads 3 >"$tmp/fit3" || fail "fit 3"
[ -n "$(thr "$tmp/fit1")" ] && [ "$(thr "$tmp/fit1")" = "$(thr "$tmp/fit3")" ] ||
  fail "threshold differs: $(thr "$tmp/fit1") vs $(thr "$tmp/fit3")"

"$TAPIR" forest score --model "$tmp/m" --csv "$tmp/data.csv" --threads 1 >"$tmp/s1" ||
  fail "score --threads 1"
[ "$(wc -l <"$tmp/s1")" -eq 100000 ] || fail "expected 100000 scores"
for t in 2 3 7 8; do
  "$TAPIR" forest score --model "$tmp/m" --csv "$tmp/data.csv" --threads $t >"$tmp/s$t" ||
    fail "score --threads $t"
  cmp -s "$tmp/s1" "$tmp/s$t" || fail "scores differ between --threads 1 and $t"
done
"$TAPIR" forest score --model "$tmp/m3" --csv - <"$tmp/data.csv" >"$tmp/sp" || fail "stdin"
cmp -s "$tmp/s1" "$tmp/sp" || fail "scores differ from stdin (model fitted on 3 threads)"
# every line is what printf("%.17g") makes of the number it reads back as
awk '{ if (sprintf("%.17g", $1 + 0) != $1) { bad++; if (bad < 4) print "not %.17g: " $1 } }
     END { exit bad > 0 }' "$tmp/s1" || fail "a score is not printf's %.17g"
pass "100000 scores identical at 1, 2, 3, 7 and 8 threads and from a pipe"
