#!/usr/bin/python3
"""Writes a pcap for the conversation detectors' end-to-end test (tests/e2e/conv_detect.sh).

Raw Ethernet/IPv4/TCP/UDP bytes, deterministic (seeded jitter), 20 minutes of packet time:
- 10.0.0.5 beacons to 198.51.100.7:8080 (HTTP GET, same-size answer) every 15 s with
  +-2 s jitter for 6 minutes: must be flagged as a beacon;
- 203.0.113.50 tries 40 SSH sessions on 10.0.0.22:2222 (banners both ways, a key
  exchange's worth of bytes, then the server closes), one every 4 s: brute force;
- 10.0.0.9 polls NTP at 192.0.2.123:123 every 64 s from a fresh source port: a periodic
  service, must not be flagged;
- 10.0.0.30 browses 203.0.113.80:443 now and then with varied sizes: background.
Usage: conv_pcap.py OUT.pcap
"""
import random
import struct
import sys

T0 = 1700000000.0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(s):
    return bytes(int(x) for x in s.split("."))


class Pcap:
    def __init__(self):
        self.pkts = []

    def add(self, t, frame):
        self.pkts.append((t, frame))

    def write(self, path):
        self.pkts.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, fr in self.pkts:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                if usec >= 1000000:
                    sec, usec = sec + 1, usec - 1000000
                f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)))
                f.write(fr)


def frame(src, dst, proto, l4):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                     ip4(src), ip4(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + l4


def tcp(src, dst, sp, dp, seq, ack, flags, payload=b""):
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    return frame(src, dst, 6, hdr + payload)


def udp(src, dst, sp, dp, payload):
    hdr = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0)
    return frame(src, dst, 17, hdr + payload)


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def session(p, t, c, s, sp, dp, exchanges, close_by_server=False, rtt=0.02):
    """A TCP session: handshake, (client payload, server payload) exchanges, FIN."""
    cs, ss = 1000, 5000
    p.add(t, tcp(c, s, sp, dp, cs, 0, SYN))
    p.add(t + rtt, tcp(s, c, dp, sp, ss, cs + 1, SYN | ACK))
    p.add(t + 2 * rtt, tcp(c, s, sp, dp, cs + 1, ss + 1, ACK))
    cs, ss, t = cs + 1, ss + 1, t + 2 * rtt
    for cpay, spay in exchanges:
        if cpay:
            t += 0.01
            p.add(t, tcp(c, s, sp, dp, cs, ss, PSH | ACK, cpay))
            cs += len(cpay)
        if spay:
            t += rtt
            p.add(t, tcp(s, c, dp, sp, ss, cs, PSH | ACK, spay))
            ss += len(spay)
    t += 0.05
    a, b, ap, bp, aseq, bseq = (s, c, dp, sp, ss, cs) if close_by_server else (c, s, sp, dp, cs, ss)
    p.add(t, tcp(a, b, ap, bp, aseq, bseq, FIN | ACK))
    p.add(t + rtt, tcp(b, a, bp, ap, bseq, aseq + 1, FIN | ACK))
    p.add(t + 2 * rtt, tcp(a, b, ap, bp, aseq + 1, bseq + 1, ACK))
    return t + 2 * rtt


def main():
    out = sys.argv[1]
    rng = random.Random(10)
    p = Pcap()
    # Beacon: every 15 s +- 2 s for 6 minutes, from minute 1.
    t, sp = T0 + 60, 40000
    while t < T0 + 60 + 360:
        get = b"GET /c2/check?id=7f3a HTTP/1.1\r\nHost: 198.51.100.7\r\nUser-Agent: Mozilla/5.0\r\n\r\n"
        resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\nnothing-to-do-00"
        session(p, t, "10.0.0.5", "198.51.100.7", sp, 8080, [(get, resp)])
        sp += 1
        t += 15 + rng.uniform(-2, 2)
    # SSH brute force on port 2222: 40 sessions, one every 4 s, from minute 3.
    t, sp = T0 + 180, 50000
    for i in range(40):
        ex = [(None, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
              (b"SSH-2.0-libssh_0.9.6\r\n", None),
              (bytes(rng.randrange(256) for _ in range(1000)), bytes(rng.randrange(256) for _ in range(1080))),
              (bytes(rng.randrange(256) for _ in range(300)), bytes(rng.randrange(256) for _ in range(500))),
              (bytes(rng.randrange(256) for _ in range(100)), bytes(rng.randrange(256) for _ in range(60)))]
        session(p, t, "203.0.113.50", "10.0.0.22", sp + i, 2222, ex, close_by_server=True)
        t += 4 + rng.uniform(-0.5, 0.5)
    # NTP every 64 s for 20 minutes, fresh source port each time.
    t = T0 + 1
    while t < T0 + 1200:
        sp = rng.randrange(32768, 60999)
        req = b"\x23" + bytes(47)
        rsp = b"\x24\x02" + bytes(46)
        p.add(t, udp("10.0.0.9", "192.0.2.123", sp, 123, req))
        p.add(t + 0.015, udp("192.0.2.123", "10.0.0.9", 123, sp, rsp))
        t += 64
    # Background browsing: irregular times and sizes.
    t, sp = T0 + 5, 45000
    while t < T0 + 1195:
        n = rng.randrange(1, 6)
        ex = [(b"\x16\x03\x01" + bytes(rng.randrange(200, 600)), bytes(rng.randrange(500, 9000)))
              for _ in range(n)]
        session(p, t, "10.0.0.30", "203.0.113.80", sp, 443, ex)
        sp += 1
        t += rng.expovariate(1 / 40.0)
    p.write(out)


if __name__ == "__main__":
    main()
