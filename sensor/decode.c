/*
 * decode.c — L2 to L4 decoding without copies or allocation.
 *
 * Every read is preceded by NEED(off, n), which turns any length the packet claims but
 * the capture does not hold into a counted result. Fields are read with rd_be16/rd_be32,
 * never by casting packet bytes to structs (alignment and aliasing are not ours to
 * assume). The IP length comes from the IP header, so counts are link-type independent
 * and still right when the snaplen cut the capture short; a header that claims more
 * than the wire carried is an error (a lie), while a capture shorter than the wire is
 * truncation and fine.
 *
 * Rejected: handing packets to nDPI's own decoder (it needs a flow already and
 * silently accepts lies) or libpcap's BPF for parsing (no field access).
 */
#include <pcap/dlt.h>
#include <string.h>

#include "decode.h"

#define NEED(off, n, err)                                                                          \
    do {                                                                                           \
        if ((uint64_t)(off) + (uint64_t)(n) > (uint64_t)len)                                       \
            return (err);                                                                          \
    } while (0)

static inline uint16_t rd_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint16_t rd_le16(const uint8_t *p)
{
    return (uint16_t)((p[1] << 8) | p[0]);
}

static inline uint32_t rd_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static const char *const result_names[DECODE_RESULT_COUNT] = {
    [DECODE_OK] = "ok",
    [DECODE_NOTE_FRAGMENT] = "fragment",
    [DECODE_NOTE_OTHER_L4] = "other_l4",
    [DECODE_NOT_IP] = "not_ip",
    [DECODE_ERR_LINKTYPE] = "linktype",
    [DECODE_ERR_L2_TRUNCATED] = "l2_truncated",
    [DECODE_ERR_VLAN_DEPTH] = "vlan_depth",
    [DECODE_ERR_IP_TRUNCATED] = "ip_truncated",
    [DECODE_ERR_IP_VERSION] = "ip_version",
    [DECODE_ERR_IP_HDR_LEN] = "ip_hdr_len",
    [DECODE_ERR_IP_TOTAL_LEN] = "ip_total_len",
    [DECODE_ERR_IP6_EXT] = "ip6_ext",
    [DECODE_ERR_L4_TRUNCATED] = "l4_truncated",
    [DECODE_ERR_TCP_HDR_LEN] = "tcp_hdr_len",
    [DECODE_ERR_UDP_LEN] = "udp_len",
};

const char *decode_result_name(enum decode_result r)
{
    if ((unsigned)r >= DECODE_RESULT_COUNT)
        return "unknown";
    return result_names[r];
}

#define ETH_IPV4     0x0800
#define ETH_IPV6     0x86dd
#define ETH_VLAN     0x8100
#define ETH_QINQ     0x88a8
#define ETH_QINQ_OLD 0x9100

int decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return 1;
    default:
        return 0;
    }
}

/* L4 decode: data/len cover the L4 header onward (captured part); wire is the L4 length
 * per the IP header. */
static enum decode_result decode_l4(const uint8_t *data, uint32_t len, uint32_t wire,
                                    struct pkt_info *p)
{
    switch (p->proto) {
    case IPPROTO_NUM_TCP: {
        NEED(0, 20, DECODE_ERR_L4_TRUNCATED);
        uint32_t off = (uint32_t)(data[12] >> 4) * 4;
        if (off < 20 || off > wire)
            return DECODE_ERR_TCP_HDR_LEN;
        NEED(0, 14, DECODE_ERR_L4_TRUNCATED);
        p->sport = rd_be16(data);
        p->dport = rd_be16(data + 2);
        p->tcp_flags = data[13];
        p->payload_wire = wire - off;
        if (off < len) {
            p->payload = data + off;
            p->payload_len = len - off;
        }
        return DECODE_OK;
    }
    case IPPROTO_NUM_UDP: {
        NEED(0, 8, DECODE_ERR_L4_TRUNCATED);
        uint16_t ulen = rd_be16(data + 4);
        /* UDP length 0 is legal for IPv6 jumbograms only; otherwise it must fit. */
        if (ulen != 0 && (ulen < 8 || ulen > wire))
            return DECODE_ERR_UDP_LEN;
        uint32_t plen = ulen ? (uint32_t)ulen - 8 : wire - 8;
        p->sport = rd_be16(data);
        p->dport = rd_be16(data + 2);
        p->payload_wire = plen;
        if (len > 8) {
            p->payload = data + 8;
            p->payload_len = len - 8 < plen ? len - 8 : plen;
        }
        return DECODE_OK;
    }
    case IPPROTO_NUM_ICMP:
    case IPPROTO_NUM_ICMPV6:
        NEED(0, 4, DECODE_ERR_L4_TRUNCATED);
        p->icmp_type = data[0];
        p->payload_wire = wire - 4;
        if (len > 4) {
            p->payload = data + 4;
            p->payload_len = len - 4;
        }
        return DECODE_OK;
    default:
        return DECODE_NOTE_OTHER_L4;
    }
}

