/*
 * dpi.c — nDPI detection states from a fixed pool.
 *
 * nDPI 4.2's struct ndpi_flow_struct is 688 bytes; keeping one per tracked flow would
 * cost 688 MB at a million flows, most of them scans. The pool (default 65,536 states,
 * 45 MB, touched only as used) is allocated once; ndpi_free_flow_data() releases the
 * few buffers nDPI allocates inside a state when it goes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "dpi.h"
#include "tapir.h"

struct dpi {
    struct ndpi_detection_module_struct *mod;
    uint8_t *states; /* pool_size x state_size bytes */
    size_t state_size;
    uint32_t *free_stack;
    uint32_t n_free;
    struct dpi_stats st;
};

dpi_t *dpi_create(uint32_t pool_size, char *errbuf)
{
    if (pool_size < 1 || pool_size > (1u << 24)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "DPI pool size %u out of range (1 .. 16777216)",
                 pool_size);
        return NULL;
    }
    dpi_t *d = calloc(1, sizeof(*d));
    if (!d)
        goto fail;
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->mod) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "nDPI initialisation failed");
        dpi_destroy(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->mod, &all);
    ndpi_finalize_initialization(d->mod);
    d->state_size = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 15) & ~(size_t)15;
    d->states = calloc(pool_size, d->state_size);
    d->free_stack = malloc(pool_size * sizeof(uint32_t));
    if (!d->states || !d->free_stack)
        goto fail;
    for (uint32_t i = 0; i < pool_size; i++)
        d->free_stack[i] = pool_size - i; /* pop gives 1, 2, ...: pages touched in order */
    d->n_free = pool_size;
    d->st.pool_size = pool_size;
    return d;
fail:
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot allocate %u DPI states", pool_size);
    dpi_destroy(d);
    return NULL;
}

void dpi_destroy(dpi_t *d)
{
    if (!d)
        return;
    if (d->states) /* states still held keep nDPI buffers: free them */
        for (uint64_t i = 0; i < d->st.pool_size; i++)
            ndpi_free_flow_data((struct ndpi_flow_struct *)(d->states + i * d->state_size));
    if (d->mod)
        ndpi_exit_detection_module(d->mod);
    free(d->states);
    free(d->free_stack);
    free(d);
}

static struct ndpi_flow_struct *state(dpi_t *d, uint32_t slot)
{
    return (struct ndpi_flow_struct *)(d->states + (size_t)(slot - 1) * d->state_size);
}

uint32_t dpi_acquire(dpi_t *d)
{
    if (!d->n_free) {
        d->st.pool_empty++;
        return 0;
    }
    uint32_t slot = d->free_stack[--d->n_free];
    memset(state(d, slot), 0, d->state_size);
    d->st.in_use++;
    return slot;
}

static void fill(dpi_t *d, uint32_t slot, ndpi_protocol p, struct dpi_result *out)
{
    out->app = p.app_protocol;
    out->master = p.master_protocol;
    const char *n = state(d, slot)->host_server_name;
    size_t i = 0;
    for (; i + 1 < sizeof(out->name) && n[i]; i++)
        out->name[i] = (n[i] >= 0x20 && n[i] < 0x7f) ? n[i] : '?';
    out->name[i] = '\0';
}

int dpi_process(dpi_t *d, uint32_t slot, const uint8_t *l3, uint32_t len, uint64_t ts_us,
                struct dpi_result *out)
{
    if (len > 0xffff)
        len = 0xffff;
    ndpi_protocol p = ndpi_detection_process_packet(d->mod, state(d, slot), l3, (unsigned short)len,
                                                    ts_us / 1000);
    if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
        return 0;
    fill(d, slot, p, out);
    d->st.detected++;
    return 1;
}

void dpi_giveup(dpi_t *d, uint32_t slot, struct dpi_result *out)
{
    uint8_t guessed = 0;
    ndpi_protocol p = ndpi_detection_giveup(d->mod, state(d, slot), 1, &guessed);
    fill(d, slot, p, out);
    d->st.gave_up++;
}

void dpi_release(dpi_t *d, uint32_t slot)
{
    ndpi_free_flow_data(state(d, slot));
    memset(state(d, slot), 0, d->state_size);
    d->free_stack[d->n_free++] = slot;
    d->st.in_use--;
}

const char *dpi_proto_name(dpi_t *d, uint16_t master, uint16_t app, char *buf, int len)
{
    ndpi_protocol p = {master, app, 0};
    if (master == 0 && app == 0) {
        snprintf(buf, (size_t)len, "Unknown");
        return buf;
    }
    return ndpi_protocol2name(d->mod, p, buf, (u_int)len);
}

const char *dpi_id_name(dpi_t *d, uint16_t id)
{
    return ndpi_get_proto_name(d->mod, id);
}

void dpi_stats(const dpi_t *d, struct dpi_stats *st)
{
    *st = d->st;
}
