#!/bin/sh
# Retraining keeps the model sharp: a vertical port scan that repeats every 10 minutes for
# ~4.5 hours of generated traffic, replayed with warm-up and a retraining every 20
# windows (13 retrainings), learned limits switched off (TAPIR_DEBUG_NO_LIMITS: the forest
# alone), is still flagged in the last hour; every retrained threshold stays within 0.03
# of the warm-up one (RETRAIN_DRIFT_MAX).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
"$TAPIR" synth --seed 5 --hosts 40 --duration 10m --packets 150000 \
  --attacks portscan_vertical --out "$tmp/loop.pcap" --labels "$tmp/loop.csv" >/dev/null 2>&1 ||
  fail "synth"
atk=$(awk -F, '$2 == "attack" { print $1; exit }' "$tmp/loop.csv")
[ -n "$atk" ] || fail "no attacker in the labels"
TAPIR_DEBUG_NO_LIMITS=1 "$TAPIR" run -r "$tmp/loop.pcap" --warmup 10 --retrain 20 \
  --no-progress --alert-log "$tmp/a.json" >/dev/null 2>"$tmp/err" || fail "run"
n=$(grep -c 'retrained model' "$tmp/err")
[ "$n" -ge 10 ] || fail "only $n retrainings"
/usr/bin/python3 - "$tmp/a.json" "$tmp/err" "$atk" <<'PY' || fail "see above"
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = max(r["window_end"] for r in rows)
from datetime import datetime, timedelta
fmt = "%Y-%m-%dT%H:%M:%S"
cut = (datetime.strptime(last[:19], fmt) - timedelta(hours=1)).strftime(fmt)
late = [r for r in rows if r["ip"] == sys.argv[3] and r["window_end"][:19] >= cut]
assert all(r["event_type"] == "anomaly" for r in rows), "a limit fired with limits off"
ts = [float(x) for x in re.findall(r"model [0-9a-f]+: source threshold ([0-9.]+)",
                                   open(sys.argv[2]).read())]
print(f"source thresholds {ts[0]:.4f} .. {min(ts):.4f}-{max(ts):.4f} over {len(ts)} models; "
      f"{len(late)} forest alerts on {sys.argv[3]} in the last hour")
if max(abs(t - ts[0]) for t in ts) > 0.03 + 1e-4:
    print("FAIL: a retrained threshold drifted more than 0.03"); sys.exit(1)
if not late:
    print("FAIL: the looping scan is no longer flagged in the last hour"); sys.exit(1)
PY
pass "looping scan still flagged after $n retrainings; thresholds held"
