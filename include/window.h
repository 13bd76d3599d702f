/*
 * window.h — what the sensor hands the analyzer when a window closes.
 *
 * One struct host_window per IP seen in the window, holding raw counts only: the
 * analyzer turns them into features (analyzer/behaviour.c) so that scaling choices live
 * in one place. Each record carries both sides of the IP: what it sent and started (source
 * side) and what it received (destination side), since an IP is usually both.
 *
 * Ownership: the capture thread fills a struct window in place (host_table), then passes
 * the whole buffer over the window queue; the analyzer owns it until it returns it to the
 * queue's free side. No copy at window close.
 */
#ifndef TAPIR_WINDOW_H
#define TAPIR_WINDOW_H

#include "sketch.h"
#include "tapir.h"

#define HOST_L7_SLOTS      6  /* distinct L7 protocols remembered per IP and window */
#define HOST_COUNTRY_SLOTS 6  /* distinct destination countries remembered */
#define HOST_PORT_BUCKETS  32 /* hashed destination-port histogram for entropy */

/* What nDPI said about the flows an IP started (filled by credit_l7 in sensor.c). */
struct host_l7 {
    uint32_t l7_known;                /* flows it started with an L7 protocol found */
    uint32_t l7_unknown;              /* flows it started where nDPI gave up unknown */
    uint16_t l7_proto[HOST_L7_SLOTS]; /* nDPI app (or master) protocol ids */
    uint32_t l7_flows[HOST_L7_SLOTS]; /* flows per id above */
    uint32_t l7_other;                /* flows whose protocol found no free slot */
};

/* nDPI's flow risks on the flows an IP started, by class (dpi_risk_credit in sensor/dpi.c
 * sorts nDPI's risk ids into classes; the analyzer weighs the classes, analyzer/behaviour.c).
 * A flow counts once in each class it has a risk of, when its detection ends. */
enum host_risk_class {
    HOST_RISK_INJECTION,   /* SQL injection, XSS, RCE in a URL; possible exploit (Log4J) */
    HOST_RISK_WEB,         /* suspicious HTTP user agent, URL, header, content; binary */
    HOST_RISK_DNS,         /* DGA-like name, suspicious DNS traffic, large or fragmented */
    HOST_RISK_CRYPTO,      /* TLS, SSH: self-signed, expired, obsolete, weak, no SNI ... */
    HOST_RISK_CREDENTIALS, /* credentials in clear text (FTP, POP, IMAP, SMTP, telnet) */
    HOST_RISK_OTHER,       /* non-standard port, numeric HTTP host, unsafe protocol ... */
    HOST_RISK_CLASSES
};

/* nDPI 4.2's ids of the risks the analyzer combines from `seen` (it never includes nDPI;
 * risk_class in sensor/dpi.c asserts them against nDPI's enum at compile time). */
#define HOST_RISK_ID_TLS_SELFSIGNED  6  /* NDPI_TLS_SELFSIGNED_CERTIFICATE */
#define HOST_RISK_ID_TLS_MISSING_SNI 24 /* NDPI_TLS_MISSING_SNI */

struct host_risk {
    uint64_t seen;                   /* risks seen: bit i set for nDPI risk id i (1 .. 63) */
    uint32_t flows;                  /* flows with at least one risk */
    uint32_t cls[HOST_RISK_CLASSES]; /* flows with a risk of each class */
};

struct host_window {
    struct ip_addr ip;
    uint32_t gen; /* sensor only: bumped when the record is given to another IP (host_table.c),
                     so that a late nDPI verdict for the old owner is not credited */
    uint32_t rate_hint; /* sensor only: the IP's slot in the flood counters (sensor/rate.c), a
                           hint it checks against the slot's key (no bytes: padding before) */

