#!/usr/bin/python3
"""Writes a small MaxMind DB (format 2.0) file from a JSON description. Test tool only.

Written from the public MaxMind DB File Format Specification v2.0, standard library only,
so the test suite can make its own geolocation databases instead of shipping binaries.

Usage: mkmmdb.py [options] IN.json|- OUT.mmdb

IN.json:
    {
      "database_type": "Tapir-Test-Country",     (default "Tapir-Test")
      "description": "what it holds",            (optional, stored under "en")
      "languages": ["en"],                       (optional)
      "networks": {                              (or a list of [network, record] pairs)
        "81.2.69.0/24":   {"country": {"iso_code": "GB"}},
        "1.128.0.0/11":   {"autonomous_system_number": 1221,
                           "autonomous_system_organization": "Telstra Pty Ltd"},
        "2001:4860::/32": {"country_code": "US"}
      }
    }

Records are any JSON value. Strings become utf8_string, maps map, lists array, true/false
boolean, floats double, integers uint32 (uint64 past 2**32, int32 when negative). A
one-key object {"$uint16": 5} (also $uint32, $uint64, $uint128, $int32, $double, $float,
$bytes with a hex string) forces a type.

Layout choices (the spec leaves them to the writer):
- IPv4 networks are stored at ::a.b.c.d/96+len, where libmaxminddb looks IPv4 addresses
  up in an IPv6 tree (it walks 96 zero bits from the root), and ::ffff:0:0/96 points at
  the same IPv4 subtree, as MaxMind's databases do, so IPv4-mapped lookups agree.
- A more specific network overrides a less specific one that contains it.
- Identical records are written once; with pointers on (the default) a repeated string,
  key or value, is written once and pointed to, as real databases do.
- The record size is the smallest of 24, 28, 32 bits that fits, unless --record-size.
"""
import argparse
import ipaddress
import json
import struct
import sys
import time

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
SEPARATOR = b"\x00" * 16

T_POINTER, T_UTF8, T_DOUBLE, T_BYTES, T_UINT16, T_UINT32, T_MAP = 1, 2, 3, 4, 5, 6, 7
T_INT32, T_UINT64, T_UINT128, T_ARRAY, T_BOOLEAN, T_FLOAT = 8, 9, 10, 11, 14, 15

INT_TYPES = {"$uint16": (T_UINT16, 2), "$uint32": (T_UINT32, 4), "$uint64": (T_UINT64, 8),
             "$uint128": (T_UINT128, 16)}


class FormatError(Exception):
    pass


def control(type_, size):
    """Control byte(s): 3 type bits (0 = extended, type - 7 in the next byte), then the
    5-bit size with 1-3 extension bytes for sizes of 29 and more."""
    if size < 29:
        low, ext = size, b""
    elif size < 29 + 256:
        low, ext = 29, bytes([size - 29])
    elif size < 285 + 65536:
        low, ext = 30, (size - 285).to_bytes(2, "big")
    elif size < 65821 + (1 << 24):
        low, ext = 31, (size - 65821).to_bytes(3, "big")
    else:
        raise FormatError("field too large (%d)" % size)
    if type_ <= 7:
        return bytes([(type_ << 5) | low]) + ext
    return bytes([low, type_ - 7]) + ext


def pointer(offset):
    """001SSVVV: SS picks 1-4 following bytes; sizes 1 and 2 add a bias."""
    if offset < 2048:
        return bytes([0x20 | (offset >> 8), offset & 0xFF])
    if offset < 2048 + (1 << 19):
        v = offset - 2048
        return bytes([0x28 | (v >> 16)]) + (v & 0xFFFF).to_bytes(2, "big")
    if offset < 526336 + (1 << 27):
        v = offset - 526336
        return bytes([0x30 | (v >> 24)]) + (v & 0xFFFFFF).to_bytes(3, "big")
    if offset < 1 << 32:
        return bytes([0x38]) + offset.to_bytes(4, "big")
    raise FormatError("data section over 4 GiB")


