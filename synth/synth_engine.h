/*
 * synth_engine.h — the session engine of `tapir synth`: every conversation in flight is a
 * struct sess in a fixed pool, and an event heap keyed by (next packet time, creation
 * order) says which one emits the next packet. struct gen is the whole generator's state;
 * every step function gets it. Single-threaded.
 */
#ifndef TAPIR_SYNTH_ENGINE_H
#define TAPIR_SYNTH_ENGINE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synth.h"
#include "synth_population.h"
#include "synth_proto.h"
#include "synth_rng.h"
#include "synth_truth.h"
#include "tapir.h"

/* What a session is; synth_run hands each kind to its module's step function. */
enum kind {
    K_HOST, /* a benign host's driver (synth_hosts.c) */
    K_TCP,  /* conversations (synth_conv.c) */
    K_DNS,
    K_NTP,
    K_PING,
    K_PROBE, /* attacks (synth_attacks.c) */
    K_FLOOD,
    K_CAMP,
    K_EPOCH
};

/* One application message of a TCP conversation: a run of bytes in one direction. */
struct tmsg {
    uint8_t dir;       /* 0 client -> server, 1 server -> client */
    uint8_t kind;      /* enum mkind (synth_conv.c) */
    uint16_t aux;      /* text id, path id ... */
    uint32_t body;     /* bytes after the templated head */
    uint32_t len;      /* total bytes */
    uint32_t think_us; /* pause before it starts */
};

/* One session. Fields past the addressing part mean what the session's kind says. */
struct sess {
    uint8_t kind, state, sub, v6;
    uint8_t lab_c, lab_s;
    uint8_t ttl_c, ttl_s;
    uint8_t last_dir, closer, rst_close, unacked;
    uint8_t have_next;
    uint8_t ack_from, ack_next; /* TS_ACK: who acknowledges; then the next message? */
    uint16_t cport, sport;
    int32_t owner; /* client holding a concurrency slot, or -1 */
    struct ip_addr c, s;
    uint32_t d_c, d_s; /* us: capture point -> client / server -> capture point */
    uint16_t ipid_c, ipid_s;
    uint32_t flow_label;
    struct synth_rng rng;
    uint64_t salt, t0;
    /* TCP */
    uint32_t seq_c, seq_s;
    uint16_t win_c, win_s, mss;
    uint32_t bw_kbps;
    uint16_t msg_i;
    uint32_t off;
    struct tmsg m;
    /* scripts, probes, campaigns */
    uint32_t n, i, j;
    uint64_t until, mark;
    uint32_t a1, a2, a3;
    double tokens;
    char name[140];
};

/* An event: session s steps at time t; order breaks ties in creation order. */
struct hent {
    uint64_t t, order;
    uint32_t s;
};

struct gen {
    struct synth_opts o;
    struct synth_rng rng; /* traffic */
    struct population pop;
    struct sess *pool;
    uint32_t cap, *free_list, n_free;
    struct hent *heap;
    uint32_t n_heap;
    uint64_t order;
    pcap_t *pd;
    pcap_dumper_t *dump;
    struct synth_truth *truth;
    uint64_t end_us;
    uint64_t packets, ip_bytes, dropped;
    bool stop, failed;
    uint8_t frame[SYNTH_FRAME_MAX];
    uint8_t pay[SYNTH_FRAME_MAX];
    uint8_t scratch[4096];
};

/* A delay in us from a double, at least 1: a session never steps twice at one time. */
static inline uint64_t dus(double us)
{
    return us < 1 ? 1 : (uint64_t)us;
}

/* Allocates the session pool and the heap for g->cap sessions (set by the caller).
 * Returns 0, or -1 with a sentence in errbuf; synth_engine_close frees either way. */
int synth_engine_open(struct gen *g, char *errbuf, size_t errlen);
void synth_engine_close(struct gen *g);

/* A new session whose first step runs at t, or NULL when the pool is full (counted in
 * g->dropped). owner: the client whose concurrency slot it holds, or -1. Draws its seed
 * from the traffic PRNG. The pointer is valid until synth_engine_end. */
struct sess *synth_engine_start(struct gen *g, enum kind k, uint64_t t, int32_t owner);
/* Returns a finished session to the pool. */
void synth_engine_end(struct gen *g, struct sess *s);
/* Schedules pool entry s to step at t. */
void synth_engine_push(struct gen *g, uint32_t s, uint64_t t);
/* Takes the earliest event; the heap must not be empty. */
struct hent synth_engine_pop(struct gen *g);

/* Writes one packet at t to the pcap and the truth with the given label; sets g->stop
 * after --packets, and g->failed (and stop) if the frame does not fit. */
void synth_engine_emit(struct gen *g, uint64_t t, struct synth_hdr *h, const uint8_t *pl,
                       size_t plen, int label);
/* Fills the addressing part of h for a packet of session s in direction dir (0 client to
 * server, 1 back), advancing that side's IP id. */
void synth_engine_hdr(struct sess *s, int dir, uint8_t proto, struct synth_hdr *h);

/* A UDP datagram of session s in direction dir. */
void synth_engine_udp(struct gen *g, struct sess *s, uint64_t t, int dir, const uint8_t *pl,
                      size_t plen);

enum icmp_msg { IC_ECHO_REQ, IC_ECHO_REP, IC_PORT_UNREACH };

/* An ICMP (or ICMPv6, after the session's family) message m of session s; rest is bytes
 * 4..7 of the header. */
void synth_engine_icmp(struct gen *g, struct sess *s, uint64_t t, int dir, enum icmp_msg m,
                       uint32_t rest, const uint8_t *pl, size_t plen);

#endif
