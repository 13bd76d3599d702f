/*
 * synth_population.h — the network `tapir synth` simulates: its servers (a catalog of
 * internal and real-world public ones, and the attackers' own), its clients (internal and
 * external benign hosts with their habits, and the attackers) and the spoofed sources of
 * the floods. Built once at start from the population seed; the traffic only reads it,
 * except each client's ephemeral port, session count and driver state.
 */
#ifndef TAPIR_SYNTH_POPULATION_H
#define TAPIR_SYNTH_POPULATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synth.h"
#include "tapir.h"

/* Services a server offers (struct server.svc). */
enum {
    SV_HTTPS = 1,
    SV_HTTP = 2,
    SV_SSH = 4,
    SV_NTP = 8,
    SV_DNS = 16,
    SV_PING = 32,
    SV_SMTP = 64,
    SV_IMAP = 128,
    SV_FTP = 256
};

/* The catalog: internal servers first, at these fixed indices, then public ones. */
enum { SRV_RESOLVER, SRV_WEB, SRV_BASTION, SRV_MAIL, SRV_FTP, SRV_GW, SRV_FIRST_PUBLIC };
#define N_CATALOG 50 /* servers in the catalog */
/* Attacker-run servers, labeled with the attack they serve. */
enum { XS_EXFIL, XS_C2, XS_SLOWEXFIL, N_XSERVERS };
/* The attackers' servers follow the catalog: struct population.srv[n_srv - N_XSERVERS + XS_*]. */

#define N_SPOOF 150 /* spoofed flood sources */

struct server {
    struct ip_addr v4, v6;
    bool has_v6, internal;
    const char *name;
    uint16_t svc;
    uint8_t ttl; /* as seen at the capture point */
    uint8_t label;
    uint16_t mss;
    uint32_t rtt_us;
    uint16_t eport; /* next ephemeral port (the resolver asks upstream) */
};

enum task { T_WEB, T_HTTP, T_SSH, T_PING, T_IMAP, T_SMTP, T_FTP, T_DNS, N_TASKS };

/* A host that starts conversations: internal benign client, external benign client or
 * attacker. Habits come from the population seed and the host's index only. */
struct client {
    struct ip_addr v4, v6;
    bool has_v6, internal;
    uint8_t label;
    uint8_t os;                   /* 0 Linux, 1 Windows, 2 macOS */
    uint8_t ttl;                  /* as seen at the capture point */
    uint8_t active;               /* sessions in flight */
    uint16_t eport;               /* next ephemeral port */
    uint32_t rtt_us;              /* capture point -> host -> capture point (external) */
    uint32_t bw_kbps;             /* pacing of bulk transfers */
    double task_mean_s;           /* mean gap between tasks while active */
    double on_mean_s, off_mean_s; /* active / idle period means; off 0: always on */
    double size_mu;               /* log of the median response size */
    uint16_t fav[6];
    uint8_t nfav;
    uint16_t w[N_TASKS];
    uint32_t wsum;
    uint32_t ntp_poll_s; /* 0: no NTP daemon */
    uint16_t ntp_srv;
    /* driver state */
    uint64_t next_task, next_ntp, phase_end;
    bool on;
};

struct population {
    struct server *srv; /* the catalog, then the attackers' servers */
    int n_srv;
    struct client *cli; /* internal benign, external benign, attackers */
    uint32_t n_cli, n_benign, n_ext;
    uint32_t atk[SYNTH_N_ATTACKS][2]; /* attacker client indices per class */
    struct ip_addr *spoof;            /* spoofed flood sources, N_SPOOF */
    uint32_t n_spoof;
    int upstream[3]; /* public resolvers the resolver forwards to */
};

/* Builds the population of o (hosts, pop_seed, ipv6_share; the spoofed sources from seed)
 * into a zeroed pop. Returns 0, or -1 with a sentence in errbuf; either way
 * synth_population_free releases what was allocated. */
int synth_population_build(struct population *pop, const struct synth_opts *o, char *errbuf,
                           size_t errlen);
/* Frees the tables of pop (not pop itself). */
void synth_population_free(struct population *pop);

/* Internal benign client index of 10.0.X.Y, or -1. */
int synth_population_client_at(const struct population *pop, const struct ip_addr *a);
/* Whether TCP port p answers on an internal address: 1 open, 0 closed (RST), -1 silent. */
int synth_population_port_state(const struct population *pop, const struct ip_addr *a, uint16_t p);

/* The next ephemeral port of a host (32768..60999, wrapping); advances *p. */
uint16_t synth_population_next_port(uint16_t *p);
/* Sets a to the IPv4 address x.y.z.w. */
void synth_population_v4(struct ip_addr *a, unsigned x, unsigned y, unsigned z, unsigned w);

#endif
