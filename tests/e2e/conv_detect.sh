#!/bin/sh
# Conversations across windows (analyzer/conv.c) on a generated capture
# (tools/conv_pcap.py): a beacon every 15 s with jitter for 6 minutes is flagged as a
# beacon, 40 SSH sessions on port 2222 as brute force (nDPI names SSH there), a host
# polling NTP every 64 s is not flagged; the same alerts with nDPI on its own thread or
# not; none with --no-conversations; the brute force on a non-standard port needs nDPI.
# --warmup 1: the warm-up teaches the detectors what is normal and alerts on nothing;
# the first minute holds only the NTP poll and browsing.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd python3
python3 "$TAPIR_TOP/tools/conv_pcap.py" "$tmp/conv.pcap" || fail "conv_pcap.py failed"
for t in on off; do
  "$TAPIR" run -r "$tmp/conv.pcap" --no-progress --warmup 1 --dpi-thread $t --alert-log "$tmp/a.$t" \
    >"$tmp/out.$t" 2>"$tmp/err.$t" || fail "run --dpi-thread $t exited $?: $(tail -2 "$tmp/err.$t")"
done
cmp -s "$tmp/out.on" "$tmp/out.off" ||
  fail "--dpi-thread on and off differ: $(diff "$tmp/out.on" "$tmp/out.off" | head -4)"
a=$tmp/a.on
grep '"ip":"10.0.0.5"' "$a" | grep -q '"beacon to 198.51.100.7:8080/tcp"' ||
  fail "beacon of 10.0.0.5 not flagged: $(cat "$tmp/out.on")"
grep '"ip":"203.0.113.50"' "$a" | grep -q '"bruteforce to 10.0.0.22:2222/tcp"' ||
  fail "SSH brute force on 2222 not flagged: $(cat "$tmp/out.on")"
grep -q '"ip":"10.0.0.9"' "$a" && fail "the NTP poller was flagged: $(grep 10.0.0.9 "$a")"
grep -q '"ip":"10.0.0.30"' "$a" && fail "the browsing host was flagged: $(grep 10.0.0.30 "$a")"
n=$(grep -c '"event_type":"alert"' "$a") # each opens an incident; its "end" follows
[ "$n" -eq 2 ] || fail "$n alerts, want 2: $(cat "$tmp/out.on")"
[ "$(grep -c '"event_type":"end"' "$a")" -eq 2 ] || fail "incidents not ended: $(cat "$a")"
grep -q 'conversations: 2 alerts' "$tmp/err.on" || fail "no conversation summary: $(cat "$tmp/err.on")"
"$TAPIR" run -r "$tmp/conv.pcap" --no-progress --no-conversations --alert-log "$tmp/b" \
  >/dev/null 2>&1 || fail "--no-conversations run failed"
[ -s "$tmp/b" ] && fail "alerts with --no-conversations: $(cat "$tmp/b")"
"$TAPIR" run -r "$tmp/conv.pcap" --no-progress --warmup 1 --no-dpi --alert-log "$tmp/c" >/dev/null 2>&1 ||
  fail "--no-dpi run failed"
grep -q 'bruteforce to' "$tmp/c" && fail "brute force on 2222 flagged without nDPI (by what?)"
grep -q 'beacon to' "$tmp/c" || fail "beacon not flagged without nDPI"
pass "beacon and SSH brute force on 2222 flagged, NTP poller and browsing not; same with the nDPI thread"
