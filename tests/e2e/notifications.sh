#!/bin/sh
# Notifications received by real receivers on loopback (docs/notifications.md): a replay
# of the mixed capture with --notify-replay sends every opened incident (today every
# alert: event_type "alert") to a python3 http.server webhook (the body's HMAC-SHA256
# checked with python's hmac against X-Tapir-Signature), to an aiosmtpd SMTP server
# that requires a login (one mail per incident to two recipients, then a digest past
# --notify-digest; the login from --smtp-credentials-file) and to
# a hook script that records its arguments and stdin. Without --notify-replay a replay
# sends nothing and says so. Receivers are stopped by PID.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
py=/usr/bin/python3
[ -x "$py" ] || skip "python3 is not installed"
"$py" -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd is not installed"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
recv="$TAPIR_TOP/tests/e2e/notify_recv.py"
wait_file() { for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }

"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
mkdir "$tmp/hook" "$tmp/web" "$tmp/mail" "$tmp/mail2"
"$py" "$recv" http "$tmp/web" "$tmp/web.port" & pids="$pids $!"
"$py" "$recv" smtp "$tmp/mail" "$tmp/mail.port" 'tapir:pa ss:word' & pids="$pids $!"
wait_file "$tmp/web.port"
wait_file "$tmp/mail.port"
wport=$(cat "$tmp/web.port") sport=$(cat "$tmp/mail.port")
printf 'e2e-webhook-secret\n' >"$tmp/secret"
chmod 600 "$tmp/secret"
printf 'tapir:pa ss:word\n' >"$tmp/cred"
chmod 600 "$tmp/cred"
cat >"$tmp/hook.sh" <<EOF
#!/bin/sh
n=\$(date +%s%N).\$\$
printf '%s\n' "\$@" >"$tmp/hook/\$n.args"
cat >"$tmp/hook/\$n.stdin"
EOF
chmod 755 "$tmp/hook.sh"

# Without --notify-replay: nothing is sent, and stderr says why.
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress -q \
  --notify-exec "$tmp/hook.sh" --alert-log "$tmp/none.json" 2>"$tmp/err0" || fail "run exited $?"
grep -q 'replay (-r) sends no notifications; add --notify-replay' "$tmp/err0" ||
  { cat "$tmp/err0"; fail "no message about --notify-replay"; }
[ -z "$(ls "$tmp/hook")" ] || fail "a replay without --notify-replay ran the hook"

start=$(date +%s)
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress \
  --alert-log "$tmp/alerts.json" --notify-replay \
  --notify-webhook "http://127.0.0.1:$wport/hook" --notify-webhook-secret-file "$tmp/secret" \
  --notify-email 'oncall@example.org, soc@example.org' --smtp-url "smtp://127.0.0.1:$sport" \
  --smtp-from tapir@example.org --smtp-credentials-file "$tmp/cred" --notify-digest 1000 \
  --notify-exec "$tmp/hook.sh" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "run exited $?"; }
secs=$(( $(date +%s) - start ))
n=$(grep -c '"event_type":"alert"' "$tmp/alerts.json")
[ "$n" -gt 10 ] || fail "only $n alerts"
for t in webhook email exec; do
  grep -q "notify: $t: $n sent, 0 failed, 0 dropped" "$tmp/err" ||
    { grep notify "$tmp/err"; fail "$t did not send $n"; }
done

