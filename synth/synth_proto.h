/*
 * synth_proto.h — the bytes `tapir synth` puts on the wire: Ethernet frames with IPv4 or
 * IPv6 and TCP, UDP or ICMP headers, and the payloads of DNS, TLS, SSH and NTP.
 *
 * Builders write into a caller's buffer and return the length, 0 when it is too short;
 * none allocates or keeps state. Random-looking bytes are pure functions of a salt.
 */
#ifndef TAPIR_SYNTH_PROTO_H
#define TAPIR_SYNTH_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapir.h"

/* Internet checksum: add bytes (an even count except for the last chunk), then fold. */
uint32_t synth_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t synth_csum_fold(uint32_t sum);

#define SYNTH_TCP_FIN 0x01
#define SYNTH_TCP_SYN 0x02
#define SYNTH_TCP_RST 0x04
#define SYNTH_TCP_PSH 0x08
#define SYNTH_TCP_ACK 0x10

/* One packet's headers. proto is the IP protocol: 6, 17, 1 (IPv4) or 58 (IPv6). */
struct synth_hdr {
    const struct ip_addr *src, *dst;
    uint8_t proto;
    uint8_t ttl;           /* TTL / hop limit */
    uint16_t ip_id;        /* IPv4 identification */
    uint32_t flow_label;   /* IPv6, 20 bits */
    uint16_t sport, dport; /* TCP / UDP */
    uint32_t seq, ack;     /* TCP */
    uint8_t flags;         /* TCP, SYNTH_TCP_* */
    uint16_t win;          /* TCP */
    const uint8_t *opt;    /* TCP options, a multiple of 4 bytes, or NULL */
    uint8_t optlen;        /* bytes */
    uint8_t icmp_type, icmp_code;
    uint32_t icmp_rest; /* ICMP bytes 4..7: id << 16 | seq for echo */
};

#define SYNTH_FRAME_MAX 1600 /* Ethernet frame bytes, the largest we build */

/* Writes an Ethernet II frame (IPv4 or IPv6 after the address family of h->src) with
 * valid lengths and IP/TCP/UDP/ICMP checksums into out. Internal addresses (10/8,
 * fc00::/7) get a MAC derived from the address, every other one the gateway's.
 * Returns the frame length and the IP-layer length in *ip_len, or 0 if cap is short. */
size_t synth_frame(uint8_t *out, size_t cap, const struct synth_hdr *h, const uint8_t *payload,
                   size_t plen, size_t *ip_len);

/* DNS (RFC 1035) query for one name; returns the length or 0 if cap is short. */
size_t synth_dns_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype);
/* The response to a query built by synth_dns_query: the question echoed, QR/RA set,
 * and one answer of rtype with rdata (none when rdlen is 0). Returns the length or 0. */
size_t synth_dns_answer(uint8_t *out, size_t cap, const uint8_t *query, size_t qlen, uint16_t rtype,
                        uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/* TLS 1.3 ClientHello record with an SNI extension (random fields derived from salt). */
size_t synth_tls_client_hello(uint8_t *out, size_t cap, const char *sni, uint64_t salt);
/* TLS 1.3 ServerHello record + ChangeCipherSpec record answering the ClientHello of the
 * same salt (echoes its session id). */
size_t synth_tls_server_hello(uint8_t *out, size_t cap, uint64_t salt);

/* SSH binary packets (RFC 4253) before encryption: KEXINIT, ECDH init, ECDH reply
 * followed by NEWKEYS, NEWKEYS. server selects the server's variant. */
size_t synth_ssh_kexinit(uint8_t *out, size_t cap, bool server, uint64_t salt);
size_t synth_ssh_ecdh_init(uint8_t *out, size_t cap, uint64_t salt);
size_t synth_ssh_ecdh_reply(uint8_t *out, size_t cap, uint64_t salt);
size_t synth_ssh_newkeys(uint8_t *out, size_t cap, uint64_t salt);

/* NTPv4 packet (48 bytes): mode 3 (client) or 4 (server); times in us since the epoch. */
size_t synth_ntp(uint8_t *out, size_t cap, int mode, uint64_t xmit_us, uint64_t orig_us);

/* Pseudo-random bytes, a pure function of (salt, position): out gets bytes pos..pos+n-1. */
void synth_fill_random(uint8_t *out, size_t n, uint64_t salt, uint64_t pos);
/* Printable text lines of 72 bytes ending in CRLF, also a pure function of position. */
void synth_fill_text(uint8_t *out, size_t n, uint64_t salt, uint64_t pos);

#endif
