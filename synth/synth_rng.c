/*
 * synth_rng.c — xoshiro256** (Blackman and Vigna) and the distributions synth draws from.
 *
 * 256 bits of state, a period of 2^256 - 1, about 1 ns a draw, and seeding through the
 * splitmix64 finaliser so that nearby seeds (1, 2, 3 ...) give unrelated streams. The
 * floating-point draws are plain C arithmetic and libm, so a capture depends on the seed
 * and this file only. (Rejected: rand()/random() — their streams differ between C
 * libraries, and a pcap shipped in the repository must be regenerated bit for bit.)
 */
#include <math.h>

#include "synth_rng.h"

uint64_t synth_mix(uint64_t a, uint64_t b)
{
    uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void synth_rng_seed(struct synth_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = synth_mix(seed, (uint64_t)i);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t synth_rng_next(struct synth_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double synth_rng_unit(struct synth_rng *r)
{
    return (double)(synth_rng_next(r) >> 11) * 0x1.0p-53;
}

uint32_t synth_rng_below(struct synth_rng *r, uint32_t n)
{
    return (uint32_t)(((synth_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double synth_rng_exp(struct synth_rng *r, double mean)
{
    return -mean * log(1.0 - synth_rng_unit(r));
}

double synth_rng_range(struct synth_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * synth_rng_unit(r);
}

double synth_rng_gauss(struct synth_rng *r)
{
    double u1 = 1.0 - synth_rng_unit(r), u2 = synth_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
