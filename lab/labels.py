#!/usr/bin/python3
"""Writes a lab capture's labels CSV (ip,label,attack_type,first_ts,last_ts) to stdout.

Usage: labels.py --hosts hosts.csv --seen seen.csv --events events.csv --victims victims.csv
                 --t0 EPOCH --t1 EPOCH

hosts.csv   name,ipv4,ipv6,role[,link-local]   (from lab/run.sh; "-" when absent)
seen.csv    ip,first_ts,last_ts,pkts_sent,pkts_recv   (from trim.py: who is in the capture)
events.csv  ip,label,attack_type,start,end     (one line per attack tool run, real times)
victims.csv ip,victim,attack_type,attacker:IP  (flood victims; times = the attacker's)

Rules (lab/README.md, "Labels"):
- attack: the address that ran an attack tool; first_ts/last_ts = when the tool started
  and ended. One attack type per attacker address.
- victim: the destination of a flood; times of the flood.
- c2: an attacker-controlled server (beacon C2, drop site, tunnel server) that only
  answers; times = first/last packet seen. Only in a capture with attacks.
- benign: every other lab host address that is in the capture, IPv4, IPv6 and
  link-local alike; times = first/last packet seen.
Addresses not listed: spoofed flood sources, attacker hosts' link-local addresses (ND
only), the home LAN behind the NAT gateway (never on the captured bridge: it shows as
the gateway's address), lab hosts that sent and received nothing in that capture.
"""
import argparse
import csv
import sys

C2_TYPE = {"c2http": "beacon", "c2tls1": "beacon", "c2tls2": "beacon", "drop": "exfil", "tundns": "tunnel"}


def main():
    ap = argparse.ArgumentParser()
    for a in ("hosts", "seen", "events", "victims"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--t1", type=float, required=True)
    a = ap.parse_args()
    seen = {r["ip"]: r for r in csv.DictReader(open(a.seen))}
    rows = {}
    for ip, label, typ, s, e in csv.reader(open(a.events)):
        s, e = float(s), float(e)
        if ip in rows:
            o = rows[ip]
            if o[1] != typ:
                print("labels: %s has two attack types %s and %s" % (ip, o[1], typ), file=sys.stderr)
            rows[ip] = (label, o[1], min(o[2], s), max(o[3], e))
        else:
            rows[ip] = (label, typ, s, e)
    attacked = bool(rows)
    for r in csv.reader(open(a.victims)):
        if not r:
            continue
        ip, _, typ, att = r
        att = att.split(":", 1)[1]
        if att in rows:
            rows[ip] = ("victim", typ, rows[att][2], rows[att][3])
    for name, ip4, ip6, role, *rest in csv.reader(open(a.hosts)):
        ll = rest[0] if rest else "-"
        addrs = [x for x in (ip4, ip6, ll) if x != "-"]
        if role == "attacker":
            for x in (ip4, ip6):
                if x != "-" and x not in rows and attacked:
                    print("labels: attacker %s (%s) ran nothing" % (name, x), file=sys.stderr)
            continue
        if role == "home":
            continue
        if any(x in rows and rows[x][0] == "attack" for x in (ip4, ip6)):
            continue   # a compromised host: its link-local address is not listed
        for x in addrs:
            if x in rows or x not in seen:
                continue
            t0, t1 = float(seen[x]["first_ts"]), float(seen[x]["last_ts"])
            if role == "c2":
                if attacked:
                    rows[x] = ("c2", C2_TYPE.get(name, ""), t0, t1)
                continue
            rows[x] = ("benign", "", t0, t1)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["ip", "label", "attack_type", "first_ts", "last_ts"])
    order = {"attack": 0, "victim": 1, "c2": 2, "benign": 3}
    for ip, (label, typ, s, e) in sorted(rows.items(), key=lambda kv: (order[kv[1][0]], kv[1][1], kv[0])):
        w.writerow([ip, label, typ, "%.6f" % s, "%.6f" % e])


if __name__ == "__main__":
    main()
