#!/bin/sh
# e2e: the dashboard in headless Chromium (issue 12 point 16), driven over the DevTools
# protocol (python3-websocket) against `tapir serve` on a replayed database, with a token:
# the page and Chart.js (/static/chart.js, from the binary) load; the chart draws
# (non-blank canvas pixels, and its bars add up to the alerts in range); bins are whole
# windows (alerts every 60 s never leave an empty bin); the top flagged hosts all have
# alerts; the host panel's max score is the stored one to 3 decimals (0.996 was shown as
# "1.0") with a score timeline; the category filter, the time range; acknowledging,
# suppressing and ending the suppression from the page reach the database; no console
# error or exception.
# Skips only where Chromium or the websocket module is missing or Chromium cannot start.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || skip "chromium is not installed (tools/setup.sh test installs it)"
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
  skip "python3-websocket is not installed (tools/setup.sh test installs it)"
sp="" cp=""
cleanup() {
  [ -n "$cp" ] && kill "$cp" 2>/dev/null
  [ -n "$sp" ] && kill "$sp" 2>/dev/null
  [ -n "$cp" ] && wait "$cp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress \
  2>/dev/null || fail "train failed"
"$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" -q --no-progress \
  --db "$tmp/t.db" || fail "replay failed"
printf 'e2e-token-0123456789abcdef\n' >"$tmp/token"
chmod 600 "$tmp/token"
"$TAPIR" serve --db "$tmp/t.db" --listen 127.0.0.1:0 --token-file "$tmp/token" \
  2>"$tmp/serve.err" &
sp=$!
port=""
for i in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://.*:\([0-9][0-9]*\)/.*|\1|p' "$tmp/serve.err")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "serve did not start: $(cat "$tmp/serve.err")"
mkdir -p "$tmp/profile"
# --no-sandbox: the test may run as root (CI containers), where the sandbox refuses.
"$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions \
  --disable-background-networking --disable-sync --window-size=1400,1000 \
  --user-data-dir="$tmp/profile" --remote-debugging-address=127.0.0.1 \
  --remote-debugging-port=0 about:blank >"$tmp/chromium.log" 2>&1 &
cp=$!
for i in $(seq 1 150); do
  [ -s "$tmp/profile/DevToolsActivePort" ] && break
  kill -0 "$cp" 2>/dev/null || break
  sleep 0.1
done
[ -s "$tmp/profile/DevToolsActivePort" ] ||
  skip "chromium did not start: $(tail -3 "$tmp/chromium.log" | tr '\n' ' ')"
devport=$(head -1 "$tmp/profile/DevToolsActivePort")
/usr/bin/python3 - "$port" "$devport" "$tmp/t.db" <<'PY' || fail "dashboard checks failed"
import json, sqlite3, sys, time, urllib.request
import websocket

port, devport, db = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = "e2e-token-0123456789abcdef"
BASE = "http://127.0.0.1:%s" % port

def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)

def api(path):
    r = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(r, timeout=10) as f:
        return json.loads(f.read())

targets = json.loads(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % devport,
                                            timeout=10).read())
page = [t for t in targets if t.get("type") == "page"][0]
ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=10,
                                 suppress_origin=True)
seq = [0]
errors, loaded = [], [False]

def on_event(m):
    meth, p = m.get("method"), m.get("params", {})
    if meth == "Runtime.exceptionThrown":
        d = p["exceptionDetails"]
        errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text")))
    elif meth == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
        errors.append("console.%s: %s" % (p["type"], " ".join(
            str(a.get("value", a.get("description", ""))) for a in p["args"])))
    elif meth == "Log.entryAdded" and p["entry"]["level"] == "error":
        e = p["entry"]
        # An older server without /api/incidents answers 404: the page tolerates it.
        if not (e.get("source") == "network" and "/api/incidents" in e.get("url", "")):
            errors.append("log: %s %s" % (e.get("text"), e.get("url", "")))
    elif meth == "Page.loadEventFired":
        loaded[0] = True

