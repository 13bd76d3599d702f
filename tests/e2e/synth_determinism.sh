#!/bin/sh
# tapir synth: same options -> byte-identical pcap and CSVs; another seed -> other bytes;
# bad usage -> exit 2.
set -u
: "${TAPIR:?}"
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
run() { # prefix seed
  "$TAPIR" synth --seed "$2" --duration 5m --out "$d/$1.pcap" --labels "$d/$1.labels.csv" \
    --truth-hosts "$d/$1.hosts.csv" --truth-flows "$d/$1.flows.csv" 2>/dev/null
}
run a 7 || { echo "synth failed"; exit 1; }
run b 7 || { echo "synth failed (2nd run)"; exit 1; }
run c 8 || { echo "synth failed (seed 8)"; exit 1; }
for f in pcap labels.csv hosts.csv flows.csv; do
  cmp "$d/a.$f" "$d/b.$f" || { echo "FAIL: seed 7 twice gives different $f"; exit 1; }
done
cmp -s "$d/a.pcap" "$d/c.pcap" && { echo "FAIL: seeds 7 and 8 give the same pcap"; exit 1; }
head -n 1 "$d/a.labels.csv" | grep -qx 'ip,label,attack_type,first_ts,last_ts' ||
  { echo "FAIL: labels header"; exit 1; }
head -n 1 "$d/a.hosts.csv" | grep -qx 'ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,flows_started' ||
  { echo "FAIL: truth-hosts header"; exit 1; }
head -n 1 "$d/a.flows.csv" |
  grep -qx 'first_ts,src,sport,dst,dport,proto,pkts_fwd,bytes_fwd,pkts_rev,bytes_rev' ||
  { echo "FAIL: truth-flows header"; exit 1; }

# the population seed fixes the hosts: the same benign client addresses under two seeds
cut -d, -f1,2 "$d/a.labels.csv" | grep '^10\.0\.[1-9]' | grep benign | sort >"$d/pa"
cut -d, -f1,2 "$d/c.labels.csv" | grep '^10\.0\.[1-9]' | grep benign | sort >"$d/pc"
[ "$(comm -12 "$d/pa" "$d/pc" | wc -l)" -gt 20 ] || { echo "FAIL: populations differ"; exit 1; }

# bad usage: exit 2 with a message
expect2() {
  "$TAPIR" synth "$@" >"$d/out" 2>&1
  rc=$?
  [ $rc -eq 2 ] || { echo "FAIL: 'synth $*' exited $rc, want 2"; cat "$d/out"; exit 1; }
  [ -s "$d/out" ] || { echo "FAIL: 'synth $*' printed nothing"; exit 1; }
}
expect2 --seed 1 --out "$d/x.pcap"
expect2 --seed 1 --out "$d/x.pcap" --labels "$d/x.csv" --hosts 0
expect2 --seed 1 --out "$d/x.pcap" --labels "$d/x.csv" --duration 5x
expect2 --seed 1 --out "$d/x.pcap" --labels "$d/x.csv" --attacks beacon,nosuch
expect2 --seed 1 --out "$d/x.pcap" --labels "$d/x.csv" --ipv6-share 2
expect2 --seed x --out "$d/x.pcap" --labels "$d/x.csv"
expect2 --bogus
"$TAPIR" synth --help | grep -q -- '--truth-flows' || { echo "FAIL: --help"; exit 1; }
"$TAPIR" synth --seed 1 --out /nonexistent/dir/x.pcap --labels "$d/x.csv" 2>/dev/null
[ $? -eq 1 ] || { echo "FAIL: unwritable output should exit 1"; exit 1; }
echo "ok"
