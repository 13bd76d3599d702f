#!/usr/bin/env python3
"""Writes a pcap with one HTTP GET per Host value given (full TCP handshake each),
for tests of what tapir writes from packet names (tests/e2e/run_hardening.sh).
Usage: host_header_pcap.py OUT.pcap HOST..."""
import struct, sys
# One HTTP GET per Host value, each a full TCP handshake, from 10.0.0.1 to 10.0.0.2:80.
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def pkt(src, dst, sport, dport, seq, ack, flags, payload=b''):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ph = struct.pack('!4s4sBBH', src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(ph + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x02' + b'\x02\0\0\0\0\x01' + b'\x08\x00' + ip + tcp
out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
t = 1700000000
hosts = [h.encode() for h in sys.argv[2:]]
c, s = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
for i, h in enumerate(hosts):
    sp = 40000 + i
    req = b'GET / HTTP/1.1\r\nHost: ' + h + b'\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n'
    resp = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok'
    seq = [(c, s, sp, 80, 100, 0, 0x02, b''), (s, c, 80, sp, 500, 101, 0x12, b''),
           (c, s, sp, 80, 101, 501, 0x10, b''), (c, s, sp, 80, 101, 501, 0x18, req),
           (s, c, 80, sp, 501, 101 + len(req), 0x18, resp),
           (c, s, sp, 80, 101 + len(req), 501 + len(resp), 0x11, b''),
           (s, c, 80, sp, 501 + len(resp), 102 + len(req), 0x11, b''),
           (c, s, sp, 80, 102 + len(req), 502 + len(resp), 0x10, b'')]
    for k, p in enumerate(seq):
        f = pkt(*p)
        out.append(struct.pack('<IIII', t + i, k * 1000, len(f), len(f)) + f)
open(sys.argv[1], 'wb').write(b''.join(out))
