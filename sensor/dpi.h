/*
 * dpi.h — nDPI 4.2 behind a bounded pool of per-flow detection states.
 *
 * A flow takes a state from the pool only when it first carries payload, and gives it
 * back at detection or give-up: scans and floods, mostly payload-free, cost no DPI
 * memory, and the pool bounds what a flood of payload-carrying flows can take. Owner:
 * the capture thread.
 */
#ifndef TAPIR_DPI_H
#define TAPIR_DPI_H

#include <stdint.h>

typedef struct dpi dpi_t;

/* Packets with payload a flow may show nDPI before we give up on it. */
#define DPI_MAX_PACKETS 12

struct dpi_result {
    uint16_t app;    /* app protocol id (0 unknown) */
    uint16_t master; /* master protocol id (0 none) */
    char name[32];   /* host_server_name: DNS query, HTTP Host, TLS SNI; "" none */
};

/* pool_size: concurrent flows under detection. NULL + errbuf on failure. */
dpi_t *dpi_create(uint32_t pool_size, char *errbuf);
void dpi_destroy(dpi_t *d);

/* A free state (slot + 1), or 0 when the pool is empty (counted). */
uint32_t dpi_acquire(dpi_t *d);
/* Gives a packet (from the IP header) to the flow's state. Returns 1 when detection is
 * final (out filled), 0 to continue. */
int dpi_process(dpi_t *d, uint32_t slot, const uint8_t *l3, uint32_t len, uint64_t ts_us,
                struct dpi_result *out);
/* Ends detection with nDPI's guess; fills out. */
void dpi_giveup(dpi_t *d, uint32_t slot, struct dpi_result *out);
/* Returns the state to the pool. */
void dpi_release(dpi_t *d, uint32_t slot);

/* "TLS", "DNS", "HTTP.Google"... for the pair; buf needs 64 bytes. */
const char *dpi_proto_name(dpi_t *d, uint16_t master, uint16_t app, char *buf, int len);
/* Short name of one protocol id ("TLS"). Static string. */
const char *dpi_id_name(dpi_t *d, uint16_t id);

struct dpi_stats {
    uint64_t pool_size;  /* states */
    uint64_t in_use;     /* states held now */
    uint64_t pool_empty; /* flows that found no free state */
    uint64_t detected;   /* flows detected */
    uint64_t gave_up;    /* flows given up */
};
void dpi_stats(const dpi_t *d, struct dpi_stats *st);

#endif
