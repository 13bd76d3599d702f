/* flowidx.h — a window's flow records by initiator, built once per window on the first
 * question (flowidx.c). */
#ifndef TAPIR_FLOWIDX_H
#define TAPIR_FLOWIDX_H

#include <stdint.h>

#include "window.h"

typedef struct flow_index flow_index_t;

flow_index_t *flow_index_create(uint64_t seed); /* NULL when out of memory */
void flow_index_destroy(flow_index_t *x);

/* The records of w that ip started, in the window's order: prev 0 gives the first, then
 * each call the one after record prev - 1; returns a record index + 1, or 0 at the end.
 *     for (uint32_t r = flow_index_next(x, w, ip, 0); r; r = flow_index_next(x, w, ip, r))
 *         use(&w->flows[r - 1]);
 * The first call of a window indexes it (one pass over its records). x may be NULL (as
 * in unit tests), and an index that could not be allocated is skipped: then each call
 * walks the records from prev on (the same answers, slower). */
uint32_t flow_index_next(flow_index_t *x, const struct window *w, const struct ip_addr *ip,
                         uint32_t prev);

#endif
