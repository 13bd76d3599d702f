#!/bin/sh
# nDPI's flow risks, end to end: a host whose HTTP request carries an SQL injection in
# its URL (a capture written by tools/webattack_pcap.py) gets the risk counted
# (risk_score 4 in its vector) and is alerted at once by the risk detector, the alert
# naming the risk with nDPI's severity; the same requests without the injection raise
# nothing; nDPI on its own thread and on the capture thread agree. With ../shared: no
# alert on the benign public captures is explained by nDPI's risks (they raise DGA,
# non-standard-port and weak-TLS risks), with a model from pcaps/baseline.pcap.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_cmd python3
need_pcaps
python3 "$TAPIR_TOP/tools/webattack_pcap.py" "$tmp" || fail "generator"
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model" -q --no-progress 2>/dev/null ||
  fail "train failed"
for t in on off; do
  "$TAPIR" run -r "$tmp/sqli.pcap" --model "$tmp/model" --no-progress --dpi-thread $t \
    --alert-log "$tmp/a.$t" --vectors-csv "$tmp/v.$t" >"$tmp/out.$t" 2>"$tmp/err.$t" ||
    fail "run --dpi-thread $t: exit $?: $(tail -2 "$tmp/err.$t")"
done
cmp -s "$tmp/a.on" "$tmp/a.off" || fail "--dpi-thread on and off differ: $(diff "$tmp/a.on" "$tmp/a.off")"
cmp -s "$tmp/v.on" "$tmp/v.off" || fail "--dpi-thread on and off differ (vectors)"
# The risk counted: the client's risk_score (the last column) is 4, one SQL injection.
score=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "risk_score") c = i }
  NR > 1 && $0 ~ /10\.9\.0\.5/ { print $c }' "$tmp/v.on")
[ "$score" = "4" ] || fail "risk_score of the client is '$score', want 4"
[ "$(grep -c '"event_type":"alert"' "$tmp/a.on")" -eq 1 ] || fail "want one alert, got: $(cat "$tmp/a.on")"
[ "$(grep -vc '"event_type":"end"' "$tmp/a.on")" -eq 1 ] || fail "want one alert event, got: $(cat "$tmp/a.on")"
python3 - "$tmp/a.on" <<'PY' || fail "alert: $(cat "$tmp/a.on")"
import json, sys
a = json.loads(open(sys.argv[1]).readline())
assert a["ip"] == "10.9.0.5" and a["side"] == "source", a["ip"]
assert a["detector"] == "risk" and a["category"] == "webattack", (a["detector"], a["category"])
assert a["top_features"][0]["name"] == "risk_score", a["top_features"]
assert "SQL Injection (Severe)" in a["risks"], a.get("risks")
assert "HTTP" in a["l7"], a["l7"]
PY
"$TAPIR" run -r "$tmp/benign.pcap" --model "$tmp/model" --no-progress --alert-log "$tmp/b" \
  >/dev/null 2>"$tmp/err" || fail "benign run: exit $?"
[ ! -s "$tmp/b" ] || fail "alert on harmless requests: $(cat "$tmp/b")"
n_pub=0
if [ -n "${TAPIR_SHARED:-}" ] && [ -d "$TAPIR_SHARED/pcaps-public" ]; then
  for f in "$TAPIR_SHARED"/pcaps-public/*; do
    "$TAPIR" run -r "$f" --model "$tmp/model" -q --no-progress --alert-log "$tmp/p" 2>/dev/null ||
      fail "$(basename "$f"): exit $?"
    if grep -q 'risk_score\|"risks"' "$tmp/p"; then
      fail "$(basename "$f"): an alert from nDPI's risks on benign traffic: $(grep risk "$tmp/p" | head -1)"
    fi
    n_pub=$((n_pub + 1))
  done
fi
pass "SQL injection counted and alerted with its name; none on harmless requests or on $n_pub public captures"
