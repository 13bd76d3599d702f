/* Unit tests: decode_packet on crafted frames of every link type, and on lies. */
#include <pcap/dlt.h>

#include "check.h"
#include "decode.h"

static uint8_t frame[2048];

/* Ethernet + IPv4 + TCP SYN from 10.0.0.1:1234 to 192.0.2.9:80, with vlan tags. */
static uint32_t build_tcp4(int vlans, uint32_t payload)
{
    uint32_t o = 0;
    memset(frame, 0, sizeof(frame));
    o = 12;
    for (int v = 0; v < vlans; v++) {
        frame[o] = 0x81;
        frame[o + 1] = 0x00;
        frame[o + 2] = 0x00;
        frame[o + 3] = (uint8_t)(10 + v);
        o += 4;
    }
    frame[o] = 0x08;
    frame[o + 1] = 0x00;
    o += 2;
    uint8_t *ip = frame + o;
    uint16_t total = (uint16_t)(20 + 20 + payload);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 1;
    ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 9;
    uint8_t *tcp = ip + 20;
    tcp[0] = 0x04, tcp[1] = 0xd2;
    tcp[2] = 0, tcp[3] = 80;
    tcp[12] = 0x50;
    tcp[13] = TCP_SYN;
    return o + total;
}

TEST(ethernet_tcp)
{
    uint32_t len = build_tcp4(0, 5);
    struct pkt_info p = {.ts_us = 42};
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_OK);
    CHECK_EQ(p.ts_us, 42);
    CHECK_EQ(p.proto, 6);
    CHECK_EQ(p.sport, 1234);
    CHECK_EQ(p.dport, 80);
    CHECK_EQ(p.tcp_flags, TCP_SYN);
    CHECK_EQ(p.ip_len, 45);
    CHECK_EQ(p.payload_len, 5);
    char buf[64];
    CHECK_STR(ip_addr_str(&p.src, buf, sizeof(buf)), "10.0.0.1");
    CHECK_STR(ip_addr_str(&p.dst, buf, sizeof(buf)), "192.0.2.9");
}

TEST(vlan_and_qinq)
{
    uint32_t len = build_tcp4(2, 0);
    struct pkt_info p = {0};
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_OK);
    CHECK_EQ(p.vlan, 11);
    len = build_tcp4(5, 0);
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_VLAN_DEPTH);
}

TEST(snaplen_truncation_is_not_a_lie)
{
    uint32_t len = build_tcp4(0, 1000);
    struct pkt_info p = {0};
    /* Captured 14 + 20 + 20 bytes of a 1054-byte frame: fine, counts use the header. */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, 54, len, &p), DECODE_OK);
    CHECK_EQ(p.ip_len, 1040);
    CHECK_EQ(p.payload_len, 0);
    CHECK_EQ(p.payload_wire, 1000);
}

TEST(ip_length_lies)
{
    uint32_t len = build_tcp4(0, 0);
    struct pkt_info p = {0};
    frame[14] = 0x44; /* IHL 4: below minimum */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_IP_HDR_LEN);
    frame[14] = 0x4f; /* IHL 15 = 60 bytes: past the data */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_IP_HDR_LEN);
    frame[14] = 0x45;
    frame[16] = 0xff; /* total length 65280 > frame */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_IP_TOTAL_LEN);
    frame[16] = 0;
    frame[17] = 10; /* total length < header */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_IP_TOTAL_LEN);
    build_tcp4(0, 0);
    frame[14 + 20 + 12] = 0x40; /* TCP data offset 4 */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_TCP_HDR_LEN);
    frame[14] = 0x65; /* version 6 in an IPv4 ethertype */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_ERR_IP_VERSION);
}

TEST(every_truncation_is_safe)
{
    uint32_t len = build_tcp4(1, 8);
    struct pkt_info p = {0};
    for (uint32_t cut = 0; cut < len; cut++) {
        /* A capture shorter than the wire: never out of bounds (ASan checks), never an
         * "ok" with ports it could not read. */
        enum decode_result r = decode_packet(DLT_EN10MB, frame, cut, len, &p);
        if (cut < 18 + 20 + 14)
            CHECK(r != DECODE_OK);
        /* Also a frame whose wire length is the cut: header lengths then lie. */
        r = decode_packet(DLT_EN10MB, frame, cut, cut, &p);
        if (cut < len)
            CHECK(r != DECODE_OK || p.payload_len < 8);
    }
}

TEST(fragments)
{
    uint32_t len = build_tcp4(0, 0);
    struct pkt_info p = {0};
    frame[14 + 6] = 0x00;
    frame[14 + 7] = 0x10; /* offset 16*8: non-first fragment */
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_NOTE_FRAGMENT);
    CHECK_EQ(p.ip_len, 40);
    CHECK_EQ(p.sport, 0);
}

