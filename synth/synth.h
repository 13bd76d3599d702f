/*
 * synth.h — `tapir synth`: deterministic, labeled synthetic traffic.
 *
 * Three modules share this header:
 *   synth.c        the CLI, the population, the session engine and the attack campaigns
 *   synth_proto.c  the PRNG, checksums and the bytes on the wire (frames, DNS, TLS, SSH, NTP)
 *   synth_truth.c  the ground truth: per-host and per-flow accounting with the sensor's
 *                  flow identity and timeouts, and the CSV files
 * Everything is single-threaded and deterministic: the same options give the same bytes.
 */
#ifndef TAPIR_SYNTH_H
#define TAPIR_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tapir.h"

/* ---------------------------------------------------------------- attack classes */

enum synth_attack {
    SYNTH_PORTSCAN_VERTICAL,
    SYNTH_PORTSCAN_HORIZONTAL,
    SYNTH_UDPSCAN,
    SYNTH_SYNFLOOD,
    SYNTH_ICMPFLOOD,
    SYNTH_BRUTEFORCE,
    SYNTH_EXFIL,
    SYNTH_BEACON,
    SYNTH_DNSTUNNEL,
    SYNTH_SLOWSCAN,
    SYNTH_SLOWEXFIL,
    SYNTH_N_ATTACKS
};

#define SYNTH_ALL_ATTACKS ((1u << SYNTH_N_ATTACKS) - 1)

/* Label of an IP: 0 is benign, 1 + enum synth_attack is that attack class. */
#define SYNTH_LABEL_BENIGN 0

/* The class name used in labels CSVs and --attacks ("portscan_vertical"...), or NULL. */
const char *synth_attack_name(int cls);
/* Parses a comma list of class names ("beacon,exfil", or "all") into a bitmask of
 * 1 << enum synth_attack. Returns 0, or -1 with the bad name copied to bad[]. */
int synth_parse_attacks(const char *list, uint32_t *mask, char *bad, size_t badlen);
/* Parses "90", "90s", "20m", "2h", "1d" into microseconds. Returns 0 or -1. */
int synth_parse_duration(const char *s, uint64_t *us);

/* ---------------------------------------------------------------- run */

struct synth_opts {
    uint64_t seed;           /* traffic: timing, sizes, attack schedule */
    uint64_t pop_seed;       /* population: addresses and habits of the hosts */
    uint32_t hosts;          /* internal benign clients */
    uint64_t duration_us;    /* capture length, us (ignored as a stop once max_packets set) */
    uint64_t start_us;       /* first packet time, us since the epoch */
    uint64_t max_packets;    /* 0: stop at duration; else stop after exactly this many */
    uint32_t attacks;        /* bitmask of 1 << enum synth_attack */
    double ipv6_share;       /* share of clients that are dual-stack, 0..1 */
    const char *out;         /* pcap path */
    const char *labels;      /* labels CSV path */
    const char *truth_hosts; /* or NULL */
    const char *truth_flows; /* or NULL */
};

struct synth_stats {
    uint64_t packets;          /* packets written */
    uint64_t ip_bytes;         /* IP-layer bytes written */
    uint64_t flows;            /* flows in the truth */
    uint64_t hosts;            /* distinct source IPs (rows of the labels CSV) */
    uint64_t label_conflicts;  /* IPs that sent both benign and attack packets (a bug) */
    uint64_t sessions_dropped; /* sessions not started because the pool was full */
    uint64_t last_us;          /* time of the last packet */
};

/* Fills o with the defaults (seed 1, 60 hosts, 20 minutes from 2026-01-01, all attacks). */
void synth_opts_default(struct synth_opts *o);
/* Writes the pcap and the CSVs. Returns 0, or -1 with a sentence in errbuf. */
int synth_run(const struct synth_opts *o, struct synth_stats *st, char *errbuf, size_t errlen);

/* ---------------------------------------------------------------- PRNG (xoshiro256**) */

struct synth_rng {
    uint64_t s[4];
};

void synth_rng_seed(struct synth_rng *r, uint64_t seed);
uint64_t synth_rng_next(struct synth_rng *r);
double synth_rng_unit(struct synth_rng *r);                /* [0, 1) */
uint32_t synth_rng_below(struct synth_rng *r, uint32_t n); /* [0, n); 0 when n is 0 */
double synth_rng_exp(struct synth_rng *r, double mean);    /* exponential */
/* Mixes two words into one well-spread word (splitmix64 finaliser). */
uint64_t synth_mix(uint64_t a, uint64_t b);

/* ---------------------------------------------------------------- wire bytes */

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

/* ---------------------------------------------------------------- ground truth */

struct synth_truth;

/* max_hosts bounds the distinct IPs (the table never grows). flows may be NULL (no flow
 * file). Returns NULL with a sentence in errbuf. */
struct synth_truth *synth_truth_create(uint32_t max_hosts, FILE *flows, char *errbuf,
                                       size_t errlen);
void synth_truth_destroy(struct synth_truth *t);
/* Accounts one packet at time ts_us sent by src with the given label (see
 * SYNTH_LABEL_BENIGN). ports are ignored for protocols other than TCP and UDP. */
void synth_truth_packet(struct synth_truth *t, uint64_t ts_us, const struct ip_addr *src,
                        const struct ip_addr *dst, uint16_t sport, uint16_t dport, uint8_t proto,
                        uint8_t tcp_flags, uint32_t ip_len, int label);
/* Whether the IP has a table entry already. */
bool synth_truth_known(const struct synth_truth *t, const struct ip_addr *ip);
/* Ends every flow still open, then writes the labels and (if non-NULL) hosts CSVs.
 * Returns 0, or -1 with errbuf (write error, host table overflow). */
int synth_truth_finish(struct synth_truth *t, FILE *labels, FILE *hosts, struct synth_stats *st,
                       char *errbuf, size_t errlen);

/* `tapir synth ...` (argv[0] is "synth"): the command line of the generator; exit status
 * as cli.h's commands. */
int cmd_synth(int argc, char **argv);

#endif
