#!/usr/bin/env python3
"""rate_pcap.py — crafted floods for the rate detector's tests and bench (sensor/rate.c).

Writes one classic pcap (Ethernet, microsecond stamps), packets sorted by time, from
flood specs given on the command line:

  rate_pcap.py -o OUT.pcap [--t0 EPOCH_S] [--background S] SPEC...

  SPEC = KIND:VICTIM:START_S:SECONDS:PPS[:SOURCES]
    KIND     syn (TCP SYN to port 80), udp (UDP to port 9999), icmp (echo requests),
             amp (UDP from port 53 to port 40000: reflected DNS answers)
    VICTIM   IPv4 destination
    START_S  offset from t0, seconds (fractions allowed): the flood's first packet
    SECONDS  duration; PPS packets per second
    SOURCES  "spoofed" (a new random source per packet; the default), or a comma list of
             source IPs that share the flood round-robin

--background S adds S seconds of light answered TCP sessions between 10.9.0.0/24
clients and 10.9.1.1 (10 a second) so the capture is not floods alone.
Deterministic (seeded). The first flood packet's time is printed on stdout per spec as
"KIND VICTIM FIRST_US".
"""
import argparse
import random
import struct
import sys


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + hdr + payload


def tcp(src, dst, sport, dport, flags, seq=1, ack=0, data=b""):
    return ipv4(src, dst, 6, struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + data)


def udp(src, dst, sport, dport, data):
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data)


def icmp(src, dst, ident, seq):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"x" * 32
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return ipv4(src, dst, 1, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", required=True)
    ap.add_argument("--t0", type=int, default=1700000000)
    ap.add_argument("--background", type=float, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("spec", nargs="*")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    pkts = []  # (ts_us, seq, frame)
    n = 0
    t0 = a.t0 * 1000000
    for i in range(int(a.background * 10)):
        ts = t0 + i * 100000
        c = ip4("10.9.0.%d" % (1 + i % 200))
        s = ip4("10.9.1.1")
        sp = 20000 + i % 40000
        for k, fr in enumerate([tcp(c, s, sp, 443, 0x02), tcp(s, c, 443, sp, 0x12), tcp(c, s, sp, 443, 0x10),
                                tcp(c, s, sp, 443, 0x18, data=b"q" * 100), tcp(s, c, 443, sp, 0x18, data=b"r" * 600),
                                tcp(c, s, sp, 443, 0x11), tcp(s, c, 443, sp, 0x11)]):
            pkts.append((ts + k * 1000, n, fr))
            n += 1
    for spec in a.spec:
        f = spec.split(":")
        kind, victim, start, secs, pps = f[0], ip4(f[1]), float(f[2]), float(f[3]), int(f[4])
        srcs = None if len(f) < 6 or f[5] == "spoofed" else [ip4(x) for x in f[5].split(",")]
        total = int(secs * pps)
        first = t0 + int(start * 1e6)
        print(kind, f[1], first)
        for i in range(total):
            ts = first + (i * 1000000) // pps
            src = srcs[i % len(srcs)] if srcs else struct.pack("!I", rnd.randrange(0x01000000, 0xDF000000))
            sp = 1024 + (i * 7) % 60000
            if kind == "syn":
                fr = tcp(src, victim, sp, 80, 0x02, seq=i)
            elif kind == "udp":
                fr = udp(src, victim, sp, 9999, b"u" * 64)
            elif kind == "icmp":
                fr = icmp(src, victim, sp, i & 0xFFFF)
            elif kind == "amp":
                fr = udp(src, victim, 53, 40000, b"\x12\x34\x81\x80" + b"a" * 400)
            else:
                sys.exit("rate_pcap: unknown kind " + kind)
            pkts.append((ts, n, fr))
            n += 1
    pkts.sort()
    with open(a.o, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, _, fr in pkts:
            out.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)))
            out.write(fr)


if __name__ == "__main__":
    main()
