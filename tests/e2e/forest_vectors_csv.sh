#!/bin/sh
# `tapir forest fit|score` read `tapir run --vectors-csv` files as written: the
# window_start and ip columns are not features and are skipped by name (issue 12, point
# 11: fit failed on the IP column); --skip-columns names others, and the README says
# where such a CSV comes from.
# Env: TAPIR (binary), TAPIR_TOP (repo root). Exit 0 pass, 77 skip, else fail.
. "$(dirname "$0")/lib.sh"
: "${TAPIR:?}" "${TAPIR_TOP:?}"
[ -x "$TAPIR" ] || skip "no tapir binary at $TAPIR"
need_pcaps

"$TAPIR" run -r "$TAPIR_TOP/pcaps/baseline.pcap" -q --vectors-csv "$tmp/v.csv" \
  >"$tmp/run.out" 2>&1 || { cat "$tmp/run.out"; fail "tapir run --vectors-csv"; }
head -1 "$tmp/v.csv" | grep -q '^window_start,ip,' || fail "unexpected header: $(head -1 "$tmp/v.csv")"
rows=$(($(wc -l <"$tmp/v.csv") - 1))
[ "$rows" -gt 100 ] || fail "only $rows vectors"
feats=$(($(head -1 "$tmp/v.csv" | tr ',' '\n' | wc -l) - 2))

"$TAPIR" forest fit --csv "$tmp/v.csv" -o "$tmp/m" >"$tmp/fit" 2>&1 ||
  { cat "$tmp/fit"; fail "forest fit on a --vectors-csv file"; }
grep -q "on $rows rows x $feats features (2 other columns skipped)" "$tmp/fit" || { cat "$tmp/fit"; fail "fit summary"; }
"$TAPIR" forest score --model "$tmp/m" --csv "$tmp/v.csv" >"$tmp/s" 2>"$tmp/err" ||
  { cat "$tmp/err"; fail "forest score on a --vectors-csv file"; }
[ "$(wc -l <"$tmp/s")" -eq "$rows" ] || fail "expected $rows scores"

# the same with the columns named, and from stdin
"$TAPIR" forest score --model "$tmp/m" --csv - --skip-columns window_start,ip \
  <"$tmp/v.csv" >"$tmp/s2" || fail "score --skip-columns"
cmp -s "$tmp/s" "$tmp/s2" || fail "scores differ with --skip-columns window_start,ip"

# skipping nothing: the ip column is refused, by line and field
"$TAPIR" forest fit --csv "$tmp/v.csv" -o "$tmp/m3" --skip-columns "" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--skip-columns '': exit $rc, expected 2"
grep -q "v.csv:2: field 2 (.*) is not a number" "$tmp/out" || { cat "$tmp/out"; fail "message"; }
# a named column that is not there
"$TAPIR" forest score --model "$tmp/m" --csv "$tmp/v.csv" --skip-columns ip,nosuch \
  >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--skip-columns nosuch: exit $rc, expected 2"
grep -q "no column 'nosuch' to skip" "$tmp/out" || { cat "$tmp/out"; fail "message"; }

# the README says where the CSV comes from
grep -q 'tapir run .*--vectors-csv' "$TAPIR_TOP/README.md" ||
  fail "README does not show tapir run --vectors-csv before tapir forest fit"
pass "fit and score on $rows vectors x $feats features of a --vectors-csv file"
