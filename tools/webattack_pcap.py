#!/usr/bin/env python3
"""webattack_pcap.py OUTDIR — writes the captures of tests/e2e/risk_webattack.sh.

OUTDIR/sqli.pcap: 10.9.0.5 asks a web server (10.9.0.80:80) for a page with an SQL
injection in its query string (id=1' OR '1'='1, URL-encoded), then for a plain page;
OUTDIR/benign.pcap: the same two requests with harmless query strings. Each request is a
whole TCP session (handshake, request, response, close), so the client sends the 5
packets an IP needs to be scored. Built with tools/hostile_pcaps.py's packet builders;
only the standard library.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_pcaps import pcap_file, tcp_session  # noqa: E402

CLIENT, SERVER = "10.9.0.5", "10.9.0.80"
T0 = 1767225600.0  # 2026-01-01T00:00:00Z, a window boundary


def request(path):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: shop.example.com\r\n"
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n")


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"


def capture(paths):
    frames = []
    for i, p in enumerate(paths):
        frames += tcp_session(CLIENT, SERVER, 40000 + i, 80, request(p), RESPONSE)
    return pcap_file(frames, t0=T0 + 1, step=0.01)


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "sqli.pcap"), "wb") as f:
        f.write(capture([b"/app/item.php?id=1%27%20OR%20%271%27%3D%271", b"/index.html"]))
    with open(os.path.join(out, "benign.pcap"), "wb") as f:
        f.write(capture([b"/app/item.php?id=42", b"/index.html?lang=en"]))


if __name__ == "__main__":
    main()