/* data/len: captured bytes from the IPv4 header on; avail: wire bytes from there. */
static enum decode_result decode_ipv4(const uint8_t *data, uint32_t len, uint32_t avail,
                                      struct pkt_info *p)
{
    NEED(0, 20, DECODE_ERR_IP_TRUNCATED);
    if ((data[0] >> 4) != 4)
        return DECODE_ERR_IP_VERSION;
    uint32_t ihl = (uint32_t)(data[0] & 0x0f) * 4;
    if (ihl < 20)
        return DECODE_ERR_IP_HDR_LEN;
    NEED(0, ihl, DECODE_ERR_IP_HDR_LEN);
    uint32_t total = rd_be16(data + 2);
    /* TSO-offloaded captures carry total length 0: take the frame's length. */
    if (total == 0)
        total = avail;
    if (total < ihl || total > avail)
        return DECODE_ERR_IP_TOTAL_LEN;
    p->ip_version = 4;
    p->proto = data[9];
    p->ip_len = total;
    ip_addr_from_v4(&p->src, data + 12);
    ip_addr_from_v4(&p->dst, data + 16);
    p->l3 = data;
    p->l3_cap = len < total ? len : total;
    uint16_t frag = rd_be16(data + 6);
    if (frag & 0x1fff) /* non-first fragment */
        return DECODE_NOTE_FRAGMENT;
    uint32_t l4cap = p->l3_cap - ihl;
    enum decode_result r = decode_l4(data + ihl, l4cap, total - ihl, p);
    /* A first fragment whose L4 header is cut is still a fragment, not a lie. */
    if (r != DECODE_OK && r != DECODE_NOTE_OTHER_L4 && (frag & 0x2000))
        return DECODE_NOTE_FRAGMENT;
    return r;
}

#define IP6_MAX_EXT 8

static enum decode_result decode_ipv6(const uint8_t *data, uint32_t len, uint32_t avail,
                                      struct pkt_info *p)
{
    NEED(0, 40, DECODE_ERR_IP_TRUNCATED);
    if ((data[0] >> 4) != 6)
        return DECODE_ERR_IP_VERSION;
    uint32_t plen = rd_be16(data + 4);
    if (plen == 0) /* jumbogram or TSO: take the frame */
        plen = avail - 40;
    uint32_t total = 40 + plen;
    if (total > avail)
        return DECODE_ERR_IP_TOTAL_LEN;
    p->ip_version = 6;
    p->ip_len = total;
    ip_addr_from_v6(&p->src, data + 8);
    ip_addr_from_v6(&p->dst, data + 24);
    p->l3 = data;
    p->l3_cap = len < total ? len : total;
    len = p->l3_cap;

    uint8_t next = data[6];
    uint32_t off = 40;
    for (int i = 0;; i++) {
        if (i > IP6_MAX_EXT)
            return DECODE_ERR_IP6_EXT;
        switch (next) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
            NEED(off, 8, DECODE_ERR_IP6_EXT);
            next = data[off];
            off += 8 + (uint32_t)data[off + 1] * 8;
            continue;
        case 51: /* AH: length in 4-byte units, minus 2 */
            NEED(off, 8, DECODE_ERR_IP6_EXT);
            next = data[off];
            off += ((uint32_t)data[off + 1] + 2) * 4;
            continue;
        case 44: /* fragment */
            NEED(off, 8, DECODE_ERR_IP6_EXT);
            if (rd_be16(data + off + 2) & 0xfff8) {
                p->proto = data[off];
                return DECODE_NOTE_FRAGMENT;
            }
            next = data[off];
            off += 8;
            continue;
        default:
            break;
        }
        break;
    }
    if (off > total)
        return DECODE_ERR_IP6_EXT;
    p->proto = next;
    if (next == 59) /* no next header */
        return DECODE_NOTE_OTHER_L4;
    uint32_t l4cap = off <= len ? len - off : 0;
    return decode_l4(data + off, l4cap, total - off, p);
}

