#!/bin/sh
# Replaying the same capture twice with the same model gives identical scores, alerts
# and alert-log lines (table hash seeds differ between runs on purpose), and the alert
# log matches what SQLite stored.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
for i in 1 2; do
  "$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" -q --no-progress \
    --db "$tmp/run$i.db" --alert-log "$tmp/alerts$i.json" --scores-csv "$tmp/scores$i.csv" ||
    fail "run $i exited $?"
done
# Alert events: "alert" and "update" (an "end" closes an incident and has no row).
n=$(grep -vc '"event_type":"end"' "$tmp/alerts1.json")
[ "$n" -gt 10 ] || fail "only $n alerts: the mixed capture should raise many"
cmp -s "$tmp/scores1.csv" "$tmp/scores2.csv" || fail "scores differ between two replays"
cmp -s "$tmp/alerts1.json" "$tmp/alerts2.json" || fail "alert logs differ between two replays"
stored=$(sqlite3 "$tmp/run1.db" 'select count(*) from alerts')
[ "$stored" = "$n" ] || fail "alert log has $n lines, SQLite $stored alerts"
# Every alert names its detector, its category and why: three features with values.
/usr/bin/python3 - "$tmp/alerts1.json" <<'PY' || exit 1
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert a["event_type"] in ("alert", "update", "end"), a
    assert a["detector"] in ("forest", "limit", "conversation"), a
    assert a["category"] in ("portscan", "hostscan", "synflood", "udpflood", "icmpflood",
                             "amplification", "bruteforce", "beacon", "tunnel", "exfil",
                             "webattack", "anomaly"), a
    assert a["side"] in ("source", "destination", "prefix"), a
    assert a["score"] >= a["threshold"] or a["detector"] != "forest", a
    assert 1 <= len(a["top_features"]) <= 3, a
    for f in a["top_features"]:
        assert f["name"] and isinstance(f["value"], (int, float)), f
PY
pass "$n alerts, identical on two replays, all in SQLite, all with reasons"
