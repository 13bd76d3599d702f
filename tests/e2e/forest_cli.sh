#!/bin/sh
# `tapir forest fit|score` end to end on the committed fixtures: scores for every row in
# input order, the same scores at any --threads, refusal (exit 2, a clear message) of bad
# usage, bad CSV, a corrupt model and a CSV for other features.
# Env: TAPIR (binary), TAPIR_TOP (repo root). Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR:?}" "${TAPIR_TOP:?}"
[ -x "$TAPIR" ] || { echo "no tapir binary at $TAPIR"; exit 77; }
fx="$TAPIR_TOP/tests/fixtures/iforest"
tmp=$(mktemp -d /tmp/tapir-e2e-forest.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

expect_rc() { # rc pattern-in-stderr command...
  want=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq "$want" ] || { cat "$tmp/err"; fail "exit $rc, expected $want: $*"; }
  [ -z "$pat" ] || grep -q -- "$pat" "$tmp/err" "$tmp/out" ||
    { cat "$tmp/err"; fail "no '$pat' in the output of: $*"; }
}

expect_rc 0 "Fits an Isolation Forest" "$TAPIR" forest fit --help
expect_rc 0 "IN.csv's header" "$TAPIR" forest score --help
expect_rc 2 "usage" "$TAPIR" forest
expect_rc 2 "unknown subcommand" "$TAPIR" forest frobnicate
expect_rc 2 "--csv is required" "$TAPIR" forest fit -o "$tmp/m"
expect_rc 2 "--trees 0: expected 1" "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m" --trees 0
expect_rc 2 "expected a whole number" "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m" --seed x
expect_rc 2 "contamination" "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m" --contamination 0.9

# fit: one summary line; same seed at 1 and 4 threads scores identically
expect_rc 0 "100 trees, psi 256, on 2040 rows x 8 features" \
  "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m1" --seed 5
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "fit printed more than one line"
expect_rc 0 "" "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m4" --seed 5 --threads 4
"$TAPIR" forest score --model "$tmp/m1" --csv "$fx/data.csv" >"$tmp/s1" || fail "score m1"
"$TAPIR" forest score --model "$tmp/m4" --csv "$fx/data.csv" >"$tmp/s4" || fail "score m4"
cmp -s "$tmp/s1" "$tmp/s4" || fail "scores differ between --threads 1 and 4"
[ "$(wc -l <"$tmp/s1")" -eq 2040 ] || fail "expected 2040 scores"
awk '!($1 > 0 && $1 <= 1) { bad++ } END { exit bad > 0 }' "$tmp/s1" || fail "score outside (0,1]"
# the 40 outliers (the last rows) score above the 2000 inliers on average
awk 'NR <= 2000 { a += $1 } NR > 2000 { b += $1 } END { exit !(b / 40 > a / 2000 + 0.1) }' \
  "$tmp/s1" || fail "outliers do not score higher"
# a different seed gives different scores
expect_rc 0 "" "$TAPIR" forest fit --csv "$fx/data.csv" -o "$tmp/m9" --seed 9
"$TAPIR" forest score --model "$tmp/m9" --csv "$fx/data.csv" >"$tmp/s9"
cmp -s "$tmp/s1" "$tmp/s9" && fail "seeds 5 and 9 gave identical scores"
# stdin, and input order kept: reversed rows give reversed scores
{ head -n 1 "$fx/test.csv"; tail -n +2 "$fx/test.csv" | tac; } >"$tmp/rev.csv"
"$TAPIR" forest score --model "$tmp/m1" --csv "$fx/test.csv" >"$tmp/t"
"$TAPIR" forest score --model "$tmp/m1" --csv - <"$tmp/rev.csv" | tac >"$tmp/tr"
cmp -s "$tmp/t" "$tmp/tr" || fail "scores not in input order"

# refusals
expect_rc 2 "feature 3 is 'corr_a' in the model, 'corr_b' in the input" \
  sh -c "sed '1s/corr_a/corr_b/' '$fx/data.csv' >'$tmp/other.csv' &&
         '$TAPIR' forest score --model '$tmp/m1' --csv '$tmp/other.csv'"
expect_rc 2 "trained on 8 features, the input has 7" \
  sh -c "cut -d, -f1-7 '$fx/data.csv' >'$tmp/seven.csv' &&
         '$TAPIR' forest score --model '$tmp/m1' --csv '$tmp/seven.csv'"
printf 'a,b\n1,2\n3,x\n' >"$tmp/bad.csv"
expect_rc 2 "bad.csv:3: field 2 ('x') is not a number" \
  "$TAPIR" forest fit --csv "$tmp/bad.csv" -o "$tmp/mb"
[ -e "$tmp/mb" ] && fail "a model was written from a bad CSV"
printf 'a,b\n' >"$tmp/empty.csv"
expect_rc 2 "no data rows" "$TAPIR" forest fit --csv "$tmp/empty.csv" -o "$tmp/mb"
expect_rc 2 "not a Tapir model file" "$TAPIR" forest score --model "$fx/data.csv" --csv "$fx/data.csv"
size=$(wc -c <"$tmp/m1")
head -c $((size - 10)) "$tmp/m1" >"$tmp/trunc"
expect_rc 2 "truncated ($((size - 10)) of $size bytes)" \
  "$TAPIR" forest score --model "$tmp/trunc" --csv "$fx/data.csv"
cp "$tmp/m1" "$tmp/flip"
printf 'X' | dd of="$tmp/flip" bs=1 seek=36 conv=notrunc 2>/dev/null # inside the id's hex digits
expect_rc 2 "checksum mismatch: corrupt file" \
  "$TAPIR" forest score --model "$tmp/flip" --csv "$fx/data.csv"
expect_rc 1 "cannot create" "$TAPIR" forest fit --csv "$fx/data.csv" -o /nonexistent/dir/m
echo "forest CLI: all checks passed"
