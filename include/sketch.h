/*
 * sketch.h — fixed-size distinct-count sketch (HyperLogLog, 64 registers).
 *
 * Inline registers, no allocation: one lives inside every per-IP window record, and the
 * host table is allocated once at start. nDPI's ndpi_hll mallocs its registers per
 * instance, which the pre-allocated tables cannot hold; hence this small one.
 * Error: exact-ish below ~100 (linear counting), about 13% (1.04/sqrt(64)) above.
 */
#ifndef TAPIR_SKETCH_H
#define TAPIR_SKETCH_H

#include <stdint.h>

#define HLL_BITS 6
#define HLL_REGS (1u << HLL_BITS)

struct hll {
    uint8_t reg[HLL_REGS]; /* max leading-zero rank per bucket */
};

/* Adds an item given by its 64-bit hash (callers hash with their seeded tapir_hash). */
static inline void hll_add(struct hll *h, uint64_t hash)
{
    uint32_t idx = (uint32_t)(hash & (HLL_REGS - 1));
    uint64_t rest = hash >> HLL_BITS;
    uint8_t rank = 1;
    while (rank <= 64 - HLL_BITS && !(rest & 1)) {
        rank++;
        rest >>= 1;
    }
    if (rank > h->reg[idx])
        h->reg[idx] = rank;
}

/* Estimated number of distinct items added. */
double hll_count(const struct hll *h);
/* Merges src into dst (union). */
void hll_merge(struct hll *dst, const struct hll *src);

/* Linear counting: the distinct items hashed into a bitmap of m bits with zeros bits
 * still clear, -m ln(zeros / m); m ln m when none is clear (saturated: at least that).
 * For the small per-host bitmaps (64 bits in a host record, 1024 on the stack). */
double linear_count(unsigned zeros, unsigned m);

#endif
