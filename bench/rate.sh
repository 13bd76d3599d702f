#!/bin/sh
# Rate-detector benchmark (issue 11, floods in two seconds; sensor/rate.c):
#   1. latency, seconds from a flood's first packet to its alert:
#      replay: a crafted SYN flood (tools/rate_pcap.py, 3,000 SYN/s from spoofed sources
#              over 30 s of light background) replayed with `tapir run -r`; packet time
#              (the alert's timestamp - the first SYN's), and the wall time of the run;
#      live:   an hping3 SYN flood (~5,000/s, bounded by -c) between two network
#              namespaces joined by a veth pair, `tapir run -i` on the victim's end; wall
#              clock from starting hping3 to the alert line in the alert log (polled every
#              2 ms), and packet time (needs root and hping3, else skipped, said so);
#   2. the per-packet CPU cost of the counters: `tapir run -r` with them and with
#      --no-rate, interleaved, best of REPEAT (default 3), on bench/replay.sh's synthetic
#      file (tapir synth --seed 11 --packets 5000000) and on pcaps/lab/attack.pcap.gz
#      replicated 10 times end to end (each copy shifted past the previous one in time:
#      2.95 M packets), with nDPI on (the default) and off. Target: no more than 5% slower.
#   3. the same in instructions (cachegrind, first 300,000 packets): on a shared machine
#      wall and CPU times move by more than the 5% being measured; instructions do not.
# Rate = packets / process wall time; CPU s = user + system of the run, all threads.
# Usage: sh bench/rate.sh [BUILD_DIR]   (REPEAT=N; LIVE=0 skips the namespace part)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top" || exit 1
. bench/lib.sh
tapir=$build/tapir
repeat=${REPEAT:-3}
make -s "$tapir" >/dev/null 2>&1 || echo "rate: make failed; using $tapir as it is"
[ -x "$tapir" ] || { echo "rate: no $tapir (try: make test-build)"; exit 1; }
[ -x /usr/bin/time ] || { echo "rate: /usr/bin/time is needed (Debian: time)"; exit 1; }
work=$build/bench
mkdir -p "$work" || exit 1
tmp=$(mktemp -d /tmp/tapir-bench-rate.XXXXXX) || exit 1
cleanup() {
  [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null
  [ -n "${ns1:-}" ] && ip netns del "$ns1" 2>/dev/null
  [ -n "${ns2:-}" ] && ip netns del "$ns2" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
status=0

echo "Rate benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs," \
  "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1a. replay latency ---
python3 tools/rate_pcap.py -o "$tmp/flood.pcap" --background 30 syn:10.0.0.5:12.4:6:3000 \
  >"$tmp/first.txt" || exit 1
a=$(date +%s.%N)
"$tapir" run -r "$tmp/flood.pcap" -q --no-progress --alert-log "$tmp/replay.json" || status=1
b=$(date +%s.%N)
python3 - "$tmp/replay.json" "$tmp/first.txt" "$(echo "$b - $a" | bc -l)" <<'PY'
import datetime, json, sys
first = int(open(sys.argv[2]).read().split()[2]) / 1e6
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["detector"] == "rate" and d["ip"] == "10.0.0.5":
        t = datetime.datetime.strptime(d["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        print("replay: SYN flood (first packet at +12.4 s) alerted %.3f s after its first packet "
              "(packet time); the whole replay took %.2f s wall" % (t - first, float(sys.argv[3])))
        break
else:
    print("replay: NO rate alert for the flood"); sys.exit(1)
PY
[ $? -eq 0 ] || status=1

# --- 1b. live latency (veth between two namespaces, hping3) ---
if [ "${LIVE:-1}" = 0 ]; then
  echo "live: skipped (LIVE=0)"
elif [ "$(id -u)" != 0 ] || ! command -v hping3 >/dev/null 2>&1; then
  echo "live: skipped (needs root and hping3)"
else
  ns1=tapir_br1_$$ ns2=tapir_br2_$$
  ip netns add "$ns1" && ip netns add "$ns2" &&
    ip link add vba$$ type veth peer name vbb$$ &&
    ip link set vba$$ netns "$ns1" && ip link set vbb$$ netns "$ns2" &&
    ip -n "$ns1" addr add 10.197.0.1/24 dev vba$$ && ip -n "$ns2" addr add 10.197.0.2/24 dev vbb$$ &&
    ip -n "$ns1" link set vba$$ up && ip -n "$ns2" link set vbb$$ up || { echo "live: namespaces failed"; exit 1; }
  for run in 1 2 3; do
    log=$tmp/live$run.json
    : >"$log"
    ip netns exec "$ns1" "$tapir" run -i vba$$ --no-progress --no-dpi --alert-log "$log" \
      --warmup 1000 tcp >/dev/null 2>"$tmp/live$run.err" &
    tp=$!
    for i in $(seq 1 50); do grep -q "capturing on" "$tmp/live$run.err" && break; sleep 0.1; done
    python3 - "$ns2" "$log" <<'PY'
import json, subprocess, sys, time
ns, log = sys.argv[1], sys.argv[2]
t0 = time.time()
hp = subprocess.Popen(["ip", "netns", "exec", ns, "timeout", "30", "hping3", "-q", "-S", "-p", "80",
                       "-i", "u200", "-c", "12000", "10.197.0.1"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = None
while time.time() - t0 < 20:
    try:
        for line in open(log):
            d = json.loads(line)
            if d["detector"] == "rate" and d["side"] == "destination":
                wall = time.time() - t0
                break
    except (OSError, ValueError):
        pass
    if wall is not None:
        break
    time.sleep(0.002)
hp.wait()
print("live: hping3 SYN flood alerted %s after hping3 started (wall clock, hping3's start-up "
      "included)" % ("%.3f s" % wall if wall is not None else "NEVER (20 s)"))
sys.exit(0 if wall is not None else 1)
PY
    [ $? -eq 0 ] || status=1
    kill -TERM "$tp"; wait "$tp"; tp=""
  done
fi

# --- 2. CPU cost of the counters ---
synth=$work/synth-s11-5000000.pcap
bench_synth "$tapir" "$synth" 5000000 || exit 1
real=$work/lab-attack-x10.pcap
bench_lab_replicated "$real" 10 || exit 1
cat "$synth" "$real" >/dev/null # page cache
for f in synth real; do
  file=$synth; [ $f = real ] && file=$real
  i=0
  while [ $i -lt "$repeat" ]; do
    for c in rate norate rate_nodpi norate_nodpi; do
      o="--no-progress -q --warmup 5"
      case $c in norate*) o="$o --no-rate" ;; esac
      case $c in *nodpi) o="$o --no-dpi" ;; esac
      a=$(date +%s.%N)
      # shellcheck disable=SC2086
      /usr/bin/time -o "$tmp/t" -f '%U %S' "$tapir" run -r "$file" $o >/dev/null 2>"$tmp/err" ||
        { echo "run failed: $f $c"; tail -3 "$tmp/err"; status=1; }
      b=$(date +%s.%N)
      echo "$(echo "$b - $a" | bc -l) $(awk '{print $1 + $2}' "$tmp/t")" >>"$tmp/$f.$c"
    done
    i=$((i + 1))
  done
done
pkts() { "$tapir" run -r "$1" --no-progress --no-dpi --no-rate 2>&1 >/dev/null |
  sed -n 's/^tapir: summary: \([0-9]*\) packets.*/\1/p'; }
printf '\n%-6s %-16s %10s %12s %8s %9s %9s\n' file config packets packets/s "CPU s" \
  "wall +%" "CPU +%"
for f in synth real; do
  file=$synth; [ $f = real ] && file=$real
  n=$(pkts "$file")
  for d in "" _nodpi; do
    w0=$(sort -n "$tmp/$f.norate$d" | head -1 | cut -d' ' -f1)
    c0=$(cut -d' ' -f2 "$tmp/$f.norate$d" | sort -n | head -1)
    for c in norate$d rate$d; do
      w=$(sort -n "$tmp/$f.$c" | head -1 | cut -d' ' -f1)
      cpu=$(cut -d' ' -f2 "$tmp/$f.$c" | sort -n | head -1)
      printf '%-6s %-16s %10d %12.0f %8.2f %8.1f%% %8.1f%%\n' $f $c "$n" "$(echo "$n / $w" | bc -l)" \
        "$cpu" "$(echo "($w / $w0 - 1) * 100" | bc -l)" "$(echo "($cpu / $c0 - 1) * 100" | bc -l)"
    done
  done
done
echo "(+% is the counters' cost: best run with them over best run with --no-rate; target <= 5%)"

# --- 3. the same cost in instructions (load-independent: a shared machine's wall and CPU
# times move by more than 5% from run to run): valgrind's cachegrind on the first 300,000
# packets of each file, whole process (all threads, analysis included). CG=0 skips it.
if [ "${CG:-1}" = 0 ] || ! command -v valgrind >/dev/null 2>&1; then
  echo "instructions: skipped (CG=0 or no valgrind)"
else
  printf '\n%-6s %-8s %16s %16s %8s %14s\n' file nDPI "Ir --no-rate" "Ir counters" "+%" "Ir/packet +"
  for f in synth real; do
    file=$synth; [ $f = real ] && file=$real
    for d in on off; do
      o="-c 300000 -q --no-progress"
      [ $d = off ] && o="$o --no-dpi"
      ir() {
        # shellcheck disable=SC2086
        valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
          "$tapir" run -r "$file" $o "$@" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
      }
      i0=$(ir --no-rate)
      i1=$(ir)
      printf '%-6s %-8s %16s %16s %7.1f%% %14.0f\n' $f $d "$i0" "$i1" \
        "$(echo "($i1 / $i0 - 1) * 100" | bc -l)" "$(echo "($i1 - $i0) / 300000" | bc -l)"
    done
  done
fi
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
