/*
 * sketch.c — HyperLogLog estimate (Flajolet et al. 2007) with the linear-counting
 * correction for small cardinalities, which is where most hosts live.
 */
#include <math.h>
#include <string.h>

#include "sketch.h"

double hll_count(const struct hll *h)
{
    double sum = 0.0;
    unsigned zeros = 0;
    for (unsigned i = 0; i < HLL_REGS; i++) {
        /* 2^-r built from its bits (exponent 1023 - r, r <= 64): exact, and ldexp was
         * a quarter of the analyzer thread. */
        uint64_t bits = (uint64_t)(1023 - h->reg[i]) << 52;
        double p;
        memcpy(&p, &bits, sizeof(p));
        sum += p;
        if (h->reg[i] == 0)
            zeros++;
    }
    const double m = HLL_REGS;
    const double alpha = 0.709; /* alpha_64 */
    double est = alpha * m * m / sum;
    if (est <= 2.5 * m && zeros)
        est = m * log(m / zeros);
    return est;
}

double linear_count(unsigned zeros, unsigned m)
{
    return zeros ? -(double)m * log((double)zeros / m) : (double)m * log((double)m);
}

void hll_merge(struct hll *dst, const struct hll *src)
{
    for (unsigned i = 0; i < HLL_REGS; i++)
        if (src->reg[i] > dst->reg[i])
            dst->reg[i] = src->reg[i];
}
