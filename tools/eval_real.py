#!/usr/bin/python3
"""make eval on real traffic: the lab and third-party captures (docs/detection-eval.md).

Usage: eval_real.py BUILD [--baseline PCAP] [--lab DIR] [--shared DIR] [--out DIR]
                    [--synthetic FILE] [--json FILE] [--parts lab,thirdparty]

Runs `tapir` itself (train once per baseline, then one `tapir run --model` per capture)
and reads each run's JSON alert log. Every alert is put in one of three classes:
- true: on an address the labels or MANIFEST.md tie to the attack (the attacker, a
  flood victim, a scan target; in the lab only while its attack ran, with two windows of
  slack for --persist), or a prefix holding one;
- neutral: on an address that is neither positive nor negative (C2 peers and servers,
  reflectors, lab addresses the labels do not list such as spoofed flood sources);
  left out of precision;
- false: anything else, every alert on a benign capture or on the lab baseline replayed
  against its own model, and every alert on 0.0.0.0, a broadcast or multicast address.
A capture or attack is *flagged* (a hit) when an alert names the attacker on the source
side or a flood victim on the destination side (MANIFEST: "a scan or brute-force target
is not a positive"). The alert's detector and category come from its `detector` and
`category` fields; older logs have neither: event_type anomaly -> forest, threshold ->
limit, category "unknown".
"""
import argparse
import csv
import datetime
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

DETECTORS = ["forest", "limit", "conversation", "risk", "rate"]
EVENT_DETECTOR = {"anomaly": "forest", "threshold": "limit"}
SLACK_WINDOWS = 2  # lab: alerts up to this many windows after an attack ended still count


# ---------------------------------------------------------------- running tapir

def run(cmd, log):
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.stderr.write(open(log).read()[-2000:])
        raise SystemExit(f"eval: {' '.join(cmd)} failed (exit {r.returncode}); log {log}")


def train(build, pcap, out, name):
    model = os.path.join(out, name + ".tapir")
    log = os.path.join(out, name + ".train.log")
    run([os.path.join(build, "tapir"), "train", "-r", pcap, "-o", model, "--no-progress"], log)
    info = ""
    for line in open(log):
        m = re.search(r"info: model \w+: (.*)", line)
        if m:
            info = m.group(1)
    return model, info


def parse_summary(log):
    """What tapir said it did: non-IP frames dropped, windows, vectors, clock jumps."""
    s = {"not_ip": 0, "windows": 0, "scored": 0, "below_min": 0, "jumps": 0, "back": 0}
    for line in open(log):
        if "summary: drops:" in line:
            m = re.search(r"not_ip=(\d+)", line)
            s["not_ip"] = int(m.group(1)) if m else 0
        m = re.search(r"summary: (\d+) windows .* (\d+) vectors scored, (\d+) below", line)
        if m:
            s["windows"], s["scored"], s["below_min"] = map(int, m.groups())
        m = re.search(r"clock: (\d+) packets back in time .* (\d+) jumps forward", line)
        if m:
            s["back"], s["jumps"] = int(m.group(1)), int(m.group(2))
    return s


