#!/bin/sh
# tapir run --geoip on the mixed capture, with a country and an ASN database this script
# writes (tools/mkmmdb.py) for some of the synthetic public servers and attackers:
# - SQLite hosts rows and alerts (and the alert log's geo object) carry the country, ASN
#   and AS organisation of mapped IPs, NULL for the rest; private hosts stay NULL even
#   though the database maps 10.0.0.0/8;
# - without --geoip every geo field is NULL and nothing else changes: a database that
#   knows none of the capture's addresses gives a byte-identical alert log and the same
#   alerts; one that does changes only the dst_countries/dst_asns features (which feed the
#   model, so anomaly scores may move), while traffic counts, hosts, flows and rule alerts
#   stay the same.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd sqlite3
py=/usr/bin/python3
[ -x "$py" ] || skip "$py is absent (tools/mkmmdb.py needs it)"
pcap="$TAPIR_TOP/pcaps/mixed.pcap"

mk() { # OUT, the JSON on stdin
  "$py" "$TAPIR_TOP/tools/mkmmdb.py" --build-epoch 1700000000 - "$1" || fail "mkmmdb.py $1"
}
mk "$tmp/country.mmdb" <<'EOF'
{"database_type": "Tapir-Test-Country", "networks": {
  "175.16.199.0/24": {"country": {"iso_code": "CN"}, "registered_country": {"iso_code": "CN"}},
  "89.160.20.112/28": {"country": {"iso_code": "SE"}},
  "216.160.83.56/29": {"country": {"iso_code": "US"}},
  "10.0.0.0/8": {"country": {"iso_code": "AU"}}
}}
EOF
mk "$tmp/asn.mmdb" <<'EOF'
{"database_type": "Tapir-Test-ASN", "networks": {
  "175.16.199.0/24": {"autonomous_system_number": 4837,
                      "autonomous_system_organization": "CHINA UNICOM China169 Backbone"},
  "89.160.20.112/28": {"autonomous_system_number": 3301,
                       "autonomous_system_organization": "Telia Company AB"},
  "10.0.0.0/8": {"autonomous_system_number": 64512, "autonomous_system_organization": "Private"}
}}
EOF
# Knows no address of the capture (the private range is never asked).
mk "$tmp/elsewhere.mmdb" <<'EOF'
{"networks": {"10.0.0.0/8": {"country_code": "AU"}, "192.0.0.0/24": {"country_code": "AU"},
              "5.6.7.0/24": {"country_code": "DE"}}}
EOF
# A denylisted server (it answers, so it is a source host every window it is active):
# denylist alerts on it whatever the model says, to have alerts on a mapped IP.
mkdir "$tmp/rules"
echo "89.160.20.113 # www.svt.se in the capture" >"$tmp/rules/denylist"

run() { # NAME [--geoip DB...]
  name=$1; shift
  "$TAPIR" run -r "$pcap" -q --no-progress --rules "$tmp/rules" --db "$tmp/$name.db" \
    --alert-log "$tmp/$name.json" --vectors-csv "$tmp/$name.vectors.csv" \
    --hosts-csv "$tmp/$name.hosts.csv" --flow-log "$tmp/$name.flows.csv" "$@" ||
    fail "tapir run ($name) exited $?"
}
run geo --geoip "$tmp/country.mmdb" --geoip "$tmp/asn.mmdb"
run plain
run elsewhere --geoip "$tmp/elsewhere.mmdb"
q() { sqlite3 -separator ' ' "$tmp/$1.db" "$2" || fail "sqlite3 $1: $2"; }

# ---------------------------------------------------------------- with the databases
# Every host row: mapped networks carry their answer, everything else NULL.
q geo "SELECT ip, coalesce(country, '-'), coalesce(asn, '-'), coalesce(as_org, '-') FROM hosts" |
  "$py" -c '
import ipaddress, sys
want = {
    "175.16.199.0/24": ("CN", "4837", "CHINA UNICOM China169 Backbone"),
    "89.160.20.112/28": ("SE", "3301", "Telia Company AB"),
    "216.160.83.56/29": ("US", "-", "-"),
}
seen, bad = {}, 0
for line in sys.stdin:
    ip, cc, asn, org = line.rstrip("\n").split(" ", 3)
    exp = ("-", "-", "-")
    for net, w in want.items():
        if ipaddress.ip_address(ip) in ipaddress.ip_network(net):
            exp = w
            seen[net] = seen.get(net, 0) + 1
    if (cc, asn, org) != exp:
        bad += 1
        print("host %s: %s, wanted %s" % (ip, (cc, asn, org), exp))
print("hosts with geolocation per network:", seen)
sys.exit(1 if bad or len(seen) != len(want) else 0)
' || fail "hosts rows do not carry the expected geolocation"
n=$(q geo "SELECT count(*) FROM hosts WHERE ip LIKE '10.%' AND (country IS NOT NULL OR asn IS NOT NULL)")
[ "$n" = 0 ] || fail "$n private hosts were geolocated"

