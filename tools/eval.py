#!/usr/bin/python3
"""Detection quality of one `tapir run` against a labels CSV (ip,label,attack_type,...).

Inputs: the run's --scores-csv (every score), --flow-log (who talked to whom, when) and
the labels. Rules, stated so anyone can check them:
- A source alert on IP X is a true positive when X is labelled attack; a prefix alert
  when an attack IP inside the prefix was active in that window; a destination alert on
  X when X received traffic from an attack IP in that window. Anything else is a false
  positive.
- An attack IP that started flows is detected when it has a true source alert, lies in
  a flagged prefix, or every destination it sent to in some window was flagged on the
  destination side then (a spoofed flood is caught at its victim, where it shows).
  Attack IPs that only answered (C2 servers, drop sites) are listed apart.
- With --alerts ALERT_LOG (its "alert" and "update" events: an "end" event repeats an
  incident's last alert and is not counted), the alerts of detectors that score no vector (conversation,
  risk: beacons, brute force, exfiltration, web attacks judged across windows or per
  flow) count too, as source alerts in their window, under the same rules.
- False-positive rate: benign (IP, window) pairs with any false alert / benign pairs
  scored on any side. ROC AUC: per IP, its highest score/threshold ratio, from its own
  source score or its victims' destination scores (not its prefix's), over every IP
  that earned one.
"""
import csv
import ipaddress
import sys
from collections import defaultdict


def auc(pos, neg):
    if not pos or not neg:
        return float("nan")
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    # Mann-Whitney U with average ranks for ties.
    ranks = {}
    i = 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        for k in range(i, j):
            ranks[k] = (i + j + 1) / 2.0
        i = j
    rsum = sum(ranks[k] for k, (v, l) in enumerate(allv) if l == 1)
    return (rsum - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg))


