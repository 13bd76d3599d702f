/*
 * flow_table.h — bidirectional flows keyed by the 5-tuple plus VLAN.
 *
 * Fixed memory chosen at start: max_flows records and an index of twice as many slots.
 * No allocation per packet. Idle timeouts per protocol and state; when the table is full
 * the oldest idle flow is ended (and counted) to make room. Owner: the capture thread.
 */
#ifndef TAPIR_FLOW_TABLE_H
#define TAPIR_FLOW_TABLE_H

#include "decode.h"
#include "tapir.h"

/* flow.state bits */
#define FLOW_F_SYN     0x01 /* initiator opened with a SYN */
#define FLOW_F_SYNACK  0x02 /* responder answered with a SYN-ACK */
#define FLOW_F_FIN_A   0x04 /* initiator sent FIN */
#define FLOW_F_FIN_B   0x08 /* responder sent FIN */
#define FLOW_F_RST     0x10 /* a RST was seen */
#define FLOW_F_L7_DONE 0x20 /* L7 detection finished (found or gave up) */
#define FLOW_F_REPLY   0x40 /* responder sent at least one packet */
#define FLOW_F_RECORD  0x80 /* a flow record of it was appended to a window (sensor.c) */

/* Idle timeouts, us. A TCP flow that saw FIN both ways or a RST lingers CLOSING. */
#define FLOW_TIMEOUT_TCP_EST_US     (120ULL * 1000000)
#define FLOW_TIMEOUT_TCP_NEW_US     (30ULL * 1000000)
#define FLOW_TIMEOUT_TCP_CLOSING_US (10ULL * 1000000)
#define FLOW_TIMEOUT_OTHER_US       (60ULL * 1000000)

enum flow_class {
    FLOW_CLASS_TCP_NEW,
    FLOW_CLASS_TCP_EST,
    FLOW_CLASS_CLOSING,
    FLOW_CLASS_OTHER,
    FLOW_CLASS_COUNT
};

enum flow_end_reason { FLOW_END_IDLE, FLOW_END_CLOSED, FLOW_END_EVICTED, FLOW_END_SHUTDOWN };

#define FLOW_NAME_LEN 32

struct flow {
    struct ip_addr a;         /* initiator (first packet's source) */
    struct ip_addr b;         /* responder */
    uint16_t a_port;          /* initiator port, 0 for non-TCP/UDP */
    uint16_t b_port;          /* responder port */
    uint16_t vlan;            /* VLAN id, 0 untagged */
    uint8_t proto;            /* IP protocol number */
    uint8_t state;            /* FLOW_F_* */
    uint8_t tclass;           /* enum flow_class: which timeout list it is on */
    uint8_t dpi_pkts;         /* packets given to nDPI so far */
    uint16_t l7_app;          /* nDPI app protocol id, 0 unknown */
    uint16_t l7_master;       /* nDPI master protocol id, 0 none */
    uint32_t hash;            /* index hash of the canonical key */
    uint32_t prev, next;      /* timeout-list links (record index + 1, 0 = none) */
    uint32_t dpi_slot;        /* DPI pool slot + 1, 0 = none */
    uint32_t pkts[2];         /* packets: [0] initiator->responder, [1] back */
    uint64_t bytes[2];        /* IP-layer bytes, same directions */
    uint64_t first_us;        /* first packet, packet time */
    uint64_t last_us;         /* latest packet, packet time */
    uint32_t rec_pkts[2];     /* pkts[] when its last flow record was appended */
    uint64_t rec_bytes[2];    /* bytes[] at the same moment */
    char name[FLOW_NAME_LEN]; /* DNS query / HTTP host / TLS SNI, truncated; "" none */
};

typedef struct flow_table flow_table_t;

/* Called for every flow that ends (idle, closed, evicted, shutdown), before its record
 * is reused. The flow pointer is valid only during the call. */
typedef void (*flow_end_fn)(void *ctx, struct flow *f, enum flow_end_reason why);

flow_table_t *flow_table_create(uint32_t max_flows, uint64_t seed, flow_end_fn on_end, void *ctx,
                                char *errbuf);
void flow_table_destroy(flow_table_t *ft);

/* Finds the flow of p, or creates it (ending the oldest idle flow if the table is full).
 * *dir is 0 when p travels initiator->responder, 1 otherwise; *created is set when the
 * flow was made by this packet. Returns NULL only if no record could be had (counted). */
struct flow *flow_table_lookup(flow_table_t *ft, const struct pkt_info *p, int *dir, int *created);

/* The same with the endpoints' address hashes already at hand: src_h and dst_h are
 * tapir_ip_hash(&p->src, seed) and tapir_ip_hash(&p->dst, seed) under the seed the table
 * was created with. */
struct flow *flow_table_lookup_h(flow_table_t *ft, const struct pkt_info *p, uint64_t src_h,
                                 uint64_t dst_h, int *dir, int *created);

/* Shrinks the index in use when it is mostly empty (call now and then, e.g. per window):
 * after a burst, lookups go back to a small, cache-resident index. */
void flow_table_compact(flow_table_t *ft);

/* f's record number, 1 .. max_flows: unique among live flows (a name for f elsewhere). */
uint32_t flow_table_id(const flow_table_t *ft, const struct flow *f);

/* After updating f's state for a packet at now_us: refreshes its idle position. */
void flow_table_touch(flow_table_t *ft, struct flow *f, uint64_t now_us);

/* Ends flows idle at now_us, at most budget of them. Returns how many ended. */
uint32_t flow_table_expire(flow_table_t *ft, uint64_t now_us, uint32_t budget);

/* Calls fn for every live flow, oldest first within each timeout class. fn must not end
 * or create flows. O(live flows): for the once-a-window flow records (sensor.c). */
void flow_table_foreach(flow_table_t *ft, void (*fn)(void *ctx, struct flow *f), void *ctx);

/* Ends every flow (end of input). */
void flow_table_flush(flow_table_t *ft);

struct flow_table_stats {
    uint64_t active;        /* flows in the table */
    uint64_t created;       /* flows made */
    uint64_t ended_idle;    /* ended by idle timeout */
    uint64_t ended_closed;  /* ended after FIN/RST linger */
    uint64_t evicted;       /* ended early because the table was full */
    uint64_t untracked;     /* packets with no record (probe limit) */
    uint64_t capacity;      /* max_flows */
    uint64_t index_slots;   /* index slots in use (grows with live flows, up to 2 x max_flows) */
    uint64_t index_resizes; /* times the index in use was rebuilt at another size */
};
void flow_table_stats(const flow_table_t *ft, struct flow_table_stats *st);

#endif