def uint_field(type_, value, max_bytes):
    if value < 0 or value >= 1 << (8 * max_bytes):
        raise FormatError("%d does not fit type %d" % (value, type_))
    payload = value.to_bytes((value.bit_length() + 7) // 8, "big")  # 0 -> no payload
    return control(type_, len(payload)) + payload


class DataWriter:
    """Appends encoded values to one buffer; offsets are from the buffer's start (the
    data section's, or the metadata's, start: where the spec counts pointers from)."""

    def __init__(self, pointers):
        self.buf = bytearray()
        self.pointers = pointers
        self.strings = {}  # str -> offset of its first copy

    def encode(self, v):
        """Returns the bytes for v, writing nothing (maps and arrays recurse)."""
        if isinstance(v, bool):
            return control(T_BOOLEAN, int(v))
        if isinstance(v, int):
            if v < 0:
                if v < -(1 << 31):
                    raise FormatError("%d does not fit int32" % v)
                return control(T_INT32, 4) + struct.pack(">i", v)
            if v < 1 << 32:
                return uint_field(T_UINT32, v, 4)
            return uint_field(T_UINT64, v, 8)
        if isinstance(v, float):
            return control(T_DOUBLE, 8) + struct.pack(">d", v)
        if isinstance(v, str):
            return self.string(v)
        if isinstance(v, list):
            return control(T_ARRAY, len(v)) + b"".join(self.encode(x) for x in v)
        if isinstance(v, dict):
            if len(v) == 1:
                (k, x), = v.items()
                if k.startswith("$"):
                    return self.typed(k, x)
            out = bytearray(control(T_MAP, len(v)))
            for k, x in v.items():
                out += self.string(k)
                out += self.encode(x)
            return bytes(out)
        raise FormatError("cannot store %r" % (v,))

    def typed(self, k, x):
        if k in INT_TYPES:
            return uint_field(INT_TYPES[k][0], int(x), INT_TYPES[k][1])
        if k == "$int32":
            return self.encode(int(x)) if int(x) < 0 else uint_field(T_INT32, int(x), 4)
        if k == "$double":
            return control(T_DOUBLE, 8) + struct.pack(">d", float(x))
        if k == "$float":
            return control(T_FLOAT, 4) + struct.pack(">f", float(x))
        if k == "$bytes":
            b = bytes.fromhex(x)
            return control(T_BYTES, len(b)) + b
        raise FormatError("unknown type tag %s" % k)

    def string(self, s):
        """Strings are the only values pointed to: a pointer may not point at a pointer,
        and a string's first copy is always written in full. Encoding is position-free
        (no pointer's size depends on where it is written), so encode() stays pure:
        first copies are registered by write() once their offsets are known."""
        b = s.encode("utf-8")
        whole = control(T_UTF8, len(b)) + b
        off = self.strings.get(s)
        if off is not None:
            p = pointer(off)
            if len(p) < len(whole):
                return p
        return whole

    def write(self, v):
        """Appends v; returns its offset."""
        off = len(self.buf)
        self.buf += self.encode(v)
        if self.pointers:
            self._register(v, off)
        return off

    def _register(self, v, off):
        """Records where each string first written in full by v landed (walks the bytes
        just written in step with the value, so offsets are exact)."""
        self._walk(v, off)

    def _walk(self, v, pos):
        """Returns the position after v's encoding starting at pos."""
        b = self.buf
        ctrl = b[pos]
        type_ = ctrl >> 5
        if type_ == T_POINTER:
            return pos + 2 + ((ctrl >> 3) & 3)
        p = pos + 1
        if type_ == 0:
            type_ = b[p] + 7
            p += 1
        size = ctrl & 0x1F
        if size >= 29:
            n = size - 28
            size = [29, 285, 65821][n - 1] + int.from_bytes(b[p:p + n], "big")
            p += n
        if type_ == T_UTF8:
            self.strings.setdefault(v, pos)
            return p + size
        if type_ == T_MAP:
            for k, x in v.items():
                p = self._walk(k, p)
                p = self._walk(x, p)
            return p
        if type_ == T_ARRAY:
            for x in v:
                p = self._walk(x, p)
            return p
        if type_ == T_BOOLEAN:
            return p
        return p + size


class Node:
    __slots__ = ("kids",)

    def __init__(self, kids=None):
        self.kids = kids or [None, None]  # None, Node, or ("data", key)


def bits_of(net, ip_version):
    """(int of the address, its width, prefix length) in the tree's address space."""
    if ip_version == 4:
        if net.version != 4:
            raise FormatError("%s: an IPv4 database holds IPv4 networks only" % net)
        return int(net.network_address), 32, net.prefixlen
    if net.version == 4:
        return int(net.network_address), 128, 96 + net.prefixlen  # ::a.b.c.d
    return int(net.network_address), 128, net.prefixlen


def insert(root, addr, width, plen, leaf):
    node = root
    for depth in range(plen - 1):
        bit = (addr >> (width - 1 - depth)) & 1
        kid = node.kids[bit]
        if not isinstance(kid, Node):
            kid = Node([kid, kid])  # split a wider network (or nothing) in two
            node.kids[bit] = kid
        node = kid
    node.kids[(addr >> (width - plen)) & 1] = leaf


def build(networks, ip_version, pointers):
    data = DataWriter(pointers)
    offsets = {}  # canonical JSON of a record -> its offset
    items = []
    for text, rec in networks:
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError as e:
            raise FormatError("%s: %s" % (text, e))
        if net.prefixlen == 0:
            raise FormatError("%s: a /0 network is not supported" % text)
        if ip_version == 6 and net.version == 6 and net.subnet_of(
                ipaddress.ip_network("::ffff:0:0/96")):
            raise FormatError("%s: ::ffff:0:0/96 mirrors the IPv4 networks; give them "
                              "as IPv4" % text)
        key = json.dumps(rec, sort_keys=True)
        if key not in offsets:
            offsets[key] = data.write(rec)
        addr, width, plen = bits_of(net, ip_version)
        items.append((plen, addr, width, ("data", offsets[key])))
    root = Node()
    items.sort(key=lambda t: t[0])  # stable: later duplicates win
    for plen, addr, width, leaf in items:
        insert(root, addr, width, plen, leaf)
    if ip_version == 6:
        v4 = root
        for _ in range(96):
            v4 = v4.kids[0] if isinstance(v4, Node) else v4
        if v4 is not None:
            mapped = int(ipaddress.ip_address("::ffff:0:0"))
            node = root
            for depth in range(95):
                bit = (mapped >> (127 - depth)) & 1
                if not isinstance(node.kids[bit], Node):
                    node.kids[bit] = Node([node.kids[bit], node.kids[bit]])
                node = node.kids[bit]
            node.kids[1] = v4  # shared: the tree is a DAG, node numbers stay unique
    return root, bytes(data.buf)


def number(root):
    order, seen, queue = [], {}, [root]
    while queue:
        nxt = []
        for n in queue:
            if id(n) in seen:
                continue
            seen[id(n)] = len(order)
            order.append(n)
            nxt += [k for k in n.kids if isinstance(k, Node)]
        queue = nxt
    return order, seen


def tree_bytes(order, seen, record_size):
    count = len(order)

    def value(k):
        if k is None:
            return count
        if isinstance(k, Node):
            return seen[id(k)]
        return count + 16 + k[1]

    values = [(value(n.kids[0]), value(n.kids[1])) for n in order]
    biggest = max(max(v) for v in values)
    if record_size is None:
        record_size = next((s for s in (24, 28, 32) if biggest < 1 << s), None)
        if record_size is None:
            raise FormatError("database too large for 32-bit records")
    elif biggest >= 1 << record_size:
        raise FormatError("record value %d does not fit %d bits" % (biggest, record_size))
    out = bytearray()
    for left, right in values:
        if record_size == 24:
            out += left.to_bytes(3, "big") + right.to_bytes(3, "big")
        elif record_size == 28:
            mid = ((left >> 24) << 4) | (right >> 24)
            out += (left & 0xFFFFFF).to_bytes(3, "big") + bytes([mid])
            out += (right & 0xFFFFFF).to_bytes(3, "big")
        else:
            out += left.to_bytes(4, "big") + right.to_bytes(4, "big")
    return bytes(out), record_size


def metadata(node_count, record_size, ip_version, spec, build_epoch):
    meta = DataWriter(pointers=False)
    meta.write({
        "binary_format_major_version": {"$uint16": 2},
        "binary_format_minor_version": {"$uint16": 0},
        "build_epoch": {"$uint64": build_epoch},
        "database_type": spec.get("database_type", "Tapir-Test"),
        "description": {"en": spec.get("description", "Tapir test database")},
        "ip_version": {"$uint16": ip_version},
        "languages": spec.get("languages", ["en"]),
        "node_count": {"$uint32": node_count},
        "record_size": {"$uint16": record_size},
    })
    return bytes(meta.buf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="JSON description, - for stdin")
    ap.add_argument("output")
    ap.add_argument("--record-size", type=int, choices=(24, 28, 32))
    ap.add_argument("--ip-version", type=int, choices=(4, 6), default=6)
    ap.add_argument("--no-pointers", action="store_true", help="write every string in full")
    ap.add_argument("--build-epoch", type=int, default=None,
                    help="seconds since 1970, at least 1 (libmaxminddb refuses 0; "
                    "default: now)")
    a = ap.parse_args()
    if a.build_epoch is not None and a.build_epoch < 1:
        ap.error("--build-epoch must be at least 1: libmaxminddb rejects a database "
                 "built at 0 as having invalid metadata")
    try:
        src = sys.stdin if a.input == "-" else open(a.input, encoding="utf-8")
        with src:
            spec = json.load(src)
        nets = spec["networks"] if isinstance(spec, dict) and "networks" in spec else spec
        if isinstance(nets, dict):
            nets = list(nets.items())
        if not isinstance(nets, list) or not nets:
            raise FormatError("no networks given")
        if not isinstance(spec, dict) or "networks" not in spec:
            spec = {}
        root, data = build(nets, a.ip_version, not a.no_pointers)
        order, seen = number(root)
        tree, record_size = tree_bytes(order, seen, a.record_size)
        epoch = a.build_epoch if a.build_epoch is not None else int(time.time())
        meta = metadata(len(order), record_size, a.ip_version, spec, epoch)
    except (OSError, ValueError, KeyError, FormatError) as e:
        sys.exit("mkmmdb: %s" % e)
    with open(a.output, "wb") as f:
        f.write(tree + SEPARATOR + data + METADATA_MARKER + meta)


if __name__ == "__main__":
    main()