static uint32_t build_udp6(uint8_t *f, const uint8_t *ext, uint32_t ext_len, uint8_t first_nh)
{
    memset(f, 0, 1024);
    f[0] = 0x60;
    uint16_t plen = (uint16_t)(ext_len + 8 + 4);
    f[4] = (uint8_t)(plen >> 8);
    f[5] = (uint8_t)plen;
    f[6] = first_nh;
    f[7] = 64;
    f[8] = 0x20, f[9] = 0x01, f[10] = 0x0d, f[11] = 0xb8, f[23] = 1;
    f[24] = 0x20, f[25] = 0x01, f[26] = 0x0d, f[27] = 0xb8, f[39] = 2;
    memcpy(f + 40, ext, ext_len);
    uint8_t *udp = f + 40 + ext_len;
    udp[0] = 0x30, udp[1] = 0x39; /* 12345 */
    udp[2] = 0, udp[3] = 53;
    udp[4] = 0, udp[5] = 12;
    return 40 + plen;
}

TEST(ipv6_extension_headers)
{
    uint8_t f[1024];
    /* hop-by-hop (8 bytes) then destination options (8 bytes) then UDP */
    uint8_t ext[16] = {60, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0};
    uint32_t len = build_udp6(f, ext, 16, 0);
    struct pkt_info p = {0};
    CHECK_EQ(decode_packet(DLT_RAW, f, len, len, &p), DECODE_OK);
    CHECK_EQ(p.proto, 17);
    CHECK_EQ(p.sport, 12345);
    CHECK_EQ(p.dport, 53);
    CHECK_EQ(p.ip_version, 6);
    /* A chain of 12 hop-by-hop headers: refused, not looped over forever. */
    uint8_t loop[96];
    for (int i = 0; i < 12; i++) {
        memset(loop + i * 8, 0, 8);
        loop[i * 8] = 0;
    }
    len = build_udp6(f, loop, 96, 0);
    CHECK_EQ(decode_packet(DLT_RAW, f, len, len, &p), DECODE_ERR_IP6_EXT);
}

TEST(other_link_types)
{
    uint32_t len = build_tcp4(0, 0);
    uint32_t iplen = len - 14;
    uint8_t f[2048];
    struct pkt_info p = {0};
    /* Linux cooked v1: protocol at 14. */
    memset(f, 0, 16);
    f[14] = 0x08;
    memcpy(f + 16, frame + 14, iplen);
    CHECK_EQ(decode_packet(DLT_LINUX_SLL, f, iplen + 16, iplen + 16, &p), DECODE_OK);
    CHECK_EQ(p.dport, 80);
    /* Linux cooked v2: protocol at 0. */
    memset(f, 0, 20);
    f[0] = 0x08;
    memcpy(f + 20, frame + 14, iplen);
    CHECK_EQ(decode_packet(DLT_LINUX_SLL2, f, iplen + 20, iplen + 20, &p), DECODE_OK);
    /* BSD null: AF_INET = 2 in host (little-endian) order. */
    memset(f, 0, 4);
    f[0] = 2;
    memcpy(f + 4, frame + 14, iplen);
    CHECK_EQ(decode_packet(DLT_NULL, f, iplen + 4, iplen + 4, &p), DECODE_OK);
    /* Raw IP. */
    CHECK_EQ(decode_packet(DLT_RAW, frame + 14, iplen, iplen, &p), DECODE_OK);
    /* ARP is not IP, not an error. */
    frame[12] = 0x08;
    frame[13] = 0x06;
    CHECK_EQ(decode_packet(DLT_EN10MB, frame, len, len, &p), DECODE_NOT_IP);
    CHECK_EQ(decode_packet(147 /* user 0 */, frame, len, len, &p), DECODE_ERR_LINKTYPE);
}

TEST(dns_qname)
{
    uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0,   1, 0,   0,   0,   0, 0, 0, 7, 'e', 'x',
                   'a',  'm',  'p',  'l',  'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
    CHECK_EQ(decode_dns_qname_len(q, sizeof(q)), 11);
    q[2] = 0x81; /* a response */
    CHECK_EQ(decode_dns_qname_len(q, sizeof(q)), -1);
    q[2] = 0x01;
    CHECK_EQ(decode_dns_qname_len(q, 15), -1); /* cut inside the name */
    q[12] = 0xc0;                              /* compression pointer in a question */
    CHECK_EQ(decode_dns_qname_len(q, sizeof(q)), -1);
}

int main(void)
{
    RUN(ethernet_tcp);
    RUN(vlan_and_qinq);
    RUN(snaplen_truncation_is_not_a_lie);
    RUN(ip_length_lies);
    RUN(every_truncation_is_safe);
    RUN(fragments);
    RUN(ipv6_extension_headers);
    RUN(other_link_types);
    RUN(dns_qname);
    return CHECK_DONE();
}
