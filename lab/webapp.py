#!/usr/bin/python3
"""The lab's web server: one small app, several roles (runs inside a lab namespace only).

  GET  /, /page/N, /news/N     HTML pages of varied size (seeded by the path)
  GET  /static/FILE?kb=N       N KiB of filler (images, packages)
  GET  /health                 monitoring probe, tiny JSON
  GET  /check?host=..&v=..     update check, tiny JSON
  GET  /admin                  password-protected page (HTTP basic auth, admin:Sup3r-S3cret!)
  GET  /app?id=N               runs an SQL query on a small sqlite3 table; the id is pasted
                               into the query text on purpose (sqlmap's target)
  PUT/POST /upload/NAME        reads and discards the body (backups, uploads, exfiltration)
  anything else                404, or with --c2 a small JSON "task" answer for beacons

Usage: webapp.py --bind ADDR [--http PORT] [--https PORT --cert C --key K] [--c2] [--name N]
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import sqlite3
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ARGS = None
DB_LOCK = threading.Lock()
DB = None
AUTH = "Basic " + base64.b64encode(b"admin:Sup3r-S3cret!").decode()
WORDS = ("tapir lab network traffic server client packet window flow anomaly forest "
         "river bridge garden office report budget meeting project update release").split()


def filler(seed, n):
    h = hashlib.sha256(seed.encode()).digest()
    out = []
    i = 0
    size = 0
    while size < n:
        w = WORDS[(h[i % 32] + i) % len(WORDS)]
        out.append(w)
        size += len(w) + 1
        i += 1
    return " ".join(out)[:n]


def init_db(path):
    global DB
    DB = sqlite3.connect(path, check_same_thread=False)
    DB.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    if DB.execute("SELECT count(*) FROM items").fetchone()[0] == 0:
        DB.executemany("INSERT INTO items VALUES (?,?,?)",
                       [(i, "item-%d %s" % (i, WORDS[i % len(WORDS)]), i * 1.5) for i in range(1, 60)])
        DB.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, pw TEXT)")
        DB.executemany("INSERT INTO users VALUES (?,?,?)",
                       [(1, "admin", "x1"), (2, "alice", "x2"), (3, "bob", "x3")])
        DB.commit()


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx/1.22.1"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *a):
        pass

    def send(self, code, body, ctype="text/html; charset=utf-8", extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def page(self, title, n):
        return ("<!doctype html><html><head><title>%s</title></head><body><h1>%s</h1><p>%s</p>"
                "</body></html>" % (title, title, filler(self.path, n)))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        p = u.path
        if p == "/health":
            return self.send(200, json.dumps({"status": "ok", "name": ARGS.name}), "application/json")
        if p == "/check":
            return self.send(200, json.dumps({"latest": "12.4.1", "update": False}), "application/json")
        if p == "/admin":
            if self.headers.get("Authorization") != AUTH:
                return self.send(401, "<h1>401 Unauthorized</h1>",
                                 extra={"WWW-Authenticate": 'Basic realm="lab admin"'})
            return self.send(200, self.page("admin console", 3000))
        if p == "/app":
            ident = q.get("id", ["1"])[0]
            sql = "SELECT id, name, price FROM items WHERE id = %s" % ident
            try:
                with DB_LOCK:
                    rows = DB.execute(sql).fetchall()
                body = "<table>" + "".join("<tr><td>%s</td><td>%s</td><td>%s</td></tr>" % r for r in rows) + "</table>"
                return self.send(200, "<html><body><h1>items</h1>%s</body></html>" % body)
            except Exception as e:  # the error text leaks, as in a careless app
                return self.send(500, "<html><body>database error: %s</body></html>" % e)
        if p.startswith("/static/"):
            kb = int(q.get("kb", ["40"])[0])
            kb = max(1, min(kb, 8192))
            return self.send(200, filler(p, 1024) .encode() * kb, "application/octet-stream")
        if p == "/" or p.startswith("/page/") or p.startswith("/news/") or p.startswith("/doc/"):
            n = 2000 + (int(hashlib.md5(p.encode()).hexdigest()[:4], 16) % 30000)
            return self.send(200, self.page(ARGS.name + " " + p, n))
        if ARGS.c2:
            return self.send(200, json.dumps({"task": "sleep", "id": os.urandom(4).hex()}), "application/json")
        return self.send(404, "<h1>404 Not Found</h1>")

    def read_body(self):
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    b = self.rfile.read(min(left, 65536))
                    if not b:
                        return n
                    left -= len(b)
                    n += len(b)
                self.rfile.readline()
            return n
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            b = self.rfile.read(min(left, 65536))
            if not b:
                break
            left -= len(b)
            n += len(b)
        return n

    def do_PUT(self):
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        n = self.read_body()
        if ARGS.c2 or self.path.startswith("/upload"):
            return self.send(201, json.dumps({"stored": n}), "application/json")
        return self.send(404, "<h1>404 Not Found</h1>")

    do_POST = do_PUT


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    tls = None

    def __init__(self, addr, handler, tls=None):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.tls = tls
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so a scanner that stalls it
        # does not block the accept loop.
        if self.tls is not None:
            request.settimeout(20)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", action="append", required=True)
    ap.add_argument("--http", type=int, action="append", default=[])
    ap.add_argument("--https", type=int, action="append", default=[])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--c2", action="store_true")
    ap.add_argument("--name", default="www")
    ap.add_argument("--db", default=":memory:")
    ARGS = ap.parse_args()
    init_db(ARGS.db)
    servers = []
    for addr in ARGS.bind:
        for port in ARGS.http:
            servers.append(Server((addr, port), Handler))
        for port in ARGS.https:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ARGS.cert, ARGS.key)
            servers.append(Server((addr, port), Handler, ctx))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    sys.exit(main())
