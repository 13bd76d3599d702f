#!/bin/sh
# The forest alone earns its alerts (issue 10): the lab's attack capture against the lab
# baseline's model with the learned limits and the risk detector off
# (TAPIR_DEBUG_NO_LIMITS) and no conversation table (--no-conversations), as
# `make eval`'s forest-alone measurement. Floors measured 2026-12-03 (branch forest): 9 of
# the 10 attack kinds flagged (8 by the forest, the SYN flood by the rate detector; 2 by
# the forest before its score extension was kept in this mode), no benign lab host
# flagged, no alert on the lab baseline replayed against its own model, forest precision
# 0.95 (18 of 19 on the lab; the false one is an exfiltrating host outside its attack's
# time). Raise them as detection improves; never lower them without a reason.
MIN_KINDS=9
MIN_FOREST_PRECISION=0.8
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
[ "$TAPIR_SAN" = 1 ] && { echo "normal pass only"; exit 77; }
[ -f "$TAPIR_TOP/pcaps/lab/attack.pcap.gz" ] || skip "pcaps/lab/ is absent"
cd "$TAPIR_TOP" || exit 1
TAPIR_DEBUG_NO_LIMITS=1 EVAL_RUN_EXTRA=--no-conversations /usr/bin/python3 tools/eval_real.py \
  "$TAPIR_BUILD" --parts lab --out "$tmp/real" --json "$tmp/sum.json" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "eval_real.py failed"; }
/usr/bin/python3 - "$tmp/sum.json" <<PY || { cat "$tmp/out"; fail "see above"; }
import json, sys
s = json.load(open(sys.argv[1]))
lab, d = s["lab"], s["detectors"]
f = d["forest"]
prec = f["true"] / max(1, f["true"] + f["false"])
print(f"kinds {lab['kinds_flagged']}/{lab['kinds_total']}, benign {lab['benign_flagged']}, "
      f"self {lab['self_alerts']}, forest {f['true']}/{f['true'] + f['false']} ({prec:.2f})")
bad = []
if lab["kinds_flagged"] < $MIN_KINDS:
    bad.append(f"kinds {lab['kinds_flagged']} < $MIN_KINDS")
if lab["benign_flagged"] or lab["self_alerts"]:
    bad.append("a benign lab host or the lab baseline flagged")
if prec < $MIN_FOREST_PRECISION:
    bad.append(f"forest precision {prec:.2f} < $MIN_FOREST_PRECISION")
if any(d[k]["true"] + d[k]["false"] + d[k]["neutral"] for k in ("limit", "risk", "conversation")):
    bad.append("a limit, risk or conversation alert with them off")
if bad:
    print("FAIL:", "; ".join(bad)); sys.exit(1)
PY
pass "the forest alone flags $MIN_KINDS+ of the lab's attack kinds, no benign host"
