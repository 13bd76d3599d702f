#!/usr/bin/python3
"""Flow-aware trimming of a lab capture, written gzip-compressed.

Usage: trim.py IN.pcap OUT.pcap.gz [--head N] [--headsnap B] [--snap S] [--seen SEEN.csv]

The raw capture is taken with the full packet. To ship it small without losing what a
sensor looks at, each packet keeps:
  - its first B bytes (default 700) when it is one of the first N packets (default 4) of
    its flow in its direction, so handshakes, HTTP request lines and response headers, TLS
    hellos, SSH banners and key exchange, FTP commands reach nDPI intact;
  - all of it when it is DNS (UDP or TCP port 53), so query names survive (tunnels);
  - otherwise its headers only: Ethernet, IPv4/IPv6 and the TCP header with its options,
    the UDP header, or ICMP's header with the quoted IP + 8 bytes of an error; never more
    than S bytes (default 128).
The original wire length stays in each record header (orig_len), so byte counts of the
flows are those of the real traffic. A flow is the unordered (proto, addr:port, addr:port)
and each of its two directions counts its own first packets.
Prints one summary line: packets, flows, bytes before and after. With --seen, writes
ip,first_ts,last_ts,pkts_sent,pkts_recv for every IP address in the capture.
"""
import ipaddress
import gzip
import struct
import sys


def flow_key(pkt):
    """(key, is_dns, src, dst, header_end) for an Ethernet frame; key None for non-IP."""
    if len(pkt) < 14:
        return None, False, None, None, len(pkt)
    et = struct.unpack_from("!H", pkt, 12)[0]
    off = 14
    if et == 0x8100 and len(pkt) >= 18:
        et = struct.unpack_from("!H", pkt, 16)[0]
        off = 18
    if et == 0x0800 and len(pkt) >= off + 20:
        ihl = (pkt[off] & 15) * 4
        proto = pkt[off + 9]
        src, dst = pkt[off + 12:off + 16], pkt[off + 16:off + 20]
        frag = struct.unpack_from("!H", pkt, off + 6)[0] & 0x1FFF
        l4 = off + ihl
        if frag:
            return (proto, src, dst, "frag"), False, src, dst, l4
    elif et == 0x86DD and len(pkt) >= off + 40:
        proto = pkt[off + 6]
        src, dst = pkt[off + 8:off + 24], pkt[off + 24:off + 40]
        l4 = off + 40
    else:
        return None, False, None, None, len(pkt)
    sp = dp = 0
    if proto == 6 and len(pkt) >= l4 + 13:
        hend = l4 + (pkt[l4 + 12] >> 4) * 4
    elif proto == 17:
        hend = l4 + 8
    elif proto in (1, 58):
        hend = l4 + 8 + 48
    else:
        hend = l4
    if proto in (6, 17) and len(pkt) >= l4 + 4:
        sp, dp = struct.unpack_from("!HH", pkt, l4)
    a, b = (src, sp), (dst, dp)
    if b < a:
        a, b = b, a
    fwd = (src, sp) <= (dst, dp)
    return (proto, a, b, fwd), (proto in (6, 17) and (sp == 53 or dp == 53)), src, dst, hend


def main():
    args = sys.argv[1:]
    head, snap, headsnap = 4, 128, 700
    if "--head" in args:
        i = args.index("--head"); head = int(args[i + 1]); del args[i:i + 2]
    seen_path = None
    if "--seen" in args:
        i = args.index("--seen"); seen_path = args[i + 1]; del args[i:i + 2]
    if "--headsnap" in args:
        i = args.index("--headsnap"); headsnap = int(args[i + 1]); del args[i:i + 2]
    if "--snap" in args:
        i = args.index("--snap"); snap = int(args[i + 1]); del args[i:i + 2]
    src, dst = args[0], args[1]
    seen = {}
    ips = {}   # raw address bytes -> [first, last, sent, received]
    n = bytes_in = bytes_out = 0
    with open(src, "rb") as f, gzip.open(dst, "wb", compresslevel=9) as out:
        gh = f.read(24)
        magic = struct.unpack("<I", gh[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            endian = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            endian = ">"
        else:
            sys.exit("trim.py: %s is not a pcap file" % src)
        div = 1e9 if magic in (0xa1b23c4d, 0x4d3cb2a1) else 1e6
        ver_maj, ver_min, tz, sigf, snaplen, lt = struct.unpack(endian + "HHiIII", gh[4:])
        out.write(struct.pack(endian + "IHHiIII", magic, ver_maj, ver_min, tz, sigf, 65535, lt))
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            ts, us, incl, orig = rec.unpack(h)
            pkt = f.read(incl)
            if len(pkt) < incl:
                break
            n += 1
            bytes_in += incl
            key, is_dns, a, b, hend = flow_key(pkt) if lt == 1 else (None, False, None, None, incl)
            if a is not None:
                t = ts + us / div
                for addr, col in ((a, 2), (b, 3)):
                    e = ips.get(addr)
                    if e is None:
                        e = ips[addr] = [t, t, 0, 0]
                    e[1] = t
                    e[col] += 1
            keep = incl
            if key is not None and not is_dns:
                c = seen.get(key, 0)
                seen[key] = c + 1
                if c >= head:
                    keep = min(incl, snap, hend)
                else:
                    keep = min(incl, max(headsnap, hend))
            keep = min(keep, 1514) if not is_dns else keep
            out.write(rec.pack(ts, us, keep, orig))
            out.write(pkt[:keep])
            bytes_out += keep
    if seen_path:
        with open(seen_path, "w") as f:
            f.write("ip,first_ts,last_ts,pkts_sent,pkts_recv\n")
            for addr, (t0, t1, ns, nr) in sorted(ips.items(), key=lambda kv: kv[1][0]):
                f.write("%s,%.6f,%.6f,%d,%d\n" % (ipaddress.ip_address(addr), t0, t1, ns, nr))
    print("trim: %d packets, %d flows, %.1f MB captured -> %.1f MB kept (before gzip)"
          % (n, len(seen), bytes_in / 1e6, bytes_out / 1e6))


if __name__ == "__main__":
    main()
