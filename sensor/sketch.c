/*
 * sketch.c — HyperLogLog estimate (Flajolet et al. 2007) with the linear-counting
 * correction for small cardinalities, which is where most hosts live.
 */
#include <math.h>

#include "sketch.h"

double hll_count(const struct hll *h)
{
    double sum = 0.0;
    unsigned zeros = 0;
    for (unsigned i = 0; i < HLL_REGS; i++) {
        sum += ldexp(1.0, -(int)h->reg[i]);
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

void hll_merge(struct hll *dst, const struct hll *src)
{
    for (unsigned i = 0; i < HLL_REGS; i++)
        if (src->reg[i] > dst->reg[i])
            dst->reg[i] = src->reg[i];
}
