#!/usr/bin/python3
"""Compares a tapir alert log (JSON lines) with a lab labels CSV. A report, not a test.

Usage: score.py LABELS.csv ALERTS.json

Per labelled address: which alerts it got (side, event type, window). An attacker is
found by any alert on its address inside [first_ts - 60, last_ts + 120]; a victim by a
destination-side alert in that span; alerts on benign addresses are false; alerts on c2
addresses and on unlisted addresses (spoofed sources) are listed apart.
"""
import csv
import json
import sys
from collections import defaultdict
from datetime import datetime


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def main():
    labels = {r["ip"]: r for r in csv.DictReader(open(sys.argv[1]))}
    alerts = defaultdict(list)
    for line in open(sys.argv[2]):
        if line.strip():
            a = json.loads(line)
            alerts[a["ip"]].append(a)
    kinds = defaultdict(lambda: [0, 0])
    print("%-24s %-7s %-11s %s" % ("ip", "label", "type", "alerts (side/event_type, window end)"))
    for ip, r in sorted(labels.items(), key=lambda kv: (kv[1]["label"], kv[1]["attack_type"], kv[0])):
        lab, typ = r["label"], r["attack_type"]
        t0, t1 = float(r["first_ts"]) - 60, float(r["last_ts"]) + 120
        got = alerts.get(ip, [])
        hit = [a for a in got if t0 <= ts(a["window_end"]) <= t1 + 60 and
               (lab != "victim" or a["side"] == "destination")]
        if lab in ("attack", "victim"):
            kinds[typ][1] += 1
            kinds[typ][0] += bool(hit)
            mark = "FOUND" if hit else "missed"
        elif lab == "benign":
            mark = "FALSE" if got else ""
        else:
            mark = "(c2)" if got else ""
        if lab != "benign" or got:
            desc = ", ".join("%s/%s %s" % (a["side"][:3], a["event_type"], a["window_end"][11:16]) for a in got[:4])
            if len(got) > 4:
                desc += ", ... (%d)" % len(got)
            print("%-24s %-7s %-11s %-6s %s" % (ip, lab, typ, mark, desc))
    other = sorted(ip for ip in alerts if ip not in labels)
    print("\nper attack type (attackers + victims found / listed):")
    for typ, (f, n) in sorted(kinds.items()):
        print("  %-11s %d/%d" % (typ, f, n))
    nb = sum(1 for r in labels.values() if r["label"] == "benign")
    fb = sum(1 for ip, r in labels.items() if r["label"] == "benign" and ip in alerts)
    fs = sum(1 for ip, r in labels.items() if r["label"] == "benign" and
             any(a["side"] == "source" for a in alerts.get(ip, [])))
    print("benign addresses flagged: %d of %d (%d on the source side; destination-side alerts on"
          " benign hosts are mostly scan targets)" % (fb, nb, fs))
    if other:
        print("alerts on unlisted addresses: %d (%s%s)" % (len(other), ", ".join(other[:5]), ", ..." if len(other) > 5 else ""))


if __name__ == "__main__":
    main()
