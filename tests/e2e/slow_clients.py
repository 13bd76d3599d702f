#!/usr/bin/python3
"""Slow HTTP clients against a Tapir server on loopback, bounded in count and time
(tests/e2e/http_slow.sh, tests/e2e/run_http_slow.sh, bench/http_slow.sh).

N clients each open a connection and send a request's headers one byte every INTERVAL
seconds, never finishing them; a client the server closes waits INTERVAL and connects
again. Meanwhile a probe asks GET /health every PROBE seconds. At the end it prints one
line of numbers and checks the limits given:

  --max-health S    every probe answered 200 within S seconds
  --max-cpu F       the server used at most F of one core (from /proc/PID/stat)
  --max-log N       the server's log grew by at most N lines
  --deadline D      every connection the server closed lived at most D + 2 s, and
                    none outlived the run; with --deadline-exact (few clients, so no
                    eviction) none was closed before D - 1 s either
Exit 0 when every check holds, 1 otherwise.
"""
import argparse, os, select, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--clients", type=int, default=120)
ap.add_argument("--seconds", type=float, default=12)
ap.add_argument("--interval", type=float, default=2.0)
ap.add_argument("--probe", type=float, default=1.0)
ap.add_argument("--pid", type=int)
ap.add_argument("--log")
ap.add_argument("--max-health", type=float)
ap.add_argument("--max-cpu", type=float)
ap.add_argument("--max-log", type=int)
ap.add_argument("--deadline", type=float)
ap.add_argument("--deadline-exact", action="store_true")
ap.add_argument("--host", default="127.0.0.1")
a = ap.parse_args()
assert a.host.startswith("127.") or a.host == "::1", "loopback only"
assert a.clients <= 2000 and a.seconds <= 120

HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def log_lines():
    if not a.log:
        return 0
    with open(a.log, "rb") as f:
        return sum(1 for _ in f)


class Slow:
    def __init__(self, now):
        self.sock = None
        self.retry_at = now
        self.opened = 0.0
        self.sent = 0
        self.next_send = 0.0

    def connect(self, now):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((a.host, a.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            self.retry_at = now + a.interval
            return False
        self.sock, self.opened, self.sent, self.next_send = s, now, 0, now
        return True


def probe():
    t0 = time.monotonic()
    try:
        s = socket.create_connection((a.host, a.port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.monotonic() - t0


start = time.monotonic()
ticks0 = cpu_ticks(a.pid) if a.pid else 0
log0 = log_lines()
clients = [Slow(start) for _ in range(a.clients)]
connects = closed_by_server = 0
lifetimes = []
probes = []
next_probe = start + a.probe
while True:
    now = time.monotonic()
    if now - start >= a.seconds:
        break
    for c in clients:
        if c.sock is None and now >= c.retry_at and c.connect(now):
            connects += 1
    socks = {c.sock: c for c in clients if c.sock is not None}
    r = []
    if socks:
        r, _, _ = select.select(list(socks), [], [], 0.05)
    else:
        time.sleep(0.05)
    now = time.monotonic()
    for s in r:
        c = socks[s]
        try:
            gone = s.recv(4096) == b""
        except OSError:
            gone = True
        if gone:
            closed_by_server += 1
            lifetimes.append(now - c.opened)
            s.close()
            c.sock, c.retry_at = None, now + a.interval
    for c in clients:
        if c.sock is not None and now >= c.next_send and c.sent < len(HEAD):
            try:
                c.sock.send(HEAD[c.sent:c.sent + 1])
                c.sent += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                closed_by_server += 1
                lifetimes.append(now - c.opened)
                c.sock.close()
                c.sock, c.retry_at = None, now + a.interval
                continue
            c.next_send = now + a.interval
    if now >= next_probe:
        probes.append(probe())
        next_probe = time.monotonic() + a.probe

end = time.monotonic()
elapsed = end - start
oldest_open = max((end - c.opened for c in clients if c.sock is not None), default=0.0)
for c in clients:
    if c.sock is not None:
        c.sock.close()
cpu = (cpu_ticks(a.pid) - ticks0) / os.sysconf("SC_CLK_TCK") / elapsed if a.pid else 0.0
log_growth = log_lines() - log0
worst = max((t for _, t in probes), default=0.0)
failed = sum(1 for ok, _ in probes if not ok)
print("slow clients: %d clients for %.1f s: %d connections, %d closed by the server "
      "(longest lived %.1f s, oldest still open %.1f s); /health %d probes, %d failed, "
      "slowest %.3f s; server CPU %.1f%% of a core; log +%d lines"
      % (a.clients, elapsed, connects, closed_by_server, max(lifetimes, default=0.0),
         oldest_open, len(probes), failed, worst, 100 * cpu, log_growth))
bad = []
if a.max_health is not None and (failed or worst > a.max_health or not probes):
    bad.append("/health: %d of %d probes failed, slowest %.3f s (limit %.1f s)"
               % (failed, len(probes), worst, a.max_health))
if a.max_cpu is not None and cpu > a.max_cpu:
    bad.append("server CPU %.1f%% over %.1f%%" % (100 * cpu, 100 * a.max_cpu))
if a.max_log is not None and log_growth > a.max_log:
    bad.append("log grew by %d lines (limit %d)" % (log_growth, a.max_log))
if a.deadline is not None:
    if not lifetimes:
        bad.append("the server closed no slow connection")
    elif max(lifetimes) > a.deadline + 2:
        bad.append("a slow connection lived %.1f s (deadline %.0f s)" % (max(lifetimes), a.deadline))
    elif a.deadline_exact and min(lifetimes) < a.deadline - 1:
        bad.append("a slow connection was closed after %.1f s, before the deadline (%.0f s)"
                   % (min(lifetimes), a.deadline))
    if oldest_open > a.deadline + 2:
        bad.append("a slow connection is still open after %.1f s" % oldest_open)
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
