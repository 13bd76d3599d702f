/*
 * dpi.h — nDPI 4.2 behind a bounded pool of per-flow detection states.
 *
 * A flow takes a state from the pool only when it first carries payload, and gives it
 * back at detection or give-up: scans and floods, mostly payload-free, cost no DPI
 * memory, and the pool bounds what a flood of payload-carrying flows can take. Owner:
 * the capture thread.
 *
 * Detection has two steps. The verdict (the protocol) comes when nDPI names the flow;
 * a flow whose later packets can still raise a risk the analyzer weighs (HTTP's response,
 * DNS's answer, TLS's certificate, a clear-text login) then keeps its state while nDPI
 * still wants packets (ndpi_extra_dissection_possible), within the same DPI_MAX_PACKETS;
 * others (SSH, QUIC: version and cipher risks, weighed 0) end at the verdict (dpi.c).
 * The end (the risks) comes when nDPI wants no more, at the packet cap or at the flow's
 * end; the state goes back then.
 */
#ifndef TAPIR_DPI_H
#define TAPIR_DPI_H

#include <stdint.h>

#include "window.h"

typedef struct dpi dpi_t;

/* Packets with payload a flow may show nDPI (detection and risks) before we give up. */
#define DPI_MAX_PACKETS 12

/* What a step of detection produced (dpi_process, dpi_giveup): a bit set. */
#define DPI_VERDICT 1 /* the protocol is known now (app, master, name filled) */
#define DPI_FINAL   2 /* detection is over (risk filled): release the state */

struct dpi_result {
    uint16_t app;    /* app protocol id (0 unknown) */
    uint16_t master; /* master protocol id (0 none) */
    char name[32];   /* host_server_name: DNS query, HTTP Host, TLS SNI; "" none */
    uint64_t risk;   /* with DPI_FINAL: nDPI's risks, bit i for risk id i (0 none) */
};

/* pool_size: concurrent flows under detection. NULL + errbuf on failure. */
dpi_t *dpi_create(uint32_t pool_size, char *errbuf);
void dpi_destroy(dpi_t *d);

/* A free state (slot + 1), or 0 when the pool is empty (counted). */
uint32_t dpi_acquire(dpi_t *d);
/* Gives a packet (from the IP header) to the flow's state. Returns DPI_VERDICT and / or
 * DPI_FINAL for what out now holds, 0 to continue. */
int dpi_process(dpi_t *d, uint32_t slot, const uint8_t *l3, uint32_t len, uint64_t ts_us,
                struct dpi_result *out);
/* Ends detection: DPI_FINAL with the risks, plus DPI_VERDICT with nDPI's guess when the
 * flow had no verdict yet. */
int dpi_giveup(dpi_t *d, uint32_t slot, struct dpi_result *out);
/* Returns the state to the pool. */
void dpi_release(dpi_t *d, uint32_t slot);

/* "TLS", "DNS", "HTTP.Google"... for the pair; buf needs 64 bytes. */
const char *dpi_proto_name(dpi_t *d, uint16_t master, uint16_t app, char *buf, int len);
/* Short name of one protocol id ("TLS"). Static string. */
const char *dpi_id_name(dpi_t *d, uint16_t id);

/* A flow's risks as the sensor reports them: NDPI_TLS_SELFSIGNED_CERTIFICATE only on a
 * flow that also has NDPI_TLS_MISSING_SNI (its ClientHello named no server). Only such TLS
 * flows are dissected past the verdict for their certificate (dpi.c), and the TLS C2 rule
 * (analyzer/behaviour.c) is the pair on one flow: the bit is dropped elsewhere, so a
 * host's union of risks holds the self-signed bit only from a flow that had both. */
uint64_t dpi_risk_kept(uint64_t risk);
/* Adds one flow's risks (a dpi_result's risk) to an initiator's counts. */
void dpi_risk_credit(struct host_risk *acc, uint64_t risk);
/* nDPI's name ("SQL Injection") and severity ("Severe") of risk id (1 .. 63), or NULL
 * for an id nDPI 4.2 does not have. Reads nDPI's static tables only: any thread. */
const char *dpi_risk_name(unsigned id, const char **severity);

struct dpi_stats {
    uint64_t pool_size;     /* states */
    uint64_t in_use;        /* states held now */
    uint64_t pool_empty;    /* flows that found no free state */
    uint64_t detected;      /* flows detected */
    uint64_t gave_up;       /* flows given up */
    uint64_t extra;         /* detected flows kept for their risks (extra dissection) */
    uint64_t extra_cut;     /* ... ended by the packet cap or the flow's end while nDPI
                               still wanted packets */
    uint64_t extra_skipped; /* detected flows not kept for their risks: pool short */
    uint64_t risky;         /* flows that ended with at least one risk */
};
void dpi_stats(const dpi_t *d, struct dpi_stats *st);

#endif
