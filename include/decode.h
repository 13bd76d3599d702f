/*
 * decode.h — link, network and transport decoding of one captured packet.
 *
 * The decoder fills a small struct of addresses, ports and offsets; it copies nothing
 * and allocates nothing. Every read goes through one bounds-checked helper, so a lying
 * length field becomes a counted decode error, never an out-of-bounds read.
 */
#ifndef TAPIR_DECODE_H
#define TAPIR_DECODE_H

#include "tapir.h"

/* Why a packet was not decoded to L4. DECODE_OK and the DECODE_NOTE_* values are still
 * accounted to hosts; DECODE_ERR_* values are counted drops. */
enum decode_result {
    DECODE_OK = 0,
    DECODE_NOTE_FRAGMENT,    /* IPv4/IPv6 non-first fragment: IPs known, no ports */
    DECODE_NOTE_OTHER_L4,    /* L4 protocol we do not parse (counted by number) */
    DECODE_NOT_IP,           /* ARP, LLDP, ...: not an error, not accounted */
    DECODE_ERR_LINKTYPE,     /* link type not supported */
    DECODE_ERR_L2_TRUNCATED, /* shorter than its link header */
    DECODE_ERR_VLAN_DEPTH,   /* more than 4 stacked VLAN tags */
    DECODE_ERR_IP_TRUNCATED, /* shorter than the IP header */
    DECODE_ERR_IP_VERSION,   /* IP version field wrong for the ethertype */
    DECODE_ERR_IP_HDR_LEN,   /* IPv4 IHL < 5 or past the data */
    DECODE_ERR_IP_TOTAL_LEN, /* total length < header or larger than the frame */
    DECODE_ERR_IP6_EXT,      /* IPv6 extension header chain truncated or too long */
    DECODE_ERR_L4_TRUNCATED, /* TCP/UDP/ICMP header cut short */
    DECODE_ERR_TCP_HDR_LEN,  /* TCP data offset < 5 or past the segment */
    DECODE_ERR_UDP_LEN,      /* UDP length field inconsistent */
    DECODE_RESULT_COUNT
};

/* Name for counters and metrics ("ip_hdr_len"). */
const char *decode_result_name(enum decode_result r);

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define IPPROTO_NUM_ICMP   1
#define IPPROTO_NUM_TCP    6
#define IPPROTO_NUM_UDP    17
#define IPPROTO_NUM_ICMPV6 58

struct pkt_info {
    uint64_t ts_us;     /* packet time, us since epoch */
    uint32_t cap_len;   /* bytes captured */
    uint32_t wire_len;  /* bytes on the wire */
    uint16_t vlan;      /* innermost VLAN id, 0 if untagged */
    uint8_t ip_version; /* 4 or 6 */
    uint8_t proto;      /* L4 protocol number (after IPv6 extension headers) */
    struct ip_addr src, dst;
    uint32_t ip_len;        /* IP-layer bytes from the header (not the capture) */
    const uint8_t *l3;      /* start of the IP header */
    uint32_t l3_cap;        /* captured bytes from l3 on, trimmed to ip_len */
    uint16_t sport, dport;  /* TCP/UDP ports; 0 otherwise */
    uint8_t tcp_flags;      /* TCP flags byte; 0 otherwise */
    uint8_t icmp_type;      /* ICMP/ICMPv6 type; 0 otherwise */
    const uint8_t *payload; /* L4 payload (captured part), NULL if none */
    uint32_t payload_len;   /* captured payload bytes */
    uint32_t payload_wire;  /* payload bytes per the headers (may exceed captured) */
};

/* Decodes one packet of the given pcap link type (DLT_*). Fills *p (ts_us must be set
 * by the caller). Returns a decode_result; on DECODE_OK and DECODE_NOTE_*, p->src/dst
 * and p->ip_len are valid. Thread-safe, no allocation. */
enum decode_result decode_packet(int linktype, const uint8_t *data, uint32_t cap_len,
                                 uint32_t wire_len, struct pkt_info *p);

/* Whether the link type is one decode_packet handles. */
int decode_linktype_supported(int linktype);

/* Length of the first query name in a DNS message (dotted form, e.g. 11 for
 * "example.com"), or -1 if the message is not a query or is malformed. */
int decode_dns_qname_len(const uint8_t *msg, uint32_t len);

/* True for a TCP flags byte no TCP stack sends in a connection, only scanners and OS
 * fingerprinters (nmap -sN/-sF/-sX, -O's T2/T3/T7 probes): no flag at all (NULL), SYN
 * with FIN, SYN with RST, or FIN without ACK (FIN scan, XMAS FIN|PSH|URG). The same
 * combinations Snort's and Suricata's scan rules test. A flag test, no state. */
static inline bool decode_tcp_flags_odd(uint8_t fl)
{
    if ((fl & 0x3f) == 0) /* NULL: none of FIN SYN RST PSH ACK URG */
        return true;
    if ((fl & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN) ||
        (fl & (TCP_SYN | TCP_RST)) == (TCP_SYN | TCP_RST))
        return true;
    return (fl & (TCP_FIN | TCP_ACK)) == TCP_FIN;
}

#endif
