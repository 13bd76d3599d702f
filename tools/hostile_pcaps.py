#!/usr/bin/env python3
"""hostile_pcaps.py OUTDIR — writes hostile capture files for tests/e2e/robust_hostile.sh.

Each file wraps its hostile part between good packets: a "before" flow and an "after"
marker flow (192.0.2.99:4242 -> 198.51.100.7:4343, UDP) whose presence in the flow log
proves the rest of the file was still processed. OUTDIR/expect.tsv has one line per file:

    name <TAB> exit status <TAB> packets read <TAB> words the run's stderr must hold
         <TAB> marker flow expected (1/0)

The packet builders (eth/ipv4/ipv6/tcp/udp, pcap and pcapng writers) are also used by
tests/fuzz/make_seeds.py. Only the standard library: tests must run on a bare Debian.
"""
import os
import struct
import sys

DLT_EN10MB = 1


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def eth(payload, etype=0x0800, vlans=()):
    h = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01"
    for v in vlans:
        h += struct.pack("!HH", 0x8100, v)
    return h + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ihl=5, total=None, frag=0, ident=1, ttl=64, opts=b""):
    tl = 20 + len(opts) + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, tl & 0xFFFF, ident, frag, ttl, proto, 0,
                    ip4(src), ip4(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, plen=None):
    pl = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, pl & 0xFFFF, nh, 64, ip6(src), ip6(dst)) + payload


def tcp(sport, dport, flags, payload=b"", seq=1, ack=0, off=5):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + \
        b"\0" * max(0, (off - 5) * 4) + payload


def udp(sport, dport, payload=b"", ulen=None):
    ln = 8 + len(payload) if ulen is None else ulen
    return struct.pack("!HHHH", sport, dport, ln & 0xFFFF, 0) + payload


def dns_query(name, qid=0x1234):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def tcp_session(c, s, sport, dport, req=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
                resp=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"):
    """A whole TCP exchange as Ethernet frames: handshake, request, response, close."""
    return [
        eth(ipv4(c, s, 6, tcp(sport, dport, SYN, seq=100))),
        eth(ipv4(s, c, 6, tcp(dport, sport, SYN | ACK, seq=500, ack=101))),
        eth(ipv4(c, s, 6, tcp(sport, dport, ACK, seq=101, ack=501))),
        eth(ipv4(c, s, 6, tcp(sport, dport, PSH | ACK, req, seq=101, ack=501))),
        eth(ipv4(s, c, 6, tcp(dport, sport, PSH | ACK, resp, seq=501, ack=101 + len(req)))),
        eth(ipv4(c, s, 6, tcp(sport, dport, FIN | ACK, seq=101 + len(req), ack=501 + len(resp)))),
        eth(ipv4(s, c, 6, tcp(dport, sport, FIN | ACK, seq=501 + len(resp), ack=102 + len(req)))),
    ]


def marker():
    return eth(ipv4("192.0.2.99", "198.51.100.7", 17, udp(4242, 4343, b"marker")))


# ---- writers ----------------------------------------------------------------------------

def pcap_header(snaplen=262144, linktype=DLT_EN10MB, magic=0xA1B2C3D4):
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(data, ts=1700000000.0, caplen=None, wirelen=None, usec=None):
    sec = int(ts)
    us = int(round((ts - sec) * 1e6)) if usec is None else usec
    cl = len(data) if caplen is None else caplen
    wl = len(data) if wirelen is None else wirelen
    return struct.pack("<IIII", sec & 0xFFFFFFFF, us & 0xFFFFFFFF, cl, wl) + data


def pcap_file(frames, t0=1700000000.0, step=0.01, snaplen=262144, linktype=DLT_EN10MB):
    out = pcap_header(snaplen, linktype)
    for i, f in enumerate(frames):
        out += pcap_record(f, t0 + i * step)
    return out


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    ln = 12 + len(body)
    return struct.pack("<II", btype, ln) + body + struct.pack("<I", ln)


def pcapng_file(frames, t0=1700000000.0, step=0.01, linktype=DLT_EN10MB):
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += pcapng_block(1, struct.pack("<HHI", linktype, 0, 262144))
    for i, f in enumerate(frames):
        ts = int((t0 + i * step) * 1e6)
        out += pcapng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f)
    return out


