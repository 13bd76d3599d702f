#!/usr/bin/env python3
"""make_seeds.py TAPIR — regenerates the seed corpora under tests/fuzz/corpus/.

Run from the repository root after changing a target's input format:
    python3 tests/fuzz/make_seeds.py build/tapir
Packets come from tools/hostile_pcaps.py's builders; the model seeds are written by
`tapir forest fit` (TAPIR) on tiny CSVs, so they follow the current model format.
"""
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import hostile_pcaps as hp  # noqa: E402

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sample_frames():
    """Ethernet frames of common traffic: (name, frame)."""
    c, s = "10.0.0.1", "93.184.216.34"
    tls_hello = bytes.fromhex("16030100") + b"\x2f" + b"\x01\x00\x00\x2b\x03\x03" + b"\x11" * 32 + \
        b"\x00\x00\x02\x13\x01\x01\x00\x00\x00"
    out = [("tcp_syn", hp.tcp_session(c, s, 40000, 80)[0]),
           ("http_get", hp.tcp_session(c, s, 40000, 80)[3]),
           ("dns_query", hp.eth(hp.ipv4(c, "8.8.8.8", 17, hp.udp(5353, 53, hp.dns_query("www.example.com"))))),
           ("vlan_udp", hp.eth(hp.ipv4(c, s, 17, hp.udp(1, 2, b"hi")), vlans=[10, 20])),
           ("icmp_echo", hp.eth(hp.ipv4(c, s, 1, b"\x08\x00\x00\x00\x00\x01\x00\x01abcd"))),
           ("ipv4_frag", hp.eth(hp.ipv4(c, s, 17, b"x" * 16, frag=0x2001))),
           ("ipv6_tcp", hp.eth(hp.ipv6("2001:db8::1", "2001:db8::2", 6, hp.tcp(1, 443, hp.SYN)), 0x86DD)),
           ("ipv6_ext", hp.eth(hp.ipv6("2001:db8::1", "2001:db8::2", 0,
                                       struct.pack("!BB6x", 44, 0) + struct.pack("!BBHI", 17, 0, 0, 1) +
                                       hp.udp(1, 53, hp.dns_query("a.b"))), 0x86DD)),
           ("tls_hello", hp.eth(hp.ipv4(c, s, 6, hp.tcp(40001, 443, hp.PSH | hp.ACK, tls_hello))))]
    return out


def decode_seeds():
    # byte 0: link type index (0 EN10MB 1 SLL 2 SLL2 3 RAW 4 IPV4 5 IPV6 6 NULL 7 LOOP)
    for name, fr in sample_frames():
        put("decode", "eth_" + name, b"\0\0\0" + fr)
        ip = fr[14:] if fr[12:14] != b"\x81\x00" else fr[22:]
        put("decode", "raw_" + name, b"\x03\0\0" + ip)
        etype = fr[12:14]
        put("decode", "sll_" + name, b"\x01\0\0" + b"\0\0\0\1\0\6" + b"\2" * 8 + etype + ip)
        put("decode", "sll2_" + name, b"\x02\0\0" + etype + b"\0" * 18 + ip)
        put("decode", "null_" + name, b"\x06\0\0" + (b"\2\0\0\0" if ip[0] >> 4 == 4 else b"\x1e\0\0\0") + ip)
        put("decode", "loop_" + name, b"\x07\0\0" + (b"\0\0\0\2" if ip[0] >> 4 == 4 else b"\0\0\0\x1e") + ip)


def sensor_seeds():
    # records: u8 link type index (0 EN10MB ...), u8 time step, u16 length, bytes
    def rec(fr, step=1):
        return struct.pack("!BBH", 0, step, len(fr)) + fr
    sess = hp.tcp_session("10.0.0.1", "93.184.216.34", 40000, 80)
    put("sensor", "http_session", b"".join(rec(f) for f in sess))
    dns = [hp.eth(hp.ipv4("10.0.0.1", "8.8.8.8", 17, hp.udp(5353 + i, 53, hp.dns_query("h%d.example.com" % i))))
           for i in range(4)]
    put("sensor", "dns", b"".join(rec(f) for f in dns))
    put("sensor", "mixed", b"".join(rec(f, i * 7 % 40) for i, (_, f) in enumerate(sample_frames())))
    scan = [hp.eth(hp.ipv4("203.0.113.5", "10.0.0.%d" % (i % 8 + 1), 6, hp.tcp(50000, 20 + i, hp.SYN)))
            for i in range(40)]
    put("sensor", "scan", b"".join(rec(f) for f in scan))


