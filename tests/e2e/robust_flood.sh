#!/bin/sh
# Flow and host exhaustion: a SYN flood from ~1.5 million random spoofed source IPs
# (150,000 under the sanitizers) plus one real attacker, a SYN port scanner at
# 203.0.113.66, over a benign background (tools/flood_pcap.c). With the tables bounded
# (--max-flows 65536 --max-hosts 16384 --dpi-flows 4096) the run must: finish, evict
# flows and count the hosts it could not take, keep peak RSS under the bound (and no
# higher than with an eighth of the flood: memory does not follow the attacker), and
# still see the attacker exactly as without the flood (its per-window counts identical)
# and flag it and the flood's victim, in SQLite and the alert log alike, with the
# default threshold and rules (the learned limits catch the scan at once).
# Env: TAPIR, TAPIR_BUILD, TAPIR_SAN. Exit 0 pass, 77 skip, else fail.
set -u
: "${TAPIR:?}" "${TAPIR_BUILD:?}"
[ -x "$TAPIR" ] || { echo "no tapir binary at $TAPIR"; exit 77; }
gen="$TAPIR_BUILD/tools/flood_pcap"
[ -x "$gen" ] || { echo "no $gen (make test-build builds it)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 shell needed"; exit 77; }
tmp=$(mktemp -d /tmp/tapir-e2e-flood.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

if [ "${TAPIR_SAN:-0}" = 1 ]; then flood=150000; bound_mb=0; else flood=1500000; bound_mb=${FLOOD_RSS_BOUND_MB:-320}; fi
secs=80
limits="--window 10 --max-flows 65536 --max-hosts 16384 --dpi-flows 4096"

"$gen" -t -s $secs -o "$tmp/train.pcap" -S 7 || fail "generator (train)"
"$gen" -s $secs -n $flood -o "$tmp/flood.pcap" -S 7 || fail "generator (flood)"
"$gen" -s $secs -n $((flood / 8)) -o "$tmp/small.pcap" -S 7 || fail "generator (small)"
# shellcheck disable=SC2086
"$TAPIR" train -r "$tmp/train.pcap" -o "$tmp/model" $limits --no-progress 2>"$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train"; }

# Peak RSS in KiB of a command: GNU time when installed, else polling VmHWM.
peak_rss() { # outfile errfile command...
  o=$1 e=$2; shift 2
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f 'peak_rss_kb %M' "$@" >"$o" 2>"$e"; rc=$?
    rss=$(sed -n 's/^peak_rss_kb //p' "$e" | tail -n 1)
  else
    "$@" >"$o" 2>"$e" & pid=$!; rss=0
    while kill -0 $pid 2>/dev/null; do
      v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null)
      [ -n "$v" ] && rss=$v; sleep 0.1
    done
    wait $pid; rc=$?
  fi
  return $rc
}

# shellcheck disable=SC2086
peak_rss "$tmp/small.out" "$tmp/small.err" "$TAPIR" run -r "$tmp/small.pcap" --model "$tmp/model" \
  $limits --hosts-csv "$tmp/small.hosts.csv" --no-progress ||
  { tail "$tmp/small.err"; fail "run on the small flood"; }
rss_small=$rss
start=$(date +%s)
# shellcheck disable=SC2086
peak_rss "$tmp/out" "$tmp/err" "$TAPIR" run -r "$tmp/flood.pcap" --model "$tmp/model" $limits \
  --db "$tmp/db" --alert-log "$tmp/alerts.json" --hosts-csv "$tmp/hosts.csv" --no-progress ||
  { tail "$tmp/err"; fail "run on the flood"; }
rss_big=$rss
grep '^tapir: summary' "$tmp/err"
echo "flood: $flood spoofed SYNs in $(( $(date +%s) - start )) s; peak RSS ${rss_big} KiB (${rss_small} KiB with an eighth of the flood)"

pkts=$(sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p' "$tmp/err")
[ "${pkts:-0}" -gt "$flood" ] || fail "only ${pkts:-0} packets read"
evicted=$(sed -n 's/.* flows (\([0-9]*\) evicted.*/\1/p' "$tmp/err")
[ "${evicted:-0}" -gt 0 ] || fail "no flow evictions counted"
hosts_full=$(sed -n 's/.*host_table_full=\([0-9]*\).*/\1/p' "$tmp/err")
[ "${hosts_full:-0}" -gt 0 ] || fail "no host-table-full drops counted"
echo "flows evicted: $evicted, host updates dropped (table full): $hosts_full"

if [ "$bound_mb" -gt 0 ]; then
  [ "$rss_big" -le $((bound_mb * 1024)) ] || fail "peak RSS ${rss_big} KiB over the ${bound_mb} MiB bound"
  [ "$rss_big" -le $((rss_small + rss_small / 8 + 16384)) ] ||
    fail "peak RSS grows with the flood: ${rss_small} -> ${rss_big} KiB"
fi

# The scanner's per-window packet and byte counts (both ways) must not depend on the
# flood's size: the tables under pressure lost none of its packets. (Its flow count may
# differ by a few: a scan probe that repeats a 5-tuple is a new flow when the first one
# was evicted under the bigger flood.)
grep ',203.0.113.66,' "$tmp/small.hosts.csv" | cut -d, -f1-6 >"$tmp/a"
grep ',203.0.113.66,' "$tmp/hosts.csv" | cut -d, -f1-6 >"$tmp/b"
[ -s "$tmp/a" ] || fail "the scanner is missing from the hosts CSV"
cmp -s "$tmp/a" "$tmp/b" || { diff "$tmp/a" "$tmp/b"; fail "the scanner's counts change with the flood"; }
echo "scanner's counts identical under 1/8 and the full flood: $(wc -l <"$tmp/b") windows"
grep -q '"ip":"203.0.113.66"' "$tmp/alerts.json" || fail "the scanner 203.0.113.66 was not flagged"
grep -q '"ip":"10.1.0.10"' "$tmp/alerts.json" || fail "the flood's victim 10.1.0.10 was not flagged"
n_db=$(sqlite3 "$tmp/db" "select count(*) from alerts where ip = '203.0.113.66'")
[ "${n_db:-0}" -gt 0 ] || fail "the scanner's alerts are not in SQLite"
n_log=$(grep -c '"ip":"203.0.113.66"' "$tmp/alerts.json")
echo "scanner flagged in $n_log windows (alert log), $n_db alerts in SQLite"
[ "$(sqlite3 "$tmp/db" 'pragma integrity_check')" = ok ] || fail "integrity_check"
echo "flood handled within bounds"