"$py" - "$tmp" "$n" <<'PY' || fail "received notifications do not match the alert log"
import email, glob, hashlib, hmac, json, os, sys
tmp, n = sys.argv[1], int(sys.argv[2])
# Notifications go out when an incident opens: the alert log's "alert" events.
alerts = [a for a in map(json.loads, open(tmp + "/alerts.json")) if a["event_type"] == "alert"]
key = lambda a: (a["ip"], a["side"], a["category"], a["window_end"])
want = sorted(key(a) for a in alerts)
# Webhook: every body is an alert's JSON, signed with the secret.
bodies = sorted(glob.glob(tmp + "/web/*.json"))
assert len(bodies) == n, (len(bodies), n)
got = []
for b in bodies:
    raw = open(b, "rb").read()
    sig = open(b[:-5] + ".sig").read()
    mac = hmac.new(b"e2e-webhook-secret", raw, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + mac, (sig, mac)
    assert open(b[:-5] + ".event").read() == "alert"
    got.append(key(json.loads(raw)))
assert sorted(got) == want, "webhook bodies differ from the alert log"
# Email: one mail per incident, to both recipients, with the explanation.
mails = sorted(glob.glob(tmp + "/mail/*.eml"))
assert len(mails) == n, (len(mails), n)
for m in mails:
    msg = email.message_from_bytes(open(m, "rb").read())
    assert msg["X-Envelope-To"] == "oncall@example.org,soc@example.org", msg["X-Envelope-To"]
    assert msg["From"] == "tapir@example.org" and msg["Subject"].startswith("[tapir] ")
    body = msg.get_payload()
    for field in ("IP:", "Category:", "Detector:", "Direction:", "Why", "baseline", "Sensor:",
                  "Time:", '"event_type":"alert"'):
        assert field in body, (field, body)
# Hook: argv action, IP, side, category; the same alert's JSON on stdin.
args = sorted(glob.glob(tmp + "/hook/*.args"))
assert len(args) == n, (len(args), n)
got = []
for a in args:
    action, ip, side, category = open(a).read().split("\n")[:4]
    j = json.loads(open(a[:-5] + ".stdin").read())
    assert action == "alert" and (ip, side, category) == (j["ip"], j["side"], j["category"]), a
    got.append(key(j))
assert sorted(got) == want, "hook inputs differ from the alert log"
PY

# Ban and unban (the live blocklist's hook actions) carry the category of the alert that
# banned the IP and, in a replay, packet time (the capture's, not the wall clock's).
mkdir "$tmp/hook2"
sed "s#$tmp/hook/#$tmp/hook2/#" "$tmp/hook.sh" >"$tmp/hook2.sh"
chmod 755 "$tmp/hook2.sh"
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress -q \
  --notify-replay --notify-exec "$tmp/hook2.sh" --alert-log "$tmp/alerts2.json" \
  --blocklist "$tmp/bl.nft" --blocklist-ttl 5 >/dev/null 2>"$tmp/err3" ||
  { cat "$tmp/err3"; fail "blocklist run exited $?"; }
"$py" - "$tmp" <<'PY' || fail "ban/unban notifications: wrong category or time (above)"
import datetime, glob, json, sys
tmp = sys.argv[1]
ts = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
    tzinfo=datetime.timezone.utc).timestamp()
alerts = [a for a in map(json.loads, open(tmp + "/alerts2.json")) if a["side"] != "destination"]
cats = {}
for a in alerts:
    cats.setdefault(a["ip"], set()).add(a["category"])
lo = min(ts(a["window_start"]) for a in alerts)
hi = max(ts(a["timestamp"]) for a in alerts) + 5  # an expiry comes up to one TTL later
seen = {"ban": 0, "unban": 0}
for a in glob.glob(tmp + "/hook2/*.args"):
    action, ip, side, category = open(a).read().split("\n")[:4]
    if action not in seen:
        continue
    j = json.loads(open(a[:-5] + ".stdin").read())
    seen[action] += 1
    assert category != "anomaly" and category == j["category"], (a, category, j["category"])
    assert category in cats.get(j["ip"], ()), (j["ip"], category, cats.get(j["ip"]))
    assert j["event_type"] == action, j["event_type"]
    assert lo <= ts(j["timestamp"]) <= hi, ("not packet time", j["timestamp"], lo, hi)
assert seen["ban"] >= 1 and seen["unban"] >= 1, seen
print("ban/unban notifications:", seen)
PY

# The digest: past --notify-digest 3 a minute, one mail lists the rest.
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress -q \
  --notify-replay --notify-email oncall@example.org --smtp-url "smtp://127.0.0.1:$sport" \
  --smtp-from tapir@example.org --smtp-credentials-file "$tmp/cred" --notify-digest 3 >/dev/null 2>"$tmp/err2" ||
  { cat "$tmp/err2"; fail "digest run exited $?"; }
"$py" - "$tmp/mail" "$n" <<'PY' || fail "the digest does not add up"
import email, glob, re, sys
d, n = sys.argv[1], int(sys.argv[2])
mails = [email.message_from_bytes(open(m, "rb").read()) for m in glob.glob(d + "/*.eml")]
subj = [m["Subject"] for m in mails]
digests = [int(re.search(r"digest: (\d+) more", s).group(1)) for s in subj if "digest:" in s]
single = len(subj) - n - len(digests)  # mails of this run, not a digest
assert digests, subj[-5:]
assert single <= 3 * 2, single  # 3 a minute; the run may cross one minute's end
assert single + sum(digests) == n, (single, sum(digests), n)
PY
pass "$n incidents: $n signed webhook POSTs, $n mails (+ digest), $n hook runs, in ${secs}s"
