#!/bin/sh
# The live blocklist on a replay of pcaps/mixed.pcap (attacks with labels): the file lists
# attackers only. Every listed address is labelled an attacker in mixed.labels.csv, no
# listed network holds an address alerted on as a victim (destination side), home-net
# attackers go to the quarantine sets only when asked, the three formats load with
# `nft -c`, the TTL is by packet time (timeouts are the same on every run), and the
# database's `tapir blocklist` says it used the end of the stored data.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
lab="$TAPIR_TOP/pcaps/mixed.labels.csv"
# --home-net outside the capture's addresses, so the internal attackers count as attackers.
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" -q --no-progress --home-net 192.0.2.0/24 \
  --blocklist "$tmp/bl.plain" --blocklist-format plain --alert-log "$tmp/alerts.json" \
  --db "$tmp/t.db" 2>"$tmp/err" || { cat "$tmp/err"; fail "replay failed"; }
[ -s "$tmp/bl.plain" ] || fail "empty blocklist"
python3 - "$tmp/bl.plain" "$lab" "$tmp/alerts.json" <<'PY' || fail "a victim or a benign host is listed"
import csv, ipaddress, json, sys
listed = [ipaddress.ip_network(l.strip()) for l in open(sys.argv[1]) if l.strip()]
labels = {r["ip"]: r["label"] for r in csv.DictReader(open(sys.argv[2]))}
victims = {json.loads(l)["ip"] for l in open(sys.argv[3]) if json.loads(l)["side"] == "destination"}
assert victims, "no destination-side alert in the replay: the test proves nothing"
bad = 0
for n in listed:
    if n.num_addresses == 1 and labels.get(str(n.network_address)) != "attack":
        print("listed but not an attacker:", n); bad += 1
    for v in victims:
        if ipaddress.ip_address(v.split("/")[0]) in n:
            print("victim", v, "inside", n); bad += 1
print(len(listed), "listed,", len(victims), "victims never listed")
sys.exit(1 if bad else 0)
PY
grep -q "^10.0.1.0/24$" "$tmp/bl.plain" || fail "the internal scanners' /24 is not listed"

# Default home net: the internal attackers are home-net, out of the list; in quarantine sets
# with --blocklist-quarantine; the same file twice (TTL by packet time).
for i in 1 2; do
  "$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" -q --no-progress --blocklist "$tmp/bl$i.nft" \
    --blocklist-quarantine --blocklist-chain 2>"$tmp/err$i" || fail "replay $i failed"
  sed 1,2d "$tmp/bl$i.nft" > "$tmp/body$i"   # the header says when it was written
done
cmp -s "$tmp/body1" "$tmp/body2" || { diff "$tmp/body1" "$tmp/body2"; fail "two replays differ"; }
grep -q "add element inet tapir quarantine4 { 10.0.1.0/24 timeout" "$tmp/bl1.nft" ||
  fail "home-net attackers not in quarantine4"
grep "add element inet tapir blocklist4" "$tmp/bl1.nft" | grep -q "10\.0\." &&
  fail "a home-net address in the blocklist set"
grep -q "add element inet tapir blocklist4 { 1.145.77.9 timeout 2700s, 27.200.13.5 timeout 3060s, 202.196.231.44 timeout 3120s }" \
  "$tmp/bl1.nft" || { cat "$tmp/bl1.nft"; fail "unexpected blocklist4 (TTL by packet time)"; }
if command -v nft >/dev/null 2>&1; then
  nft -c -f "$tmp/bl1.nft" || fail "nft -c refused the file"
fi
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" -q --no-progress --blocklist "$tmp/bl.ipset" \
  --blocklist-format ipset 2>/dev/null || fail "ipset replay failed"
grep -q "^add tapir4 1.145.77.9 timeout 2700 -exist$" "$tmp/bl.ipset" || fail "ipset entry"
perm=$(stat -c %a "$tmp/bl.ipset")
[ "$perm" = 640 ] || fail "mode $perm, expected 640"

# -r refuses --blocklist-apply.
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" -q --blocklist "$tmp/x.nft" --blocklist-apply \
  2>"$tmp/err_apply" && fail "--blocklist-apply accepted with -r"
grep -q "refused with -r" "$tmp/err_apply" || { cat "$tmp/err_apply"; fail "no reason given"; }

# tapir blocklist list reads the state; the database list uses the end of the stored data.
"$TAPIR" blocklist list --file "$tmp/bl1.nft" >"$tmp/list" 2>"$tmp/list_err" || fail "list failed"
grep -q "^1.145.77.9 .* ban " "$tmp/list" || { cat "$tmp/list"; fail "list misses a ban"; }
grep -q "packet times" "$tmp/list_err" || fail "list does not say it uses packet time"
"$TAPIR" blocklist --db "$tmp/t.db" --format plain >"$tmp/dbl" 2>"$tmp/dbl_err" || fail "db list"
grep -q "end of the stored data" "$tmp/dbl_err" || { cat "$tmp/dbl_err"; fail "no time said"; }
grep -q "^1.145.77.9/32$" "$tmp/dbl" || fail "the database list is empty after a replay"
grep -q "^10.0.0.80/32$" "$tmp/dbl" && fail "the database list holds the SYN flood's victim"
pass "blocklist after a replay: $(wc -l <"$tmp/bl.plain") attackers, no victim; quarantine, nft -c, ipset, list, db time"