    /* --- as a source: what it sent and the flows it started --- */
    uint64_t pkts_sent;      /* packets */
    uint64_t bytes_sent;     /* IP-layer bytes */
    uint64_t resp_bytes;     /* IP bytes received on flows this IP started */
    uint64_t started_bytes;  /* IP bytes it sent on flows it started (TCP: only flows
                                whose SYN was seen; mid-stream, who started is unknown) */
    uint64_t up_public_net;  /* on answered flows it started to public
                                addresses that ended in the window: bytes
                                sent beyond those received (uploads) */
    uint32_t flows_started;  /* flows this IP initiated in the window */
    uint32_t tcp_started;    /* of those, TCP flows opened with a SYN */
    uint32_t tcp_answered;   /* TCP flows it started that got a SYN-ACK */
    uint32_t tcp_reset;      /* TCP flows it started that saw a RST */
    uint32_t udp_started;    /* UDP flows it started */
    uint32_t icmp_pkts_sent; /* ICMP / ICMPv6 packets sent */
    uint32_t flows_ended;    /* flows it started that ended in this window */
    uint64_t dur_sum_ms;     /* summed duration of those, ms */
    uint32_t dur_max_ms;     /* longest of those, ms */
    union { /* the same fields, by name or as one struct (the DPI worker fills a copy) */
        struct host_l7 l7;
        struct {
            uint32_t l7_known;
            uint32_t l7_unknown;
            uint16_t l7_proto[HOST_L7_SLOTS];
            uint32_t l7_flows[HOST_L7_SLOTS];
            uint32_t l7_other;
        };
    };
    uint32_t dns_queries;                   /* DNS queries sent (QR=0, port 53) */
    uint32_t dns_qname_sum;                 /* summed query-name length, bytes */
    uint16_t dns_qname_max;                 /* longest query name, bytes */
    uint16_t n_countries;                   /* used entries of countries[] */
    uint16_t countries[HOST_COUNTRY_SLOTS]; /* ISO code as two chars packed */
    uint32_t countries_other;               /* flows to countries beyond the slots */
    uint32_t gap_n;                         /* flow-start gaps measured */
    double gap_mean_s;                      /* Welford mean of gaps between flow starts, s */
    double gap_m2;                          /* Welford sum of squared deviations, s^2 */
    uint64_t last_start_us;                 /* previous flow start, packet time */
    uint16_t port_hist[HOST_PORT_BUCKETS];  /* flows started per hashed dst port */
    struct hll dst_ips;                     /* distinct destination IPs of started flows */
    struct hll dst_ports;                   /* distinct destination ports of started flows */
    struct hll dst_asns;                    /* distinct destination ASNs (geo db needed) */
    struct host_risk risk; /* nDPI flow risks of flows it started, credited when their
                              detection ends (like l7: by the DPI worker's copy) */

    /* --- as a destination: what it received --- */
    uint64_t pkts_recv;       /* packets */
    uint64_t bytes_recv;      /* IP-layer bytes */
    uint32_t flows_in;        /* flows others started towards it */
    uint32_t syn_in;          /* TCP flows towards it opened with a SYN */
    uint32_t synack_out;      /* of those, answered by it with a SYN-ACK */
    uint32_t udp_unsolicited; /* UDP flows towards it that look like responses it
                                 never asked for (from a service port to a high port) */
    uint32_t icmp_pkts_recv;  /* ICMP packets received */
    struct hll src_ips;       /* distinct sources of flows towards it */
    struct hll src_ports;     /* distinct source ports of flows towards it */

    /* --- as a source, appended for the scan rules (analyzer/behaviour.c) --- */
    uint32_t tcp_odd_flags;   /* TCP packets it sent with flags no stack sends (NULL, SYN+FIN,
                                 SYN+RST, FIN without ACK: decode_tcp_flags_odd) */
    uint32_t tcp_probe_reset; /* TCP flows it started that were answered with a SYN-ACK and
                                 then reset, at most 4 packets and no payload: a SYN scan's or
                                 a connect scan's open port */
    uint32_t smtp_started;    /* TCP flows it opened (SYN) to a mail port: 25, 465, 587 */
    uint32_t smtp_in;         /* TCP flows others opened to it on a mail port: a mail server */
    uint64_t smtp_dst_bits;   /* bit (hash of the destination % 64) per mail server it
                                 opened to: linear counting, about 30 distinct at most */
};

