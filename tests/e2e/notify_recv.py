#!/usr/bin/python3
"""Real receivers for the notification tests (tests/e2e/notify_*.sh), loopback only.

  notify_recv.py http DIR PORTFILE [DELAY_S]  webhook sink: each POST -> DIR/N.json (body)
                                              and DIR/N.sig (X-Tapir-Signature), answers 200
                                              after DELAY_S (a slow receiver)
  notify_recv.py smtp DIR PORTFILE [USER:PW]  aiosmtpd server: each mail -> DIR/N.eml; with
                                              USER:PW a login is required (AUTH PLAIN/LOGIN,
                                              allowed without TLS on loopback)
  notify_recv.py smtp-tls DIR PORTFILE CERT KEY  aiosmtpd server that requires STARTTLS
                                              (530 to a mail in clear) with CERT/KEY (PEM):
                                              each mail -> DIR/N.eml and DIR/N.tls (the
                                              session's TLS version and cipher, "" in clear)
  notify_recv.py syslog SOCKET OUTFILE        unix datagram listener: each message a line

Each writes its port (or "ready") to PORTFILE / OUTFILE.ready once listening, and runs
until killed (the test stops it by PID).
"""
import http.server
import os
import socket
import sys
import threading
import time


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def serve_http(out, portfile, delay):
    lock = threading.Lock()
    count = [0]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if delay:
                time.sleep(delay)
            with lock:
                count[0] += 1
                k = count[0]
            write_atomic(os.path.join(out, "%d.sig" % k),
                         (self.headers.get("X-Tapir-Signature") or "").encode())
            write_atomic(os.path.join(out, "%d.event" % k),
                         (self.headers.get("X-Tapir-Event") or "").encode())
            write_atomic(os.path.join(out, "%d.json" % k), body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    write_atomic(portfile, str(srv.server_address[1]).encode())
    srv.serve_forever()


def serve_smtp(out, portfile, cred):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and \
            (data.login + b":" + data.password).decode() == cred
        return AuthResult(success=ok)

    class Handler:
        def __init__(self):
            self.n = 0

        async def handle_DATA(self, server, session, envelope):
            self.n += 1
            head = "X-Envelope-From: %s\nX-Envelope-To: %s\n" % (
                envelope.mail_from, ",".join(envelope.rcpt_tos))
            write_atomic(os.path.join(out, "%d.eml" % self.n),
                         head.encode() + envelope.original_content)
            return "250 OK"

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kw = {}
    if cred:
        kw = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
    c.start()
    write_atomic(portfile, str(port).encode())
    while True:
        time.sleep(3600)


def serve_smtp_tls(out, portfile, cert, key):
    import ssl
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.n = 0

        async def handle_DATA(self, server, session, envelope):
            self.n += 1
            tls = session.ssl or {}
            write_atomic(os.path.join(out, "%d.tls" % self.n),
                         repr(tls.get("cipher", "")).encode() if tls else b"")
            write_atomic(os.path.join(out, "%d.eml" % self.n), envelope.original_content)
            return "250 OK"

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                   require_starttls=True)
    c.start()
    write_atomic(portfile, str(port).encode())
    while True:
        time.sleep(3600)


def serve_syslog(path, outfile):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    write_atomic(outfile + ".ready", b"ready")
    with open(outfile, "ab", buffering=0) as f:
        while True:
            msg = s.recv(65536)
            f.write(msg.replace(b"\n", b" ") + b"\n")


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "http":
        serve_http(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif kind == "smtp":
        serve_smtp(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif kind == "smtp-tls":
        serve_smtp_tls(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif kind == "syslog":
        serve_syslog(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown receiver " + kind)