def pcap_seeds():
    sess = hp.tcp_session("10.0.0.1", "93.184.216.34", 40000, 80)
    frames = sess + [f for _, f in sample_frames()]
    put("pcap", "session.pcap", hp.pcap_file(frames))
    put("pcap", "session.pcapng", hp.pcapng_file(frames))
    put("pcap", "raw.pcap", hp.pcap_file([f[14:] for f in sess], linktype=101))
    put("pcap", "windows.pcap", hp.pcap_file(frames, step=0.4))
    ns = hp.pcap_header(magic=0xA1B23C4D)
    for i, f in enumerate(sess):
        ns += struct.pack("<IIII", 1700000000 + i, 123456789, len(f), len(f)) + f
    put("pcap", "nanosecond.pcap", ns)
    put("pcap", "swapped.pcap", struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) +
        b"".join(struct.pack(">IIII", 1700000000 + i, 0, len(f), len(f)) + f for i, f in enumerate(sess)))


def model_seeds(tapir):
    with tempfile.TemporaryDirectory() as t:
        for name, rows, extra in (("small", "a,b\n1,2\n3,4\n5,6\n7,9\n1,1\n", ["--trees", "3"]),
                                  ("three", "x,y,z\n" + "".join("%d,%d,%d\n" % (i, i * i % 7, i % 3)
                                                                 for i in range(40)), ["--trees", "5", "--samples", "16"])):
            csv = os.path.join(t, name + ".csv")
            with open(csv, "w") as f:
                f.write(rows)
            m = os.path.join(t, name + ".model")
            subprocess.run([tapir, "forest", "fit", "--csv", csv, "-o", m] + extra, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            data = open(m, "rb").read()
            put("model", name + "_file", b"\0" + data)      # byte 0 even: the file as is
            put("model", name + "_payload", b"\1" + data[32:])  # odd: payload, header made


def text_seeds():
    put("csv", "basic.csv", b"a,b,c\n1,2,3\n4.5,-6e3,7\n")
    put("csv", "quoted.csv", b"\xef\xbb\xbf\"a\", \"b\"\r\n\"1\",2\r\n\r\n3,4\r\n")
    put("csv", "header_only.csv", b"x\n")
    put("rules", "allow", b"\0# allowlist\n10.0.0.0/8\n192.0.2.7\n2001:db8::/32\n::ffff:1.2.3.0/120\n")
    put("rules", "deny", b"\1203.0.113.0/24   # scanners\n\n198.51.100.1\n")
    put("rules", "thresholds", b"\2threshold 10.0.0.0/8 0.7\nthreshold 2001:db8::/48 0.55\n")
    put("rules", "rate", b"\2rate 10.0.0.0/8 syn_pps 5000 udp_pps 20000\n"
        b"rate 2001:db8::/48 icmp_pps 10 amp_pps 300 # lab\nthreshold 10.1.0.0/16 0.8\n")
    put("config", "tapir.conf",
        b"# tapir.conf\n[capture]\nread = a.pcap\nsnaplen = 1500\nbpf = tcp or udp\n"
        b"[sensor]\nwindow = 30\nmax-flows = 1000\nmax-hosts = 100\nno-dpi = false\n"
        b"[analyzer]\nwarmup = 5\ncontamination = 0.02\npersist = 2/3\nthreshold = 0.6\n"
        b"seed = 42\nprefix4 = 24\n")


def main():
    tapir = sys.argv[1] if len(sys.argv) > 1 else "build/tapir"
    decode_seeds()
    sensor_seeds()
    pcap_seeds()
    model_seeds(tapir)
    text_seeds()


if __name__ == "__main__":
    main()