# Alerts: the denylisted server's carry SE / AS3301; every alert's geo fields agree with
# the hosts table's answer for its IP (NULL for private IPs and prefixes).
n=$(q geo "SELECT count(*) FROM alerts WHERE ip = '89.160.20.113' AND country = 'SE'
           AND asn = 3301 AND as_org = 'Telia Company AB'")
[ "$n" -gt 0 ] || fail "no alert on the denylisted 89.160.20.113 carries SE / AS3301"
bad=$(q geo "SELECT a.ip, a.country, h.country FROM alerts a LEFT JOIN hosts h ON h.ip = a.ip
             WHERE coalesce(a.country, '') != coalesce(h.country, '')
                OR coalesce(a.asn, 0) != coalesce(h.asn, 0)
                OR (a.side = 'prefix' AND a.country IS NOT NULL)")
[ -z "$bad" ] || fail "alerts whose geolocation is not their IP's: $bad"
grep '"ip":"89.160.20.113"' "$tmp/geo.json" | head -n 1 |
  grep -qF '"geo":{"country":"SE","asn":3301,"as_org":"Telia Company AB"}' ||
  fail "alert log: the denylisted server's alert lacks its geo object"
echo "ok: $(q geo "SELECT count(*) FROM hosts WHERE country IS NOT NULL") hosts and" \
  "$(q geo "SELECT count(*) FROM alerts WHERE country IS NOT NULL") alerts geolocated"

# ---------------------------------------------------------------- without
for r in plain elsewhere; do
  n=$(q $r "SELECT (SELECT count(*) FROM hosts WHERE country IS NOT NULL OR asn IS NOT NULL
                    OR as_org IS NOT NULL) + (SELECT count(*) FROM alerts WHERE country IS NOT NULL
                    OR asn IS NOT NULL OR as_org IS NOT NULL)")
  [ "$n" = 0 ] || fail "$r run: $n rows with geolocation"
  grep -v '"geo":{"country":null,"asn":null,"as_org":null}' "$tmp/$r.json" | head -n 3 |
    grep . && fail "$r run: alert log lines with geolocation"
done
na=$(q plain "SELECT count(*) FROM alerts")
[ "$na" -gt 0 ] || fail "the mixed capture raised no alert"
[ "$(q elsewhere "SELECT count(*) FROM alerts")" = "$na" ] ||
  fail "a database knowing none of the capture's addresses changed the alert count"
# (the warm-up model's id is new every run)
for r in plain elsewhere; do sed 's/"model":{"id":"[0-9a-f]*"}//' "$tmp/$r.json" >"$tmp/$r.cmp"; done
cmp -s "$tmp/plain.cmp" "$tmp/elsewhere.cmp" ||
  fail "a database knowing none of the capture's addresses changed the alert log"
echo "ok: without geolocation: $na alerts, all geo fields NULL; same with a database that knows none of its IPs"

# With geolocation only the geo features may differ (and the dev_* ones, measured against
# baselines that learn from unflagged windows only): traffic per host and window, flows,
# host rows and rule (detector limit or denylist) alerts are the same as without.
for f in hosts.csv flows.csv; do
  sort "$tmp/plain.$f" >"$tmp/a" && sort "$tmp/geo.$f" >"$tmp/b"
  cmp -s "$tmp/a" "$tmp/b" || fail "$f differs with geolocation"
done
"$py" - "$tmp/plain.vectors.csv" "$tmp/geo.vectors.csv" <<'PY' || fail "behaviour vectors differ beyond dst_countries/dst_asns"
import csv, sys
def load(p):
    rows = list(csv.DictReader(open(p)))
    return {(r["window_start"], r["ip"]): r for r in rows}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), "different (window, ip) rows"
geo_cols = {"dst_countries", "dst_asns"}
moved = 0
for k in a:
    for c in a[k]:
        if c.startswith("dev_"):
            continue  # against the host's baseline, which learns only unflagged windows
        if c in geo_cols:
            moved += a[k][c] != b[k][c]
        elif a[k][c] != b[k][c]:
            sys.exit("%s %s: %s %s without, %s with geolocation" % (k + (c, a[k][c], b[k][c])))
assert all(float(r["dst_countries"]) == 0 and float(r["dst_asns"]) == 0 for r in a.values())
assert moved > 0, "no dst_countries/dst_asns value changed with geolocation"
print("ok: %d vectors equal but for %d dst_countries/dst_asns values" % (len(a), moved))
PY
cols="ip, first_seen_us, last_seen_us, windows_seen"
[ "$(q plain "SELECT $cols FROM hosts ORDER BY ip")" = "$(q geo "SELECT $cols FROM hosts ORDER BY ip")" ] ||
  fail "hosts rows (activity) differ with geolocation"
rules="SELECT ip, side, window_end_us FROM alerts WHERE detector IN ('limit', 'denylist') AND ip = '89.160.20.113' ORDER BY 3, 1"
[ "$(q plain "$rules")" = "$(q geo "$rules")" ] || fail "denylist alerts differ with geolocation"
pass "geolocation in hosts and alerts; without it NULL fields and nothing else changed" \
  "(alerts: $na without, $(q geo "SELECT count(*) FROM alerts") with: geo features feed the model)"