def main():
    verbose = "-v" in sys.argv
    args = [a for a in sys.argv[1:] if a != "-v"]
    alerts_path = None
    if "--alerts" in args:
        k = args.index("--alerts")
        alerts_path = args[k + 1]
        del args[k:k + 2]
    scores_path, flows_path, labels_path = args[:3]
    label, atype = {}, {}
    for r in csv.DictReader(open(labels_path)):
        label[r["ip"]] = r["label"]
        atype[r["ip"]] = r["attack_type"] or "benign"
    attack = {ip for ip, l in label.items() if l == "attack"}

    # Who sent to whom in which window (window length taken from the scores).
    rows = list(csv.DictReader(open(scores_path)))
    if not rows:
        print("no scores: was the run scoring (model or warm-up)?")
        return 1
    wlen = int(rows[0]["window_end"]) - int(rows[0]["window_start"])
    if alerts_path:
        import json
        from datetime import datetime, timezone
        for line in open(alerts_path):
            a = json.loads(line)
            if a.get("event_type") == "end":
                continue  # an incident closing repeats its last alert (format 2)
            if a.get("detector") not in ("conversation", "risk"):
                continue  # the forest's and the limits' are in the scores CSV already
            t = datetime.strptime(a["window_start"][:19], "%Y-%m-%dT%H:%M:%S")
            w = int(t.replace(tzinfo=timezone.utc).timestamp()) // wlen * wlen
            rows.append({"ip": a["ip"], "side": a["side"], "window_start": str(w),
                         "window_end": str(w + wlen), "score": str(a["score"]),
                         "alert": "1", "extra": "1"})
    initiators = set()
    sent_to = defaultdict(set)      # (ip, window) -> destinations
    recv_from_attack = set()        # (ip, window) that received attack traffic
    active = set()                  # (ip, window) where ip sent something
    for f in csv.DictReader(open(flows_path)):
        a, b = f["src"], f["dst"]
        w0 = int(float(f["first_ts"])) // wlen * wlen
        w1 = int(float(f["last_ts"])) // wlen * wlen
        initiators.add(a)
        for w in range(w0, w1 + wlen, wlen):
            if int(f["pkts_fwd"]):
                sent_to[(a, w)].add(b)
                active.add((a, w))
                if a in attack:
                    recv_from_attack.add((b, w))
            if int(f["pkts_rev"]):
                sent_to[(b, w)].add(a)
                active.add((b, w))
                if b in attack:
                    recv_from_attack.add((a, w))

    def prefix_has_attack(net, w):
        n = ipaddress.ip_network(net, strict=False)
        return any(ip in attack and (ip, w) in active and ipaddress.ip_address(ip) in n
                   for ip in attack)

    tp = fp = 0
    src_alert = set()
    dst_alert = set()
    prefix_alerts = []
    benign_scored = set()
    benign_fp = set()
    max_score = {}
    for r in rows:
        ip, side, w = r["ip"], r["side"], int(r["window_start"])
        alerted = r["alert"] == "1"
        if side == "source" and not r.get("extra"):
            max_score[ip] = max(max_score.get(ip, 0.0), float(r["score"]))
        if side in ("source", "destination") and label.get(ip, "benign") == "benign":
            benign_scored.add((ip, w))
        if not alerted:
            continue
        if side == "source":
            ok = ip in attack
            if ok:
                src_alert.add((ip, w))
        elif side == "destination":
            ok = (ip, w) in recv_from_attack
            if ok:
                dst_alert.add((ip, w))
        else:
            ok = prefix_has_attack(ip, w)
            if ok:
                prefix_alerts.append((ipaddress.ip_network(ip, strict=False), w))
        if ok:
            tp += 1
        else:
            fp += 1
            if verbose:
                print(f"false alert: window {w} {side} {ip} score {r['score']}")
            if side != "prefix":
                benign_fp.add((ip, w))

    detected = set(ip for ip, _ in src_alert)
    for net, w in prefix_alerts:
        for ip in attack:
            if (ip, w) in active and ipaddress.ip_address(ip) in net:
                detected.add(ip)
    for (ip, w), dsts in sent_to.items():
        if ip in attack and dsts and all((d, w) in dst_alert for d in dsts):
            detected.add(ip)
    for ip, w in dst_alert:
        if ip in attack:
            detected.add(ip)

    classes = sorted({atype[ip] for ip in attack})
    print(f"{'attack class':<22}{'flagged/present':>16}{'recall':>9}")
    tot_p = tot_d = 0
    for c in classes:
        ips = [ip for ip in attack if atype[ip] == c and ip in initiators]
        d = [ip for ip in ips if ip in detected]
        tot_p += len(ips)
        tot_d += len(d)
        rec = len(d) / len(ips) if ips else float("nan")
        print(f"{c:<22}{len(d):>7}/{len(ips):<8}{rec:>9.1%}")
    print(f"{'all attack IPs':<22}{tot_d:>7}/{tot_p:<8}{(tot_d / tot_p if tot_p else 0):>9.1%}")
    passive = [ip for ip in attack if ip not in initiators]
    if passive:
        pd = [ip for ip in passive if ip in detected]
        print(f"answering-only attack endpoints (C2, drop sites): {len(pd)}/{len(passive)} flagged")
    fpr = len(benign_fp) / len(benign_scored) if benign_scored else 0.0
    prec = tp / (tp + fp) if tp + fp else float("nan")
    # Per-IP score for the ROC: the highest score/threshold ratio it earned by its own
    # source score, or by its victims' destination scores when every destination it sent
    # to was scored (spoofed floods). Prefix scores are left out: they would lift every
    # benign neighbour of an attacker.
    ratio = {}
    dst_ratio = {}
    for r in rows:
        if r.get("extra"):
            continue  # no threshold: the ROC is the scored vectors'
        ip, side, w = r["ip"], r["side"], int(r["window_start"])
        q = float(r["score"]) / float(r["threshold"])
        if side == "source":
            ratio[ip] = max(ratio.get(ip, 0.0), q)
        elif side == "destination":
            dst_ratio[(ip, w)] = q
    for (ip, w), dsts in sent_to.items():
        if dsts and all((d, w) in dst_ratio for d in dsts):
            q = min(dst_ratio[(d, w)] for d in dsts)
            if q > ratio.get(ip, 0.0):
                ratio[ip] = q
    max_score = ratio
    if verbose:
        top = sorted(((v, ip) for ip, v in ratio.items() if ip not in attack), reverse=True)[:12]
        print("highest benign ratios:", ", ".join(f"{ip} {v:.3f}" for v, ip in top))
        low = sorted(((v, ip) for ip, v in ratio.items() if ip in attack))[:12]
        print("lowest attack ratios:", ", ".join(f"{ip}({atype[ip]}) {v:.3f}" for v, ip in low))
    pos = [max_score[ip] for ip in max_score if ip in attack]
    neg = [max_score[ip] for ip in max_score if ip not in attack]
    print(f"alerts: {tp + fp} ({tp} true, {fp} false), precision {prec:.1%}")
    print(f"false-positive rate: {len(benign_fp)}/{len(benign_scored)} benign IP-windows = {fpr:.2%}")
    print(f"ROC AUC (per-IP max score/threshold): {auc(pos, neg):.4f} over {len(pos)} attack and {len(neg)} benign IPs scored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
