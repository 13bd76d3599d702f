#!/bin/sh
# Disk full: the database and the alert log live on a small tmpfs (8 MiB, mounted in a
# private mount namespace of this test). A first, short run fills part of it; a second
# run on a longer capture runs out of space. Then: the failed writes were counted and
# logged, the capture went on to the end of the file (every packet read), PRAGMA
# integrity_check is ok, and every alert the first run stored is still there, unchanged.
# Env: TAPIR, TAPIR_BUILD, TAPIR_SAN. Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR:?}" "${TAPIR_BUILD:?}"
[ -x "$TAPIR" ] || { echo "no tapir binary at $TAPIR"; exit 77; }
gen="$TAPIR_BUILD/tools/flood_pcap"
[ -x "$gen" ] || { echo "no $gen (make test-build builds it)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 shell needed"; exit 77; }
command -v unshare >/dev/null || { echo "unshare (util-linux) needed"; exit 77; }
tmp=$(mktemp -d /tmp/tapir-e2e-diskfull.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/full"
unshare -m sh -c "mount -t tmpfs -o size=8m tmpfs '$tmp/full'" 2>/dev/null ||
  { echo "cannot mount a tmpfs in a private mount namespace (needs root)"; exit 77; }

"$gen" -t -s 40 -o "$tmp/train.pcap" -S 3 2>/dev/null || { echo "FAIL: generator"; exit 1; }
"$gen" -s 200 -n 150000 -o "$tmp/run.pcap" -S 3 2>"$tmp/gen.err" || { echo "FAIL: generator"; exit 1; }
total=$(sed -n 's/^flood_pcap: \([0-9]*\) packets.*/\1/p' "$tmp/gen.err")
"$TAPIR" train -r "$tmp/train.pcap" -o "$tmp/model" --window 1 --threshold 0.55 \
  --no-progress 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: train"; exit 1; }

# Everything that touches the small disk runs inside the namespace that has it mounted.
export TAPIR tmp total
unshare -m sh -s <<'INNER'
set -u
fail() { echo "FAIL: $*"; exit 1; }
mount -t tmpfs -o size=8m tmpfs "$tmp/full" || fail "mount"
d="$tmp/full"
"$TAPIR" run -r "$tmp/run.pcap" -c 12000 --model "$tmp/model" --window 1 --db "$d/tapir.db" \
  --alert-log "$d/alerts.json" -q --no-progress >/dev/null 2>"$tmp/first.err" ||
  { cat "$tmp/first.err"; fail "first run"; }
q='select id, ip, side, window_start, score, top_features from alerts order by id'
sqlite3 "$d/tapir.db" "$q" >"$tmp/before.txt" || fail "query after the first run"
n_before=$(wc -l <"$tmp/before.txt")
[ "$n_before" -gt 0 ] || fail "the first run stored no alerts"
echo "first run: $n_before alerts stored; disk: $(df -k "$d" | awk 'NR==2 { print $3 " of " $2 " KiB used" }')"

"$TAPIR" run -r "$tmp/run.pcap" --model "$tmp/model" --window 1 --db "$d/tapir.db" \
  --alert-log "$d/alerts.json" --no-progress >/dev/null 2>"$tmp/second.err"
rc=$?
echo "second run: exit $rc; disk: $(df -k "$d" | awk 'NR==2 { print $3 " of " $2 " KiB used" }')"
grep -v '^tapir: \(summary\|info\)' "$tmp/second.err" | sed 's/[0-9]\{2,\}/N/g' | sort | uniq -c | sort -rn | head -n 5
grep -q -i 'sanitizer\|runtime error' "$tmp/second.err" && fail "sanitizer report"
[ $rc -le 1 ] || fail "exit $rc: a crash, not an error"
grep -q -i 'full\|no space\|not saved' "$tmp/second.err" || fail "the failed writes were not logged"
grep -q "output errors: [1-9]" "$tmp/second.err" || fail "the summary does not count the write errors"
got=$(sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p' "$tmp/second.err")
[ "$got" = "$total" ] || fail "capture stopped: $got of $total packets read"
echo "capture went on: $got of $total packets read"
ic=$(sqlite3 "$d/tapir.db" 'pragma integrity_check' 2>&1)
[ "$ic" = ok ] || fail "integrity_check: $ic"
sqlite3 "$d/tapir.db" "$q" 2>/dev/null | head -n "$n_before" >"$tmp/after.txt"
cmp -s "$tmp/before.txt" "$tmp/after.txt" || fail "alerts stored before the disk filled have changed"
n_after=$(sqlite3 "$d/tapir.db" 'select count(*) from alerts')
echo "after: integrity ok, the first run's $n_before alerts intact, $n_after alerts in all"
INNER
rc=$?
[ $rc -eq 0 ] || exit $rc
echo "disk full handled"