def cdp(method, **params):
    seq[0] += 1
    ws.send(json.dumps({"id": seq[0], "method": method, "params": params}))
    deadline = time.time() + 20
    while time.time() < deadline:
        m = json.loads(ws.recv())
        if m.get("id") == seq[0]:
            if "error" in m:
                fail("%s: %s" % (method, m["error"]))
            return m.get("result", {})
        on_event(m)
    fail("no answer to " + method)

def js(expr):
    r = cdp("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in r:
        fail("evaluating %s: %s" % (expr[:60], r["exceptionDetails"]))
    return r["result"].get("value")

def wait_for(expr, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if js(expr):
            return
        time.sleep(0.1)
    fail("timed out waiting for " + what)

for d in ("Runtime", "Log", "Page"):
    cdp(d + ".enable")
cdp("Page.addScriptToEvaluateOnNewDocument",
    source="localStorage.setItem('tapir.token', %s)" % json.dumps(TOKEN))
cdp("Page.navigate", url=BASE + "/")
wait_for("document.readyState === 'complete'", "the page to load")
wait_for("typeof Chart === 'function' && !!window.tapirDash && !!tapirDash.chart",
         "Chart.js and the chart")
wait_for("document.querySelectorAll('#alerts-table tbody tr td.actions').length > 0",
         "the alerts table")
if js("document.getElementById('token-dialog').open"):
    fail("the token dialog is open: the saved token was refused")

# The chart: drawn pixels, and the bars add up to the alerts of the range.
painted = js("""(() => { const c = document.getElementById('chart');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()""")
if not painted or painted < 2000:
    fail("the chart canvas is (nearly) blank: %s painted pixels" % painted)
bars = js("tapirDash.chart.data.datasets.reduce((s, d) => s + d.data.reduce((a, b) => a + b, 0), 0)")
since = js("(() => { const n = Number(document.getElementById('range').value); return n; })()")
newest = api("/api/alerts?limit=1")["alerts"][0]["timestamp"]
total_range = api("/api/alerts?limit=1&since=%d" % (
    int(time.mktime(time.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) - since))["total"]
if bars != min(total_range, 1000):
    fail("the chart counts %s alerts, the range holds %s" % (bars, total_range))
b = js("({w: tapirDash.bins.width, win: tapirDash.bins.window})")
if b["w"] % b["win"]:
    fail("bins of %s ms are not whole windows of %s ms" % (b["w"], b["win"]))
# 60-second windows with an alert in each, over 2 hours: every bin holds some.
zero = js("""(() => { const a = []; const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 120; i++) a.push({ window_start: new Date(t0 + i * 60000).toISOString(),
    window_end: new Date(t0 + (i + 1) * 60000).toISOString(),
    timestamp: new Date(t0 + (i + 1) * 60000).toISOString(), category: 'portscan' });
  const b = tapirDash.binAlerts(a, 60); const c = b.counts.get('portscan');
  return { n: c.length, empty: c.filter((x) => x === 0).length, width: b.width }; })()""")
if zero["empty"] or zero["n"] > 60 or zero["width"] % 60000:
    fail("binning 120 one-minute windows: %s" % zero)

# Top flagged hosts: every one has alerts.
counts = js("[...document.querySelectorAll('#hosts-table tbody tr')].map((r) => r.cells.length > 2 ? Number(r.cells[2].textContent) : -1)")
if not counts or min(counts) <= 0:
    fail("top flagged hosts lists a host without alerts: %s" % counts)

# The host panel: max score to 3 decimals as stored, and a score timeline.
host = js("document.querySelector('#hosts-table tbody tr td button.link').textContent")
js("document.querySelector('#hosts-table tbody tr td button.link').click()")
wait_for("!document.getElementById('drawer').hidden && !!tapirDash.hostChart", "the host panel")
shown = js("""(() => { const kv = [...document.querySelectorAll('#d-body .kv div')];
  const i = kv.findIndex((d) => d.textContent === 'Max score'); return kv[i + 1].textContent; })()""")
want = "%.3f" % api("/api/hosts/" + host)["max_score"]
if shown != want:
    fail("host %s: the panel shows max score %s, stored %s" % (host, shown, want))
pts = js("tapirDash.hostChart.data.datasets[0].data.length")
if not pts:
    fail("the host's score timeline is empty")
js("document.getElementById('d-close').click()")

# The category filter.
cat = api("/api/alerts?limit=1&status=new")["alerts"][0]["category"]
js("document.getElementById('f-category').value = %s; document.getElementById('filters').requestSubmit()" % json.dumps(cat))
wait_for("[...document.querySelectorAll('#alerts-table tbody tr')].every((r) => r.cells.length > 4 && r.cells[4].textContent === %s)" % json.dumps(cat),
         "the category filter")
js("document.getElementById('f-clear').click()")
wait_for("document.getElementById('f-category').value === ''", "the cleared filters")
time.sleep(0.5)

# Acknowledge from the page.
aid = js("""(() => { const b = [...document.querySelectorAll('#alerts-table tbody tr')]
  .find((r) => [...r.querySelectorAll('button')].some((x) => x.textContent === 'Ack'));
  const id = Number(b.cells[1].textContent);
  [...b.querySelectorAll('button')].find((x) => x.textContent === 'Ack').click(); return id; })()""")
deadline = time.time() + 10
while api("/api/alerts/%d" % aid)["status"] != "acked":
    if time.time() > deadline:
        fail("alert %d not acknowledged from the page" % aid)
    time.sleep(0.1)

# Suppress from the page: the dialog, a reason, the API, the database.
time.sleep(0.5)
sid = js("""(() => { const r = [...document.querySelectorAll('#alerts-table tbody tr')]
  .find((r) => [...r.querySelectorAll('button')].some((x) => x.textContent === 'Suppress'));
  const id = Number(r.cells[1].textContent);
  [...r.querySelectorAll('button')].find((x) => x.textContent === 'Suppress').click(); return id; })()""")
wait_for("document.getElementById('supp-dialog').open", "the suppress dialog")
js("document.getElementById('supp-reason').value = 'browser e2e'; document.getElementById('supp-for').value = '1h'; document.getElementById('supp-form').requestSubmit()")
deadline = time.time() + 10
while api("/api/alerts/%d" % sid)["status"] != "suppressed":
    if time.time() > deadline:
        fail("alert %d not suppressed from the page" % sid)
    time.sleep(0.1)
s = api("/api/suppressions")["suppressions"]
if not s or s[0]["reason"] != "browser e2e" or not s[0]["expires"]:
    fail("suppression not stored as asked: %s" % s)
wait_for("document.querySelectorAll('#supp-table tbody tr td.mono').length > 0",
         "the suppressions panel")
# ... and end it from the panel (the confirm() answered yes).
cdp("Runtime.evaluate", expression="window.confirm = () => true")
js("[...document.querySelectorAll('#supp-table tbody button')].find((b) => b.textContent === 'End').click()")
deadline = time.time() + 10
while api("/api/suppressions")["suppressions"]:
    if time.time() > deadline:
        fail("the suppression was not ended from the page")
    time.sleep(0.1)

# The time range: the shortest one still draws, and counts what the API counts.
js("document.getElementById('range').value = '3600'; document.getElementById('range').dispatchEvent(new Event('change'))")
time.sleep(1.0)
wait_for("!!tapirDash.bins", "the chart after a range change")
bars = js("tapirDash.chart.data.datasets.reduce((s, d) => s + d.data.reduce((a, b) => a + b, 0), 0)")
newest_s = int(time.mktime(time.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone)
want = api("/api/alerts?limit=1&since=%d" % (newest_s - 3600))["total"]
if bars != want:
    fail("range 1 h: the chart counts %s, the API %s" % (bars, want))

time.sleep(0.3)
while True:  # drain events that arrived meanwhile
    ws.settimeout(0.2)
    try:
        on_event(json.loads(ws.recv()))
    except Exception:
        break
if errors:
    fail("console errors: %s" % errors[:5])
print("ok: %d painted pixels, %d alerts charted in the last hour, ack %d and suppress %d "
      "from the page" % (painted, bars, aid, sid))
PY
pass "dashboard in headless Chromium: loads, draws, filters, acknowledges, suppresses, no console error"