static enum decode_result decode_ethertype(uint16_t type, const uint8_t *data, uint32_t len,
                                           uint32_t avail, struct pkt_info *p)
{
    if (type == ETH_IPV4)
        return decode_ipv4(data, len, avail, p);
    if (type == ETH_IPV6)
        return decode_ipv6(data, len, avail, p);
    return DECODE_NOT_IP;
}

/* Picks IPv4 or IPv6 from the version nibble (raw IP link types). */
static enum decode_result decode_raw_ip(const uint8_t *data, uint32_t len, uint32_t avail,
                                        struct pkt_info *p)
{
    NEED(0, 1, DECODE_ERR_IP_TRUNCATED);
    switch (data[0] >> 4) {
    case 4:
        return decode_ipv4(data, len, avail, p);
    case 6:
        return decode_ipv6(data, len, avail, p);
    default:
        return DECODE_ERR_IP_VERSION;
    }
}

enum decode_result decode_packet(int linktype, const uint8_t *data, uint32_t cap_len,
                                 uint32_t wire_len, struct pkt_info *p)
{
    uint64_t ts = p->ts_us;
    memset(p, 0, sizeof(*p));
    p->ts_us = ts;
    p->cap_len = cap_len;
    p->wire_len = wire_len < cap_len ? cap_len : wire_len;
    uint32_t len = cap_len;
    uint32_t off;
    uint16_t type;

    switch (linktype) {
    case DLT_EN10MB:
        NEED(0, 14, DECODE_ERR_L2_TRUNCATED);
        type = rd_be16(data + 12);
        off = 14;
        for (int depth = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; depth++) {
            if (depth >= 4)
                return DECODE_ERR_VLAN_DEPTH;
            NEED(off, 4, DECODE_ERR_L2_TRUNCATED);
            p->vlan = rd_be16(data + off) & 0x0fff;
            type = rd_be16(data + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL: /* 16-byte header, protocol at 14 */
        NEED(0, 16, DECODE_ERR_L2_TRUNCATED);
        type = rd_be16(data + 14);
        off = 16;
        break;
    case DLT_LINUX_SLL2: /* 20-byte header, protocol at 0 */
        NEED(0, 20, DECODE_ERR_L2_TRUNCATED);
        type = rd_be16(data);
        off = 20;
        break;
    case DLT_NULL:
    case DLT_LOOP: { /* 4-byte address family, host order (NULL) or network (LOOP) */
        NEED(0, 4, DECODE_ERR_L2_TRUNCATED);
        uint32_t fam = linktype == DLT_LOOP ? rd_be32(data) : rd_le16(data);
        if (linktype == DLT_NULL && fam == 0) /* written big-endian */
            fam = rd_be32(data);
        off = 4;
        if (fam == 2)
            type = ETH_IPV4;
        else if (fam == 24 || fam == 28 || fam == 30 || fam == 10)
            type = ETH_IPV6;
        else
            return DECODE_NOT_IP;
        break;
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        return decode_raw_ip(data, len, p->wire_len, p);
    default:
        return DECODE_ERR_LINKTYPE;
    }
    if (off > p->wire_len)
        return DECODE_ERR_L2_TRUNCATED;
    return decode_ethertype(type, data + off, len > off ? len - off : 0, p->wire_len - off, p);
}

int decode_dns_qname_len(const uint8_t *msg, uint32_t len)
{
    if (len < 13)
        return -1;
    if (msg[2] & 0x80) /* QR: a response */
        return -1;
    if (rd_be16(msg + 4) == 0) /* no question */
        return -1;
    uint32_t off = 12;
    int name_len = 0;
    for (int labels = 0; labels < 128; labels++) {
        if (off >= len)
            return -1;
        uint8_t l = msg[off];
        if (l == 0)
            return name_len > 0 ? name_len - 1 : 0; /* drop the trailing dot */
        if (l & 0xc0) /* compression pointer in a question: not expected */
            return -1;
        off += 1u + l;
        name_len += l + 1;
        if (name_len > 255)
            return -1;
    }
    return -1;
}