def epoch(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def replay(build, pcap, model, out, name, flow_log=None):
    """One `tapir run` of PCAP against MODEL: (alerts, summary)."""
    alog = os.path.join(out, name + ".alerts.json")
    log = os.path.join(out, name + ".log")
    if os.path.exists(alog):
        os.remove(alog)
    extra = ["--flow-log", flow_log] if flow_log else []
    extra += os.environ.get("EVAL_RUN_EXTRA", "").split()  # e.g. --no-conversations
    run([os.path.join(build, "tapir"), "run", "-r", pcap, "--model", model, "--no-progress",
         "--alert-log", alog] + extra, log)
    alerts = []
    if os.path.exists(alog):
        for line in open(alog):
            if not line.strip():
                continue
            a = json.loads(line)
            if a.get("event_type") == "end":
                continue  # an incident closing repeats its last alert (format 2)
            alerts.append({
                "ip": a["ip"], "side": a["side"],
                "detector": a.get("detector") or EVENT_DETECTOR.get(a.get("event_type"), a.get("event_type", "?")),
                "category": a.get("category") or "unknown",
                "ws": epoch(a["window_start"]), "we": epoch(a["window_end"]),
            })
    return alerts, parse_summary(log)


# ---------------------------------------------------------------- classification

def special(addr):
    """Addresses Tapir must never alert on (issue 10): 0.0.0.0, broadcast, multicast."""
    return (addr.is_unspecified or addr.is_multicast or
            (addr.version == 4 and addr == ipaddress.ip_address("255.255.255.255")))


class Tally:
    """Alerts by detector and class, and the distinct (run, ip, side) behind them."""

    def __init__(self):
        self.alerts = defaultdict(lambda: defaultdict(int))
        self.addrs = defaultdict(lambda: defaultdict(set))

    def add(self, run_name, a, cls):
        self.alerts[a["detector"]][cls] += 1
        self.addrs[a["detector"]][cls].add((run_name, a["ip"], a["side"]))

    def merge(self, other):
        for d, c in other.alerts.items():
            for k, v in c.items():
                self.alerts[d][k] += v
        for d, c in other.addrs.items():
            for k, v in c.items():
                self.addrs[d][k] |= v


def pct(n, d):
    return f"{n / d:.2f}" if d else "-"


# ---------------------------------------------------------------- MANIFEST.md

ADDR_RE = re.compile(r"(?<![\w.])(\d+\.\d+\.(?:\d+|x)\.(?:\d+|x)(?:/\d+)?|[0-9a-f]*:[0-9a-f:]+(?:/\d+)?)(?![\w])|,\s*(\.\d+)",
                     re.I)


def parse_addrs(cell):
    """Addresses and networks named in a MANIFEST cell: 10.0.0.1, .2 (same /24),
    192.168.1.x or 128.2.x.x (wildcards), CIDRs, host:port."""
    nets = []
    last4 = None
    for m in ADDR_RE.finditer(cell):
        tok, short = m.group(1), m.group(2)
        if short and last4 is not None:
            tok = ".".join(str(last4).split(".")[:3]) + short
        if not tok:
            continue
        if "x" in tok:
            parts = tok.split(".")
            fixed = [p for p in parts if p != "x"]
            tok = ".".join(fixed + ["0"] * (4 - len(fixed))) + f"/{8 * len(fixed)}"
        try:
            n = ipaddress.ip_network(tok, strict=False)
        except ValueError:
            continue
        if n.version == 4 and n.prefixlen == 32:
            last4 = n.network_address
        nets.append(n)
    return nets


def md_tables(text):
    """Every pipe table in a markdown text, as lists of dicts keyed by header."""
    tables, cur, hdr = [], None, None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            if cur is not None:
                tables.append(cur)
            cur, hdr = None, None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if hdr is None:
            hdr, cur = [c.lower() for c in cells], []
        elif all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue
        else:
            cur.append(dict(zip(hdr, cells)))
    if cur is not None:
        tables.append(cur)
    return tables


def parse_manifest(path):
    tables = md_tables(open(path).read())
    roles = next(t for t in tables if t and "attacker" in t[0])
    cats = next(t for t in tables if t and "category" in t[0] and "attacker" not in t[0])
    expected = {r["file"]: r["category"] for r in cats}
    caps = []
    for r in roles:
        f = r["file"]
        att = r["attacker"]
        vic = r.get("victim / peer", "")
        notes = r.get("notes", "")
        cat = expected.get(f, "?")
        vkind = "dos" if vic.lower().startswith("victim") else (
            "peer" if vic.lower().startswith("peer") else "target")
        caps.append({
            "file": f, "what": r.get("what", ""), "attacker_cell": att, "victim_cell": vic,
            "attackers": parse_addrs(att),
            "victims": parse_addrs(vic), "victim_kind": vkind,
            "reflectors": "reflector" in att.lower(),
            "all_sources": bool(re.search(r"\bsources\b", att)),
            "attacker_sides": {"source", "destination"} if "only as destination" in att else {"source"},
            "expected": cat,
            "expected_set": set(re.findall(r"[a-z]+", cat.split("(")[0])) - {"or"},
            "weak": "weak" in notes.lower() or "weak" in cat.lower(),
            "nonip": "non-ip" in notes.lower() or cat.strip().startswith("-"),
            "notes": notes,
        })
    return caps


def in_any(addr, nets):
    return any(addr.version == n.version and addr in n for n in nets)


def classify_capture(cap, a):
    """(class, hit) of one alert in a pcaps-attacks replay. In a non-IP capture (ARP,
    DHCP) an alert on a listed party is neutral: the attack itself is out of an IP-flow
    sensor's sight, so such an alert is luck, not detection (its hit is still shown)."""
    cls, hit = classify_party(cap, a)
    if cap["nonip"] and cls == "true":
        return "neutral", hit
    return cls, hit


def classify_party(cap, a):
    if a["side"] == "prefix":
        net = ipaddress.ip_network(a["ip"], strict=False)
        parties = cap["attackers"] + (cap["victims"] if cap["victim_kind"] != "peer" else [])
        if any(p.version == net.version and (p.overlaps(net)) for p in parties):
            return "true", False
        if cap["reflectors"] or cap["all_sources"]:
            return "neutral", False
        return "false", False
    addr = ipaddress.ip_address(a["ip"])
    if special(addr):
        return "false", False
    if in_any(addr, cap["attackers"]):
        return "true", a["side"] in cap["attacker_sides"]
    if in_any(addr, cap["victims"]):
        if cap["victim_kind"] == "peer":
            return "neutral", False
        return "true", cap["victim_kind"] == "dos" and a["side"] == "destination"
    if cap["all_sources"] and a["side"] == "source":
        return "true", True
    if cap["reflectors"]:
        return "neutral", False
    return "false", False


# ---------------------------------------------------------------- reports

def short(name, n=44):
    base = re.sub(r"\.(pcapng|pcap)(\.gz)?$", "", name)
    return base if len(base) <= n else base[:n - 1] + "~"


def thirdparty(args, build, out, models, tally_all, summary):
    shared = args.shared
    att_dir = os.path.join(shared, "pcaps-attacks")
    pub_dir = os.path.join(shared, "pcaps-public")
    manifest = os.path.join(att_dir, "MANIFEST.md")
    if not os.path.isfile(manifest):
        print(f"== third-party: skipped ({manifest} is absent)")
        return
    caps = parse_manifest(manifest)
    pubs = sorted(f for f in os.listdir(pub_dir) if re.search(r"\.pcap(ng)?(\.gz)?$", f)) \
        if os.path.isdir(pub_dir) else []
    res = summary.setdefault("thirdparty", {})
    for mname, (src, model, info) in models.items():
        tally = Tally()
        print(f"\n== third-party: {att_dir}, model trained on {src} ({info})")
        print(f"{'capture':<45}{'expected':<19}{'flagged':<8}{'by':<13}{'category':<14}"
              f"{'alerts t/f/n':>13}  {'win/scored':<11}notes")
        groups = {"ip": [], "weak": [], "nonip": []}
        for cap in caps:
            path = os.path.join(att_dir, cap["file"])
            if not os.path.isfile(path):
                print(f"{short(cap['file']):<45}missing")
                continue
            name = f"{mname}.{cap['file']}"
            alerts, s = replay(build, path, model, out, re.sub(r"[^\w.-]", "_", name))
            cnt = defaultdict(int)
            hit_det, hit_cat, hit_side = set(), set(), set()
            for a in alerts:
                cls, hit = classify_capture(cap, a)
                cnt[cls] += 1
                tally.add(name, a, cls)
                if hit:
                    hit_det.add(a["detector"])
                    hit_cat.add(a["category"])
                    hit_side.add(a["side"][:3])
            g = "nonip" if cap["nonip"] else ("weak" if cap["weak"] else "ip")
            flagged = bool(hit_det)
            right = bool(hit_cat & cap["expected_set"])
            groups[g].append((cap["file"], flagged, right, cnt["false"]))
            notes = []
            if g != "ip":
                notes.append("non-IP" if g == "nonip" else "weak")
            if s["not_ip"]:
                notes.append(f"not_ip={s['not_ip']}")
            if s["jumps"] or s["back"]:
                notes.append(f"clock: {s['jumps']} jumps, {s['back']} back")
            if s["below_min"]:
                notes.append(f"{s['below_min']} below min-pkts")
            exp = cap["expected"].split("(")[0].strip() or "-"
            print(f"{short(cap['file']):<45}{exp[:18]:<19}{('yes' if flagged else 'no'):<8}"
                  f"{','.join(sorted(hit_det)) or '-':<13}{','.join(sorted(hit_cat)) or '-':<14}"
                  f"{cnt['true']:>5}/{cnt['false']}/{cnt['neutral']:<4}  "
                  f"{s['windows']}/{s['scored']:<8} {'; '.join(notes)}")
        ipf = sum(1 for _, f, _, _ in groups["ip"] if f)
        ipr = sum(1 for _, f, r, _ in groups["ip"] if f and r)
        wkf = sum(1 for _, f, _, _ in groups["weak"] if f)
        nonip_fp = sum(n for _, _, _, n in groups["nonip"])
        missed = [short(f, 30) for f, fl, _, _ in groups["ip"] if not fl]
        print(f"IP-level, not weak: {ipf}/{len(groups['ip'])} flagged ({ipr} with the expected category)"
              + (f"; missed: {', '.join(missed)}" if missed else ""))
        print(f"weak: {wkf}/{len(groups['weak'])} flagged; non-IP: {len(groups['nonip'])} captures, "
              f"{nonip_fp} false alerts on them (0.0.0.0/broadcast count as false)")
        pub_alerts = 0
        pub_caps = []
        for p in pubs:
            name = f"{mname}.public.{p}"
            alerts, _ = replay(build, os.path.join(pub_dir, p), model, out, re.sub(r"[^\w.-]", "_", name))
            for a in alerts:
                tally.add(name, a, "false")
            if alerts:
                pub_caps.append(f"{short(p, 20)} {len(alerts)}")
            pub_alerts += len(alerts)
        if pubs:
            print(f"pcaps-public ({len(pubs)} benign captures): {pub_alerts} alerts (all false) in "
                  f"{len(pub_caps)} captures" + (f": {', '.join(pub_caps)}" if pub_caps else ""))
        else:
            print(f"pcaps-public: skipped ({pub_dir} is absent)")
        tally_all.merge(tally)
        res[mname] = {
            "model": src,
            "ip_nonweak_flagged": ipf, "ip_nonweak_total": len(groups["ip"]),
            "ip_nonweak_right_category": ipr, "weak_flagged": wkf,
            "weak_total": len(groups["weak"]), "nonip_false_alerts": nonip_fp,
            "public_alerts": pub_alerts, "public_captures_alerting": len(pub_caps),
            "public_total": len(pubs),
        }


def lab_files(d):
    def pick(stem):
        for ext in (".pcap", ".pcap.gz", ".pcapng"):
            if os.path.isfile(os.path.join(d, stem + ext)):
                return os.path.join(d, stem + ext)
        return None
    labels = os.path.join(d, "attack.labels.csv")
    return pick("baseline"), pick("attack"), labels if os.path.isfile(labels) else None


def lab(args, build, out, lab_model, tally_all, summary, wlen=60):
    base, attack, labels = args.lab_baseline, args.lab_attack, args.lab_labels
    res = summary.setdefault("lab", {})
    if not base:
        print(f"\n== lab: skipped (no {args.lab}/baseline.pcap[.gz]: `make lab` makes it)")
        return
    model, info = lab_model
    # The baseline against its own model: any alert is a false positive.
    alerts, s = replay(build, base, model, out, "lab.self")
    t = Tally()
    for a in alerts:
        t.add("lab.self", a, "false")
    tally_all.merge(t)
    res["self_alerts"] = len(alerts)
    print(f"\n== lab: model trained on {base} ({info})")
    print(f"baseline replayed against its own model: {len(alerts)} alerts (must be 0)"
          + ("".join(f"\n  false: {a['detector']} {a['side']} {a['ip']} ({a['category']})" for a in alerts[:10])))
    if not attack or not labels:
        print(f"lab attack: skipped (no {args.lab}/attack.pcap[.gz] with attack.labels.csv)")
        return
    rows = list(csv.DictReader(open(labels)))
    lab_of = {}
    for r in rows:
        lab_of[r["ip"]] = (r["label"], r["attack_type"] or "benign",
                           float(r["first_ts"] or 0), float(r["last_ts"] or 0))
    flows = os.path.join(out, "lab.attack.flows.csv")
    alerts, s = replay(build, attack, model, out, "lab.attack", flow_log=flows)
    if alerts:
        wlen = int(alerts[0]["we"] - alerts[0]["ws"])

    def in_time(a, r):
        return a["we"] > r[2] and a["ws"] <= r[3] + SLACK_WINDOWS * wlen

    # From the flow log: which addresses the capture holds, and which (address, window)
    # received packets from an attacker while its attack ran (scan and brute-force
    # targets: labelled benign, so still false positives, but counted apart).
    seen, target = set(), set()
    for f in csv.DictReader(open(flows)):
        seen.add(f["src"])
        seen.add(f["dst"])
        r = lab_of.get(f["src"])
        if r and r[0] == "attack" and int(f["pkts_fwd"]):
            t0, t1 = max(float(f["first_ts"]), r[2]), min(float(f["last_ts"]), r[3])
            for w in range(int(t0) // wlen * wlen, int(t1) // wlen * wlen + wlen, wlen):
                target.add((f["dst"], w))

    def classify(a):
        if a["side"] == "prefix":
            net = ipaddress.ip_network(a["ip"], strict=False)
            for ip, r in lab_of.items():
                if r[0] in ("attack", "victim") and in_time(a, r):
                    addr = ipaddress.ip_address(ip)
                    if addr.version == net.version and addr in net:
                        return "true", False
            return "false", False
        addr = ipaddress.ip_address(a["ip"])
        if special(addr):
            return "false", False
        r = lab_of.get(a["ip"])
        if r is None:
            return "neutral", False  # unlisted: spoofed sources, never-labelled addresses
        if r[0] == "c2":
            return "neutral", False
        if r[0] in ("attack", "victim") and in_time(a, r):
            return "true", (a["side"] == "source") if r[0] == "attack" else (a["side"] == "destination")
        return "false", False

    t = Tally()
    cnt = defaultdict(int)
    hits = defaultdict(list)  # ip -> alerts that hit it
    benign_fp = defaultdict(set)
    as_target = defaultdict(int)  # false alerts on a target of an attack, by address
    for a in alerts:
        cls, hit = classify(a)
        cnt[cls] += 1
        t.add("lab.attack", a, cls)
        if hit:
            hits[a["ip"]].append(a)
        elif cls == "false":
            tgt = a["side"] == "destination" and (a["ip"], int(a["ws"])) in target
            as_target[a["ip"]] += tgt
            benign_fp[a["ip"]].add(f"{a['detector']}/{a['side'][:3]}" + (" (target)" if tgt else ""))
    tally_all.merge(t)
    kinds = defaultdict(list)
    absent = []  # attackers the capture never shows (the SYN flood's spoofing host)
    for ip, r in lab_of.items():
        if r[0] in ("attack", "victim"):
            if ip in seen:
                kinds[r[1]].append(ip)
            else:
                absent.append(f"{ip} ({r[1]})")
    print(f"attack capture {attack}: {len(alerts)} alerts ({cnt['true']} true, {cnt['false']} false, "
          f"{cnt['neutral']} neutral)")
    print(f"{'attack kind':<20}{'address':<26}{'role':<8}{'flagged':<9}{'by':<14}category")
    kinds_hit = 0
    for k in sorted(kinds):
        any_hit = False
        for ip in sorted(kinds[k], key=lambda x: (lab_of[x][0], x)):
            h = hits.get(ip, [])
            any_hit |= bool(h)
            dets = ",".join(sorted({a["detector"] for a in h})) or "-"
            cats = ",".join(sorted({a["category"] for a in h})) or "-"
            print(f"{k:<20}{ip:<26}{lab_of[ip][0]:<8}{('yes' if h else 'no'):<9}{dets:<14}{cats}")
        kinds_hit += any_hit
    benign = [ip for ip, r in lab_of.items() if r[0] == "benign"]
    fp_hosts = sorted(ip for ip in benign_fp if lab_of.get(ip, ("",))[0] == "benign")
    fp_only_target = [ip for ip in fp_hosts if as_target[ip] and all("(target)" in x for x in benign_fp[ip])]
    print(f"attack kinds flagged: {kinds_hit}/{len(kinds)}; attackers and victims flagged: "
          f"{sum(1 for k in kinds for ip in kinds[k] if ip in hits)}/{sum(len(v) for v in kinds.values())}"
          + (f" (not in the capture, left out: {', '.join(absent)})" if absent else ""))
    print(f"benign hosts flagged: {len(fp_hosts)}/{len(benign)}, {len(fp_only_target)} of them only on the "
          f"destination side while an attacker sent to them (scan or brute-force targets)")
    for ip in sorted(benign_fp):
        role = lab_of.get(ip, ("prefix" if "/" in ip else "unlisted",))[0]
        role = "attacker, outside its attack" if role in ("attack", "victim") else role
        print(f"  false: {ip} ({role}) {', '.join(sorted(benign_fp[ip]))}")
    res.update({"kinds_flagged": kinds_hit, "kinds_total": len(kinds),
                "parties_flagged": sum(1 for k in kinds for ip in kinds[k] if ip in hits),
                "parties_total": sum(len(v) for v in kinds.values()),
                "benign_flagged": len(fp_hosts), "benign_total": len(benign),
                "benign_flagged_only_target": len(fp_only_target),
                "false_alerts": cnt["false"], "true_alerts": cnt["true"]})


def detector_table(tally, summary):
    print("\n== precision per detector (lab + pcaps-attacks + pcaps-public, every model)")
    print(f"{'detector':<14}{'alerts true/false/neutral':>26}{'precision':>11}"
          f"{'addresses true/false':>22}{'precision':>11}")
    dets = DETECTORS + sorted(d for d in tally.alerts if d not in DETECTORS)
    out = {}
    for d in dets:
        c, s = tally.alerts.get(d, {}), tally.addrs.get(d, {})
        tr, fa, ne = c.get("true", 0), c.get("false", 0), c.get("neutral", 0)
        at, af = len(s.get("true", ())), len(s.get("false", ()))
        print(f"{d:<14}{tr:>14}/{fa}/{ne:<9}{pct(tr, tr + fa):>11}{at:>16}/{af:<5}{pct(at, at + af):>11}")
        out[d] = {"true": tr, "false": fa, "neutral": ne}
    summary["detectors"] = out


def synthetic_numbers(path):
    if not path or not os.path.isfile(path):
        return None
    text = open(path).read()
    m1 = re.search(r"all attack IPs\s+(\d+)/(\d+)\s+([\d.]+)%", text)
    m2 = re.search(r"false-positive rate: .* = ([\d.]+)%", text)
    m3 = re.search(r"precision ([\d.]+)%", text)
    m4 = re.search(r"ROC AUC[^:]*: ([\d.]+)", text)
    if not (m1 and m2 and m3):
        return None
    return (f"recall {m1.group(1)}/{m1.group(2)} ({m1.group(3)}%), FPR {m2.group(1)}%, "
            f"precision {m3.group(1)}%" + (f", AUC {m4.group(1)}" if m4 else ""))


def final_table(args, summary):
    print("\n== summary")
    syn = synthetic_numbers(args.synthetic)
    rows = []
    if syn:
        rows.append(("synthetic", "", syn))
    lab_r = summary.get("lab", {})
    if "kinds_total" in lab_r:
        rows.append(("lab attack", "lab", f"kinds {lab_r['kinds_flagged']}/{lab_r['kinds_total']}, "
                     f"attackers+victims {lab_r['parties_flagged']}/{lab_r['parties_total']}, "
                     f"benign hosts flagged {lab_r['benign_flagged']}/{lab_r['benign_total']} "
                     f"({lab_r['benign_flagged_only_target']} only as targets)"))
    if "self_alerts" in lab_r:
        rows.append(("lab baseline", "lab", f"{lab_r['self_alerts']} alerts against its own model"))
    elif args.parts and "lab" in args.parts:
        rows.append(("lab", "", "skipped: no lab captures"))
    for key, r in summary.get("thirdparty", {}).items():
        m = "lab baseline" if key == "lab" else os.path.basename(r["model"])
        rows.append(("pcaps-attacks", m, f"IP-level non-weak {r['ip_nonweak_flagged']}/{r['ip_nonweak_total']} "
                     f"flagged ({r['ip_nonweak_right_category']} right category), weak "
                     f"{r['weak_flagged']}/{r['weak_total']}, non-IP false {r['nonip_false_alerts']}"))
        rows.append(("pcaps-public", m, f"{r['public_alerts']} alerts in {r['public_captures_alerting']}"
                     f"/{r['public_total']} captures"))
    if "thirdparty" not in summary and args.parts and "thirdparty" in args.parts:
        rows.append(("third-party", "", "skipped: no ../shared/pcaps-attacks"))
    d = summary.get("detectors", {})
    prec = ", ".join(f"{k} {pct(v['true'], v['true'] + v['false'])} ({v['true']}/{v['true'] + v['false']})"
                     for k, v in d.items() if v["true"] + v["false"])
    if prec:
        rows.append(("precision", "all", prec))
    for part, model, text in rows:
        print(f"{part:<15}{model:<15}{text}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--baseline", default="pcaps/baseline.pcap")
    ap.add_argument("--lab", default=os.environ.get("LAB_DIR", "pcaps/lab"))
    ap.add_argument("--lab-baseline"), ap.add_argument("--lab-attack"), ap.add_argument("--lab-labels")
    ap.add_argument("--shared", default=os.environ.get("TAPIR_SHARED") or "../shared")
    ap.add_argument("--out")
    ap.add_argument("--synthetic", help="eval.py's output, for the summary")
    ap.add_argument("--json", help="write the summary numbers here")
    ap.add_argument("--parts", default="lab,thirdparty")
    ap.add_argument("--quick", action="store_true",
                    help="third-party: the model from --baseline only (the sanitizer build's subset)")
    args = ap.parse_args()
    args.parts = args.parts.replace(",", " ").split()
    out = args.out or os.path.join(args.build, "eval", "real")
    os.makedirs(out, exist_ok=True)
    b, a, lbl = lab_files(args.lab)
    args.lab_baseline = args.lab_baseline or b
    args.lab_attack = args.lab_attack or a
    args.lab_labels = args.lab_labels or lbl
    summary, tally = {}, Tally()
    models = {}
    if "thirdparty" in args.parts or "lab" in args.parts:
        if args.lab_baseline:
            lab_model = train(args.build, args.lab_baseline, out, "lab")
        if os.path.isfile(args.baseline):
            models["baseline"] = (args.baseline,) + train(args.build, args.baseline, out, "baseline")
        if args.lab_baseline and not args.quick:
            models["lab"] = (args.lab_baseline,) + lab_model
    if "lab" in args.parts:
        if args.lab_baseline:
            lab(args, args.build, out, lab_model, tally, summary)
        else:
            lab(args, args.build, out, None, tally, summary)
    if "thirdparty" in args.parts:
        if not models:
            print(f"\n== third-party: skipped (no baseline to train on: {args.baseline})")
        elif not os.path.isdir(os.path.join(args.shared, "pcaps-attacks")):
            print(f"\n== third-party: skipped ({args.shared}/pcaps-attacks is absent)")
        else:
            thirdparty(args, args.build, out, models, tally, summary)
    if tally.alerts or summary.get("lab") or summary.get("thirdparty"):
        detector_table(tally, summary)
    final_table(args, summary)
    if args.json:
        json.dump(summary, open(args.json, "w"), indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