# ---- the hostile files ------------------------------------------------------------------

def good_before():
    return tcp_session("10.0.0.1", "10.0.0.2", 40000, 80)


def wrap(bad, t0=1700000000.0):
    """Good packets, the hostile frames, then the marker: as (frames, packet count)."""
    frames = good_before() + bad + [marker()]
    return pcap_file(frames, t0), len(frames)


def cases():
    c = []  # (name, bytes, exit, packets, words, marker)
    g = good_before()

    c.append(("wrong_magic", b"\xde\xad\xbe\xef" + pcap_file(g)[4:], 2, 0, "cannot read", 0))
    c.append(("truncated_header", pcap_file(g)[:13], 2, 0, "cannot read", 0))
    c.append(("empty_file", b"", 2, 0, "cannot read", 0))

    # A record cut in the middle of its data: the packets before it are kept, counted bad.
    body = pcap_file(g + [marker()])
    c.append(("truncated_record", body[:-10], 0, len(g), "truncated", 0))
    # A record header cut short.
    c.append(("truncated_record_header", body + b"\x01\x02\x03", 0, len(g) + 1, "", 1))

    # caplen larger than the file's snaplen (libpcap reads it and truncates to snaplen),
    # and caplen beyond any sane maximum (libpcap stops the file with an error).
    frames = g + [eth(ipv4("10.9.9.9", "10.0.0.2", 17, udp(5000, 5001, b"x" * 400)))] + [marker()]
    out = pcap_header(snaplen=128)
    for i, f in enumerate(frames):
        out += pcap_record(f, 1700000000 + i * 0.01)
    c.append(("caplen_gt_snaplen", out, 0, len(frames), "", 1))
    out = pcap_file(g)
    out += struct.pack("<IIII", 1700000001, 0, 0x7FFFFFF0, 0x7FFFFFF0) + b"\0" * 64
    out += pcap_record(marker(), 1700000002)
    c.append(("caplen_huge", out, 0, len(g), "invalid packet capture length", 0))
    # caplen > wire length.
    out = pcap_file(g) + pcap_record(marker(), 1700000001, wirelen=10)
    c.append(("caplen_gt_len", out, 0, len(g) + 1, "", 1))

    # Zero-length records (caplen 0 and len 0) between good ones.
    out = pcap_file(g)
    for i in range(3):
        out += pcap_record(b"", 1700000001 + i, caplen=0, wirelen=0)
    out += pcap_record(marker(), 1700000005)
    c.append(("zero_length", out, 0, len(g) + 4, "l2_truncated=3", 1))

    # Absurd timestamps: year 2106, microseconds past a second, time going back a year.
    out = pcap_file(g)
    out += pcap_record(g[0], 1700000001, usec=999999999)
    out += pcap_record(g[0], 1700000002)
    out += pcap_record(g[0], 1700000002 - 365 * 86400)
    out += pcap_record(g[0], 0)
    out += pcap_record(g[0], 0xFFFFFFFF)
    out += pcap_record(g[0], 1700000003)
    out += pcap_record(marker(), 1700000004)
    c.append(("absurd_timestamps", out, 0, len(g) + 7, "back in time", 1))

    # IPv4 header length lies.
    p = tcp(1, 2, SYN)
    bad = [
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, p, ihl=15)),          # IHL past the data
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, p, ihl=3)),           # IHL < 5
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, p, total=1400)),      # total > frame
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, p, total=12)),        # total < header
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, tcp(1, 2, SYN)[:12] + b"\xf0" + tcp(1, 2, SYN)[13:])),  # TCP offset 60 > segment
        eth(ipv4("10.1.1.1", "10.0.0.2", 17, udp(1, 2, b"abc", ulen=3000))),  # UDP len lies
        eth(ipv4("10.1.1.1", "10.0.0.2", 6, b"")[:-4]),           # cut inside the header
        eth(b"\x65" + b"\0" * 30),                                # IP version 6 in v4 ethertype
    ]
    body, n = wrap(bad)
    c.append(("ipv4_length_lies", body, 0, n,
              "ip_hdr_len=2 ip_total_len=2 tcp_hdr_len=1 udp_len=1 ip_truncated=1 ip_version=1", 1))

    # Overlapping, tiny and out-of-range fragments (teardrop and friends).
    frag_payload = udp(53, 53, b"A" * 64)
    bad = []
    for ident in range(5):
        bad.append(eth(ipv4("10.2.2.2", "10.0.0.2", 17, frag_payload[:48], frag=0x2000, ident=ident)))
        bad.append(eth(ipv4("10.2.2.2", "10.0.0.2", 17, frag_payload[8:], frag=0x2000 | 1, ident=ident)))
        bad.append(eth(ipv4("10.2.2.2", "10.0.0.2", 17, frag_payload[:24], frag=0x2000 | 2, ident=ident)))
        bad.append(eth(ipv4("10.2.2.2", "10.0.0.2", 17, b"B" * 8, frag=0x1FFF, ident=ident)))
    bad.append(eth(ipv4("10.2.2.2", "10.0.0.2", 6, b"\0\0", frag=0x2000)))  # tiny first fragment
    body, n = wrap(bad)
    c.append(("overlapping_fragments", body, 0, n, "", 1))

    # IPv6 extension headers: a long chain (loop), a length that runs past the packet, and
    # a fragment header.
    chain = b""
    for i in range(40):
        chain += struct.pack("!BB6x", 60 if i < 39 else 17, 0)
    bad = [
        eth(ipv6("2001:db8::1", "2001:db8::2", 0, chain + udp(1, 2, b"x")), 0x86DD),
        eth(ipv6("2001:db8::1", "2001:db8::2", 60, struct.pack("!BB6x", 60, 255)), 0x86DD),
        eth(ipv6("2001:db8::1", "2001:db8::2", 44, struct.pack("!BBHI", 17, 0, 8 << 3, 7) + b"y" * 8), 0x86DD),
        eth(ipv6("2001:db8::1", "2001:db8::2", 17, udp(1, 2, b"z"), plen=9000), 0x86DD),
        eth(ipv6("2001:db8::1", "2001:db8::2", 0, b""), 0x86DD),
    ]
    body, n = wrap(bad)
    c.append(("ipv6_ext_loops", body, 0, n, "ip6_ext=3 ip_total_len=1", 1))

    # Too many stacked VLAN tags, and an Ethernet frame cut inside its header.
    bad = [eth(ipv4("10.3.3.3", "10.0.0.2", 17, udp(1, 2)), vlans=range(1, 9)), b"\x02\0\0\0\0\x02\x02"]
    body, n = wrap(bad)
    c.append(("vlan_bomb", body, 0, n, "vlan_depth=1 l2_truncated=1", 1))

    # pcapng: good blocks, then a block whose length runs past the file.
    ng = pcapng_file(g + [marker()])
    c.append(("pcapng_good", ng, 0, len(g) + 1, "", 1))
    c.append(("pcapng_block_len_lie", ng + struct.pack("<II", 6, 0x00FFFFF0) + b"\0" * 40, 0,
              len(g) + 1, "pcapng", 1))
    return c


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: hostile_pcaps.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "expect.tsv"), "w") as ex:
        for name, data, rc, pkts, words, mark in cases():
            with open(os.path.join(out, name + ".pcap"), "wb") as f:
                f.write(data)
            ex.write("%s\t%d\t%d\t%s\t%d\n" % (name, rc, pkts, words, mark))


if __name__ == "__main__":
    main()
