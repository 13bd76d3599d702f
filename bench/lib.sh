# shellcheck shell=sh
# bench/lib.sh — inputs shared by the benchmarks (sourced, not run: `. bench/lib.sh`).
# Both replay.sh and rate.sh measure on the same two files, made once and kept in
# BUILD/bench/ (written under a temporary name, so an interrupted run is not reused):
#   bench_synth TAPIR OUT PACKETS: `tapir synth --seed 11` of PACKETS packets (labels beside);
#   bench_lab_replicated OUT COPIES: pcaps/lab/attack.pcap.gz (the lab's real tools and
#     services, issue 10) end to end COPIES times, each copy shifted past the previous one
#     in time (one copy is 295,409 packets over about 13 minutes).
# Each returns non-zero when the file cannot be made.

bench_synth() {
  [ -s "$2" ] && return 0
  echo "generating $2 ..."
  "$1" synth --seed 11 --packets "$3" --out "$2.tmp" --labels "${2%.pcap}.labels.csv" \
    >/dev/null || return 1
  mv "$2.tmp" "$2"
}

bench_lab_replicated() {
  [ -s "$1" ] && return 0
  echo "generating $1 (pcaps/lab/attack.pcap.gz x $2) ..."
  python3 - pcaps/lab/attack.pcap.gz "$1.tmp" "$2" <<'PY' || return 1
import gzip, struct, sys
d = gzip.open(sys.argv[1]).read()
assert d[:4] == b"\xd4\xc3\xb2\xa1", "classic little-endian pcap expected"
recs, off = [], 24
while off + 16 <= len(d):
    s, u, cl, wl = struct.unpack("<IIII", d[off:off + 16])
    recs.append((s * 1000000 + u, d[off + 8:off + 16 + cl]))
    off += 16 + cl
span = recs[-1][0] - recs[0][0] + 1000000
with open(sys.argv[2], "wb") as out:
    out.write(d[:24])
    for k in range(int(sys.argv[3])):
        for ts, rest in recs:
            t = ts + k * span
            out.write(struct.pack("<II", t // 1000000, t % 1000000) + rest)
PY
  mv "$1.tmp" "$1"
}