/* One flow's activity in a window, appended by the sensor when the flow ends (FIN/RST
 * linger, idle timeout, eviction, end of input) and, for a flow still open when the window
 * closes, as a periodic update: the packets and bytes since the flow's previous record.
 * The feed for the analyzer's conversations (analyzer/conv.c); anything that knows flows
 * (per-packet capture, capture split over workers, NetFlow/IPFIX) can fill it. */
#define FLOW_REC_SYN    0x01 /* the initiator opened with a SYN */
#define FLOW_REC_SYNACK 0x02 /* ... and the responder answered it */
#define FLOW_REC_RST    0x04 /* a RST was seen */
#define FLOW_REC_FIN    0x08 /* a FIN was seen */
#define FLOW_REC_FIRST  0x10 /* the flow's first record: the connection started here */
#define FLOW_REC_END    0x20 /* the flow ended: no record of it follows */

struct flow_record {
    struct ip_addr init; /* initiator (first packet's source) */
    struct ip_addr resp; /* responder */
    uint16_t resp_port;  /* responder port, 0 for non-TCP/UDP */
    uint16_t l7_app;     /* application id (nDPI numbering) when the feed knows it, else 0:
                            the packet sensor leaves it 0 (see docs/conversations.md) */
    uint8_t proto;       /* IP protocol number */
    uint8_t flags;       /* FLOW_REC_* */
    uint16_t pad_;
    uint32_t pkts[2];  /* packets since the previous record: [0] init->resp, [1] back */
    uint64_t bytes[2]; /* IP-layer bytes since the previous record, same directions */
    uint64_t first_us; /* the flow's first packet (not the delta's), packet time */
    uint64_t last_us;  /* its latest packet, packet time */
};

/* Counters for one window, copied from the sensor's running totals. */
struct window_stats {
    uint64_t pkts;                 /* packets seen in the window */
    uint64_t bytes;                /* IP-layer bytes */
    uint64_t hosts_dropped;        /* host updates lost: host table full */
    uint64_t hosts_replaced;       /* light records given to a busier IP: host table full */
    uint64_t flows_active;         /* flows in the flow table at close */
    uint64_t flow_records_dropped; /* flow records not kept: flows[] full */
};

/* Per-second flood counters (sensor/rate.c): the kinds of flood, one limit each. The
 * values are in model files and in rate events: append, never renumber. */
enum rate_kind {
    RATE_SYN = 0,  /* TCP SYNs without a SYN-ACK, per second */
    RATE_UDP = 1,  /* UDP packets on flows the sender started, per second */
    RATE_ICMP = 2, /* ICMP packets on flows the sender started, per second */
    RATE_AMP = 3,  /* UDP from a reflector port (53, 123, 1900, ...) nobody asked for */
    RATE_KINDS
};
enum rate_side { RATE_SIDE_SOURCE = 0, RATE_SIDE_DESTINATION = 1, RATE_SIDES };

/* The largest one-second rate of any IP during the window, per side and kind (packets/s);
 * training keeps the maximum over its windows as the model's rate section. A rate under
 * the smallest floor over RATE_LIMIT_FACTOR (250/s: it cannot raise a limit) may read 0. */
struct window_rate {
    float pps_max[RATE_SIDES][RATE_KINDS]; /* packets per second */
    uint32_t seconds;                      /* seconds finished during the window */
};

struct window {
    uint64_t start_us;  /* window start, packet time, aligned */
    uint64_t end_us;    /* start + length (exclusive) */
    uint64_t seq;       /* 0, 1, 2 ... per run */
    uint32_t n_hosts;   /* used entries of hosts[] */
    uint32_t cap_hosts; /* allocated entries */
    struct window_stats stats;
    struct window_rate rate; /* per-second maxima (sensor/rate.c) */
    struct host_window *hosts;
    uint32_t n_flows;          /* used entries of flows[] */
    uint32_t cap_flows;        /* allocated entries (0: no flow records) */
    struct flow_record *flows; /* flow records of the window, in the order they came */
};

#endif
