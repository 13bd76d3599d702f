#!/bin/sh
# Floods in two seconds (sensor/rate.c, analyzer/rate_alert.c), in packet time, on a
# crafted capture (tools/rate_pcap.py): a spoofed SYN flood is alerted on its victim within
# 2 s of its first packet and on none of its sources; a single-source UDP flood gives a
# source-side alert too; a SYN flood from 4 real sources names each of them; a reflected
# (amplification) flood names no reflector; an ICMP flood; a host group of the thresholds
# file lowers a network's limit; one alert per (ip, side, category) per window. Limits
# learned in training (model format 4) raise a busy server's limit. Then
# pcaps/baseline.pcap replayed with its own model raises no rate alert.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd python3
t0=1700000000
python3 "$TAPIR_TOP/tools/rate_pcap.py" -o "$tmp/f.pcap" --t0 $t0 --background 30 \
  syn:10.0.0.5:5.3:4:3000 \
  udp:10.0.0.6:9.5:3:25000:198.51.100.7 \
  syn:10.0.0.7:14.2:3:2000:192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4 \
  amp:10.0.0.9:18.6:2:5000 \
  icmp:10.0.0.10:22.1:2:4000:203.0.113.5 \
  syn:10.0.0.8:3:3:300:192.0.2.9 >"$tmp/first.txt" || fail "rate_pcap.py failed"
"$TAPIR" run -r "$tmp/f.pcap" --alert-log "$tmp/a.json" -q --no-progress ||
  fail "run exited $?"
mkdir "$tmp/rules"
printf 'rate 10.0.0.8/32 syn_pps 100   # a small lab host\n' >"$tmp/rules/thresholds"
"$TAPIR" run -r "$tmp/f.pcap" --alert-log "$tmp/r.json" -q --no-progress --rules "$tmp/rules" ||
  fail "run with rules exited $?"
python3 - "$tmp/a.json" "$tmp/r.json" "$tmp/first.txt" <<'PY' || fail "rate alerts wrong (above)"
import collections, datetime, json, sys
def load(p):
    out = []
    for line in open(p):
        d = json.loads(line)
        if d["detector"] == "rate" and d["event_type"] != "end":  # an end repeats the last alert
            ts = datetime.datetime.strptime(d["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
            d["ts_us"] = int(ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e6)
            out.append(d)
    return out
a, r = load(sys.argv[1]), load(sys.argv[2])
first = {}
for line in open(sys.argv[3]):
    kind, ip, us = line.split()
    first[ip] = int(us)
bad = []
def one(alerts, ip, side, cat):
    m = [d for d in alerts if d["ip"] == ip and d["side"] == side]
    if len(m) != 1 or m[0]["category"] != cat:
        bad.append("%s %s: want one %s alert, got %s" % (ip, side, cat,
                   [(d["category"], d["timestamp"]) for d in m]))
        return None
    return m[0]
for ip, cat in [("10.0.0.5", "synflood"), ("10.0.0.6", "udpflood"), ("10.0.0.7", "synflood"),
                ("10.0.0.9", "amplification"), ("10.0.0.10", "icmpflood")]:
    d = one(a, ip, "destination", cat)
    if d and not first[ip] < d["ts_us"] <= first[ip] + 2000000:
        bad.append("%s: alert at %s, first packet at %d us: not within 2 s" % (ip, d["timestamp"], first[ip]))
    if d and not (d["score"] > 1 and d["threshold"] == 1.0):
        bad.append("%s: score %s threshold %s" % (ip, d["score"], d["threshold"]))
for ip, cat, victim in [("198.51.100.7", "udpflood", "10.0.0.6"), ("203.0.113.5", "icmpflood", "10.0.0.10")] + \
        [("192.0.2.%d" % i, "synflood", "10.0.0.7") for i in (1, 2, 3, 4)]:
    d = one(a, ip, "source", cat)
    if d and d["ts_us"] > first[victim] + 2000000:
        bad.append("%s: source alert at %s, later than 2 s" % (ip, d["timestamp"]))
src = [d for d in a if d["side"] == "source"]
if len(src) != 6:
    bad.append("want 6 source-side alerts (no spoofed source, no reflector), got %d: %s" %
               (len(src), sorted(d["ip"] for d in src)))
if any(d["ip"] in ("10.0.0.8", "192.0.2.9") for d in a):
    bad.append("300 SYN/s flagged without the host group (floor 1000/s)")
one(r, "10.0.0.8", "destination", "synflood")
one(r, "192.0.2.9", "source", "synflood")
for d in bad:
    print(d)
sys.exit(1 if bad else 0)
PY

# Limits learned in training: a capture whose busiest server gets 2,000 unanswered SYN/s
# (its normal) trains a model with limit 4 x 2,000; a 3,000/s flood then raises nothing,
# while the floors alone (no model) flag it.
python3 "$TAPIR_TOP/tools/rate_pcap.py" -o "$tmp/train.pcap" --t0 $t0 --background 20 \
  syn:10.0.0.5:2:10:2000 >/dev/null || fail "rate_pcap.py (training) failed"
"$TAPIR" train -r "$tmp/train.pcap" -o "$tmp/rm.tapir" -q --no-progress --min-pkts 1 2>/dev/null ||
  fail "train on the busy capture failed"
# `tapir model info` shows the learned maximum and the limit it gives (4 x 2,000).
"$TAPIR" model info "$tmp/rm.tapir" >"$tmp/info" || fail "model info"
grep -q '^rate: per-second maxima over 20 s of training' "$tmp/info" || { cat "$tmp/info"; fail "model info: no rate section"; }
grep -Eq '^  unanswered SYN +0 +1000 +2000 +8000$' "$tmp/info" ||
  { grep -A5 '^rate:' "$tmp/info"; fail "model info: wrong SYN maximum or limit"; }
python3 "$TAPIR_TOP/tools/rate_pcap.py" -o "$tmp/f2.pcap" --t0 $((t0 + 3600)) --background 20 \
  syn:10.0.0.5:5:4:3000 >/dev/null || fail "rate_pcap.py (flood) failed"
"$TAPIR" run -r "$tmp/f2.pcap" --model "$tmp/rm.tapir" -q --no-progress --alert-log "$tmp/l.json" ||
  fail "run with the learned model exited $?"
grep -q '"detector":"rate"' "$tmp/l.json" && fail "3,000 SYN/s flagged though training saw 2,000/s"
"$TAPIR" run -r "$tmp/f2.pcap" -q --no-progress --alert-log "$tmp/n.json" || fail "run exited $?"
grep '"detector":"rate"' "$tmp/n.json" | grep -q '"ip":"10.0.0.5"' ||
  fail "3,000 SYN/s not flagged by the floors (no model)"

# Normal traffic with its own model: no rate alert.
need_pcaps
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/m.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
"$TAPIR" run -r "$TAPIR_TOP/pcaps/baseline.pcap" --model "$tmp/m.tapir" -q --no-progress \
  --alert-log "$tmp/b.json" || fail "baseline replay exited $?"
grep '"detector":"rate"' "$tmp/b.json" && fail "rate alert on the baseline"
pass "floods alerted within 2 s of their first packet (packet time), spoofed sources and reflectors never named, host groups, learned limits, none on the baseline"
